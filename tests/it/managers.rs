//! Managers' breach alerts and digests through the outbox (SPEC §6, §8), on an injected
//! clock, against the fake GHL.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_ghl::{FakeGhl, Fault};
use crate::harness::{Sentinel, with_ghl};

fn start(ghl: &FakeGhl, now: &str, dir: Option<tempfile::TempDir>) -> anyhow::Result<Sentinel> {
    let env = with_ghl(ghl).and(&[("MANAGER_CONTACT_IDS", "m1,m2"), ("SENTINEL_TEST_NOW", now)]);
    match dir {
        Some(dir) => env.start_in(dir),
        None => env.start(),
    }
}

fn text(app: &Sentinel, contact: &str) -> anyhow::Result<i64> {
    let body = json!({ "contact_id": contact, "full_name": format!("Customer {contact}"), "message": { "body": "pool is green" } });
    let answer = app.webhook("inbound_sms", &body.to_string())?;
    answer.json["issue_id"].as_i64().ok_or_else(|| anyhow::format_err!("{answer:?}"))
}

fn sends_with(ghl: &FakeGhl, words: &str) -> Vec<Value> {
    ghl.sends().into_iter().filter(|s| s["message"].as_str().unwrap_or_default().contains(words)).collect()
}

#[test]
fn a_breach_alerts_each_manager_once_within_a_minute() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // Monday 2026-11-23 09:00 CST.
    let app = start(&ghl, "2026-11-23T15:00:00Z", None)?;
    text(&app, "c1")?;
    text(&app, "c2")?;
    app.set_clock("2026-11-23T17:00:00Z")?;
    app.eventually("both open", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 2))?;
    // The bundle's minute starts when the summary sender hears of the breach, a moment after
    // the commit that opened the issues.
    app.eventually("the breach heard", || Ok(app.log().matches("alert bundled").count() == 1))?;
    assert!(sends_with(&ghl, "Breach").is_empty(), "bundled for a minute first");
    app.set_clock("2026-11-23T17:01:00Z")?;
    app.eventually("alert sent to both managers", || Ok(sends_with(&ghl, "SLA Breach Alert").len() == 2))?;
    let alert = &sends_with(&ghl, "SLA Breach Alert")[0];
    let message = alert["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("NTPP Sentinel — SLA Breach Alert (Nov 23) • as of 11:01am CST\nNew breaches: 2"),
        "{message}"
    );
    assert!(message.contains("#1 Customer c1") && message.contains("#2 Customer c2"), "{message}");
    assert_eq!(alert["type"], "SMS");
    let alerts = sends_with(&ghl, "Breach");
    let managers: Vec<&str> = alerts.iter().filter_map(|s| s["contactId"].as_str()).collect();
    assert_eq!(managers, ["m1", "m2"]);
    app.eventually("marked alerted", || {
        Ok(app.count("SELECT COUNT(*) FROM issues WHERE alerted_at IS NOT NULL")? == 2)
    })?;
    // A later breach alerts only itself.
    app.set_clock("2026-11-23T17:30:00Z")?;
    text(&app, "c3")?;
    app.set_clock("2026-11-23T19:30:00Z")?;
    app.eventually("c3 opens", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 3))?;
    app.eventually("the breach heard", || Ok(app.log().matches("alert bundled").count() == 2))?;
    app.set_clock("2026-11-23T19:31:00Z")?;
    app.eventually("second alert", || Ok(sends_with(&ghl, "SLA Breach Alert").len() == 4))?;
    let second = sends_with(&ghl, "SLA Breach Alert")[2]["message"].as_str().unwrap_or_default().to_string();
    assert!(second.contains("New breaches: 1") && second.contains("#3 ") && !second.contains("#1 "), "{second}");
    Ok(())
}

