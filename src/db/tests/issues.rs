//! Tests of `db::issues`: issues, their timeline, the spam list and known staff replies.

use super::{MONDAY_9AM, MONDAY_11AM, at, create, customer, database, issue};
use crate::db::issues::{self, NewIssue};
use crate::domain::event::{IssueKind, Party, Status};
use crate::domain::phone::Phone;

#[test]
fn a_created_issue_reads_back_pending_with_its_timeline() -> anyhow::Result<()> {
    let conn = database()?;
    let party = customer(1);
    let long = "x".repeat(600);
    let new = NewIssue {
        kind: IssueKind::Sms,
        party: &party,
        contact_name: Some("Ann"),
        created_at: at(MONDAY_9AM),
        due_at: at(MONDAY_11AM),
        text: Some(&long),
    };
    let id = issues::create(&conn, &new, "texted at 9:00am; due 11:00am")?;
    let created = issue(&conn, id)?;
    assert_eq!((created.kind, created.status, created.party.as_str()), (IssueKind::Sms, Status::Pending, "contact:c1"));
    assert_eq!(created.phone, Phone::parse("+12145550101"));
    assert_eq!(created.contact_name.as_deref(), Some("Ann"));
    assert_eq!((created.first_inbound_at, created.last_inbound_at), (at(MONDAY_9AM), at(MONDAY_9AM)));
    assert_eq!((created.due_at, created.inbound_count), (at(MONDAY_11AM), 1));
    assert_eq!(created.last_text.map(|text| text.chars().count()), Some(500), "texts are clipped");
    assert_eq!((created.opened_at, created.resolved_at, created.resolved_by), (None, None, None));
    let timeline = issues::timeline(&conn, id)?;
    let entries: Vec<(&str, &str, &str)> =
        timeline.iter().map(|e| (e.event.as_str(), e.actor.as_str(), e.detail.as_str())).collect();
    assert_eq!(entries, vec![("created", "intake", "texted at 9:00am; due 11:00am")]);
    assert_eq!(issues::get(&conn, id + 1)?, None);
    Ok(())
}

#[test]
fn a_party_without_any_id_cannot_open_an_issue() -> anyhow::Result<()> {
    let conn = database()?;
    assert!(create(&conn, IssueKind::Sms, &Party::default(), at(MONDAY_9AM), at(MONDAY_11AM)).is_err());
    Ok(())
}

#[test]
fn the_live_issue_is_found_by_conversation_contact_or_phone() -> anyhow::Result<()> {
    let conn = database()?;
    let party = Party { conversation_id: Some("conv-1".into()), ..customer(1) };
    let id = create(&conn, IssueKind::Sms, &party, at(MONDAY_9AM), at(MONDAY_11AM))?;
    let by = |party: Party| issues::find_live(&conn, IssueKind::Sms, &party).map(|found| found.map(|i| i.id));
    assert_eq!(by(Party { conversation_id: Some("conv-1".into()), ..Party::default() })?, Some(id));
    assert_eq!(by(Party { contact_id: Some("c1".into()), ..Party::default() })?, Some(id));
    assert_eq!(by(Party { phone: Phone::parse("214-555-0101"), ..Party::default() })?, Some(id));
    assert_eq!(by(customer(2))?, None);
    assert_eq!(issues::find_live(&conn, IssueKind::Call, &party)?, None, "kinds are separate");
    issues::resolve(&conn, id, at(MONDAY_11AM), "manual:mgr1", "done")?;
    assert_eq!(by(party)?, None, "a resolved issue is not live");
    Ok(())
}

#[test]
fn live_for_party_finds_both_kinds() -> anyhow::Result<()> {
    let conn = database()?;
    let text = create(&conn, IssueKind::Sms, &customer(1), at(MONDAY_9AM), at(MONDAY_11AM))?;
    let call = create(&conn, IssueKind::Call, &customer(1), at(MONDAY_9AM), at(MONDAY_11AM))?;
    let ids: Vec<i64> = issues::live_for_party(&conn, &customer(1))?.iter().map(|i| i.id).collect();
    assert_eq!(ids, vec![text, call]);
    Ok(())
}

