//! GHL's answers read into our own types: conversation messages, conversation summaries and
//! contact names (CONTRACT §3–§4).
//!
//! Pure reading with no I/O: the client fetches the JSON and hands it here, and these types go
//! on to the resolver, the AI check and the outbox. Every reader is tolerant of the shapes GHL
//! has been seen to send as well as those it documents.

use jiff::Timestamp;
use serde_json::Value;

use crate::domain::catchup::{Listed, fingerprint};
use crate::domain::event::{Outbound, Party, is_call_type};

/// One message of a conversation, in our terms.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// GHL message id.
    pub id: String,
    /// `inbound` or `outbound`.
    pub outbound: bool,
    /// `TYPE_SMS`, `SMS`, `TYPE_CALL`, `InternalComment`, ...
    pub message_type: String,
    /// The GHL user who sent it.
    pub user_id: Option<String>,
    /// `app`, `workflow`, `api`, ...
    pub source: Option<String>,
    /// When GHL recorded it.
    pub date_added: Timestamp,
    /// Call status, from `meta.call.status` (live) or `meta.callStatus` (the spec).
    pub call_status: Option<String>,
    /// The text, for the AI check's transcript (SPEC §10); `None` for calls and empty bodies.
    pub body: Option<String>,
    /// The contact it belongs to.
    pub contact_id: Option<String>,
}

impl Message {
    /// This message as an outbound candidate for the staff-reply rule.
    pub fn as_outbound(&self, party: &Party) -> Option<Outbound> {
        self.outbound.then(|| Outbound {
            party: party.clone(),
            message_type: normalise_type(&self.message_type),
            user_id: self.user_id.clone(),
            source: self.source.clone(),
            message_id: Some(self.id.clone()),
            sent_at: Some(self.date_added),
            call_status: self.call_status.clone(),
            caught_up: false,
        })
    }
}

/// `TYPE_SMS` → `SMS`; every call type (`TYPE_CALL`, `TYPE_IVR_CALL`, `TYPE_CUSTOM_CALL`,
/// `TYPE_CAMPAIGN_MANUAL_CALL`) and `TYPE_VOICEMAIL` → `CALL`; `TYPE_INTERNAL_COMMENT(S)` →
/// `InternalComment`.
pub fn normalise_type(message_type: &str) -> String {
    match message_type {
        "TYPE_SMS" => "SMS".into(),
        "TYPE_VOICEMAIL" => "CALL".into(),
        call if is_call_type(call) => "CALL".into(),
        "TYPE_INTERNAL_COMMENT" | "TYPE_INTERNAL_COMMENTS" => "InternalComment".into(),
        other => other.into(),
    }
}

/// A conversation as the search lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    /// Conversation id.
    pub id: String,
    /// Its contact.
    pub contact_id: Option<String>,
    /// When its last message was added.
    pub last_message_at: Option<Timestamp>,
    /// `inbound` or `outbound`.
    pub last_direction: Option<String>,
}

/// One conversation of a search's answer. `lastMessageDate` is epoch milliseconds live,
/// sometimes an ISO string (CONTRACT §3.1).
pub(super) fn parse_conversation(item: &Value) -> Option<ConversationSummary> {
    let last_message_at = match &item["lastMessageDate"] {
        Value::Number(ms) => ms.as_i64().and_then(|ms| Timestamp::from_millisecond(ms).ok()),
        Value::String(text) => text.parse().ok(),
        _ => None,
    };
    Some(ConversationSummary {
        id: item["id"].as_str()?.to_string(),
        contact_id: item["contactId"].as_str().map(str::to_string),
        last_message_at,
        last_direction: item["lastMessageDirection"].as_str().map(str::to_string),
    })
}

