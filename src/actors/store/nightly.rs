//! The store's nightly duty (APPLIANCE §5.4, issue 15): at 02:00 local time, or at the first
//! chance after it, the housekeeping and the dated backup (`db::housekeeping`), then, when
//! `OFFBOX_URL` is set, the off-box copy of the newest backup.
//!
//! The store owns the database, so the backup is its own work; the upload is network I/O, so
//! it runs on the blocking pool and reports back with [`Msg::OffboxDone`]. The store keeps
//! one timer for its next nightly duty. Nothing runs by a clock that cannot be believed: the
//! clock watcher pokes the store when the time is known again.

use jiff::Timestamp;
use ractor::ActorRef;

use super::{StoreHandle, StoreMsg, StoreState};
use crate::actors::Ctx;
use crate::offbox::Record;

/// The nightly duty's messages.
pub enum Msg {
    /// Run what is due (cast by the store's own timer, and by whoever moved the clock).
    Run,
    /// An off-box upload ended (sent by the upload itself): keep its record.
    OffboxDone(Box<Record>),
}

impl From<Msg> for StoreMsg {
    fn from(msg: Msg) -> StoreMsg {
        StoreMsg::Nightly(msg)
    }
}

impl StoreHandle {
    /// Runs the nightly duty if it is due (the clock moved, or came to be believed).
    pub fn nightly(&self) {
        self.tell(Msg::Run);
    }
}

/// Answers one of the nightly duty's messages.
pub(super) fn handle(msg: Msg, myself: &ActorRef<StoreMsg>, state: &mut StoreState) {
    match msg {
        Msg::Run => run(myself, state),
        Msg::OffboxDone(record) => uploaded(myself, state, *record),
    }
}

/// The local hour of the nightly run: quiet, and before anyone is at work.
const NIGHTLY_HOUR: i8 = 2;

/// Runs what is due now and arms the timer for the next duty.
fn run(myself: &ActorRef<StoreMsg>, state: &mut StoreState) {
    crate::actors::cancel(&mut state.nightly_timer);
    let ctx = state.ctx.clone();
    if !ctx.signals.clock_trusted() {
        return;
    }
    let now = ctx.time.now();
    if let Some(date) = due_date(&ctx, now) {
        let written =
            tokio::task::block_in_place(|| crate::db::housekeeping::nightly(&state.conn, &ctx.config, date, now));
        match written {
            Ok(Some(path)) => tracing::info!(path = %path.display(), "nightly backup written"),
            Ok(None) => {}
            Err(err) => tracing::error!("nightly backup failed: {err:#}"),
        }
    }
    upload(myself, &ctx, now);
    let next_try = ctx.offbox.record().next_try_at.filter(|at| *at > now && ctx.offbox.enabled());
    if let Some(next) = [next_run_at(&ctx, now), next_try].into_iter().flatten().min() {
        let delay = ctx.time.until(next).max(std::time::Duration::from_millis(10));
        state.nightly_timer = Some(crate::actors::wake_after(myself, delay, Msg::Run.into()));
    }
}

/// Keeps what an upload did, in the database and for the status page, and looks again.
fn uploaded(myself: &ActorRef<StoreMsg>, state: &mut StoreState, record: Record) {
    let ctx = state.ctx.clone();
    ctx.offbox.set(record.clone());
    if let Err(err) = crate::db::kv_json(&state.conn, crate::offbox::RECORD_KEY, Some(&record)) {
        tracing::warn!("keeping the off-box record failed: {err}");
    }
    ctx.offbox.end();
    run(myself, state);
}

/// Today's date once the nightly hour has passed (a date already done is skipped).
fn due_date(ctx: &Ctx, now: Timestamp) -> Option<jiff::civil::Date> {
    let local = now.to_zoned(ctx.config.calendar.zone().clone());
    (local.hour() >= NIGHTLY_HOUR).then(|| local.date())
}

/// The next instant the nightly hour comes round (also when the doctor's watch runs the free
/// checks again).
pub(crate) fn next_run_at(ctx: &Ctx, now: Timestamp) -> Option<Timestamp> {
    let zone = ctx.config.calendar.zone().clone();
    let local = now.to_zoned(zone.clone());
    let at = jiff::civil::Time::new(NIGHTLY_HOUR, 0, 0, 0).ok()?;
    let today = local.date().to_datetime(at).to_zoned(zone.clone()).ok()?;
    if today.timestamp() > now {
        return Some(today.timestamp());
    }
    Some(local.date().tomorrow().ok()?.to_datetime(at).to_zoned(zone).ok()?.timestamp())
}

/// Sends the newest nightly backup off the box when it is not there yet and no earlier failure
/// asks for a pause, on the blocking pool. The upload slot is claimed in `ctx.offbox`, not in
/// the store's state, so a restarted store cannot start a second upload beside a running one.
fn upload(myself: &ActorRef<StoreMsg>, ctx: &Ctx, now: Timestamp) {
    if !ctx.offbox.enabled() {
        return;
    }
    let dir = ctx.config.data_dir().join("backups");
    let Some((date, backup)) = crate::backup::newest_nightly(&dir) else { return };
    let record = ctx.offbox.record();
    if !record.due(date, now) || !ctx.offbox.begin() {
        return;
    }
    let (ctx, me) = (ctx.clone(), myself.clone());
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
        if me.cast(Msg::OffboxDone(Box::new(record)).into()).is_err() {
            // The store is stopping: free the slot so its next incarnation can try again.
            ctx.offbox.end();
        }
    });
}
