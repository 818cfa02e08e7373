//! How many PINs are really checked (issue 23 part 3).
//!
//! The guard (`crate::guard`) slows a client down after wrong answers, but a slowed request was
//! still a real guess. Here every sign-in by PIN first asks for a place in three sliding
//! minutes: the name's, the client's and everyone's. Past any of them the PIN is not looked at
//! at all and the answer is the same whether it was right or wrong, so a flood of guesses
//! learns nothing past [`PER_NAME`] a minute for a name, however many connections it opens.
//! Such a flood also keeps the right PIN out while it lasts; the texted `Pin` link (a random
//! token sent to the manager's own phone) always works, and the refusal says so. When the
//! flood stops the places come back within [`WINDOW`].
//!
//! The check itself (PBKDF2, about 0.1 s of a Pi's core) runs one at a time, on a thread of
//! the lowest CPU priority (nice 19), so sign-ins never take more than one core from webhooks
//! and webhooks never wait behind one.
//!
//! Times come from the service's clock, so tests move it; a time that lies ahead of the clock
//! (the clock was stepped back) counts as gone, so a step back never locks anyone out.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use jiff::{SignedDuration, Timestamp};

/// PINs checked for one name in a [`WINDOW`].
pub const PER_NAME: usize = 5;
/// PINs checked for one client in a [`WINDOW`].
pub const PER_SOURCE: usize = 10;
/// PINs checked in all in a [`WINDOW`].
pub const GLOBAL: usize = 30;
/// The sliding window of every budget.
pub const WINDOW: SignedDuration = SignedDuration::from_secs(60);
/// Names and clients remembered at most; past this, the idle ones are dropped, then all.
const MAX_KEYS: usize = 4096;
/// The longest name counted as itself; longer names share a place with their first bytes.
const MAX_NAME: usize = 64;

/// The checks of one name, one client or everyone within the window, oldest first.
#[derive(Debug, Default)]
struct Window(VecDeque<Timestamp>);

impl Window {
    fn prune(&mut self, now: Timestamp) {
        self.0.retain(|at| *at <= now && now.duration_since(*at) < WINDOW);
    }

    fn full(&self, budget: usize) -> bool {
        self.0.len() >= budget
    }

    /// Seconds until the oldest check leaves the window.
    fn retry_after(&self, now: Timestamp) -> u64 {
        self.0.front().map_or(1, |at| (WINDOW - now.duration_since(*at)).as_secs().max(1) as u64)
    }
}

#[derive(Debug, Default)]
struct Windows {
    names: HashMap<String, Window>,
    sources: HashMap<IpAddr, Window>,
    global: Window,
}

fn bounded<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Window>, key: &K, now: Timestamp) {
    if map.len() >= MAX_KEYS && !map.contains_key(key) {
        map.retain(|_, window| {
            window.prune(now);
            !window.0.is_empty()
        });
        if map.len() >= MAX_KEYS {
            // Still full of live windows: the global budget alone bounds the rest.
            map.clear();
        }
    }
}

