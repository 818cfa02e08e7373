//! Tests of `db::facts`: what the summary sender plans with and the status page's figures.

use super::{MONDAY_9AM, MONDAY_11AM, at, config, create, create_open, customer, database, raw};
use crate::db::facts::{day_figures, heartbeat, note_seen, read_probe, stats, summary_facts};
use crate::db::{events, issues, kv_get, summary, ts};
use crate::domain::event::IssueKind;
use crate::domain::issue::Delivery;

const NOON: &str = "2026-03-02T18:00:00Z";

#[test]
fn last_seen_is_recorded_only_on_a_believed_clock() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let first = summary_facts(&conn, &config, at(MONDAY_9AM), false)?;
    assert_eq!(first.last_seen_at, None);
    assert_eq!(kv_get(&conn, "last_seen_at")?, None, "an untrusted clock leaves no trace");
    summary_facts(&conn, &config, at(MONDAY_11AM), true)?;
    let later = summary_facts(&conn, &config, at(NOON), true)?;
    assert_eq!(later.last_seen_at, Some(at(MONDAY_11AM)), "the value before this call");
    assert_eq!(kv_get(&conn, "last_seen_at")?, Some(ts(at(NOON))));
    Ok(())
}

/// Issue 24 item 9f: the day's first sighting is kept across restarts, so a box first started
/// after a slot is not taken for one that ran before it.
#[test]
fn the_first_sighting_of_the_day_is_kept() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let zone = config.calendar.zone();
    assert_eq!(summary_facts(&conn, &config, at(MONDAY_11AM), true)?.first_seen_today, None, "a fresh install");
    note_seen(&conn, zone, at(NOON))?;
    assert_eq!(summary_facts(&conn, &config, at(NOON), true)?.first_seen_today, Some(at(MONDAY_11AM)));
    // Tuesday: Monday's sighting is not today's.
    let tuesday = at("2026-03-03T19:00:00Z");
    assert_eq!(summary_facts(&conn, &config, tuesday, true)?.first_seen_today, None);
    note_seen(&conn, zone, at("2026-03-03T20:00:00Z"))?;
    assert_eq!(summary_facts(&conn, &config, at("2026-03-03T21:00:00Z"), true)?.first_seen_today, Some(tuesday));
    // A clock not believed records nothing.
    assert_eq!(summary_facts(&conn, &config, at("2026-03-04T15:00:00Z"), false)?.first_seen_today, None);
    assert_eq!(summary_facts(&conn, &config, at("2026-03-04T16:00:00Z"), true)?.first_seen_today, None);
    Ok(())
}

#[test]
fn the_newer_of_last_seen_and_the_heartbeat_counts() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    crate::db::kv_set(&conn, "last_seen_at", &ts(at(MONDAY_9AM)))?;
    crate::db::kv_set(&conn, "heartbeat_at", &ts(at(MONDAY_11AM)))?;
    assert_eq!(summary_facts(&conn, &config, at(NOON), false)?.last_seen_at, Some(at(MONDAY_11AM)));
    Ok(())
}

#[test]
fn a_heartbeat_by_a_clock_not_believed_leaves_no_last_seen() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    read_probe(&conn)?;
    heartbeat(&conn, false, at(NOON))?;
    assert_eq!(summary_facts(&conn, &config, at(NOON), false)?.last_seen_at, None);
    heartbeat(&conn, true, at(MONDAY_11AM))?;
    assert_eq!(summary_facts(&conn, &config, at(NOON), false)?.last_seen_at, Some(at(MONDAY_11AM)));
    Ok(())
}

#[test]
fn claimed_slots_are_reported_for_today_only() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    summary::build_digest(&conn, &config, "morning", at("2026-03-02T14:00:00Z"), Delivery::Queue)?;
    summary::build_digest(&conn, &config, "midday", at(NOON), Delivery::DryRun)?;
    let today = summary_facts(&conn, &config, at(NOON), true)?;
    assert_eq!(today.claimed_today, vec!["morning".to_string()]);
    assert_eq!(today.next_outbox_at, Some(at("2026-03-02T14:00:00Z")));
    let tomorrow = summary_facts(&conn, &config, at("2026-03-03T18:00:00Z"), true)?;
    assert!(tomorrow.claimed_today.is_empty());
    Ok(())
}

