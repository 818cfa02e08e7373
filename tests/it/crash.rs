//! Crash safety and races (issue 8): SIGKILL at random moments under load loses no
//! acknowledged webhook and duplicates nothing; concurrent deliveries and concurrent texts
//! from one party end as one event and one issue.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use crate::harness::{SECRET, Sentinel, request};

/// A small deterministic generator for kill moments.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn sigkill_under_load_loses_no_acknowledged_webhook() -> anyhow::Result<()> {
    let cycles: u64 = std::env::var("CRASH_CYCLES").ok().and_then(|c| c.parse().ok()).unwrap_or(20);
    let acknowledged: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(Vec::new()));
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    let mut dir = tempfile::tempdir()?;
    let mut serial = 0u64;
    for cycle in 0..cycles {
        let app = Sentinel::start_in(dir, &[("RUST_LOG", "warn")])?;
        let stop = Arc::new(AtomicBool::new(false));
        let senders: Vec<_> = (0..4)
            .map(|sender| {
                let (addr, stop, acknowledged) = (app.webhook_addr.clone(), stop.clone(), acknowledged.clone());
                let base = serial + sender * 1_000_000;
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let id = format!("crash-{cycle}-{}", base + n);
                        n += 1;
                        // Ten parties, so texts repeat on live issues as well as opening them.
                        let body =
                            json!({ "type": "InboundMessage", "messageId": id, "contactId": format!("p{}", n % 10),
                            "messageType": "SMS", "body": "hello" })
                            .to_string();
                        let headers = [("X-NTPP-Secret", SECRET), ("Content-Type", "application/json")];
                        match request(&addr, "POST", "/webhook/ghl", &headers, body.as_bytes()) {
                            Ok(answer) if answer.status == 200 => {
                                acknowledged.lock().unwrap_or_else(|p| p.into_inner()).push(id);
                            }
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        serial += 10_000_000;
        std::thread::sleep(Duration::from_millis(50 + next(&mut seed) % 250));
        dir = app.kill()?;
        stop.store(true, Ordering::Relaxed);
        for sender in senders {
            let _ = sender.join();
        }
    }
    let app = Sentinel::start_in(dir, &[])?;
    let conn = app.db()?;
    let stored: HashSet<String> = conn
        .prepare("SELECT idem_key FROM raw_events")?
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<_, _>>()?;
    let acknowledged = acknowledged.lock().unwrap_or_else(|p| p.into_inner()).clone();
    assert!(acknowledged.len() > 100, "the load ran: {} acknowledged", acknowledged.len());
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(&format!("message:{id}"))).collect();
    assert!(lost.is_empty(), "{} acknowledged webhooks lost, e.g. {:?}", lost.len(), lost.first());
    let live_per_party: i64 = conn.query_row(
        "SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM issues WHERE status IN ('PENDING','OPEN') GROUP BY kind, party_key)",
        [],
        |r| r.get(0),
    )?;
    assert_eq!(live_per_party, 1, "no issue duplicated");
    let texts: i64 = conn.query_row("SELECT SUM(inbound_count) FROM issues", [], |r| r.get(0))?;
    let events: i64 = conn.query_row("SELECT COUNT(*) FROM raw_events", [], |r| r.get(0))?;
    assert_eq!(texts, events, "every stored text counted exactly once");
    let check: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    assert_eq!(check, "ok");
    println!("crash: {cycles} kills, {} acknowledged, {events} stored, none lost", acknowledged.len());
    Ok(())
}

#[test]
fn fifty_concurrent_deliveries_are_one_event_and_one_issue() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let body = json!({ "type": "InboundMessage", "webhookId": "same-delivery", "contactId": "c1", "messageType": "SMS", "body": "hi" })
        .to_string();
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            (0..50).map(|_| scope.spawn(|| app.webhook("", &body).map(|a| a.status).unwrap_or(0))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM raw_events")?, 1);
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 1);
    Ok(())
}

#[test]
fn concurrent_texts_from_one_party_make_one_issue_with_the_right_count() -> anyhow::Result<()> {
    let app = Sentinel::start(&[])?;
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..30)
            .map(|n| {
                let app = &app;
                scope.spawn(move || {
                    let body = json!({ "type": "InboundMessage", "messageId": format!("m{n}"), "contactId": "c1",
                        "messageType": "SMS", "body": format!("text {n}") })
                    .to_string();
                    app.webhook("", &body).map(|a| a.status).unwrap_or(0)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    assert_eq!(app.count("SELECT COUNT(*) FROM issues")?, 1);
    assert_eq!(app.count("SELECT inbound_count FROM issues")?, 30);
    Ok(())
}
