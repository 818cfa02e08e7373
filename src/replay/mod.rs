//! The what-if replay (issue 18, part 2): runs the stored raw events again, with other hours
//! or response targets, and reports what would have happened.
//!
//! It reads `raw_events` from the live database read-only (the service may be running; WAL
//! lets both read). One thread parses each event as intake does and records it with intake's
//! `db::events::record` in a database in memory of its own, which tells a redelivery; the
//! other judges the new ones, in the order received, with the same `db::apply` code the
//! store actor uses, into a second database in memory (whose `raw_events` stays empty: a
//! `STATUS` command replayed sees no webhook). Before each event, what fell due by then is
//! settled with `db::settle::settle_due` at its due time, as the SLA clock does live. Only the stored webhooks are known: live, the resolver also
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
use crate::db::events::{self, RawEvent, Recorded};
use crate::db::{self, World, apply, settle};
use crate::domain::calendar::Calendar;
use crate::domain::outcome::Outcome;
use crate::ghl::payload::{self, ParseOptions, Parsed, Route};

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

/// One stored event, read, recorded and parsed, ready to judge.
struct Ready {
    /// When it arrived.
    at: Timestamp,
    /// Its id in the reader's database, or `None` for a redelivery seen before.
    id: Option<i64>,
    /// What it says.
    parsed: Parsed,
}

/// Replays the events stored in the database at `live_db` with `config`'s settings and
/// reports what would have happened. The live database is opened read-only.
pub fn run(live_db: &Path, config: &Config, window: Window) -> anyhow::Result<Report> {
    let live = Connection::open_with_flags(live_db, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("opening the database {} read-only", live_db.display()))?;
    live.busy_timeout(Duration::from_secs(10))?;
    let mut replay = db::schema::open_for_replay()?;
    // The managers' texts are commands, not issues, as live (issue 24).
    db::console::copy_managers(&live, &replay)?;
    // Reading, parsing and recording run beside judging, each half on its own core.
    let (sender, receiver) = std::sync::mpsc::sync_channel::<Vec<Ready>>(16);
    let (events, last_at) = std::thread::scope(|scope| -> anyhow::Result<(u64, Option<Timestamp>)> {
        let reader = scope.spawn(move || -> anyhow::Result<()> {
            let mut seen = db::schema::open_for_replay()?;
            read(&live, &mut seen, config, window.until, &sender)
        });
        let applied = apply_all(&mut replay, config, receiver);
        let read = reader.join().map_err(|_| anyhow::format_err!("reading the stored events failed"))?;
        // A failed read ends the channel early: its error is the one that explains.
        read?;
        applied
    })?;
    let end = window.until.or(last_at).unwrap_or_else(Timestamp::now);
    db::in_transaction(&mut replay, |tx| settle_until(tx, end))?;
    let issues = db::issues::list(&replay, &[])?;
    let calendar = db::hours::calendar(&replay, &config.calendar)?;
    let targets = report::Targets { escalation: config.escalation, sms_sla: config.sms_sla, call_sla: config.call_sla };
    Ok(report::build(&issues, &calendar, targets, window.since, end, events))
}

/// Reads the stored events before `until`, in the order received, parses each as intake
/// does, and records it in `seen` with the store's own `events::record`, which tells a
/// redelivery as intake does; hands them over in chunks.
fn read(
    live: &Connection,
    seen: &mut Connection,
    config: &Config,
    until: Option<Timestamp>,
    sender: &std::sync::mpsc::SyncSender<Vec<Ready>>,
) -> anyhow::Result<()> {
    let options = ParseOptions {
        missed_marker_keys: config.call_missed_marker_keys.clone(),
        require_missed_marker: config.call_require_missed_marker,
    };
    let mut parsed_events = Vec::with_capacity(CHUNK);
    let mut judging = true;
    events::each_judged(live, until, |stored| -> anyhow::Result<bool> {
        let Some(route) = Route::from_name(&stored.route) else {
            return Ok(true);
        };
        let body: Map<String, Value> = serde_json::from_str(&stored.body).unwrap_or_default();
        let parsed = payload::parse(route, &body, &options);
        // The same ids as intake's, so a redelivery stored twice is judged once, as live.
        let idem_keys = parsed.idem_keys();
        let raw = RawEvent {
            received_at: stored.received_at,
            route: route.as_str(),
            idem_keys,
            body_hash: stored.body_hash,
            body: stored.body,
        };
        parsed_events.push((raw, parsed));
        if parsed_events.len() == CHUNK {
            let chunk = record(seen, std::mem::take(&mut parsed_events))?;
            // When the judging side has stopped, its error is reported.
            judging = sender.send(chunk).is_ok();
        }
        Ok(judging)
    })?;
    if judging {
        let _ = sender.send(record(seen, parsed_events)?);
    }
    Ok(())
}

