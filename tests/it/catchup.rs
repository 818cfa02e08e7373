//! Catch-up after gaps (SPEC §12), black-box: what reached GHL while no webhook reached the box
//! (it was stopped, or the way in was quiet) becomes the issues its webhooks would have made, at
//! each message's own `dateAdded`, once, whichever of the webhook and the pass comes first.
//! A manager's command found this way is noted, never run. An office with `WEBHOOKS=off` runs on
//! the cadence passes alone, and a pass over a quiet office costs two searches.

use std::time::Duration;

use jiff::Timestamp;
use serde_json::{Value, json};

use crate::fake_ghl::FakeGhl;
use crate::harness::{Answer, Env, Sentinel, command, metric, with_ghl};

/// Monday 2026-03-02 09:00 CST.
const MONDAY_9AM: &str = "2026-03-02T15:00:00Z";

/// Default `SMS_SLA_HOURS` and `CALL_SLA_HOURS` (src/config/vars.rs): 2 business hours.
const SLA: jiff::SignedDuration = jiff::SignedDuration::from_hours(2);

/// What the timeline of an issue catch-up found says.
const FOUND_BY_CATCHUP: &str = "found by catch-up: no webhook arrived";

fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|err| panic!("{text}: {err}"))
}

/// Which fields the fake GHL answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fields {
    /// As live GHL does, with the deviations CONTRACT.md documents (`lastMessageDate`, `sort`).
    AsLive,
    /// Only what GHL's published OpenAPI names.
    PublishedOnly,
}

fn fake_ghl(fields: Fields) -> anyhow::Result<FakeGhl> {
    let ghl = FakeGhl::start()?;
    if fields == Fields::PublishedOnly {
        ghl.published_only();
    }
    // Names for everyone, so no lookup of an unknown contact muddies the traffic.
    for contact in ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "boss", "dana", "o1", "o2", "o3"] {
        ghl.add_contact(contact, "Pat", contact);
    }
    Ok(ghl)
}

/// Settings every test here shares: the fake GHL, Monday 09:00, digests out of the way.
fn office<'a>(ghl: &'a FakeGhl, extra: &[(&'a str, &'a str)]) -> Env<'a> {
    with_ghl(ghl).and(&[("SENTINEL_TEST_NOW", MONDAY_9AM), ("SUMMARY_SLOTS", "night=23:30")]).and(extra)
}

/// `catchup` of the admin listener's JSON status.
fn catchup_status(app: &Sentinel) -> anyhow::Result<Value> {
    let status = app.admin("GET", "/api/status")?;
    anyhow::ensure!(status.status == 200, "{status:?}");
    Ok(status.json["catchup"].clone())
}

/// Waits for the pass a start runs once the clock is trusted.
fn start_pass(app: &Sentinel) -> anyhow::Result<()> {
    app.eventually("the start's catch-up pass", || Ok(catchup_status(app)?["last_pass_at"].is_string()))
}

/// `POST /jobs/catchup`: a pass now, and what it did.
fn pass(app: &Sentinel) -> anyhow::Result<Value> {
    let answer = app.admin("POST", "/jobs/catchup")?;
    anyhow::ensure!(answer.status == 200, "a job never answers {}: {answer:?}", answer.status);
    for key in [
        "reason",
        "since",
        "until",
        "searches",
        "conversations_read",
        "found",
        "created",
        "duplicates",
        "commands_noted",
    ] {
        anyhow::ensure!(answer.json.get(key).is_some(), "no {key} in {}", answer.text);
    }
    anyhow::ensure!(answer.json["reason"] == "job", "{}", answer.text);
    Ok(answer.json)
}

/// An issue as the database has it.
#[derive(Debug)]
struct Issue {
    id: i64,
    kind: String,
    status: String,
    created_at: Timestamp,
    due_at: Timestamp,
    inbound_count: i64,
}

/// The issues of `contact`, oldest first.
fn issues_of(app: &Sentinel, contact: &str) -> anyhow::Result<Vec<Issue>> {
    let db = app.db()?;
    let mut query = db.prepare(
        "SELECT id, kind, status, created_at, due_at, inbound_count FROM issues WHERE contact_id = ?1 ORDER BY id",
    )?;
    let rows = query
        .query_map([contact], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, String>(3)?, r.get::<_, String>(4)?, r.get(5)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    rows.into_iter()
        .map(|(id, kind, status, created, due, inbound_count)| {
            Ok(Issue { id, kind, status, created_at: created.parse()?, due_at: due.parse()?, inbound_count })
        })
        .collect()
}

/// The one issue of `contact`.
fn issue_of(app: &Sentinel, contact: &str) -> anyhow::Result<Issue> {
    let mut issues = issues_of(app, contact)?;
    anyhow::ensure!(issues.len() == 1, "{contact} has {} issues: {issues:?}", issues.len());
    Ok(issues.remove(0))
}

fn issues(app: &Sentinel) -> anyhow::Result<i64> {
    app.count("SELECT COUNT(*) FROM issues")
}

/// GHL's `InboundMessage` webhook for a text it also lists under `message_id`.
fn text_webhook(app: &Sentinel, contact: &str, message_id: &str, body: &str, at: &str) -> anyhow::Result<Answer> {
    let event = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": format!("conv-{contact}"),
        "contactId": contact, "contactName": format!("Pat {contact}"), "messageId": message_id, "messageType": "SMS",
        "direction": "inbound", "body": body, "dateAdded": at, "messageTypeString": "TYPE_SMS" });
    app.webhook("", &event.to_string())
}

