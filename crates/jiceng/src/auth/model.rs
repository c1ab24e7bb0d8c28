//! Roles, the signed-in principal, its scope and capabilities, and the account rules.

use serde::{Deserialize, Serialize};

use crate::db::reference::Stamp;
use crate::error::{Error, Result};
use crate::ids::{OrgId, UserId};
use crate::orgs::model::{Org, OrgKind};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    SystemAdmin,
    SecurityAdmin,
    AuditAdmin,
    EstablishmentOffice,
    JusticeBureau,
    DepartmentOfficer,
    StationHead,
    TownshipLeader,
    TownshipOfficer,
    Dispatcher,
    WindowClerk,
    Approver,
    GridWorker,
    /// Anyone not signed in. Never assigned to an account.
    Public,
}

impl Role {
    pub const ALL: [Role; 14] = [
        Role::SystemAdmin,
        Role::SecurityAdmin,
        Role::AuditAdmin,
        Role::EstablishmentOffice,
        Role::JusticeBureau,
        Role::DepartmentOfficer,
        Role::StationHead,
        Role::TownshipLeader,
        Role::TownshipOfficer,
        Role::Dispatcher,
        Role::WindowClerk,
        Role::Approver,
        Role::GridWorker,
        Role::Public,
    ];

    /// The three separated administrative duties (三员分立).
    pub const ADMIN_DUTIES: [Role; 3] = [Role::SystemAdmin, Role::SecurityAdmin, Role::AuditAdmin];

    pub fn assignable() -> impl Iterator<Item = Role> {
        Self::ALL.into_iter().filter(|r| *r != Role::Public)
    }

    /// The roles a new account may be given in the system: the three administrators' are set
    /// up on the server (三员分立).
    pub fn grantable() -> impl Iterator<Item = Role> {
        Self::assignable().filter(|r| !r.is_admin())
    }

    /// One of the three administrators of 三员分立: each role must stay held by an active
    /// account, or its duties (accounts, system settings, the audit trail) have no one to
    /// carry them; and none is granted or reset in the system.
    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Role::SystemAdmin | Role::SecurityAdmin | Role::AuditAdmin
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Role::SystemAdmin => "system_admin",
            Role::SecurityAdmin => "security_admin",
            Role::AuditAdmin => "audit_admin",
            Role::EstablishmentOffice => "establishment_office",
            Role::JusticeBureau => "justice_bureau",
            Role::DepartmentOfficer => "department_officer",
            Role::StationHead => "station_head",
            Role::TownshipLeader => "township_leader",
            Role::TownshipOfficer => "township_officer",
            Role::Dispatcher => "dispatcher",
            Role::WindowClerk => "window_clerk",
            Role::Approver => "approver",
            Role::GridWorker => "grid_worker",
            Role::Public => "public",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Role::SystemAdmin => "系统管理员",
            Role::SecurityAdmin => "安全管理员",
            Role::AuditAdmin => "审计管理员",
            Role::EstablishmentOffice => "编办",
            Role::JusticeBureau => "司法局",
            Role::DepartmentOfficer => "部门工作人员",
            Role::StationHead => "派驻机构负责人",
            Role::TownshipLeader => "镇（街道）领导",
            Role::TownshipOfficer => "镇（街道）工作人员",
            Role::Dispatcher => "综合执法办调度员",
            Role::WindowClerk => "窗口受理员",
            Role::Approver => "后台审批员",
            Role::GridWorker => "网格员",
            Role::Public => "公众",
        }
    }

    /// The kinds of organisation an account holding this role may belong to.
    pub fn org_kinds(self) -> &'static [OrgKind] {
        use OrgKind::*;
        match self {
            Role::SystemAdmin | Role::SecurityAdmin | Role::AuditAdmin => &[District],
            Role::EstablishmentOffice | Role::JusticeBureau | Role::DepartmentOfficer => {
                &[Department]
            }
            Role::StationHead => &[Station],
            Role::TownshipLeader | Role::TownshipOfficer | Role::Dispatcher => &[Township],
            Role::WindowClerk | Role::Approver => &[District, Department, Township, Community],
            Role::GridWorker => &[Township, Community, Grid],
            Role::Public => &[],
        }
    }
}

