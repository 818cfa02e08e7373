//! The checker itself: traffic that breaks the published contract is caught.

use std::time::Instant;

use super::super::{Answered, Recorded};
use super::*;

const LIMITS: [(&str, &str); 5] = [
    ("X-RateLimit-Limit-Daily", "200000"),
    ("X-RateLimit-Daily-Remaining", "199999"),
    ("X-RateLimit-Interval-Milliseconds", "10000"),
    ("X-RateLimit-Max", "100"),
    ("X-RateLimit-Remaining", "99"),
];

fn exchange(method: &str, url: &str, version: &str, body: Value, status: u16, answer: Value) -> Recorded {
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    let mut headers = vec![("Authorization".to_string(), "Bearer t".to_string())];
    if !version.is_empty() {
        headers.push(("Version".to_string(), version.to_string()));
    }
    if !body.is_null() {
        headers.push(("Content-Type".to_string(), "application/json".to_string()));
    }
    Recorded {
        method: method.to_string(),
        path: path.to_string(),
        query: query.to_string(),
        authorization: Some("Bearer t".to_string()),
        version: Some(version.to_string()),
        headers,
        body: if body.is_null() { String::new() } else { body.to_string() },
        at: Instant::now(),
        answer: Some(Answered {
            status,
            headers: LIMITS.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            body: answer.to_string(),
            fault: None,
        }),
    }
}

fn message(extra: Value) -> Value {
    let mut message = json!({ "id": "m1", "type": 2, "messageType": "TYPE_SMS", "locationId": "l", "contactId": "c",
        "conversationId": "v", "dateAdded": "2026-03-02T15:00:00Z", "direction": "inbound", "contentType": "text/plain" });
    if let (Some(message), Value::Object(extra)) = (message.as_object_mut(), extra) {
        message.extend(extra);
    }
    message
}

fn conversation(extra: Value) -> Value {
    let mut conversation = json!({ "id": "v", "contactId": "c", "locationId": "l", "lastMessageBody": "", "lastMessageType": "TYPE_SMS",
        "type": "TYPE_PHONE", "unreadCount": 0, "fullName": "", "contactName": "", "email": "", "phone": "" });
    if let (Some(conversation), Value::Object(extra)) = (conversation.as_object_mut(), extra) {
        conversation.extend(extra);
    }
    conversation
}

fn published() -> Allowed {
    Allowed::default()
}

fn live() -> Allowed {
    Allowed { live_deviations: true, version_override: None }
}

fn violations(records: &[Recorded], allowed: &Allowed) -> Vec<String> {
    check(records, allowed).violations
}

#[test]
fn published_traffic_passes() {
    let page = json!({ "messages": { "lastMessageId": "m1", "nextPage": false,
        "messages": [message(json!({ "meta": { "callStatus": "voicemail", "callDuration": "12" } }))] } });
    let records = [
        exchange(
            "GET",
            "/conversations/search?locationId=l&contactId=c&limit=1",
            "2021-04-15",
            Value::Null,
            200,
            json!({ "conversations": [conversation(json!({}))], "total": 1 }),
        ),
        exchange("GET", "/conversations/v/messages?limit=50&lastMessageId=m0", "2021-04-15", Value::Null, 200, page),
        exchange(
            "GET",
            "/contacts/c",
            "2021-07-28",
            Value::Null,
            200,
            json!({ "contact": { "id": "c", "name": "Pat Doe", "firstName": "Pat", "lastName": "Doe" } }),
        ),
        exchange(
            "POST",
            "/conversations/messages",
            "2021-04-15",
            json!({ "type": "SMS", "contactId": "c", "message": "hi" }),
            200,
            json!({ "conversationId": "v", "messageId": "m2", "msg": "Message queued successfully." }),
        ),
    ];
    let report = check(&records, &published());
    assert!(report.violations.is_empty(), "{report}");
    assert!(report.deviations.is_empty(), "{report}");
}

