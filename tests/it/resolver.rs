//! Resolving issues from GHL (SPEC §5.2, §8) against the fake GHL: the staff-reply rule on
//! the poll path, the check at the due time, and behaviour under 429s, 500s, 401s, slow
//! answers and garbage.

use std::time::Duration;

use serde_json::json;

use crate::fake_ghl::{FakeGhl, Fault};
use crate::harness::{Sentinel, with_ghl};

/// Monday 2026-03-02 09:00 CST.
const MONDAY_9AM: &str = "2026-03-02T15:00:00Z";

fn start(ghl: &FakeGhl, extra: &[(&str, &str)]) -> anyhow::Result<Sentinel> {
    with_ghl(ghl).and(&[("SENTINEL_TEST_NOW", MONDAY_9AM)]).and(extra).start()
}

fn inbound_sms(app: &Sentinel, conversation: &str, contact: &str) -> anyhow::Result<i64> {
    let body = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": conversation, "contactId": contact,
        "messageType": "SMS", "direction": "inbound", "body": "Is anyone coming today?", "contactName": "Pat" });
    let answer = app.webhook("", &body.to_string())?;
    answer.json["issue_id"].as_i64().ok_or_else(|| anyhow::format_err!("no issue: {answer:?}"))
}

fn status_of(app: &Sentinel, id: i64) -> anyhow::Result<(String, Option<String>)> {
    Ok(app
        .db()?
        .query_row("SELECT status, resolved_by FROM issues WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

fn poll(app: &Sentinel) -> anyhow::Result<serde_json::Value> {
    let answer = app.admin("POST", "/jobs/poll_resolver")?;
    anyhow::ensure!(answer.status == 200, "a job never answers {}: {answer:?}", answer.status);
    Ok(answer.json)
}

#[test]
fn a_staff_reply_found_by_polling_resolves_the_issue() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    let id = inbound_sms(&app, "conv1", "c1")?;
    ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T15:05:00Z");
    app.set_clock("2026-03-02T15:10:00Z")?;
    let job = poll(&app)?;
    assert_eq!(job["resolved"], 1, "{job}");
    assert_eq!(status_of(&app, id)?, ("RESOLVED".into(), Some("staff_reply:poll".into())));
    let detail: String =
        app.db()?.query_row("SELECT detail FROM timeline WHERE event = 'resolved'", [], |r| r.get(0))?;
    assert!(detail.contains("msg1"), "{detail}");
    let request = ghl.requests().into_iter().find(|r| r.path == "/conversations/conv1/messages").expect("fetched");
    assert_eq!(request.authorization.as_deref(), Some("Bearer test-token"));
    assert_eq!(request.version.as_deref(), Some("2021-04-15"), "the Version GHL documents for conversations");
    Ok(())
}

#[test]
fn messages_that_are_not_staff_replies_resolve_nothing() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[("INTERNAL_USER_IDS", "u1")])?;
    let cases = [
        (
            "before",
            json!({ "direction": "outbound", "messageType": "TYPE_SMS", "userId": "u1", "source": "app", "dateAdded": "2026-03-02T14:55:00Z" }),
        ),
        (
            "automated",
            json!({ "direction": "outbound", "messageType": "TYPE_SMS", "userId": "u1", "source": "workflow", "dateAdded": "2026-03-02T15:05:00Z" }),
        ),
        (
            "no-user",
            json!({ "direction": "outbound", "messageType": "TYPE_SMS", "source": "app", "dateAdded": "2026-03-02T15:05:00Z" }),
        ),
        (
            "comment",
            json!({ "direction": "outbound", "messageType": "TYPE_INTERNAL_COMMENT", "userId": "u1", "source": "app", "dateAdded": "2026-03-02T15:05:00Z" }),
        ),
        (
            "other-user",
            json!({ "direction": "outbound", "messageType": "TYPE_SMS", "userId": "u2", "source": "app", "dateAdded": "2026-03-02T15:05:00Z" }),
        ),
        ("inbound", json!({ "direction": "inbound", "messageType": "TYPE_SMS", "dateAdded": "2026-03-02T15:05:00Z" })),
    ];
    for (name, message) in &cases {
        inbound_sms(&app, name, &format!("contact-{name}"))?;
        ghl.add_message(name, &format!("contact-{name}"), message.clone());
    }
    app.set_clock("2026-03-02T15:10:00Z")?;
    let job = poll(&app)?;
    assert_eq!((job["checked"].as_u64(), job["resolved"].as_u64()), (Some(cases.len() as u64), Some(0)), "{job}");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues WHERE status = 'PENDING'")?, cases.len() as i64);
    Ok(())
}

