//! What managers are told by SMS: a preview of a digest as it would go out now (built as a dry
//! run, which changes nothing), and every manager SMS queued or sent today.

use maud::html;

use super::layout::{self, Nav};
use super::{Console, Request, Response, unavailable};
use crate::actors::summary::next_digest;
use crate::domain::issue::Delivery;
use crate::store::console::Session;

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
    let start_of_day = console.now.to_zoned(zone.clone()).start_of_day().map(|day| day.timestamp());
    let sent = match console.runtime.block_on(console.store.sms_since(start_of_day.unwrap_or(console.now))) {
        Ok(sent) => sent,
        Err(err) => return unavailable(&err.to_string()),
    };
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
        h2 { "SMS today" }
        @if sent.is_empty() { p.muted { "No SMS to managers today." } }
        ol.messages {
            @for sms in &sent {
                li {
                    time datetime=(sms.created_at) { (calendar.stamp(sms.created_at)) }
                    " to " (sms.contact_id) " · " span.chip { (sms.status) } " · " span.muted { (sms.purpose) }
                    pre.sms { (crate::store::console::shown_body(&sms.body)) }
                }
            }
        }
    };
    Response::page(200, layout::page("Digest", session, console.now, Nav::Digest, body))
}
