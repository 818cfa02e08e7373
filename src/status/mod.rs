//! What staff see (SPEC §11): one snapshot of the appliance, shown as JSON (`/api/status`),
//! as a plain HTML page readable on a phone (`/status`), and as one screen by
//! `sentinel status`, which reads the admin listener.

use std::fmt::Write as _;
use std::time::Duration;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::actors::store::StoreMsg;
use crate::actors::summary::next_digest;
use crate::actors::{CALL_TIMEOUT, Ctx, call, names};
use crate::ai::{AiGateStatus, CheckResult};
use crate::domain::event::Status;
use crate::domain::format::{clock, when};
use crate::domain::phone::mask_digits;
use crate::store::issues::Issue;
use crate::supervisor::{ActorHealth, probe_all};

/// The snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Snapshot {
    /// Version of the binary.
    pub version: String,
    /// Seconds since start.
    pub uptime_seconds: i64,
    /// Every actor's answer.
    pub actors: Vec<ActorState>,
    /// GHL: `ok`, `degraded`, `not configured`.
    pub ghl: String,
    /// The last GHL failure, if GHL is degraded.
    pub ghl_error: Option<String>,
    /// Last successful GHL request.
    pub last_ghl_success_at: Option<Timestamp>,
    /// Last webhook received.
    pub last_webhook_at: Option<Timestamp>,
    /// Outbox rows waiting.
    pub outbox_backlog: i64,
    /// Manager SMS that were never sent.
    #[serde(default)]
    pub outbox_not_sent: i64,
    /// The newest webhooks and what came of them, newest first.
    #[serde(default)]
    pub recent_events: Vec<crate::store::events::Recent>,
    /// How the resolver's last regular pass over OPEN issues ran.
    #[serde(default)]
    pub resolver_pass: Option<crate::actors::PassInfo>,
    /// Whether the wall clock is believed, and its last step (issue 15).
    #[serde(default)]
    pub clock: crate::actors::clockwatch::ClockTrust,
    /// The data partition is full.
    #[serde(default)]
    pub disk_full: bool,
    /// Bytes the database takes, and the budget for it and its backups (`DATA_MAX_MB`).
    #[serde(default)]
    pub data_bytes: (u64, u64),
    /// Why the newest of them was not sent (e.g. "not sent: no GHL_TOKEN").
    #[serde(default)]
    pub outbox_not_sent_reason: Option<String>,
    /// OPEN issues.
    pub open: usize,
    /// PENDING issues.
    pub pending: usize,
    /// The next digest: slot name and time.
    pub next_digest: Option<(String, Timestamp)>,
    /// Requests whose secret or signature was wrong, since start.
    #[serde(default)]
    pub auth_failures: u64,
    /// Of those, the ones slowed down (429) because a guessing budget was used up.
    #[serde(default)]
    pub auth_slowed: u64,
    /// The optional AI check (SPEC §10): on or off, and what it did since start.
    #[serde(default)]
    pub ai_gate: AiGateStatus,
    /// The off-box copy of the nightly backup (issue 15); `None` when `OFFBOX_URL` is unset.
    #[serde(default)]
    pub offbox: Option<crate::offbox::Record>,
}

/// One actor's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ActorState {
    /// Name.
    pub name: String,
    /// Whether it answered.
    pub ok: bool,
}

impl From<ActorHealth> for ActorState {
    fn from(health: ActorHealth) -> ActorState {
        ActorState { name: health.name.to_string(), ok: health.ok }
    }
}

