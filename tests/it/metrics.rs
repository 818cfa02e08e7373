//! `/metrics` for a fleet (issue 29): the location on every series, the figures a user
//! notices, Prometheus's own lint, and the alert rules and dashboard under `deploy/` naming
//! only series the binary writes.

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{Context as _, ensure};

use crate::harness::{Sentinel, metric, payload};

/// Monday 2 March 2026, 09:00 in Chicago: business hours by the default calendar.
const MONDAY_9AM: &str = "2026-03-02T15:00:00Z";

/// The scrape's sample lines, each checked to carry `location="{location}"`.
fn all_located(scrape: &str, location: &str) -> anyhow::Result<usize> {
    let label = format!("location=\"{location}\"");
    let samples: Vec<&str> = scrape.lines().filter(|line| !line.is_empty() && !line.starts_with('#')).collect();
    for line in &samples {
        ensure!(line.contains(&label), "{line} has no {label}:\n{scrape}");
    }
    Ok(samples.len())
}

#[test]
fn the_configured_location_labels_every_series() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("GHL_LOCATION_ID", "abc123"), ("SENTINEL_TEST_NOW", MONDAY_9AM)])?;
    let scrape = app.admin("GET", "/metrics")?;
    assert_eq!(scrape.status, 200, "{scrape:?}");
    assert!(all_located(&scrape.text, "abc123")? > 40, "{}", scrape.text);
    assert_eq!(metric(&scrape.text, "sentinel_business_open"), Some("1"), "{}", scrape.text);
    app.set_clock("2026-03-02T03:00:00Z")?;
    let night = app.admin("GET", "/metrics")?.text;
    assert_eq!(metric(&night, "sentinel_business_open"), Some("0"), "Sunday night: {night}");
    Ok(())
}

/// The learnt location takes over from `unknown` at the first webhook; the issue it opens
/// shows as pending, then as open and as today's breach once its window has passed.
#[test]
fn a_webhook_moves_the_issue_figures_under_the_learnt_location() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("SENTINEL_TEST_NOW", MONDAY_9AM)])?;
    let before = app.admin("GET", "/metrics")?.text;
    all_located(&before, "unknown")?;
    assert_eq!(metric(&before, "sentinel_issues_pending"), Some("0"), "{before}");
    assert_eq!(metric(&before, "sentinel_last_webhook_timestamp_seconds"), Some("0"), "{before}");

    assert_eq!(app.webhook("inbound_sms", &payload("workflow_inbound_sms.json"))?.status, 200);
    let after = app.admin("GET", "/metrics")?.text;
    all_located(&after, "ntppLocation01")?;
    assert_eq!(metric(&after, "sentinel_issues_pending"), Some("1"), "{after}");
    assert_eq!(metric(&after, "sentinel_issues_open"), Some("0"), "{after}");
    assert_eq!(metric(&after, "sentinel_breaches_today"), Some("0"), "{after}");
    let received: jiff::Timestamp = MONDAY_9AM.parse()?;
    assert_eq!(
        metric(&after, "sentinel_last_webhook_timestamp_seconds"),
        Some(received.as_second().to_string().as_str()),
        "{after}"
    );

    // The text's two business hours run out at 11:00; the SLA clock opens the issue.
    app.set_clock("2026-03-02T17:01:00Z")?;
    app.eventually("the issue opens", || {
        let scrape = app.admin("GET", "/metrics")?.text;
        Ok(metric(&scrape, "sentinel_issues_open") == Some("1"))
    })?;
    let overdue = app.admin("GET", "/metrics")?.text;
    assert_eq!(metric(&overdue, "sentinel_issues_pending"), Some("0"), "{overdue}");
    assert_eq!(metric(&overdue, "sentinel_breaches_today"), Some("1"), "{overdue}");
    assert_eq!(metric(&overdue, "sentinel_first_reply_seconds_count"), Some("0"), "no reply yet: {overdue}");
    Ok(())
}

/// `promtool check metrics` finds nothing to say about a real scrape, and every `sentinel_*`
/// series the alert rules and the dashboard use is in it (so a rename cannot leave a rule
/// watching nothing). Without promtool the lint is skipped, but not under CI.
#[test]
fn the_scrape_passes_promtool_and_has_every_series_the_rules_and_dashboard_use() -> anyhow::Result<()> {
    let app = Sentinel::start(&[("GHL_LOCATION_ID", "abc123")])?;
    let scrape = app.admin("GET", "/metrics")?.text;

    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut used = BTreeSet::new();
    for file in ["deploy/prometheus/sentinel-rules.yml", "deploy/grafana/sentinel-fleet.json"] {
        let text = std::fs::read_to_string(root.join(file)).with_context(|| format!("reading {file}"))?;
        let names = series_names(&text);
        ensure!(!names.is_empty(), "{file} names no sentinel_ series");
        used.extend(names);
    }
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("deploy/grafana/sentinel-fleet.json"))?)?;
    ensure!(
        dashboard["templating"]["list"].as_array().is_some_and(|vars| vars.iter().any(|var| var["name"] == "location"))
    );
    let written: BTreeSet<String> = scrape
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.split(['{', ' ']).next())
        .map(str::to_string)
        .collect();
    let missing: Vec<&String> = used.iter().filter(|name| !written.contains(*name)).collect();
    assert!(missing.is_empty(), "used under deploy/ but not in the scrape: {missing:?}\n{scrape}");

    let Ok(mut promtool) = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    else {
        ensure!(std::env::var("CI").is_err(), "promtool (Debian package prometheus) is missing under CI");
        eprintln!("skipped: promtool is missing");
        return Ok(());
    };
    promtool.stdin.take().context("promtool's stdin")?.write_all(scrape.as_bytes())?;
    let output = promtool.wait_with_output()?;
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success() && said.trim().is_empty(), "promtool check metrics: {said}\n{scrape}");
    Ok(())
}

/// The `sentinel_*` series names in a rules or dashboard file.
fn series_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = text;
    while let Some(start) = rest.find("sentinel_") {
        let tail = &rest[start..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        names.insert(tail[..end].to_string());
        rest = &tail[end..];
    }
    names
}
