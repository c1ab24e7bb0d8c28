//! Process definitions: the validated model and its TOML form.
//!
//! Definitions are written by people (developers, and a district's administrators who override
//! them), so parsing is built around error reporting: every problem is collected, each with the
//! file, line and column of the offending text, and a definition that has any problem is not
//! loaded at all. An engine that half-loads a process would fail later, on a citizen's case.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use toml::Spanned;

/// Upper bound for a time limit's amount: large enough for any real limit, small enough that
/// deadline arithmetic never leaves the calendar's range.
pub const MAX_TIME_LIMIT_AMOUNT: i64 = 10_000;

/// One problem in a definition file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DefinitionError {
    pub file: String,
    /// 1-based; 0 when the problem concerns the whole file (for example, it cannot be read).
    pub line: usize,
    /// 1-based, in characters; 0 together with `line`.
    pub column: usize,
    pub message: String,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)
        } else {
            write!(
                f,
                "{}:{}:{}: {}",
                self.file, self.line, self.column, self.message
            )
        }
    }
}

impl std::error::Error for DefinitionError {}

/// A validated process definition.
#[derive(Debug, Clone, Serialize)]
pub struct Definition {
    pub(crate) file: String,
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) initial: String,
    pub(crate) states: Vec<State>,
    pub(crate) actions: Vec<Action>,
    /// The names people know the actions' fields by (`[fields]`), for messages and forms.
    pub(crate) field_labels: BTreeMap<String, String>,
}

/// A state of a process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    pub id: String,
    pub label: String,
    pub terminal: bool,
    /// A standing state (`standing = true`): the instance lives on and its actions stay
    /// possible (an approved indicator may still be retired), but no one is waiting to act,
    /// so it is nobody's to-do. It has no time limit.
    pub standing: bool,
    pub time_limit: Option<TimeLimit>,
    /// What to do once the time limit has passed, in the declared order.
    pub on_expiry: Vec<ExpiryRule>,
}

/// How long an instance may stay in a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeLimit {
    pub amount: u32,
    pub unit: TimeUnit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeUnit {
    /// Close of business of the n-th working day after entering the state.
    WorkingDays,
    /// n hours of working time (inside working sessions) after entering the state.
    WorkingHours,
    /// Exactly n × 24 hours after entering the state.
    CalendarDays,
}

impl TimeUnit {
    fn parse(text: &str) -> Option<TimeUnit> {
        match text {
            "working_days" => Some(TimeUnit::WorkingDays),
            "working_hours" => Some(TimeUnit::WorkingHours),
            "calendar_days" => Some(TimeUnit::CalendarDays),
            _ => None,
        }
    }
}

impl fmt::Display for TimeLimit {
    /// zh-CN, for pages: "3 个工作日".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            TimeUnit::WorkingDays => "个工作日",
            TimeUnit::WorkingHours => "个工作小时",
            TimeUnit::CalendarDays => "天",
        };
        write!(f, "{} {unit}", self.amount)
    }
}

/// One thing to do when a state's time limit has passed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum ExpiryRule {
    /// Mark the instance overdue (for lists and metrics).
    FlagOverdue,
    /// Tell the holders of `role` in `org` (default: the assignee).
    Notify { role: String, org: OrgRef },
    /// Hand the matter up to the holders of `role` in `org` (default: the parent organisation).
    Escalate { role: String, org: OrgRef },
    /// Take `action` on the instance's behalf, as the system.
    AutoAct { action: String },
}

/// An organisation named relative to an instance, or by its opaque code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrgRef {
    Owner,
    /// The assignee, or the owner while there is none.
    Assignee,
    /// The parent of the assignee (or of the owner while there is none); the engine does not
    /// know the hierarchy, so the application resolves it.
    Parent,
    Code(String),
}

impl OrgRef {
    fn parse(text: &str) -> OrgRef {
        match text {
            "owner" => OrgRef::Owner,
            "assignee" => OrgRef::Assignee,
            "parent" => OrgRef::Parent,
            code => OrgRef::Code(code.to_string()),
        }
    }
}

/// Which organisation an actor must belong to, relative to the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Party {
    /// The organisation that owns the instance (the one that opened it).
    Owner,
    /// The organisation the instance is currently assigned to.
    Assignee,
    /// Any organisation: the role alone decides.
    Any,
}

