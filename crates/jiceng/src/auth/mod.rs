//! Accounts, roles, sign-in and sessions.

pub mod model;
pub mod remembered;
pub mod routes;
pub mod store;

use rand::RngCore;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::audit::{self, Actor};
use crate::db::reference::{self, Stamp};
use crate::db::{Conn, Db, Reader};
use crate::error::{Error, Result};
use crate::ids::{OrgId, UserId};
use crate::orgs;
use crate::time::Timestamp;
pub use model::{AccountManager, Principal, Role, Scope};
pub use remembered::{Recalled, forget, recall, still_current, token_hashes};
use store::UserRow;

/// Failed sign-ins in a row that lock an account.
pub const LOCKOUT_THRESHOLD: i64 = 5;
pub const LOCKOUT_SECONDS: i64 = 15 * 60;
/// A session that lives longer than this is ended however active it is.
pub const SESSION_MAX_SECONDS: i64 = 12 * 3600;

pub fn random_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Hashes a password with argon2 off the async threads: one hash takes tens of milliseconds.
pub async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || password_auth::generate_hash(password))
        .await
        .map_err(Error::internal)
}

async fn verify_password(password: String, hash: String) -> Result<bool> {
    tokio::task::spawn_blocking(move || password_auth::verify_password(password, &hash).is_ok())
        .await
        .map_err(Error::internal)
}

/// A hash of a random password, verified against when the username is unknown so that the
/// answer takes as long as for a real account.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| password_auth::generate_hash(random_token()))
}

/// Why a sign-in failed, in words the user may see. Unknown user and wrong password read the
/// same so that the form does not reveal which usernames exist.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("用户名或密码错误")]
    BadCredentials,
    #[error("连续 {LOCKOUT_THRESHOLD} 次密码错误，账号已锁定至 {0}，请稍后再试或联系安全管理员")]
    Locked(String),
    #[error("账号已停用，请联系安全管理员")]
    Disabled,
    /// The password was right, but an administrator set it (a new account, or a reset): the
    /// owner chooses their own (`new_password`) before the session begins.
    #[error("您的密码由安全管理员设置，请设置本人的新密码后登录")]
    MustChangePassword,
    #[error(transparent)]
    Other(#[from] Error),
}

/// Characters of an unknown username kept in the audit trail.
const TYPED_USERNAME_CHARS: usize = 64;

pub struct NewSession {
    pub token: String,
    pub principal: Principal,
}

