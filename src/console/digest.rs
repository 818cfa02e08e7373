//! What managers are told by SMS: a preview of a digest as it would go out now (built as a dry
//! run, which changes nothing), and the digests, alerts and notices of the last week, to whom
//! by name, a page at a time. Replies to a manager's own commands are not shown: they are that
//! manager's conversation (and a sign-in link in one would let another manager in).

use maud::html;

use super::layout::{self, Nav};
use super::{Console, Request, Response, unavailable};
use crate::actors::summary::next_digest;
use crate::db::console::{Session, Sms};
use crate::domain::issue::Delivery;

/// Messages per page.
const PER_PAGE: usize = 10;
/// How far back the page looks.
const SHOWN_DAYS: i64 = 7;

/// One message to managers: every recipient's copy, and its parts, as one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Told {
    /// `Digest: morning`, `Overdue alert`, `Notice`.
    pub what: String,
    /// When it was queued.
    pub at: jiff::Timestamp,
    /// Each recipient, by name where known, and how their copy stands.
    pub to: Vec<(String, &'static str)>,
    /// The text (the first recipient's copy, parts joined).
    pub body: String,
}

/// `digest:2026-11-23:morning:2/3` → (`digest:2026-11-23:morning`, 2).
fn base_and_part(purpose: &str) -> (&str, u32) {
    if let Some((base, part)) = purpose.rsplit_once(':')
        && let Some((n, total)) = part.split_once('/')
        && let (Ok(n), Ok(_)) = (n.parse::<u32>(), total.parse::<u32>())
    {
        return (base, n);
    }
    (purpose, 1)
}

fn what(base: &str) -> String {
    if let Some(rest) = base.strip_prefix("digest:") {
        let slot = rest.rsplit_once(':').map_or(rest, |(_, slot)| slot);
        format!("Digest: {slot}")
    } else if base.starts_with("alert:") {
        "Overdue alert".to_string()
    } else {
        "Notice".to_string()
    }
}

fn status_words(status: &str) -> &'static str {
    match status {
        "sent" => "sent",
        "pending" => "waiting to send",
        "expired" => "not sent: expired",
        _ => "not sent",
    }
}

