//! The appliance's health for a manager: each actor, GHL (rate limit, circuit breaker, last
//! success), the tunnel, catch-up (SPEC §12), the outbox, the last webhook, the version, the disk and the clock.
//! The figures are the status snapshot `/status` and `sentinel status` show (`crate::status`).

use jiff::Timestamp;
use maud::{Markup, html};

use super::layout::{self, Nav};
use super::{Console, Response, unavailable};
use crate::db::console::Session;

/// `GET /console/health`.
pub(super) fn page(console: &Console<'_>, session: &Session) -> Response {
    let (snapshot, _) = match console.runtime.block_on(crate::status::gather(console.ctx)) {
        Ok(gathered) => gathered,
        Err(err) => return unavailable(&format!("{err:#}")),
    };
    let ghl = console.ctx.ghl.status();
    let ago = |at: Option<Timestamp>| at.map_or_else(|| "never".to_string(), |at| since(at, console.now));
    let rate = ghl.rate_limit.as_ref().map(|limit| {
        let part = |left: Option<u64>, of: Option<u64>| match (left, of) {
            (Some(left), Some(of)) => format!("{left} of {of}"),
            (Some(left), None) => left.to_string(),
            _ => "?".to_string(),
        };
        format!(
            "{} left this window, {} today",
            part(limit.remaining, limit.max),
            part(limit.daily_remaining, limit.daily_limit)
        )
    });
    let (used, budget) = snapshot.data_bytes;
    let all_ok = snapshot.actors.iter().all(|actor| actor.ok) && !snapshot.disk_full;
    let body = html! {
        h1 { "Health" }
        p.badge.(if all_ok { "ok" } else { "bad" }) { @if all_ok { "Working" } @else { "Needs attention" } }
        table.facts {
            tbody {
                (fact("Version", &format!("{} · up {}", snapshot.version, crate::status::uptime(snapshot.uptime_seconds))))
                tr {
                    th scope="row" { "Parts" }
                    td {
                        @for actor in &snapshot.actors {
                            span.chip.(if actor.ok { "ok" } else { "bad" }) { (actor.name) " " (if actor.ok { "✓" } else { "✗" }) }
                            " "
                        }
                    }
                }
                (fact("GHL", &format!("{}{}", snapshot.ghl, snapshot.ghl_error.as_deref().map(|e| format!(": {e}")).unwrap_or_default())))
                (fact("GHL circuit breaker", ghl.circuit))
                (fact("GHL rate limit", rate.as_deref().unwrap_or("no figures from GHL yet")))
                (fact("Last GHL success", &ago(snapshot.last_ghl_success_at)))
                (fact("Tunnel", console.ctx.signals.tunnel().as_str()))
                (fact("Webhooks", if snapshot.webhooks { "expected (WEBHOOKS=on)" } else { "off: catch-up alone (WEBHOOKS=off)" }))
                (fact("Last webhook", &ago(snapshot.last_webhook_at)))
                (fact("Catch-up", &crate::status::catchup_line(snapshot.webhooks, snapshot.catchup.as_ref(), console.now, console.ctx.config.calendar.zone())))
                (fact("Outbox", &outbox(&snapshot)))
                (fact("Disk", &disk(used, budget, snapshot.disk_full)))
                (fact("Clock", snapshot.clock.untrusted.as_deref().unwrap_or("believed")))
                (fact("Network", &snapshot.network.as_ref().map_or_else(|| "not looked at yet".to_string(), |network| network.line())))
                (fact("Set-up checks", &setup_line(&console.ctx.signals.failed_checks())))
                (fact("Issues", &format!("{} overdue, {} waiting", snapshot.open, snapshot.pending)))
            }
        }
    };
    Response::page(200, layout::page("Health", session, console.now, Nav::Health, body))
}

/// The free set-up checks the service ran at start and at the nightly hour.
fn setup_line(failed: &[String]) -> String {
    if failed.is_empty() {
        "passed at start and at the nightly run (the Set-up page runs all of them)".to_string()
    } else {
        format!("failed: {}", failed.join("; "))
    }
}

fn fact(name: &str, value: &str) -> Markup {
    html! { tr { th scope="row" { (name) } td { (value) } } }
}

fn outbox(snapshot: &crate::status::Snapshot) -> String {
    let mut text = format!("{} SMS waiting", snapshot.outbox_backlog);
    if snapshot.outbox_not_sent > 0 {
        let reason = snapshot.outbox_not_sent_reason.as_deref().unwrap_or("not sent");
        text.push_str(&format!(", {} never sent ({reason})", snapshot.outbox_not_sent));
    }
    if snapshot.webhook_backlog > 0 || snapshot.webhook_not_sent > 0 {
        text.push_str(&format!(
            "; {} notification webhooks waiting, {} given up",
            snapshot.webhook_backlog, snapshot.webhook_not_sent
        ));
    }
    text
}

fn disk(used: u64, budget: u64, full: bool) -> String {
    let mb = |bytes: u64| bytes as f64 / 1_048_576.0;
    let full = if full { " — the data partition is FULL" } else { "" };
    format!("database, backups and update slots {:.1} MB of a {:.0} MB budget{full}", mb(used), mb(budget))
}

/// `5m ago`, `3h 10m ago`.
fn since(at: Timestamp, now: Timestamp) -> String {
    let seconds = now.duration_since(at).as_secs().max(0);
    format!("{} ago", crate::status::uptime(seconds))
}
