//! Grids (网格化, 多网合一): community and grid boundaries with their import, point → grid
//! location, server-drawn maps, the workers responsible for each grid over time (定人定岗定责),
//! their patrols, the tasks a township gives a grid, and the grid's register of buildings,
//! households and key places with personal data sealed and masked.

pub mod demo;
pub mod model;
pub mod routes;
pub mod secret;
pub mod store;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, RwLock};

use geo::MultiPolygon;
use geometry::svg::{Bucketing, SvgArea, SvgOptions, SvgPoint};
use geometry::{AreaIndex, ParseOptions, Rules};
use serde::Serialize;

use crate::audit::{self, Actor};
use crate::auth::{Principal, Role};
use crate::db::{Conn, Db};
use crate::error::{Error, Result};
use crate::ids::{OrgId, UserId};
use crate::orgs::{self, OrgQuery, model::Org, model::OrgKind};
use crate::time::Timestamp;
use model::{Employment, IdNumber, Level};
use secret::Sealer;
use store::{AssignmentRow, BuildingRow, PatrolRow, PointRow, ProblemRow, TaskRow, WorkerAccount};

// ---------- locating ----------

/// An organisation named in an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct OrgRef {
    #[schema(value_type = i64)]
    pub id: OrgId,
    pub code: String,
    pub name: String,
}

/// The grid a point lies in, with its community and township.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Located {
    pub grid: OrgRef,
    pub community: OrgRef,
    pub township: OrgRef,
}

struct Built {
    generation: (i64, i64),
    index: AreaIndex,
    info: HashMap<String, Located>,
}

/// The grids' point index, held in this process's memory (in `AppState`). It is rebuilt from
/// the database on the first lookup after any boundary changed — in this process or another
/// one sharing the database — so several `serve` processes never disagree for long.
#[derive(Default)]
pub struct GridIndex {
    built: RwLock<Option<Arc<Built>>>,
}

impl GridIndex {
    pub fn new() -> GridIndex {
        GridIndex::default()
    }

    /// Drops the index; the next lookup rebuilds it.
    pub fn invalidate(&self) {
        if let Ok(mut b) = self.built.write() {
            *b = None;
        }
    }

    async fn current(&self, db: &Db) -> Result<Arc<Built>> {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let generation = store::generation(&mut conn).await?;
        if let Ok(b) = self.built.read()
            && let Some(b) = b.as_ref()
            && b.generation == generation
        {
            return Ok(b.clone());
        }
        let rows = store::index_rows(&mut conn).await?;
        drop(c);
        let mut areas = Vec::with_capacity(rows.len());
        let mut info = HashMap::with_capacity(rows.len());
        for r in rows {
            areas.push((r.grid_code.clone(), model::geometry_from_json(&r.geojson)?));
            info.insert(
                r.grid_code.clone(),
                Located {
                    grid: OrgRef {
                        id: r.grid_id,
                        code: r.grid_code,
                        name: r.grid_name,
                    },
                    community: OrgRef {
                        id: r.community_id,
                        code: r.community_code,
                        name: r.community_name,
                    },
                    township: OrgRef {
                        id: r.township_id,
                        code: r.township_code,
                        name: r.township_name,
                    },
                },
            );
        }
        let index = AreaIndex::new(areas).map_err(Error::internal)?;
        let built = Arc::new(Built {
            generation,
            index,
            info,
        });
        if let Ok(mut b) = self.built.write() {
            *b = Some(built.clone());
        }
        Ok(built)
    }
}

/// A point (lon, lat) inside an organisation's boundary — not merely its centroid, which
/// may fall outside a concave shape — for placing things that have only an area.
pub async fn interior_point(db: &Db, org: OrgId) -> Result<Option<(f64, f64)>> {
    use geo::InteriorPoint;
    let mut c = db.acquire().await?;
    let Some(json) = store::boundary_of(&mut c.conn(), org).await? else {
        return Ok(None);
    };
    Ok(model::geometry_from_json(&json)?
        .interior_point()
        .map(|p| (p.x(), p.y())))
}

/// The grids' boundaries as they are now: one small query checks that the index is current,
/// and every question asked of the snapshot is then answered in memory (a lookup takes about
/// a microsecond). Meant for every context that places something on the map (cases, reports).
pub struct Boundaries(Arc<Built>);

pub async fn boundaries(db: &Db, index: &GridIndex) -> Result<Boundaries> {
    Ok(Boundaries(index.current(db).await?))
}

impl Boundaries {
    /// Finds the grid that contains the WGS-84 point (`lon`, `lat`), with its community and
    /// township; `Ok(None)` when the point is in no grid of the district (say
    /// [`model::OUTSIDE_MESSAGE`] to the user). Points on a border shared by two grids belong
    /// to the grid with the smaller code; a point in a hole of a grid that no other grid fills
    /// is in no grid. Coordinates from a Chinese web map (GCJ-02) must be converted first
    /// ([`geometry::coords::gcj02_to_wgs84`]).
    pub fn locate(&self, lon: f64, lat: f64) -> Result<Option<Located>> {
        if !lon.is_finite()
            || !lat.is_finite()
            || !(-180.0..=180.0).contains(&lon)
            || !(-90.0..=90.0).contains(&lat)
        {
            return Err(Error::invalid("lon", "经纬度无效"));
        }
        Ok(self
            .0
            .index
            .locate(lon, lat)
            .and_then(|code| self.0.info.get(code))
            .cloned())
    }

    /// Whether any grid has a boundary: without boundaries a point says nothing, and callers
    /// fall back to asking for the township.
    pub fn any(&self) -> bool {
        !self.0.info.is_empty()
    }

    /// Whether boundaries are known for any grid of `township`: only then can a point be said
    /// to lie outside it.
    pub fn cover(&self, township: OrgId) -> bool {
        self.0.info.values().any(|l| l.township.id == township)
    }
}

/// [`Boundaries::locate`] on the boundaries as they are now.
pub async fn locate(db: &Db, index: &GridIndex, lon: f64, lat: f64) -> Result<Option<Located>> {
    boundaries(db, index).await?.locate(lon, lat)
}

// ---------- import ----------

#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub communities: usize,
    pub grids: usize,
}

/// Problems an import lists before it only counts the rest.
const MAX_LISTED_PROBLEMS: usize = 200;

