//! The webhook routes (SPEC §2): reading the body within its limits, decoding JSON or a form,
//! and handing the event to the intake actor, answering only after the store's commit.

use std::collections::HashMap;
use std::io::{ErrorKind, Read as _};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use tiny_http::{Method, Request};

use super::auth::{Proof, authorised, signed_for_this_location, signed_recently, webhook_auth};
use super::{HttpContext, Reply};
use crate::actors::intake::IntakeHandle;
use crate::domain::event::IssueKind;
use crate::domain::outcome::Outcome;
use crate::ghl::payload::Route;

/// How long a worker waits for the store's commit before answering 503 (GHL retries).
const INGEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Reads the body, refusing more than the limit without reading it all, and a body that does
/// not arrive within `deadline` (a stall also ends at the socket timeout, see [`bind`](super::bind)).
pub(super) fn read_body(request: &mut Request, limit: usize, deadline: Duration) -> Result<Vec<u8>, Reply> {
    let too_large = || Reply::error(413, format!("body over the limit of {limit} bytes"));
    let too_slow = || Reply::error(408, format!("the body did not arrive within {} s", deadline.as_secs()));
    if request.body_length().is_some_and(|length| length > limit) {
        return Err(too_large());
    }
    let started = Instant::now();
    let mut body = Vec::with_capacity(request.body_length().unwrap_or(0));
    let mut reader = request.as_reader().take(limit as u64 + 1);
    let mut chunk = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => body.extend_from_slice(&chunk[..read]),
            Err(err) if err.kind() == ErrorKind::Interrupted => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(too_slow()),
            Err(err) => return Err(Reply::error(400, format!("could not read the body: {err}"))),
        }
        if started.elapsed() > deadline {
            return Err(too_slow());
        }
    }
    if body.len() > limit {
        return Err(too_large());
    }
    Ok(body)
}

fn content_type(request: &Request) -> String {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Content-Type"))
        .map(|h| h.value.as_str().split(';').next().unwrap_or_default().trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Decodes a webhook body into a JSON object and the text to store.
fn decode(content_type: &str, body: &[u8]) -> Result<(Map<String, Value>, String), Reply> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Reply::error(400, "empty body"));
    }
    let text = std::str::from_utf8(body).map_err(|_| Reply::error(400, "the body is not valid UTF-8"))?;
    // Some senders label JSON as a form (curl's default); a body that opens like JSON is JSON.
    let looks_like_json = text.trim_start().starts_with(['{', '[']);
    match content_type {
        "application/x-www-form-urlencoded" if looks_like_json => decode("application/json", body),
        "application/x-www-form-urlencoded" => {
            let object = form_to_object(text);
            let stored = Value::Object(object.clone()).to_string();
            Ok((object, stored))
        }
        "" | "application/json" | "text/json" | "text/plain" => {
            let value: Value =
                serde_json::from_str(text).map_err(|err| Reply::error(400, format!("malformed JSON: {err}")))?;
            match value {
                Value::Object(object) => Ok((object, text.to_string())),
                _ => Err(Reply::error(400, "expected a JSON object")),
            }
        }
        other if other.ends_with("+json") => decode("application/json", body),
        other => Err(Reply::error(
            415,
            format!("unsupported content type {other}; send application/json or application/x-www-form-urlencoded"),
        )),
    }
}

/// Reads a form body like a JSON object; `a[b]=c` becomes `{"a":{"b":"c"}}`.
fn form_to_object(text: &str) -> Map<String, Value> {
    let mut object = Map::new();
    for (key, value) in form_urlencoded::parse(text.as_bytes()) {
        let value = Value::String(value.into_owned());
        match key.split_once('[').filter(|(_, rest)| rest.ends_with(']')) {
            Some((outer, inner)) => {
                let inner = inner.trim_end_matches(']').to_string();
                let slot = object.entry(outer.to_string()).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(nested) = slot {
                    nested.insert(inner, value);
                }
            }
            None => {
                object.insert(key.into_owned(), value);
            }
        }
    }
    object
}

pub(super) fn webhook(
    request: &mut Request,
    route: Route,
    http: &HttpContext,
    query: &HashMap<String, String>,
) -> Reply {
    if *request.method() != Method::Post {
        // Answer 401 before 405 to a caller without the secret, so routes are not probed.
        if !authorised(request, &http.secret, query) {
            return Reply::error(401, "Unauthorized");
        }
        return Reply::method_not_allowed("POST");
    }
    let body = match read_body(request, http.ctx.config.max_body_bytes, http.ctx.config.http_timeout) {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let proof = match webhook_auth(request, route, http, query, &body) {
        Ok(proof) => proof,
        Err(reply) => {
            tracing::debug!(route = route.as_str(), "webhook refused: {}", reply.body["detail"]);
            return Reply { body_read: true, ..reply };
        }
    };
    let (object, text) = match decode(&content_type(request), &body) {
        Ok(decoded) => decoded,
        Err(reply) => return reply,
    };
    let mut keyed_by_body = false;
    if proof == Proof::SignatureOnly {
        keyed_by_body = crate::ghl::payload::signed_at(&object).is_none();
        let named = crate::ghl::payload::location_of(&object);
        let now = http.ctx.signals.clock_trusted().then(|| http.ctx.time.now());
        let judged = signed_for_this_location(http.ctx.ghl.location_id().as_deref(), named.as_deref())
            .and_then(|()| signed_recently(crate::ghl::payload::signed_at(&object), now));
        if let Err(reply) = judged {
            tracing::warn!("a GHL-signed event without the secret was refused: {}", reply.body["detail"]);
            return reply;
        }
    }
    match http.runtime.block_on(IntakeHandle.webhook(route, object, text, keyed_by_body, INGEST_TIMEOUT)) {
        Ok(outcome) => Reply::ok(webhook_answer(route, &outcome)),
        Err(err) => {
            tracing::error!("webhook not stored: {err}");
            Reply::error(503, "the event could not be stored; retry")
        }
    }
}

/// The original's response shapes, so existing workflows and scripts keep working (SPEC §2).
fn webhook_answer(route: Route, outcome: &Outcome) -> Value {
    match outcome {
        Outcome::Duplicate => json!({ "received": true, "duplicate": true }),
        Outcome::Deferred => json!({ "received": true, "deferred": "waiting for the time" }),
        Outcome::Noted(_) => json!({ "received": true, "command": "not run: found by catch-up" }),
        Outcome::Ignored(reason) => json!({ "received": true, "ignored": reason }),
        Outcome::Command { .. } => json!({ "received": true, "command": true }),
        Outcome::Outbound { resolved } => {
            json!({ "received": true, "ignored": "outbound", "resolved": resolved })
        }
        Outcome::Created { issue_id, kind, .. } | Outcome::Repeat { issue_id, kind, .. } => {
            let created = matches!(outcome, Outcome::Created { .. });
            if route == Route::UnansweredCall || (route == Route::Events && *kind == IssueKind::Call) {
                json!({ "received": true, "issue_created": created, "issue_id": issue_id })
            } else {
                json!({ "received": true, "issue_created_or_updated": true, "issue_id": issue_id })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_read_like_json() {
        let object =
            form_to_object("contact_id=c1&message%5Bbody%5D=hi+there&customData[voicemail_route]=tech_sentinel");
        assert_eq!(object["contact_id"], "c1");
        assert_eq!(object["message"]["body"], "hi there");
        assert_eq!(object["customData"]["voicemail_route"], "tech_sentinel");
    }
}
