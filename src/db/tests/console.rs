//! Tests of `db::console`: managers, sessions and one-time links kept as hashes, and the
//! console's actions, including a snooze that a change of hours leaves alone.

use jiff::SignedDuration;

use super::{at, config, create, create_open, customer, database, issue, world};
use crate::db::console::{self, Acted, Action};
use crate::db::{commands, issues};
use crate::domain::event::{IssueKind, Status};

/// Monday 2 March 2026, 12:30pm in Chicago.
const NOW: &str = "2026-03-02T18:30:00Z";

#[test]
fn a_session_is_found_by_its_token_until_it_ends() -> anyhow::Result<()> {
    let conn = database()?;
    let grant = console::create_session(&conn, "Dana", "mgr1", at(NOW), SignedDuration::from_hours(12))?;
    let stored: String = conn.query_row("SELECT token_hash FROM console_sessions", [], |row| row.get(0))?;
    assert_ne!(stored, grant.token, "only the hash is kept");
    assert_eq!(grant.token.len(), 43, "32 random bytes, base64url");
    let found = console::session(&conn, &grant.token, at("2026-03-03T06:29:59Z"))?;
    assert_eq!(
        found.as_ref().map(|s| (s.manager.as_str(), s.csrf.as_str())),
        Some(("Dana", grant.session.csrf.as_str()))
    );
    assert_eq!(console::session(&conn, &grant.token, at("2026-03-03T06:30:00Z"))?, None, "ended at 12 h");
    assert_eq!(console::session(&conn, "not-a-token", at(NOW))?, None);
    console::end_session(&conn, &grant.token)?;
    assert_eq!(console::session(&conn, &grant.token, at(NOW))?, None);
    Ok(())
}

#[test]
fn a_link_signs_in_once_within_fifteen_minutes() -> anyhow::Result<()> {
    let conn = database()?;
    let token = console::create_link(&conn, "Dana", "mgr1", at(NOW))?;
    assert_eq!(console::link_owner(&conn, &token, at(NOW))?, Some("Dana".to_string()));
    let late = at(NOW) + console::LINK_LIFETIME;
    assert_eq!(console::redeem_link(&conn, &token, late, SignedDuration::from_hours(1))?, None, "expired");
    let grant = console::redeem_link(&conn, &token, at(NOW), SignedDuration::from_hours(1))?;
    assert_eq!(grant.map(|grant| grant.session.manager), Some("Dana".to_string()));
    assert_eq!(console::redeem_link(&conn, &token, at(NOW), SignedDuration::from_hours(1))?, None, "used");
    Ok(())
}

#[test]
fn removing_a_manager_ends_their_sessions() -> anyhow::Result<()> {
    let conn = database()?;
    console::add_manager(&conn, "Dana", "mgr1", None, "hash", at(NOW))?;
    assert!(console::add_manager(&conn, "dana", "mgr9", None, "hash", at(NOW)).is_err(), "names are unique, any case");
    assert_eq!(console::manager_named(&conn, "DANA")?.map(|m| m.contact_id), Some("mgr1".to_string()));
    assert_eq!(console::name_for_sender(&conn, "mgr1", None, Some("Dana GHL"))?, "Dana");
    assert_eq!(console::name_for_sender(&conn, "mgr2", None, Some("Lee Chu"))?, "Lee Chu");
    assert_eq!(console::name_for_sender(&conn, "mgr2", None, None)?, "mgr2");
    let grant = console::create_session(&conn, "Dana", "mgr1", at(NOW), SignedDuration::from_hours(12))?;
    assert!(console::remove_manager(&conn, "dana")?);
    assert_eq!(console::session(&conn, &grant.token, at(NOW))?, None);
    assert!(!console::remove_manager(&conn, "Dana")?);
    Ok(())
}

#[test]
fn a_snoozed_issue_is_pending_again_and_a_change_of_hours_leaves_it_alone() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let open = create_open(&conn, IssueKind::Sms, &customer(1))?;
    let pending = create(&conn, IssueKind::Sms, &customer(2), at("2026-03-02T18:00:00Z"), at("2026-03-02T20:00:00Z"))?;
    let until = at("2026-03-02T21:00:00Z");
    let acted = console::act(&conn, open, &Action::Snooze(until), "Dana", &config.calendar, at(NOW))?;
    assert_eq!(acted, Acted::Done { deadlines: true });
    let snoozed = issue(&conn, open)?;
    assert_eq!((snoozed.status, snoozed.due_at, snoozed.alerted_at), (Status::Pending, until, None));
    let entry = issues::timeline(&conn, open)?.pop().ok_or_else(|| anyhow::anyhow!("no timeline"))?;
    assert_eq!((entry.event.as_str(), entry.actor.as_str()), ("snoozed", "console:Dana"));
    assert_eq!(entry.detail, "falls due again Mon 3:00pm CST (was due Mon 11:00am CST)");
    // Closing today moves the other pending issue but not the snoozed one.
    commands::run(
        &conn,
        &world(&config),
        &commands::Sender { name: Some("Dana"), ..commands::Sender::contact("mgr1") },
        "Closed today",
        "reply:1",
        at(NOW),
    )?;
    assert_eq!(issue(&conn, open)?.due_at, until);
    assert_ne!(issue(&conn, pending)?.due_at, at("2026-03-02T20:00:00Z"));
    Ok(())
}

#[test]
fn only_a_note_can_be_added_to_a_closed_issue() -> anyhow::Result<()> {
    let (conn, config) = (database()?, config(&[])?);
    let id = create_open(&conn, IssueKind::Call, &customer(3))?;
    let calendar = &config.calendar;
    assert_eq!(console::act(&conn, id, &Action::Resolve, "Dana", calendar, at(NOW))?, Acted::Done { deadlines: true });
    assert_eq!(issue(&conn, id)?.resolved_by.as_deref(), Some("console:Dana"));
    assert_eq!(console::act(&conn, id, &Action::Spam, "Dana", calendar, at(NOW))?, Acted::NotLive(Status::Resolved));
    let note = Action::Note("called back".into());
    assert_eq!(console::act(&conn, id, &note, "Lee", calendar, at(NOW))?, Acted::Done { deadlines: false });
    assert_eq!(console::act(&conn, 999, &note, "Lee", calendar, at(NOW))?, Acted::NotFound);
    Ok(())
}

#[test]
fn tokens_are_masked_wherever_they_stand() {
    let (shown, slot) = (console::TOKEN_SHOWN, console::TOKEN_SLOT);
    let json =
        r#"{"body":"sign in: http://box/console/link?token=AbC-_9x","more":"http://box/console/link?token=Zz1"}"#;
    assert_eq!(
        console::without_tokens(json.to_string()),
        format!(
            r#"{{"body":"sign in: http://box/console/link?token={shown}","more":"http://box/console/link?token={shown}"}}"#
        )
    );
    assert_eq!(console::shown_body("no link here"), "no link here");
    assert_eq!(
        console::shown_body(&format!("x/console/link?token={slot} y")),
        format!("x/console/link?token={shown} y")
    );
}
