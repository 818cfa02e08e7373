//! The what-if replay (issue 18, part 2): runs the stored raw events again, with other hours
//! or response targets, and reports what would have happened.
//!
//! It reads `raw_events` from the live database read-only (the service may be running; WAL
//! lets both read), and applies each event, in the order received, through the same
//! `store::apply::apply` the store actor uses, into a fresh in-memory database. Before each
//! event, what fell due by then is settled with `store::settle::settle_due` at its due time,
//! as the SLA clock does live. Only the stored webhooks are known: live, the resolver also
//! asks GHL at each due time, and a reply seen only there is not in the replay.
//! `report` reads the statistics off the replayed issues; `svg` draws them.

pub mod report;
pub mod svg;

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use jiff::Timestamp;
use rusqlite::{Connection, OpenFlags};
use serde_json::{Map, Value};

use crate::config::Config;
use crate::domain::calendar::Calendar;
use crate::domain::outcome::Outcome;
use crate::ghl::payload::{self, ParseOptions, Route};
use crate::store::events::RawEvent;
use crate::store::{self, World, apply, settle};

pub use report::Report;

/// The span of events a replay counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct Window {
    /// Count issues that came in at or after this instant (every earlier event is still
    /// replayed, so spam marks, special days and live issues carry over).
    pub since: Option<Timestamp>,
    /// Replay events received before this instant, and settle up to it; else up to the
    /// last event.
    pub until: Option<Timestamp>,
}

/// The what-if settings `sentinel replay` takes, by flag: each sets the variable it names.
pub const SETTINGS: [(&str, &str); 4] = [
    ("--schedule", "BUSINESS_SCHEDULE"),
    ("--holidays", "HOLIDAYS"),
    ("--sms-sla-hours", "SMS_SLA_HOURS"),
    ("--call-sla-hours", "CALL_SLA_HOURS"),
];

impl Window {
    /// The window from `--since` and `--until` dates (`YYYY-MM-DD`, both days included), as
    /// days of `calendar`'s zone.
    pub fn from_dates(calendar: &Calendar, since: Option<&str>, until: Option<&str>) -> anyhow::Result<Window> {
        let day = |flag: &str, text: &str, days_after: i64| -> anyhow::Result<Timestamp> {
            let date: jiff::civil::Date =
                text.parse().with_context(|| format!("{flag} {text:?}: expected a date, e.g. 2026-03-02"))?;
            let start = date.checked_add(jiff::Span::new().days(days_after))?.to_zoned(calendar.zone().clone())?;
            Ok(start.timestamp())
        };
        Ok(Window {
            since: since.map(|text| day("--since", text, 0)).transpose()?,
            until: until.map(|text| day("--until", text, 1)).transpose()?,
        })
    }
}

/// Events applied per transaction of the in-memory database.
const BATCH: usize = 2_000;

/// Replays the events stored in the database at `live_db` with `config`'s settings and
/// reports what would have happened. The live database is opened read-only.
pub fn run(live_db: &Path, config: &Config, window: Window) -> anyhow::Result<Report> {
    let live = Connection::open_with_flags(live_db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening the database {} read-only", live_db.display()))?;
    live.busy_timeout(Duration::from_secs(10))?;
    let mut replay = store::schema::open_in_memory().context("creating the replay's database")?;
    let options = ParseOptions {
        missed_marker_keys: config.call_missed_marker_keys.clone(),
        require_missed_marker: config.call_require_missed_marker,
    };
    let mut calendar = config.calendar.clone();
    let mut last_at = None;
    let mut events = 0u64;
    // Events still waiting for the time were never judged live: they are left out.
    let mut statement = live.prepare(
        "SELECT received_at, route, body_hash, body FROM raw_events
         WHERE received_at < ?1 AND id NOT IN (SELECT event_id FROM deferred_events)
         ORDER BY received_at, id",
    )?;
    let until = window.until.map(store::ts).unwrap_or_else(|| "9999".to_string());
    let mut rows = statement.query([until])?;
    let mut tx = replay.transaction()?;
    while let Some(row) = rows.next()? {
        let received_at = store::parse_ts(&row.get::<_, String>(0)?)?;
        let route_name: String = row.get(1)?;
        let (body_hash, text): (String, String) = (row.get(2)?, row.get(3)?);
        let Some(route) = Route::from_name(&route_name) else {
            continue;
        };
        let body: Map<String, Value> = serde_json::from_str(&text).unwrap_or_default();
        let parsed = payload::parse(route, &body, &options);
        // The same ids as intake's, so a redelivery stored twice is judged once, as live.
        let idem_keys = [
            parsed.webhook_id.as_ref().map(|id| format!("webhook:{id}")),
            parsed.message_id.as_ref().map(|id| format!("message:{id}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        let raw = RawEvent { received_at, route: route.as_str(), idem_keys, body_hash, body: text };
        settle_until(&tx, received_at)?;
        let outcome = apply::apply(&tx, &world(config, &calendar), &raw, &parsed, received_at)?;
        // A manager's hours command changes the calendar for the events after it, as live.
        if matches!(outcome, Outcome::Command { .. }) {
            calendar = store::hours::calendar(&tx, &config.calendar)?;
        }
        events += 1;
        last_at = Some(received_at);
        if events.is_multiple_of(BATCH as u64) {
            tx.commit()?;
            tx = replay.transaction()?;
        }
    }
    let end = window.until.or(last_at).unwrap_or_else(Timestamp::now);
    settle_until(&tx, end)?;
    tx.commit()?;
    let issues = store::issues::list(&replay, &[])?;
    let calendar = store::hours::calendar(&replay, &config.calendar)?;
    Ok(report::build(&issues, &calendar, config.escalation, window.since, end, events))
}

/// Settles every PENDING issue due by `now`, each at its own due time, as the SLA clock's
/// timer does live (with no GHL findings: only the stored webhooks are known).
fn settle_until(conn: &Connection, now: Timestamp) -> rusqlite::Result<()> {
    while let Some(due_at) = store::issues::next_pending_due(conn)?.filter(|due_at| *due_at <= now) {
        let due: Vec<i64> = store::issues::pending_due(conn, due_at, 10_000)?.iter().map(|i| i.id).collect();
        settle::settle_due(conn, due_at, &due, &[])?;
    }
    Ok(())
}

/// The world of a replay: the clock believed, GHL not asked.
fn world<'a>(config: &'a Config, calendar: &'a Calendar) -> World<'a> {
    World {
        config,
        calendar,
        clock_trusted: true,
        monotonic: Duration::ZERO,
        boot_id: "replay",
        location_id: config.ghl.location_id.as_deref(),
        uptime: Duration::ZERO,
        ghl_state: "not asked (replay)",
    }
}