#[test]
fn a_callback_logged_before_the_webhook_resolves_the_call() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    let call =
        |contact: &str| json!({ "contact_id": contact, "missed_call": true, "voicemail_route": "tech_sentinel" });
    let called_back = app.webhook("unanswered_call", &call("c9").to_string())?.json["issue_id"].as_i64().unwrap_or(-1);
    let texted_back = app.webhook("unanswered_call", &call("c8").to_string())?.json["issue_id"].as_i64().unwrap_or(-1);
    // Staff returned c9's call 10 minutes before the webhook arrived, from the phone system (no user).
    ghl.add_message(
        "conv9",
        "c9",
        json!({ "direction": "outbound", "messageType": "TYPE_CALL", "dateAdded": "2026-03-02T14:50:00Z" }),
    );
    // c8 only got GHL's automated missed-call text-back.
    ghl.add_message("conv8", "c8", json!({ "direction": "outbound", "messageType": "TYPE_SMS", "source": "workflow", "dateAdded": "2026-03-02T15:00:30Z", "body": "Sorry we missed your call" }));
    let job = poll(&app)?;
    assert_eq!(job["resolved_ids"], json!([called_back]), "{job}");
    assert_eq!(status_of(&app, texted_back)?.0, "PENDING");
    let conversation: String =
        app.db()?.query_row("SELECT conversation_id FROM issues WHERE id = ?1", [called_back], |r| r.get(0))?;
    assert_eq!(conversation, "conv9", "found by contact search and kept");
    Ok(())
}

#[test]
fn at_the_due_time_ghl_is_asked_once_more_before_opening() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    let answered = inbound_sms(&app, "conv1", "c1")?;
    let ignored = inbound_sms(&app, "conv2", "c2")?;
    ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T15:30:00Z");
    app.set_clock("2026-03-02T17:00:00Z")?;
    app.eventually("both settle", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'PENDING'")? == 0))?;
    assert_eq!(status_of(&app, answered)?, ("RESOLVED".into(), Some("staff_reply:poll".into())));
    assert_eq!(status_of(&app, ignored)?.0, "OPEN");
    assert_eq!(
        app.count("SELECT COUNT(*) FROM timeline WHERE issue_id = 1 AND event = 'opened'")?,
        0,
        "never shown as overdue"
    );
    Ok(())
}

#[test]
fn when_ghl_is_down_at_the_due_time_the_issue_opens_and_resolves_later() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    let id = inbound_sms(&app, "conv1", "c1")?;
    ghl.outage(Fault::ServerError);
    app.set_clock("2026-03-02T17:00:00Z")?;
    app.eventually("the issue opens", || Ok(status_of(&app, id)?.0 == "OPEN"))?;
    let detail: String = app.db()?.query_row("SELECT detail FROM timeline WHERE event = 'opened'", [], |r| r.get(0))?;
    assert!(detail.contains("GHL could not be checked"), "{detail}");
    let job = poll(&app)?;
    assert!(!job["errors"].as_array().map(Vec::is_empty).unwrap_or(true), "{job}");
    let health = app.admin("GET", "/health")?;
    assert_eq!(health.json["ghl"], "degraded", "{health:?}");
    assert_eq!(health.status, 200, "an outside outage is degraded, not failing");
    ghl.recover();
    ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T17:05:00Z");
    app.set_clock("2026-03-02T17:40:00Z")?;
    // The breaker may still be open after the outage; the next pass after it closes resolves.
    app.eventually("resolved once GHL is back", || {
        Ok(poll(&app)?["resolved"] == 1 || status_of(&app, id)?.0 == "RESOLVED")
    })?;
    Ok(())
}

