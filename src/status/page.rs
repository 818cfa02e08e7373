//! The status page (`/status`): plain HTML, no script, readable on a phone; every text from
//! outside is escaped.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::Snapshot;
use super::text::{
    ai_gate_line, catchup_line, clock_line, countdown, data_line, offbox_line, or_never, pass_line, update_line,
};
use crate::domain::format::{clock, when};
use crate::domain::issue::Issue;
use crate::domain::phone::mask_digits;

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The status page: plain HTML, no script, readable on a phone.
pub fn html(snapshot: &Snapshot, live: &[Issue], now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    let healthy = snapshot.actors.iter().all(|a| a.ok);
    let mut page = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <meta http-equiv=\"refresh\" content=\"60\"><title>Sentinel</title><style>\
         body{font-family:sans-serif;margin:1em;max-width:40em}td,th{padding:.2em .5em;text-align:left}\
         .bad{color:#b00}.ok{color:#070}</style></head><body>",
    );
    let _ = write!(
        page,
        "<h1>Sentinel</h1><p class=\"{}\">{}</p><ul>",
        if healthy { "ok" } else { "bad" },
        if healthy { "All parts answering" } else { "Some parts are not answering" }
    );
    let _ = write!(page, "<li>As of {}</li>", escape(&clock(now, zone)));
    if snapshot.disk_full {
        let _ = write!(page, "<li class=\"bad\">Storage: {}</li>", escape(crate::signals::DISK_FULL));
    }
    let _ = write!(page, "<li>GHL: {}</li>", escape(&snapshot.ghl));
    let clock_class = if snapshot.clock.untrusted.is_some() { "bad" } else { "ok" };
    let _ = write!(page, "<li class=\"{clock_class}\">Clock: {}</li>", escape(&clock_line(&snapshot.clock, now, zone)));
    if let Some(network) = &snapshot.network {
        let class = if network.up { "ok" } else { "bad" };
        let _ = write!(page, "<li class=\"{class}\">Network: {}</li>", escape(&network.line()));
    }
    let _ = write!(page, "<li>Last webhook: {}</li>", escape(&or_never(snapshot.last_webhook_at, now, zone)));
    let _ = write!(page, "<li>Outbox backlog: {}</li>", snapshot.outbox_backlog);
    if !snapshot.notify_targets.is_empty() {
        let _ = write!(page, "<li>Notification webhooks: {}</li>", escape(&snapshot.notify_targets.join("; ")));
    }
    if snapshot.webhook_backlog > 0 || snapshot.webhook_not_sent > 0 {
        let class = if snapshot.webhook_not_sent > 0 { " class=\"bad\"" } else { "" };
        let _ = write!(
            page,
            "<li{class}>Notification webhooks waiting: {}, given up: {}</li>",
            snapshot.webhook_backlog, snapshot.webhook_not_sent
        );
    }
    let _ = write!(page, "<li>Data: {}</li>", data_line(snapshot.data_bytes));
    let _ = write!(page, "<li>Resolver: {}</li>", escape(&pass_line(snapshot.resolver_pass.as_ref(), now, zone)));
    let catchup = catchup_line(snapshot.webhooks, snapshot.catchup.as_ref(), now, zone);
    let _ = write!(page, "<li>Catch-up: {}</li>", escape(&catchup));
    if snapshot.outbox_not_sent > 0 {
        let _ = write!(
            page,
            "<li class=\"bad\">Manager SMS never sent: {} (last: {})</li>",
            snapshot.outbox_not_sent,
            escape(snapshot.outbox_not_sent_reason.as_deref().unwrap_or("unknown"))
        );
    }
    let _ = write!(
        page,
        "<li>Failed authentications: {} since start ({} slowed down)</li>",
        snapshot.auth_failures, snapshot.auth_slowed
    );
    let _ = write!(page, "<li>AI check: {}</li>", escape(&ai_gate_line(&snapshot.ai_gate)));
    let failing = snapshot.offbox.as_ref().is_some_and(|record| record.last_error.is_some());
    let _ = write!(
        page,
        "<li class=\"{}\">Off-box copy: {}</li>",
        if failing { "bad" } else { "ok" },
        escape(&offbox_line(snapshot.offbox.as_ref(), now, zone))
    );
    let rolled_back = snapshot.update.last.as_deref().is_some_and(|last| last.contains("rolled back"));
    let _ = write!(
        page,
        "<li class=\"{}\">Version {}, {}</li>",
        if rolled_back { "bad" } else { "ok" },
        escape(&snapshot.version),
        escape(&update_line(&snapshot.update))
    );
    if let Some((slot, at)) = &snapshot.next_digest {
        let _ = write!(page, "<li>Next digest: {} at {}</li>", escape(slot), escape(&when(*at, now, zone)));
    }
    if !snapshot.special_days.is_empty() {
        let days: Vec<String> = snapshot.special_days.iter().map(|day| escape(day)).collect();
        let _ = write!(page, "<li>Special days: {}</li>", days.join("; "));
    }
    page.push_str("</ul>");
    let _ = write!(page, "<h2>Open and pending ({} open, {} pending)</h2>", snapshot.open, snapshot.pending);
    if live.is_empty() {
        page.push_str("<p>Nothing is waiting for a reply.</p>");
    } else {
        page.push_str("<table><tr><th>#</th><th>Who</th><th>Kind</th><th>Status</th><th>Due</th></tr>");
        for issue in live {
            let who = issue
                .contact_name
                .clone()
                .or_else(|| issue.phone.as_ref().map(|phone| mask_digits(phone.as_str())))
                .unwrap_or_default();
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} ({})</td></tr>",
                issue.id,
                escape(&who),
                issue.kind,
                issue.status.as_str(),
                escape(&when(issue.due_at, now, zone)),
                escape(&countdown(issue.due_at, now)),
            );
        }
        page.push_str("</table>");
    }
    page.push_str("<h2>Recent events</h2>");
    if snapshot.recent_events.is_empty() {
        page.push_str("<p>No webhook yet.</p>");
    } else {
        page.push_str("<table><tr><th>When</th><th>Route</th><th>What came of it</th></tr>");
        for event in &snapshot.recent_events {
            let _ = write!(
                page,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&when(event.received_at, now, zone)),
                escape(&event.route),
                escape(event.outcome.as_deref().unwrap_or("-"))
            );
        }
        page.push_str("</table>");
    }
    page.push_str("<h2>Parts</h2><ul>");
    for actor in &snapshot.actors {
        let _ = write!(
            page,
            "<li class=\"{}\">{}: {}</li>",
            if actor.ok { "ok" } else { "bad" },
            escape(&actor.name),
            if actor.ok { "answering" } else { "NOT answering" }
        );
    }
    page.push_str("</ul></body></html>");
    page
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::event::Status;

    #[test]
    fn names_are_escaped_on_the_page() -> anyhow::Result<()> {
        let zone = jiff::tz::TimeZone::get("America/Chicago")?;
        let now: Timestamp = "2026-03-02T15:00:00Z".parse()?;
        let snapshot = Snapshot {
            open: 1,
            special_days: vec!["Fri 3/6 closed, set by <b>Dana</b>".into()],
            ..super::super::tests::sample()
        };
        let issue = Issue {
            id: 1,
            kind: crate::domain::event::IssueKind::Sms,
            status: Status::Open,
            party: "contact:c".into(),
            conversation_id: None,
            contact_id: Some("c".into()),
            phone: None,
            contact_name: Some("<script>alert(1)</script>".into()),
            created_at: now,
            first_inbound_at: now,
            last_inbound_at: now,
            due_at: now,
            inbound_count: 1,
            last_text: None,
            opened_at: None,
            resolved_at: None,
            resolved_by: None,
            alerted_at: None,
        };
        let page = html(&snapshot, &[issue], now, &zone);
        assert!(!page.contains("<script>") && page.contains("&lt;script&gt;"), "{page}");
        assert!(page.contains("Special days: Fri 3/6 closed, set by &lt;b&gt;Dana&lt;/b&gt;"), "{page}");
        Ok(())
    }
}
