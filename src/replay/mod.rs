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
use crate::ghl::payload::{self, ParseOptions, Parsed, Route};
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

/// Events the reader hands over at a time.
const CHUNK: usize = 256;

/// One stored event, read and parsed, ready to apply.
type Ready = (RawEvent, Parsed);

/// Replays the events stored in the database at `live_db` with `config`'s settings and
/// reports what would have happened. The live database is opened read-only.
pub fn run(live_db: &Path, config: &Config, window: Window) -> anyhow::Result<Report> {
    let live = Connection::open_with_flags(live_db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening the database {} read-only", live_db.display()))?;
    live.busy_timeout(Duration::from_secs(10))?;
    let mut replay = in_memory()?;
    // Reading and parsing run beside applying: the two halves take about as long.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Ready>>(16);
    let (events, last_at) = std::thread::scope(|scope| -> anyhow::Result<(u64, Option<Timestamp>)> {
        let reader = scope.spawn(move || read(&live, config, window.until, &sender));
        let applied = apply_all(&mut replay, config, receiver);
        let read = reader.join().map_err(|_| anyhow::format_err!("reading the stored events failed"))?;
        // A failed read ends the channel early: its error is the one that explains.
        read?;
        applied
    })?;
    let end = window.until.or(last_at).unwrap_or_else(Timestamp::now);
    store::in_transaction(&mut replay, |tx| settle_until(tx, end))?;
    let issues = store::issues::list(&replay, &[])?;
    let calendar = store::hours::calendar(&replay, &config.calendar)?;
    Ok(report::build(&issues, &calendar, config.escalation, window.since, end, events))
}

/// The replay's own database: in memory, at the current schema, with SQLite's usual page
/// size (the small pages of the live file save SD wear, which memory does not need).
fn in_memory() -> anyhow::Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "page_size", 4096)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(64);
    store::schema::migrate(&mut conn).context("creating the replay's database")?;
    // Finding a party's live issue looks among all its issues by contact (or phone, or
    // conversation); a year of them makes that the replay's main cost. These indexes cover the
    // live ones only. They change no answer, and the live file does not have them.
    conn.execute_batch(
        "CREATE INDEX replay_live_by_contact ON issues (contact_id, kind) WHERE status IN ('PENDING', 'OPEN');
         CREATE INDEX replay_live_by_phone ON issues (phone, kind) WHERE status IN ('PENDING', 'OPEN');
         CREATE INDEX replay_live_by_conversation ON issues (conversation_id, kind) WHERE status IN ('PENDING', 'OPEN');",
    )?;
    Ok(conn)
}

/// Reads the stored events before `until`, in the order received, and parses each as intake
/// does; hands them over in chunks.
fn read(
    live: &Connection,
    config: &Config,
    until: Option<Timestamp>,
    sender: &std::sync::mpsc::SyncSender<Vec<Ready>>,
) -> anyhow::Result<()> {
    let options = ParseOptions {
        missed_marker_keys: config.call_missed_marker_keys.clone(),
        require_missed_marker: config.call_require_missed_marker,
    };
    // Events still waiting for the time were never judged live: they are left out.
    let mut statement = live.prepare(
        "SELECT received_at, route, body_hash, body FROM raw_events
         WHERE received_at < ?1 AND id NOT IN (SELECT event_id FROM deferred_events)
         ORDER BY received_at, id",
    )?;
    let until = until.map(store::ts).unwrap_or_else(|| "9999".to_string());
    let mut rows = statement.query([until])?;
    let mut chunk = Vec::with_capacity(CHUNK);
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
        let idem_keys = parsed.idem_keys();
        chunk.push((RawEvent { received_at, route: route.as_str(), idem_keys, body_hash, body: text }, parsed));
        if chunk.len() == CHUNK && sender.send(std::mem::take(&mut chunk)).is_err() {
            // The applying side stopped; its error is reported.
            return Ok(());
        }
    }
    let _ = sender.send(chunk);
    Ok(())
}

/// Applies the events as they come, each after settling what fell due before it. Answers
/// how many were applied and when the last arrived.
fn apply_all(
    replay: &mut Connection,
    config: &Config,
    receiver: std::sync::mpsc::Receiver<Vec<Ready>>,
) -> anyhow::Result<(u64, Option<Timestamp>)> {
    let mut calendar = config.calendar.clone();
    let (mut events, mut last_at) = (0u64, None);
    let mut tx = replay.transaction()?;
    for (raw, parsed) in receiver.into_iter().flatten() {
        let at = raw.received_at;
        settle_until(&tx, at)?;
        let outcome = apply::apply(&tx, &world(config, &calendar), &raw, &parsed, at)?;
        // A manager's hours command changes the calendar for the events after it, as live.
        if matches!(outcome, Outcome::Command { .. }) {
            calendar = store::hours::calendar(&tx, &config.calendar)?;
        }
        events += 1;
        last_at = Some(at);
        if events.is_multiple_of(BATCH as u64) {
            tx.commit()?;
            tx = replay.transaction()?;
        }
    }
    tx.commit()?;
    Ok((events, last_at))
}

/// Settles every PENDING issue due by `now`, each at its own due time, as the SLA clock's
/// timer does live (with no GHL findings: only the stored webhooks are known).
fn settle_until(conn: &Connection, now: Timestamp) -> rusqlite::Result<()> {
    if store::issues::next_pending_due(conn)?.is_none_or(|due_at| due_at > now) {
        return Ok(());
    }
    // One read of all that fell due, settled in groups of one due time each.
    let due = store::issues::pending_due(conn, now, 1_000_000)?;
    for group in due.chunk_by(|a, b| a.due_at == b.due_at) {
        let ids: Vec<i64> = group.iter().map(|issue| issue.id).collect();
        settle::settle_due(conn, group[0].due_at, &ids, &[])?;
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