#[test]
fn rate_limits_server_errors_slow_answers_and_garbage_are_retried() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[("GHL_TIMEOUT_SECONDS", "1")])?;
    let faults = [
        Fault::RateLimited(Duration::from_secs(1)),
        Fault::ServerError,
        Fault::Slow(Duration::from_millis(2500)),
        Fault::Garbage,
    ];
    for (index, fault) in faults.iter().enumerate() {
        let conversation = format!("conv{index}");
        let id = inbound_sms(&app, &conversation, &format!("c{index}"))?;
        ghl.staff_reply(&conversation, &format!("c{index}"), "u1", "2026-03-02T15:05:00Z");
        ghl.fail_next(std::slice::from_ref(fault));
        let job = poll(&app)?;
        assert_eq!(job["resolved_ids"], json!([id]), "{fault:?}: {job}");
        ghl.recover();
    }
    Ok(())
}

#[test]
fn a_refused_token_is_not_retried_and_shows_in_health() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    inbound_sms(&app, "conv1", "c1")?;
    ghl.outage(Fault::Unauthorized);
    let job = poll(&app)?;
    let errors = job["errors"].to_string();
    assert!(errors.contains("refused the token"), "{job}");
    let fetches = ghl.requests().iter().filter(|r| r.path.contains("/messages")).count();
    assert_eq!(fetches, 1, "401 is not retried");
    let health = app.admin("GET", "/health")?;
    assert_eq!(health.json["ghl_detail"]["token_refused"], true, "{health:?}");
    assert!(!health.text.contains("test-token"), "no token in health");
    assert!(!app.log().contains("test-token"), "no token in logs");
    Ok(())
}

#[test]
fn the_rate_limiter_never_exceeds_its_budget() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[("GHL_RATE_LIMIT_PER_10S", "3")])?;
    for index in 0..5 {
        inbound_sms(&app, &format!("conv{index}"), &format!("c{index}"))?;
        ghl.add_conversation(&format!("conv{index}"), &format!("c{index}"));
    }
    let job = poll(&app)?;
    assert_eq!(job["checked"], 5, "{job}");
    assert_eq!(job["conversations_fetched"], 5, "one fetch per conversation: {job}");
    assert_eq!(ghl.requests().len(), 5);
    assert!(ghl.max_in_window(Duration::from_secs(10)) <= 3, "{} in 10 s", ghl.max_in_window(Duration::from_secs(10)));
    Ok(())
}

#[test]
fn nothing_live_means_no_ghl_requests() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    assert_eq!(poll(&app)?["checked"], 0);
    let id = inbound_sms(&app, "conv1", "c1")?;
    let reply = json!({ "type": "OutboundMessage", "locationId": "loc1", "conversationId": "conv1", "contactId": "c1",
        "messageType": "SMS", "userId": "u1", "source": "app", "messageId": "w1", "dateAdded": "2026-03-02T15:01:00Z" });
    app.webhook("", &reply.to_string())?;
    assert_eq!(status_of(&app, id)?, ("RESOLVED".into(), Some("staff_reply:webhook".into())));
    assert_eq!(poll(&app)?["checked"], 0);
    app.set_clock("2026-03-02T23:00:00Z")?;
    app.admin("POST", "/jobs/verify_pending")?;
    assert_eq!(ghl.requests().len(), 0, "{:?}", ghl.requests());
    Ok(())
}

#[test]
fn a_missing_contact_name_is_looked_up_once() -> anyhow::Result<()> {
    missing_contact_name_is_looked_up_once(Fields::AsLive)
}

