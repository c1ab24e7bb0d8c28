//! Duty lists on both engines: the demo catalog, versions and their difference, the list as of
//! a date, all-or-nothing import from a real .xlsx, publication, citing items.

mod common;

use axum::http::{Method, StatusCode};
use common::{Session, TestApp, TestDb};
use jiceng::catalog::{self, Responsible, io, model};
use jiceng::ids::OrgId;
use serde_json::{Value, json};

on_both_engines!(
    the_demo_catalog_is_loaded_and_published,
    a_change_makes_a_version_whose_difference_is_item_by_item,
    the_list_as_of_a_date_is_the_version_then_in_force,
    an_import_is_all_or_nothing_with_every_bad_row_reported,
    the_public_page_shows_only_published_versions,
    a_task_must_cite_an_item_on_the_townships_list,
    search_finds_items_by_segmented_words,
    figures_count_every_list,
);

async fn lists(app: &TestApp, s: &Session) -> Value {
    app.get("/api/v1/catalog/lists", s).await.json()
}

async fn list_id(app: &TestApp, s: &Session, township_key: i64) -> i64 {
    lists(app, s)
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["list"]["township_key"] == township_key)
        .map(|l| l["list"]["id"].as_i64().unwrap())
        .expect("list exists")
}

fn general_item(items: &Value, code: &str) -> Value {
    items["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["code"] == code)
        .cloned()
        .expect("item")
}

async fn the_demo_catalog_is_loaded_and_published(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let eo = app.login("bianban").await;
    let general = list_id(&app, &eo, 0).await;
    let items = app
        .get(&format!("/api/v1/catalog/lists/{general}/items"), &eo)
        .await
        .json();
    assert_eq!(items["version"], 1);
    let all = items["items"].as_array().unwrap();
    assert_eq!(all.len(), 519);
    let count = |k: &str| all.iter().filter(|i| i["list_kind"] == k).count();
    assert_eq!(
        (count("duties"), count("services"), count("territorial")),
        (279, 130, 110)
    );
    let xipu = app.org_id("510117006000").await;
    let eff = app
        .get(
            &format!("/api/v1/catalog/townships/{xipu}/items?published=true"),
            &eo,
        )
        .await
        .json();
    let local = eff["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["origin"] == "local")
        .count();
    assert!(local >= 5, "犀浦 has local additions: {local}");
    // The township officer sees their own township's list on the page.
    let officer = app.login("xipu_officer").await;
    let page = app.get("/catalog", &officer).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("犀浦街道") && page.body.contains("个性化"));
    // The pager's next page, and a district user's township filter left at "all".
    let next = app.get("/catalog?page=2", &officer).await;
    assert_eq!(next.status, StatusCode::OK, "{}", next.body);
    assert!(next.body.contains("第 2 /"), "{}", next.body);
    let eo = app.login("bianban").await;
    let all = app.get("/catalog?township=&q=&page=2", &eo).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
}

async fn a_change_makes_a_version_whose_difference_is_item_by_item(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let eo = app.login("bianban").await;
    let general = list_id(&app, &eo, 0).await;
    let items = app
        .get(&format!("/api/v1/catalog/lists/{general}/items"), &eo)
        .await
        .json();
    let mut changed = general_item(&items, "ZR-100");
    changed["phone"] = json!("028-87990000");
    changed["legal_basis"]
        .as_array_mut()
        .unwrap()
        .push(json!("《中华人民共和国行政处罚法》第二十四条"));
    let mut added = changed.clone();
    added["code"] = json!("ZR-900");
    added["name"] = json!("对在城市道路上占道经营的行政处罚（新增）");
    let body = json!({"reason": "依据《中华人民共和国行政处罚法》修订", "upsert": [changed.clone(), added.clone()], "remove": ["GF-130"]});
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/changes"),
            &eo,
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["version"], 2);
    // Removing what is gone is an error; the same upserts again change nothing: refused,
    // and no empty version is made.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/changes"),
            &eo,
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let again = json!({"reason": "重复提交", "upsert": [changed, added]});
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/changes"),
            &eo,
            again,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let d = app
        .get(
            &format!("/api/v1/catalog/lists/{general}/diff?from=1&to=2"),
            &eo,
        )
        .await
        .json();
    assert_eq!(d["added"][0]["code"], "ZR-900");
    assert_eq!(d["removed"][0]["code"], "GF-130");
    assert_eq!(d["changed"][0]["after"]["code"], "ZR-100");
    assert_eq!(d["changed"][0]["fields"], json!(["法律依据", "咨询电话"]));
    let versions = app
        .get(&format!("/api/v1/catalog/lists/{general}/versions"), &eo)
        .await
        .json();
    assert_eq!(versions[0]["created_by"], "bianban");
    assert!(
        versions[0]["reason"]
            .as_str()
            .unwrap()
            .contains("行政处罚法")
    );
    assert_eq!(versions[0]["summary"], "新增 1 项，修改 1 项，删除 1 项");
    // Version 1 is still there as it was.
    let v1 = app
        .get(
            &format!("/api/v1/catalog/lists/{general}/items?version=1"),
            &eo,
        )
        .await
        .json();
    assert_eq!(v1["items"].as_array().unwrap().len(), 519);
    assert_eq!(
        general_item(&v1, "ZR-100")["phone"],
        general_item(&items, "ZR-100")["phone"]
    );
    // Bad changes are refused with the field named, and write nothing.
    let mut bad = general_item(&items, "ZR-101");
    bad["legal_basis"] = json!([]);
    bad["category"] = json!("penalty");
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/changes"),
            &eo,
            json!({"reason": "x", "upsert": [bad]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "legal_basis");
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/changes"),
            &eo,
            json!({"reason": " ", "remove": ["ZR-001"]}),
        )
        .await;
    assert_eq!(r.json()["error"]["field"], "reason");
    // A township officer may not touch the general catalog.
    let officer = app.login("xipu_officer").await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/changes"),
            &officer,
            json!({"reason": "x", "remove": ["ZR-001"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let diff_page = app
        .get(&format!("/catalog/lists/{general}/diff?from=1&to=2"), &eo)
        .await;
    assert!(diff_page.body.contains("ZR-900") && diff_page.body.contains("咨询电话"));
    let x = app
        .get(
            &format!("/catalog/lists/{general}/diff/export?from=1&to=2&format=xlsx"),
            &eo,
        )
        .await;
    assert_eq!(x.status, StatusCode::OK);
    assert!(x.body.as_bytes().starts_with(b"PK"), "a real xlsx");
}

async fn the_list_as_of_a_date_is_the_version_then_in_force(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let eo = app.login("bianban").await;
    let general = list_id(&app, &eo, 0).await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/changes"),
            &eo,
            json!({"reason": "撤销事项", "remove": ["ZR-001"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Version 1 came into force on 2026-03-01, version 2 on 2026-09-15 (Beijing time).
    let at = |d: &str| {
        jiceng::time::Timestamp::parse_local_date(d)
            .unwrap()
            .plus_seconds(3600)
            .as_micros()
    };
    app.exec(&format!(
        "UPDATE catalog_versions SET created_at = {} WHERE list_id = {general} AND version = 1",
        at("2026-03-01")
    ))
    .await;
    app.exec(&format!(
        "UPDATE catalog_versions SET created_at = {} WHERE list_id = {general} AND version = 2",
        at("2026-09-15")
    ))
    .await;
    let on = |d: &'static str| {
        let app = &app;
        let eo = &eo;
        async move {
            app.get(
                &format!("/api/v1/catalog/lists/{general}/items?date={d}"),
                eo,
            )
            .await
            .json()
        }
    };
    assert_eq!(on("2026-02-28").await["version"], 0);
    assert_eq!(on("2026-02-28").await["items"].as_array().unwrap().len(), 0);
    assert_eq!(on("2026-09-14").await["version"], 1);
    assert_eq!(on("2026-09-15").await["version"], 2);
    assert!(
        on("2026-09-15").await["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["code"] != "ZR-001")
    );
    let r = app
        .get(
            &format!("/api/v1/catalog/lists/{general}/items?date=2026-13-01"),
            &eo,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let page = app
        .get(
            &format!("/catalog/lists/{general}/items?date=2026-09-14"),
            &eo,
        )
        .await;
    assert!(page.body.contains("第 1 版") && page.body.contains("ZR-001"));
}

fn multipart(file: &[u8], reason: &str) -> (String, Vec<u8>) {
    let boundary = "----jicengtestboundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"reason\"\r\n\r\n{reason}\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"清单.xlsx\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn upload(app: &TestApp, s: &Session, list: i64, file: &[u8]) -> common::Resp {
    let (ct, body) = multipart(file, "按新模板重新整理");
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/catalog/lists/{list}/import?_csrf={}", s.csrf))
        .header("host", "localhost")
        .header("cookie", s.cookie.clone().unwrap())
        .header("content-type", ct)
        .body(axum::body::Body::from(body))
        .unwrap();
    app.request(req).await
}

async fn an_import_is_all_or_nothing_with_every_bad_row_reported(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let officer = app.login("xipu_officer").await;
    let xipu = app.org_id("510117006000").await;
    let local = list_id(&app, &officer, xipu).await;
    let before = app
        .get(&format!("/api/v1/catalog/lists/{local}/items"), &officer)
        .await
        .json();
    let good: Vec<model::ItemFields> =
        serde_json::from_value(before["items"].clone()).expect("items decode");
    let mut rows: Vec<Vec<String>> = good.iter().map(model::to_row).collect();
    // Row 3 (the second data row): an unknown category; row 4: no name; a duplicate code;
    // a malformed phone; a penalty without a legal basis.
    rows[1][4] = "行政罚款".into();
    rows[2][1] = "".into();
    rows[3][0] = rows[0][0].clone();
    rows[4][18] = "电话号码".into();
    let mut penalty = rows[5].clone();
    penalty[0] = "LA-006-099".into();
    penalty[4] = "行政处罚".into();
    penalty[6] = "".into();
    rows.push(penalty);
    let bad = io::write_xlsx("清单", model::COLUMNS, &rows).unwrap();
    let r = upload(&app, &officer, local, &bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    for expect in [
        "第 3 行",
        "第 4 行",
        "第 5 行",
        "第 6 行",
        "事项类别",
        "重复",
        "电话",
        "法律依据",
    ] {
        assert!(r.body.contains(expect), "missing {expect} in {}", r.body);
    }
    let after = app
        .get(&format!("/api/v1/catalog/lists/{local}/items"), &officer)
        .await
        .json();
    assert_eq!(after["version"], before["version"], "nothing imported");
    // Wrong columns are refused as a whole.
    let wrong = io::write_xlsx(
        "清单",
        &["编码", "事项名称", "备注"],
        &[vec!["A".into(), "B".into(), "C".into()]],
    )
    .unwrap();
    let r = upload(&app, &officer, local, &wrong).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("备注"), "{}", r.body);
    // A file of headers only would empty the list: refused.
    let empty = io::write_xlsx("清单", model::COLUMNS, &[]).unwrap();
    let r = upload(&app, &officer, local, &empty).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("没有事项"), "{}", r.body);
    let after = app
        .get(&format!("/api/v1/catalog/lists/{local}/items"), &officer)
        .await
        .json();
    assert_eq!(after["version"], before["version"], "nothing imported");
    // A good file replaces the list: one item edited, one added, the rest unchanged.
    let mut rows: Vec<Vec<String>> = good.iter().map(model::to_row).collect();
    rows[0][1] = format!("{}（修订）", rows[0][1]);
    let mut extra = rows[1].clone();
    extra[0] = "LA-006-050".into();
    extra[1] = "校园周边环境秩序整治".into();
    rows.push(extra);
    let file = io::write_xlsx("清单", model::COLUMNS, &rows).unwrap();
    let r = upload(&app, &officer, local, &file).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let after = app
        .get(&format!("/api/v1/catalog/lists/{local}/items"), &officer)
        .await
        .json();
    assert_eq!(after["version"], before["version"].as_i64().unwrap() + 1);
    assert_eq!(after["items"].as_array().unwrap().len(), good.len() + 1);
    let v = after["version"].as_i64().unwrap();
    let d = app
        .get(
            &format!("/api/v1/catalog/lists/{local}/diff?from={}&to={v}", v - 1),
            &officer,
        )
        .await
        .json();
    assert_eq!(
        (
            d["added"].as_array().unwrap().len(),
            d["changed"].as_array().unwrap().len()
        ),
        (1, 1)
    );
    // The audit trail has it, and the template downloads as a real workbook.
    let t = app.get("/catalog/template.xlsx", &officer).await;
    assert!(t.body.as_bytes().starts_with(b"PK"));
}

async fn the_public_page_shows_only_published_versions(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let eo = app.login("bianban").await;
    let general = list_id(&app, &eo, 0).await;
    let items = app
        .get(&format!("/api/v1/catalog/lists/{general}/items"), &eo)
        .await
        .json();
    let mut added = general_item(&items, "ZR-100");
    added["code"] = json!("ZR-901");
    added["name"] = json!("草稿中的新事项");
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/changes"),
            &eo,
            json!({"reason": "新增", "upsert": [added]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let public = Session::default();
    let p = app
        .get("/public/lists/510117006000?q=草稿中的新事项", &public)
        .await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(
        !p.body.contains("草稿中的新事项</summary>"),
        "drafts are not public"
    );
    let api = app
        .get("/api/v1/public/townships/510117006000/items", &public)
        .await
        .json();
    assert!(
        api["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["item"]["code"] != "ZR-901")
    );
    assert_eq!(api["general_version"], 1);
    // Only the establishment office publishes.
    let officer = app.login("xipu_officer").await;
    assert_eq!(
        app.send(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/publish"),
            &officer,
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/publish"),
            &eo,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let p = app
        .get("/public/lists/510117006000?q=草稿中的新事项", &public)
        .await;
    assert!(p.body.contains("草稿中的新事项"), "published now");
    assert!(p.body.contains("028-"), "office phone shown");
    assert_eq!(
        app.get("/public/lists/999999999999", &public).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/publish"),
            &eo,
            None,
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "publishing twice is refused"
    );
}

async fn a_task_must_cite_an_item_on_the_townships_list(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let district = OrgId(app.org_id("510117000000").await);
    let xipu = OrgId(app.org_id("510117006000").await);
    let (item, who) = catalog::cite(app.db(), district, xipu, "ZR-100")
        .await
        .expect("listed");
    assert_eq!(who, Responsible::Township);
    assert!(!item.name.is_empty());
    let err = catalog::cite(app.db(), district, xipu, "NOT-LISTED")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("事务准入"), "{err}");
    // A returned duty goes to the department that took it back.
    let eo = app.login("bianban").await;
    let general = list_id(&app, &eo, 0).await;
    let items = app
        .get(&format!("/api/v1/catalog/lists/{general}/items"), &eo)
        .await
        .json();
    let returned = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["national_class"] == "returned")
        .cloned()
        .unwrap();
    let (_, who) = catalog::cite(app.db(), district, xipu, returned["code"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        who,
        Responsible::Department(returned["returned_to"].as_str().unwrap().to_owned())
    );
    // A township may mark a general item not applicable; tasks citing it are then refused.
    let officer = app.login("xipu_officer").await;
    let local = list_id(&app, &officer, xipu.0).await;
    let r = app
        .json(Method::POST, &format!("/api/v1/catalog/lists/{local}/changes"), &officer,
            json!({"reason": "辖区无农村", "exclude": [{"code": "ZR-100", "reason": "辖区无此类场所"}]}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let err = catalog::cite(app.db(), district, xipu, "ZR-100")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("不适用"), "{err}");
    // Under the national scheme the page groups by basic / cooperative / returned.
    let r = app
        .form("/catalog/scheme", &eo, &[("scheme", "national")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app.get("/catalog", &officer).await;
    assert!(page.body.contains("基本履职") && page.body.contains("上级部门收回"));
}

async fn search_finds_items_by_segmented_words(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let eo = app.login("bianban").await;
    let general = list_id(&app, &eo, 0).await;
    let items = app
        .get(&format!("/api/v1/catalog/lists/{general}/items"), &eo)
        .await
        .json();
    let mut phrased = general_item(&items, "ZR-100");
    phrased["code"] = json!("ZR-950");
    phrased["name"] = json!("对在街巷中占用道路摆摊从事经营活动的劝导");
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/catalog/lists/{general}/changes"),
            &eo,
            json!({"reason": "新增", "upsert": [phrased]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The staff page searches the current list: the literal 占道经营 first, then items that
    // speak of 占用…道路…经营 without the abbreviation.
    let page = app.get("/catalog?q=占道经营", &eo).await;
    assert_eq!(page.status, StatusCode::OK);
    let first = page
        .body
        .find("ZR-101")
        .expect("the literal match is listed");
    let paraphrase = page
        .body
        .find("ZR-950")
        .expect("the paraphrase is found by words");
    assert!(first < paraphrase, "the literal match ranks first");
    assert!(
        !page.body.contains("ZR-001<"),
        "unrelated items are not listed"
    );
    // The public page searches only what is published: the draft item is not there yet.
    let public = app
        .get("/public/lists/510117006000?q=占道经营", &Session::default())
        .await;
    assert!(public.body.contains("占道经营"));
    assert!(!public.body.contains("摆摊从事经营活动的劝导"));
    // Filters combine with the words.
    let page = app.get("/catalog?q=占道经营&category=coercion", &eo).await;
    assert!(
        page.body.contains("ZR-174") && !page.body.contains("ZR-101"),
        "only the 行政强制 item"
    );
    // A value no item can have is named, not answered with nothing.
    let page = app.get("/catalog?list=duty", &eo).await;
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        page.body
    );
    assert!(page.body.contains("查询参数 list"), "{}", page.body);
}

async fn figures_count_every_list(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let eo = app.login("bianban").await;
    let rows = app.get("/api/v1/catalog/figures", &eo).await.json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 13, "the general catalog and 12 townships");
    assert_eq!(rows[0]["name"], "通用目录");
    assert_eq!(rows[0]["total"], 519);
    assert_eq!(rows[0]["by_list"]["职责任务"], 279);
    assert_eq!(rows[0]["by_list"]["公共服务"], 130);
    assert_eq!(rows[0]["by_list"]["属地管理"], 110);
    let xipu = rows.iter().find(|r| r["name"] == "犀浦街道").unwrap();
    let local = xipu["local"].as_u64().unwrap();
    assert!(local > 0);
    assert_eq!(xipu["total"].as_u64().unwrap(), 519 + local);
    let by_source: u64 = xipu["by_source"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        by_source,
        xipu["total"].as_u64().unwrap(),
        "every item has one source"
    );
    // A township officer sees the general catalog and only their own township.
    let officer = app.login("xipu_officer").await;
    let rows = app.get("/api/v1/catalog/figures", &officer).await.json();
    assert_eq!(rows.as_array().unwrap().len(), 2);
    let page = app.get("/catalog/figures", &eo).await;
    assert!(page.body.contains("行政处罚") && page.body.contains("区级下放"));
    let x = app.get("/catalog/figures/export?format=xlsx", &eo).await;
    assert!(x.body.as_bytes().starts_with(b"PK"));
    let bad = app.get("/catalog/figures/export?format=pdf", &eo).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
