//! Special days set by SMS (issue 18), end to end on the manual clock: a manager closes a day
//! that is already under way, opens a Saturday, puts a day back to normal, and each time the
//! pending due times move at once, `Why` says why, every manager hears, and `/status` shows
//! the days. The days are in the database, so they survive a restart; both DST weekends of
//! 2026 are crossed.

use serde_json::{Value, json};

use crate::fake_ghl::FakeGhl;
use crate::harness::{Sentinel, with_ghl};

fn start(ghl: &FakeGhl, now: &str) -> anyhow::Result<Sentinel> {
    with_ghl(ghl).and(&env(now)).start()
}

fn env(now: &str) -> [(&str, &str); 3] {
    [
        ("MANAGER_CONTACT_IDS", "boss,deputy"),
        // Digests go to managers too; keep them out of these conversations.
        ("SUMMARY_SLOTS", "night=23:30"),
        ("SENTINEL_TEST_NOW", now),
    ]
}

/// Customer `contact` texts; returns the issue number.
fn text(app: &Sentinel, contact: &str) -> anyhow::Result<i64> {
    let body = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": format!("conv-{contact}"),
        "contactId": contact, "contactName": format!("Customer {contact}"), "messageType": "SMS", "body": "pool is green" });
    let answer = app.webhook("", &body.to_string())?;
    answer.json["issue_id"].as_i64().ok_or_else(|| anyhow::format_err!("{answer:?}"))
}

/// The boss, Dana Boss in GHL, texts a command.
fn boss_says(app: &Sentinel, command: &str) -> anyhow::Result<()> {
    let body = json!({ "type": "InboundMessage", "locationId": "loc1", "conversationId": "conv-boss",
        "contactId": "boss", "contactName": "Dana Boss", "messageType": "SMS", "body": command });
    let answer = app.webhook("", &body.to_string())?;
    anyhow::ensure!(answer.json["command"] == true, "not taken as a command: {answer:?}");
    Ok(())
}

