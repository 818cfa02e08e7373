//! The network in use (issue 28): the box reads what the kernel publishes and what the
//! image's Wi-Fi set-up writes, here a tree of such files (`SENTINEL_NET_ROOT`), and shows the
//! network and the Wi-Fi signal on `/health`, `/status`, `sentinel status` and the console; no
//! network turns it degraded with the reason in plain words (and the LED with it), and the
//! network coming back starts a catch-up pass.

use std::path::Path;

use crate::fake_ghl::FakeGhl;
use crate::harness::{Sentinel, command, with_ghl};
use crate::net_tree::Net;

/// Starts Sentinel on the network tree in `net`, looking every 100 ms, with a fake GHL and a
/// fake LED; the LED's directory.
fn start(ghl: &FakeGhl, net: &Path) -> anyhow::Result<(Sentinel, tempfile::TempDir)> {
    let led = tempfile::tempdir()?;
    std::fs::write(led.path().join("trigger"), "none [mmc0] timer heartbeat")?;
    std::fs::write(led.path().join("brightness"), "1")?;
    let (net, led_path) = (net.display().to_string(), led.path().display().to_string());
    let app = with_ghl(ghl)
        .and(&[
            ("SENTINEL_NET_ROOT", net.as_str()),
            ("SENTINEL_NET_EVERY_MS", "100"),
            ("LED_PATH", led_path.as_str()),
            ("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z"),
        ])
        .start()?;
    Ok((app, led))
}

fn health(app: &Sentinel) -> anyhow::Result<serde_json::Value> {
    Ok(crate::harness::request(&app.webhook_addr, "GET", "/health", &[], b"")?.json)
}

#[test]
fn wifi_is_shown_with_its_signal_and_ethernet_wins_when_both_are_up() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let dir = tempfile::tempdir()?;
    let net = Net::at(dir.path());
    net.link("lo", "unknown", true, false)?.ethernet("eth0", false)?.wifi("wlan0", true)?;
    net.routes(&[("wlan0", 600)])?.signal("wlan0", -58)?.wifi_status("Office", "joined")?;
    let (app, _led) = start(&ghl, dir.path())?;
    app.eventually("the network is looked at", || Ok(!health(&app)?["network"].is_null()))?;
    let seen = health(&app)?;
    assert_eq!(seen["state"], "healthy", "{seen}");
    let network = &seen["network"];
    assert_eq!((network["up"].as_bool(), network["kind"].as_str()), (Some(true), Some("wifi")), "{seen}");
    assert_eq!((network["interface"].as_str(), network["wifi_ssid"].as_str()), (Some("wlan0"), Some("Office")));
    assert_eq!(network["signal_dbm"], -58, "{seen}");

    // `sentinel status` and the status page say it in words.
    let status = command()
        .arg("status")
        .env_clear()
        .env("DB_PATH", app.db_path())
        .env("ADMIN_LISTEN_ADDR", &app.admin_addr)
        .env("WEBHOOK_SECRET", crate::harness::SECRET)
        .output()?;
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.contains("network:       Wi-Fi \u{201c}Office\u{201d} on wlan0, signal -58 dBm (good)"), "{text}");
    let page = app.admin("GET", "/status")?;
    assert!(page.text.contains("Network: Wi-Fi"), "{}", page.text);
    let scrape = app.admin("GET", "/metrics")?.text;
    assert_eq!(crate::harness::metric(&scrape, "sentinel_network_up"), Some("1"), "{scrape}");
    assert_eq!(crate::harness::metric(&scrape, "sentinel_wifi_signal_dbm"), Some("-58"), "{scrape}");

    // The cable goes in: Ethernet carries the box, its lower metric wins.
    net.ethernet("eth0", true)?.routes(&[("eth0", 100), ("wlan0", 600)])?;
    app.eventually("Ethernet is used", || Ok(health(&app)?["network"]["kind"] == "ethernet"))?;
    assert_eq!(health(&app)?["network"]["interface"], "eth0");
    Ok(())
}

#[test]
fn no_network_is_degraded_with_the_reason_and_its_return_starts_a_catch_up() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let dir = tempfile::tempdir()?;
    let net = Net::at(dir.path());
    // A wrong Wi-Fi password and no cable.
    net.link("lo", "unknown", true, false)?.ethernet("eth0", false)?.wifi("wlan0", false)?;
    net.routes(&[])?.wifi_status("Office", "wrong-password")?;
    let (app, led) = start(&ghl, dir.path())?;
    app.eventually("degraded", || Ok(health(&app)?["state"] == "degraded"))?;
    let seen = health(&app)?;
    let reason = seen["degraded_reason"].as_str().unwrap_or_default();
    assert_eq!(
        reason,
        "no network: the Wi-Fi password for \u{201c}Office\u{201d} was refused; no Ethernet cable is plugged in",
        "{seen}"
    );
    assert_eq!(seen["network"]["up"], false);
    assert!(!reason.contains("set-up check failed"), "said once: {reason}");
    let read = |file: &str| std::fs::read_to_string(led.path().join(file)).unwrap_or_default();
    app.eventually("the LED blinks slowly", || Ok(read("trigger") == "timer" && read("delay_on") == "1000"))?;
    assert!(app.log().contains("no network: the Wi-Fi password"), "{}", app.log());

    // The right password: joined, an address, a route. Healthy again, and catch-up looks at
    // what came in meanwhile.
    net.wifi("wlan0", true)?.routes(&[("wlan0", 600)])?.signal("wlan0", -71)?.wifi_status("Office", "joined")?;
    app.eventually("healthy again", || Ok(health(&app)?["state"] == "healthy"))?;
    assert_eq!(health(&app)?["network"]["signal_dbm"], -71);
    app.eventually("a catch-up pass after the gap", || {
        let status = app.admin("GET", "/api/status")?;
        Ok(status.json["catchup"]["reason"] == "network back")
    })?;
    app.eventually("the LED beats again", || Ok(read("trigger") == "heartbeat"))?;
    Ok(())
}
