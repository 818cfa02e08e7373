//! The issue store: sole owner of the SQLite connection.
//!
//! Webhooks arrive as `intake::Msg::Ingest` and are group-committed: each one is queued and a
//! `intake::Msg::Flush` is cast to ourselves, which lands behind every ingest already waiting in
//! the mailbox. The flush applies them all in one `synchronous=FULL` transaction and only then
//! answers each, so a webhook's 2xx always follows a durable commit (SPEC §2) and a burst costs
//! one fsync. After a commit that changed deadlines, the SLA clock is told to look again.
//!
//! The protocol is split by area, as `db/` is: each file here holds one area's messages, their
//! methods on [`StoreHandle`] and the function that answers them, so a new request touches one
//! file. `intake` (webhooks in), `settle` (issues and their settling), `ai` (the AI check's
//! cache), `summary` (digests, alerts, notices), `outbox`, `console` (issue 17), `nightly` (the
//! nightly duty), `catchup` (SPEC §12) and `test_hooks`; `hours` publishes the calendar a manager's command changed.
//! Only the health checks are answered here.

mod ai;
mod catchup;
mod console;
mod error;
mod hours;
mod intake;
pub(crate) mod nightly;
mod outbox;
mod settle;
mod summary;
mod test_hooks;

use std::time::Duration;

pub use error::StoreError;
pub use intake::{IngestReply, Webhook};
use jiff::Timestamp;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use rusqlite::Connection;
pub use settle::IssueWithTimeline;

use super::outbox::OutboxHandle;
use super::{CALL_TIMEOUT, Ctx, names};
use crate::db::facts;
pub use crate::db::facts::{StoreStats, SummaryFacts};
use crate::db::notify;

/// Where the store answers: with the value, or why not.
pub type Reply<T> = RpcReplyPort<Result<T, StoreError>>;

/// The store's protocol: one variant per area, whose requests live in that area's file, and
/// the health checks. Callers use [`StoreHandle`]; only the store's own module builds these.
pub enum StoreMsg {
    /// Webhooks in: the ingest, its group commit, and the events deferred while the wall
    /// clock was not believed.
    Intake(intake::Msg),
    /// Issues: reading them, and settling them with what the clock and the resolver found.
    Settle(settle::Msg),
    /// The AI check's verdict cache (SPEC §10).
    Ai(ai::Msg),
    /// What the summary sender plans with and queues: digests, alerts and notices.
    Summary(summary::Msg),
    /// The outbox's rows and the notification webhooks queued there.
    Outbox(outbox::Msg),
    /// The managers' console's requests (issue 17).
    Console(console::Msg),
    /// The nightly duty and the off-box upload's report.
    Nightly(nightly::Msg),
    /// Catch-up after gaps: what it knew of conversations, and what it found (SPEC §12).
    CatchUp(catchup::Msg),
    /// Test hooks.
    Test(test_hooks::Msg),
    /// Health: a real write transaction, as the watchdog demands.
    Heartbeat {
        /// Answered after the commit.
        reply: Reply<()>,
    },
    /// Figures for `/health` and the status page.
    Stats {
        /// The figures.
        reply: Reply<StoreStats>,
    },
}

/// The store as callers see it: one method per request, typed answers and errors. It finds the
/// store by name on each call, so it survives the store's restarts. Each area's methods are in
/// that area's file.
#[derive(Debug, Clone, Copy)]
pub struct StoreHandle {
    timeout: Duration,
}

impl Default for StoreHandle {
    fn default() -> Self {
        StoreHandle { timeout: CALL_TIMEOUT }
    }
}

impl StoreHandle {
    /// A handle whose calls wait at most `timeout` for an answer.
    pub fn with_timeout(timeout: Duration) -> Self {
        StoreHandle { timeout }
    }