/// Imports community and grid boundaries from a GeoJSON FeatureCollection whose features
/// carry the organisation's code in the `code` property, all or nothing. Only organisations
/// under the materialised path `within` count as known. With `gcj02`, coordinates are taken as
/// GCJ-02 (AMap, Tencent) and converted to WGS-84 before anything is checked.
///
/// Every problem is found at once and reported one per line (the first [`MAX_LISTED_PROBLEMS`]
/// of them, with a count of the rest): the file's own
/// shape problems, unknown codes, grids outside their community (the community's boundary
/// comes from the same file or from the database), overlapping communities and overlapping
/// grids of one community, each with the area in square metres. Stored boundaries the file
/// leaves as they are count too: a new grid must not overlap a stored grid of its community,
/// a new community must not overlap a stored community, and a community's new boundary must
/// still hold its stored grids.
pub async fn import_boundaries(
    db: &Db,
    index: &GridIndex,
    actor: &Actor,
    within: &str,
    text: &str,
    gcj02: bool,
) -> Result<ImportSummary> {
    // The first problems are listed, and how many more there are: a broken file of a
    // hundred thousand features would otherwise come back as a page of tens of megabytes.
    let fail = |lines: Vec<String>| {
        let more = lines.len().saturating_sub(MAX_LISTED_PROBLEMS);
        let mut listed = lines[..lines.len().min(MAX_LISTED_PROBLEMS)].join("\n");
        if more > 0 {
            listed.push_str(&format!("\n……另有 {more} 个问题未列出"));
        }
        Error::invalid(
            "file",
            format!(
                "导入失败，未导入任何边界（共 {} 个问题）：\n{listed}",
                lines.len()
            ),
        )
    };
    let mut areas = match geometry::parse_areas(text, &ParseOptions::new("code")) {
        Ok(a) => a,
        Err(geometry::Error::Invalid(p)) => {
            return Err(fail(p.0.iter().map(ToString::to_string).collect()));
        }
        Err(e) => return Err(fail(vec![e.to_string()])),
    };
    if areas.is_empty() {
        return Err(fail(vec!["文件中没有任何要素".to_owned()]));
    }
    if gcj02 {
        for a in &mut areas {
            a.geometry = model::gcj02_to_wgs84(&a.geometry);
        }
    }

    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let (known_orgs, _) = orgs::store::list(
        &mut conn,
        &OrgQuery {
            within: Some(within.to_owned()),
            limit: 100_000,
            ..Default::default()
        },
    )
    .await?;
    let code_of: HashMap<OrgId, String> =
        known_orgs.iter().map(|o| (o.id, o.code.clone())).collect();
    let by_code: HashMap<&str, &Org> = known_orgs.iter().map(|o| (o.code.as_str(), o)).collect();
    let known = |code: &str| -> Option<&Org> {
        let org = by_code.get(code)?;
        let ok = matches!(
            (model::level_of(code), org.kind),
            (Some(Level::Community), OrgKind::Community) | (Some(Level::Grid), OrgKind::Grid)
        );
        ok.then_some(*org)
    };
    for a in &mut areas {
        a.parent = known(&a.code)
            .filter(|o| o.kind == OrgKind::Grid)
            .and_then(|o| o.parent_id)
            .and_then(|p| code_of.get(&p).cloned());
    }
    let stored = store::boundaries(&mut conn, &["community", "grid"], within).await?;
    drop(c);
    let mut parents: HashMap<String, MultiPolygon<f64>> = HashMap::new();
    let mut stored_grids = Vec::new();
    for row in stored {
        let geometry = model::geometry_from_json(&row.geojson)?;
        if row.kind == OrgKind::Community.as_str() {
            parents.insert(row.code, geometry);
        } else {
            let parent = row.parent_id.and_then(|p| code_of.get(&p).cloned());
            stored_grids.push((row.code, parent, geometry));
        }
    }
    for a in &areas {
        if known(&a.code).is_some_and(|o| o.kind == OrgKind::Community) {
            parents.insert(a.code.clone(), a.geometry.clone());
        }
    }
    let problems = {
        let rules = Rules::new()
            .known_codes(|code| known(code).is_some())
            .parents(parents.iter().map(|(k, v)| (k.as_str(), v)));
        let in_file: HashSet<&str> = areas.iter().map(|a| a.code.as_str()).collect();
        let is_community = |code: &str| known(code).is_some_and(|o| o.kind == OrgKind::Community);
        let checked =
            with_stored_neighbours(&areas, &in_file, is_community, &parents, stored_grids);
        let mut problems = geometry::validate(&checked, &rules);
        // What was wrong among stored boundaries before this file is not the file's fault.
        problems.retain(|p| concerns_file(p, &in_file));
        problems
    };
    if !problems.is_empty() {
        return Err(fail(problems.iter().map(ToString::to_string).collect()));
    }

    let now = Timestamp::now();
    let mut summary = ImportSummary {
        communities: 0,
        grids: 0,
    };
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    for a in &areas {
        let org = known(&a.code).ok_or_else(|| Error::internal("validated code vanished"))?;
        let json = model::geometry_to_json(&a.geometry);
        store::upsert_boundary(
            &mut conn,
            &store::NewBoundary {
                org_id: org.id,
                geojson: &json,
                bbox: model::bbox(&a.geometry),
                area_m2: geometry::area_m2(&a.geometry),
            },
            now,
            &actor.name,
        )
        .await?;
        match org.kind {
            OrgKind::Grid => summary.grids += 1,
            _ => summary.communities += 1,
        }
    }
    audit::record(
        &mut conn,
        actor,
        "grids.import",
        "网格边界",
        &format!(
            "{} 个村（社区）、{} 个网格{}",
            summary.communities,
            summary.grids,
            if gcj02 { "（由 GCJ-02 转换）" } else { "" }
        ),
    )
    .await?;
    tx.commit().await?;
    index.invalidate();
    Ok(summary)
}

/// The file's areas followed by the stored boundaries they are checked against: every stored
/// community the file leaves as it is (`communities` holds the stored ones and the file's),
/// when the file brings communities (they must not
/// overlap), and every stored grid the file leaves as it is in a community whose grids or
/// boundary the file changes (a new grid must not overlap it, a new community boundary must
/// still hold it). Stored areas carry no feature number: problems name them by code.
fn with_stored_neighbours(
    areas: &[geometry::Area],
    in_file: &HashSet<&str>,
    is_community: impl Fn(&str) -> bool,
    communities: &HashMap<String, MultiPolygon<f64>>,
    grids: Vec<(String, Option<String>, MultiPolygon<f64>)>,
) -> Vec<geometry::Area> {
    let file_communities: HashSet<&str> = areas
        .iter()
        .map(|a| a.code.as_str())
        .filter(|code| is_community(code))
        .collect();
    let touched: HashSet<&str> = areas
        .iter()
        .filter_map(|a| a.parent.as_deref())
        .chain(file_communities.iter().copied())
        .collect();
    let mut all = areas.to_vec();
    if !file_communities.is_empty() {
        all.extend(
            communities
                .iter()
                .filter(|(code, _)| !in_file.contains(code.as_str()))
                .map(|(code, g)| geometry::Area::new(code.clone(), g.clone())),
        );
    }
    all.extend(grids.into_iter().filter_map(|(code, parent, g)| {
        let parent = parent.filter(|p| touched.contains(p.as_str()))?;
        (!in_file.contains(code.as_str())).then(|| geometry::Area::new(code, g).with_parent(parent))
    }));
    all
}