/// Records a chunk of events in `seen`, in one transaction, each as new or a redelivery.
fn record(seen: &mut Connection, parsed_events: Vec<(RawEvent, Parsed)>) -> anyhow::Result<Vec<Ready>> {
    let tx = seen.transaction()?;
    let mut chunk = Vec::with_capacity(parsed_events.len());
    for (raw, parsed) in parsed_events {
        let id = match events::record(&tx, &raw)? {
            Recorded::New(id) => Some(id),
            Recorded::Duplicate => None,
        };
        chunk.push(Ready { at: raw.received_at, id, parsed });
    }
    tx.commit()?;
    Ok(chunk)
}

/// Judges the events as they come, each after settling what fell due before it, in
/// transactions of [`BATCH`] events. Answers how many there were and when the last arrived.
fn apply_all(
    replay: &mut Connection,
    config: &Config,
    receiver: std::sync::mpsc::Receiver<Vec<Ready>>,
) -> anyhow::Result<(u64, Option<Timestamp>)> {
    let mut calendar = config.calendar.clone();
    let (mut events, mut last_at) = (0u64, None);
    let mut batch: Vec<Ready> = Vec::with_capacity(BATCH);
    let mut chunks = receiver.into_iter().peekable();
    while let Some(chunk) = chunks.next() {
        batch.extend(chunk);
        if batch.len() < BATCH && chunks.peek().is_some() {
            continue;
        }
        // Without a savepoint per event; should one fail, the batch is rolled back and judged
        // again event by event under savepoints, so a failing event is kept as live keeps it.
        let tx = replay.transaction()?;
        match judge_batch(&tx, config, &mut calendar, &batch, apply::judge_unguarded) {
            Ok(()) => tx.commit()?,
            Err(_) => {
                tx.rollback()?;
                let tx = replay.transaction()?;
                calendar = db::hours::calendar(&tx, &config.calendar)?;
                judge_batch(&tx, config, &mut calendar, &batch, apply::judge)?;
                tx.commit()?;
            }
        }
        events += batch.len() as u64;
        last_at = batch.last().map(|ready| ready.at).or(last_at);
        batch.clear();
    }
    Ok((events, last_at))
}

/// The signature of [`apply::judge`] and [`apply::judge_unguarded`].
type JudgeFn = fn(&Connection, &World<'_>, i64, &Parsed, Timestamp) -> rusqlite::Result<Outcome>;

/// Judges one batch with `judge`, each new event after settling what fell due before it.
fn judge_batch(
    tx: &Connection,
    config: &Config,
    calendar: &mut Calendar,
    batch: &[Ready],
    judge: JudgeFn,
) -> rusqlite::Result<()> {
    for ready in batch {
        // A redelivery changes nothing live (intake answers it as a duplicate).
        let Some(id) = ready.id else { continue };
        settle_until(tx, ready.at)?;
        let outcome = judge(tx, &world(config, calendar), id, &ready.parsed, ready.at)?;
        // A manager's hours command changes the calendar for the events after it, as live.
        if let Outcome::Command { hours: Some(changed), .. } = outcome {
            *calendar = *changed;
        }
    }
    Ok(())
}

/// Settles every PENDING issue due by `now`, each at its own due time, as the SLA clock's
/// timer does live (with no GHL findings: only the stored webhooks are known).
fn settle_until(conn: &Connection, now: Timestamp) -> rusqlite::Result<()> {
    if db::issues::next_pending_due(conn)?.is_none_or(|due_at| due_at > now) {
        return Ok(());
    }
    // One read of all that fell due, settled in groups of one due time each.
    let due = db::issues::pending_due_ids(conn, now)?;
    for group in due.chunk_by(|a, b| a.1 == b.1) {
        let ids: Vec<i64> = group.iter().map(|(id, _)| *id).collect();
        settle::settle_due(conn, group[0].1, &ids, &[])?;
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

#[cfg(test)]
mod tests;
