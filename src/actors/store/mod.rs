//! The issue store: sole owner of the SQLite connection.
//!
//! Webhooks arrive as [`StoreMsg::Ingest`] and are group-committed: each one is queued and a
//! [`StoreMsg::Flush`] is cast to ourselves, which lands behind every ingest already waiting in
//! the mailbox. The flush applies them all in one `synchronous=FULL` transaction and only then
//! answers each, so a webhook's 2xx always follows a durable commit (SPEC §2) and a burst costs
//! one fsync. After a commit that changed deadlines, the SLA clock is told to look again.

mod console;
mod error;
mod handle;
mod nightly;

pub use console::ConsoleMsg;
pub use handle::{IngestReply, IssueWithTimeline, Reply, StoreError, StoreHandle, StoreMsg, Webhook};
use jiff::Timestamp;
use ractor::{Actor, ActorProcessingErr, ActorRef};
use rusqlite::Connection;

use super::Ctx;
use super::clock::ClockHandle;
use super::outbox::OutboxHandle;
use super::resolver::ResolverHandle;
use super::summary::SummaryHandle;
use crate::db::ai_gate;
use crate::db::apply;
use crate::db::events;
pub use crate::db::facts::{StoreStats, SummaryFacts};
use crate::db::issues;
use crate::db::summary;
use crate::db::{World, facts, in_transaction, notify, outbox, settle};
use crate::domain::ai::Verdict;
use crate::domain::calendar::Calendar;
use crate::domain::event::Event;
use crate::domain::outcome::Outcome;
use crate::ghl::payload::Parsed;

/// The store actor; its state is built in `pre_start`.
pub struct Store;

/// The connection and the ingests waiting for the next commit.
pub struct StoreState {
    ctx: Ctx,
    conn: Connection,
    queued: Vec<(Box<Webhook>, IngestReply)>,
    /// This boot's id, which dates events deferred while the clock is not believed.
    boot_id: String,
    /// When the heartbeat last wrote; health checks in between only read.
    last_write: Option<std::time::Instant>,
    /// The timer for the next nightly duty.
    nightly_timer: Option<tokio::task::JoinHandle<()>>,
}

/// How often a health check proves the disk takes writes (APPLIANCE §2.2's deep probe). Checks
/// in between read, so the LED's and the watchdog's frequent checks do not wear the SD card.
const HEARTBEAT_WRITE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

