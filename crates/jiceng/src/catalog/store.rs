//! All SQL of the catalog context.

use super::model::{ItemFields, Scheme};
use crate::db::{Conn, DbError, DbResult};
use crate::ids::OrgId;
use crate::on_conn;
use crate::time::Timestamp;

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct ListRow {
    pub id: i64,
    #[schema(value_type = i64)]
    pub district_id: OrgId,
    /// 0 for the general catalog, else the township's id.
    pub township_key: i64,
    pub current_version: i64,
    pub published_version: i64,
}

#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct VersionRow {
    pub list_id: i64,
    pub version: i64,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
    pub created_by: String,
    pub reason: String,
    pub summary: String,
    #[schema(value_type = Option<String>)]
    pub published_at: Option<Timestamp>,
    pub published_by: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ItemRow {
    pub kind: String,
    pub code: String,
    pub from_version: i64,
    pub to_version: Option<i64>,
    pub fields: String,
}

/// A stored revision, decoded.
#[derive(Debug, Clone)]
pub enum Entry {
    Item(Box<ItemFields>),
    /// A township marks a general item as not applicable, with a reason.
    Exclusion {
        code: String,
        reason: String,
    },
}

impl Entry {
    pub fn code(&self) -> &str {
        match self {
            Entry::Item(f) => &f.code,
            Entry::Exclusion { code, .. } => code,
        }
    }
}

fn decode(r: ItemRow) -> DbResult<Entry> {
    let bad = |e: serde_json::Error| DbError::decode(e);
    Ok(match r.kind.as_str() {
        "exclusion" => {
            let v: serde_json::Value = serde_json::from_str(&r.fields).map_err(bad)?;
            Entry::Exclusion {
                code: r.code,
                reason: v["reason"].as_str().unwrap_or_default().to_owned(),
            }
        }
        _ => Entry::Item(serde_json::from_str(&r.fields).map_err(bad)?),
    })
}

pub async fn scheme(conn: &mut Conn<'_>, district: OrgId) -> DbResult<Scheme> {
    let s: Option<String> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT scheme FROM catalog_settings WHERE district_id = $1"
    ).bind(district).fetch_optional(&mut *c).await?);
    Ok(s.as_deref()
        .and_then(Scheme::parse)
        .unwrap_or(Scheme::ThreeLists))
}

pub async fn set_scheme(conn: &mut Conn<'_>, district: OrgId, scheme: Scheme) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO catalog_settings (district_id, scheme, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (district_id) DO UPDATE SET scheme = $2, updated_at = $3"
    ).bind(district).bind(scheme.as_str()).bind(Timestamp::now()).execute(&mut *c).await?.rows_affected());
    Ok(())
}

const LIST_COLUMNS: &str = "id, district_id, township_key, current_version, published_version";

pub async fn list_by_id(conn: &mut Conn<'_>, id: i64) -> DbResult<Option<ListRow>> {
    let sql = format!("SELECT {LIST_COLUMNS} FROM catalog_lists WHERE id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

pub async fn find_list(
    conn: &mut Conn<'_>,
    district: OrgId,
    township_key: i64,
) -> DbResult<Option<ListRow>> {
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM catalog_lists WHERE district_id = $1 AND township_key = $2"
    );
    Ok(
        on_conn!(conn, c => sqlx::query_as(&sql).bind(district).bind(township_key).fetch_optional(&mut *c).await?),
    )
}

/// The list, created empty (version 0) on first use.
pub async fn ensure_list(
    conn: &mut Conn<'_>,
    district: OrgId,
    township_key: i64,
) -> DbResult<ListRow> {
    if let Some(l) = find_list(conn, district, township_key).await? {
        return Ok(l);
    }
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO catalog_lists (district_id, township_key, current_version, published_version)
         VALUES ($1, $2, 0, 0) ON CONFLICT (district_id, township_key) DO NOTHING"
    ).bind(district).bind(township_key).execute(&mut *c).await?.rows_affected());
    find_list(conn, district, township_key)
        .await?
        .ok_or(DbError::Sqlx(sqlx::Error::RowNotFound))
}

pub async fn lists_of(conn: &mut Conn<'_>, district: OrgId) -> DbResult<Vec<ListRow>> {
    let sql = format!(
        "SELECT {LIST_COLUMNS} FROM catalog_lists WHERE district_id = $1 ORDER BY township_key"
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(district).fetch_all(&mut *c).await?))
}

/// Entries valid at `version` (all kinds), ordered by code.
pub async fn entries_at(conn: &mut Conn<'_>, list_id: i64, version: i64) -> DbResult<Vec<Entry>> {
    let rows: Vec<ItemRow> = on_conn!(conn, c => sqlx::query_as(
        "SELECT kind, code, from_version, to_version, fields FROM catalog_items
         WHERE list_id = $1 AND from_version <= $2 AND (to_version IS NULL OR to_version > $2)
         ORDER BY code"
    ).bind(list_id).bind(version).fetch_all(&mut *c).await?);
    rows.into_iter().map(decode).collect()
}

