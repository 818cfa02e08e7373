//! Tests of `db::settle`: what a due time, a resolver pass and a spam mark do to issues.

use jiff::Timestamp;

use super::{MONDAY_9AM, MONDAY_11AM, at, create, customer, database, issue};
use crate::db::issues;
use crate::db::settle::{apply_findings, mark_spam, settle_due};
use crate::domain::event::{IssueKind, Status};
use crate::domain::outcome::{AiCheck, Finding, FoundReply};

/// A minute after the due time.
const SETTLE_AT: &str = "2026-03-02T17:01:00Z";

/// What GHL says about an issue when it says nothing.
fn finding(issue_id: i64) -> Finding {
    Finding { issue_id, reply: None, conversation_id: None, error: None, ai: None }
}

fn reply(message_id: &str, at: Timestamp, acknowledged: bool) -> Option<FoundReply> {
    Some(FoundReply { message_id: message_id.into(), at, acknowledged })
}

/// A text from customer `n` at 09:00, due at 11:00.
fn due_text(conn: &rusqlite::Connection, n: u8) -> anyhow::Result<i64> {
    create(conn, IssueKind::Sms, &customer(n), at(MONDAY_9AM), at(MONDAY_11AM))
}

#[test]
fn a_due_issue_without_a_reply_opens() -> anyhow::Result<()> {
    let conn = database()?;
    let id = due_text(&conn, 1)?;
    let report = settle_due(&conn, at(SETTLE_AT), &[id], &[])?;
    assert_eq!(report.checked, 1);
    assert_eq!(report.promoted_open, vec![id]);
    assert!(report.auto_resolved.is_empty());
    let opened = issue(&conn, id)?;
    assert_eq!(opened.status, Status::Open);
    assert_eq!(opened.opened_at, Some(at(SETTLE_AT)));
    let last = issues::timeline(&conn, id)?.pop();
    assert_eq!(
        last.map(|entry| (entry.event, entry.detail)),
        Some(("opened".into(), "response target passed without a staff reply".into()))
    );
    Ok(())
}

#[test]
fn an_unreachable_ghl_still_opens_and_says_why() -> anyhow::Result<()> {
    let conn = database()?;
    let id = due_text(&conn, 1)?;
    let unreachable = Finding { error: Some("GHL answered 503".into()), ..finding(id) };
    let report = settle_due(&conn, at(SETTLE_AT), &[id], &[unreachable])?;
    assert_eq!(report.promoted_open, vec![id]);
    let detail = issues::timeline(&conn, id)?.pop().map(|entry| entry.detail).unwrap_or_default();
    assert_eq!(detail, "response target passed; GHL could not be checked (GHL answered 503)");
    Ok(())
}

#[test]
fn a_staff_reply_found_in_ghl_resolves() -> anyhow::Result<()> {
    let conn = database()?;
    let id = due_text(&conn, 1)?;
    let found = Finding { reply: reply("msg-9", at("2026-03-02T16:00:00Z"), false), ..finding(id) };
    let report = settle_due(&conn, at(SETTLE_AT), &[id], &[found])?;
    assert_eq!(report.auto_resolved, vec![id]);
    assert!(report.promoted_open.is_empty());
    let resolved = issue(&conn, id)?;
    assert_eq!(resolved.status, Status::Resolved);
    assert_eq!(resolved.resolved_by.as_deref(), Some("staff_reply:poll"));
    assert_eq!(resolved.resolved_at, Some(at(SETTLE_AT)));
    let detail = issues::timeline(&conn, id)?.pop().map(|entry| entry.detail).unwrap_or_default();
    assert!(detail.contains("msg-9"), "{detail}");
    Ok(())
}

#[test]
fn a_staff_reply_recorded_after_the_first_text_resolves() -> anyhow::Result<()> {
    let conn = database()?;
    let answered = due_text(&conn, 1)?;
    let earlier = due_text(&conn, 2)?;
    issues::record_staff_reply(&conn, &customer(1), at("2026-03-02T16:00:00Z"), Some("m1"))?;
    // A reply before the customer wrote does not answer the text.
    issues::record_staff_reply(&conn, &customer(2), at("2026-03-02T14:00:00Z"), Some("m2"))?;
    let report = settle_due(&conn, at(SETTLE_AT), &[answered, earlier], &[])?;
    assert_eq!(report.auto_resolved, vec![answered]);
    assert_eq!(report.promoted_open, vec![earlier]);
    assert_eq!(issue(&conn, answered)?.resolved_by.as_deref(), Some("staff_reply:known"));
    assert_eq!(issue(&conn, earlier)?.status, Status::Open);
    Ok(())
}

