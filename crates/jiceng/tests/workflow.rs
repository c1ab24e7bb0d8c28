//! The workflow plumbing on both engines: acting through the API and pages, refusals,
//! idempotency, optimistic concurrency, timers (once, even with two schedulers), inbox and
//! metrics.

mod common;

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use common::{TestApp, TestDb};
use jiceng::audit::Actor;
use jiceng::ids::{InstanceId, OrgId};
use jiceng::time::Timestamp;
use jiceng::workflow::{self, NewInstance};
use serde_json::json;

/// A small dispatch process: the township accepts, a station handles, the township checks.
const TICKET: &str = r#"
name = "ticket"
label = "测试任务单"
initial = "new"

[[state]]
id = "new"
label = "待受理"
time_limit = { amount = 2, unit = "working_hours" }
on_expiry = [
  { rule = "flag_overdue" },
  { rule = "notify", role = "township_officer", org = "owner" },
  { rule = "escalate", role = "township_leader", org = "owner" },
]

[[state]]
id = "handling"
label = "办理中"
time_limit = { amount = 3, unit = "working_days" }
on_expiry = [{ rule = "flag_overdue" }]

[[state]]
id = "checking"
label = "待核查"
time_limit = { amount = 1, unit = "calendar_days" }
on_expiry = [{ rule = "auto_act", action = "auto_close" }]

[[state]]
id = "closed"
label = "已办结"
terminal = true

[[action]]
id = "accept"
label = "受理"
from = "new"
to = "handling"
roles = ["township_officer", "dispatcher"]
party = "owner"

[[action]]
id = "report"
label = "反馈"
from = "handling"
to = "checking"
roles = ["township_officer"]
party = "owner"
comment_required = true

[[action]]
id = "close"
label = "办结"
from = "checking"
to = "closed"
roles = ["township_leader"]
party = "owner"

[[action]]
id = "auto_close"
label = "逾期自动办结"
from = "checking"
to = "closed"
roles = ["system"]
party = "any"
"#;

fn registry() -> Arc<workflow_engine::Registry> {
    Arc::new(
        workflow_engine::Registry::load(&[("ticket.toml", TICKET)], None)
            .expect("test process loads"),
    )
}

use ::workflow as workflow_engine;

async fn app(t: TestDb) -> (TestApp, Arc<workflow_engine::Registry>) {
    jiceng::demo::load_district(&t.db).await.expect("demo");
    let reg = registry();
    let router = jiceng::web::app_with(t.db.clone(), t.settings(), reg.clone());
    (TestApp { t, router }, reg)
}

