//! Deciding actions and expiry on one instance.
//!
//! The engine is pure: it reads an instance as the application last stored it and answers
//! what the application must write. It never reads the clock (the caller passes `now`) and
//! never stores anything, so several server processes can share one database and the
//! optimistic `version` check is the only concurrency control needed.

use std::collections::BTreeMap;

use calendar::Calendar;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use crate::definition::{Action, Definition, ExpiryRule, OrgRef, Party, State, TimeUnit};

/// The comment recorded when the system takes an action on expiry.
pub const AUTO_ACT_COMMENT: &str = "办理时限已过，系统自动处理";

/// An instance as the application stored it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceView {
    pub state: String,
    pub owner_org: String,
    pub assignee_org: Option<String>,
    pub version: i64,
}

/// Who asks to act.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub roles: Vec<String>,
    /// The actor's own organisation and every organisation it may act for (the application
    /// decides, e.g. a district office acting for its townships). Compared as exact strings.
    pub orgs: Vec<String>,
}

impl Actor {
    pub fn new(
        roles: impl IntoIterator<Item = impl Into<String>>,
        org: impl Into<String>,
    ) -> Actor {
        Actor {
            roles: roles.into_iter().map(Into::into).collect(),
            orgs: vec![org.into()],
        }
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn belongs_to(&self, org: &str) -> bool {
        self.orgs.iter().any(|o| o == org)
    }
}

/// What the actor submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ActionRequest {
    pub action: String,
    /// The version the actor's page showed; a mismatch means someone acted in between.
    pub expected_version: i64,
    pub comment: Option<String>,
    /// Number of attachments uploaded with the request.
    pub attachments: usize,
    pub fields: BTreeMap<String, String>,
    /// The new assignee organisation, for actions with `reassign = true` (ignored otherwise).
    pub reassign_to: Option<String>,
}

impl ActionRequest {
    pub fn new(action: impl Into<String>, expected_version: i64) -> ActionRequest {
        ActionRequest {
            action: action.into(),
            expected_version,
            ..ActionRequest::default()
        }
    }
}

/// What the application must write when an action is accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub from: String,
    pub to: String,
    pub action: String,
    /// Always the instance's version plus one; write it with `WHERE version = expected`.
    pub new_version: i64,
    /// The deadline of the target state, counted from the decision time; `None` if the state
    /// has no time limit. Every action restarts the clock, including one that stays in the
    /// same state (a reassignment gives the new assignee the full time).
    pub deadline: Option<DateTime<Utc>>,
    /// The assignee after the action: the new one for a reassigning action, else unchanged.
    pub assignee_org: Option<String>,
}

/// How the application should answer a refused action; one mapping for every caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The actor may not do this (HTTP 403).
    Forbidden,
    /// The instance is not (or no longer) in a state that allows this (HTTP 409).
    Conflict,
    /// The request lacks required input (HTTP 422).
    Invalid,
    /// The action does not exist (HTTP 404).
    NotFound,
}

impl ErrorKind {
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::Forbidden => 403,
            ErrorKind::Conflict => 409,
            ErrorKind::Invalid => 422,
            ErrorKind::NotFound => 404,
        }
    }
}

/// Why an action was refused. Messages are zh-CN and meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum ActionError {
    #[error("没有名为“{action}”的操作")]
    UnknownAction { action: String },
    /// The stored state is not in the definition, e.g. after a district replaced the process
    /// definition; the instance needs an administrator.
    #[error("事项处于流程中不存在的状态“{state}”，请联系管理员")]
    UnknownState { state: String },
    #[error("您的角色无权执行“{label}”，可执行的角色：{}", roles.join("、"))]
    NotAllowedForRole {
        action: String,
        label: String,
        /// The roles that may take the action.
        roles: Vec<String>,
    },
    #[error("只有{}单位可以执行“{label}”", party_zh(*party))]
    WrongParty {
        action: String,
        label: String,
        party: Party,
    },
    #[error("事项已处于终结状态“{label}”，不能再操作")]
    TerminalState { state: String, label: String },
    #[error("事项当前状态“{state_label}”下不能执行“{label}”")]
    NotAvailableInState {
        action: String,
        label: String,
        state: String,
        state_label: String,
    },
    #[error("事项已被他人处理（当前状态“{current_state}”，版本 {current_version}），请刷新后重试")]
    VersionConflict {
        current_version: i64,
        current_state: String,
    },
    #[error("请填写办理意见")]
    CommentRequired,
    #[error("请上传附件")]
    AttachmentRequired,
    /// `label` is the field's name as people know it ([`Definition::field_label`]).
    #[error("请填写“{label}”")]
    FieldRequired { field: String, label: String },
    #[error("请选择承办单位")]
    ReassignRequired,
}

fn party_zh(party: Party) -> &'static str {
    match party {
        Party::Owner => "主办",
        Party::Assignee => "承办",
        Party::Any => "相关",
    }
}

