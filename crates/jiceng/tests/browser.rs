//! Browser smoke test: a real headless Chromium, driven through chromedriver, signs in to the
//! demo district as a township officer and looks around.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`).
//! Without them the test is skipped, except under `CI=true`, where it fails: CI must not pass
//! without having driven a browser. Screenshots land in `target/tmp/browser/`.

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
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--window-size=1280,900",
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

/// What a township officer does: a wrong password first, then signing in, then the
/// organisation page.
async fn officer_journey(c: &Client, base: &str, shots: &Path) -> Result<()> {
    // A wrong password: one attempt only, far from the lockout threshold.
    c.goto(&format!("{base}/login")).await?;
    fill_login(c, "xipu_officer", "not-the-password").await?;
    let err = wait_for(c, Locator::Css("p.error"), "the login error message").await?;
    let msg = err.text().await?;
    ensure!(
        msg.contains("用户名或密码错误"),
        "a wrong password should say 用户名或密码错误, the page said {msg:?}"
    );
    ensure!(
        c.current_url().await?.path() == "/login",
        "a wrong password should stay on the login page"
    );
    screenshot(c, shots, "login-wrong-password.png").await?;

    // The right password lands on the home page.
    fill_login(c, "xipu_officer", jiceng::demo::DEMO_PASSWORD).await?;
    wait_for(
        c,
        Locator::XPath("//main//h1[normalize-space()='我的工作']"),
        "the home page (我的工作)",
    )
    .await?;
    let url = c.current_url().await?;
    ensure!(url.path() == "/", "after login expected /, got {url}");
    let body = text_of(c, "body").await?;
    for want in ["我的工作", "吴雨桐", "犀浦街道"] {
        ensure!(
            body.contains(want),
            "the home page should show {want}; it shows:\n{body}"
        );
    }
    let main = text_of(c, "main").await?;
    ensure!(
        main.contains("犀浦街道"),
        "the home page should name the officer's scope 犀浦街道; main shows:\n{main}"
    );
    screenshot(c, shots, "home.png").await?;

    // The 组织机构 menu link lists the officer's street.
    let link = c
        .find(Locator::XPath(
            "//nav[contains(@class,'menu')]//a[normalize-space()='组织机构']",
        ))
        .await
        .context("the menu has no 组织机构 link")?;
    link.click().await?;
    wait_for(
        c,
        Locator::XPath("//main//h1[normalize-space()='组织机构']"),
        "the 组织机构 page",
    )
    .await?;
    ensure!(
        c.current_url().await?.path() == "/orgs",
        "the 组织机构 link should open /orgs"
    );
    let listed = c
        .find_all(Locator::XPath("//main//a[normalize-space()='犀浦街道']"))
        .await?;
    ensure!(
        !listed.is_empty(),
        "the 组织机构 page should list 犀浦街道; main shows:\n{}",
        text_of(c, "main").await?
    );
    screenshot(c, shots, "orgs.png").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_township_officer_logs_in_and_sees_the_home_page() {
    if !Path::new(CHROMEDRIVER).exists() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!(
                "{CHROMEDRIVER} is missing and CI=true: the browser test must run in CI \
                 (apt-get install chromium chromium-driver)"
            );
        }
        eprintln!(
            "SKIPPED browser test: {CHROMEDRIVER} is missing \
             (apt-get install chromium chromium-driver to run it)"
        );
        return;
    }

    let tmp = tempfile::tempdir().expect("temp dir");
    let data_dir = tmp.path().join("data");
    let profile = tmp.path().join("chromium-profile");
    std::fs::create_dir_all(&profile).expect("profile dir");
    // Kept after the test (unlike the temp dir) so that a person or CI can look at them.
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let _ = std::fs::remove_file(shots.join("failure.png"));

    let base = start_app(&data_dir).await.expect("start the app");
    let mut driver =
        ChromeDriver::start(shots.join("chromedriver.log")).expect("start chromedriver");
    let client = connect(&mut driver, &profile)
        .await
        .expect("browser session");

    let outcome = tokio::time::timeout(
        Duration::from_secs(180),
        officer_journey(&client, &base, &shots),
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
