//! Whether the wall clock can be believed, and what happens when that changes (issue 15).
//!
//! A Pi has no real-time clock: after a power cut the wall clock starts at the last saved time
//! (or 1970) until NTP answers, and may never be right if the network is down. While the clock
//! is not believed, webhooks are still stored and answered 2xx, but they are judged only later
//! (`db::apply` defers them with the monotonic clock's reading), no PENDING issue opens,
//! and no alert or digest goes out; `/health`, `/status` and the LED say "waiting for the
//! time". When the clock is believed again, the intake replays the deferred events at their
//! true arrival times (`actors::intake::arrival`): the correction the monotonic clock
//! measured, or GHL's `dateAdded`.
//!
//! It is not an actor: the app runs [`watch`] as a task, and the test clock's route calls
//! [`look`] and [`act`]. What it finds is `Signals::clock` (`signals`), which every actor reads.
//!
//! A watcher looks every [`LOOK_EVERY`]; the test clock's route looks at once. A step of
//! the wall clock against the monotonic one of more than [`STEP`] is logged and shown, and
//! every actor that sleeps on the wall clock is woken to look again.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use crate::actors::Ctx;
use crate::actors::catchup::CatchUpHandle;
use crate::actors::clock::ClockHandle;
use crate::actors::intake::IntakeHandle;
use crate::actors::outbox::OutboxHandle;
use crate::actors::resolver::ResolverHandle;
use crate::actors::store::StoreHandle;
use crate::actors::summary::SummaryHandle;
use crate::config::ClockSync;
use crate::time::SyncState;

/// How often the watcher looks.
pub const LOOK_EVERY: Duration = Duration::from_secs(2);
/// A difference between the wall and monotonic clocks larger than this is a step.
pub const STEP: SignedDuration = SignedDuration::from_mins(1);

/// What changed at a look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing worth telling.
    None,
    /// The clock is believed again.
    Trusted,
    /// The clock is no longer believed.
    Untrusted,
    /// The believed clock stepped by this much.
    Stepped(SignedDuration),
}

/// Why a wall clock reading `now` is not to be believed under `policy`, if it is not.
pub fn judge(policy: ClockSync, sync: SyncState, now: Timestamp, floor: Timestamp) -> Option<String> {
    match policy {
        ClockSync::Off => None,
        ClockSync::Required if !(sync.timesyncd_synchronized || sync.kernel_synchronized) => {
            Some("waiting for the time: the clock is not synchronized yet (CLOCK_SYNC=required)".to_string())
        }
        ClockSync::Required => None,
        ClockSync::Auto if sync.timesyncd_running && !sync.timesyncd_synchronized => {
            Some("waiting for the time: systemd-timesyncd has not synchronized the clock yet".to_string())
        }
        ClockSync::Auto if now < floor => {
            Some(format!("waiting for the time: the clock reads {now}, before this software was built"))
        }
        ClockSync::Auto => None,
    }
}

/// Looks at the clocks once and records what it finds.
pub fn look(ctx: &Ctx) -> Change {
    let now = ctx.time.now();
    let monotonic = ctx.time.monotonic();
    let policy = ctx.config.clock_sync;
    let sync = ctx.time.sync_state(policy == ClockSync::Required);
    let reason = judge(policy, sync, now, crate::time::build_floor());
    let boot_wall_ms = now.as_millisecond() - monotonic.as_millis() as i64;
    ctx.signals.update_clock(|trust| {
        let step = trust
            .boot_wall_ms
            .map(|before| SignedDuration::from_millis(boot_wall_ms - before))
            .filter(|step| step.abs() > STEP);
        trust.boot_wall_ms = Some(boot_wall_ms);
        if let Some(step) = step {
            trust.last_step = Some((now, step.as_secs()));
        }
        let was_trusted = trust.untrusted.is_none();
        trust.untrusted = reason;
        match (was_trusted, trust.untrusted.is_none()) {
            (false, true) => Change::Trusted,
            (true, false) => Change::Untrusted,
            _ => step.map_or(Change::None, Change::Stepped),
        }
    })
}

/// Acts on a change: logs it and wakes every actor that sleeps on the wall clock; once the
/// clock is believed again, the intake replays what was deferred.
pub fn act(ctx: &Ctx, change: Change) {
    match change {
        Change::None => return,
        Change::Untrusted => {
            let reason = ctx.signals.clock().untrusted.unwrap_or_default();
            tracing::warn!("{reason}: webhooks are kept and judged later; nothing opens and nothing is sent");
            return;
        }
        Change::Trusted => {
            tracing::info!(now = %ctx.time.now(), "the clock is believed again: judging what arrived meanwhile");
            IntakeHandle.replay();
            // What GHL holds of the time the clock was wrong is looked for too (SPEC §12).
            CatchUpHandle.after_gap("clock trusted");
        }
        Change::Stepped(step) => tracing::warn!(step = %step, "the wall clock stepped"),
    }
    ClockHandle.rescheduled();
    StoreHandle::default().nightly();
    SummaryHandle.wake();
    ResolverHandle.tick();
    OutboxHandle.wake();
    CatchUpHandle.tick();
}

/// Looks every [`LOOK_EVERY`] until the service stops.
pub async fn watch(ctx: Ctx) {
    let mut interval = tokio::time::interval(LOOK_EVERY);
    loop {
        interval.tick().await;
        let change = look(&ctx);
        act(&ctx, change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync(running: bool, synced: bool, kernel: bool) -> SyncState {
        SyncState { timesyncd_running: running, timesyncd_synchronized: synced, kernel_synchronized: kernel }
    }

    #[test]
    fn the_clock_is_believed_by_policy() -> anyhow::Result<()> {
        let floor: Timestamp = "2026-01-01T00:00:00Z".parse()?;
        let now: Timestamp = "2026-03-02T15:00:00Z".parse()?;
        let boot: Timestamp = "1970-01-01T00:00:10Z".parse()?;
        // auto: a machine without timesyncd (a laptop, CI) is believed, unless absurd.
        assert_eq!(judge(ClockSync::Auto, sync(false, false, false), now, floor), None);
        assert!(judge(ClockSync::Auto, sync(false, false, false), boot, floor).is_some());
        // auto on the appliance: not until timesyncd has synchronized.
        assert!(judge(ClockSync::Auto, sync(true, false, true), now, floor).is_some());
        assert_eq!(judge(ClockSync::Auto, sync(true, true, false), now, floor), None);
        // required: one of the two must say synchronized; off: always.
        assert!(judge(ClockSync::Required, sync(false, false, false), now, floor).is_some());
        assert_eq!(judge(ClockSync::Required, sync(false, false, true), now, floor), None);
        assert_eq!(judge(ClockSync::Off, sync(true, false, false), boot, floor), None);
        Ok(())
    }
}
