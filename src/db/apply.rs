//! Applying one webhook to the database, inside the store's group-commit transaction.
//!
//! The raw event is stored first (SPEC §3.1), then the event is applied under a savepoint:
//! if applying fails, the raw event stays with its error and the webhook is still answered,
//! so an accepted event is never lost. Decisions come from `domain`; this file only sequences
//! them with the SQL of `events` and `issues`.

use jiff::Timestamp;
use rusqlite::Connection;

use super::World;
use super::catchup;
use super::commands;
use super::console;
use super::events::{self, RawEvent, Recorded};
use super::issues::{self, NewIssue};
use crate::config::Config;
use crate::domain::catchup::fingerprint;
use crate::domain::classify;
use crate::domain::event::{CaughtUp, Event, Inbound, IssueKind, Outbound, Parsed};
pub use crate::domain::outcome::DEFERRED;
use crate::domain::outcome::Outcome;

/// Stores the raw event and applies it. An `Err` means the transaction itself failed (the
/// disk, not the event); the caller then answers non-2xx so that GHL retries.
pub fn apply(
    conn: &Connection,
    world: &World<'_>,
    raw: &RawEvent,
    parsed: &Parsed,
    now: Timestamp,
) -> rusqlite::Result<Outcome> {
    let id = match events::record(conn, raw)? {
        Recorded::Duplicate => return Ok(Outcome::Duplicate),
        Recorded::New(id) => id,
    };
    // While the wall clock cannot be believed, its arrival time cannot either: the event is
    // kept, with the monotonic clock's reading, and judged when the time is known.
    if !world.clock_trusted {
        let monotonic = world.monotonic.as_millis() as i64;
        events::defer(conn, id, world.boot_id, monotonic)?;
        events::set_outcome(conn, id, DEFERRED)?;
        return Ok(Outcome::Deferred);
    }
    judge(conn, world, id, parsed, now)
}

/// Judges an event stored while the clock was not believed, as if it arrived at `arrived`
/// (re-anchored by the monotonic clock, or GHL's `dateAdded`).
pub fn apply_deferred(
    conn: &Connection,
    world: &World<'_>,
    id: i64,
    parsed: &Parsed,
    arrived: Timestamp,
) -> rusqlite::Result<Outcome> {
    events::undefer(conn, id, arrived)?;
    let outcome = judge(conn, world, id, parsed, arrived)?;
    if let Outcome::Created { issue_id, .. } | Outcome::Repeat { issue_id, .. } = &outcome {
        let why =
            "arrived while the clock could not be believed; dated once it could (monotonic clock or GHL's dateAdded)";
        issues::add_timeline(conn, *issue_id, arrived, "clock", "clock", why)?;
    }
    Ok(outcome)
}

/// Judges a stored event (the raw event `id`) under a savepoint and records its outcome.
pub fn judge(
    conn: &Connection,
    world: &World<'_>,
    id: i64,
    parsed: &Parsed,
    now: Timestamp,
) -> rusqlite::Result<Outcome> {
    // Through the statement cache: parsing these for every webhook cost more than running them.
    super::exec(conn, "SAVEPOINT apply_event", [])?;
    match decide(conn, world, id, parsed, now) {
        Ok(outcome) => {
            super::exec(conn, "RELEASE apply_event", [])?;
            events::set_outcome(conn, id, &outcome.describe())?;
            Ok(outcome)
        }
        Err(err) => {
            super::exec(conn, "ROLLBACK TO apply_event", [])?;
            super::exec(conn, "RELEASE apply_event", [])?;
            tracing::error!(raw_event = id, error = %err, "applying a webhook failed; the raw event is kept");
            events::set_outcome(conn, id, &format!("error: {err}"))?;
            Ok(Outcome::Ignored("could not be applied; kept for review".to_string()))
        }
    }
}

/// [`judge`] without the savepoint around the event, for a caller that can roll back its
/// whole transaction (the what-if replay): an `Err` may leave the event half applied, and the
/// caller must then roll back and judge the same events again with [`judge`], which keeps a
/// failing event's error as live does. The savepoint's page copies were a tenth of the
/// replay's time.
pub fn judge_unguarded(
    conn: &Connection,
    world: &World<'_>,
    id: i64,
    parsed: &Parsed,
    now: Timestamp,
) -> rusqlite::Result<Outcome> {
    let outcome = decide(conn, world, id, parsed, now)?;
    events::set_outcome(conn, id, &outcome.describe())?;
    Ok(outcome)
}

