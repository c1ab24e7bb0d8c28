//! The application's side of the workflow engine: instances live in the database, every
//! transition goes through [`act`] (or the scheduler), and each writes its history, its audit
//! row and its new state in one transaction. The engine crate decides; this module stores.

pub mod bench;
pub mod routes;
pub mod scheduler;
pub mod store;

use std::collections::BTreeMap;
use std::sync::Arc;

use calendar::Calendar;
use serde::Serialize;
use workflow::{ActionError, ActionRequest, Definition, ErrorKind, InstanceView, Registry};

use crate::audit::{self, Actor};
use crate::auth::{Principal, Role, Scope};
use crate::db::{self, Conn, Db, Writes};
use crate::error::{Error, Result};
use crate::ids::{InstanceId, OrgId};
use crate::orgs;
use crate::time::Timestamp;
pub use store::{HistoryEntry, Instance, Notice};

/// The processes this platform runs, each a TOML file in its context's `processes/` folder.
/// Contexts add theirs here as they are built; a district may override any from its process
/// directory.
pub const EMBEDDED_PROCESSES: &[(&str, &str)] = &[
    (
        "cases/processes/case_ticket.toml",
        include_str!("../cases/processes/case_ticket.toml"),
    ),
    (
        "cases/processes/case_summon.toml",
        include_str!("../cases/processes/case_summon.toml"),
    ),
    (
        "cases/processes/case_joint.toml",
        include_str!("../cases/processes/case_joint.toml"),
    ),
    (
        "cases/processes/case_referral.toml",
        include_str!("../cases/processes/case_referral.toml"),
    ),
    (
        "power_handover.toml",
        include_str!("../delegation/processes/power_handover.toml"),
    ),
    (
        "duty_admission.toml",
        include_str!("../delegation/processes/duty_admission.toml"),
    ),
    (
        "inspection_item.toml",
        include_str!("../delegation/processes/inspection_item.toml"),
    ),
];

/// Processes whose actions carry rules of their own context (citing a duty item, one return
/// per unit, deadlines by category): the generic action routes refuse them, and their pages
/// live with the context, found by the prefix of the instance's `subject_ref`.
const CONTEXT_DRIVEN: &[(&str, &str, &str)] = &[
    ("case_ticket", "case:", "/cases/"),
    ("case_summon", "case:", "/cases/"),
    ("case_joint", "case:", "/cases/"),
    ("case_referral", "case:", "/cases/"),
];

/// The context page of an instance its context drives, e.g. `/cases/12` for `case:12#1`.
pub fn context_url(inst: &Instance) -> Option<String> {
    CONTEXT_DRIVEN
        .iter()
        .find(|(process, _, _)| *process == inst.process)
        .and_then(|(_, prefix, base)| {
            let rest = inst.subject_ref.strip_prefix(prefix)?;
            let id = rest.split('#').next()?;
            Some(format!("{base}{id}"))
        })
}

/// The built-in processes alone. They are compiled in and checked by a unit test, so loading
/// them cannot fail at run time.
pub fn embedded_processes() -> Registry {
    Registry::load(EMBEDDED_PROCESSES, None).unwrap_or_default()
}

/// Loads the embedded processes and a district's overrides. Any error stops the binary with
/// the file, line and reason.
pub fn load_processes(
    override_dir: Option<&std::path::Path>,
) -> std::result::Result<Registry, String> {
    Registry::load(EMBEDDED_PROCESSES, override_dir).map_err(|errors| {
        let lines: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
        format!("流程定义有误：\n{}", lines.join("\n"))
    })
}

/// The working-day calendar in force (embedded data plus the administrator's corrections).
pub async fn calendar(db: &Db) -> Result<Arc<Calendar>> {
    crate::workdays::current(db).await
}

fn definition<'a>(registry: &'a Registry, process: &str) -> Result<&'a Definition> {
    registry
        .get(process)
        .ok_or_else(|| Error::internal(format!("流程 {process} 未定义")))
}

fn org_key(id: OrgId) -> String {
    id.0.to_string()
}

fn parse_org_key(s: &str) -> Option<OrgId> {
    s.parse().ok().map(OrgId)
}