/// GHL's `InboundMessage` webhook for a call nobody answered.
fn call_webhook(app: &Sentinel, contact: &str, message_id: &str, at: &str) -> anyhow::Result<Answer> {
    let event = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": format!("conv-{contact}"),
        "contactId": contact, "contactName": format!("Pat {contact}"), "messageId": message_id, "messageType": "CALL",
        "direction": "inbound", "status": "no-answer", "dateAdded": at, "messageTypeString": "TYPE_CALL" });
    app.webhook("", &event.to_string())
}

/// The SMS GHL accepted for `contact`.
fn sends_to(ghl: &FakeGhl, contact: &str) -> Vec<String> {
    ghl.sends()
        .iter()
        .filter(|send| send["contactId"] == contact)
        .map(|send| send["message"].as_str().unwrap_or_default().to_string())
        .collect()
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

/// In published-only mode the traffic needed no deviation from the spec at all.
fn assert_published(ghl: &FakeGhl, fields: Fields) {
    let report = ghl.contract();
    if fields == Fields::PublishedOnly {
        assert!(report.violations.is_empty() && report.deviations.is_empty(), "{report}");
    }
}

/// The timeline rows of `issue` that say catch-up found it.
fn found_rows(app: &Sentinel, issue: i64) -> anyhow::Result<i64> {
    Ok(app.db()?.query_row(
        "SELECT COUNT(*) FROM timeline WHERE issue_id = ?1 AND instr(detail, ?2) > 0",
        rusqlite::params![issue, FOUND_BY_CATCHUP],
        |r| r.get(0),
    )?)
}

// === 1 and 4: a stopped box ===

#[test]
fn texts_and_missed_calls_that_came_while_the_box_was_stopped_become_issues_at_their_own_time() -> anyhow::Result<()> {
    stopped_box_catches_up(Fields::AsLive, None)
}

/// The same with GHL's published fields only: no `lastMessageDate`, `lastMessageDirection` or
/// `sort` cursor in the search. Same issues, same times. And `CATCHUP_ALERT_AFTER=0`: five found
/// tell the managers nothing.
#[test]
fn texts_and_missed_calls_that_came_while_the_box_was_stopped_are_caught_up_with_published_fields_only()
-> anyhow::Result<()> {
    stopped_box_catches_up(Fields::PublishedOnly, Some("0"))
}

fn stopped_box_catches_up(fields: Fields, alert_after: Option<&str>) -> anyhow::Result<()> {
    let ghl = fake_ghl(fields)?;
    let mut extra = vec![("MANAGER_CONTACT_IDS", "boss")];
    if let Some(alert_after) = alert_after {
        extra.push(("CATCHUP_ALERT_AFTER", alert_after));
    }
    let app = office(&ghl, &extra).start()?;
    start_pass(&app)?;
    // The control: a text whose webhook came, at 09:01, as GHL also lists it.
    app.set_clock("2026-03-02T15:01:00Z")?;
    let control = ghl.inbound_text("conv-c0", "c0", "Is the tech coming today?", "2026-03-02T15:01:00Z");
    let answer = text_webhook(&app, "c0", &control, "Is the tech coming today?", "2026-03-02T15:01:00Z")?;
    assert_eq!(answer.json["issue_created_or_updated"], true, "{answer:?}");
    let by_webhook = issue_of(&app, "c0")?;
    assert_eq!((by_webhook.created_at, by_webhook.due_at), (at("2026-03-02T15:01:00Z"), at("2026-03-02T17:01:00Z")));
    let (_, dir) = app.stop()?;

    // While it is off (09:01-09:20 CST): three texts and two missed calls reach GHL only.
    let texts = [("c1", "2026-03-02T15:03:00Z"), ("c2", "2026-03-02T15:07:30Z"), ("c3", "2026-03-02T15:12:00Z")];
    let calls = [("c4", "2026-03-02T15:05:00Z"), ("c5", "2026-03-02T15:15:45Z")];
    let mut ids = Vec::new();
    for (contact, when) in texts {
        ids.push(ghl.inbound_text(&format!("conv-{contact}"), contact, "The pool is green again", when));
    }
    for (contact, when) in calls {
        ids.push(ghl.missed_call(&format!("conv-{contact}"), contact, when));
    }
    let app = office(&ghl, &extra).and(&[("SENTINEL_TEST_NOW", "2026-03-02T15:20:00Z")]).start_in(dir)?;
    app.eventually("all five caught up", || Ok(issues(&app)? == 6))?;
    let expected = texts.iter().map(|(c, w)| (c, w, "SMS")).chain(calls.iter().map(|(c, w)| (c, w, "CALL")));
    for (contact, when, kind) in expected {
        let issue = issue_of(&app, contact)?;
        assert_eq!((issue.kind.as_str(), issue.status.as_str()), (kind, "PENDING"), "{contact}: {issue:?}");
        assert_eq!(issue.created_at, at(when), "{contact}: created at GHL's dateAdded");
        // As the webhook-made control: the SLA counted from its own time (all within hours).
        assert_eq!(issue.due_at, at(when) + SLA, "{contact}: {issue:?}");
        assert_eq!(
            issue.due_at.duration_since(issue.created_at),
            by_webhook.due_at.duration_since(by_webhook.created_at)
        );
        assert_eq!(found_rows(&app, issue.id)?, 1, "{contact}'s timeline says how it came");
    }
    assert_eq!(found_rows(&app, by_webhook.id)?, 0, "the control came by webhook, and once");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events WHERE route = 'catchup'")?, 5);
    let raw = app.count("SELECT COUNT(*) FROM raw_events")?;

    // GHL's late webhooks for two of them: duplicates that change nothing.
    let late = text_webhook(&app, "c2", &ids[1], "The pool is green again", texts[1].1)?;
    assert_eq!((late.status, late.json["duplicate"].clone()), (200, json!(true)), "{late:?}");
    let late = call_webhook(&app, "c5", &ids[4], calls[1].1)?;
    assert_eq!((late.status, late.json["duplicate"].clone()), (200, json!(true)), "{late:?}");
    assert_eq!(issues(&app)?, 6);
    assert_eq!(issue_of(&app, "c2")?.inbound_count, 1, "counted once");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, raw);
    let again = pass(&app)?;
    assert_eq!((again["found"].as_u64(), again["created"].as_u64()), (Some(0), Some(0)), "{again}");
    assert_eq!(issues(&app)?, 6);

    let status = catchup_status(&app)?;
    assert_eq!(status["found_today"], 5, "{status}");
    let metrics = app.admin("GET", "/metrics")?.text;
    assert_eq!(metric(&metrics, "sentinel_catchup_found_total"), Some("5"), "{metrics}");
    assert!(metric(&metrics, "sentinel_catchup_last_pass_timestamp_seconds").is_some(), "{metrics}");
    // Five customer messages found on a business day: the managers hear once that the way in
    // is broken (more than CATCHUP_ALERT_AFTER=3), unless it is 0.
    let told = || sends_to(&ghl, "boss").iter().filter(|m| m.contains("found by catch-up")).count();
    if alert_after == Some("0") {
        std::thread::sleep(Duration::from_millis(500));
        assert_eq!(told(), 0, "{:?}", sends_to(&ghl, "boss"));
    } else {
        app.eventually("managers told", || Ok(told() >= 1))?;
        pass(&app)?;
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(told(), 1, "once a day: {:?}", sends_to(&ghl, "boss"));
    }
    assert_published(&ghl, fields);
    Ok(())
}

