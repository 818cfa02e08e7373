//! The managers' console (issue 17): server-rendered pages on the admin listener, with sign-in,
//! sessions and the actions a manager takes on an issue.
//!
//! `http` turns a request to `/console…` into a plain [`Request`] and sends back the
//! [`Response`]; everything between is here. [`handle`] routes: `session` checks the cookie,
//! the CSRF token and the origin, `signin` signs managers in (by PIN, or by a link sent by SMS),
//! `actions` carries out the buttons through the store, and one file renders each page
//! (`issues`, `issue`, `hours`, `health`, `digest`, `setup`) inside `layout`. `pin` hashes PINs and
//! `managers` is the `sentinel manager` command. Pages work without JavaScript; `tick.js`
//! only keeps the countdowns current.
//!
//! A failed sign-in answers 401, which the listener hands to the guard (`crate::guard`) as
//! it does a wrong secret: slowed per client, never locking out a right PIN.

mod actions;
mod digest;
pub mod gate;
mod health;
mod hours;
mod issue;
mod issues;
mod layout;
pub mod managers;
pub mod pin;
pub mod session;
mod setup;
mod signin;

use std::collections::HashMap;

use jiff::Timestamp;
use tokio::runtime::Handle;

use crate::actors::Ctx;
use crate::actors::store::StoreHandle;
use crate::db::console::Session;

/// The stylesheet, compiled in.
const STYLE: &str = include_str!("style.css");
/// The countdown ticker, compiled in.
const TICK: &str = include_str!("tick.js");

/// What a console page may load: its own stylesheet and script, nothing from elsewhere, and no
/// framing by another site.
const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// A request's method, as far as the console cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// GET or HEAD.
    #[default]
    Get,
    /// POST.
    Post,
    /// Anything else.
    Other,
}

/// What the console needs of an HTTP request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// The path, without the query and without a trailing slash.
    pub path: String,
    /// The query's fields.
    pub query: HashMap<String, String>,
    /// A POST's form fields (`application/x-www-form-urlencoded`).
    pub form: HashMap<String, String>,
    /// The session cookie's token, if one came.
    pub token: Option<String>,
    /// The `Host` header.
    pub host: Option<String>,
    /// The `Origin` header, if the browser sent one.
    pub origin: Option<String>,
    /// Whether the request came over TLS (see `session`): the cookie is then `Secure`.
    pub tls: bool,
    /// The client, as the guard sees it (`CLIENT_IP_HEADER` believed from loopback only).
    pub source: Option<std::net::IpAddr>,
}

/// The console's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code; 401 is a failed sign-in, which the listener counts against the client.
    pub status: u16,
    /// The body.
    pub body: String,
    /// Its content type.
    pub content_type: &'static str,
    /// Further headers (`Set-Cookie`, `Location`, `Allow`, caching).
    pub headers: Vec<(&'static str, String)>,
}

impl Response {
    fn page(status: u16, body: maud::Markup) -> Response {
        Response {
            status,
            body: body.into_string(),
            content_type: "text/html; charset=utf-8",
            headers: vec![
                ("Cache-Control", "no-store".into()),
                ("Content-Security-Policy", CSP.into()),
                ("X-Content-Type-Options", "nosniff".into()),
            ],
        }
    }

    fn asset(body: &'static str, content_type: &'static str) -> Response {
        Response {
            status: 200,
            body: body.to_string(),
            content_type,
            headers: vec![("Cache-Control", "max-age=3600".into())],
        }
    }

    /// A `303 See Other` to `location` (after a POST, or to the sign-in page).
    fn redirect(location: &str) -> Response {
        let mut response = Response::page(303, layout::bare("Moved", maud::html! { a href=(location) { "Continue" } }));
        response.headers.push(("Location", location.to_string()));
        response
    }

    /// A refusal with a page saying why and where to go on.
    fn refused(status: u16, why: &str) -> Response {
        Response::page(status, layout::message("Refused", why))
    }

    fn with_header(mut self, name: &'static str, value: String) -> Response {
        self.headers.push((name, value));
        self
    }
}

/// What every page and action works with.
pub(crate) struct Console<'a> {
    /// Configuration, clock and shared state.
    pub ctx: &'a Ctx,
    /// The runtime the store's handle is called on.
    pub runtime: &'a Handle,
    /// The clock's now, read once per request.
    pub now: Timestamp,
    /// The store.
    pub store: StoreHandle,
    /// The budgets of real PIN checks.
    pub pins: &'a gate::PinGate,
}

