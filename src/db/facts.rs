//! What the actors read to plan and to report: the summary sender's facts and the figures on
//! the status page.

use jiff::Timestamp;
use rusqlite::Connection;
use serde::Serialize;

use super::{events, issues, kv_get, kv_set, outbox, parse_ts, summary, ts};
use crate::config::Config;
use crate::domain::calendar::Calendar;

/// What the summary sender plans with.
#[derive(Debug, Clone, Default)]
pub struct SummaryFacts {
    /// When the appliance was last seen running (before this call).
    pub last_seen_at: Option<Timestamp>,
    /// The first instant the appliance was seen running on today's local date (before this
    /// call): a slot it passed while off is sent late only if this is before the slot (SPEC §6,
    /// "had run earlier that day").
    pub first_seen_today: Option<Timestamp>,
    /// Slots already claimed today.
    pub claimed_today: Vec<String>,
    /// When the next outbox row is due.
    pub next_outbox_at: Option<Timestamp>,
    /// OPEN issues neither alerted nor queued in an alert.
    pub unalerted_open: usize,
    /// PENDING issues already due but not yet settled by the SLA clock.
    pub unsettled_due: usize,
}

/// Figures about the database.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    /// Issues per status.
    pub issues: std::collections::BTreeMap<String, i64>,
    /// When the last webhook was received.
    pub last_webhook_at: Option<Timestamp>,
    /// Outbox rows waiting to be sent.
    pub outbox_backlog: i64,
    /// Outbox rows that will never be sent (no token, expired), and the newest reason.
    pub outbox_not_sent: (i64, Option<String>),
    /// Notification webhook rows waiting, and those given up (issue 18).
    pub hooks: (i64, i64),
    /// The newest webhooks and what came of them.
    pub recent_events: Vec<events::Recent>,
    /// Bytes the database's live pages take.
    pub data_bytes: u64,
    /// Today's breaches and the last day's first replies (`/metrics`, issue 29).
    pub day: DayFigures,
}

/// What `/metrics` reports of the day, read from the issues themselves.
#[derive(Debug, Clone, Default, Serialize)]
pub struct DayFigures {
    /// Issues that went OPEN (breached their window) since the start of today's local date.
    pub breaches_today: i64,
    /// For each issue a staff reply resolved in the last 24 hours, the business time from the
    /// customer's first message to that reply, in seconds (as the what-if replay measures it).
    pub first_replies: Vec<f64>,
}

/// What the summary sender plans with; records `now` as "last seen" when the clock is
/// trusted, after reading the previous value.
pub fn summary_facts(
    conn: &Connection,
    config: &Config,
    now: Timestamp,
    trusted: bool,
) -> rusqlite::Result<SummaryFacts> {
    let parse = |key: &str| -> rusqlite::Result<Option<Timestamp>> {
        kv_get(conn, key)?.map(|text| parse_ts(&text)).transpose()
    };
    let last_seen_at = parse("last_seen_at")?.max(parse("heartbeat_at")?);
    let date = now.to_zoned(config.calendar.zone().clone()).date();
    let first_seen_today = match parse(DAY_FIRST_SEEN)? {
        Some(first) => Some(first).filter(|first| first.to_zoned(config.calendar.zone().clone()).date() == date),
        // A database from before the key was kept: "last seen today" stands in, as it did.
        None => last_seen_at.filter(|seen| seen.to_zoned(config.calendar.zone().clone()).date() == date),
    };
    let mut claimed_today = Vec::new();
    for slot in &config.summary_slots {
        if summary::digest_claimed(conn, date, &slot.name)? {
            claimed_today.push(slot.name.clone());
        }
    }
    let unalerted_open = conn.query_row(
        &format!("SELECT COUNT(*) FROM issues WHERE status = 'OPEN' AND {}", summary::ALERT_DUE),
        [],
        |row| row.get::<_, i64>(0),
    )? as usize;
    let unsettled_due = issues::unsettled_due(conn, now)?;
    let facts = SummaryFacts {
        last_seen_at,
        first_seen_today,
        claimed_today,
        next_outbox_at: outbox::next_attempt(conn)?,
        unalerted_open,
        unsettled_due,
    };
    // A clock that cannot be believed would leave a wrong "last seen" behind.
    if trusted {
        kv_set(conn, "last_seen_at", &ts(now))?;
        note_seen(conn, config.calendar.zone(), now)?;
    }
    Ok(facts)
}

