//! The issue store: sole owner of the SQLite connection.
//!
//! Webhooks arrive as [`StoreMsg::Ingest`] and are group-committed: each one is queued and a
//! [`StoreMsg::Flush`] is cast to ourselves, which lands behind every ingest already waiting in
//! the mailbox. The flush applies them all in one `synchronous=FULL` transaction and only then
//! answers each, so a webhook's 2xx always follows a durable commit (SPEC §2) and a burst costs
//! one fsync. After a commit that changed deadlines, the SLA clock is told to look again.

use jiff::Timestamp;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use rusqlite::Connection;

use super::clock::ClockMsg;
use super::resolver::ResolverMsg;
use super::summary::SummaryMsg;
use super::{Ctx, names};
use crate::domain::ai::{ThreadState, Verdict};
use crate::domain::event::{Event, Status};
use crate::domain::issue::{Delivery, Issue, TimelineEntry};
use crate::domain::outcome::{Finding, Outcome, SettleReport};
use crate::domain::phone::Phone;
use crate::ghl::payload::Parsed;
use crate::store::ai_gate;
use crate::store::apply;
use crate::store::events::{self, RawEvent};
pub use crate::store::facts::{StoreStats, SummaryFacts};
use crate::store::issues;
use crate::store::summary::{self, AlertReport, DigestReport};
use crate::store::{World, facts, in_transaction, kv_set, outbox, settle, ts};

