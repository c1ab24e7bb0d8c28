//! Browser test of the case loop: in a real headless Chromium a citizen reports a problem on
//! the public form and gets a receipt code, the dispatcher dispatches it citing a listed item,
//! the station accepts and reports, the dispatcher checks and closes it, and the citizen rates
//! it on the tracking page by the receipt code.
//!
//! Same harness as `browser.rs`: needs Debian's `chromium` and `chromium-driver`; skipped
//! without them, except under `CI=true`, where it fails. Screenshots land in
//! `target/tmp/case_browser/`.

mod browser_harness;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use browser_harness::{Browser, Window, fill_login, screenshot, text_of, wait_for};
use fantoccini::{Client, Locator};

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
    let Some(b) = Browser::start("case_browser", Window::Desktop).await else {
        return;
    };
    let outcome = b
        .within(240, case_journey(&b.client, &b.base, &b.shots))
        .await;
    b.finish(outcome).await;
}
