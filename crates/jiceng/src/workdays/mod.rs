//! The working-day calendar (工作日) of the platform: the arrangement embedded in the calendar
//! crate, plus the system administrator's additions and corrections kept in the database (next
//! year's arrangement, a late change by the State Council).
//!
//! [`current`] is what the rest of the application uses to count working days. It is cached per
//! process and keyed by a change stamp in the database, so the common case is one tiny query,
//! and several `serve` processes sharing PostgreSQL see each other's changes at their next call.
//!
//! How corrections work (see `db/migrations/0003_workdays.sql`): a stored row decides its date
//! (放假, 调休上班, or 恢复正常 = the Monday-to-Friday rule even where the embedded data lists the
//! date); removing the row restores the embedded data. Rows that would say what the embedded data
//! already says are not kept, so the stored rows are exactly the differences.

pub mod model;
pub mod routes;
pub mod store;

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use calendar::{Calendar, CsvLineError, DayEntry};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;

use crate::audit::{self, Actor};
use crate::auth::{Principal, Role};
use crate::db::reference::{Cache, Stamp};
use crate::db::{Conn, Db, Reader};
use crate::error::{Error, Result};
use crate::time::Timestamp;
use model::{DayChange, DayCheck, DayRow, Deadline, Write};

/// Proof that the holder may change the calendar: the system administrator's duty. Only
/// [`calendar_admin`] makes one, so a write below cannot be reached without the check.
#[derive(Debug, Clone, Copy)]
pub struct CalendarAdmin<'a>(&'a Principal);

impl CalendarAdmin<'_> {
    pub fn principal(&self) -> &Principal {
        self.0
    }
}

pub fn calendar_admin(p: &Principal) -> Option<CalendarAdmin<'_>> {
    p.has(Role::SystemAdmin).then_some(CalendarAdmin(p))
}

/// The embedded arrangement by date, parsed once.
pub fn embedded() -> &'static BTreeMap<NaiveDate, DayEntry> {
    static EMBEDDED: OnceLock<BTreeMap<NaiveDate, DayEntry>> = OnceLock::new();
    EMBEDDED.get_or_init(|| {
        calendar::embedded_entries()
            .into_iter()
            .map(|e| (e.date, e))
            .collect()
    })
}

/// Today in Asia/Shanghai.
pub fn today() -> NaiveDate {
    Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

// ---------- the application's calendar ----------

/// The calendar the application counts working days with: the embedded arrangement merged with
/// the administrator's corrections. Costs one single-row query when nothing has changed.
pub async fn current(db: &Db) -> Result<Arc<Calendar>> {
    let mut pooled = db.acquire().await?;
    current_in(db, &mut pooled.conn()).await
}

/// As [`current`], on a connection the caller holds (inside its transaction, say). The
/// calendar is kept with the database's other caches, under the calendar's own change stamp.
pub async fn current_in(db: &Db, conn: &mut Conn<'_>) -> Result<Arc<Calendar>> {
    #[derive(Default)]
    struct ByChange(Cache<(), Arc<Calendar>>);
    // The stamp is read before the corrections. What is read afterwards is at least as new as
    // the stamp, and a stamp replaced by a newer change is never read again, so the cache can
    // never hold older data under the stamp that is current.
    let stamp = Stamp::from(Some(store::stamp(conn).await?));
    let by_change = db.caches().get::<ByChange>();
    by_change
        .0
        .read_through(&stamp, &(), async {
            let overrides = store::list(conn, None).await?;
            Ok::<_, Error>(Arc::new(model::build_calendar(embedded(), &overrides)))
        })
        .await
}

/// As [`current_in`], without reading the calendar's own stamp when this process built the
/// calendar under the reference stamp `stamp`: a change of the calendar changes both stamps.
pub async fn current_at(
    db: &Db,
    reader: &mut Reader<'_, '_>,
    stamp: &Stamp,
) -> Result<Arc<Calendar>> {
    #[derive(Default)]
    struct Built(Cache<(), Arc<Calendar>>);
    let built = db.caches().get::<Built>();
    built
        .0
        .read_through(stamp, &(), async {
            current_in(db, &mut reader.conn().await?).await
        })
        .await
}

/// For the system administrator's home page: set when this year's holidays, or in the last
/// quarter next year's, have not been entered.
pub async fn coverage_warning(db: &Db) -> Result<Option<String>> {
    let calendar = current(db).await?;
    Ok(model::coverage_warning_for(&calendar, today()))
}

/// How one date counts.
pub async fn check(db: &Db, date: NaiveDate) -> Result<DayCheck> {
    Ok(model::check_day(&*current(db).await?, date))
}

/// The deadline `working_days` working days after `from`.
pub async fn deadline(db: &Db, from: DateTime<Utc>, working_days: u32) -> Result<Deadline> {
    Ok(model::deadline(&*current(db).await?, from, working_days))
}

// ---------- the administrator's view ----------

/// One year as the administrator sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct YearView {
    pub year: i32,
    /// Holidays, make-up working days and corrections of the year, by date.
    pub items: Vec<DayRow>,
    /// Days off by the arrangement (not counting ordinary weekends).
    pub holidays: usize,
    pub make_up_days: usize,
    /// Working days in the year under the current calendar.
    pub working_days: i64,
    /// Whether the year's arrangement is known.
    pub covered: bool,
    pub covered_years: Vec<i32>,
    pub warning: Option<String>,
    /// How many changes administrators have made, and when the last one was.
    pub version: i64,
    #[schema(value_type = Option<String>)]
    pub changed_at: Option<Timestamp>,
}

