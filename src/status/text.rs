//! The status in words: one-line descriptions shared by the page and the screen, and the
//! screen `sentinel status` prints.

use std::fmt::Write as _;

use jiff::Timestamp;

use super::Snapshot;
use crate::clients::ai::AiGateStatus;
pub use crate::domain::format::uptime;
use crate::domain::format::when;

/// `31.4 MB used of 512 MB (DATA_MAX_MB: the database, its backups and the update slots)`.
pub(super) fn data_line((used, budget): (u64, u64)) -> String {
    let mb = |bytes: u64| bytes as f64 / f64::from(1 << 20);
    format!(
        "{:.1} MB used of {:.0} MB (DATA_MAX_MB: the database, its backups and the update slots)",
        mb(used),
        mb(budget)
    )
}

/// The wall clock's standing, in one line.
pub(super) fn clock_line(clock: &crate::signals::ClockTrust, now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
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
pub(super) fn pass_line(pass: Option<&crate::signals::PassInfo>, now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    match pass {
        None => "no regular pass over OPEN issues yet".to_string(),
        Some(pass) => {
            let deferred =
                if pass.deferred > 0 { format!(", {} left for the next pass", pass.deferred) } else { String::new() };
            format!(
                "last pass {}: {} of {} read, by {}{deferred}",
                when(pass.at, now, zone),
                pass.checked,
                crate::domain::format::count(pass.open, "OPEN issue"),
                pass.mode
            )
        }
    }
}

/// How the last catch-up pass ran and what catch-up found, in one line (SPEC §12).
pub fn catchup_line(
    webhooks: bool,
    pass: Option<&crate::signals::CatchUpInfo>,
    now: Timestamp,
    zone: &jiff::tz::TimeZone,
) -> String {
    let mode = if webhooks { "" } else { "webhooks off, catch-up alone; " };
    match pass {
        None => format!("{mode}no pass yet"),
        Some(pass) => {
            let at = pass.last_pass_at.map_or_else(|| "never".to_string(), |at| when(at, now, zone));
            let gap = if pass.largest_gap_seconds > 0 {
                format!(
                    ", longest wait {}",
                    crate::domain::calendar::duration_words(jiff::SignedDuration::from_secs(pass.largest_gap_seconds),)
                )
            } else {
                String::new()
            };
            let error = pass.error.as_ref().map(|why| format!("; {why}")).unwrap_or_default();
            format!(
                "{mode}last pass {at} ({}): found {}, {} today{gap}{error}",
                pass.reason, pass.found, pass.found_today
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

pub(super) fn or_never(at: Option<Timestamp>, now: Timestamp, zone: &jiff::tz::TimeZone) -> String {
    at.map_or_else(|| "never".to_string(), |at| when(at, now, zone))
}

/// The slot, a trial and the last update, in one line (issue 16).
pub fn update_line(update: &crate::update::UpdateStatus) -> String {
    let slot = if update.slot.is_empty() { "factory" } else { update.slot.as_str() };
    let mut line = format!("slot {slot}");
    if let Some(trial) = &update.trial {
        line.push_str(&format!("; {trial}"));
    }
    line.push_str(&format!("; last: {}", update.last.as_deref().unwrap_or("none")));
    line
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
        let _ = writeln!(out, "  storage:       {}", crate::signals::DISK_FULL);
    }
    let _ = writeln!(out, "  clock:         {}", clock_line(&snapshot.clock, now, zone));
    if let Some(network) = &snapshot.network {
        let _ = writeln!(out, "  network:       {}", network.line());
    }
    let _ = writeln!(out, "  last webhook:  {}", or_never(snapshot.last_webhook_at, now, zone));
    let ghl = match &snapshot.ghl_error {
        Some(error) if snapshot.ghl != "ok" => format!("{} ({error})", snapshot.ghl),
        _ => snapshot.ghl.clone(),
    };
    let _ = writeln!(out, "  GHL:           {ghl}; last success {}", or_never(snapshot.last_ghl_success_at, now, zone));
    let _ = writeln!(out, "  issues:        {} open, {} pending", snapshot.open, snapshot.pending);
    let _ = writeln!(out, "  outbox:        {} waiting", snapshot.outbox_backlog);
    if !snapshot.notify_targets.is_empty() {
        let _ = writeln!(out, "  notify:        {}", snapshot.notify_targets.join("; "));
    }
    if snapshot.webhook_backlog > 0 || snapshot.webhook_not_sent > 0 {
        let _ = writeln!(
            out,
            "  webhooks:      {} waiting, {} given up",
            snapshot.webhook_backlog, snapshot.webhook_not_sent
        );
    }
    let _ = writeln!(out, "  data:          {}", data_line(snapshot.data_bytes));
    let _ = writeln!(out, "  resolver:      {}", pass_line(snapshot.resolver_pass.as_ref(), now, zone));
    let _ = writeln!(out, "  catch-up:      {}", catchup_line(snapshot.webhooks, snapshot.catchup.as_ref(), now, zone));
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
    let _ = writeln!(out, "  update:        {}", update_line(&snapshot.update));
    if let Some((slot, at)) = &snapshot.next_digest {
        let _ = writeln!(out, "  next digest:   {slot} at {}", when(*at, now, zone));
    }
    for day in &snapshot.special_days {
        let _ = writeln!(out, "  special day:   {day}");
    }
    out
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
}
