//! The binary's commands, run as a user would: migrate, demo, check, audit verify.

use std::process::Command;

fn jiceng(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_jiceng"))
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("JICENG_DATABASE_URL")
        .output()
        .expect("runs")
}

fn text(o: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[test]
fn audit_verify_fails_after_a_row_is_edited() {
    let dir = tempfile::tempdir().unwrap();
    let o = jiceng(dir.path(), &["demo"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("xipu_officer"),
        "the demo prints its accounts"
    );
    let o = jiceng(dir.path(), &["check"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = jiceng(dir.path(), &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("审计链完整"));

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = jiceng::Db::connect(None, dir.path()).await.unwrap();
        let mut c = db.acquire().await.unwrap();
        c.conn()
            .execute("UPDATE audit_log SET actor = '他人' WHERE seq = 2")
            .await
            .unwrap();
        drop(c);
        db.close().await;
    });
    let o = jiceng(dir.path(), &["audit", "verify"]);
    assert!(!o.status.success(), "an edited row must fail verification");
    assert!(text(&o).contains("第 2 行"), "{}", text(&o));
}

#[test]
fn a_second_demo_load_is_refused_without_changing_anything() {
    let dir = tempfile::tempdir().unwrap();
    assert!(jiceng(dir.path(), &["demo"]).status.success());
    let o = jiceng(dir.path(), &["demo"]);
    assert!(!o.status.success());
    assert!(text(&o).contains("已有组织数据"), "{}", text(&o));
    let o = jiceng(dir.path(), &["migrate"]);
    assert!(text(&o).contains("已是最新"), "{}", text(&o));
}

#[test]
fn a_retention_below_184_days_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_jiceng"))
        .arg("--data-dir")
        .arg(dir.path())
        .arg("check")
        .env("JICENG_AUDIT_RETENTION_DAYS", "30")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(text(&o).contains("184"), "{}", text(&o));
}
