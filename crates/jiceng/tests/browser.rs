//! Browser smoke test: a real headless Chromium, driven through chromedriver, signs in to the
//! demo district as a township officer and looks around.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`).
//! Without them the test is skipped, except under `CI=true`, where it fails: CI must not pass
//! without having driven a browser. Screenshots land in `target/tmp/browser/`.

mod browser_harness;

use std::path::Path;

use anyhow::{Context, Result, ensure};
use browser_harness::{Browser, Window, fill_login, screenshot, text_of, wait_for};
use fantoccini::{Client, Locator};

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
    let Some(b) = Browser::start("browser", Window::Desktop).await else {
        return;
    };
    let outcome = b
        .within(180, officer_journey(&b.client, &b.base, &b.shots))
        .await;
    b.finish(outcome).await;
}
