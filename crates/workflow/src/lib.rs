//! A declarative workflow engine.
//!
//! Each process (a case dispatch, an admission request …) is a TOML file naming its states,
//! the actions between them, which roles of which party may take each action, what input an
//! action needs, and how long an instance may stay in a state. The engine validates those
//! files ([`Definition::from_toml`], [`Registry::load`]) and then decides, purely, whether an
//! actor may take an action on an instance ([`Definition::decide`]) and what to do when a time
//! limit passes ([`Definition::expire`]). The application stores instances and their history;
//! this crate knows nothing of the domain: roles and organisations are opaque strings.
//!
//! # The TOML format
//!
//! ```toml
//! name = "leave_request"          # identifier: [a-z][a-z0-9_]*
//! label = "请假申请"
//! initial = "draft"
//!
//! [fields]                        # optional: what people call the actions' required fields
//! days = "请假天数"
//!
//! [[state]]
//! id = "draft"
//! label = "草稿"
//!
//! [[state]]
//! id = "submitted"
//! label = "待审批"
//! # unit: working_days | working_hours | calendar_days; amount 1..=10000
//! time_limit = { amount = 3, unit = "working_days" }
//! on_expiry = [
//!   { rule = "flag_overdue" },
//!   { rule = "notify", role = "approver" },                      # org defaults to "assignee"
//!   { rule = "escalate", role = "director", org = "parent" },    # org defaults to "parent"
//!   { rule = "auto_act", action = "approve_silently" },
//! ]
//!
//! [[state]]
//! id = "approved"
//! label = "已批准"
//! terminal = true                 # or standing = true: actions stay possible, nobody's to-do
//!
//! [[action]]
//! id = "submit"
//! label = "提交"
//! from = "draft"                  # a state, a list of states, or "*" (every non-terminal state)
//! to = "submitted"
//! roles = ["employee"]
//! party = "owner"                 # owner | assignee | any
//! reassign = true                 # the actor names the new assignee organisation
//!
//! [[action]]
//! id = "approve"
//! label = "批准"
//! from = "submitted"
//! to = "approved"
//! roles = ["approver"]
//! party = "assignee"
//! comment_required = true
//! attachment_required = false
//! required_fields = ["days"]
//!
//! [[action]]
//! id = "approve_silently"
//! label = "逾期视为同意"
//! from = "submitted"
//! to = "approved"
//! roles = ["system"]
//! party = "any"
//! ```
//!
//! Organisations in `org` are `owner`, `assignee`, `parent`, or any other string, taken as an
//! opaque organisation code.

mod definition;
mod engine;
mod registry;

pub use definition::{
    Action, Definition, DefinitionError, ExpiryRule, FromStates, MAX_TIME_LIMIT_AMOUNT, OrgRef,
    Party, State, TimeLimit, TimeUnit,
};
pub use engine::{
    AUTO_ACT_COMMENT, ActionError, ActionRequest, Actor, Decision, ErrorKind, ExpiryStep,
    InstanceView, OrgTarget, Start,
};
pub use registry::Registry;

/// Re-exported so that callers name one calendar type.
pub use calendar::Calendar;
