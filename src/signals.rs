//! What the actors publish for everyone to read: outside conditions that make the appliance
//! "degraded" ([`Signals`]) and the calendar in force ([`LiveCalendar`]). Both live in the
//! shared context (`actors::Shared`); `/health`, `/status`, the LED and the actors read them.
//!
//! They are written outside any mailbox, so each field has exactly one writer: its fields
//! are private, each has one setter, and that setter is called from one file only (the table
//! in ARCHITECTURE.md; `tests/it/tidy.rs` checks it). A second place that wants to change a
//! field asks its writer, or gets a field of its own that the getter combines: the store only
//! counts committed webhooks and the summary sender only marks the count at which it found a
//! day quiet, so "quiet" is "no webhook since the mark" without either clearing the other's
//! field.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::Calendar;

/// The calendar in force (issue 18): the configured one with the special days from the
/// database laid over it. Only the store sets it, after loading the days at start and after
/// each commit of a manager's command; everyone else reads it through `Shared::calendar`.
#[derive(Debug)]
pub struct LiveCalendar(RwLock<Arc<Calendar>>);

/// What staff are told when the data partition is full.
pub const DISK_FULL: &str = "the data partition is full: webhooks are refused (GHL retries them) until space is freed";

/// Outside conditions that make the appliance "degraded" (SPEC §11): they are no reason to
/// restart, but staff should see them. Each field names its one writer.
#[derive(Debug, Default)]
pub struct Signals {
    /// The tunnel's readiness, when `TUNNEL_READY_URL` is set. Writer: the app's tunnel
    /// watcher.
    tunnel: Mutex<TunnelState>,
    /// How the resolver's last regular pass over OPEN issues ran (shown on `/status`).
    /// Writer: the resolver.
    resolver_pass: Mutex<Option<PassInfo>>,
    /// Whether the wall clock is believed; `None` until first judged. Writer: `clockwatch`.
    clock: Mutex<ClockTrust>,
    /// Deferred events judged since the process started (shown with the clock). Writer: the
    /// intake, which replays them.
    replayed: AtomicU64,
    /// The data partition is full: the last write failed for want of space (issue 15).
    /// Writer: the store.
    disk_full: AtomicBool,
    /// Commits of webhooks since the process started. Writer: the store.
    webhooks: AtomicU64,
    /// How the last catch-up pass ran (SPEC §12). Writer: the catch-up actor.
    catchup: Mutex<Option<CatchUpInfo>>,
    /// The count of `webhooks` when the day's last digest found that no webhook had arrived
    /// all day. Writer: the summary sender.
    quiet_at: Mutex<Option<u64>>,
    /// The set-up checks that cost nothing and failed (✗) at their last run, each as
    /// `name: detail` (issue 27). Writer: the doctor's watch (`doctor/watch.rs`).
    failed_checks: Mutex<Vec<String>>,
    /// The network in use, or why there is none; `None` until first looked at (issue 28).
    /// Writer: `netwatch`.
    network: Mutex<Option<crate::domain::network::NetworkState>>,
}

/// How one regular resolver pass over OPEN issues ran (issue 13: never check nothing silently).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PassInfo {
    /// When it ran.
    pub at: Timestamp,
    /// How it chose what to check, in words.
    pub mode: String,
    /// OPEN issues when it ran.
    pub open: usize,
    /// Issues whose conversations it read.
    pub checked: usize,
    /// Issues left for the next pass by the request budget.
    pub deferred: usize,
}

/// How the last catch-up pass ran (SPEC §12), for `/status`, `/metrics`, `sentinel status`
/// and the console's Health page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpInfo {
    /// When it ran.
    pub last_pass_at: Option<Timestamp>,
    /// Why: `start`, `tunnel back`, `clock trusted`, `cadence`, `job`.
    pub reason: String,
    /// How it told changed conversations: by GHL's `lastMessageDate`, or by the published
    /// fields (last message's kind and text, unread count).
    pub mode: String,
    /// Search requests it made.
    pub searches: usize,
    /// Conversations it read.
    pub conversations_read: usize,
    /// Events it found that no webhook had delivered.
    pub found: usize,
    /// Customer messages found by catch-up today, this pass's included.
    pub found_today: u64,
    /// Customer messages found since the process started.
    pub found_total: u64,
    /// The longest a found message had waited in GHL, in seconds, since the process started.
    pub largest_gap_seconds: i64,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

