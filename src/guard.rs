//! The guard against secret guessing (SPEC §2).
//!
//! Every request is authenticated first; the guard only ever hears of the ones that failed.
//! A request with the right secret or a valid GHL signature therefore never meets it, however
//! many wrong ones came before or come alongside: behind a tunnel every client is 127.0.0.1,
//! and a lockout by address would let anyone who finds the URL silence the appliance.
//!
//! Failures are counted per source and in all, each in a sliding minute. Within both budgets a
//! failure gets its plain 401. Past either one it gets 429 with `Retry-After`, answered only
//! after [`TARPIT`] on the refusing thread (never on a worker), so each guessing connection
//! gets about one guess a second. The number of answers held back at once is bounded: past
//! [`MAX_HELD`] the 429 goes out at once, so a flood cannot pile up threads.
//!
//! The source is the peer's address. A client-address header (`CLIENT_IP_HEADER`, e.g.
//! `CF-Connecting-IP`) is believed only when configured and only from a loopback peer, where a
//! tunnel client on this box put it there.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Wrong attempts one source may make within [`WINDOW`] before it is slowed down.
pub const PER_SOURCE_BUDGET: u32 = 10;
/// Wrong attempts all sources together may make within [`WINDOW`].
pub const GLOBAL_BUDGET: u32 = 100;
/// The sliding window of both budgets.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How long a failure over budget waits before its 429.
pub const TARPIT: Duration = Duration::from_secs(1);
/// The most over-budget answers held back at one time: more than the connections a listener
/// keeps open (512, vendored tiny_http), so every guessing connection waits its second; a held
/// answer costs a queue entry, not a thread.
pub const MAX_HELD: usize = 1024;
/// Sources remembered at most; past this the oldest windows are dropped first.
const MAX_SOURCES: usize = 4096;

/// What to answer a request whose authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within budget: the plain 401.
    Unauthorized,
    /// Over budget: 429 with `Retry-After`, after `delay`.
    SlowDown {
        /// Seconds until the budget that ran out has room again.
        retry_after: u64,
        /// How long to hold the answer back (zero when too many are held already).
        delay: Duration,
    },
}

/// Counters shown on `/metrics` and `/status`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GuardStats {
    /// Requests whose authentication failed, since start.
    pub failures: u64,
    /// Of those, the ones answered 429 because a budget was used up.
    pub slowed: u64,
}

/// The failures of one source, or of all, within the window.
#[derive(Debug, Default)]
struct Window {
    /// When each counted failure happened, oldest first (at most the budget plus one).
    times: std::collections::VecDeque<Instant>,
}

impl Window {
    /// Counts a failure at `now`; returns how many fall within the window, this one included.
    fn count(&mut self, now: Instant, cap: u32) -> u32 {
        while self.times.front().is_some_and(|t| now.duration_since(*t) >= WINDOW) {
            self.times.pop_front();
        }
        self.times.push_back(now);
        // Only the budget's worth is needed to answer "over or not", so memory stays bounded.
        while self.times.len() > cap as usize + 1 {
            self.times.pop_front();
        }
        self.times.len() as u32
    }

    /// Seconds until the oldest counted failure leaves the window.
    fn retry_after(&self, now: Instant) -> u64 {
        self.times.front().map_or(1, |t| WINDOW.saturating_sub(now.duration_since(*t)).as_secs().max(1))
    }

    fn newest(&self) -> Option<Instant> {
        self.times.back().copied()
    }
}

#[derive(Debug, Default)]
struct Windows {
    per_source: HashMap<IpAddr, Window>,
    global: Window,
}

/// Counts failed authentications and says how to answer each; shared by both listeners.
#[derive(Debug)]
pub struct AuthGuard {
    windows: Mutex<Windows>,
    failures: AtomicU64,
    slowed: AtomicU64,
    held: Arc<AtomicUsize>,
    client_header: Option<String>,
}

impl Default for AuthGuard {
    fn default() -> AuthGuard {
        AuthGuard::new(None)
    }
}