/// Signs in. Every outcome is audited; five failures in a row lock the account for 15 minutes.
pub async fn login(
    db: &Db,
    username: &str,
    password: &str,
    new_password: Option<&str>,
    origin: &Actor,
    user_agent: &str,
) -> Result<NewSession, LoginError> {
    let username = username.trim().to_lowercase();
    let now = Timestamp::now();
    let user = {
        let mut c = db.acquire().await.map_err(Error::from)?;
        store::user_by_name(&mut c.conn(), &username)
            .await
            .map_err(Error::from)?
    };
    // The trail keeps what was typed, but no more of it than a username can be: a megabyte
    // typed as one would otherwise be a megabyte audit row, kept for 184 days.
    let typed: String = match username.char_indices().nth(TYPED_USERNAME_CHARS) {
        Some((cut, _)) => format!("{}…", &username[..cut]),
        None => username.clone(),
    };
    let anon = Actor {
        name: typed.clone(),
        ..origin.clone()
    };
    let Some(user) = user else {
        verify_password(password.to_owned(), decoy_hash().to_owned()).await?;
        audit::record_alone(db, &anon, "login_failed", &typed, "用户名不存在").await?;
        return Err(LoginError::BadCredentials);
    };
    let actor = Actor {
        user_id: Some(user.id),
        org_id: Some(user.org_id),
        ..anon
    };
    if let Some(until) = user.locked_until.filter(|t| *t > now) {
        audit::record_alone(
            db,
            &actor,
            "login_failed",
            &username,
            "账号锁定期间尝试登录",
        )
        .await?;
        return Err(LoginError::Locked(until.local()));
    }
    if !verify_password(password.to_owned(), user.password_hash.clone()).await? {
        let wrong = WrongPassword {
            action: "login_failed",
            what: "密码",
            on_lock: "连续密码错误，锁定 15 分钟",
            end_sessions: false,
        };
        return Err(match wrong.count(db, &user, &actor, now).await? {
            Some(until) => LoginError::Locked(until.local()),
            None => LoginError::BadCredentials,
        });
    }
    if user.status != "active" {
        audit::record_alone(db, &actor, "login_failed", &username, "账号已停用").await?;
        return Err(LoginError::Disabled);
    }
    // After a reset or on a new account the owner's own password comes first: the one the
    // administrator chose opens no session.
    let renewed = match (user.must_change_password, new_password) {
        (false, None) => None,
        // Taken silently, the caller would believe the password changed.
        (false, Some(_)) => {
            return Err(Error::invalid(
                "new_password",
                "该账号无需改设密码；修改密码请登录后在“修改密码”中进行",
            )
            .into());
        }
        (true, None) => return Err(LoginError::MustChangePassword),
        (true, Some(new)) => {
            check_new_password(new, &user.username)?;
            if new == password {
                return Err(
                    Error::invalid("new_password", "新密码不能与安全管理员设置的密码相同").into(),
                );
            }
            Some(hash_password(new.to_owned()).await?)
        }
    };
    let token = random_token();
    let hash = token_hash(&token);
    let csrf = random_token();
    let mut tx = db.begin().await.map_err(Error::from)?;
    let mut conn = tx.conn();
    if let Some(renewed) = renewed {
        store::set_password(&mut conn, user.id, &renewed, false)
            .await
            .map_err(Error::from)?;
        audit::record(
            &mut conn,
            &actor,
            "account.password_change",
            &username,
            "替换安全管理员设置的密码",
        )
        .await?;
    }
    store::clear_failures(&mut conn, user.id)
        .await
        .map_err(Error::from)?;
    store::insert_session(&mut conn, &hash, user.id, &csrf, &origin.ip, user_agent)
        .await
        .map_err(Error::from)?;
    audit::record(&mut conn, &actor, "login", &username, "").await?;
    let roles = store::roles_of(&mut conn, user.id)
        .await
        .map_err(Error::from)?;
    let stamp = reference::stamp(&mut conn).await.map_err(Error::from)?;
    let principal = principal_for(db, &mut conn, &stamp, &user, roles, csrf, hash).await?;
    tx.commit().await.map_err(Error::from)?;
    Ok(NewSession { token, principal })
}

async fn principal_for(
    db: &Db,
    conn: &mut Conn<'_>,
    stamp: &Stamp,
    user: &UserRow,
    roles: Vec<Role>,
    csrf_token: String,
    session_hash: String,
) -> Result<Principal> {
    let org = orgs::get_at(db, &mut Reader::Held(conn), stamp, user.org_id)
        .await?
        .ok_or_else(|| Error::internal(format!("user {} has no org", user.id)))?;
    Ok(Principal {
        user_id: user.id,
        username: user.username.clone(),
        display_name: user.display_name.clone(),
        scope: Scope::for_org(&org),
        org,
        roles,
        csrf_token,
        session_hash,
        reference: stamp.clone(),
    })
}

pub enum SessionState {
    Active(Box<Principal>),
    /// The session existed but sat idle too long (or lived too long): ended now.
    Expired,
    Missing,
}

/// Resolves a session cookie. Sessions live in the database so that any `serve` process can
/// answer; `last_seen_at` is written at most once a minute to keep reads cheap. With
/// `remember`, an active session is also kept for [`recall`] by the routes whose write checks
/// it; other routes never recall one, and need not pay for keeping it.
pub async fn resume(
    db: &Db,
    token: &str,
    idle_seconds: i64,
    actor: &Actor,
    remember: bool,
) -> Result<SessionState> {
    let hash = token_hash(token);
    let now = Timestamp::now();
    let mut recent = db.acquire_recent().await?;
    let found = match store::session(&mut recent.conn(), &hash).await {
        Err(_) if recent.unchecked() => {
            // Lent without a check, the connection may be one the server has since ended; on a
            // checked one, the read's own failure is the answer.
            recent = db.acquire_checked().await?;
            store::session(&mut recent.conn(), &hash).await?
        }
        read => read?,
    };
    let Some(s) = found else {
        recent.keep();
        return Ok(SessionState::Missing);
    };
    let ended = !remembered::within_limits(now, s.last_seen_at, s.session_created_at, idle_seconds);
    if s.user.status != "active" || ended {
        let mut tx = db.begin().await?;
        store::delete_session(&mut tx.conn(), &hash).await?;
        let who = Actor {
            user_id: Some(s.user.id),
            name: s.user.username.clone(),
            org_id: Some(s.user.org_id),
            ..actor.clone()
        };
        audit::record(
            &mut tx.conn(),
            &who,
            "session_expired",
            &who.name,
            "会话超时或账号已停用",
        )
        .await?;
        tx.commit().await?;
        forget(db, &hash);
        return Ok(SessionState::Expired);
    }
    let mut conn = recent.conn();
    let mut last_seen_at = s.last_seen_at;
    if now.as_micros() - s.last_seen_at.as_micros() > remembered::TOUCH_AFTER_MICROS {
        store::touch_session(&mut conn, &hash, now).await?;
        last_seen_at = now;
    }
    let stamp = Stamp::from(s.reference_stamp.clone());
    let csrf = s.csrf_token.clone();
    let p = principal_for(db, &mut conn, &stamp, &s.user, s.roles(), csrf, hash).await?;
    recent.keep();
    if remember {
        remembered::remember(db, &s, last_seen_at, &p);
    }
    Ok(SessionState::Active(Box::new(p)))
}

