//! `/metrics`: the snapshot and the GHL and AI clients' counters in Prometheus's text format.
//!
//! Every series carries the GHL location as its `location` label, so one Prometheus can watch
//! a fleet of boxes (issue 29). Names follow Prometheus's conventions: base units in the name
//! (`_seconds`, `_bytes`), `_total` on counters and on nothing else. `docs/METRICS.md` lists
//! them all, and `tests/it/metrics.rs` checks that the alert rules and the dashboard under
//! `deploy/` name only series this file writes.

use std::fmt::Write as _;

use super::Snapshot;
use crate::clients::ai::{AiGateStatus, CheckResult};
use crate::ghl::client::GhlStatus;

/// The `location` label's value while no location is configured or learnt yet.
pub const UNKNOWN_LOCATION: &str = "unknown";

/// The quantiles `sentinel_first_reply_seconds` reports.
const QUANTILES: [f64; 3] = [0.5, 0.9, 1.0];

/// The Prometheus text exposition of the snapshot and the GHL and AI clients' counters.
pub fn metrics(snapshot: &Snapshot, ghl: &GhlStatus, ai: &AiGateStatus) -> String {
    let mut out = Exposition::new(snapshot.location.as_deref().unwrap_or(UNKNOWN_LOCATION));
    out.family("sentinel_build_info", "gauge", "Always 1; the version label says which version runs.");
    out.sample("sentinel_build_info", &[("version", &snapshot.version)], 1);
    out.gauge("sentinel_uptime_seconds", "Seconds since the service started.", snapshot.uptime_seconds);

    // The issues.
    out.gauge("sentinel_issues_open", "OPEN issues (overdue).", snapshot.open);
    out.gauge("sentinel_issues_pending", "PENDING issues (inside their window).", snapshot.pending);
    out.gauge(
        "sentinel_breaches_today",
        "Issues that went OPEN (breached their window) since local midnight.",
        snapshot.breaches_today,
    );
    out.first_replies(&snapshot.first_replies);
    out.gauge(
        "sentinel_business_open",
        "1 inside business hours (the calendar in force, special days included).",
        u8::from(snapshot.business_hours_open),
    );

    // Webhooks and catch-up.
    out.gauge("sentinel_webhooks_expected", "1 unless WEBHOOKS=off.", u8::from(snapshot.webhooks));
    let last = snapshot.last_webhook_at.map_or(0, |at| at.as_second());
    out.gauge("sentinel_last_webhook_timestamp_seconds", "Unix time of the last webhook (0: none yet).", last);
    out.gauge(
        "sentinel_quiet_day",
        "1 when a whole business day went by with no webhook, until the next one comes.",
        u8::from(snapshot.quiet_day),
    );
    let catchup = snapshot.catchup.clone().unwrap_or_default();
    out.gauge(
        "sentinel_catchup_last_pass_timestamp_seconds",
        "Unix time of the last catch-up pass (0: none yet).",
        catchup.last_pass_at.map_or(0, |at| at.as_second()),
    );
    out.gauge(
        "sentinel_catchup_found_today",
        "Customer messages found today by catch-up that no webhook brought.",
        catchup.found_today,
    );
    out.gauge(
        "sentinel_catchup_largest_gap_seconds",
        "The longest a message found by catch-up had waited in GHL since start.",
        catchup.largest_gap_seconds,
    );
    out.counter(
        "sentinel_catchup_found_total",
        "Events found by catch-up that no webhook brought, since start.",
        catchup.found_total,
    );

    // What managers are sent.
    out.gauge("sentinel_outbox_backlog", "Manager SMS waiting to be sent.", snapshot.outbox_backlog);
    out.gauge(
        "sentinel_outbox_not_sent",
        "Manager SMS that were never sent (no GHL_TOKEN, expired).",
        snapshot.outbox_not_sent,
    );
    out.gauge(
        "sentinel_notify_webhook_backlog",
        "Notification webhook deliveries waiting to be sent.",
        snapshot.webhook_backlog,
    );
    out.gauge(
        "sentinel_notify_webhook_not_sent",
        "Notification webhook deliveries given up (expired unanswered).",
        snapshot.webhook_not_sent,
    );

    // GHL.
    out.gauge("sentinel_ghl_up", "1 when GHL answers normally.", u8::from(snapshot.ghl == "ok"));
    out.gauge(
        "sentinel_ghl_token_refused",
        "1 when GHL refused the token (401) on the last request.",
        u8::from(ghl.token_refused),
    );
    out.counter("sentinel_ghl_requests_total", "GHL requests sent.", ghl.requests);
    out.counter("sentinel_ghl_rate_limited_total", "429 answers from GHL.", ghl.rate_limited);
    out.gauge(
        "sentinel_ghl_budget_used_requests",
        "GHL requests counted against the daily budget in its current day.",
        ghl.budget_used,
    );
    out.gauge("sentinel_ghl_budget_requests", "The daily GHL request budget (GHL_DAILY_BUDGET).", ghl.daily_budget);

    // The card.
    out.gauge(
        "sentinel_data_bytes",
        "Bytes the database, its nightly backups and the update slots take.",
        snapshot.data_bytes.0,
    );
    out.gauge("sentinel_data_budget_bytes", "The budget for them (DATA_MAX_MB).", snapshot.data_bytes.1);
    if let Some((size, free)) = snapshot.partition_bytes {
        out.gauge("sentinel_data_partition_size_bytes", "Size of the data partition.", size);
        out.gauge("sentinel_data_partition_free_bytes", "Bytes free on the data partition.", free);
    }
    if let Some(network) = &snapshot.network {
        out.gauge("sentinel_network_up", "1 when an interface carries a route out (issue 28).", u8::from(network.up));
        if let Some(dbm) = network.signal_dbm {
            out.gauge("sentinel_wifi_signal_dbm", "The Wi-Fi signal while the box uses Wi-Fi, in dBm.", dbm);
        }
    }
    out.gauge(
        "sentinel_disk_full",
        "1 when the last write found the data partition full.",
        u8::from(snapshot.disk_full),
    );

    // Updates.
    let update = &snapshot.update;
    out.gauge(
        "sentinel_update_rolled_back",
        "1 when the last update was rolled back (the previous version runs).",
        u8::from(update.last_result.as_deref() == Some("rolled-back")),
    );
    out.gauge(
        "sentinel_update_last_timestamp_seconds",
        "Unix time the last update ended, confirmed or not (0: none).",
        update.last_at.map_or(0, |at| at.as_second()),
    );
    out.gauge("sentinel_update_on_trial", "1 while a new version is on trial.", u8::from(update.trial.is_some()));

    // The listeners' guards.
    out.counter(
        "sentinel_auth_failures_total",
        "Requests with a wrong or missing secret or signature.",
        snapshot.auth_failures,
    );
    out.counter(
        "sentinel_auth_slowed_total",
        "Failed authentications answered 429 after a guessing budget ran out.",
        snapshot.auth_slowed,
    );
    out.counter("sentinel_console_pins_checked_total", "Console PINs really checked.", snapshot.pins_checked);
    out.counter(
        "sentinel_console_pins_unchecked_total",
        "Console sign-ins by PIN refused unchecked, a budget being used up.",
        snapshot.pins_unchecked,
    );

    if let Some(record) = &snapshot.offbox {
        out.gauge(
            "sentinel_offbox_last_success_timestamp_seconds",
            "Unix time of the last upload of an off-box copy.",
            record.last_success_at.map_or(0, |at| at.as_second()),
        );
        out.gauge("sentinel_offbox_failures", "Failed attempts at the off-box copy still waiting.", record.failures);
    }
    out.family("sentinel_actor_up", "gauge", "1 when the actor answers.");
    for actor in &snapshot.actors {
        out.sample("sentinel_actor_up", &[("actor", &actor.name)], u8::from(actor.ok));
    }

    // The optional AI check.
    out.gauge("sentinel_ai_gate_enabled", "1 when the AI check is on.", u8::from(ai.enabled));
    out.family("sentinel_ai_gate_checks_total", "counter", "AI checks of due texts, by result.");
    for result in CheckResult::ALL {
        out.sample("sentinel_ai_gate_checks_total", &[("result", result.as_str())], ai.count(result));
    }
    out.counter("sentinel_ai_gate_requests_total", "Requests sent to the AI endpoint.", ai.requests);
    out.text
}

