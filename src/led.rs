//! The status LED: what staff see on the box without logging in (SPEC §11, APPLIANCE §4).
//!
//! `app.rs` decides the state every few seconds and calls [`Led::show`]; this file turns it into
//! writes to the kernel's LED class files under `LED_PATH` (default `/sys/class/leds/ACT`). The
//! kernel draws the pattern with a trigger, so only a change of state costs any writes. Where
//! the kernel offers no `timer` trigger (the module is not loaded, another board), the LED is
//! still driven through `brightness` alone: steady on when healthy, and a blink drawn by a
//! thread of ours for degraded and failing. Write access comes from the udev rule
//! `systemd/99-sentinel-led.rules`. A missing LED (a VM, a laptop) is not an error: the LED then
//! does nothing.

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;

/// What the LED shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedState {
    /// Every actor answers and GHL is reachable: a steady heartbeat.
    Healthy,
    /// Running, but GHL, the tunnel or the webhooks are not reaching it: a slow blink.
    Degraded,
    /// Needs staff: an actor does not answer, the database fails: a fast blink.
    Failing,
    /// The service is down: dark.
    Off,
}

/// The LED in one sysfs directory, e.g. `/sys/class/leds/ACT`.
#[derive(Debug)]
pub struct Led {
    dir: PathBuf,
    present: bool,
    /// The triggers this kernel offers, as its `trigger` file lists them.
    triggers: BTreeSet<String>,
    /// What the files show now, so that an unchanged state writes nothing.
    shown: Option<(LedState, Pattern)>,
    /// Our own blink, when the kernel has no timer trigger to draw it.
    blinker: Option<Blinker>,
}

/// How the kernel draws a state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pattern {
    Heartbeat,
    /// The kernel's timer trigger blinks.
    Blink {
        on_ms: u32,
        off_ms: u32,
    },
    /// Lit, with no trigger.
    Steady,
    /// A thread of ours blinks through `brightness`.
    SoftBlink {
        on_ms: u32,
        off_ms: u32,
    },
    Dark,
}

/// A thread that blinks the LED through `brightness`; stopped (and joined) when dropped.
#[derive(Debug)]
struct Blinker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// How often a blinking thread looks whether it should stop.
const BLINK_STEP: Duration = Duration::from_millis(20);

impl Blinker {
    fn start(brightness: PathBuf, on: String, on_ms: u32, off_ms: u32) -> std::io::Result<Blinker> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let wait = move |ms: u32| {
            let mut left = Duration::from_millis(u64::from(ms));
            while !left.is_zero() && !stopped.load(Ordering::Relaxed) {
                let step = left.min(BLINK_STEP);
                std::thread::sleep(step);
                left -= step;
            }
            !stopped.load(Ordering::Relaxed)
        };
        let thread = std::thread::Builder::new().name("led-blink".into()).stack_size(64 * 1024).spawn(move || {
            loop {
                for (value, ms) in [(on.as_str(), on_ms), ("0", off_ms)] {
                    if let Err(err) = std::fs::write(&brightness, value) {
                        tracing::warn!("status LED: writing {value:?} to {}: {err}", brightness.display());
                        return;
                    }
                    if !wait(ms) {
                        return;
                    }
                }
            }
        })?;
        Ok(Blinker { stop, thread: Some(thread) })
    }
}

impl Drop for Blinker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// How long udev gets to open `delay_on`/`delay_off` after the timer trigger creates them.
const UDEV_GRACE: Duration = Duration::from_millis(200);

impl Led {
    /// An LED at `dir`; a missing directory is not an error (returns an Led that does nothing
    /// and says so via [`Led::is_present`]).
    pub fn new(dir: &Path) -> Led {
        // Every LED class device has a `trigger` file; without one there is nothing to drive.
        let triggers = read_triggers(dir);
        Led {
            dir: dir.to_path_buf(),
            present: triggers.is_some(),
            triggers: triggers.unwrap_or_default(),
            shown: None,
            blinker: None,
        }
    }

    /// Whether there is an LED at the directory given to [`Led::new`].
    pub fn is_present(&self) -> bool {
        self.present
    }

