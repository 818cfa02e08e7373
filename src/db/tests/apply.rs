//! Tests of `db::apply`: one webhook, stored and judged, as intake's transaction runs it.

use super::{
    MONDAY_9AM, MONDAY_11AM, at, config, customer, database, issue, issue_count, outbox, parsed, raw, text_from, world,
};
use crate::db::apply::{LEARNED_LOCATION, apply, apply_deferred};
use crate::db::{World, events, issues, kv_get};
use crate::domain::command;
use crate::domain::event::{Event, Inbound, IssueKind, Outbound, Party, Status};
use crate::domain::outcome::{DEFERRED, Outcome};

fn created(issue_id: i64) -> Outcome {
    Outcome::Created { issue_id, kind: IssueKind::Sms, unconfirmed_ack: false }
}

/// A human's SMS from the app to `party`, sent at `sent_at`.
fn staff_sms(party: &Party, source: &str, sent_at: &str) -> Outbound {
    Outbound {
        party: party.clone(),
        message_type: "SMS".into(),
        user_id: Some("u1".into()),
        source: Some(source.into()),
        message_id: Some("out-1".into()),
        sent_at: Some(at(sent_at)),
        call_status: None,
        caught_up: false,
    }
}

/// What the newest raw event came to.
fn raw_outcome(conn: &rusqlite::Connection) -> anyhow::Result<Option<String>> {
    Ok(events::recent(conn, 1)?.pop().and_then(|recent| recent.outcome))
}

#[test]
fn an_inbound_text_creates_a_pending_issue() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let now = at(MONDAY_9AM);
    let outcome = apply(&conn, &world(&config), &raw(now, "w1"), &text_from(&customer(1), "is my car ready?"), now)?;
    assert_eq!(outcome, created(1));
    let new = issue(&conn, 1)?;
    assert_eq!((new.kind, new.status), (IssueKind::Sms, Status::Pending));
    assert_eq!((new.created_at, new.due_at), (now, at(MONDAY_11AM)), "two business hours");
    assert_eq!(new.last_text.as_deref(), Some("is my car ready?"));
    assert_eq!(new.contact_id.as_deref(), Some("c1"));
    assert_eq!(raw_outcome(&conn)?.as_deref(), Some("issue 1 created"));
    Ok(())
}

#[test]
fn a_second_text_counts_as_a_repeat_and_keeps_the_due_time() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let world = world(&config);
    let party = customer(1);
    apply(&conn, &world, &raw(at(MONDAY_9AM), "w1"), &text_from(&party, "hello"), at(MONDAY_9AM))?;
    let later = at("2026-03-02T15:40:00Z");
    let outcome = apply(&conn, &world, &raw(later, "w2"), &text_from(&party, "anyone there?"), later)?;
    assert_eq!(outcome, Outcome::Repeat { issue_id: 1, kind: IssueKind::Sms, count: 2 });
    let repeated = issue(&conn, 1)?;
    assert_eq!((repeated.inbound_count, repeated.due_at), (2, at(MONDAY_11AM)));
    assert_eq!((repeated.last_inbound_at, repeated.last_text.as_deref()), (later, Some("anyone there?")));
    assert_eq!(issue_count(&conn)?, 1);
    Ok(())
}

#[test]
fn a_redelivered_webhook_is_a_duplicate_and_changes_nothing() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let world = world(&config);
    let text = text_from(&customer(1), "hello");
    apply(&conn, &world, &raw(at(MONDAY_9AM), "w1"), &text, at(MONDAY_9AM))?;
    let retry = at("2026-03-02T15:01:00Z");
    assert_eq!(apply(&conn, &world, &raw(retry, "w1"), &text, retry)?, Outcome::Duplicate);
    assert_eq!(issue(&conn, 1)?.inbound_count, 1);
    assert_eq!(events::recent(&conn, 10)?.len(), 1, "the retry is not stored");
    Ok(())
}

