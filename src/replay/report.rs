//! What a replay found: the counts, the time to the first human reply, the worst days and
//! the breaches by weekday and hour, read off the replayed issues, and the text printed.
//!
//! A breach is an issue that became OPEN. Days and hours are those of the contact's first
//! message or call, in the calendar's zone: the time an owner would staff for.

use std::collections::BTreeMap;
use std::fmt;

use jiff::civil::Date;
use jiff::{SignedDuration, Timestamp};

use crate::domain::calendar::Calendar;
use crate::domain::issue::Issue;

/// How many worst days are listed.
const WORST_DAYS: usize = 5;

/// The weekday names, Monday first, as the heat map's rows.
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// What a replay found.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Raw events replayed.
    pub events: u64,
    /// Issues counted (those that came in within the window).
    pub issues: usize,
    /// Issues that became OPEN.
    pub breaches: usize,
    /// Breaches OPEN for at least the escalation age in business time.
    pub escalations: usize,
    /// Business time from the first message to the staff reply that resolved it, shortest first.
    pub replies: Vec<SignedDuration>,
    /// The days with most breaches, most first (ties: earlier day first).
    pub worst_days: Vec<(Date, usize)>,
    /// Breaches by weekday (Monday = 0) and hour of the day.
    pub heat: [[usize; 24]; 7],
    /// When the replay stopped settling.
    pub end: Timestamp,
    /// The first day counted (`--since`, else the day of the first issue counted), in the
    /// business time zone; `None` when no issue was counted and no `--since` was given.
    pub first_day: Option<Date>,
    /// The last day replayed (`--until`, else the day of the last event).
    pub last_day: Date,
    /// The response target for texts, in business time.
    pub sms_sla: SignedDuration,
    /// The response target for missed calls, in business time.
    pub call_sla: SignedDuration,
}

/// The settings a report states beside its figures.
#[derive(Debug, Clone, Copy)]
pub struct Targets {
    /// Age in business time at which an OPEN issue counts as escalated.
    pub escalation: SignedDuration,
    /// The response target for texts.
    pub sms_sla: SignedDuration,
    /// The response target for missed calls.
    pub call_sla: SignedDuration,
}

/// Reads the report off the replayed issues: those that came in at or after `since` count.
pub fn build(
    issues: &[Issue],
    calendar: &Calendar,
    targets: Targets,
    since: Option<Timestamp>,
    end: Timestamp,
    events: u64,
) -> Report {
    let escalation = targets.escalation;
    let counted: Vec<&Issue> =
        issues.iter().filter(|issue| since.is_none_or(|since| issue.first_inbound_at >= since)).collect();
    let breached: Vec<&Issue> = counted.iter().copied().filter(|issue| issue.opened_at.is_some()).collect();
    // The digest's test (summary.rs): business age since the first message, while still OPEN.
    let escalations = breached
        .iter()
        .filter(|issue| {
            let until = issue.resolved_at.unwrap_or(end);
            calendar.business_time_between(issue.first_inbound_at, until) >= escalation
        })
        .count();
    let mut replies: Vec<SignedDuration> = counted
        .iter()
        .filter(|issue| issue.resolved_by.as_deref().is_some_and(|by| by.starts_with("staff_reply")))
        .filter_map(|issue| Some(calendar.business_time_between(issue.first_inbound_at, issue.resolved_at?)))
        .collect();
    replies.sort();
    let mut heat = [[0usize; 24]; 7];
    let mut days: BTreeMap<Date, usize> = BTreeMap::new();
    for issue in &breached {
        let local = issue.first_inbound_at.to_zoned(calendar.zone().clone());
        heat[local.weekday().to_monday_zero_offset() as usize][local.hour() as usize] += 1;
        *days.entry(local.date()).or_default() += 1;
    }
    let zone = calendar.zone().clone();
    let first = since.or_else(|| counted.iter().map(|issue| issue.first_inbound_at).min());
    // The end is the start of the day after `--until`, or the last event: its last day is the
    // day of the moment before it.
    let last = end.checked_sub(SignedDuration::from_nanos(1)).unwrap_or(end);
    Report {
        first_day: first.map(|at| at.to_zoned(zone.clone()).date()),
        last_day: last.to_zoned(zone).date(),
        sms_sla: targets.sms_sla,
        call_sla: targets.call_sla,
        events,
        issues: counted.len(),
        breaches: breached.len(),
        escalations,
        replies,
        worst_days: worst_days(days),
        heat,
        end,
    }
}

/// The days with most breaches, most first; ties go to the earlier day.
pub fn worst_days(days: BTreeMap<Date, usize>) -> Vec<(Date, usize)> {
    let mut days: Vec<(Date, usize)> = days.into_iter().collect();
    days.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    days.truncate(WORST_DAYS);
    days
}

/// The `p`th percentile (0–100) of sorted durations, by nearest rank; `None` when empty.
pub fn percentile(sorted: &[SignedDuration], p: u32) -> Option<SignedDuration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p as usize).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// A duration in hours and minutes, e.g. `1h 05m`.
pub fn hours_minutes(duration: SignedDuration) -> String {
    let minutes = duration.as_secs() / 60;
    format!("{}h {:02}m", minutes / 60, minutes % 60)
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "replayed {} events, settled up to {}", self.events, self.end)?;
        writeln!(f, "issues:      {}", self.issues)?;
        writeln!(f, "breaches:    {}", self.breaches)?;
        writeln!(f, "escalations: {}", self.escalations)?;
        let show = |p| percentile(&self.replies, p).map_or("-".to_string(), hours_minutes);
        writeln!(
            f,
            "business time to the first human reply ({} replies): median {}, p90 {}",
            self.replies.len(),
            show(50),
            show(90)
        )?;
        writeln!(f, "worst days (breaches):")?;
        if self.worst_days.is_empty() {
            writeln!(f, "  none")?;
        }
        for (date, count) in &self.worst_days {
            writeln!(f, "  {} {date}  {count}", WEEKDAYS[date.weekday().to_monday_zero_offset() as usize])?;
        }
        writeln!(f, "breaches by weekday and hour the contact came in (hours with none left out):")?;
        let hours: Vec<usize> = (0..24).filter(|&hour| self.heat.iter().any(|row| row[hour] > 0)).collect();
        write!(f, "     ")?;
        for hour in &hours {
            write!(f, " {hour:>3}")?;
        }
        writeln!(f)?;
        for (day, row) in WEEKDAYS.iter().zip(&self.heat) {
            write!(f, "  {day}")?;
            for &hour in &hours {
                match row[hour] {
                    0 => write!(f, "   .")?,
                    n => write!(f, " {n:>3}")?,
                }
            }
            writeln!(f)?;
        }
        writeln!(
            f,
            "note: only the stored webhooks are known; live, GHL is also asked at each due time, \
             so a reply seen only there opens here"
        )
    }
}

#[cfg(test)]
mod tests;
