//! The two HTTP listeners (SPEC §2): request checks, routing, and the original's JSON shapes.
//!
//! tiny_http accepts connections; a fixed pool of worker threads per listener takes requests,
//! checks method, auth, size and syntax, and hands webhooks to the intake actor, waiting for
//! the store's answer (which comes after the durable commit). The webhook listener serves
//! only what GHL needs; the admin listener adds jobs, the API and the test hooks.
//!
//! `server` binds the listeners and runs their workers, `auth` checks secrets and signatures,
//! `webhook` reads and stores webhooks, `admin` serves `/health`, the status page, `/metrics`
//! and the issues API, and `jobs` the `/jobs/*` and `/debug/*` routes. This file holds what
//! they share: the context, the reply, and the routing table.

mod admin;
mod auth;
mod console;
mod jobs;
mod probe;
mod server;
mod webhook;

pub use auth::constant_time_eq;
pub use probe::{PROBE_API, PROBE_PATH, Probes, valid_nonce};
pub use server::{ListenerWatch, Workers, bind};

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tiny_http::{Method, Request};
use tokio::runtime::Handle;

use crate::actors::Ctx;
use crate::config::Secret;
use crate::ghl::payload::Route;
use crate::ghl::signature::Verifier;
use crate::guard::{AuthGuard, Held, Verdict};

use admin::{get_issue, health, list_issues, mark_spam, metrics, status_json, status_page};
use auth::{authorised, client_of};
use jobs::{
    catchup, cleanup_raw_events, escalations, inject_failure, poll_resolver, restart, send_summary, set_clock,
    test_sms, test_sms_oks, verify_pending, wedge,
};
use server::KEEPER_PATH;
use webhook::webhook;

/// Which listener a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// Exposed through the tunnel: webhooks and `/health`.
    Webhook,
    /// Local only: everything.
    Admin,
}

/// What the workers need.
#[derive(Clone)]
pub struct HttpContext {
    /// Shared configuration and clock.
    pub ctx: Ctx,
    /// The runtime the actors run on.
    pub runtime: Handle,
    /// The webhook secret.
    pub secret: Secret,
    /// GHL's webhook signature keys.
    pub verifier: Verifier,
    /// Failed attempts per client, shared by both listeners.
    pub guard: Arc<AuthGuard>,
    /// The budgets of real PIN checks at the console's sign-in.
    pub pins: Arc<crate::console::gate::PinGate>,
    /// The way-in probes that arrived lately (see [`probe`]).
    pub probes: Arc<Probes>,
}

