//! Settings: defaults, then `jiceng.toml`, then `JICENG_*` environment variables, then flags.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Where the embedded database and other files live.
    pub data_dir: PathBuf,
    /// `postgres://…` for PostgreSQL, `sqlite:…` for another SQLite file; empty for the
    /// default `jiceng.db` in the data directory.
    pub database_url: Option<String>,
    pub listen: String,
    /// The address users open, e.g. `https://jiceng.example.gov.cn`. Used for the Origin check
    /// and to decide the cookies' Secure flag.
    pub public_url: String,
    pub session_idle_minutes: u32,
    pub audit_retention_days: u32,
    pub max_body_bytes: usize,
    pub request_timeout_seconds: u64,
    /// Take the client address from X-Forwarded-For (only behind a trusted reverse proxy).
    pub trust_forwarded_for: bool,
    /// `text` or `json`.
    pub log_format: String,
    /// A directory of process definition files (`*.toml`) that replace the built-in ones.
    pub process_dir: Option<PathBuf>,
    /// How often the deadline scheduler looks for expired time limits.
    pub scheduler_interval_seconds: u64,
    /// Open311 service requests one API key may file per minute.
    pub open311_requests_per_minute: u32,
    /// Reports one network address may file per hour through the public form and API.
    pub public_reports_per_hour: u32,
    /// Megabytes of photos one network address may attach per hour to public reports.
    pub public_upload_mib_per_hour: u32,
    /// AES-256 key (64 hex digits) for personal data at rest (ID numbers in the grid register).
    /// When unset, `personal_data.key` in the data directory is used, created on first use.
    pub personal_data_key: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("./data"),
            database_url: None,
            listen: "127.0.0.1:8080".to_owned(),
            public_url: String::new(),
            session_idle_minutes: 30,
            audit_retention_days: crate::audit::MIN_RETENTION_DAYS,
            max_body_bytes: 2 * 1024 * 1024,
            request_timeout_seconds: 30,
            trust_forwarded_for: false,
            log_format: "text".to_owned(),
            process_dir: None,
            scheduler_interval_seconds: 30,
            open311_requests_per_minute: 30,
            public_reports_per_hour: 20,
            public_upload_mib_per_hour: 100,
            personal_data_key: None,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
}

impl Settings {
    /// Loads settings from `config_file` (or `./jiceng.toml` when present), the environment and
    /// the flags, and checks them.
    pub fn load(config_file: Option<&Path>, flags: Overrides) -> Result<Settings> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match config_file {
            Some(f) if !f.exists() => {
                return Err(Error::invalid(
                    "config",
                    format!("配置文件 {} 不存在", f.display()),
                ));
            }
            Some(f) => fig = fig.merge(Toml::file(f)),
            None => fig = fig.merge(Toml::file("jiceng.toml")),
        }
        fig = fig
            .merge(Env::prefixed("JICENG_"))
            .merge(Serialized::defaults(flags));
        let mut s: Settings = fig
            .extract()
            .map_err(|e| Error::invalid("config", format!("配置有误：{e}")))?;
        if s.database_url
            .as_deref()
            .is_some_and(|u| u.trim().is_empty())
        {
            s.database_url = None;
        }
        s.validate()?;
        Ok(s)
    }

    pub fn validate(&mut self) -> Result<()> {
        if self.audit_retention_days < crate::audit::MIN_RETENTION_DAYS {
            return Err(Error::invalid(
                "audit_retention_days",
                format!(
                    "审计日志保存期不得少于 {} 天",
                    crate::audit::MIN_RETENTION_DAYS
                ),
            ));
        }
        if !(1..=1440).contains(&self.session_idle_minutes) {
            return Err(Error::invalid(
                "session_idle_minutes",
                "会话空闲超时应在 1–1440 分钟之间",
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(Error::invalid(
                "max_body_bytes",
                "请求体上限不得小于 1024 字节",
            ));
        }
        if self.public_url.is_empty() {
            self.public_url = format!("http://{}", self.listen);
        }
        Ok(())
    }

    pub fn session_idle_seconds(&self) -> i64 {
        i64::from(self.session_idle_minutes) * 60
    }

    /// Cookies get the Secure flag whenever users reach us over HTTPS.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
