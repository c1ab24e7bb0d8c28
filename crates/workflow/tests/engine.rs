//! Deciding actions and expiry on the toy leave-request process.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use workflow::{
    ActionError, ActionRequest, Actor, Calendar, Decision, Definition, ErrorKind, ExpiryStep,
    InstanceView, OrgTarget, Party,
};

const LEAVE: &str = include_str!("fixtures/leave_request.toml");

fn leave() -> Definition {
    Definition::from_toml("leave_request.toml", LEAVE).expect("fixture is valid")
}

/// Beijing local time as UTC.
fn bj(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    calendar::china_offset()
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .expect("valid")
        .with_timezone(&Utc)
}

fn instance(state: &str, assignee: Option<&str>, version: i64) -> InstanceView {
    InstanceView {
        state: state.into(),
        owner_org: "office_a".into(),
        assignee_org: assignee.map(Into::into),
        version,
    }
}

fn approve_request(version: i64) -> ActionRequest {
    ActionRequest {
        comment: Some("同意".into()),
        fields: BTreeMap::from([("days".to_string(), "3".to_string())]),
        ..ActionRequest::new("approve", version)
    }
}

#[test]
fn start_and_submit() {
    let def = leave();
    let cal = Calendar::embedded();
    let now = bj(2026, 2, 13, 10, 0);
    let start = def.start(now, &cal);
    assert_eq!(start.state, "draft");
    assert_eq!(start.deadline, None);

    let employee = Actor::new(["employee"], "office_a");
    let request = ActionRequest {
        reassign_to: Some("hr".into()),
        ..ActionRequest::new("submit", 1)
    };
    let decision = def
        .decide(&instance("draft", None, 1), &employee, &request, now, &cal)
        .expect("allowed");
    assert_eq!(
        decision,
        Decision {
            from: "draft".into(),
            to: "submitted".into(),
            action: "submit".into(),
            new_version: 2,
            // 3 working days from Friday 13 Feb 2026: Sat 14 (make-up), then Tue 24, Wed 25.
            deadline: Some(bj(2026, 2, 25, 17, 30)),
            assignee_org: Some("hr".into()),
        }
    );
}

