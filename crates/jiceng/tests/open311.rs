//! Open311 GeoReport v2 on both engines, as a 311 client sees it: discovery, services and
//! their definitions, filing with an API key (form-encoded), reading requests back with the
//! spec's filters, tokens, JSON and XML with the spec's field names, and the spec's errors.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use common::{Resp, Session, TestApp, TestDb};
use serde_json::Value;

on_both_engines!(
    discovery_and_services_describe_the_district,
    a_request_filed_with_a_key_reads_back_in_json_and_xml,
    requests_are_filtered_as_the_spec_says,
    bad_requests_get_the_specs_errors,
    keys_are_issued_and_revoked_by_the_system_administrator,
    a_merged_request_names_the_case_it_joined,
);

async fn get(app: &TestApp, path: &str) -> Resp {
    app.get(path, &Session::anonymous()).await
}

/// A form-encoded POST without cookies, as a 311 client sends it.
async fn post_form(app: &TestApp, path: &str, pairs: &[(&str, &str)]) -> Resp {
    let body = serde_urlencoded::to_string(pairs).unwrap();
    app.request(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

async fn issue_key(app: &TestApp) -> String {
    let district = jiceng::catalog::district_by_code(app.db(), None)
        .await
        .unwrap();
    let (_, key) = jiceng::open311::create_key(
        app.db(),
        &jiceng::audit::Actor::system("test"),
        district,
        "市民随手拍 App",
    )
    .await
    .unwrap();
    key
}

/// A point inside grid 510117006001001 of 犀浦街道 (the demo's boundaries), to 7 decimals.
async fn xipu_point(app: &TestApp) -> (String, String) {
    let grid = jiceng::ids::OrgId(app.org_id("510117006001001").await);
    let (lon, lat) = jiceng::grids::interior_point(app.db(), grid)
        .await
        .unwrap()
        .expect("the demo grid has a boundary");
    (format!("{lat:.7}"), format!("{lon:.7}"))
}

fn request_pairs<'a>(
    key: &'a str,
    description: &'a str,
    point: &'a (String, String),
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("api_key", key),
        ("service_code", "0501"),
        ("lat", point.0.as_str()),
        ("long", point.1.as_str()),
        ("address_string", "犀浦街道围城南路与校园路交叉口"),
        ("description", description),
        ("first_name", "明"),
        ("last_name", "李"),
        ("phone", "13812345678"),
        ("attribute[township]", "510117006000"),
        ("attribute[urgency]", "urgent"),
    ]
}

/// The first service code the district offers (the shipped categories).
async fn a_service_code(app: &TestApp) -> String {
    let services = get(app, "/open311/v2/services.json").await.json();
    services[0]["service_code"].as_str().unwrap().to_owned()
}

async fn discovery_and_services_describe_the_district(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let d = get(&app, "/open311/discovery.json").await;
    assert_eq!(d.status, StatusCode::OK);
    let d = d.json();
    assert_eq!(
        d["endpoints"][0]["specification"],
        "http://wiki.open311.org/GeoReport_v2"
    );
    assert!(
        d["endpoints"][0]["url"]
            .as_str()
            .unwrap()
            .ends_with("/open311/v2")
    );
    assert_eq!(d["endpoints"][0]["formats"][0], "text/xml");
    let x = get(&app, "/open311/discovery.xml").await;
    assert!(
        x.body
            .starts_with("<?xml version=\"1.0\" encoding=\"utf-8\"?><discovery>")
    );
    assert!(x.body.contains("<endpoints><endpoint><specification>"));
    assert!(x.body.contains("<formats><format>text/xml</format>"));

    let services = get(&app, "/open311/v2/services.json").await;
    assert_eq!(services.status, StatusCode::OK);
    let list = services.json();
    let first = &list[0];
    for field in [
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    ] {
        assert!(!first[field].is_null(), "{field} in {first}");
    }
    assert_eq!(first["type"], "realtime");
    let xml = get(&app, "/open311/v2/services.xml").await;
    assert!(
        xml.body.contains("<services><service><service_code>"),
        "{}",
        xml.body
    );
    assert!(
        xml.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );

    let code = first["service_code"].as_str().unwrap();
    let def = get(&app, &format!("/open311/v2/services/{code}.json"))
        .await
        .json();
    assert_eq!(def["service_code"], code);
    let township = &def["attributes"][0];
    assert_eq!(township["code"], "township");
    assert_eq!(township["datatype"], "singlevaluelist");
    // A point in the district finds the township; without one the township is needed.
    assert_eq!(township["required"], false);
    assert!(
        township["values"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["key"] == "510117006000" && v["name"] == "犀浦街道")
    );
    let def = get(&app, &format!("/open311/v2/services/{code}.xml")).await;
    assert!(
        def.body.contains("<service_definition><service_code>"),
        "{}",
        def.body
    );
    assert!(
        def.body
            .contains("<attributes><attribute><variable>true</variable>")
    );
    assert!(def.body.contains("<values><value><key>"));
}