/// A JSON answer (or, for the status page, HTML).
struct Reply {
    status: u16,
    body: Value,
    allow: Option<&'static str>,
    html: Option<(String, &'static str)>,
    /// A failed authentication over the guessing budget (see [`crate::guard`]).
    slow: Option<Box<SlowDown>>,
    /// The request's body was read whole: a refusal can be answered on the worker.
    body_read: bool,
    /// Further headers: the console's `Set-Cookie`, `Location`, `Allow` and caching.
    headers: Option<Box<[(&'static str, String)]>>,
}

/// How an over-budget failure is answered: 429 with `Retry-After`, held back off the worker.
struct SlowDown {
    retry_after: u64,
    hold: Option<(Duration, Held)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply { status, body, allow: None, html: None, slow: None, body_read: false, headers: None }
    }

    fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    fn html(page: String) -> Reply {
        Reply { html: Some((page, "text/html; charset=utf-8")), ..Reply::json(200, Value::Null) }
    }

    fn text(text: String) -> Reply {
        Reply { html: Some((text, "text/plain; version=0.0.4")), ..Reply::json(200, Value::Null) }
    }

    fn error(status: u16, detail: impl Into<String>) -> Reply {
        Reply::json(status, json!({ "detail": detail.into() }))
    }

    fn method_not_allowed(allow: &'static str) -> Reply {
        Reply { allow: Some(allow), ..Reply::error(405, "Method Not Allowed") }
    }
}

fn route(
    request: &mut Request,
    listener: Listener,
    http: &HttpContext,
    path: &str,
    query: &HashMap<String, String>,
) -> Reply {
    let method = request.method().clone();
    let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
    if path == "/health" {
        return match method {
            Method::Get | Method::Head => health(http),
            _ => Reply::method_not_allowed("GET"),
        };
    }
    if path == KEEPER_PATH {
        // Answered without touching the actors: it only shows that the listener still accepts.
        return Reply::ok(json!({ "ok": true }));
    }
    let reply = route_checked(request, listener, http, path, query, method);
    if reply.status != 401 {
        return reply;
    }
    // Only a failed authentication meets the guard: the right secret is always served.
    match http.guard.failed(client_of(request, &http.guard)) {
        Verdict::Unauthorized => reply,
        Verdict::SlowDown { retry_after, delay } => Reply {
            slow: Some(Box::new(SlowDown { retry_after, hold: http.guard.hold().map(|held| (delay, held)) })),
            body_read: reply.body_read,
            // A person at the console's sign-in reads a page, not JSON.
            html: reply.html.map(|_| (crate::console::too_many_attempts(retry_after), "text/html; charset=utf-8")),
            ..Reply::error(429, "too many failed attempts; slow down")
        },
    }
}

fn route_checked(
    request: &mut Request,
    listener: Listener,
    http: &HttpContext,
    path: &str,
    query: &HashMap<String, String>,
    method: Method,
) -> Reply {
    let admin_only = path.starts_with("/jobs/")
        || path.starts_with("/api/")
        || path.starts_with("/debug/")
        || path == "/status"
        || path == "/metrics";
    // The console is the admin listener's only: never on the webhook listener the tunnel exposes.
    let admin_only = admin_only || console::is_console(path);
    let known = Route::from_path(path).is_some() || path == PROBE_PATH || admin_only;
    if !known || (admin_only && listener == Listener::Webhook) {
        return Reply::error(404, "Not Found");
    }
    if console::is_console(path) {
        // The console signs managers in itself; it never takes the shared secret.
        return console::console(request, http, path, query);
    }
    if path == PROBE_PATH {
        // Only the webhook listener takes the probe: an ingress that reaches the admin
        // listener instead is forwarding to the wrong port, and the doctor must see it.
        return match listener {
            Listener::Webhook => probe::receive(request, http, query),
            Listener::Admin => Reply::error(404, "Not Found"),
        };
    }
    if let Some(route) = Route::from_path(path) {
        // Marketplace events may prove themselves by signature instead of the secret, so
        // webhooks read the body before deciding (SPEC §2, §3.3).
        return webhook(request, route, http, query);
    }
    if !authorised(request, &http.secret, query) {
        tracing::warn!(path, "request with a wrong or missing secret");
        return Reply::error(401, "Unauthorized");
    }
    let id = path.strip_prefix("/api/issues/");
    let nonce = path.strip_prefix(PROBE_API);
    let manual = http.ctx.time.is_manual();
    // Every admin route and its one method: a known route asked with another method gets 405
    // with `Allow`, as the webhook routes do (SPEC §2); an unknown one 404.
    let allow = match path {
        "/api/issues" | "/api/status" | "/api/test_sms" | "/status" | "/metrics" => "GET",
        _ if id.is_some() || nonce.is_some() => "GET",
        "/api/spam"
        | "/jobs/verify_pending"
        | "/jobs/poll_resolver"
        | "/jobs/catchup"
        | "/jobs/test_sms"
        | "/jobs/send_summary"
        | "/jobs/escalations"
        | "/jobs/cleanup_raw_events"
        | "/jobs/restart" => "POST",
        "/debug/fail" | "/debug/clock" | "/debug/wedge" if manual => "POST",
        _ => return Reply::error(404, "Not Found"),
    };
    let allowed = match allow {
        "GET" => matches!(method, Method::Get | Method::Head),
        _ => method == Method::Post,
    };
    if !allowed {
        return Reply::method_not_allowed(allow);
    }
    match path {
        "/api/issues" => list_issues(http, query),
        "/api/status" => status_json(http),
        "/status" => status_page(http),
        "/metrics" => metrics(http),
        "/api/spam" => mark_spam(http, query),
        "/jobs/verify_pending" => verify_pending(http, query),
        "/jobs/poll_resolver" => poll_resolver(http, query),
        "/jobs/catchup" => catchup(http),
        "/jobs/test_sms" => test_sms(http),
        "/api/test_sms" => test_sms_oks(http, query),
        "/jobs/send_summary" => send_summary(http, query),
        "/jobs/escalations" => escalations(http, query),
        "/jobs/cleanup_raw_events" => cleanup_raw_events(http, query),
        "/jobs/restart" => restart(),
        "/debug/fail" => inject_failure(query),
        "/debug/clock" => set_clock(http, query),
        "/debug/wedge" => wedge(query),
        _ => match nonce {
            Some(nonce) => probe::arrived(http, nonce),
            None => get_issue(http, id.unwrap_or_default()),
        },
    }
}