/// The store's protocol. Errors travel as text: the caller reports them, it cannot fix them.
pub enum StoreMsg {
    /// Store and apply a webhook; answered after the commit that contains it.
    Ingest {
        /// The webhook as received and as parsed (boxed: it dwarfs every other message).
        webhook: Box<Webhook>,
        /// Answered with what became of it.
        reply: IngestReply,
    },
    /// Commit every queued ingest (cast by the store to itself).
    Flush,
    /// Health: a real write transaction, as the watchdog demands.
    Heartbeat {
        /// Answered after the commit.
        reply: RpcReplyPort<Result<(), String>>,
    },
    /// Issues having any of `statuses` (all when empty), by due time.
    ListIssues {
        /// Which statuses.
        statuses: Vec<Status>,
        /// The issues.
        reply: RpcReplyPort<Result<Vec<Issue>, String>>,
    },
    /// One issue with its timeline.
    GetIssue {
        /// Issue number.
        id: i64,
        /// The issue and its timeline, or `None`.
        reply: RpcReplyPort<Result<Option<IssueWithTimeline>, String>>,
    },
    /// The earliest PENDING due time.
    NextPendingDue {
        /// The due time, if any issue is PENDING.
        reply: RpcReplyPort<Result<Option<Timestamp>, String>>,
    },
    /// PENDING issues whose due time has come, oldest first.
    PendingDue {
        /// The clock's now.
        now: Timestamp,
        /// Most issues to return.
        limit: usize,
        /// The due issues.
        reply: RpcReplyPort<Result<Vec<Issue>, String>>,
    },
    /// Settle these due issues: resolved when GHL (or a known reply) shows a staff reply,
    /// else OPEN (SPEC §5.2). Issues no longer PENDING are left alone.
    SettleDue {
        /// The clock's now.
        now: Timestamp,
        /// The issues to settle.
        issue_ids: Vec<i64>,
        /// What the resolver found in GHL for them (may be empty).
        findings: Vec<Finding>,
        /// What was done.
        reply: RpcReplyPort<Result<SettleReport, String>>,
    },
    /// Apply what a resolver pass found: resolve answered issues, remember conversations.
    ApplyFindings {
        /// The findings.
        findings: Vec<Finding>,
        /// The issues resolved.
        reply: RpcReplyPort<Result<Vec<i64>, String>>,
    },
    /// The AI check's cached verdicts for these thread states, in the same order (SPEC §10).
    AiCached {
        /// The thread states about to be sent.
        states: Vec<ThreadState>,
        /// A verdict for each state that has one.
        reply: RpcReplyPort<Result<Vec<Option<Verdict>>, String>>,
    },
    /// Keep fresh AI verdicts, each for the thread state it answers.
    AiRecord {
        /// The verdicts.
        verdicts: Vec<(ThreadState, Verdict)>,
        /// The model that gave them.
        model: String,
        /// The resolver's now.
        now: Timestamp,
        /// Answered after the commit.
        reply: RpcReplyPort<Result<(), String>>,
    },
    /// Keep a contact name looked up in GHL.
    SetContactName {
        /// The issue.
        issue_id: i64,
        /// The name.
        name: String,
    },
    /// Prune raw events received before `before`.
    PruneRawEvents {
        /// Cut-off.
        before: Timestamp,
        /// Count only.
        dry_run: bool,
        /// How many were (or would be) deleted.
        reply: RpcReplyPort<Result<usize, String>>,
    },
    /// What the summary sender needs to plan; records that the appliance is running now.
    SummaryFacts {
        /// The sender's now.
        now: Timestamp,
        /// The facts, read before `now` is recorded as last seen.
        reply: RpcReplyPort<Result<SummaryFacts, String>>,
    },
    /// Build a slot's digest and, unless a dry run, claim the slot and queue it.
    BuildDigest {
        /// The slot's name.
        slot: String,
        /// The sender's now.
        now: Timestamp,
        /// Queue or only show.
        delivery: Delivery,
        /// What was built.
        reply: RpcReplyPort<Result<DigestReport, String>>,
    },
    /// Build the alert for OPEN issues not alerted yet and, unless a dry run, queue it.
    BuildAlert {
        /// The sender's now.
        now: Timestamp,
        /// Queue or only show.
        delivery: Delivery,
        /// What was built.
        reply: RpcReplyPort<Result<AlertReport, String>>,
    },
    /// Queue a one-off notice to managers (the appliance cannot see GHL); `quiet_since`
    /// makes it conditional on no webhook having arrived since then.
    QueueNotice {
        /// Unique purpose, e.g. `notice:quiet:2026-11-23`.
        purpose: String,
        /// The text.
        body: String,
        /// Only when no webhook arrived since this instant.
        quiet_since: Option<Timestamp>,
        /// The sender's now.
        now: Timestamp,
        /// Whether it was queued.
        reply: RpcReplyPort<Result<bool, String>>,
    },
    /// Outbox rows due for sending.
    DueOutbox {
        /// The sender's now.
        now: Timestamp,
        /// Most rows.
        limit: usize,
        /// The rows.
        reply: RpcReplyPort<Result<Vec<outbox::Entry>, String>>,
    },
    /// The result of sending one outbox row: GHL's message id, or the error and whether the
    /// row can never be sent (no token).
    OutboxResult {
        /// The row.
        id: i64,
        /// When.
        now: Timestamp,
        /// What happened.
        outcome: outbox::Attempt,
        /// Answered after the commit.
        reply: RpcReplyPort<Result<(), String>>,
    },
    /// Put a phone on the spam list and mark its live issues SPAM (SPEC §5.1, §7).
    MarkSpam {
        /// The normalised phone.
        phone: Phone,
        /// Who asked, for the timeline (`admin`, `manual:<contact>`).
        by: String,
        /// The issues marked SPAM.
        reply: RpcReplyPort<Result<Vec<i64>, String>>,
    },
    /// The nightly backup for a local date, once (APPLIANCE §5.4).
    NightlyBackup {
        /// The local date.
        date: jiff::civil::Date,
        /// The file written, unless this date was backed up already.
        reply: RpcReplyPort<Result<Option<String>, String>>,
    },
    /// The off-box copy's record (issue 15): keep `save` when given, and answer with the record
    /// kept, so `/status` shows the last upload after a restart too.
    OffboxRecord {
        /// The new record, or `None` only to read.
        save: Option<crate::offbox::Record>,
        /// The record kept.
        reply: RpcReplyPort<Result<crate::offbox::Record, String>>,
    },
    /// Where the rows queued under a purpose stand (`/jobs/*` report what really went out).
    OutboxProgress {
        /// The purpose the rows were queued under.
        purpose: String,
        /// Each row's state.
        reply: RpcReplyPort<Result<Vec<outbox::Progress>, String>>,
    },
    /// Events stored while the wall clock was not believed, oldest first (issue 15).
    Deferred {
        /// Most events.
        limit: usize,
        /// The events.
        reply: RpcReplyPort<Result<Vec<crate::store::events::Deferred>, String>>,
    },
    /// Judges one deferred event at its true arrival time.
    ApplyDeferred {
        /// The raw event.
        id: i64,
        /// It, parsed again.
        parsed: Box<Parsed>,
        /// When it really arrived.
        at: Timestamp,
        /// What became of it.
        reply: RpcReplyPort<Result<Outcome, String>>,
    },
    /// Figures for `/health` and the status page.
    Stats {
        /// The figures.
        reply: RpcReplyPort<Result<StoreStats, String>>,
    },
    /// Test hook: panic, to prove the supervisor restarts the store.
    Fail,
    /// Test hook: hold the mailbox this long, as a stuck disk would, to prove the watchdog
    /// stops being fed.
    Wedge(std::time::Duration),
}