/// Opens a new version, returning its number. The caller adds and closes revisions with it.
pub async fn open_version(
    conn: &mut Conn<'_>,
    list: &ListRow,
    by: &str,
    reason: &str,
) -> DbResult<i64> {
    // Bumping the counter with a version check serialises concurrent editors of one list.
    let v = list.current_version + 1;
    let n = on_conn!(conn, c => sqlx::query(
        "UPDATE catalog_lists SET current_version = $1 WHERE id = $2 AND current_version = $3"
    ).bind(v).bind(list.id).bind(list.current_version).execute(&mut *c).await?.rows_affected());
    if n != 1 {
        return Err(DbError::Sqlx(sqlx::Error::RowNotFound));
    }
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO catalog_versions (list_id, version, created_at, created_by, reason, summary)
         VALUES ($1, $2, $3, $4, $5, '')"
    ).bind(list.id).bind(v).bind(Timestamp::now()).bind(by).bind(reason).execute(&mut *c).await?.rows_affected());
    Ok(v)
}

pub async fn set_summary(
    conn: &mut Conn<'_>,
    list_id: i64,
    version: i64,
    summary: &str,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE catalog_versions SET summary = $1 WHERE list_id = $2 AND version = $3")
        .bind(summary).bind(list_id).bind(version).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// Ends the current revision of `code` (of `kind`) at `version`.
pub async fn close(
    conn: &mut Conn<'_>,
    list_id: i64,
    kind: &str,
    code: &str,
    version: i64,
) -> DbResult<u64> {
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE catalog_items SET to_version = $1 WHERE list_id = $2 AND kind = $3 AND code = $4
           AND to_version IS NULL"
    ).bind(version).bind(list_id).bind(kind).bind(code).execute(&mut *c).await?.rows_affected()))
}

pub async fn insert_entry(
    conn: &mut Conn<'_>,
    list_id: i64,
    version: i64,
    entry: &Entry,
) -> DbResult<()> {
    let (kind, code, name, lk, nc, cat, src, json) = match entry {
        Entry::Item(f) => (
            "item",
            f.code.as_str(),
            f.name.as_str(),
            f.list_kind.as_str(),
            f.national_class.as_str(),
            f.category.as_str(),
            f.source.as_str(),
            serde_json::to_string(f).unwrap_or_default(),
        ),
        Entry::Exclusion { code, reason } => (
            "exclusion",
            code.as_str(),
            "",
            "",
            "",
            "",
            "",
            serde_json::json!({ "reason": reason }).to_string(),
        ),
    };
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO catalog_items (list_id, kind, code, from_version, to_version, name, list_kind,
            national_class, category, source, fields)
         VALUES ($1, $2, $3, $4, NULL, $5, $6, $7, $8, $9, $10)"
    ).bind(list_id).bind(kind).bind(code).bind(version).bind(name).bind(lk).bind(nc).bind(cat)
    .bind(src).bind(json).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn versions(conn: &mut Conn<'_>, list_id: i64) -> DbResult<Vec<VersionRow>> {
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT list_id, version, created_at, created_by, reason, summary, published_at, published_by
         FROM catalog_versions WHERE list_id = $1 ORDER BY version DESC"
    ).bind(list_id).fetch_all(&mut *c).await?))
}

/// The newest version created at or before `at`, if any.
pub async fn version_at(
    conn: &mut Conn<'_>,
    list_id: i64,
    at: Timestamp,
    published_only: bool,
) -> DbResult<Option<i64>> {
    let extra = if published_only {
        " AND published_at IS NOT NULL AND published_at <= $2"
    } else {
        ""
    };
    let sql = format!(
        "SELECT MAX(version) FROM catalog_versions WHERE list_id = $1 AND created_at <= $2{extra}"
    );
    Ok(
        on_conn!(conn, c => sqlx::query_scalar::<_, Option<i64>>(&sql).bind(list_id).bind(at).fetch_one(&mut *c).await?),
    )
}

pub async fn publish(conn: &mut Conn<'_>, list: &ListRow, by: &str) -> DbResult<()> {
    let now = Timestamp::now();
    on_conn!(conn, c => {
        sqlx::query("UPDATE catalog_lists SET published_version = $1 WHERE id = $2")
            .bind(list.current_version).bind(list.id).execute(&mut *c).await?;
        sqlx::query("UPDATE catalog_versions SET published_at = $1, published_by = $2
                     WHERE list_id = $3 AND version = $4")
            .bind(now).bind(by).bind(list.id).bind(list.current_version).execute(&mut *c).await?;
    });
    Ok(())
}

/// Counts of current items by list kind, national class, category and source (for figures).
pub async fn counts(
    conn: &mut Conn<'_>,
    list_id: i64,
    version: i64,
    column: &str,
) -> DbResult<Vec<(String, i64)>> {
    let column = match column {
        "list_kind" | "national_class" | "category" | "source" => column,
        _ => "list_kind",
    };
    let sql = format!(
        "SELECT {column}, COUNT(*) FROM catalog_items WHERE list_id = $1 AND kind = 'item'
           AND from_version <= $2 AND (to_version IS NULL OR to_version > $2)
         GROUP BY {column} ORDER BY {column}"
    );
    Ok(
        on_conn!(conn, c => sqlx::query_as(&sql).bind(list_id).bind(version).fetch_all(&mut *c).await?),
    )
}
