//! Messages read from GHL written as the webhooks that should have brought them (SPEC §12).
//!
//! Catch-up reads a conversation's messages (CONTRACT §3.3) and turns each text and call into
//! the Marketplace `InboundMessage` / `OutboundMessage` body GHL would have posted (CONTRACT
//! §1), so that `payload::parse` judges it by the same rules as a webhook, under its own route
//! ([`Route::CatchUp`]). A `sentinelCatchUp` object says when the pass found it and, for a
//! customer's message, whether a staff reply had already answered it.

use jiff::Timestamp;
use serde_json::{Map, Value, json};

use super::client::{Message, normalise_type};
use super::payload::{CATCH_UP_FIELD, Route};
use crate::domain::event::{IssueKind, Party, VoicemailCallback, is_call_type};

/// A message no webhook may have brought, as the event its webhook would have been.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// GHL's `dateAdded`: when it really arrived.
    pub at: Timestamp,
    /// The webhook body.
    pub body: Map<String, Value>,
}

/// The route these bodies are stored and parsed under.
pub const ROUTE: Route = Route::CatchUp;

/// What decides whether an outbound message is a staff reply (SPEC §5.2).
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// `INTERNAL_USER_IDS`.
    pub internal_user_ids: &'a [String],
    /// `CALL_VOICEMAIL_COUNTS_AS_CALLBACK`.
    pub voicemail: VoicemailCallback,
}

/// The customers' texts and calls of one conversation from `since` on, and the staff replies,
/// oldest first, as events. A customer's message that a later staff reply in the same
/// conversation already answered says so (`answeredAt`): it opens nothing.
pub fn found_in(
    conversation: &str,
    location: Option<&str>,
    messages: &[Message],
    since: Timestamp,
    found_at: Timestamp,
    rules: Rules<'_>,
) -> Vec<Found> {
    let mut ordered: Vec<&Message> = messages.iter().filter(|m| m.date_added >= since).collect();
    ordered.sort_by_key(|m| m.date_added);
    let party = Party { conversation_id: Some(conversation.to_string()), ..Party::default() };
    // Each staff reply: its message, when, and whether it answers texts too (a callback logged
    // without a user answers only calls). Other outbound messages (a workflow's, Sentinel's own
    // texts to managers) change nothing, and are left out.
    let replies: Vec<(&str, Timestamp, bool)> = ordered
        .iter()
        .filter_map(|m| Some((m.id.as_str(), m.as_outbound(&party)?)))
        .filter_map(|(id, outbound)| {
            Some((id, outbound.staff_reply(rules.internal_user_ids, rules.voicemail, found_at)?))
        })
        .map(|(id, reply)| (id, reply.sent_at, reply.answers(IssueKind::Sms)))
        .collect();
    ordered
        .into_iter()
        .filter(|message| !message.outbound || replies.iter().any(|(id, _, _)| *id == message.id))
        .filter_map(|message| {
            let kind = kind_of(&message.message_type)?;
            let answered_at = (!message.outbound)
                .then(|| {
                    replies
                        .iter()
                        .find(|(_, at, texts)| *at > message.date_added && (*texts || kind == IssueKind::Call))
                        .map(|(_, at, _)| *at)
                })
                .flatten();
            let body = webhook_body(conversation, location, message, found_at, answered_at);
            Some(Found { at: message.date_added, body })
        })
        .collect()
}

/// A text or a call; `None` for what no issue can come from (e-mail, comments, activity).
fn kind_of(message_type: &str) -> Option<IssueKind> {
    let upper = message_type.to_ascii_uppercase();
    match upper.as_str() {
        "SMS" | "TYPE_SMS" => Some(IssueKind::Sms),
        "VOICEMAIL" | "TYPE_VOICEMAIL" => Some(IssueKind::Call),
        call if is_call_type(call) => Some(IssueKind::Call),
        _ => None,
    }
}

/// GHL's numeric type of a voicemail, which marks an inbound call as missed (CONTRACT §1.4).
const VOICEMAIL_TYPE_ID: i64 = 10;

