//! GHL as GHL publishes it (issue 13 part 4), black-box against the fake GHL: each endpoint's
//! documented `Version`, every call type, callbacks that reached only the voicemail (both
//! settings), paging that does not trust message order, and GHL's documented rate-limit
//! headers with no `Retry-After`. The fake checks all this traffic against GHL's OpenAPI too.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fake_ghl::openapi::Deviation;
use crate::fake_ghl::{FakeGhl, Fault, MessageOrder};
use crate::harness::{Sentinel, command, with_ghl};

/// Monday 2026-03-02 09:00 CST.
const MONDAY_9AM: &str = "2026-03-02T15:00:00Z";

fn start(ghl: &FakeGhl, extra: &[(&str, &str)]) -> anyhow::Result<Sentinel> {
    with_ghl(ghl).and(&[("SENTINEL_TEST_NOW", MONDAY_9AM)]).and(extra).start()
}

fn issue_id(answer: &crate::harness::Answer) -> anyhow::Result<i64> {
    answer.json["issue_id"].as_i64().ok_or_else(|| anyhow::format_err!("no issue: {answer:?}"))
}

fn text(app: &Sentinel, conversation: &str, contact: &str) -> anyhow::Result<i64> {
    let body = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": conversation, "contactId": contact,
        "messageType": "SMS", "direction": "inbound", "body": "Is anyone coming today?", "contactName": "Pat" });
    issue_id(&app.webhook("", &body.to_string())?)
}

fn missed_call(app: &Sentinel, contact: &str) -> anyhow::Result<i64> {
    let body = json!({ "contact_id": contact, "missed_call": true, "voicemail_route": "tech_sentinel" });
    issue_id(&app.webhook("unanswered_call", &body.to_string())?)
}

fn status_of(app: &Sentinel, id: i64) -> anyhow::Result<String> {
    Ok(app.db()?.query_row("SELECT status FROM issues WHERE id = ?1", [id], |r| r.get(0))?)
}

fn poll(app: &Sentinel) -> anyhow::Result<Value> {
    let answer = app.admin("POST", "/jobs/poll_resolver")?;
    anyhow::ensure!(answer.status == 200, "{answer:?}");
    Ok(answer.json)
}

fn resolved_ids(job: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = job["resolved_ids"].as_array().into_iter().flatten().filter_map(Value::as_i64).collect();
    ids.sort_unstable();
    ids
}

