//! Test support: a fresh database per test on SQLite or PostgreSQL, and a client that drives
//! the real router.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use jiceng::{Db, Settings};
use serde_json::Value;
use tower::ServiceExt;

pub const PASSWORD: &str = jiceng::demo::DEMO_PASSWORD;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A database for one test, dropped (PostgreSQL) or deleted (SQLite) afterwards.
pub struct TestDb {
    pub db: Db,
    pub engine: Engine,
    pub data_dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn pg_admin_url() -> String {
    std::env::var("JICENG_TEST_PG_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn with_database(url: &str, name: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => format!("{url}/{name}"),
    }
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(None, data_dir.path())
            .await
            .expect("open sqlite");
        db.migrate().await.expect("migrate sqlite");
        TestDb {
            db,
            engine: Engine::Sqlite,
            data_dir,
            pg: None,
        }
    }

    /// A fresh PostgreSQL database, or `None` (test skipped) when PostgreSQL is unreachable
    /// outside CI. In CI an unreachable PostgreSQL fails the test.
    pub async fn postgres() -> Option<TestDb> {
        let admin = pg_admin_url();
        let name = format!(
            "jiceng_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            rand_suffix()
        );
        let admin_db = match Db::connect(Some(&admin), std::path::Path::new(".")).await {
            Ok(db) => db,
            Err(e) if !in_ci() => {
                eprintln!("skipping PostgreSQL test: {admin} unreachable ({e})");
                return None;
            }
            Err(e) => panic!("PostgreSQL at {admin} is unreachable in CI: {e}"),
        };
        {
            let mut c = admin_db.acquire().await.expect("admin conn");
            c.conn()
                .execute(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create database");
        }
        admin_db.close().await;
        let url = with_database(&admin, &name);
        let data_dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(Some(&url), data_dir.path())
            .await
            .expect("open postgres");
        db.migrate().await.expect("migrate postgres");
        Some(TestDb {
            db,
            engine: Engine::Postgres,
            data_dir,
            pg: Some((admin, name)),
        })
    }

    /// The same database through a handle of its own, as another `serve` process sees it:
    /// its own pool, queue and caches. Dropping it leaves the database to `self`.
    pub async fn another_process(&self) -> TestDb {
        let url = self
            .pg
            .as_ref()
            .map(|(admin, name)| with_database(admin, name));
        let db = Db::connect(url.as_deref(), self.data_dir.path())
            .await
            .expect("open the same database again");
        TestDb {
            db,
            engine: self.engine,
            data_dir: tempfile::tempdir().expect("temp dir"),
            pg: None,
        }
    }

    pub fn settings(&self) -> Settings {
        let mut s = Settings {
            data_dir: self.data_dir.path().to_owned(),
            ..Settings::default()
        };
        s.validate().expect("valid settings");
        s
    }
}

fn rand_suffix() -> u32 {
    use std::time::{SystemTime, UNIX_EPOCH};
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        % 100_000
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.pg.take() {
            let db = self.db.clone();
            // Drop runs outside async: use a throwaway runtime on another thread.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(rt) = rt {
                    rt.block_on(async move {
                        db.close().await;
                        if let Ok(a) = Db::connect(Some(&admin), std::path::Path::new(".")).await {
                            if let Ok(mut c) = a.acquire().await {
                                let _ = c
                                    .conn()
                                    .execute(&format!(
                                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                                    ))
                                    .await;
                            }
                            a.close().await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

/// Runs one async test body against SQLite and against PostgreSQL, as two test functions.
#[macro_export]
macro_rules! on_both_engines {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::common::TestDb::sqlite().await).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(t) = super::common::TestDb::postgres().await {
                        super::$name(t).await;
                    }
                }
            }
        )*
    };
}

/// A signed-in (or anonymous) browser/API client.
#[derive(Clone, Debug, Default)]
pub struct Session {
    pub cookie: Option<String>,
    pub csrf: String,
}

impl Session {
    /// An anonymous visitor holding a pre-sign-in CSRF token, as a browser that loaded a form.
    pub fn anonymous() -> Session {
        Session {
            cookie: Some("jiceng_csrf=anon-token".to_owned()),
            csrf: "anon-token".to_owned(),
        }
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub body: String,
}

impl Resp {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn location(&self) -> Option<&str> {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
    }
}

pub struct TestApp {
    pub t: TestDb,
    pub router: Router,
}

impl TestApp {
    pub async fn new(t: TestDb) -> TestApp {
        let router = jiceng::web::app(t.db.clone(), t.settings());
        TestApp { t, router }
    }

    /// With the demo district loaded, and settings changed by `change`.
    pub async fn with_demo_settings(t: TestDb, change: impl FnOnce(&mut Settings)) -> TestApp {
        jiceng::demo::load_district(&t.db)
            .await
            .expect("demo loads");
        let mut settings = t.settings();
        change(&mut settings);
        let router = jiceng::web::app(t.db.clone(), settings);
        TestApp { t, router }
    }

