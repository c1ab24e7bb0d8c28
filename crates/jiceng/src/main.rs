//! The `jiceng` binary: serve, migrate, demo, check, import, audit, eval, bench.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use jiceng::config::{Overrides, Settings};
use jiceng::{Db, audit, demo, web};

#[derive(Parser)]
#[command(
    name = "jiceng",
    version,
    about = "基层治理平台 (Jiceng): township and street reform for a district"
)]
struct Cli {
    /// Configuration file (default: ./jiceng.toml when present).
    #[arg(long, global = true, env = "JICENG_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory for the embedded SQLite database (default ./data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// postgres://user@host/db for PostgreSQL; empty for embedded SQLite.
    #[arg(long, global = true)]
    database_url: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server (migrates the database first).
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
        /// Load the demo district first if the database is empty.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Load the demo district (郫都区) into an empty database and print its accounts.
    Demo,
    /// Check the configuration and that the database is reachable and migrated.
    Check,
    /// Audit trail commands.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Import data files.
    Import {
        #[command(subcommand)]
        command: ImportCommand,
    },
    /// Accounts, for the server's operators.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Open311 GeoReport v2 administration.
    Open311 {
        #[command(subcommand)]
        command: Open311Command,
    },
    /// Measure a model on labelled files.
    Eval {
        #[command(subcommand)]
        command: EvalCommand,
    },
    /// Benchmarks that print figures (they create and remove their own databases).
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// Case intake: raw insert ceiling, end-to-end intake over HTTP with p50/p99, and the
    /// metrics of one township over a year with this many cases in the table.
    Cases {
        /// Cases seeded before measuring.
        #[arg(long, default_value_t = 1_000_000)]
        cases: u64,
        /// Concurrent clients, raw and over HTTP: each level is measured in turn (default 8,64).
        #[arg(long, value_delimiter = ',')]
        clients: Vec<usize>,
        /// Also run on a throwaway database of this PostgreSQL server (postgres://…/db).
        #[arg(long)]
        postgres: Option<String>,
    },
    /// Workflow transitions per second and the metrics query at scale.
    Workflow {
        /// Instances seeded before measuring.
        #[arg(long, default_value_t = 1_000_000)]
        instances: u64,
        /// Also run on a throwaway database of this PostgreSQL server (postgres://…/db).
        #[arg(long)]
        postgres: Option<String>,
    },
}

#[derive(Subcommand)]
enum AccountCommand {
    /// Create an account (an administrator's, say) and print its temporary password; the
    /// owner replaces it at the first sign-in.
    Create {
        /// The account's username.
        username: String,
        /// The person's name.
        #[arg(long)]
        name: String,
        /// A role (system_admin, security_admin, audit_admin, …); repeat for several.
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
        /// The organisation's code (default: the district).
        #[arg(long)]
        org: Option<String>,
    },
    /// Give an account (an administrator's, say) a temporary password and print it; the owner
    /// must replace it at the next sign-in, and its sessions end.
    Password {
        /// The account's username.
        username: String,
    },
}

#[derive(Subcommand)]
enum Open311Command {
    /// API keys for client applications.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
}

#[derive(Subcommand)]
enum KeyCommand {
    /// Issue a key and print it (only its hash is kept).
    Create {
        /// The application or body that will use the key.
        #[arg(long)]
        name: String,
        /// The district's 12-digit code; needed only when the database holds several.
        #[arg(long)]
        district: Option<String>,
    },
}

#[derive(Subcommand)]
enum EvalCommand {
    /// Case routing: learns TRAIN as if people had routed those cases, routes every text of
    /// TEST and prints `top1=… top3=… n=…` last. Both are UTF-8 CSV with a header and the
    /// columns `text,label`.
    Routing {
        #[arg(long)]
        train: PathBuf,
        #[arg(long)]
        test: PathBuf,
    },
}