// === 2: an hour without webhooks ===

#[test]
fn an_hour_without_webhooks_is_caught_up_by_the_cadence_as_the_webhooks_would_have_been() -> anyhow::Result<()> {
    let ghl = fake_ghl(Fields::AsLive)?;
    let app = office(&ghl, &[]).start()?;
    start_pass(&app)?;
    // c1 asks at 09:02, staff answer from the GHL app at 09:06, c1 thanks them at 09:08: the
    // question was answered before the pass, and the thank-you acknowledges: nothing to do.
    ghl.inbound_text("conv-c1", "c1", "Is the tech coming today?", "2026-03-02T15:02:00Z");
    ghl.staff_reply("conv-c1", "c1", "u1", "2026-03-02T15:06:00Z");
    ghl.inbound_text("conv-c1", "c1", "Thank you!", "2026-03-02T15:08:00Z");
    // c6 asks at 09:01 and staff answer at 09:05 (the conversation ends outbound).
    ghl.inbound_text("conv-c6", "c6", "Do you sell chlorine tabs?", "2026-03-02T15:01:00Z");
    ghl.staff_reply("conv-c6", "c6", "u1", "2026-03-02T15:05:00Z");
    // c2's question at 09:04 is not answered.
    ghl.inbound_text("conv-c2", "c2", "The pump is making a noise", "2026-03-02T15:04:00Z");
    // Staff texted c3 at 09:03; c3 thanks them at 09:05: an acknowledgement, nothing to do.
    ghl.staff_reply("conv-c3", "c3", "u1", "2026-03-02T15:03:00Z");
    ghl.inbound_text("conv-c3", "c3", "Thanks!", "2026-03-02T15:05:00Z");
    // c4 called at 09:07 and nobody answered.
    ghl.missed_call("conv-c4", "c4", "2026-03-02T15:07:00Z");

    // Not yet: the cadence (10 minutes from the start's pass) has not come round.
    app.set_clock("2026-03-02T15:08:00Z")?;
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(issues(&app)?, 0, "a pass before the interval");
    app.set_clock("2026-03-02T15:11:00Z")?;
    app.eventually("c2's text and c4's call caught up", || Ok(issues(&app)? == 2))?;
    let text = issue_of(&app, "c2")?;
    assert_eq!(
        (text.kind.as_str(), text.created_at, text.due_at),
        ("SMS", at("2026-03-02T15:04:00Z"), at("2026-03-02T17:04:00Z"))
    );
    let call = issue_of(&app, "c4")?;
    assert_eq!(
        (call.kind.as_str(), call.created_at, call.due_at),
        ("CALL", at("2026-03-02T15:07:00Z"), at("2026-03-02T17:07:00Z"))
    );
    for (contact, why) in [("c1", "answered, then thanked"), ("c3", "a thank-you"), ("c6", "answered")] {
        assert!(issues_of(&app, contact)?.is_empty(), "{contact}: {why}");
    }
    let status = catchup_status(&app)?;
    assert_eq!(status["reason"], "cadence", "{status}");
    for key in ["last_pass_at", "found", "found_today", "largest_gap_seconds", "searches", "conversations_read", "mode"]
    {
        assert!(status.get(key).is_some_and(|v| !v.is_null()), "no {key} in {status}");
    }
    assert_eq!(status["last_pass_at"].as_str().map(at), Some(at("2026-03-02T15:11:00Z")), "{status}");
    // The longest a found message waited in GHL: c2's 7 minutes (09:04 → the 09:11 pass), or
    // c1's 9 (09:02), counting the customer messages that opened nothing.
    let gap = status["largest_gap_seconds"].as_i64().unwrap_or(-1);
    assert!((7 * 60..=9 * 60).contains(&gap), "{status}");
    let metrics = app.admin("GET", "/metrics")?.text;
    let stamp = at("2026-03-02T15:11:00Z").as_second();
    assert_eq!(
        metric(&metrics, "sentinel_catchup_last_pass_timestamp_seconds"),
        Some(stamp.to_string().as_str()),
        "{metrics}"
    );

    // Later in the hour: c2 writes again, c5 texts; the next pass adds both as webhooks would.
    ghl.inbound_text("conv-c2", "c2", "Hello??", "2026-03-02T15:25:00Z");
    ghl.inbound_text("conv-c5", "c5", "Can you come Thursday instead?", "2026-03-02T15:26:00Z");
    app.set_clock("2026-03-02T15:32:00Z")?;
    app.eventually("c5 caught up", || Ok(issues_of(&app, "c5")?.len() == 1))?;
    app.eventually("c2's repeat counted", || Ok(issue_of(&app, "c2")?.inbound_count == 2))?;
    let repeated = issue_of(&app, "c2")?;
    assert_eq!((repeated.id, repeated.due_at), (text.id, text.due_at), "a repeat never moves the due time");
    assert_eq!(issue_of(&app, "c5")?.created_at, at("2026-03-02T15:26:00Z"));
    assert_eq!(issues(&app)?, 3);
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events WHERE route <> 'catchup'")?, 0, "no webhook all hour");
    Ok(())
}

