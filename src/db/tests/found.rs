//! `db/found.rs`: what a catch-up pass found, applied as its webhooks would have been (SPEC §12).

use super::*;
use crate::db::apply::apply;
use crate::db::catchup;
use crate::db::found::{self, FoundEvent, FoundPass, Observed};
use crate::domain::event::{CaughtUp, Outbound};
use crate::domain::outcome::Outcome;

/// The route catch-up stores what it found under (`ghl::catchup::ROUTE`).
const ROUTE: &str = "catchup";

/// A customer's (or manager's) text in `contact`'s conversation, message `id`, sent at `sent`
/// and found at `found_at`; `answered_at` when staff had answered it by then.
fn text(id: &str, contact: &str, words: &str, sent: &str, found_at: &str, answered_at: Option<&str>) -> FoundEvent {
    let party =
        Party { conversation_id: Some(format!("conv-{contact}")), contact_id: Some(contact.into()), phone: None };
    let inbound = Inbound {
        kind: IssueKind::Sms,
        party,
        contact_name: None,
        text: Some(words.into()),
        sent_at: Some(at(sent)),
        from_internal_contact: false,
        by_sms: true,
        caught_up: Some(CaughtUp { found_at: at(found_at), answered_at: answered_at.map(at) }),
    };
    found_event(id, Event::Inbound(inbound), sent)
}

/// A staff SMS reply by user `u1` in `contact`'s conversation.
fn reply(id: &str, contact: &str, sent: &str) -> FoundEvent {
    let party =
        Party { conversation_id: Some(format!("conv-{contact}")), contact_id: Some(contact.into()), phone: None };
    let outbound = Outbound {
        party,
        message_type: "SMS".into(),
        user_id: Some("u1".into()),
        source: Some("app".into()),
        message_id: Some(id.into()),
        sent_at: Some(at(sent)),
        call_status: None,
        caught_up: true,
    };
    found_event(id, Event::Outbound(outbound), sent)
}

fn found_event(id: &str, event: Event, sent: &str) -> FoundEvent {
    let parsed = Parsed { event, webhook_id: None, message_id: Some(id.into()), location_id: None };
    let body = format!(r#"{{"messageId":"{id}"}}"#);
    let raw = RawEvent {
        received_at: at(sent),
        route: ROUTE,
        idem_keys: parsed.idem_keys(),
        body_hash: body_hash(ROUTE, body.as_bytes()),
        body,
    };
    FoundEvent { raw, parsed, at: at(sent) }
}

fn pass(events: Vec<FoundEvent>, found_at: &str) -> FoundPass {
    FoundPass {
        events,
        observed: Vec::new(),
        watermark: Some(at(found_at)),
        found_at: at(found_at),
        day: "2026-03-02".into(),
    }
}

const FOUND: &str = "2026-03-02T16:00:00Z";

#[test]
fn a_text_found_late_is_an_issue_from_its_own_time_and_says_how_it_came() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let found = text("m1", "c1", "Is the tech coming?", MONDAY_9AM, FOUND, None);
    let tally = found::apply(&conn, &world(&config), &pass(vec![found], FOUND))?;
    assert_eq!((tally.found, tally.created, tally.customer, tally.found_today), (1, 1, 1, 1));
    assert_eq!(tally.largest_gap_seconds, 3600);
    let issue = issue(&conn, 1)?;
    assert_eq!((issue.created_at, issue.due_at), (at(MONDAY_9AM), at(MONDAY_11AM)), "due from its own time");
    let said: String = conn.query_row("SELECT detail FROM timeline WHERE event = 'catchup'", [], |row| row.get(0))?;
    assert!(said.contains("found by catch-up: no webhook arrived"), "{said}");
    assert_eq!(catchup::watermark(&conn)?, Some(at(FOUND)));
    Ok(())
}

#[test]
fn the_webhook_that_comes_later_is_a_duplicate_and_so_is_the_reverse() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    found::apply(&conn, &world(&config), &pass(vec![text("m1", "c1", "hi", MONDAY_9AM, FOUND, None)], FOUND))?;
    let late = RawEvent { idem_keys: vec!["message:m1".into()], ..raw(at(FOUND), "w-late") };
    let webhook = Parsed { message_id: Some("m1".into()), ..text_from(&customer(1), "hi") };
    assert_eq!(apply(&conn, &world(&config), &late, &webhook, at(FOUND))?, Outcome::Duplicate);
    // A message a webhook brought first is not found again.
    let first = RawEvent { idem_keys: vec!["message:m2".into()], ..raw(at(MONDAY_9AM), "w2") };
    apply(
        &conn,
        &world(&config),
        &first,
        &Parsed { message_id: Some("m2".into()), ..text_from(&customer(2), "yo") },
        at(MONDAY_9AM),
    )?;
    let again =
        found::apply(&conn, &world(&config), &pass(vec![text("m2", "c2", "yo", MONDAY_9AM, FOUND, None)], FOUND))?;
    assert_eq!((again.found, again.duplicates, again.created), (0, 1, 0));
    assert_eq!(issue_count(&conn)?, 2);
    Ok(())
}

#[test]
fn a_managers_command_found_late_is_noted_not_run() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let id = create_open(&conn, IssueKind::Sms, &customer(1))?;
    let command = text("m1", "mgr1", &format!("RESOLVE {id}"), MONDAY_9AM, FOUND, None);
    let tally = found::apply(&conn, &world(&config), &pass(vec![command], FOUND))?;
    assert_eq!(tally.noted, 1);
    assert!(matches!(tally.outcomes[0], Some(Outcome::Noted(_))), "{:?}", tally.outcomes);
    let sent = outbox(&conn)?;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].1, "mgr1");
    assert!(sent[0].2.contains("was not run"), "{}", sent[0].2);
    assert_eq!(issue(&conn, id)?.status, crate::domain::event::Status::Open, "the command did not run");
    Ok(())
}

#[test]
fn a_text_staff_had_answered_and_a_thanks_after_open_nothing() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let events = vec![
        text("m1", "c1", "Can you come Tuesday?", MONDAY_9AM, FOUND, Some("2026-03-02T15:05:00Z")),
        reply("r1", "c1", "2026-03-02T15:05:00Z"),
        text("m2", "c1", "Thanks!", "2026-03-02T15:07:00Z", FOUND, None),
    ];
    let tally = found::apply(&conn, &world(&config), &pass(events, FOUND))?;
    assert_eq!((tally.found, tally.created), (3, 0), "{:?}", tally.outcomes);
    assert_eq!(issue_count(&conn)?, 0);
    Ok(())
}

#[test]
fn what_a_pass_read_is_known_and_a_failed_pass_keeps_its_watermark() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let observed = vec![Observed {
        id: "conv-c1".into(),
        last_at: at(MONDAY_9AM),
        fingerprint: "sms|hi".into(),
        unread: Some(2),
        known: true,
    }];
    let mut first = pass(Vec::new(), FOUND);
    first.observed = observed;
    found::apply(&conn, &world(&config), &first)?;
    let seen = catchup::seen(&conn, &["conv-c1".to_string(), "conv-c9".to_string()])?;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen["conv-c1"].fingerprint.as_deref(), Some("sms|hi"));
    assert_eq!(seen["conv-c1"].unread, Some(2));
    let mut short = pass(Vec::new(), "2026-03-02T17:00:00Z");
    short.watermark = None;
    found::apply(&conn, &world(&config), &short)?;
    assert_eq!(catchup::watermark(&conn)?, Some(at(FOUND)), "not moved by a pass that stopped short");
    Ok(())
}
