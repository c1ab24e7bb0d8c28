//! Delegated powers, duty admission and inspection items on both engines, driven through the
//! API as the parties would: the department files, the township or the reviewers act on the
//! work API, and the township's list changes only when the process completes.

mod common;

use axum::http::{Method, StatusCode};
use common::{Session, TestApp, TestDb};
use jiceng::catalog::{self, Responsible};
use jiceng::ids::OrgId;
use serde_json::{Value, json};

on_both_engines!(
    a_delegated_power_reaches_the_list_only_after_both_sides_sign,
    a_returned_handover_changes_nothing_and_withdrawal_takes_the_power_back,
    an_admission_passes_both_reviews_and_the_decision_before_the_list_changes,
    an_admission_may_be_returned_or_refused,
    inspection_items_are_approved_one_by_one_and_reported_per_department,
    figures_count_powers_and_admissions,
    bad_filings_are_refused_with_reasons,
);

async fn township_items(app: &TestApp, s: &Session, township: i64) -> Vec<Value> {
    let r = app
        .get(&format!("/api/v1/catalog/townships/{township}/items"), s)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()["items"].as_array().unwrap().clone()
}

fn find<'a>(items: &'a [Value], code: &str) -> Option<&'a Value> {
    items.iter().find(|e| e["item"]["code"] == code)
}

/// Takes a step on the work API, at the version the instance is at now.
async fn act(app: &TestApp, s: &Session, instance: i64, action: &str, comment: &str) -> Value {
    let now = app.get(&format!("/api/v1/work/{instance}"), s).await;
    assert_eq!(now.status, StatusCode::OK, "{}", now.body);
    let version = now.json()["instance"]["version"].as_i64().unwrap();
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{instance}/actions"),
            s,
            json!({"action": action, "expected_version": version, "comment": comment}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.body);
    r.json()
}

/// The same step, expected to be refused with `status`.
async fn act_refused(
    app: &TestApp,
    s: &Session,
    instance: i64,
    action: &str,
    status: StatusCode,
) -> String {
    let now = app.get(&format!("/api/v1/work/{instance}"), s).await;
    let version = now.json()["instance"]["version"].as_i64().unwrap_or(0);
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{instance}/actions"),
            s,
            json!({"action": action, "expected_version": version, "comment": "试图越权"}),
        )
        .await;
    assert_eq!(r.status, status, "{action}: {}", r.body);
    r.body
}

fn power_body(code: &str) -> Value {
    json!({
        "code": code,
        "name": "对在城市道路两侧擅自堆放物料的行政处罚",
        "category": "penalty",
        "legal_basis": "《城市市容和环境卫生管理条例》第三十六条",
        "content": "对擅自在街道两侧和公共场地堆放物料的处罚",
        "lead_office": "综合行政执法办公室",
        "phone": "028-87921234",
        "effective_date": "2026-12-01"
    })
}

