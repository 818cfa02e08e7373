//! The console's home: every open and pending issue, soonest due first, with its countdown,
//! how often the customer tried, who it is and what they last wrote.

use maud::{Markup, html};

use super::layout::{self, Nav};
use super::{Console, Response, unavailable};
use crate::db::console::Session;
use crate::domain::event::{IssueKind, Status};
use crate::domain::issue::Issue;

/// Characters of the last text shown in the list.
const PREVIEW_CHARS: usize = 120;

/// `GET /console`.
pub(super) fn page(console: &Console<'_>, session: &Session) -> Response {
    let live = match console.runtime.block_on(console.store.list_issues(vec![Status::Open, Status::Pending])) {
        Ok(live) => live,
        Err(err) => return unavailable(&err.to_string()),
    };
    let open = live.iter().filter(|issue| issue.status == Status::Open).count();
    let body = html! {
        h1 { "Issues" }
        p.muted { (open) " overdue, " (live.len() - open) " waiting for a reply" }
        @if live.is_empty() {
            p.empty { "Nothing is waiting. Every customer has had an answer." }
        }
        ul.issues {
            @for issue in &live {
                li { (card(console, issue)) }
            }
        }
    };
    Response::page(200, layout::page("Issues", session, console.now, Nav::Issues, body))
}

fn card(console: &Console<'_>, issue: &Issue) -> Markup {
    let overdue = issue.status == Status::Open || issue.due_at <= console.now;
    html! {
        a.card.overdue[overdue] href={ "/console/issue/" (issue.id) } {
            span.top {
                span.id { "#" (issue.id) }
                span.kind { (kind_word(issue.kind)) }
                span.who { (who(issue)) }
            }
            span.line {
                (layout::countdown(issue.due_at, console.now))
                span.tries { (tries(issue.kind, issue.inbound_count)) }
            }
            @if let Some(text) = &issue.last_text {
                span.text { (preview(text)) }
            }
        }
    }
}

/// `Text` or `Call`.
pub(super) fn kind_word(kind: IssueKind) -> &'static str {
    match kind {
        IssueKind::Sms => "Text",
        IssueKind::Call => "Call",
    }
}

/// The customer as managers know them: name and phone, or whatever is known.
pub(super) fn who(issue: &Issue) -> String {
    match (&issue.contact_name, &issue.phone) {
        (Some(name), Some(phone)) => format!("{name} · {phone}"),
        (Some(name), None) => name.clone(),
        (None, Some(phone)) => phone.to_string(),
        (None, None) => "unknown contact".to_string(),
    }
}

/// `1 text`, `3 texts`, `2 calls`.
pub(super) fn tries(kind: IssueKind, count: i64) -> String {
    let noun = match kind {
        IssueKind::Sms => "text",
        IssueKind::Call => "call",
    };
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

fn preview(text: &str) -> String {
    let mut chars = text.chars();
    let head: String = chars.by_ref().take(PREVIEW_CHARS).collect();
    if chars.next().is_some() { format!("{head}…") } else { head }
}
