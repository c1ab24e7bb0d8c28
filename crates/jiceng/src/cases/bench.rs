//! `jiceng bench cases`: on one database, the raw insert rate of the storage engine (one case
//! row per transaction: the ceiling intake can reach), the end-to-end intake rate over HTTP
//! (the real router on a loopback socket: session, CSRF, validation, routing suggestion, grid
//! and category lookup, duplicate check, the ticket's workflow start with its history, audit)
//! with p50/p99 latency, and the metrics query for one township over one year with `cases`
//! rows in the table. Figures are printed, never asserted.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::metrics::{self, MetricsScope};
use super::seed;
use crate::config::Settings;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::ids::OrgId;
use crate::orgs::model::OrgKind;
use crate::time::Timestamp;

/// Concurrency levels measured when none are asked for: a handful of clerks, and a busy
/// district's grid workers and hotline operators at once.
pub const DEFAULT_CLIENTS: &[usize] = &[8, 64];

/// Intakes per measurement, raw and over HTTP.
const INTAKES: usize = 4_000;

/// The raw and HTTP rates at one number of concurrent clients.
pub struct Load {
    pub clients: usize,
    pub raw_per_second: f64,
    pub http_per_second: f64,
    pub http_p50_ms: f64,
    pub http_p99_ms: f64,
}

pub struct CasesBenchReport {
    pub engine: String,
    pub cases: i64,
    pub seed_seconds: f64,
    pub loads: Vec<Load>,
    pub metrics_ms: Vec<f64>,
    pub township_year_cases: i64,
}

impl CasesBenchReport {
    pub fn print(&self) {
        let mut m = self.metrics_ms.clone();
        m.sort_by(f64::total_cmp);
        let pick = |q: f64| m[((m.len() as f64 - 1.0) * q).round() as usize];
        let e = &self.engine;
        println!(
            "[{e}] 案件 {} 件（批量写入 {:.1} s）",
            self.cases, self.seed_seconds
        );
        for l in &self.loads {
            let n = l.clients;
            println!(
                "[{e}] 存储引擎裸写入（每件一个事务，{n} 并发）：{:.0} 件/秒",
                l.raw_per_second
            );
            println!(
                "[{e}] HTTP 端到端受理（{n} 并发）：{:.0} 件/秒，p50 {:.2} ms，p99 {:.2} ms，为裸写入的 {:.0}%",
                l.http_per_second,
                l.http_p50_ms,
                l.http_p99_ms,
                l.http_per_second / l.raw_per_second.max(1.0) * 100.0
            );
        }
        println!(
            "[{e}] 一个镇街一年（{} 件）的案件统计（{} 次）：最快 {:.1} ms，中位 {:.1} ms，p90 {:.1} ms，最慢 {:.1} ms",
            self.township_year_cases,
            m.len(),
            pick(0.0),
            pick(0.5),
            pick(0.9),
            pick(1.0)
        );
    }
}

/// A minimal HTTP/1.1 client on one keep-alive connection: enough for JSON requests with a
/// Content-Length answer, and no dependency for a benchmark.
struct Client {
    stream: BufReader<TcpStream>,
    cookie: String,
    csrf: String,
}

impl Client {
    async fn connect(addr: SocketAddr) -> Result<Client> {
        let s = TcpStream::connect(addr).await.map_err(Error::internal)?;
        s.set_nodelay(true).map_err(Error::internal)?;
        Ok(Client {
            stream: BufReader::new(s),
            cookie: String::new(),
            csrf: String::new(),
        })
    }

