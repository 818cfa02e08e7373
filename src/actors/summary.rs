//! The summary sender: managers' breach alerts and digests, and the outbox that carries them
//! (SPEC §6, §8).
//!
//! It keeps one timer for its next duty: the end of an alert's one-minute bundling window,
//! the next digest slot on a business day, or the next outbox retry. At each wake it asks
//! the store to build and queue what is due (the store claims slots and batches atomically),
//! then sends pending outbox rows through the GHL client and reports each result back. A
//! digest slot is queued once per local date; a slot missed while the appliance was off is
//! queued on return if before the next slot and if the appliance ran earlier that day.
//!
//! It also asks the store for the nightly backup at 02:00 and, when `OFFBOX_URL` is set, sends
//! the newest one off the box on a blocking thread (`offbox`), trying again on later wakes
//! while the bucket cannot be reached.

use std::sync::Arc;
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::store::{StoreMsg, SummaryFacts};
use super::{CALL_TIMEOUT, Ctx, names};
use crate::domain::issue::Delivery;
use crate::ghl::client::GhlError;
use crate::store::outbox;
use crate::store::summary::{AlertReport, DigestReport};

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
        reply: RpcReplyPort<Result<DigestReport, String>>,
    },
    /// `POST /jobs/escalations`: alert about OPEN issues not alerted yet, now.
    SendAlert {
        /// Queue or only show.
        delivery: Delivery,
        /// What was built.
        reply: RpcReplyPort<Result<AlertReport, String>>,
    },
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts the summary sender.
    Fail,
}

/// Breaches within this window share one alert (SPEC §6).
const BUNDLE_WINDOW: SignedDuration = SignedDuration::from_mins(1);
/// A slot this late still counts as on time, even on a fresh install.
const ON_TIME: SignedDuration = SignedDuration::from_mins(2);
/// The longest a due digest waits (wall time) for the SLA clock to settle what fell due.
const SETTLE_GRACE: Duration = Duration::from_secs(60);
/// How often a waiting digest looks again.
const SETTLE_POLL: Duration = Duration::from_millis(200);
/// Outbox rows sent per pass before looking again.
const SEND_BATCH: usize = 20;

/// The summary sender actor.
pub struct Summary;

/// Timers and what the store said at start.
pub struct SummaryState {
    ctx: Ctx,
    /// When the open alert bundle is due, if one is open.
    alert_due: Option<Timestamp>,
    /// When the appliance was last seen before this start (for late digests).
    seen_before_start: Option<Timestamp>,
    timer: Option<JoinHandle<()>>,
    sending: Arc<tokio::sync::Mutex<()>>,
    /// Set when a send pass is asked for; the running pass looks again before it ends.
    send_again: Arc<std::sync::atomic::AtomicBool>,
    /// Since when (wall time) a due digest waits for the SLA clock to settle what fell due.
    digest_waiting_since: Option<std::time::Instant>,
    /// Managers were told the data partition is full (once per episode).
    disk_notice_sent: bool,
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
        if ctx.offbox.enabled() {
            match super::call(names::STORE, |reply| StoreMsg::OffboxRecord { save: None, reply }, CALL_TIMEOUT).await {
                Ok(Ok(record)) => ctx.offbox.set(record),
                Ok(Err(err)) => tracing::warn!("reading the off-box record failed: {err}"),
                Err(err) => tracing::warn!("reading the off-box record failed: {err:#}"),
            }
        }
        Ok(SummaryState {
            ctx,
            alert_due,
            seen_before_start: facts.last_seen_at,
            timer: None,
            sending: Arc::new(tokio::sync::Mutex::new(())),
            send_again: Arc::default(),
            digest_waiting_since: None,
            disk_notice_sent: false,
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
                let built = super::call(
                    names::STORE,
                    |reply| StoreMsg::BuildDigest { slot, now, delivery, reply },
                    CALL_TIMEOUT,
                )
                .await;
                let _ = reply.send(flatten(built));
                send_pending(&myself, state);
            }
            SummaryMsg::SendAlert { delivery, reply } => {
                let now = state.ctx.time.now();
                let built =
                    super::call(names::STORE, |reply| StoreMsg::BuildAlert { now, delivery, reply }, CALL_TIMEOUT)
                        .await;
                if delivery == Delivery::Queue {
                    state.alert_due = None;
                }
                let _ = reply.send(flatten(built));
                send_pending(&myself, state);
            }
            SummaryMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            SummaryMsg::Fail => panic!("summary: failure injected by a test"),
        }
        Ok(())
    }
}