/// The name people know a process field by (the processes' `required_fields`).
/// Turns the engine's refusal into the domain error, one mapping for every process.
pub fn refusal(e: ActionError) -> Error {
    let msg = match &e {
        // The engine knows roles and fields by their codes; people know them by name.
        ActionError::NotAllowedForRole { label, roles, .. } => {
            let names: Vec<&str> = roles
                .iter()
                .map(|r| Role::parse(r).map_or(r.as_str(), |role| role.label()))
                .collect();
            format!(
                "您的角色无权执行“{label}”，可执行的角色：{}",
                names.join("、")
            )
        }
        _ => e.to_string(),
    };
    match e.kind() {
        ErrorKind::Forbidden => Error::Forbidden(msg),
        ErrorKind::Conflict => Error::Conflict(msg),
        ErrorKind::NotFound => Error::NotFound(msg),
        ErrorKind::Invalid => {
            let field = match &e {
                ActionError::CommentRequired => "comment".to_owned(),
                ActionError::AttachmentRequired => "attachments".to_owned(),
                ActionError::FieldRequired { field, .. } => field.clone(),
                ActionError::ReassignRequired => "reassign_to".to_owned(),
                _ => "action".to_owned(),
            };
            Error::Invalid {
                field,
                message: msg,
            }
        }
    }
}

/// What a context asks to start.
pub struct NewInstance {
    pub process: String,
    pub subject: String,
    pub subject_ref: String,
    pub owner_org: OrgId,
    pub assignee_org: Option<OrgId>,
}

/// An instance's history, its states named as its process names them (a state the process
/// no longer has keeps its code).
pub async fn history(
    conn: &mut Conn<'_>,
    registry: &Registry,
    inst: &Instance,
) -> Result<Vec<HistoryEntry>> {
    let mut history = store::history(conn, inst.id).await?;
    let def = registry.get(&inst.process);
    let label = |state: &str| {
        def.and_then(|d| d.state(state))
            .map_or_else(|| state.to_owned(), |s| s.label.clone())
    };
    for h in &mut history {
        h.from_label = h.from_state.as_deref().map(label);
        h.to_label = label(&h.to_state);
    }
    Ok(history)
}

/// The township an organisation belongs to, for metrics; `None` for district bodies.
async fn township_of(conn: &mut Conn<'_>, org: OrgId) -> Result<Option<OrgId>> {
    let o = orgs::store::get(conn, org)
        .await?
        .ok_or_else(|| Error::invalid("owner_org", "组织不存在"))?;
    Ok(township_in(&Scope::for_org(&o)))
}

fn township_in(scope: &Scope) -> Option<OrgId> {
    match scope {
        Scope::District => None,
        Scope::Township { township_id, .. } => Some(*township_id),
    }
}

/// Starts an instance inside the caller's transaction (the domain record and its process are
/// created together).
pub async fn start(
    conn: &mut Conn<'_>,
    registry: &Registry,
    cal: &Calendar,
    actor: &Actor,
    new: NewInstance,
) -> Result<Instance> {
    let id = InstanceId(db::reserve_ids(conn, store::INSTANCES, 1).await?[0]);
    let starts = [(id, actor, new)];
    let mut events = Vec::new();
    let mut writes = Writes::default();
    start_all(conn, registry, cal, &starts, &[], &mut writes, &mut events).await?;
    audit::record_in(conn, &mut writes, &events).await?;
    writes
        .run(conn)
        .await
        .map_err(|e| Error::unique_or(e, "该事项已在办理中"))?;
    store::get(conn, id)
        .await?
        .ok_or_else(|| Error::internal("lost instance"))
}

