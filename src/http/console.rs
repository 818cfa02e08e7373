//! The admin listener's door to the managers' console (`/console…`): turns the request into a
//! `console::Request` (method, path, query, form, cookie, origin, TLS) and the answer back
//! into a reply. Everything else about the console is in `crate::console`.

use std::collections::HashMap;

use tiny_http::{Method, Request};

use super::webhook::read_body;
use super::{HttpContext, Reply};
use crate::console::{self, session};

/// The largest console form accepted (a note is at most 1,000 characters).
const MAX_FORM_BYTES: usize = 16 * 1024;

/// Whether `path` is the console's.
pub(super) fn is_console(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

/// Answers a request to the console.
pub(super) fn console(request: &mut Request, http: &HttpContext, path: &str, query: &HashMap<String, String>) -> Reply {
    let method = match request.method() {
        Method::Get | Method::Head => console::Method::Get,
        Method::Post => console::Method::Post,
        _ => console::Method::Other,
    };
    let header = |name: &'static str| {
        request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str().to_string())
    };
    let loopback = request.remote_addr().is_some_and(|peer| peer.ip().is_loopback());
    // Only a proxy on this box (e.g. a TLS terminator for a separate hostname) is believed.
    let forwarded_https =
        loopback && header("X-Forwarded-Proto").is_some_and(|proto| proto.eq_ignore_ascii_case("https"));
    let mut console_request = console::Request {
        method,
        path: path.to_string(),
        query: query.clone(),
        form: HashMap::new(),
        token: header("Cookie").as_deref().and_then(session::token_in),
        host: header("Host"),
        origin: header("Origin"),
        tls: forwarded_https || http.ctx.config.console.is_https(),
        source: Some(super::auth::client_of(request, &http.guard)),
    };
    if method == console::Method::Post {
        let is_form = header("Content-Type")
            .is_some_and(|kind| kind.trim().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded"));
        let body = match read_body(request, MAX_FORM_BYTES, http.ctx.config.http_timeout) {
            Ok(body) => body,
            Err(refused) => return refused,
        };
        if !is_form {
            return Reply {
                body_read: true,
                ..Reply::error(415, "a console form is application/x-www-form-urlencoded")
            };
        }
        console_request.form = form_urlencoded::parse(&body).into_owned().collect();
    }
    let answer = console::handle(&http.ctx, &http.runtime, &http.pins, &console_request);
    Reply {
        html: Some((answer.body, answer.content_type)),
        headers: Some(answer.headers.into_boxed_slice()),
        body_read: method == console::Method::Post,
        ..Reply::json(answer.status, serde_json::Value::Null)
    }
}
