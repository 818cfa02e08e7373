//! One request's life: the headers GHL wants, the rate limiter and the circuit breaker on the
//! way out, the answer classified on the way back, and the retries between (CONTRACT §3, §5).
//!
//! The endpoint methods in `client` build a path, a query and a body and call
//! `GhlClient::request`; everything about how that request travels lives here. A 429 or a
//! 5xx is retried with backoff and jitter (or the wait GHL's rate-limit headers give), other
//! 4xx never are, and a POST that may have reached GHL is not repeated blindly: it comes back
//! as [`GhlError::Uncertain`].

use std::time::Duration;

use serde_json::Value;

use super::{GhlClient, GhlError};
use crate::config::Secret;
use crate::ghl::limiter::RateLimitHeaders;

/// The GHL APIs the client calls; each documents its own `Version`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    /// `/conversations/...`: `Version: 2021-04-15`.
    Conversations,
    /// `/contacts/...`, and `/users/...` (`sentinel doctor`), whose operations document the
    /// same value: `Version: 2021-07-28`.
    Contacts,
}

impl Api {
    /// The `Version` GHL's OpenAPI gives every operation of this API.
    fn documented_version(self) -> &'static str {
        match self {
            Api::Conversations => crate::config::DOCUMENTED_VERSION_CONVERSATIONS,
            Api::Contacts => crate::config::DOCUMENTED_VERSION_CONTACTS,
        }
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

// === impl GhlClient: requests ===

impl GhlClient {
    /// A GET with this query; the answer's JSON, or why there is none.
    pub(super) fn get(&self, path: &str, query: &[(&str, String)]) -> Result<Value, GhlError> {
        self.request("GET", path, query, None)
    }

    /// The `Version` header for a path: `GHL_VERSION` when set, else the documented one.
    fn version_for(&self, path: &str) -> &str {
        let api = if path.starts_with("/contacts") || path.starts_with("/users") {
            Api::Contacts
        } else {
            Api::Conversations
        };
        self.inner.version.as_deref().unwrap_or(api.documented_version())
    }

    /// Sends one request, retrying what is worth retrying (see the file's comment).
    pub(super) fn request(
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

    /// Refuses at once while the circuit is open.
    fn check_circuit(&self) -> Result<(), GhlError> {
        self.lock().breaker.check(self.inner.time.now())
    }

    /// Closes the circuit and clears the last error for `/health`.
    fn record_success(&self) {
        let mut state = self.lock();
        state.breaker.record_success();
        state.status.last_success_at = Some(self.inner.time.now());
        state.status.last_error = None;
        state.status.token_refused = false;
    }

    /// Keeps the error for `/health`; a failure that says GHL is unwell also counts towards
    /// opening the circuit.
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

/// A transport error in a few words, starting with [`NOT_SENT`] when nothing reached GHL.
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

/// The wait before retry `attempt + 1`: doubling from [`BASE_BACKOFF`], jittered, at most 20 s.
fn backoff(attempt: u32) -> Duration {
    let base = BASE_BACKOFF.saturating_mul(1 << attempt.min(6));
    // Jitter from the clock's low bits: enough to spread retries, no RNG crate needed.
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let jitter = base.mul_f64(f64::from(nanos % 500) / 1000.0);
    (base + jitter).min(Duration::from_secs(20))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_may_be_lists() {
        assert_eq!(error_message(r#"{"statusCode":422,"message":["a","b"]}"#), "a; b");
        assert_eq!(error_message(r#"{"statusCode":401,"message":"Invalid JWT"}"#), "Invalid JWT");
        assert_eq!(error_message("<html>"), "<html>");
    }
}