    /// Shows `state`: Healthy is the kernel's heartbeat (or a 1.9 s on, 0.1 s off blink on a
    /// kernel without it, or steady on without the timer trigger either), Degraded blinks
    /// 1 s/1 s, Failing 100 ms/100 ms (drawn by a thread of ours without the timer trigger),
    /// Off is dark. Writes only when the state changed since the last call. Errors only when a
    /// write to a present LED fails; permission denied names the file and the udev rule that
    /// grants access.
    pub fn show(&mut self, state: LedState) -> anyhow::Result<()> {
        if !self.present || self.shown.is_some_and(|(shown, _)| shown == state) {
            return Ok(());
        }
        let timer = self.offers("timer");
        let blink =
            |on_ms, off_ms| if timer { Pattern::Blink { on_ms, off_ms } } else { Pattern::SoftBlink { on_ms, off_ms } };
        let pattern = match state {
            LedState::Healthy if self.offers("heartbeat") => Pattern::Heartbeat,
            // Mostly lit with a short dip: still unlike both blinks (APPLIANCE §4.3).
            LedState::Healthy if timer => Pattern::Blink { on_ms: 1900, off_ms: 100 },
            LedState::Healthy => Pattern::Steady,
            LedState::Degraded => blink(1000, 1000),
            LedState::Failing => blink(100, 100),
            LedState::Off => Pattern::Dark,
        };
        // Our own blink stops (and is joined) before anything else writes.
        self.blinker = None;
        let previous = self.shown.map(|(_, pattern)| pattern);
        // Forget what was shown until the new pattern is whole: a failed write is retried.
        self.shown = None;
        match pattern {
            Pattern::Heartbeat => self.write("trigger", "heartbeat")?,
            Pattern::Blink { on_ms, off_ms } => {
                // The timer trigger creates delay_on/delay_off, so it goes first. Between two
                // blinks it stays selected: selecting it again would recreate them root-owned.
                if !matches!(previous, Some(Pattern::Blink { .. })) {
                    self.write("trigger", "timer")?;
                }
                self.write("delay_on", &on_ms.to_string())?;
                self.write("delay_off", &off_ms.to_string())?;
            }
            Pattern::Steady => {
                self.write("trigger", "none")?;
                self.write("brightness", &self.lit())?;
            }
            Pattern::SoftBlink { on_ms, off_ms } => {
                self.write("trigger", "none")?;
                // The first write is checked here, so a denied file is reported like any other.
                self.write("brightness", &self.lit())?;
                let blinker = Blinker::start(self.dir.join("brightness"), self.lit(), on_ms, off_ms)
                    .context("starting the LED's blink thread")?;
                self.blinker = Some(blinker);
            }
            Pattern::Dark => {
                self.write("trigger", "none")?;
                self.write("brightness", "0")?;
            }
        }
        tracing::debug!(?state, ?pattern, "status LED changed");
        self.shown = Some((state, pattern));
        Ok(())
    }

    /// The brightness that means lit: the LED's `max_brightness`, else 1.
    fn lit(&self) -> String {
        std::fs::read_to_string(self.dir.join("max_brightness"))
            .ok()
            .map(|text| text.trim().to_string())
            .filter(|text| text.parse::<u32>().is_ok_and(|n| n > 0))
            .unwrap_or_else(|| "1".to_string())
    }

    /// Whether the kernel offers `trigger`; asks again when it was missing, because a trigger
    /// module (Debian builds `ledtrig-timer` as one) may have been loaded since.
    fn offers(&mut self, trigger: &str) -> bool {
        if !self.triggers.contains(trigger) {
            self.triggers.extend(read_triggers(&self.dir).unwrap_or_default());
        }
        self.triggers.contains(trigger)
    }

    /// Writes one attribute in a single `write`, which is how sysfs takes a value.
    fn write(&self, file: &str, value: &str) -> anyhow::Result<()> {
        let path = self.dir.join(file);
        let write = || std::fs::write(&path, value);
        let mut result = write();
        // The kernel creates the delay files root-owned and udev opens them to the group a
        // moment later (APPLIANCE §4.2), so a permission error on them is retried for a while.
        let mut waited = Duration::ZERO;
        while file.starts_with("delay_")
            && waited < UDEV_GRACE
            && matches!(&result, Err(err) if err.kind() == ErrorKind::PermissionDenied)
        {
            std::thread::sleep(UDEV_GRACE / 10);
            waited += UDEV_GRACE / 10;
            result = write();
        }
        match result {
            Err(err) if err.kind() == ErrorKind::PermissionDenied => Err(err).with_context(|| {
                format!(
                    "writing {value:?} to {} (the udev rule 99-sentinel-led.rules lets group sentinel write it)",
                    path.display()
                )
            }),
            other => other.with_context(|| format!("writing {value:?} to {}", path.display())),
        }
    }
}