/// What the tunnel's readiness endpoint last said.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TunnelState {
    /// `TUNNEL_READY_URL` is not set.
    #[default]
    NotMonitored,
    /// It answered 200.
    Up,
    /// It did not, and why.
    Down(String),
}

/// The wall clock's standing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockTrust {
    /// Why the wall clock is not believed now; `None` when it is.
    pub untrusted: Option<String>,
    /// The last step of the wall clock seen: when (after it) and by how much, in seconds.
    pub last_step: Option<(Timestamp, i64)>,
    /// Deferred events judged after the last correction (the intake's count, filled in by
    /// [`Signals::clock`]).
    pub replayed: u64,
    /// The wall clock's reading of boot time at the last look, in milliseconds.
    #[serde(skip)]
    pub(crate) boot_wall_ms: Option<i64>,
}

// === impl LiveCalendar ===

impl LiveCalendar {
    /// Starts with `calendar`, before the store has read any special day.
    pub fn new(calendar: Calendar) -> LiveCalendar {
        LiveCalendar(RwLock::new(Arc::new(calendar)))
    }

    /// The calendar now.
    pub fn get(&self) -> Arc<Calendar> {
        self.0.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Replaces it. Only the store calls this, at start and after a commit.
    pub fn set(&self, calendar: Calendar) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(calendar);
    }
}

// === impl Signals: readers ===

impl Signals {
    /// Whether the wall clock is believed: while it is not, webhooks are stored but not
    /// judged, nothing opens, and no alert or digest goes out.
    pub fn clock_trusted(&self) -> bool {
        lock(&self.clock).untrusted.is_none()
    }

    /// The clock's state now, with the count of events replayed.
    pub fn clock(&self) -> ClockTrust {
        ClockTrust { replayed: self.replayed.load(Ordering::Relaxed), ..lock(&self.clock).clone() }
    }

    /// Whether the data partition is full.
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(Ordering::Relaxed)
    }

    /// The resolver's last regular pass, if one ran.
    pub fn resolver_pass(&self) -> Option<PassInfo> {
        lock(&self.resolver_pass).clone()
    }

    /// The last catch-up pass, if one ran.
    pub fn catchup(&self) -> Option<CatchUpInfo> {
        lock(&self.catchup).clone()
    }

    /// The tunnel's state now.
    pub fn tunnel(&self) -> TunnelState {
        lock(&self.tunnel).clone()
    }

    /// No webhook arrived during the last whole business day: the summary sender found the
    /// day quiet, and no webhook was committed since.
    pub fn quiet_day(&self) -> bool {
        let quiet_at = *lock(&self.quiet_at);
        quiet_at == Some(self.webhooks.load(Ordering::Relaxed))
    }

    /// The set-up checks that failed at their last run (`sentinel doctor`'s free checks), each
    /// as `name: detail`.
    pub fn failed_checks(&self) -> Vec<String> {
        lock(&self.failed_checks).clone()
    }

    /// The network as last seen; `None` before the first look.
    pub fn network(&self) -> Option<crate::domain::network::NetworkState> {
        lock(&self.network).clone()
    }

    /// Whether anything outside makes the appliance degraded, given GHL's state.
    pub fn degraded(&self, ghl_state: &str) -> bool {
        ghl_state == "degraded"
            || self.network().is_some_and(|network| !network.up)
            || !self.clock_trusted()
            || matches!(self.tunnel(), TunnelState::Down(_))
            || self.quiet_day()
            || !lock(&self.failed_checks).is_empty()
    }

    /// Why the appliance is degraded, in one line, as far as the signals know (GHL's own state
    /// is shown beside it): the clock, the tunnel, each failed set-up check.
    pub fn degraded_reason(&self) -> Option<String> {
        let mut reasons: Vec<String> =
            self.network().filter(|network| !network.up).map(|network| network.line()).into_iter().collect();
        reasons.extend(lock(&self.clock).untrusted.iter().cloned());
        if let TunnelState::Down(why) = self.tunnel() {
            reasons.push(format!("tunnel down: {why}"));
        }
        reasons.extend(self.failed_checks().into_iter().map(|check| format!("set-up check failed: {check}")));
        (!reasons.is_empty()).then(|| reasons.join("; "))
    }
}

// === impl Signals: one writer each ===

impl Signals {
    /// Records the tunnel's readiness; answers whether it changed. Writer: the app's tunnel
    /// watcher only.
    pub fn set_tunnel(&self, state: TunnelState) -> bool {
        let mut shown = lock(&self.tunnel);
        let changed = *shown != state;
        *shown = state;
        changed
    }

