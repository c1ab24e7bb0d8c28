//! The demo district (郫都区): its real townships and communities, grids, departments, the
//! stations they keep in each township, and one account per role.

mod cases;
mod data;

use std::collections::HashMap;

use crate::audit::{self, Actor};
use crate::auth::{self, Role};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::orgs::model::{OrgKind, Subkind};
use crate::orgs::store as org_store;
pub use data::DEMO_PASSWORD;
use data::DemoKind;

/// An account the demo created, for printing once.
pub struct DemoAccount {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub org_name: String,
}

pub struct DemoSummary {
    pub orgs_by_kind: Vec<(OrgKind, usize)>,
    /// Items of the general catalog and of the townships' local additions.
    pub catalog: (usize, usize),
    pub accounts: Vec<DemoAccount>,
    pub password: &'static str,
}

fn kind_of(k: DemoKind) -> (OrgKind, Option<Subkind>) {
    match k {
        DemoKind::District => (OrgKind::District, None),
        DemoKind::Subdistrict => (OrgKind::Township, Some(Subkind::Subdistrict)),
        DemoKind::Town => (OrgKind::Township, Some(Subkind::Town)),
        DemoKind::Township => (OrgKind::Township, Some(Subkind::Township)),
        DemoKind::Village => (OrgKind::Community, Some(Subkind::Village)),
        DemoKind::Community => (OrgKind::Community, Some(Subkind::Community)),
        DemoKind::Grid => (OrgKind::Grid, None),
        DemoKind::Department => (OrgKind::Department, None),
        DemoKind::Station => (OrgKind::Station, None),
    }
}

/// Whether the database already holds organisations (then the demo is not loaded again).
pub async fn is_loaded(db: &Db) -> Result<bool> {
    let mut c = db.acquire().await?;
    let (_, total) = org_store::list(
        &mut c.conn(),
        &crate::orgs::OrgQuery {
            limit: 1,
            include_retired: true,
            ..Default::default()
        },
    )
    .await?;
    Ok(total > 0)
}

/// Loads the demo district and then a year of its cases.
pub async fn load(db: &Db) -> Result<DemoSummary> {
    let summary = load_district(db).await?;
    // After the district's commit: the cases read the townships' lists and grids.
    cases::load(db).await?;
    Ok(summary)
}

/// Loads the demo district without cases, in one transaction: all of it, or nothing. Tests
/// that count cases by hand start from this.
pub async fn load_district(db: &Db) -> Result<DemoSummary> {
    if is_loaded(db).await? {
        return Err(Error::conflict(
            "数据库中已有组织数据，演示数据只能载入空库",
        ));
    }
    let demo = data::demo_district();
    let actor = Actor::system("demo");
    // One hash for all demo accounts: argon2 is deliberately slow.
    let hash = auth::hash_password(DEMO_PASSWORD.to_owned()).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let mut by_code = HashMap::new();
    let mut counts: HashMap<OrgKind, usize> = HashMap::new();
    for o in &demo.orgs {
        let (kind, subkind) = kind_of(o.kind);
        let parent = o.parent_code.as_ref().and_then(|c| by_code.get(c));
        let department = o
            .department_code
            .as_ref()
            .and_then(|c| by_code.get(c))
            .map(|d: &crate::orgs::model::Org| d.id);
        // The demo goes through the same rules as anything an administrator enters.
        crate::orgs::model::validate_parent(kind, parent)?;
        crate::orgs::model::validate_code(kind, subkind, &o.code, parent)?;
        let org = org_store::insert(
            &mut conn, kind, subkind, &o.code, &o.name, parent, department,
        )
        .await?;
        *counts.entry(kind).or_default() += 1;
        by_code.insert(o.code.clone(), org);
    }
    let mut accounts = Vec::new();
    for u in &demo.users {
        let role =
            Role::parse(u.role).ok_or_else(|| Error::internal(format!("demo role {}", u.role)))?;
        let org = by_code
            .get(&u.org_code)
            .ok_or_else(|| Error::internal(format!("demo org {}", u.org_code)))?;
        debug_assert_eq!(u.password, DEMO_PASSWORD);
        auth::create_account_unchecked(
            &mut conn,
            &actor,
            &u.username,
            &u.display_name,
            org,
            &[role],
            &hash,
        )
        .await?;
        accounts.push(DemoAccount {
            username: u.username.clone(),
            display_name: u.display_name.clone(),
            role,
            org_name: org.name.clone(),
        });
    }
    let district = by_code
        .get("510117000000")
        .ok_or_else(|| Error::internal("demo district"))?
        .id;
    for (username, display_name) in
        crate::grids::demo::load(&mut conn, &actor, &by_code, &hash).await?
    {
        accounts.push(DemoAccount {
            username,
            display_name,
            role: Role::GridWorker,
            org_name: "犀浦街道网格".to_owned(),
        });
    }
    let catalog = crate::catalog::load_demo(&mut conn, district).await?;
    let n = demo.orgs.len();
    audit::record(
        &mut conn,
        &actor,
        "demo.load",
        "郫都区",
        &format!("{n} 个组织，{} 个账号", accounts.len()),
    )
    .await?;
    tx.commit().await?;
    let orgs_by_kind = OrgKind::ALL
        .iter()
        .map(|k| (*k, counts.get(k).copied().unwrap_or(0)))
        .collect();
    Ok(DemoSummary {
        orgs_by_kind,
        catalog,
        accounts,
        password: DEMO_PASSWORD,
    })
}
