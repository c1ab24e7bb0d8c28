//! Case metrics per township, station, department and category over a period, and the summons
//! assessment of departments.
//!
//! Every figure is an integer count; rates are kept as numerator and denominator and shown in
//! thousandths, so that figures of groups add up to the total exactly. A case belongs to the
//! period in which it was received (`created_at`), and to the unit holding its ticket now.
//! Merged duplicates are not counted (their original is).
//!
//! The rates, each `None` when its denominator is 0:
//!
//! - **及时派遣率** (timely dispatch) = cases first dispatched before the pending deadline ÷
//!   cases dispatched.
//! - **响应率** (response) = cases first accepted (签收) by the unit within the response limit
//!   of their category and urgency ÷ cases dispatched.
//! - **解决率** (resolution) = cases closed after the check (核查结案) ÷ cases received, less
//!   those dismissed (不予立案) or referred (移送) as outside the township's powers.
//! - **按时办结率** (on-time completion) = closed cases whose ticket never passed a deadline ÷
//!   closed cases.
//! - **满意率** (satisfaction) = cases whose last rating is 满意 or 基本满意 ÷ rated cases.
//! - **返工率** (rework) = closed cases sent back at least once at the check (返工) ÷ closed
//!   cases.
//!
//! The figures are kept on the case row as it moves (see `store::Fact`) and one covering index
//! per scope (`cases_metrics_idx`, `cases_unit_metrics_idx`) answers a township's year without
//! touching the table: one grouped query per month.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::Source;
use crate::auth::{Principal, Role, Scope};
use crate::db::{Conn, Db, DbResult};
use crate::error::{Error, Result};
use crate::ids::OrgId;
use crate::on_conn;
use crate::orgs::{self, model::OrgKind};
use crate::time::Timestamp;

/// The counts behind every rate, for one group of cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Counts {
    pub received: i64,
    pub dispatched: i64,
    pub dispatched_on_time: i64,
    pub accepted_on_time: i64,
    pub closed: i64,
    pub closed_on_time: i64,
    pub reworked: i64,
    pub dismissed: i64,
    pub referred: i64,
    pub rated: i64,
    pub satisfied: i64,
}

/// `n ÷ d` in thousandths, rounded half up (2 of 3 is 66.7%, not 66.6%).
fn permille(n: i64, d: i64) -> Option<i64> {
    (d > 0).then(|| (n * 2000 + d) / (2 * d))
}

impl Counts {
    pub fn add(&mut self, o: &Counts) {
        self.received += o.received;
        self.dispatched += o.dispatched;
        self.dispatched_on_time += o.dispatched_on_time;
        self.accepted_on_time += o.accepted_on_time;
        self.closed += o.closed;
        self.closed_on_time += o.closed_on_time;
        self.reworked += o.reworked;
        self.dismissed += o.dismissed;
        self.referred += o.referred;
        self.rated += o.rated;
        self.satisfied += o.satisfied;
    }

    /// 及时派遣率, in thousandths.
    pub fn timely_dispatch(&self) -> Option<i64> {
        permille(self.dispatched_on_time, self.dispatched)
    }

    /// 响应率, in thousandths.
    pub fn response(&self) -> Option<i64> {
        permille(self.accepted_on_time, self.dispatched)
    }

    /// 解决率, in thousandths.
    pub fn resolution(&self) -> Option<i64> {
        permille(self.closed, self.received - self.dismissed - self.referred)
    }

    /// 按时办结率, in thousandths.
    pub fn on_time(&self) -> Option<i64> {
        permille(self.closed_on_time, self.closed)
    }

    /// 满意率, in thousandths.
    pub fn satisfaction(&self) -> Option<i64> {
        permille(self.satisfied, self.rated)
    }

    /// 返工率, in thousandths.
    pub fn rework(&self) -> Option<i64> {
        permille(self.reworked, self.closed)
    }