    /// Records the resolver's last regular pass. Writer: the resolver only.
    pub fn set_resolver_pass(&self, pass: PassInfo) {
        *lock(&self.resolver_pass) = Some(pass);
    }

    /// Records the last catch-up pass. Writer: the catch-up actor only.
    pub fn set_catchup(&self, pass: CatchUpInfo) {
        *lock(&self.catchup) = Some(pass);
    }

    /// Judges the wall clock: `look` gets the standing to change and answers what changed.
    /// Writer: `clockwatch` only.
    pub fn update_clock<T>(&self, look: impl FnOnce(&mut ClockTrust) -> T) -> T {
        look(&mut lock(&self.clock))
    }

    /// Counts deferred events judged after a correction. Writer: the intake only.
    pub fn add_replayed(&self, judged: u64) {
        self.replayed.fetch_add(judged, Ordering::Relaxed);
    }

    /// Records whether the data partition is full; logs the change. Writer: the store only.
    pub fn set_disk_full(&self, full: bool) {
        let was = self.disk_full.swap(full, Ordering::Relaxed);
        match (was, full) {
            (false, true) => tracing::error!("{DISK_FULL}"),
            (true, false) => tracing::info!("the data partition takes writes again"),
            _ => {}
        }
    }

    /// Counts a commit of webhooks, which ends a quiet day. Writer: the store only.
    pub fn webhooks_committed(&self) {
        self.webhooks.fetch_add(1, Ordering::Relaxed);
    }

    /// Records the network as seen now; answers what was seen before. Writer: `netwatch` only.
    pub fn set_network(
        &self,
        seen: crate::domain::network::NetworkState,
    ) -> Option<crate::domain::network::NetworkState> {
        lock(&self.network).replace(seen)
    }

    /// Records the set-up checks that failed at the last run; answers those that failed before.
    /// Writer: the doctor's watch only.
    pub fn set_failed_checks(&self, failed: Vec<String>) -> Vec<String> {
        std::mem::replace(&mut *lock(&self.failed_checks), failed)
    }

    /// Marks the day quiet until the next webhook is committed. Writer: the summary sender
    /// only.
    pub fn found_quiet_day(&self) {
        *lock(&self.quiet_at) = Some(self.webhooks.load(Ordering::Relaxed));
    }
}

impl TunnelState {
    /// `not monitored`, `ok` or `down`.
    pub fn as_str(&self) -> &'static str {
        match self {
            TunnelState::NotMonitored => "not monitored",
            TunnelState::Up => "ok",
            TunnelState::Down(_) => "down",
        }
    }
}

/// A lock that a panicked holder did not spoil: every value here is whole between writes.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_day_ends_with_the_next_committed_webhook() {
        let signals = Signals::default();
        assert!(!signals.quiet_day());
        signals.webhooks_committed();
        assert!(!signals.quiet_day());
        signals.found_quiet_day();
        assert!(signals.quiet_day());
        assert!(signals.degraded("ok"));
        signals.webhooks_committed();
        assert!(!signals.quiet_day());
        signals.found_quiet_day();
        assert!(signals.quiet_day(), "a later quiet day counts again");
    }

    #[test]
    fn the_clock_shows_the_intakes_replays() {
        let signals = Signals::default();
        signals.update_clock(|trust| trust.untrusted = Some("waiting".to_string()));
        signals.add_replayed(3);
        signals.update_clock(|trust| trust.untrusted = None);
        signals.add_replayed(2);
        assert_eq!(signals.clock(), ClockTrust { replayed: 5, ..ClockTrust::default() });
        assert!(signals.clock_trusted());
    }

    #[test]
    fn a_failed_set_up_check_degrades_with_its_reason() {
        let signals = Signals::default();
        assert!(!signals.degraded("ok") && signals.degraded_reason().is_none());
        signals.set_failed_checks(vec!["disk: data 9.0 MB of the 8.0 MB budget".to_string()]);
        assert!(signals.degraded("ok"));
        assert_eq!(
            signals.degraded_reason().as_deref(),
            Some("set-up check failed: disk: data 9.0 MB of the 8.0 MB budget")
        );
        assert_eq!(signals.set_failed_checks(Vec::new()).len(), 1, "answers what failed before");
        assert!(!signals.degraded("ok"));
    }
}