/// Starts instances for several actors inside the caller's transaction, under ids reserved by
/// the caller ([`db::reserve_ids`] of [`store::INSTANCES`]): their rows and their history go
/// to `writes`, whose run may report an instance already running for its subject. Their
/// audit events are added to `audit`, for the caller to record with its own in one go.
/// `known` are owners the caller has already read; the others are read here.
pub async fn start_all<'a>(
    conn: &mut Conn<'_>,
    registry: &Registry,
    cal: &Calendar,
    starts: &'a [(InstanceId, &'a Actor, NewInstance)],
    known: &[&orgs::model::Org],
    writes: &mut Writes,
    audit: &mut Vec<audit::Event<'a>>,
) -> Result<()> {
    let now = Timestamp::now();
    let mut owners: BTreeMap<OrgId, Option<OrgId>> = known
        .iter()
        .map(|o| (o.id, township_in(&Scope::for_org(o))))
        .collect();
    let mut firsts = Vec::with_capacity(starts.len());
    for (_, _, new) in starts {
        let def = definition(registry, &new.process)?;
        let start = def.start(now.to_utc(), cal);
        let terminal = def
            .state(&start.state)
            .ok_or_else(|| Error::internal("initial state"))?
            .terminal;
        if let std::collections::btree_map::Entry::Vacant(e) = owners.entry(new.owner_org) {
            e.insert(township_of(conn, new.owner_org).await?);
        }
        // A district body's work with one township (a handover to it) counts for that
        // township: the assignee's, when the owner has none.
        if owners[&new.owner_org].is_none()
            && let Some(a) = new.assignee_org
            && let std::collections::btree_map::Entry::Vacant(e) = owners.entry(a)
        {
            e.insert(township_of(conn, a).await?);
        }
        firsts.push((start, terminal));
    }
    let rows: Vec<store::NewRow<'_>> = starts
        .iter()
        .zip(&firsts)
        .map(|((_, _, new), (start, terminal))| store::NewRow {
            process: &new.process,
            subject: &new.subject,
            subject_ref: &new.subject_ref,
            owner_org_id: new.owner_org,
            assignee_org_id: new.assignee_org,
            township_id: owners[&new.owner_org]
                .or_else(|| new.assignee_org.and_then(|a| owners[&a])),
            state: &start.state,
            terminal: *terminal,
            now,
            deadline: start.deadline.map(Timestamp::from),
        })
        .collect();
    let ids: Vec<InstanceId> = starts.iter().map(|s| s.0).collect();
    store::insert_reserved(conn, writes, &rows, &ids).await?;
    let history: Vec<store::HistoryRow<'_>> = starts
        .iter()
        .zip(&firsts)
        .map(|((id, actor, _), (start, _))| store::HistoryRow {
            instance_id: *id,
            at: now,
            actor_id: actor.user_id,
            actor: &actor.name,
            roles: "",
            org_id: actor.org_id,
            action: "start",
            action_label: "发起",
            from_state: None,
            to_state: &start.state,
            comment: None,
            attachments: "[]",
            fields: "{}",
        })
        .collect();
    store::append_history_in(conn, writes, &history, true).await?;
    audit.extend(starts.iter().map(|(id, actor, new)| audit::Event {
        actor,
        action: "workflow.start",
        target: format!("{}#{}", new.process, id),
        detail: new.subject.clone(),
    }));
    Ok(())
}

