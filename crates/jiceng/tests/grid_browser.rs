//! Browser test of the grid worker's mobile page: a real headless Chromium on a phone-sized
//! window signs in as the demo grid worker, starts a patrol and records a problem found.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`).
//! Without them the test is skipped, except under `CI=true`, where it fails: CI must not pass
//! without having driven a browser. Screenshots land in `target/tmp/grid-browser/`.

use std::net::{SocketAddr, TcpListener as StdTcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use fantoccini::{Client, ClientBuilder, Locator};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// How long any one wait (a page, an element, chromedriver starting) may take.
const WAIT: Duration = Duration::from_secs(30);

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
async fn connect(driver: &mut ChromeDriver, profile: &Path) -> Result<Client> {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".to_owned(),
        serde_json::json!({
            "binary": CHROMIUM,
            // Headless windows have a minimum width; emulate a phone's viewport instead.
            "mobileEmulation": {
                "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2.0, "touch": true },
            },
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=390,844",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
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
async fn text_of(c: &Client, css: &str) -> Result<String> {
    let el = c
        .find(Locator::Css(css))
        .await
        .with_context(|| format!("no element {css}"))?;
    Ok(el.text().await?)
}

async fn wait_for(
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

async fn fill_login(c: &Client, username: &str, password: &str) -> Result<()> {
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

async fn screenshot(c: &Client, dir: &Path, name: &str) -> Result<PathBuf> {
    let png = c.screenshot().await?;
    let path = dir.join(name);
    std::fs::write(&path, png)?;
    println!("screenshot: {}", path.display());
    Ok(path)
}

async fn worker_journey(c: &Client, base: &str, shots: &Path) -> Result<()> {
    c.goto(&format!("{base}/login?next=%2Fgrids%2Fmine"))
        .await?;
    fill_login(c, "wanggeyuan", jiceng::demo::DEMO_PASSWORD).await?;
    c.goto(&format!("{base}/grids/mine")).await?;
    wait_for(
        c,
        Locator::XPath("//main//h1[normalize-space()='我的网格']"),
        "the 我的网格 page",
    )
    .await?;
    let width: i64 = c
        .execute("return document.documentElement.clientWidth", vec![])
        .await?
        .as_i64()
        .unwrap_or(0);
    ensure!(width <= 400, "a phone-sized window, got {width}px");
    screenshot(c, shots, "mine.png").await?;
    wait_for(c, Locator::Css("#patrol-start"), "the 开始巡查 button")
        .await?
        .click()
        .await?;
    let category = wait_for(c, Locator::Css("#problem-category"), "the problem form").await?;
    category.send_keys("占道经营").await?;
    c.find(Locator::Css("#problem-description"))
        .await?
        .send_keys("菜市场门口三轮车占用人行道")
        .await?;
    c.find(Locator::Css("#problem-submit"))
        .await?
        .click()
        .await?;
    wait_for(
        c,
        Locator::XPath(
            "//ul[contains(@class,'found')]//li[contains(., '菜市场门口三轮车占用人行道')]",
        ),
        "the recorded problem in the patrol",
    )
    .await?;
    let flash = text_of(c, "p.flash").await?;
    ensure!(
        flash.contains("已记录"),
        "expected a confirmation, got {flash:?}"
    );
    // Nothing overflows sideways on a phone.
    let scroll: i64 = c
        .execute("return document.documentElement.scrollWidth", vec![])
        .await?
        .as_i64()
        .unwrap_or(0);
    ensure!(
        scroll <= width + 1,
        "the page is {scroll}px wide in a {width}px window"
    );
    screenshot(c, shots, "problem-recorded.png").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_grid_worker_records_a_patrol_problem_on_a_phone() {
    if !Path::new(CHROMEDRIVER).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{CHROMEDRIVER} is missing and CI=true: the browser test must run in CI");
        }
        eprintln!("SKIPPED grid browser test: {CHROMEDRIVER} is missing");
        return;
    }
    let tmp = tempfile::tempdir().expect("temp dir");
    let data_dir = tmp.path().join("data");
    let profile = tmp.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("grid-browser");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let base = start_app(&data_dir).await.expect("start the app");
    let mut driver =
        ChromeDriver::start(shots.join("chromedriver.log")).expect("start chromedriver");
    let client = connect(&mut driver, &profile)
        .await
        .expect("browser session");
    let outcome = tokio::time::timeout(
        Duration::from_secs(180),
        worker_journey(&client, &base, &shots),
    )
    .await
    .unwrap_or_else(|_| Err(anyhow::anyhow!("the journey took longer than 180 s")));
    let short = Duration::from_secs(10);
    if outcome.is_err() {
        let _ = tokio::time::timeout(short, screenshot(&client, &shots, "failure.png")).await;
    }
    let _ = tokio::time::timeout(short, client.close()).await;
    drop(driver);
    if let Err(e) = outcome {
        panic!("{e:#}");
    }
}