impl YearView {
    pub fn changed_local(&self) -> String {
        self.changed_at.map(|t| t.local()).unwrap_or_default()
    }
}

pub async fn year_view(db: &Db, year: i32) -> Result<YearView> {
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let calendar = current_in(db, &mut conn).await?;
    let overrides = store::list(&mut conn, Some(year)).await?;
    let (version, changed_at) = store::version(&mut conn).await?;
    let items = model::year_rows(year, embedded(), &overrides);
    let count = |k| items.iter().filter(|r| r.kind == k).count();
    Ok(YearView {
        year,
        holidays: count(model::Arrangement::Holiday),
        make_up_days: count(model::Arrangement::Workday),
        working_days: model::working_days_in(&calendar, year),
        covered: calendar.has_data_for(year),
        covered_years: calendar.covered_years().collect(),
        warning: model::coverage_warning_for(&calendar, today()),
        version,
        changed_at,
        items,
    })
}

/// The row of one date, if the embedded data lists it or a correction exists.
pub async fn day_row(db: &Db, date: NaiveDate) -> Result<Option<DayRow>> {
    let mut pooled = db.acquire().await?;
    let correction = store::get(&mut pooled.conn(), date).await?;
    Ok(model::day_row(date, embedded(), correction.as_ref()))
}

/// A date after a change: how it counts now and whether a correction decides it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DayOutcome {
    pub day: DayCheck,
    pub is_override: bool,
}

async fn outcome(db: &Db, date: NaiveDate) -> Result<DayOutcome> {
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let calendar = current_in(db, &mut conn).await?;
    let is_override = store::get(&mut conn, date).await?.is_some();
    Ok(DayOutcome {
        day: model::check_day(&calendar, date),
        is_override,
    })
}

// ---------- changes ----------

/// Sets one date (放假, 调休上班 or 恢复正常), audited as `workdays.set`.
pub async fn set_day(
    db: &Db,
    _cap: &CalendarAdmin<'_>,
    actor: &Actor,
    change: DayChange,
) -> Result<DayOutcome> {
    let embedded_entry = embedded().get(&change.date);
    let now = Timestamp::now();
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let before = store::get(&mut conn, change.date).await?;
    apply(&mut conn, &change, embedded_entry, &actor.name, now).await?;
    store::bump(&mut conn, now).await?;
    audit::record(
        &mut conn,
        actor,
        "workdays.set",
        &change.date.to_string(),
        &model::describe_change(&change, before.as_ref(), embedded_entry),
    )
    .await?;
    tx.commit().await?;
    outcome(db, change.date).await
}