/// The text being written, and the label every series carries.
struct Exposition {
    text: String,
    location: String,
}

impl Exposition {
    fn new(location: &str) -> Exposition {
        Exposition { text: String::new(), location: label_value(location) }
    }

    /// A family's `HELP` and `TYPE` lines.
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample, with `labels` and the location.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let mut all: Vec<String> =
            labels.iter().map(|(key, value)| format!("{key}=\"{}\"", label_value(value))).collect();
        all.push(format!("location=\"{}\"", self.location));
        let _ = writeln!(self.text, "{name}{{{}}} {value}", all.join(","));
    }

    fn gauge(&mut self, name: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, "gauge", help);
        self.sample(name, &[], value);
    }

    fn counter(&mut self, name: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, "counter", help);
        self.sample(name, &[], value);
    }

    /// `sentinel_first_reply_seconds`: a summary over the issues a staff reply resolved in the
    /// last 24 hours (a sliding window, so `_sum` and `_count` may fall; read the quantiles, or
    /// `_sum / _count`, not their `rate`). `replies` is sorted, shortest first.
    fn first_replies(&mut self, replies: &[f64]) {
        const NAME: &str = "sentinel_first_reply_seconds";
        self.family(
            NAME,
            "summary",
            "Business seconds from a customer's first message to the staff reply, over the issues resolved by a \
             staff reply in the last 24 hours.",
        );
        for quantile in QUANTILES {
            let value =
                nearest_rank(replies, quantile).map_or_else(|| "NaN".to_string(), |seconds| seconds.to_string());
            self.sample(NAME, &[("quantile", &quantile.to_string())], value);
        }
        let sum: f64 = replies.iter().sum();
        self.sample(&format!("{NAME}_sum"), &[], sum);
        self.sample(&format!("{NAME}_count"), &[], replies.len());
    }
}