impl ActionError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            ActionError::UnknownAction { .. } => ErrorKind::NotFound,
            ActionError::NotAllowedForRole { .. } | ActionError::WrongParty { .. } => {
                ErrorKind::Forbidden
            }
            ActionError::UnknownState { .. }
            | ActionError::TerminalState { .. }
            | ActionError::NotAvailableInState { .. }
            | ActionError::VersionConflict { .. } => ErrorKind::Conflict,
            ActionError::CommentRequired
            | ActionError::AttachmentRequired
            | ActionError::FieldRequired { .. }
            | ActionError::ReassignRequired => ErrorKind::Invalid,
        }
    }
}

/// Where a new instance starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Start {
    pub state: String,
    pub deadline: Option<DateTime<Utc>>,
}

/// An organisation named by an expiry rule, resolved against the instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgTarget {
    Org(String),
    /// The parent of this organisation; the application knows the hierarchy.
    ParentOf(String),
}

/// One thing the scheduler must do for an expired instance, resolved and ready to apply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum ExpiryStep {
    FlagOverdue,
    Notify {
        role: String,
        org: OrgTarget,
    },
    Escalate {
        role: String,
        org: OrgTarget,
    },
    /// Apply like any decision, with the system as actor and [`AUTO_ACT_COMMENT`] as comment.
    AutoAct {
        decision: Decision,
    },
}

impl Definition {
    /// The state and deadline of a new instance created at `now`.
    pub fn start(&self, now: DateTime<Utc>, calendar: &Calendar) -> Start {
        Start {
            state: self.initial.clone(),
            deadline: self.deadline(&self.initial, now, calendar),
        }
    }

