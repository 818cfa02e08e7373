//! Issue lifecycle and the business-hours SLA over HTTP (SPEC §4, §5), on an injected clock.

use crate::harness::{Sentinel, payload};

/// Monday 2026-03-02 09:00 CST.
const MONDAY_9AM: &str = "2026-03-02T15:00:00Z";

fn text(contact: &str, body: &str) -> String {
    serde_json::json!({ "contact_id": contact, "phone": "(214) 555-0177", "message": { "body": body } }).to_string()
}

fn status_of(app: &Sentinel, id: i64) -> anyhow::Result<String> {
    Ok(app.db()?.query_row("SELECT status FROM issues WHERE id = ?1", [id], |r| r.get(0))?)
}

#[test]
fn a_text_falls_due_in_business_hours_and_opens_exactly_then() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", MONDAY_9AM)])?;
    let id = app.webhook("inbound_sms", &text("c1", "pump is loud"))?.json["issue_id"].as_i64().unwrap_or(-1);
    let due: String = app.db()?.query_row("SELECT due_at FROM issues WHERE id = ?1", [id], |r| r.get(0))?;
    assert_eq!(due, "2026-03-02T17:00:00.000Z", "Mon 09:00 CST + 2 business hours = 11:00 CST");
    let why: String = app.db()?.query_row("SELECT detail FROM timeline WHERE issue_id = ?1", [id], |r| r.get(0))?;
    assert!(why.contains("due Mon 11:00am CST"), "{why}");

    app.set_clock("2026-03-02T16:59:59Z")?;
    let job = app.admin("POST", "/jobs/verify_pending")?;
    assert_eq!((job.json["checked"].as_i64(), job.json["promoted_open"].as_i64()), (Some(0), Some(0)), "{job:?}");
    assert_eq!(status_of(&app, id)?, "PENDING");

    app.set_clock("2026-03-02T17:00:00Z")?;
    app.eventually("the issue opens at its due time", || Ok(status_of(&app, id)? == "OPEN"))?;
    let opened: String = app.db()?.query_row("SELECT opened_at FROM issues WHERE id = ?1", [id], |r| r.get(0))?;
    assert_eq!(opened, "2026-03-02T17:00:00.000Z");
    let events: Vec<String> = app
        .db()?
        .prepare("SELECT event FROM timeline WHERE issue_id = ?1 ORDER BY id")?
        .query_map([id], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    assert_eq!(events, ["created", "opened"]);
    Ok(())
}

#[test]
fn an_evening_call_is_due_the_next_morning() -> anyhow::Result<()> {
    // Monday 2026-03-02 17:00 CST: closed, so counting starts Tuesday 08:00.
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", "2026-03-02T23:00:00Z")])?;
    app.webhook("unanswered_call", &payload("workflow_unanswered_call.json"))?;
    let due: String = app.db()?.query_row("SELECT due_at FROM issues", [], |r| r.get(0))?;
    assert_eq!(due, "2026-03-03T16:00:00.000Z", "Tue 10:00 CST");
    Ok(())
}

#[test]
fn deadlines_survive_a_restart() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", MONDAY_9AM)])?;
    app.webhook("inbound_sms", &text("c1", "hello"))?;
    let (_, dir) = app.stop()?;
    // Back after the due time: the clock reads its deadline from the database.
    let app = Sentinel::start_in(dir, &[("SENTINEL_TEST_NOW", "2026-03-02T18:00:00Z")])?;
    app.eventually("the overdue issue opens after the restart", || Ok(status_of(&app, 1)? == "OPEN"))?;
    Ok(())
}

#[test]
fn the_clock_wakes_on_the_deadline_without_polling() -> anyhow::Result<()> {
    // Real time: always open, and an SLA of 3.6 seconds.
    let app = Sentinel::start(&[("BUSINESS_SCHEDULE", "mon-sun 00:00-24:00"), ("SMS_SLA_HOURS", "0.001")])?;
    app.webhook("inbound_sms", &text("c1", "hello"))?;
    app.eventually("the issue opens", || Ok(status_of(&app, 1)? == "OPEN"))?;
    let (due, opened): (String, String) =
        app.db()?.query_row("SELECT due_at, opened_at FROM issues", [], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let due: jiff::Timestamp = due.parse()?;
    let opened: jiff::Timestamp = opened.parse()?;
    let late = opened.duration_since(due);
    assert!(late >= jiff::SignedDuration::ZERO, "opened before it was due: {late:?}");
    assert!(late < jiff::SignedDuration::from_secs(1), "opened {late:?} after its due time");
    Ok(())
}

#[test]
fn a_text_after_resolution_opens_a_new_issue() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", MONDAY_9AM)])?;
    app.webhook("inbound_sms", &text("c1", "is the tech coming?"))?;
    let reply = r#"{"type":"OutboundMessage","contactId":"c1","messageType":"SMS","userId":"u1","source":"app",
        "messageId":"r1","dateAdded":"2026-03-02T15:05:00Z"}"#;
    assert_eq!(app.webhook("", reply)?.json["resolved"], serde_json::json!([1]));
    app.set_clock("2026-03-02T15:10:00Z")?;
    let again = app.webhook("inbound_sms", &text("c1", "also the heater is off, can you check?"))?;
    assert_eq!(again.json["issue_id"], 2, "{again:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues WHERE status = 'PENDING'")?, 1);
    Ok(())
}

