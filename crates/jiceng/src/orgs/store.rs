//! All SQL of the organisation context.

use super::model::{Org, OrgKind, OrgStatus, Subkind};
use crate::db::{Conn, DbError, DbResult, escape_like, reference};
use crate::ids::OrgId;
use crate::on_conn;
use crate::time::Timestamp;

const COLUMNS: &str = "id, kind, subkind, code, name, parent_id, department_id, path, status, \
                       retired_at, retired_reason, created_at, updated_at";

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: OrgId,
    kind: String,
    subkind: Option<String>,
    code: String,
    name: String,
    parent_id: Option<OrgId>,
    department_id: Option<OrgId>,
    path: String,
    status: String,
    retired_at: Option<Timestamp>,
    retired_reason: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl TryFrom<OrgRow> for Org {
    type Error = DbError;

    fn try_from(r: OrgRow) -> Result<Self, DbError> {
        let bad = |what: &str| DbError::decode(format!("orgs.{what} 值无效"));
        Ok(Org {
            id: r.id,
            kind: OrgKind::parse(&r.kind).ok_or_else(|| bad("kind"))?,
            subkind: match r.subkind {
                Some(s) => Some(Subkind::parse(&s).ok_or_else(|| bad("subkind"))?),
                None => None,
            },
            code: r.code,
            name: r.name,
            parent_id: r.parent_id,
            department_id: r.department_id,
            path: r.path,
            status: if r.status == "retired" {
                OrgStatus::Retired
            } else {
                OrgStatus::Active
            },
            retired_at: r.retired_at,
            retired_reason: r.retired_reason,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

fn convert(rows: Vec<OrgRow>) -> DbResult<Vec<Org>> {
    rows.into_iter().map(Org::try_from).collect()
}

pub async fn get(conn: &mut Conn<'_>, id: OrgId) -> DbResult<Option<Org>> {
    let sql = format!("SELECT {COLUMNS} FROM orgs WHERE id = $1");
    let row: Option<OrgRow> =
        on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?);
    row.map(Org::try_from).transpose()
}

pub async fn get_by_code(conn: &mut Conn<'_>, code: &str) -> DbResult<Option<Org>> {
    let sql = format!("SELECT {COLUMNS} FROM orgs WHERE code = $1");
    let row: Option<OrgRow> =
        on_conn!(conn, c => sqlx::query_as(&sql).bind(code).fetch_optional(&mut *c).await?);
    row.map(Org::try_from).transpose()
}

/// Filters for listing. `within` restricts to a subtree by materialised path.
#[derive(Debug, Default, Clone)]
pub struct OrgQuery {
    pub q: Option<String>,
    pub kind: Option<OrgKind>,
    pub parent_id: Option<OrgId>,
    /// Stations of this department.
    pub department_id: Option<OrgId>,
    pub within: Option<String>,
    pub include_retired: bool,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list(conn: &mut Conn<'_>, q: &OrgQuery) -> DbResult<(Vec<Org>, i64)> {
    let mut clauses = vec!["1=1".to_owned()];
    let mut texts: Vec<String> = Vec::new();
    let arg = |v: String, texts: &mut Vec<String>| {
        texts.push(v);
        format!("${}", texts.len())
    };
    if let Some(s) = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let p = arg(format!("%{}%", escape_like(s)), &mut texts);
        clauses.push(format!(
            "(name LIKE {p} ESCAPE '\\' OR code LIKE {p} ESCAPE '\\')"
        ));
    }
    if let Some(k) = q.kind {
        let p = arg(k.as_str().to_owned(), &mut texts);
        clauses.push(format!("kind = {p}"));
    }
    if let Some(w) = &q.within {
        let p = arg(format!("{w}%"), &mut texts);
        clauses.push(format!("path LIKE {p}"));
    }
    if let Some(pid) = q.parent_id {
        clauses.push(format!("parent_id = {}", pid.0));
    }
    if let Some(did) = q.department_id {
        clauses.push(format!("department_id = {}", did.0));
    }
    if !q.include_retired {
        clauses.push("status = 'active'".to_owned());
    }
    let where_sql = clauses.join(" AND ");
    let list_sql = format!(
        "SELECT {COLUMNS} FROM orgs WHERE {where_sql} ORDER BY code LIMIT {} OFFSET {}",
        q.limit.clamp(1, 100_000),
        q.offset.max(0)
    );
    let count_sql = format!("SELECT COUNT(*) FROM orgs WHERE {where_sql}");
    let (rows, total) = on_conn!(conn, c => {
        let mut lq = sqlx::query_as::<_, OrgRow>(&list_sql);
        let mut cq = sqlx::query_scalar::<_, i64>(&count_sql);
        for t in &texts {
            lq = lq.bind(t.clone());
            cq = cq.bind(t.clone());
        }
        (lq.fetch_all(&mut *c).await?, cq.fetch_one(&mut *c).await?)
    });
    Ok((convert(rows)?, total))
}

pub async fn insert(
    conn: &mut Conn<'_>,
    kind: OrgKind,
    subkind: Option<Subkind>,
    code: &str,
    name: &str,
    parent: Option<&Org>,
    department_id: Option<OrgId>,
) -> DbResult<Org> {
    let now = Timestamp::now();
    // The path needs the new id, so insert with a placeholder and fix it in the same transaction.
    let id: OrgId = on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO orgs (kind, subkind, code, name, parent_id, department_id, path, status,
            created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, '', 'active', $7, $7) RETURNING id"
    )
    .bind(kind.as_str()).bind(subkind.map(Subkind::as_str)).bind(code).bind(name)
    .bind(parent.map(|p| p.id)).bind(department_id).bind(now)
    .fetch_one(&mut *c).await?);
    let path = format!(
        "{}{}/",
        parent.map(|p| p.path.as_str()).unwrap_or("/"),
        id.0
    );
    on_conn!(conn, c => sqlx::query("UPDATE orgs SET path = $1 WHERE id = $2")
        .bind(&path).bind(id).execute(&mut *c).await?.rows_affected());
    reference::bump(conn).await?;
    get(conn, id)
        .await?
        .ok_or_else(|| DbError::Sqlx(sqlx::Error::RowNotFound))
}

pub async fn rename(conn: &mut Conn<'_>, id: OrgId, name: &str) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE orgs SET name = $1, updated_at = $2 WHERE id = $3")
        .bind(name).bind(Timestamp::now()).bind(id).execute(&mut *c).await?.rows_affected());
    reference::bump(conn).await?;
    Ok(())
}