pub async fn logout(db: &Db, principal: &Principal, actor: &Actor) -> Result<()> {
    let mut tx = db.begin().await?;
    store::delete_session(&mut tx.conn(), &principal.session_hash).await?;
    audit::record(&mut tx.conn(), actor, "logout", &principal.username, "").await?;
    tx.commit().await?;
    forget(db, &principal.session_hash);
    Ok(())
}

/// A wrong password typed by someone who named an account, at sign-in or when changing it:
/// counted with the account's failures and audited; at [`LOCKOUT_THRESHOLD`] the account
/// locks for [`LOCKOUT_SECONDS`], which is audited too.
struct WrongPassword {
    action: &'static str,
    /// Which password was wrong, as the audit row says it.
    what: &'static str,
    on_lock: &'static str,
    /// Whether locking also ends the account's sessions.
    end_sessions: bool,
}

impl WrongPassword {
    /// Counts it, all in one transaction; the lock's end if the account locked.
    async fn count(
        &self,
        db: &Db,
        user: &store::UserRow,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Option<Timestamp>> {
        let mut tx = db.begin().await?;
        let lock_until = now.plus_seconds(LOCKOUT_SECONDS);
        let (n, locked) =
            store::register_failure(&mut tx.conn(), user.id, LOCKOUT_THRESHOLD, lock_until).await?;
        let detail = format!("{}错误（第 {n} 次）", self.what);
        audit::record(&mut tx.conn(), actor, self.action, &user.username, &detail).await?;
        if locked {
            if self.end_sessions {
                store::delete_sessions_of(&mut tx.conn(), user.id).await?;
            }
            audit::record(
                &mut tx.conn(),
                actor,
                "user.lock",
                &user.username,
                self.on_lock,
            )
            .await?;
        }
        tx.commit().await?;
        Ok(locked.then_some(lock_until))
    }
}

/// The password policy for a password the owner chooses in place of another: the refusal
/// names `new_password`, the field where it was typed.
fn check_new_password(new: &str, username: &str) -> Result<()> {
    model::check_password_policy(new, username).map_err(|e| match e {
        Error::Invalid { message, .. } => Error::invalid("new_password", message),
        other => other,
    })
}

/// Changes one's own password: the old one must be right and the new one meet the policy.
pub async fn change_own_password(
    db: &Db,
    principal: &Principal,
    actor: &Actor,
    old: &str,
    new: &str,
) -> Result<()> {
    let user = {
        let mut c = db.acquire().await?;
        store::user_by_id(&mut c.conn(), principal.user_id).await?
    }
    .ok_or_else(|| Error::not_found("账号不存在"))?;
    if !verify_password(old.to_owned(), user.password_hash.clone()).await? {
        // Counted with the failed sign-ins: a session in the wrong hands must not be a way to
        // guess the password without limit. At the limit the account locks as at sign-in, and
        // its sessions end.
        let wrong = WrongPassword {
            action: "account.password_change_failed",
            what: "原密码",
            on_lock: "修改密码时连续输错原密码，锁定 15 分钟并退出登录",
            end_sessions: true,
        };
        if let Some(until) = wrong.count(db, &user, actor, Timestamp::now()).await? {
            forget(db, &principal.session_hash);
            return Err(Error::forbidden(format!(
                "原密码连续输错，账号已锁定至 {}，请届时重新登录",
                until.local()
            )));
        }
        return Err(Error::invalid("old_password", "原密码不正确"));
    }
    check_new_password(new, &user.username)?;
    if old == new {
        return Err(Error::invalid("new_password", "新密码不能与原密码相同"));
    }
    let hash = hash_password(new.to_owned()).await?;
    let mut tx = db.begin().await?;
    if !store::replace_password(&mut tx.conn(), user.id, &user.password_hash, &hash).await? {
        return Err(Error::conflict("密码刚刚已被修改，请用现在的密码重新操作"));
    }
    // A session elsewhere (a cookie left on a shared computer, or in someone else's hands)
    // ends with the old password; this one goes on.
    store::delete_other_sessions(&mut tx.conn(), user.id, &principal.session_hash).await?;
    audit::record(
        &mut tx.conn(),
        actor,
        "account.password_change",
        &user.username,
        "其他会话已退出",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// An account as the API and pages show it: never the hash.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Account {
    #[schema(value_type = i64)]
    pub id: UserId,
    pub username: String,
    pub display_name: String,
    #[schema(value_type = i64)]
    pub org_id: OrgId,
    pub org_name: String,
    pub roles: Vec<Role>,
    /// `active` or `disabled`.
    pub status: String,
    #[schema(value_type = Option<String>)]
    pub locked_until: Option<Timestamp>,
    pub failed_logins: i64,
    /// The password is the one the security administrator set (a new account, or a reset):
    /// the owner must replace it at the next sign-in.
    pub must_change_password: bool,
    #[schema(value_type = String)]
    pub created_at: Timestamp,
}

impl Account {
    pub fn role_labels(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join("、")
    }

    pub fn is_locked(&self) -> bool {
        self.locked_until.is_some_and(|t| t > Timestamp::now())
    }

    pub fn status_label(&self) -> &'static str {
        if self.status != "active" {
            "已停用"
        } else if self.is_locked() {
            "已锁定"
        } else if self.must_change_password {
            "正常（待本人设置密码）"
        } else {
            "正常"
        }
    }

    pub fn has_role(&self, r: &Role) -> bool {
        self.roles.contains(r)
    }

    /// Holds one of the three administrators' roles: set on the server, not in the system.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(Role::is_admin)
    }
}

