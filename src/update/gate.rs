//! The health gate: the service's side of an update.
//!
//! At each start, after READY, [`start`] looks at the slots' state. A trial of the slot this
//! process runs from is watched: healthy (every actor answering, the data partition not full)
//! at [`CONFIRM_AFTER`] checks in a row confirms it; still unhealthy when `UPDATE_TRIAL_MINUTES`
//! have passed since the update switched slots (or since this start, when the box went down
//! during the trial) rolls it back: the previous slot becomes active
//! again, and the process exits with [`super::RESTART_EXIT`] so systemd starts the previous
//! version. A restart loop never gets that far: the launcher counts the starts that failed in
//! one boot (not those a power cut ended) and switches back itself. A trial of another slot means the candidate is not what runs (the launcher already
//! switched back, or the update stopped before its switch), and is settled here. Whoever runs
//! next tells managers how it ended, once: the outbox never queues one purpose twice.

use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;

use super::slots::{FACTORY, SLOTS, Slots, State};
use crate::actors::Ctx;
use crate::actors::store::StoreHandle;
use crate::domain::format::BRAND;

/// How many healthy checks in a row confirm a version on trial.
pub const CONFIRM_AFTER: u32 = 3;
/// How often a version on trial is checked.
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Settles the slots' state at start and, when this process is on trial, watches it.
pub async fn start(ctx: Ctx) {
    let slots = Slots::in_data_dir(&ctx.config.data_dir());
    let running = running_slot(&slots.dir);
    if let Some(trial) = slots.trial() {
        let ended = slots.last_update().is_some_and(|last| last.get("id") == trial.get("id"));
        let to = trial.get("to").cloned().unwrap_or_default();
        if ended {
            // A rollback was recorded but not finished (a power cut between its steps).
            finish_rollback(&slots, &trial, running == to);
        } else if running == to {
            if crate::version::test_hooks()
                && std::env::var("SENTINEL_TEST_UPDATE_PAUSE").is_ok_and(|p| p == "first-start")
            {
                crate::outln!("paused at first-start");
                return;
            }
            watch(&ctx, &slots, trial).await;
        } else {
            settle_stale(&slots, &trial, &running, ctx.time.now());
        }
    }
    announce(&ctx, &slots).await;
}

/// The slot this executable runs from: `a`, `b`, or [`FACTORY`] for anything else.
fn running_slot(dir: &Path) -> String {
    let exe = std::env::current_exe().ok().and_then(|exe| exe.canonicalize().ok());
    let parent: Option<PathBuf> = exe.as_deref().and_then(Path::parent).map(Path::to_path_buf);
    SLOTS
        .iter()
        .find(|slot| dir.join(slot).canonicalize().ok().is_some_and(|slot_dir| Some(slot_dir) == parent))
        .map_or_else(|| FACTORY.to_string(), |slot| slot.to_string())
}

/// Watches this version's trial until it is confirmed or rolled back.
async fn watch(ctx: &Ctx, slots: &Slots, trial: State) {
    let started = trial.get("started").and_then(|at| at.parse::<Timestamp>().ok()).unwrap_or_else(|| ctx.time.now());
    let mut deadline = started + ctx.config.update_trial;
    // After the box went down during the trial (the launcher counted a start cut off), the
    // version gets its whole time again from this start: the time the power was off, maybe
    // longer than the trial, is not its fault.
    if trial.get("cut").is_some_and(|cut| cut != "0") {
        deadline = deadline.max(ctx.time.now() + ctx.config.update_trial);
    }
    let version = trial.get("version").cloned().unwrap_or_default();
    tracing::info!(version, %deadline, "this version is on trial: it must be healthy by the deadline");
    let mut interval = tokio::time::interval(CHECK_EVERY);
    let mut streak = 0;
    loop {
        interval.tick().await;
        let actors = crate::supervisor::probe_all(Duration::from_secs(3)).await;
        let healthy = actors.iter().all(|actor| actor.ok) && !ctx.signals.disk_full();
        streak = if healthy { streak + 1 } else { 0 };
        let now = ctx.time.now();
        if streak >= CONFIRM_AFTER {
            let outcome = outcome(&trial, "ok", "healthy", now);
            if let Err(err) = slots.set_last_update(&outcome).and_then(|()| slots.clear_trial()) {
                tracing::error!("confirming the update: {err:#}");
            }
            tracing::info!(version, "update confirmed: healthy");
            return;
        }
        if !healthy && now >= deadline {
            let failing: Vec<&str> = actors.iter().filter(|a| !a.ok).map(|a| a.name).collect();
            let minutes = ctx.config.update_trial.as_secs() / 60;
            let reason = format!("not healthy within {minutes} minutes (not answering: {})", failing.join(", "));
            let outcome = outcome(&trial, "rolled-back", &reason, now);
            if let Err(err) = slots.set_last_update(&outcome) {
                tracing::error!("recording the rollback: {err:#}");
            }
            finish_rollback(slots, &trial, true);
            return;
        }
    }
}