// === 3: a manager's command in the gap ===

#[test]
fn a_managers_command_found_by_catch_up_is_noted_not_run() -> anyhow::Result<()> {
    let ghl = fake_ghl(Fields::AsLive)?;
    let app = office(&ghl, &[("MANAGER_CONTACT_IDS", "boss,dana")]).start()?;
    start_pass(&app)?;
    app.set_clock("2026-03-02T15:01:00Z")?;
    let message = ghl.inbound_text("conv-c1", "c1", "Is the tech coming today?", "2026-03-02T15:01:00Z");
    text_webhook(&app, "c1", &message, "Is the tech coming today?", "2026-03-02T15:01:00Z")?;
    let issue = issue_of(&app, "c1")?;
    // The way in is down: Boss resolves the issue and Dana closes the office, by SMS.
    let resolve = ghl.inbound_text("conv-boss", "boss", &format!("Resolve {}", issue.id), "2026-03-02T15:03:00Z");
    ghl.inbound_text("conv-dana", "dana", "Closed today", "2026-03-02T15:04:00Z");
    app.set_clock("2026-03-02T15:06:00Z")?;
    let job = pass(&app)?;
    assert_eq!((job["commands_noted"].as_u64(), job["created"].as_u64()), (Some(2), Some(0)), "{job}");
    assert_eq!(issue_of(&app, "c1")?.status, "PENDING", "not resolved by a command found late");
    assert_eq!(app.count("SELECT COUNT(*) FROM special_days")?, 0, "the hours did not change");
    assert_eq!(issues(&app)?, 1, "a manager's text is no issue");
    // Each is told, once, that the command was not run.
    for manager in ["boss", "dana"] {
        app.eventually("the manager is told", || Ok(!sends_to(&ghl, manager).is_empty()))?;
    }
    std::thread::sleep(Duration::from_millis(300));
    for manager in ["boss", "dana"] {
        let sent = sends_to(&ghl, manager);
        assert!(sent.len() == 1 && sent[0].contains("not run"), "{manager}: {sent:?}");
    }
    // GHL's late webhook for Boss's command is a duplicate: still not run.
    let late = text_webhook(&app, "boss", &resolve, &format!("Resolve {}", issue.id), "2026-03-02T15:03:00Z")?;
    assert_eq!(late.json["duplicate"], true, "{late:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(issue_of(&app, "c1")?.status, "PENDING");
    assert_eq!(sends_to(&ghl, "boss").len(), 1);
    // Sent again by webhook, now, it runs.
    let now = text_webhook(&app, "boss", "fresh-resolve", &format!("Resolve {}", issue.id), "2026-03-02T15:06:00Z")?;
    assert_eq!(now.json["command"], true, "{now:?}");
    app.eventually("resolved by the command", || Ok(issue_of(&app, "c1")?.status == "RESOLVED"))?;
    Ok(())
}

// === 5: an office without a tunnel ===

#[test]
fn with_webhooks_off_a_days_events_are_found_by_the_cadence_alone() -> anyhow::Result<()> {
    let (ok, said) = {
        let dir = tempfile::tempdir()?;
        let output = command()
            .arg("check-config")
            .env_clear()
            .env("DB_PATH", dir.path().join("s.db"))
            .envs([("WEBHOOKS", "off"), ("GHL_TOKEN", "test-token"), ("GHL_LOCATION_ID", "loc1")])
            .current_dir(dir.path())
            .output()?;
        (output.status.success(), String::from_utf8_lossy(&output.stdout).to_string())
    };
    assert!(ok && said.contains("WEBHOOKS"), "{said}");

    let ghl = fake_ghl(Fields::AsLive)?;
    let app = office(&ghl, &[("WEBHOOKS", "off")]).start()?;
    assert_eq!(app.admin("GET", "/health")?.json["webhooks"], "off");
    start_pass(&app)?;
    // Monday's texts and calls, each found by the next cadence pass (every 3 minutes by default
    // with WEBHOOKS=off), never by a webhook or a job.
    let day = [
        ("c1", "SMS", "2026-03-02T15:01:00Z", "2026-03-02T15:03:30Z", "2026-03-02T17:01:00Z"),
        ("c2", "CALL", "2026-03-02T16:30:00Z", "2026-03-02T16:32:00Z", "2026-03-02T18:30:00Z"),
        ("c3", "SMS", "2026-03-02T19:15:00Z", "2026-03-02T19:17:00Z", "2026-03-02T21:15:00Z"),
        // 16:50 CST: 10 business minutes on Monday, 1 h 50 on Tuesday from 08:00.
        ("c4", "SMS", "2026-03-02T22:50:00Z", "2026-03-02T22:53:00Z", "2026-03-03T15:50:00Z"),
    ];
    for (contact, kind, when, look, due) in day {
        match kind {
            "CALL" => ghl.missed_call(&format!("conv-{contact}"), contact, when),
            _ => ghl.inbound_text(&format!("conv-{contact}"), contact, "Is the tech coming today?", when),
        };
        app.set_clock(look)?;
        app.eventually("found by the cadence pass", || Ok(issues_of(&app, contact)?.len() == 1))?;
        let issue = issue_of(&app, contact)?;
        assert_eq!((issue.kind.as_str(), issue.created_at, issue.due_at), (kind, at(when), at(due)), "{contact}");
        assert_eq!(catchup_status(&app)?["reason"], "cadence");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events WHERE route = 'catchup'")?, 4);
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events WHERE route <> 'catchup'")?, 0, "no webhook");
    assert_eq!(app.admin("GET", "/health")?.json["webhooks"], "off");
    Ok(())
}

// === 6: the cost of a quiet office ===

#[test]
fn a_pass_over_a_quiet_office_costs_two_searches() -> anyhow::Result<()> {
    let ghl = fake_ghl(Fields::AsLive)?;
    // Last week's conversations, long answered; each ends with the customer's thanks, so the
    // search lists them.
    for (conversation, contact) in [("old1", "o1"), ("old2", "o2"), ("old3", "o3")] {
        ghl.inbound_text(conversation, contact, "Can you come Friday?", "2026-02-26T16:00:00Z");
        ghl.staff_reply(conversation, contact, "u1", "2026-02-26T16:20:00Z");
        ghl.inbound_text(conversation, contact, "Thanks!", "2026-02-26T16:25:00Z");
    }
    let app = office(&ghl, &[]).start()?;
    start_pass(&app)?;
    // A text comes at 09:02, by webhook as well as into GHL.
    app.set_clock("2026-03-02T15:02:00Z")?;
    let message = ghl.inbound_text("conv-c1", "c1", "Is the tech coming today?", "2026-03-02T15:02:00Z");
    text_webhook(&app, "c1", &message, "Is the tech coming today?", "2026-03-02T15:02:00Z")?;
    app.set_clock("2026-03-02T15:05:00Z")?;
    let first = pass(&app)?;
    assert_eq!(
        (first["found"].as_u64(), first["created"].as_u64()),
        (Some(0), Some(0)),
        "what the webhook brought is not found again: {first}"
    );
    assert!(first["conversations_read"].as_u64() <= Some(1), "only the changed conversation: {first}");
    assert_eq!(issues(&app)?, 1);

    // Nothing new since: two searches (conversations whose last message is the customer's, and
    // those whose last message is an automated reply), nothing read.
    app.set_clock("2026-03-02T15:07:00Z")?;
    let before = quiet(&ghl);
    let job = pass(&app)?;
    let asked: Vec<_> = ghl.requests().into_iter().skip(before).collect();
    assert_eq!(asked.len(), 2, "{asked:#?}");
    let queries: Vec<std::collections::HashMap<String, String>> = asked
        .iter()
        .map(|request| {
            assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/conversations/search"));
            form_urlencoded::parse(request.query.as_bytes()).into_owned().collect()
        })
        .collect();
    for query in &queries {
        for (name, value) in [("locationId", "loc1"), ("sortBy", "last_message_date"), ("sort", "desc")] {
            assert_eq!(query.get(name).map(String::as_str), Some(value), "{query:?}");
        }
    }
    let lists: Vec<(Option<&str>, Option<&str>)> = queries
        .iter()
        .map(|q| (q.get("lastMessageDirection").map(String::as_str), q.get("lastMessageAction").map(String::as_str)))
        .collect();
    assert_eq!(lists, [(Some("inbound"), None), (Some("outbound"), Some("automated"))]);
    assert_eq!((job["searches"].as_u64(), job["conversations_read"].as_u64()), (Some(2), Some(0)), "{job}");

    // The cadence pass (due 10 minutes after the start's or the last pass) costs the same.
    let before = quiet(&ghl);
    app.set_clock("2026-03-02T15:20:00Z")?;
    app.eventually("the cadence pass", || Ok(catchup_status(&app)?["reason"] == "cadence"))?;
    let after = quiet(&ghl);
    let asked: Vec<String> = ghl.requests().into_iter().skip(before).map(|r| r.path).collect();
    assert_eq!((after - before, asked), (2, vec!["/conversations/search".to_string(); 2]));
    let status = catchup_status(&app)?;
    assert_eq!((status["searches"].as_u64(), status["conversations_read"].as_u64()), (Some(2), Some(0)), "{status}");
    Ok(())
}

// === beyond the six: what the inbound-only search cannot see ===

/// SPEC §12: every missed call and text that reached GHL becomes an issue. GHL's missed-call
/// text-back and an auto-reply workflow answer within seconds, so the conversation's newest
/// message is outbound and automated, and a search for `lastMessageDirection=inbound` does not
/// list it. An automated message answers nobody (SPEC §5.2): both must still be found.
#[test]
fn a_missed_call_answered_only_by_an_automated_text_back_is_still_caught_up() -> anyhow::Result<()> {
    let ghl = fake_ghl(Fields::AsLive)?;
    let app = office(&ghl, &[]).start()?;
    start_pass(&app)?;
    ghl.missed_call("conv-c1", "c1", "2026-03-02T15:02:00Z");
    ghl.add_message(
        "conv-c1",
        "c1",
        json!({ "direction": "outbound", "messageType": "TYPE_SMS", "source": "workflow",
            "dateAdded": "2026-03-02T15:02:20Z", "body": "Sorry we missed your call! How can we help?" }),
    );
    ghl.inbound_text("conv-c2", "c2", "Do you service salt pools?", "2026-03-02T15:03:00Z");
    ghl.add_message(
        "conv-c2",
        "c2",
        json!({ "direction": "outbound", "messageType": "TYPE_SMS", "source": "workflow",
            "dateAdded": "2026-03-02T15:03:05Z", "body": "Thanks for texting NTPP! We will reply shortly." }),
    );
    app.set_clock("2026-03-02T15:06:00Z")?;
    let job = pass(&app)?;
    assert_eq!(job["created"], 2, "{job}");
    let call = issue_of(&app, "c1")?;
    assert_eq!((call.kind.as_str(), call.created_at), ("CALL", at("2026-03-02T15:02:00Z")));
    let text = issue_of(&app, "c2")?;
    assert_eq!((text.kind.as_str(), text.created_at), ("SMS", at("2026-03-02T15:03:00Z")));
    Ok(())
}

// === after every gap: the tunnel back up, the clock believed again ===

/// A stand-in for cloudflared's `/ready` on loopback, answering what `status` holds.
fn readiness()
-> anyhow::Result<(String, std::sync::Arc<std::sync::atomic::AtomicU16>, std::sync::Arc<tiny_http::Server>)> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU16, Ordering};
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::format_err!("{e}"))?);
    let url = format!("http://{}/ready", server.server_addr().to_ip().map(|a| a.to_string()).unwrap_or_default());
    let status = Arc::new(AtomicU16::new(200));
    let (serving, answer) = (server.clone(), status.clone());
    std::thread::spawn(move || {
        while let Ok(request) = serving.recv() {
            let code = answer.load(Ordering::Relaxed);
            let _ = request.respond(tiny_http::Response::from_string("{}").with_status_code(code));
        }
    });
    Ok((url, status, server))
}

