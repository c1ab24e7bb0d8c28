//! The demo district's year of cases, on both engines: it loads quickly, every metric of
//! 犀浦街道 over the year has figures, the cases carry summons, joint enforcement, referrals
//! and reopenings with their tickets and history, and a demo receipt code can be tracked.

mod common;

use std::time::Instant;

use axum::http::StatusCode;
use common::{Session, TestApp, TestDb};
use jiceng::time::Timestamp;

on_both_engines!(a_year_of_demo_cases_feeds_pages_tracking_and_metrics);

async fn a_year_of_demo_cases_feeds_pages_tracking_and_metrics(t: TestDb) {
    let started = Instant::now();
    jiceng::demo::load(&t.db).await.expect("demo loads");
    let took = started.elapsed();
    eprintln!("demo load with cases: {took:?}");
    // Generous against slow CI machines; locally it is a few seconds.
    assert!(took.as_secs() < 90, "{took:?}");
    let app = TestApp::new(t).await;

    let cases = app.count("SELECT COUNT(*) FROM cases").await;
    assert!(cases >= 2_500, "{cases}");
    // Every case has its ticket and workflow history.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM cases WHERE current_ticket_id IS NULL")
            .await,
        0
    );
    assert_eq!(
        app.count(
            "SELECT COUNT(*) FROM case_tickets t WHERE NOT EXISTS
               (SELECT 1 FROM wf_history h WHERE h.instance_id = t.instance_id)"
        )
        .await,
        0
    );
    // Spread over the year, and open cases in every state of the ticket.
    let year_ago = Timestamp::now().plus_seconds(-366 * 86_400).as_micros();
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM cases WHERE created_at < {year_ago}"
        ))
        .await,
        0
    );
    assert!(
        app.count(&format!(
            "SELECT COUNT(*) FROM cases WHERE created_at < {}",
            Timestamp::now().plus_seconds(-300 * 86_400).as_micros()
        ))
        .await
            > 50
    );
    for state in ["pending", "dispatched", "handling", "checking", "closed"] {
        let n = app.count(&format!(
                "SELECT COUNT(*) FROM wf_instances WHERE process = 'case_ticket' AND state = '{state}'"
            ),
        )
        .await;
        assert!(n > 0, "no ticket {state}");
    }
    // The year's dispatches taught the router, and the cases waiting for dispatch carry the
    // suggestion a dispatcher would have seen.
    assert!(
        app.count("SELECT COUNT(*) FROM cases WHERE learned_unit IS NOT NULL")
            .await
            > 1_000
    );
    let unsuggested = app
        .count(
            "SELECT COUNT(*) FROM cases c
             JOIN case_tickets t ON t.id = c.current_ticket_id
             JOIN wf_instances w ON w.id = t.instance_id
             WHERE w.state = 'pending' AND c.suggested_category IS NULL",
        )
        .await;
    assert_eq!(unsuggested, 0);
    for kind in ["summon", "joint", "referral"] {
        let n = app
            .count(&format!(
                "SELECT COUNT(*) FROM case_parts WHERE kind = '{kind}'"
            ))
            .await;
        assert!(n > 0, "no {kind}");
    }
    assert!(
        app.count("SELECT COUNT(*) FROM case_parts WHERE score IS NOT NULL")
            .await
            > 0
    );
    assert!(
        app.count("SELECT COUNT(*) FROM cases WHERE reopen_count > 0")
            .await
            > 0
    );
    assert!(app.count("SELECT COUNT(*) FROM case_returns").await > 0);
    assert!(
        app.count("SELECT COUNT(*) FROM case_tickets WHERE seq = 2")
            .await
            > 0,
        "a reopened case has its second ticket"
    );
    assert!(
        app.count("SELECT COUNT(*) FROM wf_instances WHERE overdue")
            .await
            > 0
    );

    // 犀浦街道's figures over the year: every rate has a numerator and a denominator.
    let d = app.login("xipu_dispatch").await;
    let from = Timestamp::now().plus_seconds(-364 * 86_400).local();
    let from = from.get(..10).unwrap_or("2026-01-01");
    let r = app
        .get(&format!("/api/v1/cases/metrics?from={from}"), &d)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let m = r.json();
    let total = &m["total"];
    for k in [
        "received",
        "dispatched",
        "dispatched_on_time",
        "accepted_on_time",
        "closed",
        "closed_on_time",
        "reworked",
        "dismissed",
        "referred",
        "rated",
        "satisfied",
    ] {
        assert!(total[k].as_i64().unwrap_or(0) > 0, "{k}: {total}");
    }
    // Not everything is on time or satisfied: the figures are not all 100 %.
    assert!(
        total["closed_on_time"].as_i64() < total["closed"].as_i64(),
        "{total}"
    );
    assert!(
        total["satisfied"].as_i64() < total["rated"].as_i64(),
        "{total}"
    );
    let months = m["by_month"].as_array().map(Vec::len).unwrap_or(0);
    assert!(months >= 12, "{months}");
    let sources = m["by_source"].as_array().map(Vec::len).unwrap_or(0);
    assert!(sources >= 4, "{sources}");
    let summons = m["summons"].as_array().cloned().unwrap_or_default();
    assert!(
        summons
            .iter()
            .any(|s| s["summons"].as_i64() > Some(0) && s["scored"].as_i64() > Some(0)),
        "{summons:?}"
    );
    let page = app.get(&format!("/cases/metrics?from={from}"), &d).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("<svg"));
    // The case list and a case's page work on demo cases.
    let list = app.get("/api/v1/cases", &d).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(list.json()["total"].as_i64() > Some(100), "{}", list.body);
    let id = app
        .count(
            "SELECT MIN(c.id) FROM cases c JOIN orgs o ON o.id = c.township_id
         WHERE o.code = '510117006000' AND c.reopen_count > 0",
        )
        .await;
    let detail = app.get(&format!("/cases/{id}"), &d).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.body);

    // The public tracking of a demo receipt code, closed and rated.
    let code: String = app
        .scalar(
            "SELECT receipt_code FROM cases WHERE outcome = 'closed' AND rating IS NOT NULL
         ORDER BY id LIMIT 1",
        )
        .await;
    let anon = Session::anonymous();
    let r = app
        .get(&format!("/api/v1/public/cases/{code}"), &anon)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let v = r.json();
    assert_eq!(v["status"], "closed", "{v}");
    assert!(v["steps"].as_array().map(Vec::len).unwrap_or(0) >= 4, "{v}");
    let page = app
        .get(&format!("/public/cases/track?code={code}"), &anon)
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("已办结"), "{}", page.body);
}
