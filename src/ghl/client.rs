//! The GHL API client: the only code that makes requests to GHL (SPEC §8, CONTRACT §3–§5).
//!
//! Blocking (ureq + rustls); callers run it in `spawn_blocking`. Every request carries the
//! `Version` GHL documents for its endpoint (or `GHL_VERSION` when set), passes one shared rate
//! limiter (`ghl::limiter`: a sliding 10-second window and a daily budget) and a circuit
//! breaker (`ghl::breaker`), retries 429/5xx/timeouts with exponential backoff and jitter, and
//! never retries other 4xx. GHL's documented `X-RateLimit-*` headers steer the waits: a spent
//! window holds every caller for the window's interval, a spent day stops requests for a while,
//! and a lower advertised maximum lowers ours (`Retry-After` is not documented; it is honoured
//! only if it comes). Failures come back classified as [`GhlError`] so callers can act on the
//! cause; an outage is a value, not a crash.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Value, json};

use super::breaker::CircuitBreaker;
pub use super::limiter::{RateLimitHeaders, RateLimiter};
use crate::config::{GhlConfig, Secret};
use crate::domain::event::{Outbound, Party, is_call_type};
use crate::time::TimeSource;

/// Why a GHL request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GhlError {
    /// No `GHL_TOKEN` is configured.
    NotConfigured,
    /// The token was refused (401).
    Auth(String),
    /// The token lacks a scope or the location (401 scope / 403).
    Scope(String),
    /// The resource does not exist (404).
    NotFound(String),
    /// GHL kept answering 429 after our retries.
    RateLimited(String),
    /// GHL is down, slow or answering garbage (5xx, timeouts, bad JSON).
    Unavailable(String),
    /// Another 4xx: our request was wrong; retrying will not help.
    Rejected(u16, String),
    /// The circuit breaker is open after repeated failures.
    CircuitOpen,
    /// The daily request budget is spent.
    BudgetExhausted,
    /// A send whose fate is unknown: it timed out or GHL failed after it may have taken it.
    /// It is not repeated blindly: the manager's conversation is looked at first.
    Uncertain(String),
}

impl GhlError {
    /// Worth trying again later (as opposed to a request or token problem).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GhlError::RateLimited(_)
                | GhlError::Unavailable(_)
                | GhlError::CircuitOpen
                | GhlError::BudgetExhausted
                | GhlError::Uncertain(_)
        )
    }
}

impl std::fmt::Display for GhlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GhlError::NotConfigured => write!(f, "not sent: no GHL_TOKEN"),
            GhlError::Auth(m) => write!(f, "GHL refused the token: {m}"),
            GhlError::Scope(m) => write!(f, "GHL token lacks access: {m}"),
            GhlError::NotFound(m) => write!(f, "not found in GHL: {m}"),
            GhlError::RateLimited(m) => write!(f, "GHL rate limit: {m}"),
            GhlError::Unavailable(m) => write!(f, "GHL unavailable: {m}"),
            GhlError::Rejected(status, m) => write!(f, "GHL rejected the request ({status}): {m}"),
            GhlError::CircuitOpen => write!(f, "GHL circuit open after repeated failures"),
            GhlError::BudgetExhausted => write!(f, "daily GHL request budget spent"),
            GhlError::Uncertain(m) => write!(f, "GHL may or may not have sent it: {m}"),
        }
    }
}

impl std::error::Error for GhlError {}

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
        })
    }
}

/// `TYPE_SMS` → `SMS`; every call type (`TYPE_CALL`, `TYPE_IVR_CALL`, `TYPE_CUSTOM_CALL`,
/// `TYPE_CAMPAIGN_MANUAL_CALL`) and `TYPE_VOICEMAIL` → `CALL`; `TYPE_INTERNAL_COMMENT(S)` →
/// `InternalComment`.
fn normalise_type(message_type: &str) -> String {
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

/// `lastMessageDate` is epoch milliseconds live, sometimes an ISO string (CONTRACT §3.1).
fn parse_conversation(item: &Value) -> Option<ConversationSummary> {
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

/// What `/health` shows about GHL.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GhlStatus {
    /// `ok`, `degraded` or `not configured`.
    pub state: &'static str,
    /// `closed` or `open`.
    pub circuit: &'static str,
    /// Requests sent since start.
    pub requests: u64,
    /// 429 answers seen since start.
    pub rate_limited: u64,
    /// Last successful request.
    pub last_success_at: Option<Timestamp>,
    /// Last failure, classified.
    pub last_error: Option<String>,
    /// Whether the token was refused (managers should be told).
    pub token_refused: bool,
    /// What GHL's `X-RateLimit-*` headers said last.
    pub rate_limit: Option<RateLimitHeaders>,
}

/// The two GHL APIs the client calls; each documents its own `Version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `/conversations/...`: `Version: 2021-04-15`.
    Conversations,
    /// `/contacts/...`: `Version: 2021-07-28`.
    Contacts,
}