async fn create_power(app: &TestApp, dept: &Session, code: &str) -> i64 {
    let r = app
        .json(
            Method::POST,
            "/api/v1/delegation/powers",
            dept,
            power_body(code),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json()["power"]["id"].as_i64().unwrap()
}

async fn draft(
    app: &TestApp,
    dept: &Session,
    power: i64,
    direction: &str,
    townships: &[i64],
) -> Vec<Value> {
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/delegation/powers/{power}/handovers"),
            dept,
            json!({
                "direction": direction,
                "townships": townships,
                "files": "执法文书范本 3 套、在办案卷 2 件",
                "training": "2026 年 11 月 25 日执法业务培训",
                "staff": "",
                "supervision": "每季度抽查案卷，年度评估"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.json().as_array().unwrap().clone()
}

async fn a_delegated_power_reaches_the_list_only_after_both_sides_sign(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let dept = app.login("scjg").await;
    let leader = app.login("xipu_leader").await;
    let xipu = app.org_id("510117006000").await;
    let power = create_power(&app, &dept, "XF-SJ-001").await;
    let made = draft(&app, &dept, power, "delegate", &[xipu]).await;
    assert_eq!(made.len(), 1);
    let instance = made[0]["handover"]["instance_id"].as_i64().unwrap();
    let handover = made[0]["handover"]["id"].as_i64().unwrap();
    assert!(find(&township_items(&app, &leader, xipu).await, "XF-SJ-001").is_none());
    // The department's handover counts among the township's work (its metrics, its leaders').
    let counted: Option<i64> = app
        .scalar(&format!(
            "SELECT township_id FROM wf_instances WHERE id = {instance}"
        ))
        .await;
    assert_eq!(counted, Some(xipu));

    // Only the department submits; only the township accepts and signs.
    act_refused(&app, &leader, instance, "submit", StatusCode::FORBIDDEN).await;
    act(&app, &dept, instance, "submit", "").await;
    act_refused(&app, &dept, instance, "accept", StatusCode::FORBIDDEN).await;
    act(&app, &leader, instance, "accept", "同意接收").await;
    act(&app, &leader, instance, "township_sign", "").await;
    // One signature is not enough.
    assert!(find(&township_items(&app, &leader, xipu).await, "XF-SJ-001").is_none());
    let detail = app
        .get(&format!("/api/v1/delegation/powers/{power}"), &dept)
        .await
        .json();
    assert_eq!(detail["power"]["granted"], 0);
    let done = act(&app, &dept, instance, "department_sign_last", "").await;
    assert_eq!(done["instance"]["state"], "completed");

    let items = township_items(&app, &leader, xipu).await;
    let on_list = find(&items, "XF-SJ-001").expect("the power is on the township's list");
    assert_eq!(on_list["item"]["source"], "delegated");
    assert_eq!(on_list["origin"], "local");
    assert_eq!(
        on_list["item"]["reference"],
        format!("下放权力交接书第 {handover} 号")
    );
    let detail = app
        .get(&format!("/api/v1/delegation/powers/{power}"), &dept)
        .await
        .json();
    assert_eq!(detail["power"]["granted"], 1);
    assert_eq!(detail["grants"][0]["status"], "granted");
    assert!(detail["handovers"][0]["list_version"].as_i64().is_some());

    // A township that holds the power cannot receive it again.
    let again = app
        .json(
            Method::POST,
            &format!("/api/v1/delegation/powers/{power}/handovers"),
            &dept,
            json!({"direction": "delegate", "townships": [xipu], "files": "无",
                   "training": "无", "supervision": "季度检查"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.body);

    // The department keeps its guidance and supervision record.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/delegation/powers/{power}/supervision"),
            &dept,
            json!({"township_id": xipu, "kind": "培训", "happened_on": "2026-11-20",
                   "content": "执法文书制作与证据固定培训"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["supervision"][0]["kind"], "培训");
    // Not about a township that never held the power.
    let never = app.org_id("510117106000").await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/delegation/powers/{power}/supervision"),
            &dept,
            json!({"township_id": never, "kind": "培训", "happened_on": "2026-11-20",
                   "content": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("未承接过"), "{}", r.body);

    // The township cannot drop the power from its list by itself, nor add one of its own
    // as if delegated: the handover processes alone do that.
    let officer = app.login("xipu_officer").await;
    let lists = app.get("/api/v1/catalog/lists", &officer).await.json();
    let list = lists
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["list"]["township_key"] == xipu)
        .map(|l| l["list"]["id"].as_i64().unwrap())
        .expect("the township's list");
    let changes = format!("/api/v1/catalog/lists/{list}/changes");
    let r = app
        .json(
            Method::POST,
            &changes,
            &officer,
            json!({"reason": "擅自删除", "remove": ["XF-SJ-001"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("收回流程"), "{}", r.body);
    let mut own = on_list["item"].clone();
    own["code"] = json!("XF-SJ-009");
    own["reference"] = json!("");
    let r = app
        .json(
            Method::POST,
            &changes,
            &officer,
            json!({"reason": "自行新增", "upsert": [own.clone()]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("不能自行新增"), "{}", r.body);
    // Nor by marking one of its own items as delegated.
    let items = township_items(&app, &leader, xipu).await;
    let mut mine = find(&items, "LA-006-001").expect("a local item")["item"].clone();
    mine["source"] = json!("delegated");
    let r = app
        .json(
            Method::POST,
            &changes,
            &officer,
            json!({"reason": "改标为下放", "upsert": [mine]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    own["source"] = json!("other");
    own["reference"] = json!("交接书第 1 号");
    let r = app
        .json(
            Method::POST,
            &changes,
            &officer,
            json!({"reason": "自行新增", "upsert": [own]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(find(&township_items(&app, &leader, xipu).await, "XF-SJ-001").is_some());
    // Other departments cannot write in it.
    let other = app.login("sifaju").await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/delegation/powers/{power}/supervision"),
            &other,
            json!({"kind": "培训", "happened_on": "2026-11-20", "content": "x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // The pages show it.
    let page = app.get(&format!("/delegation/powers/{power}"), &dept).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("已承接") && page.body.contains("交接完成"),
        "{}",
        page.body
    );
    let page = app
        .get(&format!("/delegation/handovers/{handover}"), &leader)
        .await;
    assert!(page.body.contains("下放权力交接书第"), "{}", page.body);
}

async fn a_returned_handover_changes_nothing_and_withdrawal_takes_the_power_back(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let dept = app.login("scjg").await;
    let leader = app.login("xipu_leader").await;
    let xipu = app.org_id("510117006000").await;
    let power = create_power(&app, &dept, "XF-SJ-002").await;
    let made = draft(&app, &dept, power, "delegate", &[xipu]).await;
    let instance = made[0]["handover"]["instance_id"].as_i64().unwrap();
    act(&app, &dept, instance, "submit", "").await;
    // Returning needs the reasons.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{instance}/actions"),
            &leader,
            json!({"action": "return", "expected_version": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    act(
        &app,
        &leader,
        instance,
        "return",
        "执法人员未到位，暂不具备承接条件",
    )
    .await;
    assert!(find(&township_items(&app, &leader, xipu).await, "XF-SJ-002").is_none());
    // The department revises and resubmits; this time both sign, department first.
    act(&app, &dept, instance, "submit", "已安排 2 名执法人员").await;
    act(&app, &leader, instance, "accept", "").await;
    act(&app, &dept, instance, "department_sign", "").await;
    act(&app, &leader, instance, "township_sign_last", "").await;
    assert!(find(&township_items(&app, &leader, xipu).await, "XF-SJ-002").is_some());

    // Withdrawing follows the same path back.
    let back = draft(&app, &dept, power, "withdraw", &[xipu]).await;
    let instance = back[0]["handover"]["instance_id"].as_i64().unwrap();
    act(&app, &dept, instance, "submit", "").await;
    act(&app, &leader, instance, "accept", "").await;
    act(&app, &leader, instance, "township_sign", "").await;
    assert!(find(&township_items(&app, &leader, xipu).await, "XF-SJ-002").is_some());
    act(&app, &dept, instance, "department_sign_last", "").await;
    assert!(find(&township_items(&app, &leader, xipu).await, "XF-SJ-002").is_none());
    let detail = app
        .get(&format!("/api/v1/delegation/powers/{power}"), &dept)
        .await
        .json();
    assert_eq!(detail["grants"][0]["status"], "withdrawn");
    assert_eq!(detail["power"]["granted"], 0);
    // Nothing to withdraw from a township that does not hold it.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/delegation/powers/{power}/handovers"),
            &dept,
            json!({"direction": "withdraw", "townships": [xipu], "files": "无"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // A handover the township has not yet accepted may be called back, and changes nothing.
    let again = draft(&app, &dept, power, "delegate", &[xipu]).await;
    let instance = again[0]["handover"]["instance_id"].as_i64().unwrap();
    act(&app, &dept, instance, "submit", "").await;
    let done = act(&app, &dept, instance, "cancel", "承接条件尚未落实，撤回").await;
    assert_eq!(done["instance"]["state"], "cancelled");
    assert!(find(&township_items(&app, &leader, xipu).await, "XF-SJ-002").is_none());
}

fn admission_body(kind: &str, code: &str, townships: &[i64]) -> Value {
    json!({
        "kind": kind,
        "title": "承接城镇燃气用户安全日常巡查",
        "item": {
            "code": code,
            "name": "城镇燃气用户安全日常巡查",
            "list_kind": "territorial",
            "national_class": "cooperative",
            "category": "inspection",
            "source": "entrusted",
            "legal_basis": ["《城镇燃气管理条例》第四十一条"],
            "content": "对辖区餐饮场所燃气使用安全开展日常巡查，发现隐患及时报告",
            "resp_accept": "", "resp_review": "", "resp_decide": "", "resp_deliver": "",
            "resp_supervise": "", "resp_other": "", "accountability": "",
            "lead_office": "应急管理办公室",
            "cooperating": ["区住房建设局"],
            "responsible_person": "分管副主任",
            "phone": "028-87925678",
            "township_duty": "日常巡查、发现报告、配合处置",
            "lead_department": "区住房建设局",
            "department_duty": "行业监管、执法查处",
            "returned_to": ""
        },
        "funding": "每镇（街道）每年 6 万元，列入区级财政预算",
        "staffing": "不新增编制，由区住房建设局派员指导",
        "reasons": "巡查需贴近一线，镇（街道）网格员日常巡查可覆盖",
        "townships": townships
    })
}

async fn file(app: &TestApp, s: &Session, body: Value) -> (i64, i64) {
    let r = app
        .json(Method::POST, "/api/v1/delegation/admissions", s, body)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let a = &r.json()["admission"];
    (
        a["id"].as_i64().unwrap(),
        a["instance_id"].as_i64().unwrap(),
    )
}

async fn an_admission_passes_both_reviews_and_the_decision_before_the_list_changes(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let dept = app.login("scjg").await;
    let eo = app.login("bianban").await;
    let justice = app.login("sifaju").await;
    let xipu = app.org_id("510117006000").await;
    let district = OrgId(app.org_id("510117000000").await);

    // Before admission, a task citing the work is refused.
    let refused = catalog::cite(app.db(), district, OrgId(xipu), "ZR-RQ-01")
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("申请事务准入"), "{refused}");

    let (id, instance) = file(&app, &dept, admission_body("admit", "ZR-RQ-01", &[xipu])).await;
    act(&app, &dept, instance, "submit", "").await;
    // The department cannot review its own application, nor skip a review.
    act_refused(&app, &dept, instance, "eo_pass", StatusCode::FORBIDDEN).await;
    act(&app, &justice, instance, "justice_pass", "合法").await;
    act_refused(&app, &eo, instance, "approve", StatusCode::CONFLICT).await;
    act(&app, &eo, instance, "eo_pass_last", "合理").await;
    assert!(find(&township_items(&app, &eo, xipu).await, "ZR-RQ-01").is_none());
    let decided = act(
        &app,
        &eo,
        instance,
        "approve",
        "区联席会议 2026 年第 5 次会议同意",
    )
    .await;
    assert_eq!(decided["instance"]["state"], "approved");

    let detail = app
        .get(&format!("/api/v1/delegation/admissions/{id}"), &eo)
        .await
        .json();
    assert_eq!(detail["admission"]["outcome"], "approved");
    let reference = detail["admission"]["reference"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        reference.starts_with("准入〔") && reference.ends_with("1号"),
        "{reference}"
    );
    let items = township_items(&app, &eo, xipu).await;
    let on_list = find(&items, "ZR-RQ-01").expect("admitted item is listed");
    assert_eq!(on_list["item"]["reference"], reference);
    // Only the townships named in the application.
    let other = app.org_id("510117001000").await;
    assert!(find(&township_items(&app, &eo, other).await, "ZR-RQ-01").is_none());
    // And now a task may cite it.
    let (item, who) = catalog::cite(app.db(), district, OrgId(xipu), "ZR-RQ-01")
        .await
        .unwrap();
    assert_eq!(item.name, "城镇燃气用户安全日常巡查");
    assert_eq!(who, Responsible::Township);

    // Adjustment uses the same path; the next approval gets the next reference.
    let mut body = admission_body("adjust", "ZR-RQ-01", &[xipu]);
    body["item"]["content"] = json!("对辖区餐饮场所和老旧小区燃气使用安全开展日常巡查");
    let (_, instance) = file(&app, &dept, body).await;
    act(&app, &dept, instance, "submit", "").await;
    act(&app, &eo, instance, "eo_pass", "").await;
    act(&app, &justice, instance, "justice_pass_last", "").await;
    act(&app, &eo, instance, "approve", "联席会议同意调整").await;
    let items = township_items(&app, &eo, xipu).await;
    let adjusted = find(&items, "ZR-RQ-01").unwrap();
    assert!(
        adjusted["item"]["content"]
            .as_str()
            .unwrap()
            .contains("老旧小区")
    );
    assert!(
        adjusted["item"]["reference"]
            .as_str()
            .unwrap()
            .ends_with("2号")
    );

    // Withdrawal removes it again.
    let (_, instance) = file(&app, &dept, admission_body("withdraw", "ZR-RQ-01", &[xipu])).await;
    act(&app, &dept, instance, "submit", "").await;
    act(&app, &eo, instance, "eo_pass", "").await;
    act(&app, &justice, instance, "justice_pass_last", "").await;
    act(&app, &eo, instance, "approve", "联席会议同意退出").await;
    assert!(find(&township_items(&app, &eo, xipu).await, "ZR-RQ-01").is_none());

    // The township sees the applications that concern it.
    let leader = app.login("xipu_leader").await;
    let mine = app
        .get("/api/v1/delegation/admissions", &leader)
        .await
        .json();
    assert_eq!(mine["items"].as_array().unwrap().len(), 3);
    let page = app
        .get(&format!("/delegation/admissions/{id}"), &leader)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&reference));
}

async fn an_admission_may_be_returned_or_refused(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let dept = app.login("scjg").await;
    let eo = app.login("bianban").await;
    let justice = app.login("sifaju").await;
    let xipu = app.org_id("510117006000").await;
    let (id, instance) = file(&app, &dept, admission_body("admit", "ZR-RQ-02", &[xipu])).await;
    act(&app, &dept, instance, "submit", "").await;
    act(&app, &eo, instance, "eo_pass", "").await;
    // The justice bureau returns it even after the establishment office passed it; both
    // reviews start again on resubmission.
    act(
        &app,
        &justice,
        instance,
        "justice_return",
        "缺少法律依据条款",
    )
    .await;
    act(&app, &dept, instance, "submit", "已补充").await;
    let now = app
        .get(&format!("/api/v1/work/{instance}"), &eo)
        .await
        .json();
    assert_eq!(now["instance"]["state"], "in_review");
    act(&app, &eo, instance, "eo_pass", "").await;
    act(&app, &justice, instance, "justice_pass_last", "").await;
    act(&app, &eo, instance, "reject", "属于部门法定职责，不予准入").await;
    let detail = app
        .get(&format!("/api/v1/delegation/admissions/{id}"), &eo)
        .await
        .json();
    assert_eq!(detail["admission"]["outcome"], "rejected");
    assert!(detail["admission"]["reference"].is_null());
    assert!(find(&township_items(&app, &eo, xipu).await, "ZR-RQ-02").is_none());
    // A decided application takes no more steps.
    act_refused(&app, &eo, instance, "approve", StatusCode::CONFLICT).await;
}

async fn inspection_items_are_approved_one_by_one_and_reported_per_department(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let dept = app.login("scjg").await;
    let eo = app.login("bianban").await;
    let mut instances = Vec::new();
    for (name, points) in [
        ("食品安全属地巡查覆盖率", "2.5"),
        ("特种设备隐患上报及时率", "2"),
        ("市场主体年报催报率", "1.5"),
    ] {
        let r = app
            .json(
                Method::POST,
                "/api/v1/delegation/inspections",
                &dept,
                json!({"name": name, "basis": "区市场监管局 2026 年工作要点",
                       "standard": "达到 95% 得满分，每低 1 个百分点扣 0.1 分",
                       "points": points, "year": 2026}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        instances.push(r.json()["instance_id"].as_i64().unwrap());
    }
    // One report per matter: the same indicator again is refused.
    let r = app
        .json(
            Method::POST,
            "/api/v1/delegation/inspections",
            &dept,
            json!({"name": "食品安全属地巡查覆盖率", "basis": "x", "standard": "x",
                   "points": "1", "year": 2026}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    act(&app, &eo, instances[0], "approve", "").await;
    act(&app, &eo, instances[1], "approve", "").await;
    act(&app, &eo, instances[2], "reject", "以报代考，不予设置").await;
    // Retiring needs a reason.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/work/{}/actions", instances[1]),
            &eo,
            json!({"action": "retire", "expected_version": 2}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    act(
        &app,
        &eo,
        instances[1],
        "retire",
        "属部门自身职责，不应考核镇（街道）",
    )
    .await;

    let report = app
        .get("/api/v1/delegation/inspections?year=2026", &eo)
        .await
        .json();
    let lines = report["report"].as_array().unwrap();
    let line = &lines[0];
    assert_eq!(line["proposed"], 3);
    assert_eq!(line["approved"], 2);
    assert_eq!(line["rejected"], 1);
    assert_eq!(line["retired"], 1);
    assert_eq!(line["in_force"], 1);
    assert_eq!(line["points_in_force"], 25);
    assert_eq!(lines.last().unwrap()["department"], "合计");
    let xlsx = app
        .get("/delegation/inspections/export?year=2026&format=xlsx", &eo)
        .await;
    assert_eq!(xlsx.status, StatusCode::OK);
    let csv = app
        .get("/delegation/inspections/export?year=2026&format=csv", &eo)
        .await;
    assert!(
        csv.body.contains("报送指标数") && csv.body.contains("合计,3,2,1,1"),
        "{}",
        csv.body
    );
    let page = app.get("/delegation/inspections?year=2026", &dept).await;
    assert!(
        page.body.contains("已清理") && page.body.contains("2.5"),
        "{}",
        page.body
    );
    // An indicator in force waits on no one: it is in neither side's to-do list.
    for s in [&eo, &dept] {
        let inbox = app.get("/api/v1/work", s).await.json();
        assert!(
            inbox["items"]
                .as_array()
                .unwrap()
                .iter()
                .all(|w| w["instance"]["id"] != instances[0]),
            "{inbox}"
        );
    }
    // A township's leader sees where each stands, not links to process pages they may not open.
    let leader = app.login("xipu_leader").await;
    for path in [
        "/delegation/inspections?year=2026",
        "/delegation/admissions",
    ] {
        let page = app.get(path, &leader).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            !page.body.contains("href=\"/work/"),
            "{path}: {}",
            page.body
        );
    }
    let page = app.get("/delegation/inspections?year=2026", &eo).await;
    assert!(page.body.contains("href=\"/work/"), "{}", page.body);
}

async fn figures_count_powers_and_admissions(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let dept = app.login("scjg").await;
    let eo = app.login("bianban").await;
    let leader = app.login("xipu_leader").await;
    let justice = app.login("sifaju").await;
    let xipu = app.org_id("510117006000").await;
    let power = create_power(&app, &dept, "XF-SJ-003").await;
    let made = draft(&app, &dept, power, "delegate", &[xipu]).await;
    let instance = made[0]["handover"]["instance_id"].as_i64().unwrap();
    for (who, action) in [
        (&dept, "submit"),
        (&leader, "accept"),
        (&leader, "township_sign"),
        (&dept, "department_sign_last"),
    ] {
        act(&app, who, instance, action, "").await;
    }
    let (_, pending) = file(&app, &dept, admission_body("admit", "ZR-RQ-03", &[xipu])).await;
    act(&app, &dept, pending, "submit", "").await;
    let (_, refused) = file(&app, &dept, admission_body("admit", "ZR-RQ-04", &[xipu])).await;
    act(&app, &dept, refused, "submit", "").await;
    act(&app, &eo, refused, "eo_pass", "").await;
    act(&app, &justice, refused, "justice_pass_last", "").await;
    act(&app, &eo, refused, "reject", "不予准入").await;

    let figures = app.get("/api/v1/catalog/figures", &eo).await.json();
    let rows = figures.as_array().unwrap();
    let district = &rows[0]["delegation"];
    assert_eq!(district["powers_received"], 1);
    assert_eq!(district["admissions_pending"], 1);
    assert_eq!(district["admissions_refused"], 1);
    assert_eq!(district["admissions_approved"], 0);
    let xipu_row = rows
        .iter()
        .find(|r| r["name"] == "犀浦街道")
        .expect("犀浦 row");
    assert_eq!(xipu_row["delegation"]["powers_received"], 1);
    assert_eq!(xipu_row["delegation"]["admissions_pending"], 1);
    let other = rows
        .iter()
        .find(|r| r["name"] == "郫筒街道")
        .expect("郫筒 row");
    assert_eq!(other["delegation"]["powers_received"], 0);
    let csv = app.get("/catalog/figures/export?format=csv", &eo).await;
    assert!(csv.body.contains("承接下放权力"), "{}", csv.body);
}

async fn bad_filings_are_refused_with_reasons(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let dept = app.login("scjg").await;
    let eo = app.login("bianban").await;
    let xipu = app.org_id("510117006000").await;
    // A power without a legal basis, a public service offered as a power, a bad date.
    let mut body = power_body("XF-BAD-1");
    body["legal_basis"] = json!("");
    let r = app
        .json(Method::POST, "/api/v1/delegation/powers", &dept, body)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("法律依据"), "{}", r.body);
    let mut body = power_body("XF-BAD-2");
    body["category"] = json!("public_service");
    let r = app
        .json(Method::POST, "/api/v1/delegation/powers", &dept, body)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // A code the general catalog uses.
    let r = app
        .json(
            Method::POST,
            "/api/v1/delegation/powers",
            &dept,
            power_body("ZR-100"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // A code a township's own list uses: its handover would overwrite that item.
    let r = app
        .json(
            Method::POST,
            "/api/v1/delegation/powers",
            &dept,
            power_body("LA-006-002"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("犀浦"), "{}", r.body);
    // The same code twice.
    create_power(&app, &dept, "XF-DUP").await;
    let r = app
        .json(
            Method::POST,
            "/api/v1/delegation/powers",
            &dept,
            power_body("XF-DUP"),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    // The establishment office must name the department.
    let r = app
        .json(
            Method::POST,
            "/api/v1/delegation/powers",
            &eo,
            power_body("XF-EO"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // An admission without funding and staffing (权随事转、编随事走).
    let mut body = admission_body("admit", "ZR-RQ-09", &[xipu]);
    body["funding"] = json!("");
    body["staffing"] = json!(" ");
    let r = app
        .json(Method::POST, "/api/v1/delegation/admissions", &dept, body)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("经费"), "{}", r.body);
    // Adjusting an item the township does not have; a community given as a township.
    let r = app
        .json(
            Method::POST,
            "/api/v1/delegation/admissions",
            &dept,
            admission_body("adjust", "ZR-NONE", &[xipu]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let community = app.org_id("510117006001").await;
    let r = app
        .json(
            Method::POST,
            "/api/v1/delegation/admissions",
            &dept,
            admission_body("admit", "ZR-RQ-10", &[community]),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // Inspection points with two decimals.
    let r = app
        .json(
            Method::POST,
            "/api/v1/delegation/inspections",
            &dept,
            json!({"name": "x", "basis": "x", "standard": "x", "points": "2.55", "year": 2026}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // Nothing was written by any of them.
    let powers = app.get("/api/v1/delegation/powers", &dept).await.json();
    assert_eq!(powers.as_array().unwrap().len(), 1);
    let admissions = app.get("/api/v1/delegation/admissions", &dept).await.json();
    assert_eq!(admissions["total"], 0);

    // The forms re-show with the reason, keeping what was typed.
    let page = app
        .form(
            "/delegation/powers",
            &dept,
            &[
                ("code", "XF-FORM"),
                ("name", "表单测试事项"),
                ("category", "penalty"),
                ("legal_basis", ""),
                ("effective_date", "2026-12-01"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.body.contains("法律依据") && page.body.contains("表单测试事项"),
        "{}",
        page.body
    );
}