impl Actor for Store {
    type Msg = StoreMsg;
    type State = StoreState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<StoreMsg>, ctx: Ctx) -> Result<StoreState, ActorProcessingErr> {
        let conn = tokio::task::block_in_place(|| crate::db::schema::open(&ctx.config.db_path))?;
        if let Some(location) = crate::db::kv_get(&conn, crate::db::apply::LEARNED_LOCATION)? {
            ctx.ghl.learn_location(&location);
        }
        // The off-box record survives restarts, so `/status` shows the last upload at once.
        if ctx.offbox.enabled() {
            ctx.offbox.set(crate::db::kv_json(&conn, crate::offbox::RECORD_KEY, None)?);
        }
        // The special days are in force from the start (issue 18).
        ctx.hours.set(crate::db::hours::calendar(&conn, &ctx.config.calendar)?);
        // A nightly run missed while the appliance was off is done at the first chance.
        let _ = myself.cast(StoreMsg::Nightly);
        let boot_id = ctx.time.boot_id();
        Ok(StoreState { ctx, conn, queued: Vec::new(), boot_id, last_write: None, nightly_timer: None })
    }

    async fn post_stop(&self, _myself: ActorRef<StoreMsg>, state: &mut StoreState) -> Result<(), ActorProcessingErr> {
        super::cancel(&mut state.nightly_timer);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<StoreMsg>,
        msg: StoreMsg,
        state: &mut StoreState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StoreMsg::Ingest { webhook, reply } => {
                if state.queued.is_empty() && myself.cast(StoreMsg::Flush).is_err() {
                    tracing::warn!("store is stopping; the webhook will be refused and retried");
                }
                state.queued.push((webhook, reply));
            }
            StoreMsg::Flush => tokio::task::block_in_place(|| flush(state)),
            StoreMsg::Heartbeat { reply } => {
                let now = state.ctx.time.now();
                let due = state.last_write.is_none_or(|at| at.elapsed() >= HEARTBEAT_WRITE_EVERY);
                let trusted = state.ctx.signals.clock_trusted();
                let result = if due {
                    let zone = state.ctx.config.calendar.zone();
                    let written = || {
                        facts::heartbeat(&state.conn, trusted, now)?;
                        if trusted { facts::note_seen(&state.conn, zone, now) } else { Ok(()) }
                    };
                    match tokio::task::block_in_place(written) {
                        Ok(()) => {
                            state.last_write = Some(std::time::Instant::now());
                            // A small write can fit where a webhook does not: only room to
                            // spare says the card is no longer full.
                            let dir = state.ctx.config.data_dir();
                            if crate::backup::filesystem_space(&dir).is_some_and(|(_, free)| free >= ROOM_TO_SPARE) {
                                state.ctx.signals.set_disk_full(false);
                            }
                            Ok(())
                        }
                        // A full card is no reason to restart (that would not free a byte):
                        // the store still answers, and /health and the LED say what is wrong.
                        Err(err) if is_disk_full(&err) => {
                            state.ctx.signals.set_disk_full(true);
                            Ok(())
                        }
                        Err(err) => Err(StoreError::Database(format!("write failed: {err}"))),
                    }
                } else {
                    facts::read_probe(&state.conn).map_err(|err| StoreError::Database(format!("read failed: {err}")))
                };
                let _ = reply.send(result);
            }
            StoreMsg::ListIssues { statuses, reply } => {
                let _ = reply.send(text_err(issues::list(&state.conn, &statuses)));
            }
            StoreMsg::GetIssue { id, reply } => {
                let found = issues::get(&state.conn, id).and_then(|issue| match issue {
                    Some(issue) => Ok(Some((issue, issues::timeline(&state.conn, id)?))),
                    None => Ok(None),
                });
                let _ = reply.send(text_err(found));
            }
            StoreMsg::NextPendingDue { reply } => {
                let _ = reply.send(text_err(issues::next_pending_due(&state.conn)));
            }
            StoreMsg::PendingDue { now, limit, reply } => {
                let _ = reply.send(text_err(issues::pending_due(&state.conn, now, limit)));
            }
            StoreMsg::SettleDue { now, issue_ids, findings, reply } => {
                let config = &state.ctx.config;
                let report = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| {
                        let report = settle::settle_due(tx, now, &issue_ids, &findings)?;
                        hooks_resolved(tx, config, now)?;
                        Ok(report)
                    })
                });
                let _ = reply.send(text_err(report));
            }
            StoreMsg::ApplyFindings { findings, reply } => {
                let now = state.ctx.time.now();
                let config = &state.ctx.config;
                let resolved = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| {
                        let resolved = settle::apply_findings(tx, now, &findings)?;
                        hooks_resolved(tx, config, now)?;
                        Ok(resolved)
                    })
                });
                if resolved.as_ref().is_ok_and(|ids| !ids.is_empty()) {
                    ClockHandle.rescheduled();
                }
                let _ = reply.send(text_err(resolved));
            }
            StoreMsg::AiCached { states, reply } => {
                let found: rusqlite::Result<Vec<Option<Verdict>>> =
                    states.iter().map(|thread| ai_gate::cached(&state.conn, thread)).collect();
                let _ = reply.send(text_err(found));
            }
            StoreMsg::AiRecord { verdicts, model, now, reply } => {
                let kept = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| {
                        verdicts
                            .iter()
                            .try_for_each(|(thread, verdict)| ai_gate::record(tx, thread, verdict, &model, now))
                    })
                });
                let _ = reply.send(text_err(kept));
            }
            StoreMsg::SetContactName { issue_id, name } => {
                if let Err(err) = issues::set_contact_name(&state.conn, issue_id, &name) {
                    tracing::warn!(issue = issue_id, "keeping the contact name failed: {err}");
                }
            }
            StoreMsg::PruneRawEvents { before, dry_run, reply } => {
                let now = state.ctx.time.now();
                let pruned = tokio::task::block_in_place(|| events::prune(&state.conn, before, now, dry_run));
                let _ = reply.send(text_err(pruned));
            }
            StoreMsg::MarkSpam { phone, by, reply } => {
                let now = state.ctx.time.now();
                let marked = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| settle::mark_spam(tx, &phone, &by, now))
                });
                if marked.as_ref().is_ok_and(|ids| !ids.is_empty()) {
                    ClockHandle.rescheduled();
                }
                let _ = reply.send(text_err(marked));
            }
            StoreMsg::SummaryFacts { now, reply } => {
                let trusted = state.ctx.signals.clock_trusted();
                let facts =
                    tokio::task::block_in_place(|| facts::summary_facts(&state.conn, &state.ctx.config, now, trusted));
                let _ = reply.send(text_err(facts));
            }
            StoreMsg::BuildDigest { slot, now, delivery, reply } => {
                let config = &state.ctx.config;
                if !config.summary_slots.iter().any(|s| s.name == slot) {
                    let expected = config.summary_slots.iter().map(|s| s.name.clone()).collect();
                    let _ = reply.send(Err(StoreError::UnknownSlot { slot, expected }));
                } else {
                    let built = tokio::task::block_in_place(|| {
                        in_transaction(&mut state.conn, |tx| summary::build_digest(tx, config, &slot, now, delivery))
                    });
                    if built.as_ref().is_ok_and(|report| report.queued) {
                        OutboxHandle.wake();
                    }
                    let _ = reply.send(text_err(built));
                }
            }
            StoreMsg::BuildAlert { now, delivery, reply } => {
                let config = &state.ctx.config;
                let built = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| summary::build_alert(tx, config, now, delivery))
                });
                // Webhooks may have been queued even when no SMS was.
                if built.is_ok() {
                    OutboxHandle.wake();
                }
                let _ = reply.send(text_err(built));
            }
            StoreMsg::QueueHook { kind, purpose, text, now, reply } => {
                let config = &state.ctx.config;
                let queued = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| notify::queue(tx, config, kind, &purpose, &text, now))
                });
                if queued.as_ref().is_ok_and(|queued| *queued > 0) {
                    OutboxHandle.wake();
                }
                let _ = reply.send(text_err(queued));
            }
            StoreMsg::QueueNotice { purpose, body, quiet_since, now, reply } => {
                let config = &state.ctx.config;
                let queued = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| {
                        if let Some(since) = quiet_since
                            && summary::webhook_since(tx, since)?
                        {
                            return Ok(false);
                        }
                        summary::queue_notice(tx, config, &purpose, &body, now)
                    })
                });
                if queued.as_ref().is_ok_and(|queued| *queued) {
                    OutboxHandle.wake();
                }
                let _ = reply.send(text_err(queued));
            }
            StoreMsg::DueOutbox { now, limit, reply } => {
                let due = tokio::task::block_in_place(|| {
                    let managers = &state.ctx.config.manager_contact_ids;
                    in_transaction(&mut state.conn, |tx| {
                        Ok((outbox::due(tx, now, limit, managers)?, outbox::next_attempt(tx)?))
                    })
                });
                let _ = reply.send(text_err(due));
            }
            StoreMsg::OutboxResult { id, now, outcome, reply } => {
                let done = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| outbox::record(tx, id, now, &outcome))
                });
                let _ = reply.send(text_err(done));
            }
            StoreMsg::Nightly => nightly::run(&myself, state),
            StoreMsg::OffboxDone(record) => nightly::uploaded(&myself, state, *record),
            StoreMsg::Deferred { limit, reply } => {
                let _ = reply.send(text_err(crate::db::events::deferred(&state.conn, limit)));
            }
            StoreMsg::ApplyDeferred { id, parsed, at, reply } => {
                let ctx = state.ctx.clone();
                let calendar = ctx.calendar();
                let judged = tokio::task::block_in_place(|| {
                    with_world(&ctx, &state.boot_id, &calendar, |world| {
                        in_transaction(&mut state.conn, |tx| apply::apply_deferred(tx, world, id, &parsed, at))
                    })
                });
                if let Ok(outcome) = &judged {
                    share_hours(&state.conn, &ctx, &[outcome]);
                    follow_up(&ctx, &[(&parsed, outcome)]);
                }
                let _ = reply.send(text_err(judged));
            }
            StoreMsg::OutboxProgress { purpose, reply } => {
                let _ = reply.send(text_err(outbox::progress(&state.conn, &purpose)));
            }
            StoreMsg::Stats { reply } => {
                let _ = reply.send(text_err(facts::stats(&state.conn)));
            }
            StoreMsg::Console(request) => console::handle(request, state),
            StoreMsg::Fail => panic!("store: failure injected by a test"),
            StoreMsg::Wedge(period) => tokio::task::block_in_place(|| std::thread::sleep(period)),
        }
        Ok(())
    }
}

