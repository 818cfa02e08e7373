//! The circuit breaker in front of GHL: after repeated failures, no requests for a while.
//!
//! The client tells it how each request ended. [`THRESHOLD`] failures in a row open the
//! circuit for [`FIRST_OPEN_FOR`]; while it is open every request is refused at once with
//! [`GhlError::CircuitOpen`]. Once it has closed again, each further failure opens it anew for
//! twice as long, up to [`LONGEST_OPEN_FOR`]; one success closes it and starts over. Time is
//! the injected clock's (`time::TimeSource`), passed in as `now`, so a test can move past an
//! outage. The client keeps the breaker under its own lock, beside the status it reports.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

use super::error::GhlError;

/// Consecutive failed requests that open the circuit.
const THRESHOLD: u32 = 5;
/// How long the circuit first stays open.
const FIRST_OPEN_FOR: Duration = Duration::from_secs(30);
/// The longest the circuit stays open at a time, however long GHL stays down.
const LONGEST_OPEN_FOR: Duration = Duration::from_secs(300);

/// Counts failed requests in a row and says when to stop trying for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CircuitBreaker {
    consecutive_failures: u32,
    /// On the injected clock.
    open_until: Option<Timestamp>,
    /// How long the next opening lasts.
    open_for: Duration,
}

impl Default for CircuitBreaker {
    fn default() -> CircuitBreaker {
        CircuitBreaker::new()
    }
}

impl CircuitBreaker {
    /// A closed breaker with no failures counted.
    pub fn new() -> CircuitBreaker {
        CircuitBreaker { consecutive_failures: 0, open_until: None, open_for: FIRST_OPEN_FOR }
    }

    /// Whether the circuit is open at `now`.
    pub fn is_open(&self, now: Timestamp) -> bool {
        self.open_until.is_some_and(|until| until > now)
    }

    /// Refuses with [`GhlError::CircuitOpen`] while the circuit is open at `now`.
    pub fn check(&self, now: Timestamp) -> Result<(), GhlError> {
        if self.is_open(now) { Err(GhlError::CircuitOpen) } else { Ok(()) }
    }

    /// Whether the last request counted here failed: GHL is degraded before the circuit opens.
    pub fn is_failing(&self) -> bool {
        self.consecutive_failures > 0
    }

    /// A request succeeded: the circuit closes and the count starts over.
    pub fn record_success(&mut self) {
        self.consecutive_failures = 0;
        self.open_until = None;
        self.open_for = FIRST_OPEN_FOR;
    }

    /// A request failed at `now`: the [`THRESHOLD`]th in a row, and each one after it, opens
    /// the circuit.
    pub fn record_failure(&mut self, now: Timestamp) {
        self.consecutive_failures += 1;
        if self.consecutive_failures >= THRESHOLD {
            let open_for = self.open_for;
            self.open_until = Some(now + SignedDuration::try_from(open_for).unwrap_or_default());
            self.open_for = (open_for * 2).min(LONGEST_OPEN_FOR);
            tracing::warn!(?open_for, "GHL circuit opened after repeated failures");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::UNIX_EPOCH + SignedDuration::from_secs(seconds)
    }

    #[test]
    fn five_failures_in_a_row_open_the_circuit_and_a_success_closes_it() {
        let mut breaker = CircuitBreaker::new();
        for _ in 0..THRESHOLD - 1 {
            breaker.record_failure(at(0));
        }
        assert!(breaker.is_failing());
        assert_eq!(breaker.check(at(0)), Ok(()), "four failures leave it closed");
        breaker.record_failure(at(0));
        assert_eq!(breaker.check(at(29)), Err(GhlError::CircuitOpen));
        assert_eq!(breaker.check(at(30)), Ok(()), "open for 30 s, then one request may try");
        breaker.record_success();
        assert!(!breaker.is_failing() && !breaker.is_open(at(30)));
        assert_eq!(breaker, CircuitBreaker::new(), "a success starts the count over");
    }

    #[test]
    fn each_failure_while_ghl_stays_down_doubles_the_wait_up_to_five_minutes() {
        let mut breaker = CircuitBreaker::new();
        for _ in 0..THRESHOLD {
            breaker.record_failure(at(0));
        }
        let mut now = 0;
        for expected in [60, 120, 240, 300, 300] {
            now += 1_000;
            breaker.record_failure(at(now));
            assert!(breaker.is_open(at(now + expected - 1)), "open for {expected} s");
            assert!(!breaker.is_open(at(now + expected)), "closed after {expected} s");
        }
    }
}
