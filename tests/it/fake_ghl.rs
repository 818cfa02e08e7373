//! A fake GHL API on 127.0.0.1, following `ghl/CONTRACT.md`: conversations search, messages
//! (both response shapes, paged with `lastMessageId`/`nextPage`), contacts and SMS send, with
//! `X-RateLimit-*` headers on every answer. It records every request and can be told to answer
//! 429s, 500s, 401s, slow replies or garbage. Tests use it; the product never does.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tiny_http::{Header, Response, Server};

/// A fault to answer with instead of the real thing.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// 429 with `Retry-After` seconds and `X-RateLimit-Remaining: 0`.
    RateLimited(u64),
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

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET` or `POST`.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query string.
    pub query: String,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// `Version` header.
    pub version: Option<String>,
    /// Body, for sends.
    pub body: String,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Default)]
struct State {
    /// Messages per conversation, oldest first.
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
    /// `lastMessageDate`/`lastMessageDirection` in search results, no `contactName`.
    published_only: bool,
    requests: Vec<Recorded>,
    /// Bodies of accepted sends.
    sent: Vec<Value>,
    next_id: u64,
}

/// The running fake; stops when dropped.
pub struct FakeGhl {
    /// `http://127.0.0.1:port`.
    pub url: String,
    server: Arc<Server>,
    state: Arc<Mutex<State>>,
    workers: Vec<JoinHandle<()>>,
}

