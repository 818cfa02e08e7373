//! The one place that reads the clocks, so that tests can replace them.
//!
//! Production uses [`TimeSource::System`]: the wall clock, the kernel's monotonic clock since
//! boot, and whether the wall clock is synchronized (systemd-timesyncd's
//! `/run/systemd/timesync/synchronized`, and the kernel's `adjtimex` state). A Pi has no
//! real-time clock, so after a power cut its wall clock starts wrong until NTP answers; the
//! monotonic clock is what lets an instant taken meanwhile be put right afterwards
//! (`clockwatch`).
//!
//! With `SENTINEL_TEST_NOW` set, the binary runs on a [`TimeSource::Manual`] clock that stands
//! still until a test moves it through the admin listener's `/debug/clock` route: `set` moves
//! time on (wall and monotonic together), `step` moves only the wall clock (a correction, as
//! NTP makes), and `synchronized=0|1` says whether the wall clock is to be believed.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};

/// Where "now" comes from.
#[derive(Debug, Clone)]
pub enum TimeSource {
    /// The system clocks.
    System,
    /// Clocks that move only when told to.
    Manual(Arc<Mutex<ManualClock>>),
}

/// The test clock's state.
#[derive(Debug, Clone, Copy)]
pub struct ManualClock {
    /// The wall clock.
    pub wall: Timestamp,
    /// Time since "boot", moved by `set` but not by `step`.
    pub monotonic: Duration,
    /// Whether the wall clock is synchronized.
    pub synchronized: bool,
}

/// What the system says about the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncState {
    /// systemd-timesyncd runs on this machine (it keeps `/run/systemd/timesync`).
    pub timesyncd_running: bool,
    /// systemd-timesyncd has synchronized the clock since boot.
    pub timesyncd_synchronized: bool,
    /// The kernel's `adjtimex` says the clock is synchronized (no `STA_UNSYNC`).
    pub kernel_synchronized: bool,
}

impl TimeSource {
    /// A manual clock starting at `at`, synchronized.
    pub fn manual(at: Timestamp) -> TimeSource {
        TimeSource::Manual(Arc::new(Mutex::new(ManualClock {
            wall: at,
            monotonic: Duration::from_secs(1),
            synchronized: true,
        })))
    }

    fn manual_state(&self) -> Option<ManualClock> {
        match self {
            TimeSource::System => None,
            TimeSource::Manual(clock) => Some(*clock.lock().unwrap_or_else(PoisonError::into_inner)),
        }
    }

    /// The current instant, to the millisecond: the precision the database keeps, so an
    /// instant read back equals the one computed with.
    pub fn now(&self) -> Timestamp {
        let now = match self.manual_state() {
            None => Timestamp::now(),
            Some(clock) => clock.wall,
        };
        Timestamp::from_millisecond(now.as_millisecond()).unwrap_or(now)
    }

    /// Time since boot on a clock that no correction of the wall clock moves
    /// (`CLOCK_BOOTTIME`: it also counts time suspended).
    pub fn monotonic(&self) -> Duration {
        match self.manual_state() {
            Some(clock) => clock.monotonic,
            None => boot_time(),
        }
    }

    /// Which boot the monotonic clock counts from: readings of one boot compare, of two do not.
    pub fn boot_id(&self) -> String {
        match self {
            // The manual monotonic clock starts afresh with each process: a new "boot".
            TimeSource::Manual(_) => format!("manual-{}", std::process::id()),
            TimeSource::System => std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
                .map(|id| id.trim().to_string())
                .unwrap_or_else(|_| "unknown".to_string()),
        }
    }

    /// What the system says about synchronization. The kernel is asked (`adjtimex`) only
    /// when `ask_kernel`: the appliance's unit forbids clock system calls (ProtectClock=), so
    /// only `CLOCK_SYNC=required` asks, and a refused call reads as "not synchronized".
    pub fn sync_state(&self, ask_kernel: bool) -> SyncState {
        match self.manual_state() {
            Some(clock) => SyncState {
                timesyncd_running: true,
                timesyncd_synchronized: clock.synchronized,
                kernel_synchronized: clock.synchronized,
            },
            None => SyncState {
                timesyncd_running: std::path::Path::new("/run/systemd/timesync").is_dir(),
                timesyncd_synchronized: std::path::Path::new("/run/systemd/timesync/synchronized").exists(),
                kernel_synchronized: ask_kernel && kernel_synchronized(),
            },
        }
    }

