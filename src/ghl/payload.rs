//! Tolerant parsing of GHL webhook bodies into our own [`Event`] (SPEC §3.1, §3.2).
//!
//! GHL sends two unrelated shapes: workflow webhooks (snake_case contact fields,
//! `message{type, body}`, `customData{...}`, no ids) and Marketplace events (flat camelCase
//! `InboundMessage`/`OutboundMessage` with `webhookId`). Field lookup tries both spellings, a
//! nested `data` object and objects carrying an `id`; unknown fields are ignored. This is the
//! only file that reads webhook JSON.

use jiff::Timestamp;
use serde_json::{Map, Value};

pub use crate::domain::event::Parsed;
use crate::domain::event::{CaughtUp, Event, Inbound, IssueKind, Outbound, Party, is_call_type};
use crate::domain::phone::Phone;

/// The three webhook routes (SPEC §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /webhook/ghl/inbound_sms`: a workflow's inbound text.
    InboundSms,
    /// `POST /webhook/ghl/unanswered_call`: a workflow's missed call.
    UnansweredCall,
    /// `POST /webhook/ghl`: Marketplace events, dispatched by `type`.
    Events,
    /// No route: a message catch-up found in GHL that no webhook delivered, written as the
    /// Marketplace event GHL would have posted, with Sentinel's own `sentinelCatchUp` object
    /// (SPEC §12). Only catch-up stores events under it; no request path leads to it.
    CatchUp,
}

impl Route {
    /// The route for a request path, if it is a webhook route.
    pub fn from_path(path: &str) -> Option<Route> {
        match path.trim_end_matches('/') {
            "/webhook/ghl/inbound_sms" => Some(Route::InboundSms),
            "/webhook/ghl/unanswered_call" => Some(Route::UnansweredCall),
            "/webhook/ghl" => Some(Route::Events),
            _ => None,
        }
    }

    /// The route a stored raw event came to, from its short name.
    pub fn from_name(name: &str) -> Option<Route> {
        [Route::InboundSms, Route::UnansweredCall, Route::Events, Route::CatchUp]
            .into_iter()
            .find(|route| route.as_str() == name)
    }

    /// The short name stored with raw events.
    pub fn as_str(self) -> &'static str {
        match self {
            Route::InboundSms => "inbound_sms",
            Route::UnansweredCall => "unanswered_call",
            Route::Events => "events",
            Route::CatchUp => "catchup",
        }
    }
}

/// What the parser needs from the configuration.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// Keys marking a missed call (`CALL_MISSED_MARKER_KEYS`).
    pub missed_marker_keys: Vec<String>,
    /// Whether `/unanswered_call` needs such a marker (`CALL_REQUIRE_MISSED_MARKER`).
    pub require_missed_marker: bool,
}

/// Values that mark a missed call (SPEC §3.2).
const TRUTHY: &[&str] =
    &["1", "true", "yes", "on", "missed", "no-answer", "no answer", "busy", "canceled", "cancelled"];

/// Call statuses of an `InboundMessage` CALL that mean nobody answered.
const MISSED_STATUSES: &[&str] =
    &["voicemail", "no-answer", "no answer", "noanswer", "busy", "missed", "canceled", "cancelled", "failed"];

/// The voicemail route that sends calls to Sentinel.
const SENTINEL_VOICEMAIL_ROUTE: &str = "tech_sentinel";

/// GHL's numeric message type for a voicemail (CONTRACT §1.4).
const MESSAGE_TYPE_ID_VOICEMAIL: i64 = 10;

/// Turns a webhook body (a JSON object) into an event. Never fails: what cannot be used
/// becomes [`Event::Ignored`] with the reason.
pub fn parse(route: Route, body: &Map<String, Value>, options: &ParseOptions) -> Parsed {
    let fields = Fields(body);
    let event = match route {
        Route::InboundSms => inbound_sms(&fields),
        Route::UnansweredCall => unanswered_call(&fields, body, options),
        Route::Events => marketplace_event(&fields),
        Route::CatchUp => caught_up(&fields),
    };
    Parsed {
        event,
        webhook_id: fields.text(&["webhookId", "webhook_id"]),
        message_id: fields
            .text(&["messageId", "message_id"])
            .or_else(|| fields.nested_text("message", &["id", "messageId"])),
        location_id: location_of(body),
    }
}

