//! The summary sender: decides what managers are told and when — breach alerts, digests and
//! notices (SPEC §6, §8). The outbox sender (`actors::outbox`) carries them, and the store
//! keeps the nightly backup (`actors::store::nightly`).
//!
//! It keeps one timer for its next duty: the end of an alert's one-minute bundling window, or
//! the next digest slot on a business day. At each wake it asks the store to build and queue
//! what is due (the store claims slots and batches atomically, and wakes the outbox sender). A
//! digest slot is queued once per local date; a slot missed while the appliance was off is
//! queued on return if before the next slot and if the appliance had run that day before the
//! slot (a box first started after the slot, then restarted, sends it not).

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::store::{StoreError, StoreHandle, SummaryFacts};
use super::{ActorError, CALL_TIMEOUT, Ctx, call, cast, names, ping};
use crate::db::summary::{AlertReport, DigestReport};
use crate::domain::issue::Delivery;

/// The summary sender's protocol.
pub enum SummaryMsg {
    /// These issues just became OPEN: alert within a minute, bundled.
    Breached(Vec<i64>),
    /// Something may be due (timer, a moved test clock, a queued outbox row).
    Wake,
    /// `POST /jobs/send_summary`: build (and unless a dry run, queue) a slot's digest now.
    SendDigest {
        /// The slot's name.
        slot: String,
        /// Queue or only show.
        delivery: Delivery,
        /// What was built.
        reply: RpcReplyPort<Result<DigestReport, StoreError>>,
    },
    /// `POST /jobs/escalations`: alert about OPEN issues not alerted yet, now.
    SendAlert {
        /// Queue or only show.
        delivery: Delivery,
        /// What was built.
        reply: RpcReplyPort<Result<AlertReport, StoreError>>,
    },
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts the summary sender.
    Fail,
}

/// The summary sender's API: callers never build a `SummaryMsg`. It finds the actor by name at each
/// call, so a restart is invisible.
#[derive(Debug, Clone, Copy, Default)]
pub struct SummaryHandle;

impl SummaryHandle {
    /// These issues just breached: alert once (bundled).
    pub fn breached(&self, ids: Vec<i64>) {
        cast(names::SUMMARY, SummaryMsg::Breached(ids));
    }

    /// Something changed: look at what is due again.
    pub fn wake(&self) {
        cast(names::SUMMARY, SummaryMsg::Wake);
    }

    /// Builds a slot's digest and, unless a dry run, queues it.
    pub async fn send_digest(&self, slot: String, delivery: Delivery) -> Result<DigestReport, StoreError> {
        call(names::SUMMARY, |reply| SummaryMsg::SendDigest { slot, delivery, reply }, CALL_TIMEOUT).await?
    }

    /// Builds the alert for OPEN issues not alerted yet and, unless a dry run, queues it.
    pub async fn send_alert(&self, delivery: Delivery) -> Result<AlertReport, StoreError> {
        call(names::SUMMARY, |reply| SummaryMsg::SendAlert { delivery, reply }, CALL_TIMEOUT).await?
    }

    /// Health ping.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ActorError> {
        ping(names::SUMMARY, SummaryMsg::Ping, timeout).await
    }

    /// Test hook: makes the summary sender panic.
    pub fn fail(&self) {
        cast(names::SUMMARY, SummaryMsg::Fail);
    }
}

/// Breaches within this window share one alert (SPEC §6).
const BUNDLE_WINDOW: SignedDuration = SignedDuration::from_mins(1);
/// A slot this late still counts as on time, even on a fresh install.
const ON_TIME: SignedDuration = SignedDuration::from_mins(2);
/// The longest a due digest waits (wall time) for the SLA clock to settle what fell due.
const SETTLE_GRACE: Duration = Duration::from_secs(60);
/// How often a waiting digest looks again.
const SETTLE_POLL: Duration = Duration::from_millis(200);

/// The summary sender actor.
pub struct Summary;

/// Timers and what the store said at start.
pub struct SummaryState {
    ctx: Ctx,
    /// When the open alert bundle is due, if one is open.
    alert_due: Option<Timestamp>,
    /// The first instant the appliance ran today, before this start (for late digests).
    first_seen_today: Option<Timestamp>,
    timer: Option<JoinHandle<()>>,

    /// Since when (wall time) a due digest waits for the SLA clock to settle what fell due.
    digest_waiting_since: Option<std::time::Instant>,
}

