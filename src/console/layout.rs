//! The frame every console page shares: the head with the compiled-in stylesheet, the
//! navigation, the signed-in manager with the sign-out button, and small pieces the pages
//! use (a countdown, the CSRF field, a notice).

use jiff::Timestamp;
use maud::{DOCTYPE, Markup, html};

use super::session::CSRF_FIELD;
use crate::db::console::Session;

/// The pages in the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    /// Open and pending issues.
    Issues,
    /// Business hours.
    Hours,
    /// The appliance's health.
    Health,
    /// The digest preview and today's SMS.
    Digest,
    /// The set-up checks (`sentinel doctor`).
    Setup,
}

const NAV: [(Nav, &str, &str); 5] = [
    (Nav::Issues, "/console", "Issues"),
    (Nav::Hours, "/console/hours", "Hours"),
    (Nav::Health, "/console/health", "Health"),
    (Nav::Digest, "/console/digest", "Digest"),
    (Nav::Setup, "/console/setup", "Set-up"),
];

/// A signed-in page: navigation, the manager's name and sign-out, then `body`.
pub fn page(title: &str, session: &Session, now: Timestamp, current: Nav, body: Markup) -> Markup {
    let body = html! {
        body data-now=(now.as_millisecond()) {
            header {
                nav {
                    @for (nav, href, label) in NAV {
                        a href=(href) aria-current=[(nav == current).then_some("page")] { (label) }
                    }
                }
                form.signout method="post" action="/console/signout" {
                    (csrf(session))
                    span.who { (session.manager) }
                    button.link type="submit" { "Sign out" }
                }
            }
            main { (body) }
            script src="/console/tick.js" defer {}
        }
    };
    document(title, body)
}

/// A page without navigation (sign-in, refusals).
pub fn bare(title: &str, body: Markup) -> Markup {
    document(title, html! { body { main.narrow { (body) } } })
}

/// A page that only says something, with a way back.
pub fn message(title: &str, text: &str) -> Markup {
    bare(
        title,
        html! {
            h1 { (title) }
            p { (text) }
            p { a.button href="/console" { "Back to the console" } }
        },
    )
}

fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="color-scheme" content="light dark";
                // Same-origin: a form still carries `Origin`, which `session` checks, and no other
                // site learns a console address (or a sign-in link's token) as a referrer.
                meta name="referrer" content="same-origin";
                title { (title) " · Sentinel" }
                link rel="stylesheet" href="/console/style.css";
            }
            (body)
        }
    }
}

/// The hidden field that proves a form came from this session's page.
pub fn csrf(session: &Session) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(session.csrf); }
}

/// `in 2h 05m` or `overdue 1h 10m`, which `tick.js` keeps current.
pub fn countdown(due_at: Timestamp, now: Timestamp) -> Markup {
    let overdue = due_at <= now;
    html! {
        time.due.overdue[overdue] datetime=(due_at) data-due=(due_at.as_millisecond()) {
            (crate::status::countdown(due_at, now))
        }
    }
}

/// A line saying what the last action did.
pub fn notice(text: Option<&str>) -> Markup {
    html! {
        @if let Some(text) = text {
            p.notice role="status" { (text) }
        }
    }
}