#[test]
fn the_tunnel_back_up_starts_a_pass_that_finds_what_came_while_it_was_down() -> anyhow::Result<()> {
    use std::sync::atomic::Ordering;
    let ghl = fake_ghl(Fields::AsLive)?;
    let (url, ready, server) = readiness()?;
    let app = office(&ghl, &[("TUNNEL_READY_URL", url.as_str())]).start()?;
    start_pass(&app)?;
    let tunnel = |app: &Sentinel| -> anyhow::Result<Value> { Ok(app.admin("GET", "/health")?.json["tunnel"].clone()) };
    app.eventually("the tunnel up", || Ok(tunnel(&app)? == "ok"))?;
    ready.store(503, Ordering::Relaxed);
    app.eventually("the tunnel down", || Ok(tunnel(&app)? == "down"))?;
    // While it is down a customer texts; GHL's webhook never reaches the box.
    app.set_clock("2026-03-02T15:05:00Z")?;
    ghl.inbound_text("conv-c1", "c1", "Is anyone there?", "2026-03-02T15:03:00Z");
    assert_eq!(issues(&app)?, 0, "no cadence pass is due before 09:10");
    ready.store(200, Ordering::Relaxed);
    app.eventually("the pass the tunnel's return starts", || Ok(catchup_status(&app)?["reason"] == "tunnel back"))?;
    app.eventually("the text found", || Ok(issues_of(&app, "c1")?.len() == 1))?;
    let issue = issue_of(&app, "c1")?;
    assert_eq!((issue.created_at, issue.due_at), (at("2026-03-02T15:03:00Z"), at("2026-03-02T17:03:00Z")));
    server.unblock();
    Ok(())
}