/// Whether a problem found by [`with_stored_neighbours`]'s check involves an area of the file.
fn concerns_file(p: &geometry::Problem, in_file: &HashSet<&str>) -> bool {
    let named = |code: &str| in_file.contains(code);
    p.code.as_deref().is_none_or(named)
        || match &p.kind {
            geometry::ProblemKind::Overlap { other, .. } => named(other),
            geometry::ProblemKind::OutsideParent { parent, .. } => named(parent),
            _ => false,
        }
}

/// The subtree a principal may import into: its township, or the whole district.
pub fn import_scope(p: &Principal) -> String {
    match p.scope.path_prefix() {
        Some(prefix) => prefix.to_owned(),
        None => format!("/{}/", crate::catalog::district_of(&p.org)),
    }
}

// ---------- access helpers ----------

async fn load_org(conn: &mut Conn<'_>, id: OrgId, kind: OrgKind) -> Result<Org> {
    let what = match kind {
        OrgKind::Grid => "网格不存在",
        OrgKind::Community => "村（社区）不存在",
        _ => "镇（街道）不存在",
    };
    orgs::store::get(conn, id)
        .await?
        .filter(|o| o.kind == kind && o.is_active())
        .ok_or_else(|| Error::not_found(what))
}

async fn visible_org(conn: &mut Conn<'_>, p: &Principal, id: OrgId, kind: OrgKind) -> Result<Org> {
    let org = load_org(conn, id, kind).await?;
    if !p.scope.covers(&org) {
        return Err(Error::forbidden("不在您的管辖范围内"));
    }
    Ok(org)
}

/// A grid worker works in a grid they are assigned to, or the grid their account belongs to.
async fn works_in(conn: &mut Conn<'_>, p: &Principal, grid: &Org) -> Result<bool> {
    Ok(p.has(Role::GridWorker)
        && (p.org.id == grid.id || store::is_assigned(conn, p.user_id, grid.id).await?))
}

fn township_staff(p: &Principal, grid: &Org) -> bool {
    p.has_any(&[Role::TownshipLeader, Role::TownshipOfficer]) && p.scope.covers(grid)
}

fn short_grid_name(grid: &str, community: &str) -> String {
    grid.strip_prefix(community).unwrap_or(grid).to_owned()
}

// ---------- maps ----------

/// Which map to draw.
#[derive(Debug, Clone, Copy)]
pub enum MapTarget {
    /// The principal's own township, or the whole district for district staff.
    Default,
    Township(OrgId),
    Community(OrgId),
}

/// A heat view: count per grid over [from, to).
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: Timestamp,
    pub to: Timestamp,
}

#[derive(Debug, Clone)]
pub struct MapLink {
    pub href: String,
    pub label: String,
}

#[derive(Debug, Clone)]
pub struct MapView {
    pub title: String,
    pub svg: String,
    /// Links to the parts shown (communities of a township, townships of the district).
    pub parts: Vec<MapLink>,
    /// Link to the area one level up.
    pub up: Option<MapLink>,
    /// Organisations shown without a boundary.
    pub missing: Vec<String>,
    /// (query string of this map without view/from/to, total count) for a heat view.
    pub heat_total: Option<i64>,
    pub base_query: String,
}

/// A grid as drawn: its boundary and what its hover text says.
pub struct GridArea {
    pub id: OrgId,
    pub code: String,
    pub label: String,
    pub title: String,
    pub class: String,
    pub geometry: MultiPolygon<f64>,
}

/// Open cases drawn on one map at most: beyond that the heat view tells more.
const MAX_CASE_POINTS: i64 = 2000;

/// The state of a case's ticket as the map's legend says it.
fn case_state_label(state: &str) -> &'static str {
    match state {
        "pending" => "待派遣",
        "dispatched" => "已派遣",
        "handling" => "处置中",
        "checking" => "待核查",
        _ => "办理中",
    }
}

/// Draws grids coloured by a per-grid count (`counts`, from the caller: problems found now,
/// cases once the cases context counts them). Grids without an entry count zero.
pub fn heat_svg(grids: &[GridArea], counts: &HashMap<OrgId, i64>) -> String {
    let values: Vec<f64> = grids
        .iter()
        .map(|g| counts.get(&g.id).copied().unwrap_or(0) as f64)
        .collect();
    let hrefs: Vec<String> = grids.iter().map(|g| format!("/grids/{}", g.id)).collect();
    let titles: Vec<String> = grids
        .iter()
        .map(|g| {
            format!(
                "{}：{} 件",
                g.title,
                counts.get(&g.id).copied().unwrap_or(0)
            )
        })
        .collect();
    let areas: Vec<SvgArea<'_>> = grids
        .iter()
        .zip(&hrefs)
        .zip(&titles)
        .map(|((g, href), title)| SvgArea {
            code: &g.code,
            geometry: &g.geometry,
            class: "grid",
            label: None,
            title: Some(title),
            href: Some(href),
        })
        .collect();
    geometry::svg::render_heat_svg(
        &areas,
        &values,
        Bucketing::Quantile,
        &[],
        &SvgOptions {
            class: "geo-map heat".into(),
            ..Default::default()
        },
    )
}

/// Problems found by grid workers per grid under `within` in the period: what the heat view
/// counts until the cases context adds its cases.
pub async fn problem_counts(db: &Db, within: &str, period: Period) -> Result<HashMap<OrgId, i64>> {
    let mut c = db.acquire().await?;
    Ok(
        store::problem_counts(&mut c.conn(), within, period.from, period.to)
            .await?
            .into_iter()
            .collect(),
    )
}

fn start_of_month(now: Timestamp) -> Timestamp {
    let day = now.local();
    Timestamp::parse_local_date(&format!("{}-01", &day[..7])).unwrap_or(now)
}