async fn start(
    app: &TestApp,
    reg: &workflow_engine::Registry,
    owner_code: &str,
    n: usize,
) -> InstanceId {
    let owner = OrgId(app.org_id(owner_code).await);
    let cal = workflow::calendar(app.db()).await.unwrap();
    let mut tx = app.db().begin().await.unwrap();
    let inst = workflow::start(
        &mut tx.conn(),
        reg,
        &cal,
        &Actor::system("test"),
        NewInstance {
            process: "ticket".into(),
            subject: format!("测试事项 {n}"),
            subject_ref: format!("test:{owner_code}:{n}"),
            owner_org: owner,
            assignee_org: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    inst.id
}

on_both_engines!(
    an_action_moves_the_instance_and_writes_history_and_audit,
    refusals_say_why_with_the_right_status,
    a_double_submitted_action_acts_once,
    fifty_simultaneous_actions_exactly_one_wins,
    an_expired_deadline_fires_once_and_notifies,
    two_schedulers_fire_each_deadline_exactly_once,
    the_inbox_shows_my_work_soonest_first,
    metrics_match_a_hand_computed_example,
    the_timeline_page_takes_an_action,
);

async fn an_action_moves_the_instance_and_writes_history_and_audit(t: TestDb) {
    let (app, reg) = app(t).await;
    let id = start(&app, &reg, "510117006000", 1).await;
    let officer = app.login("xipu_officer").await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &officer,
            json!({"action": "accept", "expected_version": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["instance"]["state"], "handling");
    assert_eq!(r.json()["instance"]["version"], 2);
    let d = app
        .get(&format!("/api/v1/work/{id}"), &officer)
        .await
        .json();
    let history = d["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "start and accept");
    assert_eq!(history[1]["action_label"], "受理");
    assert_eq!(history[1]["actor"], "xipu_officer");
    assert!(
        d["instance"]["deadline"].is_string(),
        "the new state has its own time limit"
    );
    let audit = jiceng::audit::search(
        app.db(),
        &jiceng::audit::AuditFilter {
            action: Some("workflow.act".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(audit.total, 1);
}

async fn refusals_say_why_with_the_right_status(t: TestDb) {
    let (app, reg) = app(t).await;
    let id = start(&app, &reg, "510117006000", 1).await;
    let leader = app.login("xipu_leader").await;
    let officer = app.login("xipu_officer").await;
    let other_township = app.login("wanggeyuan").await;
    let act = |v: serde_json::Value| v;
    // A role that may not take the action: 403 with the reason.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &leader,
            act(json!({"action": "accept", "expected_version": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // The roles that may are named as people know them, not by their codes.
    let message = r.json()["error"]["message"].as_str().unwrap().to_owned();
    assert!(
        message.contains("受理") && message.contains("镇（街道）工作人员"),
        "{message}"
    );
    assert!(!message.contains("township_officer"), "{message}");
    // A grid worker is not even in the right party.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &other_township,
            json!({"action": "accept", "expected_version": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A missing required comment: 422 naming the field.
    app.json(
        Method::POST,
        &format!("/api/v1/work/{id}/actions"),
        &officer,
        json!({"action": "accept", "expected_version": 1}),
    )
    .await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &officer,
            json!({"action": "report", "expected_version": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "comment");
    // So is one too long to show on the page.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &officer,
            json!({"action": "report", "expected_version": 2, "comment": "意".repeat(2001)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "comment");
    assert!(r.body.contains("2000"), "{}", r.body);
    // A stale version: 409 with the current state.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &officer,
            json!({"action": "report", "expected_version": 1, "comment": "已处理"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("办理中"),
        "{}",
        r.body
    );
    // On to the end; then nothing more can happen.
    app.json(
        Method::POST,
        &format!("/api/v1/work/{id}/actions"),
        &officer,
        json!({"action": "report", "expected_version": 2, "comment": "已处理"}),
    )
    .await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &leader,
            json!({"action": "close", "expected_version": 3}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["instance"]["terminal"], true);
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &leader,
            json!({"action": "close", "expected_version": 4}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("已办结"),
        "{}",
        r.body
    );
    // Unknown instance, unknown action, malformed body.
    let r = app
        .json(
            Method::POST,
            "/api/v1/work/999999/actions",
            &officer,
            json!({"action": "accept", "expected_version": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let id2 = start(&app, &reg, "510117006000", 2).await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id2}/actions"),
            &officer,
            json!({"action": "fly", "expected_version": 1}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id2}/actions"),
            &officer,
            json!({"expected_version": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let d = app
        .get(&format!("/api/v1/work/{id2}"), &officer)
        .await
        .json();
    assert_eq!(
        d["history"].as_array().unwrap().len(),
        1,
        "refusals change nothing"
    );
}

async fn a_double_submitted_action_acts_once(t: TestDb) {
    let (app, reg) = app(t).await;
    let id = start(&app, &reg, "510117006000", 1).await;
    let officer = app.login("xipu_officer").await;
    let body = json!({"action": "accept", "expected_version": 1, "idempotency_key": "form-123"});
    let first = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &officer,
            body.clone(),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.json()["replayed"], false);
    let second = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &officer,
            body,
        )
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    assert_eq!(second.json()["replayed"], true);
    assert_eq!(second.json()["instance"]["version"], 2);
    let d = app
        .get(&format!("/api/v1/work/{id}"), &officer)
        .await
        .json();
    assert_eq!(d["history"].as_array().unwrap().len(), 2);
    // A key is one request's: the same key on another matter acts there.
    let other = start(&app, &reg, "510117006000", 2).await;
    let third = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{other}/actions"),
            &officer,
            json!({"action": "accept", "expected_version": 1, "idempotency_key": "form-123"}),
        )
        .await;
    assert_eq!(third.status, StatusCode::OK, "{}", third.body);
    assert_eq!(third.json()["replayed"], false);
    assert_eq!(third.json()["instance"]["version"], 2);
}

async fn fifty_simultaneous_actions_exactly_one_wins(t: TestDb) {
    let (app, reg) = app(t).await;
    let id = start(&app, &reg, "510117006000", 1).await;
    let officer = app.login("xipu_officer").await;
    let app = Arc::new(app);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let app = app.clone();
        let officer = officer.clone();
        tasks.push(tokio::spawn(async move {
            app.json(
                Method::POST,
                &format!("/api/v1/work/{id}/actions"),
                &officer,
                json!({"action": "accept", "expected_version": 1}),
            )
            .await
            .status
        }));
    }
    let mut ok = 0;
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::OK => ok += 1,
            StatusCode::CONFLICT => conflicts += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((ok, conflicts), (1, 49));
    let d = app
        .get(&format!("/api/v1/work/{id}"), &officer)
        .await
        .json();
    assert_eq!(d["history"].as_array().unwrap().len(), 2);
    assert_eq!(d["instance"]["version"], 2);
}

async fn set_deadline(app: &TestApp, id: InstanceId, at: Timestamp) {
    app.exec(&format!(
        "UPDATE wf_instances SET deadline = {} WHERE id = {}",
        at.as_micros(),
        id.0
    ))
    .await;
}

async fn an_expired_deadline_fires_once_and_notifies(t: TestDb) {
    let (app, reg) = app(t).await;
    let id = start(&app, &reg, "510117006000", 1).await;
    let now = Timestamp::now();
    set_deadline(&app, id, now.plus_seconds(-60)).await;
    let r = workflow::run_due(app.db(), &reg, now).await.unwrap();
    assert_eq!((r.handled, r.notices, r.auto_acted), (1, 2, 0));
    let again = workflow::run_due(app.db(), &reg, now.plus_seconds(3600))
        .await
        .unwrap();
    assert_eq!(again.handled, 0, "a deadline fires once");
    let officer = app.login("xipu_officer").await;
    let inbox = app.get("/api/v1/work", &officer).await.json();
    assert_eq!(inbox["notices"].as_array().unwrap().len(), 1);
    assert_eq!(inbox["items"][0]["urgency"], "overdue");
    assert_eq!(inbox["items"][0]["instance"]["overdue"], true);
    let leader = app.login("xipu_leader").await;
    let inbox = app.get("/api/v1/work", &leader).await.json();
    assert_eq!(inbox["notices"][0]["kind"], "escalate");
    // An auto-act rule moves the instance by itself, recorded as the system.
    app.json(
        Method::POST,
        &format!("/api/v1/work/{id}/actions"),
        &officer,
        json!({"action": "accept", "expected_version": 1}),
    )
    .await;
    app.json(
        Method::POST,
        &format!("/api/v1/work/{id}/actions"),
        &officer,
        json!({"action": "report", "expected_version": 2, "comment": "好了"}),
    )
    .await;
    set_deadline(&app, id, now.plus_seconds(-1)).await;
    let r = workflow::run_due(app.db(), &reg, now).await.unwrap();
    assert_eq!(r.auto_acted, 1);
    let d = app
        .get(&format!("/api/v1/work/{id}"), &officer)
        .await
        .json();
    assert_eq!(d["instance"]["state"], "closed");
    assert_eq!(
        d["history"].as_array().unwrap().last().unwrap()["actor"],
        "系统:timer"
    );
}

async fn two_schedulers_fire_each_deadline_exactly_once(t: TestDb) {
    let (app, reg) = app(t).await;
    let now = Timestamp::now();
    for n in 0..120 {
        let id = start(&app, &reg, "510117006000", n).await;
        set_deadline(&app, id, now.plus_seconds(-(n as i64) - 1)).await;
    }
    let (a, b) = tokio::join!(
        workflow::run_due(app.db(), &reg, now),
        workflow::run_due(app.db(), &reg, now)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.handled + b.handled, 120, "{a:?} {b:?}");
    assert_eq!(a.notices + b.notices, 240);
    let mut c = app.db().acquire().await.unwrap();
    let mut conn = c.conn();
    let notices: i64 = jiceng::on_conn!(&mut conn, c => sqlx::query_scalar("SELECT COUNT(*) FROM wf_notices").fetch_one(&mut *c).await.unwrap());
    assert_eq!(notices, 240);
}

async fn the_inbox_shows_my_work_soonest_first(t: TestDb) {
    let (app, reg) = app(t).await;
    let late = start(&app, &reg, "510117006000", 1).await;
    let soon = start(&app, &reg, "510117006000", 2).await;
    let elsewhere = start(&app, &reg, "510117004000", 3).await;
    let now = Timestamp::now();
    set_deadline(&app, late, now.plus_seconds(86_400 * 3)).await;
    set_deadline(&app, soon, now.plus_seconds(60)).await;
    let officer = app.login("xipu_officer").await;
    let inbox = app.get("/api/v1/work", &officer).await.json();
    let ids: Vec<i64> = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["instance"]["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![soon.0, late.0]);
    assert_ne!(
        inbox["items"][0]["urgency"], "normal",
        "due within a minute: today or overdue"
    );
    assert!(!ids.contains(&elsewhere.0));
    // Another township's instance is not even visible.
    assert_eq!(
        app.get(&format!("/api/v1/work/{elsewhere}"), &officer)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // The leader may act on none of them now: nothing waits on them.
    let leader = app.login("xipu_leader").await;
    assert_eq!(app.get("/api/v1/work", &leader).await.json()["total"], 0);
    let page = app.get("/work", &officer).await;
    assert!(page.body.contains("测试事项 2") && page.body.contains("测试事项 1"));
}

async fn metrics_match_a_hand_computed_example(t: TestDb) {
    let (app, reg) = app(t).await;
    let officer = app.login("xipu_officer").await;
    let leader = app.login("xipu_leader").await;
    // Four instances: two closed (one of them late), one handling, one new and overdue.
    let mut ids = Vec::new();
    for n in 0..4 {
        ids.push(start(&app, &reg, "510117006000", n).await);
    }
    for id in &ids[..3] {
        app.json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &officer,
            json!({"action": "accept", "expected_version": 1}),
        )
        .await;
    }
    for id in &ids[..2] {
        app.json(
            Method::POST,
            &format!("/api/v1/work/{id}/actions"),
            &officer,
            json!({"action": "report", "expected_version": 2, "comment": "办好"}),
        )
        .await;
    }
    // The second one is left in "checking" past its deadline, then closed late.
    set_deadline(&app, ids[1], Timestamp::now().plus_seconds(-10)).await;
    for id in &ids[..2] {
        let r = app
            .json(
                Method::POST,
                &format!("/api/v1/work/{id}/actions"),
                &leader,
                json!({"action": "close", "expected_version": 3}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    set_deadline(&app, ids[3], Timestamp::now().plus_seconds(-10)).await;
    // Working time is fixed by hand so the figures are known: 3 600 s and 7 200 s.
    app.exec(&format!(
        "UPDATE wf_instances SET working_seconds = 3600 WHERE id = {}",
        ids[0].0
    ))
    .await;
    app.exec(&format!(
        "UPDATE wf_instances SET working_seconds = 7200 WHERE id = {}",
        ids[1].0
    ))
    .await;
    let m = app
        .get("/api/v1/work/metrics?process=ticket", &officer)
        .await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.body);
    let m = m.json();
    assert_eq!(m["total"], 4);
    assert_eq!(m["by_state"]["closed"], 2);
    assert_eq!(m["by_state"]["handling"], 1);
    assert_eq!(m["by_state"]["new"], 1);
    assert_eq!(m["completed"], 2);
    assert_eq!(m["completed_on_time"], 1);
    assert_eq!(m["on_time_permille"], 500);
    assert_eq!(m["avg_working_seconds"], 5400);
    assert_eq!(m["p90_working_seconds"], 7200);
    assert_eq!(
        m["overdue"], 2,
        "the late-closed one and the open overdue one"
    );
    // Another township's figures are its own.
    let other = app.org_id("510117004000").await;
    let sys = app.login("sysadmin").await;
    let m = app
        .get(
            &format!("/api/v1/work/metrics?process=ticket&org={other}"),
            &sys,
        )
        .await
        .json();
    assert_eq!(m["total"], 0);
    assert_eq!(
        app.get(
            &format!("/api/v1/work/metrics?process=ticket&org={other}"),
            &officer
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    // Nor the district's, which the officer may see as an organisation but does not oversee.
    let district = app.org_id("510117000000").await;
    let r = app
        .get(
            &format!("/api/v1/work/metrics?process=ticket&org={district}"),
            &officer,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app.get("/api/v1/work/metrics?process=nope", &officer).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = app.get("/work/metrics?process=ticket", &officer).await;
    assert!(page.body.contains("50.0%"), "{}", page.body);
    // Its states as the process names them, not by their codes.
    assert!(
        page.body.contains("<td>办理中</td>") && !page.body.contains("<td>handling</td>"),
        "{}",
        page.body
    );
}

async fn the_timeline_page_takes_an_action(t: TestDb) {
    let (app, reg) = app(t).await;
    let id = start(&app, &reg, "510117006000", 1).await;
    let officer = app.login("xipu_officer").await;
    let page = app.get(&format!("/work/{id}"), &officer).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("受理") && page.body.contains("待受理"));
    let r = app
        .form(
            &format!("/work/{id}/act"),
            &officer,
            &[
                ("action", "accept"),
                ("expected_version", "1"),
                ("idempotency_key", "k1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // A second post of the same form is recognised and does nothing.
    let r = app
        .form(
            &format!("/work/{id}/act"),
            &officer,
            &[
                ("action", "accept"),
                ("expected_version", "1"),
                ("idempotency_key", "k1"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app.get(&format!("/work/{id}"), &officer).await;
    assert!(page.body.contains("办理中"));
    // The history names the states as the process does, not by their codes.
    assert!(page.body.contains("待受理 → 办理中"), "{}", page.body);
    assert!(!page.body.contains("new → handling"));
    // Missing comment on a form: the page again, with the reason.
    let r = app
        .form(
            &format!("/work/{id}/act"),
            &officer,
            &[("action", "report"), ("expected_version", "2")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("意见") || r.body.contains("comment"),
        "{}",
        r.body
    );
}

#[test]
fn a_broken_process_file_is_refused_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("ticket.toml"),
        TICKET.replace("to = \"handling\"", "to = \"handlin\""),
    )
    .unwrap();
    // An override must name a built-in process; with none built in yet, any file is refused.
    let err = workflow::load_processes(Some(dir.path())).unwrap_err();
    assert!(err.contains("ticket.toml"), "{err}");
    let errs = workflow_engine::Registry::load(
        &[(
            "ticket.toml",
            &TICKET.replace("to = \"handling\"", "to = \"handlin\""),
        )],
        None,
    )
    .unwrap_err();
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert!(
        text.iter()
            .any(|e| e.starts_with("ticket.toml:") && e.contains("handlin")),
        "{text:?}"
    );
}
