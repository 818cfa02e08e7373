//! Tests of `db::summary`: digests and breach alerts are built, claimed and queued once.

use jiff::civil::date;

use super::{MANAGERS, MONDAY_9AM, at, config, create_open, customer, database, issue, outbox};
use crate::db::outbox::{WATERMARK_KEY, due, mark_sent};
use crate::db::summary::{build_alert, build_digest, digest_claimed, queue_notice, webhook_since};
use crate::db::{events, issues, kv_set, ts};
use crate::domain::event::IssueKind;
use crate::domain::issue::Delivery;

/// Half past noon on the Monday, when the tests' digests and alerts are built.
const NOW: &str = "2026-03-02T18:30:00Z";

fn purposes(conn: &rusqlite::Connection) -> anyhow::Result<Vec<(String, String)>> {
    Ok(outbox(conn)?.into_iter().map(|(purpose, contact, _)| (purpose, contact)).collect())
}

#[test]
fn a_digest_claims_its_slot_and_is_queued_once_per_manager() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    create_open(&conn, IssueKind::Sms, &customer(1))?;
    create_open(&conn, IssueKind::Call, &customer(2))?;
    let now = at(NOW);
    let report = build_digest(&conn, &config, "midday", now, Delivery::Queue)?;
    assert!(report.queued && !report.already_sent);
    assert_eq!((report.overdue_sms, report.overdue_calls, report.resolved_since), (1, 1, 0));
    assert!(report.body.contains("Overdue: Calls 1 | Texts 1"), "{}", report.body);
    assert_eq!(report.sent_to, MANAGERS.map(String::from).to_vec());
    assert_eq!(report.purpose.as_deref(), Some("digest:2026-03-02:midday"));
    assert!(digest_claimed(&conn, date(2026, 3, 2), "midday")?);
    assert!(!digest_claimed(&conn, date(2026, 3, 2), "morning")?);
    let queued = outbox(&conn)?;
    let expected: Vec<(String, String, String)> =
        MANAGERS.iter().map(|m| ("digest:2026-03-02:midday".into(), m.to_string(), report.body.clone())).collect();
    assert_eq!(queued, expected);

    let again = build_digest(&conn, &config, "midday", now + jiff::SignedDuration::from_mins(5), Delivery::Queue)?;
    assert!(again.already_sent && !again.queued);
    assert!(again.body.is_empty());
    assert_eq!(outbox(&conn)?.len(), 2, "nothing queued twice");
    Ok(())
}

#[test]
fn a_dry_run_digest_changes_nothing() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    create_open(&conn, IssueKind::Sms, &customer(1))?;
    let dry = build_digest(&conn, &config, "midday", at(NOW), Delivery::DryRun)?;
    assert!(!dry.queued && dry.sent_to.is_empty() && dry.purpose.is_none());
    assert_eq!(dry.overdue_sms, 1);
    assert!(outbox(&conn)?.is_empty());
    assert!(!digest_claimed(&conn, date(2026, 3, 2), "midday")?);
    let real = build_digest(&conn, &config, "midday", at(NOW), Delivery::Queue)?;
    assert!(real.queued);
    assert_eq!(real.body, dry.body, "the dry run shows what would be sent");
    // A dry run after the claim still shows the text.
    assert!(!build_digest(&conn, &config, "midday", at(NOW), Delivery::DryRun)?.body.is_empty());
    Ok(())
}

#[test]
fn the_digest_lists_resolutions_since_the_watermark_but_not_acknowledgements() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let answered = create_open(&conn, IssueKind::Sms, &customer(1))?;
    let thanked = create_open(&conn, IssueKind::Sms, &customer(2))?;
    let resolved_at = at("2026-03-02T18:00:00Z");
    issues::resolve(&conn, answered, resolved_at, "staff_reply:poll", "answered")?;
    issues::resolve(&conn, thanked, resolved_at, "acknowledgement:ghl", "thanks only")?;
    let first = build_digest(&conn, &config, "midday", at(NOW), Delivery::DryRun)?;
    assert_eq!(first.resolved_since, 0, "without a watermark nothing is listed");
    assert!(!first.body.contains("Resolved since"), "{}", first.body);
    kv_set(&conn, WATERMARK_KEY, &ts(at(MONDAY_9AM)))?;
    let report = build_digest(&conn, &config, "midday", at(NOW), Delivery::DryRun)?;
    assert_eq!(report.resolved_since, 1);
    assert!(report.body.contains(&format!("#{answered} SMS +1***0101 at 12:00pm")), "{}", report.body);
    Ok(())
}