    /// Whether this is a manual (test) clock.
    pub fn is_manual(&self) -> bool {
        matches!(self, TimeSource::Manual(_))
    }

    /// Moves a manual clock on to `to`: time passes, so the monotonic clock moves as much
    /// (never backwards). Returns false for the system clock, which cannot be set.
    pub fn set(&self, to: Timestamp) -> bool {
        self.change(|clock| {
            let passed = to.duration_since(clock.wall).max(SignedDuration::ZERO);
            clock.monotonic += Duration::try_from(passed).unwrap_or_default();
            clock.wall = to;
        })
    }

    /// Steps a manual wall clock to `to` without time passing, as a correction does.
    pub fn step(&self, to: Timestamp) -> bool {
        self.change(|clock| clock.wall = to)
    }

    /// Says whether a manual wall clock is synchronized.
    pub fn set_synchronized(&self, synchronized: bool) -> bool {
        self.change(|clock| clock.synchronized = synchronized)
    }

    fn change(&self, change: impl FnOnce(&mut ManualClock)) -> bool {
        match self {
            TimeSource::System => false,
            TimeSource::Manual(clock) => {
                change(&mut clock.lock().unwrap_or_else(PoisonError::into_inner));
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

/// `CLOCK_BOOTTIME`, which neither NTP nor a step of the wall clock moves.
fn boot_time() -> Duration {
    let mut now = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec through a valid pointer to a local.
    let read = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut now) };
    if read != 0 {
        return Duration::ZERO;
    }
    Duration::new(u64::try_from(now.tv_sec).unwrap_or(0), u32::try_from(now.tv_nsec).unwrap_or(0))
}

/// The kernel's view (`adjtimex` with no change requested): synchronized unless it reports
/// `TIME_ERROR` or `STA_UNSYNC`.
fn kernel_synchronized() -> bool {
    // SAFETY: an all-zero timex is a valid "read only" request (modes = 0).
    let mut timex: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: adjtimex reads and writes one timex through a valid pointer to a local.
    let state = unsafe { libc::adjtimex(&mut timex) };
    state >= 0 && state != libc::TIME_ERROR && timex.status & libc::STA_UNSYNC == 0
}

/// The binary's build day, as a floor for a believable wall clock: a clock earlier than the
/// software running on it is certainly wrong.
pub fn build_floor() -> Timestamp {
    // The Debian image's build date is later, but the binary's is known here at compile time.
    let text = option_env!("SENTINEL_BUILD_DATE").unwrap_or("2026-01-01T00:00:00Z");
    text.parse().unwrap_or(Timestamp::UNIX_EPOCH)
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

    #[test]
    fn a_step_moves_the_wall_clock_but_not_the_monotonic_one() -> anyhow::Result<()> {
        let wrong: Timestamp = "2020-01-01T00:00:00Z".parse()?;
        let clock = TimeSource::manual(wrong);
        let boot = clock.monotonic();
        clock.set(wrong + SignedDuration::from_mins(10));
        assert_eq!(clock.monotonic() - boot, Duration::from_secs(600));
        clock.step("2026-03-02T15:00:00Z".parse()?);
        assert_eq!(clock.monotonic() - boot, Duration::from_secs(600), "a correction takes no time");
        assert!(clock.set_synchronized(false));
        assert!(!clock.sync_state(false).timesyncd_synchronized);
        Ok(())
    }

    #[test]
    fn the_system_clocks_answer() {
        let a = TimeSource::System.monotonic();
        let b = TimeSource::System.monotonic();
        assert!(a > Duration::ZERO && b >= a);
        // Whatever this machine says, asking must not fail.
        let _ = TimeSource::System.sync_state(true);
    }
}