async fn account_of(conn: &mut Conn<'_>, u: UserRow) -> Result<Account> {
    let roles = store::roles_of(conn, u.id).await?;
    let org_name = orgs::store::get(conn, u.org_id)
        .await?
        .map(|o| o.name)
        .unwrap_or_default();
    Ok(Account {
        id: u.id,
        username: u.username,
        display_name: u.display_name,
        org_id: u.org_id,
        org_name,
        roles,
        status: u.status,
        locked_until: u.locked_until,
        failed_logins: u.failed_logins,
        must_change_password: u.must_change_password,
        created_at: u.created_at,
    })
}

pub struct AccountList {
    pub items: Vec<Account>,
    pub total: i64,
}

pub async fn list_accounts(
    db: &Db,
    _cap: &AccountManager<'_>,
    q: Option<String>,
    org_id: Option<OrgId>,
    role: Option<Role>,
    page: u32,
    per_page: u32,
) -> Result<AccountList> {
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let query = store::UserQuery {
        q,
        org_id,
        role,
        limit: i64::from(per_page),
        offset: i64::from(page.max(1) - 1) * i64::from(per_page),
    };
    let (rows, total) = store::list(&mut conn, &query).await?;
    let mut items = Vec::with_capacity(rows.len());
    for r in rows {
        items.push(account_of(&mut conn, r).await?);
    }
    Ok(AccountList { items, total })
}

pub async fn get_account(db: &Db, _cap: &AccountManager<'_>, id: UserId) -> Result<Account> {
    let mut pooled = db.acquire().await?;
    let mut conn = pooled.conn();
    let u = store::user_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("账号不存在"))?;
    account_of(&mut conn, u).await
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct NewAccount {
    pub username: String,
    pub display_name: String,
    #[schema(value_type = i64)]
    pub org_id: OrgId,
    pub roles: Vec<Role>,
    pub password: String,
}