    async fn post(&mut self, path: &str, body: &str) -> Result<(u16, Vec<String>, String)> {
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if !self.cookie.is_empty() {
            req.push_str(&format!(
                "Cookie: {}\r\nX-CSRF-Token: {}\r\n",
                self.cookie, self.csrf
            ));
        }
        req.push_str("\r\n");
        req.push_str(body);
        let s = self.stream.get_mut();
        s.write_all(req.as_bytes()).await.map_err(Error::internal)?;
        let mut status = String::new();
        self.stream
            .read_line(&mut status)
            .await
            .map_err(Error::internal)?;
        let code = status
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| Error::internal(format!("bad status line {status:?}")))?;
        let mut headers = Vec::new();
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            self.stream
                .read_line(&mut line)
                .await
                .map_err(Error::internal)?;
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            if let Some(v) = line
                .to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(str::trim)
            {
                len = v.parse().unwrap_or(0);
            }
            headers.push(line);
        }
        let mut buf = vec![0u8; len];
        self.stream
            .read_exact(&mut buf)
            .await
            .map_err(Error::internal)?;
        Ok((code, headers, String::from_utf8_lossy(&buf).into_owned()))
    }

    async fn login(addr: SocketAddr, user: &str) -> Result<Client> {
        let mut c = Client::connect(addr).await?;
        let body = serde_json::json!({"username": user, "password": crate::demo::DEMO_PASSWORD});
        let (code, headers, text) = c.post("/api/v1/session", &body.to_string()).await?;
        if code != 200 {
            return Err(Error::internal(format!("login {code}: {text}")));
        }
        c.cookie = headers
            .iter()
            .filter_map(|h| h.split_once(':'))
            .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.trim())
            .find(|v| v.starts_with("jiceng_session="))
            .and_then(|v| v.split(';').next())
            .unwrap_or("")
            .to_owned();
        let v: serde_json::Value = serde_json::from_str(&text).map_err(Error::internal)?;
        c.csrf = v["csrf_token"].as_str().unwrap_or("").to_owned();
        Ok(c)
    }
}

/// Raw inserts: one case row per transaction from `clients` tasks, the shape of an intake's
/// commit without any of its checks.
async fn raw_inserts(
    db: &Db,
    township: OrgId,
    district: OrgId,
    n: usize,
    clients: usize,
) -> Result<f64> {
    let t = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..clients {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..n / clients {
                let mut tx = db.begin().await?;
                let code = format!("RAW{clients}-{k:02}{i:08}");
                super::store::insert_case(
                    &mut tx.conn(),
                    &super::store::NewCaseRow {
                        id: None,
                        district_id: district,
                        township_id: township,
                        grid_id: None,
                        source: "patrol",
                        category_code: "0601",
                        urgency: "normal",
                        description: "基准测试：裸写入一件案件",
                        address: "犀浦镇",
                        coordinates: None,
                        reporter_name: "",
                        reporter_phone: "",
                        reporter_user_id: None,
                        receipt_code: &code,
                        external_ref: None,
                        now: Timestamp::now(),
                        by: "bench",
                        suggested_category: None,
                        suggested_unit: None,
                        ticket: None,
                        duplicate_offers: "",
                    },
                )
                .await?;
                tx.commit().await?;
            }
            Ok::<_, Error>(())
        }));
    }
    for t in tasks {
        t.await.map_err(Error::internal)??;
    }
    Ok((n / clients * clients) as f64 / t.elapsed().as_secs_f64())
}

/// One intake request as the hotline's client sends it.
fn intake_body(tag: &str, client: usize, i: usize, category: &str, text: &str) -> String {
    serde_json::json!({
        "source": "hotline", "category": category, "description": text,
        "address": "犀浦镇校园路 3 号", "reporter_name": "测试", "reporter_phone": "13800000000",
        "external_ref": format!("{tag}-{client}-{i}"),
    })
    .to_string()
}

