//! The systemd protocol, with `NOTIFY_SOCKET` pointing at a datagram socket the test reads:
//! READY after start, WATCHDOG only while every actor answers, STOPPING on SIGTERM.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use crate::harness::Sentinel;

/// Collects notifications for `period`.
fn collect(socket: &UnixDatagram, period: Duration) -> anyhow::Result<Vec<String>> {
    let deadline = Instant::now() + period;
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while Instant::now() < deadline {
        socket
            .set_read_timeout(Some(deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1))))?;
        match socket.recv(&mut buffer) {
            Ok(n) => seen.push(String::from_utf8_lossy(&buffer[..n]).to_string()),
            Err(err) if matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                break;
            }
            Err(err) => return Err(err.into()),
        }
    }
    Ok(seen)
}

fn pings(messages: &[String]) -> usize {
    messages.iter().filter(|m| m.lines().any(|l| l == "WATCHDOG=1")).count()
}

#[test]
fn the_watchdog_is_fed_only_while_every_actor_answers() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path)?;
    let path = path.display().to_string();
    let app = Sentinel::start(&[
        ("NOTIFY_SOCKET", path.as_str()),
        ("WATCHDOG_USEC", "1500000"),
        ("SENTINEL_TEST_NOW", "2026-03-02T15:00:00Z"),
    ])?;
    let first = collect(&socket, Duration::from_secs(3))?;
    assert!(first.iter().any(|m| m.lines().any(|l| l == "READY=1")), "{first:?}");
    assert!(pings(&first) >= 3, "fed about every 0.5 s while healthy: {first:?}");
    assert!(first.iter().any(|m| m.contains("STATUS=healthy; GHL not configured")), "{first:?}");

    // A store stuck for 5 s (as on a failing SD card) must stop the pings. A ping already on
    // its way when the wedge began may still arrive (slowly, under emulation): wait it out.
    app.admin("POST", "/debug/wedge?seconds=5")?;
    std::thread::sleep(Duration::from_millis(1200));
    let _ = collect(&socket, Duration::from_millis(100))?;
    let wedged = collect(&socket, Duration::from_secs(2))?;
    assert_eq!(pings(&wedged), 0, "no WATCHDOG=1 while the store is stuck: {wedged:?}");
    let after = collect(&socket, Duration::from_secs(4))?;
    assert!(pings(&after) >= 1, "fed again once it answers: {after:?}");

    let (status, _dir) = app.stop()?;
    assert!(status.success());
    let last = collect(&socket, Duration::from_millis(500))?;
    assert!(last.iter().any(|m| m.lines().any(|l| l == "STOPPING=1")), "{last:?}");
    Ok(())
}