#[test]
fn each_endpoint_gets_its_documented_version_unless_ghl_version_is_set() -> anyhow::Result<()> {
    for (setting, conversations, contacts) in
        [(None, "2021-04-15", "2021-07-28"), (Some("2021-07-28"), "2021-07-28", "2021-07-28")]
    {
        let ghl = FakeGhl::start()?;
        ghl.add_contact("c1", "Pat", "Doe");
        ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T15:05:00Z");
        let mut extra = vec![];
        if let Some(version) = setting {
            ghl.allow_version_override(version);
            extra.push(("GHL_VERSION", version));
        }
        let app = start(&ghl, &extra)?;
        app.webhook("inbound_sms", r#"{"contact_id":"c1","message":{"body":"is the tech coming?"}}"#)?;
        app.eventually("the name is looked up", || Ok(ghl.requests().iter().any(|r| r.path == "/contacts/c1")))?;
        assert_eq!(poll(&app)?["resolved"], 1);
        let requests = ghl.requests();
        let search = requests.iter().filter(|r| r.path == "/conversations/search");
        let messages = requests.iter().filter(|r| r.path == "/conversations/conv1/messages");
        for request in search.chain(messages) {
            assert_eq!(request.version.as_deref(), Some(conversations), "{setting:?}: {request:?}");
        }
        let contact = requests.iter().find(|r| r.path == "/contacts/c1").expect("looked up");
        assert_eq!(contact.version.as_deref(), Some(contacts), "{setting:?}");
        let overridden = ghl.contract().deviations.get(&Deviation::VersionOverride).copied().unwrap_or(0);
        assert_eq!(overridden > 0, setting.is_some(), "{}", ghl.contract());
    }
    let shown = |env: &[(&str, &str)]| -> anyhow::Result<String> {
        let output = command().arg("check-config").env_clear().envs(env.iter().copied()).output()?;
        Ok(String::from_utf8_lossy(&output.stdout).to_string())
    };
    let default = shown(&[])?;
    assert!(default.contains("# GHL Version header: conversations 2021-04-15, contacts 2021-07-28"), "{default}");
    let overridden = shown(&[("GHL_VERSION", "2021-07-28")])?;
    assert!(overridden.contains("# GHL Version header: 2021-07-28 on every endpoint"), "{overridden}");
    Ok(())
}

/// A callback that reached only the voicemail answers a missed call when
/// `CALL_VOICEMAIL_COUNTS_AS_CALLBACK=1` (the default) and not when 0; a callback that reached
/// nobody never does; one the customer answered always does. Through the API (both spellings
/// of the call status) and through the `OutboundMessage` webhook.
#[test]
fn a_callback_that_reached_only_the_voicemail_answers_as_configured() -> anyhow::Result<()> {
    for (setting, voicemail_counts) in [(None, true), (Some("1"), true), (Some("0"), false)] {
        let ghl = FakeGhl::start()?;
        let mut extra = vec![];
        if let Some(value) = setting {
            extra.push(("CALL_VOICEMAIL_COUNTS_AS_CALLBACK", value));
        }
        let app = start(&ghl, &extra)?;
        let callback = |contact: &str, meta: Value| {
            ghl.add_message(
                &format!("conv-{contact}"),
                contact,
                json!({ "direction": "outbound", "messageType": "TYPE_CALL", "dateAdded": "2026-03-02T15:05:00Z", "meta": meta }),
            );
        };
        let spec_voicemail = missed_call(&app, "spec-voicemail")?;
        callback("spec-voicemail", json!({ "callStatus": "voicemail", "callDuration": "40" }));
        let live_voicemail = missed_call(&app, "live-voicemail")?;
        callback("live-voicemail", json!({ "call": { "status": "voicemail", "duration": 40 } }));
        let no_answer = missed_call(&app, "no-answer")?;
        callback("no-answer", json!({ "call": { "status": "no-answer" } }));
        let busy = missed_call(&app, "busy")?;
        callback("busy", json!({ "callStatus": "busy" }));
        let answered = missed_call(&app, "answered")?;
        callback("answered", json!({ "callStatus": "completed", "callDuration": "120" }));
        let job = poll(&app)?;
        let mut expected = vec![answered];
        if voicemail_counts {
            expected.extend([spec_voicemail, live_voicemail]);
        }
        expected.sort_unstable();
        assert_eq!(resolved_ids(&job), expected, "{setting:?}: {job}");
        for id in [no_answer, busy] {
            assert_eq!(status_of(&app, id)?, "PENDING", "{setting:?}: a callback that reached nobody");
        }
        // The webhook says `status: completed` for an outbound call that reached the voicemail;
        // `callStatus` says how it ended (CONTRACT §1.3).
        let by_webhook = missed_call(&app, "webhook")?;
        let outbound = json!({ "type": "OutboundMessage", "locationId": "loc1", "contactId": "webhook", "messageType": "CALL",
            "direction": "outbound", "status": "completed", "callStatus": "voicemail", "messageId": "call-w1",
            "dateAdded": "2026-03-02T15:06:00Z", "messageTypeString": "TYPE_CALL" });
        app.webhook("", &outbound.to_string())?;
        let expected = if voicemail_counts { "RESOLVED" } else { "PENDING" };
        assert_eq!(status_of(&app, by_webhook)?, expected, "{setting:?}: the webhook's voicemail callback");
    }
    Ok(())
}

/// IVR, custom-provider and campaign manual calls are calls (CONTRACT §1.4): a missed one opens
/// a CALL issue, a returned one answers it. A campaign's automated call does not.
#[test]
fn every_call_type_ghl_documents_is_a_call() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    let inbound = |contact: &str, message_type: &str, type_string: &str| -> anyhow::Result<i64> {
        let body = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": format!("conv-{contact}"),
            "contactId": contact, "direction": "inbound", "messageType": message_type, "messageTypeString": type_string,
            "status": "no-answer", "dateAdded": "2026-03-02T14:58:00Z" });
        let answer = app.webhook("", &body.to_string())?;
        let id = issue_id(&answer)?;
        let kind: String = app.db()?.query_row("SELECT kind FROM issues WHERE id = ?1", [id], |r| r.get(0))?;
        anyhow::ensure!(kind == "CALL", "{message_type}/{type_string} opened a {kind} issue");
        Ok(id)
    };
    let ivr = inbound("ivr", "CALL", "TYPE_IVR_CALL")?;
    let custom = inbound("custom", "Custom", "TYPE_CUSTOM_CALL")?;
    let campaign = inbound("campaign", "TYPE_CAMPAIGN_MANUAL_CALL", "")?;
    let automated = inbound("automated", "CALL", "TYPE_CALL")?;
    for (contact, returned_as) in [
        ("ivr", "TYPE_IVR_CALL"),
        ("custom", "TYPE_CUSTOM_CALL"),
        ("campaign", "TYPE_CAMPAIGN_MANUAL_CALL"),
        ("automated", "TYPE_CAMPAIGN_CALL"),
    ] {
        ghl.add_message(
            &format!("conv-{contact}"),
            contact,
            json!({ "direction": "outbound", "messageType": returned_as, "dateAdded": "2026-03-02T15:05:00Z",
                "meta": { "callStatus": "completed" } }),
        );
    }
    let job = poll(&app)?;
    let mut expected = vec![ivr, custom, campaign];
    expected.sort_unstable();
    assert_eq!(resolved_ids(&job), expected, "{job}");
    assert_eq!(status_of(&app, automated)?, "PENDING", "a campaign's automated dialling returns nobody's call");
    Ok(())
}