async fn http_intake(
    addr: SocketAddr,
    n: usize,
    clients: usize,
    tag: String,
) -> Result<(f64, Vec<f64>)> {
    // Signing in (a deliberately slow password hash each) and building the requests are not
    // intake: both happen before the clock starts.
    let mut logins = Vec::new();
    for _ in 0..clients {
        logins.push(tokio::spawn(Client::login(addr, "xipu_dispatch")));
    }
    let mut signed_in = Vec::new();
    for l in logins {
        signed_in.push(l.await.map_err(Error::internal)??);
    }
    let texts = seed::sample_texts(n);
    let requests: Vec<Vec<String>> = (0..clients)
        .map(|k| {
            let mine = texts.iter().skip(k).step_by(clients).enumerate();
            mine.map(|(i, (category, text))| intake_body(&tag, k, i, category, text))
                .collect()
        })
        .collect();
    let t = Instant::now();
    let mut tasks = Vec::new();
    for (mut c, bodies) in signed_in.into_iter().zip(requests) {
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::with_capacity(bodies.len());
            for body in &bodies {
                let s = Instant::now();
                let (code, _, text) = c.post("/api/v1/cases", body).await?;
                if code != 201 {
                    eprintln!("受理失败 {code}: {text}");
                    return Err(Error::internal(format!("intake {code}: {text}")));
                }
                lat.push(s.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<_, Error>(lat)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(Error::internal)??);
    }
    Ok((all.len() as f64 / t.elapsed().as_secs_f64(), all))
}

pub async fn run(
    db: &Db,
    engine: &str,
    cases: u64,
    clients: &[usize],
    data_dir: &std::path::Path,
) -> Result<CasesBenchReport> {
    db.migrate().await?;
    if !crate::demo::is_loaded(db).await? {
        crate::demo::load(db).await?;
    }
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
    let xipu = townships
        .iter()
        .find(|t| t.code == "510117006000")
        .ok_or_else(|| Error::internal("demo township"))?
        .clone();
    let district = crate::catalog::district_of(&xipu);
    super::ensure_categories(db, district).await?;
    let now = Timestamp::now();
    let year_start = now.plus_seconds(-365 * 86_400);
    let t0 = Instant::now();
    seed::bulk_facts(db, &townships, district, cases, year_start, now).await?;
    let seed_seconds = t0.elapsed().as_secs_f64();
    // PostgreSQL's autovacuum would have analysed so many new rows by now. Nothing analyses a
    // SQLite database in service, and it must not be analysed here either: its statistics
    // (STAT4, as the bundled SQLite is built) make every statement whose bound values feed an
    // estimate be planned afresh whenever they change, which an intake's duplicate scan does
    // in every batch.
    if db.dialect() == crate::db::Dialect::Postgres {
        let mut c = db.acquire().await?;
        c.conn().execute("VACUUM ANALYZE cases").await?;
    }

    let settings = Settings {
        data_dir: data_dir.to_owned(),
        ..Settings::default()
    };
    let app = crate::web::app(db.clone(), settings);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(Error::internal)?;
    let addr = listener.local_addr().map_err(Error::internal)?;
    let server = tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    });
    // Warm up: the router builds its models and jieba loads its dictionary.
    http_intake(addr, 32, 8, "WARM".to_owned()).await?;
    let mut loads = Vec::new();
    for &n in clients {
        let raw_per_second = raw_inserts(db, xipu.id, district, INTAKES, n).await?;
        let (http_per_second, mut lat) = http_intake(addr, INTAKES, n, format!("BENCH{n}")).await?;
        lat.sort_by(f64::total_cmp);
        let q = |p: f64| lat[((lat.len() as f64 - 1.0) * p).round() as usize];
        loads.push(Load {
            clients: n,
            raw_per_second,
            http_per_second,
            http_p50_ms: q(0.5),
            http_p99_ms: q(0.99),
        });
    }
    server.abort();

    let scope = MetricsScope::Township(xipu.id);
    let mut metrics_ms = Vec::new();
    let mut township_year_cases = 0;
    for _ in 0..10 {
        let t = Instant::now();
        let r = metrics::report(db, &scope, &xipu.name, year_start, now.plus_seconds(1)).await?;
        metrics_ms.push(t.elapsed().as_secs_f64() * 1000.0);
        township_year_cases = r.total.received;
    }
    let total: i64 = {
        let mut c = db.acquire().await?;
        let mut conn = c.conn();
        crate::on_conn!(&mut conn, c => sqlx::query_scalar("SELECT COUNT(*) FROM cases").fetch_one(&mut *c).await?)
    };
    Ok(CasesBenchReport {
        engine: engine.to_owned(),
        cases: total,
        seed_seconds,
        loads,
        metrics_ms,
        township_year_cases,
    })
}

/// Runs on a throwaway SQLite file, and on a throwaway database of `postgres_url` if given.
pub async fn run_all(
    cases: u64,
    clients: &[usize],
    postgres_url: Option<&str>,
) -> Result<Vec<CasesBenchReport>> {
    // Each client sends at least one of the measured intakes, so that every level has
    // latencies to report.
    if let Some(bad) = clients.iter().find(|&&n| n == 0 || n > INTAKES) {
        return Err(Error::invalid(
            "clients",
            format!("并发数须在 1 到 {INTAKES} 之间，收到 {bad}"),
        ));
    }
    let mut reports = Vec::new();
    let dir = std::env::temp_dir().join(format!("jiceng-bench-cases-{}", std::process::id()));
    let db = Db::connect(None, &dir).await?;
    let r = run(&db, "SQLite", cases, clients, &dir).await;
    db.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    reports.push(r?);
    if let Some(url) = postgres_url {
        let name = format!("jiceng_bench_cases_{}", std::process::id());
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
        let r = run(&db, "PostgreSQL", cases, clients, &dir).await;
        db.close().await;
        admin
            .acquire()
            .await?
            .conn()
            .execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .await?;
        admin.close().await;
        let _ = std::fs::remove_dir_all(&dir);
        reports.push(r?);
    }
    Ok(reports)
}
