//! The documented payloads of `tests/fixtures/payloads/`, parsed.

use super::*;
use crate::domain::event::Status;

fn options() -> ParseOptions {
    ParseOptions {
        missed_marker_keys: vec!["sentinel_missed_call".into(), "missed_call".into(), "is_missed_call".into()],
        require_missed_marker: true,
    }
}

fn fixture(name: &str) -> Map<String, Value> {
    let path = format!("{}/tests/fixtures/payloads/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{path}: {err}"));
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{path}: {err}"))
}

fn json(text: &str) -> Map<String, Value> {
    serde_json::from_str(text).expect("test JSON")
}

fn inbound(parsed: &Parsed) -> &Inbound {
    match &parsed.event {
        Event::Inbound(inbound) => inbound,
        other => panic!("expected an inbound event, got {other:?}"),
    }
}

fn ignored(parsed: &Parsed) -> &str {
    match &parsed.event {
        Event::Ignored(reason) => reason,
        other => panic!("expected an ignored event, got {other:?}"),
    }
}

#[test]
fn marketplace_inbound_sms() {
    for name in ["inbound_sms_1.json", "inbound_sms_2_legacy_doc.json"] {
        let parsed = parse(Route::Events, &fixture(name), &options());
        let sms = inbound(&parsed);
        assert_eq!(sms.kind, IssueKind::Sms);
        assert_eq!(sms.text.as_deref(), Some("This is a test message"));
        assert_eq!(sms.party.conversation_id.as_deref(), Some("fcanlLgpbQgQhderivVs"));
        assert_eq!(sms.party.contact_id.as_deref(), Some("cI08i1Bls3iTB9bKgFJh"));
        assert_eq!(sms.sent_at.map(|t| t.to_string()).as_deref(), Some("2021-04-21T11:31:45.75Z"));
        assert_eq!(parsed.location_id.as_deref(), Some("l1C08ntBrFjLS0elLIYU"));
    }
    let parsed = parse(Route::Events, &fixture("inbound_sms_1.json"), &options());
    assert_eq!(inbound(&parsed).party.phone.as_ref().map(|p| p.as_str()), Some("+15551234567"));
}

#[test]
fn marketplace_calls_open_issues_only_when_missed() {
    let parsed = parse(Route::Events, &fixture("inbound_voicemail_1.json"), &options());
    assert_eq!(inbound(&parsed).kind, IssueKind::Call);
    assert_eq!(parsed.message_id.as_deref(), Some("QkNS0DNje0FjoLQdD5O3"));
    let parsed = parse(Route::Events, &fixture("inbound_call_1.json"), &options());
    assert_eq!(ignored(&parsed), "answered call");
}

#[test]
fn marketplace_other_events_are_ignored_with_a_reason() {
    let parsed = parse(Route::Events, &fixture("inbound_email_1.json"), &options());
    assert_eq!(ignored(&parsed), "inbound email");
    let parsed = parse(Route::Events, &fixture("opportunity_create_logs_dashboard_1.json"), &options());
    assert_eq!(ignored(&parsed), "event OpportunityCreate");
    assert_eq!(parsed.webhook_id.as_deref(), Some("881b9415-5d35-4ff1-a667-0545b80b96c0"));
    let parsed = parse(Route::Events, &fixture("workflow_webhook_contact_tag_1.json"), &options());
    assert_eq!(ignored(&parsed), "no event type");
}

#[test]
fn outbound_messages_become_staff_reply_candidates() {
    for (name, kind) in [
        ("outbound_sms_1.json", "SMS"),
        ("outbound_call_1.json", "CALL"),
        ("outbound_internal_comment_1.json", "InternalComment"),
    ] {
        let parsed = parse(Route::Events, &fixture(name), &options());
        let Event::Outbound(outbound) = &parsed.event else { panic!("{name}: {:?}", parsed.event) };
        assert_eq!(outbound.message_type, kind, "{name}");
    }
    let parsed = parse(Route::Events, &fixture("outbound_call_1.json"), &options());
    let Event::Outbound(call) = &parsed.event else { panic!("{:?}", parsed.event) };
    assert_eq!(call.call_status.as_deref(), Some("completed"));
    // The same outbound SMS posted to the workflow route is never an issue either.
    let parsed = parse(Route::InboundSms, &fixture("outbound_sms_1.json"), &options());
    assert!(matches!(parsed.event, Event::Outbound(_)), "{:?}", parsed.event);
}