/// An action as submitted from a page or the API.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
pub struct ActionInput {
    pub action: String,
    /// The version the user saw; a different current version means someone acted first.
    pub expected_version: i64,
    #[serde(default)]
    pub comment: Option<String>,
    /// Names of attachments already stored with the request.
    #[serde(default)]
    pub attachments: Vec<String>,
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub reassign_to: Option<OrgId>,
    /// A random key per form; a resubmission with the same key does not act again.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// What acting answered: the instance now, and whether this request was a replay.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = WorkActed)]
pub struct Acted {
    pub instance: Instance,
    /// True when the idempotency key had been used: nothing was done again.
    pub replayed: bool,
}

/// Whether the principal may see an instance: its owner or assignee is within their scope.
pub async fn visible(conn: &mut Conn<'_>, p: &Principal, inst: &Instance) -> Result<bool> {
    // A case's instances are seen by those who see the case: a grid worker its grids' cases,
    // a station or department those it works on, whatever their organisation's scope.
    if context_url(inst).is_some()
        && let Some(seen) = crate::cases::instance_visible(conn, p, &inst.subject_ref).await?
    {
        return Ok(seen);
    }
    if p.scope == Scope::District {
        return Ok(true);
    }
    for org in [Some(inst.owner_org_id), inst.assignee_org_id]
        .into_iter()
        .flatten()
    {
        if let Some(o) = orgs::store::get(conn, org).await?
            && p.scope.covers(&o)
        {
            return Ok(true);
        }
    }
    Ok(false)
}

fn engine_actor(p: &Principal) -> workflow::Actor {
    workflow::Actor {
        roles: p.roles.iter().map(|r| r.as_str().to_owned()).collect(),
        orgs: vec![org_key(p.org.id)],
    }
}

fn view(inst: &Instance) -> InstanceView {
    InstanceView {
        state: inst.state.clone(),
        owner_org: org_key(inst.owner_org_id),
        assignee_org: inst.assignee_org_id.map(org_key),
        version: inst.version,
    }
}

/// Takes an action on an instance. The engine decides; the new state, the history row, the
/// idempotency key and the audit row are written in one transaction, and only if the instance
/// is still at the version the user saw.
pub async fn act(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    actor: &Actor,
    id: InstanceId,
    input: ActionInput,
) -> Result<Acted> {
    let cal = calendar(db).await?;
    let mut tx = db.begin().await?;
    let mut conn = tx.conn();
    let inst = store::get(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("事项不存在"))?;
    if !visible(&mut conn, p, &inst).await? {
        return Err(Error::forbidden("该事项不在您的管辖范围内"));
    }
    if context_url(&inst).is_some() {
        return Err(Error::conflict("该事项须在业务页面办理（如案件页面）"));
    }
    if let Some(key) = input.idempotency_key.as_deref().filter(|k| !k.is_empty()) {
        if key.len() > 100 {
            return Err(Error::invalid("idempotency_key", "幂等键过长"));
        }
        // Claimed first, so a concurrent duplicate waits here and then finds it used.
        if !store::claim_key(
            &mut conn,
            key,
            id,
            Some(p.user_id),
            &input.action,
            input.expected_version + 1,
        )
        .await?
        {
            drop(tx);
            let mut c = db.acquire().await?;
            let now = store::get(&mut c.conn(), id)
                .await?
                .ok_or_else(|| Error::not_found("事项不存在"))?;
            return Ok(Acted {
                instance: now,
                replayed: true,
            });
        }
    }
    let after = decide_and_apply(&mut conn, registry, &cal, p, actor, &inst, &input).await?;
    tx.commit().await?;
    Ok(Acted {
        instance: after,
        replayed: false,
    })
}

/// Takes an action inside the caller's transaction, for a context that writes its own records
/// with the transition (the caller checks visibility and idempotency). Answers the instance
/// after the action.
pub async fn act_in(
    conn: &mut Conn<'_>,
    registry: &Registry,
    cal: &Calendar,
    p: &Principal,
    actor: &Actor,
    id: InstanceId,
    input: &ActionInput,
) -> Result<Instance> {
    let inst = store::get(conn, id)
        .await?
        .ok_or_else(|| Error::not_found("事项不存在"))?;
    decide_and_apply(conn, registry, cal, p, actor, &inst, input).await
}

/// Replaces the deadline of the state an instance is in (a context whose time limits depend on
/// its own data, e.g. a case's category and urgency). A later deadline re-arms the expiry.
pub async fn set_deadline(conn: &mut Conn<'_>, id: InstanceId, deadline: Timestamp) -> Result<()> {
    store::set_deadline(conn, id, deadline).await?;
    Ok(())
}

/// Longest comment or field value an action carries, in characters: every history row is
/// shown whole on its case's or matter's page.
pub const MAX_ACTION_TEXT: usize = 2000;

fn check_lengths(input: &ActionInput) -> Result<()> {
    if input
        .comment
        .as_deref()
        .is_some_and(|c| c.chars().count() > MAX_ACTION_TEXT)
    {
        return Err(Error::invalid(
            "comment",
            format!("办理意见不能超过 {MAX_ACTION_TEXT} 字"),
        ));
    }
    if let Some((name, _)) = input
        .fields
        .iter()
        .find(|(_, v)| v.chars().count() > MAX_ACTION_TEXT)
    {
        return Err(Error::invalid(
            name.clone(),
            format!("填写的内容不能超过 {MAX_ACTION_TEXT} 字"),
        ));
    }
    Ok(())
}

async fn decide_and_apply(
    conn: &mut Conn<'_>,
    registry: &Registry,
    cal: &Calendar,
    p: &Principal,
    actor: &Actor,
    inst: &Instance,
    input: &ActionInput,
) -> Result<Instance> {
    let id = inst.id;
    check_lengths(input)?;
    let def = definition(registry, &inst.process)?;
    let request = ActionRequest {
        action: input.action.clone(),
        expected_version: input.expected_version,
        comment: input.comment.clone(),
        attachments: input.attachments.len(),
        fields: input.fields.clone(),
        reassign_to: input.reassign_to.map(org_key),
    };
    let now = Timestamp::now();
    let decision = def
        .decide(&view(inst), &engine_actor(p), &request, now.to_utc(), cal)
        .map_err(refusal)?;
    if let Some(org) = input.reassign_to {
        match orgs::store::get(conn, org).await? {
            Some(o) if o.is_active() => {}
            _ => return Err(Error::invalid("reassign_to", "所选承办单位不存在或已撤销")),
        }
    }
    let roles: Vec<&str> = p.roles.iter().map(|r| r.as_str()).collect();
    apply(
        conn,
        def,
        cal,
        inst,
        &decision,
        now,
        Who {
            actor,
            roles: &roles.join(","),
            comment: input.comment.as_deref(),
        },
        &serde_json::to_string(&input.attachments).unwrap_or_else(|_| "[]".into()),
        &serde_json::to_string(&input.fields).unwrap_or_else(|_| "{}".into()),
    )
    .await?;
    store::get(conn, id)
        .await?
        .ok_or_else(|| Error::internal("lost instance"))
}

struct Who<'a> {
    actor: &'a Actor,
    roles: &'a str,
    comment: Option<&'a str>,
}

