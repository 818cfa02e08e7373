//! A fake GHL API on 127.0.0.1, following `ghl/CONTRACT.md`: conversations search, messages
//! (both response shapes, paged with `lastMessageId`/`nextPage`), contacts and SMS send, with
//! GHL's documented `X-RateLimit-*` headers on every answer. It records every request and its
//! answer, and can be told to answer 429s, 500s, 401s, slow replies or garbage, to page
//! messages in another order, or to answer with GHL's published fields only.
//!
//! When it stops, it checks every recorded request and answer against GHL's published OpenAPI
//! ([`openapi`], `tests/fixtures/ghl-openapi/`) and fails the test on a violation, so no test
//! can pass on traffic GHL would not send or accept. Tests use it; the product never does.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tiny_http::{Header, Response, Server};

#[path = "openapi/mod.rs"]
pub mod openapi;

/// A fault to answer with instead of the real thing.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with GHL's documented headers only: `X-RateLimit-Remaining: 0` and this interval in
    /// `X-RateLimit-Interval-Milliseconds`; no `Retry-After`, which GHL does not document.
    RateLimited(Duration),
    /// 429 with `X-RateLimit-Daily-Remaining: 0`: the day's requests are spent.
    DailyLimitReached,
    /// 500 with GHL's error shape.
    ServerError,
    /// 401 "Invalid JWT".
    Unauthorized,
    /// Wait this long, then answer normally.
    Slow(Duration),
    /// 200 with a body that is not JSON.
    Garbage,
    /// Do the work (a send is taken and delivered), then stall this long before answering:
    /// the client times out not knowing that GHL took it.
    AcceptThenStall(Duration),
}

/// The order the fake pages a conversation's messages in. GHL's spec promises none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageOrder {
    /// Newest `dateAdded` first, page after page.
    #[default]
    NewestFirst,
    /// The order GHL logged them, newest logged first, whatever their `dateAdded` (a call
    /// logged late carries its earlier time).
    AsLogged,
    /// Pages go back in time, but each page lists its messages oldest first.
    PageOldestFirst,
}

/// One request the fake received, and what it answered.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET` or `POST`.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query string, as sent.
    pub query: String,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// `Version` header.
    pub version: Option<String>,
    /// Every header, as sent.
    pub headers: Vec<(String, String)>,
    /// Body, for sends.
    pub body: String,
    /// When it arrived.
    pub at: Instant,
    /// The answer, once given.
    pub answer: Option<Answered>,
}

/// What the fake answered.
#[derive(Debug, Clone)]
pub struct Answered {
    /// Status code.
    pub status: u16,
    /// Every header.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
    /// The fault answered with, if one was.
    pub fault: Option<Fault>,
}

#[derive(Default)]
struct State {
    /// Messages per conversation, in the order they were logged.
    conversations: HashMap<String, Vec<Value>>,
    /// Conversation of each contact.
    by_contact: HashMap<String, String>,
    /// Contacts by id.
    contacts: HashMap<String, Value>,
    /// Faults to answer with, in order, before normal service resumes.
    faults: VecDeque<Fault>,
    /// A fault to answer every request with until cleared.
    outage: Option<Fault>,
    /// Alternate between the flat and the nested messages shape.
    nested_shape: bool,
    /// Answer with the fields GHL's published schemas name and nothing more (issue 13): no
    /// `lastMessageDate`/`lastMessageDirection` in search results, no `contactName`, the
    /// messages page nested, call details in `meta.callStatus`/`meta.callDuration`.
    published_only: bool,
    order: MessageOrder,
    /// A `Version` the test set with `GHL_VERSION`, which the contract check accepts.
    version_override: Option<String>,
    requests: Vec<Recorded>,
    /// Bodies of accepted sends.
    sent: Vec<Value>,
    next_id: u64,
}

/// The running fake; stops when dropped, and then checks its traffic against GHL's OpenAPI.
pub struct FakeGhl {
    /// `http://127.0.0.1:port`.
    pub url: String,
    server: Arc<Server>,
    state: Arc<Mutex<State>>,
    workers: Vec<JoinHandle<()>>,
}

/// Messages per page unless the request asks for fewer.
const PAGE: usize = 20;

/// The location every fake record belongs to.
const LOCATION: &str = "loc1";

