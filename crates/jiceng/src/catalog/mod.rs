//! Duty lists (三张清单 / 履行职责事项清单): the district's general catalog and each township's
//! local additions, versioned on every change, published by the establishment office.

pub mod io;
pub mod model;
pub mod routes;
pub mod search;
pub mod store;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::audit::{self, Actor};
use crate::auth::{Principal, Role, Scope};
use crate::db::{Conn, Db};
use crate::error::{Error, Result};
use crate::ids::OrgId;
use crate::orgs::{self, model::Org, model::OrgKind};
use crate::time::Timestamp;
use model::{ItemFields, NationalClass, Scheme};
use store::{Entry, ListRow};

/// One change to a list.
#[derive(Debug, Clone)]
pub enum Change {
    Upsert(Box<ItemFields>),
    Remove(String),
    /// A township marks a general-catalog item as not applicable to it.
    Exclude {
        code: String,
        reason: String,
    },
    Include(String),
}

/// Who makes a change: a person editing or importing a list, or a completed process (a signed
/// handover, an approved admission) that puts its items on a township's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangedBy {
    Person,
    Process,
}

/// On a township's list, what a process put there is the process's to change: a person may
/// not edit or remove an item that carries a handover's or an admission's reference, give an
/// item such a reference, or add a delegated power (区级下放) of their own. `old` is the item
/// as listed, `new` what the change makes of it (`None`: removed).
pub fn person_may_change(old: Option<&ItemFields>, new: Option<&ItemFields>) -> Result<()> {
    if let Some(old) = old.filter(|o| !o.reference.trim().is_empty()) {
        let how = if old.source == model::Source::Delegated {
            "由部门通过收回流程移出"
        } else {
            "通过事务准入流程调整或撤销"
        };
        return Err(Error::invalid(
            "code",
            format!(
                "事项 {} 依据 {} 进入本清单，只能{how}",
                old.code, old.reference
            ),
        ));
    }
    let Some(new) = new else {
        return Ok(());
    };
    if !new.reference.trim().is_empty() {
        return Err(Error::invalid(
            "reference",
            format!(
                "事项 {} 的依据文号由下放交接或事务准入流程填写，不能手工录入",
                new.code
            ),
        ));
    }
    // Neither as a new item nor by turning one of the township's own into one.
    if new.source == model::Source::Delegated
        && old.is_none_or(|o| o.source != model::Source::Delegated)
    {
        return Err(Error::invalid(
            "source",
            format!(
                "区级下放事项须由部门登记并经交接进入清单，不能自行新增或改标（{}）",
                new.code
            ),
        ));
    }
    Ok(())
}

/// The district an organisation belongs to: the first element of its path.
pub fn district_of(org: &Org) -> OrgId {
    org.lineage().first().copied().unwrap_or(org.id)
}

/// Whether the principal may draft changes to a list: the establishment office for every
/// list, township leaders and officers for their own township's local additions.
fn may_edit(p: &Principal, list: &ListRow) -> bool {
    if p.has(Role::EstablishmentOffice) {
        return true;
    }
    let own_township = match &p.scope {
        Scope::Township { township_id, .. } => Some(township_id.0),
        Scope::District => None,
    };
    list.township_key != 0
        && own_township == Some(list.township_key)
        && p.has_any(&[Role::TownshipLeader, Role::TownshipOfficer])
}

/// A list and, for a township's, the township.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ListInfo {
    pub list: ListRow,
    pub title: String,
    #[schema(value_type = Option<Object>)]
    pub township: Option<Org>,
}

pub async fn list_info(conn: &mut Conn<'_>, list: ListRow) -> Result<ListInfo> {
    let township = if list.township_key == 0 {
        None
    } else {
        orgs::store::get(conn, OrgId(list.township_key)).await?
    };
    let title = match &township {
        Some(t) => format!("{}个性化清单", t.name),
        None => "通用目录".to_owned(),
    };
    Ok(ListInfo {
        list,
        title,
        township,
    })
}

