//! The status LED against a fake sysfs directory (SPEC §11): healthy, degraded, failing, off.

use std::path::Path;

use crate::fake_ghl::{FakeGhl, Fault};
use crate::harness::{Sentinel, with_ghl};

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

/// A fake LED directory offering `triggers` at `brightness`, and Sentinel driving it, with a
/// fake GHL to fail on demand.
fn start(triggers: &str, brightness: &str) -> anyhow::Result<(tempfile::TempDir, FakeGhl, Sentinel)> {
    let led = tempfile::tempdir()?;
    std::fs::write(led.path().join("trigger"), triggers)?;
    std::fs::write(led.path().join("brightness"), brightness)?;
    let led_path = led.path().display().to_string();
    let ghl = FakeGhl::start()?;
    let app = with_ghl(&ghl)
        .without("GHL_LOCATION_ID")
        .and(&[("LED_PATH", led_path.as_str()), ("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z")])
        .start()?;
    Ok((led, ghl, app))
}

#[test]
fn the_led_shows_healthy_degraded_failing_and_off() -> anyhow::Result<()> {
    let (led, ghl, app) = start("none [mmc0] timer heartbeat", "1")?;
    app.eventually("healthy: heartbeat", || Ok(read(led.path(), "trigger") == "heartbeat"))?;

    app.webhook("inbound_sms", r#"{"contact_id":"c1","conversation_id":"conv1","message":{"body":"hi"}}"#)?;
    ghl.outage(Fault::Unauthorized);
    app.admin("POST", "/jobs/poll_resolver")?;
    app.eventually("degraded: slow blink", || {
        Ok(read(led.path(), "trigger") == "timer" && read(led.path(), "delay_on") == "1000")
    })?;

    app.admin("POST", "/debug/wedge?seconds=8")?;
    app.eventually("failing: fast blink", || Ok(read(led.path(), "delay_on") == "100"))?;

    let (status, _dir) = app.stop()?;
    assert!(status.success());
    assert_eq!((read(led.path(), "trigger"), read(led.path(), "brightness")), ("none".into(), "0".into()));
    Ok(())
}

#[test]
fn without_the_timer_trigger_the_led_still_shows_the_state() -> anyhow::Result<()> {
    // A kernel without ledtrig-timer (and without heartbeat): only brightness is left.
    let (led, ghl, app) = start("none [mmc0]", "0")?;
    app.eventually("healthy: steady on", || {
        Ok(read(led.path(), "trigger") == "none" && read(led.path(), "brightness") == "1")
    })?;
    app.webhook("inbound_sms", r#"{"contact_id":"c1","conversation_id":"conv1","message":{"body":"hi"}}"#)?;
    ghl.outage(Fault::Unauthorized);
    app.admin("POST", "/jobs/poll_resolver")?;
    // Degraded: brightness goes off and on again, a second each.
    app.eventually("dark for a moment", || Ok(read(led.path(), "brightness") == "0"))?;
    app.eventually("lit again", || Ok(read(led.path(), "brightness") == "1"))?;
    app.eventually("dark again", || Ok(read(led.path(), "brightness") == "0"))?;
    assert!(!app.log().contains("offers no \"timer\""), "{}", app.log());
    let (status, _dir) = app.stop()?;
    assert!(status.success());
    std::thread::sleep(std::time::Duration::from_millis(1200));
    assert_eq!(read(led.path(), "brightness"), "0", "dark once stopped, and nothing blinks on");
    Ok(())
}