/// Switches back to the trial's previous slot, ends the trial, and when this process is the
/// candidate, asks for the restart that starts the previous version.
fn finish_rollback(slots: &Slots, trial: &State, candidate: bool) {
    let from = trial.get("from").map_or(FACTORY, String::as_str);
    if slots.active() == trial.get("to").map_or("", String::as_str)
        && let Err(err) = slots.switch(from, || {})
    {
        tracing::error!("switching back to slot {from}: {err:#}");
        return;
    }
    if let Err(err) = slots.clear_trial() {
        tracing::error!("ending the trial: {err:#}");
    }
    if candidate {
        super::request_restart(&format!("rolled back to slot {from}"));
    }
}

/// A trial whose candidate is not running. The link still on the candidate means the launcher
/// found its slot invalid and ran another binary: switch back. The link not on it means the
/// update stopped before its switch: nothing was tried.
fn settle_stale(slots: &Slots, trial: &State, running: &str, now: Timestamp) {
    let to = trial.get("to").map_or("", String::as_str);
    let outcome = if slots.active() == to {
        outcome(trial, "rolled-back", &format!("the new slot {to} could not start; {running} ran instead"), now)
    } else {
        let mut outcome = outcome(trial, "aborted", "the update stopped before switching slots", now);
        outcome.insert("announced".into(), "1".into());
        outcome
    };
    tracing::warn!("an update that did not run: {}", describe(&outcome));
    if let Err(err) = slots.set_last_update(&outcome) {
        tracing::error!("recording the update's end: {err:#}");
    }
    finish_rollback(slots, trial, false);
}

/// The `last-update` record for a trial that ended.
fn outcome(trial: &State, result: &str, reason: &str, now: Timestamp) -> State {
    let mut outcome: State = ["id", "version", "from_version", "from", "to"]
        .iter()
        .filter_map(|key| Some((key.to_string(), trial.get(*key)?.clone())))
        .collect();
    outcome.insert("result".into(), result.into());
    outcome.insert("reason".into(), reason.into());
    outcome.insert("at".into(), now.to_string());
    outcome.insert("announced".into(), "0".into());
    outcome
}

/// How an update ended, in one line for people.
pub fn describe(last: &State) -> String {
    let get = |key: &str| last.get(key).map_or("?", String::as_str);
    match get("result") {
        "ok" => format!("updated to {} (from {}) at {}", get("version"), get("from_version"), get("at")),
        "rolled-back" => format!(
            "update to {} rolled back to {} at {}: {}",
            get("version"),
            get("from_version"),
            get("at"),
            get("reason")
        ),
        other => format!("update to {} {other} at {}: {}", get("version"), get("at"), get("reason")),
    }
}

/// Tells managers how the last update ended, once: one SMS through the outbox.
async fn announce(ctx: &Ctx, slots: &Slots) {
    let Some(mut last) = slots.last_update().filter(|last| last.get("announced").is_some_and(|a| a == "0")) else {
        return;
    };
    let text = match last.get("result").map(String::as_str) {
        Some("ok") => format!("{BRAND}: {}. Nothing to do.", describe(&last)),
        _ => format!("{BRAND}: {}. The previous version runs; no webhook was lost.", describe(&last)),
    };
    let purpose = format!("notice:update:{}", last.get("id").map_or("?", String::as_str));
    match StoreHandle::default().queue_notice(purpose, text, None, ctx.time.now()).await {
        Ok(_) => {
            last.insert("announced".into(), "1".into());
            if let Err(err) = slots.set_last_update(&last) {
                tracing::warn!("recording the update notice: {err:#}");
            }
        }
        Err(err) => tracing::warn!("queueing the update notice failed: {err}"),
    }
}