/// Messages per page unless the request asks for fewer.
const PAGE: usize = 20;

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

    /// Adds a message to a conversation (and links the contact to it).
    pub fn add_message(&self, conversation: &str, contact: &str, fields: Value) {
        let mut state = self.lock();
        state.next_id += 1;
        let mut message = json!({
            "id": format!("msg{}", state.next_id),
            "conversationId": conversation,
            "contactId": contact,
            "locationId": "loc1",
            "contentType": "text/plain",
            "type": 2,
        });
        if let (Value::Object(message), Value::Object(fields)) = (&mut message, fields) {
            message.extend(fields);
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

    /// Adds a contact record.
    pub fn add_contact(&self, id: &str, first: &str, last: &str) {
        let contact =
            json!({ "id": id, "firstName": first, "lastName": last, "contactName": format!("{first} {last}") });
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
}

impl Drop for FakeGhl {
    fn drop(&mut self) {
        for _ in 0..self.workers.len() {
            self.server.unblock();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
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
    let find = |request: &tiny_http::Request, name: &'static str| {
        request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string())
    };
    let authorization = find(&request, "Authorization");
    let version = find(&request, "Version");
    let mut body = String::new();
    let _ = request.as_reader().read_to_string(&mut body);
    let recorded = Recorded {
        method: request.method().as_str().to_string(),
        path: path.clone(),
        query: query.clone(),
        authorization,
        version,
        body: body.clone(),
        at: Instant::now(),
    };
    let fault = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        state.requests.push(recorded.clone());
        state.faults.pop_front().or_else(|| state.outage.clone())
    };
    let (status, answer, extra) = match fault {
        Some(Fault::RateLimited(seconds)) => (
            429,
            json!({ "statusCode": 429, "message": "Too Many Requests" }).to_string(),
            vec![("Retry-After", seconds.to_string()), ("X-RateLimit-Remaining", "0".to_string())],
        ),
        Some(Fault::ServerError) => {
            (500, json!({ "statusCode": 500, "message": "Internal server error" }).to_string(), vec![])
        }
        Some(Fault::Unauthorized) => (401, json!({ "statusCode": 401, "message": "Invalid JWT" }).to_string(), vec![]),
        Some(Fault::Garbage) => (200, "<html>gateway hiccup</html>".to_string(), vec![]),
        Some(Fault::Slow(wait)) => {
            std::thread::sleep(wait);
            answer(state, &recorded)
        }
        Some(Fault::AcceptThenStall(wait)) => {
            let answered = answer(state, &recorded);
            std::thread::sleep(wait);
            answered
        }
        None => answer(state, &recorded),
    };
    let mut response = Response::from_string(answer)
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
        .with_header(header("X-RateLimit-Max", "100"))
        .with_header(header("X-RateLimit-Interval-Milliseconds", "10000"))
        .with_header(header("X-RateLimit-Limit-Daily", "200000"))
        .with_header(header("X-RateLimit-Daily-Remaining", "199000"));
    let has_remaining = extra.iter().any(|(name, _)| *name == "X-RateLimit-Remaining");
    for (name, value) in extra {
        response = response.with_header(header(name, &value));
    }
    if !has_remaining {
        response = response.with_header(header("X-RateLimit-Remaining", "99"));
    }
    let _ = request.respond(response);
}

/// The real answer to a request.
fn answer(state: &Mutex<State>, request: &Recorded) -> (u16, String, Vec<(&'static str, String)>) {
    let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
    let query: HashMap<String, String> = request
        .query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let not_found = || (404, json!({ "statusCode": 404, "message": "Not Found" }).to_string(), vec![]);
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["conversations", "search"]) if !query.contains_key("contactId") => {
            // The location's conversations, most recent message first.
            let mut listed: Vec<(i64, Value)> = state
                .conversations
                .iter()
                .filter_map(|(id, messages)| {
                    let last =
                        messages.iter().max_by_key(|m| m["dateAdded"].as_str().unwrap_or_default().to_string())?;
                    let at: jiff::Timestamp = last["dateAdded"].as_str()?.parse().ok()?;
                    let mut summary = json!({ "id": id, "contactId": last["contactId"], "locationId": "loc1" });
                    if !state.published_only {
                        summary["lastMessageDate"] = json!(at.as_millisecond());
                        summary["lastMessageDirection"] = last["direction"].clone();
                    }
                    Some((at.as_millisecond(), summary))
                })
                .collect();
            listed.sort_by_key(|(at, _)| -at);
            let limit = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
            let page: Vec<Value> = listed.into_iter().take(limit).map(|(_, v)| v).collect();
            (200, json!({ "conversations": page, "total": page.len() }).to_string(), vec![])
        }
        ("GET", ["conversations", "search"]) => {
            let found: Vec<Value> = query
                .get("contactId")
                .and_then(|contact| state.by_contact.get(contact))
                .map(|id| json!({ "id": id, "contactId": query.get("contactId"), "locationId": "loc1" }))
                .into_iter()
                .collect();
            (200, json!({ "conversations": found, "total": found.len() }).to_string(), vec![])
        }
        ("GET", ["conversations", id, "messages"]) => {
            let Some(all) = state.conversations.get(*id).cloned() else {
                return not_found();
            };
            let limit = query.get("limit").and_then(|l| l.parse().ok()).unwrap_or(PAGE).min(PAGE);
            // Newest first, as GHL answers; `lastMessageId` continues after that message.
            let newest_first: Vec<Value> = all.into_iter().rev().collect();
            let start = match query.get("lastMessageId") {
                Some(last) => {
                    newest_first.iter().position(|m| m["id"] == last.as_str()).map_or(newest_first.len(), |p| p + 1)
                }
                None => 0,
            };
            let page: Vec<Value> = newest_first.iter().skip(start).take(limit).cloned().collect();
            let next_page = start + page.len() < newest_first.len();
            let last_id = page.last().map(|m| m["id"].clone()).unwrap_or(Value::Null);
            // Both documented shapes, alternating, so the client must read each (CONTRACT §3.3).
            state.nested_shape = !state.nested_shape;
            let body = if state.nested_shape {
                json!({ "messages": { "lastMessageId": last_id, "nextPage": next_page, "messages": page } })
            } else {
                json!({ "lastMessageId": last_id, "nextPage": next_page, "messages": page })
            };
            (200, body.to_string(), vec![])
        }
        ("GET", ["contacts", id]) => match state.contacts.get(*id) {
            Some(contact) if state.published_only => {
                // The published contact has `name`, `firstName`, `lastName`; not `contactName`.
                let mut contact = contact.clone();
                if let Some(fields) = contact.as_object_mut() {
                    let name = fields.remove("contactName").unwrap_or(Value::Null);
                    fields.insert("name".to_string(), name);
                }
                (200, json!({ "contact": contact }).to_string(), vec![])
            }
            Some(contact) => (200, json!({ "contact": contact }).to_string(), vec![]),
            None => (400, json!({ "statusCode": 400, "message": "Contact not found" }).to_string(), vec![]),
        },
        ("POST", ["conversations", "messages"]) => {
            let sent: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
            if sent["type"] != "SMS" || !sent["contactId"].is_string() {
                return (
                    422,
                    json!({ "statusCode": 422, "message": ["type and contactId are required"] }).to_string(),
                    vec![],
                );
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
            (
                201,
                json!({ "conversationId": "conv-manager", "messageId": id, "msg": "Message queued successfully." })
                    .to_string(),
                vec![],
            )
        }
        _ => not_found(),
    }
}
