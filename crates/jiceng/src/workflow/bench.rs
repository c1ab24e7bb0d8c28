//! `jiceng bench workflow`: transitions per second and the metrics query at scale, on SQLite
//! and (when given a URL) PostgreSQL. Figures are printed, never asserted: machines are noisy.

use std::sync::Arc;
use std::time::Instant;

use workflow::Registry;

use super::{ActionInput, NewInstance};
use crate::audit::Actor;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::ids::OrgId;
use crate::on_conn;
use crate::orgs::model::OrgKind;
use crate::time::Timestamp;

const BENCH_PROCESS: &str = r#"
name = "bench"
label = "基准测试流程"
initial = "new"

[[state]]
id = "new"
label = "待受理"
time_limit = { amount = 1, unit = "working_days" }
on_expiry = [{ rule = "flag_overdue" }]

[[state]]
id = "handling"
label = "办理中"
time_limit = { amount = 5, unit = "working_days" }
on_expiry = [{ rule = "flag_overdue" }]

[[state]]
id = "closed"
label = "已办结"
terminal = true

[[action]]
id = "accept"
label = "受理"
from = "new"
to = "handling"
roles = ["township_officer"]
party = "owner"

[[action]]
id = "close"
label = "办结"
from = "handling"
to = "closed"
roles = ["township_officer"]
party = "owner"
"#;

pub struct BenchReport {
    pub engine: String,
    pub instances: u64,
    pub seed_seconds: f64,
    pub starts_per_second: f64,
    pub transitions_per_second_serial: f64,
    pub transitions_per_second_concurrent: f64,
    pub metrics_ms: Vec<f64>,
}

impl BenchReport {
    pub fn print(&self) {
        let mut m = self.metrics_ms.clone();
        m.sort_by(f64::total_cmp);
        let pick = |q: f64| m[((m.len() as f64 - 1.0) * q).round() as usize];
        println!(
            "[{}] 实例数 {}（批量写入 {:.1} s）",
            self.engine, self.instances, self.seed_seconds
        );
        println!(
            "[{}] 发起流程：{:.0} 个/秒",
            self.engine, self.starts_per_second
        );
        println!(
            "[{}] 状态流转：串行 {:.0} 次/秒，8 并发 {:.0} 次/秒",
            self.engine, self.transitions_per_second_serial, self.transitions_per_second_concurrent
        );
        println!(
            "[{}] 一个镇街一年的统计查询（{} 次）：最快 {:.1} ms，中位 {:.1} ms，p90 {:.1} ms，最慢 {:.1} ms",
            self.engine,
            m.len(),
            pick(0.0),
            pick(0.5),
            pick(0.9),
            pick(1.0)
        );
    }
}

/// Seeds `n` instances over the past year across the demo townships with one multi-row
/// INSERT per 500 rows; figures are deterministic (a fixed linear congruential sequence).
async fn seed(
    db: &Db,
    townships: &[OrgId],
    n: u64,
    year_start: Timestamp,
    now: Timestamp,
) -> Result<()> {
    let span = (now.as_micros() - year_start.as_micros()).max(1) as u64;
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = || {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        x >> 11
    };
    let mut done = 0u64;
    while done < n {
        let mut tx = db.begin().await?;
        let batch_end = (done + 50_000).min(n);
        while done < batch_end {
            let rows = (batch_end - done).min(500);
            let mut sql = String::from(
                "INSERT INTO wf_instances (process, subject, subject_ref, owner_org_id, township_id, state, terminal,
                    version, created_at, entered_at, deadline, overdue, completed_at, working_seconds) VALUES ",
            );
            for i in 0..rows {
                let k = done + i;
                let t = townships[(next() % townships.len() as u64) as usize].0;
                let created = year_start.as_micros() + (next() % span) as i64;
                let roll = next() % 100;
                let (state, terminal, completed, secs) = if roll < 70 {
                    let secs = 3_600 + (next() % (5 * 25_200)) as i64;
                    (
                        "closed",
                        "TRUE",
                        (created + secs * 3_000_000).to_string(),
                        secs.to_string(),
                    )
                } else if roll < 90 {
                    ("handling", "FALSE", "NULL".to_owned(), "NULL".to_owned())
                } else {
                    ("new", "FALSE", "NULL".to_owned(), "NULL".to_owned())
                };
                let overdue = if next() % 10 == 0 { "TRUE" } else { "FALSE" };
                let deadline = created + 5 * 86_400_000_000;
                if i > 0 {
                    sql.push(',');
                }
                sql.push_str(&format!(
                    "('bench', '基准事项 {k}', 'seed:{k}', {t}, {t}, '{state}', {terminal}, 2, {created}, {created}, {deadline}, {overdue}, {completed}, {secs})"
                ));
            }
            tx.conn().execute(&sql).await?;
            done += rows;
        }
        tx.commit().await?;
    }
    Ok(())
}

