//! Browser test of the case loop: in a real headless Chromium a citizen reports a problem on
//! the public form and gets a receipt code, the dispatcher dispatches it citing a listed item,
//! the station accepts and reports, the dispatcher checks and closes it, and the citizen rates
//! it on the tracking page by the receipt code.
//!
//! Same harness as `browser.rs`: needs Debian's `chromium` and `chromium-driver`; skipped
//! without them, except under `CI=true`, where it fails. Screenshots land in
//! `target/tmp/case_browser/`.

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

/// Signs out by forgetting the session, so that the next person signs in on a clean browser.
async fn sign_in_as(c: &Client, base: &str, username: &str) -> Result<()> {
    c.delete_all_cookies().await?;
    c.goto(&format!("{base}/login")).await?;
    fill_login(c, username, jiceng::demo::DEMO_PASSWORD).await?;
    wait_for(
        c,
        Locator::XPath("//main//h1[normalize-space()='我的工作']"),
        "the home page after signing in",
    )
    .await?;
    Ok(())
}

/// Submits the case page's form for `action` (with `comment` when given) and waits until the
/// case shows `state_label` as its current step.
async fn act_on_case(
    c: &Client,
    action: &str,
    comment: Option<&str>,
    state_label: &str,
) -> Result<()> {
    let form_xpath = format!("//form[input[@name='action' and @value='{action}']]");
    let form = wait_for(
        c,
        Locator::XPath(&form_xpath),
        &format!("the {action} form"),
    )
    .await?;
    if let Some(text) = comment {
        form.find(Locator::Css("textarea[name=comment]"))
            .await?
            .send_keys(text)
            .await?;
    }
    form.find(Locator::Css("button[type=submit]"))
        .await?
        .click()
        .await?;
    wait_for(
        c,
        Locator::XPath(&format!(
            "//dt[normalize-space()='当前环节']/following-sibling::dd[1][starts-with(normalize-space(), '{state_label}')]"
        )),
        &format!("the case to be {state_label}"),
    )
    .await?;
    Ok(())
}

