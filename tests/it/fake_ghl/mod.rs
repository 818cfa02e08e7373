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
use tiny_http::Server;

mod answers;
pub mod openapi;
#[cfg(test)]
mod tests;

use answers::serve;

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
    /// Users by id (CONTRACT §4.2).
    users: HashMap<String, Value>,
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
    /// Scopes the token lacks: requests that need one answer GHL's 401 scope refusal.
    revoked_scopes: Vec<String>,
    /// The location the token belongs to, when a test says: a search naming another answers
    /// GHL's 403 (CONTRACT §5.2). Unset, any location is served.
    token_location: Option<String>,
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

    /// Adds a message to a conversation (and links the contact to it); returns its id.
    pub fn add_message(&self, conversation: &str, contact: &str, fields: Value) -> String {
        let mut state = self.lock();
        state.next_id += 1;
        let id = format!("msg{}", state.next_id);
        let mut message = json!({
            "id": id,
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
        // A test's fields may name the id themselves.
        let id = message["id"].as_str().map_or(id, str::to_string);
        state.conversations.entry(conversation.to_string()).or_default().push(message);
        id
    }

    /// An inbound SMS `body` from `contact` at `at` (RFC 3339); returns its message id.
    pub fn inbound_text(&self, conversation: &str, contact: &str, body: &str, at: &str) -> String {
        self.add_message(
            conversation,
            contact,
            json!({ "direction": "inbound", "messageType": "TYPE_SMS", "body": body, "dateAdded": at }),
        )
    }

    /// An inbound call from `contact` at `at` that nobody answered, with live GHL's
    /// `meta.call.status` (published-only mode answers it as `meta.callStatus`); returns its
    /// message id.
    pub fn missed_call(&self, conversation: &str, contact: &str, at: &str) -> String {
        self.add_message(
            conversation,
            contact,
            json!({ "direction": "inbound", "messageType": "TYPE_CALL", "body": "", "dateAdded": at,
                "meta": { "call": { "status": "no-answer" } } }),
        )
    }

    /// A staff SMS reply from user `user` at `at`.
    pub fn staff_reply(&self, conversation: &str, contact: &str, user: &str, at: &str) -> String {
        self.add_message(
            conversation,
            contact,
            json!({ "direction": "outbound", "messageType": "TYPE_SMS", "userId": user, "source": "app", "dateAdded": at, "body": "On our way" }),
        )
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

    /// Adds a contact of [`LOCATION`] with a name and a mobile number, as a manager's is.
    pub fn add_contact_with_phone(&self, id: &str, first: &str, last: &str, phone: &str) {
        self.add_contact_fields(
            id,
            json!({ "firstName": first, "lastName": last, "contactName": format!("{first} {last}"), "phone": phone }),
        );
    }

    /// Adds a user of [`LOCATION`] (`GET /users/{id}`, CONTRACT §4.2), named and with a role.
    pub fn add_user(&self, id: &str, first: &str, last: &str, locations: &[&str]) {
        let user = json!({ "id": id, "name": format!("{first} {last}"), "firstName": first, "lastName": last,
            "roles": { "type": "account", "role": "user", "locationIds": locations } });
        self.lock().users.insert(id.to_string(), user);
    }

    /// The token lacks `scope` (`conversations.readonly`, `conversations/message.readonly`,
    /// `conversations/message.write`, `contacts.readonly`) from now on: every request that
    /// needs it answers GHL's 401 "The token is not authorized for this scope." (CONTRACT §5.2).
    pub fn revoke_scope(&self, scope: &str) {
        self.lock().revoked_scopes.push(scope.to_string());
    }

    /// The token is one of `location` from now on: a search naming another location answers
    /// GHL's 403 "The token does not have access to this location." (CONTRACT §5.2).
    pub fn token_for(&self, location: &str) {
        self.lock().token_location = Some(location.to_string());
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
