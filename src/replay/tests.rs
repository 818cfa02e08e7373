//! The replay's batches: judged without a savepoint per event, and judged again under
//! savepoints when one event fails, so that one failing event does not stop the replay.

use jiff::{SignedDuration, Timestamp};
use rusqlite::Connection;

use super::{Ready, apply_all};
use crate::config::{Config, Source};
use crate::db::issues;
use crate::db::schema::open_for_replay as in_memory;
use crate::domain::event::{Event, Inbound, IssueKind, Parsed, Party};

fn config() -> anyhow::Result<Config> {
    Config::from_source(&Source::from_pairs([("MANAGER_CONTACT_IDS", "mgr1")]))
}

/// A new text from contact `contact`, `minutes` after Monday 2 March 2026, 09:00 in Chicago
/// (the reader recorded it as raw event `minutes + 1`).
fn text_from(contact: &str, minutes: i64) -> anyhow::Result<Ready> {
    let at = "2026-03-02T15:00:00Z".parse::<Timestamp>()? + SignedDuration::from_mins(minutes);
    let party = Party { conversation_id: None, contact_id: Some(contact.to_string()), phone: None };
    let inbound = Inbound {
        kind: IssueKind::Sms,
        party,
        contact_name: None,
        text: Some("is the tech coming?".into()),
        sent_at: None,
        from_internal_contact: false,
        by_sms: true,
        caught_up: None,
    };
    let parsed = Parsed { event: Event::Inbound(inbound), webhook_id: None, message_id: None, location_id: None };
    Ok(Ready { at, id: Some(minutes + 1), parsed })
}

fn replay(conn: &mut Connection, events: Vec<Ready>) -> anyhow::Result<u64> {
    let config = config()?;
    let (sender, receiver) = std::sync::mpsc::sync_channel(1);
    sender.send(events)?;
    drop(sender);
    Ok(apply_all(conn, &config, receiver)?.0)
}

fn contacts_with_issues(conn: &Connection) -> anyhow::Result<Vec<String>> {
    Ok(issues::list(conn, &[])?.into_iter().filter_map(|issue| issue.contact_id).collect())
}

/// The texts (or calls) counted on `contact`'s one issue.
fn inbound_count(conn: &Connection, contact: &str) -> anyhow::Result<i64> {
    let issues = issues::list(conn, &[])?;
    let mut theirs = issues.iter().filter(|issue| issue.contact_id.as_deref() == Some(contact));
    let issue = theirs.next().ok_or_else(|| anyhow::format_err!("{contact} has no issue"))?;
    anyhow::ensure!(theirs.next().is_none(), "{contact} has more than one issue");
    Ok(issue.inbound_count)
}

#[test]
fn a_batch_applies_every_event() -> anyhow::Result<()> {
    let mut conn = in_memory()?;
    let events = vec![text_from("c1", 0)?, text_from("c2", 1)?, text_from("c1", 2)?];
    assert_eq!(replay(&mut conn, events)?, 3);
    assert_eq!(contacts_with_issues(&conn)?, ["c1", "c2"]);
    assert_eq!(inbound_count(&conn, "c1")?, 2, "the second text from c1 is a repeat");
    Ok(())
}

#[test]
fn a_redelivery_is_counted_but_not_judged() -> anyhow::Result<()> {
    let mut conn = in_memory()?;
    let again = Ready { id: None, ..text_from("c1", 1)? };
    assert_eq!(replay(&mut conn, vec![text_from("c1", 0)?, again])?, 2);
    assert_eq!(inbound_count(&conn, "c1")?, 1, "a redelivery is no repeat");
    Ok(())
}

#[test]
fn an_event_that_fails_does_not_stop_the_replay_and_the_rest_of_its_batch_applies() -> anyhow::Result<()> {
    let mut conn = in_memory()?;
    // Creating an issue for contact "boom" fails, as a broken row would live.
    conn.execute_batch(
        "CREATE TEMP TRIGGER boom BEFORE INSERT ON issues WHEN NEW.contact_id = 'boom'
         BEGIN SELECT RAISE(ABORT, 'no room for boom'); END;",
    )?;
    let events = vec![text_from("c1", 0)?, text_from("boom", 1)?, text_from("c2", 2)?, text_from("c1", 3)?];
    assert_eq!(replay(&mut conn, events)?, 4);
    assert_eq!(contacts_with_issues(&conn)?, ["c1", "c2"]);
    assert_eq!(inbound_count(&conn, "c1")?, 2, "the events after the failing one are judged once each");
    Ok(())
}