#[test]
fn unalerted_and_unsettled_issues_are_counted() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    create_open(&conn, IssueKind::Sms, &customer(1))?;
    create(&conn, IssueKind::Sms, &customer(2), at(MONDAY_9AM), at(MONDAY_11AM))?;
    create(&conn, IssueKind::Sms, &customer(3), at(MONDAY_9AM), at("2026-03-02T19:00:00Z"))?;
    let facts = summary_facts(&conn, &config, at(NOON), true)?;
    assert_eq!((facts.unalerted_open, facts.unsettled_due), (1, 1));
    summary::build_alert(&conn, &config, at(NOON), Delivery::Queue)?;
    assert_eq!(summary_facts(&conn, &config, at(NOON), true)?.unalerted_open, 0, "queued in an alert");
    Ok(())
}

#[test]
fn stats_count_issues_per_status_and_the_newest_webhooks() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let empty = stats(&conn)?;
    assert!(empty.issues.is_empty());
    assert_eq!((empty.last_webhook_at, empty.outbox_backlog), (None, 0));
    assert!(empty.data_bytes > 0);

    create_open(&conn, IssueKind::Sms, &customer(1))?;
    create_open(&conn, IssueKind::Call, &customer(2))?;
    let resolved = create(&conn, IssueKind::Sms, &customer(3), at(MONDAY_9AM), at(MONDAY_11AM))?;
    issues::resolve(&conn, resolved, at(NOON), "manual:mgr1", "done")?;
    create(&conn, IssueKind::Sms, &customer(4), at(MONDAY_9AM), at(MONDAY_11AM))?;
    events::record(&conn, &raw(at(MONDAY_9AM), "w1"))?;
    events::record(&conn, &raw(at(NOON), "w2"))?;
    summary::queue_notice(&conn, &config, "notice:test", "hello", at(NOON))?;

    let figures = stats(&conn)?;
    let counts: Vec<(&str, i64)> = figures.issues.iter().map(|(status, n)| (status.as_str(), *n)).collect();
    assert_eq!(counts, vec![("OPEN", 2), ("PENDING", 1), ("RESOLVED", 1)]);
    assert_eq!(figures.last_webhook_at, Some(at(NOON)));
    let arrivals: Vec<_> = figures.recent_events.iter().map(|recent| recent.received_at).collect();
    assert_eq!(arrivals, vec![at(NOON), at(MONDAY_9AM)], "newest first");
    assert_eq!(figures.outbox_backlog, 2, "one row per manager");
    assert_eq!(figures.outbox_not_sent, (0, None));
    Ok(())
}

/// `/metrics` (issue 29): the breaches of today's local date, and the business time to the
/// first staff reply of the issues resolved in the last 24 hours (a manager's resolve is no reply).
#[test]
fn day_figures_count_todays_breaches_and_time_the_first_replies() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let calendar = &config.calendar;
    assert_eq!(day_figures(&conn, calendar, at(NOON))?.breaches_today, 0);
    let answered = create_open(&conn, IssueKind::Sms, &customer(1))?;
    create_open(&conn, IssueKind::Call, &customer(2))?;
    let by_manager = create(&conn, IssueKind::Sms, &customer(3), at(MONDAY_9AM), at(MONDAY_11AM))?;
    issues::resolve(&conn, answered, at(NOON), "staff_reply:webhook", "answered")?;
    issues::resolve(&conn, by_manager, at(NOON), "manual:mgr1", "done")?;

    let monday = day_figures(&conn, calendar, at(NOON))?;
    assert_eq!(monday.breaches_today, 2, "both went OPEN at 11:00 today");
    assert_eq!(monday.first_replies, vec![3.0 * 3600.0], "09:00 to 12:00, the staff reply only");
    let tuesday = day_figures(&conn, calendar, at("2026-03-03T15:00:00Z"))?;
    assert_eq!(tuesday.breaches_today, 0, "a new local day");
    assert_eq!(tuesday.first_replies.len(), 1, "still within 24 hours");
    let wednesday = day_figures(&conn, calendar, at("2026-03-04T15:00:00Z"))?;
    assert!(wednesday.first_replies.is_empty(), "older than 24 hours");
    Ok(())
}
