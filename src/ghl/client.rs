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
//!
//! This file holds the client, its state and the endpoint methods; `request` sends one request
//! and classifies its answer, and `answers` reads GHL's JSON into [`Message`] and
//! [`ConversationSummary`].

mod answers;
mod request;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::json;

pub use self::answers::{ConversationSummary, Message, display_name, normalise_type};
use self::answers::{messages_page, parse_conversation, parse_listed, parse_message};
use super::breaker::CircuitBreaker;
pub use super::error::GhlError;
pub use super::limiter::{RateLimitHeaders, RateLimiter};
use crate::config::{GhlConfig, Secret};
use crate::domain::catchup::Listed;
use crate::time::TimeSource;

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
    /// Requests counted against the daily budget in its current day.
    pub budget_used: u32,
    /// The daily budget (`GHL_DAILY_BUDGET`).
    pub daily_budget: u32,
}

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
        (status.budget_used, status.daily_budget) = self.inner.limiter.used_today();
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
        Ok(first_conversation_id(&found))
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

    /// One page of the location's conversations whose last message is inbound, or (with
    /// `automated`) an automated outbound message, newest first, after `cursor` (CONTRACT
    /// §3.1): what catch-up compares with what it knew (SPEC §12). A workflow's instant reply
    /// (a missed call's text-back) hides the customer's message from the first search; the
    /// second finds it. Returns the page and the cursor for the next one.
    pub fn catchup_conversations(
        &self,
        automated: bool,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<(Vec<Listed>, Option<String>), GhlError> {
        let mut query = vec![("locationId", self.search_location()?)];
        if automated {
            query.push(("lastMessageDirection", "outbound".to_string()));
            query.push(("lastMessageAction", "automated".to_string()));
        } else {
            query.push(("lastMessageDirection", "inbound".to_string()));
        }
        query.extend([
            ("sortBy", "last_message_date".to_string()),
            ("sort", "desc".to_string()),
            ("limit", limit.to_string()),
        ]);
        if let Some(cursor) = cursor {
            query.push(("startAfterDate", cursor.to_string()));
        }
        let found = self.get("/conversations/search", &query)?;
        let list = found["conversations"].as_array().map(Vec::as_slice).unwrap_or_default();
        let mut next = None;
        let mut page = Vec::with_capacity(list.len());
        for (listed, cursor) in list.iter().filter_map(parse_listed) {
            page.push(listed);
            next = cursor;
        }
        Ok((page, next))
    }

    /// The contact's display name (CONTRACT §4.1).
    pub fn contact_name(&self, contact_id: &str) -> Result<Option<String>, GhlError> {
        let found = self.get(&format!("/contacts/{contact_id}"), &[])?;
        Ok(display_name(&found["contact"]))
    }

    /// The contact as GHL answers `GET /contacts/{id}` (its `contact` object, CONTRACT §4.1):
    /// what `sentinel doctor` reads a manager's location, name and phone from.
    pub fn contact(&self, contact_id: &str) -> Result<serde_json::Value, GhlError> {
        let mut found = self.get(&format!("/contacts/{contact_id}"), &[])?;
        Ok(found["contact"].take())
    }

    /// A GHL user (`GET /users/{userId}`, scope `users.readonly`; CONTRACT §4.2): the
    /// `INTERNAL_USER_IDS` check of `sentinel doctor`. The answer is the user object itself.
    pub fn user(&self, user_id: &str) -> Result<serde_json::Value, GhlError> {
        let mut found = self.get(&format!("/users/{user_id}"), &[])?;
        // Some answers wrap it as `{"user": {...}}`; read either.
        Ok(if found["user"].is_object() { found["user"].take() } else { found })
    }

    /// The id of the most recently active conversation of `location_id`, if it has one: one
    /// `GET /conversations/search?locationId=…&limit=1`, which proves the token, its location
    /// and `conversations.readonly` at once (`sentinel doctor`).
    pub fn first_conversation(&self, location_id: &str) -> Result<Option<String>, GhlError> {
        let query = vec![("locationId", location_id.to_string()), ("limit", "1".to_string())];
        let found = self.get("/conversations/search", &query)?;
        Ok(first_conversation_id(&found))
    }

    /// How many messages the newest page of a conversation holds, reading at most `limit`
    /// (`GET /conversations/{id}/messages`): proves `conversations/message.readonly`.
    pub fn latest_messages(&self, conversation_id: &str, limit: usize) -> Result<usize, GhlError> {
        let page = self.get(&format!("/conversations/{conversation_id}/messages"), &[("limit", limit.to_string())])?;
        Ok(messages_page(&page).0.len())
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
}

/// The id of the first conversation a search answered with.
fn first_conversation_id(found: &serde_json::Value) -> Option<String> {
    found["conversations"]
        .as_array()
        .and_then(|list| list.first())
        .and_then(|conversation| conversation["id"].as_str())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

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