/// Loads a list the principal may read: the general catalog, or a township's within scope.
pub async fn readable_list(db: &Db, p: &Principal, id: i64) -> Result<ListInfo> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let list = store::list_by_id(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("清单不存在"))?;
    let info = list_info(&mut conn, list).await?;
    if let Some(t) = &info.township
        && !p.scope.covers(t)
    {
        return Err(Error::forbidden("该清单不在您的管辖范围内"));
    }
    Ok(info)
}

/// The general catalog of the principal's district, and the local list of `township` (or of
/// the principal's own township), created empty on first use.
pub async fn lists_for(
    db: &Db,
    p: &Principal,
    township: Option<OrgId>,
) -> Result<(ListInfo, Option<ListInfo>)> {
    let district = district_of(&p.org);
    let township = match (township, &p.scope) {
        (Some(t), _) => Some(orgs::get_visible(db, p, t).await?),
        (None, Scope::Township { township_id, .. }) => {
            Some(orgs::get_visible(db, p, *township_id).await?)
        }
        (None, Scope::District) => None,
    };
    if let Some(t) = &township
        && t.kind != OrgKind::Township
    {
        return Err(Error::invalid(
            "township",
            format!("「{}」不是镇（街道）", t.name),
        ));
    }
    let keys: Vec<i64> = std::iter::once(0)
        .chain(township.as_ref().map(|t| t.id.0))
        .collect();
    let mut c = db.acquire().await?;
    let mut found = Vec::new();
    for key in &keys {
        found.push(store::find_list(&mut c.conn(), district, *key).await?);
    }
    // Lists are created on first use; a page view takes the write lock only that once.
    if found.iter().any(Option::is_none) {
        drop(c);
        let mut tx = db.begin().await?;
        found.clear();
        for key in &keys {
            found.push(Some(
                store::ensure_list(&mut tx.conn(), district, *key).await?,
            ));
        }
        tx.commit().await?;
        c = db.acquire().await?;
    }
    let mut lists = found.into_iter().flatten();
    let (Some(general), local) = (lists.next(), lists.next()) else {
        return Err(Error::internal("catalog list missing"));
    };
    let mut conn = c.conn();
    let general = list_info(&mut conn, general).await?;
    let local = match local {
        Some(l) => Some(list_info(&mut conn, l).await?),
        None => None,
    };
    Ok((general, local))
}

fn summary(added: usize, changed: usize, removed: usize) -> String {
    format!("新增 {added} 项，修改 {changed} 项，删除 {removed} 项")
}

/// Applies changes as one new version of the list, with who, when and why. Nothing is written
/// if any change is invalid, or if nothing would change.
pub async fn change(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    list_id: i64,
    reason: &str,
    changes: Vec<Change>,
) -> Result<i64> {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(Error::invalid(
            "reason",
            "请填写变更原因（如依据的法律法规修订）",
        ));
    }
    // Shown with every version and kept for good: a reason, not a document.
    if reason.chars().count() > 500 {
        return Err(Error::invalid("reason", "变更原因不超过 500 字"));
    }
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let list = store::list_by_id(&mut conn, list_id)
        .await?
        .ok_or_else(|| Error::not_found("清单不存在"))?;
    if !may_edit(p, &list) {
        return Err(Error::forbidden("您无权修改该清单"));
    }
    let version =
        apply_changes(&mut conn, &list, actor, reason, changes, ChangedBy::Person).await?;
    tx.commit().await?;
    Ok(version)
}