    /// The deadline of `state` when entered at `entered`; `None` without a time limit or for
    /// an unknown state.
    pub fn deadline(
        &self,
        state: &str,
        entered: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Option<DateTime<Utc>> {
        let limit = self.state(state)?.time_limit?;
        Some(match limit.unit {
            TimeUnit::WorkingDays => calendar.add_working_days(entered, limit.amount),
            TimeUnit::WorkingHours => calendar.add_working_hours(entered, limit.amount),
            TimeUnit::CalendarDays => entered
                .checked_add_signed(TimeDelta::days(i64::from(limit.amount)))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
        })
    }

    /// Decides whether `actor` may take `request` on `instance` at `now`.
    ///
    /// Checks run in this order, so that the answer is the most useful one: the action exists;
    /// the actor has one of its roles (true whatever the instance's state); the stored state is
    /// known; the version is current (any later answer would be about a state the actor is
    /// not looking at); the state is not terminal; the action is available in the state; the
    /// actor belongs to the required party; then comment, attachment, fields (in declared
    /// order) and the new assignee.
    ///
    /// # Errors
    /// The first failed check; see [`ActionError::kind`] for the HTTP mapping.
    pub fn decide(
        &self,
        instance: &InstanceView,
        actor: &Actor,
        request: &ActionRequest,
        now: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Result<Decision, ActionError> {
        let action = self
            .action(&request.action)
            .ok_or_else(|| ActionError::UnknownAction {
                action: request.action.clone(),
            })?;
        if !action.roles.iter().any(|r| actor.has_role(r)) {
            return Err(ActionError::NotAllowedForRole {
                action: action.id.clone(),
                label: action.label.clone(),
                roles: action.roles.clone(),
            });
        }
        let state = self.current_state(instance)?;
        if request.expected_version != instance.version {
            return Err(ActionError::VersionConflict {
                current_version: instance.version,
                current_state: state.label.clone(),
            });
        }
        self.check_available(state, action)?;
        if !party_matches(action.party, instance, actor) {
            return Err(ActionError::WrongParty {
                action: action.id.clone(),
                label: action.label.clone(),
                party: action.party,
            });
        }
        if action.comment_required && is_blank(request.comment.as_deref()) {
            return Err(ActionError::CommentRequired);
        }
        if action.attachment_required && request.attachments == 0 {
            return Err(ActionError::AttachmentRequired);
        }
        if let Some(field) = action
            .required_fields
            .iter()
            .find(|f| is_blank(request.fields.get(*f).map(String::as_str)))
        {
            return Err(ActionError::FieldRequired {
                field: field.clone(),
                label: self.field_label(field).to_owned(),
            });
        }
        let assignee_org = if action.reassign {
            match &request.reassign_to {
                Some(org) if !org.trim().is_empty() => Some(org.clone()),
                _ => return Err(ActionError::ReassignRequired),
            }
        } else {
            instance.assignee_org.clone()
        };
        Ok(self.decision(instance, action, assignee_org, now, calendar))
    }

    /// Actions `actor` may take on `instance` now, in declared order: for the buttons of a page.
    /// Input requirements are not checked (the form asks for them).
    pub fn available_actions(&self, instance: &InstanceView, actor: &Actor) -> Vec<&Action> {
        let Some(state) = self.state(&instance.state) else {
            return Vec::new();
        };
        self.actions
            .iter()
            .filter(|a| a.is_from(state))
            .filter(|a| a.roles.iter().any(|r| actor.has_role(r)))
            .filter(|a| party_matches(a.party, instance, actor))
            .collect()
    }

    /// Who may act in `state`: every (role, party) pair of the actions available there,
    /// sorted and without repeats, for the application's inbox query ("instances in state S
    /// whose owner/assignee is one of my orgs, if I hold role R").
    pub fn waiting_roles(&self, state: &str) -> Vec<(&str, Party)> {
        let mut pairs: Vec<(&str, Party)> = self
            .actions_from(state)
            .into_iter()
            .flat_map(|a| a.roles.iter().map(move |r| (r.as_str(), a.party)))
            .collect();
        pairs.sort();
        pairs.dedup();
        pairs
    }

    /// What to do for an instance whose deadline has passed, in the state's declared order.
    ///
    /// Empty if `now` is before `deadline` or the state is terminal or has no rules. The
    /// engine keeps no memory: the application must record that it applied the steps (for
    /// example by clearing or moving the stored deadline) so that the scheduler does not
    /// apply them again on its next run.
    ///
    /// # Errors
    /// [`ActionError::UnknownState`] if the stored state is not in the definition; an
    /// auto-act that cannot be taken (the definition guarantees it can, so this means a stale
    /// instance) gives the refusal.
    pub fn expire(
        &self,
        instance: &InstanceView,
        deadline: DateTime<Utc>,
        now: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Result<Vec<ExpiryStep>, ActionError> {
        let state = self.current_state(instance)?;
        if now < deadline || state.terminal {
            return Ok(Vec::new());
        }
        let responsible = instance
            .assignee_org
            .clone()
            .unwrap_or_else(|| instance.owner_org.clone());
        let resolve = |org: &OrgRef| match org {
            OrgRef::Owner => OrgTarget::Org(instance.owner_org.clone()),
            OrgRef::Assignee => OrgTarget::Org(responsible.clone()),
            OrgRef::Parent => OrgTarget::ParentOf(responsible.clone()),
            OrgRef::Code(code) => OrgTarget::Org(code.clone()),
        };
        state
            .on_expiry
            .iter()
            .map(|rule| {
                Ok(match rule {
                    ExpiryRule::FlagOverdue => ExpiryStep::FlagOverdue,
                    ExpiryRule::Notify { role, org } => ExpiryStep::Notify {
                        role: role.clone(),
                        org: resolve(org),
                    },
                    ExpiryRule::Escalate { role, org } => ExpiryStep::Escalate {
                        role: role.clone(),
                        org: resolve(org),
                    },
                    ExpiryRule::AutoAct { action } => {
                        let action =
                            self.action(action)
                                .ok_or_else(|| ActionError::UnknownAction {
                                    action: action.clone(),
                                })?;
                        self.check_available(state, action)?;
                        ExpiryStep::AutoAct {
                            decision: self.decision(
                                instance,
                                action,
                                instance.assignee_org.clone(),
                                now,
                                calendar,
                            ),
                        }
                    }
                })
            })
            .collect()
    }

    fn current_state(&self, instance: &InstanceView) -> Result<&State, ActionError> {
        self.state(&instance.state)
            .ok_or_else(|| ActionError::UnknownState {
                state: instance.state.clone(),
            })
    }

    fn check_available(&self, state: &State, action: &Action) -> Result<(), ActionError> {
        if state.terminal {
            return Err(ActionError::TerminalState {
                state: state.id.clone(),
                label: state.label.clone(),
            });
        }
        if !action.is_from(state) {
            return Err(ActionError::NotAvailableInState {
                action: action.id.clone(),
                label: action.label.clone(),
                state: state.id.clone(),
                state_label: state.label.clone(),
            });
        }
        Ok(())
    }

    fn decision(
        &self,
        instance: &InstanceView,
        action: &Action,
        assignee_org: Option<String>,
        now: DateTime<Utc>,
        calendar: &Calendar,
    ) -> Decision {
        Decision {
            from: instance.state.clone(),
            to: action.to.clone(),
            action: action.id.clone(),
            new_version: instance.version.saturating_add(1),
            deadline: self.deadline(&action.to, now, calendar),
            assignee_org,
        }
    }
}

fn party_matches(party: Party, instance: &InstanceView, actor: &Actor) -> bool {
    match party {
        Party::Any => true,
        Party::Owner => actor.belongs_to(&instance.owner_org),
        Party::Assignee => instance
            .assignee_org
            .as_deref()
            .is_some_and(|org| actor.belongs_to(org)),
    }
}

fn is_blank(text: Option<&str>) -> bool {
    text.is_none_or(|t| t.trim().is_empty())
}
