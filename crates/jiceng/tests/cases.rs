//! Cases on both engines: intake (staff, public, hotline import) and its bad input, the
//! closed loop citizen → dispatch → accept → report → check → close → rating, the returned,
//! reworked, reopened and merged paths, citing duty items, time limits firing, masking.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use base64::Engine;
use common::{Resp, Session, TestApp, TestDb};
use jiceng::time::Timestamp;
use serde_json::{Value, json};

on_both_engines!(
    intake_refuses_bad_input_and_changes_nothing,
    public_reports_are_bounded_per_address_and_hour,
    a_citizen_report_goes_round_the_whole_loop_to_the_rating,
    a_unit_returns_a_ticket_once_with_its_reason,
    a_repeated_request_is_answered_as_the_ticket_stands,
    a_check_can_send_the_work_back,
    a_grid_worker_checks_the_cases_of_the_grids_they_work_in,
    a_dissatisfied_rating_reopens_the_case_only_once,
    merged_duplicates_both_see_the_outcome,
    saved_duplicate_settings_govern_the_next_intake,
    reports_stored_together_are_offered_to_each_other,
    a_report_stored_after_the_checks_is_still_offered,
    the_duplicate_scan_keeps_keys_apart_and_takes_the_newest,
    offers_stored_in_their_own_table_move_onto_the_case,
    a_dispatch_must_cite_an_item_on_the_townships_list,
    a_returned_duty_goes_to_the_department,
    a_passed_time_limit_flags_the_case_and_tells_the_unit,
    reporters_are_masked_except_for_the_dispatcher_and_leader,
    the_public_form_wants_a_person_and_gives_a_receipt,
    a_hotline_export_is_imported_all_or_nothing,
    categories_can_be_added_and_changed_by_the_district,
    a_change_made_through_another_process_governs_the_next_intake,
    a_session_changed_through_another_process_governs_the_next_intake,
    a_report_taken_in_by_another_process_is_offered_as_a_duplicate,
);

const XIPU: &str = "510117006000";
const MARKET_STATION: &str = "510117006-BM03";

