//! Many writers at once: every request is served. (A short burst like this passed before
//! SQLite writers were queued in process too; the starvation that queue prevents showed only
//! under sustained load, which `jiceng bench cases` exercises.)

mod common;

use axum::http::{Method, StatusCode};
use common::{Engine, Session, TestApp, TestDb};
use serde_json::json;

on_both_engines!(
    concurrent_intakes_all_succeed,
    an_intake_after_the_server_dropped_every_connection_succeeds,
);

async fn concurrent_intakes_all_succeed(t: TestDb) {
    // Thirty-two reports from one address: more than one citizen's hour allows.
    let app = TestApp::with_demo_settings(t, |s| s.public_reports_per_hour = 100).await;
    let app = &app;
    let requests = (0..32).map(|i| async move {
        app.json(
            Method::POST,
            "/api/v1/public/cases",
            &Session::default(),
            json!({"township_code": "510117006000", "category": "0102",
                   "description": format!("第 {i} 位市民反映：小区门口垃圾堆积多日无人清运"),
                   "address": "犀浦街道玉龙路 18 号", "reporter_name": "王小明",
                   "reporter_phone": "13812345678"}),
        )
        .await
    });
    let answers = futures_join_all(requests).await;
    let failed: Vec<String> = answers
        .iter()
        .filter(|r| r.status != StatusCode::CREATED)
        .map(|r| format!("{} {}", r.status, r.body))
        .collect();
    assert!(failed.is_empty(), "{} failed: {failed:?}", failed.len());
    // The intakes shared batches, each moving its audit chain's head along: every chain links.
    let chains = jiceng::audit::verify(app.db()).await.expect("verify runs");
    assert!(chains.ok(), "{:?}", chains.problems);
    assert!(chains.rows_checked >= 64, "{}", chains.rows_checked);
}

/// A writer keeps the connection of its last batch for the next one, and the session read its
/// connection for the next request's; if the server has dropped them meanwhile (a restart, an
/// administrator), the next batch begins and the next session is read on fresh ones.
async fn an_intake_after_the_server_dropped_every_connection_succeeds(t: TestDb) {
    let app = TestApp::with_demo(t).await;
    let citizen = Session::default();
    let staff = app.login("bianban").await;
    let lists = || app.get("/api/v1/catalog/lists", &staff);
    let r = lists().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let report = |i: u32| {
        app.json(
            Method::POST,
            "/api/v1/public/cases",
            &citizen,
            json!({"township_code": "510117006000", "category": "0102",
                   "description": format!("第 {i} 次反映：犀浦地铁站出口共享单车乱停放"),
                   "address": "犀浦街道地铁站 B 口", "reporter_name": "李女士",
                   "reporter_phone": "13900001111"}),
        )
    };
    let r = report(1).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    if app.t.engine == Engine::Postgres {
        // One statement, on a connection that spares itself, ends the others and names them.
        let pids: String = app
            .scalar(
                "SELECT COALESCE(string_agg(pid::text, ','), '0') FROM (
                    SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid()) ended",
            )
            .await;
        // The backends end on their own time: wait until they have.
        let gone = std::time::Instant::now();
        let left = format!("SELECT COUNT(*) FROM pg_stat_activity WHERE pid IN ({pids})");
        while app.count(&left).await > 0 {
            assert!(gone.elapsed().as_secs() < 10, "backends still running");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    let r = report(2).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = lists().await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Runs the futures concurrently on this task (the router is shared, not cloned per task).
async fn futures_join_all<F: std::future::Future>(fs: impl Iterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<_> = fs.map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}