/// The GHL location a webhook body names, wherever GHL's shapes put it.
pub fn location_of(body: &Map<String, Value>) -> Option<String> {
    let fields = Fields(body);
    fields.text(&["locationId", "location_id"]).or_else(|| fields.nested_text("location", &["id"]))
}

/// When GHL signed a Marketplace event: the envelope's `timestamp` (RFC 3339, e.g.
/// `2025-11-07T12:46:45.953Z`, or a number of unix seconds or milliseconds), which the
/// signature covers with the rest of the body. `None` when it is missing or unreadable.
pub fn signed_at(body: &Map<String, Value>) -> Option<jiff::Timestamp> {
    match body.get("timestamp")? {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => {
            let value = number.as_i64()?;
            // Milliseconds since 1970 pass 10^12 in 2001; seconds will not for 30,000 years.
            if value.abs() >= 1_000_000_000_000 {
                jiff::Timestamp::from_millisecond(value).ok()
            } else {
                jiff::Timestamp::from_second(value).ok()
            }
        }
        _ => None,
    }
}

fn inbound_sms(fields: &Fields) -> Event {
    if fields.is_outbound() {
        let message_type = fields.message_type().unwrap_or_else(|| "SMS".to_string());
        return fields.outbound(message_type);
    }
    // A workflow may fire on other channels too; only a text is an SMS issue (an e-mail to
    // this route is stored and ignored, as the events route does with it).
    let channel = fields.message_type().unwrap_or_default().to_ascii_uppercase();
    if matches!(channel.as_str(), "EMAIL" | "TYPE_EMAIL" | "INTERNALCOMMENT" | "TYPE_INTERNAL_COMMENT") {
        return Event::Ignored(format!("inbound {}", channel.to_ascii_lowercase()));
    }
    fields.inbound(IssueKind::Sms)
}

fn unanswered_call(fields: &Fields, body: &Map<String, Value>, options: &ParseOptions) -> Event {
    if fields.is_outbound() {
        return fields.outbound("CALL".to_string());
    }
    match missed_marker(body, &options.missed_marker_keys) {
        Some(false) => return Event::Ignored("the missed-call marker says the call was not missed".to_string()),
        None if options.require_missed_marker => return Event::Ignored("no missed-call marker".to_string()),
        _ => {}
    }
    let route = fields
        .get("voicemail_route")
        .or_else(|| fields.nested("customData").and_then(|data| data.get("voicemail_route")));
    if !route.is_some_and(names_sentinel_route) {
        return Event::Ignored(format!("voicemail_route is not {SENTINEL_VOICEMAIL_ROUTE}"));
    }
    fields.inbound(IssueKind::Call)
}

fn marketplace_event(fields: &Fields) -> Event {
    let Some(kind) = fields.text(&["type", "event", "eventType"]) else {
        return Event::Ignored("no event type".to_string());
    };
    match kind.as_str() {
        "InboundMessage" => {
            let message_type = fields.message_type().unwrap_or_default().to_ascii_uppercase();
            let type_id = fields.get("messageTypeId").and_then(Value::as_i64);
            // An IVR, custom-provider or campaign manual call is a call too (CONTRACT §1.4),
            // whichever of `messageType` and `messageTypeString` names it.
            let is_call = is_call_type(&message_type)
                || fields.text(&["messageTypeString"]).is_some_and(|name| is_call_type(&name));
            match message_type.as_str() {
                _ if is_call => missed_call(fields, type_id),
                "SMS" | "TYPE_SMS" => fields.inbound(IssueKind::Sms),
                "VOICEMAIL" | "TYPE_VOICEMAIL" => missed_call(fields, type_id),
                "" => Event::Ignored("inbound message without messageType".to_string()),
                other => Event::Ignored(format!("inbound {}", other.to_ascii_lowercase())),
            }
        }
        "OutboundMessage" => {
            // A call the channel names only in `messageTypeString` is still a call.
            let named = fields.message_type().filter(|name| is_call_type(name));
            let call = named.or_else(|| fields.text(&["messageTypeString"]).filter(|name| is_call_type(name)));
            fields.outbound(call.or_else(|| fields.message_type()).unwrap_or_else(|| "SMS".to_string()))
        }
        other => Event::Ignored(format!("event {other}")),
    }
}

