//! How the fake GHL answers: routing a recorded request to the documented answer, paging,
//! the faults a test asked for, and the published shapes of conversations and messages.

use std::sync::Mutex;
use std::time::Instant;

use serde_json::{Value, json};
use tiny_http::{Header, Response};

use super::*;

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap_or_else(|()| panic!("bad header {name}"))
}

pub(super) fn serve(mut request: tiny_http::Request, state: &Mutex<State>) {
    let url = request.url().to_string();
    let (path, query) =
        url.split_once('?').map_or((url.clone(), String::new()), |(p, q)| (p.to_string(), q.to_string()));
    let headers: Vec<(String, String)> =
        request.headers().iter().map(|h| (h.field.as_str().to_string(), h.value.as_str().to_string())).collect();
    let find = |name: &str| headers.iter().find(|(field, _)| field.eq_ignore_ascii_case(name)).map(|(_, v)| v.clone());
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let recorded = Recorded {
        method: request.method().as_str().to_string(),
        path: path.clone(),
        query: query.clone(),
        authorization: find("Authorization"),
        version: find("Version"),
        headers: headers.clone(),
        body: body.clone(),
        at: Instant::now(),
        answer: None,
    };
    let (index, fault) = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        state.requests.push(recorded.clone());
        (state.requests.len() - 1, state.faults.pop_front().or_else(|| state.outage.clone()))
    };
    // GHL's documented rate-limit headers (CONTRACT §5.1), on every answer.
    let mut limits = vec![
        ("X-RateLimit-Max", "100".to_string()),
        ("X-RateLimit-Remaining", "99".to_string()),
        ("X-RateLimit-Interval-Milliseconds", "10000".to_string()),
        ("X-RateLimit-Limit-Daily", "200000".to_string()),
        ("X-RateLimit-Daily-Remaining", "199000".to_string()),
    ];
    let mut set = |name: &str, value: String| {
        if let Some(slot) = limits.iter_mut().find(|(n, _)| *n == name) {
            slot.1 = value;
        }
    };
    let too_many = || json!({ "statusCode": 429, "message": "Too Many Requests" }).to_string();
    let (status, answer) = match &fault {
        Some(Fault::RateLimited(interval)) => {
            set("X-RateLimit-Remaining", "0".to_string());
            set("X-RateLimit-Interval-Milliseconds", interval.as_millis().to_string());
            (429, too_many())
        }
        Some(Fault::DailyLimitReached) => {
            set("X-RateLimit-Daily-Remaining", "0".to_string());
            (429, too_many())
        }
        Some(Fault::ServerError) => (500, json!({ "statusCode": 500, "message": "Internal server error" }).to_string()),
        Some(Fault::Unauthorized) => (401, json!({ "statusCode": 401, "message": "Invalid JWT" }).to_string()),
        Some(Fault::Garbage) => (200, "<html>gateway hiccup</html>".to_string()),
        Some(Fault::Slow(wait)) => {
            std::thread::sleep(*wait);
            answer(state, &recorded)
        }
        Some(Fault::AcceptThenStall(wait)) => {
            let answered = answer(state, &recorded);
            std::thread::sleep(*wait);
            answered
        }
        None => answer(state, &recorded),
    };
    let mut sent_headers = vec![("Content-Type".to_string(), "application/json".to_string())];
    sent_headers.extend(limits.into_iter().map(|(name, value)| (name.to_string(), value)));
    let mut response = Response::from_string(answer.clone()).with_status_code(status);
    for (name, value) in &sent_headers {
        response = response.with_header(header(name, value));
    }
    {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = state.requests.get_mut(index) {
            entry.answer = Some(Answered { status, headers: sent_headers, body: answer, fault });
        }
    }
    let _ = request.respond(response);
}

