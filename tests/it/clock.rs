//! A wall clock that cannot be believed (issue 15): a Pi without a real-time clock after a
//! power cut. Webhooks are still stored and answered, nothing opens, nothing is sent, and
//! once the time is known every event is judged at its true arrival time, with no false
//! alert and no digest skipped or sent twice. On the manual clock: `set` lets time pass,
//! `step` corrects the wall clock as NTP does, `synchronized=` says what timesyncd would.

use serde_json::{Value, json};

use crate::fake_ghl::FakeGhl;
use crate::harness::{Sentinel, with_ghl};

fn start(ghl: &FakeGhl, now: &str) -> anyhow::Result<Sentinel> {
    with_ghl(ghl).and(&[("MANAGER_CONTACT_IDS", "m1"), ("SENTINEL_TEST_NOW", now)]).start()
}

fn clock(app: &Sentinel, query: &str) -> anyhow::Result<Value> {
    let answer = app.admin("POST", &format!("/debug/clock?{query}"))?;
    anyhow::ensure!(answer.status == 200, "{answer:?}");
    Ok(answer.json)
}

fn text(app: &Sentinel, contact: &str) -> anyhow::Result<Value> {
    let body = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": format!("conv-{contact}"),
        "contactId": contact, "contactName": format!("Customer {contact}"), "messageType": "SMS", "body": "pool is green" });
    Ok(app.webhook("", &body.to_string())?.json)
}

fn due_of(app: &Sentinel, contact: &str) -> anyhow::Result<String> {
    Ok(app.db()?.query_row("SELECT due_at FROM issues WHERE contact_id = ?1", [contact], |r| r.get(0))?)
}

#[test]
fn webhooks_wait_for_the_time_and_are_then_judged_when_they_arrived() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // After a power cut the clock reads 2020 and timesyncd has not answered.
    let app = start(&ghl, "2020-01-01T06:00:00Z")?;
    clock(&app, "synchronized=0")?;
    let health = crate::harness::request(&app.webhook_addr, "GET", "/health", &[], b"")?;
    assert_eq!(health.status, 200, "still healthy enough to take webhooks: {health:?}");
    assert_eq!(health.json["state"], "degraded", "{health:?}");
    assert!(health.json["degraded_reason"].as_str().unwrap_or_default().contains("waiting for the time"), "{health:?}");

    // Ten minutes pass, a text comes; half an hour later another. Both are kept and answered.
    clock(&app, "set=2020-01-01T06:10:00Z")?;
    assert_eq!(text(&app, "c1")?, json!({ "received": true, "deferred": "waiting for the time" }));
    clock(&app, "set=2020-01-01T06:40:00Z")?;
    assert_eq!(text(&app, "c2")?["deferred"], "waiting for the time");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 2);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 0, "nothing is judged by a wrong clock");
    // Hours pass by the wrong clock: nothing opens, nothing is sent.
    clock(&app, "set=2020-01-01T09:00:00Z")?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(ghl.sends().is_empty(), "{:?}", ghl.sends());
    let page = app.admin("GET", "/status")?.text;
    assert!(page.contains("Clock: waiting for the time"), "{page}");

    // NTP answers: it is Monday 09:30 CST. The texts came 2h50m and 2h20m ago (06:40 and
    // 07:10 CST), before opening, so both are due at 10:00 CST, and nothing is overdue yet.
    let synced = clock(&app, "step=2026-03-02T15:30:00Z&synchronized=1")?;
    assert_eq!(synced["trusted"], true);
    app.eventually("both judged", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'PENDING'")? == 2))?;
    assert!(due_of(&app, "c1")?.starts_with("2026-03-02T16:00:00"), "{}", due_of(&app, "c1")?);
    assert!(due_of(&app, "c2")?.starts_with("2026-03-02T16:00:00"));
    let created: String =
        app.db()?.query_row("SELECT created_at FROM issues WHERE contact_id = 'c1'", [], |r| r.get(0))?;
    assert!(created.starts_with("2026-03-02T12:40:00"), "dated by the monotonic clock: {created}");
    let why = app.admin("GET", "/api/issues/1")?;
    assert!(why.text.contains("arrived while the clock could not be believed"), "{}", why.text);
    // The appliance was running at 08:00 (true time), unable to tell it: the morning digest
    // is sent now, late, once; and no alert, since nothing is overdue.
    let sent =
        |words: &str| ghl.sends().iter().filter(|s| s["message"].as_str().unwrap_or_default().contains(words)).count();
    app.eventually("the morning digest, late", || Ok(sent("Morning (Mar 2)") == 1))?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!((sent("Morning"), sent("Breach")), (1, 0), "{:?}", ghl.sends());
    let health = crate::harness::request(&app.webhook_addr, "GET", "/health", &[], b"")?;
    assert_eq!(health.json["clock"]["trusted"], true, "{health:?}");

    // Real time goes on: at 10:00 they fall due and managers hear once.
    clock(&app, "set=2026-03-02T16:00:30Z")?;
    app.eventually("both open", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 2))?;
    app.eventually("the breach heard", || Ok(app.log().contains("alert bundled")))?;
    clock(&app, "set=2026-03-02T16:02:00Z")?;
    app.eventually("one alert", || Ok(sent("Breach") == 1))?;
    assert_eq!(sent("Morning"), 1, "not twice");
    Ok(())
}