/// Moves `org` under `new_parent`: rewrites the materialised path of the whole subtree and,
/// where the division code changes, the codes of descendants that embed it.
pub async fn move_subtree(
    conn: &mut Conn<'_>,
    org: &Org,
    new_parent: &Org,
    new_code: &str,
    code_prefix_change: Option<(&str, &str)>,
) -> DbResult<()> {
    let new_path = format!("{}{}/", new_parent.path, org.id.0);
    let now = Timestamp::now();
    let old_len = org.path.chars().count() as i64;
    on_conn!(conn, c => {
        sqlx::query(
            "UPDATE orgs SET path = $1 || SUBSTR(path, CAST($2 AS INTEGER)), updated_at = $3 WHERE path LIKE $4",
        )
        .bind(&new_path).bind(old_len + 1).bind(now).bind(format!("{}%", org.path))
        .execute(&mut *c).await?;
        sqlx::query("UPDATE orgs SET parent_id = $1, code = $2 WHERE id = $3")
            .bind(new_parent.id).bind(new_code).bind(org.id).execute(&mut *c).await?;
        if let Some((old, new)) = code_prefix_change {
            let old_len = old.chars().count() as i64;
            sqlx::query(
                "UPDATE orgs SET code = $1 || SUBSTR(code, CAST($2 AS INTEGER)) WHERE path LIKE $3
                   AND id <> $4 AND SUBSTR(code, 1, CAST($5 AS INTEGER)) = $6",
            )
            .bind(new).bind(old_len + 1).bind(format!("{new_path}%")).bind(org.id)
            .bind(old_len).bind(old)
            .execute(&mut *c).await?;
        }
    });
    reference::bump(conn).await
}

pub async fn retire(conn: &mut Conn<'_>, id: OrgId, reason: &str) -> DbResult<()> {
    let now = Timestamp::now();
    on_conn!(conn, c => sqlx::query(
        "UPDATE orgs SET status = 'retired', retired_at = $1, retired_reason = $2, updated_at = $1
         WHERE id = $3"
    ).bind(now).bind(reason).bind(id).execute(&mut *c).await?.rows_affected());
    reference::bump(conn).await
}

pub async fn count_active_children(conn: &mut Conn<'_>, id: OrgId) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM orgs WHERE (parent_id = $1 OR department_id = $1) AND status = 'active'"
    ).bind(id).fetch_one(&mut *c).await?))
}

pub async fn count_active_users(conn: &mut Conn<'_>, id: OrgId) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE org_id = $1 AND status = 'active'"
    ).bind(id).fetch_one(&mut *c).await?))
}

/// Whether an active sibling of the same kind already carries `name`.
pub async fn sibling_name_taken(
    conn: &mut Conn<'_>,
    kind: OrgKind,
    parent_id: Option<OrgId>,
    name: &str,
    except: Option<OrgId>,
) -> DbResult<bool> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM orgs WHERE kind = $1 AND name = $2 AND status = 'active'
           AND COALESCE(parent_id, 0) = COALESCE($3, 0) AND id <> COALESCE($4, 0)"
    ).bind(kind.as_str()).bind(name).bind(parent_id).bind(except).fetch_one(&mut *c).await?);
    Ok(n > 0)
}

/// Counts of active organisations by kind within a subtree (or everywhere), for home pages.
pub async fn count_by_kind(
    conn: &mut Conn<'_>,
    within: Option<&str>,
) -> DbResult<Vec<(String, i64)>> {
    let pattern = format!("{}%", within.unwrap_or("/"));
    Ok(on_conn!(conn, c => sqlx::query_as(
        "SELECT kind, COUNT(*) FROM orgs WHERE status = 'active' AND path LIKE $1 GROUP BY kind"
    ).bind(pattern).fetch_all(&mut *c).await?))
}
