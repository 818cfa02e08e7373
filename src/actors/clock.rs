//! The SLA clock.
//!
//! Sleeps until the earliest PENDING due time, then asks the store to settle what is due
//! (SPEC §5.2) and tells the summary sender about new breaches. It keeps only the next
//! deadline in memory; the store is the truth, so a restart simply asks again. It never polls:
//! it wakes at the deadline, or when the store says deadlines changed.

use std::collections::VecDeque;
use std::time::Duration;

use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::resolver::ResolverHandle;
use super::store::{StoreError, StoreHandle};
use super::summary::SummaryHandle;
use super::{ActorError, Ctx, call, cast, names, ping};
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
        reply: RpcReplyPort<Result<SettleReport, StoreError>>,
    },
    /// A settling run finished (sent by the run itself).
    Settled {
        /// What it did.
        report: Result<SettleReport, StoreError>,
        /// Who asked, if anyone waits for the answer.
        reply: Option<RpcReplyPort<Result<SettleReport, StoreError>>>,
    },
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts the clock.
    Fail,
}

/// The clock's API: callers never build a `ClockMsg`. It finds the actor by name at each
/// call, so a restart is invisible.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClockHandle;

impl ClockHandle {
    /// Deadlines changed: look again for the next one.
    pub fn rescheduled(&self) {
        cast(names::CLOCK, ClockMsg::Rescheduled);
    }

    /// Settles up to `limit` due issues now, waiting at most `timeout`.
    pub async fn settle_now(&self, limit: usize, timeout: Duration) -> Result<SettleReport, StoreError> {
        call(names::CLOCK, |reply| ClockMsg::SettleNow { limit, reply }, timeout).await?
    }

    /// Health ping.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ActorError> {
        ping(names::CLOCK, ClockMsg::Ping, timeout).await
    }

    /// Test hook: makes the clock panic.
    pub fn fail(&self) {
        cast(names::CLOCK, ClockMsg::Fail);
    }
}

/// Most issues settled in one wake-up; the next wake-up follows at once if more are due.
const SETTLE_BATCH: usize = 200;

/// The SLA clock actor.
pub struct Clock;

/// A settling run asked for: how many issues at most, and who waits for the answer.
type SettleRequest = (usize, Option<RpcReplyPort<Result<SettleReport, StoreError>>>);

/// The pending timer, and the settling runs: one at a time, the rest waiting their turn.
pub struct ClockState {
    ctx: Ctx,
    generation: u64,
    timer: Option<JoinHandle<()>>,
    settling: bool,
    waiting: VecDeque<SettleRequest>,
}

impl Actor for Clock {
    type Msg = ClockMsg;
    type State = ClockState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<ClockMsg>, ctx: Ctx) -> Result<ClockState, ActorProcessingErr> {
        // Deadlines live in the database: after a (re)start, look there first.
        let _ = myself.cast(ClockMsg::Rescheduled);
        Ok(ClockState { ctx, generation: 0, timer: None, settling: false, waiting: VecDeque::new() })
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
                request(&myself, state, (SETTLE_BATCH, None));
            }
            ClockMsg::Wake { .. } => {}
            ClockMsg::SettleNow { limit, reply } => request(&myself, state, (limit, Some(reply))),
            ClockMsg::Settled { report, reply } => {
                match (reply, report) {
                    (Some(reply), report) => {
                        let _ = reply.send(report);
                    }
                    (None, Err(err)) => tracing::warn!("settling due issues failed: {err}"),
                    (None, Ok(_)) => {}
                }
                state.settling = false;
                match state.waiting.pop_front() {
                    Some(next) => request(&myself, state, next),
                    None => schedule(&myself, state).await,
                }
            }
            ClockMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            ClockMsg::Fail => panic!("clock: failure injected by a test"),
        }
        Ok(())
    }
}

/// Starts a settling run, or queues it behind the one running. Settling asks GHL, which may be
/// slow, so it runs beside the mailbox and reports back with [`ClockMsg::Settled`].
fn request(myself: &ActorRef<ClockMsg>, state: &mut ClockState, (limit, reply): SettleRequest) {
    if state.settling {
        state.waiting.push_back((limit, reply));
        return;
    }
    state.settling = true;
    let (ctx, me) = (state.ctx.clone(), myself.clone());
    tokio::spawn(async move {
        // A run that panics still reports back, so the runs after it are not held up.
        let report = tokio::spawn(async move { settle(&ctx, limit).await })
            .await
            .unwrap_or_else(|err| Err(StoreError::Aborted(format!("the settling run failed: {err}"))));
        let _ = me.cast(ClockMsg::Settled { report, reply });
    });
}

/// How long the clock waits for the resolver's GHL check of due issues.
const CHECK_TIMEOUT: Duration = Duration::from_secs(300);

/// Settles what is due now: one more GHL check, then resolved or OPEN; breaches go to the
/// summary sender.
async fn settle(ctx: &Ctx, limit: usize) -> Result<SettleReport, StoreError> {
    // Nothing falls due by a clock that cannot be believed (issue 15); the clock watcher
    // wakes this actor again when it can.
    if !ctx.signals.clock_trusted() {
        return Ok(SettleReport::default());
    }
    let now = ctx.time.now();
    let store = StoreHandle::default();
    let due = store.pending_due(now, limit).await?;
    if due.is_empty() {
        return Ok(SettleReport::default());
    }
    let issue_ids: Vec<i64> = due.iter().map(|issue| issue.id).collect();
    let findings = if ctx.ghl.is_configured() {
        match ResolverHandle.check_due(due, CHECK_TIMEOUT).await {
            Ok(findings) => findings,
            Err(err) => {
                tracing::warn!("the due-time GHL check failed, opening to be safe: {err}");
                Vec::new()
            }
        }
    } else {
        Vec::new()
    };
    let report = store.settle_due(now, issue_ids, findings).await?;
    if !report.promoted_open.is_empty() {
        tracing::info!(issues = ?report.promoted_open, "issues overdue");
        SummaryHandle.breached(report.promoted_open.clone());
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
    let due_at = match StoreHandle::default().next_pending_due().await {
        Ok(Some(due_at)) => due_at,
        Ok(None) => return,
        Err(err) => {
            tracing::warn!("reading the next due time failed: {err}");
            return;
        }
    };
    let generation = state.generation;
    let delay = state.ctx.time.until(due_at);
    tracing::debug!(%due_at, ?delay, "SLA clock armed");
    state.timer = Some(super::wake_after(myself, delay, ClockMsg::Wake { generation }));
}