#[test]
fn a_repeat_counts_and_fills_in_without_moving_the_due_time() -> anyhow::Result<()> {
    let conn = database()?;
    let first = Party { phone: Phone::parse("2145550101"), ..Party::default() };
    let id = create(&conn, IssueKind::Call, &first, at(MONDAY_9AM), at(MONDAY_11AM))?;
    let later = at("2026-03-02T15:30:00Z");
    let count = issues::record_repeat(&conn, &issue(&conn, id)?, &customer(1), Some("Ann"), later, None)?;
    assert_eq!(count, 2);
    let repeated = issue(&conn, id)?;
    assert_eq!((repeated.inbound_count, repeated.due_at, repeated.status), (2, at(MONDAY_11AM), Status::Pending));
    assert_eq!((repeated.last_inbound_at, repeated.last_text.as_deref()), (later, Some("hello?")));
    assert_eq!((repeated.contact_id.as_deref(), repeated.contact_name.as_deref()), (Some("c1"), Some("Ann")));
    let last = issues::timeline(&conn, id)?.pop().map(|entry| (entry.event, entry.detail));
    assert_eq!(last, Some(("repeat".into(), "call attempt #2".into())));
    Ok(())
}

#[test]
fn resolve_and_spam_end_only_a_live_issue() -> anyhow::Result<()> {
    let conn = database()?;
    let id = create(&conn, IssueKind::Sms, &customer(1), at(MONDAY_9AM), at(MONDAY_11AM))?;
    let now = at("2026-03-02T16:00:00Z");
    assert!(issues::resolve(&conn, id, now, "manual:mgr1", "done")?);
    assert!(!issues::resolve(&conn, id, at(MONDAY_11AM), "manual:mgr2", "again")?);
    assert!(!issues::mark_spam(&conn, id, at(MONDAY_11AM), "manual:mgr2")?);
    let resolved = issue(&conn, id)?;
    assert_eq!((resolved.status, resolved.resolved_at), (Status::Resolved, Some(now)));
    assert_eq!(resolved.resolved_by.as_deref(), Some("manual:mgr1"));
    let events: Vec<String> = issues::timeline(&conn, id)?.into_iter().map(|entry| entry.event).collect();
    assert_eq!(events, vec!["created", "resolved"]);
    Ok(())
}

#[test]
fn only_a_pending_issue_opens() -> anyhow::Result<()> {
    let conn = database()?;
    let id = create(&conn, IssueKind::Sms, &customer(1), at(MONDAY_9AM), at(MONDAY_11AM))?;
    assert!(issues::open(&conn, id, at(MONDAY_11AM), "overdue")?);
    assert!(!issues::open(&conn, id, at("2026-03-02T18:00:00Z"), "overdue again")?);
    let opened = issue(&conn, id)?;
    assert_eq!((opened.status, opened.opened_at), (Status::Open, Some(at(MONDAY_11AM))));
    assert!(issues::mark_spam(&conn, id, at("2026-03-02T18:00:00Z"), "manual:mgr1")?, "an OPEN issue is live");
    Ok(())
}

#[test]
fn lists_and_counts_follow_status_and_due_time() -> anyhow::Result<()> {
    let conn = database()?;
    let late = create(&conn, IssueKind::Sms, &customer(1), at(MONDAY_9AM), at("2026-03-02T19:00:00Z"))?;
    let soon = create(&conn, IssueKind::Sms, &customer(2), at(MONDAY_9AM), at(MONDAY_11AM))?;
    let opened = create(&conn, IssueKind::Call, &customer(3), at(MONDAY_9AM), at("2026-03-02T16:00:00Z"))?;
    issues::open(&conn, opened, at("2026-03-02T16:00:00Z"), "overdue")?;
    let ids = |statuses: &[Status]| -> anyhow::Result<Vec<i64>> {
        Ok(issues::list(&conn, statuses)?.iter().map(|i| i.id).collect())
    };
    assert_eq!(ids(&[Status::Pending])?, vec![soon, late]);
    assert_eq!(ids(&[Status::Open])?, vec![opened]);
    assert_eq!(ids(&[])?, vec![opened, soon, late]);
    assert_eq!(issues::counts(&conn)?, vec![("OPEN".into(), 1), ("PENDING".into(), 2)]);
    Ok(())
}

