//! The fake's conversation search answers as CONTRACT §3.1 describes live GHL: filtered by
//! the last message's direction, sorted by its date, paged by the `sort` cursor, `total`
//! counting every match; the message helpers hand back the ids GHL would.

use serde_json::Value;

use super::FakeGhl;
use crate::harness::request;

/// A GET the way the client sends it (token and documented `Version`), answered as JSON.
fn get(ghl: &FakeGhl, path_and_query: &str) -> Value {
    let addr = ghl.url.trim_start_matches("http://");
    let answer = request(addr, "GET", path_and_query, &[("Authorization", "Bearer t"), ("Version", "2021-04-15")], b"")
        .unwrap_or_else(|err| panic!("{path_and_query}: {err}"));
    assert_eq!(answer.status, 200, "{path_and_query}: {answer:?}");
    answer.json
}

fn ids(page: &Value) -> Vec<&str> {
    page["conversations"].as_array().into_iter().flatten().filter_map(|c| c["id"].as_str()).collect()
}

/// Five conversations; four whose newest message is inbound.
fn office(ghl: &FakeGhl) {
    ghl.inbound_text("convA", "cA", "Is anyone coming?", "2026-03-02T15:00:00Z");
    ghl.inbound_text("convB", "cB", "The pool is green", "2026-03-02T15:01:00Z");
    ghl.staff_reply("convB", "cB", "u1", "2026-03-02T15:02:00Z");
    ghl.missed_call("convC", "cC", "2026-03-02T15:03:00Z");
    ghl.inbound_text("convD", "cD", "Hello?", "2026-03-02T15:04:00Z");
    ghl.inbound_text("convD", "cD", "Anyone?", "2026-03-02T15:05:00Z");
    ghl.staff_reply("convE", "cE", "u1", "2026-03-02T14:00:00Z");
    ghl.inbound_text("convE", "cE", "Thanks, and when?", "2026-03-02T15:06:00Z");
}

const INBOUND: &str = "/conversations/search?locationId=loc1&lastMessageDirection=inbound&sortBy=last_message_date";

#[test]
fn the_search_filters_by_direction_and_pages_by_the_sort_cursor() {
    let ghl = FakeGhl::start().expect("fake GHL");
    office(&ghl);
    let first = get(&ghl, &format!("{INBOUND}&sort=desc&limit=2"));
    assert_eq!(ids(&first), ["convE", "convD"], "{first}");
    assert_eq!(first["total"], 4, "every match, not the page: {first}");
    let last = &first["conversations"][1];
    assert_eq!(last["sort"], serde_json::json!([last["lastMessageDate"]]), "{first}");
    assert_eq!(last["lastMessageDirection"], "inbound");
    let cursor = last["sort"][0].as_i64().expect("a numeric cursor");
    let second = get(&ghl, &format!("{INBOUND}&sort=desc&limit=2&startAfterDate={cursor}"));
    assert_eq!(ids(&second), ["convC", "convA"], "{second}");
    assert_eq!(second["total"], 4);
    let cursor = second["conversations"][1]["sort"][0].as_i64().expect("a numeric cursor");
    let third = get(&ghl, &format!("{INBOUND}&sort=desc&limit=2&startAfterDate={cursor}"));
    assert_eq!(ids(&third), Vec::<&str>::new(), "{third}");
    // Ascending, and the default order (desc) and limit (20).
    assert_eq!(ids(&get(&ghl, &format!("{INBOUND}&sort=asc"))), ["convA", "convC", "convD", "convE"]);
    let everything = get(&ghl, "/conversations/search?locationId=loc1");
    assert_eq!(ids(&everything), ["convE", "convD", "convC", "convB", "convA"]);
    assert_eq!(everything["total"], 5);
    let outbound = get(&ghl, "/conversations/search?locationId=loc1&lastMessageDirection=outbound");
    assert_eq!(ids(&outbound), ["convB"]);
    assert_eq!(outbound["conversations"][0]["lastMessageDirection"], "outbound");
    // Inbound messages after the newest outbound one.
    let unread: Vec<(&str, i64)> = everything["conversations"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (c["id"].as_str().unwrap_or_default(), c["unreadCount"].as_i64().unwrap_or(-1)))
        .collect();
    assert_eq!(unread, [("convE", 1), ("convD", 2), ("convC", 1), ("convB", 0), ("convA", 1)]);
    let report = ghl.contract();
    assert!(report.violations.is_empty(), "{report}");
    assert!(report.deviations.contains_key(&super::openapi::Deviation::SearchSort), "{report}");
}