impl Api {
    /// The `Version` GHL's OpenAPI gives every operation of this API.
    fn documented_version(self) -> &'static str {
        match self {
            Api::Conversations => "2021-04-15",
            Api::Contacts => "2021-07-28",
        }
    }
}

/// The `Version` headers in effect, for `check-config`.
pub fn describe_versions(config: &GhlConfig) -> String {
    match &config.version {
        Some(version) => format!(
            "{version} on every endpoint (GHL_VERSION is set; unset it to send each endpoint the value GHL documents: conversations {}, contacts {})",
            Api::Conversations.documented_version(),
            Api::Contacts.documented_version()
        ),
        None => format!(
            "conversations {}, contacts {} (each endpoint's documented value)",
            Api::Conversations.documented_version(),
            Api::Contacts.documented_version()
        ),
    }
}

/// Attempts per request, the first included.
const MAX_ATTEMPTS: u32 = 4;
/// First retry delay; doubles per attempt, with up to 50 % jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(400);
/// Longest wait honoured from the rate-limit headers (or an undocumented `Retry-After`).
const MAX_SERVER_WAIT: Duration = Duration::from_secs(60);
/// How long requests stop once GHL says the day's requests are spent; GHL does not say when
/// its day resets, so one request an hour asks again.
const DAILY_LIMIT_HOLD: Duration = Duration::from_secs(3600);
/// Pages of messages read at most while looking back for a staff reply.
const MAX_PAGES: usize = 10;
/// Messages per page.
const PAGE_SIZE: &str = "50";

/// The GHL client; cheap to clone, shared by every actor.
#[derive(Clone)]
pub struct GhlClient {
    inner: Arc<Inner>,
}

struct Inner {
    agent: ureq::Agent,
    base_url: String,
    token: Option<Secret>,
    /// `GHL_VERSION` when the user set it; else each endpoint gets the value it documents.
    version: Option<String>,
    /// `GHL_LOCATION_ID`, else the location the webhooks carry (learned once, kept in the db).
    location_id: Mutex<Option<String>>,
    limiter: RateLimiter,
    state: Mutex<ClientState>,
    time: TimeSource,
}

/// What requests change, under one lock: the breaker and the status `/health` shows.
#[derive(Default)]
struct ClientState {
    breaker: CircuitBreaker,
    status: GhlStatus,
}

impl std::fmt::Debug for GhlClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GhlClient").field("base_url", &self.inner.base_url).finish_non_exhaustive()
    }
}