/// A message catch-up found: read as the Marketplace event it is written as, and marked so
/// that its timeline says how it came, a command in it is not run, and a text staff had
/// already answered opens nothing (SPEC §12).
fn caught_up(fields: &Fields) -> Event {
    let mut event = marketplace_event(fields);
    if let Event::Outbound(outbound) = &mut event {
        outbound.caught_up = true;
    }
    if let Event::Inbound(inbound) = &mut event {
        let at = |name: &str| fields.nested_text(CATCH_UP_FIELD, &[name]).and_then(|text| text.parse().ok());
        inbound.caught_up = Some(CaughtUp {
            found_at: at("foundAt").or(inbound.sent_at).unwrap_or(Timestamp::UNIX_EPOCH),
            answered_at: at("answeredAt"),
        });
    }
    event
}

/// The object in a caught-up event's body that says when catch-up found it and whether staff
/// had answered it by then.
pub const CATCH_UP_FIELD: &str = "sentinelCatchUp";

/// An inbound call is an issue when nobody answered: a missed status, or a voicemail.
fn missed_call(fields: &Fields, type_id: Option<i64>) -> Event {
    let missed = ["status", "callStatus"].iter().any(|name| {
        fields.text(&[name]).is_some_and(|status| MISSED_STATUSES.contains(&status.to_ascii_lowercase().as_str()))
    });
    if missed || type_id == Some(MESSAGE_TYPE_ID_VOICEMAIL) {
        fields.inbound(IssueKind::Call)
    } else {
        Event::Ignored("answered call".to_string())
    }
}