#[test]
fn a_confident_ai_check_resolves_and_a_doubtful_one_opens() -> anyhow::Result<()> {
    let conn = database()?;
    let waiting = due_text(&conn, 1)?;
    let done = due_text(&conn, 2)?;
    let findings = [
        Finding { ai: Some(AiCheck { suppress: false, detail: "AI: YES 0.80".into() }), ..finding(waiting) },
        Finding { ai: Some(AiCheck { suppress: true, detail: "AI: NO 0.97".into() }), ..finding(done) },
    ];
    let report = settle_due(&conn, at(SETTLE_AT), &[waiting, done], &findings)?;
    assert_eq!(report.auto_resolved, vec![done]);
    assert_eq!(report.ai_resolved, vec![done]);
    assert_eq!(report.promoted_open, vec![waiting]);
    assert_eq!(issue(&conn, done)?.resolved_by.as_deref(), Some("ai"));
    let detail = issues::timeline(&conn, waiting)?.pop().map(|entry| entry.detail).unwrap_or_default();
    assert_eq!(detail, "response target passed without a staff reply; AI: YES 0.80");
    Ok(())
}

#[test]
fn issues_not_due_or_not_pending_are_left_alone() -> anyhow::Result<()> {
    let conn = database()?;
    let not_due = create(&conn, IssueKind::Sms, &customer(1), at(MONDAY_9AM), at("2026-03-02T18:00:00Z"))?;
    let resolved = due_text(&conn, 2)?;
    issues::resolve(&conn, resolved, at("2026-03-02T16:00:00Z"), "manual:mgr1", "done")?;
    let opened = due_text(&conn, 3)?;
    issues::open(&conn, opened, at(MONDAY_11AM), "overdue")?;
    let findings = [Finding { reply: reply("msg-1", at(MONDAY_9AM), false), ..finding(not_due) }];
    let report = settle_due(&conn, at(SETTLE_AT), &[not_due, resolved, opened, 999], &findings)?;
    assert_eq!(report.checked, 0);
    assert!(report.promoted_open.is_empty() && report.auto_resolved.is_empty());
    assert_eq!(issue(&conn, not_due)?.status, Status::Pending);
    assert_eq!(issue(&conn, resolved)?.resolved_by.as_deref(), Some("manual:mgr1"));
    assert_eq!(issue(&conn, opened)?.opened_at, Some(at(MONDAY_11AM)));
    Ok(())
}

#[test]
fn the_conversation_found_is_recorded() -> anyhow::Result<()> {
    let conn = database()?;
    let id = due_text(&conn, 1)?;
    let found = Finding { conversation_id: Some("conv-1".into()), ..finding(id) };
    settle_due(&conn, at(SETTLE_AT), &[id], &[found])?;
    let settled = issue(&conn, id)?;
    assert_eq!(settled.conversation_id.as_deref(), Some("conv-1"));
    assert_eq!(settled.status, Status::Open);
    Ok(())
}

#[test]
fn findings_resolve_by_how_the_reply_was_found() -> anyhow::Result<()> {
    let conn = database()?;
    let thanked = due_text(&conn, 1)?;
    let answered = due_text(&conn, 2)?;
    let silent = due_text(&conn, 3)?;
    let replied_at = at("2026-03-02T16:00:00Z");
    let findings = [
        Finding { reply: reply("msg-1", replied_at, true), ..finding(thanked) },
        Finding { reply: reply("msg-2", replied_at, false), ..finding(answered) },
        Finding { conversation_id: Some("conv-3".into()), ..finding(silent) },
    ];
    let now = at("2026-03-02T16:30:00Z");
    assert_eq!(apply_findings(&conn, now, &findings)?, vec![thanked, answered]);
    assert_eq!(issue(&conn, thanked)?.resolved_by.as_deref(), Some("acknowledgement:ghl"));
    assert_eq!(issue(&conn, answered)?.resolved_by.as_deref(), Some("staff_reply:poll"));
    let untouched = issue(&conn, silent)?;
    assert_eq!((untouched.status, untouched.conversation_id.as_deref()), (Status::Pending, Some("conv-3")));
    // A second pass finds the same replies, but the issues are no longer live.
    assert!(apply_findings(&conn, now, &findings)?.is_empty());
    Ok(())
}

#[test]
fn marking_a_phone_spam_lists_it_and_marks_its_live_issues_once() -> anyhow::Result<()> {
    let conn = database()?;
    let party = customer(1);
    let Some(phone) = party.phone.clone() else { anyhow::bail!("the customer has no phone") };
    let text = due_text(&conn, 1)?;
    let call = create(&conn, IssueKind::Call, &party, at(MONDAY_9AM), at(MONDAY_11AM))?;
    let other = due_text(&conn, 2)?;
    let now = at("2026-03-02T16:00:00Z");
    assert!(!issues::is_spam(&conn, &phone)?);
    let mut marked = mark_spam(&conn, &phone, "manual:mgr1", now)?;
    marked.sort_unstable();
    assert_eq!(marked, vec![text, call]);
    assert!(issues::is_spam(&conn, &phone)?);
    for id in [text, call] {
        let spam = issue(&conn, id)?;
        assert_eq!((spam.status, spam.resolved_by.as_deref()), (Status::Spam, Some("manual:mgr1")));
    }
    assert_eq!(issue(&conn, other)?.status, Status::Pending);
    assert!(mark_spam(&conn, &phone, "manual:mgr2", now)?.is_empty(), "already marked");
    assert_eq!(issue(&conn, text)?.resolved_by.as_deref(), Some("manual:mgr1"));
    Ok(())
}