#[test]
fn the_clock_believed_again_starts_a_pass() -> anyhow::Result<()> {
    let ghl = fake_ghl(Fields::AsLive)?;
    let app = office(&ghl, &[]).start()?;
    start_pass(&app)?;
    let untrusted = app.admin("POST", "/debug/clock?synchronized=0")?;
    assert_eq!(untrusted.status, 200, "{untrusted:?}");
    // Meanwhile a missed call reaches GHL only.
    ghl.missed_call("conv-c2", "c2", "2026-03-02T15:02:00Z");
    let trusted = app.admin("POST", "/debug/clock?set=2026-03-02T15:04:00Z&synchronized=1")?;
    assert_eq!(trusted.status, 200, "{trusted:?}");
    app.eventually("the pass the clock's return starts", || Ok(catchup_status(&app)?["reason"] == "clock trusted"))?;
    app.eventually("the call found", || Ok(issues_of(&app, "c2")?.len() == 1))?;
    assert_eq!(issue_of(&app, "c2")?.created_at, at("2026-03-02T15:02:00Z"));
    Ok(())
}

// === WEBHOOKS=off against the same day by webhooks ===

/// One morning, lived twice: once with every webhook arriving, once with `WEBHOOKS=off`. The
/// issues, their times and statuses, and the breach alerts to the manager come out the same;
/// catch-up only finds each event up to one interval (3 minutes) later.
#[test]
fn a_morning_on_catch_up_alone_gives_the_issues_and_breaches_webhooks_give() -> anyhow::Result<()> {
    // (contact, text or call, when, staff answer in GHL at); on the 3-minute steps, so a webhook
    // arrives when its message is sent.
    let morning = [
        ("c1", "SMS", "2026-03-02T15:03:00Z", None),
        ("c2", "CALL", "2026-03-02T15:21:00Z", Some("2026-03-02T15:42:00Z")),
        ("c3", "SMS", "2026-03-02T16:00:00Z", Some("2026-03-02T16:30:00Z")),
        ("c4", "CALL", "2026-03-02T16:12:00Z", None),
    ];
    let mut outcomes = Vec::new();
    for webhooks in [true, false] {
        let ghl = fake_ghl(Fields::AsLive)?;
        let mode = if webhooks { "on" } else { "off" };
        let app = office(&ghl, &[("WEBHOOKS", mode), ("MANAGER_CONTACT_IDS", "boss")]).start()?;
        start_pass(&app)?;
        let mut minute = 0;
        let mut before = at(MONDAY_9AM) - jiff::SignedDuration::from_mins(1);
        while minute <= 200 {
            let now = at(MONDAY_9AM) + jiff::SignedDuration::from_mins(minute);
            app.set_clock(&now.to_string())?;
            // What happened since the last step, as it happened.
            let this_step = |when: &str| before < at(when) && at(when) <= now;
            for (contact, kind, when, answered) in morning {
                let conversation = format!("conv-{contact}");
                if this_step(when) {
                    let id = match kind {
                        "CALL" => ghl.missed_call(&conversation, contact, when),
                        _ => ghl.inbound_text(&conversation, contact, "Is the tech coming today?", when),
                    };
                    if webhooks {
                        match kind {
                            "CALL" => call_webhook(&app, contact, &id, when)?,
                            _ => text_webhook(&app, contact, &id, "Is the tech coming today?", when)?,
                        };
                    }
                }
                if let Some(reply) = answered.filter(|reply| this_step(reply)) {
                    let kind = if kind == "CALL" { "TYPE_CALL" } else { "TYPE_SMS" };
                    let id = ghl.add_message(
                        &conversation,
                        contact,
                        json!({ "direction": "outbound", "messageType": kind, "userId": "u1", "source": "app",
                            "dateAdded": reply, "body": "On our way", "meta": { "call": { "status": "completed" } } }),
                    );
                    if webhooks {
                        let event = json!({ "type": "OutboundMessage", "locationId": "loc1", "conversationId": conversation,
                            "contactId": contact, "messageId": id, "messageType": if kind == "TYPE_CALL" { "CALL" } else { "SMS" },
                            "userId": "u1", "source": "app", "direction": "outbound", "dateAdded": reply, "callStatus": "completed" });
                        app.webhook("", &event.to_string())?;
                    }
                }
            }
            if webhooks {
                // Time for the clock, the summary sender and the outbox to act on the step, as
                // they would in three real minutes.
                std::thread::sleep(Duration::from_millis(100));
            } else {
                // Every 3-minute step is a cadence pass; wait for it, as real minutes would.
                let stamp = now.to_string();
                app.eventually("the step's pass", || {
                    Ok(catchup_status(&app)?["last_pass_at"].as_str().and_then(|t| t.parse::<Timestamp>().ok())
                        >= stamp.parse().ok())
                })?;
            }
            before = now;
            minute += 3;
        }
        // 12:20 CST: c1 and c4 are overdue; c2 and c3 were answered.
        let settled = |app: &Sentinel| -> anyhow::Result<bool> {
            let open = app.count("SELECT COUNT(*) FROM issues WHERE status = 'OPEN'")?;
            let resolved = app.count("SELECT COUNT(*) FROM issues WHERE status = 'RESOLVED'")?;
            Ok(open == 2 && resolved + open == issues(app)?)
        };
        if app.eventually("the morning settled", || settled(&app)).is_err() {
            let all: Vec<Vec<Issue>> = morning.iter().map(|(c, ..)| issues_of(&app, c)).collect::<Result<_, _>>()?;
            anyhow::bail!("WEBHOOKS={mode}: the morning did not settle: {all:?}");
        }
        let alerted = |c: &str| sends_to(&ghl, "boss").iter().any(|text| text.contains(&format!("Pat {c}")));
        let _ = app.eventually("both breach alerts sent", || Ok(alerted("c1") && alerted("c4")));
        let mut seen = Vec::new();
        for (contact, ..) in morning {
            let listed: Vec<(String, Timestamp, Timestamp, String)> = issues_of(&app, contact)?
                .into_iter()
                .map(|issue| (issue.kind, issue.created_at, issue.due_at, issue.status))
                .collect();
            seen.push((contact, listed));
        }
        let alerts = sends_to(&ghl, "boss");
        let named: Vec<bool> =
            ["c1", "c4"].iter().map(|c| alerts.iter().any(|text| text.contains(&format!("Pat {c}")))).collect();
        outcomes.push((seen, named));
    }
    assert_eq!(outcomes[0], outcomes[1], "webhooks on, then off");
    assert_eq!(outcomes[0].1, [true, true], "both overdue customers are in the managers' alerts");
    Ok(())
}