/// Writes a decided transition (by a person or by the scheduler's auto-act).
#[allow(clippy::too_many_arguments)]
async fn apply(
    conn: &mut Conn<'_>,
    def: &Definition,
    cal: &Calendar,
    inst: &Instance,
    d: &workflow::Decision,
    now: Timestamp,
    who: Who<'_>,
    attachments: &str,
    fields: &str,
) -> Result<()> {
    let target = def
        .state(&d.to)
        .ok_or_else(|| Error::internal("target state"))?;
    let late = inst.deadline.is_some_and(|dl| now > dl);
    let working_seconds = target.terminal.then(|| {
        cal.working_time_between(inst.created_at.to_utc(), now.to_utc())
            .num_seconds()
    });
    let moved = store::transition(
        conn,
        &store::Transition {
            id: inst.id,
            expected_version: inst.version,
            state: &d.to,
            terminal: target.terminal,
            assignee_org_id: d.assignee_org.as_deref().and_then(parse_org_key),
            now,
            deadline: d.deadline.map(Timestamp::from),
            late,
            working_seconds,
        },
    )
    .await?;
    if !moved {
        let label = def
            .state(&inst.state)
            .map(|s| s.label.clone())
            .unwrap_or_default();
        return Err(Error::conflict(format!(
            "该事项已被他人处理（当前状态：{label}），请刷新后重试"
        )));
    }
    let action_label = def
        .action(&d.action)
        .map(|a| a.label.as_str())
        .unwrap_or(&d.action);
    store::append_history(
        conn,
        &store::HistoryRow {
            instance_id: inst.id,
            at: now,
            actor_id: who.actor.user_id,
            actor: &who.actor.name,
            roles: who.roles,
            org_id: who.actor.org_id,
            action: &d.action,
            action_label,
            from_state: Some(&d.from),
            to_state: &d.to,
            comment: who.comment,
            attachments,
            fields,
        },
    )
    .await?;
    audit::record(
        conn,
        who.actor,
        "workflow.act",
        &format!("{}#{}", inst.process, inst.id),
        &format!("{action_label}：{} → {}", d.from, d.to),
    )
    .await?;
    // The domain records that a step completes are written with the step, whoever takes it.
    crate::delegation::on_transition(conn, &inst.process, inst.id, &d.to, who.comment, who.actor)
        .await?;
    Ok(())
}