/// Writes changes as one new version of `list` inside the caller's transaction. The caller
/// has decided the change is allowed: a person's right to edit (see [`change`]), or a
/// completed process such as a signed handover.
pub(crate) async fn apply_changes(
    conn: &mut Conn<'_>,
    list: &ListRow,
    actor: &Actor,
    reason: &str,
    changes: Vec<Change>,
    by: ChangedBy,
) -> Result<i64> {
    let by_person = by == ChangedBy::Person && list.township_key != 0;
    let reason = reason.trim();
    let current = store::entries_at(conn, list.id, list.current_version).await?;
    let mut items: BTreeMap<String, ItemFields> = BTreeMap::new();
    let mut excluded: BTreeMap<String, String> = BTreeMap::new();
    for e in current {
        match e {
            Entry::Item(f) => {
                items.insert(f.code.clone(), *f);
            }
            Entry::Exclusion { code, reason } => {
                excluded.insert(code, reason);
            }
        }
    }
    let general: BTreeMap<String, ItemFields> = if list.township_key != 0 {
        let g = store::ensure_list(conn, list.district_id, 0).await?;
        store::entries_at(conn, g.id, g.current_version)
            .await?
            .into_iter()
            .filter_map(|e| match e {
                Entry::Item(f) => Some((f.code.clone(), *f)),
                Entry::Exclusion { .. } => None,
            })
            .collect()
    } else {
        BTreeMap::new()
    };
    // Check everything before writing anything.
    let (mut added, mut changed, mut removed) = (0, 0, 0);
    let mut effective = Vec::new();
    for ch in changes {
        match &ch {
            Change::Upsert(f) => {
                model::invalid(model::validate(f))?;
                if general.contains_key(&f.code) {
                    return Err(Error::invalid(
                        "code",
                        format!("编码 {} 已用于通用目录，个性化事项请另编码", f.code),
                    ));
                }
                let old = items.get(&f.code);
                if old.is_some_and(|old| old == f.as_ref()) {
                    continue;
                }
                if by_person {
                    person_may_change(old, Some(f))?;
                }
                if old.is_some() {
                    changed += 1;
                } else {
                    added += 1;
                }
            }
            Change::Remove(code) => {
                let Some(old) = items.get(code) else {
                    return Err(Error::invalid(
                        "code",
                        format!("清单中没有编码为 {code} 的事项"),
                    ));
                };
                if by_person {
                    person_may_change(Some(old), None)?;
                }
                removed += 1;
            }
            Change::Exclude { code, reason } => {
                if list.township_key == 0 {
                    return Err(Error::invalid(
                        "code",
                        "通用目录的事项只能由镇（街道）清单标注为不适用",
                    ));
                }
                if !general.contains_key(code) {
                    return Err(Error::invalid(
                        "code",
                        format!("通用目录中没有编码为 {code} 的事项"),
                    ));
                }
                if reason.trim().is_empty() {
                    return Err(Error::invalid("reason", "请说明不适用的理由"));
                }
                if excluded.contains_key(code) {
                    continue;
                }
                changed += 1;
            }
            Change::Include(code) => {
                if !excluded.contains_key(code) {
                    continue;
                }
                changed += 1;
            }
        }
        effective.push(ch);
    }
    if effective.is_empty() {
        return Err(Error::conflict("清单没有变化，未生成新版本"));
    }
    let by = actor.name.clone();
    let version = store::open_version(conn, list, &by, reason)
        .await
        .map_err(|_| Error::conflict("清单刚被他人修改，请刷新后重试"))?;
    for ch in &effective {
        match ch {
            Change::Upsert(f) => {
                store::close(conn, list.id, "item", &f.code, version).await?;
                store::insert_entry(conn, list.id, version, &Entry::Item(f.clone())).await?;
            }
            Change::Remove(code) => {
                store::close(conn, list.id, "item", code, version).await?;
            }
            Change::Exclude { code, reason } => {
                store::insert_entry(
                    conn,
                    list.id,
                    version,
                    &Entry::Exclusion {
                        code: code.clone(),
                        reason: reason.trim().to_owned(),
                    },
                )
                .await?;
            }
            Change::Include(code) => {
                store::close(conn, list.id, "exclusion", code, version).await?;
            }
        }
    }
    let text = summary(added, changed, removed);
    store::set_summary(conn, list.id, version, &text).await?;
    let info = list_info(conn, list.clone()).await?;
    audit::record(
        conn,
        actor,
        "catalog.change",
        &format!("{} 第 {version} 版", info.title),
        &format!("{text}；原因：{reason}"),
    )
    .await?;
    Ok(version)
}

/// Replaces the whole list with the imported items (all rows or none): items not in the file
/// are removed, changed ones get new revisions.
pub async fn import(
    db: &Db,
    p: &Principal,
    actor: &Actor,
    list_id: i64,
    items: Vec<ItemFields>,
    reason: &str,
) -> Result<i64> {
    // An import replaces the list: a file of headers only would empty it, which is never
    // what anyone uploading a list means.
    if items.is_empty() {
        return Err(Error::invalid(
            "file",
            "文件中没有事项。导入会以文件内容替换整个清单，空文件将清空清单，未作改动",
        ));
    }
    let current = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        let list = store::list_by_id(&mut conn, list_id)
            .await?
            .ok_or_else(|| Error::not_found("清单不存在"))?;
        store::entries_at(&mut conn, list.id, list.current_version).await?
    };
    let changes = replacement(current, items);
    change(db, p, actor, list_id, reason, changes).await
}