/// Checks a set of roles for an account of `org`: at least one, no public, at most one of the
/// three administrative duties, and each role fitting the kind of organisation.
pub fn validate_roles(roles: &[Role], org: &Org) -> Result<Vec<Role>> {
    let mut roles = roles.to_vec();
    roles.sort();
    roles.dedup();
    if roles.is_empty() {
        return Err(Error::invalid("roles", "请至少选择一个角色"));
    }
    if roles.contains(&Role::Public) {
        return Err(Error::invalid("roles", "「公众」不是可分配的角色"));
    }
    let duties: Vec<_> = roles
        .iter()
        .filter(|r| Role::ADMIN_DUTIES.contains(r))
        .collect();
    if duties.len() > 1 {
        return Err(Error::invalid(
            "roles",
            "系统管理员、安全管理员、审计管理员三员分立，一个账号只能担任其中一个",
        ));
    }
    for r in &roles {
        if !r.org_kinds().contains(&org.kind) {
            let kinds: Vec<_> = r.org_kinds().iter().map(|k| k.label()).collect();
            return Err(Error::invalid(
                "roles",
                format!(
                    "角色「{}」的账号应属于{}，「{}」是{}",
                    r.label(),
                    kinds.join("、"),
                    org.name,
                    org.kind.label()
                ),
            ));
        }
    }
    Ok(roles)
}

/// Password policy: at least 10 characters and three of the four classes (lower case, upper
/// case, digits, symbols), and not containing the username.
pub fn check_password_policy(password: &str, username: &str) -> Result<()> {
    if password.chars().count() < 10 {
        return Err(Error::invalid("password", "密码至少 10 位"));
    }
    if password.chars().count() > 128 {
        return Err(Error::invalid("password", "密码不能超过 128 位"));
    }
    let classes = [
        password.chars().any(|c| c.is_ascii_lowercase()),
        password.chars().any(|c| c.is_ascii_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_ascii_alphanumeric()),
    ];
    if classes.iter().filter(|b| **b).count() < 3 {
        return Err(Error::invalid(
            "password",
            "密码须包含大写字母、小写字母、数字、符号中的至少三类",
        ));
    }
    if !username.is_empty() && password.to_lowercase().contains(&username.to_lowercase()) {
        return Err(Error::invalid("password", "密码不能包含用户名"));
    }
    // Three classes and ten characters still let through the words every guessing list
    // starts with, and the demo's password, which is printed in the README.
    let lower = password.to_lowercase();
    if COMMON_PASSWORD_PARTS.iter().any(|w| lower.contains(w)) {
        return Err(Error::invalid(
            "password",
            "密码过于常见（含 password、123456、qwerty 或公开的演示密码等），请换一个",
        ));
    }
    Ok(())
}

const COMMON_PASSWORD_PARTS: &[&str] = &[
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "123456",
    "654321",
    "qwerty",
    "asdfgh",
    "1qaz2wsx",
    "abc123",
    "admin123",
    "iloveyou",
    "jiceng@2026demo",
];

pub fn validate_username(username: &str) -> Result<String> {
    let u = username.trim().to_lowercase();
    let ok = (3..=32).contains(&u.len())
        && u.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
        && u.as_bytes()[0].is_ascii_alphabetic();
    if !ok {
        return Err(Error::invalid(
            "username",
            "用户名为 3–32 位小写字母、数字、下划线、点或连字符，以字母开头",
        ));
    }
    Ok(u)
}

pub fn validate_display_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 32 || n.chars().any(char::is_control) {
        return Err(Error::invalid(
            "display_name",
            "姓名不能为空，且不超过 32 个字",
        ));
    }
    Ok(n.to_owned())
}

/// Which organisations a principal's queries cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// District bodies and departments see the whole district.
    District,
    /// Township, community, grid and station staff see their township's subtree.
    Township { township_id: OrgId, path: String },
}

impl Scope {
    /// Derives the scope from the account's organisation: its township is the second element
    /// of the materialised path (district, township, …).
    pub fn for_org(org: &Org) -> Scope {
        match org.kind {
            OrgKind::District | OrgKind::Department => Scope::District,
            OrgKind::Township | OrgKind::Community | OrgKind::Grid | OrgKind::Station => {
                let lineage = org.lineage();
                match lineage.get(..2) {
                    Some([d, t]) => Scope::Township {
                        township_id: *t,
                        path: format!("/{d}/{t}/"),
                    },
                    _ => Scope::Township {
                        township_id: org.id,
                        path: org.path.clone(),
                    },
                }
            }
        }
    }

    /// The path prefix a query must stay under, if any.
    pub fn path_prefix(&self) -> Option<&str> {
        match self {
            Scope::District => None,
            Scope::Township { path, .. } => Some(path),
        }
    }

    pub fn covers(&self, org: &Org) -> bool {
        match self {
            Scope::District => true,
            Scope::Township { path, .. } => org.path.starts_with(path.as_str()),
        }
    }
}

