//! Signing in and out: by name and PIN, or by a one-time link a manager got by texting `Pin`.
//!
//! A wrong PIN, or a link that is unknown, used or expired, answers 401, which the listener
//! counts against the client (the guard slows it down but never refuses a right PIN). The
//! link's page only shows a button: opening the link signs no one in, so a phone's link
//! preview cannot use it up. The PIN is checked on the listener's worker, off the store.

use maud::html;

use super::layout;
use super::session::{clear_cookie, set_cookie};
use super::{Console, Request, Response, unavailable};
use crate::db::console::Grant;

/// The sign-in form, with what went wrong last time.
pub(super) fn form(console: &Console<'_>, request: &Request, error: Option<&str>) -> Response {
    let name = request.form.get("name").map(String::as_str).unwrap_or_default();
    let link_help = if console.ctx.config.console.url.is_some() {
        "Or text Pin to Sentinel's number: it answers with a one-time sign-in link, which works even while \
         someone is guessing PINs."
    } else {
        "Ask whoever installed Sentinel to add you: sentinel manager add NAME --contact-id ID."
    };
    let body = html! {
        h1 { "Sentinel" }
        @if let Some(error) = error {
            p.error role="alert" { (error) }
        }
        form.stack method="post" action="/console/signin" {
            label for="name" { "Your name" }
            input #name type="text" name="name" value=(name) autocomplete="username" required autofocus[error.is_none()];
            label for="pin" { "PIN" }
            input #pin type="password" name="pin" inputmode="numeric" autocomplete="current-password" required autofocus[error.is_some()];
            button.primary type="submit" { "Sign in" }
        }
        p.muted { (link_help) }
    };
    let status = if error.is_some() { 401 } else { 200 };
    Response::page(status, layout::bare("Sign in", body))
}

/// `POST /console/signin`: name and PIN. The PIN is checked only within the gate's budgets
/// (`gate`); past them the answer is the same whether it was right or wrong.
pub(super) fn with_pin(console: &Console<'_>, request: &Request) -> Response {
    let field = |name: &str| request.form.get(name).map(|value| value.trim().to_string()).unwrap_or_default();
    let (name, pin) = (field("name"), field("pin"));
    let source = request.source.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    if let Err(retry_after) = console.pins.admit(&name, source, console.now) {
        tracing::warn!("console sign-in by PIN refused unchecked: too many tries for a name, a client or in all");
        return too_many_tries(console, request, retry_after);
    }
    let manager = match console.runtime.block_on(console.store.console_manager(name.clone())) {
        Ok(manager) => manager,
        Err(err) => return unavailable(&err.to_string()),
    };
    let stored = manager.as_ref().map(|manager| manager.pin_hash.clone());
    let right = console.pins.check(move || match &stored {
        Some(hash) => super::pin::verify(&pin, hash),
        None => {
            // As slow as a wrong PIN, so the answer's time does not tell which names exist.
            super::pin::waste_one_check(&pin);
            false
        }
    });
    match manager.filter(|_| right) {
        Some(manager) => {
            console.pins.right(&name, source);
            tracing::info!(manager = %manager.name, "console sign-in by PIN");
            open(console, request, manager.name, manager.contact_id)
        }
        None => {
            tracing::warn!("console sign-in with a wrong name or PIN");
            form(console, request, Some("That name and PIN do not match. Check both and try again."))
        }
    }
}

/// A sign-in past the gate's budgets: refused without looking at the PIN (401, so the guard
/// also slows the client), with the way in that always works.
fn too_many_tries(console: &Console<'_>, request: &Request, retry_after: u64) -> Response {
    let error = format!(
        "Too many sign-in tries just now, so this one was not checked. Wait {retry_after} seconds and try again{}",
        if console.ctx.config.console.url.is_some() {
            ", or text Pin to Sentinel's number for a one-time sign-in link, which always works."
        } else {
            "."
        }
    );
    form(console, request, Some(&error)).with_header("Retry-After", retry_after.to_string())
}

/// `GET /console/link?token=…`: whose link it is, and the button that uses it.
pub(super) fn link_page(console: &Console<'_>, request: &Request) -> Response {
    let token = request.query.get("token").cloned().unwrap_or_default();
    match console.runtime.block_on(console.store.link_owner(token.clone(), console.now)) {
        Ok(Some(manager)) => Response::page(
            200,
            layout::bare(
                "Sign in",
                html! {
                    h1 { "Sentinel" }
                    p { "Sign in as " strong { (manager) } "?" }
                    form.stack method="post" action="/console/link" {
                        input type="hidden" name="token" value=(token);
                        button.primary type="submit" { "Sign in" }
                    }
                },
            ),
        ),
        Ok(None) => bad_link(),
        Err(err) => unavailable(&err.to_string()),
    }
}

/// `POST /console/link`: uses the link up and signs in.
pub(super) fn with_link(console: &Console<'_>, request: &Request) -> Response {
    let token = request.form.get("token").cloned().unwrap_or_default();
    let lifetime = console.ctx.config.console.session;
    match console.runtime.block_on(console.store.redeem_link(token, console.now, lifetime)) {
        Ok(Some(grant)) => {
            tracing::info!(manager = %grant.session.manager, "console sign-in by SMS link");
            signed_in(console, request, grant)
        }
        Ok(None) => bad_link(),
        Err(err) => unavailable(&err.to_string()),
    }
}

/// `POST /console/signout`.
pub(super) fn sign_out(console: &Console<'_>, request: &Request) -> Response {
    if let Some(token) = &request.token
        && let Err(err) = console.runtime.block_on(console.store.end_session(token.clone()))
    {
        return unavailable(&err.to_string());
    }
    Response::redirect("/console/signin").with_header("Set-Cookie", clear_cookie(request.tls || secure(console)))
}

fn bad_link() -> Response {
    let why = "This sign-in link was used already or has expired. Text Pin to Sentinel for a new one, or sign in with your PIN.";
    Response::page(
        401,
        layout::bare(
            "Sign in",
            html! {
                h1 { "Link not valid" }
                p { (why) }
                p { a.button href="/console/signin" { "Sign in with a PIN" } }
            },
        ),
    )
}

fn open(console: &Console<'_>, request: &Request, manager: String, contact_id: String) -> Response {
    let lifetime = console.ctx.config.console.session;
    match console.runtime.block_on(console.store.open_session(manager, contact_id, console.now, lifetime)) {
        Ok(grant) => signed_in(console, request, grant),
        Err(err) => unavailable(&err.to_string()),
    }
}

/// The redirect into the console, with the session's cookie.
fn signed_in(console: &Console<'_>, request: &Request, grant: Grant) -> Response {
    let seconds = grant.session.expires_at.duration_since(console.now).as_secs().max(1);
    let cookie = set_cookie(&grant.token, seconds, request.tls || secure(console));
    Response::redirect("/console").with_header("Set-Cookie", cookie)
}

/// `CONSOLE_URL` is `https://`: the cookie is `Secure` whatever this request said.
fn secure(console: &Console<'_>) -> bool {
    console.ctx.config.console.is_https()
}