fn flatten<T>(answer: anyhow::Result<Result<T, String>>) -> Result<T, String> {
    answer.map_err(|err| format!("{err:#}")).and_then(|inner| inner)
}

async fn facts(ctx: &Ctx) -> anyhow::Result<SummaryFacts> {
    let now = ctx.time.now();
    super::call(names::STORE, |reply| StoreMsg::SummaryFacts { now, reply }, CALL_TIMEOUT)
        .await?
        .map_err(anyhow::Error::msg)
}

/// Does what is due, starts sending, and arms the timer for the next duty.
async fn wake(myself: &ActorRef<SummaryMsg>, state: &mut SummaryState) {
    let ctx = state.ctx.clone();
    let now = ctx.time.now();
    disk_notice(&ctx, state).await;
    // By a clock that cannot be believed no alert or digest goes out (issue 15): they wait,
    // and the clock watcher wakes this actor when the time is known. Replies still go.
    if !ctx.signals.clock_trusted() {
        send_pending(myself, state);
        return;
    }
    if state.alert_due.is_some_and(|due| due <= now) {
        state.alert_due = None;
        let delivery = Delivery::Queue;
        match super::call(names::STORE, |reply| StoreMsg::BuildAlert { now, delivery, reply }, CALL_TIMEOUT).await {
            Ok(Ok(report)) if report.queued => {
                tracing::info!(breaches = report.new_breaches, "breach alert queued")
            }
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!("building the breach alert failed: {err}"),
            Err(err) => tracing::warn!("building the breach alert failed: {err:#}"),
        }
    }
    if let Some((slot, unsettled)) = due_slot(&ctx, now, state.seen_before_start).await {
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
        match super::call(
            names::STORE,
            |reply| StoreMsg::BuildDigest { slot: slot.clone(), now, delivery, reply },
            CALL_TIMEOUT,
        )
        .await
        {
            Ok(Ok(report)) if report.queued => tracing::info!(slot, "digest queued"),
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::warn!(slot, "building the digest failed: {err}"),
            Err(err) => tracing::warn!(slot, "building the digest failed: {err:#}"),
        }
    }
    if let Some(date) = backup_due(&ctx, now) {
        match super::call(names::STORE, |reply| StoreMsg::NightlyBackup { date, reply }, CALL_TIMEOUT).await {
            Ok(Ok(Some(path))) => tracing::info!(path, "nightly backup written"),
            Ok(Ok(None)) => {}
            Ok(Err(err)) => tracing::error!("nightly backup failed: {err}"),
            Err(err) => tracing::error!("nightly backup failed: {err:#}"),
        }
    }
    offbox_upload(myself, state, now);
    if ctx.ghl.status().token_refused {
        let date = now.to_zoned(ctx.config.calendar.zone().clone()).date();
        let body = format!(
            "{} — GHL refused the access token, so the appliance cannot see GHL. Replies are not being checked. Please renew GHL_TOKEN.",
            crate::domain::format::BRAND
        );
        notice(format!("notice:token:{date}"), body, None, now).await;
    }
    send_pending(myself, state);
    schedule(myself, state, now).await;
}

/// The local hour of the nightly backup: quiet, and before anyone is at work.
const BACKUP_HOUR: i8 = 2;

/// Today's date once the backup hour has passed (the store skips a date already backed up).
fn backup_due(ctx: &Ctx, now: Timestamp) -> Option<jiff::civil::Date> {
    let local = now.to_zoned(ctx.config.calendar.zone().clone());
    (local.hour() >= BACKUP_HOUR).then(|| local.date())
}

