//! All SQL of the accounts context: users, their roles, sessions.

use super::model::Role;
use crate::db::{Conn, DbResult, Dialect, escape_like, reference};
use crate::ids::{OrgId, UserId};
use crate::on_conn;
use crate::time::Timestamp;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    pub org_id: OrgId,
    pub password_hash: String,
    pub status: String,
    pub failed_logins: i64,
    pub locked_until: Option<Timestamp>,
    pub password_changed_at: Timestamp,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set by an administrator's reset: the next sign-in must choose a new password.
    pub must_change_password: bool,
}

const USER_COLUMNS: &str = "id, username, display_name, org_id, password_hash, status, \
     failed_logins, locked_until, password_changed_at, created_at, updated_at, \
     must_change_password";

pub async fn user_by_name(conn: &mut Conn<'_>, username: &str) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE username = $1");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(username).fetch_optional(&mut *c).await?))
}

pub async fn user_by_id(conn: &mut Conn<'_>, id: UserId) -> DbResult<Option<UserRow>> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await?))
}

pub async fn roles_of(conn: &mut Conn<'_>, id: UserId) -> DbResult<Vec<Role>> {
    let names: Vec<String> = on_conn!(conn, c => sqlx::query_scalar(
        "SELECT role FROM user_roles WHERE user_id = $1 ORDER BY role"
    ).bind(id).fetch_all(&mut *c).await?);
    let mut roles: Vec<Role> = names.iter().filter_map(|n| Role::parse(n)).collect();
    roles.sort();
    Ok(roles)
}

pub struct UserQuery {
    pub q: Option<String>,
    pub org_id: Option<OrgId>,
    pub role: Option<Role>,
    pub limit: i64,
    pub offset: i64,
}

pub async fn list(conn: &mut Conn<'_>, f: &UserQuery) -> DbResult<(Vec<UserRow>, i64)> {
    let mut clauses = vec!["1=1".to_owned()];
    let mut texts = Vec::new();
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        texts.push(format!("%{}%", escape_like(q)));
        clauses
            .push("(username LIKE $1 ESCAPE '\\' OR display_name LIKE $1 ESCAPE '\\')".to_owned());
    }
    if let Some(o) = f.org_id {
        clauses.push(format!("org_id = {}", o.0));
    }
    if let Some(r) = f.role {
        clauses.push(format!(
            "id IN (SELECT user_id FROM user_roles WHERE role = '{}')",
            r.as_str()
        ));
    }
    let w = clauses.join(" AND ");
    let list_sql = format!(
        "SELECT {USER_COLUMNS} FROM users WHERE {w} ORDER BY username LIMIT {} OFFSET {}",
        f.limit.clamp(1, 1000),
        f.offset.max(0)
    );
    let count_sql = format!("SELECT COUNT(*) FROM users WHERE {w}");
    Ok(on_conn!(conn, c => {
        let mut lq = sqlx::query_as::<_, UserRow>(&list_sql);
        let mut cq = sqlx::query_scalar::<_, i64>(&count_sql);
        for t in &texts {
            lq = lq.bind(t.clone());
            cq = cq.bind(t.clone());
        }
        (lq.fetch_all(&mut *c).await?, cq.fetch_one(&mut *c).await?)
    }))
}

pub async fn insert_user(
    conn: &mut Conn<'_>,
    username: &str,
    display_name: &str,
    org_id: OrgId,
    password_hash: &str,
    temporary: bool,
) -> DbResult<UserId> {
    let now = Timestamp::now();
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "INSERT INTO users (username, display_name, org_id, password_hash, status, failed_logins,
            password_changed_at, created_at, updated_at, must_change_password)
         VALUES ($1, $2, $3, $4, 'active', 0, $5, $5, $5, $6) RETURNING id"
    ).bind(username).bind(display_name).bind(org_id).bind(password_hash).bind(now).bind(temporary)
    .fetch_one(&mut *c).await?))
}

/// Active accounts other than `except` that hold `role`.
pub async fn count_active_with_role(
    conn: &mut Conn<'_>,
    role: Role,
    except: UserId,
) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_roles r JOIN users u ON u.id = r.user_id
         WHERE r.role = $1 AND u.status = 'active' AND u.id <> $2"
    ).bind(role.as_str()).bind(except).fetch_one(&mut *c).await?))
}