/// What the missed-call marker keys say, at any depth (key names compared without case):
/// `Some(true)` when one is truthy, `Some(false)` when they are there but all falsy, `None`
/// when there is none.
fn missed_marker(value: &Map<String, Value>, keys: &[String]) -> Option<bool> {
    fn walk(value: &Map<String, Value>, keys: &[String], depth: usize, found: &mut Option<bool>) {
        // GHL bodies are shallow; the bound keeps a hostile, deeply nested body cheap.
        if depth > 32 || *found == Some(true) {
            return;
        }
        for (key, inner) in value {
            if keys.iter().any(|k| k.eq_ignore_ascii_case(key)) {
                let truthy = is_truthy(inner);
                *found = Some(found.unwrap_or(false) || truthy);
            }
            match inner {
                Value::Object(map) => walk(map, keys, depth + 1, found),
                Value::Array(items) => {
                    for item in items {
                        if let Value::Object(map) = item {
                            walk(map, keys, depth + 1, found);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    let mut found = None;
    walk(value, keys, 0, &mut found);
    found
}

fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Bool(flag) => *flag,
        Value::Number(number) => number.as_f64().is_some_and(|n| n != 0.0),
        Value::String(text) => {
            let text = text.trim().to_ascii_lowercase();
            // Form bodies carry numbers as text: "2" is as non-zero as 2.
            TRUTHY.contains(&text.as_str()) || text.parse::<f64>().is_ok_and(|n| n != 0.0 && n.is_finite())
        }
        _ => false,
    }
}

fn names_sentinel_route(value: &Value) -> bool {
    match value {
        Value::String(text) => text.split(',').any(|part| part.trim().eq_ignore_ascii_case(SENTINEL_VOICEMAIL_ROUTE)),
        Value::Array(items) => items.iter().any(names_sentinel_route),
        _ => false,
    }
}

/// Field lookup over one body: top level first, then a nested `data` object.
struct Fields<'a>(&'a Map<String, Value>);

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0
            .get(name)
            .filter(|value| !value.is_null())
            .or_else(|| self.0.get("data")?.as_object()?.get(name).filter(|value| !value.is_null()))
    }

    fn nested(&self, name: &str) -> Option<&'a Map<String, Value>> {
        self.get(name)?.as_object()
    }

    /// The first of `names` holding a non-empty string or a number, as text.
    fn text(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| as_text(self.get(name)?))
    }

    fn nested_text(&self, object: &str, names: &[&str]) -> Option<String> {
        let inner = self.nested(object)?;
        names.iter().find_map(|name| as_text(inner.get(*name)?))
    }

    /// An id given flat (`contactId`, `contact_id`) or as an object (`contact: {id}`).
    fn id(&self, flat: &[&str], object: &str) -> Option<String> {
        self.text(flat).or_else(|| self.nested_text(object, &["id"]))
    }

    fn is_outbound(&self) -> bool {
        let direction = self
            .text(&["direction"])
            .or_else(|| self.nested_text("message", &["direction"]))
            .unwrap_or_default()
            .to_ascii_lowercase();
        direction == "outbound" || direction == "outgoing" || self.text(&["type"]).as_deref() == Some("OutboundMessage")
    }

    fn message_type(&self) -> Option<String> {
        self.text(&["messageType", "message_type"])
            .or_else(|| self.nested_text("message", &["type", "messageType"]))
            .or_else(|| self.text(&["messageTypeString"]))
    }

    fn message_text(&self) -> Option<String> {
        let text = match self.get("message") {
            Some(Value::String(text)) => Some(text.clone()),
            Some(Value::Object(message)) => {
                ["body", "text", "content"].iter().find_map(|name| as_text(message.get(*name)?))
            }
            _ => None,
        };
        text.or_else(|| self.text(&["body", "text", "content", "message_body", "messageBody"]))
            .map(|text| text.trim().to_string())
            .filter(|text| !text.is_empty())
    }

    /// The contact's name on one line: a name is shown inside managers' texts, where a line
    /// break in it could pass for a line of Sentinel's own.
    fn contact_name(&self) -> Option<String> {
        let name = self
            .text(&["full_name", "fullName", "contact_name", "contactName", "name"])
            .or_else(|| self.nested_text("contact", &["name", "full_name", "fullName"]))
            .unwrap_or_else(|| {
                let first = self.text(&["first_name", "firstName"]).unwrap_or_default();
                let last = self.text(&["last_name", "lastName"]).unwrap_or_default();
                format!("{first} {last}")
            });
        let name =
            name.split(char::is_control).map(str::trim).filter(|part| !part.is_empty()).collect::<Vec<_>>().join(" ");
        (!name.is_empty()).then_some(name)
    }

    fn party(&self, phone_fields: &[&str]) -> Party {
        let phone = self
            .text(phone_fields)
            .or_else(|| self.nested_text("contact", &["phone"]))
            .and_then(|raw| Phone::parse(&raw));
        Party {
            conversation_id: self.id(&["conversationId", "conversation_id"], "conversation"),
            contact_id: self.id(&["contactId", "contact_id"], "contact"),
            phone,
        }
    }

    /// Whether the payload says the message came by SMS: only then is its phone the number it
    /// was sent from, rather than a contact field that a web form or a chat could have set.
    fn names_sms(&self) -> bool {
        let channel = self.message_type().unwrap_or_default().to_ascii_uppercase();
        matches!(channel.as_str(), "SMS" | "TYPE_SMS") || self.get("messageTypeId").and_then(Value::as_i64) == Some(2)
    }

    fn sent_at(&self) -> Option<Timestamp> {
        self.text(&["dateAdded", "date_added"])?.parse().ok()
    }

    fn inbound(&self, kind: IssueKind) -> Event {
        let party = self.party(&["phone", "from", "contact_phone", "contactPhone"]);
        if !party.is_known() {
            return Event::Ignored("no contact, conversation or phone in the payload".to_string());
        }
        let contact_type = self
            .text(&["contact_type", "contactType"])
            .or_else(|| self.nested_text("contact", &["type"]))
            .unwrap_or_default();
        Event::Inbound(Inbound {
            kind,
            party,
            contact_name: self.contact_name(),
            text: (kind == IssueKind::Sms).then(|| self.message_text()).flatten(),
            sent_at: self.sent_at(),
            from_internal_contact: contact_type.eq_ignore_ascii_case("internal"),
            by_sms: kind == IssueKind::Sms && self.names_sms(),
            caught_up: None,
        })
    }

    fn outbound(&self, message_type: String) -> Event {
        let party = self.party(&["to", "phone", "contact_phone"]);
        if !party.is_known() {
            return Event::Ignored("outbound without contact, conversation or phone".to_string());
        }
        // An outbound call that reached the voicemail is `status: completed` with
        // `callStatus: voicemail` (CONTRACT §1.3): the call status says how it ended.
        let call_status = self
            .text(&["callStatus", "call_status"])
            .or_else(|| self.nested_text("call", &["status"]))
            .or_else(|| self.nested_text("message", &["callStatus", "call_status"]))
            .or_else(|| self.text(&["status"]).filter(|_| is_call_type(&message_type)));
        Event::Outbound(Outbound {
            party,
            message_type,
            user_id: self.text(&["userId", "user_id"]).or_else(|| self.nested_text("user", &["id"])),
            source: self.text(&["source"]),
            message_id: self.text(&["messageId", "message_id"]),
            sent_at: self.sent_at(),
            call_status,
            caught_up: false,
        })
    }
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.trim().to_string()).filter(|text| !text.is_empty()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