/// The next instant the backup hour comes round.
fn next_backup_at(ctx: &Ctx, now: Timestamp) -> Option<Timestamp> {
    let zone = ctx.config.calendar.zone().clone();
    let local = now.to_zoned(zone.clone());
    let today =
        local.date().to_datetime(jiff::civil::Time::new(BACKUP_HOUR, 0, 0, 0).ok()?).to_zoned(zone.clone()).ok()?;
    if today.timestamp() > now {
        return Some(today.timestamp());
    }
    let tomorrow = local.date().tomorrow().ok()?;
    Some(tomorrow.to_datetime(jiff::civil::Time::new(BACKUP_HOUR, 0, 0, 0).ok()?).to_zoned(zone).ok()?.timestamp())
}

/// Sends the newest nightly backup off the box when it is not there yet and no earlier failure
/// asks for a pause, on a blocking thread. The result is kept (store and status page), and a
/// wake follows, so the timer is armed for the next try.
fn offbox_upload(myself: &ActorRef<SummaryMsg>, state: &SummaryState, now: Timestamp) {
    let ctx = state.ctx.clone();
    if !ctx.offbox.enabled() {
        return;
    }
    let dir = ctx.config.data_dir().join("backups");
    let Some((date, backup)) = crate::backup::newest_nightly(&dir) else { return };
    let record = ctx.offbox.record();
    if !record.due(date, now) || !ctx.offbox.begin() {
        return;
    }
    let me = myself.clone();
    tokio::spawn(async move {
        tracing::info!(%date, "sending the nightly backup off the box");
        let task_ctx = ctx.clone();
        let result = tokio::task::spawn_blocking(move || {
            crate::offbox::upload_nightly(&task_ctx.config, &record, &backup, date, now)
        })
        .await
        .unwrap_or_else(|err| Err(anyhow::format_err!("the upload task failed: {err}")));
        let mut record = ctx.offbox.record();
        let now = ctx.time.now();
        match result {
            Ok(uploaded) => {
                tracing::info!(object = %uploaded.object, bytes = uploaded.bytes, removed = uploaded.removed, "off-box copy uploaded");
                record.succeeded(date, &uploaded, now);
            }
            Err(err) => {
                let error = format!("{err:#}");
                record.failed(date, error.clone(), now);
                match record.next_try_at {
                    Some(at) => tracing::warn!(%date, "off-box copy failed, trying again at {at}: {error}"),
                    None => {
                        tracing::error!(%date, "off-box copy failed {} times; waiting for the next nightly backup: {error}", record.failures)
                    }
                }
            }
        }
        ctx.offbox.set(record.clone());
        let save = Some(record);
        if let Ok(Err(err)) =
            super::call(names::STORE, |reply| StoreMsg::OffboxRecord { save, reply }, CALL_TIMEOUT).await
        {
            tracing::warn!("keeping the off-box record failed: {err}");
        }
        ctx.offbox.end();
        let _ = me.cast(SummaryMsg::Wake);
    });
}

/// At the day's last digest: if no webhook arrived since the day began, GHL is probably not
/// reaching the appliance (tunnel or workflow broken); tell managers once.
async fn quiet_day_notice(ctx: &Ctx, now: Timestamp) {
    let zone = ctx.config.calendar.zone().clone();
    let today = now.to_zoned(zone.clone()).date();
    let Ok(start) = today.to_zoned(zone) else { return };
    let start = start.timestamp();
    let Ok(Ok(stats)) = super::call(names::STORE, |reply| StoreMsg::Stats { reply }, CALL_TIMEOUT).await else {
        return;
    };
    if stats.last_webhook_at.is_some_and(|at| at >= start) {
        return;
    }
    // Degraded until the next webhook arrives (the store clears it).
    ctx.signals.quiet_day.store(true, std::sync::atomic::Ordering::Relaxed);
    let body = format!(
        "{} — no webhook from GHL arrived today. The appliance cannot see GHL: check the tunnel and the GHL workflows.",
        crate::domain::format::BRAND
    );
    notice(format!("notice:quiet:{today}"), body, Some(start), now).await;
}