/// The changes that make a list hold exactly `items`: each one upserted (unchanged ones are
/// skipped), and every current item missing from them removed.
fn replacement(current: Vec<Entry>, items: Vec<ItemFields>) -> Vec<Change> {
    let mut now: BTreeMap<String, ItemFields> = BTreeMap::new();
    for e in current {
        if let Entry::Item(f) = e {
            now.insert(f.code.clone(), *f);
        }
    }
    let incoming: std::collections::BTreeSet<String> =
        items.iter().map(|i| i.code.clone()).collect();
    let mut changes: Vec<Change> = items
        .into_iter()
        .filter(|f| now.get(&f.code) != Some(f))
        .map(|f| Change::Upsert(Box::new(f)))
        .collect();
    changes.extend(
        now.into_keys()
            .filter(|code| !incoming.contains(code))
            .map(Change::Remove),
    );
    changes
}

/// The district a command works on: the one with this code, or the database's only district.
pub async fn district_by_code(db: &Db, code: Option<&str>) -> Result<OrgId> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    if let Some(code) = code {
        return match orgs::store::get_by_code(&mut conn, code.trim()).await? {
            Some(d) if d.kind == OrgKind::District => Ok(d.id),
            _ => Err(Error::invalid(
                "district",
                format!("没有代码为 {code} 的区（县）"),
            )),
        };
    }
    let (districts, _) = orgs::store::list(
        &mut conn,
        &orgs::OrgQuery {
            kind: Some(OrgKind::District),
            limit: 2,
            ..Default::default()
        },
    )
    .await?;
    match districts.as_slice() {
        [only] => Ok(only.id),
        [] => Err(Error::invalid(
            "district",
            "数据库中还没有区（县），请先建立组织机构",
        )),
        _ => Err(Error::invalid(
            "district",
            "数据库中有多个区（县），请用 --district 指明",
        )),
    }
}

/// What an import file did to one list.
#[derive(Debug, Clone)]
pub struct Imported {
    pub title: String,
    pub items: usize,
    /// The new version, or `None` when the list already held exactly these items.
    pub version: Option<i64>,
}

/// Imports a spreadsheet for the command line, all or nothing: a file without 乡镇代码
/// replaces the district's general catalog; a file with it replaces the local additions of
/// each township it names. Every bad row is reported with its number and reasons.
pub async fn import_file(
    db: &Db,
    actor: &Actor,
    district: OrgId,
    bytes: &[u8],
    reason: &str,
) -> Result<Vec<Imported>> {
    if reason.trim().is_empty() {
        return Err(Error::invalid("reason", "请填写导入原因（如依据的文件）"));
    }
    let table = io::read_table(bytes).map_err(|e| Error::invalid("file", e.to_string()))?;
    let with_township = table.header.iter().any(|h| h.trim() == io::TOWNSHIP_COLUMN);
    let parsed = io::parse_items(&table, with_township)
        .map_err(|e| Error::invalid("file", format!("导入失败，未导入任何事项：\n{e}")))?;
    let mut groups: BTreeMap<String, Vec<io::ParsedItem>> = BTreeMap::new();
    for p in parsed {
        groups
            .entry(p.township_code.clone().unwrap_or_default())
            .or_default()
            .push(p);
    }
    if groups.is_empty() {
        groups.insert(String::new(), Vec::new());
    }
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let mut out = Vec::new();
    for (code, rows) in groups {
        let key = if code.is_empty() {
            0
        } else {
            let first_row = rows.first().map_or(0, |r| r.row);
            match orgs::store::get_by_code(&mut conn, &code).await? {
                Some(t) if t.kind == OrgKind::Township && district_of(&t) == district => t.id.0,
                _ => {
                    return Err(Error::invalid(
                        "file",
                        format!("第 {first_row} 行：乡镇代码 {code} 不是本区的镇（街道）"),
                    ));
                }
            }
        };
        let list = store::ensure_list(&mut conn, district, key).await?;
        let current = store::entries_at(&mut conn, list.id, list.current_version).await?;
        let n = rows.len();
        let changes = replacement(current, rows.into_iter().map(|r| r.item).collect());
        let version = if changes.is_empty() {
            None
        } else {
            Some(
                apply_changes(
                    &mut conn,
                    &list,
                    actor,
                    reason.trim(),
                    changes,
                    ChangedBy::Person,
                )
                .await?,
            )
        };
        out.push(Imported {
            title: list_info(&mut conn, list).await?.title,
            items: n,
            version,
        });
    }
    tx.commit().await?;
    Ok(out)
}

