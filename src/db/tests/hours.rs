//! Tests of `db::hours`: special days set by SMS move due times, are told to every
//! manager, and are read back as the calendar in force.

use rusqlite::{Connection, StatementStatus};

use super::{at, config, create, create_open, customer, database, issue, outbox, world};
use crate::config::Config;
use crate::db::{commands, hours, issues};
use crate::domain::event::IssueKind;

/// Monday 2 March 2026, 12:30pm in Chicago, when the commands arrive.
const NOW: &str = "2026-03-02T18:30:00Z";
/// Noon that Monday: a text then is due at 2pm with the default two-hour SLA.
const NOON: &str = "2026-03-02T18:00:00Z";
const TWO_PM: &str = "2026-03-02T20:00:00Z";

/// Runs `text` from `sender` (called Dana) under the purpose `reply:N`.
fn say(conn: &Connection, config: &Config, sender: &str, text: &str, n: u32) -> anyhow::Result<String> {
    let purpose = format!("reply:{n}");
    Ok(commands::run(
        conn,
        &world(config),
        &commands::Sender { name: Some("Dana"), ..commands::Sender::contact(sender) },
        text,
        &purpose,
        at(NOW),
    )?
    .reply)
}

#[test]
fn closed_today_moves_pending_due_times_and_tells_every_manager() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let pending = create(&conn, IssueKind::Sms, &customer(1), at(NOON), at(TWO_PM))?;
    let open = create_open(&conn, IssueKind::Sms, &customer(2))?;
    let reply = say(&conn, &config, "mgr1", "Closed today", 1)?;
    assert_eq!(
        reply,
        "Closed Mon 3/2 (usually 8am-5pm), set by Dana. Due time moved for 1 pending issue. Normal 3/2 undoes it."
    );
    let sent = outbox(&conn)?;
    let expected: Vec<(String, String, String)> =
        ["mgr1", "mgr2"].iter().map(|to| ("reply:1".into(), to.to_string(), reply.clone())).collect();
    assert_eq!(sent, expected);
    // Tuesday 8am + 2 business hours, in CST.
    assert_eq!(issue(&conn, pending)?.due_at, at("2026-03-03T16:00:00Z"));
    let moved = issues::timeline(&conn, pending)?.into_iter().find(|entry| entry.event == "due moved");
    let moved = moved.ok_or_else(|| anyhow::anyhow!("no due moved entry"))?;
    assert_eq!(moved.detail, "closed Mon 3/2 by Dana; due Tue 10:00am CST (was Mon 2:00pm CST)");
    assert_eq!(issue(&conn, open)?.due_at, at(super::MONDAY_11AM), "an OPEN issue already fell due");
    // `Why` explains the new due time on the calendar in force, and shows the move.
    let calendar = hours::calendar(&conn, &config.calendar)?;
    let why = commands::run(
        &conn,
        &crate::db::World { calendar: &calendar, ..world(&config) },
        &commands::Sender::contact("mgr1"),
        &format!("Why {pending}"),
        "reply:2",
        at(NOW),
    )?
    .reply;
    assert!(why.contains("→ due Tue 10:00am CST"), "{why}");
    assert!(why.contains("due moved: closed Mon 3/2 by Dana"), "{why}");
    Ok(())
}

#[test]
fn normal_undoes_a_special_day() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let pending = create(&conn, IssueKind::Sms, &customer(1), at(NOON), at(TWO_PM))?;
    say(&conn, &config, "mgr1", "Closed today", 1)?;
    let reply = say(&conn, &config, "mgr2", "Normal Mon", 2)?;
    assert_eq!(reply, "Mon 3/2 is back to its usual hours, 8am-5pm, set by Dana. Due time moved for 1 pending issue.");
    assert_eq!(issue(&conn, pending)?.due_at, at(TWO_PM));
    assert!(hours::load(&conn)?.is_empty());
    let again = say(&conn, &config, "mgr2", "Normal Mon", 3)?;
    assert_eq!(again, "Mon 3/2 has no special hours; it is 8am-5pm. Send Hours for the week.");
    assert_eq!(outbox(&conn)?.iter().filter(|(purpose, ..)| purpose == "reply:3").count(), 1, "no change, no news");
    Ok(())
}

#[test]
fn open_hours_are_stored_and_listed() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let reply = say(&conn, &config, "staff1", "Open Sat 9-12", 1)?;
    assert_eq!(reply, "Open Sat 3/7 9am-12pm (usually closed), set by Dana. Normal 3/7 undoes it.");
    assert_eq!(outbox(&conn)?.len(), 3, "the sender and both managers");
    say(&conn, &config, "mgr1", "Open today until 7pm", 2)?;
    let week = say(&conn, &config, "mgr1", "Hours", 3)?;
    assert!(week.contains("Mon 3/2 8am-7pm* (Dana)\n"), "{week}");
    assert!(week.contains("Sat 3/7 9am-12pm* (Dana)\n"), "{week}");
    assert!(week.contains("Tue 3/3 8am-5pm\n"), "{week}");
    let calendar = hours::calendar(&conn, &config.calendar)?;
    assert!(calendar.is_open(at("2026-03-03T00:30:00Z")), "6:30pm Monday is open now");
    Ok(())
}

#[test]
fn impossible_changes_teach_and_change_nothing() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let until = say(&conn, &config, "mgr1", "Open Sun until 7pm", 1)?;
    assert_eq!(
        until,
        "Sun 3/8 has no hours that open before 7pm; say when it opens, e.g. Open Sun 9-7. Usage: Open Sat 9-12 | Open today until 7pm"
    );
    let past = say(&conn, &config, "mgr1", "Closed 2026-03-01", 2)?;
    assert_eq!(past, "Sun 3/1 has passed. Usage: Closed today | Closed Fri | Closed 12/24");
    let which = say(&conn, &config, "mgr1", "Closed", 3)?;
    assert_eq!(which, "which day is closed? Usage: Closed today | Closed Fri | Closed 12/24");
    assert!(hours::load(&conn)?.is_empty());
    assert!(outbox(&conn)?.iter().all(|(_, to, _)| to == "mgr1"), "only the sender hears of a mistake");
    Ok(())
}

/// An hours command reads the special days once; a change hands back the calendar it made, as
/// the table now holds it, for the rest of the commit and for the store actor to share.
#[test]
fn an_hours_command_reads_the_special_days_once_and_hands_back_the_calendar() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    // How often the table's query has run on this connection (it is a cached statement).
    let reads =
        || -> rusqlite::Result<i32> { Ok(conn.prepare_cached(hours::LOAD_DAYS)?.get_status(StatementStatus::Run)) };
    let dana = commands::Sender { name: Some("Dana"), ..commands::Sender::contact("mgr1") };
    let cases = [
        ("Closed today", true, 1),
        ("Open Sat 9-12", true, 1),
        ("Normal Mon", true, 1),
        ("Normal Mon", false, 1),
        ("Hours", false, 1),
        ("Closed 2026-03-01", false, 1),
        ("Closed", false, 0),
        ("List", false, 0),
    ];
    for (n, (text, changes, expected)) in cases.into_iter().enumerate() {
        let before = reads()?;
        let answer = commands::run(&conn, &world(&config), &dana, text, &format!("reply:{n}"), at(NOW))?;
        assert_eq!(reads()? - before, expected, "{text}: reads of the special days");
        let stored = hours::calendar(&conn, &config.calendar)?;
        assert_eq!(answer.hours, changes.then_some(stored), "{text}");
    }
    Ok(())
}
