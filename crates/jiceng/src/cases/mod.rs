//! Cases (事件/案件): one intake for every problem, whoever finds it; task tickets (任务单) to
//! the one responsible unit with time limits by category and urgency; the check (核查) and
//! closure; the reporter's rating, which may reopen a case once; duplicates merged so that every
//! reporter hears the outcome.
//!
//! A case has one or more tickets, each a `case_ticket` workflow instance; the first starts at
//! intake, a reopening starts the next. Every action goes through [`act`], which writes the
//! transition, this context's records and the audit row in one transaction.

pub mod bench;
pub mod metrics;
pub mod model;
pub mod parts;
pub mod routes;
pub mod seed;
pub mod store;
pub mod suggest;

use std::collections::HashMap;
use std::sync::Arc;

use calendar::Calendar;
use serde::Serialize;
use workflow::{Registry, TimeLimit, TimeUnit};

use crate::audit::{self, Actor};
use crate::auth::{self, Principal, Role, Scope};
use crate::catalog::{self, Responsible};
use crate::db::reference::{self, Cache, Stamp};
use crate::db::{Batch, Conn, Db, Reader, WriteFuture, Writes};
use crate::error::{Error, Result};
use crate::ids::{CaseId, InstanceId, OrgId, TicketId};
use crate::orgs::{self, OrgQuery, model::Org, model::OrgKind};
use crate::time::Timestamp;
use crate::workflow::{self as wf, ActionInput, AvailableAction, HistoryEntry, Instance};
use model::{
    CategoryFields, CheckedFile, Described, DescriptionCache, Rating, Source, Upload, Urgency,
};
use store::{AttachmentMeta, CaseRow, RatingRow, Settings, TicketRow, Visibility};

pub const PROCESS: &str = "case_ticket";

/// The case number people quote: the year it came in and its id, e.g. 2026-000123.
pub fn number(id: CaseId, created_at: Timestamp) -> String {
    format!(
        "{}-{:06}",
        created_at.local().get(..4).unwrap_or("0000"),
        id.0
    )
}

fn subject_ref(id: CaseId, seq: i64) -> String {
    format!("case:{}#{seq}", id.0)
}

/// Whose cases a principal sees; `None` for roles that have no business with cases.
pub fn visibility(p: &Principal) -> Option<Visibility> {
    if p.has_any(&[
        Role::Dispatcher,
        Role::TownshipLeader,
        Role::TownshipOfficer,
    ]) && let Scope::Township { township_id, .. } = &p.scope
    {
        return Some(Visibility::Township(*township_id));
    }
    if p.has_any(&[Role::StationHead, Role::DepartmentOfficer]) {
        return Some(Visibility::Unit(p.org.id));
    }
    if p.has(Role::GridWorker) {
        return Some(Visibility::Grids {
            org: p.org.id,
            user: p.user_id,
        });
    }
    None
}

/// Only the enforcement office's dispatcher and the township's leaders see reporters' names
/// and phone numbers in full, and each time they do it is audited.
pub fn may_see_contact(p: &Principal) -> bool {
    p.has_any(&[Role::Dispatcher, Role::TownshipLeader])
}

async fn can_see(conn: &mut Conn<'_>, p: &Principal, c: &CaseRow) -> Result<bool> {
    Ok(match visibility(p) {
        None => false,
        Some(Visibility::Township(t)) => c.township_id == t,
        Some(Visibility::Unit(o)) => {
            store::unit_has_ticket(conn, c.id, o).await?
                || store::unit_has_part(conn, c.id, o).await?
        }
        Some(Visibility::Grids { org, user }) => {
            store::grid_worker_sees(conn, c.id, org, user).await?
        }
    })
}

/// Whether `p` may see a workflow instance of a case (a ticket or a part) where the generic
/// work pages show it: as they may see the case. `None` when the instance is not a case's.
pub(crate) async fn instance_visible(
    conn: &mut Conn<'_>,
    p: &Principal,
    subject_ref: &str,
) -> Result<Option<bool>> {
    let Some(id) = subject_ref
        .strip_prefix("case:")
        .and_then(|r| r.split('#').next())
        .and_then(|id| id.parse().ok())
    else {
        return Ok(None);
    };
    Ok(Some(match store::get_case(conn, CaseId(id)).await? {
        Some(c) => can_see(conn, p, &c).await?,
        None => false,
    }))
}

/// Which of a case process's instances the inbox may list for `p`, as a condition on
/// `wf_instances`, when `p` sees fewer than their township's: a grid worker checks on site
/// only the cases of their grids.
pub(crate) fn inbox_only(p: &Principal) -> Option<String> {
    match visibility(p)? {
        Visibility::Grids { org, user } => Some(store::grid_worker_instances(org, user)),
        Visibility::Township(_) | Visibility::Unit(_) => None,
    }
}

pub(crate) async fn load_visible(
    conn: &mut Conn<'_>,
    p: &Principal,
    id: CaseId,
) -> Result<CaseRow> {
    let c = store::get_case(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("案件不存在"))?;
    if !can_see(conn, p, &c).await? {
        return Err(Error::forbidden("该案件不在您的管辖范围内"));
    }
    Ok(c)
}

// ---------------------------------------------------------------------------------------
// Categories and settings