/// The body of the answer when a client failed too many sign-ins and is slowed down.
pub fn too_many_attempts(retry_after: u64) -> String {
    let why = format!(
        "Too many wrong sign-ins from here. Wait {retry_after} seconds, then try again, or text Pin to \
         Sentinel's number for a one-time sign-in link."
    );
    layout::message("Slow down", &why).into_string()
}

/// Answers one request to `/console` or below.
pub fn handle(ctx: &Ctx, runtime: &Handle, pins: &gate::PinGate, request: &Request) -> Response {
    let console = Console { ctx, runtime, now: ctx.time.now(), store: StoreHandle::default(), pins };
    let path = request.path.as_str();
    let get = request.method == Method::Get;
    let post = request.method == Method::Post;
    match path {
        "/console/style.css" if get => return Response::asset(STYLE, "text/css; charset=utf-8"),
        "/console/tick.js" if get => return Response::asset(TICK, "text/javascript; charset=utf-8"),
        _ => {}
    }
    if !session::host_ok(request.host.as_deref(), ctx.config.console.url.as_deref()) {
        return Response::refused(
            421,
            "The console answers only at the box's own address (or CONSOLE_URL): open it by the address the office uses.",
        );
    }
    if post && !session::same_origin(request) {
        return Response::refused(403, "This form was sent from another site, so it was refused.");
    }
    match (path, request.method) {
        ("/console/signin", Method::Get) => return signin::form(&console, request, None),
        ("/console/signin", Method::Post) => return signin::with_pin(&console, request),
        ("/console/link", Method::Get) => return signin::link_page(&console, request),
        ("/console/link", Method::Post) => return signin::with_link(&console, request),
        ("/console/signin" | "/console/link", _) => return not_allowed("GET, POST"),
        _ => {}
    }
    let session = match signed_in(&console, request) {
        Ok(Some(session)) => session,
        Ok(None) if get => return Response::redirect("/console/signin"),
        Ok(None) => {
            return Response::refused(403, "You are not signed in (or your sign-in has ended). Sign in again.");
        }
        Err(response) => return *response,
    };
    if post && !session::csrf_ok(request, &session.csrf) {
        return Response::refused(
            403,
            "This form is missing its security token (CSRF), or it belongs to an older sign-in. Reload the page and try again.",
        );
    }
    let rest = path.strip_prefix("/console").unwrap_or_default();
    match (rest, request.method) {
        ("", Method::Get) => issues::page(&console, &session),
        ("/hours", Method::Get) => hours::page(&console, &session),
        ("/health", Method::Get) => health::page(&console, &session),
        ("/digest", Method::Get) => digest::page(&console, &session, request),
        ("/setup", Method::Get) => setup::page(&console, &session),
        ("/signout", Method::Post) => signin::sign_out(&console, request),
        ("" | "/hours" | "/health" | "/digest" | "/setup", _) => not_allowed("GET"),
        ("/signout", _) => not_allowed("POST"),
        _ => match rest.strip_prefix("/issue/").map(|tail| tail.split_once('/').unwrap_or((tail, ""))) {
            Some((id, "")) if get => issue::page(&console, &session, id, request),
            Some((id, action)) if post && !action.is_empty() => actions::act(&console, &session, id, action, request),
            Some(_) => not_allowed(if get { "POST" } else { "GET" }),
            None => Response::refused(404, "There is no such page in the console."),
        },
    }
}

/// The signed-in manager's session, if the cookie names one that has not ended.
fn signed_in(console: &Console<'_>, request: &Request) -> Result<Option<Session>, Box<Response>> {
    let Some(token) = &request.token else { return Ok(None) };
    console
        .runtime
        .block_on(console.store.session(token.clone(), console.now))
        .map_err(|err| Box::new(unavailable(&err.to_string())))
}

/// The database did not answer.
fn unavailable(why: &str) -> Response {
    Response::refused(503, &format!("Sentinel's database did not answer ({why}). Try again in a moment."))
}

fn not_allowed(allow: &'static str) -> Response {
    Response::refused(405, "This page does not take that kind of request.").with_header("Allow", allow.to_string())
}