pub async fn set_roles(conn: &mut Conn<'_>, id: UserId, roles: &[Role]) -> DbResult<()> {
    on_conn!(conn, c => {
        sqlx::query("DELETE FROM user_roles WHERE user_id = $1").bind(id).execute(&mut *c).await?;
        for r in roles {
            sqlx::query("INSERT INTO user_roles (user_id, role) VALUES ($1, $2)")
                .bind(id).bind(r.as_str()).execute(&mut *c).await?;
        }
    });
    Ok(())
}

pub async fn update_profile(
    conn: &mut Conn<'_>,
    id: UserId,
    display_name: &str,
    org_id: OrgId,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE users SET display_name = $1, org_id = $2, updated_at = $3 WHERE id = $4"
    ).bind(display_name).bind(org_id).bind(Timestamp::now()).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// Sets a password; `temporary` when an administrator set it for the account's owner, who must
/// then choose their own at the next sign-in.
pub async fn set_password(
    conn: &mut Conn<'_>,
    id: UserId,
    hash: &str,
    temporary: bool,
) -> DbResult<()> {
    let now = Timestamp::now();
    on_conn!(conn, c => sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2,
            failed_logins = 0, locked_until = NULL, must_change_password = $3 WHERE id = $4"
    ).bind(hash).bind(now).bind(temporary).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn set_status(conn: &mut Conn<'_>, id: UserId, status: &str) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE users SET status = $1, updated_at = $2 WHERE id = $3")
        .bind(status).bind(Timestamp::now()).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn unlock(conn: &mut Conn<'_>, id: UserId) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE users SET failed_logins = 0, locked_until = NULL, updated_at = $1 WHERE id = $2"
    ).bind(Timestamp::now()).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// Counts one failed login; at `limit` the account locks until `lock_until` and the counter
/// starts again. Returns the count after this failure and whether it locked now.
pub async fn register_failure(
    conn: &mut Conn<'_>,
    id: UserId,
    limit: i64,
    lock_until: Timestamp,
) -> DbResult<(i64, bool)> {
    let n: i64 = on_conn!(conn, c => sqlx::query_scalar(
        "UPDATE users SET failed_logins = failed_logins + 1 WHERE id = $1 RETURNING failed_logins"
    ).bind(id).fetch_one(&mut *c).await?);
    if n >= limit {
        on_conn!(conn, c => sqlx::query(
            "UPDATE users SET failed_logins = 0, locked_until = $1 WHERE id = $2"
        ).bind(lock_until).bind(id).execute(&mut *c).await?.rows_affected());
        return Ok((n, true));
    }
    Ok((n, false))
}

pub async fn clear_failures(conn: &mut Conn<'_>, id: UserId) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query(
        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1"
    ).bind(id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn count_locked(conn: &mut Conn<'_>, now: Timestamp) -> DbResult<i64> {
    Ok(on_conn!(conn, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM users WHERE locked_until > $1"
    ).bind(now).fetch_one(&mut *c).await?))
}

pub async fn insert_session(
    conn: &mut Conn<'_>,
    token_hash: &str,
    user_id: UserId,
    csrf: &str,
    ip: &str,
    user_agent: &str,
) -> DbResult<()> {
    let now = Timestamp::now();
    on_conn!(conn, c => sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, last_seen_at, ip, user_agent)
         VALUES ($1, $2, $3, $4, $4, $5, $6)"
    ).bind(token_hash).bind(user_id).bind(csrf).bind(now).bind(ip).bind(user_agent)
    .execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// A session with its account and the account's roles, as resuming a session needs them.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionUser {
    pub token_hash: String,
    pub csrf_token: String,
    pub session_created_at: Timestamp,
    pub last_seen_at: Timestamp,
    /// The reference data's stamp ([`reference::CURRENT`]), read in the same statement.
    pub reference_stamp: Option<String>,
    /// Role identifiers, comma-separated; `None` when the account has none.
    roles: Option<String>,
    #[sqlx(flatten)]
    pub user: UserRow,
}

impl SessionUser {
    pub fn roles(&self) -> Vec<Role> {
        parse_roles(self.roles.as_deref())
    }
}

/// Roles from their identifiers, comma-separated as the statements here aggregate them.
pub fn parse_roles(csv: Option<&str>) -> Vec<Role> {
    let mut roles: Vec<Role> = csv
        .unwrap_or("")
        .split(',')
        .filter_map(Role::parse)
        .collect();
    roles.sort();
    roles
}

/// A session as [`sessions_json`] gives it: what a remembered session is checked by.
#[derive(Debug, serde::Deserialize)]
pub struct SessionFacts {
    pub token_hash: String,
    pub csrf_token: String,
    pub reference_stamp: Option<String>,
    pub roles: Option<String>,
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub org_id: i64,
    pub status: String,
}

/// The sessions of `filter` (on `s.token_hash`), each with what [`SessionFacts`] holds, as a
/// JSON array: a column for a statement of another context, which so checks the sessions its
/// write was admitted on along with its own reads, in one round trip rather than two.
pub fn sessions_json(dialect: Dialect, filter: &str) -> String {
    let (array, object) = match dialect {
        Dialect::Sqlite => ("json_group_array", "json_object"),
        Dialect::Postgres => ("json_agg", "json_build_object"),
    };
    format!(
        "(SELECT CAST(COALESCE({array}({object}(
            'token_hash', s.token_hash, 'csrf_token', s.csrf_token,
            'reference_stamp', {}, 'roles', {},
            'user_id', u.id, 'username', u.username, 'display_name', u.display_name,
            'org_id', u.org_id, 'status', u.status)), '[]') AS TEXT)
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE {filter})",
        reference::CURRENT,
        roles_of_user(dialect)
    )
}