/// The real answer to a request.
fn answer(state: &Mutex<State>, request: &Recorded) -> (u16, String) {
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    let query: HashMap<String, String> = form_urlencoded::parse(request.query.as_bytes()).into_owned().collect();
    let not_found = || (404, json!({ "statusCode": 404, "message": "Not Found" }).to_string());
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    if state.revoked_scopes.iter().any(|revoked| revoked == scope_of(&request.method, &segments)) {
        let refusal = json!({ "statusCode": 401, "message": "The token is not authorized for this scope.",
            "error": "Unauthorized" });
        return (401, refusal.to_string());
    }
    if let Some(own) = &state.token_location
        && let Some(asked) = query.get("locationId")
        && asked != own
    {
        let refusal = json!({ "statusCode": 403, "message": "The token does not have access to this location." });
        return (403, refusal.to_string());
    }
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["conversations", "search"]) if !query.contains_key("contactId") => search(&state, &query),
        ("GET", ["conversations", "search"]) => {
            let found: Vec<Value> = query
                .get("contactId")
                .and_then(|contact| state.by_contact.get(contact))
                .map(|id| conversation_summary(&state, id))
                .into_iter()
                .collect();
            (200, json!({ "conversations": found, "total": found.len() }).to_string())
        }
        ("GET", ["conversations", id, "messages"]) => {
            let Some(all) = state.conversations.get(*id).cloned() else {
                return not_found();
            };
            let limit = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(PAGE).min(PAGE);
            let listed = in_order(all, state.order);
            // `lastMessageId` continues after that message.
            let start = match query.get("lastMessageId") {
                Some(last) => listed.iter().position(|m| m["id"] == last.as_str()).map_or(listed.len(), |p| p + 1),
                None => 0,
            };
            let mut page: Vec<Value> = listed.iter().skip(start).take(limit).cloned().collect();
            let next_page = start + page.len() < listed.len();
            let last_id = page.last().map(|m| m["id"].clone()).unwrap_or(json!(""));
            if state.order == MessageOrder::PageOldestFirst {
                page.reverse();
            }
            if state.published_only {
                page.iter_mut().for_each(published_message);
            }
            // Both documented shapes, alternating, so the client must read each (CONTRACT
            // §3.3); only the nested one is GHL's published shape.
            state.nested_shape = state.published_only || !state.nested_shape;
            let body = if state.nested_shape {
                json!({ "messages": { "lastMessageId": last_id, "nextPage": next_page, "messages": page } })
            } else {
                json!({ "lastMessageId": last_id, "nextPage": next_page, "messages": page })
            };
            (200, body.to_string())
        }
        ("GET", ["contacts", id]) => match state.contacts.get(*id) {
            Some(contact) if state.published_only => {
                // The published contact has `name`, `firstName`, `lastName`; not `contactName`.
                let mut contact = contact.clone();
                if let Some(fields) = contact.as_object_mut()
                    && let Some(name) = fields.remove("contactName")
                {
                    fields.entry("name").or_insert(name);
                }
                (200, json!({ "contact": contact }).to_string())
            }
            Some(contact) => (200, json!({ "contact": contact }).to_string()),
            None => (400, json!({ "statusCode": 400, "message": "Contact not found" }).to_string()),
        },
        ("GET", ["users", id]) => match state.users.get(*id) {
            Some(user) => (200, user.to_string()),
            None => (400, json!({ "statusCode": 400, "message": "User not found" }).to_string()),
        },
        ("POST", ["conversations", "messages"]) => {
            let sent: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
            if sent["type"] != "SMS" || !sent["contactId"].is_string() {
                return (422, json!({ "statusCode": 422, "message": ["type and contactId are required"] }).to_string());
            }
            state.next_id += 1;
            state.sent.push(sent.clone());
            let id = format!("sent{}", state.next_id);
            // GHL shows what was sent in the contact's conversation, as an outbound message.
            let contact = sent["contactId"].as_str().unwrap_or_default().to_string();
            let conversation =
                state.by_contact.entry(contact.clone()).or_insert_with(|| format!("conv-{contact}")).clone();
            let message = json!({ "id": id, "conversationId": conversation, "contactId": contact, "locationId": "loc1",
                "direction": "outbound", "messageType": "TYPE_SMS", "source": "api", "contentType": "text/plain",
                "type": 2, "body": sent["message"], "dateAdded": jiff::Timestamp::now().to_string() });
            state.conversations.entry(conversation).or_default().push(message);
            // 200, as `send-a-new-message` documents it.
            (
                200,
                json!({ "conversationId": "conv-manager", "messageId": id, "msg": "Message queued successfully." })
                    .to_string(),
            )
        }
        _ => not_found(),
    }
}

