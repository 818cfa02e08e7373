//! Supervision and lifecycle: a failing actor is restarted and the service keeps answering;
//! SIGTERM stops cleanly; the generated secret survives a restart.

use crate::harness::{SECRET, Sentinel, payload, request, with_ghl};

#[test]
fn a_panicking_actor_is_restarted_and_the_service_keeps_answering() -> anyhow::Result<()> {
    // The fault hook exists only on the manual test clock.
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")])?;
    for actor in ["clock", "intake", "store", "summary", "resolver", "outbox"] {
        let answer = app.admin("POST", &format!("/debug/fail?actor={actor}"))?;
        assert_eq!(answer.status, 200, "{answer:?}");
        app.eventually(&format!("{actor} restarted"), || {
            Ok(app.log().contains(&format!("actor=\"{actor}\"")) && app.log().contains("actor restarted"))
        })?;
        app.eventually("healthy again", || {
            Ok(request(&app.webhook_addr, "GET", "/health", &[], b"")?.json["ok"] == true)
        })?;
    }
    let answer = app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    assert_eq!(answer.json["issue_created_or_updated"], true, "{answer:?}");
    assert!(app.log().contains("failure injected by a test"), "the log says why");
    Ok(())
}

#[test]
fn the_fault_hook_does_not_exist_in_production() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    assert_eq!(app.admin("POST", "/debug/fail?actor=store")?.status, 404);
    assert_eq!(app.admin("POST", "/debug/clock?set=2026-01-01T00:00:00Z")?.status, 404);
    Ok(())
}

#[test]
fn sigterm_stops_cleanly_and_data_survives_a_restart() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    let (status, dir) = app.stop()?;
    assert!(status.success(), "{status:?}");
    let app = Sentinel::start_in(dir, &[])?;
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 1);
    let check: String = app.db()?.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(check, "ok");
    Ok(())
}

#[test]
fn a_missing_secret_is_generated_once_and_kept() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("WEBHOOK_SECRET", "")])?;
    let line = app.banner.lines().find(|l| l.contains("generated now")).unwrap_or_default().to_string();
    let secret = line.rsplit(' ').next().unwrap_or_default().to_string();
    assert_eq!(secret.len(), 48, "{}", app.banner);
    assert_ne!(secret, SECRET);
    let stored = std::fs::read_to_string(app.dir().join("webhook_secret"))?;
    assert_eq!(stored, secret);
    let body = br#"{"contact_id":"g1","message":{"body":"hi"}}"#;
    let post = |app: &Sentinel, secret: &str| {
        request(&app.webhook_addr, "POST", "/webhook/ghl/inbound_sms", &[("X-NTPP-Secret", secret)], body)
    };
    assert_eq!(post(&app, &secret)?.status, 200);
    assert!(!app.log().contains(&secret), "the secret is printed once, never logged");
    let (_, dir) = app.stop()?;
    let app = Sentinel::start_in(dir, &[("WEBHOOK_SECRET", "")])?;
    assert!(!app.banner.contains(&secret), "shown only when generated:\n{}", app.banner);
    assert_eq!(post(&app, &secret)?.status, 200);
    assert_eq!(post(&app, SECRET)?.status, 401);
    Ok(())
}

#[test]
fn logs_never_hold_secrets_tokens_or_whole_phone_numbers() -> anyhow::Result<()> {
    let ghl = crate::fake_ghl::FakeGhl::start()?;
    let app = with_ghl(&ghl)
        .and(&[
            ("GHL_TOKEN", "pit-very-secret-token-123"),
            // GHL requires a location on every search (issue 13 part 2): the payload's own.
            ("GHL_LOCATION_ID", "ntppLocation01"),
            ("MANAGER_CONTACT_IDS", "m1"),
            ("RUST_LOG", "debug"),
            ("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z"),
        ])
        .start()?;
    app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?;
    request(&app.webhook_addr, "POST", "/webhook/ghl/inbound_sms", &[("X-NTPP-Secret", "wrong-secret-guess")], b"{}")?;
    app.admin("POST", "/jobs/poll_resolver")?;
    app.set_clock("2026-03-02T17:01:00Z")?;
    app.eventually("the alert is sent", || Ok(!ghl.sends().is_empty()))?;
    let log = app.log();
    assert!(log.contains("issue created"), "the log is there: {log}");
    for forbidden in [SECRET, "pit-very-secret-token-123", "wrong-secret-guess", "2145550104", "555-0104"] {
        assert!(!log.contains(forbidden), "{forbidden} appears in the log");
    }
    Ok(())
}