#[test]
fn requests_ghl_would_refuse_are_caught() {
    let ok = json!({ "conversations": [], "total": 0 });
    let cases = [
        (
            exchange("GET", "/conversations/search?contactId=c", "2021-04-15", Value::Null, 200, ok.clone()),
            "required query parameter locationId",
        ),
        (
            exchange("GET", "/conversations/search?locationId=l", "", Value::Null, 200, ok.clone()),
            "required header parameter Version",
        ),
        (
            exchange("GET", "/conversations/search?locationId=l", "2021-07-28", Value::Null, 200, ok.clone()),
            "Version=\"2021-07-28\"",
        ),
        (
            exchange(
                "GET",
                "/conversations/search?locationId=l&sortBy=newest",
                "2021-04-15",
                Value::Null,
                200,
                ok.clone(),
            ),
            "sortBy=\"newest\"",
        ),
        (
            exchange("GET", "/conversations/search?locationId=l&limit=ten", "2021-04-15", Value::Null, 200, ok.clone()),
            "not a number",
        ),
        (
            exchange("GET", "/conversations/search?locationId=l&page=2", "2021-04-15", Value::Null, 200, ok.clone()),
            "page is not documented",
        ),
        (exchange("GET", "/conversations/v/details", "2021-04-15", Value::Null, 200, ok.clone()), "no such operation"),
        (
            exchange(
                "POST",
                "/conversations/messages",
                "2021-04-15",
                json!({ "type": "SMS", "message": "hi" }),
                200,
                json!({ "conversationId": "v", "messageId": "m" }),
            ),
            "required field contactId",
        ),
        (
            exchange(
                "POST",
                "/conversations/messages",
                "2021-04-15",
                json!({ "type": "SMS", "contactId": "c", "conversationId": "v" }),
                200,
                json!({ "conversationId": "v", "messageId": "m" }),
            ),
            "has no field conversationId",
        ),
        (
            exchange(
                "POST",
                "/conversations/messages",
                "2021-04-15",
                json!({ "type": "Text", "contactId": "c" }),
                200,
                json!({ "conversationId": "v", "messageId": "m" }),
            ),
            "\"Text\" is not one of",
        ),
    ];
    for (record, expected) in cases {
        let found = violations(&[record], &live());
        assert!(found.iter().any(|v| v.contains(expected)), "expected {expected:?} in {found:?}");
    }
    let mut anonymous = exchange("GET", "/contacts/c", "2021-07-28", Value::Null, 200, json!({ "contact": {} }));
    anonymous.headers.retain(|(name, _)| name != "Authorization");
    assert!(violations(&[anonymous], &live()).iter().any(|v| v.contains("bearer token")));
}

#[test]
fn answers_ghl_would_not_give_are_caught() {
    let search = |item: Value| {
        exchange(
            "GET",
            "/conversations/search?locationId=l",
            "2021-04-15",
            Value::Null,
            200,
            json!({ "conversations": [item], "total": 1 }),
        )
    };
    let messages = |body: Value| exchange("GET", "/conversations/v/messages", "2021-04-15", Value::Null, 200, body);
    let cases = [
        (search(json!({ "id": "v", "contactId": "c", "locationId": "l" })), "required field lastMessageBody"),
        (search(conversation(json!({ "unreadCount": "none" }))), "expected number"),
        (search(conversation(json!({ "starred": true }))), "ConversationSchema has no field starred"),
        (
            messages(
                json!({ "messages": { "lastMessageId": "m1", "nextPage": false, "messages": [message(json!({ "messageType": "SMS" }))] } }),
            ),
            "\"SMS\" is not one of",
        ),
        (messages(json!({ "messages": { "nextPage": false, "messages": [] } })), "required field lastMessageId"),
        (
            messages(json!({ "messages": { "lastMessageId": "m1", "nextPage": false,
            "messages": [message(json!({ "meta": { "callStatus": "rang-out" } }))] } })),
            "\"rang-out\" is not one of",
        ),
        (
            exchange(
                "POST",
                "/conversations/messages",
                "2021-04-15",
                json!({ "type": "SMS", "contactId": "c" }),
                201,
                json!({ "conversationId": "v", "messageId": "m" }),
            ),
            "status 201 is not documented",
        ),
        (
            exchange("GET", "/contacts/c", "2021-07-28", Value::Null, 404, json!({ "error": "gone" })),
            "not GHL's {statusCode, message}",
        ),
    ];
    for (record, expected) in cases {
        let found = violations(&[record], &live());
        assert!(found.iter().any(|v| v.contains(expected)), "expected {expected:?} in {found:?}");
    }
    let mut retry_after = search(conversation(json!({})));
    if let Some(answer) = &mut retry_after.answer {
        answer.headers.push(("Retry-After".to_string(), "1".to_string()));
        answer.headers.retain(|(name, _)| name != "X-RateLimit-Max");
    }
    let found = violations(&[retry_after], &live());
    assert!(found.iter().any(|v| v.contains("Retry-After")), "{found:?}");
    assert!(found.iter().any(|v| v.contains("X-RateLimit-Max")), "{found:?}");
}

