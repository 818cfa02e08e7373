//! The `day` part: GHL requests for a simulated business day, with the service on the
//! injected clock and the fake GHL counting what it is asked.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::fake_ghl::FakeGhl;
use crate::harness::with_ghl;

/// A business day on the injected clock: 120 texts and 25 missed calls between 08:00 and
/// 17:00, staff answering most (some answers seen only in GHL), three digests.
pub fn business_day() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let app = with_ghl(&ghl)
        .and(&[
            ("MANAGER_CONTACT_IDS", "m1,m2"),
            // Monday 2026-11-23 07:55 CST.
            ("SENTINEL_TEST_NOW", "2026-11-23T13:55:00Z"),
            (
                "RUST_LOG",
                if std::env::var_os("BENCH_VERBOSE").is_some() {
                    "debug,ureq=warn,ureq_proto=warn,rustls=warn"
                } else {
                    "warn"
                },
            ),
        ])
        .start()?;
    let start: jiff::Timestamp = "2026-11-23T14:00:00Z".parse()?;
    let at = |minutes: i64| start + jiff::SignedDuration::from_mins(minutes);
    let mut events: Vec<(i64, usize)> = (0..145).map(|n| ((n as i64 * 540) / 145, n)).collect();
    events.sort();
    let mut issues = 0;
    let mut minute = 0;
    for (event_minute, n) in events {
        while minute < event_minute {
            minute += 5;
            app.set_clock(&at(minute).to_string())?;
        }
        let contact = format!("c{n}");
        let conversation = format!("conv{n}");
        let now = at(minute);
        ghl.add_message(
            &conversation,
            &contact,
            json!({ "direction": "inbound", "messageType": "TYPE_SMS", "dateAdded": now.to_string() }),
        );
        let body = if n % 6 == 5 {
            json!({ "contact_id": contact, "missed_call": true, "voicemail_route": "tech_sentinel", "full_name": format!("Caller {n}") })
        } else {
            json!({ "type": "InboundMessage", "locationId": "loc1", "contactId": contact, "conversationId": conversation,
                "messageType": "SMS", "body": "Can someone look at the pump?", "contactName": format!("Customer {n}") })
        };
        let route = if n % 6 == 5 { "unanswered_call" } else { "" };
        if app.webhook(route, &body.to_string())?.json["issue_id"].is_i64() {
            issues += 1;
        }
        let reply_at = now + jiff::SignedDuration::from_mins(20);
        match n % 10 {
            // Most replies arrive as OutboundMessage webhooks.
            0..=5 => {
                let reply = json!({ "type": "OutboundMessage", "locationId": "loc1", "contactId": contact, "conversationId": conversation,
                    "messageType": if n % 6 == 5 { "CALL" } else { "SMS" }, "userId": "staff", "source": "app",
                    "messageId": format!("r{n}"), "dateAdded": reply_at.to_string() });
                app.webhook("", &reply.to_string())?;
            }
            // Some only show in GHL (the webhook was lost): the resolver finds them.
            6..=7 => {
                ghl.staff_reply(&conversation, &contact, "staff", &reply_at.to_string());
            }
            // The rest go unanswered and breach.
            _ => {}
        }
    }
    // The client's rate limiter works in real time (at most 60 requests in any 10 s) while this
    // day runs in seconds: before each count, wait until GHL has been quiet for longer than a
    // limiter window, so every request the simulated hours needed is counted in them.
    let settle = || {
        let mut last = (ghl.requests().len(), Instant::now());
        let waited = Instant::now();
        while last.1.elapsed() < Duration::from_secs(12) && waited.elapsed() < Duration::from_secs(300) {
            std::thread::sleep(Duration::from_millis(100));
            let now = ghl.requests().len();
            if now != last.0 {
                last = (now, Instant::now());
            }
        }
    };
    let mut advance_to = |until: i64| -> anyhow::Result<()> {
        while minute < until {
            minute += 5;
            app.set_clock(&at(minute).to_string())?;
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    };
    advance_to(9 * 60 + 5)?; // 17:05, after the alert for breaches at 17:00
    settle();
    let (evening, evening_sends) = (ghl.requests().len(), ghl.sends().len());
    advance_to(24 * 60)?; // Tuesday 08:00: nothing falls due and the resolver rests.
    settle();
    let night_sends = ghl.sends().len() - evening_sends;
    let night = ghl.requests().len() - evening - night_sends;
    advance_to(28 * 60)?; // Tuesday noon: Monday's last issues have met their due times.
    settle();
    let total = ghl.requests().len();
    let sends = ghl.sends().len();
    let reads = total - sends;
    let live = app.count("SELECT COUNT(*) FROM issues WHERE status IN ('PENDING', 'OPEN')")?;
    println!(
        "day: {issues} issues; {total} GHL requests ({reads} reads, {sends} SMS sends) = {:.2} per issue ({:.2} reads per issue)",
        total as f64 / issues as f64,
        reads as f64 / issues as f64,
    );
    println!(
        "day: {night} GHL reads and {night_sends} SMS sends from 17:05 to 08:00; {live} issues still live (unanswered) on Tuesday noon"
    );
    let conn = app.db()?;
    let mut stmt =
        conn.prepare("SELECT status || ' ' || COALESCE(resolved_by, ''), COUNT(*) FROM issues GROUP BY 1 ORDER BY 1")?;
    let outcomes: Vec<String> = stmt
        .query_map([], |r| Ok(format!("{} {}", r.get::<_, String>(0)?.trim(), r.get::<_, i64>(1)?)))?
        .collect::<Result<_, _>>()?;
    println!("day: outcomes: {}", outcomes.join(", "));
    if std::env::var_os("BENCH_VERBOSE").is_some() {
        let due: String = conn
            .query_row("SELECT MIN(due_at) || ' .. ' || MAX(due_at) FROM issues WHERE status = 'PENDING'", [], |r| {
                r.get(0)
            })
            .unwrap_or_default();
        println!("day: pending due {due}; log tail:\n{}", {
            let log = app.log();
            let lines: Vec<&str> = log
                .lines()
                .filter(|l| {
                    !l.contains("armed")
                        && !l.contains("webhooks committed")
                        && !l.contains("issue created")
                        && !l.contains("by a staff reply")
                        && !l.contains("digest queued")
                })
                .collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        });
    }
    Ok(())
}