#[test]
fn a_staff_reply_resolves_and_an_automated_message_does_not() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let world = world(&config);
    let party = customer(1);
    apply(&conn, &world, &raw(at(MONDAY_9AM), "w1"), &text_from(&party, "hello"), at(MONDAY_9AM))?;
    let now = at("2026-03-02T15:30:00Z");
    let workflow = parsed(Event::Outbound(staff_sms(&party, "workflow", "2026-03-02T15:20:00Z")));
    assert_eq!(apply(&conn, &world, &raw(now, "w2"), &workflow, now)?, Outcome::Outbound { resolved: vec![] });
    assert_eq!(issue(&conn, 1)?.status, Status::Pending);
    let human = parsed(Event::Outbound(staff_sms(&party, "app", "2026-03-02T15:25:00Z")));
    assert_eq!(apply(&conn, &world, &raw(now, "w3"), &human, now)?, Outcome::Outbound { resolved: vec![1] });
    let resolved = issue(&conn, 1)?;
    assert_eq!((resolved.status, resolved.resolved_by.as_deref()), (Status::Resolved, Some("staff_reply:webhook")));
    assert_eq!(issues::last_staff_reply(&conn, &party)?, Some(at("2026-03-02T15:25:00Z")));
    Ok(())
}

#[test]
fn an_untrusted_clock_defers_and_the_event_is_judged_at_its_true_time() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let untrusted = World { clock_trusted: false, ..world(&config) };
    let text = text_from(&customer(1), "hello");
    let wrong = at("2001-01-01T00:00:00Z");
    assert_eq!(apply(&conn, &untrusted, &raw(wrong, "w1"), &text, wrong)?, Outcome::Deferred);
    assert_eq!(issue_count(&conn)?, 0, "nothing opens on a clock nobody believes");
    assert_eq!(raw_outcome(&conn)?.as_deref(), Some(DEFERRED));
    let waiting = events::deferred(&conn, 10)?;
    assert_eq!(waiting.len(), 1);
    assert_eq!((waiting[0].boot_id.as_str(), waiting[0].monotonic_ms), ("boot-a", 90_000));

    let arrived = at(MONDAY_9AM);
    assert_eq!(apply_deferred(&conn, &world(&config), waiting[0].id, &text, arrived)?, created(1));
    let judged = issue(&conn, 1)?;
    assert_eq!((judged.created_at, judged.due_at), (arrived, at(MONDAY_11AM)));
    assert!(issues::timeline(&conn, 1)?.iter().any(|entry| entry.event == "clock"), "the dating is explained");
    assert!(events::deferred(&conn, 10)?.is_empty());
    assert_eq!(events::recent(&conn, 1)?.pop().map(|recent| recent.received_at), Some(arrived));
    Ok(())
}

#[test]
fn another_locations_event_is_ignored() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[("GHL_LOCATION_ID", "loc-1")])?);
    let world = world(&config);
    let now = at(MONDAY_9AM);
    let mut text = text_from(&customer(1), "hello");
    text.location_id = Some("loc-2".into());
    let outcome = apply(&conn, &world, &raw(now, "w1"), &text, now)?;
    assert_eq!(outcome, Outcome::Ignored("location loc-2 is not GHL_LOCATION_ID".into()));
    assert_eq!(issue_count(&conn)?, 0);
    text.location_id = Some("loc-1".into());
    assert_eq!(apply(&conn, &world, &raw(now, "w2"), &text, now)?, created(1));
    assert_eq!(kv_get(&conn, LEARNED_LOCATION)?, None, "a configured location is not learned");
    Ok(())
}

#[test]
fn the_first_location_is_learned_when_none_is_configured() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let now = at(MONDAY_9AM);
    let mut text = text_from(&customer(1), "hello");
    text.location_id = Some("loc-a".into());
    apply(&conn, &world(&config), &raw(now, "w1"), &text, now)?;
    assert_eq!(kv_get(&conn, LEARNED_LOCATION)?.as_deref(), Some("loc-a"));
    text.location_id = Some("loc-b".into());
    apply(&conn, &world(&config), &raw(now, "w2"), &text, now)?;
    assert_eq!(kv_get(&conn, LEARNED_LOCATION)?.as_deref(), Some("loc-a"), "the first one is kept");
    Ok(())
}

#[test]
fn a_location_the_client_already_knows_is_not_learned_again() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let known = World { location_id: Some("loc-a"), ..world(&config) };
    let now = at(MONDAY_9AM);
    let mut text = text_from(&customer(1), "hello");
    text.location_id = Some("loc-a".into());
    apply(&conn, &known, &raw(now, "w1"), &text, now)?;
    assert_eq!(kv_get(&conn, LEARNED_LOCATION)?, None);
    Ok(())
}

#[test]
fn a_staff_text_is_a_command_answered_once() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let world = world(&config);
    let now = at(MONDAY_9AM);
    let staff = Party { contact_id: Some("staff1".into()), ..Party::default() };
    let help = text_from(&staff, "Help");
    let outcome = apply(&conn, &world, &raw(now, "w1"), &help, now)?;
    assert_eq!(outcome, Outcome::Command { reply: command::HELP.into(), hours: None });
    assert_eq!(apply(&conn, &world, &raw(now, "w1"), &help, now)?, Outcome::Duplicate);
    assert_eq!(outbox(&conn)?, vec![("reply:1".into(), "staff1".into(), command::HELP.into())]);
    assert_eq!(issue_count(&conn)?, 0, "staff texts are never issues");
    Ok(())
}