async fn active_org(conn: &mut Conn<'_>, id: OrgId) -> Result<crate::orgs::model::Org> {
    match orgs::store::get(conn, id).await? {
        Some(o) if o.is_active() => Ok(o),
        Some(o) => Err(Error::invalid(
            "org_id",
            format!("组织「{}」已撤销", o.name),
        )),
        None => Err(Error::invalid("org_id", "所选组织不存在")),
    }
}

pub async fn create_account(
    db: &Db,
    _cap: &AccountManager<'_>,
    actor: &Actor,
    new: NewAccount,
) -> Result<Account> {
    let username = model::validate_username(&new.username)?;
    let display_name = model::validate_display_name(&new.display_name)?;
    model::check_password_policy(&new.password, &username)?;
    let hash = hash_password(new.password).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let org = active_org(&mut conn, new.org_id).await?;
    let roles = model::validate_roles(&new.roles, &org)?;
    refuse_admin_roles(&[], &roles)?;
    let to_create = ToCreate {
        username: &username,
        display_name: &display_name,
        org: &org,
        roles: &roles,
        hash: &hash,
    };
    let id = insert_account(&mut conn, actor, &to_create, "").await?;
    let u = store::user_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| Error::internal("lost user"))?;
    let account = account_of(&mut conn, u).await?;
    tx.commit().await?;
    Ok(account)
}

#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
pub struct AccountUpdate {
    pub display_name: String,
    #[schema(value_type = i64)]
    pub org_id: OrgId,
    pub roles: Vec<Role>,
}

pub async fn update_account(
    db: &Db,
    cap: &AccountManager<'_>,
    actor: &Actor,
    id: UserId,
    upd: AccountUpdate,
) -> Result<Account> {
    let display_name = model::validate_display_name(&upd.display_name)?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let before = store::user_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("账号不存在"))?;
    let old_roles = store::roles_of(&mut conn, id).await?;
    let org = active_org(&mut conn, upd.org_id).await?;
    let roles = model::validate_roles(&upd.roles, &org)?;
    if id == cap.principal().user_id && roles != old_roles {
        return Err(Error::forbidden("安全管理员不能修改本人的角色"));
    }
    refuse_admin_roles(&old_roles, &roles)?;
    if before.status == "active" {
        let losing: Vec<Role> = old_roles
            .iter()
            .copied()
            .filter(|r| !roles.contains(r))
            .collect();
        keep_admin_roles_held(&mut conn, id, &losing).await?;
    }
    store::update_profile(&mut conn, id, &display_name, org.id).await?;
    store::set_roles(&mut conn, id, &roles).await?;
    if roles != old_roles || before.org_id != org.id {
        // New powers or a new organisation take effect at the next sign-in, not mid-session.
        store::delete_sessions_of(&mut conn, id).await?;
    }
    // What changed, from what: a role given or taken must be traceable from the trail alone.
    let labels = |rs: &[Role]| rs.iter().map(|r| r.label()).collect::<Vec<_>>().join("、");
    let mut changes = Vec::new();
    if before.display_name != display_name {
        changes.push(format!("姓名：{} → {display_name}", before.display_name));
    }
    if before.org_id != org.id {
        let old_org = orgs::store::get(&mut conn, before.org_id)
            .await?
            .map_or_else(|| before.org_id.0.to_string(), |o| o.name);
        changes.push(format!("组织：{old_org} → {}", org.name));
    }
    if roles != old_roles {
        changes.push(format!("角色：{} → {}", labels(&old_roles), labels(&roles)));
    }
    if !changes.is_empty() {
        audit::record(
            &mut conn,
            actor,
            "user.update",
            &before.username,
            &changes.join("；"),
        )
        .await?;
    }
    let u = store::user_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| Error::internal("lost user"))?;
    let account = account_of(&mut conn, u).await?;
    tx.commit().await?;
    Ok(account)
}

pub async fn reset_password(
    db: &Db,
    cap: &AccountManager<'_>,
    actor: &Actor,
    id: UserId,
    password: &str,
) -> Result<()> {
    // A reset skips the old password; one's own goes through the change that asks for it.
    if id == cap.principal().user_id {
        return Err(Error::forbidden(
            "本人密码请在“修改密码”中修改（须验证原密码）",
        ));
    }
    let (user, roles) = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let user = store::user_by_id(&mut conn, id)
            .await?
            .ok_or_else(|| Error::not_found("账号不存在"))?;
        let roles = store::roles_of(&mut conn, id).await?;
        (user, roles)
    };
    if roles.iter().any(Role::is_admin) {
        return Err(Error::forbidden(
            "管理员账号的密码由运维人员在服务器上用“jiceng account password 用户名”重置",
        ));
    }
    model::check_password_policy(password, &user.username)?;
    let hash = hash_password(password.to_owned()).await?;
    store_reset(db, actor, &user, &hash, "").await
}