/// Builds the map page's drawing: a township's communities and grids, a community's grids,
/// or the district's communities; hover text names each grid's workers and this month's
/// patrols and problems; `heat` colours grids by problems found in the period instead.
pub async fn map(
    db: &Db,
    p: &Principal,
    target: MapTarget,
    heat: Option<Period>,
) -> Result<MapView> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let target = match target {
        MapTarget::Default => match &p.scope {
            crate::auth::Scope::Township { township_id, .. } => MapTarget::Township(*township_id),
            crate::auth::Scope::District => MapTarget::Default,
        },
        t => t,
    };
    let (title, within, up, base_query) = match target {
        MapTarget::Default => {
            let district = orgs::store::get(&mut conn, crate::catalog::district_of(&p.org))
                .await?
                .ok_or_else(|| Error::not_found("区（县）不存在"))?;
            (
                format!("{}网格地图", district.name),
                district.path.clone(),
                None,
                String::new(),
            )
        }
        MapTarget::Township(id) => {
            let t = visible_org(&mut conn, p, id, OrgKind::Township).await?;
            let up = (p.scope.path_prefix().is_none()).then(|| MapLink {
                href: "/grids/map".into(),
                label: "全区".into(),
            });
            (
                format!("{}网格地图", t.name),
                t.path.clone(),
                up,
                format!("township={}", t.id),
            )
        }
        MapTarget::Community(id) => {
            let m = visible_org(&mut conn, p, id, OrgKind::Community).await?;
            let up = m.parent_id.map(|t| MapLink {
                href: format!("/grids/map?township={t}"),
                label: "返回镇（街道）".into(),
            });
            (
                format!("{}网格地图", m.name),
                m.path.clone(),
                up,
                format!("community={}", m.id),
            )
        }
    };

    let communities = store::boundaries(&mut conn, &["community"], &within).await?;
    let grids = store::boundaries(&mut conn, &["grid"], &within).await?;
    let (all_orgs, _) = orgs::store::list(
        &mut conn,
        &OrgQuery {
            within: Some(within.clone()),
            limit: 100_000,
            ..Default::default()
        },
    )
    .await?;
    let drawn: HashSet<OrgId> = communities.iter().chain(&grids).map(|b| b.org_id).collect();
    let shown_kinds: &[OrgKind] = match target {
        MapTarget::Default => &[OrgKind::Community],
        _ => &[OrgKind::Community, OrgKind::Grid],
    };
    let missing: Vec<String> = all_orgs
        .iter()
        .filter(|o| shown_kinds.contains(&o.kind) && !drawn.contains(&o.id))
        .map(|o| o.name.clone())
        .collect();
    let name_of: HashMap<OrgId, &str> = all_orgs.iter().map(|o| (o.id, o.name.as_str())).collect();

    let now = Timestamp::now();
    let month = Period {
        from: start_of_month(now),
        to: now.plus_seconds(1),
    };
    let workers = store::current_assignments_within(&mut conn, &within).await?;
    let patrols: HashMap<OrgId, i64> =
        store::patrol_counts(&mut conn, &within, month.from, month.to)
            .await?
            .into_iter()
            .collect();
    let problems: HashMap<OrgId, i64> =
        store::problem_counts(&mut conn, &within, month.from, month.to)
            .await?
            .into_iter()
            .collect();
    let heat_counts = match heat {
        Some(period) => Some(
            crate::cases::store::counts_per_grid(&mut conn, &within, period.from, period.to)
                .await?
                .into_iter()
                .collect::<HashMap<_, _>>(),
        ),
        None => None,
    };
    // Each point links to its case: drawn only for those who may open every case of the
    // township (a station or a grid worker sees only some of them).
    let sees_cases = matches!(
        crate::cases::visibility(p),
        Some(crate::cases::store::Visibility::Township(_))
    );
    let case_points = if sees_cases && heat.is_none() && !matches!(target, MapTarget::Default) {
        crate::cases::store::open_points(&mut conn, &within, MAX_CASE_POINTS).await?
    } else {
        Vec::new()
    };
    drop(c);

    let mut by_grid: BTreeMap<OrgId, Vec<String>> = BTreeMap::new();
    for w in &workers {
        by_grid.entry(w.grid_id).or_default().push(format!(
            "{}（{}）",
            w.worker_name,
            w.employment_label()
        ));
    }
    // Colours go by community so neighbouring communities' grids read apart.
    let community_rank: HashMap<OrgId, usize> = all_orgs
        .iter()
        .filter(|o| o.kind == OrgKind::Community)
        .enumerate()
        .map(|(i, o)| (o.id, i % 6))
        .collect();
    let mut grid_areas = Vec::with_capacity(grids.len());
    for g in &grids {
        let community = g
            .parent_id
            .and_then(|id| name_of.get(&id))
            .copied()
            .unwrap_or("");
        let names = by_grid
            .get(&g.org_id)
            .map(|v| v.join("、"))
            .unwrap_or_else(|| "未配备".to_owned());
        grid_areas.push(GridArea {
            id: g.org_id,
            code: g.code.clone(),
            label: short_grid_name(&g.name, community),
            title: format!(
                "{}\n网格员：{names}\n本月巡查 {} 次，发现问题 {} 件",
                g.name,
                patrols.get(&g.org_id).copied().unwrap_or(0),
                problems.get(&g.org_id).copied().unwrap_or(0)
            ),
            class: format!(
                "grid grid-c{}",
                g.parent_id
                    .and_then(|id| community_rank.get(&id))
                    .copied()
                    .unwrap_or(0)
            ),
            geometry: model::geometry_from_json(&g.geojson)?,
        });
    }
    let community_shapes: Vec<(OrgId, String, String, MultiPolygon<f64>)> = communities
        .iter()
        .map(|m| {
            Ok((
                m.org_id,
                m.code.clone(),
                m.name.clone(),
                model::geometry_from_json(&m.geojson)?,
            ))
        })
        .collect::<Result<_>>()?;

    let (svg, heat_total) = if let Some(counts) = &heat_counts {
        (heat_svg(&grid_areas, counts), Some(counts.values().sum()))
    } else {
        let show_grids = !matches!(target, MapTarget::Default);
        let community_hrefs: Vec<String> = community_shapes
            .iter()
            .map(|(id, ..)| format!("/grids/map?community={id}"))
            .collect();
        let community_classes: Vec<String> = community_shapes
            .iter()
            .map(|(id, ..)| {
                if show_grids {
                    "community".to_owned()
                } else {
                    format!(
                        "community grid-c{}",
                        community_rank.get(id).copied().unwrap_or(0)
                    )
                }
            })
            .collect();
        let grid_hrefs: Vec<String> = grid_areas
            .iter()
            .map(|g| format!("/grids/{}", g.id))
            .collect();
        let label_grids = matches!(target, MapTarget::Community(_));
        let mut areas: Vec<SvgArea<'_>> = Vec::new();
        for (((_, code, name, geom), href), class) in community_shapes
            .iter()
            .zip(&community_hrefs)
            .zip(&community_classes)
        {
            areas.push(SvgArea {
                code,
                geometry: geom,
                class,
                label: (!show_grids).then_some(name.as_str()),
                title: Some(name),
                href: (!show_grids).then_some(href.as_str()),
            });
        }
        if show_grids {
            for (g, href) in grid_areas.iter().zip(&grid_hrefs) {
                areas.push(SvgArea {
                    code: &g.code,
                    geometry: &g.geometry,
                    class: &g.class,
                    label: label_grids.then_some(g.label.as_str()),
                    title: Some(&g.title),
                    href: Some(href),
                });
            }
            // Community outlines on top of the grids, so their borders read through.
            for (((_, code, _, geom), _), _) in community_shapes
                .iter()
                .zip(&community_hrefs)
                .zip(&community_classes)
            {
                areas.push(SvgArea {
                    code,
                    geometry: geom,
                    class: "outline",
                    label: None,
                    title: None,
                    href: None,
                });
            }
        }
        let point_text: Vec<(String, String, String)> = case_points
            .iter()
            .map(|p| {
                let label = case_state_label(&p.state);
                (
                    format!(
                        "case s-{}{}",
                        p.state,
                        if p.overdue { " overdue" } else { "" }
                    ),
                    format!(
                        "案件 {}：{label}{}",
                        crate::cases::number(p.id, p.created_at),
                        if p.overdue { "（逾期）" } else { "" }
                    ),
                    format!("/cases/{}", p.id.0),
                )
            })
            .collect();
        let points: Vec<SvgPoint<'_>> = case_points
            .iter()
            .zip(&point_text)
            .map(|(p, (class, title, href))| SvgPoint {
                lon: p.lon_e7 as f64 / 1e7,
                lat: p.lat_e7 as f64 / 1e7,
                class,
                title: Some(title),
                href: Some(href),
            })
            .collect();
        (
            geometry::svg::render_svg(&areas, &points, &SvgOptions::default()),
            None,
        )
    };

    let parts = match target {
        MapTarget::Default => all_orgs
            .iter()
            .filter(|o| o.kind == OrgKind::Township)
            .map(|o| MapLink {
                href: format!("/grids/map?township={}", o.id),
                label: o.name.clone(),
            })
            .collect(),
        MapTarget::Township(_) => all_orgs
            .iter()
            .filter(|o| o.kind == OrgKind::Community)
            .map(|o| MapLink {
                href: format!("/grids/map?community={}", o.id),
                label: o.name.clone(),
            })
            .collect(),
        MapTarget::Community(_) => grid_areas
            .iter()
            .map(|g| MapLink {
                href: format!("/grids/{}", g.id),
                label: g.label.clone(),
            })
            .collect(),
    };
    Ok(MapView {
        title,
        svg,
        parts,
        up,
        missing,
        heat_total,
        base_query,
    })
}