#[test]
fn the_sla_clock_sees_the_next_and_the_due_pending_issues() -> anyhow::Result<()> {
    let conn = database()?;
    assert_eq!(issues::next_pending_due(&conn)?, None);
    let late = create(&conn, IssueKind::Sms, &customer(1), at(MONDAY_9AM), at("2026-03-02T19:00:00Z"))?;
    let soon = create(&conn, IssueKind::Sms, &customer(2), at(MONDAY_9AM), at(MONDAY_11AM))?;
    assert_eq!(issues::next_pending_due(&conn)?, Some(at(MONDAY_11AM)));
    let now = at(MONDAY_11AM);
    let due: Vec<i64> = issues::pending_due(&conn, now, 10)?.iter().map(|i| i.id).collect();
    assert_eq!(due, vec![soon], "due exactly now counts");
    assert_eq!(issues::unsettled_due(&conn, now)?, 1);
    assert_eq!(issues::pending_due(&conn, at("2026-03-02T20:00:00Z"), 1)?.len(), 1, "the limit holds");
    issues::open(&conn, soon, now, "overdue")?;
    assert_eq!(issues::next_pending_due(&conn)?, Some(at("2026-03-02T19:00:00Z")));
    assert_eq!(issues::unsettled_due(&conn, now)?, 0);
    assert_eq!(issue(&conn, late)?.status, Status::Pending);
    Ok(())
}

#[test]
fn a_known_conversation_or_name_is_never_overwritten() -> anyhow::Result<()> {
    let conn = database()?;
    let id = create(&conn, IssueKind::Sms, &customer(1), at(MONDAY_9AM), at(MONDAY_11AM))?;
    issues::set_conversation(&conn, id, "conv-1")?;
    issues::set_conversation(&conn, id, "conv-2")?;
    issues::set_contact_name(&conn, id, "Ann")?;
    issues::set_contact_name(&conn, id, "Bob")?;
    let named = issue(&conn, id)?;
    assert_eq!((named.conversation_id.as_deref(), named.contact_name.as_deref()), (Some("conv-1"), Some("Ann")));
    Ok(())
}

#[test]
fn the_spam_list_holds_a_phone_once_in_any_spelling() -> anyhow::Result<()> {
    let conn = database()?;
    let (Some(phone), Some(same)) = (Phone::parse("(214) 555-0101"), Phone::parse("+1 214 555 0101")) else {
        anyhow::bail!("the phones did not parse");
    };
    assert!(!issues::is_spam(&conn, &phone)?);
    issues::add_spam(&conn, &phone, at(MONDAY_9AM))?;
    issues::add_spam(&conn, &same, at(MONDAY_11AM))?;
    assert!(issues::is_spam(&conn, &same)?);
    let rows: i64 = conn.query_row("SELECT COUNT(*) FROM spam_phones", [], |row| row.get(0))?;
    assert_eq!(rows, 1);
    Ok(())
}

#[test]
fn the_newest_staff_reply_is_known_under_any_id_of_the_party() -> anyhow::Result<()> {
    let conn = database()?;
    assert_eq!(issues::last_staff_reply(&conn, &customer(1))?, None);
    let newer = at("2026-03-02T16:00:00Z");
    issues::record_staff_reply(&conn, &customer(1), newer, Some("m2"))?;
    issues::record_staff_reply(&conn, &customer(1), at(MONDAY_9AM), Some("m1"))?;
    let by_phone = Party { phone: customer(1).phone, ..Party::default() };
    assert_eq!(issues::last_staff_reply(&conn, &by_phone)?, Some(newer), "an older reply never wins");
    let by_contact = Party { contact_id: Some("c1".into()), ..Party::default() };
    assert_eq!(issues::last_staff_reply(&conn, &by_contact)?, Some(newer));
    assert_eq!(issues::last_staff_reply(&conn, &customer(2))?, None);
    Ok(())
}
