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

/// A township-list row in the import template's column order.
fn local_row(township: &str, code: &str, phone: &str) -> Vec<String> {
    jiceng::catalog::io::header(true)
        .iter()
        .map(|c| {
            match *c {
                "乡镇代码" => township,
                "编码" => code,
                "事项名称" => "老旧小区加装电梯协调服务",
                "清单" => "公共服务",
                "全国清单分类" => "基本履职",
                "事项类别" => "公共服务",
                "来源" => "其他",
                "咨询电话" => phone,
                _ => "",
            }
            .to_owned()
        })
        .collect()
}

#[test]
fn import_duty_list_is_all_or_nothing_and_reports_every_bad_row() {
    let dir = tempfile::tempdir().unwrap();
    assert!(jiceng(dir.path(), &["demo"]).status.success());
    let header = jiceng::catalog::io::header(true);
    let write = |rows: &[Vec<String>]| {
        let bytes = jiceng::catalog::io::write_xlsx("清单事项", &header, rows).unwrap();
        let path = dir.path().join("lists.xlsx");
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let good = local_row("510117006000", "GX-DT-01", "028-87921234");
    let bad = write(&[
        good.clone(),
        local_row("510117006000", "GX-DT-01", "028-87921234"),
        local_row("510117006000", "GX-DT-02", "12-34"),
    ]);
    let o = jiceng(
        dir.path(),
        &[
            "import",
            "duty-list",
            bad.to_str().unwrap(),
            "--reason",
            "测试",
        ],
    );
    assert!(!o.status.success(), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("未导入任何事项"), "{out}");
    assert!(out.contains("第 3 行") && out.contains("第 4 行"), "{out}");
    assert!(out.contains("咨询电话"), "{out}");

    let ok = write(&[good]);
    let o = jiceng(
        dir.path(),
        &[
            "import",
            "duty-list",
            ok.to_str().unwrap(),
            "--reason",
            "测试",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("犀浦街道个性化清单：1 项，生成第"),
        "{}",
        text(&o)
    );
    // The same file again changes nothing.
    let o = jiceng(
        dir.path(),
        &[
            "import",
            "duty-list",
            ok.to_str().unwrap(),
            "--reason",
            "测试",
        ],
    );
    assert!(text(&o).contains("未生成新版本"), "{}", text(&o));
}

#[test]
fn eval_routing_prints_its_accuracy_last() {
    let dir = tempfile::tempdir().unwrap();
    let train = dir.path().join("train.csv");
    let test = dir.path().join("test.csv");
    std::fs::write(
        &train,
        "text,label\n\
         路口有人占道摆摊卖水果,占道经营\n\
         人行道上商贩摆摊占道经营,占道经营\n\
         工地夜间施工噪音很大,施工扰民\n\
         凌晨还在打桩施工扰民,施工扰民\n\
         小区垃圾桶满了没人清运,垃圾清运\n\
         垃圾堆放多日无人清理,垃圾清运\n",
    )
    .unwrap();
    std::fs::write(
        &test,
        "text,label\n市场门口占道摆摊,占道经营\n晚上工地施工太吵,施工扰民\n",
    )
    .unwrap();
    let o = jiceng(
        dir.path(),
        &[
            "eval",
            "routing",
            "--train",
            train.to_str().unwrap(),
            "--test",
            test.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(last.starts_with("top1=") && last.ends_with("n=2"), "{last}");
    let o = jiceng(
        dir.path(),
        &[
            "eval",
            "routing",
            "--train",
            "/nonexistent.csv",
            "--test",
            "x.csv",
        ],
    );
    assert!(!o.status.success());
    assert!(text(&o).contains("无法读取文件"), "{}", text(&o));
}

#[test]
fn open311_key_create_prints_a_key_that_files_requests() {
    let dir = tempfile::tempdir().unwrap();
    assert!(jiceng(dir.path(), &["demo"]).status.success());
    let o = jiceng(
        dir.path(),
        &["open311", "key", "create", "--name", "12345 热线平台"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let key = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert!(key.starts_with("o311_") && key.len() == 37, "{key}");
    let o = jiceng(dir.path(), &["open311", "key", "create", "--name", " "]);
    assert!(!o.status.success());
    assert!(text(&o).contains("名称"), "{}", text(&o));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let db = jiceng::Db::connect(None, dir.path()).await.unwrap();
        let district = jiceng::catalog::district_by_code(&db, None).await.unwrap();
        let keys = jiceng::open311::keys(&db, district).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].name, "12345 热线平台");
        db.close().await;
    });
}