/// Takes the snapshot and the live issues (by due time).
pub async fn gather(ctx: &Ctx) -> anyhow::Result<(Snapshot, Vec<Issue>)> {
    let actors = probe_all(Duration::from_secs(3)).await;
    let stats =
        call(names::STORE, |reply| StoreMsg::Stats { reply }, CALL_TIMEOUT).await?.map_err(anyhow::Error::msg)?;
    let statuses = vec![Status::Open, Status::Pending];
    let live = call(names::STORE, |reply| StoreMsg::ListIssues { statuses, reply }, CALL_TIMEOUT)
        .await?
        .map_err(anyhow::Error::msg)?;
    let now = ctx.time.now();
    let ghl = ctx.ghl.status();
    let snapshot = Snapshot {
        version: env!("CARGO_PKG_VERSION").to_string(),
        uptime_seconds: ctx.uptime().as_secs() as i64,
        actors: actors.into_iter().map(ActorState::from).collect(),
        ghl: ghl.state.to_string(),
        ghl_error: ghl.last_error,
        last_ghl_success_at: ghl.last_success_at,
        last_webhook_at: stats.last_webhook_at,
        outbox_backlog: stats.outbox_backlog,
        outbox_not_sent: stats.outbox_not_sent.0,
        recent_events: stats.recent_events,
        resolver_pass: ctx.signals.resolver_pass(),
        clock: ctx.signals.clock(),
        disk_full: ctx.signals.disk_full(),
        data_bytes: (stats.data_bytes, ctx.config.data_budget()),
        outbox_not_sent_reason: stats.outbox_not_sent.1,
        open: live.iter().filter(|i| i.status == Status::Open).count(),
        pending: live.iter().filter(|i| i.status == Status::Pending).count(),
        next_digest: next_digest(&ctx.config, now).map(|(at, slot)| (slot, at)),
        auth_failures: 0,
        auth_slowed: 0,
        ai_gate: ctx.ai.status(),
        offbox: ctx.offbox.status(),
    };
    Ok((snapshot, live))
}

/// `3.1 MB used of 512 MB (DATA_MAX_MB)`.
fn data_line((used, budget): (u64, u64)) -> String {
    let mb = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    format!("{:.1} MB used of {:.0} MB (DATA_MAX_MB, with the backups)", mb(used), mb(budget))
}

/// The wall clock's standing, in one line.
fn clock_line(clock: &crate::actors::clockwatch::ClockTrust, now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    let mut line = match &clock.untrusted {
        Some(reason) => reason.clone(),
        None => "synchronized".to_string(),
    };
    if let Some((at, seconds)) = clock.last_step {
        line.push_str(&format!("; last stepped {} by {:+} s", when(at, now, zone), seconds));
    }
    if clock.replayed > 0 {
        line.push_str(&format!("; {} webhook(s) judged after the time was known", clock.replayed));
    }
    line
}

/// How the resolver's last regular pass ran, in one line.
fn pass_line(pass: Option<&crate::actors::PassInfo>, now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    match pass {
        None => "no regular pass over OPEN issues yet".to_string(),
        Some(pass) => {
            let deferred =
                if pass.deferred > 0 { format!(", {} left for the next pass", pass.deferred) } else { String::new() };
            format!(
                "last pass {}: {} of {} OPEN issue(s) read, by {}{deferred}",
                when(pass.at, now, zone),
                pass.checked,
                pass.open,
                pass.mode
            )
        }
    }
}

/// `2h 05m`, `45m`, `overdue 1h 10m`.
pub fn countdown(due_at: Timestamp, now: Timestamp) -> String {
    let seconds = due_at.duration_since(now).as_secs();
    let (prefix, seconds) = if seconds < 0 { ("overdue ", -seconds) } else { ("in ", seconds) };
    let (hours, minutes) = (seconds / 3600, (seconds % 3600) / 60);
    if hours > 0 { format!("{prefix}{hours}h {minutes:02}m") } else { format!("{prefix}{minutes}m") }
}

/// One line about the AI check: `off`, or its model and what it did since start.
pub fn ai_gate_line(ai: &AiGateStatus) -> String {
    if !ai.enabled {
        return "off".to_string();
    }
    let mut line = format!(
        "on ({}): {} resolved, {} still waiting, {} failed, {} from cache, {} skipped since start",
        ai.model, ai.suppressed, ai.waiting, ai.failed, ai.cached, ai.skipped
    );
    if let Some(error) = &ai.last_error {
        let _ = write!(line, "; last failure: {error}");
    }
    line
}