/// The budgets of real PIN checks, shared by every request to the admin listener.
#[derive(Debug, Default)]
pub struct PinGate {
    windows: Mutex<Windows>,
    checking: Mutex<()>,
    checked: AtomicU64,
    refused: AtomicU64,
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GateStats {
    /// PINs really checked since start.
    pub checked: u64,
    /// Sign-ins answered without a check, a budget being used up.
    pub refused: u64,
}

impl PinGate {
    /// Takes a place for checking a PIN for `name` from `source` at `now`, or says in how many
    /// seconds one may free up.
    pub fn admit(&self, name: &str, source: IpAddr, now: Timestamp) -> Result<(), u64> {
        let name = name_key(name);
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let windows = &mut *windows;
        bounded(&mut windows.names, &name, now);
        bounded(&mut windows.sources, &source, now);
        windows.global.prune(now);
        let by_name = windows.names.entry(name).or_default();
        by_name.prune(now);
        let by_source = windows.sources.entry(source).or_default();
        by_source.prune(now);
        let full: Vec<&Window> = [(&*by_name, PER_NAME), (&*by_source, PER_SOURCE), (&windows.global, GLOBAL)]
            .into_iter()
            .filter(|(window, budget)| window.full(*budget))
            .map(|(window, _)| window)
            .collect();
        if !full.is_empty() {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(full.iter().map(|window| window.retry_after(now)).max().unwrap_or(1));
        }
        by_name.0.push_back(now);
        by_source.0.push_back(now);
        windows.global.0.push_back(now);
        self.checked.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Gives back the place a right PIN took: a manager who signs in often is no guesser, and
    /// a right PIN tells a guesser nothing more.
    pub fn right(&self, name: &str, source: IpAddr) {
        let mut windows = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(window) = windows.names.get_mut(&name_key(name)) {
            window.0.pop_back();
        }
        if let Some(window) = windows.sources.get_mut(&source) {
            window.0.pop_back();
        }
        windows.global.0.pop_back();
    }

    /// Runs a PIN check, one at a time, on a thread of the lowest CPU priority: a check is
    /// about 0.1 s of a core, and webhooks must not wait behind it.
    pub fn check(&self, work: impl FnOnce() -> bool + Send + 'static) -> bool {
        let _one = self.checking.lock().unwrap_or_else(PoisonError::into_inner);
        let spawned = std::thread::Builder::new().name("pin-check".into()).spawn(move || {
            lowest_priority();
            work()
        });
        match spawned {
            // A check that cannot run (no thread) or that panicked lets no one in.
            Ok(thread) => thread.join().unwrap_or(false),
            Err(err) => {
                tracing::warn!("no thread to check a PIN: {err}");
                false
            }
        }
    }

    /// The counters.
    pub fn stats(&self) -> GateStats {
        GateStats { checked: self.checked.load(Ordering::Relaxed), refused: self.refused.load(Ordering::Relaxed) }
    }
}

/// Lowers the calling thread's CPU priority to the least (nice 19); it cannot be raised back,
/// so it is only called on a thread of its own.
fn lowest_priority() {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    let set = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 19)
    };
    if set != 0 {
        tracing::debug!("a PIN check runs at normal priority: {}", std::io::Error::last_os_error());
    }
}

/// Names are matched case-insensitively (`db::console::manager_named`), so they are
/// counted so too.
fn name_key(name: &str) -> String {
    let name = name.trim().to_lowercase();
    match name.char_indices().nth(MAX_NAME) {
        Some((cut, _)) => name[..cut].to_string(),
        None => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_second(1_795_446_000 + seconds).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([203, 0, 113, last])
    }

    #[test]
    fn a_name_gets_its_few_checks_a_minute_whatever_the_sources() {
        let gate = PinGate::default();
        let checked = (0..200).filter(|n| gate.admit("Dana", ip(*n as u8), at(0)).is_ok()).count();
        assert_eq!(checked, PER_NAME);
        assert_eq!(gate.admit("DANA ", ip(250), at(30)), Err(30), "names count case-insensitively");
        // Another name still has its own places.
        assert_eq!(gate.admit("Pat", ip(251), at(30)), Ok(()));
        // A minute after the flood, Dana's places are back.
        assert_eq!(gate.admit("dana", ip(1), at(60)), Ok(()));
        assert_eq!(gate.stats(), GateStats { checked: PER_NAME as u64 + 2, refused: 196 });
    }

    #[test]
    fn a_right_pin_gives_its_place_back() {
        let gate = PinGate::default();
        for _ in 0..(PER_NAME * 3) {
            assert_eq!(gate.admit("Dana", ip(1), at(0)), Ok(()));
            gate.right("Dana", ip(1));
        }
        assert_eq!(gate.stats().checked, PER_NAME as u64 * 3);
    }

    #[test]
    fn a_source_and_everyone_have_budgets_too() {
        let gate = PinGate::default();
        let from_one = (0..50).filter(|n| gate.admit(&format!("name{n}"), ip(9), at(0)).is_ok()).count();
        assert_eq!(from_one, PER_SOURCE);
        let gate = PinGate::default();
        let in_all = (0..200).filter(|n| gate.admit(&format!("name{n}"), ip(*n as u8), at(0)).is_ok()).count();
        assert_eq!(in_all, GLOBAL);
    }

    #[test]
    fn a_clock_stepped_back_frees_the_places() {
        let gate = PinGate::default();
        for _ in 0..PER_NAME {
            assert!(gate.admit("Dana", ip(1), at(3600)).is_ok());
        }
        assert!(gate.admit("Dana", ip(1), at(3600)).is_err());
        assert_eq!(gate.admit("Dana", ip(1), at(0)), Ok(()), "checks 'in the future' do not count");
    }

    #[test]
    fn remembered_names_stay_bounded() {
        let gate = PinGate::default();
        for n in 0..(MAX_KEYS + 10) {
            let _ = gate.admit(&format!("n{n}"), ip(1), at(n as i64 * 61));
        }
        let windows = gate.windows.lock().unwrap_or_else(PoisonError::into_inner);
        assert!(windows.names.len() <= MAX_KEYS);
    }
}