#[test]
fn a_spam_phone_opens_nothing() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let party = customer(1);
    let Some(phone) = &party.phone else { anyhow::bail!("the customer has no phone") };
    issues::add_spam(&conn, phone, at(MONDAY_9AM))?;
    let now = at(MONDAY_9AM);
    let outcome = apply(&conn, &world(&config), &raw(now, "w1"), &text_from(&party, "buy now"), now)?;
    assert_eq!(outcome, Outcome::Ignored("spam".into()));
    assert_eq!(issue_count(&conn)?, 0);
    Ok(())
}

#[test]
fn a_thanks_after_a_staff_reply_opens_nothing_and_a_lone_one_is_flagged() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let world = world(&config);
    let now = at(MONDAY_9AM);
    issues::record_staff_reply(&conn, &customer(1), at("2026-03-02T14:50:00Z"), None)?;
    let outcome = apply(&conn, &world, &raw(now, "w1"), &text_from(&customer(1), "thanks"), now)?;
    assert_eq!(outcome, Outcome::Ignored("acknowledgement after a staff reply".into()));
    let lone = apply(&conn, &world, &raw(now, "w2"), &text_from(&customer(2), "thanks"), now)?;
    assert_eq!(lone, Outcome::Created { issue_id: 1, kind: IssueKind::Sms, unconfirmed_ack: true });
    Ok(())
}

/// `ACK_CLOSE_IGNORE_WINDOW_FOR_PURE_ACK=1` (the original's .env.example): a thanks days after
/// the staff reply still opens nothing; by default the business day's window applies.
#[test]
fn a_late_thanks_opens_nothing_only_when_the_window_is_ignored() -> anyhow::Result<()> {
    let now = at(MONDAY_9AM);
    let friday = at("2026-02-27T16:00:00Z");
    for (ignore, expected) in [("1", Outcome::Ignored("acknowledgement after a staff reply".into())), ("0", created(1))]
    {
        let (conn, config) = (database()?, config(&[("ACK_CLOSE_IGNORE_WINDOW_FOR_PURE_ACK", ignore)])?);
        issues::record_staff_reply(&conn, &customer(1), friday, None)?;
        let outcome = apply(&conn, &world(&config), &raw(now, "w1"), &text_from(&customer(1), "thanks"), now)?;
        let outcome = match outcome {
            Outcome::Created { issue_id, kind, .. } => Outcome::Created { issue_id, kind, unconfirmed_ack: false },
            other => other,
        };
        assert_eq!(outcome, expected, "ACK_CLOSE_IGNORE_WINDOW_FOR_PURE_ACK={ignore}");
    }
    Ok(())
}

#[test]
fn a_missed_call_is_due_by_the_call_sla() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[("CALL_SLA_HOURS", "1")])?);
    let now = at(MONDAY_9AM);
    let call = parsed(Event::Inbound(Inbound {
        kind: IssueKind::Call,
        party: customer(1),
        contact_name: Some("Ann".into()),
        text: None,
        sent_at: None,
        from_internal_contact: false,
        by_sms: true,
        caught_up: None,
    }));
    let outcome = apply(&conn, &world(&config), &raw(now, "w1"), &call, now)?;
    assert_eq!(outcome, Outcome::Created { issue_id: 1, kind: IssueKind::Call, unconfirmed_ack: false });
    let new = issue(&conn, 1)?;
    assert_eq!((new.due_at, new.contact_name.as_deref()), (at("2026-03-02T16:00:00Z"), Some("Ann")));
    Ok(())
}

#[test]
fn an_event_that_cannot_be_applied_is_kept_with_its_error() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let now = at(MONDAY_9AM);
    // Nothing identifies the sender, so no issue can hold it.
    let nobody = text_from(&Party::default(), "hello");
    let outcome = apply(&conn, &world(&config), &raw(now, "w1"), &nobody, now)?;
    assert_eq!(outcome, Outcome::Ignored("could not be applied; kept for review".into()));
    assert_eq!(issue_count(&conn)?, 0);
    let kept = raw_outcome(&conn)?.unwrap_or_default();
    assert!(kept.starts_with("error: "), "{kept}");
    Ok(())
}
