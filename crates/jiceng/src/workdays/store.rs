//! All SQL of the working-day calendar: the administrator's corrections (`calendar_days`) and
//! the change stamp (`calendar_version`).

use chrono::NaiveDate;

use super::model::{Arrangement, DayChange, Override};
use crate::db::{Conn, DbError, DbResult, reference};
use crate::on_conn;
use crate::time::Timestamp;

const COLUMNS: &str = "day, kind, festival, updated_at, updated_by";

#[derive(sqlx::FromRow)]
struct OverrideRow {
    day: String,
    kind: String,
    festival: String,
    updated_at: Timestamp,
    updated_by: String,
}

impl TryFrom<OverrideRow> for Override {
    type Error = DbError;

    fn try_from(r: OverrideRow) -> Result<Self, DbError> {
        let bad = |what: &str| DbError::decode(format!("calendar_days.{what} 值无效"));
        Ok(Override {
            date: NaiveDate::parse_from_str(&r.day, "%Y-%m-%d").map_err(|_| bad("day"))?,
            kind: Arrangement::parse(&r.kind).ok_or_else(|| bad("kind"))?,
            festival: r.festival,
            updated_at: r.updated_at,
            updated_by: r.updated_by,
        })
    }
}

fn day_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// Every correction, by date; or those of one year.
pub async fn list(conn: &mut Conn<'_>, year: Option<i32>) -> DbResult<Vec<Override>> {
    let rows: Vec<OverrideRow> = match year {
        None => {
            let sql = format!("SELECT {COLUMNS} FROM calendar_days ORDER BY day");
            on_conn!(conn, c => sqlx::query_as(&sql).fetch_all(&mut *c).await?)
        }
        Some(y) => {
            // Dates are stored as YYYY-MM-DD, so a year is a range of text.
            let sql = format!(
                "SELECT {COLUMNS} FROM calendar_days WHERE day >= $1 AND day < $2 ORDER BY day"
            );
            let (from, to) = (format!("{y:04}-01-01"), format!("{:04}-01-01", y + 1));
            on_conn!(conn, c => sqlx::query_as(&sql).bind(&from).bind(&to).fetch_all(&mut *c).await?)
        }
    };
    rows.into_iter().map(Override::try_from).collect()
}

pub async fn get(conn: &mut Conn<'_>, date: NaiveDate) -> DbResult<Option<Override>> {
    let sql = format!("SELECT {COLUMNS} FROM calendar_days WHERE day = $1");
    let row: Option<OverrideRow> = on_conn!(conn, c => sqlx::query_as(&sql)
        .bind(day_text(date)).fetch_optional(&mut *c).await?);
    row.map(Override::try_from).transpose()
}

/// Inserts or replaces the correction for the change's date.
pub async fn upsert(
    conn: &mut Conn<'_>,
    change: &DayChange,
    by: &str,
    at: Timestamp,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO calendar_days (day, kind, festival, updated_at, updated_by)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (day) DO UPDATE SET kind = excluded.kind, festival = excluded.festival,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by"
    )
    .bind(day_text(change.date)).bind(change.kind.as_str()).bind(&change.festival)
    .bind(at).bind(by)
    .execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// Removes the correction for a date; whether there was one.
pub async fn delete(conn: &mut Conn<'_>, date: NaiveDate) -> DbResult<bool> {
    let n = on_conn!(conn, c => sqlx::query("DELETE FROM calendar_days WHERE day = $1")
        .bind(day_text(date)).execute(&mut *c).await?.rows_affected());
    Ok(n > 0)
}

/// The change stamp: one short string that differs after every committed change.
pub async fn stamp(conn: &mut Conn<'_>) -> DbResult<String> {
    let stamp: Option<String> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT stamp FROM calendar_version WHERE id = 1"
    ).fetch_optional(&mut *c).await?);
    Ok(stamp.unwrap_or_default())
}

/// How many changes there have been and when the last one was (never: `None`).
pub async fn version(conn: &mut Conn<'_>) -> DbResult<(i64, Option<Timestamp>)> {
    let row: Option<(i64, Timestamp)> = on_conn!(conn, c => sqlx::query_as(
        "SELECT version, changed_at FROM calendar_version WHERE id = 1"
    ).fetch_optional(&mut *c).await?);
    Ok(match row {
        Some((v, at)) if v > 0 => (v, Some(at)),
        Some((v, _)) => (v, None),
        None => (0, None),
    })
}

/// Records a change, inside the changing transaction: a new random stamp, the counter and
/// the time. Updating the one row also serialises concurrent changes on both engines.
pub async fn bump(conn: &mut Conn<'_>, at: Timestamp) -> DbResult<i64> {
    let stamp = uuid::Uuid::new_v4().to_string();
    let version: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "UPDATE calendar_version SET version = version + 1, stamp = $1, changed_at = $2
         WHERE id = 1 RETURNING version"
    ).bind(&stamp).bind(at).fetch_one(&mut *c).await?);
    reference::bump(conn).await?;
    Ok(version)
}
