//! Tests of `db::commands`: a manager's SMS command is carried out and its reply queued.

use rusqlite::Connection;

use super::{MONDAY_9AM, MONDAY_11AM, at, config, create, create_open, customer, database, issue, outbox, world};
use crate::config::Config;
use crate::db::commands::Sender;
use crate::db::{commands, issues};
use crate::domain::command::{self, HELP};
use crate::domain::event::{IssueKind, Status};

/// Half past noon on the Monday, when the tests' commands arrive.
const NOW: &str = "2026-03-02T18:30:00Z";

/// Runs `text` from `mgr1` under the purpose `reply:1` and returns the reply.
fn run(conn: &Connection, config: &Config, text: &str) -> anyhow::Result<String> {
    Ok(commands::run(conn, &world(config), &Sender::contact("mgr1"), text, "reply:1", at(NOW))?.reply)
}

/// The reply to `text`, checked to be queued once, for `mgr1`, under the inbound's purpose.
fn answer(conn: &Connection, config: &Config, text: &str) -> anyhow::Result<String> {
    let reply = run(conn, config, text)?;
    assert_eq!(outbox(conn)?, vec![("reply:1".into(), "mgr1".into(), reply.clone())], "{text}");
    Ok(reply)
}

#[test]
fn list_shows_the_open_issues_only() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    create_open(&conn, IssueKind::Sms, &customer(1))?;
    create(&conn, IssueKind::Sms, &customer(2), at(MONDAY_9AM), at(MONDAY_11AM))?;
    let reply = answer(&conn, &config, "List")?;
    assert_eq!(reply, "Open issues (1), page 1/1:\n#1 SMS (214) 555-0101 — due 11:00am");
    Ok(())
}

#[test]
fn list_with_nothing_open_says_so() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    assert_eq!(answer(&conn, &config, "list")?, "No open issues.");
    Ok(())
}

#[test]
fn list_pages_and_more_goes_on() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    for n in 1..=6 {
        create_open(&conn, IssueKind::Call, &customer(n))?;
    }
    let first = run(&conn, &config, "List")?;
    assert!(first.starts_with("Open issues (6), page 1/2:"), "{first}");
    assert!(first.ends_with("Reply More for the next page."), "{first}");
    let more = commands::run(&conn, &world(&config), &Sender::contact("mgr1"), "More", "reply:2", at(NOW))?.reply;
    assert_eq!(more, "Open issues (6), page 2/2:\n#6 CALL (214) 555-0106 — due 11:00am");
    let past = commands::run(&conn, &world(&config), &Sender::contact("mgr1"), "More", "reply:3", at(NOW))?.reply;
    assert_eq!(past, "No more open issues. Reply List to start over.");
    Ok(())
}

#[test]
fn resolve_closes_a_live_issue_once() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let id = create_open(&conn, IssueKind::Sms, &customer(1))?;
    assert_eq!(answer(&conn, &config, &format!("Resolve {id}"))?, format!("Resolved #{id}."));
    let resolved = issue(&conn, id)?;
    assert_eq!((resolved.status, resolved.resolved_by.as_deref()), (Status::Resolved, Some("manual:mgr1")));
    let again =
        commands::run(&conn, &world(&config), &Sender::contact("mgr1"), &format!("Resolve {id}"), "reply:2", at(NOW))?
            .reply;
    assert_eq!(again, format!("#{id} was already resolved. Send List for the open issues."));
    Ok(())
}

#[test]
fn resolve_by_phone_closes_every_live_issue_of_that_phone() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let text = create_open(&conn, IssueKind::Sms, &customer(1))?;
    let call = create_open(&conn, IssueKind::Call, &customer(1))?;
    let other = create_open(&conn, IssueKind::Sms, &customer(2))?;
    assert_eq!(answer(&conn, &config, "Resolve (214) 555-0101")?, format!("Resolved #{text}, #{call}."));
    assert_eq!(issue(&conn, other)?.status, Status::Open);
    Ok(())
}

#[test]
fn an_unknown_issue_number_is_explained() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let reply = answer(&conn, &config, "Resolve 42")?;
    assert_eq!(
        reply,
        format!("There is no issue #42. Send List for the open issues. Usage: {}", command::USAGE_RESOLVE)
    );
    Ok(())
}

#[test]
fn spam_blocks_the_phone_and_marks_the_issue() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let id = create_open(&conn, IssueKind::Sms, &customer(1))?;
    let call = create_open(&conn, IssueKind::Call, &customer(1))?;
    assert_eq!(
        answer(&conn, &config, &format!("Spam {id}"))?,
        format!("#{id} marked spam; +1***0101 will open no more issues.")
    );
    for marked in [id, call] {
        assert_eq!(issue(&conn, marked)?.status, Status::Spam);
    }
    let Some(phone) = customer(1).phone else { anyhow::bail!("the customer has no phone") };
    assert!(issues::is_spam(&conn, &phone)?);
    Ok(())
}

#[test]
fn spam_by_phone_lists_it_even_without_issues() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let reply = answer(&conn, &config, "Spam 214 555 0109")?;
    assert_eq!(reply, "+1***0109 is on the spam list; no open or pending issue marked spam.");
    let Some(phone) = customer(9).phone else { anyhow::bail!("the customer has no phone") };
    assert!(issues::is_spam(&conn, &phone)?);
    Ok(())
}

#[test]
fn note_appends_to_the_timeline() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let id = create_open(&conn, IssueKind::Sms, &customer(1))?;
    assert_eq!(answer(&conn, &config, &format!("Note {id} called back, left a message"))?, format!("Noted on #{id}."));
    let note = issues::timeline(&conn, id)?.pop();
    let note = note.map(|entry| (entry.at, entry.event, entry.actor, entry.detail));
    assert_eq!(note, Some((at(NOW), "note".into(), "manual:mgr1".into(), "called back, left a message".into())));
    assert_eq!(issue(&conn, id)?.status, Status::Open, "a note changes no status");
    Ok(())
}

#[test]
fn status_reports_uptime_ghl_and_counts() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    create_open(&conn, IssueKind::Sms, &customer(1))?;
    create(&conn, IssueKind::Sms, &customer(2), at(MONDAY_9AM), at(MONDAY_11AM))?;
    let reply = answer(&conn, &config, "Status")?;
    assert_eq!(reply, "Sentinel up 3h 05m as of 12:30pm CST; last webhook never; GHL ok; 1 open, 1 pending.");
    Ok(())
}

#[test]
fn help_lists_the_commands() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    assert_eq!(answer(&conn, &config, "Help")?, HELP);
    Ok(())
}

#[test]
fn an_unknown_command_answers_with_the_usage() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let reply = answer(&conn, &config, "Frobnicate 12")?;
    assert_eq!(reply, format!("unknown command \"Frobnicate\". Usage: {}", command::USAGE_ALL));
    Ok(())
}

#[test]
fn a_reply_is_queued_once_per_purpose() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    run(&conn, &config, "Help")?;
    run(&conn, &config, "Help")?;
    assert_eq!(outbox(&conn)?.len(), 1, "the same inbound message is answered once");
    Ok(())
}