#[test]
fn workflow_inbound_sms() {
    let parsed = parse(Route::InboundSms, &fixture("workflow_inbound_sms.json"), &options());
    let sms = inbound(&parsed);
    assert_eq!(sms.party.contact_id.as_deref(), Some("wfC0ntact0001"));
    assert_eq!(sms.party.phone.as_ref().map(|p| p.as_str()), Some("+12145550104"));
    assert_eq!(sms.contact_name.as_deref(), Some("Carl Jones"));
    assert_eq!(sms.text.as_deref(), Some("The pool looks pretty cloudy"));
    assert_eq!(parsed.location_id.as_deref(), Some("ntppLocation01"));
    assert!(!sms.from_internal_contact);
}

#[test]
fn workflow_missed_call_needs_marker_and_route() {
    let parsed = parse(Route::UnansweredCall, &fixture("workflow_unanswered_call.json"), &options());
    assert_eq!(inbound(&parsed).kind, IssueKind::Call);

    let no_marker = json(r#"{"contact_id":"c","customData":{"voicemail_route":"tech_sentinel"}}"#);
    assert_eq!(ignored(&parse(Route::UnansweredCall, &no_marker, &options())), "no missed-call marker");
    let relaxed = ParseOptions { require_missed_marker: false, ..options() };
    assert_eq!(inbound(&parse(Route::UnansweredCall, &no_marker, &relaxed)).kind, IssueKind::Call);

    let wrong_route = json(r#"{"contact_id":"c","missed_call":"yes","voicemail_route":"office"}"#);
    assert!(ignored(&parse(Route::UnansweredCall, &wrong_route, &options())).contains("tech_sentinel"));

    let deep_and_list = json(
        r#"{"contact_id":"c","a":{"b":[{"is_missed_call":"no answer"}]},"voicemail_route":["x","tech_sentinel"]}"#,
    );
    assert_eq!(inbound(&parse(Route::UnansweredCall, &deep_and_list, &options())).kind, IssueKind::Call);

    for falsy in [r#""false""#, "0", "false", r#""nope""#, "null", r#""0""#] {
        let body = json(&format!(r#"{{"contact_id":"c","missed_call":{falsy},"voicemail_route":"tech_sentinel"}}"#));
        let not_missed = "the missed-call marker says the call was not missed";
        assert_eq!(ignored(&parse(Route::UnansweredCall, &body, &options())), not_missed, "{falsy}");
        // Without the requirement, an explicit "not missed" is still believed.
        assert_eq!(ignored(&parse(Route::UnansweredCall, &body, &relaxed)), not_missed, "{falsy}");
    }
    // Non-zero is truthy as text too (form bodies carry only text), and key names ignore case.
    for marked in [r#""missed_call":"2""#, r#""missed_call":2"#, r#""MISSED_CALL":true"#, r#""Missed_Call":"Yes""#] {
        let body = json(&format!(r#"{{"contact_id":"c",{marked},"voicemail_route":"tech_sentinel"}}"#));
        assert_eq!(inbound(&parse(Route::UnansweredCall, &body, &options())).kind, IssueKind::Call, "{marked}");
    }
}

#[test]
fn an_email_to_the_text_route_is_not_a_text() {
    let email = json(r#"{"contact_id":"c","message":{"type":"Email","body":"Invoice attached"}}"#);
    assert_eq!(ignored(&parse(Route::InboundSms, &email, &options())), "inbound email");
    let sms = json(r#"{"contact_id":"c","message":{"type":"SMS","body":"Pool is green"}}"#);
    assert_eq!(inbound(&parse(Route::InboundSms, &sms, &options())).kind, IssueKind::Sms);
}

#[test]
fn tolerant_field_names() {
    let nested = json(r#"{"data":{"contactId":"c9","text":"hello"},"conversation":{"id":"v9"}}"#);
    let sms = parse(Route::InboundSms, &nested, &options());
    let sms = inbound(&sms);
    assert_eq!(sms.party.contact_id.as_deref(), Some("c9"));
    assert_eq!(sms.party.conversation_id.as_deref(), Some("v9"));
    assert_eq!(sms.text.as_deref(), Some("hello"));
    let plain = json(r#"{"contact_id":"c1","message":"hi there","contact_type":"internal"}"#);
    let parsed = parse(Route::InboundSms, &plain, &options());
    assert!(inbound(&parsed).from_internal_contact);
    assert_eq!(inbound(&parsed).text.as_deref(), Some("hi there"));
}

/// A name is shown inside managers' texts: a line break in it must not start a line that
/// passes for Sentinel's own (issue 23, own reading).
#[test]
fn a_contact_name_is_kept_on_one_line() {
    let forged = json(r#"{"contact_id":"c1","full_name":"Carl\nNTPP Sentinel: all clear\r\n","message":"hi"}"#);
    let parsed = parse(Route::InboundSms, &forged, &options());
    assert_eq!(inbound(&parsed).contact_name.as_deref(), Some("Carl NTPP Sentinel: all clear"));
    let split = json(r#"{"contact_id":"c1","first_name":"Ann","last_name":"Lee","message":"hi"}"#);
    assert_eq!(inbound(&parse(Route::InboundSms, &split, &options())).contact_name.as_deref(), Some("Ann Lee"));
    let blank = json(r#"{"contact_id":"c1","full_name":"\n ","message":"hi"}"#);
    assert_eq!(inbound(&parse(Route::InboundSms, &blank, &options())).contact_name, None);
}

#[test]
fn empty_bodies_never_make_issues() {
    let parsed = parse(Route::InboundSms, &Map::new(), &options());
    assert!(ignored(&parsed).contains("no contact"));
    let parsed = parse(Route::UnansweredCall, &Map::new(), &options());
    assert!(matches!(parsed.event, Event::Ignored(_)));
    assert_eq!(Status::parse("open"), Some(Status::Open));
}

/// `messageType`'s other call kinds (CONTRACT §1.4): an IVR, custom-provider or campaign manual
/// call is a call, named in `messageType` or only in `messageTypeString`.
#[test]
fn every_call_type_is_a_call() {
    for (message_type, type_string) in [
        ("CALL", "TYPE_IVR_CALL"),
        ("IVR_CALL", ""),
        ("TYPE_IVR_CALL", ""),
        ("Custom", "TYPE_CUSTOM_CALL"),
        ("TYPE_CUSTOM_CALL", ""),
        ("TYPE_CAMPAIGN_MANUAL_CALL", ""),
    ] {
        let missed = json(&format!(
            r#"{{"type":"InboundMessage","contactId":"c1","messageType":"{message_type}","messageTypeString":"{type_string}","status":"no-answer"}}"#
        ));
        assert_eq!(inbound(&parse(Route::Events, &missed, &options())).kind, IssueKind::Call, "{message_type}");
        let answered = json(&format!(
            r#"{{"type":"InboundMessage","contactId":"c1","messageType":"{message_type}","messageTypeString":"{type_string}","status":"completed","callStatus":"completed"}}"#
        ));
        assert_eq!(ignored(&parse(Route::Events, &answered, &options())), "answered call", "{message_type}");
        let callback = json(&format!(
            r#"{{"type":"OutboundMessage","contactId":"c1","messageType":"{message_type}","messageTypeString":"{type_string}","status":"completed","callStatus":"voicemail"}}"#
        ));
        let Event::Outbound(outbound) = parse(Route::Events, &callback, &options()).event else {
            panic!("{message_type}: not an outbound")
        };
        assert!(crate::domain::event::is_call_type(&outbound.message_type), "{message_type}");
        assert_eq!(outbound.call_status.as_deref(), Some("voicemail"), "the call status, not the message status");
    }
}

/// The envelope's `timestamp`, which GHL's signature covers, as the real log payload has it.
#[test]
fn the_signed_timestamp_is_read_from_the_envelope() {
    let at = |text: &str| signed_at(&json(text)).map(|at| at.to_string());
    let logged = fixture("opportunity_create_logs_dashboard_1.json");
    assert_eq!(signed_at(&logged).map(|at| at.to_string()).as_deref(), Some("2025-11-07T12:46:45.953Z"));
    assert_eq!(at(r#"{"timestamp": 1772460000}"#).as_deref(), Some("2026-03-02T14:00:00Z"));
    assert_eq!(at(r#"{"timestamp": 1772460000123}"#).as_deref(), Some("2026-03-02T14:00:00.123Z"));
    for missing in [r#"{}"#, r#"{"timestamp": "yesterday"}"#, r#"{"timestamp": null}"#, r#"{"data": {"timestamp": 1}}"#]
    {
        assert_eq!(at(missing), None, "{missing}");
    }
    assert_eq!(signed_at(&fixture("inbound_sms_1.json")), None, "the per-event docs show no envelope");
}