#[test]
fn each_digest_slot_is_sent_once_per_day_across_restarts() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // Monday 2026-11-23 07:59 CST.
    let app = start(&ghl, "2026-11-23T13:59:00Z", None)?;
    app.set_clock("2026-11-23T14:00:00Z")?;
    app.eventually("morning digest", || Ok(sends_with(&ghl, "Morning (Nov 23)").len() == 2))?;
    let (_, dir) = app.stop()?;
    // Back one minute later: the morning slot is not sent again.
    let app = start(&ghl, "2026-11-23T14:01:00Z", Some(dir))?;
    app.set_clock("2026-11-23T14:02:00Z")?;
    assert_eq!(
        app.admin("POST", "/jobs/send_summary?slot=morning")?.json["errors"][0],
        "this slot was already sent today"
    );
    let (_, dir) = app.stop()?;
    assert_eq!(sends_with(&ghl, "Morning").len(), 2, "once per manager");
    // Off across the midday slot, back at 11:05: sent late, once.
    let app = start(&ghl, "2026-11-23T17:05:00Z", Some(dir))?;
    app.eventually("late midday digest", || Ok(sends_with(&ghl, "Midday (Nov 23)").len() == 2))?;
    let (_, dir) = app.stop()?;
    let app = start(&ghl, "2026-11-23T17:06:00Z", Some(dir))?;
    app.set_clock("2026-11-23T17:07:00Z")?;
    assert_eq!(sends_with(&ghl, "Midday").len(), 2, "not repeated");
    // Saturday: no slots at all.
    app.set_clock("2026-11-28T14:00:00Z")?;
    app.set_clock("2026-11-28T17:00:00Z")?;
    assert!(sends_with(&ghl, "(Nov 28)").is_empty());
    Ok(())
}

#[test]
fn a_fresh_install_sends_no_late_digest() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, "2026-11-23T17:05:00Z", None)?;
    app.set_clock("2026-11-23T17:06:00Z")?;
    assert!(sends_with(&ghl, "Midday").is_empty());
    // The next slot arrives on time.
    app.set_clock("2026-11-23T21:00:00Z")?;
    app.eventually("afternoon digest", || Ok(sends_with(&ghl, "Afternoon (Nov 23)").len() == 2))?;
    Ok(())
}

/// Issue 24 item 9f: first started on Monday at 12:31, after the 11:00 slot, then restarted
/// by an update a minute later: the midday digest went out late.
#[test]
fn a_box_first_started_after_a_slot_sends_it_not_even_after_a_restart() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // Friday 2026-11-20, the box runs through the afternoon slot and is turned off.
    let app = start(&ghl, "2026-11-20T20:59:00Z", None)?;
    app.set_clock("2026-11-20T21:00:00Z")?;
    app.eventually("Friday's afternoon digest", || Ok(sends_with(&ghl, "Afternoon (Nov 20)").len() == 2))?;
    let (_, dir) = app.stop()?;
    // Monday 12:31 CST: first start of the day, after the midday slot.
    let app = start(&ghl, "2026-11-23T18:31:00Z", Some(dir))?;
    app.set_clock("2026-11-23T18:31:30Z")?;
    let (_, dir) = app.stop()?;
    // The update's restart at 12:31.
    let app = start(&ghl, "2026-11-23T18:31:40Z", Some(dir))?;
    app.set_clock("2026-11-23T18:32:00Z")?;
    // Ask directly, so the test does not wait: the slot is free, yet no late digest went out.
    let dry = app.admin("POST", "/jobs/send_summary?slot=midday&dry_run=1")?;
    assert_eq!(dry.json["dry_run"], true, "{dry:?}");
    assert!(sends_with(&ghl, "Midday").is_empty(), "no late midday digest");
    // The afternoon slot arrives on time.
    app.set_clock("2026-11-23T21:00:00Z")?;
    app.eventually("afternoon digest", || Ok(sends_with(&ghl, "Afternoon (Nov 23)").len() == 2))?;
    assert!(sends_with(&ghl, "Midday").is_empty());
    Ok(())
}

