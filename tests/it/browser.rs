//! The managers' console in a real browser (issue 17): headless Chromium driven over WebDriver
//! (`chromedriver`, through `fantoccini`) against the real binary on 127.0.0.1.
//!
//! Debian's `chromium` and `chromium-driver` packages provide both (`.ci/run` installs them).
//! Under CI (`CI=true`) a missing browser fails the tests; elsewhere they are skipped with the
//! reason printed. `SENTINEL_SCREENSHOTS=1` writes the screenshots under `docs/`.

use std::net::TcpListener;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::console::{Desk, NAME, PIN};

/// The phone the pages are checked on: 390 × 844 CSS pixels.
const WIDTH: u32 = 390;
const HEIGHT: u32 = 844;

/// A `chromedriver` on a free loopback port, stopped on drop.
struct Driver {
    child: Child,
    url: String,
    chromium: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads its own process group, and the browsers it started are in it: a
        // test that failed before closing its session leaves no browser behind.
        if let Ok(group) = i32::try_from(self.child.id()) {
            // SAFETY: kill sends a signal to the process group this test started; no memory is involved.
            unsafe { libc::kill(-group, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first of `names` found on `PATH`.
fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |name| dir.join(name)))
        .find(|file| file.is_file())
}

/// Starts `chromedriver`; `None` (after saying why) when there is no browser and this is not CI.
fn driver() -> anyhow::Result<Option<Driver>> {
    let chromium = on_path(&["chromium", "chromium-browser", "google-chrome"]);
    let chromedriver = on_path(&["chromedriver"]);
    let (Some(chromium), Some(chromedriver)) = (chromium, chromedriver) else {
        let why = "chromium and chromedriver are not installed (apt-get install chromium chromium-driver)";
        anyhow::ensure!(std::env::var("CI").as_deref() != Ok("true"), "browser tests under CI: {why}");
        eprintln!("skipping the browser tests: {why}");
        return Ok(None);
    };
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new(chromedriver)
        .args([format!("--port={port}"), "--allowed-ips=127.0.0.1".to_string()])
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting chromedriver")?;
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}"), chromium };
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "chromedriver did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(Some(driver))
}

/// A headless browser at the phone's size, in light or dark mode.
async fn browser(driver: &Driver, dark: bool) -> anyhow::Result<Client> {
    let mut args = vec!["--headless=new".to_string(), format!("--window-size={WIDTH},{HEIGHT}")];
    args.extend(
        ["--disable-gpu", "--no-first-run", "--hide-scrollbars", "--force-device-scale-factor=1"].map(String::from),
    );
    // SAFETY: geteuid only reads the process's user id.
    if unsafe { libc::geteuid() } == 0 {
        args.push("--no-sandbox".to_string());
    }
    // Blink's preferred colour scheme: 0 is dark, 1 is light.
    args.push(format!("--blink-settings=preferredColorScheme={}", if dark { 0 } else { 1 }));
    if dark {
        args.push("--force-dark-mode".to_string());
    }
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": driver.chromium,
            "args": args,
            // A desktop window is at least 500 pixels wide; the phone's viewport is emulated.
            "mobileEmulation": { "deviceMetrics": { "width": WIDTH, "height": HEIGHT, "pixelRatio": 1.0 } },
        },
    });
    let serde_json::Value::Object(capabilities) = capabilities else { anyhow::bail!("capabilities") };
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let client = ClientBuilder::new(connector).capabilities(capabilities).connect(&driver.url).await?;
    Ok(client)
}

async fn text_of(client: &Client, css: &str) -> anyhow::Result<String> {
    Ok(client.find(Locator::Css(css)).await.with_context(|| format!("finding {css}"))?.text().await?)
}

