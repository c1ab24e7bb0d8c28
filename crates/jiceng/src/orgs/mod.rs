//! The organisation tree: create, rename, move and retire, scoped by the principal.

pub mod model;
pub mod routes;
pub mod store;

use crate::audit::{self, Actor};
use crate::auth::model::{OrgManager, Principal, Scope};
use crate::db::reference::{Cache, Stamp};
use crate::db::{Conn, Db, Reader};
use crate::error::{Error, Result};
use crate::ids::OrgId;
use model::{NewOrg, Org, OrgKind};
pub use store::OrgQuery;

/// Loads an organisation the principal may see. Outside its scope reads as forbidden.
pub async fn get_visible(db: &Db, p: &Principal, id: OrgId) -> Result<Org> {
    let mut c = db.acquire().await?;
    let org = store::get(&mut c.conn(), id)
        .await?
        .ok_or_else(|| Error::not_found("组织不存在"))?;
    if !visible(&p.scope, &org) {
        return Err(Error::forbidden("该组织不在您的管辖范围内"));
    }
    Ok(org)
}

/// Organisations as this process has read them (see [`crate::db::reference`]): every request
/// resolves its principal's organisation, and every case intake its township and grid.
#[derive(Default)]
struct Cached {
    by_id: Cache<OrgId, Org>,
    by_code: Cache<String, Org>,
}

/// An organisation by id as of `stamp`, read from the database only when this process has
/// not read it under that stamp.
pub async fn get_at(
    db: &Db,
    reader: &mut Reader<'_, '_>,
    stamp: &Stamp,
    id: OrgId,
) -> Result<Option<Org>> {
    let cached = db.caches().get::<Cached>();
    Ok(cached
        .by_id
        .read_through_found(stamp, &id, async {
            store::get(&mut reader.conn().await?, id).await
        })
        .await?)
}

/// An organisation by code as of `stamp` (see [`get_at`]).
pub async fn get_by_code_at(
    db: &Db,
    reader: &mut Reader<'_, '_>,
    stamp: &Stamp,
    code: &str,
) -> Result<Option<Org>> {
    let cached = db.caches().get::<Cached>();
    Ok(cached
        .by_code
        .read_through_found(stamp, code, async {
            store::get_by_code(&mut reader.conn().await?, code).await
        })
        .await?)
}

/// Township staff see their own township's subtree, plus the district and its departments
/// (whom they work with every day); district staff see everything.
pub fn visible(scope: &Scope, org: &Org) -> bool {
    scope.covers(org) || matches!(org.kind, OrgKind::District | OrgKind::Department)
}

pub async fn list(db: &Db, p: &Principal, mut q: OrgQuery) -> Result<(Vec<Org>, i64)> {
    if let Some(prefix) = p.scope.path_prefix() {
        // Within a township's scope, departments and the district stay visible by kind.
        let kind_is_open = matches!(q.kind, Some(OrgKind::District | OrgKind::Department));
        if !kind_is_open {
            q.within = Some(match q.within {
                Some(w) if w.starts_with(prefix) => w,
                _ => prefix.to_owned(),
            });
        }
    }
    let mut c = db.acquire().await?;
    Ok(store::list(&mut c.conn(), &q).await?)
}

async fn load(conn: &mut Conn<'_>, id: OrgId, field: &str) -> Result<Org> {
    store::get(conn, id)
        .await?
        .ok_or_else(|| Error::invalid(field, "所选组织不存在"))
}

pub async fn create(db: &Db, cap: &OrgManager<'_>, actor: &Actor, new: NewOrg) -> Result<Org> {
    let name = model::validate_name(&new.name)?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let parent = match new.parent_id {
        Some(id) => Some(load(&mut conn, id, "parent_id").await?),
        None => None,
    };
    if let Some(p) = &parent {
        if !cap.principal().scope.covers(p) {
            return Err(Error::forbidden("上级组织不在您的管辖范围内"));
        }
    } else if cap.principal().scope != Scope::District {
        return Err(Error::forbidden("只有区级管理员可以新建区（县）"));
    }
    model::validate_parent(new.kind, parent.as_ref())?;
    let department = match new.department_id {
        Some(id) => Some(load(&mut conn, id, "department_id").await?),
        None => None,
    };
    model::validate_department(new.kind, department.as_ref())?;
    let code = model::validate_code(new.kind, new.subkind, &new.code, parent.as_ref())?;
    if store::sibling_name_taken(&mut conn, new.kind, new.parent_id, &name, None).await? {
        return Err(Error::conflict(format!(
            "同一上级下已有名为「{name}」的{}",
            new.kind.label()
        )));
    }
    let subkind = new.subkind.filter(|_| !new.kind.subkinds().is_empty());
    let org = store::insert(
        &mut conn,
        new.kind,
        subkind,
        &code,
        &name,
        parent.as_ref(),
        department.as_ref().map(|d| d.id),
    )
    .await
    .map_err(|e| Error::unique_or(e, &format!("编码 {code} 已存在")))?;
    audit::record(
        &mut conn,
        actor,
        "org.create",
        &format!("{} {}", org.code, org.name),
        &format!(
            "{}，上级：{}",
            org.kind_label(),
            parent.as_ref().map(|p| p.name.as_str()).unwrap_or("无")
        ),
    )
    .await?;
    tx.commit().await?;
    Ok(org)
}