#[test]
fn a_slot_passed_while_running_is_sent_late_once() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // Running since Sunday night; the clock then jumps past Monday's morning slot (a suspend,
    // or NTP stepping the clock of a Pi without a real-time clock).
    let app = start(&ghl, "2026-11-23T04:00:00Z", None)?;
    app.set_clock("2026-11-23T09:00:00Z")?;
    app.set_clock("2026-11-23T14:10:30Z")?;
    app.eventually("late morning digest", || Ok(sends_with(&ghl, "Morning (Nov 23)").len() == 2))?;
    app.set_clock("2026-11-23T14:12:00Z")?;
    assert_eq!(sends_with(&ghl, "Morning").len(), 2, "once");
    Ok(())
}

#[test]
fn issues_due_at_the_slot_are_in_that_digest() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // Monday 09:00 CST: five texts, due at 11:00, the midday slot.
    let app = start(&ghl, "2026-11-23T15:00:00Z", None)?;
    for n in 0..5 {
        text(&app, &format!("c{n}"))?;
    }
    app.set_clock("2026-11-23T17:00:30Z")?;
    app.eventually("midday digest", || Ok(sends_with(&ghl, "Midday (Nov 23)").len() == 2))?;
    let digest = sends_with(&ghl, "Midday (Nov 23)")[0]["message"].as_str().unwrap_or_default().to_string();
    assert!(digest.contains("Overdue: Calls 0 | Texts 5"), "{digest}");
    Ok(())
}

#[test]
fn a_job_says_sent_only_when_ghl_took_it() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, "2026-11-23T15:00:00Z", None)?;
    let answer = app.admin("POST", "/jobs/send_summary?slot=midday")?;
    assert_eq!(answer.json["sent"], true, "{answer:?}");
    assert_eq!(answer.json["sent_to"], json!(["m1", "m2"]), "{answer:?}");
    assert_eq!(answer.json["errors"], json!([]), "{answer:?}");
    // GHL down: the digest is queued, not sent, and the answer says so.
    ghl.outage(Fault::ServerError);
    let answer = app.admin("POST", "/jobs/send_summary?slot=afternoon")?;
    assert_eq!(answer.json["sent"], false, "{answer:?}");
    assert_eq!(answer.json["sent_to"], json!([]), "{answer:?}");
    let errors = answer.json["errors"].as_array().cloned().unwrap_or_default();
    assert_eq!(errors.len(), 2, "{answer:?}");
    assert!(
        errors.iter().all(|e| e.as_str().unwrap_or_default().contains("queued, the outbox retries it")),
        "{errors:?}"
    );
    // It goes out when GHL is back.
    ghl.recover();
    app.set_clock("2026-11-23T15:45:00Z")?;
    app.eventually("the afternoon digest is delivered", || Ok(sends_with(&ghl, "Afternoon (Nov 23)").len() == 2))?;
    Ok(())
}