/// The scope GHL requires for a request (CONTRACT §3.1, §3.3, §3.4, §4.1).
fn scope_of(method: &str, segments: &[&str]) -> &'static str {
    match (method, segments) {
        ("POST", ["conversations", "messages"]) => "conversations/message.write",
        ("GET", ["conversations", _, "messages"]) => "conversations/message.readonly",
        ("GET", ["contacts", ..]) => "contacts.readonly",
        ("GET", ["users", ..]) => "users.readonly",
        _ => "conversations.readonly",
    }
}

/// The location's conversations as live GHL lists them (CONTRACT §3.1): filtered by
/// `lastMessageDirection`, sorted by the last message's date (`sortBy=last_message_date`, the
/// only order the fake knows; `sort=asc|desc`, default desc), `limit` per page (default 20),
/// paged by cursor: `startAfterDate` is the previous page's last `sort[0]`, and the page
/// continues strictly after it (older for desc, newer for asc). `offset`/`page` are not
/// documented; the contract check refuses them. `total` counts every match, not the page.
fn search(state: &State, query: &HashMap<String, String>) -> (u16, String) {
    let refuse = |message: String| (422, json!({ "statusCode": 422, "message": [message] }).to_string());
    if let Some(by) = query.get("sortBy").filter(|by| by.as_str() != "last_message_date") {
        return refuse(format!("the fake GHL sorts by last_message_date only, not {by}"));
    }
    let ascending = match query.get("sort").map(String::as_str) {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(other) => return refuse(format!("sort must be one of asc, desc, not {other}")),
    };
    let direction = query.get("lastMessageDirection");
    // `lastMessageAction`: a message a person sent in the app is manual; one a workflow, a
    // campaign, a bulk action or the API sent is automated (a plausible reading; GHL's docs name
    // the two values only). An inbound message is neither.
    let action = query.get("lastMessageAction");
    let action_of = |message: &Value| -> Option<&'static str> {
        if message["direction"] != "outbound" {
            return None;
        }
        match message["source"].as_str() {
            Some("workflow" | "campaign" | "bulk_actions" | "api") => Some("automated"),
            _ if message["userId"].is_string() => Some("manual"),
            _ => Some("automated"),
        }
    };
    let after = match query.get("startAfterDate") {
        // A number, or (for a sort array) its first value.
        Some(cursor) => match cursor.trim_matches(|c| c == '[' || c == ']').split(',').next().map(str::trim) {
            Some(first) => match first.parse::<f64>() {
                Ok(ms) => Some(ms as i64),
                Err(_) => return refuse(format!("startAfterDate {cursor:?} is not a sort value")),
            },
            None => None,
        },
        None => None,
    };
    let mut listed: Vec<(i64, &String, &Value)> = state
        .conversations
        .iter()
        .filter_map(|(id, messages)| {
            let last = newest(messages)?;
            let at: jiff::Timestamp = last["dateAdded"].as_str()?.parse().ok()?;
            Some((at.as_millisecond(), id, last))
        })
        .filter(|(_, _, last)| direction.is_none_or(|wanted| last["direction"] == wanted.as_str()))
        .filter(|(_, _, last)| action.is_none_or(|wanted| action_of(last) == Some(wanted.as_str())))
        .collect();
    let total = listed.len();
    // Newest first, or oldest first; ties in a stable order (by id).
    listed.sort_by(|a, b| if ascending { a.0.cmp(&b.0) } else { b.0.cmp(&a.0) }.then_with(|| a.1.cmp(b.1)));
    let limit = query.get("limit").and_then(|l| l.parse::<f64>().ok()).map_or(20, |l| l as usize);
    let page: Vec<Value> = listed
        .into_iter()
        .filter(|(at, _, _)| after.is_none_or(|cursor| if ascending { *at > cursor } else { *at < cursor }))
        .take(limit)
        .map(|(at, id, last)| {
            let mut summary = conversation_summary(state, id);
            if !state.published_only {
                // Live GHL adds these; its published ConversationSchema has none of them.
                summary["lastMessageDate"] = json!(at);
                summary["lastMessageDirection"] = last["direction"].clone();
                summary["sort"] = json!([at]);
            }
            summary
        })
        .collect();
    (200, json!({ "conversations": page, "total": total }).to_string())
}