/// An instance with what a page needs to show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceDetail {
    pub instance: Instance,
    pub process_label: String,
    pub state_label: String,
    pub history: Vec<HistoryEntry>,
    /// Actions the viewer may take now: (id, label, comment required, reassign).
    pub actions: Vec<AvailableAction>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AvailableAction {
    pub id: String,
    pub label: String,
    pub comment_required: bool,
    pub attachment_required: bool,
    pub required_fields: Vec<String>,
    pub reassign: bool,
}

pub async fn detail(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    id: InstanceId,
) -> Result<InstanceDetail> {
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let inst = store::get(&mut conn, id)
        .await?
        .ok_or_else(|| Error::not_found("事项不存在"))?;
    if !visible(&mut conn, p, &inst).await? {
        return Err(Error::forbidden("该事项不在您的管辖范围内"));
    }
    let history = history(&mut conn, registry, &inst).await?;
    let def = definition(registry, &inst.process)?;
    let actions = def
        .available_actions(&view(&inst), &engine_actor(p))
        .into_iter()
        .map(|a| AvailableAction {
            id: a.id.clone(),
            label: a.label.clone(),
            comment_required: a.comment_required,
            attachment_required: a.attachment_required,
            required_fields: a.required_fields.clone(),
            reassign: a.reassign,
        })
        .collect();
    Ok(InstanceDetail {
        process_label: def.label().to_owned(),
        state_label: def
            .state(&inst.state)
            .map(|s| s.label.clone())
            .unwrap_or_else(|| inst.state.clone()),
        instance: inst,
        history,
        actions,
    })
}

/// One line of "my work".
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct WorkItem {
    pub instance: Instance,
    pub process_label: String,
    pub state_label: String,
    /// `overdue`, `due_today` or `normal`.
    pub urgency: String,
}

pub struct Inbox {
    pub items: Vec<WorkItem>,
    pub total: i64,
    pub notices: Vec<Notice>,
}

/// Instances waiting on an action the principal's roles and organisation allow, soonest
/// deadline first, with overdue and due-today marked.
pub async fn inbox(
    db: &Db,
    registry: &Registry,
    p: &Principal,
    page: u32,
    per_page: u32,
) -> Result<Inbox> {
    let roles: Vec<String> = p.roles.iter().map(|r| r.as_str().to_owned()).collect();
    // Those who see only some of a township's cases have only those in their inbox.
    let case_only = crate::cases::inbox_only(p);
    let mut clauses = Vec::new();
    for def in registry.iter() {
        let only = CONTEXT_DRIVEN
            .iter()
            .any(|(process, prefix, _)| *process == def.name() && *prefix == "case:")
            .then(|| case_only.clone())
            .flatten();
        // A standing state waits on no one: its possible actions are not to-dos.
        for state in def.states().iter().filter(|s| !s.terminal && !s.standing) {
            let waiting = def.waiting_roles(&state.id);
            for party in [
                workflow::Party::Owner,
                workflow::Party::Assignee,
                workflow::Party::Any,
            ] {
                if waiting
                    .iter()
                    .any(|(r, pt)| *pt == party && roles.iter().any(|mine| mine == r))
                {
                    clauses.push(store::InboxClause {
                        process: def.name().to_owned(),
                        states: vec![state.id.clone()],
                        party: match party {
                            workflow::Party::Owner => store::InboxParty::Owner,
                            workflow::Party::Assignee => store::InboxParty::Assignee,
                            workflow::Party::Any => store::InboxParty::Within(match &p.scope {
                                Scope::District => None,
                                Scope::Township { township_id, .. } => Some(township_id.0),
                            }),
                        },
                        only: only.clone(),
                    });
                }
            }
        }
    }
    let mut c = db.acquire().await?;
    let mut conn = c.conn();
    let offset = i64::from(page.max(1) - 1) * i64::from(per_page);
    let (rows, total) =
        store::inbox(&mut conn, p.org.id, &clauses, i64::from(per_page), offset).await?;
    let now = Timestamp::now();
    let end_of_today = now.start_of_local_day().plus_seconds(86_400);
    let items = rows
        .into_iter()
        .map(|inst| {
            let def = registry.get(&inst.process);
            let urgency = match inst.deadline {
                Some(d) if d < now => "overdue",
                Some(d) if d < end_of_today => "due_today",
                _ => "normal",
            };
            WorkItem {
                process_label: def
                    .map(|d| d.label().to_owned())
                    .unwrap_or_else(|| inst.process.clone()),
                state_label: def
                    .and_then(|d| d.state(&inst.state))
                    .map(|s| s.label.clone())
                    .unwrap_or_else(|| inst.state.clone()),
                urgency: urgency.to_owned(),
                instance: inst,
            }
        })
        .collect();
    let notices = store::notices_for(&mut conn, p.org.id, &roles, 50).await?;
    Ok(Inbox {
        items,
        total,
        notices,
    })
}

