//! What the actors publish for everyone to read: outside conditions that make the appliance
//! "degraded" ([`Signals`]) and the calendar in force ([`LiveCalendar`]). Both live in the
//! shared context (`actors::Shared`); `/health`, `/status`, the LED and the actors read them.

use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::domain::calendar::Calendar;

/// The calendar in force (issue 18): the configured one with the special days from the
/// database laid over it. Only the store sets it, after loading the days at start and after
/// each commit of a manager's command; everyone else reads it through `Shared::calendar`.
#[derive(Debug)]
pub struct LiveCalendar(std::sync::RwLock<Arc<Calendar>>);

impl LiveCalendar {
    /// Starts with `calendar`, before the store has read any special day.
    pub fn new(calendar: Calendar) -> LiveCalendar {
        LiveCalendar(std::sync::RwLock::new(Arc::new(calendar)))
    }

    /// The calendar now.
    pub fn get(&self) -> Arc<Calendar> {
        self.0.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Replaces it (the store, after a commit).
    pub fn set(&self, calendar: Calendar) {
        *self.0.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(calendar);
    }
}

/// What staff are told when the data partition is full.
pub const DISK_FULL: &str = "the data partition is full: webhooks are refused (GHL retries them) until space is freed";

/// Outside conditions that make the appliance "degraded" (SPEC §11): they are no reason to
/// restart, but staff should see them.
#[derive(Debug, Default)]
pub struct Signals {
    /// No webhook arrived during the last whole business day; cleared by the next webhook.
    pub quiet_day: std::sync::atomic::AtomicBool,
    /// The tunnel's readiness, when `TUNNEL_READY_URL` is set.
    pub tunnel: std::sync::Mutex<TunnelState>,
    /// How the resolver's last regular pass over OPEN issues ran (shown on `/status`).
    pub resolver_pass: std::sync::Mutex<Option<PassInfo>>,
    /// Whether the wall clock is believed (see `clockwatch`); `None` until first judged.
    pub clock: std::sync::Mutex<ClockTrust>,
    /// The data partition is full: the last write failed for want of space (issue 15).
    pub disk_full: std::sync::atomic::AtomicBool,
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

impl Signals {
    /// Whether the wall clock is believed: while it is not, webhooks are stored but not
    /// judged, nothing opens, and no alert or digest goes out.
    pub fn clock_trusted(&self) -> bool {
        self.clock().untrusted.is_none()
    }

    /// Records whether the data partition is full; logs the change.
    pub fn set_disk_full(&self, full: bool) {
        let was = self.disk_full.swap(full, std::sync::atomic::Ordering::Relaxed);
        match (was, full) {
            (false, true) => tracing::error!("{DISK_FULL}"),
            (true, false) => tracing::info!("the data partition takes writes again"),
            _ => {}
        }
    }

    /// Whether the data partition is full.
    pub fn disk_full(&self) -> bool {
        self.disk_full.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The clock's state now.
    pub fn clock(&self) -> ClockTrust {
        self.clock.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
    /// The resolver's last regular pass, if one ran.
    pub fn resolver_pass(&self) -> Option<PassInfo> {
        self.resolver_pass.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The tunnel's state now.
    pub fn tunnel(&self) -> TunnelState {
        self.tunnel.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Whether anything outside makes the appliance degraded, given GHL's state.
    pub fn degraded(&self, ghl_state: &str) -> bool {
        ghl_state == "degraded"
            || !self.clock_trusted()
            || matches!(self.tunnel(), TunnelState::Down(_))
            || self.quiet_day.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// The wall clock's standing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockTrust {
    /// Why the wall clock is not believed now; `None` when it is.
    pub untrusted: Option<String>,
    /// The last step of the wall clock seen: when (after it) and by how much, in seconds.
    pub last_step: Option<(Timestamp, i64)>,
    /// Deferred events judged after the last correction.
    pub replayed: u64,
    /// The wall clock's reading of boot time at the last look, in milliseconds.
    #[serde(skip)]
    pub(crate) boot_wall_ms: Option<i64>,
}
