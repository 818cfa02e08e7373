//! Special days (issue 18): their table, the calendar in force, and carrying out managers'
//! `Closed`, `Open <day> <hours>`, `Normal` and `Hours` commands.
//!
//! A change runs inside the command's own transaction: the day is written, every PENDING
//! issue's due time is computed again on the new calendar (each move leaves a "due moved"
//! timeline entry that `Why` shows), and the confirmation goes to every manager. OPEN issues
//! keep their state: they already fell due and managers were told. The special days are read
//! once per command; the calendar the change makes goes back in the command's answer, so the
//! webhooks after it in the same commit see it, and after the commit the store actor shares it
//! with the other actors.

use jiff::Timestamp;
use jiff::civil::Date;
use rusqlite::{Connection, params};

use super::{World, exec, issues, ts};
use crate::domain::calendar::{Calendar, Interval, SpecialDay};
use crate::domain::command::Answer;
use crate::domain::command::{self, HoursCommand};
use crate::domain::event::{IssueKind, Status};
use crate::domain::format;
use crate::domain::hours::{self, Day, NewHours};

/// The one query that reads the special days.
pub(super) const LOAD_DAYS: &str = "SELECT date, open, set_by FROM special_days ORDER BY date";

/// Every special day, by date. A row this version cannot read is skipped with a warning.
pub fn load(conn: &Connection) -> rusqlite::Result<Vec<SpecialDay>> {
    let mut stmt = conn.prepare_cached(LOAD_DAYS)?;
    let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get(2)?)))?;
    let mut days = Vec::new();
    for row in rows {
        let (date, open, by) = row?;
        match (date.parse::<Date>(), hours::from_stored(&open)) {
            (Ok(date), Some(open)) => days.push(SpecialDay { date, open, by }),
            _ => tracing::warn!(date, open, "a special day could not be read; it is ignored"),
        }
    }
    Ok(days)
}

/// `base` (the configured calendar) with the stored special days laid over it.
pub fn calendar(conn: &Connection, base: &Calendar) -> rusqlite::Result<Calendar> {
    Ok(base.with_special_days(load(conn)?))
}

/// Carries out an hours command from `manager` (named `who` in replies and timelines). The
/// special days are read once, here; a change is laid over them, and the calendar it makes is
/// in the answer, for the rest of the transaction and for the store actor to share.
pub fn run(
    conn: &Connection,
    world: &World<'_>,
    manager: &str,
    who: &str,
    command: HoursCommand,
    now: Timestamp,
) -> rusqlite::Result<Answer> {
    let base = &world.config.calendar;
    let mut days = load(conn)?;
    let current = base.with_special_days(days.iter().cloned());
    let today = now.to_zoned(base.zone().clone()).date();
    // What the day becomes: its special hours, or `None` for its usual hours again.
    let (date, open) = match plan(&current, command, today) {
        Ok(change) => change,
        Err(reply) => return Ok(Answer { reply, hours: None }),
    };
    let usually = hours::hours_words(current.regular_hours_on(date).0);
    days.retain(|day| day.date != date);
    let (change, detail) = match open {
        Some(open) => {
            let day = SpecialDay { date, open, by: who.to_string() };
            set(conn, &day, manager, now)?;
            let change = hours::change_words(date, &day.open);
            days.push(day);
            (change.clone(), format!("{} (usually {usually}), set by {who}", capitalised(&change)))
        }
        None => {
            let words = hours::date_words(date);
            if !remove(conn, date)? {
                let reply = format!("{words} has no special hours; it is {usually}. Send Hours for the week.");
                return Ok(Answer { reply, hours: None });
            }
            (format!("usual hours {words}"), format!("{words} is back to its usual hours, {usually}, set by {who}"))
        }
    };
    let updated = base.with_special_days(days);
    let moved = move_due_times(conn, world, &updated, &format!("{change} by {who}"), manager, now)?;
    let mut reply = format!("{detail}.");
    if moved > 0 {
        let times = if moved == 1 { "time" } else { "times" };
        reply.push_str(&format!(" Due {times} moved for {}.", format::count(moved, "pending issue")));
    }
    if updated.special_day(date).is_some() {
        reply.push_str(&format!(" Normal {}/{} undoes it.", date.month(), date.day()));
    }
    Ok(Answer { reply, hours: Some(updated) })
}