/// Where the learned GHL location is kept.
pub const LEARNED_LOCATION: &str = "ghl_location_learned";

fn decide(
    conn: &Connection,
    world: &World<'_>,
    raw_id: i64,
    parsed: &Parsed,
    now: Timestamp,
) -> rusqlite::Result<Outcome> {
    let config = world.config;
    if let (Some(expected), Some(actual)) = (&config.ghl.location_id, &parsed.location_id)
        && expected != actual
    {
        return Ok(Outcome::Ignored(format!("location {actual} is not GHL_LOCATION_ID")));
    }
    // Without GHL_LOCATION_ID the first authenticated webhook's location is learned and kept:
    // GHL requires it on every conversation search (issue 13).
    if config.ghl.location_id.is_none()
        && let Some(location) = &parsed.location_id
        && world.location_id.is_none()
        && super::kv_get(conn, LEARNED_LOCATION)?.is_none()
    {
        super::kv_set(conn, LEARNED_LOCATION, location)?;
    }
    mark_seen(conn, &parsed.event, now)?;
    match &parsed.event {
        Event::Ignored(reason) => Ok(Outcome::Ignored(reason.clone())),
        Event::Inbound(inbound) => inbound_message(conn, world, raw_id, inbound, now),
        Event::Outbound(outbound) => outbound_message(conn, config, outbound, now),
    }
}

/// Catch-up's memory of the conversation (SPEC §12): a message that came by webhook is one
/// catch-up need not read again.
fn mark_seen(conn: &Connection, event: &Event, now: Timestamp) -> rusqlite::Result<()> {
    let (conversation, at, fingerprint) = match event {
        Event::Inbound(inbound) => {
            let kind = match inbound.kind {
                IssueKind::Sms => "SMS",
                IssueKind::Call => "CALL",
            };
            (&inbound.party.conversation_id, inbound.sent_at, Some(fingerprint(kind, inbound.text.as_deref())))
        }
        Event::Outbound(outbound) => (&outbound.party.conversation_id, outbound.sent_at, None),
        Event::Ignored(_) => return Ok(()),
    };
    match conversation {
        Some(conversation) => catchup::saw(conn, conversation, at.unwrap_or(now), fingerprint.as_deref()),
        None => Ok(()),
    }
}

