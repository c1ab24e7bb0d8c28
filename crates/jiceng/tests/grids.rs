//! Grids: boundary import (each validation rule, all or nothing, GCJ-02), point → grid,
//! maps, worker reassignment history, patrols, and masking of personal data per role.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use common::{Session, TestApp, TestDb};
use serde_json::{Value, json};

const COMMUNITY: &str = "510117006001";
const GRID_A: &str = "510117006001001";
const GRID_B: &str = "510117006001002";
/// The community's third grid in the demo: a file that moves the community brings it along.
const GRID_C: &str = "510117006001003";

fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Vec<[f64; 2]> {
    vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
}

fn feature(code: &str, rings: Vec<Vec<[f64; 2]>>) -> Value {
    json!({"type": "Feature", "properties": {"code": code},
           "geometry": {"type": "Polygon", "coordinates": rings}})
}

fn collection(features: Vec<Value>) -> String {
    json!({"type": "FeatureCollection", "features": features}).to_string()
}

/// A community far from the demo's shapes, split into its three grids; grid A has a hole.
fn good_file() -> String {
    collection(vec![
        feature(COMMUNITY, vec![rect(100.0, 20.0, 100.03, 20.01)]),
        feature(
            GRID_A,
            vec![
                rect(100.0, 20.0, 100.01, 20.01),
                rect(100.004, 20.004, 100.006, 20.006),
            ],
        ),
        feature(GRID_B, vec![rect(100.01, 20.0, 100.02, 20.01)]),
        feature(GRID_C, vec![rect(100.02, 20.0, 100.03, 20.01)]),
    ])
}

async fn upload(app: &TestApp, s: &Session, text: &str, gcj02: bool) -> common::Resp {
    let boundary = "XgridsBoundaryX";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"g.geojson\"\r\n\
         Content-Type: application/geo+json\r\n\r\n{text}\r\n"
    );
    if gcj02 {
        body.push_str(&format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"gcj02\"\r\n\r\n1\r\n"
        ));
    }
    body.push_str(&format!("--{boundary}--\r\n"));
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/grids/import?_csrf={}", s.csrf))
        .header(header::HOST, "localhost")
        .header(header::COOKIE, s.cookie.clone().unwrap_or_default())
        .header(
            header::CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from(body))
        .unwrap();
    app.request(req).await
}

/// Uploads `file` and expects it refused as a whole, with `expect` among the reasons.
async fn assert_refused(app: &TestApp, s: &Session, what: &str, file: &str, expect: &str) {
    let r = upload(app, s, file, false).await;
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{what}: {}",
        r.body
    );
    assert!(r.body.contains("未导入任何边界"), "{what}: {}", r.body);
    assert!(
        r.body.contains(expect),
        "{what}: expected {expect}: {}",
        r.body
    );
}

async fn locate(app: &TestApp, s: &Session, lon: f64, lat: f64) -> Value {
    let r = app
        .get(&format!("/api/v1/grids/locate?lon={lon}&lat={lat}"), s)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.json()
}

fn grid_code(v: &Value) -> Option<&str> {
    v["grid"]["code"].as_str()
}

on_both_engines!(
    import_refuses_each_broken_file_and_imports_nothing,
    import_checks_the_file_against_the_stored_boundaries_it_leaves,
    points_find_their_grid_with_borders_holes_and_the_outside,
    gcj02_files_are_converted_on_import,
    reassignment_keeps_who_was_responsible_when,
    maps_draw_the_grids,
    a_grid_worker_patrols_and_records_a_problem,
    personal_data_is_masked_per_role_and_unmasking_is_audited,
);

