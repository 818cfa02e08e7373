//! What staff see (SPEC §11): the status page, the status JSON and `sentinel status`.

use crate::harness::{SECRET, Sentinel, command, payload, request};

#[test]
fn the_status_page_lists_live_issues_with_countdowns() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")])?;
    app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    let page = app.admin("GET", "/status")?;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Open and pending (0 open, 1 pending)"), "{}", page.text);
    assert!(page.text.contains("Carl Jones") && page.text.contains("in 2h 00m"), "{}", page.text);
    assert!(page.text.contains("Next digest: midday at 11:00am"), "{}", page.text);
    assert!(!page.text.contains("<script"), "no JavaScript");
    assert_eq!(request(&app.webhook_addr, "GET", "/status", &[("X-NTPP-Secret", SECRET)], b"")?.status, 404);
    let json = app.admin("GET", "/api/status")?;
    assert_eq!(json.json["pending"], 1, "{json:?}");
    let metrics = app.admin("GET", "/metrics")?;
    assert!(metrics.text.contains("sentinel_issues_pending 1\n"), "{}", metrics.text);
    assert!(metrics.text.contains("sentinel_actor_up{actor=\"store\"} 1"), "{}", metrics.text);
    Ok(())
}

#[test]
fn sentinel_status_prints_one_screen() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    let output = command()
        .arg("status")
        .env_clear()
        .env("ADMIN_LISTEN_ADDR", &app.admin_addr)
        .env("WEBHOOK_SECRET", SECRET)
        .output()?;
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{screen}{}", String::from_utf8_lossy(&output.stderr));
    assert!(screen.contains("healthy"), "{screen}");
    assert!(screen.contains("0 open, 1 pending"), "{screen}");
    assert!(screen.contains("GHL:           not configured"), "{screen}");
    assert!(screen.lines().count() <= 24, "one screen: {screen}");
    let down = command()
        .arg("status")
        .env_clear()
        .env("ADMIN_LISTEN_ADDR", "127.0.0.1:9")
        .env("WEBHOOK_SECRET", SECRET)
        .output()?;
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stderr).contains("is it running?"));
    Ok(())
}
