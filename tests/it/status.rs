//! What staff see (SPEC §11): the status page, the status JSON and `sentinel status`.

use crate::harness::{SECRET, Sentinel, command, metric, payload, request};

#[test]
fn the_status_page_lists_live_issues_with_countdowns() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")])?;
    app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    let page = app.admin("GET", "/status")?;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("Open and pending (0 open, 1 pending)"), "{}", page.text);
    assert!(page.text.contains("Carl Jones") && page.text.contains("in 2h 00m"), "{}", page.text);
    assert!(page.text.contains("Next digest: midday at 11:00am"), "{}", page.text);
    // Recent events: the webhook, its route and what came of it (SPEC §11).
    assert!(page.text.contains("<h2>Recent events</h2>"), "{}", page.text);
    assert!(page.text.contains("<td>inbound_sms</td><td>issue 1 created</td>"), "{}", page.text);
    assert!(!page.text.contains("<script"), "no JavaScript");
    assert_eq!(request(&app.webhook_addr, "GET", "/status", &[("X-NTPP-Secret", SECRET)], b"")?.status, 404);
    let json = app.admin("GET", "/api/status")?;
    assert_eq!(json.json["pending"], 1, "{json:?}");
    let metrics = app.admin("GET", "/metrics")?;
    assert_eq!(metric(&metrics.text, "sentinel_issues_pending"), Some("1"), "{}", metrics.text);
    assert_eq!(metric(&metrics.text, "sentinel_actor_up{actor=\"store\"}"), Some("1"), "{}", metrics.text);
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

/// `sentinel health` is the container image's health check (issue 29): it exits 0 while the
/// service's `/health` answers 200, and 1, saying so, once nothing answers.
#[test]
fn sentinel_health_succeeds_only_while_the_service_answers() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let admin_addr = app.admin_addr.clone();
    let health = || command().arg("health").env_clear().env("ADMIN_LISTEN_ADDR", &admin_addr).output();
    let output = health()?;
    let line = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{line}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(line.trim(), format!("http://{admin_addr}/health: healthy"));
    app.stop()?;
    let output = health()?;
    let error = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{error}");
    assert!(error.contains("is it running?"), "{error}");
    Ok(())
}

#[test]
fn without_a_token_nothing_claims_to_be_sent() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("MANAGER_CONTACT_IDS", "m1,m2"), ("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")])?;
    let answer = app.admin("POST", "/jobs/send_summary?slot=morning")?;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json["sent"], false, "{answer:?}");
    assert_eq!(answer.json["sent_to"], serde_json::json!([]), "{answer:?}");
    assert!(answer.json["errors"][0].as_str().unwrap_or_default().contains("not sent: no GHL_TOKEN"), "{answer:?}");
    // The outbox rows say so, for each manager.
    app.eventually("both rows settled", || {
        Ok(app
            .count("SELECT COUNT(*) FROM outbox WHERE status = 'skipped' AND last_error = 'not sent: no GHL_TOKEN'")?
            == 2)
    })?;
    // The status page, the JSON and `sentinel status` say so.
    let json = app.admin("GET", "/api/status")?;
    assert_eq!(json.json["outbox_not_sent"], 2, "{json:?}");
    assert_eq!(json.json["outbox_not_sent_reason"], "not sent: no GHL_TOKEN", "{json:?}");
    let page = app.admin("GET", "/status")?;
    assert!(page.text.contains("Manager SMS never sent: 2 (last: not sent: no GHL_TOKEN)"), "{}", page.text);
    let output = command()
        .arg("status")
        .env_clear()
        .env("ADMIN_LISTEN_ADDR", &app.admin_addr)
        .env("WEBHOOK_SECRET", SECRET)
        .output()?;
    let screen = String::from_utf8_lossy(&output.stdout);
    assert!(screen.contains("never sent:    2 manager SMS (last: not sent: no GHL_TOKEN)"), "{screen}");
    // And check-config warns before anyone relies on it.
    let config = command().arg("check-config").env_clear().env("MANAGER_CONTACT_IDS", "m1").output()?;
    let report = String::from_utf8_lossy(&config.stdout);
    assert!(report.contains("# warning: GHL_TOKEN is unset"), "{report}");
    let with_token = command().arg("check-config").env_clear().env("GHL_TOKEN", "pit-0123456789abcdef").output()?;
    assert!(!String::from_utf8_lossy(&with_token.stdout).contains("GHL_TOKEN is unset"));
    Ok(())
}