/// Seeds the shipped categories for a district the first time they are needed; a district's
/// own additions and edits are never overwritten.
pub async fn ensure_categories(db: &Db, district: OrgId) -> Result<()> {
    {
        let mut c = db.acquire().await?;
        if store::count_categories(&mut c.conn(), district).await? > 0 {
            return Ok(());
        }
    }
    let mut tx = db.begin().await?;
    let mut n = 0;
    for f in model::shipped_categories() {
        n += store::upsert_category(&mut tx.conn(), district, &f, "系统:初始化", true).await?;
    }
    if n > 0 {
        audit::record(
            &mut tx.conn(),
            &Actor::system("cases"),
            "case.category",
            "事件类别",
            &format!("载入 GB/T 30428.2 事件类别 {n} 项"),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

pub async fn categories(db: &Db, district: OrgId) -> Result<Vec<CategoryFields>> {
    ensure_categories(db, district).await?;
    let mut c = db.acquire().await?;
    Ok(store::categories(&mut c.conn(), district).await?)
}

/// The categories, their time limits and the duplicate settings hold for every township of
/// the district, so the district keeps them, not one township's dispatcher.
fn may_edit_categories(p: &Principal) -> bool {
    p.has(Role::EstablishmentOffice)
}

/// Adds (`is_new`) or changes a category of the principal's district.
pub async fn save_category(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    mut f: CategoryFields,
    is_new: bool,
) -> Result<()> {
    if !may_edit_categories(p) {
        return Err(Error::forbidden(
            "事件类别及重复案件设置适用于全区，由区委编办维护",
        ));
    }
    for s in [
        &mut f.code,
        &mut f.major,
        &mut f.minor,
        &mut f.respond_normal,
        &mut f.respond_urgent,
        &mut f.handle_normal,
        &mut f.handle_urgent,
        &mut f.department_code,
        &mut f.duty_item_code,
    ] {
        *s = s.trim().to_owned();
    }
    model::validate_category(&f)?;
    let district = catalog::district_of(&p.org);
    ensure_categories(db, district).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    if !f.department_code.is_empty() {
        match orgs::store::get_by_code(&mut conn, &f.department_code).await? {
            Some(o) if o.kind == OrgKind::Department && o.is_active() => {}
            _ => {
                return Err(Error::invalid(
                    "department_code",
                    format!("没有编码为 {} 的区直部门", f.department_code),
                ));
            }
        }
    }
    let existing = store::category(&mut conn, district, &f.code).await?;
    match (is_new, &existing) {
        (true, Some(_)) => return Err(Error::conflict("该类别编码已存在")),
        (false, None) => return Err(Error::not_found("没有这个事件类别")),
        _ => {}
    }
    // A dispatch cites the category's item, and an item the catalog lacks would refuse every
    // dispatch of the category. Checked when it changes: a category kept as it was saves.
    let item_changed = existing
        .as_ref()
        .is_none_or(|e| e.duty_item_code != f.duty_item_code);
    if item_changed
        && !f.duty_item_code.is_empty()
        && !catalog::general_codes(&mut conn, district)
            .await?
            .contains(&f.duty_item_code)
    {
        return Err(Error::invalid(
            "duty_item_code",
            format!("区级权责清单中没有编码为 {} 的事项", f.duty_item_code),
        ));
    }
    store::upsert_category(&mut conn, district, &f, &actor.name, false).await?;
    audit::record(
        &mut conn,
        actor,
        "case.category",
        &format!("事件类别 {}", f.code),
        &format!("{}{}", if is_new { "新增：" } else { "修改：" }, f.name()),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn settings(db: &Db, district: OrgId) -> Result<Settings> {
    let mut c = db.acquire().await?;
    settings_in(&mut c.conn(), district).await
}

async fn settings_in(conn: &mut Conn<'_>, district: OrgId) -> Result<Settings> {
    Ok(store::settings(conn, district).await?.unwrap_or(Settings {
        duplicate_window_hours: model::DEFAULT_DUPLICATE_WINDOW_HOURS,
        duplicate_threshold_permille: model::DEFAULT_DUPLICATE_THRESHOLD,
    }))
}

/// A district's categories and settings as this process has read them (see
/// [`crate::db::reference`]): every intake checks its category and reads the settings.
#[derive(Default)]
struct Cached {
    /// All of a district's categories, so that a code it lacks is answered too.
    categories: Cache<OrgId, Arc<HashMap<String, CategoryFields>>>,
    settings: Cache<OrgId, Settings>,
}

async fn categories_at(
    db: &Db,
    reader: &mut Reader<'_, '_>,
    stamp: &Stamp,
    district: OrgId,
) -> Result<Arc<HashMap<String, CategoryFields>>> {
    let read = async {
        let all = store::categories(&mut reader.conn().await?, district).await?;
        Ok(Arc::new(
            all.into_iter().map(|c| (c.code.clone(), c)).collect(),
        ))
    };
    let cached = db.caches().get::<Cached>();
    cached.categories.read_through(stamp, &district, read).await
}

async fn settings_at(
    db: &Db,
    reader: &mut Reader<'_, '_>,
    stamp: &Stamp,
    district: OrgId,
) -> Result<Settings> {
    let cached = db.caches().get::<Cached>();
    cached
        .settings
        .read_through(stamp, &district, async {
            settings_in(&mut reader.conn().await?, district).await
        })
        .await
}

pub async fn save_settings(db: &Db, p: &Principal, actor: &Actor, s: Settings) -> Result<()> {
    if !may_edit_categories(p) {
        return Err(Error::forbidden(
            "事件类别及重复案件设置适用于全区，由区委编办维护",
        ));
    }
    if !(1..=720).contains(&s.duplicate_window_hours) {
        return Err(Error::invalid(
            "duplicate_window_hours",
            "时间窗口为 1–720 小时",
        ));
    }
    if !(50..=1000).contains(&s.duplicate_threshold_permille) {
        return Err(Error::invalid(
            "duplicate_threshold_permille",
            "相似度阈值为 50–1000（千分比）",
        ));
    }
    let district = catalog::district_of(&p.org);
    let mut tx = db.begin().await?;
    store::set_settings(&mut tx.conn(), district, &s, &actor.name).await?;
    audit::record(
        &mut tx.conn(),
        actor,
        "case.settings",
        "重复案件识别",
        &format!(
            "时间窗口 {} 小时，相似度阈值 {}‰",
            s.duplicate_window_hours, s.duplicate_threshold_permille
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Intake

/// A case as reported, before any check.
#[derive(Debug, Clone, Default)]
pub struct NewCase {
    pub source: Option<Source>,
    /// Staff default to their own township; the public names it by its division code.
    pub township_id: Option<OrgId>,
    pub township_code: Option<String>,
    pub grid_id: Option<OrgId>,
    /// A grid by its code (the hotline's export).
    pub grid_code: Option<String>,
    pub category_code: String,
    pub urgency: Option<Urgency>,
    pub description: String,
    pub address: String,
    pub lon: String,
    pub lat: String,
    pub reporter_name: String,
    pub reporter_phone: String,
    pub external_ref: Option<String>,
    pub attachments: Vec<Upload>,
}

/// Who is reporting.
#[derive(Clone, Copy)]
pub enum Reporter<'a> {
    Staff(&'a Principal),
    /// A citizen on the public form or API.
    Public(Source),
}

/// Checked and resolved, ready to store.
struct Prepared {
    district: OrgId,
    township: Org,
    grid: Option<Org>,
    category: CategoryFields,
    source: Source,
    urgency: Urgency,
    text: model::Text,
    coordinates: Option<(i64, i64)>,
    files: Vec<CheckedFile>,
    external_ref: Option<String>,
    reporter_user: Option<crate::ids::UserId>,
    /// The district's duplicate settings and the working calendar, read with the other checks
    /// rather than by the writer, whose every statement holds up the intakes behind it.
    settings: Settings,
    calendar: Arc<Calendar>,
}

/// What intake answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Created {
    #[schema(value_type = i64)]
    pub id: CaseId,
    pub number: String,
    /// The code the reporter follows the case with, e.g. ABCD-EFGH-JKMN.
    pub receipt_code: String,
    /// Open cases that may be the same problem, for the dispatcher to merge.
    pub duplicates: Vec<Candidate>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Candidate {
    #[schema(value_type = i64)]
    pub id: CaseId,
    pub number: String,
    pub description: String,
    /// Character-bigram Jaccard similarity in thousandths.
    pub similarity_permille: i64,
}

impl Candidate {
    fn of(
        id: CaseId,
        created_at: Timestamp,
        description: String,
        similarity_permille: i64,
    ) -> Self {
        Candidate {
            id,
            number: number(id, created_at),
            description,
            similarity_permille,
        }
    }
}

/// Where intake reads reference data: through the process's caches, under the stamp it read.
struct Reads<'a, 'r, 'c> {
    db: &'a Db,
    reader: &'a mut Reader<'r, 'c>,
    stamp: Stamp,
}

impl<'a, 'r, 'c> Reads<'a, 'r, 'c> {
    /// Staff reuse the stamp read with their session moments ago; the public's reports read it.
    async fn on(db: &'a Db, reader: &'a mut Reader<'r, 'c>, who: Reporter<'_>) -> Result<Self> {
        match who {
            Reporter::Staff(p) => Ok(Reads {
                db,
                reader,
                stamp: p.reference.clone(),
            }),
            Reporter::Public(_) => Self::afresh(db, reader).await,
        }
    }

    /// With the stamp read now: after the request has itself changed reference data, which
    /// the session's stamp predates.
    async fn afresh(db: &'a Db, reader: &'a mut Reader<'r, 'c>) -> Result<Self> {
        let stamp = reference::stamp(&mut reader.conn().await?).await?;
        Ok(Reads { db, reader, stamp })
    }
}

async fn resolve_township(
    r: &mut Reads<'_, '_, '_>,
    who: Reporter<'_>,
    new: &NewCase,
) -> Result<Org> {
    let (db, stamp) = (r.db, &r.stamp);
    let t = match (new.township_id, new.township_code.as_deref().map(str::trim)) {
        (Some(id), _) => orgs::get_at(db, r.reader, stamp, id).await?,
        (None, Some(code)) if !code.is_empty() => {
            orgs::get_by_code_at(db, r.reader, stamp, code).await?
        }
        _ => match who {
            Reporter::Staff(p) => match &p.scope {
                Scope::Township { township_id, .. } => {
                    orgs::get_at(db, r.reader, stamp, *township_id).await?
                }
                Scope::District => None,
            },
            Reporter::Public(_) => None,
        },
    };
    let t = t
        .filter(|t| t.kind == OrgKind::Township && t.is_active())
        .ok_or_else(|| Error::invalid("township", "请选择问题所在的镇（街道）"))?;
    if let Reporter::Staff(p) = who
        && !p.scope.covers(&t)
    {
        return Err(Error::invalid("township", "只能受理本镇（街道）的案件"));
    }
    Ok(t)
}

/// The source staff may give a case: not a citizen's (those come through the public form
/// and API), and for a grid worker only what they found themselves (上报, 巡查): the hotline
/// and other platforms reach the township's own staff.
fn staff_source(p: &Principal, source: Option<Source>) -> Result<Source> {
    let source = source.ok_or_else(|| Error::invalid("source", "请选择案件来源"))?;
    if !Source::STAFF.contains(&source) {
        return Err(Error::invalid(
            "source",
            format!("工作人员受理的案件，来源不能是“{}”", source.label()),
        ));
    }
    let own_finding = matches!(source, Source::GridWorker | Source::Patrol);
    if !own_finding
        && !p.has_any(&[
            Role::Dispatcher,
            Role::TownshipLeader,
            Role::TownshipOfficer,
        ])
    {
        return Err(Error::invalid(
            "source",
            format!(
                "“{}”的案件由镇（街道）工作人员受理，网格员请选择网格员上报或巡查发现",
                source.label()
            ),
        ));
    }
    Ok(source)
}

async fn prepare(
    r: &mut Reads<'_, '_, '_>,
    who: Reporter<'_>,
    township: Org,
    new: NewCase,
) -> Result<Prepared> {
    let source = match who {
        Reporter::Public(s) => s,
        Reporter::Staff(p) => staff_source(p, new.source)?,
    };
    let text = model::check_text(
        source,
        &new.description,
        &new.address,
        &new.reporter_name,
        &new.reporter_phone,
    )?;
    let district = catalog::district_of(&township);
    let code = new.category_code.trim();
    let (db, stamp) = (r.db, &r.stamp);
    let category = match categories_at(db, r.reader, stamp, district)
        .await?
        .get(code)
    {
        Some(c) if c.active => c.clone(),
        found => return Err(category_refused(code, found.is_some())),
    };
    let grid = match (new.grid_id, new.grid_code.as_deref().map(str::trim)) {
        (Some(id), _) => Some(orgs::get_at(db, r.reader, stamp, id).await?),
        (None, Some(code)) if !code.is_empty() => {
            Some(orgs::get_by_code_at(db, r.reader, stamp, code).await?)
        }
        _ => None,
    };
    let grid = match grid {
        None => None,
        Some(Some(g)) if g.kind == OrgKind::Grid && g.is_active() && g.is_within(&township) => {
            Some(g)
        }
        Some(_) => {
            return Err(Error::invalid(
                "grid",
                format!("所选网格不在{}范围内", township.name),
            ));
        }
    };
    let coordinates = model::parse_coordinates(&new.lon, &new.lat)?;
    let files = model::check_uploads(new.attachments)?;
    let external_ref = new
        .external_ref
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty());
    if let Some(r) = &external_ref
        && (r.chars().count() > 64)
    {
        return Err(Error::invalid("external_ref", "工单号不超过 64 个字符"));
    }
    // The number is the sending system's (the hotline's): staff carry it over, while a
    // citizen's own report has none, and one typed in would pass for the hotline's.
    if external_ref.is_some() && matches!(who, Reporter::Public(_)) {
        return Err(Error::invalid(
            "external_ref",
            "工单号由热线等系统填写，群众上报无需填写",
        ));
    }
    let settings = settings_at(db, r.reader, stamp, district).await?;
    let calendar = crate::workdays::current_at(db, r.reader, stamp).await?;
    Ok(Prepared {
        settings,
        calendar,
        district,
        township,
        grid,
        category,
        source,
        urgency: new.urgency.unwrap_or(Urgency::Normal),
        text,
        coordinates,
        files,
        external_ref,
        reporter_user: match who {
            Reporter::Staff(p) => Some(p.user_id),
            Reporter::Public(_) => None,
        },
    })
}

/// Duplicates offered per new case: the most similar ones. Every offer is a row written in the
/// intake's transaction, and a dispatcher reads a short list.
const MAX_DUPLICATES: usize = 5;

/// Open cases compared with a new one: the most recent of its township, category and grid
/// within the window. The comparison runs inside the write transaction, where every
/// microsecond holds up the intakes queued behind it; a repeat report of a problem comes
/// while it is fresh.
const DUPLICATE_SCAN: i64 = 50;

/// A checked case waiting for the writer: what [`intake`] stores, alone or with the cases of
/// concurrent intakes ([`Db::write_batched`]), and what a hotline import stores in one go.
struct Intake {
    registry: Arc<Registry>,
    actor: Actor,
    prepared: Prepared,
    /// Routing's category and unit, suggested before the writer's turn.
    guess: (suggest::Guess, suggest::Guess),
    /// The case's description split for comparison before the writer's turn, and the
    /// database's cache of those it compares with.
    described: Arc<Described>,
    descriptions: Arc<DescriptionCache>,
    /// The session the request was admitted on, when recalled rather than read: checked by
    /// the write ([`auth::still_current`]).
    recalled: Option<Arc<auth::Recalled>>,
}

impl Intake {
    fn new(
        db: &Db,
        registry: &Arc<Registry>,
        router: &suggest::CaseRouter,
        actor: &Actor,
        prepared: Prepared,
        recalled: Option<Arc<auth::Recalled>>,
    ) -> Intake {
        Intake {
            registry: registry.clone(),
            recalled,
            actor: actor.clone(),
            guess: router.suggest(&prepared.text.description),
            described: Arc::new(Described::of(&prepared.text.description)),
            descriptions: db.caches().get::<DescriptionCache>(),
            prepared,
        }
    }
}

impl Batch for Intake {
    type Output = Created;
    type Error = Error;

    fn store_all<'c>(
        mut conn: Conn<'c>,
        items: &'c [Self],
    ) -> WriteFuture<'c, Vec<Created>, Error> {
        Box::pin(async move { store_intakes(&mut conn, items).await })
    }
}

/// Rows per statement when storing cases together: well under both engines' limits on bound
/// parameters (about 22 per case).
const INTAKE_ROWS: usize = 200;

/// Stores checked cases, each with its attachments, the open cases it may duplicate and its
/// first ticket: all or none. The writes are one statement per table for all the cases, so a
/// shared commit costs about the same round trips for one case as for fifty. The registry and
/// the working calendar are the first item's: a process has one registry, and the items of a
/// batch read the calendar moments apart.
async fn store_intakes(conn: &mut Conn<'_>, items: &[Intake]) -> Result<Vec<Created>> {
    let mut out = Vec::with_capacity(items.len());
    for chunk in items.chunks(INTAKE_ROWS) {
        out.extend(store_intake_rows(conn, chunk).await?);
    }
    Ok(out)
}

async fn store_intake_rows(conn: &mut Conn<'_>, items: &[Intake]) -> Result<Vec<Created>> {
    let Some(first) = items.first() else {
        return Ok(Vec::new());
    };
    let now = Timestamp::now();
    let cal = &first.prepared.calendar;
    // Offered, not decided: the dispatcher judges whether it is the same problem. Read before
    // the new cases are stored; each new case then joins its key's list for those after it.
    let keys: Vec<store::NearKey<'_>> = items
        .iter()
        .map(|it| {
            let p = &it.prepared;
            let window = p.settings.duplicate_window_hours;
            store::NearKey {
                township: p.township.id,
                category: &p.category.code,
                grid: p.grid.as_ref().map(|g| g.id),
                since: now.plus_seconds(-window * 3600),
            }
        })
        .collect();
    let mut distinct = keys.clone();
    distinct.sort();
    distinct.dedup();
    // Each case's ticket starts (one audit row) and the case is taken in (another).
    let audit_rows = 2 * items.len();
    let recalled: Vec<&auth::Recalled> = items
        .iter()
        .filter_map(|it| it.recalled.as_deref())
        .collect();
    let sessions = auth::token_hashes(&recalled);
    let (lists, mut reserved) = store::open_cases_near(
        conn,
        &distinct,
        DUPLICATE_SCAN,
        items.len(),
        audit_rows,
        &sessions,
    )
    .await?;
    if !recalled.is_empty() && !auth::still_current(&reserved.sessions, &recalled)? {
        // The batch is then stored one intake at a time: only the changed session's fails.
        return Err(Error::SessionChanged);
    }
    let lists = described(conn, &first.descriptions, lists).await?;
    let mut near: HashMap<store::NearKey<'_>, Vec<(store::OpenCase, Arc<Described>)>> =
        distinct.into_iter().zip(lists).collect();
    let ids = &reserved.cases;
    let receipts: Vec<String> = items.iter().map(|_| model::new_receipt_code()).collect();
    let mut offers = Vec::with_capacity(items.len());
    let mut created = Vec::with_capacity(items.len());
    for (((it, &id), key), receipt) in items.iter().zip(ids).zip(&keys).zip(&receipts) {
        let p = &it.prepared;
        let open = near.entry(*key).or_default();
        let duplicates: Vec<Candidate> = model::most_similar(
            &it.described.bigrams,
            open.iter().map(|(o, d)| ((o, d), &d.bigrams)),
            p.settings.duplicate_threshold_permille,
            MAX_DUPLICATES,
        )
        .into_iter()
        .map(|((o, d), s)| Candidate {
            id: o.id,
            number: number(o.id, o.created_at),
            description: d.description.clone(),
            similarity_permille: s,
        })
        .collect();
        offers.push(store::encode_offers(
            duplicates.iter().map(|d| (d.id, d.similarity_permille)),
        ));
        // The newest open case of its key, for the cases after it in this batch.
        open.insert(
            0,
            (
                store::OpenCase {
                    id,
                    created_at: now,
                },
                it.described.clone(),
            ),
        );
        open.truncate(DUPLICATE_SCAN as usize);
        created.push(Created {
            id,
            number: number(id, now),
            receipt_code: model::format_receipt_code(receipt),
            duplicates,
        });
    }
    // Each case is stored pointing at its first ticket, whose id was reserved with the scan,
    // rather than updated once the ticket exists: on PostgreSQL that update wrote a second
    // version of the row and of its indexes.
    let rows: Vec<store::NewCaseRow<'_>> = items
        .iter()
        .zip(ids)
        .zip(&receipts)
        .zip(&reserved.tickets)
        .zip(&offers)
        .map(|((((it, &id), receipt), &ticket), offers)| {
            let (p, (sc, su)) = (&it.prepared, &it.guess);
            store::NewCaseRow {
                id: Some(id),
                district_id: p.district,
                township_id: p.township.id,
                grid_id: p.grid.as_ref().map(|g| g.id),
                source: p.source.as_str(),
                category_code: &p.category.code,
                urgency: p.urgency.as_str(),
                description: &p.text.description,
                address: &p.text.address,
                coordinates: p.coordinates,
                reporter_name: &p.text.reporter_name,
                reporter_phone: &p.text.reporter_phone,
                reporter_user_id: p.reporter_user,
                receipt_code: receipt,
                external_ref: p.external_ref.as_deref(),
                now,
                by: &it.actor.name,
                suggested_category: sc.as_ref().map(|(l, c)| (l.as_str(), *c)),
                suggested_unit: su.as_ref().map(|(l, c)| (l.as_str(), *c)),
                ticket: Some(ticket),
                duplicate_offers: offers,
            }
        })
        .collect();
    // Cases, their tickets' instances and history, the tickets and the audit rows need
    // nothing from one another but the ids reserved with the scan: on PostgreSQL they are
    // one statement, a round trip where each took one.
    let mut writes = Writes::default();
    store::insert_reserved_cases(conn, &mut writes, &rows)
        .await
        .map_err(|e| Error::unique_or(e, "该工单号已导入过"))?;
    let starts: Vec<(InstanceId, &Actor, wf::NewInstance)> = items
        .iter()
        .zip(&created)
        .zip(&reserved.instances)
        .map(|((it, c), &instance)| {
            let p = &it.prepared;
            (
                instance,
                &it.actor,
                ticket_instance(c.id, 1, &c.number, &p.category, &p.township),
            )
        })
        .collect();
    let mut events = Vec::with_capacity(2 * items.len());
    // The owners are the cases' townships, already read: the start need not read them again.
    let owners: Vec<&Org> = items.iter().map(|it| &it.prepared.township).collect();
    wf::start_all(
        conn,
        &first.registry,
        cal,
        &starts,
        &owners,
        &mut writes,
        &mut events,
    )
    .await?;
    let tickets: Vec<(TicketId, CaseId, i64, InstanceId)> = reserved
        .tickets
        .iter()
        .zip(ids)
        .zip(&reserved.instances)
        .map(|((&ticket, &case), &instance)| (ticket, case, 1, instance))
        .collect();
    store::insert_tickets_in(conn, &mut writes, &tickets).await?;
    events.extend(items.iter().zip(&created).map(|(it, c)| {
        let p = &it.prepared;
        audit::Event {
            actor: &it.actor,
            action: "case.intake",
            target: format!("案件 {}", c.number),
            detail: format!(
                "来源：{}；类别：{}；{}",
                p.source.label(),
                p.category.name(),
                p.urgency.label()
            ),
        }
    }));
    audit::record_claimed(conn, &mut writes, reserved.audit.take(), &events).await?;
    writes
        .run(conn)
        .await
        .map_err(|e| Error::unique_or(e, "该工单号已导入过"))?;
    first.descriptions.put(
        items
            .iter()
            .zip(ids)
            .map(|(it, &id)| ((id, now), it.described.clone())),
    );
    for (it, &id) in items.iter().zip(ids) {
        for f in &it.prepared.files {
            store::insert_attachment(
                conn,
                id,
                None,
                &f.filename,
                f.content_type,
                &f.sha256,
                &f.bytes,
                &it.actor.name,
            )
            .await?;
        }
    }
    Ok(created)
}

/// The open cases of each list with their descriptions: from the cache, reading only those it
/// lacks (cases another process took in, or before this one started).
async fn described(
    conn: &mut Conn<'_>,
    cache: &DescriptionCache,
    lists: Vec<Vec<store::OpenCase>>,
) -> Result<Vec<Vec<(store::OpenCase, Arc<Described>)>>> {
    let keys: Vec<(CaseId, Timestamp)> = lists
        .iter()
        .flatten()
        .map(|o| (o.id, o.created_at))
        .collect();
    let mut found = cache.get(&keys);
    let missing: Vec<CaseId> = keys
        .iter()
        .zip(&found)
        .filter(|(_, d)| d.is_none())
        .map(|(k, _)| k.0)
        .collect();
    if !missing.is_empty() {
        let read: HashMap<CaseId, Arc<Described>> = store::descriptions(conn, &missing)
            .await?
            .into_iter()
            .map(|(id, text)| (id, Arc::new(Described::of(&text))))
            .collect();
        let mut fresh = Vec::with_capacity(missing.len());
        for (k, d) in keys.iter().zip(found.iter_mut()) {
            if let (None, Some(r)) = (&d, read.get(&k.0)) {
                *d = Some(r.clone());
                fresh.push((*k, r.clone()));
            }
        }
        cache.put(fresh);
    }
    let mut found = found.into_iter();
    Ok(lists
        .into_iter()
        .map(|list| {
            list.into_iter()
                .zip(found.by_ref())
                // A case is always found: the scan saw it in this transaction.
                .filter_map(|(o, d)| Some((o, d?)))
                .collect()
        })
        .collect())
}

/// A case ends (closed, referred) only once its summonses are answered and its joint parts
/// reported: refuses `what` while any is open, naming them.
pub(crate) async fn refuse_while_parts_open(
    conn: &mut Conn<'_>,
    id: CaseId,
    what: &str,
) -> Result<()> {
    let blocking = store::blocking_parts(conn, id).await?;
    if blocking.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = blocking
        .iter()
        .map(|(k, u)| match k.as_str() {
            "joint" => format!("{u}（联合执法未反馈）"),
            _ => format!("{u}（吹哨未答复）"),
        })
        .collect();
    Err(Error::conflict(format!(
        "还有未完成的部分，不能{what}：{}",
        names.join("、")
    )))
}

/// Why a category code cannot be given to a case: none chosen, one the district retired, or
/// one it never had.
fn category_refused(code: &str, retired: bool) -> Error {
    let message = if code.is_empty() {
        "请选择事件类别".to_owned()
    } else if retired {
        format!("事件类别「{code}」已停用，请选择其他类别")
    } else {
        format!("未知的事件类别「{code}」")
    };
    Error::invalid("category", message)
}

/// The process instance of a case's ticket number `seq`.
fn ticket_instance(
    id: CaseId,
    seq: i64,
    no: &str,
    category: &CategoryFields,
    township: &Org,
) -> wf::NewInstance {
    wf::NewInstance {
        process: PROCESS.to_owned(),
        subject: format!("案件 {no} {}", category.minor),
        subject_ref: subject_ref(id, seq),
        owner_org: township.id,
        assignee_org: None,
    }
}

/// Starts a further ticket of a case (after a reopening) and makes it the current one.
#[allow(clippy::too_many_arguments)]
async fn start_ticket(
    conn: &mut Conn<'_>,
    registry: &Registry,
    cal: &Calendar,
    actor: &Actor,
    id: CaseId,
    seq: i64,
    no: &str,
    category: &CategoryFields,
    township: &Org,
) -> Result<TicketId> {
    let new = ticket_instance(id, seq, no, category, township);
    let inst = wf::start(conn, registry, cal, actor, new).await?;
    let ticket = store::reserve_ticket_ids(conn, 1).await?[0];
    store::insert_tickets(conn, &[(ticket, id, seq, inst.id)]).await?;
    store::set_current_ticket(conn, id, ticket).await?;
    Ok(ticket)
}

/// Takes in one case: checks it, stores it with its attachments, offers open cases that look
/// like the same problem, and starts its first ticket, all in one transaction. Everything
/// that only reads is done before; the writing part may share its commit, and its
/// statements, with concurrent intakes ([`Db::write_batched`]). A request admitted on a
/// recalled session has it checked by the write.
pub async fn intake(
    db: &Db,
    registry: &Arc<Registry>,
    router: &suggest::CaseRouter,
    actor: &Actor,
    who: Reporter<'_>,
    new: NewCase,
    recalled: Option<Arc<auth::Recalled>>,
) -> Result<Created> {
    // The reads share one pooled connection, taken only if the caches cannot answer them.
    let mut reader = Reader::lazy(db);
    let (township, mut stamp) = {
        let mut reads = Reads::on(db, &mut reader, who).await?;
        (resolve_township(&mut reads, who, &new).await?, reads.stamp)
    };
    let district = catalog::district_of(&township);
    if !router.ready(district) {
        // Once per district and process: seeding may write, and must not wait for a second
        // connection while holding this one.
        reader.release();
        ensure_categories(db, district).await?;
        router.ensure(db, district).await?;
        stamp = Reads::afresh(db, &mut reader).await?.stamp;
    }
    let mut reads = Reads {
        db,
        reader: &mut reader,
        stamp,
    };
    let mut prepared = prepare(&mut reads, who, township, new).await?;
    drop(reader);
    place_on_grid(db, &mut prepared).await?;
    db.write_batched(Intake::new(db, registry, router, actor, prepared, recalled))
        .await
}

/// Checks a case's coordinates against the grids' boundaries, and takes the grid they fall in
/// when none was chosen. A point in another township's grid, or in none of its own township's
/// grids, is refused; a township whose boundaries are not loaded yet cannot be checked.
async fn place_on_grid(db: &Db, prepared: &mut Prepared) -> Result<()> {
    let Some((lon_e7, lat_e7)) = prepared.coordinates else {
        return Ok(());
    };
    let index = db.caches().get::<crate::grids::GridIndex>();
    let boundaries = crate::grids::boundaries(db, &index).await?;
    let (lon, lat) = (lon_e7 as f64 / 1e7, lat_e7 as f64 / 1e7);
    let township = &prepared.township;
    match boundaries.locate(lon, lat)? {
        Some(l) if l.township.id != township.id => Err(Error::invalid(
            "lon",
            format!(
                "该位置在{}{}，不在{}范围内",
                l.township.name, l.grid.name, township.name
            ),
        )),
        Some(l) => {
            if prepared.grid.is_none() {
                let mut c = db.acquire().await?;
                prepared.grid = orgs::store::get(&mut c.conn(), l.grid.id)
                    .await?
                    .filter(|g| g.is_active());
            }
            Ok(())
        }
        None if boundaries.cover(township.id) => Err(Error::invalid(
            "lon",
            format!("该位置不在{}的网格范围内", township.name),
        )),
        None => Ok(()),
    }
}

/// The columns of a 12345 hotline export, as the import reads them.
pub const HOTLINE_COLUMNS: &[&str] = &[
    "工单号",
    "镇街代码",
    "网格编码",
    "事件类别编码",
    "紧急程度",
    "地址",
    "诉求内容",
    "来电人",
    "联系电话",
];

/// Imports a hotline export (CSV or xlsx with a header): every row or none. Each bad row is
/// reported with its number and all its problems' first reason.
pub async fn import_hotline(
    db: &Db,
    registry: &Arc<Registry>,
    router: &suggest::CaseRouter,
    p: &Principal,
    actor: &Actor,
    bytes: &[u8],
) -> Result<Vec<Created>> {
    if !p.has(Role::Dispatcher) {
        return Err(Error::forbidden("12345 工单由综合执法办调度员导入"));
    }
    let table =
        catalog::io::read_table(bytes).map_err(|e| Error::invalid("file", e.to_string()))?;
    let index: Vec<Option<usize>> = HOTLINE_COLUMNS
        .iter()
        .map(|c| table.header.iter().position(|h| h.trim() == *c))
        .collect();
    let missing: Vec<&str> = HOTLINE_COLUMNS
        .iter()
        .zip(&index)
        .filter(|(_, i)| i.is_none())
        .map(|(c, _)| *c)
        .collect();
    if !missing.is_empty() {
        return Err(Error::invalid(
            "file",
            format!("表头缺少列：{}", missing.join("、")),
        ));
    }
    if table.rows.is_empty() {
        return Err(Error::invalid("file", "文件中没有工单"));
    }
    let mut errors = Vec::new();
    let mut ready = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut district = None;
    for (row, cells) in &table.rows {
        let get = |i: usize| {
            index[i]
                .and_then(|j| cells.get(j))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        let new = NewCase {
            source: Some(Source::Hotline),
            township_code: Some(get(1)),
            grid_code: Some(get(2)),
            category_code: model::category_code_as_typed(&get(3)),
            urgency: match get(4).as_str() {
                "" => Some(Urgency::Normal),
                u => Urgency::from_label(u),
            },
            address: get(5),
            description: get(6),
            reporter_name: get(7),
            reporter_phone: get(8),
            external_ref: Some(get(0)),
            ..NewCase::default()
        };
        let result: Result<Prepared> = async {
            for (field, cell) in [
                ("address", &new.address),
                ("description", &new.description),
                ("reporter_name", &new.reporter_name),
            ] {
                crate::typed::check_typed(field, cell)?;
            }
            if new.urgency.is_none() {
                return Err(Error::invalid("urgency", "紧急程度应为「一般」或「紧急」"));
            }
            let r = new.external_ref.clone().unwrap_or_default();
            if r.is_empty() {
                return Err(Error::invalid("external_ref", "缺少工单号"));
            }
            if !seen.insert(r.clone()) {
                return Err(Error::invalid(
                    "external_ref",
                    format!("工单号 {r} 在文件中重复"),
                ));
            }
            let mut reader = Reader::lazy(db);
            let mut conn = reader.conn().await?;
            if store::external_ref_taken(&mut conn, Source::Hotline.as_str(), &r).await? {
                return Err(Error::conflict(format!("工单号 {r} 已导入过")));
            }
            let (township, mut stamp) = {
                let mut reads = Reads::on(db, &mut reader, Reporter::Staff(p)).await?;
                let t = resolve_township(&mut reads, Reporter::Staff(p), &new).await?;
                (t, reads.stamp)
            };
            let d = catalog::district_of(&township);
            if district.is_none() {
                reader.release();
                ensure_categories(db, d).await?;
                district = Some(d);
                stamp = Reads::afresh(db, &mut reader).await?.stamp;
            }
            let mut reads = Reads {
                db,
                reader: &mut reader,
                stamp,
            };
            prepare(&mut reads, Reporter::Staff(p), township, new).await
        }
        .await;
        match result {
            Ok(prep) => ready.push(prep),
            Err(e @ (Error::Invalid { .. } | Error::Conflict(_))) => {
                errors.push(format!("第 {row} 行：{e}"));
            }
            Err(e) => return Err(e),
        }
    }
    if !errors.is_empty() {
        return Err(Error::invalid(
            "file",
            format!(
                "有 {} 行有误，未导入任何工单：\n{}",
                errors.len(),
                errors.join("\n")
            ),
        ));
    }
    let Some(district) = district else {
        return Err(Error::invalid("file", "文件中没有工单"));
    };
    router.ensure(db, district).await?;
    let items: Vec<Intake> = ready
        .into_iter()
        .map(|prepared| Intake::new(db, registry, router, actor, prepared, None))
        .collect();
    let mut tx = db.begin().await?;
    let out = store_intakes(&mut tx.conn(), &items).await?;
    audit::record(
        &mut tx.conn(),
        actor,
        "case.import",
        "12345 工单",
        &format!("导入 {} 件", out.len()),
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}

// ---------------------------------------------------------------------------------------
// Reading

pub struct CaseList {
    pub rows: Vec<store::CaseListRow>,
    pub total: i64,
}

pub async fn list(db: &Db, p: &Principal, f: &store::CaseFilter) -> Result<CaseList> {
    let vis = visibility(p).ok_or_else(|| Error::forbidden("您的角色不办理案件"))?;
    let mut c = db.acquire().await?;
    let (rows, total) = store::list(&mut c.conn(), &vis, f, Timestamp::now()).await?;
    Ok(CaseList { rows, total })
}

/// How many cases the principal sees in `status` (any when `None`), overdue only if asked:
/// the home page's cards.
pub async fn count(db: &Db, p: &Principal, status: Option<&str>, overdue: bool) -> Result<i64> {
    let f = store::CaseFilter {
        status: status.map(str::to_owned),
        overdue,
        limit: 1,
        ..Default::default()
    };
    Ok(list(db, p, &f).await?.total)
}

/// A case as staff see it; the reporter is masked unless revealed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseView {
    #[schema(value_type = i64)]
    pub id: CaseId,
    pub number: String,
    pub source: Source,
    pub source_label: String,
    pub category_code: String,
    pub category_name: String,
    pub urgency: Urgency,
    pub description: String,
    pub address: String,
    pub lon: Option<String>,
    pub lat: Option<String>,
    #[schema(value_type = i64)]
    pub township_id: OrgId,
    pub township_name: String,
    #[schema(value_type = Option<i64>)]
    pub grid_id: Option<OrgId>,
    pub grid_name: Option<String>,
    pub reporter_name: String,
    pub reporter_phone: String,
    /// Whether the reporter's name and phone are shown in full.
    pub contact_revealed: bool,
    /// Only in the audited full view (with the contact revealed): the reporter's receipt code.
    pub receipt_code: Option<String>,
    pub external_ref: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub merged_into: Option<CaseId>,
    pub reopen_count: i64,
    pub reopen_reason: Option<String>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TicketView {
    pub ticket: TicketRow,
    pub instance: Instance,
    pub state_label: String,
    pub unit_name: Option<String>,
    pub history: Vec<HistoryEntry>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseDetail {
    pub case: CaseView,
    pub status: String,
    pub status_label: String,
    /// The tickets, oldest first; the last is the current one.
    pub tickets: Vec<TicketView>,
    /// What the viewer may do now (merging has its own form, with the candidates).
    pub actions: Vec<AvailableAction>,
    pub attachments: Vec<AttachmentMeta>,
    pub candidates: Vec<Candidate>,
    /// Cases merged into this one.
    pub merged: Vec<Candidate>,
    pub ratings: Vec<RatingRow>,
    pub may_reveal: bool,
    pub may_merge: bool,
    pub may_rate: bool,
    /// Where the dispatcher may send the ticket: the township itself and its stations.
    #[schema(value_type = Vec<Object>)]
    pub units: Vec<Org>,
    /// The duty item the category cites by default.
    pub default_item: String,
    /// Summons, joint enforcement co-units and referrals, oldest first.
    pub parts: Vec<parts::PartView>,
    /// Whether the viewer may summon a department, add a co-unit, refer the case.
    pub may_summon: bool,
    pub may_joint: bool,
    pub may_refer: bool,
    /// The district's departments, for summons and referrals.
    #[schema(value_type = Vec<Object>)]
    pub departments: Vec<Org>,
    /// The category's default department (organisation code), preselected for summons.
    pub default_department: String,
    /// The router's suggestion at intake.
    pub suggestion: SuggestionView,
    /// The dispatcher may confirm or correct the category (before dispatch).
    pub may_classify: bool,
    /// The district's active categories, for the correction.
    #[schema(value_type = Vec<Object>)]
    pub categories: Vec<CategoryFields>,
}

fn state_label(registry: &Registry, state: &str) -> String {
    registry
        .get(PROCESS)
        .and_then(|d| d.state(state))
        .map(|s| s.label.clone())
        .unwrap_or_else(|| state.to_owned())
}

/// The units a dispatcher may send a township's tickets to.
pub async fn units_of(conn: &mut Conn<'_>, township: &Org) -> Result<Vec<Org>> {
    let (stations, _) = orgs::store::list(
        conn,
        &OrgQuery {
            kind: Some(OrgKind::Station),
            parent_id: Some(township.id),
            limit: 500,
            ..Default::default()
        },
    )
    .await?;
    Ok(std::iter::once(township.clone()).chain(stations).collect())
}

/// A case with its tickets, timeline and what the viewer may do. `reveal` asks for the
/// reporter's contact in full: granted to those who may see it, and audited.
pub async fn detail(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    actor: &Actor,
    id: CaseId,
    reveal: bool,
) -> Result<CaseDetail> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let row = load_visible(&mut conn, p, id).await?;
    let reveal = reveal && may_see_contact(p);
    let category = store::category(&mut conn, row.district_id, &row.category_code).await?;
    let township = orgs::store::get(&mut conn, row.township_id)
        .await?
        .ok_or_else(|| Error::internal("case township"))?;
    let grid_name = match row.grid_id {
        Some(g) => orgs::store::get(&mut conn, g).await?.map(|g| g.name),
        None => None,
    };
    let mut tickets = Vec::new();
    for t in store::tickets(&mut conn, id).await? {
        let instance = wf::store::get(&mut conn, t.instance_id)
            .await?
            .ok_or_else(|| Error::internal("ticket instance"))?;
        let history = wf::history(&mut conn, registry, &instance).await?;
        let unit_name = match t.unit_org_id {
            Some(u) => orgs::store::get(&mut conn, u).await?.map(|o| o.name),
            None => None,
        };
        tickets.push(TicketView {
            state_label: state_label(registry, &instance.state),
            ticket: t,
            instance,
            unit_name,
            history,
        });
    }
    let current = tickets
        .last()
        .cloned()
        .ok_or_else(|| Error::internal("case without ticket"))?;
    let wd = wf::detail(db, registry, p, current.instance.id).await;
    let mut actions = match wd {
        Ok(d) => d.actions,
        Err(Error::Forbidden(_)) => Vec::new(),
        Err(e) => return Err(e),
    };
    // A summons or joint task still running keeps the case open: closing is not offered
    // (the parts list says what is awaited; `act` refuses it with the same reason).
    let blocked = actions.iter().any(|a| a.id == "close")
        && !store::blocking_parts(&mut conn, id).await?.is_empty();
    let mut keep = Vec::new();
    for a in actions.drain(..) {
        if a.id == "merge" || a.id == "refer" || (a.id == "close" && blocked) {
            continue;
        }
        if a.id == "return" && store::has_returned(&mut conn, current.ticket.id, p.org.id).await? {
            continue;
        }
        if matches!(a.id.as_str(), "close" | "rework")
            && !p.has(Role::Dispatcher)
            && !grid_worker_of(&mut conn, p, &row).await?
        {
            continue;
        }
        keep.push(a);
    }
    let candidates = store::unmerged_candidates(&mut conn, id)
        .await?
        .into_iter()
        .map(|o| Candidate::of(o.id, o.created_at, o.description, o.similarity_permille))
        .collect();
    let merged = store::merged_children(&mut conn, id)
        .await?
        .into_iter()
        .map(|m| Candidate::of(m.id, m.created_at, m.description, 0))
        .collect();
    let units = if keep.iter().any(|a| a.id == "dispatch") {
        units_of(&mut conn, &township).await?
    } else {
        Vec::new()
    };
    let attachments = store::attachments(&mut conn, id).await?;
    let ratings = store::ratings(&mut conn, id).await?;
    let open_ticket = !current.instance.terminal && row.merged_into.is_none();
    let pending = current.instance.state == "pending";
    let may_summon = open_ticket && p.has_any(&[Role::Dispatcher, Role::TownshipLeader]);
    let may_refer = open_ticket && p.has(Role::Dispatcher);
    let may_joint =
        may_refer && matches!(current.instance.state.as_str(), "dispatched" | "handling");
    let departments = if may_summon || may_refer || may_joint {
        orgs::store::list(
            &mut conn,
            &OrgQuery {
                kind: Some(OrgKind::Department),
                limit: 500,
                ..Default::default()
            },
        )
        .await?
        .0
    } else {
        Vec::new()
    };
    let units = if may_joint && units.is_empty() {
        units_of(&mut conn, &township).await?
    } else {
        units
    };
    let routing = store::routing(&mut conn, id).await?;
    let suggested_unit = match routing.suggested_unit.as_deref() {
        Some(l) => suggest::resolve_unit(&mut conn, &township, l).await?,
        None => None,
    };
    let suggested_category = match routing.suggested_category.as_deref() {
        Some(k) => store::category(&mut conn, row.district_id, k).await?,
        None => None,
    };
    let may_classify = pending && p.has(Role::Dispatcher) && row.merged_into.is_none();
    let categories = if may_classify {
        store::categories(&mut conn, row.district_id)
            .await?
            .into_iter()
            .filter(|k| k.active)
            .collect()
    } else {
        Vec::new()
    };
    drop(c);
    let parts = parts::views(db, registry, p, id).await?;
    let suggestion = SuggestionView {
        category_name: suggested_category.map(|k| k.name()),
        category_code: routing.suggested_category,
        category_permille: routing.suggested_category_permille,
        unit_id: suggested_unit.as_ref().map(|u| u.id),
        unit_name: suggested_unit.map(|u| u.name),
        unit_permille: routing.suggested_unit_permille,
        confirmed_category: routing.learned_category,
    };
    if reveal {
        let mut tx = db.begin().await?;
        audit::record(
            &mut tx.conn(),
            actor,
            "case.view_contact",
            &format!("案件 {}", number(row.id, row.created_at)),
            "查看举报人完整姓名和电话",
        )
        .await?;
        tx.commit().await?;
    }
    let closed = current.instance.state == "closed";
    let case = CaseView {
        id: row.id,
        number: number(row.id, row.created_at),
        source: Source::parse(&row.source).unwrap_or(Source::Platform),
        source_label: Source::parse(&row.source)
            .map(|s| s.label().to_owned())
            .unwrap_or_default(),
        category_name: category.as_ref().map(|c| c.name()).unwrap_or_default(),
        category_code: row.category_code.clone(),
        urgency: Urgency::parse(&row.urgency).unwrap_or(Urgency::Normal),
        description: row.description.clone(),
        address: row.address.clone(),
        lon: row.lon_e7.map(model::format_e7),
        lat: row.lat_e7.map(model::format_e7),
        township_id: row.township_id,
        township_name: township.name.clone(),
        grid_id: row.grid_id,
        grid_name,
        reporter_name: if reveal {
            row.reporter_name.clone()
        } else {
            model::mask_name(&row.reporter_name)
        },
        reporter_phone: if reveal {
            row.reporter_phone.clone()
        } else {
            model::mask_phone(&row.reporter_phone)
        },
        contact_revealed: reveal,
        // The code is the reporter's key to follow and rate the case: staff see it only in the
        // audited full view, with the contact, or a rating could be given in the reporter's
        // name unseen.
        receipt_code: reveal.then(|| model::format_receipt_code(&row.receipt_code)),
        external_ref: row.external_ref.clone(),
        merged_into: row.merged_into,
        reopen_count: row.reopen_count,
        reopen_reason: row.reopen_reason.clone(),
        created_at: row.created_at,
        created_by: row.created_by.clone(),
    };
    Ok(CaseDetail {
        status: current.instance.state.clone(),
        status_label: current.state_label.clone(),
        may_reveal: may_see_contact(p) && !reveal,
        may_merge: pending && row.merged_into.is_none() && p.has(Role::Dispatcher),
        may_rate: closed && p.has(Role::Dispatcher),
        default_item: category
            .as_ref()
            .map(|c| c.duty_item_code.clone())
            .unwrap_or_default(),
        default_department: category
            .as_ref()
            .map(|c| c.department_code.clone())
            .unwrap_or_default(),
        parts,
        suggestion,
        may_classify,
        categories,
        may_summon,
        may_joint,
        may_refer,
        departments,
        case,
        tickets,
        actions: keep,
        attachments,
        candidates,
        merged,
        ratings,
        units,
    })
}

/// Whether `p` is a grid worker of the case's grid, who checks it on site: by the same rule
/// by which grid workers see cases ([`Visibility::Grids`]).
async fn grid_worker_of(conn: &mut Conn<'_>, p: &Principal, c: &CaseRow) -> Result<bool> {
    Ok(p.has(Role::GridWorker) && store::grid_worker_sees(conn, c.id, p.org.id, p.user_id).await?)
}

/// A case's attachment for one who may see the case; each download is recorded, as photos
/// may show people and places.
pub async fn attachment(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    id: i64,
) -> Result<(AttachmentMeta, Vec<u8>)> {
    let (meta, data, case) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let (meta, data) = store::attachment(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("附件不存在"))?;
        let case = load_visible(&mut conn, p, meta.case_id).await?;
        (meta, data, case)
    };
    audit::record_alone(
        db,
        actor,
        "case.attachment",
        &format!("案件 {}", number(case.id, case.created_at)),
        &meta.filename,
    )
    .await?;
    Ok((meta, data))
}

/// Records an export of case data (the list or the metrics) with what it covered.
pub async fn record_export(db: &Db, actor: &Actor, action: &str, covered: &str) -> Result<()> {
    audit::record_alone(db, actor, action, "案件", covered).await
}

// ---------------------------------------------------------------------------------------
// Acting on the ticket

/// An action on a case's current ticket, from a page or the API.
#[derive(Debug, Clone, Default)]
pub struct CaseAction {
    pub action: String,
    /// The ticket version the actor saw; `None` takes the current one (API callers).
    pub expected_version: Option<i64>,
    pub comment: Option<String>,
    /// For `dispatch`: the station, or the township itself.
    pub unit: Option<OrgId>,
    /// For `dispatch`: the duty item cited.
    pub item_code: Option<String>,
    /// For `report`: photos and documents as evidence.
    pub attachments: Vec<Upload>,
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Acted {
    #[schema(value_type = i64)]
    pub case_id: CaseId,
    pub state: String,
    pub state_label: String,
    /// The unit the ticket is now with, after a dispatch.
    pub unit_name: Option<String>,
    /// True when the idempotency key had been used: nothing was done again.
    pub replayed: bool,
}

fn deadline_after(cal: &Calendar, limit: TimeLimit, from: Timestamp) -> Timestamp {
    let t = from.to_utc();
    Timestamp::from(match limit.unit {
        TimeUnit::WorkingHours => cal.add_working_hours(t, limit.amount),
        TimeUnit::WorkingDays => cal.add_working_days(t, limit.amount),
        TimeUnit::CalendarDays => t + chrono::TimeDelta::days(i64::from(limit.amount)),
    })
}

/// Whether the instance's current state ran past its time limit: the deadline has passed, or
/// the timer already fired it (run with a clock ahead of ours, or a deadline since moved).
pub(crate) fn late_in_state(inst: &Instance, now: Timestamp) -> bool {
    inst.deadline
        .is_some_and(|d| now > d || inst.expiry_handled == Some(d))
}

/// Where a dispatch goes and what it cites, checked before the transaction.
struct Route {
    unit: Org,
    item_code: String,
    item_name: String,
    /// Set when the cited item is a duty the department took back.
    department: bool,
}

async fn route_dispatch(
    db: &Db,
    row: &CaseRow,
    township: &Org,
    unit: Option<OrgId>,
    item: Option<&str>,
) -> Result<Route> {
    let code = item.map(str::trim).unwrap_or("");
    if code.is_empty() {
        return Err(Error::invalid(
            "item",
            "派遣须引用本乡镇（街道）清单中的事项",
        ));
    }
    let (found, responsible) = catalog::cite(db, row.district_id, row.township_id, code)
        .await
        .map_err(|e| match e {
            Error::Invalid { .. } => Error::invalid(
                "item",
                format!("事项 {code} 不在本乡镇（街道）清单内，请申请事务准入"),
            ),
            other => other,
        })?;
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    if let Responsible::Department(name) = responsible {
        let (depts, _) = orgs::store::list(
            &mut conn,
            &OrgQuery {
                kind: Some(OrgKind::Department),
                q: Some(name.clone()),
                limit: 50,
                ..Default::default()
            },
        )
        .await?;
        let dept = depts.into_iter().find(|d| d.name == name).ok_or_else(|| {
            Error::invalid(
                "item",
                format!("该事项已由{name}收回，但系统中没有这个部门"),
            )
        })?;
        return Ok(Route {
            unit: dept,
            item_code: found.code,
            item_name: found.name,
            department: true,
        });
    }
    let units = units_of(&mut conn, township).await?;
    let unit = unit
        .and_then(|u| units.into_iter().find(|o| o.id == u))
        .ok_or_else(|| {
            Error::invalid(
                "unit",
                format!("请选择{}或其派驻机构作为承办单位", township.name),
            )
        })?;
    Ok(Route {
        unit,
        item_code: found.code,
        item_name: found.name,
        department: false,
    })
}

/// Takes an action on the case's current ticket: the engine decides who may; this adds the
/// case's own rules (cite a listed item, one return per unit, a grid worker checks only their
/// grid, deadlines by category and urgency) and writes everything in one transaction.
pub async fn act(
    db: &Db,
    registry: &Registry,
    router: &suggest::CaseRouter,
    p: &Principal,
    actor: &Actor,
    id: CaseId,
    a: CaseAction,
) -> Result<Acted> {
    let (row, ticket, instance, township, category) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let row = load_visible(&mut conn, p, id).await?;
        if let Some(into) = row.merged_into {
            return Err(Error::conflict(format!(
                "该案件已合并到案件 {}，请在原案件办理",
                into.0
            )));
        }
        let ticket = match row.current_ticket_id {
            Some(t) => store::ticket(&mut conn, t).await?,
            None => None,
        }
        .ok_or_else(|| Error::internal("case without ticket"))?;
        let instance = wf::store::get(&mut conn, ticket.instance_id)
            .await?
            .ok_or_else(|| Error::internal("ticket instance"))?;
        let township = orgs::store::get(&mut conn, row.township_id)
            .await?
            .ok_or_else(|| Error::internal("case township"))?;
        let category = store::category(&mut conn, row.district_id, &row.category_code).await?;
        if a.action == "return" && store::has_returned(&mut conn, ticket.id, p.org.id).await? {
            return Err(Error::conflict(
                "本单位已退回过该案件一次，不能再次退回，请签收办理",
            ));
        }
        if matches!(a.action.as_str(), "close" | "rework")
            && !p.has(Role::Dispatcher)
            && p.has(Role::GridWorker)
            && !grid_worker_of(&mut conn, p, &row).await?
        {
            return Err(Error::forbidden("只有案件所在网格的网格员可以核查"));
        }
        (row, ticket, instance, township, category)
    };
    if a.action == "merge" {
        return Err(Error::invalid("action", "合并请在疑似重复案件处选择原案件"));
    }
    if a.action == "refer" {
        return Err(Error::invalid("action", "移送请选择移送的部门并说明理由"));
    }
    let route = if a.action == "dispatch" {
        Some(route_dispatch(db, &row, &township, a.unit, a.item_code.as_deref()).await?)
    } else {
        None
    };
    let files = if a.action == "report" {
        model::check_uploads(a.attachments)?
    } else {
        Vec::new()
    };
    let cal = wf::calendar(db).await?;
    let urgency = Urgency::parse(&row.urgency).unwrap_or(Urgency::Normal);
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    if a.action == "close" {
        // Judged with the ticket held, as a new part is (`parts::open`): a summons sent a
        // moment before would otherwise stay open on a closed case.
        wf::store::get_held(&mut conn, instance.id).await?;
        refuse_while_parts_open(&mut conn, id, "结案").await?;
    }
    let expected = a.expected_version.unwrap_or(instance.version);
    if let Some(key) = a.idempotency_key.as_deref().filter(|k| !k.is_empty()) {
        if key.len() > 100 {
            return Err(Error::invalid("idempotency_key", "幂等键过长"));
        }
        if !wf::store::claim_key(
            &mut conn,
            key,
            instance.id,
            Some(p.user_id),
            &a.action,
            expected + 1,
        )
        .await?
        {
            // The first request with this key may have committed while this one waited for
            // the key: answer with the ticket as it is now, not as this request first read it.
            drop(tx);
            let mut c = db.acquire().await?;
            let mut conn = c.conn();
            let now = wf::store::get(&mut conn, instance.id)
                .await?
                .ok_or_else(|| Error::internal("ticket instance"))?;
            // As the first answer had it: the unit only for a dispatch.
            let unit = match a.action.as_str() {
                "dispatch" => store::ticket(&mut conn, ticket.id)
                    .await?
                    .and_then(|t| t.unit_org_id),
                _ => None,
            };
            let unit_name = match unit {
                Some(u) => orgs::store::get(&mut conn, u).await?.map(|o| o.name),
                None => None,
            };
            return Ok(Acted {
                case_id: id,
                state_label: state_label(registry, &now.state),
                state: now.state,
                unit_name,
                replayed: true,
            });
        }
    }
    let reassign_to = match a.action.as_str() {
        "dispatch" => route.as_ref().map(|r| r.unit.id),
        // Back to the enforcement office that dispatched it.
        "return" => Some(instance.owner_org_id),
        _ => None,
    };
    let mut fields = std::collections::BTreeMap::new();
    if let Some(r) = &route {
        fields.insert(
            "duty_item".to_owned(),
            format!("{} {}", r.item_code, r.item_name),
        );
        fields.insert("unit".to_owned(), r.unit.name.clone());
    }
    let input = ActionInput {
        action: a.action.clone(),
        expected_version: expected,
        comment: a.comment.clone().filter(|c| !c.trim().is_empty()),
        attachments: files.iter().map(|f| f.filename.clone()).collect(),
        fields,
        reassign_to,
        idempotency_key: None,
    };
    let now = Timestamp::now();
    let late = late_in_state(&instance, now);
    let after = wf::act_in(&mut conn, registry, &cal, p, actor, instance.id, &input).await?;
    let fact = match a.action.as_str() {
        "dispatch" => route.as_ref().map(|r| store::Fact::Dispatched {
            unit: r.unit.id,
            late,
        }),
        "accept" => Some(store::Fact::Accepted { late }),
        "rework" => Some(store::Fact::Reworked),
        "close" => Some(store::Fact::Closed {
            late: after.overdue,
        }),
        "dismiss" => Some(store::Fact::Outcome("dismissed")),
        _ => None,
    };
    if let Some(f) = fact {
        store::record_fact(&mut conn, row.id, f, now).await?;
    }
    let limit = match a.action.as_str() {
        "dispatch" => category.as_ref().and_then(|c| c.respond(urgency)),
        "accept" | "rework" => category.as_ref().and_then(|c| c.handle(urgency)),
        _ => None,
    };
    if let Some(l) = limit {
        wf::set_deadline(&mut conn, instance.id, deadline_after(&cal, l, now)).await?;
    }
    let no = number(row.id, row.created_at);
    let mut detail = state_label(registry, &after.state);
    let mut learnt_unit: Option<(Option<String>, String)> = None;
    match a.action.as_str() {
        "dispatch" => {
            if let Some(r) = &route {
                store::set_ticket_unit(&mut conn, ticket.id, r.unit.id, &r.item_code, &r.item_name)
                    .await?;
                let label = suggest::unit_label(&mut conn, &r.unit).await?;
                let before = store::routing(&mut conn, row.id).await?.learned_unit;
                store::set_learned(&mut conn, row.id, None, Some(&label)).await?;
                learnt_unit = Some((before, label));
                detail = format!(
                    "派遣至{}{}，依据清单事项 {} {}",
                    r.unit.name,
                    if r.department {
                        "（上级部门收回事项）"
                    } else {
                        ""
                    },
                    r.item_code,
                    r.item_name
                );
            }
        }
        "return" => {
            let reason = a.comment.as_deref().unwrap_or("").trim();
            if !store::insert_return(&mut conn, ticket.id, p.org.id, reason, &actor.name).await? {
                return Err(Error::conflict("本单位已退回过该案件一次，不能再次退回"));
            }
            detail = format!("退回：{reason}");
        }
        "report" => {
            for f in &files {
                store::insert_attachment(
                    &mut conn,
                    row.id,
                    Some(ticket.id),
                    &f.filename,
                    f.content_type,
                    &f.sha256,
                    &f.bytes,
                    &actor.name,
                )
                .await?;
            }
            detail = format!("处置反馈，附件 {} 个", files.len());
        }
        _ => {}
    }
    audit::record(
        &mut conn,
        actor,
        &format!("case.{}", a.action),
        &format!("案件 {no}"),
        &detail,
    )
    .await?;
    tx.commit().await?;
    // Taught after the commit: a refused dispatch teaches nothing.
    if let Some((before, label)) = learnt_unit {
        router.ensure(db, row.district_id).await?;
        router.learn_unit(&row.description, before.as_deref(), &label);
    }
    Ok(Acted {
        case_id: id,
        state_label: state_label(registry, &after.state),
        state: after.state,
        unit_name: route.map(|r| r.unit.name),
        replayed: false,
    })
}

/// The dispatcher confirms or corrects the case's category in one action (before dispatch);
/// the router learns the confirmation, or moves a corrected example to its new category.
pub async fn classify(
    db: &Db,
    router: &suggest::CaseRouter,
    p: &Principal,
    actor: &Actor,
    id: CaseId,
    code: &str,
) -> Result<()> {
    if !p.has(Role::Dispatcher) {
        return Err(Error::forbidden("由综合执法办调度员确认案件分类"));
    }
    let code = code.trim();
    let (row, before) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let row = load_visible(&mut conn, p, id).await?;
        let state = match row.current_ticket_id {
            Some(t) => match store::ticket(&mut conn, t).await? {
                Some(t) => wf::store::get(&mut conn, t.instance_id)
                    .await?
                    .map(|i| i.state),
                None => None,
            },
            None => None,
        };
        if state.as_deref() != Some("pending") {
            return Err(Error::conflict(match state.as_deref() {
                Some("merged") => "案件已合并，请在原案件改分类",
                Some("dismissed" | "referred") => "案件已不予立案或已移送，不能再改分类",
                _ => "案件派遣后不能再改分类",
            }));
        }
        match store::category(&mut conn, row.district_id, code).await? {
            Some(k) if k.active => {}
            found => return Err(category_refused(code, found.is_some())),
        }
        let before = store::routing(&mut conn, id).await?.learned_category;
        (row, before)
    };
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    store::set_learned(&mut conn, id, Some(code), None).await?;
    audit::record(
        &mut conn,
        actor,
        "case.classify",
        &format!("案件 {}", number(row.id, row.created_at)),
        &if row.category_code == code {
            format!("确认分类 {code}")
        } else {
            format!("分类由 {} 改为 {code}", row.category_code)
        },
    )
    .await?;
    tx.commit().await?;
    router.ensure(db, row.district_id).await?;
    router.learn_category(&row.description, before.as_deref(), code);
    Ok(())
}

/// What the router suggested for a case, resolved for its township.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SuggestionView {
    pub category_code: Option<String>,
    pub category_name: Option<String>,
    pub category_permille: Option<i64>,
    #[schema(value_type = Option<i64>)]
    pub unit_id: Option<OrgId>,
    pub unit_name: Option<String>,
    pub unit_permille: Option<i64>,
    /// The category a dispatcher confirmed, once confirmed.
    pub confirmed_category: Option<String>,
}

/// Merges a duplicate into the original: the duplicate's ticket ends as 已合并 and its
/// reporter follows (and rates) the original through their own receipt code.
pub async fn merge(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    actor: &Actor,
    dup: CaseId,
    original: CaseId,
) -> Result<()> {
    if !p.has(Role::Dispatcher) {
        return Err(Error::forbidden("由综合执法办调度员合并重复案件"));
    }
    if dup == original {
        return Err(Error::invalid("into", "不能合并到案件自身"));
    }
    let (d, o, instance) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let d = load_visible(&mut conn, p, dup).await?;
        let o = load_visible(&mut conn, p, original)
            .await
            .map_err(|e| match e {
                Error::NotFound(_) => Error::invalid("into", "原案件不存在"),
                other => other,
            })?;
        if d.merged_into.is_some() {
            return Err(Error::conflict("该案件已经合并过"));
        }
        if o.merged_into.is_some() {
            return Err(Error::invalid(
                "into",
                "原案件本身已合并到其他案件，请选择最终的原案件",
            ));
        }
        if d.township_id != o.township_id {
            return Err(Error::invalid("into", "只能合并同一镇（街道）的案件"));
        }
        // A duplicate joins a problem still being handled: merged into a closed case, its
        // reporter would be told of an old outcome, and could reopen it with their rating.
        let original_open = match o.current_ticket_id {
            Some(t) => match store::ticket(&mut conn, t).await? {
                Some(t) => wf::store::get(&mut conn, t.instance_id)
                    .await?
                    .is_some_and(|i| !i.terminal),
                None => false,
            },
            None => false,
        };
        if !original_open {
            return Err(Error::invalid(
                "into",
                format!(
                    "原案件 {} 已办结，不能再合并，请将本案件作为新问题办理",
                    number(o.id, o.created_at)
                ),
            ));
        }
        let ticket = match d.current_ticket_id {
            Some(t) => store::ticket(&mut conn, t).await?,
            None => None,
        }
        .ok_or_else(|| Error::internal("case without ticket"))?;
        let instance = wf::store::get(&mut conn, ticket.instance_id)
            .await?
            .ok_or_else(|| Error::internal("ticket instance"))?;
        (d, o, instance)
    };
    let cal = wf::calendar(db).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let (dn, on) = (number(d.id, d.created_at), number(o.id, o.created_at));
    let input = ActionInput {
        action: "merge".to_owned(),
        expected_version: instance.version,
        comment: Some(format!("与案件 {on} 为同一问题，合并办理")),
        ..ActionInput::default()
    };
    wf::act_in(&mut conn, registry, &cal, p, actor, instance.id, &input).await?;
    store::merge(&mut conn, d.id, o.id).await?;
    store::record_fact(
        &mut conn,
        d.id,
        store::Fact::Outcome("merged"),
        Timestamp::now(),
    )
    .await?;
    audit::record(
        &mut conn,
        actor,
        "case.merge",
        &format!("案件 {dn}"),
        &format!("合并到案件 {on}"),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Revisit and rating

/// Who gives the rating.
pub enum Rater<'a> {
    /// The reporter, by the receipt code.
    Reporter { receipt_code: &'a str },
    /// The hotline operator or dispatcher on behalf of the reporter of `case`.
    Staff {
        principal: &'a Principal,
        case: CaseId,
    },
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Rated {
    pub rating: Rating,
    /// The rating reopened the case (a new ticket waits for dispatch).
    pub reopened: bool,
    pub message: String,
}

/// The case a receipt follows: its own, or the original it was merged into.
async fn followed(conn: &mut Conn<'_>, c: CaseRow) -> Result<CaseRow> {
    match c.merged_into {
        Some(o) => store::get_case(conn, o)
            .await?
            .ok_or_else(|| Error::internal("merged original")),
        None => Ok(c),
    }
}

/// Records a rating of the case's last closure; a dissatisfied one reopens the case once,
/// keeping the reason.
pub async fn rate(
    db: &Db,
    registry: &Registry,
    actor: &Actor,
    who: Rater<'_>,
    rating: Rating,
    comment: &str,
) -> Result<Rated> {
    let comment = comment.trim();
    if comment.chars().count() > 500 {
        return Err(Error::invalid("comment", "评价内容不超过 500 字"));
    }
    if rating == Rating::Dissatisfied && comment.is_empty() {
        return Err(Error::invalid("comment", "请说明不满意的原因"));
    }
    let (via, root, ticket, rated_by) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let (via, rated_by) = match &who {
            Rater::Reporter { receipt_code } => {
                let code = model::normalize_receipt_code(receipt_code)
                    .ok_or_else(|| Error::not_found("查询码不存在，请核对后重新输入"))?;
                let c = store::case_by_receipt(&mut conn, &code)
                    .await?
                    .ok_or_else(|| Error::not_found("查询码不存在，请核对后重新输入"))?;
                (c, "reporter".to_owned())
            }
            Rater::Staff { principal, case } => {
                if !principal.has(Role::Dispatcher) {
                    return Err(Error::forbidden("由综合执法办调度员代为回访评价"));
                }
                (
                    load_visible(&mut conn, principal, *case).await?,
                    principal.username.clone(),
                )
            }
        };
        let root = followed(&mut conn, via.clone()).await?;
        let ticket = match root.current_ticket_id {
            Some(t) => store::ticket(&mut conn, t).await?,
            None => None,
        }
        .ok_or_else(|| Error::internal("case without ticket"))?;
        let inst = wf::store::get(&mut conn, ticket.instance_id)
            .await?
            .ok_or_else(|| Error::internal("ticket instance"))?;
        if inst.state != "closed" {
            return Err(Error::conflict("案件办结后才能评价"));
        }
        (via, root, ticket, rated_by)
    };
    let reopen = rating == Rating::Dissatisfied && root.reopen_count == 0;
    let cal = wf::calendar(db).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let no = number(root.id, root.created_at);
    if !store::insert_rating(
        &mut conn,
        &store::NewRating {
            case_id: root.id,
            ticket_id: ticket.id,
            via_case_id: via.id,
            rating: rating.as_str(),
            comment,
            rated_by: &rated_by,
            reopened: reopen,
        },
    )
    .await?
    {
        return Err(Error::conflict("本次办理结果已评价过"));
    }
    audit::record(
        &mut conn,
        actor,
        "case.rate",
        &format!("案件 {no}"),
        &format!("{}：{comment}", rating.label()),
    )
    .await?;
    store::record_fact(
        &mut conn,
        root.id,
        store::Fact::Rated(rating.as_str()),
        Timestamp::now(),
    )
    .await?;
    let mut reopened = false;
    if reopen && store::mark_reopened(&mut conn, root.id, comment).await? {
        store::record_fact(&mut conn, root.id, store::Fact::Reopened, Timestamp::now()).await?;
        let township = orgs::store::get(&mut conn, root.township_id)
            .await?
            .ok_or_else(|| Error::internal("case township"))?;
        let category = store::category(&mut conn, root.district_id, &root.category_code)
            .await?
            .ok_or_else(|| Error::internal("case category"))?;
        start_ticket(
            &mut conn,
            registry,
            &cal,
            actor,
            root.id,
            ticket.seq + 1,
            &no,
            &category,
            &township,
        )
        .await?;
        audit::record(
            &mut conn,
            actor,
            "case.reopen",
            &format!("案件 {no}"),
            &format!("群众不满意，重新办理：{comment}"),
        )
        .await?;
        reopened = true;
    }
    tx.commit().await?;
    // Said to the reporter, or to the staff who recorded the rating for them.
    let staff = matches!(who, Rater::Staff { .. });
    let message = match (rating, reopened, staff) {
        (Rating::Dissatisfied, true, false) => "已收到您的评价，案件已重新交办".to_owned(),
        (Rating::Dissatisfied, true, true) => "已记录不满意评价，案件已重新交办".to_owned(),
        (Rating::Dissatisfied, false, false) => {
            "已收到您的评价。该案件已重新办理过一次，不再重启，我们将转交督办".to_owned()
        }
        (Rating::Dissatisfied, false, true) => {
            "已记录不满意评价。该案件已重新办理过一次，不再重启，请转交督办".to_owned()
        }
        (_, _, false) => "感谢您的评价".to_owned(),
        (_, _, true) => "已代反映人记录评价".to_owned(),
    };
    Ok(Rated {
        rating,
        reopened,
        message,
    })
}

// ---------------------------------------------------------------------------------------
// Public tracking

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicStep {
    #[schema(value_type = String)]
    pub at: Timestamp,
    pub label: String,
}

/// What a receipt code shows: no personal data, not even the description (a merged reporter
/// would see another person's words).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicView {
    pub number: String,
    /// Set when this report was merged into another one about the same problem.
    pub merged_into_number: Option<String>,
    pub category_name: String,
    pub township_name: String,
    pub status: String,
    pub status_label: String,
    /// The unit handling it now.
    pub unit_name: Option<String>,
    /// When the current step is due.
    #[schema(value_type = Option<String>)]
    pub due: Option<Timestamp>,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub steps: Vec<PublicStep>,
    /// The outcome: the handling unit's report once closed, the reason a case was not taken
    /// up, or the department's report on a referred one.
    pub result: Option<String>,
    pub can_rate: bool,
    pub rating: Option<String>,
    pub reopened: bool,
}

fn public_status(state: &str) -> &'static str {
    match state {
        "pending" => "已受理，等待派遣",
        "dispatched" => "已派遣，等待承办单位签收",
        "handling" => "承办单位处置中",
        "checking" => "处置完毕，等待核查",
        "closed" => "已办结",
        "dismissed" => "不予立案",
        "merged" => "已合并办理",
        "referred" => "不属于本镇（街道）职权，已移送主管部门",
        _ => "办理中",
    }
}

pub async fn track(db: &Db, registry: &Registry, code: &str) -> Result<PublicView> {
    let code = model::normalize_receipt_code(code)
        .ok_or_else(|| Error::not_found("查询码不存在，请核对后重新输入"))?;
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let own = store::case_by_receipt(&mut conn, &code)
        .await?
        .ok_or_else(|| Error::not_found("查询码不存在，请核对后重新输入"))?;
    let root = followed(&mut conn, own.clone()).await?;
    let category = store::category(&mut conn, root.district_id, &root.category_code).await?;
    let township = orgs::store::get(&mut conn, root.township_id)
        .await?
        .map(|t| t.name)
        .unwrap_or_default();
    let tickets = store::tickets(&mut conn, root.id).await?;
    let mut steps = Vec::new();
    let mut result = None;
    let mut current = None;
    for t in &tickets {
        let inst = wf::store::get(&mut conn, t.instance_id)
            .await?
            .ok_or_else(|| Error::internal("ticket instance"))?;
        for h in wf::store::history(&mut conn, t.instance_id).await? {
            let label = match h.action.as_str() {
                "start" if t.seq == 1 => "受理".to_owned(),
                "start" => "群众不满意，重新办理".to_owned(),
                "dispatch" => {
                    let unit: Option<String> = serde_json::from_str::<
                        std::collections::BTreeMap<String, String>,
                    >(&h.fields)
                    .ok()
                    .and_then(|f| f.get("unit").cloned());
                    match unit {
                        Some(u) => format!("派遣至{u}"),
                        None => "派遣".to_owned(),
                    }
                }
                _ => h.action_label.clone(),
            };
            // What the reporter is told: the unit's report, or why the case was not taken up.
            if matches!(h.action.as_str(), "report" | "dismiss") {
                result = h.comment.clone();
            }
            steps.push(PublicStep { at: h.at, label });
        }
        current = Some((t.clone(), inst));
    }
    let (ticket, inst) = current.ok_or_else(|| Error::internal("case without ticket"))?;
    // The unit that handles it, or handled it; a referred case names the department it went
    // to, and what that department reported back (移送抄告).
    let mut unit_name = match ticket.unit_org_id {
        Some(u) if inst.state != "pending" => orgs::store::get(&mut conn, u).await?.map(|o| o.name),
        _ => None,
    };
    if inst.state == "referred"
        && let Some(part) = store::parts(&mut conn, root.id)
            .await?
            .into_iter()
            .rfind(|p| p.kind == "referral")
    {
        unit_name = orgs::store::get(&mut conn, part.unit_org_id)
            .await?
            .map(|o| o.name);
        result = part.outcome;
    }
    let ratings = store::ratings(&mut conn, root.id).await?;
    let mine = ratings
        .iter()
        .rev()
        .find(|r| r.via_case_id == own.id && r.ticket_id == ticket.id);
    let closed = inst.state == "closed";
    let _ = registry;
    Ok(PublicView {
        number: number(own.id, own.created_at),
        merged_into_number: (own.id != root.id).then(|| number(root.id, root.created_at)),
        category_name: category.map(|c| c.name()).unwrap_or_default(),
        township_name: township,
        status: inst.state.clone(),
        status_label: public_status(&inst.state).to_owned(),
        unit_name,
        due: if inst.terminal { None } else { inst.deadline },
        created_at: own.created_at,
        steps,
        result: if matches!(inst.state.as_str(), "closed" | "dismissed" | "referred") {
            result
        } else {
            None
        },
        can_rate: closed && mine.is_none(),
        rating: mine
            .and_then(|r| Rating::parse(&r.rating))
            .map(|r| r.label().to_owned()),
        reopened: root.reopen_count > 0,
    })
}

/// The townships of the district, for the public form.
pub async fn public_townships(db: &Db) -> Result<Vec<Org>> {
    let mut c = db.acquire().await?;
    Ok(orgs::store::list(
        &mut c.conn(),
        &OrgQuery {
            kind: Some(OrgKind::Township),
            limit: 1000,
            ..Default::default()
        },
    )
    .await?
    .0)
}

/// The grids of a township, for the staff form.
pub async fn grids_of(db: &Db, township: &Org) -> Result<Vec<Org>> {
    let mut c = db.acquire().await?;
    Ok(orgs::store::list(
        &mut c.conn(),
        &OrgQuery {
            kind: Some(OrgKind::Grid),
            within: Some(township.path.clone()),
            limit: 5000,
            ..Default::default()
        },
    )
    .await?
    .0)
}

/// Checks the process definition still has what this module refers to, so a district's
/// override that renamed a state fails at start-up, not on a citizen's case.
pub fn check_process(registry: &Registry) -> std::result::Result<(), String> {
    let def = registry
        .get(PROCESS)
        .ok_or_else(|| format!("缺少流程 {PROCESS}"))?;
    def.require(
        &[
            "pending",
            "dispatched",
            "handling",
            "checking",
            "closed",
            "merged",
            "referred",
        ],
        &[
            "dispatch", "return", "accept", "report", "close", "rework", "merge", "refer",
        ],
    )
    .map_err(|e| {
        e.iter()
            .map(|x| x.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    parts::check_processes(registry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_numbers_carry_the_year() {
        let t = Timestamp::parse_local_date("2026-03-01").unwrap();
        assert_eq!(number(CaseId(123), t), "2026-000123");
    }

    #[test]
    fn the_embedded_process_has_every_state_and_action_used_here() {
        check_process(&wf::embedded_processes()).unwrap();
    }

    #[test]
    fn deadlines_follow_working_hours() {
        let cal = Calendar::embedded();
        // Monday 2026-03-02 09:00 Beijing time.
        let start = Timestamp::from(
            chrono::DateTime::parse_from_rfc3339("2026-03-02T09:00:00+08:00")
                .unwrap()
                .with_timezone(&chrono::Utc),
        );
        let two_hours = model::parse_limit("2h").unwrap();
        let d = deadline_after(&cal, two_hours, start);
        assert!(d > start && d <= start.plus_seconds(4 * 3600), "{d}");
    }
}