/// The key of the first instant the appliance was seen running on the local date it names.
const DAY_FIRST_SEEN: &str = "day_first_seen_at";

/// Records that the appliance runs at `now` (a believed clock): the first time on a local date
/// is kept, later ones are not (one write a day; the heartbeat calls it too, so a box running
/// across midnight is seen at the day's start).
pub fn note_seen(conn: &Connection, zone: &jiff::tz::TimeZone, now: Timestamp) -> rusqlite::Result<()> {
    let date = now.to_zoned(zone.clone()).date();
    let kept = kv_get(conn, DAY_FIRST_SEEN)?.map(|text| parse_ts(&text)).transpose()?;
    if kept.is_none_or(|first| first.to_zoned(zone.clone()).date() != date || first > now) {
        kv_set(conn, DAY_FIRST_SEEN, &ts(now))?;
    }
    Ok(())
}

/// How many of the newest webhooks the status page lists.
const RECENT_EVENTS: usize = 10;

/// Figures for `/health` and the status page.
pub fn stats(conn: &Connection) -> rusqlite::Result<StoreStats> {
    Ok(StoreStats {
        issues: issues::counts(conn)?.into_iter().collect(),
        last_webhook_at: events::last_received_at(conn)?,
        outbox_backlog: outbox::backlog(conn)?,
        outbox_not_sent: outbox::not_sent(conn)?,
        hooks: super::notify::counts(conn)?,
        recent_events: events::recent(conn, RECENT_EVENTS)?,
        data_bytes: events::used_bytes(conn)?,
        day: DayFigures::default(),
    })
}

/// Today's breaches and the first replies of the 24 hours before `now`, by the calendar in
/// force (its zone says when today began; its hours say what counts as business time).
pub fn day_figures(conn: &Connection, calendar: &Calendar, now: Timestamp) -> rusqlite::Result<DayFigures> {
    let today = now.to_zoned(calendar.zone().clone()).date();
    let midnight = today.to_zoned(calendar.zone().clone()).map_or(now, |start| start.timestamp());
    let breaches_today = conn.query_row(
        "SELECT COUNT(*) FROM issues WHERE opened_at >= ?1 AND opened_at <= ?2",
        [ts(midnight), ts(now)],
        |row| row.get::<_, i64>(0),
    )?;
    let since = now.checked_sub(jiff::SignedDuration::from_hours(24)).unwrap_or(now);
    let mut stmt = conn.prepare(
        "SELECT first_inbound_at, resolved_at FROM issues
         WHERE resolved_at >= ?1 AND resolved_at <= ?2 AND resolved_by LIKE 'staff_reply%'",
    )?;
    let rows = stmt.query_map([ts(since), ts(now)], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
    let mut first_replies = Vec::new();
    for row in rows {
        let (first, resolved) = row?;
        let waited = calendar.business_time_between(parse_ts(&first)?, parse_ts(&resolved)?);
        first_replies.push(waited.as_secs_f64().max(0.0));
    }
    first_replies.sort_by(f64::total_cmp);
    Ok(DayFigures { breaches_today, first_replies })
}

/// The watchdog's write: a real one either way. By a clock that cannot be believed it goes
/// under another key, so no wrong "last seen" is left behind.
pub fn heartbeat(conn: &Connection, clock_trusted: bool, now: Timestamp) -> rusqlite::Result<()> {
    kv_set(conn, if clock_trusted { "heartbeat_at" } else { "heartbeat_untrusted" }, &ts(now))
}

/// The watchdog's probe between writes: a read through the connection, which does not wear
/// the SD card.
pub fn read_probe(conn: &Connection) -> rusqlite::Result<()> {
    conn.query_row("SELECT 1", [], |_| Ok(()))
}
