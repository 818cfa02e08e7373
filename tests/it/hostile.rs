//! Hostile clients (issue 8): bodies that never finish, bodies far over the limit, and more
//! connections than the process may open. Bad input gets a clear answer, changes nothing, and
//! never leaves the listener unable to serve GHL.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{SECRET, Sentinel};

/// The status line of the answer on `stream`, e.g. `HTTP/1.1 408 Request Timeout`.
fn status_line(stream: &TcpStream) -> anyhow::Result<String> {
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line)?;
    Ok(line.trim_end().to_string())
}

fn head(addr: &str, length: usize) -> String {
    format!(
        "POST /webhook/ghl/inbound_sms HTTP/1.1\r\nHost: {addr}\r\nX-NTPP-Secret: {SECRET}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    )
}

#[test]
fn slow_clients_cannot_starve_the_listener() -> anyhow::Result<()> {
    // Long enough that the twenty webhooks below are answered before any stalled client is
    // cut off, even with the service under emulation on a busy machine.
    let app = Sentinel::start(&[("HTTP_TIMEOUT_SECONDS", "8")])?;
    // More stalled bodies than the listener has standing workers (64): each promises 5,000
    // bytes (over the 1 KiB tiny_http reads by itself, so a worker waits for them), sends 10,
    // then goes quiet, as a slowloris client does.
    let stalled: Vec<TcpStream> = (0..150)
        .map(|_| -> anyhow::Result<TcpStream> {
            let mut stream = TcpStream::connect(&app.webhook_addr)?;
            stream.write_all(head(&app.webhook_addr, 5_000).as_bytes())?;
            stream.write_all(br#"{"contact_"#)?;
            Ok(stream)
        })
        .collect::<anyhow::Result<_>>()?;
    // And one that trickles a byte every 300 ms, which no per-read timeout would ever stop: the
    // whole-body deadline does.
    let mut trickler = TcpStream::connect(&app.webhook_addr)?;
    trickler.write_all(head(&app.webhook_addr, 5_000).as_bytes())?;
    let trickling = std::thread::spawn(move || -> anyhow::Result<String> {
        trickler.set_read_timeout(Some(Duration::from_millis(300)))?;
        let mut answer = [0u8; 64];
        for _ in 0..4_000 {
            match trickler.read(&mut answer) {
                Ok(read) => return Ok(String::from_utf8_lossy(&answer[..read]).to_string()),
                Err(err) if matches!(err.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if trickler.write_all(b" ").is_err() {
                        break;
                    }
                }
                Err(err) => return Err(err.into()),
            }
        }
        anyhow::bail!("the trickling client was never answered")
    });

    // GHL is still served while they all hang, and /health says so.
    for n in 0..20 {
        let answer = app.webhook("inbound_sms", &format!(r#"{{"contact_id":"ok{n}","message":{{"body":"hi"}}}}"#))?;
        assert_eq!(answer.status, 200, "{answer:?}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 20);
    // None of the stalled clients has been answered yet: the webhooks above did not wait them out.
    let mut probe = stalled[0].try_clone()?;
    probe.set_nonblocking(true)?;
    assert!(matches!(probe.read(&mut [0u8; 1]), Err(err) if err.kind() == std::io::ErrorKind::WouldBlock));
    probe.set_nonblocking(false)?;

    // Then each is cut off with 408 and nothing of theirs is stored.
    let trickled = trickling.join().map_err(|_| anyhow::format_err!("trickler panicked"))??;
    assert!(trickled.starts_with("HTTP/1.1 408"), "{trickled}");
    for stream in &stalled {
        stream.set_read_timeout(Some(Duration::from_secs(60)))?;
        let line = status_line(stream)?;
        assert!(line.starts_with("HTTP/1.1 408"), "{line}");
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 20);
    assert_eq!(app.admin("GET", "/health")?.json["ok"], true);
    Ok(())
}

#[test]
fn a_streamed_ten_megabyte_body_is_refused_and_changes_nothing() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    // Chunked, so no Content-Length warns the listener: it must stop reading at the limit.
    let mut stream = TcpStream::connect(&app.webhook_addr)?;
    stream.write_all(
        format!(
            "POST /webhook/ghl/inbound_sms HTTP/1.1\r\nHost: {}\r\nX-NTPP-Secret: {SECRET}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
            app.webhook_addr
        )
        .as_bytes(),
    )?;
    let mut writer = stream.try_clone()?;
    let sending = std::thread::spawn(move || -> usize {
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
        let mut sent = 0;
        // 160 chunks of 64 KiB: 10 MiB. The server may close early, which ends the loop.
        for _ in 0..160 {
            if writer.write_all(chunk.as_bytes()).is_err() {
                break;
            }
            sent += 64 * 1024;
        }
        let _ = writer.write_all(b"0\r\n\r\n");
        sent
    });
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let line = status_line(&stream)?;
    assert!(line.starts_with("HTTP/1.1 413"), "{line}");
    drop(stream);
    sending.join().map_err(|_| anyhow::format_err!("sender panicked"))?;
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 0);
    let answer = app.webhook("inbound_sms", r#"{"contact_id":"after","message":{"body":"hi"}}"#)?;
    assert_eq!(answer.status, 200, "{answer:?}");
    Ok(())
}

#[test]
fn a_listener_that_can_no_longer_accept_stops_the_service_for_a_restart() -> anyhow::Result<()> {
    let mut app = Sentinel::start(&[("HTTP_TIMEOUT_SECONDS", "3")])?;
    // Out of file descriptors, tiny_http's accept thread ends for good. A process that kept
    // running would look alive and never hear from GHL again, so it notices (its keeper gets no
    // answer), stops with an error, and systemd (Restart=on-failure) starts a fresh one.
    let limited = Command::new("prlimit").args(["--pid", &app.pid().to_string(), "--nofile=48:48"]).status()?;
    assert!(limited.success(), "prlimit failed");
    let mut held = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = app.try_exit()? {
            break status;
        }
        assert!(Instant::now() < deadline, "still running with its listener dead:\n{}", app.log());
        if let Ok(stream) = TcpStream::connect(&app.webhook_addr) {
            held.push(stream);
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(!status.success(), "{status:?}");
    let log = app.log();
    assert!(log.contains("stopped accepting connections"), "{log}");
    Ok(())
}