impl GhlClient {
    /// A client for the configured account.
    pub fn new(config: &GhlConfig, time: TimeSource) -> GhlClient {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(5)))
            .timeout_global(Some(config.timeout))
            .user_agent(concat!("sentinel/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        GhlClient {
            inner: Arc::new(Inner {
                agent,
                base_url: config.base_url.clone(),
                token: config.token.clone(),
                version: config.version.clone(),
                location_id: Mutex::new(config.location_id.clone()),
                // A quarter second over GHL's 10 s: latency can bunch requests at GHL's end.
                limiter: RateLimiter::new(
                    config.rate_limit_per_10s as usize,
                    Duration::from_millis(10_250),
                    config.daily_budget,
                ),
                state: Mutex::new(ClientState::default()),
                time,
            }),
        }
    }

    /// The location searches are made in: `GHL_LOCATION_ID`, else the one learned.
    pub fn location_id(&self) -> Option<String> {
        self.inner.location_id.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The location a search must name: GHL requires `locationId` (issue 13), so without one
    /// no search is made at all.
    fn search_location(&self) -> Result<String, GhlError> {
        if self.inner.token.is_none() {
            return Err(GhlError::NotConfigured);
        }
        self.location_id().ok_or_else(|| {
            GhlError::Rejected(
                0,
                "no GHL location: GHL_LOCATION_ID is unset and no webhook has shown it yet".to_string(),
            )
        })
    }

    /// Takes `id` as the location when none is configured or learned yet (GHL requires
    /// `locationId` on every search); true when it was new.
    pub fn learn_location(&self, id: &str) -> bool {
        let mut location = self.inner.location_id.lock().unwrap_or_else(PoisonError::into_inner);
        if location.is_some() || id.trim().is_empty() {
            return false;
        }
        *location = Some(id.trim().to_string());
        true
    }

    /// Whether a token is configured.
    pub fn is_configured(&self) -> bool {
        self.inner.token.is_some()
    }

    /// The state for `/health` and the LED.
    pub fn status(&self) -> GhlStatus {
        let state = self.lock();
        let mut status = state.status.clone();
        let open = state.breaker.is_open(self.inner.time.now());
        status.circuit = if open { "open" } else { "closed" };
        status.state = if self.inner.token.is_none() {
            "not configured"
        } else if open || status.token_refused || state.breaker.is_failing() || self.inner.limiter.day_is_held() {
            "degraded"
        } else {
            "ok"
        };
        status
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClientState> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The messages of a conversation newer than `since`, newest first, reading pages until
    /// one lies wholly before `since` (SPEC §5.2).
    pub fn messages_since(&self, conversation_id: &str, since: Timestamp) -> Result<Vec<Message>, GhlError> {
        let mut messages = self.messages_reaching(conversation_id, since)?;
        messages.retain(|message| message.date_added >= since);
        Ok(messages)
    }

    /// Every message on the pages read, newest first: the messages since `since` and, on the
    /// same requests, the older ones that came with them, which the AI check reads as the
    /// thread's context (SPEC §10).
    ///
    /// GHL does not promise an order within or across pages, so paging goes by `dateAdded`, not
    /// by position: it stops at the last page, or at a page whose every message is older than
    /// `since` (a page that reaches back past `since` may still hold newer messages, e.g. a
    /// call logged late under its earlier time). At most [`MAX_PAGES`] are read.
    pub fn messages_reaching(&self, conversation_id: &str, since: Timestamp) -> Result<Vec<Message>, GhlError> {
        let mut messages = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut query = vec![("limit", PAGE_SIZE.to_string())];
            if let Some(cursor) = &cursor {
                query.push(("lastMessageId", cursor.clone()));
            }
            let page = self.get(&format!("/conversations/{conversation_id}/messages"), &query)?;
            let (items, next_page, last_id) = messages_page(&page);
            let page: Vec<Message> = items.iter().filter_map(parse_message).collect();
            let wholly_older = page.iter().all(|message| message.date_added < since);
            messages.extend(page);
            match (next_page, last_id) {
                (true, Some(last)) if !wholly_older && cursor.as_ref() != Some(&last) => cursor = Some(last),
                _ => break,
            }
        }
        messages.sort_by_key(|message| std::cmp::Reverse(message.date_added));
        Ok(messages)
    }

    /// The id of the contact's conversation, if GHL has one.
    pub fn find_conversation(&self, contact_id: &str) -> Result<Option<String>, GhlError> {
        let query = vec![
            ("contactId", contact_id.to_string()),
            ("limit", "1".to_string()),
            ("locationId", self.search_location()?),
        ];
        let found = self.get("/conversations/search", &query)?;
        Ok(found["conversations"]
            .as_array()
            .and_then(|list| list.first())
            .and_then(|conversation| conversation["id"].as_str())
            .map(str::to_string))
    }

    /// The location's most recently active conversations, newest first: one request that
    /// tells the resolver which conversations changed since it last looked (CONTRACT §3.1).
    pub fn recent_conversations(&self, limit: usize) -> Result<Vec<ConversationSummary>, GhlError> {
        let query = vec![
            ("limit", limit.to_string()),
            ("sortBy", "last_message_date".to_string()),
            ("sort", "desc".to_string()),
            ("locationId", self.search_location()?),
        ];
        let found = self.get("/conversations/search", &query)?;
        let list = found["conversations"].as_array().map(Vec::as_slice).unwrap_or_default();
        Ok(list.iter().filter_map(parse_conversation).collect())
    }

    /// The contact's display name (CONTRACT §4.1).
    pub fn contact_name(&self, contact_id: &str) -> Result<Option<String>, GhlError> {
        let found = self.get(&format!("/contacts/{contact_id}"), &[])?;
        Ok(display_name(&found["contact"]))
    }

    /// Sends an SMS to a contact; returns GHL's message id. A send is never repeated here
    /// after an ambiguous failure (a timeout, a 5xx): that is [`GhlError::Uncertain`], and the
    /// caller looks with [`GhlClient::find_sent`] before it sends again (SPEC §8: never twice).
    pub fn send_sms(&self, contact_id: &str, text: &str) -> Result<Option<String>, GhlError> {
        let body = json!({ "type": "SMS", "contactId": contact_id, "message": text });
        let sent = self.request("POST", "/conversations/messages", &[], Some(&body))?;
        Ok(sent["messageId"].as_str().map(str::to_string))
    }

    /// The id of an outbound SMS with exactly `text` in the contact's conversation since
    /// `since`, if GHL has one: how a send with an unknown fate is recognised.
    pub fn find_sent(&self, contact_id: &str, text: &str, since: Timestamp) -> Result<Option<String>, GhlError> {
        let Some(conversation) = self.find_conversation(contact_id)? else {
            return Ok(None);
        };
        let messages = self.messages_since(&conversation, since)?;
        Ok(messages.into_iter().find(|m| m.outbound && m.body.as_deref() == Some(text)).map(|m| m.id))
    }

    fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, GhlError> {
        self.request("GET", path, query, None)
    }

    /// The `Version` header for a path: `GHL_VERSION` when set, else the documented one.
    fn version_for(&self, path: &str) -> &str {
        let api = if path.starts_with("/contacts") { Api::Contacts } else { Api::Conversations };
        self.inner.version.as_deref().unwrap_or(api.documented_version())
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<Value, GhlError> {
        let Some(token) = &self.inner.token else {
            return Err(GhlError::NotConfigured);
        };
        let mut last_error = GhlError::Unavailable("no attempt made".into());
        for attempt in 0..MAX_ATTEMPTS {
            self.check_circuit()?;
            if let Err(error) = self.inner.limiter.acquire() {
                self.record_failure(&error, false);
                return Err(error);
            }
            let outcome = self.send_once(method, path, query, body, token);
            let (error, wait) = match outcome {
                Ok(value) => {
                    self.record_success();
                    return Ok(value);
                }
                Err(failure) => failure,
            };
            tracing::debug!(path, attempt, error = %error, "GHL request failed");
            // A POST that may have reached GHL is not repeated here: its fate is checked first.
            if method == "POST"
                && let GhlError::Unavailable(why) = &error
                && !why.starts_with(NOT_SENT)
            {
                let uncertain = GhlError::Uncertain(why.clone());
                self.record_failure(&uncertain, true);
                return Err(uncertain);
            }
            if !error.is_transient() {
                self.record_failure(&error, false);
                return Err(error);
            }
            last_error = error;
            if attempt + 1 < MAX_ATTEMPTS {
                std::thread::sleep(wait.unwrap_or_else(|| backoff(attempt)));
            }
        }
        self.record_failure(&last_error, true);
        Err(last_error)
    }

    /// One HTTP exchange; on failure, the classified error and any wait the server asked for.
    fn send_once(
        &self,
        method: &str,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        token: &Secret,
    ) -> Result<Value, (GhlError, Option<Duration>)> {
        let url = format!("{}{}", self.inner.base_url, path);
        let auth = format!("Bearer {}", token.expose());
        let version = self.version_for(path);
        let sent = match (method, body) {
            ("POST", Some(body)) => self.prepare(self.inner.agent.post(&url), query, &auth, version).send_json(body),
            _ => self.prepare(self.inner.agent.get(&url), query, &auth, version).call(),
        };
        self.lock().status.requests += 1;
        let mut response = sent.map_err(|err| (GhlError::Unavailable(transport_error(&err)), None))?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        let limits = RateLimitHeaders::read(header);
        let retry_after = header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        if let Some(limits) = limits {
            self.lock().status.rate_limit = Some(limits);
            if let Some(max) = limits.max {
                self.inner.limiter.limit_to(max);
            }
            if limits.remaining == Some(0) {
                // GHL says the window is spent: hold every caller until it resets.
                let interval = limits.interval().unwrap_or(Duration::from_secs(10));
                self.inner.limiter.pause(interval.min(MAX_SERVER_WAIT));
            }
            if limits.daily_remaining == Some(0) {
                tracing::warn!(hold = ?DAILY_LIMIT_HOLD, "GHL says the day's requests are spent");
                self.inner.limiter.hold_day(DAILY_LIMIT_HOLD);
            }
        }
        // On a 429 GHL documents no Retry-After: the interval of a spent window is the wait.
        let spent_window =
            limits.filter(|l| l.remaining == Some(0)).map(|l| l.interval().unwrap_or(Duration::from_secs(10)));
        let text = response
            .body_mut()
            .with_config()
            .limit(8 * 1024 * 1024)
            .read_to_string()
            .map_err(|err| (GhlError::Unavailable(format!("reading the answer: {err}")), None))?;
        let message = || error_message(&text);
        match status {
            200..=299 => serde_json::from_str(&text)
                .map_err(|_| (GhlError::Unavailable(format!("answer is not JSON ({} bytes)", text.len())), None)),
            429 => {
                self.lock().status.rate_limited += 1;
                let wait = spent_window.or(retry_after).map(|w| w.min(MAX_SERVER_WAIT));
                Err((GhlError::RateLimited(message()), wait))
            }
            401 if message().to_ascii_lowercase().contains("scope") => Err((GhlError::Scope(message()), None)),
            401 => Err((GhlError::Auth(message()), None)),
            403 => Err((GhlError::Scope(message()), None)),
            404 => Err((GhlError::NotFound(message()), None)),
            408 | 500..=599 => Err((GhlError::Unavailable(format!("{status}: {}", message())), retry_after)),
            _ => Err((GhlError::Rejected(status, message()), None)),
        }
    }

    /// The query and the headers every GHL request carries (CONTRACT §3).
    fn prepare<B>(
        &self,
        mut request: ureq::RequestBuilder<B>,
        query: &[(&str, String)],
        auth: &str,
        version: &str,
    ) -> ureq::RequestBuilder<B> {
        for (key, value) in query {
            request = request.query(*key, value);
        }
        request.header("Authorization", auth).header("Version", version).header("Accept", "application/json")
    }

    fn check_circuit(&self) -> Result<(), GhlError> {
        self.lock().breaker.check(self.inner.time.now())
    }

    fn record_success(&self) {
        let mut state = self.lock();
        state.breaker.record_success();
        state.status.last_success_at = Some(self.inner.time.now());
        state.status.last_error = None;
        state.status.token_refused = false;
    }

    fn record_failure(&self, error: &GhlError, counts_for_breaker: bool) {
        let mut state = self.lock();
        state.status.last_error = Some(error.to_string());
        state.status.token_refused = matches!(error, GhlError::Auth(_));
        if counts_for_breaker {
            state.breaker.record_failure(self.inner.time.now());
        }
    }
}

/// How a transport error that certainly left nothing at GHL begins (no connection was made).
const NOT_SENT: &str = "could not connect";

fn transport_error(err: &ureq::Error) -> String {
    match err {
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => format!("{NOT_SENT}: {err}"),
        other => other.to_string(),
    }
}

/// GHL's error text: `message` (a string or a list), else the body's start.
fn error_message(text: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let message = parsed.as_ref().map(|v| &v["message"]);
    match message {
        Some(Value::String(m)) => m.clone(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "),
        _ => text.chars().take(120).collect(),
    }
}

fn backoff(attempt: u32) -> Duration {
    let base = BASE_BACKOFF.saturating_mul(1 << attempt.min(6));
    // Jitter from the clock's low bits: enough to spread retries, no RNG crate needed.
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let jitter = base.mul_f64(f64::from(nanos % 500) / 1000.0);
    (base + jitter).min(Duration::from_secs(20))
}

/// Both documented shapes: `{"messages":[...]}` and `{"messages":{"messages":[...],
/// "nextPage":…,"lastMessageId":…}}` (CONTRACT §3.3).
fn messages_page(page: &Value) -> (&[Value], bool, Option<String>) {
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
fn display_name(contact: &Value) -> Option<String> {
    let text = |key: &str| contact[key].as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
    text("name").or_else(|| text("contactName")).or_else(|| {
        let full = format!("{} {}", text("firstName").unwrap_or_default(), text("lastName").unwrap_or_default());
        Some(full.trim().to_string()).filter(|s| !s.is_empty())
    })
}

fn parse_message(item: &Value) -> Option<Message> {
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
    })
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn error_messages_may_be_lists() {
        assert_eq!(error_message(r#"{"statusCode":422,"message":["a","b"]}"#), "a; b");
        assert_eq!(error_message(r#"{"statusCode":401,"message":"Invalid JWT"}"#), "Invalid JWT");
        assert_eq!(error_message("<html>"), "<html>");
    }

    #[test]
    fn no_token_means_not_configured_and_no_request() {
        let config = GhlConfig {
            token: None,
            version: None,
            base_url: "http://127.0.0.1:9".into(),
            location_id: None,
            app_base: String::new(),
            require_signature: false,
            ed25519_key: None,
            rsa_key: None,
            rate_limit_per_10s: 60,
            daily_budget: 100,
            timeout: Duration::from_secs(1),
        };
        let client = GhlClient::new(&config, TimeSource::System);
        assert_eq!(client.send_sms("c", "hi"), Err(GhlError::NotConfigured));
        assert_eq!(client.status().state, "not configured");
        assert_eq!(client.status().requests, 0);
    }
}
