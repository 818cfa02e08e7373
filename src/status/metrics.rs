//! `/metrics`: the snapshot and the GHL and AI clients' counters in Prometheus's text format.

use std::fmt::Write as _;

use super::Snapshot;
use crate::clients::ai::{AiGateStatus, CheckResult};

/// The Prometheus text exposition of the snapshot and the GHL and AI clients' counters.
pub fn metrics(snapshot: &Snapshot, ghl: &crate::ghl::client::GhlStatus, ai: &AiGateStatus) -> String {
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
    };
    gauge("sentinel_uptime_seconds", "Seconds since the service started.", snapshot.uptime_seconds.to_string());
    gauge("sentinel_issues_open", "OPEN issues (overdue).", snapshot.open.to_string());
    gauge("sentinel_issues_pending", "PENDING issues (inside their window).", snapshot.pending.to_string());
    gauge("sentinel_outbox_backlog", "Manager SMS waiting to be sent.", snapshot.outbox_backlog.to_string());
    gauge(
        "sentinel_outbox_not_sent",
        "Manager SMS that were never sent (no GHL_TOKEN, expired).",
        snapshot.outbox_not_sent.to_string(),
    );
    gauge(
        "sentinel_notify_webhook_backlog",
        "Notification webhook deliveries waiting to be sent.",
        snapshot.webhook_backlog.to_string(),
    );
    gauge(
        "sentinel_notify_webhook_not_sent",
        "Notification webhook deliveries given up (expired unanswered).",
        snapshot.webhook_not_sent.to_string(),
    );
    let last = snapshot.last_webhook_at.map_or(0, |at| at.as_second());
    gauge("sentinel_last_webhook_timestamp_seconds", "Unix time of the last webhook.", last.to_string());
    let catchup = snapshot.catchup.clone().unwrap_or_default();
    gauge(
        "sentinel_catchup_last_pass_timestamp_seconds",
        "Unix time of the last catch-up pass (0: none yet).",
        catchup.last_pass_at.map_or(0, |at| at.as_second()).to_string(),
    );
    gauge(
        "sentinel_catchup_found_today",
        "Customer messages found today by catch-up that no webhook brought.",
        catchup.found_today.to_string(),
    );
    gauge(
        "sentinel_catchup_largest_gap_seconds",
        "The longest a message found by catch-up had waited in GHL since start.",
        catchup.largest_gap_seconds.to_string(),
    );
    gauge("sentinel_webhooks_expected", "1 unless WEBHOOKS=off.", u8::from(snapshot.webhooks).to_string());
    gauge("sentinel_ghl_up", "1 when GHL answers normally.", u8::from(snapshot.ghl == "ok").to_string());
    let _ = writeln!(
        out,
        "# HELP sentinel_ghl_requests_total GHL requests sent.\n# TYPE sentinel_ghl_requests_total counter"
    );
    let _ = writeln!(out, "sentinel_ghl_requests_total {}", ghl.requests);
    let _ = writeln!(
        out,
        "# HELP sentinel_ghl_rate_limited_total 429 answers from GHL.\n# TYPE sentinel_ghl_rate_limited_total counter"
    );
    let _ = writeln!(out, "sentinel_ghl_rate_limited_total {}", ghl.rate_limited);
    let _ = writeln!(
        out,
        "# HELP sentinel_catchup_found_total Events found by catch-up that no webhook brought, since start.\n# TYPE sentinel_catchup_found_total counter\nsentinel_catchup_found_total {}",
        catchup.found_total
    );
    let _ = writeln!(
        out,
        "# HELP sentinel_auth_failures_total Requests with a wrong or missing secret or signature.\n# TYPE sentinel_auth_failures_total counter\nsentinel_auth_failures_total {}",
        snapshot.auth_failures
    );
    let _ = writeln!(
        out,
        "# HELP sentinel_auth_slowed_total Failed authentications answered 429 after a guessing budget ran out.\n# TYPE sentinel_auth_slowed_total counter\nsentinel_auth_slowed_total {}",
        snapshot.auth_slowed
    );
    let _ = writeln!(
        out,
        "# HELP sentinel_console_pins_checked_total Console PINs really checked.\n# TYPE sentinel_console_pins_checked_total counter\nsentinel_console_pins_checked_total {}",
        snapshot.pins_checked
    );
    let _ = writeln!(
        out,
        "# HELP sentinel_console_pins_unchecked_total Console sign-ins by PIN refused unchecked, a budget being used up.\n# TYPE sentinel_console_pins_unchecked_total counter\nsentinel_console_pins_unchecked_total {}",
        snapshot.pins_unchecked
    );
    if let Some(record) = &snapshot.offbox {
        let last = record.last_success_at.map_or(0, |at| at.as_second());
        gauge_line(
            &mut out,
            "sentinel_offbox_last_success_timestamp_seconds",
            "Unix time of the last upload of an off-box copy.",
            last,
        );
        gauge_line(
            &mut out,
            "sentinel_offbox_failures",
            "Failed attempts at the off-box copy still waiting.",
            record.failures,
        );
    }
    let _ = writeln!(out, "# HELP sentinel_actor_up 1 when the actor answers.\n# TYPE sentinel_actor_up gauge");
    for actor in &snapshot.actors {
        let _ = writeln!(out, "sentinel_actor_up{{actor=\"{}\"}} {}", actor.name, u8::from(actor.ok));
    }
    let _ = writeln!(
        out,
        "# HELP sentinel_ai_gate_enabled 1 when the AI check is on.\n# TYPE sentinel_ai_gate_enabled gauge\n\
         sentinel_ai_gate_enabled {}",
        u8::from(ai.enabled)
    );
    let _ = writeln!(
        out,
        "# HELP sentinel_ai_gate_checks_total AI checks of due texts, by result.\n\
         # TYPE sentinel_ai_gate_checks_total counter"
    );
    for result in CheckResult::ALL {
        let _ = writeln!(out, "sentinel_ai_gate_checks_total{{result=\"{}\"}} {}", result.as_str(), ai.count(result));
    }
    let _ = writeln!(
        out,
        "# HELP sentinel_ai_gate_requests_total Requests sent to the AI endpoint.\n\
         # TYPE sentinel_ai_gate_requests_total counter\nsentinel_ai_gate_requests_total {}",
        ai.requests
    );
    out
}

fn gauge_line(out: &mut String, name: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}");
}