/// GHL does not promise message order. Logged order (a call logged late under its earlier
/// time sits among the newest) must not end the look-back before the staff reply on the next
/// page; nor may pages that list their messages oldest first.
#[test]
fn paging_goes_by_date_not_by_position() -> anyhow::Result<()> {
    for order in [MessageOrder::AsLogged, MessageOrder::PageOldestFirst] {
        let ghl = FakeGhl::start()?;
        ghl.message_order(order);
        // The resolver's pages are counted: no catch-up pass reads the conversation meanwhile.
        let app = start(&ghl, &[("CATCHUP_INTERVAL_MINUTES", "600")])?;
        let id = text(&app, "conv1", "c1")?;
        let inbound = |at: String| json!({ "direction": "inbound", "messageType": "TYPE_SMS", "dateAdded": at, "body": "and the heater?" });
        ghl.add_message("conv1", "c1", inbound("2026-03-02T15:00:00Z".to_string()));
        ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T15:05:00Z");
        for minute in 6..25 {
            ghl.add_message("conv1", "c1", inbound(format!("2026-03-02T15:{minute:02}:00Z")));
        }
        // Logged last, dated before the issue: the customer's earlier call.
        ghl.add_message(
            "conv1",
            "c1",
            json!({ "direction": "inbound", "messageType": "TYPE_CALL", "dateAdded": "2026-03-02T14:40:00Z",
                "meta": { "callStatus": "no-answer" } }),
        );
        app.set_clock("2026-03-02T15:30:00Z")?;
        let job = poll(&app)?;
        assert_eq!(resolved_ids(&job), vec![id], "{order:?}: {job}");
        let pages = ghl.requests().iter().filter(|r| r.path == "/conversations/conv1/messages").count();
        assert_eq!(pages, 2, "{order:?}: two pages hold 22 messages");
    }
    Ok(())
}

/// A 429 carries GHL's documented headers and no `Retry-After`: the client waits for the
/// interval `X-RateLimit-Interval-Milliseconds` gives, then succeeds.
#[test]
fn a_429_without_retry_after_waits_the_interval_ghl_reports() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    let id = text(&app, "conv1", "c1")?;
    ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T15:05:00Z");
    ghl.fail_next(&[Fault::RateLimited(Duration::from_millis(1500))]);
    let job = poll(&app)?;
    assert_eq!(resolved_ids(&job), vec![id], "{job}");
    let requests = ghl.requests();
    let [limited, retried] = requests.as_slice() else { panic!("two requests: {requests:?}") };
    let answer = limited.answer.as_ref().expect("answered");
    assert_eq!(answer.status, 429);
    assert!(!answer.headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("Retry-After")));
    let waited = retried.at.duration_since(limited.at);
    assert!(waited >= Duration::from_millis(1400), "retried after {waited:?}, before the 1.5 s interval");
    let health = app.admin("GET", "/health")?;
    assert_eq!(health.json["ghl_detail"]["rate_limited"], 1, "{health:?}");
    assert_eq!(health.json["ghl_detail"]["rate_limit"]["remaining"], 99, "the last answer's headers: {health:?}");
    Ok(())
}

/// `X-RateLimit-Daily-Remaining: 0`: retrying is pointless, and nothing more is asked until the
/// hold ends; the job and /health say why.
#[test]
fn when_ghl_says_the_day_is_spent_nothing_more_is_asked() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = start(&ghl, &[])?;
    text(&app, "conv1", "c1")?;
    ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T15:05:00Z");
    ghl.fail_next(&[Fault::DailyLimitReached]);
    let job = poll(&app)?;
    assert!(job["errors"].to_string().contains("daily GHL request budget spent"), "{job}");
    assert_eq!(ghl.requests().len(), 1, "not retried");
    let again = poll(&app)?;
    assert!(again["errors"].to_string().contains("daily GHL request budget spent"), "{again}");
    assert_eq!(ghl.requests().len(), 1, "nothing asked while the day is spent");
    let health = app.admin("GET", "/health")?;
    assert_eq!(health.json["ghl_detail"]["rate_limit"]["daily_remaining"], 0, "{health:?}");
    assert_eq!(health.json["ghl"], "degraded", "{health:?}");
    Ok(())
}
