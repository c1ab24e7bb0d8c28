//! The headless-Chromium harness the browser tests share: chromedriver as a guarded child
//! process, the app on a free port with the demo district, a browser session, helpers to wait
//! and sign in, screenshots, and the run that ends with a failure screenshot.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`).
//! Without them a test is skipped, except under `CI=true`, where it fails: CI must not pass
//! without having driven a browser. Screenshots land in `target/tmp/<test>/`.

// Each browser test compiles this module on its own and uses only some of its helpers.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use fantoccini::{Client, ClientBuilder, Locator};
use tempfile::TempDir;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long any one wait (a page, an element, chromedriver starting) may take.
pub const WAIT: Duration = Duration::from_secs(30);

/// A chromedriver child process, killed with everything it started when dropped (also when the
/// test panics).
struct ChromeDriver {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl ChromeDriver {
    fn start(log: PathBuf) -> Result<ChromeDriver> {
        let port = free_port()?;
        let log_file = std::fs::File::create(&log)
            .with_context(|| format!("cannot create {}", log.display()))?;
        let mut cmd = Command::new(CHROMEDRIVER);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone()?)
            .stderr(log_file);
        // A process group of its own, so that the guard can end Chromium along with it.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {CHROMEDRIVER}"))?;
        Ok(ChromeDriver { child, port, log })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// chromedriver's own output, for failure messages.
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // Chromium and its helpers run in chromedriver's process group: end the whole group,
        // which we created and which holds only processes this test started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> Result<u16> {
    let l = StdTcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Starts the app in this process on a free port with a fresh SQLite database and the demo
/// district; returns its base URL.
async fn start_app(data_dir: &Path) -> Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr: SocketAddr = listener.local_addr()?;
    let mut settings = jiceng::Settings {
        data_dir: data_dir.to_path_buf(),
        database_url: None,
        listen: addr.to_string(),
        ..Default::default()
    };
    settings
        .validate()
        .map_err(|e| anyhow::anyhow!("settings: {e}"))?;
    let db = jiceng::Db::connect(None, data_dir)
        .await
        .map_err(|e| anyhow::anyhow!("connect: {e}"))?;
    db.migrate()
        .await
        .map_err(|e| anyhow::anyhow!("migrate: {e}"))?;
    jiceng::demo::load(&db)
        .await
        .map_err(|e| anyhow::anyhow!("demo: {e}"))?;
    tokio::spawn(async move {
        if let Err(e) = jiceng::web::serve_on(listener, db, settings).await {
            eprintln!("server stopped: {e}");
        }
    });
    Ok(format!("http://{addr}"))
}

/// Connects to chromedriver, retrying while it starts up.
async fn connect(driver: &mut ChromeDriver, profile: &Path, window: Window) -> Result<Client> {
    let mut options = serde_json::json!({
            "binary": CHROMIUM,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                format!("--window-size={}", window.size()),
                format!("--user-data-dir={}", profile.display()),
            ],
    });
    if window == Window::Phone {
        // Headless windows have a minimum width; emulate a phone's viewport instead.
        options["mobileEmulation"] = serde_json::json!({
            "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2.0, "touch": true },
        });
    }
    let mut caps = serde_json::Map::new();
    caps.insert("goog:chromeOptions".to_owned(), options);
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(status) = driver.child.try_wait()? {
            bail!(
                "chromedriver exited early ({status}):\n{}",
                driver.log_text()
            );
        }
        match ClientBuilder::native()
            .capabilities(caps.clone())
            .connect(&driver.url())
            .await
        {
            Ok(c) => return Ok(c),
            // Most likely chromedriver is not listening yet.
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => bail!(
                "cannot open a browser session through chromedriver: {e}\n{}",
                driver.log_text()
            ),
        }
    }
}

/// The visible text of the first element matching `css`.
pub async fn text_of(c: &Client, css: &str) -> Result<String> {
    let el = c
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("no element {css}"))?;
    Ok(el.text().await?)
}