async fn notice(purpose: String, body: String, quiet_since: Option<Timestamp>, now: Timestamp) {
    let queued = super::call(
        names::STORE,
        |reply| StoreMsg::QueueNotice { purpose: purpose.clone(), body, quiet_since, now, reply },
        CALL_TIMEOUT,
    )
    .await;
    match queued {
        Ok(Ok(true)) => tracing::warn!(purpose, "notice to managers queued"),
        Ok(Ok(false)) => {}
        Ok(Err(err)) => tracing::warn!(purpose, "queueing a notice failed: {err}"),
        Err(err) => tracing::warn!(purpose, "queueing a notice failed: {err:#}"),
    }
}

/// The slot to send now: the latest slot of today that has passed, on a business day, not
/// yet claimed, before the next slot, and either on time, or late while this process was
/// already running at the slot (a timer that fired late: a suspend, a clock step), or after a
/// restart on a day the appliance had already run (a fresh install never sends a late digest).
async fn due_slot(ctx: &Ctx, now: Timestamp, seen_before_start: Option<Timestamp>) -> Option<(String, usize)> {
    let zone = ctx.config.calendar.zone().clone();
    let local = now.to_zoned(zone.clone());
    let date = local.date();
    if !ctx.config.is_digest_day(date) {
        return None;
    }
    let slots = &ctx.config.summary_slots;
    let index = slots.iter().rposition(|slot| slot.at <= local.time())?;
    let slot = &slots[index];
    let slot_at = date.to_datetime(slot.at).to_zoned(zone.clone()).ok()?.timestamp();
    let on_time = now.duration_since(slot_at) <= ON_TIME;
    let ran_today = seen_before_start.is_some_and(|seen| seen.to_zoned(zone.clone()).date() == date);
    let running_at_slot = ctx.started_at() <= slot_at;
    if !(on_time || ran_today || running_at_slot) {
        return None;
    }
    let facts = facts(ctx).await.ok()?;
    (!facts.claimed_today.contains(&slot.name)).then(|| (slot.name.clone(), facts.unsettled_due))
}

/// The next instant a digest slot starts, on a business day within two weeks, and its name.
pub fn next_digest(config: &crate::config::Config, now: Timestamp) -> Option<(Timestamp, String)> {
    let zone = config.calendar.zone().clone();
    let today = now.to_zoned(zone.clone()).date();
    (0..15).filter_map(|offset| today.checked_add(jiff::Span::new().days(offset)).ok()).find_map(|date| {
        if !config.is_digest_day(date) {
            return None;
        }
        config.summary_slots.iter().find_map(|slot| {
            let at = date.to_datetime(slot.at).to_zoned(zone.clone()).ok()?.timestamp();
            (at > now).then(|| (at, slot.name.clone()))
        })
    })
}

fn next_slot_at(ctx: &Ctx, now: Timestamp) -> Option<Timestamp> {
    next_digest(&ctx.config, now).map(|(at, _)| at)
}

async fn schedule(myself: &ActorRef<SummaryMsg>, state: &mut SummaryState, now: Timestamp) {
    super::cancel(&mut state.timer);
    let next_outbox = facts(&state.ctx).await.ok().and_then(|f| f.next_outbox_at);
    // A retry time already past is not acted on until something else wakes the sender.
    let next_offbox = state.ctx.offbox.record().next_try_at.filter(|at| *at > now && state.ctx.offbox.enabled());
    let next =
        [state.alert_due, next_slot_at(&state.ctx, now), next_outbox, next_backup_at(&state.ctx, now), next_offbox]
            .into_iter()
            .flatten()
            .min();
    let Some(next) = next else { return };
    let delay = state.ctx.time.until(next).max(Duration::from_millis(10));
    state.timer = Some(super::wake_after(myself, delay, SummaryMsg::Wake));
}