/// The roles of the account `u`, comma-separated, as a column expression.
fn roles_of_user(dialect: Dialect) -> String {
    let roles = match dialect {
        Dialect::Sqlite => "group_concat(role, ',')",
        Dialect::Postgres => "string_agg(role, ',')",
    };
    format!("(SELECT {roles} FROM user_roles r WHERE r.user_id = u.id)")
}

/// The session, its account and roles, and the reference stamp, in one statement: every
/// request resumes a session.
pub async fn session(conn: &mut Conn<'_>, token_hash: &str) -> DbResult<Option<SessionUser>> {
    let user_columns: Vec<String> = USER_COLUMNS
        .split(", ")
        .map(|c| format!("u.{}", c.trim()))
        .collect();
    let sql = format!(
        "SELECT s.token_hash, s.csrf_token, s.created_at AS session_created_at, s.last_seen_at,
            {} AS reference_stamp, {} AS roles, {}
         FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        reference::CURRENT,
        roles_of_user(conn.dialect()),
        user_columns.join(", ")
    );
    Ok(on_conn!(conn, c => sqlx::query_as(&sql).bind(token_hash).fetch_optional(&mut *c).await?))
}

pub async fn touch_session(conn: &mut Conn<'_>, token_hash: &str, now: Timestamp) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
        .bind(now).bind(token_hash).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn delete_session(conn: &mut Conn<'_>, token_hash: &str) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
        .bind(token_hash).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// Ends the account's sessions other than the one with `kept` (a token hash).
pub async fn delete_other_sessions(
    conn: &mut Conn<'_>,
    user_id: UserId,
    kept: &str,
) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
        .bind(user_id).bind(kept).execute(&mut *c).await?.rows_affected());
    Ok(())
}

/// The owner's own new password, if the one it replaces is still `expected` (a hash): of two
/// changes made at once from the same old password, the second finds it gone.
pub async fn replace_password(
    conn: &mut Conn<'_>,
    id: UserId,
    expected: &str,
    hash: &str,
) -> DbResult<bool> {
    let now = Timestamp::now();
    Ok(on_conn!(conn, c => sqlx::query(
        "UPDATE users SET password_hash = $1, password_changed_at = $2, updated_at = $2,
            failed_logins = 0, locked_until = NULL, must_change_password = FALSE
         WHERE id = $3 AND password_hash = $4"
    ).bind(hash).bind(now).bind(id).bind(expected).execute(&mut *c).await?.rows_affected())
        == 1)
}

/// Ends every session of an account (after a password reset, a role change or disabling).
pub async fn delete_sessions_of(conn: &mut Conn<'_>, user_id: UserId) -> DbResult<()> {
    on_conn!(conn, c => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id).execute(&mut *c).await?.rows_affected());
    Ok(())
}

pub async fn delete_idle_sessions(conn: &mut Conn<'_>, seen_before: Timestamp) -> DbResult<u64> {
    Ok(
        on_conn!(conn, c => sqlx::query("DELETE FROM sessions WHERE last_seen_at < $1")
        .bind(seen_before).execute(&mut *c).await?.rows_affected()),
    )
}
