//! The parts of a case other units handle, on both engines: a summoned department reports,
//! replies and is scored (and its assessment counts it); joint enforcement co-units each with
//! their own deadline, the case closing only when all are done; a referral acknowledged and
//! concluded; every part's time limit firing.

mod common;

use axum::http::{Method, StatusCode};
use common::{Resp, Session, TestApp, TestDb};
use jiceng::time::Timestamp;
use serde_json::{Value, json};

on_both_engines!(
    a_summoned_department_reports_replies_and_is_scored,
    a_joint_enforcement_closes_only_when_every_co_unit_is_done,
    a_referred_case_goes_to_the_department_with_its_evidence,
    every_part_time_limit_fires,
    parts_refuse_bad_input_and_change_nothing,
    a_correction_changes_the_next_suggestion,
    metrics_count_a_hand_computed_township,
);

const XIPU: &str = "510117006000";
const MARKET_STATION: &str = "510117006-BM03";
const MARKET_DEPT: &str = "BM03";

async fn new_case(app: &TestApp, d: &Session, description: &str) -> i64 {
    let r = app
        .json(
            Method::POST,
            "/api/v1/cases",
            d,
            json!({"source": "patrol", "township_code": XIPU, "category": "0601",
                   "description": description, "address": "犀浦镇IT大道 88 号"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["id"].as_i64().unwrap()
}

async fn act_ok(app: &TestApp, s: &Session, id: i64, body: Value) -> Value {
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{id}/actions"),
            s,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.body);
    r.json()
}

async fn open_part(app: &TestApp, s: &Session, id: i64, body: Value) -> Resp {
    app.json(Method::POST, &format!("/api/v1/cases/{id}/parts"), s, body)
        .await
}

async fn part_act(app: &TestApp, s: &Session, part: i64, body: Value) -> Resp {
    app.json(
        Method::POST,
        &format!("/api/v1/cases/parts/{part}/actions"),
        s,
        body,
    )
    .await
}

async fn part_ok(app: &TestApp, s: &Session, part: i64, body: Value) -> Value {
    let r = part_act(app, s, part, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.body);
    r.json()
}

async fn dispatch(app: &TestApp, d: &Session, id: i64) {
    let station = app.org_id(MARKET_STATION).await;
    act_ok(
        app,
        d,
        id,
        json!({"action": "dispatch", "unit_id": station, "item_code": "SD-063"}),
    )
    .await;
}

async fn detail(app: &TestApp, s: &Session, id: i64) -> Value {
    let r = app.get(&format!("/api/v1/cases/{id}"), s).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

async fn a_summoned_department_reports_replies_and_is_scored(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let id = new_case(
        &app,
        &d,
        "农贸市场多家摊位销售来源不明的冻肉，镇街无检测手段",
    )
    .await;
    dispatch(&app, &d, id).await;
    let dept = app.org_id(MARKET_DEPT).await;
    let leader = app.login("xipu_leader").await;
    // Sent twice at once (a double click, two leaders): one summons, and the other is told.
    let summons =
        json!({"kind": "summon", "unit_id": dept, "reason": "需区市场监管局抽检冻肉来源"});
    let (r1, r2) = tokio::join!(
        open_part(&app, &leader, id, summons.clone()),
        open_part(&app, &leader, id, summons)
    );
    let (r, other) = if r1.status == StatusCode::CREATED {
        (r1, r2)
    } else {
        (r2, r1)
    };
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.body);
    assert!(other.body.contains("不能重复发起"), "{}", other.body);
    let part = r.json()["part_id"].as_i64().unwrap();
    // Only the summoned department reports; it must name its officer.
    let station = app.login("suozhang").await;
    let r = part_act(
        &app,
        &station,
        part,
        json!({"action": "report", "officer": "张三"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let scjg = app.login("scjg").await;
    let r = part_act(&app, &scjg, part, json!({"action": "report"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // The department now sees the case.
    assert!(
        app.get("/api/v1/cases", &scjg).await.json()["total"]
            .as_i64()
            .unwrap()
            >= 1
    );
    let v = part_ok(
        &app,
        &scjg,
        part,
        json!({"action": "report", "officer": "赵国栋 执法大队副大队长"}),
    )
    .await;
    assert_eq!(v["instance"]["state"], "reported");
    assert_eq!(v["part"]["reported_on_time"], 1);
    // The station finishes its work, but the case cannot close before the department replies.
    act_ok(&app, &station, id, json!({"action": "accept"})).await;
    act_ok(
        &app,
        &station,
        id,
        json!({"action": "report", "comment": "已配合下架"}),
    )
    .await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{id}/actions"),
            &d,
            json!({"action": "close"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("吹哨未答复"), "{}", r.body);
    // Nor is closing offered while the department has not replied.
    let offered = detail(&app, &d, id).await["actions"].to_string();
    assert!(!offered.contains(r#""id":"close""#), "{offered}");
    part_ok(
        &app,
        &scjg,
        part,
        json!({"action": "reply", "comment": "已抽检 12 批次，3 批次不合格，立案查处"}),
    )
    .await;
    // A score outside 1–5 is refused; the department cannot score itself.
    let r = part_act(&app, &d, part, json!({"action": "rate", "score": 7})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = part_act(&app, &scjg, part, json!({"action": "rate", "score": 5})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let v = part_ok(
        &app,
        &d,
        part,
        json!({"action": "rate", "score": 4, "comment": "响应及时"}),
    )
    .await;
    assert_eq!(v["instance"]["state"], "rated");
    assert_eq!(v["part"]["score"], 4);
    act_ok(
        &app,
        &d,
        id,
        json!({"action": "close", "comment": "核查属实"}),
    )
    .await;
    // The department's assessment counts the summons.
    let r = app.get("/api/v1/cases/summons", &d).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let rows = r.json();
    let row = rows["departments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["code"] == MARKET_DEPT)
        .cloned()
        .unwrap();
    assert_eq!(row["summons"], 1, "{row}");
    assert_eq!(row["reported_on_time"], 1, "{row}");
    assert_eq!(row["score_sum"], 4, "{row}");
    assert_eq!(row["scored"], 1, "{row}");
    let page = app.get("/cases/summons", &d).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("区市场监督管理局"));
}

async fn a_joint_enforcement_closes_only_when_every_co_unit_is_done(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let id = new_case(&app, &d, "夜市占道经营并售卖无证食品，涉及城管和市场监管").await;
    // No joint enforcement before there is a lead unit.
    let township = app.org_id(XIPU).await;
    let r = open_part(
        &app,
        &d,
        id,
        json!({"kind": "joint", "unit_id": township, "reason": "清理占道"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    dispatch(&app, &d, id).await;
    // The lead unit cannot be its own co-unit.
    let station = app.org_id(MARKET_STATION).await;
    let r = open_part(
        &app,
        &d,
        id,
        json!({"kind": "joint", "unit_id": station, "reason": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let due = (chrono::Utc::now() + chrono::TimeDelta::days(20))
        .format("%Y-%m-%d")
        .to_string();
    let r = open_part(
        &app,
        &d,
        id,
        json!({"kind": "joint", "unit_id": township, "reason": "综合执法队清理占道摊位", "deadline": due}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let p1 = r.json()["part_id"].as_i64().unwrap();
    let dept = app.org_id(MARKET_DEPT).await;
    let r = open_part(
        &app,
        &d,
        id,
        json!({"kind": "joint", "unit_id": dept, "reason": "派员检测食品"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let p2 = r.json()["part_id"].as_i64().unwrap();
    let suozhang = app.login("suozhang").await;
    act_ok(&app, &suozhang, id, json!({"action": "accept"})).await;
    act_ok(
        &app,
        &suozhang,
        id,
        json!({"action": "report", "comment": "牵头查处，没收无证食品"}),
    )
    .await;
    // Co-unit 1: the township's officer accepts; its deadline is the dispatcher's date.
    let officer = app.login("xipu_officer").await;
    let v = part_ok(&app, &officer, p1, json!({"action": "accept"})).await;
    let deadline: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(v["instance"]["deadline"].clone()).unwrap();
    assert_eq!(
        deadline
            .with_timezone(&chrono_tz_shanghai())
            .format("%Y-%m-%d")
            .to_string(),
        due
    );
    part_ok(
        &app,
        &officer,
        p1,
        json!({"action": "report", "comment": "清理摊位 14 处"}),
    )
    .await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{id}/actions"),
            &d,
            json!({"action": "close"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("区市场监督管理局"), "{}", r.body);
    let scjg = app.login("scjg").await;
    part_ok(&app, &scjg, p2, json!({"action": "accept"})).await;
    let r = part_act(&app, &scjg, p2, json!({"action": "report"})).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "findings are required"
    );
    part_ok(
        &app,
        &scjg,
        p2,
        json!({"action": "report", "comment": "抽检 5 批次，均不合格"}),
    )
    .await;
    act_ok(
        &app,
        &d,
        id,
        json!({"action": "close", "comment": "联合执法完成"}),
    )
    .await;
    // The record lists the lead, the co-units and their findings.
    let page = app.get(&format!("/cases/{id}"), &d).await;
    assert!(page.body.contains("联合执法记录"), "{}", page.body);
    assert!(page.body.contains("清理摊位 14 处"));
    assert!(page.body.contains("抽检 5 批次，均不合格"));
    let v = detail(&app, &d, id).await;
    assert_eq!(v["parts"].as_array().unwrap().len(), 2);
    assert_eq!(v["status"], "closed");
}

fn chrono_tz_shanghai() -> chrono::FixedOffset {
    chrono::FixedOffset::east_opt(8 * 3600).unwrap()
}

async fn a_referred_case_goes_to_the_department_with_its_evidence(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    use base64::Engine;
    let r = app
        .json(
            Method::POST,
            "/api/v1/cases",
            &d,
            json!({"source": "patrol", "township_code": XIPU, "category": "0601",
                   "description": "某药店无执业药师销售处方药", "address": "犀浦镇百草路 6 号",
                   "attachments": [{"filename": "现场.png",
                     "content_base64": base64::engine::general_purpose::STANDARD.encode(&png)}]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let dept = app.org_id(MARKET_DEPT).await;
    // A referral goes to a department, with a reason.
    let township = app.org_id(XIPU).await;
    let r = open_part(
        &app,
        &d,
        id,
        json!({"kind": "referral", "unit_id": township, "reason": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = open_part(&app, &d, id, json!({"kind": "referral", "unit_id": dept})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // An unanswered summons holds the referral back, as it holds back closing.
    let leader = app.login("xipu_leader").await;
    let r = open_part(
        &app,
        &leader,
        id,
        json!({"kind": "summon", "unit_id": dept, "reason": "请区市场监管局核实药师资质"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let summon = r.json()["part_id"].as_i64().unwrap();
    let r = open_part(
        &app,
        &d,
        id,
        json!({"kind": "referral", "unit_id": dept, "reason": "药品经营违法不属于下放事项"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("不能移送"), "{}", r.body);
    let scjg = app.login("scjg").await;
    part_ok(
        &app,
        &scjg,
        summon,
        json!({"action": "report", "officer": "赵国栋"}),
    )
    .await;
    part_ok(
        &app,
        &scjg,
        summon,
        json!({"action": "reply", "comment": "已核实：无执业药师"}),
    )
    .await;
    let r = open_part(
        &app,
        &d,
        id,
        json!({"kind": "referral", "unit_id": dept, "reason": "药品经营违法不属于下放事项"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let part = r.json()["part_id"].as_i64().unwrap();
    let v = detail(&app, &d, id).await;
    assert_eq!(v["status"], "referred");
    // Nothing more can be done on the ticket, and no second referral.
    let r = open_part(
        &app,
        &d,
        id,
        json!({"kind": "referral", "unit_id": dept, "reason": "再次"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // The department sees the case and its evidence.
    let scjg = app.login("scjg").await;
    let v = detail(&app, &scjg, id).await;
    let att = v["attachments"][0]["id"].as_i64().unwrap();
    let r = app.get(&format!("/cases/attachments/{att}"), &scjg).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = part_act(
        &app,
        &scjg,
        part,
        json!({"action": "conclude", "comment": "x"}),
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "acknowledge first: {}",
        r.body
    );
    part_ok(&app, &scjg, part, json!({"action": "acknowledge"})).await;
    let v = part_ok(
        &app,
        &scjg,
        part,
        json!({"action": "conclude", "comment": "已立案，罚款 2 万元"}),
    )
    .await;
    assert_eq!(v["instance"]["state"], "concluded");
    assert_eq!(v["part"]["outcome"], "已立案，罚款 2 万元");
    // The reporter's tracking page says where it went.
    let code = {
        let r = app
            .get(&format!("/api/v1/cases/{id}?reveal=contact"), &d)
            .await;
        r.json()["case"]["receipt_code"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let r = app
        .get(&format!("/api/v1/public/cases/{code}"), &Session::default())
        .await;
    assert!(r.body.contains("移送"), "{}", r.body);
    let v = r.json();
    assert_eq!(v["result"], "已立案，罚款 2 万元", "{v}");
    assert!(
        v["unit_name"].as_str().unwrap().contains("市场监督管理局"),
        "{v}"
    );
}

async fn every_part_time_limit_fires(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let dept = app.org_id(MARKET_DEPT).await;
    let township = app.org_id(XIPU).await;
    let registry = jiceng::workflow::embedded_processes();
    let a = new_case(&app, &d, "超市销售过期牛奶，需区局抽检").await;
    dispatch(&app, &d, a).await;
    let summon = open_part(
        &app,
        &d,
        a,
        json!({"kind": "summon", "unit_id": dept, "reason": "抽检"}),
    )
    .await
    .json()["part_id"]
        .as_i64()
        .unwrap();
    let joint = open_part(
        &app,
        &d,
        a,
        json!({"kind": "joint", "unit_id": township, "reason": "配合"}),
    )
    .await
    .json()["part_id"]
        .as_i64()
        .unwrap();
    let b = new_case(&app, &d, "无证行医，需移送卫健部门").await;
    let referral = open_part(
        &app,
        &d,
        b,
        json!({"kind": "referral", "unit_id": dept, "reason": "非下放事项"}),
    )
    .await
    .json()["part_id"]
        .as_i64()
        .unwrap();
    let report = jiceng::workflow::run_due(
        app.db(),
        &registry,
        Timestamp::now().plus_seconds(60 * 86_400),
    )
    .await
    .unwrap();
    assert!(report.handled >= 3, "{report:?}");
    let v = detail(&app, &d, a).await;
    for p in v["parts"].as_array().unwrap() {
        assert_eq!(p["instance"]["overdue"], true, "{p}");
    }
    let v = detail(&app, &d, b).await;
    assert_eq!(v["parts"][0]["instance"]["overdue"], true);
    // Late reporting is recorded as late, and the department and leader were told.
    let scjg = app.login("scjg").await;
    let v = part_ok(
        &app,
        &scjg,
        summon,
        json!({"action": "report", "officer": "李四"}),
    )
    .await;
    assert_eq!(v["part"]["reported_on_time"], 0);
    let inbox = app.get("/api/v1/work", &scjg).await.json();
    assert!(
        inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "notify"),
        "{inbox}"
    );
    let leader = app.login("xipu_leader").await;
    let inbox = app.get("/api/v1/work", &leader).await.json();
    assert!(
        inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "escalate"),
        "{inbox}"
    );
    // The later states' limits fire too.
    part_ok(&app, &scjg, referral, json!({"action": "acknowledge"})).await;
    let officer = app.login("xipu_officer").await;
    part_ok(&app, &officer, joint, json!({"action": "accept"})).await;
    let report = jiceng::workflow::run_due(
        app.db(),
        &registry,
        Timestamp::now().plus_seconds(120 * 86_400),
    )
    .await
    .unwrap();
    assert!(report.handled >= 3, "{report:?}");
    part_ok(
        &app,
        &scjg,
        summon,
        json!({"action": "reply", "comment": "已处理"}),
    )
    .await;
    let report = jiceng::workflow::run_due(
        app.db(),
        &registry,
        Timestamp::now().plus_seconds(180 * 86_400),
    )
    .await
    .unwrap();
    assert_eq!(report.handled, 1, "the rating's limit: {report:?}");
}

async fn parts_refuse_bad_input_and_change_nothing(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let id = new_case(&app, &d, "路边摊贩售卖散装白酒").await;
    let dept = app.org_id(MARKET_DEPT).await;
    let station = app.org_id(MARKET_STATION).await;
    for (body, status) in [
        (
            json!({"kind": "appeal", "unit_id": dept, "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"kind": "summon", "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"kind": "summon", "unit_id": dept, "reason": "  "}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"kind": "summon", "unit_id": station, "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"kind": "summon", "unit_id": 999999, "reason": "x"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"kind": "joint", "unit_id": dept, "reason": "x", "deadline": "明天"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({"kind": "joint", "unit_id": dept, "reason": "x", "deadline": "9999-12-31"}),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let r = open_part(&app, &d, id, body.clone()).await;
        assert_eq!(r.status, status, "{body}: {}", r.body);
        if body["deadline"] == "9999-12-31" {
            assert_eq!(r.json()["error"]["field"], "deadline", "{}", r.body);
        }
    }
    // A township officer may not summon; a leader may summon but not refer.
    let officer = app.login("xipu_officer").await;
    let r = open_part(
        &app,
        &officer,
        id,
        json!({"kind": "summon", "unit_id": dept, "reason": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let leader = app.login("xipu_leader").await;
    let r = open_part(
        &app,
        &leader,
        id,
        json!({"kind": "referral", "unit_id": dept, "reason": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = part_act(&app, &d, 424242, json!({"action": "report"})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    // "refer" only through the referral form.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{id}/actions"),
            &d,
            json!({"action": "refer", "comment": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let v = detail(&app, &d, id).await;
    assert!(v["parts"].as_array().unwrap().is_empty());
    assert_eq!(v["status"], "pending");
}

async fn suggestion(app: &TestApp, d: &Session, id: i64) -> Value {
    detail(app, d, id).await["suggestion"].clone()
}

async fn a_correction_changes_the_next_suggestion(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let text = "小区门口有人摆摊卖烤红薯，占用人行道影响通行";
    let a = new_case(&app, &d, text).await;
    let first = suggestion(&app, &d, a).await;
    assert!(first["category_code"].is_string(), "{first}");
    assert!(first["category_permille"].as_i64().unwrap() > 0);
    let before = first["category_code"].as_str().unwrap().to_owned();
    let corrected = if before == "0102" { "0103" } else { "0102" };
    // Bad input changes nothing.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{a}/classify"),
            &d,
            json!({"category": "9999"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{a}/classify"),
            &d,
            json!({"category": corrected}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let v = detail(&app, &d, a).await;
    assert_eq!(v["case"]["category_code"], corrected);
    let b = new_case(&app, &d, text).await;
    assert_eq!(suggestion(&app, &d, b).await["category_code"], corrected);
    // A second correction moves the example: the next suggestion follows it.
    let again = if corrected == "0103" { "0104" } else { "0103" };
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{a}/classify"),
            &d,
            json!({"category": again}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{b}/classify"),
            &d,
            json!({"category": again}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let c = new_case(&app, &d, text).await;
    assert_eq!(suggestion(&app, &d, c).await["category_code"], again);
    // The unit is learnt at dispatch.
    dispatch(&app, &d, c).await;
    let e = new_case(&app, &d, text).await;
    assert_eq!(suggestion(&app, &d, e).await["unit_name"], "犀浦市场监管所");
    // Only before dispatch, only by the dispatcher.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{c}/classify"),
            &d,
            json!({"category": again}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let page = app.get(&format!("/cases/{e}"), &d).await;
    assert!(page.body.contains("确认分类"), "{}", page.body);
}

async fn metrics_count_a_hand_computed_township(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let suozhang = app.login("suozhang").await;
    let dept = app.org_id(MARKET_DEPT).await;
    // a: dispatched, accepted, reworked once, closed, rated 基本满意.
    let a = new_case(&app, &d, "超市冷柜温度不达标").await;
    dispatch(&app, &d, a).await;
    act_ok(&app, &suozhang, a, json!({"action": "accept"})).await;
    act_ok(
        &app,
        &suozhang,
        a,
        json!({"action": "report", "comment": "已整改"}),
    )
    .await;
    act_ok(
        &app,
        &d,
        a,
        json!({"action": "rework", "comment": "温度仍不达标"}),
    )
    .await;
    act_ok(
        &app,
        &suozhang,
        a,
        json!({"action": "report", "comment": "已更换冷柜"}),
    )
    .await;
    act_ok(&app, &d, a, json!({"action": "close"})).await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{a}/rating"),
            &d,
            json!({"rating": "basic", "comment": "还行"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // b: dismissed; c: referred; e: dispatched and waiting.
    let b = new_case(&app, &d, "反映内容无法核实").await;
    act_ok(
        &app,
        &d,
        b,
        json!({"action": "dismiss", "comment": "无法核实"}),
    )
    .await;
    let c = new_case(&app, &d, "药店违规销售处方药").await;
    let r = open_part(
        &app,
        &d,
        c,
        json!({"kind": "referral", "unit_id": dept, "reason": "非下放事项"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let e = new_case(&app, &d, "菜市场缺斤短两").await;
    dispatch(&app, &d, e).await;
    let r = app.get("/api/v1/cases/metrics", &d).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let m = r.json();
    let t = &m["total"];
    assert_eq!(t["received"], 4, "{m}");
    assert_eq!(t["dispatched"], 2);
    assert_eq!(t["dispatched_on_time"], 2);
    assert_eq!(t["accepted_on_time"], 1);
    assert_eq!(t["closed"], 1);
    assert_eq!(t["closed_on_time"], 1);
    assert_eq!(t["reworked"], 1);
    assert_eq!(t["dismissed"], 1);
    assert_eq!(t["referred"], 1);
    assert_eq!(t["rated"], 1);
    assert_eq!(t["satisfied"], 1);
    // 解决率 = 1 / (4 − 1 − 1) = 50 %; by source: all patrol; by category: all 0601.
    assert_eq!(m["by_source"][0]["counts"]["received"], 4);
    assert_eq!(m["by_category"][0]["key"], "0601");
    let months: i64 = m["by_month"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["counts"]["received"].as_i64().unwrap())
        .sum();
    assert_eq!(months, 4);
    let page = app.get("/cases/metrics", &d).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("50.0%"), "{}", page.body);
    assert!(page.body.contains("<svg"));
    let x = app.get("/cases/metrics.xlsx", &d).await;
    assert_eq!(x.status, StatusCode::OK);
    assert_eq!(app.audited("case.metrics_export", None).await.total, 1);
    // A station sees its own figures only; bad dates are refused with a reason.
    let r = app.get("/api/v1/cases/metrics", &suozhang).await.json();
    assert_eq!(r["total"]["received"], 2, "{r}");
    let r = app.get("/api/v1/cases/metrics?from=2026-13-01", &d).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}
