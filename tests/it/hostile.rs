//! Hostile clients (issue 8): bodies that never finish, bodies far over the limit, more
//! connections than the process may open, and floods of wrong secrets (issue 12). Bad input gets
//! a clear answer, changes nothing, and never leaves the listener unable to serve GHL; wrong
//! guesses never lock out the right secret.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{Answer, SECRET, Sentinel, metric, request};

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

/// The threads of the process under test, from /proc.
fn threads(app: &Sentinel) -> anyhow::Result<usize> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", app.pid()))?;
    let line = status.lines().find_map(|line| line.strip_prefix("Threads:"));
    Ok(line.ok_or_else(|| anyhow::format_err!("no Threads: line"))?.trim().parse()?)
}

#[test]
fn a_flood_of_idle_connections_cannot_take_every_thread_nor_shut_out_ghl() -> anyhow::Result<()> {
    // Each open connection holds a thread, and the unit allows the service `TasksMax=` of them:
    // past that, threads could not be made and the listener would stop. A listener keeps at
    // most 512 connections open, closing the oldest for a new one (issue 23, part 6).
    let unit = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/sentinel.service"))?;
    let tasks_max: usize = unit
        .lines()
        .find_map(|line| line.strip_prefix("TasksMax="))
        .ok_or_else(|| anyhow::format_err!("the unit sets no TasksMax"))?
        .parse()?;
    let app = Sentinel::start(&[])?;
    let before = threads(&app)?;
    // 700 clients that each send half a request line and go quiet (no secret, nothing else).
    let idle: Vec<TcpStream> = (0..700)
        .map(|_| -> anyhow::Result<TcpStream> {
            let mut stream = TcpStream::connect(&app.webhook_addr)?;
            stream.write_all(b"POST /webhook/ghl/inbound_sms HT")?;
            Ok(stream)
        })
        .collect::<anyhow::Result<_>>()?;
    let mut peak = threads(&app)?;
    // GHL still gets in while they hang: its new connection closes an idle one.
    for n in 0..20 {
        let answer = app.webhook("inbound_sms", &format!(r#"{{"contact_id":"busy{n}","message":{{"body":"hi"}}}}"#))?;
        assert_eq!(answer.status, 200, "{answer:?}");
        peak = peak.max(threads(&app)?);
    }
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 20);
    // An idle connection still open has nothing to read yet; a closed one reads its end.
    let closed = idle
        .iter()
        .filter(|stream| {
            stream.set_nonblocking(true).is_ok()
                && !matches!((&mut &**stream).read(&mut [0u8; 64]), Err(err) if err.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    assert!(closed >= 700 - 512, "only {closed} of the oldest idle connections were closed");
    assert!(peak < tasks_max / 2, "{peak} threads against TasksMax={tasks_max}");
    // The threads of the connections it closed end soon after, not at the same instant (a
    // hundred lingered for a moment under CI's load): with all 700 clients still connected,
    // the count settles at the cap.
    app.eventually("the threads settling at the cap of 512 connections", || Ok(threads(&app)? <= before + 512 + 64))?;
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

#[test]
fn hostile_but_well_formed_bodies_are_handled_and_change_nothing_else() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let long = "x".repeat(200_000);
    let cases = [
        // Wrong types where ids and texts belong: no party, so no issue.
        (r#"{"contact_id":{"nested":true},"message":{"body":["a"]}}"#.to_string(), "ignored"),
        (r#"{"contact_id":null,"phone":12,"message":null}"#.to_string(), "ignored"),
        (r#"{"type":"InboundMessage","messageType":7,"contactId":[1,2]}"#.to_string(), "ignored"),
        // NUL bytes and a huge text are stored as they came; the issue keeps 500 characters.
        (
            "{\"contact_id\":\"nul\\u0000id\",\"message\":{\"body\":\"a\\u0000b\"}}".to_string(),
            "issue_created_or_updated",
        ),
        (format!(r#"{{"contact_id":"long","message":{{"body":"{long}"}}}}"#), "issue_created_or_updated"),
    ];
    for (body, key) in &cases {
        let answer = app.webhook("inbound_sms", body)?;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert!(!answer.json[*key].is_null(), "{key}: {answer:?}");
    }
    let kept: i64 =
        app.db()?.query_row("SELECT LENGTH(last_text) FROM issues WHERE contact_id = 'long'", [], |r| r.get(0))?;
    assert_eq!(kept, 500);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 2);
    assert_eq!(request(&app.webhook_addr, "GET", "/health", &[], b"")?.json["ok"], true);
    Ok(())
}

/// Sends `count` wrong guesses at once, each on its own connection, and returns the answers.
fn guess_at_once(addr: &str, count: usize, headers: &[(&str, &str)]) -> anyhow::Result<Vec<Answer>> {
    let sms = "/webhook/ghl/inbound_sms";
    let body = br#"{"contact_id":"guess","message":{"body":"hi"}}"#;
    std::thread::scope(|scope| {
        let guesses: Vec<_> = (0..count)
            .map(|n| {
                scope.spawn(move || {
                    let wrong = format!("guess-{n}");
                    let mut all = vec![("X-NTPP-Secret", wrong.as_str())];
                    all.extend_from_slice(headers);
                    request(addr, "POST", sms, &all, body)
                })
            })
            .collect();
        guesses.into_iter().map(|g| g.join().unwrap_or_else(|_| Err(anyhow::format_err!("guess panicked")))).collect()
    })
}

#[test]
fn wrong_secrets_never_lock_out_the_right_one() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    // Behind the tunnel every client is 127.0.0.1: the guesser and GHL share one address.
    let answers = guess_at_once(&app.webhook_addr, 30, &[])?;
    assert!(answers.iter().all(|a| a.status == 401 || a.status == 429), "{answers:?}");
    let slowed: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(slowed.len(), 20, "ten wrong guesses a minute get a plain 401, the rest 429: {answers:?}");
    assert!(slowed.iter().all(|a| a.header("Retry-After").is_some_and(|s| s.parse::<u64>().is_ok())), "{slowed:?}");
    let right =
        app.webhook("inbound_sms", r#"{"contact_id":"real-customer","message":{"body":"Is the tech coming?"}}"#)?;
    assert_eq!(right.status, 200, "the right secret is always served: {right:?}");
    assert_eq!(right.json["issue_created_or_updated"], true, "{right:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues WHERE contact_id = 'real-customer'")?, 1);
    // The admin listener, with the right secret, is not locked either; the failures show there.
    let metrics = app.admin("GET", "/metrics")?;
    assert_eq!(metrics.status, 200);
    assert_eq!(metric(&metrics.text, "sentinel_auth_failures_total"), Some("30"), "{}", metrics.text);
    assert_eq!(metric(&metrics.text, "sentinel_auth_slowed_total"), Some("20"), "{}", metrics.text);
    let status = app.admin("GET", "/api/status")?;
    assert_eq!(status.json["auth_failures"], 30, "{status:?}");
    let page = app.admin("GET", "/status")?;
    assert!(page.text.contains("Failed authentications: 30"), "{}", page.text);
    // Nothing a guesser sent was stored.
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    // The log says so, with the address masked.
    assert!(app.log().contains("authentication failed"), "{}", app.log());
    assert!(app.log().contains("127.0.0.x"), "{}", app.log());
    Ok(())
}

#[test]
fn a_client_address_header_counts_per_source_only_when_configured() -> anyhow::Result<()> {
    // Unconfigured: the header is anyone's to forge, so it is ignored and all guesses share
    // one budget, whatever address they claim.
    let app = Sentinel::start(&[])?;
    let claims: Vec<String> = (0..12).map(|n| format!("203.0.113.{n}")).collect();
    let mut statuses = Vec::new();
    for claim in &claims {
        statuses.push(guess_at_once(&app.webhook_addr, 1, &[("CF-Connecting-IP", claim)])?[0].status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 2, "{statuses:?}");
    drop(app);

    // Configured (cloudflared on this box): the guesser's own address is slowed down, and a
    // wrong secret from another client still gets its plain 401.
    let app = Sentinel::start(&[("CLIENT_IP_HEADER", "CF-Connecting-IP")])?;
    let guesser = [("CF-Connecting-IP", "203.0.113.9")];
    let answers = guess_at_once(&app.webhook_addr, 12, &guesser)?;
    assert_eq!(answers.iter().filter(|a| a.status == 429).count(), 2, "{answers:?}");
    let other = guess_at_once(&app.webhook_addr, 1, &[("CF-Connecting-IP", "198.51.100.7")])?;
    assert_eq!(other[0].status, 401, "{other:?}");
    Ok(())
}