/// The date a command changes and its hours there (`None`: the usual ones), seen from
/// `today` on the `current` calendar; `Err` is a reply that changes nothing: the week for
/// `Hours`, or why the change cannot be made.
fn plan(current: &Calendar, command: HoursCommand, today: Date) -> Result<(Date, Option<Vec<Interval>>), String> {
    let upcoming = |day: Day, usage: &str| {
        let date = day.resolve(today);
        if date < today { Err(format!("{} has passed. Usage: {usage}", hours::date_words(date))) } else { Ok(date) }
    };
    match command {
        HoursCommand::Week => Err(hours::week(current, today)),
        HoursCommand::Closed(day) => Ok((upcoming(day, command::USAGE_CLOSED)?, Some(Vec::new()))),
        HoursCommand::Open(day, new_hours) => {
            let date = upcoming(day, command::USAGE_OPEN_HOURS)?;
            let open = new_hours.on(current.hours_on(date).0).ok_or_else(|| no_hours_to_keep(date, &new_hours))?;
            Ok((date, Some(open)))
        }
        HoursCommand::Normal(day) => Ok((upcoming(day, command::USAGE_NORMAL)?, None)),
    }
}

/// `Open Sat until 7pm` on a day with no hours: there is no opening to keep.
fn no_hours_to_keep(date: Date, new_hours: &NewHours) -> String {
    let until = match new_hours {
        NewHours::Until(until) => hours::time_words(*until),
        NewHours::Intervals(_) => String::new(),
    };
    format!(
        "{} has no hours that open before {until}; say when it opens, e.g. Open {} 9-{}. Usage: {}",
        hours::date_words(date),
        date.strftime("%a"),
        until.trim_end_matches("pm").trim_end_matches("am"),
        command::USAGE_OPEN_HOURS
    )
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

fn set(conn: &Connection, day: &SpecialDay, manager: &str, now: Timestamp) -> rusqlite::Result<()> {
    exec(
        conn,
        "INSERT INTO special_days (date, open, set_by, set_by_contact, set_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (date) DO UPDATE SET open = excluded.open, set_by = excluded.set_by,
             set_by_contact = excluded.set_by_contact, set_at = excluded.set_at",
        params![day.date.to_string(), hours::to_stored(&day.open), day.by, manager, ts(now)],
    )?;
    Ok(())
}

fn remove(conn: &Connection, date: Date) -> rusqlite::Result<bool> {
    Ok(exec(conn, "DELETE FROM special_days WHERE date = ?1", [date.to_string()])? > 0)
}

/// Computes every PENDING issue's due time again on `calendar`; a moved one gets a "due moved"
/// timeline entry saying why. Returns how many moved.
fn move_due_times(
    conn: &Connection,
    world: &World<'_>,
    calendar: &Calendar,
    why: &str,
    manager: &str,
    now: Timestamp,
) -> rusqlite::Result<usize> {
    let mut moved = 0;
    // A manager snoozed these to a time of their choosing (issue 17): the hours do not move it.
    let snoozed = super::console::snoozed(conn)?;
    for issue in issues::list(conn, &[Status::Pending])?.into_iter().filter(|issue| !snoozed.contains(&issue.id)) {
        let sla = match issue.kind {
            IssueKind::Sms => world.config.sms_sla,
            IssueKind::Call => world.config.call_sla,
        };
        let due_at = calendar.due_at(issue.created_at, sla);
        if due_at == issue.due_at {
            continue;
        }
        exec(
            conn,
            "UPDATE issues SET due_at = ?1 WHERE id = ?2 AND status = 'PENDING'",
            params![ts(due_at), issue.id],
        )?;
        let detail = format!("{why}; due {} (was {})", calendar.stamp(due_at), calendar.stamp(issue.due_at));
        issues::add_timeline(conn, issue.id, now, "due moved", &format!("manual:{manager}"), &detail)?;
        moved += 1;
    }
    Ok(moved)
}