#[test]
fn an_acknowledgement_after_a_staff_reply_opens_no_issue() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", MONDAY_9AM)])?;
    app.webhook("inbound_sms", &text("c1", "pool is green"))?;
    let reply = r#"{"type":"OutboundMessage","contactId":"c1","messageType":"SMS","userId":"u1","source":"app",
        "messageId":"r1","dateAdded":"2026-03-02T15:05:00Z"}"#;
    app.webhook("", reply)?;
    app.set_clock("2026-03-02T15:10:00Z")?;
    let thanks = app.webhook("inbound_sms", &text("c1", "Thanks!"))?;
    assert_eq!(thanks.json["ignored"], "acknowledgement after a staff reply", "{thanks:?}");
    let question = app.webhook("inbound_sms", &text("c1", "ok thanks, also can you check the heater?"))?;
    assert_eq!(question.json["issue_created_or_updated"], true, "{question:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 2);
    Ok(())
}

#[test]
fn a_thank_you_long_after_the_staff_reply_is_a_new_conversation() -> anyhow::Result<()> {
    let reply = r#"{"type":"OutboundMessage","contactId":"c1","messageType":"SMS","userId":"u1","source":"app",
        "messageId":"r1","dateAdded":"2026-03-02T15:05:00Z"}"#;
    // ACK_CLOSE_WINDOW_MODE=eod (the original's default): the next morning, "thanks" is not
    // taken as closing Monday's thread; it opens an issue to be looked at.
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", MONDAY_9AM)])?;
    app.webhook("inbound_sms", &text("c1", "pool is green"))?;
    app.webhook("", reply)?;
    app.set_clock("2026-03-03T15:00:00Z")?;
    let thanks = app.webhook("inbound_sms", &text("c1", "Thanks!"))?;
    assert_eq!(thanks.json["issue_created_or_updated"], true, "{thanks:?}");
    drop(app);
    // ACK_CLOSE_WINDOW_MODE=hours with 36 hours: the same thanks closes the thread.
    let app = Sentinel::start(&[
        ("SENTINEL_TEST_NOW", MONDAY_9AM),
        ("ACK_CLOSE_WINDOW_MODE", "hours"),
        ("ACK_CLOSE_WINDOW_HOURS", "36"),
    ])?;
    app.webhook("inbound_sms", &text("c1", "pool is green"))?;
    app.webhook("", reply)?;
    app.set_clock("2026-03-03T15:00:00Z")?;
    let thanks = app.webhook("inbound_sms", &text("c1", "Thanks!"))?;
    assert_eq!(thanks.json["ignored"], "acknowledgement after a staff reply", "{thanks:?}");
    Ok(())
}

#[test]
fn a_spam_listed_phone_opens_no_issue_of_either_kind() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    app.webhook("inbound_sms", &text("c1", "WIN A CRUISE"))?;
    let spam = app.admin("POST", "/api/spam?phone=%2B1%20(214)%20555-0177")?;
    assert_eq!(spam.json["marked_spam"], serde_json::json!([1]), "{spam:?}");
    assert_eq!(status_of(&app, 1)?, "SPAM");
    assert_eq!(app.webhook("inbound_sms", &text("c2", "WIN AGAIN"))?.json["ignored"], "spam");
    let call = serde_json::json!({ "contact_id": "c3", "phone": "2145550177", "missed_call": true, "voicemail_route": "tech_sentinel" });
    assert_eq!(app.webhook("unanswered_call", &call.to_string())?.json["ignored"], "spam");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 1);
    assert_eq!(app.admin("POST", "/api/spam?phone=abc")?.status, 400);
    Ok(())
}

#[test]
fn staff_texts_are_never_issues() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("INTERNAL_CONTACT_IDS", "staff1"), ("MANAGER_CONTACT_IDS", "boss1")])?;
    for contact in ["staff1", "boss1"] {
        let answer = app.webhook("inbound_sms", &text(contact, "List"))?;
        assert_eq!(answer.json["command"], true, "{answer:?}");
    }
    let typed = r#"{"contact_id":"x9","contact_type":"internal","message":{"body":"Status"}}"#;
    assert_eq!(app.webhook("inbound_sms", typed)?.json["command"], true);
    // A staff missed call is neither a command nor an issue.
    let call = r#"{"contact_id":"staff1","missed_call":true,"voicemail_route":"tech_sentinel"}"#;
    assert_eq!(app.webhook("unanswered_call", call)?.json["ignored"], "internal contact");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 0);
    Ok(())
}