pub async fn wait_for(
    c: &Client,
    loc: Locator<'_>,
    what: &str,
) -> Result<fantoccini::elements::Element> {
    c.wait()
        .at_most(WAIT)
        .for_element(loc)
        .await
        .with_context(|| format!("waited {}s for {what}", WAIT.as_secs()))
}

pub async fn fill_login(c: &Client, username: &str, password: &str) -> Result<()> {
    let user = wait_for(c, Locator::Css("#username"), "the username field").await?;
    user.clear().await?;
    user.send_keys(username).await?;
    let pass = c.find(Locator::Css("#password")).await?;
    pass.clear().await?;
    pass.send_keys(password).await?;
    let form = c.find(Locator::Css("form[action=\"/login\"]")).await?;
    ensure!(
        form.find(Locator::Css("#login-submit")).await.is_ok(),
        "the login form has no #login-submit button"
    );
    c.find(Locator::Css("#login-submit")).await?.click().await?;
    Ok(())
}

pub async fn screenshot(c: &Client, dir: &Path, name: &str) -> Result<PathBuf> {
    let png = c.screenshot().await?;
    let path = dir.join(name);
    std::fs::write(&path, png)?;
    println!("screenshot: {}", path.display());
    Ok(path)
}

/// The window a journey runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Desktop,
    /// A 390 px phone screen (emulated: headless windows cannot be that narrow).
    Phone,
}

impl Window {
    fn size(self) -> &'static str {
        match self {
            Window::Desktop => "1280,900",
            Window::Phone => "390,844",
        }
    }
}

/// A browser session on a fresh app: its client, the app's base URL and the screenshot folder.
pub struct Browser {
    pub client: Client,
    pub base: String,
    pub shots: PathBuf,
    driver: ChromeDriver,
    _tmp: TempDir,
}

impl Browser {
    /// Starts the app and a browser, screenshots in `target/tmp/<name>/`; `None` when the
    /// browser is not installed outside CI (the test is then skipped).
    pub async fn start(name: &str, window: Window) -> Option<Browser> {
        if !Path::new(CHROMEDRIVER).exists() {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!(
                    "{CHROMEDRIVER} is missing and CI=true: the browser test must run in CI \
                     (apt-get install chromium chromium-driver)"
                );
            }
            eprintln!(
                "SKIPPED {name}: {CHROMEDRIVER} is missing \
                 (apt-get install chromium chromium-driver to run it)"
            );
            return None;
        }
        let tmp = tempfile::tempdir().expect("temp dir");
        let data_dir = tmp.path().join("data");
        let profile = tmp.path().join("chromium-profile");
        std::fs::create_dir_all(&profile).expect("profile dir");
        // Kept after the test (unlike the temp dir) so that a person or CI can look at them.
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::create_dir_all(&shots).expect("screenshot dir");
        let _ = std::fs::remove_file(shots.join("failure.png"));
        let base = start_app(&data_dir).await.expect("start the app");
        let mut driver =
            ChromeDriver::start(shots.join("chromedriver.log")).expect("start chromedriver");
        let client = connect(&mut driver, &profile, window)
            .await
            .expect("browser session");
        Some(Browser {
            client,
            base,
            shots,
            driver,
            _tmp: tmp,
        })
    }

    /// Runs a journey within `seconds`, an overrun being a failure like any other.
    pub async fn within(
        &self,
        seconds: u64,
        journey: impl std::future::Future<Output = Result<()>>,
    ) -> Result<()> {
        tokio::time::timeout(Duration::from_secs(seconds), journey)
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the journey took longer than {seconds} s")))
    }

    /// Ends the session (with a screenshot of a failure) and fails the test with the journey's
    /// error.
    pub async fn finish(self, outcome: Result<()>) {
        let short = Duration::from_secs(10);
        if outcome.is_err() {
            let _ =
                tokio::time::timeout(short, screenshot(&self.client, &self.shots, "failure.png"))
                    .await;
        }
        let _ = tokio::time::timeout(short, self.client.close()).await;
        drop(self.driver);
        if let Err(e) = outcome {
            panic!("{e:#}");
        }
    }
}