/// The triggers listed in `dir/trigger`, e.g. `none [mmc0] timer heartbeat`, where the kernel
/// brackets the active one; `None` when there is no such file.
fn read_triggers(dir: &Path) -> Option<BTreeSet<String>> {
    let listed = std::fs::read_to_string(dir.join("trigger")).ok()?;
    Some(listed.split_whitespace().map(|t| t.trim_matches(['[', ']']).to_owned()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake LED directory. Real sysfs adds the delay files only once the timer is selected;
    /// here they appear when first written, after `trigger`.
    fn fake(triggers: &str) -> anyhow::Result<tempfile::TempDir> {
        let dir = tempfile::tempdir()?;
        for (file, text) in [("trigger", triggers), ("brightness", "1")] {
            std::fs::write(dir.path().join(file), text)?;
        }
        Ok(dir)
    }

    /// The contents of `files` in the fake, in order.
    fn read(dir: &tempfile::TempDir, files: &[&str]) -> anyhow::Result<Vec<String>> {
        files.iter().map(|file| Ok(std::fs::read_to_string(dir.path().join(file))?)).collect()
    }

    #[test]
    fn each_state_writes_its_pattern() -> anyhow::Result<()> {
        let dir = fake("none [mmc0] timer oneshot heartbeat")?;
        let mut led = Led::new(dir.path());
        assert!(led.is_present());
        led.show(LedState::Healthy)?;
        assert_eq!(read(&dir, &["trigger"])?, ["heartbeat"]);
        led.show(LedState::Degraded)?;
        assert_eq!(read(&dir, &["trigger", "delay_on", "delay_off"])?, ["timer", "1000", "1000"]);
        led.show(LedState::Failing)?;
        assert_eq!(read(&dir, &["trigger", "delay_on", "delay_off"])?, ["timer", "100", "100"]);
        led.show(LedState::Off)?;
        assert_eq!(read(&dir, &["trigger", "brightness"])?, ["none", "0"]);
        led.show(LedState::Healthy)?;
        assert_eq!(read(&dir, &["trigger"])?, ["heartbeat"], "the trigger list is remembered");
        Ok(())
    }

    #[test]
    fn a_repeated_state_writes_nothing() -> anyhow::Result<()> {
        let dir = fake("none [mmc0] timer heartbeat")?;
        let mut led = Led::new(dir.path());
        led.show(LedState::Degraded)?;
        std::fs::write(dir.path().join("delay_on"), "untouched")?;
        led.show(LedState::Degraded)?;
        assert_eq!(read(&dir, &["delay_on"])?, ["untouched"]);
        // From one blink to another only the delays change.
        std::fs::write(dir.path().join("trigger"), "untouched")?;
        led.show(LedState::Failing)?;
        assert_eq!(read(&dir, &["trigger", "delay_on", "delay_off"])?, ["untouched", "100", "100"]);
        Ok(())
    }

    #[test]
    fn without_heartbeat_healthy_is_a_timer_blink() -> anyhow::Result<()> {
        let dir = fake("none [mmc0] timer")?;
        let mut led = Led::new(dir.path());
        led.show(LedState::Healthy)?;
        assert_eq!(read(&dir, &["trigger", "delay_on", "delay_off"])?, ["timer", "1900", "100"]);
        Ok(())
    }

    #[test]
    fn without_timer_the_led_is_driven_by_brightness_alone() -> anyhow::Result<()> {
        let dir = fake("none [mmc0]")?;
        std::fs::write(dir.path().join("max_brightness"), "255")?;
        let mut led = Led::new(dir.path());
        led.show(LedState::Healthy)?;
        assert_eq!(read(&dir, &["trigger", "brightness"])?, ["none", "255"], "steady on");
        led.show(LedState::Failing)?;
        // Our own blink: brightness goes on and off, many times a second.
        let mut seen = std::collections::BTreeSet::new();
        let started = std::time::Instant::now();
        while seen.len() < 2 && started.elapsed() < Duration::from_secs(5) {
            // A read between the truncate and the write of fs::write sees nothing: skip it.
            let now = read(&dir, &["brightness"])?.remove(0);
            if !now.is_empty() {
                seen.insert(now);
            }
            std::thread::sleep(Duration::from_millis(7));
        }
        assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["0", "255"]);
        // Off stops the blink for good: nothing writes after it.
        led.show(LedState::Off)?;
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(read(&dir, &["trigger", "brightness"])?, ["none", "0"]);
        // When the timer trigger appears (the module was loaded), the kernel blinks again.
        std::fs::write(dir.path().join("trigger"), "none [mmc0] timer")?;
        led.show(LedState::Degraded)?;
        assert_eq!(read(&dir, &["trigger", "delay_on"])?, ["timer", "1000"]);
        Ok(())
    }

    #[test]
    fn a_missing_led_does_nothing() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let mut led = Led::new(&dir.path().join("ACT"));
        assert!(!led.is_present());
        for state in [LedState::Healthy, LedState::Degraded, LedState::Failing, LedState::Off] {
            led.show(state)?;
        }
        assert_eq!(std::fs::read_dir(dir.path())?.count(), 0);
        Ok(())
    }

    #[test]
    fn a_failed_write_names_the_file() -> anyhow::Result<()> {
        let dir = fake("none [mmc0] timer heartbeat")?;
        std::fs::create_dir(dir.path().join("delay_on"))?;
        let err = Led::new(dir.path()).show(LedState::Degraded).expect_err("delay_on is a directory");
        assert!(format!("{err:#}").contains("delay_on"), "{err:#}");
        assert_eq!(read(&dir, &["trigger"])?, ["timer"], "the trigger is written before the delays");
        Ok(())
    }
}