/// The message with the latest `dateAdded`.
fn newest(messages: &[Value]) -> Option<&Value> {
    messages.iter().max_by_key(|m| m["dateAdded"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok()))
}

/// A conversation as the search lists it, with every field `ConversationSchema` requires.
fn conversation_summary(state: &State, id: &str) -> Value {
    let messages = state.conversations.get(id).map(Vec::as_slice).unwrap_or_default();
    let last = newest(messages);
    let contact_id = last
        .and_then(|m| m["contactId"].as_str())
        .or_else(|| state.by_contact.iter().find(|(_, c)| c.as_str() == id).map(|(contact, _)| contact.as_str()))
        .unwrap_or_default();
    let contact = state.contacts.get(contact_id);
    let text = |key: &str| contact.and_then(|c| c[key].as_str()).unwrap_or_default().to_string();
    let full_name = format!("{} {}", text("firstName"), text("lastName")).trim().to_string();
    json!({
        "id": id,
        "contactId": contact_id,
        "locationId": LOCATION,
        "lastMessageBody": last.and_then(|m| m["body"].as_str()).unwrap_or_default(),
        "lastMessageType": last.and_then(|m| m["messageType"].as_str()).unwrap_or("TYPE_SMS"),
        "type": "TYPE_PHONE",
        "unreadCount": unread(messages),
        "fullName": full_name,
        "contactName": full_name,
        "email": text("email"),
        "phone": text("phone"),
    })
}

/// GHL does not define `unreadCount` beyond "Number of unread messages in this conversation"
/// and the fake knows nothing of who read what; a plausible reading: the inbound messages
/// after the conversation's newest outbound message (all of them when nothing went out).
fn unread(messages: &[Value]) -> usize {
    let at = |m: &Value| m["dateAdded"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
    let answered = messages.iter().filter(|m| m["direction"] == "outbound").filter_map(at).max();
    messages
        .iter()
        .filter(|m| m["direction"] == "inbound")
        .filter(|m| answered.is_none_or(|out| at(m) > Some(out)))
        .count()
}

/// A conversation's messages in the order the fake pages them.
fn in_order(mut messages: Vec<Value>, order: MessageOrder) -> Vec<Value> {
    match order {
        MessageOrder::AsLogged => messages.reverse(),
        MessageOrder::NewestFirst | MessageOrder::PageOldestFirst => {
            // Newest first; of two at the same time, the one logged later first.
            messages.reverse();
            messages.sort_by(|a, b| {
                let at = |m: &Value| m["dateAdded"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
                at(b).cmp(&at(a))
            });
        }
    }
    messages
}

/// A message as GHL's published schema has it: call details in `meta.callStatus` and
/// `meta.callDuration` (a string there), not live GHL's `meta.call.*`.
fn published_message(message: &mut Value) {
    let Some(meta) = message.get_mut("meta").and_then(Value::as_object_mut) else { return };
    if let Some(Value::Object(call)) = meta.remove("call") {
        if let Some(status) = call.get("status") {
            meta.insert("callStatus".to_string(), status.clone());
        }
        if let Some(duration) = call.get("duration") {
            let text = duration.as_str().map_or_else(|| duration.to_string(), str::to_string);
            meta.insert("callDuration".to_string(), json!(text));
        }
    }
}