/// One line about the off-box copy: off, its last upload, or why it fails and what comes next.
pub fn offbox_line(record: Option<&crate::offbox::Record>, now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    let Some(record) = record else { return "off (OFFBOX_URL is not set)".to_string() };
    let last = match (&record.last_object, record.last_success_at) {
        (Some(object), Some(at)) => {
            format!("last upload {}: {object} ({} KiB)", when(at, now, zone), record.last_bytes.unwrap_or(0) / 1024)
        }
        _ => "no upload yet".to_string(),
    };
    let (Some(date), Some(error)) = (record.failing_date, &record.last_error) else { return last };
    let next = match record.next_try_at {
        Some(at) => format!("next try {}", when(at, now, zone)),
        None => "no more tries; the next nightly backup tries again".to_string(),
    };
    format!("FAILING: {} attempt(s) at the {date} backup, last: {error}; {next}; {last}", record.failures)
}

/// `3d 4h 05m`.
pub fn uptime(seconds: i64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, (seconds % 86_400) / 3600, (seconds % 3600) / 60);
    if days > 0 { format!("{days}d {hours}h {minutes:02}m") } else { format!("{hours}h {minutes:02}m") }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn or_never(at: Option<Timestamp>, now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    at.map_or_else(|| "never".to_string(), |at| when(at, now, zone))
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
        let _ = write!(page, "<li class=\"bad\">Storage: {}</li>", escape(crate::actors::DISK_FULL));
    }
    let _ = write!(page, "<li>GHL: {}</li>", escape(&snapshot.ghl));
    let clock_class = if snapshot.clock.untrusted.is_some() { "bad" } else { "ok" };
    let _ = write!(page, "<li class=\"{clock_class}\">Clock: {}</li>", escape(&clock_line(&snapshot.clock, now, zone)));
    let _ = write!(page, "<li>Last webhook: {}</li>", escape(&or_never(snapshot.last_webhook_at, now, zone)));
    let _ = write!(page, "<li>Outbox backlog: {}</li>", snapshot.outbox_backlog);
    let _ = write!(page, "<li>Data: {}</li>", data_line(snapshot.data_bytes));
    let _ = write!(page, "<li>Resolver: {}</li>", escape(&pass_line(snapshot.resolver_pass.as_ref(), now, zone)));
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
    if let Some((slot, at)) = &snapshot.next_digest {
        let _ = write!(page, "<li>Next digest: {} at {}</li>", escape(slot), escape(&when(*at, now, zone)));
    }
    page.push_str("</ul>");
    let _ = write!(page, "<h2>Open and pending ({} open, {} pending)</h2>", snapshot.open, snapshot.pending);
    if live.is_empty() {
        page.push_str("<p>Nothing is waiting for a reply.</p>");
    } else {
        page.push_str("<table><tr><th>#</th><th>Who</th><th>Kind</th><th>Status</th><th>Due</th></tr>");
        for issue in live {
            let who =
                issue.contact_name.clone().or_else(|| issue.phone.as_deref().map(mask_digits)).unwrap_or_default();
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

/// One screen for `sentinel status`.
pub fn screen(snapshot: &Snapshot, now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    let mut out = String::new();
    let healthy = snapshot.actors.iter().all(|a| a.ok);
    let _ = writeln!(out, "Sentinel {} — {}", snapshot.version, if healthy { "healthy" } else { "FAILING" });
    let _ = writeln!(out, "  up:            {}", uptime(snapshot.uptime_seconds));
    for actor in &snapshot.actors {
        let _ = writeln!(out, "  {:<14} {}", format!("{}:", actor.name), if actor.ok { "ok" } else { "NOT ANSWERING" });
    }
    if snapshot.disk_full {
        let _ = writeln!(out, "  storage:       {}", crate::actors::DISK_FULL);
    }
    let _ = writeln!(out, "  clock:         {}", clock_line(&snapshot.clock, now, zone));
    let _ = writeln!(out, "  last webhook:  {}", or_never(snapshot.last_webhook_at, now, zone));
    let ghl = match &snapshot.ghl_error {
        Some(error) if snapshot.ghl != "ok" => format!("{} ({error})", snapshot.ghl),
        _ => snapshot.ghl.clone(),
    };
    let _ = writeln!(out, "  GHL:           {ghl}; last success {}", or_never(snapshot.last_ghl_success_at, now, zone));
    let _ = writeln!(out, "  issues:        {} open, {} pending", snapshot.open, snapshot.pending);
    let _ = writeln!(out, "  outbox:        {} waiting", snapshot.outbox_backlog);
    let _ = writeln!(out, "  data:          {}", data_line(snapshot.data_bytes));
    let _ = writeln!(out, "  resolver:      {}", pass_line(snapshot.resolver_pass.as_ref(), now, zone));
    if snapshot.outbox_not_sent > 0 {
        let _ = writeln!(
            out,
            "  never sent:    {} manager SMS (last: {})",
            snapshot.outbox_not_sent,
            snapshot.outbox_not_sent_reason.as_deref().unwrap_or("unknown")
        );
    }
    let _ =
        writeln!(out, "  auth failures: {} since start ({} slowed down)", snapshot.auth_failures, snapshot.auth_slowed);
    let _ = writeln!(out, "  AI check:      {}", ai_gate_line(&snapshot.ai_gate));
    let _ = writeln!(out, "  off-box copy:  {}", offbox_line(snapshot.offbox.as_ref(), now, zone));
    if let Some((slot, at)) = &snapshot.next_digest {
        let _ = writeln!(out, "  next digest:   {slot} at {}", when(*at, now, zone));
    }
    out
}

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
    let last = snapshot.last_webhook_at.map_or(0, |at| at.as_second());
    gauge("sentinel_last_webhook_timestamp_seconds", "Unix time of the last webhook.", last.to_string());
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
        "# HELP sentinel_auth_failures_total Requests with a wrong or missing secret or signature.\n# TYPE sentinel_auth_failures_total counter\nsentinel_auth_failures_total {}",
        snapshot.auth_failures
    );
    let _ = writeln!(
        out,
        "# HELP sentinel_auth_slowed_total Failed authentications answered 429 after a guessing budget ran out.\n# TYPE sentinel_auth_slowed_total counter\nsentinel_auth_slowed_total {}",
        snapshot.auth_slowed
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

/// `sentinel status`: asks the running service's admin listener and prints one screen.
pub fn print(config: &crate::config::Config) -> anyhow::Result<String> {
    use anyhow::Context as _;
    let secret = match &config.webhook_secret {
        Some(secret) => secret.expose().to_string(),
        None => std::fs::read_to_string(crate::secret::secret_path(&config.data_dir()))
            .context("reading the webhook secret (is WEBHOOK_SECRET set, or has the service run once?)")?
            .trim()
            .to_string(),
    };
    let url = format!("http://{}/api/status", config.admin_listen_addr);
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
    let snapshot: Snapshot = agent
        .get(&url)
        .header("X-NTPP-Secret", &secret)
        .call()
        .with_context(|| format!("asking the service at {url} (is it running?)"))?
        .body_mut()
        .read_json()
        .context("reading the service's answer")?;
    let zone = config.calendar.zone();
    Ok(screen(&snapshot, Timestamp::now(), zone))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn countdowns_read_naturally() -> anyhow::Result<()> {
        let now: Timestamp = "2026-03-02T15:00:00Z".parse()?;
        assert_eq!(countdown("2026-03-02T17:05:00Z".parse()?, now), "in 2h 05m");
        assert_eq!(countdown("2026-03-02T15:45:00Z".parse()?, now), "in 45m");
        assert_eq!(countdown("2026-03-02T13:50:00Z".parse()?, now), "overdue 1h 10m");
        assert_eq!(uptime(3 * 86_400 + 4 * 3600 + 5 * 60), "3d 4h 05m");
        Ok(())
    }

    #[test]
    fn names_are_escaped_on_the_page() -> anyhow::Result<()> {
        let zone = jiff::tz::TimeZone::get("America/Chicago")?;
        let now: Timestamp = "2026-03-02T15:00:00Z".parse()?;
        let snapshot = Snapshot {
            version: "0".into(),
            uptime_seconds: 1,
            actors: vec![],
            ghl: "ok".into(),
            ghl_error: None,
            last_ghl_success_at: None,
            last_webhook_at: None,
            outbox_backlog: 0,
            outbox_not_sent: 0,
            recent_events: Vec::new(),
            resolver_pass: None,
            clock: Default::default(),
            disk_full: false,
            data_bytes: (0, 0),
            outbox_not_sent_reason: None,
            open: 1,
            pending: 0,
            next_digest: None,
            auth_failures: 0,
            auth_slowed: 0,
            ai_gate: AiGateStatus::default(),
            offbox: None,
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
        Ok(())
    }
}