pub async fn publish(db: &Db, p: &Principal, actor: &Actor, list_id: i64) -> Result<i64> {
    if !p.has(Role::EstablishmentOffice) {
        return Err(Error::forbidden("清单由编办发布"));
    }
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let list = store::list_by_id(&mut conn, list_id)
        .await?
        .ok_or_else(|| Error::not_found("清单不存在"))?;
    if list.current_version == 0 {
        return Err(Error::conflict("清单还没有任何事项，不能发布"));
    }
    if list.published_version == list.current_version {
        return Err(Error::conflict(format!(
            "第 {} 版已经发布",
            list.current_version
        )));
    }
    store::publish(&mut conn, &list, &actor.name).await?;
    let info = list_info(&mut conn, list.clone()).await?;
    audit::record(
        &mut conn,
        actor,
        "catalog.publish",
        &format!("{} 第 {} 版", info.title, list.current_version),
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(list.current_version)
}

pub async fn set_scheme(db: &Db, p: &Principal, actor: &Actor, scheme: Scheme) -> Result<()> {
    if !p.has(Role::EstablishmentOffice) {
        return Err(Error::forbidden("清单体例由编办设置"));
    }
    let district = district_of(&p.org);
    let mut tx = db.begin().await?;
    store::set_scheme(&mut tx.conn(), district, scheme).await?;
    audit::record(
        &mut tx.conn(),
        actor,
        "catalog.scheme",
        "清单体例",
        scheme.label(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn scheme(db: &Db, district: OrgId) -> Result<Scheme> {
    let mut c = db.acquire().await?;
    Ok(store::scheme(&mut c.conn(), district).await?)
}

pub async fn entries_at(db: &Db, list_id: i64, version: i64) -> Result<Vec<Entry>> {
    let mut c = db.acquire().await?;
    Ok(store::entries_at(&mut c.conn(), list_id, version).await?)
}

pub fn items_only(entries: Vec<Entry>) -> Vec<ItemFields> {
    entries
        .into_iter()
        .filter_map(|e| match e {
            Entry::Item(f) => Some(*f),
            Entry::Exclusion { .. } => None,
        })
        .collect()
}

/// The difference between two versions of a list, item by item.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Diff {
    pub from: i64,
    pub to: i64,
    pub added: Vec<ItemFields>,
    pub removed: Vec<ItemFields>,
    pub changed: Vec<ChangedItem>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChangedItem {
    pub before: ItemFields,
    pub after: ItemFields,
    /// Chinese column names of the fields that differ.
    pub fields: Vec<String>,
}

pub fn diff_items(from: i64, to: i64, a: Vec<ItemFields>, b: Vec<ItemFields>) -> Diff {
    let old: BTreeMap<String, ItemFields> = a.into_iter().map(|f| (f.code.clone(), f)).collect();
    let new: BTreeMap<String, ItemFields> = b.into_iter().map(|f| (f.code.clone(), f)).collect();
    let mut d = Diff {
        from,
        to,
        ..Diff::default()
    };
    for (code, f) in &new {
        match old.get(code) {
            None => d.added.push(f.clone()),
            Some(o) if o != f => d.changed.push(ChangedItem {
                before: o.clone(),
                after: f.clone(),
                fields: model::changed_fields(o, f)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            }),
            Some(_) => {}
        }
    }
    for (code, f) in &old {
        if !new.contains_key(code) {
            d.removed.push(f.clone());
        }
    }
    d
}

pub async fn diff(db: &Db, list: &ListRow, from: i64, to: i64) -> Result<Diff> {
    for v in [from, to] {
        if v < 0 || v > list.current_version {
            return Err(Error::invalid(
                "version",
                format!("版本 {v} 不存在（当前为第 {} 版）", list.current_version),
            ));
        }
    }
    let a = items_only(entries_at(db, list.id, from).await?);
    let b = items_only(entries_at(db, list.id, to).await?);
    Ok(diff_items(from, to, a, b))
}

/// The version in force at the end of `date` (Beijing time), or 0 if the list did not exist.
pub async fn version_on(db: &Db, list: &ListRow, date: &str, published_only: bool) -> Result<i64> {
    let day = Timestamp::parse_local_date(date)
        .ok_or_else(|| Error::invalid("date", format!("日期「{date}」格式应为 YYYY-MM-DD")))?;
    let mut c = db.acquire().await?;
    Ok(store::version_at(
        &mut c.conn(),
        list.id,
        day.plus_seconds(86_400 - 1),
        published_only,
    )
    .await?
    .unwrap_or(0))
}

/// An item as it applies to a township.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EffectiveItem {
    pub item: ItemFields,
    /// `general` or `local`.
    pub origin: String,
    /// Set when the township marked this general item not applicable.
    pub excluded: Option<String>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EffectiveList {
    pub general_list_id: Option<i64>,
    pub local_list_id: Option<i64>,
    pub general_version: i64,
    pub local_version: i64,
    pub items: Vec<EffectiveItem>,
}

/// Codes of the district's general catalog as it stands now (its current version).
pub async fn general_codes(
    conn: &mut Conn<'_>,
    district: OrgId,
) -> Result<std::collections::BTreeSet<String>> {
    Ok(match store::find_list(conn, district, 0).await? {
        Some(g) => store::entries_at(conn, g.id, g.current_version)
            .await?
            .into_iter()
            .map(|e| e.code().to_owned())
            .collect(),
        None => Default::default(),
    })
}

/// A township's list: the general catalog's items (minus those it marked not applicable)
/// plus its local additions, at the published versions or the current drafts.
pub async fn effective(
    db: &Db,
    district: OrgId,
    township: OrgId,
    published: bool,
) -> Result<EffectiveList> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let general = store::find_list(&mut conn, district, 0).await?;
    let local = store::find_list(&mut conn, district, township.0).await?;
    let pick = |l: &ListRow| {
        if published {
            l.published_version
        } else {
            l.current_version
        }
    };
    let gv = general.as_ref().map(pick).unwrap_or(0);
    let lv = local.as_ref().map(pick).unwrap_or(0);
    let general_items = match &general {
        Some(g) => items_only(store::entries_at(&mut conn, g.id, gv).await?),
        None => Vec::new(),
    };
    let local_entries = match &local {
        Some(l) => store::entries_at(&mut conn, l.id, lv).await?,
        None => Vec::new(),
    };
    let items = combine(&general_items, local_entries);
    Ok(EffectiveList {
        general_list_id: general.as_ref().map(|l| l.id),
        local_list_id: local.as_ref().map(|l| l.id),
        general_version: gv,
        local_version: lv,
        items,
    })
}

/// A township's items: the general items, marked where the township excluded them, then its
/// local additions.
pub(crate) fn combine(general: &[ItemFields], local: Vec<Entry>) -> Vec<EffectiveItem> {
    let mut exclusions = BTreeMap::new();
    let mut locals = Vec::new();
    for e in local {
        match e {
            Entry::Item(f) => locals.push(*f),
            Entry::Exclusion { code, reason } => {
                exclusions.insert(code, reason);
            }
        }
    }
    let mut items: Vec<EffectiveItem> = general
        .iter()
        .map(|f| EffectiveItem {
            item: f.clone(),
            origin: "general".into(),
            excluded: exclusions.get(&f.code).cloned(),
        })
        .collect();
    items.extend(locals.into_iter().map(|f| EffectiveItem {
        item: f,
        origin: "local".into(),
        excluded: None,
    }));
    items
}

/// Who answers for a task citing a listed item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Responsible {
    /// The township does it (basic duties, and its part of cooperative duties).
    Township,
    /// A returned duty: the named department took it back and gets the task.
    Department(String),
}

/// The item a task cites, checked against the township's current list ("清单之外无事项").
pub async fn cite(
    db: &Db,
    district: OrgId,
    township: OrgId,
    code: &str,
) -> Result<(ItemFields, Responsible)> {
    let list = effective(db, district, township, false).await?;
    let found = list.items.into_iter().find(|e| e.item.code == code.trim());
    match found {
        Some(e) if e.excluded.is_none() => {
            let resp = if e.item.national_class == NationalClass::Returned {
                Responsible::Department(e.item.returned_to.clone())
            } else {
                Responsible::Township
            };
            Ok((e.item, resp))
        }
        Some(e) => Err(Error::invalid(
            "item",
            format!(
                "「{}」已标注为不适用于该镇（街道）：{}",
                e.item.name,
                e.excluded.unwrap_or_default()
            ),
        )),
        None => Err(Error::invalid(
            "item",
            format!("编码为 {code} 的事项不在该镇（街道）的清单上；清单之外的事项须先申请事务准入"),
        )),
    }
}

/// Item counts of one township's current list (or of the general catalog), by list, national
/// class, category and source.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Figures {
    /// The township's name, or 通用目录.
    pub name: String,
    pub total: usize,
    /// Items this township marked not applicable.
    pub excluded: usize,
    /// Local additions.
    pub local: usize,
    pub by_list: BTreeMap<String, usize>,
    pub by_class: BTreeMap<String, usize>,
    pub by_category: BTreeMap<String, usize>,
    pub by_source: BTreeMap<String, usize>,
    /// Delegated powers held and admission applications: for a township, those concerning
    /// it; for the general catalog's line, the whole district.
    pub delegation: crate::delegation::Counts,
}

fn count_items<'a>(name: String, items: impl Iterator<Item = &'a EffectiveItem>) -> Figures {
    let mut f = Figures {
        name,
        total: 0,
        excluded: 0,
        local: 0,
        by_list: BTreeMap::new(),
        by_class: BTreeMap::new(),
        by_category: BTreeMap::new(),
        by_source: BTreeMap::new(),
        delegation: crate::delegation::Counts::default(),
    };
    for e in items {
        if e.excluded.is_some() {
            f.excluded += 1;
            continue;
        }
        f.total += 1;
        f.local += usize::from(e.origin == "local");
        *f.by_list
            .entry(e.item.list_kind.label().to_owned())
            .or_default() += 1;
        *f.by_class
            .entry(e.item.national_class.label().to_owned())
            .or_default() += 1;
        *f.by_category
            .entry(e.item.category.label().to_owned())
            .or_default() += 1;
        *f.by_source
            .entry(e.item.source.label().to_owned())
            .or_default() += 1;
    }
    f
}