/// Stores a password someone set for the account's owner, who must replace it at the next
/// sign-in; every session of the account ends, and the reset is recorded.
async fn store_reset(
    db: &Db,
    actor: &Actor,
    user: &store::UserRow,
    hash: &str,
    detail: &str,
) -> Result<()> {
    let mut tx = db.begin().await?;
    store::set_password(&mut tx.conn(), user.id, hash, true).await?;
    store::delete_sessions_of(&mut tx.conn(), user.id).await?;
    audit::record(
        &mut tx.conn(),
        actor,
        "user.password_reset",
        &user.username,
        detail,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Refuses a change that gives or takes an administrator role. The security administrator
/// manages the accounts, but one who could make an audit administrator (or a second security
/// administrator), or reset one's password and sign in as them, would hold all three duties
/// (三员分立); the three are set up on the server by its operators instead.
fn refuse_admin_roles(before: &[Role], after: &[Role]) -> Result<()> {
    let admin = |rs: &[Role]| -> Vec<Role> { rs.iter().copied().filter(Role::is_admin).collect() };
    if admin(before) != admin(after) {
        return Err(Error::forbidden(
            "系统、安全、审计管理员（三员）账号由运维人员在服务器上用 jiceng account 命令设置，不能在系统内授予或取消",
        ));
    }
    Ok(())
}

/// Sets a temporary password for `username` from the server's command line: the operators'
/// way back into an administrator account (see [`refuse_admin_roles`]). The owner must replace
/// it at the next sign-in, and every session of the account ends.
pub async fn reset_password_by_operator(db: &Db, username: &str) -> Result<String> {
    let user = {
        let mut c = db.acquire().await?;
        store::user_by_name(&mut c.conn(), &username.trim().to_lowercase()).await?
    }
    .ok_or_else(|| Error::not_found(format!("账号 {username} 不存在")))?;
    let password = temporary_password();
    let hash = hash_password(password.clone()).await?;
    let actor = Actor::system("命令行");
    store_reset(db, &actor, &user, &hash, "运维人员在服务器上重置").await?;
    Ok(password)
}

/// Creates an account from the server's command line, with a temporary password it returns:
/// the operators' way to set up an administrator (see [`refuse_admin_roles`]), or any account.
/// The owner must replace the password at the first sign-in.
pub async fn create_account_by_operator(
    db: &Db,
    username: &str,
    display_name: &str,
    org_code: Option<&str>,
    roles: &[Role],
) -> Result<String> {
    let username = model::validate_username(username)?;
    let display_name = model::validate_display_name(display_name)?;
    let org_id = match org_code {
        Some(code) => {
            let mut c = db.acquire().await?;
            orgs::store::get_by_code(&mut c.conn(), code.trim())
                .await?
                .ok_or_else(|| Error::invalid("org", format!("组织代码 {code} 不存在")))?
                .id
        }
        None => crate::catalog::district_by_code(db, None).await?,
    };
    let password = temporary_password();
    let hash = hash_password(password.clone()).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let org = active_org(&mut conn, org_id).await?;
    let roles = model::validate_roles(roles, &org)?;
    let to_create = ToCreate {
        username: &username,
        display_name: &display_name,
        org: &org,
        roles: &roles,
        hash: &hash,
    };
    let actor = Actor::system("命令行");
    insert_account(&mut conn, &actor, &to_create, "（运维人员在服务器上创建）").await?;
    tx.commit().await?;
    Ok(password)
}

/// An account checked and about to be stored.
struct ToCreate<'a> {
    username: &'a str,
    display_name: &'a str,
    org: &'a crate::orgs::model::Org,
    roles: &'a [Role],
    hash: &'a str,
}

/// Stores a new account with its roles and records who made it. The password is the one its
/// maker chose, so it opens no session: the owner replaces it at the first sign-in.
async fn insert_account(
    conn: &mut Conn<'_>,
    actor: &Actor,
    new: &ToCreate<'_>,
    note: &str,
) -> Result<UserId> {
    let id = store::insert_user(
        conn,
        new.username,
        new.display_name,
        new.org.id,
        new.hash,
        true,
    )
    .await
    .map_err(|e| Error::unique_or(e, "该用户名已被使用"))?;
    store::set_roles(conn, id, new.roles).await?;
    let labels: Vec<_> = new.roles.iter().map(|r| r.label()).collect();
    audit::record(
        conn,
        actor,
        "user.create",
        new.username,
        &format!(
            "{}，{}，角色：{}{note}",
            new.display_name,
            new.org.name,
            labels.join("、")
        ),
    )
    .await?;
    Ok(id)
}

/// A random password that meets the policy: letters of both cases and digits, in groups.
fn temporary_password() -> String {
    use rand::Rng;
    const LOWER: &[u8] = b"abcdefghijkmnpqrstuvwxyz";
    const UPPER: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    const DIGITS: &[u8] = b"23456789";
    let mut rng = rand::thread_rng();
    let mut pick = |set: &[u8]| -> String {
        (0..4)
            .map(|_| char::from(set[rng.gen_range(0..set.len())]))
            .collect()
    };
    format!("{}-{}-{}", pick(UPPER), pick(LOWER), pick(DIGITS))
}

/// Refuses a change by which account `id` gives up `losing` (by a new set of roles, or by
/// being disabled) if that leaves an administrator role without an active account.
async fn keep_admin_roles_held(conn: &mut Conn<'_>, id: UserId, losing: &[Role]) -> Result<()> {
    for role in losing.iter().filter(|r| r.is_admin()) {
        if store::count_active_with_role(conn, *role, id).await? == 0 {
            return Err(Error::conflict(format!(
                "「{}」须至少保留一个在用账号（三员分立）",
                role.label()
            )));
        }
    }
    Ok(())
}

/// What an account action does: unlock, disable or enable.
#[derive(Debug, Clone, Copy)]
pub enum AccountAction {
    Unlock,
    Disable,
    Enable,
}

pub async fn apply_account_action(
    db: &Db,
    cap: &AccountManager<'_>,
    actor: &Actor,
    id: UserId,
    action: AccountAction,
) -> Result<()> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let user = store::user_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("账号不存在"))?;
    // An action that would change nothing is refused, and so leaves no audit row claiming it.
    let audit_action = match action {
        AccountAction::Unlock => {
            let locked = user.locked_until.is_some_and(|t| t > Timestamp::now());
            if !locked && user.failed_logins == 0 {
                return Err(Error::conflict("该账号未被锁定"));
            }
            store::unlock(&mut conn, id).await?;
            "user.unlock"
        }
        AccountAction::Disable => {
            if id == cap.principal().user_id {
                return Err(Error::conflict("不能停用本人账号"));
            }
            if user.status != "active" {
                return Err(Error::conflict("该账号已停用"));
            }
            let roles = store::roles_of(&mut conn, id).await?;
            keep_admin_roles_held(&mut conn, id, &roles).await?;
            store::set_status(&mut conn, id, "disabled").await?;
            store::delete_sessions_of(&mut conn, id).await?;
            "user.disable"
        }
        AccountAction::Enable => {
            if user.status == "active" {
                return Err(Error::conflict("该账号已在使用中，无需启用"));
            }
            store::set_status(&mut conn, id, "active").await?;
            "user.enable"
        }
    };
    audit::record(&mut conn, actor, audit_action, &user.username, "").await?;
    tx.commit().await?;
    Ok(())
}

/// Creates an account without a capability check: for the demo loader and first set-up only.
pub async fn create_account_unchecked(
    conn: &mut Conn<'_>,
    actor: &Actor,
    username: &str,
    display_name: &str,
    org: &crate::orgs::model::Org,
    roles: &[Role],
    password_hash: &str,
) -> Result<UserId> {
    let roles = model::validate_roles(roles, org)?;
    let id = store::insert_user(conn, username, display_name, org.id, password_hash, false)
        .await
        .map_err(|e| Error::unique_or(e, "该用户名已被使用"))?;
    store::set_roles(conn, id, &roles).await?;
    audit::record(
        conn,
        actor,
        "user.create",
        username,
        &format!("{display_name}，{}", org.name),
    )
    .await?;
    Ok(id)
}
