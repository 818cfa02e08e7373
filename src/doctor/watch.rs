//! The service's own doctor (issue 27): the checks that cost nothing ([`super::free`]: the
//! configuration, the clock (left to `clockwatch`'s own signal), the disk, the card, the watchdog, the LED, backups, the update
//! key) at start and again each night at the nightly hour. Each failed (✗) check makes the
//! appliance degraded with its reason (`Signals::failed_checks`), as a tunnel that is down
//! does; a check failing anew is logged, and so is one that passes again.
//!
//! The watch is spawned by the app beside the tunnel watcher; it is not in the store's nightly
//! duty because the doctor imports what imports the actors (`clockwatch`, `update`), and the
//! actors import nothing above them. It takes the nightly hour from the store's schedule.

use std::time::Duration;

use jiff::Timestamp;

use super::Level;
use crate::actors::Ctx;

/// The longest sleep between looks at the clock: a step of the wall clock (or the test clock)
/// is noticed within this.
const LOOK_EVERY: Duration = Duration::from_secs(60);

/// Runs the free checks now, then at each nightly hour, for as long as the service runs.
pub async fn watch(ctx: Ctx) {
    let mut next: Option<Timestamp> = None;
    loop {
        let now = ctx.time.now();
        if next.is_none_or(|at| now >= at) {
            run(&ctx).await;
            next = crate::actors::store::nightly::next_run_at(&ctx, now);
        }
        let wait = next.map_or(LOOK_EVERY, |at| ctx.time.until(at).min(LOOK_EVERY));
        tokio::time::sleep(wait.max(Duration::from_millis(10))).await;
    }
}

/// Runs the free checks once, on the blocking pool, and records what failed.
pub async fn run(ctx: &Ctx) {
    let task = ctx.clone();
    let report = match tokio::task::spawn_blocking(move || super::free(&task.config, &task.time)).await {
        Ok(report) => report,
        Err(err) => {
            tracing::warn!("the set-up checks did not run: {err}");
            return;
        }
    };
    let failed: Vec<String> = report
        .checks
        .iter()
        .filter(|check| check.level == Level::Fail)
        // `clockwatch` and `netwatch` already make the box degraded by an untrusted clock or no
        // network, with the reason; the same reason twice in `degraded_reason` is only noise.
        .filter(|check| check.name != "clock" && check.name != "network")
        .map(|check| format!("{}: {}", check.name, check.detail))
        .collect();
    let before = ctx.signals.set_failed_checks(failed.clone());
    let name = |check: &String| check.split_once(": ").map_or(check.clone(), |(name, _)| name.to_string());
    let named_before: Vec<String> = before.iter().map(name).collect();
    for check in failed.iter().filter(|check| !named_before.contains(&name(check))) {
        tracing::warn!("set-up check failed: {check}");
    }
    if !before.is_empty() && failed.is_empty() {
        tracing::info!("every set-up check passes again");
    }
}