/// Where the store answers an ingest: with the outcome after the commit, or why it failed.
pub type IngestReply = RpcReplyPort<Result<Outcome, String>>;

/// An issue and its timeline, oldest entry first.
pub type IssueWithTimeline = (Issue, Vec<TimelineEntry>);

/// A webhook on its way into the database.
#[derive(Debug)]
pub struct Webhook {
    /// The raw event row to store.
    pub raw: RawEvent,
    /// What the parser made of it.
    pub parsed: Parsed,
}

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
}

/// How often a health check proves the disk takes writes (APPLIANCE §2.2's deep probe). Checks
/// in between read, so the LED's and the watchdog's frequent checks do not wear the SD card.
const HEARTBEAT_WRITE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

impl Actor for Store {
    type Msg = StoreMsg;
    type State = StoreState;
    type Arguments = Ctx;

    async fn pre_start(&self, _myself: ActorRef<StoreMsg>, ctx: Ctx) -> Result<StoreState, ActorProcessingErr> {
        let conn = tokio::task::block_in_place(|| crate::store::schema::open(&ctx.config.db_path))?;
        if let Some(location) = crate::store::kv_get(&conn, crate::store::apply::LEARNED_LOCATION)? {
            ctx.ghl.learn_location(&location);
        }
        let boot_id = ctx.time.boot_id();
        Ok(StoreState { ctx, conn, queued: Vec::new(), boot_id, last_write: None })
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
                // A real write either way (the watchdog's promise); by a clock that cannot be
                // believed it goes under another key, so no wrong "last seen" is left behind.
                let key = if state.ctx.signals.clock_trusted() { "heartbeat_at" } else { "heartbeat_untrusted" };
                let result = if due {
                    match tokio::task::block_in_place(|| kv_set(&state.conn, key, &ts(now))) {
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
                        Err(err) => Err(format!("database write failed: {err}")),
                    }
                } else {
                    state
                        .conn
                        .query_row("SELECT 1", [], |_| Ok(()))
                        .map_err(|err| format!("database read failed: {err}"))
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
                let report = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| settle::settle_due(tx, now, &issue_ids, &findings))
                });
                let _ = reply.send(text_err(report));
            }
            StoreMsg::ApplyFindings { findings, reply } => {
                let now = state.ctx.time.now();
                let resolved = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| settle::apply_findings(tx, now, &findings))
                });
                if resolved.as_ref().is_ok_and(|ids| !ids.is_empty()) {
                    super::cast(names::CLOCK, ClockMsg::Rescheduled);
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
                let pruned = tokio::task::block_in_place(|| events::prune(&state.conn, before, dry_run));
                let _ = reply.send(text_err(pruned));
            }
            StoreMsg::MarkSpam { phone, by, reply } => {
                let now = state.ctx.time.now();
                let marked = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| settle::mark_spam(tx, &phone, &by, now))
                });
                if marked.as_ref().is_ok_and(|ids| !ids.is_empty()) {
                    super::cast(names::CLOCK, ClockMsg::Rescheduled);
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
                    let names: Vec<&str> = config.summary_slots.iter().map(|s| s.name.as_str()).collect();
                    let _ = reply.send(Err(format!("unknown slot {slot:?}; expected one of {}", names.join(", "))));
                } else {
                    let built = tokio::task::block_in_place(|| {
                        in_transaction(&mut state.conn, |tx| summary::build_digest(tx, config, &slot, now, delivery))
                    });
                    let _ = reply.send(text_err(built));
                }
            }
            StoreMsg::BuildAlert { now, delivery, reply } => {
                let config = &state.ctx.config;
                let built = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| summary::build_alert(tx, config, now, delivery))
                });
                let _ = reply.send(text_err(built));
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
                let _ = reply.send(text_err(queued));
            }
            StoreMsg::DueOutbox { now, limit, reply } => {
                let due =
                    tokio::task::block_in_place(|| in_transaction(&mut state.conn, |tx| outbox::due(tx, now, limit)));
                let _ = reply.send(text_err(due));
            }
            StoreMsg::OutboxResult { id, now, outcome, reply } => {
                let done = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| outbox::record(tx, id, now, &outcome))
                });
                let _ = reply.send(text_err(done));
            }
            StoreMsg::NightlyBackup { date, reply } => {
                let now = state.ctx.time.now();
                let written = tokio::task::block_in_place(|| {
                    crate::store::housekeeping::nightly(&state.conn, &state.ctx.config, date, now)
                });
                let written = written.map(|path| path.map(|path| path.display().to_string()));
                let _ = reply.send(written.map_err(|err| format!("{err:#}")));
            }
            StoreMsg::Deferred { limit, reply } => {
                let _ = reply.send(text_err(crate::store::events::deferred(&state.conn, limit)));
            }
            StoreMsg::ApplyDeferred { id, parsed, at, reply } => {
                let ctx = state.ctx.clone();
                let judged = tokio::task::block_in_place(|| {
                    with_world(&ctx, &state.boot_id, |world| {
                        in_transaction(&mut state.conn, |tx| apply::apply_deferred(tx, world, id, &parsed, at))
                    })
                });
                if let Ok(outcome) = &judged {
                    follow_up(&ctx, &[(&parsed, outcome)]);
                }
                let _ = reply.send(text_err(judged));
            }
            StoreMsg::OffboxRecord { save, reply } => {
                let kept = tokio::task::block_in_place(|| crate::store::offbox_record(&state.conn, save.as_ref()));
                let _ = reply.send(text_err(kept));
            }
            StoreMsg::OutboxProgress { purpose, reply } => {
                let _ = reply.send(text_err(outbox::progress(&state.conn, &purpose)));
            }
            StoreMsg::Stats { reply } => {
                let _ = reply.send(text_err(facts::stats(&state.conn)));
            }
            StoreMsg::Fail => panic!("store: failure injected by a test"),
            StoreMsg::Wedge(period) => tokio::task::block_in_place(|| std::thread::sleep(period)),
        }
        Ok(())
    }
}