fn inbound_message(
    conn: &Connection,
    world: &World<'_>,
    raw_id: i64,
    inbound: &Inbound,
    now: Timestamp,
) -> rusqlite::Result<Outcome> {
    let config = &world.config;
    let party = &inbound.party;
    let configured = party
        .contact_id
        .as_ref()
        .is_some_and(|id| config.internal_contact_ids.contains(id) || config.manager_contact_ids.contains(id));
    // Every manager the box knows sends commands: those configured, and those added with
    // `sentinel manager add`, by contact id or phone (issue 24).
    // A phone names the sender only on a text: on a chat, a form or a message of no named
    // channel it is a contact field the customer may have typed (issue 23, own reading).
    let sender_phone = party.phone.as_ref().filter(|_| inbound.by_sms);
    let internal = inbound.from_internal_contact
        || configured
        || console::is_manager_sender(conn, party.contact_id.as_deref(), sender_phone)?;
    if internal {
        // SPEC §5.1: staff texts are commands (§7), never issues. The reply's purpose is this
        // event, so a retried delivery (a duplicate) is never answered twice.
        if let (Some(found), IssueKind::Sms, Some(text), Some(contact)) =
            (&inbound.caught_up, inbound.kind, &inbound.text, &party.contact_id)
        {
            // SPEC §12: a command found only by catch-up may be stale; it is noted, not run.
            let purpose = format!("reply:{raw_id}");
            commands::note_late(conn, world, contact, text, now, &purpose, found.found_at)?;
            return Ok(Outcome::Noted(text.clone()));
        }
        return match (inbound.kind, &inbound.text, &party.contact_id) {
            (IssueKind::Sms, Some(text), Some(contact)) => {
                let purpose = format!("reply:{raw_id}");
                let sender = commands::Sender {
                    contact_id: contact,
                    name: inbound.contact_name.as_deref(),
                    phone: sender_phone,
                };
                let answer = commands::run(conn, world, &sender, text, &purpose, now)?;
                Ok(Outcome::Command { reply: answer.reply, hours: answer.hours.map(Box::new) })
            }
            _ => Ok(Outcome::Ignored("internal contact".to_string())),
        };
    }
    if let Some(phone) = &party.phone
        && issues::is_spam(conn, phone)?
    {
        return Ok(Outcome::Ignored("spam".to_string()));
    }
    if let Some(CaughtUp { answered_at: Some(answered_at), .. }) = &inbound.caught_up {
        let when = world.calendar.stamp(*answered_at);
        return Ok(Outcome::Ignored(format!("found by catch-up, already answered by staff at {when}")));
    }
    let kind = inbound.kind;
    if let Some(issue) = issues::find_live(conn, kind, party)? {
        // SPEC §5.1: every repeat missed call is an attempt (×N in digests and List). A retried
        // delivery of the same webhook never gets here: intake's idempotency answered it.
        let text = inbound.text.as_deref();
        let count = issues::record_repeat(conn, &issue, party, inbound.contact_name.as_deref(), now, text)?;
        note_caught_up(conn, inbound, issue.id, now)?;
        return Ok(Outcome::Repeat { issue_id: issue.id, kind, count });
    }
    let acknowledges = kind == IssueKind::Sms
        && config.ack_close_enabled
        && inbound.text.as_deref().is_some_and(|text| classify::is_acknowledgement(text, config.ack_close_max_len));
    let answered_lately = issues::last_staff_reply(conn, party)?
        .is_some_and(|replied_at| config.ack_close_window.covers(world.calendar, replied_at, now));
    if acknowledges && answered_lately {
        return Ok(Outcome::Ignored("acknowledgement after a staff reply".to_string()));
    }
    let sla = match kind {
        IssueKind::Sms => config.sms_sla,
        IssueKind::Call => config.call_sla,
    };
    let due_at = world.calendar.due_at(now, sla);
    let explanation = world.calendar.explain_due(kind.verb(), now, sla);
    let new = NewIssue {
        kind,
        party,
        contact_name: inbound.contact_name.as_deref(),
        created_at: now,
        due_at,
        text: inbound.text.as_deref(),
    };
    let issue_id = issues::create(conn, &new, &explanation)?;
    note_caught_up(conn, inbound, issue_id, now)?;
    tracing::info!(issue = issue_id, kind = %kind, due_at = %due_at, "issue created");
    Ok(Outcome::Created { issue_id, kind, unconfirmed_ack: acknowledges })
}

/// What a caught-up message's issue says of how it came (SPEC §12).
pub const FOUND_BY_CATCH_UP: &str = "found by catch-up: no webhook arrived";

/// Says in the issue's timeline that catch-up, not a webhook, brought this message.
fn note_caught_up(conn: &Connection, inbound: &Inbound, issue_id: i64, at: Timestamp) -> rusqlite::Result<()> {
    match &inbound.caught_up {
        Some(found) => {
            let detail = format!("{FOUND_BY_CATCH_UP} (found {})", found.found_at);
            issues::add_timeline(conn, issue_id, at, "catchup", "catchup", &detail)
        }
        None => Ok(()),
    }
}

fn outbound_message(
    conn: &Connection,
    config: &Config,
    outbound: &Outbound,
    now: Timestamp,
) -> rusqlite::Result<Outcome> {
    let Some(reply) = outbound.staff_reply(&config.internal_user_ids, config.call_voicemail, now) else {
        return Ok(Outcome::Outbound { resolved: Vec::new() });
    };
    issues::record_staff_reply(conn, &reply.party, reply.sent_at, reply.message_id.as_deref())?;
    let mut resolved = Vec::new();
    for issue in issues::live_for_party(conn, &reply.party)? {
        let since = match issue.kind {
            IssueKind::Sms => issue.first_inbound_at,
            IssueKind::Call => issue.created_at - config.call_resolve_lookback,
        };
        if !reply.answers(issue.kind) || reply.sent_at <= since {
            continue;
        }
        let detail = match &reply.message_id {
            Some(id) => format!("staff reply, message {id}"),
            None => "staff reply".to_string(),
        };
        let by = if outbound.caught_up { "staff_reply:catchup" } else { "staff_reply:webhook" };
        if issues::resolve(conn, issue.id, now, by, &detail)? {
            tracing::info!(issue = issue.id, "issue resolved by a staff reply");
            resolved.push(issue.id);
        }
    }
    Ok(Outcome::Outbound { resolved })
}
