//! Tests of `db::notify`: each event is queued once per webhook that takes its kind.

use jiff::SignedDuration;

use super::{MONDAY_9AM, at, config, create_open, customer, database};
use crate::db::notify::{counts, queue, queue_resolved};
use crate::db::outbox::{Channel, due, mark_sent};
use crate::db::summary::{build_alert, build_digest};
use crate::db::{issues, outbox};
use crate::domain::event::IssueKind;
use crate::domain::issue::Delivery;
use crate::domain::notify::EventKind;

const SECRET: &str = "whsec_c2VudGluZWwtdGVzdC1rZXktMDEyMzQ1Njc4OWFiY2Q=";
const NOW: &str = "2026-03-02T18:30:00Z";

fn hooked(pairs: &[(&str, &str)]) -> anyhow::Result<crate::config::Config> {
    let urls = "https://a.example/hook=breach,resolved;https://b.example/hook=digest,health";
    let base = [("NOTIFY_WEBHOOK_URLS", urls), ("NOTIFY_WEBHOOK_SECRET", SECRET)];
    config(&base.iter().chain(pairs).copied().collect::<Vec<_>>())
}

/// The webhook rows: (purpose, URL).
fn hooks(conn: &rusqlite::Connection) -> anyhow::Result<Vec<(String, String)>> {
    let mut statement = conn.prepare("SELECT purpose, contact_id FROM outbox WHERE channel = 'webhook' ORDER BY id")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[test]
fn an_event_goes_to_the_targets_that_take_its_kind_once() -> anyhow::Result<()> {
    let (conn, config) = (database()?, hooked(&[])?);
    let now = at(NOW);
    assert_eq!(queue(&conn, &config, EventKind::Health, "health:1", "degraded", now)?, 1);
    assert_eq!(queue(&conn, &config, EventKind::Health, "health:1", "degraded", now)?, 0, "queued once");
    assert_eq!(hooks(&conn)?, vec![("hook:health:1".to_string(), "https://b.example/hook".to_string())]);
    let rows = due(&conn, now, 10, &[])?;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].channel, Channel::Webhook);
    let body: serde_json::Value = serde_json::from_str(&rows[0].body)?;
    assert_eq!((body["type"].as_str(), body["data"]["text"].as_str()), (Some("health"), Some("degraded")));
    assert_eq!(counts(&conn)?, (1, 0));
    assert_eq!(outbox::backlog(&conn)?, 0, "the SMS backlog counts SMS only");
    mark_sent(&conn, rows[0].id, now, None)?;
    assert_eq!(counts(&conn)?, (0, 0));
    Ok(())
}

#[test]
fn a_breach_is_told_once_even_without_managers() -> anyhow::Result<()> {
    let (conn, config) = (database()?, hooked(&[("MANAGER_CONTACT_IDS", "")])?);
    create_open(&conn, IssueKind::Sms, &customer(1))?;
    let now = at(NOW);
    build_alert(&conn, &config, now, Delivery::Queue)?;
    build_alert(&conn, &config, now + SignedDuration::from_mins(1), Delivery::Queue)?;
    assert_eq!(hooks(&conn)?, vec![(format!("hook:alert:{}", crate::db::ts(now)), "https://a.example/hook".into())]);
    // A new breach is told alone.
    create_open(&conn, IssueKind::Call, &customer(2))?;
    let later = now + SignedDuration::from_mins(2);
    build_alert(&conn, &config, later, Delivery::Queue)?;
    let rows = due(&conn, later, 10, &[])?;
    assert_eq!(rows.len(), 2);
    assert!(rows[1].body.contains("#2 ") && !rows[1].body.contains("#1 "), "{}", rows[1].body);
    // A dry run tells nobody.
    create_open(&conn, IssueKind::Sms, &customer(3))?;
    build_alert(&conn, &config, later, Delivery::DryRun)?;
    assert_eq!(hooks(&conn)?.len(), 2);
    Ok(())
}

#[test]
fn a_digest_goes_to_its_webhook_with_the_sms() -> anyhow::Result<()> {
    let (conn, config) = (database()?, hooked(&[])?);
    build_digest(&conn, &config, "midday", at(NOW), Delivery::Queue)?;
    build_digest(&conn, &config, "midday", at(NOW), Delivery::Queue)?;
    assert_eq!(hooks(&conn)?, vec![("hook:digest:2026-03-02:midday".into(), "https://b.example/hook".into())]);
    Ok(())
}

#[test]
fn resolutions_are_told_once_from_the_first_look_on() -> anyhow::Result<()> {
    let (conn, config) = (database()?, hooked(&[])?);
    let history = create_open(&conn, IssueKind::Sms, &customer(0))?;
    let first = create_open(&conn, IssueKind::Sms, &customer(1))?;
    let second = create_open(&conn, IssueKind::Sms, &customer(2))?;
    let now = at(NOW);
    issues::resolve(&conn, history, now - SignedDuration::from_hours(1), "manual:mgr1", "done")?;
    // Resolved in the transaction that looks first: told; resolved before it: history, not told.
    issues::resolve(&conn, first, now, "manual:mgr1", "done")?;
    assert_eq!(queue_resolved(&conn, &config, now)?, 1, "the first look tells what it resolved");
    let later = now + SignedDuration::from_mins(5);
    issues::resolve(&conn, second, later, "staff_reply:poll", "answered")?;
    assert_eq!(queue_resolved(&conn, &config, later)?, 1);
    assert_eq!(queue_resolved(&conn, &config, later + SignedDuration::from_mins(1))?, 0, "told once");
    assert_eq!(
        hooks(&conn)?,
        vec![
            (format!("hook:resolved:{first}"), "https://a.example/hook".into()),
            (format!("hook:resolved:{second}"), "https://a.example/hook".into())
        ]
    );
    let rows = due(&conn, later, 10, &[])?;
    assert!(rows[1].body.contains("staff_reply:poll"), "{}", rows[1].body);
    assert!(!rows[1].body.contains(MONDAY_9AM));
    Ok(())
}

#[test]
fn nothing_is_queued_without_targets() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let id = create_open(&conn, IssueKind::Sms, &customer(1))?;
    assert_eq!(queue(&conn, &config, EventKind::Breach, "alert:1", "x", at(NOW))?, 0);
    issues::resolve(&conn, id, at(NOW), "manual:mgr1", "done")?;
    assert_eq!(queue_resolved(&conn, &config, at(NOW))?, 0);
    assert!(hooks(&conn)?.is_empty());
    Ok(())
}