    /// The six rates with their labels, for pages and exports.
    pub fn rates(&self) -> [(&'static str, Option<i64>); 6] {
        [
            ("响应率", self.response()),
            ("解决率", self.resolution()),
            ("满意率", self.satisfaction()),
            ("按时办结率", self.on_time()),
            ("及时派遣率", self.timely_dispatch()),
            ("返工率", self.rework()),
        ]
    }
}

/// A rate in thousandths as people read it: 953 → "95.3%".
pub fn percent(p: Option<i64>) -> String {
    p.map(|p| format!("{}.{}%", p / 10, p % 10))
        .unwrap_or_else(|| "—".into())
}

/// Whose cases the figures cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetricsScope {
    District,
    Township(OrgId),
    /// A station or department: the cases whose ticket it holds.
    Unit(OrgId),
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct GroupRow {
    township_id: OrgId,
    category_code: String,
    source: String,
    unit_org_id: Option<OrgId>,
    received: i64,
    dispatched: i64,
    dispatched_on_time: i64,
    accepted_on_time: i64,
    closed: i64,
    closed_on_time: i64,
    reworked: i64,
    dismissed: i64,
    referred: i64,
    rated: i64,
    satisfied: i64,
}

impl GroupRow {
    fn counts(&self) -> Counts {
        Counts {
            received: self.received,
            dispatched: self.dispatched,
            dispatched_on_time: self.dispatched_on_time,
            accepted_on_time: self.accepted_on_time,
            closed: self.closed,
            closed_on_time: self.closed_on_time,
            reworked: self.reworked,
            dismissed: self.dismissed,
            referred: self.referred,
            rated: self.rated,
            satisfied: self.satisfied,
        }
    }
}

const SUMS: &str = "CAST(COUNT(*) AS BIGINT) AS received,
    CAST(SUM(CASE WHEN dispatched_at IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS dispatched,
    CAST(SUM(CASE WHEN dispatched_at IS NOT NULL AND dispatch_late = 0 THEN 1 ELSE 0 END) AS BIGINT) AS dispatched_on_time,
    CAST(SUM(CASE WHEN accepted_at IS NOT NULL AND accept_late = 0 THEN 1 ELSE 0 END) AS BIGINT) AS accepted_on_time,
    CAST(SUM(CASE WHEN outcome = 'closed' THEN 1 ELSE 0 END) AS BIGINT) AS closed,
    CAST(SUM(CASE WHEN outcome = 'closed' AND close_late = 0 THEN 1 ELSE 0 END) AS BIGINT) AS closed_on_time,
    CAST(SUM(CASE WHEN outcome = 'closed' AND rework_count > 0 THEN 1 ELSE 0 END) AS BIGINT) AS reworked,
    CAST(SUM(CASE WHEN outcome = 'dismissed' THEN 1 ELSE 0 END) AS BIGINT) AS dismissed,
    CAST(SUM(CASE WHEN outcome = 'referred' THEN 1 ELSE 0 END) AS BIGINT) AS referred,
    CAST(SUM(CASE WHEN rating IS NOT NULL THEN 1 ELSE 0 END) AS BIGINT) AS rated,
    CAST(SUM(CASE WHEN rating IN ('satisfied', 'basic') THEN 1 ELSE 0 END) AS BIGINT) AS satisfied";

async fn groups(
    conn: &mut Conn<'_>,
    scope: &MetricsScope,
    from: Timestamp,
    to: Timestamp,
) -> DbResult<Vec<GroupRow>> {
    // The scope's column leads its index, then created_at: a range scan of the index alone.
    let (filter, id) = match scope {
        MetricsScope::District => ("CAST($1 AS BIGINT) IS NOT NULL", 0),
        MetricsScope::Township(t) => ("township_id = $1", t.0),
        MetricsScope::Unit(u) => ("unit_org_id = $1", u.0),
    };
    let sql = format!(
        "SELECT township_id, category_code, source, unit_org_id, {SUMS} FROM cases
         WHERE {filter} AND created_at >= $2 AND created_at < $3 AND outcome <> 'merged'
         GROUP BY township_id, category_code, source, unit_org_id"
    );
    Ok(
        on_conn!(conn, c => sqlx::query_as(&sql).bind(id).bind(from).bind(to)
        .fetch_all(&mut *c).await?),
    )
}

/// Months read at once, each share on a connection of its own: a year of a busy township is
/// tens of thousands of index entries, and the engines scan one query on one core.
const PARALLEL_READS: usize = 4;

/// Each month's groups, in order, labelled. The months are split into contiguous shares read
/// concurrently.
async fn month_groups(
    db: &Db,
    scope: &MetricsScope,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(String, Vec<GroupRow>)>> {
    let all = months(from, to);
    let share = all.len().div_ceil(PARALLEL_READS).max(1);
    let mut tasks = tokio::task::JoinSet::new();
    for (i, part) in all.chunks(share).enumerate() {
        let (db, scope, part) = (db.clone(), scope.clone(), part.to_vec());
        tasks.spawn(async move {
            let mut c = db.acquire().await?;
            let mut out = Vec::with_capacity(part.len());
            for (start, end, label) in part {
                out.push((label, groups(&mut c.conn(), &scope, start, end).await?));
            }
            Ok::<_, Error>((i, out))
        });
    }
    let mut shares = Vec::new();
    while let Some(done) = tasks.join_next().await {
        shares.push(done.map_err(|e| Error::internal(e.to_string()))??);
    }
    shares.sort_by_key(|(i, _)| *i);
    Ok(shares.into_iter().flat_map(|(_, out)| out).collect())
}

/// The local months (start, label) covering `[from, to)`.
pub fn months(from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp, String)> {
    use chrono::Datelike;
    let local = |t: Timestamp| {
        t.to_utc()
            .with_timezone(&chrono_tz::Asia::Shanghai)
            .date_naive()
    };
    let (mut y, mut m) = {
        let d = local(from);
        (d.year(), d.month())
    };
    let mut out = Vec::new();
    let mut start = from;
    while start < to && out.len() < 240 {
        let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
        let next = Timestamp::parse_local_date(&format!("{ny:04}-{nm:02}-01")).unwrap_or(to);
        let end = next.min(to);
        out.push((start, end, format!("{y}-{m:02}")));
        start = end;
        (y, m) = (ny, nm);
    }
    out
}

/// One line of a breakdown.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Line {
    pub key: String,
    pub name: String,
    pub counts: Counts,
}

/// A department's summons over the period: the figures of its assessment.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SummonLine {
    #[schema(value_type = i64)]
    pub id: OrgId,
    pub code: String,
    pub name: String,
    pub summons: i64,
    pub reported: i64,
    pub reported_on_time: i64,
    pub replied: i64,
    pub scored: i64,
    pub score_sum: i64,
}

impl SummonLine {
    /// Reported within the limit ÷ summoned, in thousandths.
    pub fn on_time_report(&self) -> Option<i64> {
        permille(self.reported_on_time, self.summons)
    }

    /// Average score in tenths (42 = 4.2 points).
    pub fn average_score_tenths(&self) -> Option<i64> {
        (self.scored > 0).then(|| (self.score_sum * 20 + self.scored) / (2 * self.scored))
    }

    pub fn average_score(&self) -> String {
        self.average_score_tenths()
            .map(|t| format!("{}.{}", t / 10, t % 10))
            .unwrap_or_else(|| "—".into())
    }
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub scope_name: String,
    #[schema(value_type = String)]
    pub from: Timestamp,
    /// Exclusive.
    #[schema(value_type = String)]
    pub to: Timestamp,
    pub total: Counts,
    pub by_township: Vec<Line>,
    pub by_unit: Vec<Line>,
    pub by_category: Vec<Line>,
    pub by_source: Vec<Line>,
    pub by_month: Vec<Line>,
    pub summons: Vec<SummonLine>,
}

async fn summon_lines(
    conn: &mut Conn<'_>,
    township: Option<OrgId>,
    from: Timestamp,
    to: Timestamp,
) -> DbResult<Vec<SummonLine>> {
    let filter = if township.is_some() {
        "AND p.township_id = $3"
    } else {
        "AND CAST($3 AS BIGINT) IS NOT NULL"
    };
    let sql = format!(
        "SELECT o.id, o.code, o.name,
            CAST(COUNT(p.id) AS BIGINT) AS summons,
            CAST(COALESCE(SUM(CASE WHEN p.reported_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS reported,
            CAST(COALESCE(SUM(p.reported_on_time), 0) AS BIGINT) AS reported_on_time,
            CAST(COALESCE(SUM(CASE WHEN p.done_at IS NOT NULL THEN 1 ELSE 0 END), 0) AS BIGINT) AS replied,
            CAST(COUNT(p.score) AS BIGINT) AS scored,
            CAST(COALESCE(SUM(p.score), 0) AS BIGINT) AS score_sum
         FROM orgs o LEFT JOIN case_parts p ON p.unit_org_id = o.id AND p.kind = 'summon'
            AND p.created_at >= $1 AND p.created_at < $2 {filter}
         WHERE o.kind = 'department'
         GROUP BY o.id, o.code, o.name ORDER BY o.code"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(from).bind(to)
        .bind(township.map(|t| t.0).unwrap_or(0)).fetch_all(&mut *c).await?))
}

/// What a principal may look at, and the scope they asked for (`org`), checked.
pub async fn scope_for(
    db: &Db,
    p: &Principal,
    org: Option<OrgId>,
) -> Result<(MetricsScope, String)> {
    if !may_view(p) {
        return Err(Error::forbidden("您的角色不查看案件统计"));
    }
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    // A station or department sees its own figures.
    if p.has_any(&[Role::StationHead, Role::DepartmentOfficer])
        && !p.has_any(&[
            Role::Dispatcher,
            Role::TownshipLeader,
            Role::EstablishmentOffice,
        ])
    {
        return Ok((MetricsScope::Unit(p.org.id), p.org.name.clone()));
    }
    let target = match org {
        Some(id) => Some(
            orgs::store::get(&mut conn, id)
                .await?
                .ok_or_else(|| Error::invalid("org", "所选单位不存在"))?,
        ),
        None => match &p.scope {
            Scope::Township { township_id, .. } => {
                orgs::store::get(&mut conn, *township_id).await?
            }
            Scope::District => None,
        },
    };
    let Some(o) = target else {
        return Ok((MetricsScope::District, "全区".to_owned()));
    };
    if !p.scope.covers(&o) {
        return Err(Error::forbidden("只能查看本镇（街道）的统计"));
    }
    Ok(match o.kind {
        OrgKind::District => (MetricsScope::District, o.name),
        OrgKind::Township => (MetricsScope::Township(o.id), o.name),
        OrgKind::Station | OrgKind::Department => (MetricsScope::Unit(o.id), o.name),
        _ => {
            return Err(Error::invalid(
                "org",
                "请选择镇（街道）、派驻机构或区直部门",
            ));
        }
    })
}

pub fn may_view(p: &Principal) -> bool {
    p.has_any(&[
        Role::Dispatcher,
        Role::TownshipLeader,
        Role::TownshipOfficer,
        Role::StationHead,
        Role::DepartmentOfficer,
        Role::EstablishmentOffice,
    ])
}

/// The period `[from, to]` as given (local dates, both inclusive), by default this year to today.
pub fn period(from: Option<&str>, to: Option<&str>) -> Result<(Timestamp, Timestamp)> {
    let today = Timestamp::now().start_of_local_day();
    let parse = |s: Option<&str>, field: &'static str| -> Result<Option<Timestamp>> {
        match s.map(str::trim).filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(s) => Timestamp::parse_local_date(s)
                .map(Some)
                .ok_or_else(|| Error::invalid(field, "日期格式应为 2026-01-31")),
        }
    };
    let to = parse(to, "to")?.unwrap_or(today).plus_seconds(86_400);
    let from = match parse(from, "from")? {
        Some(f) => f,
        None => {
            let year = today.local().get(..4).unwrap_or("2026").to_owned();
            Timestamp::parse_local_date(&format!("{year}-01-01")).unwrap_or(today)
        }
    };
    if from >= to {
        return Err(Error::invalid("from", "开始日期应早于结束日期"));
    }
    if to.as_micros() - from.as_micros() > 5 * 366 * 86_400 * 1_000_000 {
        return Err(Error::invalid("from", "统计区间不超过 5 年"));
    }
    Ok((from, to))
}

fn push(map: &mut BTreeMap<String, Counts>, key: String, c: &Counts) {
    map.entry(key).or_default().add(c);
}

/// The figures of a scope over `[from, to)`.
pub async fn report(
    db: &Db,
    scope: &MetricsScope,
    scope_name: &str,
    from: Timestamp,
    to: Timestamp,
) -> Result<Report> {
    let mut total = Counts::default();
    let (mut t, mut u, mut k, mut s) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    let mut by_month = Vec::new();
    for (label, rows) in month_groups(db, scope, from, to).await? {
        let mut month = Counts::default();
        for g in rows {
            let counts = g.counts();
            month.add(&counts);
            push(&mut t, g.township_id.0.to_string(), &counts);
            push(
                &mut u,
                g.unit_org_id.map(|x| x.0.to_string()).unwrap_or_default(),
                &counts,
            );
            push(&mut k, g.category_code.clone(), &counts);
            push(&mut s, g.source.clone(), &counts);
        }
        total.add(&month);
        by_month.push(Line {
            name: label.clone(),
            key: label,
            counts: month,
        });
    }
    let township = match scope {
        MetricsScope::Township(t) => Some(*t),
        _ => None,
    };
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let summons = summon_lines(&mut conn, township, from, to).await?;
    // Names for the keys.
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    for key in t.keys().chain(u.keys()) {
        if let Ok(id) = key.parse::<i64>()
            && let Some(o) = orgs::store::get(&mut conn, OrgId(id)).await?
        {
            names.insert(key.clone(), o.name);
        }
    }
    let district = match scope {
        MetricsScope::District => None,
        MetricsScope::Township(x) | MetricsScope::Unit(x) => orgs::store::get(&mut conn, *x)
            .await?
            .map(|o| crate::catalog::district_of(&o)),
    };
    let categories: BTreeMap<String, String> = match district {
        Some(d) => super::store::categories(&mut conn, d)
            .await?
            .into_iter()
            .map(|c| (c.code.clone(), c.name()))
            .collect(),
        None => {
            let mut all = BTreeMap::new();
            let (ds, _) = orgs::store::list(
                &mut conn,
                &orgs::OrgQuery {
                    kind: Some(OrgKind::District),
                    limit: 10,
                    ..Default::default()
                },
            )
            .await?;
            for d in ds {
                for c in super::store::categories(&mut conn, d.id).await? {
                    all.insert(c.code.clone(), c.name());
                }
            }
            all
        }
    };
    let lines = |m: BTreeMap<String, Counts>, name: &dyn Fn(&str) -> String| -> Vec<Line> {
        let mut v: Vec<Line> = m
            .into_iter()
            .map(|(key, counts)| Line {
                name: name(&key),
                key,
                counts,
            })
            .collect();
        v.sort_by(|a, b| {
            b.counts
                .received
                .cmp(&a.counts.received)
                .then(a.key.cmp(&b.key))
        });
        v
    };
    let org_name = |k: &str| {
        if k.is_empty() {
            "未派遣".to_owned()
        } else {
            names.get(k).cloned().unwrap_or_else(|| k.to_owned())
        }
    };
    Ok(Report {
        scope_name: scope_name.to_owned(),
        from,
        to,
        total,
        by_township: lines(t, &org_name),
        by_unit: lines(u, &org_name),
        by_category: lines(k, &|k: &str| {
            format!("{k} {}", categories.get(k).cloned().unwrap_or_default())
        }),
        by_source: lines(s, &|k: &str| {
            Source::parse(k)
                .map(|s| s.label().to_owned())
                .unwrap_or_else(|| k.to_owned())
        }),
        by_month,
        summons,
    })
}

/// The summons assessment of every department: township staff see their own township's summons.
pub async fn summons(
    db: &Db,
    p: &Principal,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<SummonLine>> {
    if !may_view(p) {
        return Err(Error::forbidden("您的角色不查看部门吹哨报到考核"));
    }
    let township = match &p.scope {
        Scope::Township { township_id, .. } => Some(*township_id),
        Scope::District => None,
    };
    let mut c = db.acquire().await?;
    let mut rows = summon_lines(&mut c.conn(), township, from, to).await?;
    if p.has(Role::DepartmentOfficer) && !p.has(Role::EstablishmentOffice) {
        rows.retain(|r| r.id == p.org.id);
    }
    Ok(rows)
}

// ---------- charts ----------

/// One bar of a server-rendered SVG chart (coordinates in the chart's own units).
#[derive(Debug, Clone)]
pub struct Bar {
    pub x: i64,
    pub y: i64,
    pub width: i64,
    pub height: i64,
    pub label: String,
    pub value: i64,
    /// The CSS class that colours it.
    pub class: &'static str,
}

pub const CHART_WIDTH: i64 = 720;
pub const CHART_HEIGHT: i64 = 200;

/// Month-by-month bars: received and closed side by side, scaled to the tallest.
pub fn month_bars(lines: &[Line]) -> Vec<Bar> {
    let max = lines
        .iter()
        .map(|l| l.counts.received.max(l.counts.closed))
        .max()
        .unwrap_or(0)
        .max(1);
    let n = lines.len().max(1) as i64;
    let slot = CHART_WIDTH / n;
    let w = (slot / 3).max(2);
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        for (j, (value, class)) in [
            (l.counts.received, "bar-received"),
            (l.counts.closed, "bar-closed"),
        ]
        .into_iter()
        .enumerate()
        {
            let h = value * (CHART_HEIGHT - 20) / max;
            out.push(Bar {
                x: i as i64 * slot + slot / 6 + j as i64 * w,
                y: CHART_HEIGHT - 20 - h,
                width: w,
                height: h,
                label: l.name.clone(),
                value,
                class,
            });
        }
    }
    out
}

/// Horizontal bars of a rate in thousandths (0–1000 → 0–`CHART_WIDTH`).
pub fn rate_bars(rates: &[(&'static str, Option<i64>)]) -> Vec<Bar> {
    rates
        .iter()
        .enumerate()
        .map(|(i, (label, r))| Bar {
            x: 0,
            y: i as i64 * 28,
            width: r.unwrap_or(0) * (CHART_WIDTH - 200) / 1000,
            height: 20,
            label: (*label).to_owned(),
            value: r.unwrap_or(0),
            class: "bar-rate",
        })
        .collect()
}

/// The export's rows: one per line of every breakdown.
pub fn export_rows(r: &Report) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut add = |dim: &str, l: &Line| {
        let c = &l.counts;
        let mut row = vec![
            dim.to_owned(),
            l.name.clone(),
            c.received.to_string(),
            c.dispatched.to_string(),
            c.closed.to_string(),
            c.rated.to_string(),
        ];
        row.extend(c.rates().iter().map(|(_, p)| percent(*p)));
        rows.push(row);
    };
    add(
        "合计",
        &Line {
            key: String::new(),
            name: r.scope_name.clone(),
            counts: r.total,
        },
    );
    for (dim, lines) in [
        ("月份", &r.by_month),
        ("镇街", &r.by_township),
        ("承办单位", &r.by_unit),
        ("事件类别", &r.by_category),
        ("来源", &r.by_source),
    ] {
        for l in lines {
            add(dim, l);
        }
    }
    rows
}

pub const EXPORT_HEADER: [&str; 12] = [
    "维度",
    "名称",
    "受理量",
    "派遣量",
    "结案量",
    "评价量",
    "响应率",
    "解决率",
    "满意率",
    "按时办结率",
    "及时派遣率",
    "返工率",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten cases worked by hand:
    /// 1 merged (not counted); of the 9 others, 1 dismissed and 1 referred before dispatch;
    /// 7 dispatched, 6 on time; 5 accepted on time; 5 closed, 4 on time, 1 reworked;
    /// 4 rated: 2 满意, 1 基本满意, 1 不满意.
    #[test]
    fn rates_follow_their_definitions_on_a_hand_computed_example() {
        let c = Counts {
            received: 9,
            dispatched: 7,
            dispatched_on_time: 6,
            accepted_on_time: 5,
            closed: 5,
            closed_on_time: 4,
            reworked: 1,
            dismissed: 1,
            referred: 1,
            rated: 4,
            satisfied: 3,
        };
        assert_eq!(c.timely_dispatch(), Some(857)); // 6/7
        assert_eq!(c.response(), Some(714)); // 5/7
        assert_eq!(c.resolution(), Some(714)); // 5/(9-1-1)
        assert_eq!(c.on_time(), Some(800)); // 4/5
        assert_eq!(c.satisfaction(), Some(750)); // 3/4
        assert_eq!(c.rework(), Some(200)); // 1/5
        // Rounded, not cut: 2 of 3 is 66.7%.
        assert_eq!(permille(2, 3), Some(667));
        assert_eq!(permille(1, 3), Some(333));
        assert_eq!(percent(permille(2, 3)), "66.7%");
        assert_eq!(percent(c.response()), "71.4%");
        assert_eq!(Counts::default().response(), None);
        assert_eq!(percent(None), "—");
    }

    #[test]
    fn groups_add_up_to_the_total() {
        let a = Counts {
            received: 3,
            closed: 2,
            ..Default::default()
        };
        let b = Counts {
            received: 4,
            closed: 1,
            rated: 1,
            ..Default::default()
        };
        let mut t = Counts::default();
        t.add(&a);
        t.add(&b);
        assert_eq!(t.received, 7);
        assert_eq!(t.closed, 3);
        assert_eq!(t.rated, 1);
    }

    #[test]
    fn a_year_has_twelve_local_months() {
        let from = Timestamp::parse_local_date("2026-01-01").unwrap();
        let to = Timestamp::parse_local_date("2027-01-01").unwrap();
        let m = months(from, to);
        assert_eq!(m.len(), 12);
        assert_eq!(m[0].2, "2026-01");
        assert_eq!(m[11].2, "2026-12");
        assert_eq!(m[11].1, to);
        assert_eq!(m[1].0, Timestamp::parse_local_date("2026-02-01").unwrap());
        let part = months(Timestamp::parse_local_date("2026-03-15").unwrap(), to);
        assert_eq!(part.len(), 10);
    }

    #[test]
    fn summon_scores_average_in_tenths() {
        let l = SummonLine {
            id: OrgId(1),
            code: "BM03".into(),
            name: "区市场监督管理局".into(),
            summons: 3,
            reported: 3,
            reported_on_time: 2,
            replied: 3,
            scored: 3,
            score_sum: 13,
        };
        assert_eq!(l.on_time_report(), Some(667), "rounded");
        assert_eq!(l.average_score_tenths(), Some(43));
        assert_eq!(l.average_score(), "4.3");
    }

    #[test]
    fn bars_scale_to_the_tallest() {
        let lines = vec![
            Line {
                key: "a".into(),
                name: "2026-01".into(),
                counts: Counts {
                    received: 10,
                    closed: 5,
                    ..Default::default()
                },
            },
            Line {
                key: "b".into(),
                name: "2026-02".into(),
                counts: Counts {
                    received: 20,
                    ..Default::default()
                },
            },
        ];
        let bars = month_bars(&lines);
        assert_eq!(bars.len(), 4);
        assert_eq!(bars[2].height, CHART_HEIGHT - 20);
        assert_eq!(bars[0].height, (CHART_HEIGHT - 20) / 2);
    }
}