#[derive(Subcommand)]
enum ImportCommand {
    /// Import duty lists from .xlsx or .csv, all rows or none: without a 乡镇代码 column the
    /// file replaces the general catalog, with it each named township's local additions.
    /// The result is a new draft version for the establishment office to publish.
    DutyList {
        file: PathBuf,
        /// Why the lists change (e.g. the document that requires it).
        #[arg(long, default_value = "命令行导入")]
        reason: String,
        /// The district's 12-digit code; needed only when the database holds several.
        #[arg(long)]
        district: Option<String>,
    },
    /// Import community and grid boundaries from a GeoJSON FeatureCollection (property `code`:
    /// the 12-digit community or 15-digit grid code), all features or none.
    Grids {
        file: PathBuf,
        /// The district's 12-digit code; needed only when the database holds several.
        #[arg(long)]
        district: Option<String>,
        /// Coordinates are GCJ-02 (AMap, Tencent maps): convert them to WGS-84.
        #[arg(long)]
        gcj02: bool,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Verify the hash chain; exits non-zero if any row was edited or deleted.
    Verify,
    /// Delete audit rows older than the retention period (at least 184 days).
    Purge,
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("JICENG_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn open(settings: &Settings) -> Result<Db> {
    let db = Db::connect(settings.database_url.as_deref(), &settings.data_dir)
        .await
        .context("无法连接数据库")?;
    Ok(db)
}

fn print_demo(summary: &demo::DemoSummary) {
    println!("已载入演示区县：郫都区");
    for (kind, n) in &summary.orgs_by_kind {
        println!("  {}：{n}", kind.label());
    }
    println!(
        "  权责清单：通用目录 {} 项，个性化清单 {} 项（已发布）",
        summary.catalog.0, summary.catalog.1
    );
    println!("演示账号（密码均为 {}）：", summary.password);
    for a in &summary.accounts {
        println!(
            "  {:<16} {:<6} {:<12} {}",
            a.username,
            a.display_name,
            a.role.label(),
            a.org_name
        );
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen, .. } => listen.clone(),
        _ => None,
    };
    let flags = Overrides {
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        listen,
    };
    let settings =
        Settings::load(cli.config.as_deref(), flags).map_err(|e| anyhow::anyhow!("{e}"))?;
    init_logging(&settings.log_format);

    match cli.command {
        Command::Serve {
            demo: with_demo, ..
        } => {
            let started = std::time::Instant::now();
            let db = open(&settings).await?;
            let applied = db.migrate().await.context("数据库迁移失败")?;
            if !applied.is_empty() {
                tracing::info!(?applied, "migrations applied");
            }
            if with_demo
                && !demo::is_loaded(&db)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                let summary = demo::load(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                print_demo(&summary);
            }
            println!(
                "基层治理平台已启动：{}/  （API 文档：{}/api/openapi.json）",
                settings.public_url, settings.public_url
            );
            if with_demo {
                println!(
                    "登录示例：用户名 xipu_officer，密码 {}",
                    demo::DEMO_PASSWORD
                );
            }
            tracing::info!(listen = %settings.listen, startup_ms = started.elapsed().as_millis() as u64, "serving");
            web::serve(db.clone(), settings).await?;
            db.close().await;
        }
        Command::Migrate => {
            let db = open(&settings).await?;
            let applied = db.migrate().await.context("数据库迁移失败")?;
            if applied.is_empty() {
                println!("数据库已是最新版本");
            } else {
                println!("已应用迁移：{applied:?}");
            }
        }
        Command::Demo => {
            let db = open(&settings).await?;
            db.migrate().await.context("数据库迁移失败")?;
            let summary = demo::load(&db).await.map_err(|e| anyhow::anyhow!("{e}"))?;
            print_demo(&summary);
        }
        Command::Check => {
            println!(
                "配置：数据目录 {}，监听 {}，对外地址 {}",
                settings.data_dir.display(),
                settings.listen,
                settings.public_url
            );
            let db = open(&settings).await?;
            db.ping().await.context("数据库不可用")?;
            let applied = jiceng::db::applied_migrations(&db).await?;
            let pending: Vec<_> = jiceng::db::MIGRATIONS
                .iter()
                .filter(|m| !applied.contains(&m.version))
                .map(|m| m.version)
                .collect();
            println!("数据库：{:?}，已应用迁移 {applied:?}", db.dialect());
            if !pending.is_empty() {
                bail!("有未应用的迁移 {pending:?}：请运行 jiceng migrate");
            }
            println!("检查通过");
        }
        Command::Audit {
            command: AuditCommand::Verify,
        } => {
            let db = open(&settings).await?;
            let report = audit::verify(&db)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "已校验 {} 行（第 {:?} 至 {:?} 行）",
                report.rows_checked, report.first_seq, report.last_seq
            );
            if !report.ok() {
                for p in &report.problems {
                    println!("异常：{p}");
                }
                bail!("审计链校验失败：{} 处异常", report.problems.len());
            }
            println!("审计链完整");
        }
        Command::Bench {
            command:
                BenchCommand::Cases {
                    cases,
                    clients,
                    postgres,
                },
        } => {
            let clients = if clients.is_empty() {
                jiceng::cases::bench::DEFAULT_CLIENTS.to_vec()
            } else {
                clients
            };
            let reports = jiceng::cases::bench::run_all(cases, &clients, postgres.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for r in &reports {
                r.print();
            }
        }
        Command::Bench {
            command:
                BenchCommand::Workflow {
                    instances,
                    postgres,
                },
        } => {
            let reports = jiceng::workflow::bench::run_all(instances, postgres.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for r in &reports {
                r.print();
            }
        }
        Command::Import {
            command:
                ImportCommand::DutyList {
                    file,
                    reason,
                    district,
                },
        } => {
            let bytes =
                std::fs::read(&file).with_context(|| format!("无法读取文件 {}", file.display()))?;
            let db = open(&settings).await?;
            db.migrate().await.context("数据库迁移失败")?;
            let district = jiceng::catalog::district_by_code(&db, district.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let done = jiceng::catalog::import_file(
                &db,
                &audit::Actor::system("import"),
                district,
                &bytes,
                &reason,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            for d in done {
                match d.version {
                    Some(v) => println!(
                        "{}：{} 项，生成第 {v} 版（草稿，待编办发布）",
                        d.title, d.items
                    ),
                    None => println!("{}：{} 项，与当前版本相同，未生成新版本", d.title, d.items),
                }
            }
        }
        Command::Account {
            command:
                AccountCommand::Create {
                    username,
                    name,
                    roles,
                    org,
                },
        } => {
            let db = open(&settings).await?;
            db.migrate().await.context("数据库迁移失败")?;
            let roles = roles
                .iter()
                .map(|r| {
                    jiceng::auth::Role::parse(r).ok_or_else(|| anyhow::anyhow!("未知角色：{r}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let password = jiceng::auth::create_account_by_operator(
                &db,
                &username,
                &name,
                org.as_deref(),
                &roles,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{password}");
            eprintln!("已创建账号 {username}，临时密码如上：本人首次登录时须改设自己的密码。");
        }
        Command::Account {
            command: AccountCommand::Password { username },
        } => {
            let db = open(&settings).await?;
            db.migrate().await.context("数据库迁移失败")?;
            let password = jiceng::auth::reset_password_by_operator(&db, &username)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{password}");
            eprintln!(
                "账号 {username} 的临时密码如上：本人登录时须改设自己的密码，原有会话已全部退出。"
            );
        }
        Command::Open311 {
            command:
                Open311Command::Key {
                    command: KeyCommand::Create { name, district },
                },
        } => {
            let db = open(&settings).await?;
            db.migrate().await.context("数据库迁移失败")?;
            let district = jiceng::catalog::district_by_code(&db, district.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let (_, key) =
                jiceng::open311::create_key(&db, &audit::Actor::system("open311"), district, &name)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{key}");
        }
        Command::Import {
            command:
                ImportCommand::Grids {
                    file,
                    district,
                    gcj02,
                },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("无法读取文件 {}（须为 UTF-8 文本）", file.display()))?;
            let db = open(&settings).await?;
            db.migrate().await.context("数据库迁移失败")?;
            let district = jiceng::catalog::district_by_code(&db, district.as_deref())
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let done = jiceng::grids::import_boundaries(
                &db,
                &jiceng::grids::GridIndex::new(),
                &audit::Actor::system("import"),
                &format!("/{district}/"),
                &text,
                gcj02,
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "已导入 {} 个村（社区）、{} 个网格的边界",
                done.communities, done.grids
            );
        }
        Command::Eval {
            command: EvalCommand::Routing { train, test },
        } => {
            let open_csv = |p: &PathBuf| {
                std::fs::File::open(p).with_context(|| format!("无法读取文件 {}", p.display()))
            };
            let report = routing::eval::run(open_csv(&train)?, open_csv(&test)?)
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{report}");
        }
        Command::Audit {
            command: AuditCommand::Purge,
        } => {
            let db = open(&settings).await?;
            let n = audit::purge(
                &db,
                &audit::Actor::system("purge"),
                settings.audit_retention_days,
                jiceng::time::Timestamp::now(),
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "已清理 {n} 行超过 {} 天的审计记录",
                settings.audit_retention_days
            );
        }
    }
    Ok(())
}