async fn import_refuses_each_broken_file_and_imports_nothing(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let officer = app.login("xipu_officer").await;
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "unclosed ring",
            collection(vec![
                feature(COMMUNITY, vec![rect(100.0, 20.0, 100.02, 20.01)]),
                feature(
                    GRID_A,
                    vec![vec![
                        [100.0, 20.0],
                        [100.01, 20.0],
                        [100.01, 20.01],
                        [100.0, 20.01],
                    ]],
                ),
            ]),
            "未闭合",
        ),
        (
            "self-intersection",
            collection(vec![
                feature(COMMUNITY, vec![rect(100.0, 20.0, 100.02, 20.01)]),
                feature(
                    GRID_A,
                    vec![vec![
                        [100.0, 20.0],
                        [100.01, 20.01],
                        [100.01, 20.0],
                        [100.0, 20.01],
                        [100.0, 20.0],
                    ]],
                ),
            ]),
            "自相交",
        ),
        (
            "grid outside its community",
            collection(vec![
                feature(COMMUNITY, vec![rect(100.0, 20.0, 100.02, 20.01)]),
                feature(GRID_A, vec![rect(100.0, 20.0, 100.03, 20.01)]),
            ]),
            "超出上级区域 510117006001",
        ),
        (
            "overlapping grids",
            collection(vec![
                feature(COMMUNITY, vec![rect(100.0, 20.0, 100.02, 20.01)]),
                feature(GRID_A, vec![rect(100.0, 20.0, 100.012, 20.01)]),
                feature(GRID_B, vec![rect(100.01, 20.0, 100.02, 20.01)]),
            ]),
            "重叠约",
        ),
        (
            "unknown code",
            collection(vec![
                feature(COMMUNITY, vec![rect(100.0, 20.0, 100.02, 20.01)]),
                feature("510117006001999", vec![rect(100.0, 20.0, 100.01, 20.01)]),
            ]),
            "编码不在已知编码中",
        ),
        (
            "malformed JSON",
            "{\"type\": \"FeatureCollection\", \"features\": [".to_owned(),
            "不是合法的 JSON",
        ),
    ];
    for (what, file, expect) in cases {
        assert_refused(&app, &officer, what, &file, expect).await;
        // Nothing of the file arrived, not even its sound features.
        let v = locate(&app, &officer, 100.015, 20.005).await;
        assert_eq!(v["inside"], false, "{what}: {v}");
    }
    // The overlap names its area.
    let r = upload(
        &app,
        &officer,
        &collection(vec![
            feature(COMMUNITY, vec![rect(100.0, 20.0, 100.02, 20.01)]),
            feature(GRID_A, vec![rect(100.0, 20.0, 100.012, 20.01)]),
            feature(GRID_B, vec![rect(100.01, 20.0, 100.02, 20.01)]),
        ]),
        false,
    )
    .await;
    assert!(r.body.contains("平方米"), "{}", r.body);
    // Another township's codes are unknown to 犀浦's officer.
    let r = upload(
        &app,
        &officer,
        &collection(vec![feature(
            "510117001001",
            vec![rect(100.0, 20.0, 100.02, 20.01)],
        )]),
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    // And a good file goes in.
    let r = upload(&app, &officer, &good_file(), false).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let v = locate(&app, &officer, 100.015, 20.005).await;
    assert_eq!(grid_code(&v), Some(GRID_B), "{v}");
}

async fn import_checks_the_file_against_the_stored_boundaries_it_leaves(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let officer = app.login("xipu_officer").await;
    let r = upload(&app, &officer, &good_file(), false).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let refused = [
        (
            "a grid over a stored grid of its community",
            collection(vec![feature(
                GRID_B,
                vec![rect(100.008, 20.0, 100.02, 20.01)],
            )]),
            format!("与区域 {GRID_A} 重叠约"),
        ),
        (
            "a community that no longer holds a stored grid",
            collection(vec![feature(
                COMMUNITY,
                vec![rect(100.0, 20.0, 100.01, 20.01)],
            )]),
            format!("区域 {GRID_B}：超出上级区域 {COMMUNITY}"),
        ),
    ];
    for (what, file, expect) in refused {
        assert_refused(&app, &officer, what, &file, &expect).await;
        // Nothing moved.
        let v = locate(&app, &officer, 100.009, 20.005).await;
        assert_eq!(grid_code(&v), Some(GRID_A), "{what}: {v}");
        let v = locate(&app, &officer, 100.015, 20.005).await;
        assert_eq!(grid_code(&v), Some(GRID_B), "{what}: {v}");
    }
    // A grid redrawn inside its own place goes in, next to the stored one it does not touch.
    let r = upload(
        &app,
        &officer,
        &collection(vec![feature(
            GRID_B,
            vec![rect(100.012, 20.0, 100.02, 20.01)],
        )]),
        false,
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let v = locate(&app, &officer, 100.011, 20.005).await;
    assert_eq!(v["inside"], false, "{v}");
}

async fn points_find_their_grid_with_borders_holes_and_the_outside(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let officer = app.login("xipu_officer").await;
    let r = upload(&app, &officer, &good_file(), false).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    let v = locate(&app, &officer, 100.002, 20.002).await;
    assert_eq!(v["inside"], true);
    assert_eq!(grid_code(&v), Some(GRID_A));
    assert_eq!(v["community"]["code"], COMMUNITY);
    assert_eq!(v["township"]["code"], "510117006000");
    assert_eq!(v["township"]["name"], "犀浦街道");
    // On the border shared by A and B: the smaller code.
    let v = locate(&app, &officer, 100.01, 20.005).await;
    assert_eq!(grid_code(&v), Some(GRID_A), "{v}");
    // On the outer border of B only.
    let v = locate(&app, &officer, 100.02, 20.005).await;
    assert_eq!(grid_code(&v), Some(GRID_B), "{v}");
    // In A's hole, which no grid fills.
    let v = locate(&app, &officer, 100.005, 20.005).await;
    assert_eq!(v["inside"], false, "{v}");
    assert_eq!(v["message"], "该位置不在本区网格范围内");
    // Far outside the district.
    let v = locate(&app, &officer, 116.4, 39.9).await;
    assert_eq!(v["inside"], false, "{v}");
    // Nonsense coordinates are a 422, not a 500.
    let r = app
        .get("/api/v1/grids/locate?lon=abc&lat=1", &officer)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .get("/api/v1/grids/locate?lon=500&lat=1", &officer)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);

    // The plain domain function answers the same.
    let index = jiceng::grids::GridIndex::new();
    let found = jiceng::grids::locate(app.db(), &index, 100.015, 20.001)
        .await
        .unwrap()
        .expect("inside");
    assert_eq!(found.grid.code, GRID_B);
}