/// The Marketplace event GHL would have posted for `message`.
fn webhook_body(
    conversation: &str,
    location: Option<&str>,
    message: &Message,
    found_at: Timestamp,
    answered_at: Option<Timestamp>,
) -> Map<String, Value> {
    let upper = message.message_type.to_ascii_uppercase();
    let voicemail = matches!(upper.as_str(), "VOICEMAIL" | "TYPE_VOICEMAIL");
    let message_type = if voicemail { "VOICEMAIL".to_string() } else { normalise_type(&message.message_type) };
    let mut body = json!({
        "type": if message.outbound { "OutboundMessage" } else { "InboundMessage" },
        "conversationId": conversation,
        "messageId": message.id,
        "dateAdded": message.date_added.to_string(),
        "direction": if message.outbound { "outbound" } else { "inbound" },
        "messageType": message_type,
        "messageTypeString": message.message_type,
    });
    let mut set = |key: &str, value: Option<Value>| {
        if let (Some(value), Some(fields)) = (value, body.as_object_mut()) {
            fields.insert(key.to_string(), value);
        }
    };
    set("locationId", location.map(|id| json!(id)));
    set("contactId", message.contact_id.as_ref().map(|id| json!(id)));
    set("body", message.body.as_ref().map(|text| json!(text)));
    set("userId", message.user_id.as_ref().map(|id| json!(id)));
    set("source", message.source.as_ref().map(|source| json!(source)));
    set("callStatus", message.call_status.as_ref().map(|status| json!(status)));
    set("messageTypeId", voicemail.then_some(json!(VOICEMAIL_TYPE_ID)));
    let mut note = json!({ "foundAt": found_at.to_string() });
    if let Some(at) = answered_at {
        note["answeredAt"] = json!(at.to_string());
    }
    set(CATCH_UP_FIELD, Some(note));
    match body {
        Value::Object(fields) => fields,
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::Event;
    use crate::ghl::payload::{self, ParseOptions};

    fn message(id: &str, outbound: bool, message_type: &str, at: &str) -> Message {
        Message {
            id: id.into(),
            outbound,
            message_type: message_type.into(),
            user_id: outbound.then(|| "u1".to_string()),
            source: outbound.then(|| "app".to_string()),
            date_added: at.parse().expect("a time"),
            call_status: message_type.contains("CALL").then(|| "no-answer".to_string()),
            body: (message_type == "TYPE_SMS").then(|| format!("text {id}")),
            contact_id: Some("c1".into()),
        }
    }

    fn parse(found: &Found) -> Event {
        let options = ParseOptions { missed_marker_keys: Vec::new(), require_missed_marker: true };
        payload::parse(ROUTE, &found.body, &options).event
    }

    const RULES: Rules<'static> = Rules { internal_user_ids: &[], voicemail: VoicemailCallback::Counts };

    #[test]
    fn texts_and_missed_calls_read_as_their_webhooks_would() {
        let since: Timestamp = "2026-03-02T15:00:00Z".parse().expect("a time");
        let found_at: Timestamp = "2026-03-02T16:00:00Z".parse().expect("a time");
        let messages = vec![
            message("m3", false, "TYPE_CALL", "2026-03-02T15:20:00Z"),
            message("m1", false, "TYPE_SMS", "2026-03-02T15:05:00Z"),
            message("m0", false, "TYPE_SMS", "2026-03-02T14:05:00Z"),
            message("m4", false, "TYPE_EMAIL", "2026-03-02T15:30:00Z"),
        ];
        let found = found_in("v1", Some("loc1"), &messages, since, found_at, RULES);
        let ids: Vec<&str> = found.iter().map(|f| f.body["messageId"].as_str().unwrap_or_default()).collect();
        assert_eq!(ids, ["m1", "m3"], "oldest first, from `since`, texts and calls only");
        let Event::Inbound(text) = parse(&found[0]) else { panic!("a text: {:?}", found[0]) };
        assert_eq!((text.kind, text.text.as_deref()), (IssueKind::Sms, Some("text m1")));
        assert_eq!(text.sent_at, Some(found[0].at));
        assert_eq!(text.caught_up.map(|c| (c.found_at, c.answered_at)), Some((found_at, None)));
        assert_eq!(text.party.conversation_id.as_deref(), Some("v1"));
        let Event::Inbound(call) = parse(&found[1]) else { panic!("a missed call: {:?}", found[1]) };
        assert_eq!(call.kind, IssueKind::Call);
        let parsed = payload::parse(
            ROUTE,
            &found[0].body,
            &ParseOptions { missed_marker_keys: vec![], require_missed_marker: true },
        );
        assert_eq!(parsed.idem_keys(), ["message:m1"], "the key a webhook of the same message has");
    }

    #[test]
    fn a_text_staff_already_answered_says_so() {
        let since: Timestamp = "2026-03-02T15:00:00Z".parse().expect("a time");
        let messages = vec![
            message("m1", false, "TYPE_SMS", "2026-03-02T15:05:00Z"),
            message("r1", true, "TYPE_SMS", "2026-03-02T15:07:00Z"),
            message("m2", false, "TYPE_SMS", "2026-03-02T15:09:00Z"),
        ];
        let found = found_in("v1", None, &messages, since, since, RULES);
        let answered: Vec<Option<Timestamp>> = found
            .iter()
            .map(|f| match parse(f) {
                Event::Inbound(inbound) => inbound.caught_up.and_then(|c| c.answered_at),
                _ => None,
            })
            .collect();
        assert_eq!(answered, [Some("2026-03-02T15:07:00Z".parse().expect("a time")), None, None]);
        assert!(matches!(parse(&found[1]), Event::Outbound(_)), "the reply is an outbound event");
    }

    #[test]
    fn automated_messages_are_left_out_and_answer_nothing() {
        let since: Timestamp = "2026-03-02T15:00:00Z".parse().expect("a time");
        let mut text_back = message("w1", true, "TYPE_SMS", "2026-03-02T15:05:20Z");
        text_back.source = Some("workflow".into());
        let messages = vec![message("m1", false, "TYPE_CALL", "2026-03-02T15:05:00Z"), text_back];
        let found = found_in("v1", None, &messages, since, since, RULES);
        assert_eq!(found.len(), 1, "{found:?}");
        let Event::Inbound(call) = parse(&found[0]) else { panic!("a missed call: {:?}", found[0]) };
        assert_eq!(call.caught_up.and_then(|c| c.answered_at), None, "a text-back answers nobody");
    }
}
