//! The one place that reads the wall clock, so that tests can replace it.
//!
//! Production uses [`TimeSource::System`]. With `SENTINEL_TEST_NOW` set, the binary runs on a
//! [`TimeSource::Manual`] clock that stands still until a test moves it through the admin
//! listener's `/debug/clock` route; SLA and digest behaviour is then tested without sleeping.

use std::sync::{Arc, Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};

/// Where "now" comes from.
#[derive(Debug, Clone)]
pub enum TimeSource {
    /// The system clock.
    System,
    /// A clock that moves only when told to.
    Manual(Arc<Mutex<Timestamp>>),
}

impl TimeSource {
    /// A manual clock starting at `at`.
    pub fn manual(at: Timestamp) -> TimeSource {
        TimeSource::Manual(Arc::new(Mutex::new(at)))
    }

    /// The current instant, to the millisecond: the precision the database keeps, so an
    /// instant read back equals the one computed with.
    pub fn now(&self) -> Timestamp {
        let now = match self {
            TimeSource::System => Timestamp::now(),
            TimeSource::Manual(at) => *at.lock().unwrap_or_else(PoisonError::into_inner),
        };
        Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now)
    }

    /// Whether this is a manual (test) clock.
    pub fn is_manual(&self) -> bool {
        matches!(self, TimeSource::Manual(_))
    }

    /// Sets a manual clock; returns false for the system clock, which cannot be set.
    pub fn set(&self, to: Timestamp) -> bool {
        match self {
            TimeSource::System => false,
            TimeSource::Manual(at) => {
                *at.lock().unwrap_or_else(PoisonError::into_inner) = to;
                true
            }
        }
    }

    /// How long to sleep until `deadline` in real time. A manual clock never reaches a
    /// deadline by itself, so the sleep is bounded and the caller is woken when it moves.
    pub fn until(&self, deadline: Timestamp) -> std::time::Duration {
        let left = deadline.duration_since(self.now()).max(SignedDuration::ZERO);
        let left = std::time::Duration::try_from(left).unwrap_or_default();
        match self {
            TimeSource::System => left,
            TimeSource::Manual(_) => left.min(std::time::Duration::from_secs(3600)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_set() -> anyhow::Result<()> {
        let start: Timestamp = "2026-03-02T15:00:00Z".parse()?;
        let clock = TimeSource::manual(start);
        assert_eq!(clock.now(), start);
        assert!(clock.set(start + SignedDuration::from_hours(1)));
        assert_eq!(clock.now(), start + SignedDuration::from_hours(1));
        assert!(!TimeSource::System.set(start));
        Ok(())
    }
}
