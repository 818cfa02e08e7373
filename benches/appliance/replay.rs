//! `sentinel replay`'s speed (issue 18, part 2): a year of a busy office, 200,000 stored
//! events, written straight into a database with the store's own functions, then replayed by
//! the real binary. The target is 5 s or less on the 2-core machine.

use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use sentinel::db::events::{RawEvent, body_hash, record};
use serde_json::json;

/// A year of a busy office's events.
const EVENTS: usize = 200_000;

/// Builds the database, times the replay and prints events per second.
pub fn replay() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // BENCH_REPLAY_DB keeps the database (e.g. to profile the replay on it).
    let db = std::env::var_os("BENCH_REPLAY_DB").map_or_else(|| dir.path().join("sentinel.db"), Into::into);
    let written = Instant::now();
    let mut conn = sentinel::db::schema::open(&db)?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    let tx = conn.transaction()?;
    // Mon 5 Jan 2026, 08:00 in Chicago; one event every 158 s fills a year.
    let mut at: Timestamp = "2026-01-05T14:00:00Z".parse()?;
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for n in 0..EVENTS {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        at += SignedDuration::from_secs(158);
        let contact = format!("c{}", seed % 3000);
        let (route, body, key) = match (seed >> 32) % 10 {
            0..=4 => {
                let body = json!({ "type": "InboundMessage", "locationId": "loc1", "contactId": contact,
                    "messageType": "SMS", "direction": "inbound", "messageId": format!("in-{n}"),
                    "body": "is the tech still coming today?" });
                ("events", body, Some(format!("message:in-{n}")))
            }
            5..=6 => {
                let body =
                    json!({ "contact_id": contact, "missed_call": true, "voicemail_route": "tech_sentinel", "n": n });
                ("unanswered_call", body, None)
            }
            _ => {
                let body = json!({ "type": "OutboundMessage", "locationId": "loc1", "contactId": contact,
                    "messageType": "SMS", "userId": "u1", "source": "app", "messageId": format!("out-{n}"),
                    "dateAdded": at.to_string() });
                ("events", body, Some(format!("message:out-{n}")))
            }
        };
        let body = body.to_string();
        let event = RawEvent {
            received_at: at,
            route,
            idem_keys: key.into_iter().collect(),
            body_hash: body_hash(route, body.as_bytes()),
            body,
        };
        record(&tx, &event)?;
    }
    tx.commit()?;
    drop(conn);
    println!("replay: {EVENTS} events written in {:.1} s", written.elapsed().as_secs_f64());

    let began = Instant::now();
    let output = crate::harness::command()
        .args(["replay", "--until", "2027-01-31"])
        .env_clear()
        .env("DB_PATH", &db)
        .env("RAW_EVENTS_RETENTION_DAYS", "400")
        .output()?;
    let seconds = began.elapsed().as_secs_f64();
    let text = String::from_utf8_lossy(&output.stdout);
    anyhow::ensure!(output.status.success(), "replay failed: {text}{}", String::from_utf8_lossy(&output.stderr));
    for line in text.lines().filter(|line| ["replayed", "issues:", "breaches:"].iter().any(|s| line.starts_with(s))) {
        println!("replay:   {line}");
    }
    println!(
        "replay: {EVENTS} events in {seconds:.2} s = {:.0} events/s (target: 200,000 in 5 s or less)",
        EVENTS as f64 / seconds
    );
    Ok(())
}