    /// Asks the store for an area's request and waits for the answer.
    async fn ask<T: Send + 'static, M: Into<StoreMsg>>(
        &self,
        build: impl FnOnce(Reply<T>) -> M,
    ) -> Result<T, StoreError> {
        super::call(names::STORE, |reply| build(reply).into(), self.timeout).await?
    }

    /// Tells the store something that needs no answer.
    fn tell(&self, message: impl Into<StoreMsg>) {
        super::cast(names::STORE, message.into());
    }

    /// A real write when one is due, else a read: the watchdog's deep probe.
    pub async fn heartbeat(&self) -> Result<(), StoreError> {
        self.ask(|reply| StoreMsg::Heartbeat { reply }).await
    }

    /// Figures for `/health` and the status page.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.ask(|reply| StoreMsg::Stats { reply }).await
    }
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
    /// The timer for the next nightly duty.
    nightly_timer: Option<tokio::task::JoinHandle<()>>,
}

/// How often a health check proves the disk takes writes (APPLIANCE §2.2's deep probe). Checks
/// in between read, so the LED's and the watchdog's frequent checks do not wear the SD card.
const HEARTBEAT_WRITE_EVERY: Duration = Duration::from_secs(30);

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
        let _ = myself.cast(nightly::Msg::Run.into());
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
            StoreMsg::Intake(msg) => intake::handle(msg, &myself, state),
            StoreMsg::Settle(msg) => settle::handle(msg, state),
            StoreMsg::Ai(msg) => ai::handle(msg, state),
            StoreMsg::Summary(msg) => summary::handle(msg, state),
            StoreMsg::Outbox(msg) => outbox::handle(msg, state),
            StoreMsg::Console(msg) => console::handle(msg, state),
            StoreMsg::Nightly(msg) => nightly::handle(msg, &myself, state),
            StoreMsg::CatchUp(msg) => catchup::handle(msg, state),
            StoreMsg::Test(msg) => test_hooks::handle(msg),
            StoreMsg::Heartbeat { reply } => {
                let _ = reply.send(heartbeat(state));
            }
            StoreMsg::Stats { reply } => {
                let (calendar, now) = (state.ctx.calendar(), state.ctx.time.now());
                let stats = facts::stats(&state.conn).and_then(|mut stats| {
                    stats.day = facts::day_figures(&state.conn, &calendar, now)?;
                    Ok(stats)
                });
                let _ = reply.send(text_err(stats));
            }
        }
        Ok(())
    }
}

/// Answers a health check: a write when one is due, else a read.
fn heartbeat(state: &mut StoreState) -> Result<(), StoreError> {
    let now = state.ctx.time.now();
    let due = state.last_write.is_none_or(|at| at.elapsed() >= HEARTBEAT_WRITE_EVERY);
    if !due {
        return facts::read_probe(&state.conn).map_err(|err| StoreError::Database(format!("read failed: {err}")));
    }
    let trusted = state.ctx.signals.clock_trusted();
    let zone = state.ctx.config.calendar.zone();
    let written = || {
        facts::heartbeat(&state.conn, trusted, now)?;
        if trusted { facts::note_seen(&state.conn, zone, now) } else { Ok(()) }
    };
    match tokio::task::block_in_place(written) {
        Ok(()) => {
            state.last_write = Some(std::time::Instant::now());
            // A small write can fit where a webhook does not: only room to spare says the card
            // is no longer full.
            let dir = state.ctx.config.data_dir();
            if crate::backup::filesystem_space(&dir).is_some_and(|(_, free)| free >= ROOM_TO_SPARE) {
                state.ctx.signals.set_disk_full(false);
            }
            Ok(())
        }
        // A full card is no reason to restart (that would not free a byte): the store still
        // answers, and /health and the LED say what is wrong.
        Err(err) if is_disk_full(&err) => {
            state.ctx.signals.set_disk_full(true);
            Ok(())
        }
        Err(err) => Err(StoreError::Database(format!("write failed: {err}"))),
    }
}

fn text_err<T>(result: rusqlite::Result<T>) -> Result<T, StoreError> {
    result.map_err(StoreError::from)
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