/// Every text sent to `contact` so far, in order.
fn texts_to(ghl: &FakeGhl, contact: &str) -> Vec<String> {
    ghl.sends()
        .iter()
        .filter(|send| send["contactId"] == contact)
        .map(|send| send["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits until both managers were sent a text containing `words`; returns the boss's.
fn both_told(app: &Sentinel, ghl: &FakeGhl, words: &str) -> anyhow::Result<String> {
    let find = |contact: &str| texts_to(ghl, contact).into_iter().find(|text| text.contains(words));
    app.eventually(words, || Ok(find("boss").is_some() && find("deputy").is_some()))?;
    anyhow::ensure!(find("boss") == find("deputy"), "the managers were told different things");
    find("boss").ok_or_else(|| anyhow::format_err!("no text with {words:?}"))
}

fn issue(app: &Sentinel, id: i64) -> anyhow::Result<(String, String)> {
    Ok(app.db()?.query_row("SELECT status, due_at FROM issues WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

#[test]
fn a_day_closed_while_under_way_moves_due_times_at_once() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // Friday 6 March 2026, 09:00 CST; the clocks spring forward on Sunday.
    let app = start(&ghl, "2026-03-06T15:00:00Z")?;
    let id = text(&app, "c1")?;
    assert!(issue(&app, id)?.1.starts_with("2026-03-06T17:00:00"), "due 11:00 CST: {:?}", issue(&app, id)?);

    // A storm at 10:00: closed today. The whole of Friday no longer counts, so the two hours
    // are Monday's, 08:00-10:00 CDT after the spring-forward weekend.
    app.set_clock("2026-03-06T16:00:00Z")?;
    boss_says(&app, "Closed today")?;
    let told = both_told(&app, &ghl, "Closed Fri 3/6")?;
    assert_eq!(
        told,
        "Closed Fri 3/6 (usually 8am-5pm), set by Dana Boss. Due time moved for 1 pending issue. Normal 3/6 undoes it."
    );
    assert_eq!(issue(&app, id)?, ("PENDING".into(), "2026-03-09T15:00:00.000Z".into()));
    // 11:30, past the old due time: nothing opens and no alert goes out.
    app.set_clock("2026-03-06T17:30:00Z")?;
    std::thread::sleep(std::time::Duration::from_millis(400));
    assert_eq!(issue(&app, id)?.0, "PENDING");
    assert!(ghl.sends().iter().all(|send| !send["message"].as_str().unwrap_or_default().contains("Breach")));

    boss_says(&app, &format!("Why {id}"))?;
    app.eventually("the why reply", || Ok(texts_to(&ghl, "boss").iter().any(|text| text.contains("due moved"))))?;
    let why = texts_to(&ghl, "boss").join("\n");
    assert!(why.contains("due moved: closed Fri 3/6 by Dana Boss; due Mon 10:00am CDT (was Fri 11:00am CST)"), "{why}");
    assert!(why.contains("→ due Mon 10:00am CDT"), "{why}");
    let page = app.admin("GET", "/status")?.text;
    assert!(page.contains("Special days: Fri 3/6 closed, set by Dana Boss"), "{page}");

    // A Saturday shift instead: the two hours are Saturday morning's.
    boss_says(&app, "Open Sat 9-12")?;
    both_told(&app, &ghl, "Open Sat 3/7 9am-12pm (usually closed)")?;
    assert_eq!(issue(&app, id)?.1, "2026-03-07T17:00:00.000Z");

    // The storm passes: Friday is normal again, the old due time (11:00) has passed, and the
    // issue opens now.
    boss_says(&app, "Normal Fri")?;
    both_told(&app, &ghl, "Fri 3/6 is back to its usual hours, 8am-5pm")?;
    app.eventually("opened", || Ok(issue(&app, id)?.0 == "OPEN"))?;
    assert_eq!(issue(&app, id)?.1, "2026-03-06T17:00:00.000Z");
    let api = app.admin("GET", "/api/status")?;
    assert_eq!(api.json["special_days"], json!(["Sat 3/7 9am-12pm, set by Dana Boss"]), "{api:?}");
    Ok(())
}

#[test]
fn special_days_are_kept_across_a_restart_and_count_real_hours_on_the_dst_night() -> anyhow::Result<()> {
    let ghl = FakeGhl::start()?;
    // Saturday 31 October 2026, 10:00 CDT; the clocks fall back at 02:00 on Sunday.
    let app = start(&ghl, "2026-10-31T15:00:00Z")?;
    boss_says(&app, "Open Sun 1am-3am")?;
    both_told(&app, &ghl, "Open Sun 11/1 1am-3am")?;
    // A text on Saturday counts from Sunday 01:00 CDT (06:00 UTC); 01:00 CDT to 03:00 CST is
    // three real hours, and the first two end at 02:00 CST (08:00 UTC).
    let first = text(&app, "c1")?;
    assert_eq!(issue(&app, first)?.1, "2026-11-01T08:00:00.000Z");

    // Power cut and back: the day is still set.
    let dir = app.kill()?;
    let app = with_ghl(&ghl).and(&env("2026-10-31T15:30:00Z")).start_in(dir)?;
    let second = text(&app, "c2")?;
    assert_eq!(issue(&app, second)?.1, "2026-11-01T08:00:00.000Z");
    boss_says(&app, "Hours")?;
    let week = |ghl: &FakeGhl| texts_to(ghl, "boss").into_iter().find(|text| text.starts_with("Hours this week"));
    app.eventually("the week", || Ok(week(&ghl).is_some()))?;
    let week = week(&ghl).unwrap_or_default();
    assert!(week.contains("\nSun 11/1 1am-3am* (Dana Boss)\n"), "{week}");
    assert!(week.contains("\nMon 11/2 8am-5pm\n"), "{week}");
    assert_eq!(texts_to(&ghl, "deputy").len(), 1, "only a change is told to every manager");

    // Mistakes teach, and change nothing.
    boss_says(&app, "Closed")?;
    boss_says(&app, "Open today until 7pm")?;
    let asked = |words: &str| texts_to(&ghl, "boss").into_iter().any(|text| text.starts_with(words));
    app.eventually("both answered", || {
        Ok(asked("which day is closed? Usage: Closed today") && asked("Sat 10/31 has no hours that open before 7pm"))
    })?;
    let status: Value = app.admin("GET", "/api/status")?.json;
    assert_eq!(status["special_days"], json!(["Sun 11/1 1am-3am, set by Dana Boss"]));
    Ok(())
}