#[test]
fn the_digest_watermark_moves_when_it_is_sent() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    build_digest(&conn, &config, "midday", at(NOW), Delivery::Queue)?;
    for entry in due(&conn, at(NOW), 10, &[])? {
        mark_sent(&conn, entry.id, at(NOW), None)?;
    }
    assert_eq!(crate::db::kv_get(&conn, WATERMARK_KEY)?, Some(ts(at(NOW))));
    Ok(())
}

#[test]
fn an_alert_is_queued_once_for_the_new_breaches() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let first = create_open(&conn, IssueKind::Sms, &customer(1))?;
    let second = create_open(&conn, IssueKind::Call, &customer(2))?;
    let now = at(NOW);
    let report = build_alert(&conn, &config, now, Delivery::Queue)?;
    assert_eq!(report.new_breaches, 2);
    assert!(report.queued);
    assert!(report.body.contains("New breaches: 2"), "{}", report.body);
    let purpose = format!("alert:{}", ts(now));
    assert_eq!(report.purpose.as_deref(), Some(purpose.as_str()));
    let expected: Vec<(String, String)> = MANAGERS.iter().map(|m| (purpose.clone(), m.to_string())).collect();
    assert_eq!(purposes(&conn)?, expected);

    let later = build_alert(&conn, &config, now + jiff::SignedDuration::from_mins(5), Delivery::Queue)?;
    assert_eq!((later.new_breaches, later.queued), (0, false), "queued issues are not alerted again");
    assert_eq!(outbox(&conn)?.len(), 2);
    // Sending marks the issues alerted.
    for entry in due(&conn, now, 10, &[])? {
        mark_sent(&conn, entry.id, now, Some("msg"))?;
    }
    for id in [first, second] {
        assert_eq!(issue(&conn, id)?.alerted_at, Some(now));
    }
    Ok(())
}

#[test]
fn a_dry_run_alert_ties_no_issue_to_it() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    assert_eq!(build_alert(&conn, &config, at(NOW), Delivery::Queue)?.body, "", "nothing to say");
    create_open(&conn, IssueKind::Sms, &customer(1))?;
    let dry = build_alert(&conn, &config, at(NOW), Delivery::DryRun)?;
    assert_eq!((dry.new_breaches, dry.queued), (1, false));
    assert!(outbox(&conn)?.is_empty());
    assert_eq!(build_alert(&conn, &config, at(NOW), Delivery::Queue)?.new_breaches, 1, "still new");
    Ok(())
}

#[test]
fn without_managers_nothing_is_queued() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[("MANAGER_CONTACT_IDS", "")])?);
    create_open(&conn, IssueKind::Sms, &customer(1))?;
    assert!(!build_alert(&conn, &config, at(NOW), Delivery::Queue)?.queued);
    assert!(!queue_notice(&conn, &config, "notice:x", "hello", at(NOW))?);
    assert!(outbox(&conn)?.is_empty());
    Ok(())
}

#[test]
fn a_notice_is_queued_once_per_purpose() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    assert!(queue_notice(&conn, &config, "notice:clock", "the clock is back", at(NOW))?);
    assert!(!queue_notice(&conn, &config, "notice:clock", "the clock is back", at(NOW))?);
    let expected: Vec<(String, String)> = MANAGERS.iter().map(|m| ("notice:clock".into(), m.to_string())).collect();
    assert_eq!(purposes(&conn)?, expected);
    Ok(())
}

#[test]
fn webhook_since_looks_at_arrival_times() -> anyhow::Result<()> {
    let conn = database()?;
    assert!(!webhook_since(&conn, at(MONDAY_9AM))?);
    events::record(&conn, &super::raw(at(NOW), "w1"))?;
    assert!(webhook_since(&conn, at(NOW))?);
    assert!(!webhook_since(&conn, at("2026-03-02T18:31:00Z"))?);
    // What catch-up found is not a webhook: finding it means webhooks do not arrive (SPEC §12).
    let found = events::RawEvent { route: "catchup", ..super::raw(at("2026-03-02T19:00:00Z"), "m9") };
    events::record(&conn, &found)?;
    assert!(!webhook_since(&conn, at("2026-03-02T18:31:00Z"))?);
    assert_eq!(events::last_received_at(&conn)?, Some(at(NOW)), "the last webhook is not the caught-up event");
    Ok(())
}