/// A single grid drawn among its community's other grids, highlighted.
async fn grid_svg(conn: &mut Conn<'_>, grid: &Org) -> Result<Option<String>> {
    let Some(community) = grid.parent_id else {
        return Ok(None);
    };
    let Some(community) = orgs::store::get(conn, community).await? else {
        return Ok(None);
    };
    let rows = store::boundaries(conn, &["grid"], &community.path).await?;
    if !rows.iter().any(|r| r.org_id == grid.id) {
        return Ok(None);
    }
    let shapes: Vec<(String, String, MultiPolygon<f64>, bool)> = rows
        .iter()
        .map(|r| {
            Ok((
                r.code.clone(),
                r.name.clone(),
                model::geometry_from_json(&r.geojson)?,
                r.org_id == grid.id,
            ))
        })
        .collect::<Result<_>>()?;
    let areas: Vec<SvgArea<'_>> = shapes
        .iter()
        .map(|(code, name, g, me)| SvgArea {
            code,
            geometry: g,
            class: if *me { "grid selected" } else { "grid other" },
            label: None,
            title: Some(name),
            href: None,
        })
        .collect();
    Ok(Some(geometry::svg::render_svg(
        &areas,
        &[],
        &SvgOptions {
            width: 400.0,
            class: "geo-map small".into(),
            ..Default::default()
        },
    )))
}

// ---------- grid page, workers and tasks ----------

pub struct GridDetail {
    pub grid: Org,
    pub community: Option<Org>,
    pub svg: Option<String>,
    pub workers: Vec<AssignmentRow>,
    pub history: Vec<AssignmentRow>,
    pub tasks: Vec<TaskRow>,
    pub patrols: Vec<PatrolRow>,
    pub problems: Vec<ProblemRow>,
    pub accounts: Vec<WorkerAccount>,
    pub can_assign: bool,
    pub can_work: bool,
    pub can_register: bool,
}

pub async fn grid_detail(db: &Db, p: &Principal, id: OrgId) -> Result<GridDetail> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let grid = visible_org(&mut conn, p, id, OrgKind::Grid).await?;
    let community = match grid.parent_id {
        Some(id) => orgs::store::get(&mut conn, id).await?,
        None => None,
    };
    let all = store::assignments_of_grid(&mut conn, grid.id).await?;
    let (workers, history): (Vec<_>, Vec<_>) = all.into_iter().partition(|a| a.is_current());
    let can_assign = township_staff(p, &grid);
    let can_work = works_in(&mut conn, p, &grid).await?;
    let accounts = if can_assign {
        store::worker_accounts_within(&mut conn, &import_scope(p)).await?
    } else {
        Vec::new()
    };
    Ok(GridDetail {
        svg: grid_svg(&mut conn, &grid).await?,
        tasks: store::tasks_of_grid(&mut conn, grid.id).await?,
        patrols: store::recent_patrols_of_grid(&mut conn, grid.id, 20).await?,
        problems: store::recent_problems_of_grid(&mut conn, grid.id, 20).await?,
        can_register: can_work || can_assign,
        grid,
        community,
        workers,
        history,
        accounts,
        can_assign,
        can_work,
    })
}

/// Who takes a grid: an account with the grid worker role, or a named part-timer.
#[derive(Debug, Clone, Default)]
pub struct AssignInput {
    pub user_id: Option<i64>,
    pub worker_name: String,
    pub employment: String,
    pub duties: String,
    /// An assignment of this grid that the new one replaces (ended at the same instant).
    pub replaces: Option<i64>,
}