/// The `quantile` of sorted `values` by the nearest-rank method; `None` when there are none.
fn nearest_rank(values: &[f64], quantile: f64) -> Option<f64> {
    let rank = (quantile * values.len() as f64).ceil() as usize;
    values.get(rank.clamp(1, values.len().max(1)) - 1).copied()
}

/// A label value escaped as the text format requires: backslash, double quote and newline.
fn label_value(value: &str) -> String {
    value.replace('\\', r"\\").replace('"', "\\\"").replace('\n', r"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::tests::sample;

    fn scrape(snapshot: &Snapshot, ghl: &GhlStatus) -> String {
        metrics(snapshot, ghl, &AiGateStatus::default())
    }

    /// The sample lines whose name is `name` exactly, labels included.
    fn lines<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
        text.lines().filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with('{'))).collect()
    }

    #[test]
    fn every_series_carries_the_location() {
        let snapshot = Snapshot { location: Some("abc123".into()), ..sample() };
        let text = scrape(&snapshot, &GhlStatus::default());
        let samples: Vec<&str> = text.lines().filter(|line| !line.starts_with('#')).collect();
        assert!(samples.len() > 30, "{text}");
        for line in samples {
            assert!(line.contains("location=\"abc123\""), "{line}");
        }
        let unknown = scrape(&sample(), &GhlStatus::default());
        assert_eq!(lines(&unknown, "sentinel_issues_open"), vec![r#"sentinel_issues_open{location="unknown"} 0"#]);
    }

    #[test]
    fn label_values_are_escaped() {
        let snapshot = Snapshot { location: Some("a\"b\\c\nd".into()), ..sample() };
        let text = scrape(&snapshot, &GhlStatus::default());
        assert_eq!(lines(&text, "sentinel_issues_open"), vec![r#"sentinel_issues_open{location="a\"b\\c\nd"} 0"#]);
    }

    #[test]
    fn each_family_is_typed_once_and_counters_alone_end_in_total() {
        let text = scrape(&sample(), &GhlStatus::default());
        let mut seen = std::collections::BTreeSet::new();
        for line in text.lines().filter_map(|line| line.strip_prefix("# TYPE ")) {
            let (name, kind) = line.split_once(' ').unwrap_or((line, ""));
            assert!(seen.insert(name.to_string()), "{name} typed twice");
            assert_eq!(name.ends_with("_total"), kind == "counter", "{line}");
        }
        assert!(text.contains("# HELP sentinel_build_info "), "{text}");
    }

    #[test]
    fn the_figures_a_fleet_is_alerted_on() {
        let mut snapshot = Snapshot {
            location: Some("abc123".into()),
            breaches_today: 3,
            business_hours_open: true,
            first_replies: vec![60.0, 120.0, 3600.0],
            data_bytes: (10, 100),
            partition_bytes: Some((1000, 250)),
            ..sample()
        };
        snapshot.update.last_result = Some("rolled-back".into());
        let ghl = GhlStatus { token_refused: true, budget_used: 42, daily_budget: 5000, ..GhlStatus::default() };
        let text = scrape(&snapshot, &ghl);
        let value = |name: &str| lines(&text, name).concat();
        assert_eq!(value("sentinel_breaches_today"), r#"sentinel_breaches_today{location="abc123"} 3"#);
        assert_eq!(value("sentinel_business_open"), r#"sentinel_business_open{location="abc123"} 1"#);
        assert_eq!(value("sentinel_ghl_token_refused"), r#"sentinel_ghl_token_refused{location="abc123"} 1"#);
        assert_eq!(
            value("sentinel_ghl_budget_used_requests"),
            r#"sentinel_ghl_budget_used_requests{location="abc123"} 42"#
        );
        assert_eq!(value("sentinel_update_rolled_back"), r#"sentinel_update_rolled_back{location="abc123"} 1"#);
        assert_eq!(
            value("sentinel_data_partition_free_bytes"),
            r#"sentinel_data_partition_free_bytes{location="abc123"} 250"#
        );
        assert_eq!(
            lines(&text, "sentinel_first_reply_seconds"),
            vec![
                r#"sentinel_first_reply_seconds{quantile="0.5",location="abc123"} 120"#,
                r#"sentinel_first_reply_seconds{quantile="0.9",location="abc123"} 3600"#,
                r#"sentinel_first_reply_seconds{quantile="1",location="abc123"} 3600"#,
            ]
        );
        assert_eq!(
            value("sentinel_first_reply_seconds_sum"),
            r#"sentinel_first_reply_seconds_sum{location="abc123"} 3780"#
        );
        assert_eq!(
            value("sentinel_first_reply_seconds_count"),
            r#"sentinel_first_reply_seconds_count{location="abc123"} 3"#
        );
    }

    #[test]
    fn no_replies_give_no_quantiles() {
        let text = scrape(&sample(), &GhlStatus::default());
        assert!(lines(&text, "sentinel_first_reply_seconds").iter().all(|line| line.ends_with(" NaN")), "{text}");
        assert_eq!(
            lines(&text, "sentinel_first_reply_seconds_count"),
            vec![r#"sentinel_first_reply_seconds_count{location="unknown"} 0"#]
        );
    }

    #[test]
    fn nearest_rank_picks_a_value_seen() {
        assert_eq!(nearest_rank(&[], 0.5), None);
        assert_eq!(nearest_rank(&[5.0], 0.5), Some(5.0));
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0], 0.5), Some(2.0));
        assert_eq!(nearest_rank(&[1.0, 2.0, 3.0, 4.0], 0.9), Some(4.0));
    }
}