fn text_err<T>(result: rusqlite::Result<T>) -> Result<T, String> {
    result.map_err(|err| format!("database error: {err}"))
}

/// Applies every queued webhook in one transaction, then answers each.
fn flush(state: &mut StoreState) {
    let queued = std::mem::take(&mut state.queued);
    if queued.is_empty() {
        return;
    }
    let now = state.ctx.time.now();
    let ctx = &state.ctx;
    let committed: rusqlite::Result<Vec<Outcome>> = with_world(ctx, &state.boot_id, |world| {
        in_transaction(&mut state.conn, |tx| {
            queued.iter().map(|(webhook, _)| apply::apply(tx, world, &webhook.raw, &webhook.parsed, now)).collect()
        })
    });
    match committed {
        Ok(outcomes) => {
            state.ctx.signals.quiet_day.store(false, std::sync::atomic::Ordering::Relaxed);
            state.ctx.signals.set_disk_full(false);
            let judged: Vec<(&Parsed, &Outcome)> =
                queued.iter().map(|(webhook, _)| &webhook.parsed).zip(outcomes.iter()).collect();
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
                super::cast(names::SUMMARY, SummaryMsg::Wake);
            }
            tracing::error!(batch = queued.len(), error = %err, "webhook commit failed");
            for (_, reply) in queued {
                let _ = reply.send(Err(format!("could not store the event: {err}")));
            }
        }
    }
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
fn with_world<T>(ctx: &Ctx, boot_id: &str, work: impl FnOnce(&World<'_>) -> T) -> T {
    let location = ctx.ghl.location_id();
    let world = World {
        config: &ctx.config,
        clock_trusted: ctx.signals.clock_trusted(),
        monotonic: ctx.time.monotonic(),
        boot_id,
        location_id: location.as_deref(),
        uptime: ctx.uptime(),
        ghl_state: ctx.ghl.status().state,
    };
    work(&world)
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
        super::cast(names::CLOCK, ClockMsg::Rescheduled);
    }
    if judged.iter().any(|(_, outcome)| matches!(outcome, Outcome::Command { .. })) {
        super::cast(names::SUMMARY, SummaryMsg::Wake);
    }
    if !ctx.ghl.is_configured() {
        return;
    }
    for (parsed, outcome) in judged {
        if let (Outcome::Created { issue_id, .. }, Event::Inbound(inbound)) = (outcome, &parsed.event)
            && inbound.contact_name.is_none()
            && let Some(contact_id) = inbound.party.contact_id.clone()
        {
            super::cast(names::RESOLVER, ResolverMsg::LookupName { issue_id: *issue_id, contact_id });
        }
        if let Outcome::Created { issue_id, unconfirmed_ack: true, .. } = outcome {
            super::cast(names::RESOLVER, ResolverMsg::AckCheck { issue_id: *issue_id });
        }
    }
}