async fn case_journey(c: &Client, base: &str, shots: &Path) -> Result<()> {
    // The citizen's report. The form refuses answers faster than a person types, so the
    // test waits out the minimum fill time before submitting.
    c.goto(&format!("{base}/public/cases/new")).await?;
    let opened = Instant::now();
    let phrase = "浏览器测试：农贸市场有摊位销售变质猪肉";
    wait_for(
        c,
        Locator::Css("select[name=township_code]"),
        "the public report form",
    )
    .await?;
    c.find(Locator::XPath(
        "//select[@name='township_code']/option[@value='510117006000']",
    ))
    .await?
    .click()
    .await?;
    c.find(Locator::XPath(
        "//select[@name='category']/option[@value='0601']",
    ))
    .await?
    .click()
    .await?;
    c.find(Locator::Css("textarea[name=description]"))
        .await?
        .send_keys(&format!("{phrase}，气味很大，请尽快查处。"))
        .await?;
    c.find(Locator::Css("input[name=address]"))
        .await?
        .send_keys("犀浦街道百草路农贸市场")
        .await?;
    c.find(Locator::Css("input[name=reporter_name]"))
        .await?
        .send_keys("陈女士")
        .await?;
    c.find(Locator::Css("input[name=reporter_phone]"))
        .await?
        .send_keys("13912345678")
        .await?;
    let min_fill = Duration::from_millis(3_500);
    if let Some(rest) = min_fill.checked_sub(opened.elapsed()) {
        tokio::time::sleep(rest).await;
    }
    screenshot(c, shots, "public-form.png").await?;
    c.find(Locator::XPath(
        "//form[contains(@action,'/public/cases')]//button[@type='submit']",
    ))
    .await?
    .click()
    .await?;
    wait_for(
        c,
        Locator::XPath("//main//h1[normalize-space()='已收到您反映的问题']"),
        "the receipt page",
    )
    .await?;
    let code = text_of(c, "strong.code").await?;
    ensure!(
        code.len() == 14,
        "a receipt code looks like ABCD-EFGH-JKMN, got {code:?}"
    );
    screenshot(c, shots, "receipt.png").await?;

    // The dispatcher finds it and dispatches it to the market station, citing SD-063.
    sign_in_as(c, base, "xipu_dispatch").await?;
    c.goto(&format!("{base}/cases?q={phrase}")).await?;
    let link = wait_for(
        c,
        Locator::XPath("//main//table//a[starts-with(@href,'/cases/')]"),
        "the new case in the list",
    )
    .await?;
    let href = link.attr("href").await?.context("case link without href")?;
    let case_url = format!("{base}{href}");
    c.goto(&case_url).await?;
    let dispatch = "//form[input[@name='action' and @value='dispatch']]";
    wait_for(c, Locator::XPath(dispatch), "the dispatch form").await?;
    c.find(Locator::XPath(&format!(
        "{dispatch}//select[@name='unit']/option[contains(normalize-space(),'市场监管')]"
    )))
    .await
    .context("the dispatch form offers no 市场监管 station")?
    .click()
    .await?;
    let item = c
        .find(Locator::XPath(&format!("{dispatch}//input[@name='item']")))
        .await?;
    item.clear().await?;
    item.send_keys("SD-063").await?;
    act_on_case(c, "dispatch", None, "已派遣").await?;
    screenshot(c, shots, "dispatched.png").await?;

    // The station head accepts and reports what was done.
    sign_in_as(c, base, "suozhang").await?;
    c.goto(&case_url).await?;
    act_on_case(c, "accept", None, "处置中").await?;
    act_on_case(
        c,
        "report",
        Some("已到现场责令下架变质猪肉并立案调查，现场已整改"),
        "待核查",
    )
    .await?;

    // The dispatcher checks and closes it.
    sign_in_as(c, base, "xipu_dispatch").await?;
    c.goto(&case_url).await?;
    act_on_case(c, "close", Some("现场核查已整改到位"), "已结案").await?;
    screenshot(c, shots, "closed.png").await?;

    // The citizen, signed out, follows the receipt code and rates the outcome.
    c.delete_all_cookies().await?;
    c.goto(&format!("{base}/public/cases/track?code={code}"))
        .await?;
    let rate = "//form[@action='/public/cases/rate']";
    wait_for(
        c,
        Locator::XPath(rate),
        "the rating form on the tracking page",
    )
    .await?;
    let body = text_of(c, "main").await?;
    ensure!(
        body.contains("已办结") && body.contains("责令下架"),
        "the tracking page should show the closed case and the station's report:\n{body}"
    );
    c.find(Locator::XPath(&format!(
        "{rate}//select[@name='rating']/option[@value='satisfied']"
    )))
    .await?
    .click()
    .await?;
    c.find(Locator::XPath(&format!(
        "{rate}//textarea[@name='comment']"
    )))
    .await?
    .send_keys("处理很及时，谢谢")
    .await?;
    c.find(Locator::XPath(&format!("{rate}//button[@type='submit']")))
        .await?
        .click()
        .await?;
    wait_for(
        c,
        Locator::XPath("//main//*[contains(normalize-space(),'您的评价')]"),
        "the rating on the tracking page",
    )
    .await?;
    let main = text_of(c, "main").await?;
    ensure!(
        main.contains("满意") && c.find(Locator::XPath(rate)).await.is_err(),
        "after rating, the tracking page should show the rating and no form:\n{main}"
    );
    screenshot(c, shots, "rated.png").await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_report_is_dispatched_handled_closed_and_rated() {
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
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("case_browser");
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let _ = std::fs::remove_file(shots.join("failure.png"));

    let base = start_app(&data_dir).await.expect("start the app");
    let mut driver =
        ChromeDriver::start(shots.join("chromedriver.log")).expect("start chromedriver");
    let client = connect(&mut driver, &profile)
        .await
        .expect("browser session");

    let outcome = tokio::time::timeout(
        Duration::from_secs(240),
        case_journey(&client, &base, &shots),
    )
    .await
    .unwrap_or_else(|_| Err(anyhow::anyhow!("the journey took longer than 240 s")));
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