/// A signed-in user, as every handler sees it.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: UserId,
    pub username: String,
    pub display_name: String,
    pub org: Org,
    pub roles: Vec<Role>,
    pub scope: Scope,
    pub csrf_token: String,
    pub session_hash: String,
    /// The reference data's stamp, read with the session: the request's lookups of
    /// organisations, categories and the like go through the caches under it.
    pub reference: Stamp,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn has_any(&self, roles: &[Role]) -> bool {
        roles.iter().any(|r| self.has(*r))
    }

    pub fn role_labels(&self) -> String {
        self.roles
            .iter()
            .map(|r| r.label())
            .collect::<Vec<_>>()
            .join("、")
    }

    /// The capability to change the organisation tree, held by the system administrator and
    /// the establishment office (编办 keeps the institutional structure).
    pub fn org_manager(&self) -> Option<OrgManager<'_>> {
        self.has_any(&[Role::SystemAdmin, Role::EstablishmentOffice])
            .then_some(OrgManager(self))
    }

    /// The capability to manage accounts and roles: the security administrator's duty alone.
    pub fn account_manager(&self) -> Option<AccountManager<'_>> {
        self.has(Role::SecurityAdmin)
            .then_some(AccountManager(self))
    }

    /// The capability to read and export the audit trail: the audit administrator's duty alone.
    pub fn auditor(&self) -> Option<Auditor<'_>> {
        self.has(Role::AuditAdmin).then_some(Auditor(self))
    }

    pub fn require<T>(cap: Option<T>) -> Result<T> {
        cap.ok_or_else(|| Error::forbidden("您的角色无权进行此操作"))
    }
}

/// Proof that the holder may change organisations. Only [`Principal::org_manager`] makes one,
/// so a write function that takes it cannot be reached without the check.
#[derive(Debug, Clone, Copy)]
pub struct OrgManager<'a>(&'a Principal);

impl OrgManager<'_> {
    pub fn principal(&self) -> &Principal {
        self.0
    }
}

#[derive(Debug, Clone, Copy)]
pub struct AccountManager<'a>(&'a Principal);

impl AccountManager<'_> {
    pub fn principal(&self) -> &Principal {
        self.0
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Auditor<'a>(&'a Principal);

impl Auditor<'_> {
    pub fn principal(&self) -> &Principal {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::orgs::model::OrgStatus;
    use crate::time::Timestamp;

    fn org(kind: OrgKind, path: &str) -> Org {
        Org {
            id: OrgId(9),
            kind,
            subkind: None,
            code: "x".into(),
            name: "某单位".into(),
            parent_id: None,
            department_id: None,
            path: path.into(),
            status: OrgStatus::Active,
            retired_at: None,
            retired_reason: None,
            created_at: Timestamp::from_micros(0),
            updated_at: Timestamp::from_micros(0),
        }
    }

    #[test]
    fn no_account_holds_two_admin_duties() {
        let d = org(OrgKind::District, "/1/");
        assert!(validate_roles(&[Role::SystemAdmin, Role::AuditAdmin], &d).is_err());
        assert!(validate_roles(&[Role::SecurityAdmin], &d).is_ok());
    }

    #[test]
    fn a_role_must_fit_the_organisation() {
        let t = org(OrgKind::Township, "/1/5/");
        assert!(validate_roles(&[Role::TownshipOfficer, Role::Dispatcher], &t).is_ok());
        assert!(validate_roles(&[Role::StationHead], &t).is_err());
        assert!(validate_roles(&[], &t).is_err());
        assert!(validate_roles(&[Role::Public], &t).is_err());
    }

    #[test]
    fn the_password_policy_wants_ten_characters_and_three_classes() {
        assert!(check_password_policy("Abcdefgh1!", "zhang").is_ok());
        assert!(check_password_policy("Abcdef1!", "zhang").is_err());
        assert!(check_password_policy("abcdefghij12", "zhang").is_err());
        assert!(check_password_policy("abcdefghij1!", "zhang").is_ok());
        assert!(check_password_policy("Zhang-2026-x", "zhang").is_err());
        assert!(check_password_policy("Password123", "zhang").is_err());
        assert!(check_password_policy("Jiceng@2026demo", "zhang").is_err());
        assert!(check_password_policy("Qwerty-2026", "zhang").is_err());
    }

    #[test]
    fn usernames_are_lower_case_ascii() {
        assert_eq!(validate_username(" XiPu_Officer ").unwrap(), "xipu_officer");
        assert!(validate_username("张三").is_err());
        assert!(validate_username("1abc").is_err());
        assert!(validate_username("ab").is_err());
    }

    #[test]
    fn staff_below_a_township_see_that_township() {
        let grid = org(OrgKind::Grid, "/1/5/37/120/");
        assert_eq!(
            Scope::for_org(&grid),
            Scope::Township {
                township_id: OrgId(5),
                path: "/1/5/".into()
            }
        );
        assert_eq!(
            Scope::for_org(&org(OrgKind::Department, "/1/3/")),
            Scope::District
        );
        let other = org(OrgKind::Community, "/1/6/40/");
        assert!(!Scope::for_org(&grid).covers(&other));
    }
}