/// Live GHL's documented differences pass only as named deviations, and only in live mode.
#[test]
fn live_deviations_are_named_and_refused_when_published_only() {
    let records = [
        exchange(
            "GET",
            "/conversations/search?locationId=l",
            "2021-04-15",
            Value::Null,
            200,
            json!({ "conversations": [conversation(json!({ "lastMessageDate": 1, "lastMessageDirection": "outbound", "sort": [1] }))], "total": 1 }),
        ),
        exchange(
            "GET",
            "/conversations/v/messages",
            "2021-04-15",
            Value::Null,
            200,
            json!({ "lastMessageId": "m1", "nextPage": false, "messages": [message(json!({ "meta": { "call": { "status": "no-answer" } } }))] }),
        ),
        exchange(
            "GET",
            "/contacts/c",
            "2021-07-28",
            Value::Null,
            200,
            json!({ "contact": { "id": "c", "contactName": "Pat" } }),
        ),
    ];
    let report = check(&records, &live());
    assert!(report.violations.is_empty(), "{report}");
    assert_eq!(
        report.deviations.keys().copied().collect::<Vec<_>>(),
        [
            Deviation::FlatMessagesPage,
            Deviation::MetaCall,
            Deviation::SearchLastMessage,
            Deviation::SearchSort,
            Deviation::ContactName
        ]
    );
    let refused = violations(&records, &published());
    for expected in ["lastMessageDate", "lastMessageDirection", ".sort", "top level", "meta.call", "contactName"] {
        assert!(refused.iter().any(|v| v.contains(expected)), "expected {expected:?} in {refused:?}");
    }
    let wrong_shape = exchange(
        "GET",
        "/conversations/v/messages",
        "2021-04-15",
        Value::Null,
        200,
        json!({ "messages": { "lastMessageId": "m1", "nextPage": false, "messages": [message(json!({ "meta": { "call": { "status": "rang" } } }))] } }),
    );
    assert!(violations(&[wrong_shape], &live()).iter().any(|v| v.contains("shape CONTRACT.md describes")));
    let wrong_sort = exchange(
        "GET",
        "/conversations/search?locationId=l&sort=desc&startAfterDate=1",
        "2021-04-15",
        Value::Null,
        200,
        json!({ "conversations": [conversation(json!({ "sort": ["yesterday"] }))], "total": 1 }),
    );
    assert!(violations(&[wrong_sort], &live()).iter().any(|v| v.contains("shape CONTRACT.md describes")));
}

#[test]
fn a_version_override_passes_only_when_the_test_set_it() {
    let record = exchange(
        "GET",
        "/conversations/v/messages",
        "2021-07-28",
        Value::Null,
        200,
        json!({ "messages": { "lastMessageId": "", "nextPage": false, "messages": [] } }),
    );
    assert!(!violations(std::slice::from_ref(&record), &live()).is_empty());
    let allowed = Allowed { live_deviations: false, version_override: Some("2021-07-28".to_string()) };
    let report = check(&[record], &allowed);
    assert!(report.violations.is_empty(), "{report}");
    assert_eq!(report.deviations.get(&Deviation::VersionOverride), Some(&1));
}
