//! The status LED (SPEC §11, APPLIANCE §4): what staff see without logging in.
//!
//! Driven from user space through the kernel's LED class files under `LED_PATH` (default
//! `/sys/class/leds/ACT`): a steady heartbeat when healthy, a slow blink when degraded, a fast
//! blink when failing, off when the service stops. A missing LED (a VM, a Pi without access)
//! is not an error: the LED then does nothing. Only changes are written, so showing the
//! state every few seconds costs nothing.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// What the LED shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LedState {
    /// Every actor answers and GHL is reachable.
    Healthy,
    /// Running, but GHL, the tunnel or the webhooks are not reaching it.
    Degraded,
    /// An actor is not answering.
    Failing,
    /// The service is stopping.
    Off,
}

/// The LED at one sysfs directory.
#[derive(Debug)]
pub struct Led {
    dir: PathBuf,
    present: bool,
    shown: Option<LedState>,
}

impl Led {
    /// The LED at `dir`; a directory without a `trigger` file means no LED.
    pub fn new(dir: &Path) -> Led {
        Led { dir: dir.to_path_buf(), present: dir.join("trigger").exists(), shown: None }
    }

    /// Whether there is an LED to drive.
    pub fn is_present(&self) -> bool {
        self.present
    }

    /// Shows `state`, writing only when it changed.
    pub fn show(&mut self, state: LedState) -> anyhow::Result<()> {
        if !self.present || self.shown == Some(state) {
            return Ok(());
        }
        match state {
            LedState::Healthy if self.has_trigger("heartbeat")? => self.write("trigger", "heartbeat")?,
            // Kernels without the heartbeat trigger get a short blink every second instead.
            LedState::Healthy => self.blink(100, 900)?,
            LedState::Degraded => self.blink(1000, 1000)?,
            LedState::Failing => self.blink(100, 100)?,
            LedState::Off => {
                self.write("trigger", "none")?;
                self.write("brightness", "0")?;
            }
        }
        self.shown = Some(state);
        Ok(())
    }

    /// The timer trigger creates `delay_on`/`delay_off`, so it is written first.
    fn blink(&self, on_ms: u32, off_ms: u32) -> anyhow::Result<()> {
        self.write("trigger", "timer")?;
        self.write("delay_on", &on_ms.to_string())?;
        self.write("delay_off", &off_ms.to_string())
    }

    /// The kernel lists the triggers it has, with the active one in brackets.
    fn has_trigger(&self, name: &str) -> anyhow::Result<bool> {
        let path = self.dir.join("trigger");
        let listed = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
        Ok(listed.split_whitespace().any(|t| t.trim_matches(['[', ']']) == name))
    }

    fn write(&self, file: &str, value: &str) -> anyhow::Result<()> {
        let path = self.dir.join(file);
        std::fs::write(&path, value).with_context(|| {
            format!("writing {value:?} to {} (is the sentinel group allowed by the LED udev rule?)", path.display())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake(triggers: &str) -> anyhow::Result<tempfile::TempDir> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("trigger"), triggers)?;
        std::fs::write(dir.path().join("brightness"), "0")?;
        Ok(dir)
    }

    fn read(dir: &Path, file: &str) -> String {
        std::fs::read_to_string(dir.join(file)).unwrap_or_default()
    }

    #[test]
    fn each_state_writes_its_pattern() -> anyhow::Result<()> {
        let dir = fake("none [mmc0] timer heartbeat")?;
        let mut led = Led::new(dir.path());
        assert!(led.is_present());
        led.show(LedState::Healthy)?;
        assert_eq!(read(dir.path(), "trigger"), "heartbeat");
        led.show(LedState::Degraded)?;
        assert_eq!(
            (read(dir.path(), "trigger"), read(dir.path(), "delay_on"), read(dir.path(), "delay_off")),
            ("timer".into(), "1000".into(), "1000".into())
        );
        led.show(LedState::Failing)?;
        assert_eq!((read(dir.path(), "delay_on"), read(dir.path(), "delay_off")), ("100".into(), "100".into()));
        led.show(LedState::Off)?;
        assert_eq!((read(dir.path(), "trigger"), read(dir.path(), "brightness")), ("none".into(), "0".into()));
        Ok(())
    }

    #[test]
    fn an_unchanged_state_writes_nothing() -> anyhow::Result<()> {
        let dir = fake("none [mmc0] timer heartbeat")?;
        let mut led = Led::new(dir.path());
        led.show(LedState::Degraded)?;
        std::fs::write(dir.path().join("delay_on"), "changed by hand")?;
        led.show(LedState::Degraded)?;
        assert_eq!(read(dir.path(), "delay_on"), "changed by hand");
        Ok(())
    }

    #[test]
    fn without_a_heartbeat_trigger_healthy_is_a_short_blink() -> anyhow::Result<()> {
        let dir = fake("none [mmc0] timer")?;
        let mut led = Led::new(dir.path());
        led.show(LedState::Healthy)?;
        assert_eq!((read(dir.path(), "trigger"), read(dir.path(), "delay_on")), ("timer".into(), "100".into()));
        Ok(())
    }

    #[test]
    fn a_missing_led_is_not_an_error() -> anyhow::Result<()> {
        let mut led = Led::new(Path::new("/nonexistent/leds/ACT"));
        assert!(!led.is_present());
        led.show(LedState::Failing)?;
        Ok(())
    }
}