#[test]
fn published_only_search_has_no_cursor_but_honours_start_after_date() {
    let ghl = FakeGhl::start().expect("fake GHL");
    ghl.published_only();
    office(&ghl);
    let page = get(&ghl, &format!("{INBOUND}&sort=desc&limit=2"));
    assert_eq!(ids(&page), ["convE", "convD"]);
    for conversation in page["conversations"].as_array().into_iter().flatten() {
        for live_only in ["sort", "lastMessageDate", "lastMessageDirection"] {
            assert!(conversation.get(live_only).is_none(), "{live_only} in {conversation}");
        }
    }
    // 15:04:30Z as epoch ms: the page continues with what is strictly older.
    let cursor = "2026-03-02T15:04:30Z".parse::<jiff::Timestamp>().expect("time").as_millisecond();
    let older = get(&ghl, &format!("{INBOUND}&sort=desc&startAfterDate={cursor}"));
    assert_eq!(ids(&older), ["convC", "convA"], "{older}");
    assert_eq!(older["total"], 4);
    let report = ghl.contract();
    assert!(report.violations.is_empty() && report.deviations.is_empty(), "{report}");
}

#[test]
fn the_message_helpers_return_the_ids_ghl_lists() {
    let ghl = FakeGhl::start().expect("fake GHL");
    let text = ghl.inbound_text("conv1", "c1", "Is anyone coming?", "2026-03-02T15:00:00Z");
    let call = ghl.missed_call("conv1", "c1", "2026-03-02T15:01:00Z");
    let reply = ghl.staff_reply("conv1", "c1", "u1", "2026-03-02T15:02:00Z");
    assert_eq!(ghl.add_message("conv1", "c1", serde_json::json!({ "id": "mine", "direction": "inbound", "messageType": "TYPE_SMS", "dateAdded": "2026-03-02T15:03:00Z" })), "mine");
    assert_ne!(text, call);
    let page = get(&ghl, "/conversations/conv1/messages");
    let messages = page["messages"]["messages"].as_array().or(page["messages"].as_array()).cloned().unwrap_or_default();
    let find = |id: &str| messages.iter().find(|m| m["id"] == id).cloned().unwrap_or(Value::Null);
    assert_eq!(
        (find(&text)["messageType"].as_str(), find(&text)["direction"].as_str(), find(&text)["body"].as_str()),
        (Some("TYPE_SMS"), Some("inbound"), Some("Is anyone coming?"))
    );
    assert_eq!(find(&text)["dateAdded"], "2026-03-02T15:00:00Z");
    assert_eq!((find(&call)["messageType"].as_str(), find(&call)["type"].as_i64()), (Some("TYPE_CALL"), Some(1)));
    assert_eq!(find(&call)["meta"]["call"]["status"], "no-answer");
    assert_eq!(find(&reply)["direction"], "outbound");
    let published = FakeGhl::start().expect("fake GHL");
    published.published_only();
    let call = published.missed_call("conv1", "c1", "2026-03-02T15:01:00Z");
    let page = get(&published, "/conversations/conv1/messages");
    let listed = &page["messages"]["messages"][0];
    assert_eq!(
        (listed["id"].as_str(), listed["meta"]["callStatus"].as_str()),
        (Some(call.as_str()), Some("no-answer"))
    );
    assert!(listed["meta"].get("call").is_none(), "{listed}");
}

/// A GET answered with its status, for the refusals.
fn status_of(ghl: &FakeGhl, path_and_query: &str, version: &str) -> (u16, Value) {
    let addr = ghl.url.trim_start_matches("http://");
    let answer = request(addr, "GET", path_and_query, &[("Authorization", "Bearer t"), ("Version", version)], b"")
        .unwrap_or_else(|err| panic!("{path_and_query}: {err}"));
    (answer.status, answer.json)
}

/// GHL's refusals as CONTRACT §5.2 quotes them: a scope the token lacks (401, for the
/// endpoints that need it only), a location the token is not one of (403, searches only), and
/// a contact id GHL does not know (400).
#[test]
fn a_missing_scope_another_location_and_an_unknown_contact_are_refused_as_ghl_does() {
    let ghl = FakeGhl::start().expect("fake GHL");
    ghl.inbound_text("convA", "cA", "Is anyone coming?", "2026-03-02T15:00:00Z");
    ghl.add_contact_with_phone("m1", "Pat", "Doe", "+12145550104");
    ghl.revoke_scope("conversations/message.readonly");
    ghl.token_for("loc1");
    let (status, refusal) = status_of(&ghl, "/conversations/convA/messages?limit=1", "2021-04-15");
    assert_eq!((status, refusal["message"].as_str()), (401, Some("The token is not authorized for this scope.")));
    assert_eq!(ids(&get(&ghl, "/conversations/search?locationId=loc1&limit=1")), ["convA"], "other scopes still work");
    let (status, refusal) = status_of(&ghl, "/conversations/search?locationId=loc2&limit=1", "2021-04-15");
    assert_eq!((status, refusal["message"].as_str()), (403, Some("The token does not have access to this location.")));
    let (status, found) = status_of(&ghl, "/contacts/m1", "2021-07-28");
    assert_eq!((status, found["contact"]["phone"].as_str()), (200, Some("+12145550104")));
    let (status, refusal) = status_of(&ghl, "/contacts/nobody", "2021-07-28");
    assert_eq!((status, refusal["message"].as_str()), (400, Some("Contact not found")));
}