pub async fn run(db: &Db, engine: &str, instances: u64) -> Result<BenchReport> {
    db.migrate().await?;
    if !crate::demo::is_loaded(db).await? {
        crate::demo::load(db).await?;
    }
    let registry = Arc::new(
        Registry::load(&[("bench.toml", BENCH_PROCESS)], None).map_err(|e| {
            Error::internal(
                e.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join("; "),
            )
        })?,
    );
    let (townships, _) = {
        let mut c = db.acquire().await?;
        crate::orgs::store::list(
            &mut c.conn(),
            &crate::orgs::OrgQuery {
                kind: Some(OrgKind::Township),
                limit: 100,
                ..Default::default()
            },
        )
        .await?
    };
    let ids: Vec<OrgId> = townships.iter().map(|t| t.id).collect();
    let xipu = townships
        .iter()
        .find(|t| t.code == "510117006000")
        .ok_or_else(|| Error::internal("demo township"))?
        .clone();
    let now = Timestamp::now();
    let year_start = now.plus_seconds(-365 * 86_400);

    let t0 = Instant::now();
    seed(db, &ids, instances, year_start, now).await?;
    let seed_seconds = t0.elapsed().as_secs_f64();
    {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        if conn.dialect() == crate::db::Dialect::Postgres {
            // Index-only scans need the visibility map that autovacuum keeps in production.
            conn.execute("VACUUM ANALYZE wf_instances").await?;
        } else {
            conn.execute("ANALYZE").await?;
        }
    }

    // Start and move fresh instances as the demo township officer.
    let actor_origin = Actor {
        ip: "127.0.0.1".into(),
        request_id: "bench".into(),
        ..Default::default()
    };
    let session = crate::auth::login(
        db,
        "xipu_officer",
        crate::demo::DEMO_PASSWORD,
        None,
        &actor_origin,
        "bench",
    )
    .await
    .map_err(|e| Error::internal(e.to_string()))?;
    let principal = Arc::new(session.principal);
    let actor = Actor {
        user_id: Some(principal.user_id),
        name: principal.username.clone(),
        org_id: Some(principal.org.id),
        ..actor_origin
    };
    let cal = super::calendar(db).await?;
    let fresh = 2_000u64;
    let t1 = Instant::now();
    let mut started = Vec::with_capacity(fresh as usize);
    for k in 0..fresh {
        let mut tx = db.begin().await?;
        let inst = super::start(
            &mut tx.conn(),
            &registry,
            &cal,
            &actor,
            NewInstance {
                process: "bench".into(),
                subject: format!("新事项 {k}"),
                subject_ref: format!("fresh:{k}"),
                owner_org: xipu.id,
                assignee_org: None,
            },
        )
        .await?;
        tx.commit().await?;
        started.push(inst.id);
    }
    let starts_per_second = fresh as f64 / t1.elapsed().as_secs_f64();

    let act = |action: &str, v: i64| ActionInput {
        action: action.into(),
        expected_version: v,
        ..Default::default()
    };
    let half = started.len() / 2;
    let t2 = Instant::now();
    for id in &started[..half] {
        super::act(db, &registry, &principal, &actor, *id, act("accept", 1)).await?;
    }
    let serial = half as f64 / t2.elapsed().as_secs_f64();

    let t3 = Instant::now();
    let chunks: Vec<Vec<_>> = started[half..]
        .chunks(started[half..].len().div_ceil(8))
        .map(<[_]>::to_vec)
        .collect();
    let mut tasks = Vec::new();
    for chunk in chunks {
        let (db, registry, principal, actor) = (
            db.clone(),
            registry.clone(),
            principal.clone(),
            actor.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for id in chunk {
                super::act(&db, &registry, &principal, &actor, id, act("accept", 1)).await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        t.await.map_err(Error::internal)??;
    }
    let concurrent = (started.len() - half) as f64 / t3.elapsed().as_secs_f64();

    let mut metrics_ms = Vec::new();
    for _ in 0..20 {
        let t = Instant::now();
        let m = super::metrics(
            db,
            &registry,
            "bench",
            Some(&xipu),
            year_start,
            now.plus_seconds(1),
        )
        .await?;
        metrics_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        std::hint::black_box(m);
    }
    let total: i64 = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        on_conn!(&mut conn, c => sqlx::query_scalar("SELECT COUNT(*) FROM wf_instances").fetch_one(&mut *c).await?)
    };
    Ok(BenchReport {
        engine: engine.to_owned(),
        instances: total as u64,
        seed_seconds,
        starts_per_second,
        transitions_per_second_serial: serial,
        transitions_per_second_concurrent: concurrent,
        metrics_ms,
    })
}

/// Runs the benchmark on a throwaway SQLite file, and on a throwaway database of the
/// PostgreSQL server at `postgres_url` when given.
pub async fn run_all(instances: u64, postgres_url: Option<&str>) -> Result<Vec<BenchReport>> {
    let mut reports = Vec::new();
    let dir = std::env::temp_dir().join(format!("jiceng-bench-{}", std::process::id()));
    let db = Db::connect(None, &dir).await?;
    let r = run(&db, "SQLite", instances).await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    reports.push(r?);
    if let Some(url) = postgres_url {
        let name = format!("jiceng_bench_{}", std::process::id());
        let admin = Db::connect(Some(url), &dir).await?;
        admin
            .acquire()
            .await?
            .conn()
            .execute(&format!("CREATE DATABASE {name}"))
            .await?;
        let target = match url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => format!("{url}/{name}"),
        };
        let db = Db::connect(Some(&target), &dir).await?;
        let r = run(&db, "PostgreSQL", instances).await;
        db.close().await;
        admin
            .acquire()
            .await?
            .conn()
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        admin.close().await;
        reports.push(r?);
    }
    Ok(reports)
}