/// Assigns a worker to a grid; with `replaces`, hands the grid over from a current worker at
/// the same instant, so the history never shows a gap or an overlap.
pub async fn assign(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    grid_id: OrgId,
    input: AssignInput,
) -> Result<i64> {
    let employment = Employment::parse(&input.employment)?;
    let duties = model::required("duties", "岗位职责", &input.duties, 500)?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let grid = visible_org(&mut conn, p, grid_id, OrgKind::Grid).await?;
    if !township_staff(p, &grid) {
        return Err(Error::forbidden("只有本镇（街道）的工作人员可以配备网格员"));
    }
    let (user_id, name) = match input.user_id {
        Some(uid) => {
            let uid = UserId(uid);
            let allowed = store::worker_accounts_within(&mut conn, &import_scope(p)).await?;
            let account = allowed
                .into_iter()
                .find(|a| a.id == uid)
                .ok_or_else(|| Error::invalid("user_id", "所选账号不是本镇（街道）的网格员"))?;
            (Some(uid), account.display_name)
        }
        None => (
            None,
            model::required("worker_name", "网格员姓名", &input.worker_name, 50)?,
        ),
    };
    let now = Timestamp::now();
    let mut detail = format!("{}：{name}（{}）", grid.name, employment.label());
    if let Some(old) = input.replaces {
        let row = store::get_assignment(&mut conn, old)
            .await?
            .filter(|a| a.grid_id == grid.id && a.is_current())
            .ok_or_else(|| Error::invalid("replaces", "被替换的网格员不在本网格任职"))?;
        store::end_assignment(&mut conn, old, now).await?;
        detail.push_str(&format!("，接替 {}", row.worker_name));
    }
    // An account is in post in a grid once: a second row would list the worker twice, and
    // ending one would leave them in post.
    if let Some(uid) = user_id
        && store::is_assigned(&mut conn, uid, grid.id).await?
    {
        return Err(Error::conflict(format!("{name}已在{}任职", grid.name)));
    }
    let id = store::insert_assignment(
        &mut conn,
        &store::NewAssignment {
            grid_id: grid.id,
            user_id,
            worker_name: &name,
            employment: employment.as_str(),
            duties: &duties,
        },
        now,
        &actor.name,
    )
    .await?;
    audit::record(&mut conn, actor, "grids.assign", &grid.code, &detail).await?;
    tx.commit().await?;
    Ok(id)
}

/// What ending an assignment found, with the grid it was in: the person is out of post
/// either way, and a second click on a page shown before the first is not an error to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Now(OrgId),
    Before(OrgId),
}

/// Ends an assignment (the worker leaves the grid); the row stays as history.
pub async fn end_assignment(db: &Db, p: &Principal, actor: &Actor, id: i64) -> Result<Ended> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let row = store::get_assignment(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("任职记录不存在"))?;
    let grid = visible_org(&mut conn, p, row.grid_id, OrgKind::Grid).await?;
    if !township_staff(p, &grid) {
        return Err(Error::forbidden("只有本镇（街道）的工作人员可以调整网格员"));
    }
    if store::end_assignment(&mut conn, id, Timestamp::now()).await? == 0 {
        return Ok(Ended::Before(grid.id));
    }
    audit::record(
        &mut conn,
        actor,
        "grids.unassign",
        &grid.code,
        &format!("{}：{} 离任", grid.name, row.worker_name),
    )
    .await?;
    tx.commit().await?;
    Ok(Ended::Now(grid.id))
}

/// Every assignment of a grid, current ones first: who was responsible when.
pub async fn assignments(db: &Db, p: &Principal, grid_id: OrgId) -> Result<Vec<AssignmentRow>> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let grid = visible_org(&mut conn, p, grid_id, OrgKind::Grid).await?;
    Ok(store::assignments_of_grid(&mut conn, grid.id).await?)
}

pub async fn add_task(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    grid_id: OrgId,
    title: &str,
    detail: &str,
    due: &str,
) -> Result<i64> {
    let title = model::required("title", "任务名称", title, 100)?;
    let detail = model::optional("detail", "任务说明", detail, 2000)?;
    let due = due.trim();
    if !due.is_empty() && Timestamp::parse_local_date(due).is_none() {
        return Err(Error::invalid(
            "due_date",
            "完成期限应为日期，例如 2026-12-31",
        ));
    }
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let grid = visible_org(&mut conn, p, grid_id, OrgKind::Grid).await?;
    if !township_staff(p, &grid) {
        return Err(Error::forbidden(
            "只有本镇（街道）的工作人员可以布置网格任务",
        ));
    }
    let id = store::insert_task(
        &mut conn,
        grid.id,
        &title,
        &detail,
        due,
        Timestamp::now(),
        &actor.name,
    )
    .await?;
    audit::record(&mut conn, actor, "grids.task", &grid.code, &title).await?;
    tx.commit().await?;
    Ok(id)
}

