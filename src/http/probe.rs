//! The way-in probe (issue 27): `sentinel doctor` posts a fresh nonce to the box's own public
//! URL, authenticated exactly as a workflow webhook is, then asks the admin listener whether it
//! arrived. A probe is no event: it is not stored, only remembered in memory for a while.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tiny_http::{Method, Request};

use super::auth::authorised;
use super::webhook::read_body;
use super::{HttpContext, Reply};

pub use crate::config::{PROBE_API, PROBE_PATH};
/// Nonces remembered at most; the oldest goes first.
const KEEP: usize = 64;
/// How long a nonce is remembered.
const TTL: Duration = Duration::from_secs(600);
/// A probe's body is one small JSON object.
const BODY_LIMIT: usize = 1024;

/// The nonces that arrived lately, oldest first.
#[derive(Debug, Default)]
pub struct Probes(Mutex<VecDeque<(String, Instant)>>);

impl Probes {
    /// Remembers `nonce` as arrived at `at`, forgetting the expired and the oldest over [`KEEP`].
    pub fn note(&self, nonce: &str, at: Instant) {
        let mut seen = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.retain(|(_, when)| at.saturating_duration_since(*when) < TTL);
        while seen.len() >= KEEP {
            seen.pop_front();
        }
        seen.push_back((nonce.to_string(), at));
    }

    /// Whether `nonce` arrived within [`TTL`] of `at`.
    pub fn arrived(&self, nonce: &str, at: Instant) -> bool {
        let seen = self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.iter().any(|(known, when)| known == nonce && at.saturating_duration_since(*when) < TTL)
    }
}

/// A nonce is 8 to 64 letters, digits, `-` or `_`: nothing else is remembered.
pub fn valid_nonce(nonce: &str) -> bool {
    (8..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /webhook/ghl/probe` with `{"nonce": "..."}`: the secret as a workflow webhook gives it
/// (`X-NTPP-Secret` or `?secret=`), refused and counted like any failed authentication.
pub(super) fn receive(request: &mut Request, http: &HttpContext, query: &HashMap<String, String>) -> Reply {
    // 401 before 405 to a caller without the secret, as the webhook routes answer.
    if !authorised(request, &http.secret, query) {
        tracing::warn!("a way-in probe with a wrong or missing secret");
        return Reply::error(401, "Unauthorized");
    }
    if *request.method() != Method::Post {
        return Reply::method_not_allowed("POST");
    }
    let body = match read_body(request, BODY_LIMIT, http.ctx.config.http_timeout) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let nonce = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|value| value.get("nonce").and_then(Value::as_str).map(str::to_string));
    match nonce {
        Some(nonce) if valid_nonce(&nonce) => {
            http.probes.note(&nonce, Instant::now());
            tracing::info!("a way-in probe arrived");
            Reply { body_read: true, ..Reply::ok(json!({ "received": true, "probe": true })) }
        }
        _ => {
            Reply { body_read: true, ..Reply::error(400, "expected {\"nonce\": \"...\"} of 8 to 64 letters or digits") }
        }
    }
}

/// `GET /api/probe/<nonce>`: whether that probe arrived.
pub(super) fn arrived(http: &HttpContext, nonce: &str) -> Reply {
    if !valid_nonce(nonce) {
        return Reply::error(400, "not a probe nonce");
    }
    Reply::ok(json!({ "nonce": nonce, "arrived": http.probes.arrived(nonce, Instant::now()) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_remembered_for_a_while_and_only_so_many() {
        let probes = Probes::default();
        let start = Instant::now();
        probes.note("nonce-first", start);
        assert!(probes.arrived("nonce-first", start + Duration::from_secs(5)));
        assert!(!probes.arrived("nonce-other", start));
        assert!(!probes.arrived("nonce-first", start + TTL), "forgotten after the TTL");
        for n in 0..KEEP {
            probes.note(&format!("nonce-{n:04}"), start + Duration::from_secs(1));
        }
        assert!(!probes.arrived("nonce-first", start + Duration::from_secs(1)), "the oldest went first");
        assert!(probes.arrived("nonce-0063", start + Duration::from_secs(1)));
        assert_eq!(probes.0.lock().map(|seen| seen.len()).unwrap_or(0), KEEP);
    }

    #[test]
    fn a_nonce_is_short_and_plain() {
        assert!(valid_nonce("0123456789abcdef"));
        assert!(!valid_nonce("short"));
        assert!(!valid_nonce(&"a".repeat(65)));
        assert!(!valid_nonce("has space in it"));
        assert!(!valid_nonce("../../etc/passwd"));
    }
}