async fn apply(
    conn: &mut Conn<'_>,
    change: &DayChange,
    embedded_entry: Option<&DayEntry>,
    by: &str,
    now: Timestamp,
) -> Result<()> {
    match model::write_for(change, embedded_entry) {
        Write::Upsert => store::upsert(conn, change, by, now).await?,
        Write::Delete => {
            store::delete(conn, change.date).await?;
        }
    }
    Ok(())
}

/// Removes the correction of a date, restoring the embedded data; audited as `workdays.reset`.
///
/// # Errors
/// `NotFound` when the date has no correction.
pub async fn reset_day(
    db: &Db,
    _cap: &CalendarAdmin<'_>,
    actor: &Actor,
    date: NaiveDate,
) -> Result<DayOutcome> {
    let now = Timestamp::now();
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let Some(before) = store::get(&mut conn, date).await? else {
        return Err(Error::not_found(format!(
            "{date} 没有管理员录入的更正，无需撤销"
        )));
    };
    store::delete(&mut conn, date).await?;
    store::bump(&mut conn, now).await?;
    let restored = match embedded().get(&date) {
        Some(e) => format!(
            "内置数据 {}",
            model::describe(model::Arrangement::of(e.kind), &e.festival)
        ),
        None => "按周一至周五规则".to_owned(),
    };
    audit::record(
        &mut conn,
        actor,
        "workdays.reset",
        &date.to_string(),
        &format!(
            "撤销更正 {}；恢复为 {restored}",
            model::describe(before.kind, &before.festival)
        ),
    )
    .await?;
    tx.commit().await?;
    outcome(db, date).await
}

/// Why an import was refused.
#[derive(Debug)]
pub enum ImportError {
    /// Bad rows, each with its line number; nothing was written.
    Rows(Vec<CsvLineError>),
    Failed(Error),
}

impl<E: Into<Error>> From<E> for ImportError {
    fn from(e: E) -> Self {
        ImportError::Failed(e.into())
    }
}

impl ImportError {
    /// One message naming every bad line, for logs and plain error bodies.
    pub fn message(rows: &[CsvLineError]) -> String {
        let lines: Vec<String> = rows.iter().map(ToString::to_string).collect();
        format!(
            "导入内容有 {} 处错误，未导入任何一行：{}",
            rows.len(),
            lines.join("；")
        )
    }
}

/// What an import did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImportOutcome {
    /// Rows read and applied.
    pub imported: usize,
    /// The years the rows belong to.
    pub years: Vec<i32>,
}

/// Imports `date,kind,festival` rows (the embedded CSV's format): all rows or none, every bad
/// row reported by line number. Each row sets its date as [`set_day`] would; dates the import
/// does not mention keep what they had. Audited once, as `workdays.import`.
pub async fn import(
    db: &Db,
    _cap: &CalendarAdmin<'_>,
    actor: &Actor,
    text: &str,
) -> std::result::Result<ImportOutcome, ImportError> {
    let changes = model::parse_import(text).map_err(ImportError::Rows)?;
    let now = Timestamp::now();
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    for change in &changes {
        apply(
            &mut conn,
            change,
            embedded().get(&change.date),
            &actor.name,
            now,
        )
        .await?;
    }
    store::bump(&mut conn, now).await?;
    audit::record(
        &mut conn,
        actor,
        "workdays.import",
        "calendar_days",
        &model::describe_import(&changes),
    )
    .await?;
    tx.commit().await?;
    let mut years: Vec<i32> = changes.iter().map(|c| c.date.year()).collect();
    years.sort_unstable();
    years.dedup();
    Ok(ImportOutcome {
        imported: changes.len(),
        years,
    })
}

/// The effective holidays and make-up working days (of one year, or all), in the import format
/// with a byte-order mark so that Excel opens it as UTF-8. Download, edit, import again.
pub async fn export_csv(db: &Db, year: Option<i32>) -> Result<String> {
    let calendar = current(db).await?;
    let entries = calendar
        .entries()
        .filter(|e| year.is_none_or(|y| e.date.year() == y));
    Ok(format!("\u{feff}{}", calendar::to_csv(entries)))
}
