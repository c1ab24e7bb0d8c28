//! The working-day calendar's story, on SQLite and PostgreSQL: the 2026 arrangement through the
//! API, an administrator adding, correcting and restoring dates, CSV imports that are all or
//! nothing, the pages, the export, and the audit trail of every change.

mod common;

use axum::http::{Method, StatusCode};
use chrono::NaiveDate;
use common::{TestApp, TestDb};
use jiceng::{audit, workdays};
use serde_json::{Value, json};

on_both_engines!(
    the_2026_arrangement_is_known_to_the_api,
    an_administrator_adds_new_years_day_2027,
    a_correction_back_to_normal_overrides_the_embedded_data,
    a_bad_import_changes_nothing_and_reports_every_bad_line,
    a_good_import_covers_2027,
    bad_input_gets_a_clear_4xx,
    the_administrators_pages_list_correct_import_and_export,
    only_the_system_administrator_changes_the_calendar,
);

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

async fn check(app: &TestApp, s: &common::Session, date: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/workdays/check?date={date}"), s)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{date}: {}", r.body);
    r.json()
}

async fn audit_rows(app: &TestApp, action: &str) -> Vec<audit::AuditRecord> {
    audit::search(
        app.db(),
        &audit::AuditFilter {
            action: Some(action.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .rows
}

async fn the_2026_arrangement_is_known_to_the_api(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    // Any signed-in account may ask.
    let officer = app.login("xipu_officer").await;
    for date in ["2026-02-14", "2026-02-28", "2026-10-10"] {
        let c = check(&app, &officer, date).await;
        assert_eq!(c["working_day"], true, "{date}: {c}");
        assert_eq!(c["kind"], "workday");
    }
    let first = check(&app, &officer, "2026-02-14").await;
    assert_eq!(first["festival"], "春节");
    assert_eq!(first["weekday"], "星期六");
    for day in 15..=23 {
        let c = check(&app, &officer, &format!("2026-02-{day}")).await;
        assert_eq!(c["working_day"], false, "2026-02-{day}: {c}");
    }
    assert_eq!(check(&app, &officer, "2026-03-09").await["kind"], "weekday");
    assert_eq!(check(&app, &officer, "2026-03-07").await["kind"], "weekend");

    // Friday 13 February 2026, 10:00: day one is the make-up Saturday, day two after the holiday.
    let r = app
        .get(
            "/api/v1/workdays/add?from=2026-02-13T10:00:00%2B08:00&working_days=2",
            &officer,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["deadline"], "2026-02-24T17:30:00+08:00");
    assert_eq!(r.json()["warning"], Value::Null);

    let admin = app.login("sysadmin").await;
    let r = app.get("/api/v1/workdays?year=2026", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["year"], 2026);
    assert_eq!(v["covered"], true);
    let items = v["items"].as_array().unwrap();
    assert!(items.iter().all(|i| i["is_override"] == false));
    let feb14 = items.iter().find(|i| i["date"] == "2026-02-14").unwrap();
    assert_eq!(feb14["kind"], "workday");
    let years: Vec<i64> = v["covered_years"]
        .as_array()
        .unwrap()
        .iter()
        .map(|y| y.as_i64().unwrap())
        .collect();
    assert_eq!(years.first(), Some(&2004));
    assert_eq!(years.last(), Some(&2026));
    assert_eq!(v["version"], 0);
}

async fn an_administrator_adds_new_years_day_2027(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let officer = app.login("xipu_officer").await;
    let before = workdays::current(app.db()).await.unwrap();
    // 2027-01-01 is a Friday: an ordinary working day while 2027 has no data.
    assert!(before.is_working_day(d("2027-01-01")));
    assert!(!before.has_data_for(2027));
    // Nothing changed, nothing rebuilt: the same cached calendar.
    let again = workdays::current(app.db()).await.unwrap();
    assert!(std::sync::Arc::ptr_eq(&before, &again));

    let r = app
        .json(
            Method::PUT,
            "/api/v1/workdays/2027-01-01",
            &admin,
            json!({"kind": "holiday", "festival": "元旦"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["day"]["working_day"], false);
    assert_eq!(r.json()["is_override"], true);

    let c = check(&app, &officer, "2027-01-01").await;
    assert_eq!(c["working_day"], false);
    assert_eq!(c["kind"], "holiday");
    assert_eq!(c["festival"], "元旦");
    // One day entered early is not 2027's arrangement: deadlines there still warn.
    assert_eq!(c["year_covered"], false);
    let now = workdays::current(app.db()).await.unwrap();
    assert!(!now.is_working_day(d("2027-01-01")));
    assert!(!now.has_data_for(2027));
    let page = app.get("/admin/workdays?year=2027", &admin).await;
    assert!(page.body.contains("尚未录入"), "{}", page.body);

    let list = app.get("/api/v1/workdays?year=2027", &admin).await.json();
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["is_override"], true);
    assert_eq!(items[0]["updated_by"], "sysadmin");
    assert_eq!(list["version"], 1);

    let set = audit_rows(&app, "workdays.set").await;
    assert_eq!(set.len(), 1);
    assert_eq!(set[0].target, "2027-01-01");
    assert_eq!(set[0].actor, "sysadmin");
    assert!(set[0].detail.contains("放假（元旦）"), "{}", set[0].detail);

    // Removing the correction restores the weekday rule.
    let r = app
        .send(Method::DELETE, "/api/v1/workdays/2027-01-01", &admin, None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["day"]["working_day"], true);
    assert_eq!(r.json()["is_override"], false);
    assert!(
        workdays::current(app.db())
            .await
            .unwrap()
            .is_working_day(d("2027-01-01"))
    );
    assert_eq!(audit_rows(&app, "workdays.reset").await.len(), 1);
    // Nothing left to remove.
    let r = app
        .send(Method::DELETE, "/api/v1/workdays/2027-01-01", &admin, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("无需撤销")
    );
    assert_eq!(audit_rows(&app, "workdays.reset").await.len(), 1);
}

async fn a_correction_back_to_normal_overrides_the_embedded_data(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    // 2026-10-10 is a make-up Saturday in the embedded data; "normal" makes it a weekend day.
    let r = app
        .json(
            Method::PUT,
            "/api/v1/workdays/2026-10-10",
            &admin,
            json!({"kind": "normal", "festival": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["day"]["working_day"], false);
    assert_eq!(r.json()["day"]["kind"], "weekend");
    let list = app.get("/api/v1/workdays?year=2026", &admin).await.json();
    let row = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["date"] == "2026-10-10")
        .unwrap()
        .clone();
    assert_eq!(row["kind"], "normal");
    assert_eq!(row["is_override"], true);
    assert_eq!(row["embedded_kind"], "workday");

    // Setting what the embedded data already says keeps no correction.
    let r = app
        .json(
            Method::PUT,
            "/api/v1/workdays/2026-10-10",
            &admin,
            json!({"kind": "workday", "festival": "国庆节"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["day"]["working_day"], true);
    assert_eq!(r.json()["is_override"], false);
    assert!(
        workdays::current(app.db())
            .await
            .unwrap()
            .is_working_day(d("2026-10-10"))
    );
    assert_eq!(audit_rows(&app, "workdays.set").await.len(), 2);
}

async fn a_bad_import_changes_nothing_and_reports_every_bad_line(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let csv = "date,kind,festival\n\
               2027-01-01,holiday,元旦\n\
               2027-02-30,holiday,春节\n\
               2027-02-06,workday,春节\n\
               2027-02-07,rest,春节\n";
    let r = app
        .json(
            Method::POST,
            "/api/v1/workdays/import",
            &admin,
            json!({ "csv": csv }),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let v = r.json();
    assert_eq!(v["error"]["code"], "invalid");
    assert_eq!(v["error"]["field"], "csv");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("第 3 行") && message.contains("第 5 行"),
        "{message}"
    );
    let rows = v["rows"].as_array().unwrap();
    let lines: Vec<i64> = rows.iter().map(|r| r["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, vec![3, 5]);
    assert!(rows[0]["reason"].as_str().unwrap().contains("2027-02-30"));
    assert!(rows[1]["reason"].as_str().unwrap().contains("rest"));

    // Nothing was written: not the good rows either, and no audit row.
    let list = app.get("/api/v1/workdays?year=2027", &admin).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert_eq!(list["version"], 0);
    assert!(
        !workdays::current(app.db())
            .await
            .unwrap()
            .has_data_for(2027)
    );
    assert!(audit_rows(&app, "workdays.import").await.is_empty());
}

async fn a_good_import_covers_2027(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let officer = app.login("xipu_officer").await;
    // A small arrangement, pasted from a spreadsheet: BOM, CRLF, a comment, 休/班.
    let csv = "\u{feff}# 2027 年部分节假日\r\n\
               date,kind,festival\r\n\
               2027-01-01,holiday,元旦\r\n\
               2027-02-06,班,春节\r\n\
               2027-02-10,休,春节\r\n\
               2027-02-11,休,春节\r\n\
               2027-02-12,休,春节\r\n";
    let r = app
        .json(
            Method::POST,
            "/api/v1/workdays/import",
            &admin,
            json!({ "csv": csv }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["imported"], 5);
    assert_eq!(r.json()["years"], json!([2027]));

    assert_eq!(
        check(&app, &officer, "2027-02-06").await["working_day"],
        true
    );
    assert_eq!(
        check(&app, &officer, "2027-02-10").await["working_day"],
        false
    );
    let list = app.get("/api/v1/workdays?year=2027", &admin).await.json();
    assert_eq!(list["items"].as_array().unwrap().len(), 5);
    assert_eq!(list["covered"], true);
    assert!(
        list["covered_years"]
            .as_array()
            .unwrap()
            .contains(&json!(2027))
    );
    // Whatever today is, 2027 is no longer missing.
    if let Some(w) = list["warning"].as_str() {
        assert!(!w.contains("2027"), "{w}");
    }
    let warning = workdays::coverage_warning(app.db()).await.unwrap();
    assert!(!warning.unwrap_or_default().contains("2027"));
    let cal = workdays::current(app.db()).await.unwrap();
    assert_eq!(
        jiceng::workdays::model::coverage_warning_for(&cal, d("2026-11-22")),
        None
    );

    let imports = audit_rows(&app, "workdays.import").await;
    assert_eq!(imports.len(), 1);
    assert!(
        imports[0]
            .detail
            .contains("2027 年放假 4 天、调休上班 1 天"),
        "{}",
        imports[0].detail
    );
}

async fn bad_input_gets_a_clear_4xx(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let put = |date: &'static str, body: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            app.json(
                Method::PUT,
                &format!("/api/v1/workdays/{date}"),
                admin,
                body,
            )
            .await
        }
    };
    let cases = [
        (
            put("2027-13-01", json!({"kind": "holiday", "festival": "元旦"})).await,
            "date",
        ),
        (
            put("2027-01-01", json!({"kind": "rest", "festival": "元旦"})).await,
            "kind",
        ),
        (
            put("2027-01-01", json!({"kind": "holiday"})).await,
            "festival",
        ),
        // 2027-01-04 is a Monday: a make-up working day there is a mistake.
        (
            put("2027-01-04", json!({"kind": "workday", "festival": "元旦"})).await,
            "kind",
        ),
        (put("2027-01-01", json!({})).await, "kind"),
    ];
    for (r, field) in &cases {
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
        assert_eq!(r.json()["error"]["field"], *field, "{}", r.body);
    }
    assert!(
        cases[3].0.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("星期一")
    );
    for path in [
        "/api/v1/workdays/check",
        "/api/v1/workdays/check?date=tomorrow",
        "/api/v1/workdays/add?from=2026-02-13&working_days=many",
        "/api/v1/workdays/add?from=noon&working_days=1",
        "/api/v1/workdays?year=20277",
    ] {
        let r = app.get(path, &admin).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}: {}",
            r.body
        );
        assert!(r.json()["error"]["message"].as_str().is_some());
    }
    let r = app
        .json(Method::POST, "/api/v1/workdays/import", &admin, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("没有可导入的行"));
    assert!(audit_rows(&app, "workdays.").await.is_empty());
    assert_eq!(
        app.get("/api/v1/workdays?year=2027", &admin).await.json()["version"],
        0
    );
}

async fn the_administrators_pages_list_correct_import_and_export(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let page = app.get("/admin/workdays?year=2026", &admin).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("工作日历 · 2026 年"));
    assert!(page.body.contains("2026-02-14"));
    assert!(page.body.contains("调休上班"));

    // A refused form comes back with the reason and what was typed.
    let r = app
        .form(
            "/admin/workdays",
            &admin,
            &[
                ("_csrf", admin.csrf.as_str()),
                ("date", "2027-01-04"),
                ("kind", "workday"),
                ("festival", "元旦"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(
        r.body.contains("调休上班只能设在星期六或星期日"),
        "{}",
        r.body
    );
    assert!(r.body.contains("value=\"2027-01-04\""));

    let r = app
        .form(
            "/admin/workdays",
            &admin,
            &[
                ("_csrf", admin.csrf.as_str()),
                ("date", "2027-01-01"),
                ("kind", "holiday"),
                ("festival", "元旦"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location(), Some("/admin/workdays?year=2027"));
    let page = app.get("/admin/workdays?year=2027", &admin).await;
    assert!(page.body.contains("管理员更正：sysadmin"), "{}", page.body);
    assert!(page.body.contains("撤销更正"));

    let r = app
        .form(
            "/admin/workdays/reset",
            &admin,
            &[("_csrf", admin.csrf.as_str()), ("date", "2027-01-01")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let r = app
        .form(
            "/admin/workdays/reset",
            &admin,
            &[("_csrf", admin.csrf.as_str()), ("date", "2027-01-01")],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);

    // A bad paste lists every bad line and keeps the text for fixing.
    let bad = "2027-01-01,holiday,元旦\n2027-01-32,holiday,元旦\n";
    let r = app
        .form(
            "/admin/workdays/import",
            &admin,
            &[("_csrf", admin.csrf.as_str()), ("csv", bad)],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("第 2 行"), "{}", r.body);
    assert!(r.body.contains("2027-01-32"));
    let good = "2027-01-01,holiday,元旦\n2027-02-06,workday,春节\n";
    let r = app
        .form(
            "/admin/workdays/import",
            &admin,
            &[("_csrf", admin.csrf.as_str()), ("csv", good)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);

    // The export is the import format, with a BOM for Excel.
    let r = app
        .get("/admin/workdays/export.csv?year=2027", &admin)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body.starts_with('\u{feff}'));
    assert_eq!(
        r.body,
        "\u{feff}date,kind,festival\n2027-01-01,holiday,元旦\n2027-02-06,workday,春节\n"
    );
    let all = app.get("/admin/workdays/export.csv", &admin).await;
    assert!(all.body.contains("2026-02-14,workday,春节"));
    assert!(all.body.contains("2004-01-01,holiday,元旦"));
    // Importing the export again changes nothing but is accepted.
    let r = app
        .json(
            Method::POST,
            "/api/v1/workdays/import",
            &admin,
            json!({ "csv": all.body }),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let list = app.get("/api/v1/workdays?year=2026", &admin).await.json();
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["is_override"] == false)
    );

    // set, reset, import, import: every change is in the trail.
    assert_eq!(audit_rows(&app, "workdays.").await.len(), 4);
}

async fn only_the_system_administrator_changes_the_calendar(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    for user in ["xipu_officer", "secadmin", "bianban"] {
        let s = app.login(user).await;
        let r = app
            .json(
                Method::PUT,
                "/api/v1/workdays/2027-01-01",
                &s,
                json!({"kind": "holiday", "festival": "元旦"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}: {}", r.body);
        let r = app.get("/admin/workdays", &s).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{user}");
    }
    assert!(
        workdays::current(app.db())
            .await
            .unwrap()
            .is_working_day(d("2027-01-01"))
    );
    assert!(audit_rows(&app, "workdays.").await.is_empty());
}
