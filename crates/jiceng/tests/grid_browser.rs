//! Browser test of the grid worker's mobile page: a real headless Chromium on a phone-sized
//! window signs in as the demo grid worker, starts a patrol and records a problem found.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`/usr/bin/chromium`, `/usr/bin/chromedriver`).
//! Without them the test is skipped, except under `CI=true`, where it fails: CI must not pass
//! without having driven a browser (see `browser_harness`). Screenshots land in
//! `target/tmp/grid-browser/`.

mod browser_harness;

use std::path::Path;

use anyhow::{Result, ensure};
use browser_harness::{Browser, Window, fill_login, screenshot, text_of, wait_for};
use fantoccini::{Client, Locator};

async fn worker_journey(c: &Client, base: &str, shots: &Path) -> Result<()> {
    c.goto(&format!("{base}/login?next=%2Fgrids%2Fmine"))
        .await?;
    // Signing in leads on to `next`: going there before the answer has set the session
    // cookie would land on the sign-in page again.
    fill_login(c, "wanggeyuan", jiceng::demo::DEMO_PASSWORD).await?;
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
    let Some(b) = Browser::start("grid-browser", Window::Phone).await else {
        return;
    };
    let outcome = b
        .within(180, worker_journey(&b.client, &b.base, &b.shots))
        .await;
    b.finish(outcome).await;
}
