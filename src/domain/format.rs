//! Text for managers: the digest and the breach alert (SPEC §6), in the original's shape.
//!
//! Pure: everything arrives as arguments, `now` included, and the zone's real abbreviation
//! for the date (CST/CDT) comes from the time zone database, never a constant.

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::event::IssueKind;

/// The brand at the start of every message managers get.
pub const BRAND: &str = "NTPP Sentinel";

/// Longest single SMS; longer texts are split into numbered parts (SPEC §6).
pub const SMS_LIMIT: usize = 1600;

/// One issue as a digest or alert line shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Issue number.
    pub id: i64,
    /// SMS or CALL.
    pub kind: IssueKind,
    /// Contact name, else the masked phone.
    pub who: String,
    /// First inbound message.
    pub first_inbound_at: Timestamp,
    /// Due time.
    pub due_at: Timestamp,
    /// Texts received or call attempts.
    pub count: i64,
}

/// A resolution listed under "Resolved since last summary".
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Issue number.
    pub id: i64,
    /// SMS or CALL.
    pub kind: IssueKind,
    /// Contact name, else the masked phone.
    pub who: String,
    /// When it was resolved.
    pub resolved_at: Timestamp,
}

/// Everything a digest shows.
#[derive(Debug, Clone)]
pub struct Digest<'a> {
    /// Slot name, e.g. `morning`.
    pub slot: &'a str,
    /// The moment the digest is made.
    pub now: Timestamp,
    /// The business's zone.
    pub zone: &'a TimeZone,
    /// OPEN issues not escalated.
    pub overdue: Vec<Item>,
    /// OPEN issues 24+ business hours old.
    pub escalated: Vec<Item>,
    /// Resolutions since the last digest; `None` for the first digest ever.
    pub resolved: Option<Vec<Resolved>>,
    /// Lines per section before `+N more`.
    pub max_items: usize,
}

/// The digest text, before splitting.
pub fn digest(d: &Digest) -> String {
    let mut out =
        format!("{BRAND} — {} ({}) • as of {}\n", title_case(d.slot), short_date(d.now, d.zone), clock(d.now, d.zone));
    let calls = d.overdue.iter().chain(&d.escalated).filter(|i| i.kind == IssueKind::Call).count();
    let texts = d.overdue.iter().chain(&d.escalated).filter(|i| i.kind == IssueKind::Sms).count();
    out.push_str(&format!("Overdue: Calls {calls} | Texts {texts}\n"));
    let mut body = String::new();
    for (kind, heading) in [(IssueKind::Call, "Calls"), (IssueKind::Sms, "Texts")] {
        let items: Vec<&Item> = d.overdue.iter().filter(|i| i.kind == kind).collect();
        section(&mut body, &format!("{heading} ({}):", items.len()), &items, d.max_items, |i| {
            item_line(i, d.now, d.zone)
        });
    }
    let escalated: Vec<&Item> = d.escalated.iter().collect();
    section(&mut body, "⚠️ Escalated (24+ business hrs):", &escalated, d.max_items, |i| {
        item_line(i, d.now, d.zone)
    });
    if let Some(resolved) = &d.resolved {
        let items: Vec<&Resolved> = resolved.iter().collect();
        section(&mut body, &format!("✅ Resolved since last summary ({}):", items.len()), &items, d.max_items, |r| {
            format!("#{} {} {} at {}", r.id, r.kind, r.who, when(r.resolved_at, d.now, d.zone))
        });
    }
    if !body.is_empty() {
        out.push('\n');
        out.push_str(&body);
    }
    out.push_str(&reply_hint(d.overdue.iter().chain(&d.escalated).map(|i| i.id)));
    out
}

/// The breach alert for issues that just became OPEN.
pub fn alert(items: &[Item], now: Timestamp, zone: &TimeZone, max_items: usize) -> String {
    let mut out = format!("{BRAND} — SLA Breach Alert ({}) • as of {}\n", short_date(now, zone), clock(now, zone));
    out.push_str(&format!("New breaches: {}\n", items.len()));
    for (kind, heading) in [(IssueKind::Call, "Calls"), (IssueKind::Sms, "Texts")] {
        let section_items: Vec<&Item> = items.iter().filter(|i| i.kind == kind).collect();
        section(&mut out, &format!("{heading} ({}):", section_items.len()), &section_items, max_items, |i| {
            item_line(i, now, zone)
        });
    }
    out.push_str(&reply_hint(items.iter().map(|i| i.id)));
    out
}