async fn citizen_report(app: &TestApp, category: &str, description: &str) -> (i64, String) {
    let r = app
        .json(
            Method::POST,
            "/api/v1/public/cases",
            &Session::default(),
            json!({"township_code": XIPU, "category": category, "description": description,
                   "address": "犀浦镇玉龙路 18 号", "reporter_name": "王小明",
                   "reporter_phone": "13812345678"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = r.json();
    let id = v["number"]
        .as_str()
        .unwrap()
        .rsplit('-')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (id, v["receipt_code"].as_str().unwrap().to_owned())
}

async fn public_reports_are_bounded_per_address_and_hour(t: TestDb) {
    let app = TestApp::with_demo_settings(t, |s| s.public_reports_per_hour = 2).await;
    // A report refused for its content does not use up the hour.
    let r = app
        .json(
            Method::POST,
            "/api/v1/public/cases",
            &Session::default(),
            json!({"township_code": XIPU, "category": "9999", "description": "熟食摊"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    citizen_report(&app, "0601", "熟食摊没有防蝇罩").await;
    citizen_report(&app, "0601", "熟食摊没有防蝇罩，苍蝇多").await;
    // A third within the hour is refused with the reason, and nothing is stored.
    let r = app
        .json(
            Method::POST,
            "/api/v1/public/cases",
            &Session::default(),
            json!({"township_code": XIPU, "category": "0601", "description": "第三件"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.body.contains("12345"), "{}", r.body);
    assert_eq!(app.count("SELECT COUNT(*) FROM cases").await, 2);
    // Signed-in staff using the public form from the same network are known, not counted.
    let d = app.login("xipu_dispatch").await;
    let r = app
        .json(
            Method::POST,
            "/api/v1/public/cases",
            &d,
            json!({"township_code": XIPU, "category": "0601", "description": "熟食摊卫生问题",
                   "reporter_phone": "13812345678"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn act(app: &TestApp, s: &Session, id: i64, body: Value) -> Resp {
    app.json(
        Method::POST,
        &format!("/api/v1/cases/{id}/actions"),
        s,
        body,
    )
    .await
}

async fn act_ok(app: &TestApp, s: &Session, id: i64, body: Value) -> Value {
    let r = act(app, s, id, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {}", r.body);
    r.json()
}

async fn detail(app: &TestApp, s: &Session, id: i64) -> Value {
    let r = app.get(&format!("/api/v1/cases/{id}"), s).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

async fn track(app: &TestApp, code: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/public/cases/{code}"), &Session::default())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

async fn dispatch_to_station(app: &TestApp, d: &Session, id: i64) {
    let station = app.org_id(MARKET_STATION).await;
    let a = act_ok(
        app,
        d,
        id,
        json!({"action": "dispatch", "unit_id": station, "item_code": "SD-063"}),
    )
    .await;
    assert_eq!(a["state"], "dispatched");
    assert_eq!(a["unit_name"], "犀浦市场监管所");
}

/// Dispatch → accept → report → close, by the dispatcher and the station head.
async fn handle_and_close(app: &TestApp, d: &Session, station: &Session, id: i64) {
    dispatch_to_station(app, d, id).await;
    act_ok(app, station, id, json!({"action": "accept"})).await;
    act_ok(
        app,
        station,
        id,
        json!({"action": "report", "comment": "已责令整改，现场恢复正常"}),
    )
    .await;
    let a = act_ok(
        app,
        d,
        id,
        json!({"action": "close", "comment": "现场核查属实"}),
    )
    .await;
    assert_eq!(a["state"], "closed");
}

async fn rate(app: &TestApp, code: &str, rating: &str, comment: &str) -> Resp {
    app.json(
        Method::POST,
        &format!("/api/v1/public/cases/{code}/rating"),
        &Session::default(),
        json!({"rating": rating, "comment": comment}),
    )
    .await
}

async fn count_cases(app: &TestApp, s: &Session) -> i64 {
    app.get("/api/v1/cases", s).await.json()["total"]
        .as_i64()
        .unwrap()
}

async fn intake_refuses_bad_input_and_changes_nothing(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let before = count_cases(&app, &d).await;
    let ok = json!({"source": "patrol", "category": "0102", "description": "路边有暴露垃圾"});
    let point = |code: &'static str| {
        let app = &app;
        async move {
            let grid = jiceng::ids::OrgId(app.org_id(code).await);
            let (lon, lat) = jiceng::grids::interior_point(app.db(), grid)
                .await
                .unwrap()
                .expect("the demo grid has a boundary");
            json!({"lon": format!("{lon:.7}"), "lat": format!("{lat:.7}")})
        }
    };
    let cases: [(Value, &str); 9] = [
        (json!({"description": "  "}), "description"),
        // Looks empty, or carries what nobody types.
        (json!({"description": "\u{200b}\u{200b}"}), "description"),
        (json!({"address": "玉龙路\u{0}18 号"}), "address"),
        (json!({"category": "9999"}), "category"),
        (json!({"source": "carrier_pigeon"}), "source"),
        (json!({"lon": "200", "lat": "30"}), "lon"),
        // In China, but outside the district's grids; in another township's grid.
        (json!({"lon": "116.397", "lat": "39.909"}), "lon"),
        (point("510117004001001").await, "lon"),
        (
            json!({"attachments": [{"filename": "photo.jpg",
                "content_base64": base64::engine::general_purpose::STANDARD.encode(b"MZ\x90\x00 an exe")}]}),
            "attachments",
        ),
    ];
    for (patch, field) in cases {
        let mut body = ok.clone();
        for (k, v) in patch.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = app
            .json(Method::POST, "/api/v1/cases", &d, body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.body
        );
        assert_eq!(r.json()["error"]["field"], field, "{}", r.body);
    }
    // The public API wants a phone to revisit, and no hotline ticket number.
    let r = app
        .json(
            Method::POST,
            "/api/v1/public/cases",
            &Session::default(),
            json!({"township_code": XIPU, "category": "0102", "description": "垃圾"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .json(
            Method::POST,
            "/api/v1/public/cases",
            &Session::default(),
            json!({"township_code": XIPU, "category": "0102", "description": "垃圾",
                   "reporter_phone": "13700001234", "external_ref": "12345-2026-0001"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "external_ref", "{}", r.body);
    // Staff do not file citizens' reports, and a grid worker not the hotline's.
    let mut citizen = ok.clone();
    citizen["source"] = json!("citizen_web");
    let r = app.json(Method::POST, "/api/v1/cases", &d, citizen).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "source", "{}", r.body);
    let mut hotline = ok.clone();
    hotline["source"] = json!("hotline");
    hotline["reporter_phone"] = json!("13700001234");
    let worker = app.login("wanggeyuan").await;
    let r = app
        .json(Method::POST, "/api/v1/cases", &worker, hotline)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "source", "{}", r.body);
    assert_eq!(count_cases(&app, &d).await, before);
    // An unknown receipt code is a clear 404, on the API and on the page.
    let r = app
        .get("/api/v1/public/cases/ABCD-EFGH-JKMN", &Session::default())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("查询码不存在"), "{}", r.body);
    let r = app
        .get("/public/cases/track?code=ABCDEFGHJKMN", &Session::default())
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("查询码不存在"));
    // A good one with a real photo is taken.
    let png = base64::engine::general_purpose::STANDARD.encode(b"\x89PNG\r\n\x1a\nrest");
    let mut body = ok.clone();
    body["attachments"] = json!([{"filename": "现场.png", "content_base64": png}]);
    let r = app.json(Method::POST, "/api/v1/cases", &d, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let v = detail(&app, &d, id).await;
    assert_eq!(v["attachments"][0]["content_type"], "image/png");
    let att = v["attachments"][0]["id"].as_i64().unwrap();
    let r = app.get(&format!("/cases/attachments/{att}"), &d).await;
    assert_eq!(r.status, StatusCode::OK);
    // Photos may show people: each download is in the trail.
    assert_eq!(app.audited("case.attachment", None).await.total, 1);
    // Coordinates in one of the township's grids place the case in that grid.
    let mut body = ok.clone();
    for (k, v) in point("510117006001002").await.as_object().unwrap() {
        body[k] = v.clone();
    }
    let r = app.json(Method::POST, "/api/v1/cases", &d, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let v = detail(&app, &d, r.json()["id"].as_i64().unwrap()).await;
    assert_eq!(
        v["case"]["grid_id"],
        app.org_id("510117006001002").await,
        "{v}"
    );
    // The ticket's work page is the case's to show: not to the worker of another grid, who
    // may not see the case, though the grid is in the same township.
    let work = format!("/api/v1/work/{}", v["tickets"][0]["ticket"]["instance_id"]);
    assert_eq!(app.get(&work, &d).await.status, StatusCode::OK);
    let other_grid = app.login("wanggeyuan").await;
    let r = app.get(&work, &other_grid).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

async fn a_citizen_report_goes_round_the_whole_loop_to_the_rating(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let (id, code) =
        citizen_report(&app, "0601", "菜市场门口熟食摊没有防蝇设施，食品安全堪忧").await;
    let v = track(&app, &code).await;
    assert_eq!(v["status"], "pending");
    assert!(!v.to_string().contains("王小明") && !v.to_string().contains("13812345678"));
    let d = app.login("xipu_dispatch").await;
    let station = app.login("suozhang").await;
    // Not dispatched yet: the station does not see it.
    let r = app.get(&format!("/api/v1/cases/{id}"), &station).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Out of order: nobody closes a case that was never handled.
    let r = act(&app, &d, id, json!({"action": "close"})).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    dispatch_to_station(&app, &d, id).await;
    let v = track(&app, &code).await;
    assert_eq!(v["unit_name"], "犀浦市场监管所");
    assert!(v["due"].is_string());
    // The station sees it in its list and its inbox.
    let list = app.get("/api/v1/cases", &station).await.json();
    assert_eq!(list["total"], 1);
    let inbox = app.get("/api/v1/work", &station).await.json();
    assert_eq!(inbox["total"], 1, "{inbox}");
    // The generic workflow route refuses a case ticket: it must go through the case's rules.
    let instance = inbox["items"][0]["instance"]["id"].as_i64().unwrap();
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{instance}/actions"),
            &station,
            json!({"action": "accept", "expected_version": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    act_ok(&app, &station, id, json!({"action": "accept"})).await;
    // A report without saying what was done is refused.
    let r = act(&app, &station, id, json!({"action": "report"})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let photo = base64::engine::general_purpose::STANDARD.encode(b"\xFF\xD8\xFF\xE0 jpeg");
    act_ok(
        &app,
        &station,
        id,
        json!({"action": "report", "comment": "已责令摊主加装防蝇罩并现场复查",
               "attachments": [{"filename": "整改后.jpg", "content_base64": photo}]}),
    )
    .await;
    // The station may not close its own work.
    let r = act(&app, &station, id, json!({"action": "close"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    act_ok(
        &app,
        &d,
        id,
        json!({"action": "close", "comment": "核查属实"}),
    )
    .await;
    let v = track(&app, &code).await;
    assert_eq!(v["status"], "closed");
    assert_eq!(v["result"], "已责令摊主加装防蝇罩并现场复查");
    assert_eq!(v["can_rate"], true);
    let r = rate(&app, &code, "satisfied", "处理及时").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["reopened"], false);
    let r = rate(&app, &code, "satisfied", "再评一次").await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let v = track(&app, &code).await;
    assert_eq!(v["rating"], "满意");
    assert_eq!(v["can_rate"], false);
    let labels: Vec<String> = v["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["label"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        labels,
        [
            "受理",
            "派遣至犀浦市场监管所",
            "签收",
            "处置反馈",
            "核查结案"
        ]
    );
    let full = detail(&app, &d, id).await;
    assert_eq!(full["tickets"][0]["history"].as_array().unwrap().len(), 5);
    assert_eq!(full["ratings"][0]["rating"], "satisfied");
    assert_eq!(
        full["attachments"][0]["ticket_id"],
        full["tickets"][0]["ticket"]["id"]
    );
    // The detail page renders for the dispatcher with the timeline.
    let page = app.get(&format!("/cases/{id}"), &d).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("核查结案") && page.body.contains("满意"));
    // Every write was audited.
    for action in [
        "case.intake",
        "case.dispatch",
        "case.accept",
        "case.report",
        "case.close",
        "case.rate",
    ] {
        let found = jiceng::audit::search(
            app.db(),
            &jiceng::audit::AuditFilter {
                action: Some(action.into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(found.total >= 1, "{action} audited");
    }
}

async fn a_repeated_request_is_answered_as_the_ticket_stands(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let (id, _) = citizen_report(&app, "0601", "超市卖的熟食有异味").await;
    let d = app.login("xipu_dispatch").await;
    let station = app.org_id(MARKET_STATION).await;
    // A client that retries at once with the same key: done once, and both answers say so.
    let body = json!({"action": "dispatch", "unit_id": station, "item_code": "SD-063",
                      "idempotency_key": "dispatch-once"});
    let (a, b) = tokio::join!(act(&app, &d, id, body.clone()), act(&app, &d, id, body));
    let (a, b) = (a.json(), b.json());
    for v in [&a, &b] {
        assert_eq!(v["state"], "dispatched", "{v}");
        assert_eq!(v["unit_name"], "犀浦市场监管所", "{v}");
    }
    assert_ne!(a["replayed"], b["replayed"], "{a} {b}");
}

async fn a_unit_returns_a_ticket_once_with_its_reason(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let (id, _) = citizen_report(&app, "0601", "超市卖的熟食有异味").await;
    let d = app.login("xipu_dispatch").await;
    let station = app.login("suozhang").await;
    dispatch_to_station(&app, &d, id).await;
    let r = act(&app, &station, id, json!({"action": "return"})).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reason is required"
    );
    let a = act_ok(
        &app,
        &station,
        id,
        json!({"action": "return", "comment": "不属于本单位职责"}),
    )
    .await;
    assert_eq!(a["state"], "pending");
    let v = detail(&app, &d, id).await;
    let actions: Vec<&str> = v["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"dispatch"), "{actions:?}");
    // Sent back to the same unit, it cannot return it again.
    dispatch_to_station(&app, &d, id).await;
    let r = act(
        &app,
        &station,
        id,
        json!({"action": "return", "comment": "还是不归我们"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let v = detail(&app, &station, id).await;
    assert!(
        !v["actions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == "return")
    );
    let history = &v["tickets"][0]["history"];
    assert!(history.to_string().contains("不属于本单位职责"));
}

async fn a_check_can_send_the_work_back(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let grid = app.login("wanggeyuan").await;
    let station = app.login("suozhang").await;
    // The grid worker reports in their own grid; they check it too.
    let r = app
        .json(
            Method::POST,
            "/api/v1/cases",
            &grid,
            json!({"source": "grid_worker", "category": "0601", "description": "小区门口流动摊贩售卖散装白酒"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    dispatch_to_station(&app, &d, id).await;
    act_ok(&app, &station, id, json!({"action": "accept"})).await;
    act_ok(
        &app,
        &station,
        id,
        json!({"action": "report", "comment": "已劝离"}),
    )
    .await;
    let r = act(&app, &grid, id, json!({"action": "rework"})).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "rework needs a reason"
    );
    let a = act_ok(
        &app,
        &grid,
        id,
        json!({"action": "rework", "comment": "摊贩次日又回来了"}),
    )
    .await;
    assert_eq!(a["state"], "handling");
    act_ok(
        &app,
        &station,
        id,
        json!({"action": "report", "comment": "已立案查处并没收散装白酒"}),
    )
    .await;
    let a = act_ok(&app, &grid, id, json!({"action": "close"})).await;
    assert_eq!(a["state"], "closed");
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Whether `s`'s inbox lists the ticket of case `id`.
async fn in_inbox(app: &TestApp, s: &Session, id: i64) -> bool {
    let inbox = app.get("/api/v1/work", s).await.json();
    let subject = format!("case:{id}#1");
    inbox["items"]
        .as_array()
        .expect("inbox items")
        .iter()
        .any(|w| w["instance"]["subject_ref"] == subject)
}

async fn a_grid_worker_checks_the_cases_of_the_grids_they_work_in(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let officer = app.login("xipu_officer").await;
    let station = app.login("suozhang").await;
    let worker = app.login("wanggeyuan").await;
    // A case in a grid of the township that is not the worker's, waiting for its check.
    let grid = app.org_id("510117006001002").await;
    let r = app
        .json(
            Method::POST,
            "/api/v1/cases",
            &d,
            json!({"source": "patrol", "category": "0601", "grid_id": grid,
                   "description": "菜市场外占道经营，堵塞消防通道"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    dispatch_to_station(&app, &d, id).await;
    act_ok(&app, &station, id, json!({"action": "accept"})).await;
    act_ok(
        &app,
        &station,
        id,
        json!({"action": "report", "comment": "已清理"}),
    )
    .await;
    assert!(in_inbox(&app, &d, id).await, "the dispatcher checks it");
    let page = format!("/api/v1/cases/{id}");
    assert!(!in_inbox(&app, &worker, id).await, "not the worker's grid");
    assert_eq!(app.get(&page, &worker).await.status, StatusCode::FORBIDDEN);
    // Assigned to that grid, the worker sees it and may check it ...
    let me = app.get("/api/v1/me", &worker).await.json();
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/grids/{grid}/workers"),
            &officer,
            json!({"user_id": me["user_id"], "employment": "full_time", "duties": "核查"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // Once: a second assignment of the same account to the grid is refused.
    let again = app
        .json(
            Method::POST,
            &format!("/api/v1/grids/{grid}/workers"),
            &officer,
            json!({"user_id": me["user_id"], "employment": "full_time", "duties": "核查"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);
    assert!(in_inbox(&app, &worker, id).await, "now the worker's grid");
    assert_eq!(app.get(&page, &worker).await.status, StatusCode::OK);
    // What the inbox offers, the worker may do: check on site and send it back.
    let a = act_ok(
        &app,
        &worker,
        id,
        json!({"action": "rework", "comment": "通道仍被占用"}),
    )
    .await;
    assert_eq!(a["state"], "handling");
    act_ok(
        &app,
        &station,
        id,
        json!({"action": "report", "comment": "已再次清理"}),
    )
    .await;
    // ... until the assignment ends.
    app.end_assignments(grid, &officer).await;
    assert!(!in_inbox(&app, &worker, id).await);
    assert_eq!(app.get(&page, &worker).await.status, StatusCode::FORBIDDEN);
    let r = act(&app, &worker, id, json!({"action": "close"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

async fn a_dissatisfied_rating_reopens_the_case_only_once(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let (id, code) = citizen_report(&app, "0601", "餐馆后厨卫生很差").await;
    let d = app.login("xipu_dispatch").await;
    let station = app.login("suozhang").await;
    let r = rate(&app, &code, "satisfied", "").await;
    assert_eq!(r.status, StatusCode::CONFLICT, "not closed yet: {}", r.body);
    handle_and_close(&app, &d, &station, id).await;
    let r = rate(&app, &code, "dissatisfied", "").await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a reason is required"
    );
    let r = rate(&app, &code, "dissatisfied", "后厨依旧脏乱").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["reopened"], true);
    let v = track(&app, &code).await;
    assert_eq!(v["status"], "pending");
    assert_eq!(v["reopened"], true);
    let full = detail(&app, &d, id).await;
    assert_eq!(full["tickets"].as_array().unwrap().len(), 2);
    assert_eq!(full["case"]["reopen_reason"], "后厨依旧脏乱");
    handle_and_close(&app, &d, &station, id).await;
    let r = rate(&app, &code, "dissatisfied", "还是不行").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["reopened"], false);
    let v = track(&app, &code).await;
    assert_eq!(v["status"], "closed");
    let full = detail(&app, &d, id).await;
    assert_eq!(full["tickets"].as_array().unwrap().len(), 2);
    assert_eq!(full["ratings"].as_array().unwrap().len(), 2);
}

/// Reports of one problem that arrive together: on SQLite they are stored in one batch
/// (one statement per table), and each is still offered the ones stored before it.
async fn reports_stored_together_are_offered_to_each_other(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let texts = [
        "玉龙路菜市场熟食摊没有防蝇罩",
        "玉龙路菜市场的熟食摊没有防蝇罩，很不卫生",
        "玉龙路菜市场熟食摊没有防蝇罩，苍蝇很多",
    ];
    // The first intake in a process builds the district's routing models, which may write.
    citizen_report(&app, "0102", "玉龙路口垃圾桶满了没人清运").await;
    let sqlite = app.db().dialect() == jiceng::db::Dialect::Sqlite;
    let ids: Vec<i64> = if sqlite {
        // Holding the writer turn lets all three queue before any is stored.
        let held = app.db().begin().await.unwrap();
        let (_, a, b, c) = tokio::join!(
            async {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                drop(held);
            },
            citizen_report(&app, "0601", texts[0]),
            citizen_report(&app, "0601", texts[1]),
            citizen_report(&app, "0601", texts[2]),
        );
        vec![a.0, b.0, c.0]
    } else {
        let mut ids = Vec::new();
        for text in texts {
            ids.push(citizen_report(&app, "0601", text).await.0);
        }
        ids
    };
    let d = app.login("xipu_dispatch").await;
    let mut offered = Vec::new();
    let mut stamps = Vec::new();
    for &id in &ids {
        let v = detail(&app, &d, id).await;
        stamps.push(v["case"]["created_at"].clone());
        for c in v["candidates"].as_array().unwrap() {
            let other = c["id"].as_i64().unwrap();
            assert!(ids.contains(&other) && other != id, "{v}");
            offered.push((id.min(other), id.max(other)));
        }
    }
    // Every pair is similar enough: each later case is offered each earlier one, once.
    offered.sort();
    assert_eq!(
        offered,
        [(ids[0], ids[1]), (ids[0], ids[2]), (ids[1], ids[2])]
            .map(|(a, b)| (a.min(b), a.max(b)))
            .into_iter()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect::<Vec<_>>()
    );
    if sqlite {
        assert!(
            stamps.iter().all(|s| *s == stamps[0]),
            "one batch: {stamps:?}"
        );
    }
}

/// Stores an open case of 犀浦街道 straight into the table, without a ticket: as a concurrent
/// batch or another process would have stored it, out of the intake under test's sight.
async fn store_open_case(
    conn: &mut jiceng::db::Conn<'_>,
    category: &str,
    grid: Option<jiceng::ids::OrgId>,
    description: &str,
    receipt: &str,
    at: Timestamp,
) -> i64 {
    let township = jiceng::orgs::store::get_by_code(conn, XIPU)
        .await
        .unwrap()
        .unwrap();
    let row = jiceng::cases::store::NewCaseRow {
        id: None,
        district_id: jiceng::catalog::district_of(&township),
        township_id: township.id,
        grid_id: grid,
        source: "patrol",
        category_code: category,
        urgency: "normal",
        description,
        address: "犀浦镇玉龙路 18 号",
        coordinates: None,
        reporter_name: "",
        reporter_phone: "",
        reporter_user_id: None,
        receipt_code: receipt,
        external_ref: None,
        now: at,
        by: "test",
        suggested_category: None,
        suggested_unit: None,
        ticket: None,
        duplicate_offers: "",
    };
    jiceng::cases::store::insert_case(conn, &row)
        .await
        .unwrap()
        .0
}

/// The checks read a new case's open neighbours before it waits for the writer; a similar
/// case stored in between (on SQLite: while the writer turn is held) is read by the writer and
/// still offered.
async fn a_report_stored_after_the_checks_is_still_offered(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    // The first intake in a process builds the district's routing models, which may write.
    citizen_report(&app, "0102", "玉龙路口垃圾桶满了没人清运").await;
    let first = "玉龙路菜市场门口熟食摊占道经营，没有防蝇罩";
    let second = "玉龙路菜市场门口的熟食摊占道经营没有防蝇罩";
    let (earlier, later) = if app.db().dialect() == jiceng::db::Dialect::Sqlite {
        let mut held = app.db().begin().await.unwrap();
        let store_earlier = async {
            // By now the later report has passed its checks and waits for the writer.
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            let id = store_open_case(
                &mut held.conn(),
                "0601",
                None,
                first,
                "TESTLATERCHECK",
                Timestamp::now(),
            )
            .await;
            held.commit().await.unwrap();
            id
        };
        let (earlier, later) = tokio::join!(store_earlier, citizen_report(&app, "0601", second));
        (earlier, later.0)
    } else {
        let earlier = citizen_report(&app, "0601", first).await.0;
        (earlier, citizen_report(&app, "0601", second).await.0)
    };
    let d = app.login("xipu_dispatch").await;
    let v = detail(&app, &d, later).await;
    let offered: Vec<i64> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_i64().unwrap())
        .collect();
    assert_eq!(offered, [earlier], "{v}");
}

/// The scan behind duplicate offers, on both engines' statements: a key with a grid and one
/// without never see each other's cases, nor another category's, and each gets its newest
/// open cases, at most the limit. The same statement reads the sessions asked for, those that
/// exist.
async fn the_duplicate_scan_keeps_keys_apart_and_takes_the_newest(t: TestDb) {
    use jiceng::cases::store::{NearKey, open_cases_near};
    let app = TestApp::with_demo(t).await;
    app.login("xipu_dispatch").await;
    let session: String = app.scalar("SELECT token_hash FROM sessions").await;
    let mut tx = app.db().begin().await.unwrap();
    let mut conn = tx.conn();
    let township = jiceng::orgs::store::get_by_code(&mut conn, XIPU)
        .await
        .unwrap()
        .unwrap();
    let grid = jiceng::ids::OrgId(app.org_id("510117006001002").await);
    let start = Timestamp::now().as_micros();
    let mut stored = Vec::new();
    for (i, (category, in_grid)) in [
        ("0601", false),
        ("0601", true),
        ("0601", false),
        ("0602", true),
        ("0601", false),
        ("0601", true),
    ]
    .into_iter()
    .enumerate()
    {
        let receipt = format!("TESTSCAN{i}");
        let at = Timestamp::from_micros(start + i as i64);
        let grid = in_grid.then_some(grid);
        let id = store_open_case(&mut conn, category, grid, "扫描测试", &receipt, at).await;
        stored.push(id);
    }
    let since = Timestamp::from_micros(start);
    let key = |category, grid| NearKey {
        township: township.id,
        category,
        grid,
        since,
    };
    let keys = [
        key("0601", None),
        key("0601", Some(grid)),
        key("0602", Some(grid)),
        key("0602", None),
    ];
    let sessions = [session.as_str(), "no-such-session"];
    let (lists, reserved) = open_cases_near(&mut conn, &keys, 2, 3, 6, &sessions)
        .await
        .unwrap();
    let read: serde_json::Value = serde_json::from_str(&reserved.sessions).unwrap();
    assert_eq!(read.as_array().map(Vec::len), Some(1), "{read}");
    assert_eq!(read[0]["token_hash"], session.as_str(), "{read}");
    assert_eq!(read[0]["username"], "xipu_dispatch", "{read}");
    let ids: Vec<Vec<i64>> = lists
        .iter()
        .map(|l| l.iter().map(|c| c.id.0).collect())
        .collect();
    assert_eq!(
        ids,
        [
            vec![stored[4], stored[2]],
            vec![stored[5], stored[1]],
            vec![stored[3]],
            vec![],
        ]
    );
    // The case, ticket and instance ids reserved with the scan are new and distinct; on
    // PostgreSQL the scan also took an audit chain with numbers for six rows.
    match app.t.engine {
        common::Engine::Postgres => {
            let claim = reserved.audit.as_ref().expect("a chain is free");
            assert!(claim.seqs.len() >= 6, "{claim:?}");
        }
        common::Engine::Sqlite => assert!(reserved.audit.is_none()),
    }
    for ids in [
        reserved.cases.iter().map(|c| c.0).collect::<Vec<_>>(),
        reserved.tickets.iter().map(|t| t.0).collect(),
        reserved.instances.iter().map(|i| i.0).collect(),
    ] {
        let mut distinct = ids.clone();
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "{reserved:?}");
    }
    for c in &reserved.cases {
        assert!(
            jiceng::cases::store::get_case(&mut conn, *c)
                .await
                .unwrap()
                .is_none(),
            "{c:?} is taken"
        );
    }
    for t in &reserved.tickets {
        assert!(
            jiceng::cases::store::ticket(&mut conn, *t)
                .await
                .unwrap()
                .is_none(),
            "{t:?} is taken"
        );
    }
}

async fn saved_duplicate_settings_govern_the_next_intake(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let (first, _) = citizen_report(&app, "0601", "玉龙路菜市场熟食摊没有防蝇罩").await;
    let (similar, _) =
        citizen_report(&app, "0601", "玉龙路菜市场的熟食摊没有防蝇罩，很不卫生").await;
    let v = detail(&app, &d, similar).await;
    assert_eq!(v["candidates"][0]["id"], first, "{v}");
    // Only identical texts count from now on: the same kind of report is no longer offered.
    // The district sets it, for every township.
    let r = app
        .form(
            "/cases/settings",
            &app.login("bianban").await,
            &[
                ("duplicate_window_hours", "72"),
                ("duplicate_threshold_permille", "1000"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let (later, _) = citizen_report(&app, "0601", "玉龙路菜市场的熟食摊没有防蝇罩，苍蝇很多").await;
    let v = detail(&app, &d, later).await;
    assert_eq!(v["candidates"], json!([]), "{v}");
    let (same, _) = citizen_report(&app, "0601", "玉龙路菜市场熟食摊没有防蝇罩").await;
    let v = detail(&app, &d, same).await;
    assert_eq!(v["candidates"][0]["id"], first, "{v}");
}

/// Migration 14 moves the duplicate offers of a database made before it from their table
/// onto the cases, most similar first.
async fn offers_stored_in_their_own_table_move_onto_the_case(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let (a, _) = citizen_report(&app, "0601", "玉龙路菜市场熟食摊没有防蝇罩").await;
    let (b, _) = citizen_report(&app, "0102", "红光大道公交站旁垃圾桶满溢").await;
    let (c, _) = citizen_report(&app, "0601", "犀浦镇东街夜市油烟扰民").await;
    // The schema as version 13 left it, holding two offers for the third case.
    app.exec("ALTER TABLE cases DROP COLUMN duplicate_offers")
        .await;
    app.exec(
        "CREATE TABLE case_duplicates (
            case_id BIGINT NOT NULL REFERENCES cases (id),
            candidate_id BIGINT NOT NULL REFERENCES cases (id),
            similarity_permille BIGINT NOT NULL,
            PRIMARY KEY (case_id, candidate_id))",
    )
    .await;
    app.exec(&format!(
        "INSERT INTO case_duplicates VALUES ({c}, {a}, 500), ({c}, {b}, 700)"
    ))
    .await;
    app.exec("DELETE FROM schema_migrations WHERE version = 14")
        .await;
    assert_eq!(app.db().migrate().await.unwrap(), vec![14]);
    let d = app.login("xipu_dispatch").await;
    let v = detail(&app, &d, c).await;
    let offered: Vec<(i64, i64)> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_i64().unwrap(),
                o["similarity_permille"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(offered, vec![(b, 700), (a, 500)], "{v}");
    let v = detail(&app, &d, a).await;
    assert_eq!(v["candidates"], json!([]), "{v}");
}

async fn merged_duplicates_both_see_the_outcome(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let (first, code1) = citizen_report(&app, "0601", "玉龙路菜市场熟食摊没有防蝇罩").await;
    let (second, code2) =
        citizen_report(&app, "0601", "玉龙路菜市场的熟食摊没有防蝇罩，很不卫生").await;
    let (_, _) = citizen_report(&app, "0102", "玉龙路菜市场门口垃圾堆积").await;
    let (third, _) = citizen_report(&app, "0601", "玉龙路菜市场熟食摊没有防蝇罩").await;
    let d = app.login("xipu_dispatch").await;
    let v = detail(&app, &d, second).await;
    let candidates = v["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{v}");
    assert_eq!(candidates[0]["id"], first);
    assert!(v["may_merge"].as_bool().unwrap());
    // The third was offered both, the word-for-word repeat first.
    let v = detail(&app, &d, third).await;
    let offered: Vec<&Value> = v["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(offered, [&first, &second], "{v}");
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{second}/merge"),
            &d,
            json!({"into": first}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // A candidate merged since is no longer offered.
    let v = detail(&app, &d, third).await;
    assert_eq!(v["candidates"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["candidates"][0]["id"], first, "{v}");
    // Once merged, the duplicate cannot be acted on by itself.
    let r = act(
        &app,
        &d,
        second,
        json!({"action": "dismiss", "comment": "x"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let v2 = track(&app, &code2).await;
    assert!(
        v2["merged_into_number"]
            .as_str()
            .unwrap()
            .ends_with(&format!("{first:06}"))
    );
    let station = app.login("suozhang").await;
    handle_and_close(&app, &d, &station, first).await;
    // Closed, the original takes no more duplicates: the third is a problem of its own now.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{third}/merge"),
            &d,
            json!({"into": first}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("已办结"), "{}", r.body);
    for code in [&code1, &code2] {
        let v = track(&app, code).await;
        assert_eq!(v["status"], "closed", "{v}");
        assert_eq!(v["can_rate"], true);
    }
    let r = rate(&app, &code2, "basic", "总算处理了").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = rate(&app, &code1, "satisfied", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let full = detail(&app, &d, first).await;
    assert_eq!(full["ratings"].as_array().unwrap().len(), 2);
    assert_eq!(full["merged"][0]["id"], second);
}

async fn a_dispatch_must_cite_an_item_on_the_townships_list(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let (id, _) = citizen_report(&app, "0507", "玉龙路口有人占道经营卖水果").await;
    let d = app.login("xipu_dispatch").await;
    let page = app.get(&format!("/cases/{id}"), &d).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("依据清单事项编码") && page.body.contains("ZR-101"));
    assert!(page.body.contains("犀浦市场监管所"));
    let list = app.get("/cases?q=占道", &d).await;
    assert!(list.body.contains("玉龙路口有人占道经营卖水果"));
    // The filter form as sent with its "all" choices: empty values filter nothing.
    let list = app
        .get("/cases?q=占道&status=&category=&source=&grid=", &d)
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    assert!(list.body.contains("玉龙路口有人占道经营卖水果"));
    // By its number as people quote it, or by several words; an unknown status is named.
    let number = detail(&app, &d, id).await["case"]["number"]
        .as_str()
        .unwrap()
        .to_owned();
    for q in [number.as_str(), "玉龙路口 水果"] {
        let found = app
            .get(&format!("/api/v1/cases?q={}", urlencode(q)), &d)
            .await
            .json();
        assert_eq!(found["total"], 1, "{q}: {found}");
        assert_eq!(found["items"][0]["id"], id, "{q}");
    }
    // The number's year is part of it: the same id with another year names no case.
    let year: i32 = number[..4].parse().unwrap();
    let other_year = format!("{}{}", year - 1, &number[4..]);
    let found = app
        .get(&format!("/api/v1/cases?q={other_year}"), &d)
        .await
        .json();
    assert_eq!(found["total"], 0, "{other_year}: {found}");
    let r = app.get("/api/v1/cases?status=bogus", &d).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "status");
    let station = app.org_id(MARKET_STATION).await;
    // On the page, a refused dispatch comes back as it was sent: the unit, item and comment.
    let version = detail(&app, &d, id).await["tickets"][0]["instance"]["version"].to_string();
    let unit = station.to_string();
    let (ct, body) = multipart(
        &[
            ("action", "dispatch"),
            ("expected_version", version.as_str()),
            ("unit", unit.as_str()),
            ("item", "NOPE-1"),
            ("comment", "派遣意见ABC"),
        ],
        &[],
    );
    let r = post_multipart(
        &app,
        &format!("/cases/{id}/act?_csrf={}", d.csrf),
        &d,
        ct,
        body,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains(r#"value="NOPE-1""#)
            && r.body.contains(">派遣意见ABC</textarea>")
            && r.body
                .contains(&format!(r#"<option value="{station}" selected>"#)),
        "{}",
        r.body
    );
    let r = act(
        &app,
        &d,
        id,
        json!({"action": "dispatch", "unit_id": station, "item_code": "ZZ-999"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let e = r.json();
    assert_eq!(e["error"]["field"], "item");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("不在本乡镇（街道）清单内，请申请事务准入")
    );
    let r = act(
        &app,
        &d,
        id,
        json!({"action": "dispatch", "unit_id": station}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A unit outside the township is refused too.
    let other = app.org_id("510117001-BM03").await;
    let r = act(
        &app,
        &d,
        id,
        json!({"action": "dispatch", "unit_id": other, "item_code": "ZR-101"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(track_state(&app, &d, id).await, "pending");
    // The township office itself with a listed item is fine.
    let xipu = app.org_id(XIPU).await;
    let a = act_ok(
        &app,
        &d,
        id,
        json!({"action": "dispatch", "unit_id": xipu, "item_code": "ZR-101"}),
    )
    .await;
    assert_eq!(a["unit_name"], "犀浦街道");
    let officer = app.login("xipu_officer").await;
    act_ok(&app, &officer, id, json!({"action": "accept"})).await;
}

async fn track_state(app: &TestApp, s: &Session, id: i64) -> String {
    detail(app, s, id).await["status"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn a_returned_duty_goes_to_the_department(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let (id, code) = citizen_report(&app, "0604", "超市在卖过期牛奶").await;
    let d = app.login("xipu_dispatch").await;
    let xipu = app.org_id(XIPU).await;
    let v = detail(&app, &d, id).await;
    assert_eq!(v["default_item"], "ZR-227");
    let a = act_ok(
        &app,
        &d,
        id,
        json!({"action": "dispatch", "unit_id": xipu, "item_code": "ZR-227"}),
    )
    .await;
    assert_eq!(a["unit_name"], "区市场监督管理局");
    assert_eq!(track(&app, &code).await["unit_name"], "区市场监督管理局");
    // The township's officer is not the assignee; the department's officer is.
    let officer = app.login("xipu_officer").await;
    let r = act(&app, &officer, id, json!({"action": "accept"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let dept = app.login("scjg").await;
    assert_eq!(count_cases(&app, &dept).await, 1);
    act_ok(&app, &dept, id, json!({"action": "accept"})).await;
}

async fn a_passed_time_limit_flags_the_case_and_tells_the_unit(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let r = app
        .json(
            Method::POST,
            "/api/v1/cases",
            &app.login("xipu_dispatch").await,
            json!({"source": "hotline", "category": "0601", "urgency": "urgent",
                   "description": "学校门口小卖部售卖三无辣条", "reporter_phone": "13900001111"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let d = app.login("xipu_dispatch").await;
    dispatch_to_station(&app, &d, id).await;
    // Urgent: the station must accept within 2 working hours, not the process's 1 day.
    let v = detail(&app, &d, id).await;
    let deadline: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(v["tickets"][0]["instance"]["deadline"].clone()).unwrap();
    let start: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(v["tickets"][0]["instance"]["entered_at"].clone()).unwrap();
    assert!(
        deadline - start <= chrono::TimeDelta::days(4),
        "{start} → {deadline}"
    );
    let registry = jiceng::workflow::embedded_processes();
    let report = jiceng::workflow::run_due(
        app.db(),
        &registry,
        Timestamp::now().plus_seconds(30 * 86_400),
    )
    .await
    .unwrap();
    assert!(report.handled >= 1, "{report:?}");
    assert!(report.notices >= 2, "{report:?}");
    let overdue = app.get("/api/v1/cases?overdue=1", &d).await.json();
    assert_eq!(overdue["total"], 1, "{overdue}");
    let none = app
        .get("/api/v1/cases?overdue=1&status=closed", &d)
        .await
        .json();
    assert_eq!(none["total"], 0);
    let station = app.login("suozhang").await;
    let inbox = app.get("/api/v1/work", &station).await.json();
    assert!(
        inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "notify"),
        "{inbox}"
    );
    let inbox = app.get("/api/v1/work", &d).await.json();
    assert!(
        inbox["notices"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["kind"] == "escalate"),
        "{inbox}"
    );
    // The list page marks it.
    let page = app.get("/cases?overdue=1", &d).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("逾期"));
}

async fn reporters_are_masked_except_for_the_dispatcher_and_leader(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let (id, _) = citizen_report(&app, "0601", "面包店卖临期面包不标注").await;
    let contact = |v: &Value| {
        (
            v["case"]["reporter_name"].as_str().unwrap().to_owned(),
            v["case"]["reporter_phone"].as_str().unwrap().to_owned(),
        )
    };
    for user in ["xipu_dispatch", "xipu_leader", "xipu_officer"] {
        let s = app.login(user).await;
        let v = detail(&app, &s, id).await;
        assert_eq!(contact(&v), ("王**".into(), "138****5678".into()), "{user}");
        let r = app
            .get(&format!("/api/v1/cases/{id}?reveal=contact"), &s)
            .await
            .json();
        let expected = if user == "xipu_officer" {
            ("王**".to_owned(), "138****5678".to_owned())
        } else {
            ("王小明".to_owned(), "13812345678".to_owned())
        };
        assert_eq!(contact(&r), expected, "{user}");
        let page = app.get(&format!("/cases/{id}"), &s).await;
        assert!(!page.body.contains("13812345678"), "{user}");
    }
    let views = jiceng::audit::search(
        app.db(),
        &jiceng::audit::AuditFilter {
            action: Some("case.view_contact".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(views.total, 2, "each unmasked view is audited");
    // Roles with no business with cases are refused.
    let r = app
        .get(&format!("/api/v1/cases/{id}"), &app.login("bianban").await)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "----jicengtestboundary";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    for (name, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"attachments\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn post_multipart(app: &TestApp, path: &str, s: &Session, ct: String, body: Vec<u8>) -> Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, ct);
    if let Some(c) = &s.cookie {
        b = b.header(header::COOKIE, c);
    }
    app.request(b.body(Body::from(body)).unwrap()).await
}

async fn the_public_form_wants_a_person_and_gives_a_receipt(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let anon = Session::anonymous();
    let page = app.get("/public/cases/new", &anon).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("犀浦街道") && page.body.contains("占道经营"));
    let issued = Timestamp::now().as_micros() - 10_000_000;
    let stamp = jiceng::cases::model::form_stamp(&anon.csrf, issued);
    let issued = issued.to_string();
    let base = vec![
        ("township_code", XIPU),
        ("category", "0507"),
        ("description", "犀浦地铁站出口有流动摊贩占道经营"),
        ("reporter_phone", "13700001234"),
        ("issued", issued.as_str()),
        ("stamp", stamp.as_str()),
    ];
    let path = format!("/public/cases?_csrf={}", anon.csrf);
    // A bot filling the honeypot is refused.
    let mut bot = base.clone();
    bot.push(("website", "http://spam.example"));
    let (ct, body) = multipart(&bot, &[]);
    let r = post_multipart(&app, &path, &anon, ct, body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // A file that is not a photo by its content is refused.
    let (ct, body) = multipart(&base, &[("photo.jpg", b"<html>not a photo</html>")]);
    let r = post_multipart(&app, &path, &anon, ct, body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("不是图片"), "{}", r.body);
    // A person with a photo gets a receipt code, on a page of its own: reloading it does not
    // send the report again.
    let (ct, body) = multipart(&base, &[("现场.png", b"\x89PNG\r\n\x1a\n....")]);
    let r = post_multipart(&app, &path, &anon, ct, body).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let receipt = r.location().expect("to the receipt").to_owned();
    assert!(
        receipt.starts_with("/public/cases/received?code="),
        "{receipt}"
    );
    for _ in 0..2 {
        let page = app.get(&receipt, &anon).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("查询码") && page.body.contains("已收到您反映的问题"));
    }
    let d = app.login("xipu_dispatch").await;
    let list = app.get("/api/v1/cases?source=citizen_web", &d).await.json();
    assert_eq!(list["total"], 1, "{list}");
    let id = list["items"][0]["id"].as_i64().unwrap();
    let v = detail(&app, &d, id).await;
    assert_eq!(v["attachments"].as_array().unwrap().len(), 1);
    // The reporter's code is theirs: staff see it only in the audited full view.
    assert!(v["case"]["receipt_code"].is_null(), "{v}");
    let full = app
        .get(&format!("/api/v1/cases/{id}?reveal=contact"), &d)
        .await
        .json();
    let code = full["case"]["receipt_code"].as_str().unwrap().to_owned();
    let page = app
        .get(&format!("/public/cases/track?code={code}"), &anon)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("已受理") && !page.body.contains("13700001234"));
    // Several phone photos at once: the form takes what it promises (six of up to 5 MiB).
    let photo = [b"\x89PNG\r\n\x1a\n".as_slice(), &vec![0u8; 4 << 20]].concat();
    let photos: Vec<(&str, &[u8])> = ["1.png", "2.png", "3.png", "4.png"]
        .iter()
        .map(|n| (*n, photo.as_slice()))
        .collect();
    let (ct, body) = multipart(&base, &photos);
    let r = post_multipart(&app, &path, &anon, ct, body).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = app.get("/api/v1/cases?source=citizen_web", &d).await.json();
    let id = list["items"][0]["id"].as_i64().unwrap();
    assert_eq!(
        detail(&app, &d, id).await["attachments"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
}

async fn a_hotline_export_is_imported_all_or_nothing(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let header = jiceng::cases::HOTLINE_COLUMNS.join(",");
    let bad = format!(
        "{header}\nRX001,{XIPU},,0102,一般,玉龙路,垃圾没人清运,李四,13811112222\nRX002,{XIPU},,0000,一般,玉龙路,井盖丢了,张三,13811113333\nRX003,{XIPU},,0407,特急,玉龙路,井盖丢了,,\n"
    );
    let path = format!("/cases/import?_csrf={}", d.csrf);
    let file = |csv: String| {
        let boundary = "----jicengtestboundary";
        let mut body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"12345.csv\"\r\nContent-Type: text/csv\r\n\r\n{csv}\r\n--{boundary}--\r\n"
        )
        .into_bytes();
        body.shrink_to_fit();
        (format!("multipart/form-data; boundary={boundary}"), body)
    };
    let (ct, body) = file(bad);
    let r = post_multipart(&app, &path, &d, ct, body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("第 3 行") && r.body.contains("第 4 行"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("第 2 行"));
    assert_eq!(count_cases(&app, &d).await, 0);
    // RX001's category as Excel leaves a code it took for a number: without its leading zero.
    let good = format!(
        "{header}\nRX001,{XIPU},,102,一般,玉龙路,垃圾没人清运,李四,13811112222\nRX002,{XIPU},,0407,紧急,团结路,井盖丢了,张三,13811113333\n"
    );
    let (ct, body) = file(good.clone());
    let r = post_multipart(&app, &path, &d, ct, body).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = app.get("/api/v1/cases?source=hotline", &d).await.json();
    assert_eq!(list["total"], 2);
    let list = app
        .get("/api/v1/cases?source=hotline&category=0102", &d)
        .await
        .json();
    assert_eq!(list["total"], 1, "{list}");
    // The same export again is refused as a whole.
    let (ct, body) = file(good);
    let r = post_multipart(&app, &path, &d, ct, body).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("已导入过"));
    // CSV export of the list.
    let csv = app.get("/cases/export.csv?source=hotline", &d).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.contains("井盖缺失") && csv.body.contains("垃圾没人清运"));
    let exported = app.audited("case.export", None).await;
    assert_eq!(exported.total, 1);
    assert!(
        exported.rows[0].detail.contains("件"),
        "{:?}",
        exported.rows[0]
    );
}

async fn categories_can_be_added_and_changed_by_the_district(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let all = app.get("/api/v1/cases/categories", &d).await.json();
    assert!(all.as_array().unwrap().len() > 40);
    let eo = app.login("bianban").await;
    let new = json!({"code": "0111", "major": "市容环境", "minor": "共享单车堆积",
        "respond_normal": "1d", "respond_urgent": "2h", "handle_normal": "3d", "handle_urgent": "1d",
        "department_code": "BM09", "duty_item_code": "SD-016"});
    let r = app
        .json(Method::POST, "/api/v1/cases/categories", &eo, new.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = app
        .json(Method::POST, "/api/v1/cases/categories", &eo, new.clone())
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // An item the district's catalog lacks would refuse every dispatch of the category.
    let mut unlisted = new.clone();
    unlisted["code"] = json!("0112");
    unlisted["duty_item_code"] = json!("NOPE-1");
    let r = app
        .json(Method::POST, "/api/v1/cases/categories", &eo, unlisted)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "duty_item_code", "{}", r.body);
    let mut bad = new.clone();
    bad["handle_normal"] = json!("three days");
    let r = app
        .json(Method::PUT, "/api/v1/cases/categories/0111", &eo, bad)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Limits that do not nest: a response due after the handling, an urgent case given
    // longer than a normal one.
    for (field, value) in [("respond_normal", "5d"), ("handle_urgent", "5d")] {
        let mut bad = new.clone();
        bad[field] = json!(value);
        let r = app
            .json(Method::PUT, "/api/v1/cases/categories/0111", &eo, bad)
            .await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.json()["error"]["field"], field, "{}", r.body);
    }
    let mut changed = new.clone();
    changed["handle_normal"] = json!("2d");
    // The categories hold for every township: one township's dispatcher does not change them.
    let r = app
        .json(
            Method::PUT,
            "/api/v1/cases/categories/0111",
            &d,
            changed.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let r = app
        .json(Method::PUT, "/api/v1/cases/categories/0111", &eo, changed)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let all = app.get("/api/v1/cases/categories", &d).await.json();
    let c = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "0111")
        .unwrap();
    assert_eq!(c["handle_normal"], "2d");
    let officer = app.login("xipu_officer").await;
    let r = app
        .json(Method::POST, "/api/v1/cases/categories", &officer, new)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let page = app.get("/cases/categories", &d).await;
    assert!(page.body.contains("共享单车堆积"));
    // The page form, refused, comes back as typed.
    let r = app
        .form(
            "/cases/categories",
            &eo,
            &[
                ("mode", "new"),
                ("code", "0113"),
                ("major", "市容环境"),
                ("minor", "占道晾晒"),
                ("respond_normal", "5d"),
                ("respond_urgent", "2h"),
                ("handle_normal", "3d"),
                ("handle_urgent", "1d"),
                ("active", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains(r#"value="占道晾晒""#) && r.body.contains(r#"value="5d""#),
        "{}",
        r.body
    );
    // The home pages lead to the cases.
    let home = app.get("/", &d).await;
    assert!(home.body.contains("待派遣案件") && home.body.contains("受理案件"));
    let home = app.get("/", &app.login("suozhang").await).await;
    assert!(home.body.contains("待签收案件"));
    let home = app.get("/", &app.login("wanggeyuan").await).await;
    assert!(home.body.contains("上报问题"));
}

async fn a_change_made_through_another_process_governs_the_next_intake(t: TestDb) {
    // Two `serve` processes on one database: each caches reference data of its own.
    let other = TestApp::new(t.another_process().await).await;
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let eo = app.login("bianban").await;
    let grid = app.org_id("510117006004001").await;
    let report = |category: &str| {
        json!({"source": "patrol", "category": category, "description": "珠江路人行道有暴露垃圾",
               "grid_id": grid})
    };
    for a in [&app, &other] {
        let r = a
            .json(Method::POST, "/api/v1/cases", &d, report("0102"))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    }
    let all = app.get("/api/v1/cases/categories", &d).await.json();
    let mut category = all
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["code"] == "0102")
        .unwrap()
        .clone();
    category["active"] = json!(false);
    let r = other
        .json(Method::PUT, "/api/v1/cases/categories/0102", &eo, category)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = app
        .json(Method::POST, "/api/v1/cases", &d, report("0102"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "category", "{}", r.body);
    assert!(
        r.body.contains("已停用"),
        "a retired category is not an unknown one: {}",
        r.body
    );
    // A grid with a worker in post cannot be retired (its page, where the worker leaves, would
    // be gone); once the worker has left, it can.
    let retire_path = format!("/api/v1/orgs/{grid}/retire");
    let retire = || {
        other.json(
            Method::POST,
            &retire_path,
            &eo,
            json!({"reason": "网格调整"}),
        )
    };
    let r = retire().await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("离任"), "{}", r.body);
    app.end_assignments(grid, &app.login("xipu_officer").await)
        .await;
    let r = retire().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = app
        .json(Method::POST, "/api/v1/cases", &d, report("0101"))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "grid", "{}", r.body);
}

async fn a_session_changed_through_another_process_governs_the_next_intake(t: TestDb) {
    // An intake is admitted on the session as its process remembers it, and its write checks
    // the session: a change made through another process holds from the next intake on, and
    // the refused intake stores nothing.
    let other = TestApp::new(t.another_process().await).await;
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let grid = app.org_id("510117006004001").await;
    let report = json!({"source": "patrol", "category": "0102", "grid_id": grid,
                        "description": "珠江路人行道有暴露垃圾"});
    let cases = "SELECT COUNT(*) FROM cases";
    // Each intake answers `status`; the cases stored are then `stored`.
    let take_in = async |status: StatusCode, stored: i64| {
        let r = app
            .json(Method::POST, "/api/v1/cases", &d, report.clone())
            .await;
        assert_eq!(r.status, status, "{}", r.body);
        assert_eq!(app.count(cases).await, stored);
    };
    let before = app.count(cases).await;
    // The first is admitted on a read session, the second on the remembered one.
    take_in(StatusCode::CREATED, before + 1).await;
    take_in(StatusCode::CREATED, before + 2).await;

    // A role taken away (its row deleted as another process would) refuses the next intake.
    let dispatcher = "(SELECT id FROM users WHERE username = 'xipu_dispatch')";
    let roles: Vec<String> = {
        let mut c = other.db().acquire().await.unwrap();
        let mut conn = c.conn();
        let sql = format!("SELECT role FROM user_roles WHERE user_id = {dispatcher}");
        jiceng::on_conn!(&mut conn, c => sqlx::query_scalar(&sql).fetch_all(&mut *c).await.unwrap())
    };
    other
        .exec(&format!(
            "DELETE FROM user_roles WHERE user_id = {dispatcher}"
        ))
        .await;
    take_in(StatusCode::FORBIDDEN, before + 2).await;
    // Given back, it admits them again: the refusal was not remembered as final.
    for role in &roles {
        other
            .exec(&format!(
                "INSERT INTO user_roles (user_id, role) VALUES ({dispatcher}, '{role}')"
            ))
            .await;
    }
    take_in(StatusCode::CREATED, before + 3).await;
    take_in(StatusCode::CREATED, before + 4).await;

    // Signed out through the other process: the next intake here asks to sign in.
    let r = other
        .json(Method::DELETE, "/api/v1/session", &d, json!({}))
        .await;
    assert!(r.status.is_success(), "{} {}", r.status, r.body);
    take_in(StatusCode::UNAUTHORIZED, before + 4).await;
}

async fn a_report_taken_in_by_another_process_is_offered_as_a_duplicate(t: TestDb) {
    // Each process keeps the descriptions it has compared; one it has never seen is read.
    let other = TestApp::new(t.another_process().await).await;
    let app = TestApp::with_demo(t).await;
    let d = app.login("xipu_dispatch").await;
    let grid = app.org_id("510117006004001").await;
    let take_in = async |a: &TestApp, description: &str| {
        let body = json!({"source": "patrol", "category": "0102", "description": description,
                          "grid_id": grid});
        let r = a.json(Method::POST, "/api/v1/cases", &d, body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.json()
    };
    let first = take_in(&other, "珠江路人行道有暴露垃圾无人清扫").await;
    let second = take_in(&app, "珠江路人行道上有暴露垃圾").await;
    let offered = &second["duplicates"];
    assert_eq!(offered.as_array().unwrap().len(), 1, "{second}");
    assert_eq!(offered[0]["id"], first["id"], "{second}");
    assert_eq!(offered[0]["description"], "珠江路人行道有暴露垃圾无人清扫");
    // And back: the other process reads the second, and still knows the first.
    let third = take_in(&other, "珠江路人行道有暴露垃圾").await;
    let ids: Vec<&Value> = third["duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["id"])
        .collect();
    assert_eq!(ids.len(), 2, "{third}");
    assert!(
        ids.contains(&&first["id"]) && ids.contains(&&second["id"]),
        "{third}"
    );
}