/// Groups the outbox's rows (newest first) into messages (newest first).
pub(crate) fn group(rows: &[Sms]) -> Vec<Told> {
    let mut order: Vec<&str> = Vec::new();
    let mut by_base: std::collections::HashMap<&str, Vec<&Sms>> = std::collections::HashMap::new();
    for row in rows {
        let (base, _) = base_and_part(&row.purpose);
        by_base
            .entry(base)
            .or_insert_with(|| {
                order.push(base);
                Vec::new()
            })
            .push(row);
    }
    order
        .into_iter()
        .map(|base| {
            let rows = by_base.remove(base).unwrap_or_default();
            let mut to: Vec<(String, &'static str)> = Vec::new();
            let mut seen: Vec<&str> = Vec::new();
            let mut unnamed = 0;
            for row in rows.iter().rev() {
                if seen.contains(&row.contact_id.as_str()) {
                    continue;
                }
                seen.push(&row.contact_id);
                match &row.manager {
                    Some(name) => to.push((name.clone(), status_words(&row.status))),
                    None => unnamed += 1,
                }
            }
            if unnamed > 0 {
                let status =
                    rows.iter().find(|row| row.manager.is_none()).map_or("sent", |row| status_words(&row.status));
                let who = if unnamed == 1 {
                    "1 manager by MANAGER_CONTACT_IDS".to_string()
                } else {
                    format!("{unnamed} managers by MANAGER_CONTACT_IDS")
                };
                to.push((who, status));
            }
            let first = seen.first().copied().unwrap_or_default();
            let mut parts: Vec<(u32, &str)> = rows
                .iter()
                .filter(|row| row.contact_id == first)
                .map(|row| (base_and_part(&row.purpose).1, row.body.as_str()))
                .collect();
            parts.sort_by_key(|(n, _)| *n);
            let body =
                parts.iter().map(|(_, text)| crate::db::console::shown_body(text)).collect::<Vec<_>>().join("\n");
            let at = rows.iter().map(|row| row.created_at).min().unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            Told { what: what(base), at, to, body }
        })
        .collect()
}

/// `GET /console/digest[?slot=NAME]`.
pub(super) fn page(console: &Console<'_>, session: &Session, request: &Request) -> Response {
    let config = &console.ctx.config;
    let calendar = console.ctx.calendar();
    let next = next_digest(config, &calendar, console.now);
    let chosen = request
        .query
        .get("slot")
        .filter(|name| config.summary_slots.iter().any(|slot| &slot.name == *name))
        .cloned()
        .or_else(|| next.as_ref().map(|(_, slot)| slot.clone()))
        .or_else(|| config.summary_slots.first().map(|slot| slot.name.clone()));
    let preview = match &chosen {
        Some(slot) => {
            match console.runtime.block_on(console.store.build_digest(slot.clone(), console.now, Delivery::DryRun)) {
                Ok(report) => Some(report),
                Err(err) => return unavailable(&err.to_string()),
            }
        }
        None => None,
    };
    let zone = calendar.zone().clone();
    let since = console.now.to_zoned(zone.clone()).start_of_day().map(|day| day.timestamp()).unwrap_or(console.now)
        - jiff::SignedDuration::from_hours(24 * (SHOWN_DAYS - 1));
    let told = match console.runtime.block_on(console.store.sms_since(since)) {
        Ok(rows) => group(&rows),
        Err(err) => return unavailable(&err.to_string()),
    };
    let pages = told.len().div_ceil(PER_PAGE).max(1);
    let page_number = request.query.get("page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).clamp(1, pages);
    let shown = told.iter().skip((page_number - 1) * PER_PAGE).take(PER_PAGE);
    let slot_query = chosen.as_ref().map(|slot| format!("slot={slot}&")).unwrap_or_default();
    let body = html! {
        h1 { "Digest" }
        @if let Some((at, slot)) = &next {
            p.muted { "Next digest: " (slot) ", " (calendar.stamp(*at)) "." }
        }
        @if config.summary_slots.len() > 1 {
            p.row {
                @for slot in &config.summary_slots {
                    a.chip href={ "/console/digest?slot=" (slot.name) }
                        aria-current=[(Some(&slot.name) == chosen.as_ref()).then_some("page")] { (slot.name) }
                    " "
                }
            }
        }
        @match &preview {
            Some(report) => {
                h2 { "Preview: " (report.slot) }
                @if report.already_sent { p.muted { "This slot was sent today already." } }
                pre.sms { (report.body) }
            }
            None => p.muted { "No digest slots are set (SUMMARY_SLOTS)." },
        }
        h2 { "Sent to managers, last " (SHOWN_DAYS) " days" }
        @if told.is_empty() { p.muted { "No digests or alerts in the last " (SHOWN_DAYS) " days." } }
        ol.messages {
            @for message in shown {
                li {
                    strong { (message.what) } " · "
                    time datetime=(message.at) { (calendar.day_stamp(message.at)) }
                    p.muted {
                        "To "
                        @for (n, (who, how)) in message.to.iter().enumerate() {
                            @if n > 0 { ", " }
                            (who) " (" (how) ")"
                        }
                    }
                    pre.sms { (message.body) }
                }
            }
        }
        @if pages > 1 {
            p.row {
                @if page_number > 1 {
                    a.button href={ "/console/digest?" (slot_query) "page=" (page_number - 1) } { "Newer" } " "
                }
                span.muted { "Page " (page_number) " of " (pages) } " "
                @if page_number < pages {
                    a.button href={ "/console/digest?" (slot_query) "page=" (page_number + 1) } { "Older" }
                }
            }
        }
    };
    Response::page(200, layout::page("Digest", session, console.now, Nav::Digest, body))
}