/// Tells managers once, straight through GHL, that the data partition is full: the outbox
/// cannot hold the message while it is (issue 15). Told again only after space came back and
/// ran out anew.
async fn disk_notice(ctx: &Ctx, state: &mut SummaryState) {
    if !ctx.signals.disk_full() {
        state.disk_notice_sent = false;
        return;
    }
    if state.disk_notice_sent || !ctx.ghl.is_configured() || ctx.config.manager_contact_ids.is_empty() {
        return;
    }
    state.disk_notice_sent = true;
    let body = format!(
        "{} — the appliance's storage is full. New texts and calls are refused (GHL retries them) until space is freed. Please call whoever looks after the box.",
        crate::domain::format::BRAND
    );
    let (client, managers) = (ctx.ghl.clone(), ctx.config.manager_contact_ids.clone());
    let sent = tokio::task::spawn_blocking(move || {
        managers.iter().filter(|manager| client.send_sms(manager, &body).is_ok()).count()
    })
    .await
    .unwrap_or(0);
    tracing::warn!(managers = sent, "managers told that the data partition is full");
}

/// One attempt at a queued SMS. After an attempt whose fate was unknown, the manager's
/// conversation is looked at first: found there, it counts as sent and is not sent again.
fn send_once(client: &crate::ghl::client::GhlClient, entry: &outbox::Entry) -> Result<Option<String>, GhlError> {
    if entry.uncertain
        && let Some(found) = client.find_sent(&entry.contact_id, &entry.body, entry.created_at - UNCERTAIN_SLACK)?
    {
        tracing::info!(purpose = %entry.purpose, "an earlier attempt had reached GHL; not sent again");
        return Ok(Some(found));
    }
    client.send_sms(&entry.contact_id, &entry.body)
}

/// GHL's clock and ours may disagree a little about when a send happened.
const UNCERTAIN_SLACK: SignedDuration = SignedDuration::from_mins(5);

/// Sends due outbox rows on a blocking thread, one pass at a time; the store learns each
/// result at once, so a crash repeats at most the send in flight.
fn send_pending(myself: &ActorRef<SummaryMsg>, state: &SummaryState) {
    // Ask for a pass; a pass already running sees the request before it ends, so a row that
    // became due meanwhile (the clock moved, a reply was queued) is never left waiting.
    state.send_again.store(true, std::sync::atomic::Ordering::SeqCst);
    let Ok(guard) = state.sending.clone().try_lock_owned() else {
        return;
    };
    let (ctx, me, again) = (state.ctx.clone(), myself.clone(), state.send_again.clone());
    tokio::spawn(async move {
        let one_at_a_time = guard;
        let mut sent_any = false;
        again.store(false, std::sync::atomic::Ordering::SeqCst);
        loop {
            let now = ctx.time.now();
            let limit = SEND_BATCH;
            let due = match super::call(names::STORE, |reply| StoreMsg::DueOutbox { now, limit, reply }, CALL_TIMEOUT)
                .await
            {
                Ok(Ok(due)) => due,
                _ => break,
            };
            if due.is_empty() {
                if again.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    continue;
                }
                break;
            }
            sent_any = true;
            for entry in due {
                let client = ctx.ghl.clone();
                let task_entry = entry.clone();
                let result = tokio::task::spawn_blocking(move || send_once(&client, &task_entry))
                    .await
                    .unwrap_or_else(|err| Err(GhlError::Unavailable(format!("send task failed: {err}"))));
                if let Err(err) = &result {
                    tracing::warn!(purpose = %entry.purpose, "manager SMS not sent: {err}");
                }
                let now = ctx.time.now();
                let outcome = match result {
                    Ok(message_id) => outbox::Attempt::Sent(message_id),
                    Err(GhlError::NotConfigured) => outbox::Attempt::Skipped(GhlError::NotConfigured.to_string()),
                    Err(err @ GhlError::Uncertain(_)) => outbox::Attempt::Uncertain(err.to_string()),
                    // A row already uncertain stays so until GHL is seen not to have it.
                    Err(err) if entry.uncertain => outbox::Attempt::Uncertain(err.to_string()),
                    Err(err) => outbox::Attempt::Failed(err.to_string()),
                };
                let _ = super::call(
                    names::STORE,
                    |reply| StoreMsg::OutboxResult { id: entry.id, now, outcome, reply },
                    CALL_TIMEOUT,
                )
                .await;
            }
        }
        drop(one_at_a_time);
        // Failed rows wait for a retry time: look again to arm the timer for it. A request
        // that came in after the last look but before the lock was released is served too.
        if sent_any || again.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = me.cast(SummaryMsg::Wake);
        }
    });
}
