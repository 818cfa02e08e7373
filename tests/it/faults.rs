//! Faults from outside (issue 8): a GHL outage while work piles up, and slow clients.

use std::io::Write as _;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::json;

use crate::fake_ghl::{FakeGhl, Fault};
use crate::harness::{SECRET, Sentinel, request, with_ghl};

#[test]
fn a_ghl_outage_degrades_but_loses_nothing_and_sends_once_back() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // Monday 2026-11-23 07:50 CST.
    let app =
        with_ghl(&ghl).and(&[("MANAGER_CONTACT_IDS", "m1"), ("SENTINEL_TEST_NOW", "2026-11-23T13:50:00Z")]).start()?;
    ghl.outage(Fault::ServerError);
    // Ten minutes of GHL down across the morning slot, webhooks still arriving.
    let start: jiff::Timestamp = "2026-11-23T13:55:30Z".parse()?;
    for minute in 0..10 {
        app.set_clock(&(start + jiff::SignedDuration::from_mins(minute)).to_string())?;
        let text = json!({ "contact_id": format!("c{minute}"), "message": { "body": "hello" } });
        assert_eq!(app.webhook("inbound_sms", &text.to_string())?.status, 200);
        app.admin("POST", "/jobs/poll_resolver")?;
    }
    app.eventually("GHL shown degraded", || Ok(app.admin("GET", "/health")?.json["ghl"] == "degraded"))?;
    assert_eq!(app.admin("GET", "/health")?.status, 200, "degraded is not failing");
    assert!(ghl.sends().is_empty());
    ghl.recover();
    app.set_clock("2026-11-23T14:30:00Z")?;
    app.eventually("the morning digest is delivered", || Ok(ghl.sends().len() == 1))?;
    app.set_clock("2026-11-23T15:30:00Z")?;
    assert_eq!(ghl.sends().len(), 1, "delivered once");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 10, "every webhook kept");
    assert!(ghl.max_in_window(Duration::from_secs(10)) <= 60);
    Ok(())
}

#[test]
fn slow_clients_do_not_starve_the_listener() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    // 200 clients that send half a request line and then nothing (slowloris).
    let mut idle = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&app.webhook_addr)?;
        stream.write_all(b"POST /webhook/ghl/inbound_sms HTTP/1.1\r\nHost: x\r\nX-NTPP-")?;
        idle.push(stream);
    }
    let body = br#"{"contact_id":"real","message":{"body":"hello"}}"#;
    let answer = request(&app.webhook_addr, "POST", "/webhook/ghl/inbound_sms", &[("X-NTPP-Secret", SECRET)], body)?;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(request(&app.webhook_addr, "GET", "/health", &[], b"")?.status, 200);
    drop(idle);
    Ok(())
}

#[test]
fn a_tunnel_that_is_not_ready_shows_as_degraded() -> anyhow::Result<()> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU16, Ordering};
    // A stand-in for cloudflared's /ready on loopback.
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow::format_err!("{e}"))?);
    let url = format!("http://{}/ready", server.server_addr().to_ip().map(|a| a.to_string()).unwrap_or_default());
    let status = Arc::new(AtomicU16::new(200));
    let ready = {
        let (server, status) = (server.clone(), status.clone());
        std::thread::spawn(move || {
            while let Ok(request) = server.recv() {
                let code = status.load(Ordering::Relaxed);
                let _ = request.respond(tiny_http::Response::from_string("{}").with_status_code(code));
            }
        })
    };
    let app = Sentinel::start(&[("TUNNEL_READY_URL", url.as_str())])?;
    app.eventually("tunnel ok", || Ok(request(&app.webhook_addr, "GET", "/health", &[], b"")?.json["tunnel"] == "ok"))?;
    status.store(503, Ordering::Relaxed);
    app.eventually("tunnel down", || {
        Ok(request(&app.webhook_addr, "GET", "/health", &[], b"")?.json["tunnel"] == "down")
    })?;
    let health = request(&app.webhook_addr, "GET", "/health", &[], b"")?;
    assert_eq!(health.status, 200, "degraded, not failing: {health:?}");
    server.unblock();
    let _ = ready.join();
    Ok(())
}