/// Held while an over-budget answer waits; lets the next one wait when dropped.
#[derive(Debug)]
pub struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl AuthGuard {
    /// A guard that believes `client_header` from loopback peers, if one is named.
    pub fn new(client_header: Option<String>) -> AuthGuard {
        AuthGuard {
            windows: Mutex::default(),
            failures: AtomicU64::new(0),
            slowed: AtomicU64::new(0),
            held: Arc::default(),
            client_header: client_header.filter(|h| !h.trim().is_empty()),
        }
    }

    /// The source of a request from `peer` that carries `header_value` in the configured
    /// client-address header (pass `None` when it has none).
    pub fn source(&self, peer: IpAddr, header_value: Option<&str>) -> IpAddr {
        if self.client_header.is_none() || !peer.is_loopback() {
            return peer;
        }
        // X-Forwarded-For lists the original client first.
        header_value.and_then(|v| v.split(',').next()).and_then(|v| v.trim().parse().ok()).unwrap_or(peer)
    }

    /// The configured client-address header, if any.
    pub fn client_header(&self) -> Option<&str> {
        self.client_header.as_deref()
    }

    /// Records a failed authentication from `source` and says how to answer it.
    pub fn failed(&self, source: IpAddr) -> Verdict {
        self.failed_at(source, Instant::now())
    }

    fn failed_at(&self, source: IpAddr, now: Instant) -> Verdict {
        let total = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if windows.per_source.len() >= MAX_SOURCES && !windows.per_source.contains_key(&source) {
            windows.per_source.retain(|_, w| w.newest().is_some_and(|t| now.duration_since(t) < WINDOW));
            if windows.per_source.len() >= MAX_SOURCES {
                // Still full of live windows: the global budget alone guards the rest.
                windows.per_source.clear();
            }
        }
        let from_source = windows.per_source.entry(source).or_default().count(now, PER_SOURCE_BUDGET);
        let in_all = windows.global.count(now, GLOBAL_BUDGET);
        let over_source = from_source > PER_SOURCE_BUDGET;
        let over_all = in_all > GLOBAL_BUDGET;
        if from_source == 1 || from_source == PER_SOURCE_BUDGET + 1 {
            tracing::warn!(
                source = %mask(source),
                failures_in_window = from_source,
                failures_since_start = total,
                "authentication failed{}",
                if over_source { "; this source is now slowed down" } else { "" }
            );
        }
        if !over_source && !over_all {
            return Verdict::Unauthorized;
        }
        self.slowed.fetch_add(1, Ordering::Relaxed);
        let retry_after = match (over_source, over_all) {
            (true, true) => {
                windows.per_source.get(&source).map_or(1, |w| w.retry_after(now)).max(windows.global.retry_after(now))
            }
            (true, false) => windows.per_source.get(&source).map_or(1, |w| w.retry_after(now)),
            _ => windows.global.retry_after(now),
        };
        Verdict::SlowDown { retry_after, delay: TARPIT }
    }

    /// Claims one of the [`MAX_HELD`] places for an answer held back; `None` when all are
    /// taken, and the answer goes out at once.
    pub fn hold(&self) -> Option<Held> {
        let previous = self.held.fetch_add(1, Ordering::Relaxed);
        let held = Held(Arc::clone(&self.held));
        (previous < MAX_HELD).then_some(held)
    }

    /// The counters.
    pub fn stats(&self) -> GuardStats {
        GuardStats { failures: self.failures.load(Ordering::Relaxed), slowed: self.slowed.load(Ordering::Relaxed) }
    }
}

/// An address for the log: the network part only (`203.0.113.x`, `2001:db8:1::/48`).
pub fn mask(source: IpAddr) -> String {
    match source {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.x")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn a_source_is_slowed_after_its_budget_and_recovers_after_the_window() {
        let guard = AuthGuard::default();
        let start = Instant::now();
        for _ in 0..PER_SOURCE_BUDGET {
            assert_eq!(guard.failed_at(ip("203.0.113.9"), start), Verdict::Unauthorized);
        }
        let slowed = guard.failed_at(ip("203.0.113.9"), start);
        assert!(matches!(slowed, Verdict::SlowDown { retry_after: 60, .. }), "{slowed:?}");
        // Another source still gets its plain 401.
        assert_eq!(guard.failed_at(ip("198.51.100.7"), start), Verdict::Unauthorized);
        // A minute later the first source has its budget back.
        assert_eq!(guard.failed_at(ip("203.0.113.9"), start + WINDOW), Verdict::Unauthorized);
        assert_eq!(guard.stats(), GuardStats { failures: 13, slowed: 1 });
    }

    #[test]
    fn many_sources_together_use_up_the_global_budget() {
        let guard = AuthGuard::default();
        let start = Instant::now();
        for n in 0..GLOBAL_BUDGET {
            let source = IpAddr::from([10, 0, (n / 250) as u8, (n % 250) as u8]);
            assert_eq!(guard.failed_at(source, start), Verdict::Unauthorized);
        }
        assert!(matches!(guard.failed_at(ip("192.0.2.1"), start), Verdict::SlowDown { .. }));
    }

    #[test]
    fn the_client_header_is_believed_only_when_configured_and_from_loopback() {
        let plain = AuthGuard::default();
        assert_eq!(plain.source(ip("127.0.0.1"), Some("203.0.113.9")), ip("127.0.0.1"));
        let behind_tunnel = AuthGuard::new(Some("CF-Connecting-IP".into()));
        assert_eq!(behind_tunnel.source(ip("127.0.0.1"), Some("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(behind_tunnel.source(ip("127.0.0.1"), Some("203.0.113.9, 10.0.0.1")), ip("203.0.113.9"));
        assert_eq!(behind_tunnel.source(ip("127.0.0.1"), Some("not an address")), ip("127.0.0.1"));
        assert_eq!(behind_tunnel.source(ip("198.51.100.7"), Some("203.0.113.9")), ip("198.51.100.7"));
    }

    #[test]
    fn held_answers_are_bounded() {
        let guard = AuthGuard::default();
        let held: Vec<_> = (0..MAX_HELD).filter_map(|_| guard.hold()).collect();
        assert_eq!(held.len(), MAX_HELD);
        assert!(guard.hold().is_none());
        drop(held);
        assert!(guard.hold().is_some());
    }

    #[test]
    fn logged_addresses_are_masked() {
        assert_eq!(mask(ip("203.0.113.9")), "203.0.113.x");
        assert_eq!(mask(ip("2001:db8:1:2::5")), "2001:db8:1::/48");
    }
}