/// The same with GHL's published contact: `name`, no `contactName` (issue 13).
#[test]
fn a_missing_contact_name_is_looked_up_once_with_published_fields_only() -> anyhow::Result<()> {
    missing_contact_name_is_looked_up_once(Fields::PublishedOnly)
}

/// Which fields the fake GHL answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fields {
    /// As live GHL does, with the deviations CONTRACT.md documents.
    AsLive,
    /// Only what GHL's published OpenAPI names.
    PublishedOnly,
}

fn fake_ghl(fields: Fields) -> anyhow::Result<FakeGhl> {
    let ghl = FakeGhl::start()?;
    if fields == Fields::PublishedOnly {
        ghl.published_only();
    }
    Ok(ghl)
}

/// In published-only mode the traffic needed no deviation from the spec at all.
fn assert_published(ghl: &FakeGhl, fields: Fields) {
    let report = ghl.contract();
    if fields == Fields::PublishedOnly {
        assert!(report.violations.is_empty() && report.deviations.is_empty(), "{report}");
    }
}

fn missing_contact_name_is_looked_up_once(fields: Fields) -> anyhow::Result<()> {
    let ghl = fake_ghl(fields)?;
    ghl.add_contact("c5", "Pat", "Doe");
    let app = start(&ghl, &[])?;
    app.webhook("inbound_sms", r#"{"contact_id":"c5","message":{"body":"hello"}}"#)?;
    app.eventually("the name arrives", || {
        Ok(app.db()?.query_row("SELECT contact_name FROM issues", [], |r| r.get::<_, Option<String>>(0))?.as_deref()
            == Some("Pat Doe"))
    })?;
    assert_eq!(ghl.requests().iter().filter(|r| r.path == "/contacts/c5").count(), 1);
    let request = ghl.requests().into_iter().find(|r| r.path == "/contacts/c5").expect("looked up");
    assert_eq!(request.version.as_deref(), Some("2021-07-28"), "the Version GHL documents for contacts");
    assert_published(&ghl, fields);
    Ok(())
}

/// `GET /contacts/{id}` documents `name`, `firstName` and `lastName`: each is read, in that
/// order, from GHL's published contact.
#[test]
fn contact_names_are_read_from_the_documented_fields() -> anyhow::Result<()> {
    let ghl = fake_ghl(Fields::PublishedOnly)?;
    ghl.add_contact_fields("c1", json!({ "name": "Pat Doe", "firstName": "Patricia", "lastName": "Doe" }));
    ghl.add_contact_fields("c2", json!({ "firstName": "Lee", "lastName": "Ray" }));
    ghl.add_contact_fields("c3", json!({ "firstName": "Sam" }));
    ghl.add_contact_fields("c4", json!({ "email": "nobody@example.com" }));
    let app = start(&ghl, &[])?;
    for contact in ["c1", "c2", "c3", "c4"] {
        app.webhook("inbound_sms", &json!({ "contact_id": contact, "message": { "body": "hello" } }).to_string())?;
    }
    let names = || -> anyhow::Result<Vec<(String, Option<String>)>> {
        let db = app.db()?;
        let mut query = db.prepare("SELECT contact_id, contact_name FROM issues ORDER BY contact_id")?;
        let rows = query.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    };
    app.eventually("three names arrive", || Ok(names()?.iter().filter(|(_, name)| name.is_some()).count() == 3))?;
    app.eventually("the fourth was asked too", || Ok(ghl.requests().iter().any(|r| r.path == "/contacts/c4")))?;
    let expected = [("c1", Some("Pat Doe")), ("c2", Some("Lee Ray")), ("c3", Some("Sam")), ("c4", None)];
    let found = names()?;
    let found: Vec<(&str, Option<&str>)> = found.iter().map(|(id, name)| (id.as_str(), name.as_deref())).collect();
    assert_eq!(found, expected);
    assert_published(&ghl, Fields::PublishedOnly);
    Ok(())
}

/// The cadence pass with GHL answering only its published fields, or also the live ones.
fn cadence_pass_finds_a_reply_only_ghl_knows(published_only: bool) -> anyhow::Result<String> {
    let ghl = FakeGhl::start()?;
    if published_only {
        ghl.published_only();
    }
    let app = start(&ghl, &[])?;
    let answered = inbound_sms(&app, "conv1", "c1")?;
    let waiting = inbound_sms(&app, "conv2", "c2")?;
    app.set_clock("2026-03-02T17:00:00Z")?;
    app.eventually(
        "both open",
        || Ok(status_of(&app, answered)?.0 == "OPEN" && status_of(&app, waiting)?.0 == "OPEN"),
    )?;
    // Staff answered c1 from the GHL app; no webhook told us. c2 is still waiting.
    ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T17:03:00Z");
    ghl.add_message(
        "conv2",
        "c2",
        json!({ "direction": "inbound", "messageType": "TYPE_SMS", "body": "hello?",
        "dateAdded": "2026-03-02T17:04:00Z" }),
    );
    app.set_clock("2026-03-02T17:16:00Z")?;
    app.eventually("resolved by the cadence pass", || Ok(status_of(&app, answered)?.0 == "RESOLVED"))?;
    assert_eq!(status_of(&app, waiting)?.0, "OPEN");
    let status = app.admin("GET", "/api/status")?;
    assert_eq!(status.json["resolver_pass"]["open"], 2, "{status:?}");
    let page = app.admin("GET", "/status")?.text;
    Ok(page)
}

#[test]
fn the_cadence_pass_works_with_ghls_published_fields_only() -> anyhow::Result<()> {
    let page = cadence_pass_finds_a_reply_only_ghl_knows(true)?;
    assert!(page.contains("2 of 2 OPEN issues read, by each conversation"), "{page}");
    let page = cadence_pass_finds_a_reply_only_ghl_knows(false)?;
    assert!(page.contains("1 of 2 OPEN issues read, by search summary"), "{page}");
    Ok(())
}

/// The number of requests GHL got, once no new one has come for half a second.
fn quiet(ghl: &FakeGhl) -> usize {
    let mut seen = ghl.requests().len();
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = ghl.requests().len();
        if now == seen {
            return now;
        }
        seen = now;
    }
}