impl Party {
    fn parse(text: &str) -> Option<Party> {
        match text {
            "owner" => Some(Party::Owner),
            "assignee" => Some(Party::Assignee),
            "any" => Some(Party::Any),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Party::Owner => "owner",
            Party::Assignee => "assignee",
            Party::Any => "any",
        }
    }
}

/// The states an action may be taken from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FromStates {
    /// `"*"`: every non-terminal state.
    Any,
    States(Vec<String>),
}

/// An action: a transition and who may take it with what input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    pub id: String,
    pub label: String,
    pub from: FromStates,
    pub to: String,
    pub roles: Vec<String>,
    pub party: Party,
    pub comment_required: bool,
    pub attachment_required: bool,
    pub required_fields: Vec<String>,
    /// Taking the action assigns the instance to a new organisation, which the actor must name.
    pub reassign: bool,
}

impl Action {
    /// Whether the action may be taken from `state` (terminal states never have actions).
    pub fn is_from(&self, state: &State) -> bool {
        !state.terminal
            && match &self.from {
                FromStates::Any => true,
                FromStates::States(ids) => ids.contains(&state.id),
            }
    }
}

impl Definition {
    /// Parses and validates one definition file; `file_name` is used in error messages only.
    ///
    /// # Errors
    /// All problems found. A TOML syntax or shape error (missing key, wrong type, unknown key)
    /// stops parsing, so it comes alone; semantic problems are all reported together.
    pub fn from_toml(file_name: &str, source: &str) -> Result<Definition, Vec<DefinitionError>> {
        let lines = LineIndex::new(source);
        let raw: RawDefinition = toml::from_str(source).map_err(|e| {
            let (line, column) = e.span().map_or((1, 1), |s| lines.position(s.start));
            vec![DefinitionError {
                file: file_name.to_string(),
                line,
                column,
                message: toml_message(e.message()),
            }]
        })?;
        let mut checker = Checker {
            file: file_name,
            lines: &lines,
            errors: Vec::new(),
        };
        let definition = checker.check(raw);
        let mut errors = checker.errors;
        if errors.is_empty() {
            Ok(definition)
        } else {
            errors.sort_by_key(|e| (e.line, e.column));
            Err(errors)
        }
    }

    /// The identifier the application refers to the process by.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// zh-CN name for pages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The name people know an action's field by: its label under `[fields]`, or else the
    /// field's own name.
    pub fn field_label<'a>(&'a self, field: &'a str) -> &'a str {
        self.field_labels.get(field).map_or(field, String::as_str)
    }

    pub fn initial(&self) -> &str {
        &self.initial
    }

    /// The file the definition was read from.
    pub fn file(&self) -> &str {
        &self.file
    }

    pub fn states(&self) -> &[State] {
        &self.states
    }

    pub fn actions(&self) -> &[Action] {
        &self.actions
    }

    pub fn state(&self, id: &str) -> Option<&State> {
        self.states.iter().find(|s| s.id == id)
    }

    pub fn action(&self, id: &str) -> Option<&Action> {
        self.actions.iter().find(|a| a.id == id)
    }

    /// Actions that may be taken from `state` by someone, regardless of who asks.
    pub fn actions_from(&self, state: &str) -> Vec<&Action> {
        match self.state(state) {
            Some(state) => self.actions.iter().filter(|a| a.is_from(state)).collect(),
            None => Vec::new(),
        }
    }