#[test]
fn a_clock_that_ran_ahead_skips_no_digest_and_sends_none_twice() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // The clock runs five hours ahead and is not synchronized: by it, the afternoon slot
    // (15:00 CST) is long past.
    let app = start(&ghl, "2026-03-02T22:00:00Z")?;
    clock(&app, "synchronized=0")?;
    clock(&app, "set=2026-03-02T22:05:00Z")?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(ghl.sends().is_empty(), "no digest by a clock that cannot be believed");
    // Corrected back to Monday 10:05 CST: the real morning digest had its slot at 08:00,
    // before this process started (a fresh start sends no late digest); midday and
    // afternoon come at their times, once each.
    clock(&app, "step=2026-03-02T16:05:00Z&synchronized=1")?;
    clock(&app, "set=2026-03-02T17:00:00Z")?;
    let digests =
        |slot: &str| ghl.sends().iter().filter(|s| s["message"].as_str().unwrap_or_default().contains(slot)).count();
    app.eventually("midday digest", || Ok(digests("Midday (Mar 2)") == 1))?;
    clock(&app, "set=2026-03-02T21:00:00Z")?;
    app.eventually("afternoon digest", || Ok(digests("Afternoon (Mar 2)") == 1))?;
    clock(&app, "set=2026-03-02T21:30:00Z")?;
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!((digests("Midday"), digests("Afternoon"), digests("Morning")), (1, 1, 0));
    let status = app.admin("GET", "/api/status")?;
    assert_eq!(status.json["clock"]["last_step"][1], -21_600, "the step is shown: {status:?}");
    Ok(())
}

#[test]
fn webhooks_kept_before_a_power_cut_are_judged_after_it() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, "2020-01-01T06:00:00Z")?;
    assert_eq!(text(&app, "c1")?["deferred"], "waiting for the time");
    let dir = app.kill()?;
    // Power back, and this time the clock is right (Monday 09:00 CST). The monotonic reading
    // from before the cut means nothing now: the text is dated now, the latest it can have
    // come, so it cannot fall due early.
    let app = with_ghl(&ghl).and(&[("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")]).start_in(dir)?;
    app.eventually("judged", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'PENDING'")? == 1))?;
    assert!(due_of(&app, "c1")?.starts_with("2026-03-02T17:00:00"), "{}", due_of(&app, "c1")?);
    assert_eq!(app.count("SELECT COUNT(*) FROM deferred_events")?, 0);
    Ok(())
}