/// Marks a task done or not done; the grid's workers and the township's staff may.
pub async fn set_task_done(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    id: i64,
    done: bool,
) -> Result<OrgId> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let task = store::get_task(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("任务不存在"))?;
    let grid = visible_org(&mut conn, p, task.grid_id, OrgKind::Grid).await?;
    if !(works_in(&mut conn, p, &grid).await? || township_staff(p, &grid)) {
        return Err(Error::forbidden(
            "只有本网格的网格员或镇（街道）工作人员可以办理",
        ));
    }
    let now = Timestamp::now();
    store::set_task_done(&mut conn, id, done.then_some((now, actor.name.as_str()))).await?;
    audit::record(
        &mut conn,
        actor,
        "grids.task_done",
        &grid.code,
        &format!(
            "{}：{}",
            task.title,
            if done { "已完成" } else { "改为未完成" }
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(grid.id)
}

// ---------- the worker's own pages: my grids and patrols ----------

pub struct MyGrid {
    pub grid: Org,
    pub svg: Option<String>,
    pub tasks: Vec<TaskRow>,
    pub duties: String,
}

pub struct MyWork {
    pub grids: Vec<MyGrid>,
    pub patrol: Option<PatrolRow>,
    pub points: Vec<PointRow>,
    pub problems: Vec<ProblemRow>,
    pub recent: Vec<PatrolRow>,
}

async fn my_grid_orgs(conn: &mut Conn<'_>, p: &Principal) -> Result<Vec<(Org, String)>> {
    let mut out: Vec<(Org, String)> = Vec::new();
    for a in store::current_assignments_of_user(conn, p.user_id).await? {
        if let Some(g) = orgs::store::get(conn, a.grid_id).await?
            && g.is_active()
        {
            out.push((g, a.duties));
        }
    }
    if p.org.kind == OrgKind::Grid && !out.iter().any(|(g, _)| g.id == p.org.id) {
        out.push((p.org.clone(), String::new()));
    }
    Ok(out)
}

pub async fn my_work(db: &Db, p: &Principal) -> Result<MyWork> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let mut grids = Vec::new();
    for (grid, duties) in my_grid_orgs(&mut conn, p).await? {
        grids.push(MyGrid {
            svg: grid_svg(&mut conn, &grid).await?,
            tasks: store::tasks_of_grid(&mut conn, grid.id).await?,
            grid,
            duties,
        });
    }
    let patrol = store::open_patrol_of(&mut conn, p.user_id).await?;
    let (points, problems) = match &patrol {
        Some(pt) => (
            store::points_of(&mut conn, pt.id).await?,
            store::problems_of_patrol(&mut conn, pt.id).await?,
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok(MyWork {
        grids,
        patrol,
        points,
        problems,
        recent: store::recent_patrols_of_user(&mut conn, p.user_id, 10).await?,
    })
}

/// Starts a patrol of one of the worker's grids; one patrol at a time.
pub async fn start_patrol(db: &Db, p: &Principal, actor: &Actor, grid_id: OrgId) -> Result<i64> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let grid = visible_org(&mut conn, p, grid_id, OrgKind::Grid).await?;
    if !works_in(&mut conn, p, &grid).await? {
        return Err(Error::forbidden("您不是该网格的网格员"));
    }
    if store::open_patrol_of(&mut conn, p.user_id).await?.is_some() {
        return Err(Error::conflict(
            "您有一次巡查尚未结束，请先结束再开始新的巡查",
        ));
    }
    let id = store::insert_patrol(
        &mut conn,
        grid.id,
        p.user_id,
        &p.display_name,
        Timestamp::now(),
    )
    .await?;
    audit::record(
        &mut conn,
        actor,
        "grids.patrol_start",
        &grid.code,
        &grid.name,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// The worker's own patrol that is still under way.
async fn own_open_patrol(conn: &mut Conn<'_>, p: &Principal, id: i64) -> Result<PatrolRow> {
    let patrol = store::get_patrol(conn, id)
        .await?
        .filter(|pt| pt.user_id == p.user_id)
        .ok_or_else(|| Error::not_found("巡查记录不存在"))?;
    if patrol.finished_at.is_some() {
        return Err(Error::conflict("这次巡查已经结束"));
    }
    Ok(patrol)
}

pub async fn add_point(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    patrol_id: i64,
    lon: &str,
    lat: &str,
    note: &str,
) -> Result<i64> {
    let position = model::parse_position(lon, lat)?;
    let note = model::optional("note", "地点说明", note, 200)?;
    if position.is_none() && note.is_empty() {
        return Err(Error::invalid("note", "请填写经过的地点，或提供经纬度"));
    }
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let patrol = own_open_patrol(&mut conn, p, patrol_id).await?;
    let id = store::insert_point(&mut conn, patrol.id, Timestamp::now(), position, &note).await?;
    audit::record(
        &mut conn,
        actor,
        "grids.patrol_point",
        &format!("巡查 {}", patrol.id),
        &note,
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

/// What a worker writes about a problem found on a patrol.
#[derive(Debug, Clone, Default)]
pub struct ProblemInput {
    pub category: String,
    pub description: String,
    pub lon: String,
    pub lat: String,
}

/// Records a problem found on the worker's patrol under way.
pub async fn add_problem(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    patrol_id: i64,
    input: ProblemInput,
) -> Result<i64> {
    let category = model::required("category", "问题类别", &input.category, 50)?;
    let description = model::required("description", "问题描述", &input.description, 2000)?;
    let position = model::parse_position(&input.lon, &input.lat)?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let patrol = own_open_patrol(&mut conn, p, patrol_id).await?;
    let id = store::insert_problem(
        &mut conn,
        &store::NewProblem {
            grid_id: patrol.grid_id,
            patrol_id: Some(patrol.id),
            reported_by: p.user_id,
            reporter_name: &p.display_name,
            category: &category,
            description: &description,
            position,
        },
        Timestamp::now(),
    )
    .await?;
    audit::record(
        &mut conn,
        actor,
        "grids.problem",
        &format!("巡查 {}", patrol.id),
        &format!("{category}：{description}"),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

pub async fn finish_patrol(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    patrol_id: i64,
    summary: &str,
) -> Result<()> {
    let summary = model::optional("summary", "巡查小结", summary, 2000)?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let patrol = own_open_patrol(&mut conn, p, patrol_id).await?;
    store::finish_patrol(&mut conn, patrol.id, Timestamp::now(), &summary).await?;
    audit::record(
        &mut conn,
        actor,
        "grids.patrol_finish",
        &format!("巡查 {}", patrol.id),
        &summary,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------- the register (基础信息) ----------

/// The key that seals personal data, loaded (or created) on first use.
pub struct PersonalDataKey {
    configured: Option<String>,
    data_dir: PathBuf,
    sealer: OnceLock<Sealer>,
}

impl PersonalDataKey {
    pub fn new(configured: Option<String>, data_dir: PathBuf) -> PersonalDataKey {
        PersonalDataKey {
            configured,
            data_dir,
            sealer: OnceLock::new(),
        }
    }

    pub fn sealer(&self) -> Result<&Sealer> {
        if let Some(s) = self.sealer.get() {
            return Ok(s);
        }
        let s = Sealer::load(self.configured.as_deref(), &self.data_dir)?;
        Ok(self.sealer.get_or_init(|| s))
    }
}

/// A household as most roles see it: phone and ID number masked.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HouseholdView {
    pub id: i64,
    pub head_name: String,
    pub id_number: String,
    pub phone: String,
    pub members: i64,
    pub address: String,
    pub building: Option<String>,
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PlaceView {
    pub id: i64,
    pub kind: &'static str,
    pub name: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub note: String,
}

pub struct Register {
    pub grid: Org,
    pub q: String,
    pub buildings: Vec<BuildingRow>,
    pub households: Vec<HouseholdView>,
    pub places: Vec<PlaceView>,
    pub can_edit: bool,
    pub can_reveal: bool,
}

/// Who may read a grid's register, edit it and reveal personal data in it.
struct RegisterRights {
    edit: bool,
    reveal: bool,
}

async fn register_rights(conn: &mut Conn<'_>, p: &Principal, grid: &Org) -> Result<RegisterRights> {
    let worker = works_in(conn, p, grid).await?;
    let staff = township_staff(p, grid);
    if !worker && !staff {
        return Err(Error::forbidden(
            "只有本网格的网格员和镇（街道）工作人员可以查看基础信息",
        ));
    }
    Ok(RegisterRights {
        edit: worker || (staff && p.has(Role::TownshipOfficer)),
        reveal: worker || (p.has(Role::TownshipLeader) && p.scope.covers(grid)),
    })
}

/// The grid's register, masked, optionally searched by name or address.
pub async fn register(db: &Db, p: &Principal, grid_id: OrgId, q: &str) -> Result<Register> {
    let q = model::optional("q", "搜索词", q, 50)?;
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let grid = visible_org(&mut conn, p, grid_id, OrgKind::Grid).await?;
    let rights = register_rights(&mut conn, p, &grid).await?;
    let households = store::households_of(&mut conn, grid.id, &q)
        .await?
        .into_iter()
        .map(|h| HouseholdView {
            id: h.id,
            head_name: h.head_name,
            id_number: h.id_number_masked,
            phone: model::mask_phone(&h.phone),
            members: h.members,
            address: h.address,
            building: h.building_name,
            note: h.note,
        })
        .collect();
    let places = store::places_of(&mut conn, grid.id, &q)
        .await?
        .into_iter()
        .map(|pl| PlaceView {
            id: pl.id,
            kind: model::place_kind_label(&pl.kind),
            name: pl.name,
            address: pl.address,
            contact_name: pl.contact_name,
            contact_phone: model::mask_phone(&pl.contact_phone),
            note: pl.note,
        })
        .collect();
    Ok(Register {
        buildings: store::buildings_of(&mut conn, grid.id).await?,
        households,
        places,
        can_edit: rights.edit,
        can_reveal: rights.reveal,
        grid,
        q,
    })
}

/// What a new household's form carries.
#[derive(Debug, Clone, Default)]
pub struct HouseholdInput {
    pub building_id: Option<i64>,
    pub head_name: String,
    pub id_number: String,
    pub phone: String,
    pub members: String,
    pub address: String,
    pub note: String,
}

pub async fn add_household(
    db: &Db,
    key: &PersonalDataKey,
    p: &Principal,
    actor: &Actor,
    grid_id: OrgId,
    input: HouseholdInput,
) -> Result<i64> {
    let head = model::required("head_name", "户主姓名", &input.head_name, 50)?;
    let (sealed, masked) = if input.id_number.trim().is_empty() {
        (String::new(), String::new())
    } else {
        let id = IdNumber::parse(&input.id_number)?;
        (key.sealer()?.seal(id.as_str())?, id.masked())
    };
    let phone = model::parse_phone(&input.phone, "phone")?;
    let members: i64 = input
        .members
        .trim()
        .parse()
        .ok()
        .filter(|n| (1..=99).contains(n))
        .ok_or_else(|| Error::invalid("members", "家庭人口应为 1–99 的整数"))?;
    let address = model::required("address", "住址", &input.address, 200)?;
    let note = model::optional("note", "备注", &input.note, 500)?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let grid = visible_org(&mut conn, p, grid_id, OrgKind::Grid).await?;
    if !register_rights(&mut conn, p, &grid).await?.edit {
        return Err(Error::forbidden("您不能修改本网格的基础信息"));
    }
    if let Some(b) = input.building_id
        && !store::building_in_grid(&mut conn, b, grid.id).await?
    {
        return Err(Error::invalid("building_id", "所选楼栋不在本网格"));
    }
    let id = store::insert_household(
        &mut conn,
        &store::NewHousehold {
            grid_id: grid.id,
            building_id: input.building_id,
            head_name: &head,
            id_number_enc: &sealed,
            id_number_masked: &masked,
            phone: &phone,
            members,
            address: &address,
            note: &note,
        },
        Timestamp::now(),
        &actor.name,
    )
    .await?;
    // The audit row names the household, never its personal data.
    audit::record(
        &mut conn,
        actor,
        "grids.household",
        &grid.code,
        &format!("登记住户 {id}"),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(Debug, Clone, Default)]
pub struct BuildingInput {
    pub name: String,
    pub address: String,
    pub floors: String,
    pub note: String,
}

pub async fn add_building(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    grid_id: OrgId,
    input: BuildingInput,
) -> Result<i64> {
    let name = model::required("name", "楼栋名称", &input.name, 100)?;
    let address = model::optional("address", "地址", &input.address, 200)?;
    let note = model::optional("note", "备注", &input.note, 500)?;
    let floors = match input.floors.trim() {
        "" => None,
        f => Some(
            f.parse::<i64>()
                .ok()
                .filter(|n| (1..=200).contains(n))
                .ok_or_else(|| Error::invalid("floors", "层数应为 1–200 的整数"))?,
        ),
    };
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let grid = visible_org(&mut conn, p, grid_id, OrgKind::Grid).await?;
    if !register_rights(&mut conn, p, &grid).await?.edit {
        return Err(Error::forbidden("您不能修改本网格的基础信息"));
    }
    let id = store::insert_building(
        &mut conn,
        &store::NewBuilding {
            grid_id: grid.id,
            name: &name,
            address: &address,
            floors,
            note: &note,
        },
        Timestamp::now(),
        &actor.name,
    )
    .await?;
    audit::record(&mut conn, actor, "grids.building", &grid.code, &name).await?;
    tx.commit().await?;
    Ok(id)
}

#[derive(Debug, Clone, Default)]
pub struct PlaceInput {
    pub kind: String,
    pub name: String,
    pub address: String,
    pub contact_name: String,
    pub contact_phone: String,
    pub note: String,
}

pub async fn add_place(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    grid_id: OrgId,
    input: PlaceInput,
) -> Result<i64> {
    let kind = model::place_kind(&input.kind)?;
    let name = model::required("name", "场所名称", &input.name, 100)?;
    let address = model::required("address", "地址", &input.address, 200)?;
    let contact_name = model::optional("contact_name", "联系人", &input.contact_name, 50)?;
    let contact_phone = model::parse_phone(&input.contact_phone, "contact_phone")?;
    let note = model::optional("note", "备注", &input.note, 500)?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let grid = visible_org(&mut conn, p, grid_id, OrgKind::Grid).await?;
    if !register_rights(&mut conn, p, &grid).await?.edit {
        return Err(Error::forbidden("您不能修改本网格的基础信息"));
    }
    let id = store::insert_place(
        &mut conn,
        &store::NewPlace {
            grid_id: grid.id,
            kind,
            name: &name,
            address: &address,
            contact_name: &contact_name,
            contact_phone: &contact_phone,
            note: &note,
        },
        Timestamp::now(),
        &actor.name,
    )
    .await?;
    audit::record(&mut conn, actor, "grids.place", &grid.code, &name).await?;
    tx.commit().await?;
    Ok(id)
}

/// A household with its personal data in full.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HouseholdFull {
    #[schema(value_type = i64)]
    pub grid_id: OrgId,
    pub grid_name: String,
    pub household: HouseholdView,
}

/// Shows one household unmasked, to the grid's own worker or a township leader only, and
/// records in the audit trail (in the same transaction) who looked at whose data.
pub async fn reveal_household(
    db: &Db,
    key: &PersonalDataKey,
    p: &Principal,
    actor: &Actor,
    id: i64,
) -> Result<HouseholdFull> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let h = store::get_household(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("住户不存在"))?;
    let grid = visible_org(&mut conn, p, h.grid_id, OrgKind::Grid).await?;
    if !register_rights(&mut conn, p, &grid).await?.reveal {
        return Err(Error::forbidden(
            "只有本网格的网格员和镇（街道）领导可以查看完整信息",
        ));
    }
    let id_number = if h.id_number_enc.is_empty() {
        String::new()
    } else {
        key.sealer()?.open(&h.id_number_enc)?
    };
    audit::record(
        &mut conn,
        actor,
        "grids.reveal",
        &format!("住户 {}", h.id),
        &format!("{}：查看 {} 户的完整身份证号和电话", grid.name, h.head_name),
    )
    .await?;
    tx.commit().await?;
    Ok(HouseholdFull {
        grid_id: grid.id,
        grid_name: grid.name,
        household: HouseholdView {
            id: h.id,
            head_name: h.head_name,
            id_number,
            phone: h.phone,
            members: h.members,
            address: h.address,
            building: h.building_name,
            note: h.note,
        },
    })
}