/// The figures every dashboard builds on, for one process, one organisation and one period.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Metrics {
    pub process: String,
    pub by_state: BTreeMap<String, i64>,
    pub total: i64,
    pub completed: i64,
    pub completed_on_time: i64,
    /// 按时办结率 in tenths of a percent (953 = 95.3 %); `None` with nothing completed.
    pub on_time_permille: Option<i64>,
    /// Average working time to completion, in working seconds.
    pub avg_working_seconds: Option<i64>,
    pub p90_working_seconds: Option<i64>,
    pub overdue: i64,
}

impl Metrics {
    pub fn on_time_percent(&self) -> String {
        self.on_time_permille
            .map(|p| format!("{}.{}%", p / 10, p % 10))
            .unwrap_or_else(|| "—".into())
    }
}

/// Formats working seconds as 工作日 and hours, with the working day's length as the unit.
pub fn working_duration(seconds: Option<i64>, day_seconds: i64) -> String {
    match seconds {
        None => "—".to_owned(),
        Some(s) => {
            let day = day_seconds.max(1);
            let (d, rest) = (s / day, s % day);
            format!("{d} 个工作日 {} 小时 {} 分", rest / 3600, rest % 3600 / 60)
        }
    }
}

pub async fn metrics(
    db: &Db,
    registry: &Registry,
    process: &str,
    org: Option<&orgs::model::Org>,
    from: Timestamp,
    to: Timestamp,
) -> Result<Metrics> {
    let scope = match org {
        None => store::MetricsScope::All,
        Some(o) if o.kind == orgs::model::OrgKind::District => store::MetricsScope::All,
        Some(o) if o.kind == orgs::model::OrgKind::Township => store::MetricsScope::Township(o.id),
        Some(o) => store::MetricsScope::Owner(o.id),
    };
    let states: Vec<&str> = registry
        .get(process)
        .map(|d| d.states().iter().map(|s| s.id.as_str()).collect())
        .unwrap_or_default();
    let mut c = db.acquire().await?;
    let raw = store::metrics(
        &mut c.conn(),
        process,
        &states,
        &scope,
        from,
        to,
        Timestamp::now(),
    )
    .await?;
    Ok(Metrics {
        process: process.to_owned(),
        by_state: raw.by_state.into_iter().collect(),
        total: raw.total,
        completed: raw.completed,
        completed_on_time: raw.completed_on_time,
        on_time_permille: (raw.completed > 0)
            .then(|| (raw.completed_on_time * 2000 + raw.completed) / (2 * raw.completed)),
        avg_working_seconds: (raw.completed > 0).then(|| raw.working_seconds_sum / raw.completed),
        p90_working_seconds: raw.p90_working_seconds,
        overdue: raw.overdue,
    })
}

pub use scheduler::{RunReport, run_due, spawn_scheduler};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_processes_load_without_errors() {
        assert!(Registry::load(EMBEDDED_PROCESSES, None).is_ok());
    }

    #[test]
    fn durations_read_in_working_days() {
        assert_eq!(
            working_duration(Some(25_200 + 3_600), 25_200),
            "1 个工作日 1 小时 0 分"
        );
        assert_eq!(working_duration(None, 25_200), "—");
    }
}