async fn load_managed(conn: &mut Conn<'_>, cap: &OrgManager<'_>, id: OrgId) -> Result<Org> {
    let org = store::get(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("组织不存在"))?;
    if !cap.principal().scope.covers(&org) {
        return Err(Error::forbidden("该组织不在您的管辖范围内"));
    }
    if !org.is_active() {
        return Err(Error::conflict(format!(
            "「{}」已撤销，不能再修改",
            org.name
        )));
    }
    Ok(org)
}

pub async fn rename(
    db: &Db,
    cap: &OrgManager<'_>,
    actor: &Actor,
    id: OrgId,
    name: &str,
) -> Result<Org> {
    let name = model::validate_name(name)?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let org = load_managed(&mut conn, cap, id).await?;
    if org.name == name {
        return Ok(org);
    }
    if store::sibling_name_taken(&mut conn, org.kind, org.parent_id, &name, Some(id)).await? {
        return Err(Error::conflict(format!(
            "同一上级下已有名为「{name}」的{}",
            org.kind.label()
        )));
    }
    store::rename(&mut conn, id, &name).await?;
    audit::record(
        &mut conn,
        actor,
        "org.rename",
        &org.code,
        &format!("{} → {name}", org.name),
    )
    .await?;
    let updated = store::get(&mut conn, id)
        .await?
        .ok_or_else(|| Error::internal("lost org"))?;
    tx.commit().await?;
    Ok(updated)
}

/// Moves an organisation under another parent of the right kind. Division codes embed their
/// parent's, so a township or community that moves needs a new code (`new_code`); the codes of
/// its descendants follow.
pub async fn move_to(
    db: &Db,
    cap: &OrgManager<'_>,
    actor: &Actor,
    id: OrgId,
    new_parent_id: OrgId,
    new_code: Option<&str>,
) -> Result<Org> {
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let org = load_managed(&mut conn, cap, id).await?;
    let parent = load(&mut conn, new_parent_id, "parent_id").await?;
    if !cap.principal().scope.covers(&parent) {
        return Err(Error::forbidden("目标上级不在您的管辖范围内"));
    }
    if parent.path.starts_with(&org.path) {
        return Err(Error::invalid("parent_id", "不能移到自身或其下级之下"));
    }
    if org.parent_id == Some(parent.id) {
        return Err(Error::invalid("parent_id", "目标上级与当前上级相同"));
    }
    model::validate_parent(org.kind, Some(&parent))?;
    let code_in = new_code
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or(&org.code);
    let code = model::validate_code(org.kind, org.subkind, code_in, Some(&parent)).map_err(
        |e| match e {
            Error::Invalid { field, message } if new_code.is_none() => Error::Invalid {
                field,
                message: format!("{message}；调整隶属时请同时填写新的编码"),
            },
            other => other,
        },
    )?;
    let prefix_change = match (
        model::embedded_prefix(org.kind, &org.code),
        model::embedded_prefix(org.kind, &code),
    ) {
        (Some(old), Some(new)) if old != new => Some((old.to_owned(), new.to_owned())),
        _ => None,
    };
    store::move_subtree(
        &mut conn,
        &org,
        &parent,
        &code,
        prefix_change
            .as_ref()
            .map(|(a, b)| (a.as_str(), b.as_str())),
    )
    .await
    .map_err(|e| Error::unique_or(e, &format!("编码 {code} 已存在")))?;
    audit::record(
        &mut conn,
        actor,
        "org.move",
        &format!("{} {}", org.code, org.name),
        &format!("新上级：{}（{}）；新编码：{code}", parent.name, parent.code),
    )
    .await?;
    let moved = store::get(&mut conn, id)
        .await?
        .ok_or_else(|| Error::internal("lost org"))?;
    tx.commit().await?;
    Ok(moved)
}

/// Retires an organisation. Nothing that history refers to is ever deleted; an organisation
/// with active children or accounts must first be emptied.
pub async fn retire(
    db: &Db,
    cap: &OrgManager<'_>,
    actor: &Actor,
    id: OrgId,
    reason: &str,
) -> Result<Org> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid("reason", "请填写撤销原因"));
    }
    if reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "撤销原因不超过 500 字"));
    }
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let org = load_managed(&mut conn, cap, id).await?;
    let children = store::count_active_children(&mut conn, id).await?;
    if children > 0 {
        return Err(Error::conflict(format!(
            "「{}」下还有 {children} 个在用的下级组织或派驻机构，请先撤销或调整",
            org.name
        )));
    }
    let users = store::count_active_users(&mut conn, id).await?;
    if users > 0 {
        return Err(Error::conflict(format!(
            "「{}」还有 {users} 个在用账号，请先停用或调整这些账号",
            org.name
        )));
    }
    // A retired grid's page is gone, and with it the way to end its workers' assignments.
    if org.kind == OrgKind::Grid {
        let serving: Vec<String> = crate::grids::store::assignments_of_grid(&mut conn, id)
            .await?
            .into_iter()
            .filter(|a| a.to_at.is_none())
            .map(|a| a.worker_name)
            .collect();
        if !serving.is_empty() {
            return Err(Error::conflict(format!(
                "「{}」还有在任网格员（{}），请先办理离任",
                org.name,
                serving.join("、")
            )));
        }
    }
    store::retire(&mut conn, id, reason).await?;
    audit::record(
        &mut conn,
        actor,
        "org.retire",
        &format!("{} {}", org.code, org.name),
        reason,
    )
    .await?;
    let retired = store::get(&mut conn, id)
        .await?
        .ok_or_else(|| Error::internal("lost org"))?;
    tx.commit().await?;
    Ok(retired)
}