async fn gcj02_files_are_converted_on_import(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let officer = app.login("xipu_officer").await;
    // The good file's shapes as a GCJ-02 map would show them.
    let shift = |x: f64, y: f64| {
        let (a, b) = geometry::coords::wgs84_to_gcj02(x, y);
        [a, b]
    };
    let g = |x0: f64, y0: f64, x1: f64, y1: f64| {
        vec![
            shift(x0, y0),
            shift(x1, y0),
            shift(x1, y1),
            shift(x0, y1),
            shift(x0, y0),
        ]
    };
    let file = collection(vec![
        feature(COMMUNITY, vec![g(100.0, 20.0, 100.03, 20.01)]),
        feature(GRID_A, vec![g(100.0, 20.0, 100.01, 20.01)]),
        feature(GRID_B, vec![g(100.01, 20.0, 100.02, 20.01)]),
        feature(GRID_C, vec![g(100.02, 20.0, 100.03, 20.01)]),
    ]);
    let r = upload(&app, &officer, &file, true).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Close to B's western edge in WGS-84: right only if the import converted.
    let v = locate(&app, &officer, 100.0102, 20.005).await;
    assert_eq!(grid_code(&v), Some(GRID_B), "{v}");
    let v = locate(&app, &officer, 100.0098, 20.005).await;
    assert_eq!(grid_code(&v), Some(GRID_A), "{v}");
}

