//! One issue: why it is due when it is (the calendar arithmetic `Why` sends by SMS), its
//! timeline, the messages Sentinel kept, the GHL conversation link, and the buttons.

use jiff::Timestamp;
use maud::{Markup, html};
use serde_json::{Map, Value};

use super::issues::{kind_word, tries, who};
use super::layout::{self, Nav, csrf};
use super::{Console, Request, Response, unavailable};
use crate::db::console::{KnownMessage, Session};
use crate::domain::event::{Event, IssueKind, Status};
use crate::domain::issue::{Issue, TimelineEntry, last_snooze};
use crate::ghl::payload::{self, ParseOptions, Route};

/// What the notice says after each action (`?done=`).
const DONE: [(&str, &str); 4] = [
    ("resolve", "Resolved."),
    ("spam", "Marked spam; the phone will open no more issues."),
    ("note", "Note added."),
    ("snooze", "Snoozed: it falls due again at the time shown."),
];

/// `GET /console/issue/{id}`.
pub(super) fn page(console: &Console<'_>, session: &Session, id: &str, request: &Request) -> Response {
    let Ok(id) = id.trim_start_matches('#').parse::<i64>() else {
        return Response::refused(404, "That is not an issue number.");
    };
    let (issue, timeline) = match console.runtime.block_on(console.store.issue(id)) {
        Ok(Some(found)) => found,
        Ok(None) => return Response::refused(404, &format!("There is no issue #{id}.")),
        Err(err) => return unavailable(&err.to_string()),
    };
    let messages = match console.runtime.block_on(console.store.known_messages(id)) {
        Ok(messages) => messages,
        Err(err) => return unavailable(&err.to_string()),
    };
    let done = request.query.get("done").and_then(|key| DONE.iter().find(|(k, _)| k == key)).map(|(_, text)| *text);
    let live = matches!(issue.status, Status::Pending | Status::Open);
    let body = html! {
        (layout::notice(done))
        h1 { "#" (issue.id) " " (kind_word(issue.kind)) " · " (who(&issue)) }
        p.line {
            span.badge.(issue.status.as_str().to_lowercase()) { (issue.status.as_str()) }
            @if live { (layout::countdown(issue.due_at, console.now)) }
            span.tries { (tries(issue.kind, issue.inbound_count)) }
        }
        section {
            h2 { "Why" }
            p.why { (why(console, &issue, &timeline)) }
            @if live { p { "Due " (console.ctx.calendar().stamp(issue.due_at)) "." } }
            @if let Some(link) = ghl_link(console, &issue) {
                p { a.button href=(link) target="_blank" rel="noopener noreferrer" { "Open the conversation in GHL" } }
            }
        }
        @if live { (buttons(console, session, &issue)) }
        (note_form(session, &issue))
        section {
            h2 { "Messages" }
            (message_list(console, &issue, &messages))
        }
        section {
            h2 { "Timeline" }
            (timeline_list(console, &timeline))
        }
    };
    let title = format!("#{}", issue.id);
    Response::page(200, layout::page(&title, session, console.now, Nav::Issues, body))
}

/// The due-time explanation, as the SMS `Why` command gives it.
fn why(console: &Console<'_>, issue: &Issue, timeline: &[TimelineEntry]) -> String {
    let sla = match issue.kind {
        IssueKind::Sms => console.ctx.config.sms_sla,
        IssueKind::Call => console.ctx.config.call_sla,
    };
    let snooze = last_snooze(timeline);
    console.ctx.calendar().explain_issue_due(issue.kind.verb(), issue.created_at, sla, issue.due_at, snooze.as_ref())
}

/// The GHL conversation, when both the conversation and the location are known.
fn ghl_link(console: &Console<'_>, issue: &Issue) -> Option<String> {
    let conversation = issue.conversation_id.as_deref()?;
    let location = console.ctx.ghl.location_id()?;
    let base = &console.ctx.config.ghl.app_base;
    Some(format!("{base}/v2/location/{location}/conversations/conversations/{conversation}"))
}

fn buttons(console: &Console<'_>, session: &Session, issue: &Issue) -> Markup {
    let action = |name: &str| format!("/console/issue/{}/{name}", issue.id);
    let zone = console.ctx.config.calendar.zone();
    let suggested = (console.now + jiff::SignedDuration::from_hours(1)).to_zoned(zone.clone()).datetime();
    html! {
        section.actions {
            h2 { "Act" }
            div.row {
                form method="post" action=(action("resolve")) {
                    (csrf(session))
                    button.primary type="submit" { "Resolve" }
                }
                form method="post" action=(action("spam")) {
                    (csrf(session))
                    button.danger type="submit" { "Spam" }
                }
            }
            form.stack method="post" action=(action("snooze")) {
                (csrf(session))
                label for="until" { "Snooze until (" (zone.iana_name().unwrap_or("local time")) ")" }
                input #until type="datetime-local" name="until" value=(suggested.strftime("%Y-%m-%dT%H:%M")) required;
                button type="submit" { "Snooze" }
            }
        }
    }
}

fn note_form(session: &Session, issue: &Issue) -> Markup {
    html! {
        form.stack method="post" action={ "/console/issue/" (issue.id) "/note" } {
            (csrf(session))
            label for="note" { "Note" }
            textarea #note name="note" rows="3" maxlength="1000" required {}
            button type="submit" { "Add note" }
        }
    }
}

fn message_list(console: &Console<'_>, issue: &Issue, messages: &[KnownMessage]) -> Markup {
    let options = ParseOptions {
        missed_marker_keys: console.ctx.config.call_missed_marker_keys.clone(),
        require_missed_marker: console.ctx.config.call_require_missed_marker,
    };
    html! {
        @if messages.is_empty() {
            @if let Some(text) = &issue.last_text {
                p { "Last text: " q { (text) } }
            } @else {
                p.muted { "No message is kept for this issue (older webhooks are pruned)." }
            }
        }
        ol.messages {
            @for message in messages {
                li {
                    (when(console, message.received_at))
                    " " (describe(message, &options))
                }
            }
        }
    }
}

/// What a kept webhook said: the text, or that a call was missed.
fn describe(message: &KnownMessage, options: &ParseOptions) -> String {
    let body: Option<Map<String, Value>> = serde_json::from_str(&message.body).ok();
    let parsed = Route::from_name(&message.route).zip(body).map(|(route, body)| payload::parse(route, &body, options));
    match parsed.map(|parsed| parsed.event) {
        Some(Event::Inbound(inbound)) => match (inbound.kind, inbound.text) {
            (IssueKind::Sms, Some(text)) => format!("texted: “{text}”"),
            (IssueKind::Sms, None) => "texted (no text kept)".to_string(),
            (IssueKind::Call, _) => "called; nobody answered".to_string(),
        },
        _ => format!("a {} webhook", message.route),
    }
}

fn timeline_list(console: &Console<'_>, timeline: &[TimelineEntry]) -> Markup {
    html! {
        ol.timeline {
            @for entry in timeline {
                li {
                    (when(console, entry.at)) " "
                    strong { (entry.event) }
                    " by " (entry.by)
                    @if !entry.detail.is_empty() { ": " (entry.detail) }
                }
            }
        }
    }
}

fn when(console: &Console<'_>, at: Timestamp) -> Markup {
    html! { time datetime=(at) { (console.ctx.calendar().stamp(at)) } }
}