impl FakeGhl {
    /// Starts on a free loopback port.
    pub fn start() -> anyhow::Result<FakeGhl> {
        let server = Arc::new(Server::http("127.0.0.1:0").map_err(|e| anyhow::format_err!("{e}"))?);
        let url = format!("http://{}", server.server_addr().to_ip().map(|a| a.to_string()).unwrap_or_default());
        let state = Arc::new(Mutex::new(State { nested_shape: true, ..State::default() }));
        let workers = (0..4)
            .map(|_| {
                let (server, state) = (server.clone(), state.clone());
                std::thread::spawn(move || {
                    while let Ok(request) = server.recv() {
                        serve(request, &state);
                    }
                })
            })
            .collect();
        Ok(FakeGhl { url, server, state, workers })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Answers only with the fields GHL's published schemas name, from now on.
    pub fn published_only(&self) {
        self.lock().published_only = true;
    }

    /// Pages messages in `order` from now on.
    pub fn message_order(&self, order: MessageOrder) {
        self.lock().order = order;
    }

    /// The test set `GHL_VERSION=version`: the client sends it to every endpoint, and the
    /// contract check accepts it where the spec documents another value.
    pub fn allow_version_override(&self, version: &str) {
        self.lock().version_override = Some(version.to_string());
    }

    /// Adds a message to a conversation (and links the contact to it).
    pub fn add_message(&self, conversation: &str, contact: &str, fields: Value) {
        let mut state = self.lock();
        state.next_id += 1;
        let mut message = json!({
            "id": format!("msg{}", state.next_id),
            "conversationId": conversation,
            "contactId": contact,
            "locationId": LOCATION,
            "contentType": "text/plain",
            "type": 2,
        });
        if let (Value::Object(message), Value::Object(fields)) = (&mut message, fields) {
            message.extend(fields);
        }
        if message["messageType"].as_str().is_some_and(|kind| kind.contains("CALL")) {
            // GHL's numeric type for a call (CONTRACT §1.4).
            message["type"] = json!(1);
        }
        state.by_contact.insert(contact.to_string(), conversation.to_string());
        state.conversations.entry(conversation.to_string()).or_default().push(message);
    }

    /// A staff SMS reply from user `user` at `at`.
    pub fn staff_reply(&self, conversation: &str, contact: &str, user: &str, at: &str) {
        self.add_message(
            conversation,
            contact,
            json!({ "direction": "outbound", "messageType": "TYPE_SMS", "userId": user, "source": "app", "dateAdded": at, "body": "On our way" }),
        );
    }

    /// Links a contact to a conversation without messages.
    pub fn add_conversation(&self, conversation: &str, contact: &str) {
        let mut state = self.lock();
        state.by_contact.insert(contact.to_string(), conversation.to_string());
        state.conversations.entry(conversation.to_string()).or_default();
    }

    /// Adds a contact record as live GHL answers it: first and last name, and `contactName`.
    pub fn add_contact(&self, id: &str, first: &str, last: &str) {
        self.add_contact_fields(
            id,
            json!({ "firstName": first, "lastName": last, "contactName": format!("{first} {last}") }),
        );
    }

    /// Adds a contact record with exactly these fields (besides `id` and `locationId`).
    pub fn add_contact_fields(&self, id: &str, fields: Value) {
        let mut contact = json!({ "id": id, "locationId": LOCATION });
        if let (Value::Object(contact), Value::Object(fields)) = (&mut contact, fields) {
            contact.extend(fields);
        }
        self.lock().contacts.insert(id.to_string(), contact);
    }

    /// Answers the next requests with these faults, in order.
    pub fn fail_next(&self, faults: &[Fault]) {
        self.lock().faults.extend(faults.iter().cloned());
    }

    /// Answers every request with `fault` until [`FakeGhl::recover`].
    pub fn outage(&self, fault: Fault) {
        self.lock().outage = Some(fault);
    }

    /// Ends an outage.
    pub fn recover(&self) {
        let mut state = self.lock();
        state.outage = None;
        state.faults.clear();
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.clone()
    }

    /// The SMS sends GHL accepted so far, as JSON bodies (failed attempts are not sends).
    pub fn sends(&self) -> Vec<Value> {
        self.lock().sent.clone()
    }

    /// The most requests that arrived within any `window`.
    pub fn max_in_window(&self, window: Duration) -> usize {
        let times: Vec<Instant> = self.requests().iter().map(|r| r.at).collect();
        (0..times.len())
            .map(|start| times[start..].iter().take_while(|at| at.duration_since(times[start]) < window).count())
            .max()
            .unwrap_or(0)
    }

    /// The traffic so far, checked against GHL's published OpenAPI.
    pub fn contract(&self) -> openapi::Report {
        let state = self.lock();
        let allowed = openapi::Allowed {
            live_deviations: !state.published_only,
            version_override: state.version_override.clone(),
        };
        openapi::check(&state.requests, &allowed)
    }
}

impl Drop for FakeGhl {
    fn drop(&mut self) {
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
        // A test that already failed says why; a second panic would only hide it.
        if !std::thread::panicking() {
            let report = self.contract();
            assert!(report.violations.is_empty(), "GHL's published OpenAPI was not kept:\n{report}");
        }
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).unwrap_or_else(|()| panic!("bad header {name}"))
}

fn serve(mut request: tiny_http::Request, state: &Mutex<State>) {
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
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["conversations", "search"]) if !query.contains_key("contactId") => {
            // The location's conversations, most recent message first.
            let mut listed: Vec<(i64, Value)> = state
                .conversations
                .iter()
                .filter_map(|(id, messages)| {
                    let last = newest(messages)?;
                    let at: jiff::Timestamp = last["dateAdded"].as_str()?.parse().ok()?;
                    let mut summary = conversation_summary(&state, id);
                    if !state.published_only {
                        // Live GHL adds these; its published ConversationSchema has neither.
                        summary["lastMessageDate"] = json!(at.as_millisecond());
                        summary["lastMessageDirection"] = last["direction"].clone();
                    }
                    Some((at.as_millisecond(), summary))
                })
                .collect();
            listed.sort_by_key(|(at, _)| -at);
            let limit = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
            let page: Vec<Value> = listed.into_iter().take(limit).map(|(_, v)| v).collect();
            (200, json!({ "conversations": page, "total": page.len() }).to_string())
        }
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

/// The message with the latest `dateAdded`.
fn newest(messages: &[Value]) -> Option<&Value> {
    messages.iter().max_by_key(|m| m["dateAdded"].as_str().unwrap_or_default().to_string())
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
        "unreadCount": 0,
        "fullName": full_name,
        "contactName": full_name,
        "email": text("email"),
        "phone": text("phone"),
    })
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