/// Figures for the general catalog and for every township of the principal's district that
/// the principal may see, from the current lists.
pub async fn figures(db: &Db, p: &Principal) -> Result<Vec<Figures>> {
    let district = district_of(&p.org);
    let townships = orgs::list(
        db,
        p,
        orgs::OrgQuery {
            kind: Some(OrgKind::Township),
            limit: 1000,
            ..Default::default()
        },
    )
    .await?
    .0;
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    // The general catalog is read once and combined with each township's own list.
    let general = match store::find_list(&mut conn, district, 0).await? {
        Some(g) => items_only(store::entries_at(&mut conn, g.id, g.current_version).await?),
        None => Vec::new(),
    };
    let delegation = crate::delegation::counts(&mut conn, district).await?;
    let counts_of = |key: i64| delegation.get(&key).copied().unwrap_or_default();
    let mut district_line =
        count_items("通用目录".to_owned(), combine(&general, Vec::new()).iter());
    district_line.delegation = counts_of(0);
    let mut out = vec![district_line];
    for t in townships {
        let local = match store::find_list(&mut conn, district, t.id.0).await? {
            Some(l) => store::entries_at(&mut conn, l.id, l.current_version).await?,
            None => Vec::new(),
        };
        let mut line = count_items(t.name.clone(), combine(&general, local).iter());
        line.delegation = counts_of(t.id.0);
        out.push(line);
    }
    Ok(out)
}