impl Actor for Summary {
    type Msg = SummaryMsg;
    type State = SummaryState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<SummaryMsg>, ctx: Ctx) -> Result<SummaryState, ActorProcessingErr> {
        let facts = facts(&ctx).await.map_err(|err| format!("{err:#}"))?;
        let _ = myself.cast(SummaryMsg::Wake);
        // Issues that broke their target while we were down, or before a restart, are still
        // waiting for their alert: open a bundle at once.
        let alert_due = (facts.unalerted_open > 0).then(|| ctx.time.now());
        Ok(SummaryState {
            ctx,
            alert_due,
            first_seen_today: facts.first_seen_today,
            timer: None,
            digest_waiting_since: None,
        })
    }

    async fn post_stop(
        &self,
        _myself: ActorRef<SummaryMsg>,
        state: &mut SummaryState,
    ) -> Result<(), ActorProcessingErr> {
        super::cancel(&mut state.timer);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<SummaryMsg>,
        msg: SummaryMsg,
        state: &mut SummaryState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SummaryMsg::Breached(issues) => {
                tracing::info!(?issues, "breach: alert bundled within a minute");
                if state.alert_due.is_none() {
                    state.alert_due = Some(state.ctx.time.now() + BUNDLE_WINDOW);
                }
                wake(&myself, state).await;
            }
            SummaryMsg::Wake => wake(&myself, state).await,
            SummaryMsg::SendDigest { slot, delivery, reply } => {
                let now = state.ctx.time.now();
                let _ = reply.send(StoreHandle::default().build_digest(slot, now, delivery).await);
            }
            SummaryMsg::SendAlert { delivery, reply } => {
                let now = state.ctx.time.now();
                let built = StoreHandle::default().build_alert(now, delivery).await;
                if delivery == Delivery::Queue {
                    state.alert_due = None;
                }
                let _ = reply.send(built);
            }
            SummaryMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            SummaryMsg::Fail => panic!("summary: failure injected by a test"),
        }
        Ok(())
    }
}

async fn facts(ctx: &Ctx) -> Result<SummaryFacts, StoreError> {
    StoreHandle::default().summary_facts(ctx.time.now()).await
}

/// Does what is due, starts sending, and arms the timer for the next duty.
async fn wake(myself: &ActorRef<SummaryMsg>, state: &mut SummaryState) {
    let ctx = state.ctx.clone();
    let now = ctx.time.now();
    // By a clock that cannot be believed no alert or digest goes out (issue 15): they wait,
    // and the clock watcher wakes this actor when the time is known.
    if !ctx.signals.clock_trusted() {
        return;
    }
    let store = StoreHandle::default();
    if state.alert_due.is_some_and(|due| due <= now) {
        state.alert_due = None;
        let delivery = Delivery::Queue;
        match store.build_alert(now, delivery).await {
            Ok(report) if report.queued => tracing::info!(breaches = report.new_breaches, "breach alert queued"),
            Ok(_) => {}
            Err(err) => tracing::warn!("building the breach alert failed: {err}"),
        }
    }
    if let Some((slot, unsettled)) = due_slot(&ctx, now, state.first_seen_today).await {
        // Issues that fell due at the slot's minute are settled first (a GHL check each), so
        // that the digest counts them as overdue or resolved, not as nothing. The wait is on
        // the wall clock and bounded: a GHL outage settles them as OPEN within its timeouts.
        let waited = state.digest_waiting_since.get_or_insert_with(std::time::Instant::now).elapsed();
        if unsettled > 0 && waited < SETTLE_GRACE {
            super::cancel(&mut state.timer);
            state.timer = Some(super::wake_after(myself, SETTLE_POLL, SummaryMsg::Wake));
            return;
        }
        state.digest_waiting_since = None;
        if ctx.config.summary_slots.last().is_some_and(|last| last.name == slot) {
            quiet_day_notice(&ctx, now).await;
        }
        let delivery = Delivery::Queue;
        match store.build_digest(slot.clone(), now, delivery).await {
            Ok(report) if report.queued => tracing::info!(slot, "digest queued"),
            Ok(_) => {}
            Err(err) => tracing::warn!(slot, "building the digest failed: {err}"),
        }
    }
    if ctx.ghl.status().token_refused {
        let date = now.to_zoned(ctx.config.calendar.zone().clone()).date();
        let body = format!(
            "{} — GHL refused the access token, so the appliance cannot see GHL. Replies are not being checked. Please renew GHL_TOKEN.",
            crate::domain::format::BRAND
        );
        notice(format!("notice:token:{date}"), body, None, now).await;
    }
    schedule(myself, state, now).await;
}