#[test]
fn open_issues_are_rechecked_on_a_gentle_cadence_in_business_hours() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    let id = inbound_sms(&app, "conv1", "c1")?;
    app.set_clock("2026-03-02T17:00:00Z")?;
    app.eventually("opens", || Ok(status_of(&app, id)?.0 == "OPEN"))?;
    // Staff answered from the GHL app, but the OutboundMessage webhook never came.
    ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T17:03:00Z");
    // What the 17:00 wake-up asked (the due-time check, a pass, a name) has finished.
    let before = quiet(&ghl);
    app.set_clock("2026-03-02T17:05:00Z")?;
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ghl.requests().len(), before, "no pass before the cadence is due");
    app.set_clock("2026-03-02T17:16:00Z")?;
    app.eventually("resolved by the cadence pass", || Ok(status_of(&app, id)?.0 == "RESOLVED"))?;
    // Evening: nothing live, nothing asked. (Once what the resolving pass asked has finished:
    // under qemu-aarch64 its last requests may still be on their way.)
    let after = quiet(&ghl);
    app.set_clock("2026-03-02T23:00:00Z")?;
    app.set_clock("2026-03-03T02:00:00Z")?;
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(ghl.requests().len(), after);
    Ok(())
}

#[test]
fn a_thank_you_after_a_reply_only_ghl_knows_closes_itself() -> anyhow::Result<()> {
    thank_you_after_a_reply_only_ghl_knows_closes_itself(Fields::AsLive)
}

/// The same against GHL's published shapes only (issue 13).
#[test]
fn a_thank_you_after_a_reply_only_ghl_knows_closes_itself_with_published_fields_only() -> anyhow::Result<()> {
    thank_you_after_a_reply_only_ghl_knows_closes_itself(Fields::PublishedOnly)
}