async fn a_request_filed_with_a_key_reads_back_in_json_and_xml(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let key = issue_key(&app).await;
    let code = a_service_code(&app).await;
    let point = xipu_point(&app).await;
    let mut pairs = request_pairs(
        &key,
        "路口有流动摊贩占道经营，傍晚尤其严重，影响通行",
        &point,
    );
    pairs[1] = ("service_code", &code);
    let r = post_form(&app, "/open311/v2/requests.json", &pairs).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let created = r.json();
    let id = created[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let token = created[0]["token"].as_str().unwrap().to_owned();
    assert!(
        created[0]["service_notice"]
            .as_str()
            .unwrap()
            .contains(&token)
    );

    // The case is in the dispatcher's list, reported through the citizen API.
    let dispatch = app.login("xipu_dispatch").await;
    let cases = app.get("/api/v1/cases", &dispatch).await.json();
    assert!(cases.to_string().contains("citizen_api"), "{cases}");

    let one = get(&app, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    let one = one.json();
    let r0 = &one[0];
    assert_eq!(r0["service_request_id"], id.as_str());
    assert_eq!(r0["status"], "open");
    assert_eq!(r0["service_code"], code.as_str());
    assert_eq!(r0["lat"].to_string(), point.0.trim_end_matches('0'));
    assert_eq!(r0["long"].to_string(), point.1.trim_end_matches('0'));
    assert_eq!(r0["agency_responsible"], "犀浦街道");
    assert!(
        r0["requested_datetime"]
            .as_str()
            .unwrap()
            .ends_with("+08:00")
    );
    assert!(
        !r0["expected_datetime"].is_null(),
        "an open request has a due time"
    );
    assert!(r0["status_notes"].as_str().unwrap().contains("等待派遣"));
    // No personal data and not the reporter's words.
    let text = one.to_string();
    assert!(!text.contains("13812345678") && !text.contains("李明") && !text.contains("摊贩"));

    let xml = get(&app, &format!("/open311/v2/requests/{id}.xml")).await;
    assert!(
        xml.body.contains(&format!(
            "<service_requests><request><service_request_id>{id}</service_request_id><status>open</status>"
        )),
        "{}",
        xml.body
    );
    assert!(
        xml.body
            .contains(&format!("<lat>{}</lat>", point.0.trim_end_matches('0')))
    );

    let tok = get(&app, &format!("/open311/v2/tokens/{token}.json"))
        .await
        .json();
    assert_eq!(tok[0]["service_request_id"], id.as_str());
    let tok = get(&app, &format!("/open311/v2/tokens/{token}.xml")).await;
    assert!(
        tok.body
            .contains(&format!("<service_request_id>{id}</service_request_id>"))
    );

    // The case shows on the township's grid map as an open point, and in its heat view.
    let leader = app.login("xipu_leader").await;
    let xipu = app.org_id("510117006000").await;
    let map = app
        .get(&format!("/grids/map?township={xipu}"), &leader)
        .await;
    assert_eq!(map.status, StatusCode::OK);
    assert!(
        map.body.contains("case s-pending"),
        "the open case is drawn"
    );
    assert!(
        map.body.contains(&format!("案件 {id}：待派遣")),
        "with its number and state"
    );
    // Not for a window clerk, who may not open cases: every point is a link to one.
    let window = app.login("xipu_window").await;
    let map = app
        .get(&format!("/grids/map?township={xipu}"), &window)
        .await;
    assert_eq!(map.status, StatusCode::OK);
    assert!(
        !map.body.contains("case s-pending"),
        "no case drawn for the window"
    );
    assert!(!map.body.contains("/cases/"), "no link to a case");
    let heat = app
        .get(&format!("/grids/map?township={xipu}&view=heat"), &leader)
        .await;
    assert!(heat.body.contains("共 1 件"), "the heat view counts cases");
    // The XML endpoint files too, and answers in XML.
    let mut pairs = request_pairs(&key, "小区门口垃圾桶满溢三天无人清运，气味很大", &point);
    pairs[1] = ("service_code", &code);
    let r = post_form(&app, "/open311/v2/requests.xml", &pairs).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(
        r.body
            .contains("<service_requests><request><service_request_id>"),
        "{}",
        r.body
    );
}

async fn requests_are_filtered_as_the_spec_says(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let key = issue_key(&app).await;
    let code = a_service_code(&app).await;
    let point = xipu_point(&app).await;
    let mut ids = Vec::new();
    for text in [
        "围城南路人行道上有人摆摊卖水果",
        "校园路口夜市摊位占道，晚上很吵",
    ] {
        let mut pairs = request_pairs(&key, text, &point);
        pairs[1] = ("service_code", &code);
        let r = post_form(&app, "/open311/v2/requests.json", &pairs).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        ids.push(
            r.json()[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let all = get(&app, "/open311/v2/requests.json").await.json();
    assert_eq!(all.as_array().unwrap().len(), 2);
    let by_id = get(
        &app,
        &format!("/open311/v2/requests.json?service_request_id={}", ids[0]),
    )
    .await
    .json();
    assert_eq!(by_id.as_array().unwrap().len(), 1);
    assert_eq!(by_id[0]["service_request_id"], ids[0].as_str());
    let both = get(
        &app,
        &format!(
            "/open311/v2/requests.json?service_request_id={},{}",
            ids[0], ids[1]
        ),
    )
    .await
    .json();
    assert_eq!(both.as_array().unwrap().len(), 2);
    let other_code = get(&app, "/open311/v2/requests.json?service_code=9999")
        .await
        .json();
    assert_eq!(other_code.as_array().unwrap().len(), 0);
    let open = get(&app, "/open311/v2/requests.json?status=open")
        .await
        .json();
    assert_eq!(open.as_array().unwrap().len(), 2);
    let closed = get(&app, "/open311/v2/requests.json?status=closed")
        .await
        .json();
    assert_eq!(closed.as_array().unwrap().len(), 0);
    let future = get(
        &app,
        "/open311/v2/requests.json?start_date=2099-01-01T00:00:00%2B08:00",
    )
    .await
    .json();
    assert_eq!(future.as_array().unwrap().len(), 0);
    let until_now = get(
        &app,
        "/open311/v2/requests.json?start_date=2020-01-01T00:00:00Z&end_date=2099-01-01T00:00:00Z",
    )
    .await
    .json();
    assert_eq!(until_now.as_array().unwrap().len(), 2);
    // A number from another year is not this case.
    let wrong_year = ids[0].replacen("20", "19", 1);
    let r = get(&app, &format!("/open311/v2/requests/{wrong_year}.json")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
}

fn error_of(r: &Resp) -> (i64, String) {
    let v: Value = r.json();
    (
        v[0]["code"].as_i64().unwrap_or_default(),
        v[0]["description"].as_str().unwrap_or_default().to_owned(),
    )
}

async fn bad_requests_get_the_specs_errors(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let key = issue_key(&app).await;
    let code = a_service_code(&app).await;
    let point = xipu_point(&app).await;
    let with = |changes: &[(&str, Option<&str>)]| -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> =
            request_pairs(&key, "路口摊贩占道经营，影响通行", &point)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        pairs[1].1 = code.clone();
        for (name, value) in changes {
            pairs.retain(|(k, _)| k != name);
            if let Some(v) = value {
                pairs.push(((*name).to_owned(), (*v).to_owned()));
            }
        }
        pairs
    };
    async fn send(app: &TestApp, pairs: Vec<(String, String)>) -> Resp {
        let refs: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        post_form(app, "/open311/v2/requests.json", &refs).await
    }
    type Pairs = Vec<(String, String)>;
    let cases: Vec<(Pairs, u16, &str)> = vec![
        (with(&[("api_key", None)]), 403, "api_key"),
        (with(&[("api_key", Some("o311_notakey"))]), 403, "api_key"),
        (with(&[("service_code", None)]), 400, "service_code"),
        (with(&[("service_code", Some("9999"))]), 400, "9999"),
        (
            with(&[("lat", None), ("long", None), ("address_string", None)]),
            400,
            "lat",
        ),
        (
            with(&[("attribute[township]", None), ("lat", None), ("long", None)]),
            400,
            "attribute[township]",
        ),
        (
            with(&[("attribute[township]", Some("510117001000"))]),
            400,
            "不符",
        ),
        (
            with(&[("lat", Some("39.9")), ("long", Some("116.4"))]),
            400,
            "不在本区",
        ),
        (
            with(&[("lat", Some("north")), ("long", Some("116.4"))]),
            400,
            "lat",
        ),
        (
            with(&[
                ("lat", None),
                ("long", None),
                ("attribute[township]", Some("510117999000")),
            ]),
            400,
            "镇（街道）",
        ),
        (
            with(&[("attribute[urgency]", Some("asap"))]),
            400,
            "urgency",
        ),
        (with(&[("description", Some(""))]), 400, ""),
        (
            with(&[("lat", Some("95")), ("long", Some("103.9"))]),
            400,
            "",
        ),
        (
            with(&[("jurisdiction_id", Some("110101000000"))]),
            404,
            "jurisdiction_id",
        ),
    ];
    for (pairs, status, needle) in cases {
        let shown = format!("{pairs:?}");
        let r = send(&app, pairs).await;
        assert_eq!(r.status.as_u16(), status, "{shown}: {}", r.body);
        let (code, description) = error_of(&r);
        assert_eq!(code, i64::from(status), "{}", r.body);
        assert!(description.contains(needle), "{shown}: {description}");
    }
    // Nothing was filed by any of them.
    assert_eq!(
        get(&app, "/open311/v2/requests.json")
            .await
            .json()
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // With a point in the district the township may be left out: the point finds it, and
    // the case its grid.
    let r = send(&app, with(&[("attribute[township]", None)])).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let dispatch = app.login("xipu_dispatch").await;
    let listed = app.get("/api/v1/cases", &dispatch).await.json();
    let grid_name = listed["items"][0]["grid_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(!grid_name.is_empty(), "{listed}");
    let r = send(
        &app,
        with(&[("service_code", Some("0101")), ("api_key", None)]),
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // XML errors have the spec's shape.
    let r = post_form(
        &app,
        "/open311/v2/requests.xml",
        &[("service_code", "0101")],
    )
    .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.body
            .contains("<errors><error><code>403</code><description>"),
        "{}",
        r.body
    );
    // JSON bodies are not the spec's encoding.
    let r = app
        .request(
            Request::builder()
                .method(Method::POST)
                .uri("/open311/v2/requests.json")
                .header("content-type", "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    // Unknown resources.
    assert_eq!(
        get(&app, "/open311/v2/services/9999.json").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/open311/v2/services/0101.html").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/open311/v2/requests/2026-999999.json")
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, "/open311/v2/tokens/NOPE.json").await.status,
        StatusCode::NOT_FOUND
    );
    let r = get(&app, "/open311/v2/requests.json?start_date=yesterday").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(error_of(&r).1.contains("start_date"));
}

async fn keys_are_issued_and_revoked_by_the_system_administrator(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let page = app
        .form("/admin/open311/keys", &admin, &[("name", "网格通 App")])
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let key = page
        .body
        .split("o311_")
        .nth(1)
        .map(|rest| format!("o311_{rest}"))
        .and_then(|s| s.split("</code>").next().map(str::to_owned))
        .unwrap();
    assert_eq!(key.len(), 37, "{key}");
    let listed = app.get("/admin/open311", &admin).await;
    assert!(listed.body.contains("网格通 App") && !listed.body.contains(&key));

    // The key files a request, within its rate.
    let code = a_service_code(&app).await;
    let point = xipu_point(&app).await;
    let mut pairs = request_pairs(&key, "人行道井盖缺失，有安全隐患", &point);
    pairs[1] = ("service_code", &code);
    let r = post_form(&app, "/open311/v2/requests.json", &pairs).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);

    // Revoked, it no longer does.
    let id = listed
        .body
        .split("/admin/open311/keys/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_owned();
    let r = app
        .form(&format!("/admin/open311/keys/{id}/revoke"), &admin, &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = post_form(&app, "/open311/v2/requests.json", &pairs).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    // Each key files at most its rate per minute (30 by default); refused attempts count.
    let other = issue_key(&app).await;
    let mut last = StatusCode::OK;
    for _ in 0..31 {
        last = post_form(
            &app,
            "/open311/v2/requests.json",
            &[("api_key", other.as_str())],
        )
        .await
        .status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    // An empty name is refused with the reason.
    let page = app
        .form("/admin/open311/keys", &admin, &[("name", " ")])
        .await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("名称"));
}

async fn a_merged_request_names_the_case_it_joined(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let key = issue_key(&app).await;
    let point = xipu_point(&app).await;
    let mut numbers = Vec::new();
    for text in [
        "围城南路人行道上有人摆摊卖水果",
        "围城南路人行道上有人摆摊卖水果，占道严重",
    ] {
        let r = post_form(
            &app,
            "/open311/v2/requests.json",
            &request_pairs(&key, text, &point),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        numbers.push(
            r.json()[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let id = |n: &str| n.rsplit('-').next().unwrap().parse::<i64>().unwrap();
    let d = app.login("xipu_dispatch").await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/cases/{}/merge", id(&numbers[1])),
            &d,
            serde_json::json!({"into": id(&numbers[0])}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let all = get(&app, "/open311/v2/requests.json").await.json();
    let notes = |n: &str| {
        all.as_array()
            .unwrap()
            .iter()
            .find(|r| r["service_request_id"] == n)
            .map(|r| r["status_notes"].as_str().unwrap().to_owned())
            .unwrap()
    };
    assert_eq!(
        notes(&numbers[1]),
        format!("与 {} 反映的是同一问题，已合并办理", numbers[0])
    );
    assert_eq!(notes(&numbers[0]), "已受理，等待派遣");
    let one = get(&app, &format!("/open311/v2/requests/{}.json", numbers[1]))
        .await
        .json();
    assert_eq!(one[0]["status_notes"], notes(&numbers[1]).as_str());
}