#[test]
fn a_send_ghl_took_but_answered_too_late_is_not_sent_twice() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = with_ghl(&ghl)
        .and(&[
            ("MANAGER_CONTACT_IDS", "m1"),
            ("GHL_TIMEOUT_SECONDS", "1"),
            ("SENTINEL_TEST_NOW", "2026-11-23T15:00:00Z"),
        ])
        .start()?;
    // GHL takes the digest and delivers it, but its answer comes after our timeout.
    ghl.fail_next(&[Fault::AcceptThenStall(Duration::from_secs(3))]);
    let answer = app.admin("POST", "/jobs/send_summary?slot=midday")?;
    assert_eq!(answer.json["sent"], false, "the fate is unknown: {answer:?}");
    app.eventually("marked uncertain", || Ok(app.count("SELECT COUNT(*) FROM outbox WHERE uncertain = 1")? == 1))?;
    // The retry looks in the manager's conversation first, finds it, and does not send again.
    app.set_clock("2026-11-23T15:10:00Z")?;
    app.eventually("settled as sent", || Ok(app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")? == 1))?;
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(sends_with(&ghl, "Midday (Nov 23)").len(), 1, "the manager got exactly one copy");
    let posts = ghl.requests().iter().filter(|r| r.method == "POST").count();
    assert_eq!(posts, 1, "no second send was even attempted");
    Ok(())
}

#[test]
fn a_failed_digest_is_retried_and_resolutions_appear_once() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, "2026-11-23T13:00:00Z", None)?;
    // The first digest ever sets the watermark.
    app.set_clock("2026-11-23T14:00:00Z")?;
    app.eventually("morning", || Ok(sends_with(&ghl, "Morning").len() == 2))?;
    let id = text(&app, "c1")?;
    let reply = json!({ "type": "OutboundMessage", "contactId": "c1", "messageType": "SMS", "userId": "u1", "source": "app",
        "messageId": "r1", "dateAdded": "2026-11-23T15:30:00Z" });
    app.set_clock("2026-11-23T15:30:00Z")?;
    app.webhook("", &reply.to_string())?;
    ghl.outage(Fault::ServerError);
    app.set_clock("2026-11-23T17:00:00Z")?;
    app.eventually("midday attempted", || {
        Ok(app.count("SELECT COUNT(*) FROM outbox WHERE attempts > 0 AND purpose LIKE '%midday'")? == 2)
    })?;
    let watermark: String =
        app.db()?.query_row("SELECT value FROM kv WHERE key = 'digest_watermark'", [], |r| r.get(0))?;
    assert_eq!(watermark, "2026-11-23T14:00:00.000Z", "the watermark waits for a successful send");
    ghl.recover();
    app.set_clock("2026-11-23T17:10:00Z")?;
    app.eventually("midday delivered after the retry", || Ok(sends_with(&ghl, "Midday").len() == 2))?;
    let midday = sends_with(&ghl, "Midday")[0]["message"].as_str().unwrap_or_default().to_string();
    assert!(
        midday.contains(&format!("✅ Resolved since last summary (1):\n#{id} SMS Customer c1 at 9:30am")),
        "{midday}"
    );
    app.set_clock("2026-11-23T21:00:00Z")?;
    app.eventually("afternoon", || Ok(sends_with(&ghl, "Afternoon").len() == 2))?;
    let afternoon = sends_with(&ghl, "Afternoon")[0]["message"].as_str().unwrap_or_default().to_string();
    assert!(!afternoon.contains("Resolved since"), "listed once across slots: {afternoon}");
    Ok(())
}

#[test]
fn dry_runs_show_the_text_and_change_nothing() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // 08:30 CST: due at 10:30, between slots, and the alert bundle stays open for a minute.
    let app = start(&ghl, "2026-11-23T14:30:00Z", None)?;
    text(&app, "c1")?;
    app.set_clock("2026-11-23T16:30:00Z")?;
    app.eventually("open", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 1))?;
    let digest = app.admin("POST", "/jobs/send_summary?slot=midday&dry_run=1")?;
    assert_eq!(digest.json["dry_run"], true);
    assert_eq!(digest.json["overdue_sms"], 1, "{digest:?}");
    assert!(
        digest.json["body"].as_str().unwrap_or_default().starts_with("NTPP Sentinel — Midday (Nov 23)"),
        "{digest:?}"
    );
    let alert = app.admin("POST", "/jobs/escalations?dry_run=1")?;
    assert_eq!(alert.json["new_breaches"], 1, "{alert:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox")?, 0);
    assert_eq!(app.count("SELECT COUNT(*) FROM kv WHERE key LIKE 'digest_claimed%'")?, 0);
    assert_eq!(app.admin("POST", "/jobs/send_summary?slot=brunch")?.status, 400);
    Ok(())
}

#[test]
fn without_a_token_sends_are_recorded_as_not_sent() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("MANAGER_CONTACT_IDS", "m1"), ("SENTINEL_TEST_NOW", "2026-11-23T13:59:00Z")])?;
    app.set_clock("2026-11-23T14:00:00Z")?;
    app.eventually("recorded", || Ok(app.count("SELECT COUNT(*) FROM outbox WHERE status = 'skipped'")? == 1))?;
    let why: String = app.db()?.query_row("SELECT last_error FROM outbox", [], |r| r.get(0))?;
    assert_eq!(why, "not sent: no GHL_TOKEN");
    Ok(())
}