/// At the day's last digest: if no webhook arrived since the day began, GHL is probably not
/// reaching the appliance (tunnel or workflow broken); tell managers once.
async fn quiet_day_notice(ctx: &Ctx, now: Timestamp) {
    // An office on catch-up alone (`WEBHOOKS=off`) expects none.
    if !ctx.config.catchup.webhooks {
        return;
    }
    let zone = ctx.config.calendar.zone().clone();
    let today = now.to_zoned(zone.clone()).date();
    let Ok(start) = today.to_zoned(zone) else { return };
    let start = start.timestamp();
    let Ok(stats) = StoreHandle::default().stats().await else {
        return;
    };
    if stats.last_webhook_at.is_some_and(|at| at >= start) {
        return;
    }
    // Degraded until the next webhook is committed.
    ctx.signals.found_quiet_day();
    let body = format!(
        "{} — no webhook from GHL arrived today. The appliance cannot see GHL: check the tunnel and the GHL workflows.",
        crate::domain::format::BRAND
    );
    notice(format!("notice:quiet:{today}"), body, Some(start), now).await;
}

async fn notice(purpose: String, body: String, quiet_since: Option<Timestamp>, now: Timestamp) {
    match StoreHandle::default().queue_notice(purpose.clone(), body, quiet_since, now).await {
        Ok(true) => tracing::warn!(purpose, "notice to managers queued"),
        Ok(false) => {}
        Err(err) => tracing::warn!(purpose, "queueing a notice failed: {err}"),
    }
}

/// The slot to send now: the latest slot of today that has passed, on a business day, not
/// yet claimed, before the next slot, and either on time, or late while this process was
/// already running at the slot (a timer that fired late: a suspend, a clock step), or after a
/// restart on a day the appliance had already run (a fresh install never sends a late digest).
async fn due_slot(ctx: &Ctx, now: Timestamp, first_seen_today: Option<Timestamp>) -> Option<(String, usize)> {
    let zone = ctx.config.calendar.zone().clone();
    let local = now.to_zoned(zone.clone());
    let date = local.date();
    if !ctx.config.is_digest_day(&ctx.calendar(), date) {
        return None;
    }
    let slots = &ctx.config.summary_slots;
    let index = slots.iter().rposition(|slot| slot.at <= local.time())?;
    let slot = &slots[index];
    let slot_at = date.to_datetime(slot.at).to_zoned(zone.clone()).ok()?.timestamp();
    let on_time = now.duration_since(slot_at) <= ON_TIME;
    // Late only for a slot missed while off after running earlier that day (SPEC §6): a box
    // first started today after the slot, then restarted (an update), sends none.
    let ran_before_slot =
        first_seen_today.is_some_and(|first| first.to_zoned(zone.clone()).date() == date && first <= slot_at);
    let running_at_slot = ctx.started_at() <= slot_at;
    if !(on_time || ran_before_slot || running_at_slot) {
        return None;
    }
    let facts = facts(ctx).await.ok()?;
    (!facts.claimed_today.contains(&slot.name)).then(|| (slot.name.clone(), facts.unsettled_due))
}

/// The next instant a digest slot starts, on a business day of `calendar` (the one in force)
/// within two weeks, and its name.
pub fn next_digest(
    config: &crate::config::Config,
    calendar: &crate::domain::calendar::Calendar,
    now: Timestamp,
) -> Option<(Timestamp, String)> {
    let zone = config.calendar.zone().clone();
    let today = now.to_zoned(zone.clone()).date();
    (0..15).filter_map(|offset| today.checked_add(jiff::Span::new().days(offset)).ok()).find_map(|date| {
        if !config.is_digest_day(calendar, date) {
            return None;
        }
        config.summary_slots.iter().find_map(|slot| {
            let at = date.to_datetime(slot.at).to_zoned(zone.clone()).ok()?.timestamp();
            (at > now).then(|| (at, slot.name.clone()))
        })
    })
}

fn next_slot_at(ctx: &Ctx, now: Timestamp) -> Option<Timestamp> {
    next_digest(&ctx.config, &ctx.calendar(), now).map(|(at, _)| at)
}

async fn schedule(myself: &ActorRef<SummaryMsg>, state: &mut SummaryState, now: Timestamp) {
    super::cancel(&mut state.timer);
    let next = [state.alert_due, next_slot_at(&state.ctx, now)].into_iter().flatten().min();
    let Some(next) = next else { return };
    let delay = state.ctx.time.until(next).max(Duration::from_millis(10));
    state.timer = Some(super::wake_after(myself, delay, SummaryMsg::Wake));
}