/// Loads the demo catalog (general catalog and local additions) and publishes it, inside the
/// caller's transaction.
pub async fn load_demo(conn: &mut Conn<'_>, district: OrgId) -> Result<(usize, usize)> {
    let actor = Actor::system("demo");
    let general_table = io::read_table(include_str!("demo/general.csv").as_bytes())
        .map_err(|e| Error::internal(e.to_string()))?;
    let general =
        io::parse_items(&general_table, false).map_err(|e| Error::internal(e.to_string()))?;
    let local_table = io::read_table(include_str!("demo/local.csv").as_bytes())
        .map_err(|e| Error::internal(e.to_string()))?;
    let local = io::parse_items(&local_table, true).map_err(|e| Error::internal(e.to_string()))?;
    let g = store::ensure_list(conn, district, 0).await?;
    let v = store::open_version(conn, &g, &actor.name, "载入演示通用目录").await?;
    for it in &general {
        store::insert_entry(conn, g.id, v, &Entry::Item(Box::new(it.item.clone()))).await?;
    }
    store::set_summary(conn, g.id, v, &summary(general.len(), 0, 0)).await?;
    let g = store::list_by_id(conn, g.id)
        .await?
        .ok_or_else(|| Error::internal("list"))?;
    store::publish(conn, &g, &actor.name).await?;
    let mut by_township: BTreeMap<String, Vec<ItemFields>> = BTreeMap::new();
    for it in local {
        by_township
            .entry(it.township_code.clone().unwrap_or_default())
            .or_default()
            .push(it.item);
    }
    let mut n_local = 0;
    for (code, items) in by_township {
        let t = orgs::store::get_by_code(conn, &code)
            .await?
            .ok_or_else(|| Error::internal(format!("township {code}")))?;
        let l = store::ensure_list(conn, district, t.id.0).await?;
        let v = store::open_version(conn, &l, &actor.name, "载入演示个性化清单").await?;
        for it in &items {
            store::insert_entry(conn, l.id, v, &Entry::Item(Box::new(it.clone()))).await?;
        }
        n_local += items.len();
        store::set_summary(conn, l.id, v, &summary(items.len(), 0, 0)).await?;
        let l = store::list_by_id(conn, l.id)
            .await?
            .ok_or_else(|| Error::internal("list"))?;
        store::publish(conn, &l, &actor.name).await?;
    }
    audit::record(
        conn,
        &actor,
        "catalog.change",
        "通用目录",
        &format!(
            "载入演示清单：通用 {} 项，个性化 {n_local} 项",
            general.len()
        ),
    )
    .await?;
    Ok((general.len(), n_local))
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::{Category, ListKind, Source};

    fn item(code: &str, name: &str) -> ItemFields {
        ItemFields {
            code: code.into(),
            name: name.into(),
            list_kind: ListKind::Duties,
            national_class: NationalClass::Basic,
            category: Category::OtherDuty,
            source: Source::Other,
            legal_basis: vec![],
            content: String::new(),
            resp_accept: String::new(),
            resp_review: String::new(),
            resp_decide: String::new(),
            resp_deliver: String::new(),
            resp_supervise: String::new(),
            resp_other: String::new(),
            accountability: String::new(),
            lead_office: String::new(),
            cooperating: vec![],
            responsible_person: String::new(),
            phone: String::new(),
            township_duty: String::new(),
            lead_department: String::new(),
            department_duty: String::new(),
            returned_to: String::new(),
            reference: String::new(),
        }
    }

    #[test]
    fn a_diff_lists_added_removed_and_changed_items_with_their_fields() {
        let a = vec![item("A", "甲"), item("B", "乙")];
        let mut b1 = item("B", "乙（修订）");
        b1.phone = "028-87921234".into();
        let b = vec![b1, item("C", "丙")];
        let d = diff_items(1, 2, a, b);
        assert_eq!(
            d.added.iter().map(|f| f.code.as_str()).collect::<Vec<_>>(),
            ["C"]
        );
        assert_eq!(
            d.removed
                .iter()
                .map(|f| f.code.as_str())
                .collect::<Vec<_>>(),
            ["A"]
        );
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].fields, ["事项名称", "咨询电话"]);
    }
}