/// Clicks what `css` finds and waits until the page it leads to has loaded.
async fn click(client: &Client, css: &str) -> anyhow::Result<()> {
    client.execute("window.sentinelOldPage = true", vec![]).await?;
    client.find(Locator::Css(css)).await.with_context(|| format!("finding {css}"))?.click().await?;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let loaded = "return window.sentinelOldPage === undefined && document.readyState === 'complete'";
        if client.execute(loaded, vec![]).await? == json!(true) {
            return Ok(());
        }
        anyhow::ensure!(Instant::now() < deadline, "clicking {css} led nowhere");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn sign_in(client: &Client, desk: &Desk, pin: &str) -> anyhow::Result<()> {
    client.goto(&format!("http://{}/console", desk.app.admin_addr)).await?;
    client.find(Locator::Css("#name")).await?.send_keys(NAME).await?;
    client.find(Locator::Css("#pin")).await?.send_keys(pin).await?;
    click(client, "button[type=submit]").await
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// Two overdue texts: Monday 09:00 CST, and the clock at 11:30.
fn overdue_desk() -> anyhow::Result<(Desk, i64, i64)> {
    let desk = Desk::open(&[])?;
    let (first, second) = (desk.customer("c1", "Carl Jones")?, desk.customer("c2", "Erin Hale")?);
    desk.app.set_clock("2026-11-23T17:30:00Z")?;
    desk.app
        .eventually("both overdue", || Ok(desk.app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 2))?;
    Ok((desk, first, second))
}

#[test]
fn a_manager_signs_in_reads_why_and_acts_in_a_real_browser() -> anyhow::Result<()> {
    let Some(driver) = driver()? else { return Ok(()) };
    let (desk, first, second) = overdue_desk()?;
    runtime()?.block_on(async {
        let client = browser(&driver, false).await?;
        let result = async {
            // A wrong PIN does not get in.
            sign_in(&client, &desk, "13572468").await?;
            assert!(text_of(&client, ".error").await?.contains("do not match"));
            assert!(client.current_url().await?.path().ends_with("/console/signin"));
            assert!(client.get_all_cookies().await?.is_empty(), "no session after a wrong PIN");
            assert_eq!(desk.app.count("SELECT COUNT(*) FROM console_sessions")?, 0);

            // The right one does, and the list shows the overdue issue.
            client.find(Locator::Css("#pin")).await?.send_keys(PIN).await?;
            click(&client, "button[type=submit]").await?;
            assert_eq!(client.current_url().await?.path(), "/console");
            let ticking = client.execute("return document.body.getAttribute('data-ticking')", vec![]).await?;
            assert_eq!(ticking, json!("1"), "the countdown script runs under the page's CSP");
            let card = text_of(&client, &format!("a.card.overdue[href='/console/issue/{first}']")).await?;
            assert!(card.contains("Carl Jones") && card.contains("overdue 30m"), "{card}");

            // Open it and read its Why.
            click(&client, &format!("a[href='/console/issue/{first}']")).await?;
            let why = text_of(&client, ".why").await?;
            assert_eq!(why, "texted Mon 9:00am CST; target 2 h of business time → due Mon 11:00am CST");

            // Resolve it: the database and the timeline say who.
            click(&client, "form[action$='/resolve'] button").await?;
            assert_eq!(text_of(&client, ".notice").await?, "Resolved.");
            let (status, (event, actor, _)) = desk.state(first)?;
            assert_eq!((status.as_str(), event.as_str(), actor.as_str()), ("RESOLVED", "resolved", "console:Dana"));
            let timeline = text_of(&client, ".timeline").await?;
            assert!(timeline.contains("resolved by Dana"), "{timeline}");

            // The other one: a note, then spam.
            client.goto(&format!("http://{}/console/issue/{second}", desk.app.admin_addr)).await?;
            client.find(Locator::Css("#note")).await?.send_keys("Wrong number, says the tech").await?;
            click(&client, "form[action$='/note'] button").await?;
            assert_eq!(text_of(&client, ".notice").await?, "Note added.");
            let (_, note) = desk.state(second)?;
            assert_eq!(note, ("note".into(), "console:Dana".into(), "Wrong number, says the tech".into()));
            click(&client, "form[action$='/spam'] button").await?;
            assert!(text_of(&client, ".notice").await?.starts_with("Marked spam"));
            assert_eq!(desk.state(second)?.0, "SPAM");

            // A form posted without its CSRF token is refused, and changes nothing.
            let third = desk.customer("c3", "Ford Prefect")?;
            client.goto(&format!("http://{}/console/issue/{third}", desk.app.admin_addr)).await?;
            client
                .execute("document.querySelector(\"form[action$='/resolve'] input[name=csrf]\").remove()", vec![])
                .await?;
            click(&client, "form[action$='/resolve'] button").await?;
            assert!(text_of(&client, "main").await?.contains("security token (CSRF)"));
            assert_eq!(desk.state(third)?.0, "PENDING");
            Ok::<(), anyhow::Error>(())
        }
        .await;
        client.close().await?;
        result
    })
}

#[test]
fn the_console_in_light_and_dark_at_phone_size() -> anyhow::Result<()> {
    let Some(driver) = driver()? else { return Ok(()) };
    let (desk, first, _) = overdue_desk()?;
    let keep = std::env::var("SENTINEL_SCREENSHOTS").as_deref() == Ok("1");
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    runtime()?.block_on(async {
        for (dark, background) in [(false, "rgb(247, 247, 245)"), (true, "rgb(18, 18, 18)")] {
            let client = browser(&driver, dark).await?;
            let result = async {
                sign_in(&client, &desk, PIN).await?;
                let scheme = if dark { "dark" } else { "light" };
                let shown = client.execute("return getComputedStyle(document.body).backgroundColor", vec![]).await?;
                assert_eq!(shown, json!(background), "{scheme} mode");
                let width = client.execute("return document.documentElement.clientWidth", vec![]).await?;
                assert_eq!(width, json!(WIDTH), "the page fits the phone's width without scrolling sideways");
                for (name, path) in [("issues", "/console".to_string()), ("issue", format!("/console/issue/{first}"))] {
                    client.goto(&format!("http://{}{path}", desk.app.admin_addr)).await?;
                    let png = client.screenshot().await?;
                    anyhow::ensure!(png.len() > 24 && png.starts_with(b"\x89PNG"), "not a PNG");
                    let size = |at: usize| u32::from_be_bytes([png[at], png[at + 1], png[at + 2], png[at + 3]]);
                    assert_eq!((size(16), size(20)), (WIDTH, HEIGHT), "{name} screenshot size");
                    let file = if keep {
                        docs.join(format!("console-{name}-{scheme}.png"))
                    } else {
                        desk.app.dir().join(format!("console-{name}-{scheme}.png"))
                    };
                    std::fs::write(&file, &png).with_context(|| format!("writing {}", file.display()))?;
                }
                Ok::<(), anyhow::Error>(())
            }
            .await;
            client.close().await?;
            result?;
        }
        Ok(())
    })
}