async fn reassignment_keeps_who_was_responsible_when(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let officer = app.login("xipu_officer").await;
    let grid = app.org_id(GRID_B).await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/grids/{grid}/workers"),
            &officer,
            json!({"worker_name": "王兼职", "employment": "part_time", "duties": "巡查走访"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let first = r.json()["id"].as_i64().unwrap();
    // Handover to a new part-timer through the page.
    let r = app
        .form(
            &format!("/grids/{grid}/workers"),
            &officer,
            &[
                ("worker_name", "李接任"),
                ("employment", "full_time"),
                ("duties", "信息采集"),
                ("replaces", &first.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let list = app
        .get(&format!("/api/v1/grids/{grid}/workers"), &officer)
        .await
        .json();
    let rows = list.as_array().unwrap();
    let current: Vec<_> = rows.iter().filter(|a| a["to_at"].is_null()).collect();
    let new = current
        .iter()
        .find(|a| a["worker_name"] == "李接任")
        .expect("the new worker is current");
    assert!(
        current.iter().all(|a| a["worker_name"] != "王兼职"),
        "{list}"
    );
    assert_eq!(rows[0]["to_at"], Value::Null, "current ones first");
    let old = rows.iter().find(|a| a["id"] == first).unwrap();
    assert_eq!(old["worker_name"], "王兼职");
    assert_eq!(old["to_at"], new["from_at"], "no gap, no overlap");
    // The page shows both.
    let page = app.get(&format!("/grids/{grid}"), &officer).await;
    assert!(page.body.contains("任职记录") && page.body.contains("王兼职"));
    // Ending an assignment ended already (a page shown before the handover) goes back to the
    // grid, says so, and records nothing.
    let ended = app.audited("grids.unassign", None).await.total;
    let r = app
        .form(&format!("/grids/assignments/{first}/end"), &officer, &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let to = r.headers[header::LOCATION].to_str().unwrap();
    assert_eq!(to, format!("/grids/{grid}"));
    assert_eq!(app.audited("grids.unassign", None).await.total, ended);
    // Bad input is a 422, and a grid worker may not assign.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/grids/{grid}/workers"),
            &officer,
            json!({"worker_name": "", "employment": "x", "duties": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let worker = app.login("wanggeyuan").await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/grids/{grid}/workers"),
            &worker,
            json!({"worker_name": "x", "employment": "part_time", "duties": "y"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn maps_draw_the_grids(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let officer = app.login("xipu_officer").await;
    let r = upload(&app, &officer, &good_file(), false).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let community = app.org_id(COMMUNITY).await;
    let r = app
        .get(&format!("/grids/map?community={community}"), &officer)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("<svg"), "{}", r.body);
    for code in [GRID_A, GRID_B] {
        assert!(
            r.body.contains(&format!("data-code=\"{code}\"")),
            "{code} drawn"
        );
    }
    assert!(r.body.contains("<title>"));
    assert!(!r.body.contains("style="), "no inline styles under the CSP");
    let township = app.org_id("510117006000").await;
    let r = app
        .get(&format!("/grids/map?township={township}"), &officer)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("<path class=\"area grid"),
        "{}",
        &r.body[..500.min(r.body.len())]
    );
    let r = app
        .get(
            &format!("/grids/map?township={township}&view=heat&from=2026-01-01&to=2026-12-31"),
            &officer,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.contains("heat-"), "heat classes");
    let r = app
        .get(
            &format!("/grids/map?township={township}&view=heat&from=bad"),
            &officer,
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Another township is out of 犀浦's scope.
    let other = app.org_id("510117001000").await;
    let r = app
        .get(&format!("/grids/map?township={other}"), &officer)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn a_grid_worker_patrols_and_records_a_problem(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let worker = app.login("wanggeyuan").await;
    let grid = app.org_id(GRID_A).await;
    let r = app.get("/grids/mine", &worker).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("开始巡查"), "{}", r.body);
    // Reporting a problem with a photo is one tap away, and the phone can fill the location.
    assert!(r.body.contains("href=\"/cases/new\""));
    let js = app.get("/static/app.js", &Session::anonymous()).await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(
        js.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    assert!(js.body.contains("navigator.geolocation"));
    let r = app
        .form("/grids/patrols", &worker, &[("grid_id", &grid.to_string())])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let during = app.get("/grids/mine", &worker).await;
    assert!(during.body.contains("data-geolocate"), "{}", during.body);
    // Only one patrol at a time.
    let r = app
        .form("/grids/patrols", &worker, &[("grid_id", &grid.to_string())])
        .await;
    assert!(
        r.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap_or("").contains("jiceng_flash=")),
        "a second start is refused with a message"
    );
    let page = app.get("/grids/mine", &worker).await.body;
    let patrol = page
        .split("/grids/patrols/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .expect("patrol id on the page")
        .to_owned();
    let r = app
        .form(
            &format!("/grids/patrols/{patrol}/points"),
            &worker,
            &[("note", "团结路口"), ("lon", "103.93"), ("lat", "30.76")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let r = app
        .form(
            &format!("/grids/patrols/{patrol}/problems"),
            &worker,
            &[
                ("category", "占道经营"),
                ("description", "水果摊占用人行道"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app.get("/grids/mine", &worker).await.body;
    assert!(page.contains("水果摊占用人行道") && page.contains("团结路口"));
    // A problem with a position that is not one comes back with the reason, as typed.
    let r = app
        .form(
            &format!("/grids/patrols/{patrol}/problems"),
            &worker,
            &[
                ("category", "安全隐患"),
                ("description", "井盖缺失"),
                ("lon", "1000"),
                ("lat", "abc"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("经纬度") && r.body.contains(">井盖缺失</textarea>"),
        "{}",
        r.body
    );
    let r = app
        .form(
            &format!("/grids/patrols/{patrol}/finish"),
            &worker,
            &[("summary", "一切正常，发现占道一处")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = app.get("/grids/mine", &worker).await.body;
    assert!(page.contains("一切正常，发现占道一处") && page.contains("开始巡查"));
    // A finished patrol takes no more problems: a conflict with its state, not bad input.
    let r = app
        .form(
            &format!("/grids/patrols/{patrol}/problems"),
            &worker,
            &[("category", "x"), ("description", "y")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let officer = app.login("xipu_officer").await;
    let page = app.get(&format!("/grids/{grid}"), &officer).await.body;
    assert!(page.contains("水果摊占用人行道"));
    assert!(!page.contains(">y<"));
}

async fn personal_data_is_masked_per_role_and_unmasking_is_audited(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let worker = app.login("wanggeyuan").await;
    let grid = app.org_id(GRID_A).await;
    let r = app
        .form(
            &format!("/grids/{grid}/households"),
            &worker,
            &[
                ("head_name", "张测试"),
                ("id_number", "11010519491231002X"),
                ("phone", "13812345678"),
                ("members", "3"),
                ("address", "犀浦镇团结路 1 号"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // A wrong check digit is refused.
    let r = app
        .form(
            &format!("/grids/{grid}/households"),
            &worker,
            &[
                ("head_name", "李错号"),
                ("id_number", "110105194912310021"),
                ("members", "1"),
                ("address", "x"),
            ],
        )
        .await;
    // The register comes back with the reason and the household as typed, its form open.
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("校验"), "{}", r.body);
    assert!(
        r.body.contains(r#"value="李错号""#) && r.body.contains(r#"value="110105194912310021""#),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains("<details class=\"panel\" open><summary>登记住户")
    );

    for who in ["wanggeyuan", "xipu_officer", "xipu_leader"] {
        let s = app.login(who).await;
        let page = app.get(&format!("/grids/{grid}/register"), &s).await;
        assert_eq!(page.status, StatusCode::OK, "{who}");
        assert!(
            page.body.contains("110105********002X"),
            "{who} sees it masked"
        );
        assert!(page.body.contains("138****5678"), "{who}");
        assert!(!page.body.contains("11010519491231002X"), "{who}");
        assert!(!page.body.contains("13812345678"), "{who}");
        let api = app
            .get(&format!("/api/v1/grids/{grid}/households?q=张"), &s)
            .await
            .json();
        assert_eq!(api[0]["id_number"], "110105********002X", "{who}");
    }
    // Search is by name or address, never by ID number.
    let api = app
        .get(&format!("/api/v1/grids/{grid}/households?q=1949"), &worker)
        .await
        .json();
    assert_eq!(api.as_array().unwrap().len(), 0);
    let api = app
        .get(
            &format!("/api/v1/grids/{grid}/households?q=团结路"),
            &worker,
        )
        .await
        .json();
    let household = api[0]["id"].as_i64().unwrap();

    // The officer may not unmask; the grid's worker and the leader may, and it is audited.
    let officer = app.login("xipu_officer").await;
    let r = app
        .form(
            &format!("/grids/households/{household}/reveal"),
            &officer,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let dispatcher = app.login("xipu_dispatch").await;
    let r = app
        .get(&format!("/grids/{grid}/register"), &dispatcher)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    for who in ["wanggeyuan", "xipu_leader"] {
        let s = app.login(who).await;
        let r = app
            .form(&format!("/grids/households/{household}/reveal"), &s, &[])
            .await;
        assert_eq!(r.status, StatusCode::OK, "{who}: {}", r.body);
        assert!(r.body.contains("11010519491231002X") && r.body.contains("13812345678"));
        let rows = jiceng::audit::search(
            app.db(),
            &jiceng::audit::AuditFilter {
                action: Some("grids.reveal".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert!(
            rows.rows.iter().any(|row| row.actor == who
                && row.target == format!("住户 {household}")
                && !row.detail.contains("11010519491231002X")),
            "{who}: audited without the data itself"
        );
    }
}

on_both_engines!(the_demo_district_has_grid_shapes_and_workers);

async fn the_demo_district_has_grid_shapes_and_workers(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let leader = app.login("xipu_leader").await;
    let v = locate(&app, &leader, 103.88, 30.82).await;
    assert_eq!(v["inside"], true, "{v}");
    assert_eq!(v["grid"]["code"].as_str().map(str::len), Some(15), "{v}");
    let r = app.get("/grids/map", &leader).await;
    assert_eq!(r.status, StatusCode::OK);
    let grids = r.body.matches("class=\"area grid").count();
    assert!(grids >= 20, "犀浦街道's grids drawn: {grids}");
    assert!(r.body.contains("网格员："), "hover text names the workers");
    let worker = app.login("wanggeyuan").await;
    let page = app.get("/grids/mine", &worker).await.body;
    assert!(page.contains("独居老人入户走访") && page.contains("<svg"));
    let sysadmin = app.login("sysadmin").await;
    let r = app.get("/grids/map", &sysadmin).await;
    assert!(r.body.matches("class=\"area community").count() >= 150);
}