    /// With the demo district loaded.
    pub async fn with_demo(t: TestDb) -> TestApp {
        jiceng::demo::load_district(&t.db)
            .await
            .expect("demo loads");
        Self::new(t).await
    }

    pub fn db(&self) -> &Db {
        &self.t.db
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        s: &Session,
        body: Option<(&str, String)>,
    ) -> Resp {
        let mut b = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(header::HOST, "localhost");
        if let Some(c) = &s.cookie {
            b = b.header(header::COOKIE, c);
        }
        if !matches!(method, Method::GET | Method::HEAD) && !s.csrf.is_empty() {
            b = b.header("x-csrf-token", &s.csrf);
        }
        let req = match body {
            Some((ct, text)) => b.header(header::CONTENT_TYPE, ct).body(Body::from(text)),
            None => b.body(Body::empty()),
        }
        .expect("request");
        self.request(req).await
    }

    /// Sends a request built by the test itself (uploads, odd headers) through the router.
    pub async fn request(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    pub async fn get(&self, path: &str, s: &Session) -> Resp {
        self.send(Method::GET, path, s, None).await
    }

    pub async fn form(&self, path: &str, s: &Session, pairs: &[(&str, &str)]) -> Resp {
        let body = serde_urlencoded::to_string(pairs).expect("form");
        self.send(
            Method::POST,
            path,
            s,
            Some(("application/x-www-form-urlencoded", body)),
        )
        .await
    }

    pub async fn json(&self, method: Method, path: &str, s: &Session, v: Value) -> Resp {
        self.send(method, path, s, Some(("application/json", v.to_string())))
            .await
    }

    /// Signs in through the JSON API and returns the session.
    pub async fn login(&self, username: &str) -> Session {
        self.try_login(username, PASSWORD)
            .await
            .unwrap_or_else(|r| panic!("login {username}: {} {}", r.status, r.body))
    }

    pub async fn try_login(&self, username: &str, password: &str) -> Result<Session, Resp> {
        self.sign_in(serde_json::json!({ "username": username, "password": password }))
            .await
    }

    /// Signs in with the password an administrator set, replacing it with `new`.
    pub async fn try_renew(
        &self,
        username: &str,
        password: &str,
        new: &str,
    ) -> Result<Session, Resp> {
        self.sign_in(serde_json::json!({
            "username": username, "password": password, "new_password": new
        }))
        .await
    }

    async fn sign_in(&self, request: Value) -> Result<Session, Resp> {
        let r = self
            .json(
                Method::POST,
                "/api/v1/session",
                &Session::default(),
                request,
            )
            .await;
        if r.status != StatusCode::OK {
            return Err(r);
        }
        let cookie = r
            .headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("jiceng_session="))
            .map(|v| v.split(';').next().unwrap_or("").to_owned())
            .expect("session cookie");
        let csrf = r.json()["csrf_token"].as_str().expect("csrf").to_owned();
        Ok(Session {
            cookie: Some(cookie),
            csrf,
        })
    }

    /// Ends every assignment of grid `grid` still running, as `s` (a township's staff).
    pub async fn end_assignments(&self, grid: i64, s: &Session) {
        let workers = self
            .get(&format!("/api/v1/grids/{grid}/workers"), s)
            .await
            .json();
        for w in workers.as_array().expect("a list of assignments") {
            if w["to_at"].is_null() {
                let path = format!("/grids/assignments/{}/end", w["id"]);
                let r = self.form(&path, s, &[]).await;
                assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
            }
        }
    }

    /// The first page of audit rows of `action` (exact, or a group ending in a dot), on
    /// targets containing `target` when given.
    pub async fn audited(&self, action: &str, target: Option<&str>) -> jiceng::audit::AuditPage {
        jiceng::audit::search(
            self.db(),
            &jiceng::audit::AuditFilter {
                action: Some(action.to_owned()),
                target: target.map(str::to_owned),
                ..Default::default()
            },
        )
        .await
        .expect("audit search")
    }

    /// The id of the organisation with `code`.
    pub async fn org_id(&self, code: &str) -> i64 {
        let mut c = self.db().acquire().await.expect("conn");
        jiceng::orgs::store::get_by_code(&mut c.conn(), code)
            .await
            .expect("query")
            .expect("org exists")
            .id
            .0
    }

    /// The one BIGINT a query answers (a count, an id), read straight from the database.
    pub async fn count(&self, sql: &str) -> i64 {
        self.scalar(sql).await
    }

    /// The one value a query answers, read straight from the database.
    pub async fn scalar<T>(&self, sql: &str) -> T
    where
        T: Send + Unpin,
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        let mut c = self.db().acquire().await.expect("conn");
        let mut conn = c.conn();
        jiceng::on_conn!(&mut conn, c => sqlx::query_scalar::<_, T>(sql)
            .fetch_one(&mut *c)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}")))
    }

    pub async fn exec(&self, sql: &str) {
        let mut c = self.db().acquire().await.expect("conn");
        c.conn()
            .execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}