fn text_err<T>(result: rusqlite::Result<T>) -> Result<T, StoreError> {
    result.map_err(StoreError::from)
}

/// Applies every queued webhook in one transaction, then answers each.
fn flush(state: &mut StoreState) {
    let queued = std::mem::take(&mut state.queued);
    if queued.is_empty() {
        return;
    }
    let now = state.ctx.time.now();
    let ctx = &state.ctx;
    let calendar = ctx.calendar();
    let committed: rusqlite::Result<Vec<Outcome>> = with_world(ctx, &state.boot_id, &calendar, |world| {
        in_transaction(&mut state.conn, |tx| {
            let mut changed: Option<Calendar> = None;
            let mut outcomes = Vec::with_capacity(queued.len());
            for (webhook, _) in &queued {
                let world = World { calendar: changed.as_ref().unwrap_or(world.calendar), ..*world };
                let outcome = apply::apply(tx, &world, &webhook.raw, &webhook.parsed, now)?;
                // A command may have changed the hours: the rest of the batch sees the new ones.
                if matches!(outcome, Outcome::Command { .. }) {
                    changed = Some(crate::db::hours::calendar(tx, &ctx.config.calendar)?);
                }
                outcomes.push(outcome);
            }
            hooks_resolved(tx, &ctx.config, now)?;
            Ok(outcomes)
        })
    });
    match committed {
        Ok(outcomes) => {
            state.ctx.signals.webhooks_committed();
            state.ctx.signals.set_disk_full(false);
            let judged: Vec<(&Parsed, &Outcome)> =
                queued.iter().map(|(webhook, _)| &webhook.parsed).zip(outcomes.iter()).collect();
            share_hours(&state.conn, &state.ctx, &outcomes.iter().collect::<Vec<_>>());
            follow_up(&state.ctx, &judged);
            tracing::debug!(batch = outcomes.len(), "webhooks committed");
            for ((_, reply), outcome) in queued.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(err) => {
            // Nothing was committed: every sender gets an error, and GHL retries (SPEC §2).
            if is_disk_full(&err) {
                state.ctx.signals.set_disk_full(true);
                OutboxHandle.wake();
            }
            tracing::error!(batch = queued.len(), error = %err, "webhook commit failed");
            for (_, reply) in queued {
                let _ = reply.send(Err(StoreError::Database(format!("could not store the event: {err}"))));
            }
        }
    }
}

/// Queues the `resolved` webhooks for what this transaction resolved, and wakes the outbox
/// sender when any was queued (it sends once the transaction has committed).
fn hooks_resolved(tx: &Connection, config: &crate::config::Config, now: Timestamp) -> rusqlite::Result<()> {
    if notify::queue_resolved(tx, config, now)? > 0 {
        OutboxHandle.wake();
    }
    Ok(())
}

/// Free space at which a full data partition counts as having room again.
const ROOM_TO_SPARE: u64 = 1024 * 1024;

/// Whether a database error means the data partition is full.
fn is_disk_full(err: &rusqlite::Error) -> bool {
    match err {
        rusqlite::Error::SqliteFailure(failure, _) => {
            failure.code == rusqlite::ErrorCode::DiskFull
                || failure.extended_code == rusqlite::ffi::SQLITE_IOERR_WRITE && err.to_string().contains("full")
        }
        _ => false,
    }
}

/// Runs `work` with what the store's transactions are told of the world outside.
fn with_world<T>(ctx: &Ctx, boot_id: &str, calendar: &Calendar, work: impl FnOnce(&World<'_>) -> T) -> T {
    let location = ctx.ghl.location_id();
    let world = World {
        config: &ctx.config,
        calendar,
        clock_trusted: ctx.signals.clock_trusted(),
        monotonic: ctx.time.monotonic(),
        boot_id,
        location_id: location.as_deref(),
        uptime: ctx.uptime(),
        ghl_state: ctx.ghl.status().state,
    };
    work(&world)
}

/// Shares the committed special days with the other actors (issue 18), and has the summary
/// sender look again at its next digest, which a changed day may add or remove.
fn share_hours(conn: &Connection, ctx: &Ctx, outcomes: &[&Outcome]) {
    if !outcomes.iter().any(|outcome| matches!(outcome, Outcome::Command { .. })) {
        return;
    }
    match crate::db::hours::load(conn) {
        Ok(days) => {
            let known: Vec<_> = ctx.calendar().special_days_from(jiff::civil::Date::MIN).cloned().collect();
            if days != known {
                ctx.hours.set(ctx.config.calendar.with_special_days(days));
                SummaryHandle.wake();
            }
        }
        Err(err) => tracing::error!("reading the special days failed; the last ones known stay in force: {err}"),
    }
}

/// What follows a commit of judged events: the SLA clock looks again when deadlines moved,
/// command replies go out, and GHL is asked for missing names (SPEC §3.4) and whether a
/// lone "thanks" followed a staff reply (SPEC §5.3).
fn follow_up(ctx: &Ctx, judged: &[(&Parsed, &Outcome)]) {
    // The first webhook's location is kept by the transaction; the client learns it now.
    if ctx.config.ghl.location_id.is_none() {
        for (parsed, _) in judged {
            if let Some(location) = &parsed.location_id
                && ctx.ghl.learn_location(location)
            {
                tracing::info!(location, "GHL location learned from a webhook (set GHL_LOCATION_ID to pin it)");
            }
        }
    }
    if judged.iter().any(|(_, outcome)| outcome.changes_deadlines()) {
        ClockHandle.rescheduled();
    }
    if judged.iter().any(|(_, outcome)| matches!(outcome, Outcome::Command { .. })) {
        OutboxHandle.wake();
    }
    if !ctx.ghl.is_configured() {
        return;
    }
    for (parsed, outcome) in judged {
        if let (Outcome::Created { issue_id, .. }, Event::Inbound(inbound)) = (outcome, &parsed.event)
            && inbound.contact_name.is_none()
            && let Some(contact_id) = inbound.party.contact_id.clone()
        {
            ResolverHandle.lookup_name(*issue_id, contact_id);
        }
        if let Outcome::Created { issue_id, unconfirmed_ack: true, .. } = outcome {
            ResolverHandle.ack_check(*issue_id);
        }
    }
}