fn thank_you_after_a_reply_only_ghl_knows_closes_itself(fields: Fields) -> anyhow::Result<()> {
    let ghl = fake_ghl(fields)?;
    let app = start(&ghl, &[("MANAGER_CONTACT_IDS", "m1")])?;
    // The morning digest went out; what is resolved after it is news for the next one.
    assert_eq!(app.admin("POST", "/jobs/send_summary?slot=morning")?.json["sent"], true);
    app.set_clock("2026-03-02T15:01:00Z")?;
    // Staff answered in GHL at 08:55; no webhook told us. The customer thanks them at 09:00.
    ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T14:55:00Z");
    let thanks = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": "conv1", "contactId": "c1",
        "messageType": "SMS", "body": "Thank you so much! 🙏" });
    let id = app.webhook("", &thanks.to_string())?.json["issue_id"].as_i64().unwrap_or(-1);
    app.eventually("closed as an acknowledgement", || {
        Ok(status_of(&app, id)?.1.as_deref() == Some("acknowledgement:ghl"))
    })?;
    // A real question in the same situation stays open.
    ghl.staff_reply("conv2", "c2", "u1", "2026-03-02T14:55:00Z");
    let question = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": "conv2", "contactId": "c2",
        "messageType": "SMS", "body": "Thanks, when will the tech come?" });
    let open = app.webhook("", &question.to_string())?.json["issue_id"].as_i64().unwrap_or(-1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(status_of(&app, open)?.0, "PENDING");
    // Managers never hear of the thank-you: not live, and not news in "Resolved since".
    let issues = app.admin("GET", "/api/issues?status=OPEN,PENDING")?;
    assert!(!issues.text.contains(&format!("\"id\":{id},")), "{}", issues.text);
    app.set_clock("2026-03-02T15:02:00Z")?;
    let digest = app.admin("POST", "/jobs/send_summary?slot=midday&dry_run=1")?;
    let body = digest.json["body"].as_str().unwrap_or_default().to_string();
    assert!(!body.contains(&format!("#{id} ")) && !body.contains("Resolved since"), "{body}");
    assert_published(&ghl, fields);
    Ok(())
}

#[test]
fn without_a_configured_location_the_webhooks_location_is_learned_and_kept() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = with_ghl(&ghl).without("GHL_LOCATION_ID").and(&[("SENTINEL_TEST_NOW", MONDAY_9AM)]).start()?;
    let body = json!({ "type": "InboundMessage", "locationId": "locLearned", "conversationId": "conv1", "contactId": "c1",
        "messageType": "SMS", "body": "pool is green" });
    app.webhook("", &body.to_string())?;
    app.set_clock("2026-03-02T17:00:00Z")?;
    app.eventually("opens", || Ok(app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")? == 1))?;
    app.set_clock("2026-03-02T17:16:00Z")?;
    let searched = |ghl: &FakeGhl| {
        ghl.requests().iter().any(|r| r.path == "/conversations/search" && r.query.contains("locationId=locLearned"))
    };
    app.eventually("the cadence pass searches in the learned location", || Ok(searched(&ghl)))?;
    let (_, dir) = app.stop()?;
    // check-config shows it, from the database, without changing anything.
    let output = crate::harness::command()
        .arg("check-config")
        .env_clear()
        .env("DB_PATH", dir.path().join("sentinel.db"))
        .env("GHL_TOKEN", "test-token")
        .output()?;
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("# GHL location: locLearned, learned from the webhooks"), "{report}");
    // After a restart it is still known, with no webhook since.
    let ghl2 = FakeGhl::start()?;
    let env2 = with_ghl(&ghl2).without("GHL_LOCATION_ID").and(&[("SENTINEL_TEST_NOW", "2026-03-02T17:20:00Z")]);
    let app = env2.start_in(dir)?;
    app.set_clock("2026-03-02T17:40:00Z")?;
    app.eventually("searches after the restart", || Ok(searched(&ghl2)))?;
    Ok(())
}