    /// Checks that the states and actions the application's code refers to by id exist, so
    /// that a district's override that renamed or dropped one fails at start-up rather than
    /// on the first instance that needs it.
    ///
    /// # Errors
    /// One whole-file error per missing id.
    pub fn require(&self, states: &[&str], actions: &[&str]) -> Result<(), Vec<DefinitionError>> {
        let missing = |kind: &str, id: &str| DefinitionError {
            file: self.file.clone(),
            line: 0,
            column: 0,
            message: format!(
                "process \"{}\" must have {kind} \"{id}\", which the application uses",
                self.name
            ),
        };
        let errors: Vec<DefinitionError> = states
            .iter()
            .filter(|id| self.state(id).is_none())
            .map(|id| missing("state", id))
            .chain(
                actions
                    .iter()
                    .filter(|id| self.action(id).is_none())
                    .map(|id| missing("action", id)),
            )
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// The rules to apply when the time limit of `state` has passed (empty for unknown states).
    pub fn on_expiry(&self, state: &str) -> &[ExpiryRule] {
        self.state(state).map_or(&[], |s| &s.on_expiry)
    }
}

// ---------------------------------------------------------------------------------------------
// The TOML form, with spans so that semantic errors can point at their line.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDefinition {
    name: Spanned<String>,
    label: Spanned<String>,
    initial: Spanned<String>,
    #[serde(default)]
    fields: BTreeMap<String, Spanned<String>>,
    #[serde(default, rename = "state")]
    states: Vec<RawState>,
    #[serde(default, rename = "action")]
    actions: Vec<RawAction>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawState {
    id: Spanned<String>,
    label: Spanned<String>,
    #[serde(default)]
    terminal: Option<Spanned<bool>>,
    #[serde(default)]
    standing: Option<Spanned<bool>>,
    time_limit: Option<Spanned<RawTimeLimit>>,
    #[serde(default)]
    on_expiry: Option<Spanned<Vec<Spanned<RawRule>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeLimit {
    amount: Spanned<i64>,
    unit: Spanned<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    rule: Spanned<String>,
    role: Option<Spanned<String>>,
    org: Option<Spanned<String>>,
    action: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAction {
    id: Spanned<String>,
    label: Spanned<String>,
    from: Spanned<RawFrom>,
    to: Spanned<String>,
    roles: Spanned<Vec<String>>,
    party: Spanned<String>,
    #[serde(default)]
    comment_required: bool,
    #[serde(default)]
    attachment_required: bool,
    #[serde(default)]
    required_fields: Vec<String>,
    #[serde(default)]
    reassign: bool,
}

/// `from = "a"`, `from = ["a", "b"]` or `from = "*"`.
enum RawFrom {
    One(String),
    Many(Vec<String>),
}

impl<'de> Deserialize<'de> for RawFrom {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FromVisitor;
        impl<'de> Visitor<'de> for FromVisitor {
            type Value = RawFrom;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a state id, a list of state ids, or \"*\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawFrom, E> {
                Ok(RawFrom::One(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RawFrom, A::Error> {
                let mut ids = Vec::new();
                while let Some(id) = seq.next_element::<String>()? {
                    ids.push(id);
                }
                Ok(RawFrom::Many(ids))
            }
        }
        deserializer.deserialize_any(FromVisitor)
    }
}

/// toml's messages may span several lines or be empty; an error line must be one line.
fn toml_message(message: &str) -> String {
    let parts: Vec<&str> = message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if parts.is_empty() {
        "invalid TOML syntax (is a value missing?)".to_string()
    } else {
        parts.join("; ")
    }
}

/// Byte offsets to 1-based line and character column.
struct LineIndex<'a> {
    source: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(source: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(source.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { source, starts }
    }

    fn position(&self, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let column = self
            .source
            .get(start..offset.min(self.source.len()))
            .map_or(1, |text| text.chars().count() + 1);
        (line, column)
    }
}

/// Collects semantic errors while turning the raw form into the model.
struct Checker<'a> {
    file: &'a str,
    lines: &'a LineIndex<'a>,
    errors: Vec<DefinitionError>,
}

impl Checker<'_> {
    fn error<T>(&mut self, at: &Spanned<T>, message: String) {
        let (line, column) = self.lines.position(at.span().start);
        self.errors.push(DefinitionError {
            file: self.file.to_string(),
            line,
            column,
            message,
        });
    }

    fn identifier(&mut self, what: &str, id: &Spanned<String>) {
        let text = id.get_ref();
        let mut chars = text.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !ok {
            self.error(
                id,
                format!(
                    "{what} \"{text}\" is not an identifier (lower-case letters, digits and _, starting with a letter)"
                ),
            );
        }
    }

    fn label(&mut self, what: &str, label: &Spanned<String>) {
        if label.get_ref().trim().is_empty() {
            self.error(label, format!("{what} has an empty label"));
        }
    }

    fn check(&mut self, raw: RawDefinition) -> Definition {
        self.identifier("process name", &raw.name);
        self.label("the process", &raw.label);

        // States first: every other check refers to them.
        let mut state_spans: BTreeMap<String, Spanned<String>> = BTreeMap::new();
        let mut states = Vec::new();
        for raw_state in &raw.states {
            let id = raw_state.id.get_ref();
            self.identifier("state id", &raw_state.id);
            self.label(&format!("state \"{id}\""), &raw_state.label);
            if state_spans.contains_key(id) {
                self.error(&raw_state.id, format!("duplicate state id \"{id}\""));
                continue;
            }
            state_spans.insert(id.clone(), raw_state.id.clone());
            states.push(self.state(raw_state));
        }
        if states.is_empty() {
            self.error(&raw.name, "the process has no [[state]]".to_string());
        }

        let initial = raw.initial.get_ref();
        match states.iter().find(|s| s.id == *initial) {
            None => self.error(
                &raw.initial,
                format!("initial state \"{initial}\" is not a declared state"),
            ),
            Some(state) if state.terminal => self.error(
                &raw.initial,
                format!("initial state \"{initial}\" is terminal, so the process can never run"),
            ),
            Some(_) => {}
        }

        let mut action_spans: BTreeMap<String, Spanned<String>> = BTreeMap::new();
        let mut actions = Vec::new();
        for raw_action in &raw.actions {
            let id = raw_action.id.get_ref();
            self.identifier("action id", &raw_action.id);
            self.label(&format!("action \"{id}\""), &raw_action.label);
            if action_spans.contains_key(id) {
                self.error(&raw_action.id, format!("duplicate action id \"{id}\""));
                continue;
            }
            action_spans.insert(id.clone(), raw_action.id.clone());
            actions.push(self.action(raw_action, &states));
        }

        self.check_auto_acts(&raw.states, &states, &actions);
        self.check_graph(initial, &states, &actions, &state_spans);
        let mut field_labels = BTreeMap::new();
        for (field, label) in raw.fields {
            if label.get_ref().trim().is_empty() {
                self.error(&label, format!("field \"{field}\" has an empty label"));
            } else if !actions.iter().any(|a| a.required_fields.contains(&field)) {
                self.error(
                    &label,
                    format!("field \"{field}\" is labelled but no action asks for it"),
                );
            }
            field_labels.insert(field, label.into_inner());
        }

        Definition {
            file: self.file.to_string(),
            name: raw.name.into_inner(),
            label: raw.label.into_inner(),
            initial: raw.initial.into_inner(),
            states,
            actions,
            field_labels,
        }
    }

    fn state(&mut self, raw: &RawState) -> State {
        let id = raw.id.get_ref();
        let terminal = raw.terminal.as_ref().is_some_and(|t| *t.get_ref());
        let standing = match &raw.standing {
            Some(flag) if *flag.get_ref() && terminal => {
                self.error(
                    flag,
                    format!("terminal state \"{id}\" cannot also be standing"),
                );
                false
            }
            Some(flag) if *flag.get_ref() && raw.time_limit.is_some() => {
                self.error(
                    flag,
                    format!(
                        "standing state \"{id}\" cannot have a time limit: no one is waiting to act"
                    ),
                );
                false
            }
            Some(flag) => *flag.get_ref(),
            None => false,
        };
        let mut time_limit = None;
        if let Some(limit) = &raw.time_limit {
            if terminal {
                self.error(
                    limit,
                    format!("terminal state \"{id}\" cannot have a time limit"),
                );
            }
            let amount = limit.get_ref().amount.get_ref();
            if *amount <= 0 || *amount > MAX_TIME_LIMIT_AMOUNT {
                self.error(
                    &limit.get_ref().amount,
                    format!(
                        "time limit amount of state \"{id}\" must be between 1 and {MAX_TIME_LIMIT_AMOUNT}, not {amount}"
                    ),
                );
            }
            let unit = limit.get_ref().unit.get_ref();
            let parsed_unit = TimeUnit::parse(unit);
            if parsed_unit.is_none() {
                self.error(
                    &limit.get_ref().unit,
                    format!(
                        "unknown time limit unit \"{unit}\" (expected working_days, working_hours or calendar_days)"
                    ),
                );
            }
            if let (Ok(amount), Some(unit)) = (u32::try_from(*amount), parsed_unit) {
                time_limit = Some(TimeLimit { amount, unit });
            }
        }

        let mut on_expiry = Vec::new();
        if let Some(rules) = &raw.on_expiry {
            if terminal {
                self.error(
                    rules,
                    format!("terminal state \"{id}\" cannot have on_expiry rules"),
                );
            } else if raw.time_limit.is_none() && !rules.get_ref().is_empty() {
                self.error(
                    rules,
                    format!(
                        "state \"{id}\" has on_expiry rules but no time_limit, so they never apply"
                    ),
                );
            }
            for rule in rules.get_ref() {
                if let Some(rule) = self.rule(rule) {
                    on_expiry.push(rule);
                }
            }
        }

        State {
            id: id.clone(),
            label: raw.label.get_ref().clone(),
            terminal,
            standing,
            time_limit,
            on_expiry,
        }
    }

    fn rule(&mut self, spanned: &Spanned<RawRule>) -> Option<ExpiryRule> {
        let raw = spanned.get_ref();
        let name = raw.rule.get_ref().as_str();
        let (needs_role, needs_action, allows_org) = match name {
            "flag_overdue" => (false, false, false),
            "notify" | "escalate" => (true, false, true),
            "auto_act" => (false, true, false),
            _ => {
                self.error(
                    &raw.rule,
                    format!(
                        "unknown expiry rule \"{name}\" (expected flag_overdue, notify, escalate or auto_act)"
                    ),
                );
                return None;
            }
        };
        let mut ok = true;
        for (key, value, wanted) in [
            ("role", &raw.role, needs_role),
            ("org", &raw.org, allows_org),
            ("action", &raw.action, needs_action),
        ] {
            match value {
                Some(v) if !wanted => {
                    self.error(v, format!("expiry rule \"{name}\" takes no \"{key}\""));
                    ok = false;
                }
                Some(v) if v.get_ref().trim().is_empty() => {
                    self.error(v, format!("\"{key}\" of expiry rule \"{name}\" is empty"));
                    ok = false;
                }
                None if wanted && key != "org" => {
                    self.error(spanned, format!("expiry rule \"{name}\" needs \"{key}\""));
                    ok = false;
                }
                _ => {}
            }
        }
        if !ok {
            return None;
        }
        let role = raw
            .role
            .as_ref()
            .map(|r| r.get_ref().clone())
            .unwrap_or_default();
        let org = raw.org.as_ref().map(|o| OrgRef::parse(o.get_ref()));
        Some(match name {
            "flag_overdue" => ExpiryRule::FlagOverdue,
            "notify" => ExpiryRule::Notify {
                role,
                org: org.unwrap_or(OrgRef::Assignee),
            },
            "escalate" => ExpiryRule::Escalate {
                role,
                org: org.unwrap_or(OrgRef::Parent),
            },
            _ => ExpiryRule::AutoAct {
                action: raw
                    .action
                    .as_ref()
                    .map(|a| a.get_ref().clone())
                    .unwrap_or_default(),
            },
        })
    }

    fn action(&mut self, raw: &RawAction, states: &[State]) -> Action {
        let id = raw.id.get_ref();
        let find = |sid: &str| states.iter().find(|s| s.id == sid);

        let from = match raw.from.get_ref() {
            RawFrom::One(s) if s == "*" => FromStates::Any,
            RawFrom::One(s) => FromStates::States(vec![s.clone()]),
            RawFrom::Many(list) => FromStates::States(list.clone()),
        };
        if let FromStates::States(list) = &from {
            if list.is_empty() {
                self.error(&raw.from, format!("action \"{id}\" has an empty from list"));
            }
            for sid in list {
                match find(sid) {
                    None if sid == "*" => self.error(
                        &raw.from,
                        format!("action \"{id}\": \"*\" must stand alone, not inside a list"),
                    ),
                    None => self.error(
                        &raw.from,
                        format!("action \"{id}\" comes from unknown state \"{sid}\""),
                    ),
                    Some(state) if state.terminal => self.error(
                        &raw.from,
                        format!(
                            "action \"{id}\" leaves terminal state \"{sid}\"; terminal states have no outgoing actions"
                        ),
                    ),
                    Some(_) => {}
                }
            }
        }
        let to = raw.to.get_ref();
        if find(to).is_none() {
            self.error(
                &raw.to,
                format!("action \"{id}\" goes to unknown state \"{to}\""),
            );
        }

        let roles: Vec<String> = raw.roles.get_ref().clone();
        if roles.iter().all(|r| r.trim().is_empty()) {
            self.error(
                &raw.roles,
                format!("no role may take action \"{id}\" (roles is empty)"),
            );
        }
        let party = Party::parse(raw.party.get_ref()).unwrap_or_else(|| {
            self.error(
                &raw.party,
                format!(
                    "unknown party \"{}\" in action \"{id}\" (expected owner, assignee or any)",
                    raw.party.get_ref()
                ),
            );
            Party::Any
        });
        let unique_fields: BTreeSet<&String> = raw.required_fields.iter().collect();
        if unique_fields.len() != raw.required_fields.len()
            || raw.required_fields.iter().any(|f| f.trim().is_empty())
        {
            self.error(
                &raw.id,
                format!("action \"{id}\" has an empty or repeated name in required_fields"),
            );
        }

        Action {
            id: id.clone(),
            label: raw.label.get_ref().clone(),
            from,
            to: to.clone(),
            roles: roles.into_iter().filter(|r| !r.trim().is_empty()).collect(),
            party,
            comment_required: raw.comment_required,
            attachment_required: raw.attachment_required,
            required_fields: raw.required_fields.clone(),
            reassign: raw.reassign,
        }
    }

    /// An automatic action must exist, be available from the expiring state, and need no input
    /// that only a person can give (the engine supplies the comment itself).
    fn check_auto_acts(&mut self, raw_states: &[RawState], states: &[State], actions: &[Action]) {
        for raw_state in raw_states {
            let Some(rules) = &raw_state.on_expiry else {
                continue;
            };
            // Duplicate state ids were skipped; the first declaration is the one in `states`.
            let Some(state) = states.iter().find(|s| s.id == *raw_state.id.get_ref()) else {
                continue;
            };
            for rule in rules.get_ref() {
                let Some(name) = &rule.get_ref().action else {
                    continue;
                };
                if rule.get_ref().rule.get_ref() != "auto_act" {
                    continue;
                }
                let action_id = name.get_ref();
                match actions.iter().find(|a| a.id == *action_id) {
                    None => self.error(
                        name,
                        format!("auto_act names unknown action \"{action_id}\""),
                    ),
                    Some(action) if !action.is_from(state) => self.error(
                        name,
                        format!(
                            "auto_act action \"{action_id}\" is not available from state \"{}\"",
                            state.id
                        ),
                    ),
                    Some(action)
                        if action.reassign
                            || action.attachment_required
                            || !action.required_fields.is_empty() =>
                    {
                        self.error(
                            name,
                            format!(
                                "auto_act action \"{action_id}\" needs input the system cannot give (reassign, attachment or required fields)"
                            ),
                        )
                    }
                    Some(_) => {}
                }
            }
        }
    }

    /// Every state reachable from the initial one, and every non-terminal state with a way out.
    fn check_graph(
        &mut self,
        initial: &str,
        states: &[State],
        actions: &[Action],
        spans: &BTreeMap<String, Spanned<String>>,
    ) {
        let targets = |state: &State| -> Vec<&str> {
            actions
                .iter()
                .filter(|a| a.is_from(state))
                .map(|a| a.to.as_str())
                .collect()
        };

        let mut reached: BTreeSet<&str> = BTreeSet::new();
        let mut queue: VecDeque<&str> = VecDeque::new();
        if states.iter().any(|s| s.id == initial) {
            reached.insert(initial);
            queue.push_back(initial);
        }
        while let Some(id) = queue.pop_front() {
            let Some(state) = states.iter().find(|s| s.id == id) else {
                continue;
            };
            for to in targets(state) {
                if states.iter().any(|s| s.id == to) && reached.insert(to) {
                    queue.push_back(to);
                }
            }
        }

        for state in states {
            let Some(span) = spans.get(&state.id) else {
                continue;
            };
            if !reached.contains(state.id.as_str()) && states.iter().any(|s| s.id == initial) {
                self.error(
                    span,
                    format!(
                        "state \"{}\" is unreachable from the initial state \"{initial}\"",
                        state.id
                    ),
                );
            }
            if !state.terminal && targets(state).iter().all(|to| *to == state.id) {
                self.error(
                    span,
                    format!(
                        "non-terminal state \"{}\" has no way out (no action leads to another state)",
                        state.id
                    ),
                );
            }
        }
    }
}
