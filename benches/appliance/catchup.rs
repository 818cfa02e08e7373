//! The `catchup` part (SPEC §12): what catch-up costs in GHL requests over a business day on
//! the injected clock, and what it finds, for an office with 100 and with 500 inbound
//! conversations a day; with every webhook arriving, with one in ten lost, and with no webhook
//! at all (`WEBHOOKS=off`). The fake GHL counts what it is asked; the figures are printed.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::fake_ghl::FakeGhl;
use crate::harness::with_ghl;

/// How webhooks reach the box in a scenario.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Every webhook arrives.
    All,
    /// One conversation in ten sends none (lost in a tunnel outage).
    OneInTenLost,
    /// `WEBHOOKS=off`: none at all.
    Off,
}

pub fn catchup() -> anyhow::Result<()> {
    for (conversations, delivery) in [
        (100, Delivery::All),
        (100, Delivery::OneInTenLost),
        (100, Delivery::Off),
        (500, Delivery::All),
        (500, Delivery::OneInTenLost),
    ] {
        day(conversations, delivery)?;
    }
    Ok(())
}

/// One business day, 08:00 to 17:00, with `conversations` customers texting once each, spread
/// evenly, and staff answering each 30 minutes later (in GHL, and by webhook when webhooks
/// arrive). The clock moves in 5-minute steps.
fn day(conversations: usize, delivery: Delivery) -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    let mut env = vec![
        ("MANAGER_CONTACT_IDS", "m1"),
        // Monday 2026-11-23 07:55 CST.
        ("SENTINEL_TEST_NOW", "2026-11-23T13:55:00Z"),
        ("RUST_LOG", "warn"),
        ("GHL_LOCATION_ID", "loc1"),
    ];
    if delivery == Delivery::Off {
        env.push(("WEBHOOKS", "off"));
    }
    let app = with_ghl(&ghl).and(&env).start()?;
    let start: jiff::Timestamp = "2026-11-23T14:00:00Z".parse()?;
    let at = |minutes: i64| start + jiff::SignedDuration::from_mins(minutes);
    let day_minutes = 9 * 60;
    let mut texts: Vec<(i64, usize)> =
        (0..conversations).map(|n| ((n as i64 * day_minutes) / conversations as i64, n)).collect();
    texts.sort();
    let mut replies: Vec<(i64, usize)> = Vec::new();
    let lost = |n: usize| match delivery {
        Delivery::All => false,
        Delivery::OneInTenLost => n % 10 == 3,
        Delivery::Off => true,
    };
    let mut minute = 0;
    // The start's pass (at 07:55) only marks where the next one looks from; the cadence's come
    // every `interval` minutes after it while the business is open: the first at 08:05, or at
    // the 08:00 opening with a 3-minute interval.
    let interval = if delivery == Delivery::Off { 3 } else { 10 };
    let mut next_pass = if delivery == Delivery::Off { 0 } else { 5 };
    let mut next_text = 0;
    let began = Instant::now();
    while minute <= day_minutes + 60 {
        app.set_clock(&at(minute).to_string())?;
        while next_text < texts.len() && texts[next_text].0 <= minute {
            let n = texts[next_text].1;
            next_text += 1;
            let (contact, conversation) = (format!("c{n}"), format!("conv{n}"));
            let sent = at(minute).to_string();
            ghl.add_message(
                &conversation,
                &contact,
                json!({ "id": format!("in{n}"), "direction": "inbound", "messageType": "TYPE_SMS", "dateAdded": sent,
                    "body": "Can someone look at the pump?" }),
            );
            if !lost(n) {
                let body = json!({ "type": "InboundMessage", "locationId": "loc1", "contactId": contact,
                    "conversationId": conversation, "messageType": "SMS", "messageId": format!("in{n}"), "dateAdded": sent,
                    "body": "Can someone look at the pump?", "contactName": format!("Customer {n}") });
                app.webhook("", &body.to_string())?;
            }
            replies.push((minute + 30, n));
        }
        for &(_, n) in replies.iter().filter(|(due, _)| *due == minute) {
            let (contact, conversation) = (format!("c{n}"), format!("conv{n}"));
            let sent = at(minute).to_string();
            ghl.add_message(
                &conversation,
                &contact,
                json!({ "id": format!("out{n}"), "direction": "outbound", "messageType": "TYPE_SMS", "userId": "staff",
                    "source": "app", "dateAdded": sent, "body": "On our way" }),
            );
            if !lost(n) {
                let reply = json!({ "type": "OutboundMessage", "locationId": "loc1", "contactId": contact,
                    "conversationId": conversation, "messageType": "SMS", "userId": "staff", "source": "app",
                    "messageId": format!("out{n}"), "dateAdded": sent });
                app.webhook("", &reply.to_string())?;
            }
        }
        // The pass the step starts (every interval of the injected clock) must end before the
        // next step, as it would in five real minutes: GHL's rate limit is in real seconds.
        if minute >= next_pass && minute < day_minutes {
            wait_for_pass(&app, at(minute))?;
            next_pass = minute + interval;
        }
        minute += 5;
    }
    settle(&ghl);
    let requests = ghl.requests();
    let searches = requests
        .iter()
        // Catch-up's two searches name `lastMessageDirection`; the resolver's does not.
        .filter(|r| r.path == "/conversations/search" && r.query.contains("lastMessageDirection="))
        .count();
    let other_searches = requests.iter().filter(|r| r.path == "/conversations/search").count().saturating_sub(searches);
    let reads = requests.iter().filter(|r| r.path.ends_with("/messages") && r.method == "GET").count();
    let sends = requests.iter().filter(|r| r.method == "POST").count();
    let other = requests.len() - searches - other_searches - reads - sends;
    let status = app.admin("GET", "/api/status")?;
    let catchup = &status.json["catchup"];
    let issues = app.count("SELECT COUNT(*) FROM issues")?;
    let caught = app.count("SELECT COUNT(*) FROM raw_events WHERE route = 'catchup'")?;
    let mode = match delivery {
        Delivery::All => "every webhook arrives",
        Delivery::OneInTenLost => "one conversation in ten loses its webhooks",
        Delivery::Off => "WEBHOOKS=off",
    };
    println!(
        "catchup: {conversations} inbound conversations a day, {mode}: {} GHL requests besides SMS sends in the \
         business day ({searches} catch-up searches, {reads} conversation reads, {other_searches} resolver searches, \
         {other} other); {issues} issues, {caught} events found by catch-up; longest wait {} s; ran {:.0} s",
        requests.len() - sends,
        catchup["largest_gap_seconds"],
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Waits until a catch-up pass at or after `at` has ended.
fn wait_for_pass(app: &crate::harness::Sentinel, at: jiff::Timestamp) -> anyhow::Result<()> {
    let began = Instant::now();
    while began.elapsed() < Duration::from_secs(60) {
        let status = app.admin("GET", "/api/status")?;
        let last = status.json["catchup"]["last_pass_at"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok());
        if last.is_some_and(|last| last >= at) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    anyhow::bail!("no catch-up pass at {at} within a minute")
}

/// Waits until GHL has been quiet for longer than the client's rate-limit window, so every
/// request the simulated day needed is counted.
fn settle(ghl: &FakeGhl) {
    let mut last = (ghl.requests().len(), Instant::now());
    let waited = Instant::now();
    while last.1.elapsed() < Duration::from_secs(12) && waited.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(100));
        let now = ghl.requests().len();
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
}