/// A page of messages, its "more to come" flag and the cursor for the next page, from both
/// documented shapes: `{"messages":[...]}` and `{"messages":{"messages":[...],
/// "nextPage":…,"lastMessageId":…}}` (CONTRACT §3.3).
pub(super) fn messages_page(page: &Value) -> (&[Value], bool, Option<String>) {
    let (holder, items) = match &page["messages"] {
        Value::Array(items) => (page, items.as_slice()),
        Value::Object(inner) => match inner.get("messages") {
            Some(Value::Array(items)) => (&page["messages"], items.as_slice()),
            _ => (page, &[][..]),
        },
        _ => (page, &[][..]),
    };
    let next_page = holder["nextPage"].as_bool().unwrap_or(false);
    let last_id = holder["lastMessageId"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .or_else(|| items.last().and_then(|m| m["id"].as_str()).map(str::to_string));
    (items, next_page, last_id)
}

/// A contact's display name from the fields GHL documents for `GET /contacts/{id}` (`name`,
/// `firstName`, `lastName`), and `contactName`, which live answers carry as well.
pub fn display_name(contact: &Value) -> Option<String> {
    let text = |key: &str| contact[key].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    text("name").or_else(|| text("contactName")).or_else(|| {
        let full = format!("{} {}", text("firstName").unwrap_or_default(), text("lastName").unwrap_or_default());
        Some(full.trim().to_string()).filter(|s| !s.is_empty())
    })
}

/// One message of a page; `None` without an id or a readable `dateAdded`.
pub(super) fn parse_message(item: &Value) -> Option<Message> {
    let text = |value: &Value| value.as_str().map(str::to_string).filter(|s| !s.is_empty());
    let meta = &item["meta"];
    Some(Message {
        id: text(&item["id"])?,
        outbound: item["direction"].as_str() == Some("outbound"),
        message_type: text(&item["messageType"]).unwrap_or_default(),
        user_id: text(&item["userId"]),
        source: text(&item["source"]),
        date_added: item["dateAdded"].as_str()?.parse().ok()?,
        call_status: text(&meta["call"]["status"]).or_else(|| text(&meta["callStatus"])),
        body: text(&item["body"]),
        contact_id: text(&item["contactId"]),
    })
}

/// One conversation of a search, as catch-up compares it with what it knew (SPEC §12), and
/// the cursor that continues after it: its `sort[0]` where GHL sends one, else its
/// `lastMessageDate` (CONTRACT §3.1).
pub(super) fn parse_listed(item: &Value) -> Option<(Listed, Option<String>)> {
    let summary = parse_conversation(item)?;
    let text = |key: &str| item[key].as_str().map(str::to_string);
    let listed = Listed {
        id: summary.id,
        last_at: summary.last_message_at,
        fingerprint: fingerprint(&text("lastMessageType").unwrap_or_default(), text("lastMessageBody").as_deref()),
        unread: item["unreadCount"].as_i64(),
    };
    let cursor = match &item["sort"][0] {
        Value::Number(number) => Some(number.to_string()),
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        _ => summary.last_message_at.map(|at| at.as_millisecond().to_string()),
    };
    Some((listed, cursor))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn both_message_shapes_are_read() {
        let flat = json!({ "messages": [{ "id": "m1", "direction": "outbound", "messageType": "TYPE_SMS",
            "userId": "u1", "source": "app", "dateAdded": "2026-03-02T15:05:00.000Z" }], "nextPage": false });
        let nested = json!({ "messages": { "lastMessageId": "m1", "nextPage": true, "messages": [{ "id": "m1",
            "direction": "inbound", "messageType": "TYPE_CALL", "dateAdded": "2026-03-02T15:05:00Z",
            "meta": { "call": { "status": "no-answer" } } }] } });
        let (items, next, _) = messages_page(&flat);
        assert_eq!((items.len(), next), (1, false));
        let message = parse_message(&items[0]).expect("a message");
        assert!(message.outbound);
        assert_eq!(message.as_outbound(&Party::default()).map(|o| o.message_type), Some("SMS".to_string()));
        let (items, next, last) = messages_page(&nested);
        assert_eq!((items.len(), next, last.as_deref()), (1, true, Some("m1")));
        assert_eq!(parse_message(&items[0]).and_then(|m| m.call_status).as_deref(), Some("no-answer"));
        let spec_meta =
            json!({ "id": "m2", "dateAdded": "2026-03-02T15:05:00Z", "meta": { "callStatus": "voicemail" } });
        assert_eq!(parse_message(&spec_meta).and_then(|m| m.call_status).as_deref(), Some("voicemail"));
    }

    /// `GET /contacts/{id}` documents `name`, `firstName` and `lastName`; live answers add
    /// `contactName`.
    #[test]
    fn contact_names_come_from_the_documented_fields() {
        let name = |contact: Value| display_name(&contact);
        assert_eq!(
            name(json!({ "name": "Pat Doe", "firstName": "Patricia", "lastName": "Doe" })).as_deref(),
            Some("Pat Doe")
        );
        assert_eq!(name(json!({ "firstName": "Lee", "lastName": "Ray" })).as_deref(), Some("Lee Ray"));
        assert_eq!(name(json!({ "name": " ", "firstName": "Sam" })).as_deref(), Some("Sam"));
        assert_eq!(name(json!({ "lastName": "Ray" })).as_deref(), Some("Ray"));
        assert_eq!(name(json!({ "contactName": "Pat D" })).as_deref(), Some("Pat D"));
        assert_eq!(name(json!({ "id": "c1", "email": "x@example.com" })), None);
    }
}
