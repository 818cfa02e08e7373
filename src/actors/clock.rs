//! The SLA clock.
//!
//! Sleeps until the earliest PENDING due time, then asks the store to settle what is due
//! (SPEC §5.2) and tells the summary sender about new breaches. It keeps only the next
//! deadline in memory; the store is the truth, so a restart simply asks again. It never polls:
//! it wakes at the deadline, or when the store says deadlines changed.

use std::sync::Arc;
use std::time::Duration;

use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::resolver::ResolverMsg;
use super::store::StoreMsg;
use super::summary::SummaryMsg;
use super::{CALL_TIMEOUT, Ctx, names};
use crate::domain::outcome::SettleReport;

/// The clock's protocol.
pub enum ClockMsg {
    /// The store committed new due times or resolved issues; recompute the next wake-up.
    Rescheduled,
    /// The timer for wake-up number `generation` fired.
    Wake {
        /// Which timer; stale timers are ignored.
        generation: u64,
    },
    /// `POST /jobs/verify_pending`: settle up to `limit` due issues now.
    SettleNow {
        /// Most issues to settle.
        limit: usize,
        /// What was done.
        reply: RpcReplyPort<Result<SettleReport, String>>,
    },
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts the clock.
    Fail,
}

/// Most issues settled in one wake-up; the next wake-up follows at once if more are due.
const SETTLE_BATCH: usize = 200;

/// The SLA clock actor.
pub struct Clock;

/// The pending timer, and the lock that keeps settling runs one at a time.
pub struct ClockState {
    ctx: Ctx,
    generation: u64,
    timer: Option<JoinHandle<()>>,
    settling: Arc<tokio::sync::Mutex<()>>,
}

impl Actor for Clock {
    type Msg = ClockMsg;
    type State = ClockState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<ClockMsg>, ctx: Ctx) -> Result<ClockState, ActorProcessingErr> {
        // Deadlines live in the database: after a (re)start, look there first.
        let _ = myself.cast(ClockMsg::Rescheduled);
        Ok(ClockState { ctx, generation: 0, timer: None, settling: Arc::new(tokio::sync::Mutex::new(())) })
    }

    async fn post_stop(&self, _myself: ActorRef<ClockMsg>, state: &mut ClockState) -> Result<(), ActorProcessingErr> {
        super::cancel(&mut state.timer);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<ClockMsg>,
        msg: ClockMsg,
        state: &mut ClockState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ClockMsg::Rescheduled => schedule(&myself, state).await,
            ClockMsg::Wake { generation } if generation == state.generation => {
                state.timer = None;
                // Settling asks GHL, which may be slow: run it beside the mailbox, then look
                // for the next deadline when it is done.
                let (ctx, lock, me) = (state.ctx.clone(), state.settling.clone(), myself.clone());
                tokio::spawn(async move {
                    let _one_at_a_time = lock.lock().await;
                    if let Err(err) = settle(&ctx, SETTLE_BATCH).await {
                        tracing::warn!("settling due issues failed: {err:#}");
                    }
                    let _ = me.cast(ClockMsg::Rescheduled);
                });
            }
            ClockMsg::Wake { .. } => {}
            ClockMsg::SettleNow { limit, reply } => {
                let (ctx, lock, me) = (state.ctx.clone(), state.settling.clone(), myself.clone());
                tokio::spawn(async move {
                    let _one_at_a_time = lock.lock().await;
                    let report = settle(&ctx, limit).await.map_err(|err| format!("{err:#}"));
                    let _ = reply.send(report);
                    let _ = me.cast(ClockMsg::Rescheduled);
                });
            }
            ClockMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            ClockMsg::Fail => panic!("clock: failure injected by a test"),
        }
        Ok(())
    }
}

/// How long the clock waits for the resolver's GHL check of due issues.
const CHECK_TIMEOUT: Duration = Duration::from_secs(300);

/// Settles what is due now: one more GHL check, then resolved or OPEN; breaches go to the
/// summary sender.
async fn settle(ctx: &Ctx, limit: usize) -> anyhow::Result<SettleReport> {
    // Nothing falls due by a clock that cannot be believed (issue 15); the clock watcher
    // wakes this actor again when it can.
    if !ctx.signals.clock_trusted() {
        return Ok(SettleReport::default());
    }
    let now = ctx.time.now();
    let due = super::call(names::STORE, |reply| StoreMsg::PendingDue { now, limit, reply }, CALL_TIMEOUT)
        .await?
        .map_err(anyhow::Error::msg)?;
    if due.is_empty() {
        return Ok(SettleReport::default());
    }
    let issue_ids: Vec<i64> = due.iter().map(|issue| issue.id).collect();
    let findings = if ctx.ghl.is_configured() {
        match super::call(names::RESOLVER, |reply| ResolverMsg::CheckDue { issues: due, reply }, CHECK_TIMEOUT).await {
            Ok(findings) => findings,
            Err(err) => {
                tracing::warn!("the due-time GHL check failed, opening to be safe: {err:#}");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let report =
        super::call(names::STORE, |reply| StoreMsg::SettleDue { now, issue_ids, findings, reply }, CALL_TIMEOUT)
            .await?
            .map_err(anyhow::Error::msg)?;
    if !report.promoted_open.is_empty() {
        tracing::info!(issues = ?report.promoted_open, "issues overdue");
        super::cast(names::SUMMARY, SummaryMsg::Breached(report.promoted_open.clone()));
    }
    Ok(report)
}

/// Arms one timer for the earliest PENDING due time; a newer timer replaces an older one.
async fn schedule(myself: &ActorRef<ClockMsg>, state: &mut ClockState) {
    super::cancel(&mut state.timer);
    state.generation += 1;
    if !state.ctx.signals.clock_trusted() {
        return;
    }
    let next = super::call(names::STORE, |reply| StoreMsg::NextPendingDue { reply }, CALL_TIMEOUT).await;
    let due_at = match next {
        Ok(Ok(Some(due_at))) => due_at,
        Ok(Ok(None)) => return,
        Ok(Err(err)) => {
            tracing::warn!("reading the next due time failed: {err}");
            return;
        }
        Err(err) => {
            tracing::warn!("reading the next due time failed: {err:#}");
            return;
        }
    };
    let generation = state.generation;
    let delay = state.ctx.time.until(due_at);
    tracing::debug!(%due_at, ?delay, "SLA clock armed");
    state.timer = Some(super::wake_after(myself, delay, ClockMsg::Wake { generation }));
}
