//! Applying what a catch-up pass found (SPEC §12): each event stored and judged at its own
//! time, oldest first, as its webhook would have been, then what the pass learnt of each
//! conversation kept (`catchup`) and the watermark moved on, all in one transaction.

use jiff::Timestamp;
use rusqlite::Connection;

use super::catchup::{count_found, saw, saw_unread, set_watermark};
use super::events::{self, RawEvent, Recorded};
use super::{World, apply};
use crate::domain::event::{Event, Parsed};
use crate::domain::outcome::Outcome;

/// A message catch-up found, as the event its webhook would have been.
#[derive(Debug)]
pub struct FoundEvent {
    /// The raw event to store (route `catchup`, received at the message's own time).
    pub raw: RawEvent,
    /// It, parsed.
    pub parsed: Parsed,
    /// GHL's `dateAdded`: when it really arrived, and when it is judged.
    pub at: Timestamp,
}

/// A conversation a search listed, and what the pass learnt of it.
#[derive(Debug, Clone)]
pub struct Observed {
    /// Conversation id.
    pub id: String,
    /// Its newest message's time, as far as the pass knows.
    pub last_at: Timestamp,
    /// Its last message's fingerprint, as the search showed it.
    pub fingerprint: String,
    /// Its unread count, as the search showed it.
    pub unread: Option<i64>,
    /// Whether the pass now knows it whole (it read it, or took it as the baseline).
    pub known: bool,
}

/// One pass's findings, applied in one transaction.
#[derive(Debug)]
pub struct FoundPass {
    /// The events, oldest first.
    pub events: Vec<FoundEvent>,
    /// The conversations listed.
    pub observed: Vec<Observed>,
    /// Where the next pass looks from, when this one read all it had to.
    pub watermark: Option<Timestamp>,
    /// When the pass ran.
    pub found_at: Timestamp,
    /// The office's date then, which the day's count is kept under.
    pub day: String,
}

/// What applying a pass did.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Events stored that no webhook had delivered.
    pub found: usize,
    /// Of those, customers' (and managers') messages.
    pub customer: u64,
    /// Issues opened.
    pub created: usize,
    /// Events a webhook (or an earlier pass) had already brought.
    pub duplicates: usize,
    /// Managers' commands noted, not run.
    pub noted: usize,
    /// Customer messages found today, these included.
    pub found_today: u64,
    /// The longest a found customer message had waited in GHL, in seconds.
    pub largest_gap_seconds: i64,
    /// Each event's outcome, in order (`None` for a duplicate).
    pub outcomes: Vec<Option<Outcome>>,
}

/// Stores and judges what a pass found, each event at its own time, oldest first, as its
/// webhook would have been; then keeps what the pass learnt of each conversation and moves the
/// watermark on.
pub fn apply(conn: &Connection, world: &World<'_>, pass: &FoundPass) -> rusqlite::Result<Tally> {
    let mut tally = Tally::default();
    for event in &pass.events {
        let id = match events::record(conn, &event.raw)? {
            Recorded::Duplicate => {
                tally.duplicates += 1;
                tally.outcomes.push(None);
                continue;
            }
            Recorded::New(id) => id,
        };
        let outcome = apply::judge(conn, world, id, &event.parsed, event.at)?;
        tally.found += 1;
        if let Event::Inbound(_) = &event.parsed.event {
            tally.customer += 1;
            let waited = pass.found_at.duration_since(event.at).as_secs();
            tally.largest_gap_seconds = tally.largest_gap_seconds.max(waited);
        }
        match &outcome {
            Outcome::Created { .. } => tally.created += 1,
            Outcome::Noted(_) => tally.noted += 1,
            _ => {}
        }
        tally.outcomes.push(Some(outcome));
    }
    for seen in pass.observed.iter().filter(|seen| seen.known) {
        saw(conn, &seen.id, seen.last_at, Some(&seen.fingerprint))?;
    }
    let unread: Vec<(String, i64)> =
        pass.observed.iter().filter_map(|seen| Some((seen.id.clone(), seen.unread?))).collect();
    saw_unread(conn, &unread)?;
    if let Some(mark) = pass.watermark {
        set_watermark(conn, mark)?;
    }
    tally.found_today = count_found(conn, &pass.day, tally.customer)?;
    Ok(tally)
}