/// Splits a text longer than one SMS into numbered parts `(1/3) …`, at line breaks.
pub fn split_sms(text: &str) -> Vec<String> {
    if text.chars().count() <= SMS_LIMIT {
        return vec![text.to_string()];
    }
    // Room for the "(12/12) " prefix.
    let room = SMS_LIMIT - 8;
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let mut line = line.to_string();
        while line.chars().count() > room {
            let head: String = line.chars().take(room).collect();
            line = line.chars().skip(room).collect();
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            parts.push(head);
        }
        if current.chars().count() + line.chars().count() + 1 > room && !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push('\n');
        }
        current.push_str(&line);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    let total = parts.len();
    parts.into_iter().enumerate().map(|(index, part)| format!("({}/{total}) {part}", index + 1)).collect()
}

/// Writes a section: heading, up to `max` lines, then `+N more`; nothing when empty, so a
/// heading is never left without lines.
fn section<T>(out: &mut String, heading: &str, items: &[&T], max: usize, line: impl Fn(&T) -> String) {
    if items.is_empty() {
        return;
    }
    out.push_str(heading);
    out.push('\n');
    for item in items.iter().take(max) {
        out.push_str(&line(item));
        out.push('\n');
    }
    if items.len() > max {
        out.push_str(&format!("+{} more\n", items.len() - max));
    }
}

fn item_line(item: &Item, now: Timestamp, zone: &TimeZone) -> String {
    let mut line = format!(
        "#{} {} — {} | due {}",
        item.id,
        item.who,
        when(item.first_inbound_at, now, zone),
        when(item.due_at, now, zone)
    );
    line.push_str(&repeats(item.kind, item.count));
    line
}

/// How often the customer tried, as digests and `List` show it: ` ×3` for three missed
/// calls, ` in=2` for two texts, nothing for one (SPEC §6).
pub fn repeats(kind: IssueKind, count: i64) -> String {
    match kind {
        _ if count <= 1 => String::new(),
        IssueKind::Call => format!(" ×{count}"),
        IssueKind::Sms => format!(" in={count}"),
    }
}

/// `1 pending issue`, `2 pending issues`: a count with its noun, singular or plural.
pub fn count(n: usize, singular: &str) -> String {
    if n == 1 { format!("1 {singular}") } else { format!("{n} {singular}s") }
}

/// The live issues a command touched, by status: `1 pending issue`, `2 open issues`,
/// `1 open and 1 pending issue`... `no open or pending issue` when none.
pub fn live_issues(open: usize, pending: usize) -> String {
    let noun = if open + pending == 1 { "issue" } else { "issues" };
    match (open, pending) {
        (0, 0) => "no open or pending issue".to_string(),
        (open, 0) => format!("{open} open {noun}"),
        (0, pending) => format!("{pending} pending {noun}"),
        (open, pending) => format!("{open} open and {pending} pending {noun}"),
    }
}

fn reply_hint(ids: impl Iterator<Item = i64>) -> String {
    let ids: Vec<i64> = ids.collect();
    match ids.first() {
        None => "Reply: List | More | Help".to_string(),
        Some(first) => {
            let some: Vec<String> = ids.iter().take(3).map(i64::to_string).collect();
            format!(
                "Reply: Open {first} | Resolve {} | Spam {first} | Note {first} <text> | List | More",
                some.join(" ")
            )
        }
    }
}

/// How long the service has run: `3d 4h 05m`, or `4h 05m` under a day.
pub fn uptime(seconds: i64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, (seconds % 86_400) / 3600, (seconds % 3600) / 60);
    if days > 0 { format!("{days}d {hours}h {minutes:02}m") } else { format!("{hours}h {minutes:02}m") }
}

/// `7:41am` today, `Fri 4:10pm` on another day.
pub fn when(at: Timestamp, now: Timestamp, zone: &TimeZone) -> String {
    let local = at.to_zoned(zone.clone());
    let today = now.to_zoned(zone.clone()).date();
    let time = twelve_hour(local.hour(), local.minute());
    if local.date() == today { time } else { format!("{} {time}", local.strftime("%a")) }
}

/// `8:00am CST`: the clock time with the zone's real abbreviation for that instant.
pub fn clock(at: Timestamp, zone: &TimeZone) -> String {
    let local = at.to_zoned(zone.clone());
    format!("{} {}", twelve_hour(local.hour(), local.minute()), local.strftime("%Z"))
}

/// `Nov 23`.
pub fn short_date(at: Timestamp, zone: &TimeZone) -> String {
    let local = at.to_zoned(zone.clone());
    format!("{} {}", local.strftime("%b"), local.day())
}

fn twelve_hour(hour: i8, minute: i8) -> String {
    let suffix = if hour < 12 { "am" } else { "pm" };
    let hour = match hour % 12 {
        0 => 12,
        h => h,
    };
    format!("{hour}:{minute:02}{suffix}")
}

fn title_case(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests;