#[test]
fn a_queued_sms_survives_a_kill_and_is_sent_exactly_once() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    ghl.outage(Fault::ServerError);
    let app = start(&ghl, "2026-11-23T13:59:00Z", None)?;
    app.set_clock("2026-11-23T14:00:00Z")?;
    app.eventually("queued and tried", || Ok(app.count("SELECT COUNT(*) FROM outbox WHERE attempts > 0")? == 2))?;
    let dir = app.kill()?;
    assert!(ghl.sends().is_empty());
    ghl.recover();
    let app = start(&ghl, "2026-11-23T14:05:00Z", Some(dir))?;
    app.eventually("sent after the restart", || Ok(sends_with(&ghl, "Morning").len() == 2))?;
    app.set_clock("2026-11-23T14:30:00Z")?;
    let (_, dir) = app.stop()?;
    let app = start(&ghl, "2026-11-23T14:40:00Z", Some(dir))?;
    app.set_clock("2026-11-23T14:41:00Z")?;
    assert_eq!(sends_with(&ghl, "Morning").len(), 2, "exactly once per manager");
    assert_eq!(app.count("SELECT COUNT(*) FROM outbox WHERE status = 'sent'")?, 2);
    Ok(())
}

#[test]
fn managers_hear_once_when_the_appliance_cannot_see_ghl() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // A whole business day without a webhook: told at the last digest, once.
    let app = start(&ghl, "2026-11-23T20:59:00Z", None)?;
    app.set_clock("2026-11-23T21:00:00Z")?;
    app.eventually("quiet-day notice", || Ok(sends_with(&ghl, "no webhook from GHL arrived today").len() == 2))?;
    assert_eq!(app.admin("GET", "/health")?.json["quiet_day"], true, "degraded until a webhook arrives");
    // A refused token: told once that day, however many failures follow.
    text(&app, "c1")?;
    assert_eq!(app.admin("GET", "/health")?.json["quiet_day"], false);
    ghl.outage(Fault::Unauthorized);
    app.admin("POST", "/jobs/poll_resolver")?;
    app.set_clock("2026-11-23T21:05:00Z")?;
    app.admin("POST", "/jobs/poll_resolver")?;
    app.set_clock("2026-11-23T21:10:00Z")?;
    let told = || sends_with(&ghl, "refused the access token").len();
    // The notice itself goes through GHL, which is refusing: it waits in the outbox.
    // Wait until both attempts have come back refused, so none is still in flight when the clock jumps
    // (a refusal recorded after the jump would be retried after 22:15, which this test never reaches).
    app.eventually("token notice queued and refused", || {
        Ok(app.count(
            "SELECT COUNT(*) FROM outbox WHERE purpose LIKE 'notice:token:%' AND status = 'pending' AND attempts >= 1",
        )? == 2)
    })?;
    ghl.recover();
    // Past the longest outbox backoff (30 minutes), however many attempts failed meanwhile.
    app.set_clock("2026-11-23T22:15:00Z")?;
    let sent = app.eventually("token notice sent", || Ok(told() == 2));
    if sent.is_err() {
        let conn = app.db()?;
        let mut stmt = conn.prepare(
            "SELECT purpose, contact_id, status, attempts, next_attempt_at, COALESCE(last_error, '') FROM outbox",
        )?;
        let rows: Vec<String> = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{} {} {} {} {} {}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?
                ))
            })?
            .collect::<Result<_, _>>()?;
        panic!("outbox:\n{}\nsends: {:?}", rows.join("\n"), ghl.sends());
    }
    assert_eq!(sends_with(&ghl, "no webhook from GHL").len(), 2, "the quiet notice is not repeated");
    Ok(())
}