#[test]
fn each_refusal_and_its_kind() {
    let def = leave();
    let cal = Calendar::embedded();
    let now = bj(2026, 3, 9, 9, 0);
    let submitted = instance("submitted", Some("hr"), 5);
    let approver = Actor::new(["approver"], "hr");
    let decide = |inst: &InstanceView, actor: &Actor, req: &ActionRequest| {
        def.decide(inst, actor, req, now, &cal)
    };

    let err = decide(&submitted, &approver, &ActionRequest::new("fly", 5)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    let err = decide(
        &submitted,
        &Actor::new(["employee"], "hr"),
        &approve_request(5),
    )
    .unwrap_err();
    assert!(
        matches!(err, ActionError::NotAllowedForRole { ref roles, .. } if roles == &["approver", "director"])
    );
    assert_eq!(err.kind(), ErrorKind::Forbidden);
    assert_eq!(
        err.to_string(),
        "您的角色无权执行“批准”，可执行的角色：approver、director"
    );

    let err = decide(&submitted, &approver, &approve_request(4)).unwrap_err();
    assert_eq!(
        err,
        ActionError::VersionConflict {
            current_version: 5,
            current_state: "待审批".into()
        }
    );
    assert_eq!(err.kind(), ErrorKind::Conflict);
    assert_eq!(err.kind().http_status(), 409);

    let err = decide(
        &instance("approved", Some("hr"), 5),
        &approver,
        &approve_request(5),
    )
    .unwrap_err();
    assert!(matches!(err, ActionError::TerminalState { .. }));
    assert_eq!(err.kind(), ErrorKind::Conflict);

    let err = decide(
        &instance("draft", Some("hr"), 5),
        &approver,
        &approve_request(5),
    )
    .unwrap_err();
    assert!(matches!(err, ActionError::NotAvailableInState { .. }));
    assert_eq!(err.to_string(), "事项当前状态“草稿”下不能执行“批准”");

    let err = decide(
        &submitted,
        &Actor::new(["approver"], "finance"),
        &approve_request(5),
    )
    .unwrap_err();
    assert!(matches!(
        err,
        ActionError::WrongParty {
            party: Party::Assignee,
            ..
        }
    ));
    assert_eq!(err.kind(), ErrorKind::Forbidden);

    let mut req = approve_request(5);
    req.comment = Some("   ".into());
    assert_eq!(
        decide(&submitted, &approver, &req),
        Err(ActionError::CommentRequired)
    );
    assert_eq!(ActionError::CommentRequired.kind(), ErrorKind::Invalid);

    let mut req = approve_request(5);
    req.fields.clear();
    assert_eq!(
        decide(&submitted, &approver, &req),
        Err(ActionError::FieldRequired {
            field: "days".into(),
            label: "请假天数".into()
        })
    );

    let req = ActionRequest::new("refer", 5);
    assert_eq!(
        decide(&submitted, &approver, &req),
        Err(ActionError::AttachmentRequired)
    );

    let req = ActionRequest::new("forward", 5);
    assert_eq!(
        decide(&submitted, &approver, &req),
        Err(ActionError::ReassignRequired)
    );

    let err = decide(&instance("limbo", None, 5), &approver, &approve_request(5)).unwrap_err();
    assert!(matches!(err, ActionError::UnknownState { .. }));

    // Acting for another organisation counts.
    let deputy = Actor {
        roles: vec!["approver".into()],
        orgs: vec!["finance".into(), "hr".into()],
    };
    let ok = decide(&submitted, &deputy, &approve_request(5)).expect("allowed");
    assert_eq!(
        (ok.to.as_str(), ok.new_version, ok.deadline),
        ("approved", 6, None)
    );
}

#[test]
fn reassignment_restarts_the_clock_in_working_hours() {
    let def = leave();
    let cal = Calendar::embedded();
    let req = ActionRequest {
        attachments: 1,
        ..ActionRequest::new("refer", 2)
    };
    let decision = def
        .decide(
            &instance("submitted", Some("hr"), 2),
            &Actor::new(["approver"], "hr"),
            &req,
            bj(2026, 3, 9, 16, 0),
            &cal,
        )
        .expect("allowed");
    // 4 working hours from Monday 16:00: 1.5 h Monday, 2.5 h Tuesday morning.
    assert_eq!(decision.deadline, Some(bj(2026, 3, 10, 11, 0)));
    assert_eq!(decision.assignee_org.as_deref(), Some("hr"));
}

#[test]
fn available_actions_and_waiting_roles() {
    let def = leave();
    let submitted = instance("submitted", Some("hr"), 1);
    let ids = |actor: &Actor| -> Vec<String> {
        def.available_actions(&submitted, actor)
            .into_iter()
            .map(|a| a.id.clone())
            .collect()
    };
    assert_eq!(
        ids(&Actor::new(["approver"], "hr")),
        ["approve", "refer", "reject", "send_back", "forward"]
    );
    assert_eq!(ids(&Actor::new(["employee"], "office_a")), ["cancel"]);
    assert!(ids(&Actor::new(["employee"], "hr")).is_empty());
    assert!(
        def.available_actions(
            &instance("approved", None, 1),
            &Actor::new(["approver"], "hr")
        )
        .is_empty()
    );

    assert_eq!(
        def.waiting_roles("submitted"),
        vec![
            ("approver", Party::Assignee),
            ("director", Party::Assignee),
            ("employee", Party::Owner),
        ]
    );
    assert_eq!(def.waiting_roles("draft"), vec![("employee", Party::Owner)]);
    assert!(def.waiting_roles("approved").is_empty());
}

#[test]
fn expiry_steps_are_resolved() {
    let def = leave();
    let cal = Calendar::embedded();
    let deadline = bj(2026, 3, 9, 17, 30);
    let submitted = instance("submitted", Some("hr"), 3);

    assert!(
        def.expire(&submitted, deadline, bj(2026, 3, 9, 17, 0), &cal)
            .expect("known")
            .is_empty()
    );
    assert_eq!(
        def.expire(&submitted, deadline, bj(2026, 3, 10, 8, 0), &cal)
            .expect("known"),
        vec![
            ExpiryStep::FlagOverdue,
            ExpiryStep::Notify {
                role: "approver".into(),
                org: OrgTarget::Org("hr".into())
            },
            ExpiryStep::Escalate {
                role: "director".into(),
                org: OrgTarget::ParentOf("hr".into())
            },
        ]
    );
    assert_eq!(def.on_expiry("submitted").len(), 3);

    let pending = instance("pending_director", Some("hr"), 7);
    let steps = def
        .expire(&pending, deadline, bj(2026, 3, 10, 8, 0), &cal)
        .expect("known");
    assert_eq!(steps.len(), 2);
    assert_eq!(
        steps[0],
        ExpiryStep::Notify {
            role: "director".into(),
            org: OrgTarget::Org("office_a".into())
        }
    );
    let ExpiryStep::AutoAct { decision } = &steps[1] else {
        panic!("expected auto_act, got {steps:?}");
    };
    assert_eq!(
        (decision.to.as_str(), decision.new_version),
        ("approved", 8)
    );
    assert!(
        def.expire(
            &instance("approved", None, 1),
            deadline,
            bj(2026, 3, 10, 8, 0),
            &cal
        )
        .expect("known")
        .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Random histories.

const ROLES: [&str; 5] = ["employee", "approver", "director", "system", "visitor"];
const ORGS: [&str; 3] = ["office_a", "hr", "finance"];
const ACTIONS: [&str; 10] = [
    "submit",
    "approve",
    "refer",
    "reject",
    "send_back",
    "forward",
    "approve_silently",
    "cancel",
    "fly",
    "",
];

/// Personas that can act somewhere in the process, so that random histories get far;
/// random role and organisation sets are mixed in to exercise refusals.
const PERSONAS: [(&[&str], &[&str]); 4] = [
    (&["employee"], &["office_a"]),
    (&["approver"], &["hr"]),
    (&["director"], &["hr", "finance"]),
    (&["approver", "director"], &["finance"]),
];

#[derive(Debug, Clone)]
struct Step {
    of_state: Option<usize>,
    action: usize,
    roles: Vec<String>,
    orgs: Vec<String>,
    version_skew: i64,
    comment: bool,
    attachments: usize,
    days: bool,
    reassign_to: Option<usize>,
}

fn actors() -> impl Strategy<Value = (Vec<String>, Vec<String>)> {
    let persona = (0..PERSONAS.len()).prop_map(|i| {
        let (roles, orgs) = PERSONAS[i];
        (
            roles.iter().map(ToString::to_string).collect(),
            orgs.iter().map(ToString::to_string).collect(),
        )
    });
    let random = (
        proptest::collection::vec(any::<bool>(), ROLES.len()),
        proptest::collection::vec(any::<bool>(), ORGS.len()),
    )
        .prop_map(|(roles, orgs)| (pick(&ROLES, &roles), pick(&ORGS, &orgs)));
    prop_oneof![3 => persona, 1 => random]
}

fn steps() -> impl Strategy<Value = Step> {
    (
        // Mostly an action of the current state (`Some`, resolved when the step runs), so that
        // histories get far; otherwise any name, including unknown ones.
        prop_oneof![3 => (0..100usize).prop_map(Some), 1 => Just(None)],
        0..ACTIONS.len(),
        actors(),
        prop_oneof![6 => Just(0i64), 1 => -2i64..=2],
        prop_oneof![4 => Just(true), 1 => Just(false)],
        prop_oneof![4 => Just(1usize), 1 => Just(0usize)],
        prop_oneof![4 => Just(true), 1 => Just(false)],
        proptest::option::weighted(0.8, 0..ORGS.len()),
    )
        .prop_map(
            |(
                of_state,
                any,
                (roles, orgs),
                version_skew,
                comment,
                attachments,
                days,
                reassign_to,
            )| Step {
                of_state,
                action: any,
                roles,
                orgs,
                version_skew,
                comment,
                attachments,
                days,
                reassign_to,
            },
        )
}

fn pick(names: &[&str], mask: &[bool]) -> Vec<String> {
    names
        .iter()
        .zip(mask)
        .filter(|(_, on)| **on)
        .map(|(n, _)| n.to_string())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_histories_stay_inside_the_definition(
        steps in proptest::collection::vec(steps(), 1..60),
        start_version in -5i64..100,
        minutes in 0i64..100_000,
    ) {
        let def = leave();
        let cal = Calendar::embedded();
        let now = bj(2026, 1, 5, 9, 0) + chrono::TimeDelta::minutes(minutes);
        let mut inst = InstanceView {
            state: def.initial().to_string(),
            owner_org: "office_a".into(),
            assignee_org: None,
            version: start_version,
        };
        let mut history: Vec<Decision> = Vec::new();

        for step in &steps {
            let actor = Actor { roles: step.roles.clone(), orgs: step.orgs.clone() };
            let request = ActionRequest {
                action: match step.of_state {
                    Some(i) => {
                        // "cancel" ends a history at once: offer it one time in five.
                        let of_state: Vec<_> = def
                            .actions_from(&inst.state)
                            .into_iter()
                            .filter(|a| a.id != "cancel" || i % 5 == 0)
                            .collect();
                        of_state.get(i % of_state.len().max(1)).map_or_else(
                            || ACTIONS[step.action].to_string(),
                            |a| a.id.clone(),
                        )
                    }
                    None => ACTIONS[step.action].to_string(),
                },
                expected_version: inst.version + step.version_skew,
                comment: step.comment.then(|| "意见".to_string()),
                attachments: step.attachments,
                fields: if step.days { BTreeMap::from([("days".into(), "2".into())]) } else { BTreeMap::new() },
                reassign_to: step.reassign_to.map(|i| ORGS[i].to_string()),
            };
            let offered = def
                .available_actions(&inst, &actor)
                .iter()
                .any(|a| a.id == request.action);
            let was_terminal = def.state(&inst.state).is_some_and(|s| s.terminal);

            match def.decide(&inst, &actor, &request, now, &cal) {
                Ok(decision) => {
                    prop_assert!(!was_terminal, "left terminal state {}", inst.state);
                    prop_assert_eq!(step.version_skew, 0);
                    prop_assert!(offered, "decided an action not offered: {:?}", request.action);
                    prop_assert_eq!(&decision.from, &inst.state);
                    prop_assert!(def.state(&decision.to).is_some());
                    prop_assert_eq!(decision.new_version, inst.version + 1);
                    prop_assert_eq!(
                        decision.deadline.is_some(),
                        def.state(&decision.to).is_some_and(|s| s.time_limit.is_some())
                    );
                    inst.state = decision.to.clone();
                    inst.version = decision.new_version;
                    inst.assignee_org = decision.assignee_org.clone();
                    history.push(decision);
                }
                Err(error) => {
                    // A refusal is explained consistently with what the page offers.
                    if step.version_skew == 0 && offered {
                        prop_assert_eq!(error.kind(), ErrorKind::Invalid, "{:?}", error);
                    }
                    if was_terminal && def.action(&request.action).is_some()
                        && error.kind() != ErrorKind::Forbidden
                        && step.version_skew == 0
                    {
                        prop_assert!(matches!(error, ActionError::TerminalState { .. }), "{:?}", error);
                    }
                    if step.version_skew != 0 && error.kind() != ErrorKind::Forbidden
                        && error.kind() != ErrorKind::NotFound
                    {
                        prop_assert!(matches!(error, ActionError::VersionConflict { .. }), "{:?}", error);
                    }
                }
            }
            prop_assert!(def.state(&inst.state).is_some());
        }

        prop_assert_eq!(inst.version - start_version, history.len() as i64);
        for pair in history.windows(2) {
            prop_assert_eq!(&pair[0].to, &pair[1].from);
            prop_assert_eq!(pair[0].new_version + 1, pair[1].new_version);
        }
        if let Some(last) = history.last() {
            prop_assert_eq!(&last.to, &inst.state);
        }
    }
}
