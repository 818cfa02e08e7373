//! Unit tests of what the store's transactions do, one file per store module, each on a fresh
//! database.
//!
//! The shared fixtures live here: a configuration read from explicit variables (the way
//! `config`'s own tests build one), a [`World`] with a believed clock, instants from text, and
//! parties, webhooks and issues built directly as domain values. The tests of `db/mod.rs`
//! itself (stored instants, transactions, the kv table and what it keeps) sit at the bottom.

mod apply;
mod commands;
mod console;
mod facts;
mod found;
mod hours;
mod housekeeping;
mod issues;
mod notify;
mod settle;
mod summary;

use std::time::Duration;

use jiff::Timestamp;
use rusqlite::Connection;

use super::World;
use super::events::{RawEvent, body_hash};
use super::issues::NewIssue;
use crate::config::{Config, Source};
use crate::domain::event::{Event, Inbound, IssueKind, Parsed, Party};
use crate::domain::issue::Issue;
use crate::domain::phone::Phone;

/// Monday 2 March 2026, 09:00 in Chicago: one business hour in, before daylight saving starts.
pub const MONDAY_9AM: &str = "2026-03-02T15:00:00Z";
/// Two business hours later: when a text from [`MONDAY_9AM`] is due with the default SLA.
pub const MONDAY_11AM: &str = "2026-03-02T17:00:00Z";

/// The managers every test configuration has, in order.
pub const MANAGERS: [&str; 2] = ["mgr1", "mgr2"];

/// An instant written in a test; the text is a constant, so a typo is the test's own bug.
pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap_or_else(|err| panic!("{text:?} is not an instant: {err}"))
}

/// The defaults, two managers and one staff member, then `pairs` (later values win).
pub fn config(pairs: &[(&str, &str)]) -> anyhow::Result<Config> {
    let base = [("MANAGER_CONTACT_IDS", "mgr1,mgr2"), ("INTERNAL_CONTACT_IDS", "staff1")];
    Config::from_source(&Source::from_pairs(base.iter().chain(pairs).copied()))
}

/// A fresh database at the current schema version.
pub fn database() -> anyhow::Result<Connection> {
    super::schema::open_in_memory()
}

/// The world as the store actor sees it while all is well: the clock is believed, GHL is ok.
pub fn world(config: &Config) -> World<'_> {
    World {
        config,
        calendar: &config.calendar,
        clock_trusted: true,
        monotonic: Duration::from_secs(90),
        boot_id: "boot-a",
        location_id: None,
        uptime: Duration::from_secs(3 * 3600 + 5 * 60),
        ghl_state: "ok",
    }
}

/// A customer known by contact id and phone (`+1214555010N`).
pub fn customer(n: u8) -> Party {
    Party { conversation_id: None, contact_id: Some(format!("c{n}")), phone: Phone::parse(&format!("214555010{n}")) }
}

/// An inbound text from `party`.
pub fn text_from(party: &Party, text: &str) -> Parsed {
    inbound(IssueKind::Sms, party, Some(text))
}

/// An inbound text or missed call from `party`, with no envelope ids or location.
pub fn inbound(kind: IssueKind, party: &Party, text: Option<&str>) -> Parsed {
    parsed(Event::Inbound(Inbound {
        kind,
        party: party.clone(),
        contact_name: None,
        text: text.map(Into::into),
        sent_at: None,
        from_internal_contact: false,
        by_sms: true,
        caught_up: None,
    }))
}

/// An event with no envelope ids or location.
pub fn parsed(event: Event) -> Parsed {
    Parsed { event, webhook_id: None, message_id: None, location_id: None }
}

/// A webhook body received at `received_at` under the idempotency key `webhook:<key>`.
pub fn raw(received_at: Timestamp, key: &str) -> RawEvent {
    let body = format!(r#"{{"webhookId":"{key}"}}"#);
    RawEvent {
        received_at,
        route: "inbound_sms",
        idem_keys: vec![format!("webhook:{key}")],
        body_hash: body_hash("inbound_sms", body.as_bytes()),
        body,
    }
}

/// Creates a PENDING issue for `party` created at `created_at` and due at `due_at`.
pub fn create(
    conn: &Connection,
    kind: IssueKind,
    party: &Party,
    created_at: Timestamp,
    due_at: Timestamp,
) -> anyhow::Result<i64> {
    let new = NewIssue { kind, party, contact_name: None, created_at, due_at, text: Some("hello?") };
    Ok(super::issues::create(conn, &new, "created by a test")?)
}

/// Creates an issue from [`MONDAY_9AM`] due at [`MONDAY_11AM`] and opens it at the due time.
pub fn create_open(conn: &Connection, kind: IssueKind, party: &Party) -> anyhow::Result<i64> {
    let id = create(conn, kind, party, at(MONDAY_9AM), at(MONDAY_11AM))?;
    anyhow::ensure!(super::issues::open(conn, id, at(MONDAY_11AM), "overdue")?, "issue {id} did not open");
    Ok(id)
}

/// The issue, which the test knows exists.
pub fn issue(conn: &Connection, id: i64) -> anyhow::Result<Issue> {
    super::issues::get(conn, id)?.ok_or_else(|| anyhow::anyhow!("no issue {id}"))
}

/// The outbox rows as `(purpose, recipient, body)`, oldest first.
pub fn outbox(conn: &Connection) -> anyhow::Result<Vec<(String, String, String)>> {
    let mut statement = conn.prepare("SELECT purpose, contact_id, body FROM outbox ORDER BY id")?;
    let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// How many issues the database holds.
pub fn issue_count(conn: &Connection) -> anyhow::Result<i64> {
    Ok(conn.query_row("SELECT COUNT(*) FROM issues", [], |row| row.get(0))?)
}

// === db/mod.rs ===

#[test]
fn stored_instants_sort_as_text() -> anyhow::Result<()> {
    let a: Timestamp = "2026-03-02T15:00:00Z".parse()?;
    let b: Timestamp = "2026-03-02T15:00:00.5Z".parse()?;
    assert_eq!(super::ts(a), "2026-03-02T15:00:00.000Z");
    assert!(super::ts(a) < super::ts(b));
    assert_eq!(super::parse_ts(&super::ts(b))?, b);
    Ok(())
}

#[test]
fn stored_instants_are_the_strftime_text() -> anyhow::Result<()> {
    // From 1970 to past 2100, in uneven steps that land on every field's edges, with
    // sub-millisecond parts that must be cut, not rounded.
    let mut at: Timestamp = "1970-01-01T00:00:00Z".parse()?;
    let end: Timestamp = "2101-01-01T00:00:00Z".parse()?;
    let step = jiff::SignedDuration::new(86_400 * 13 + 3_599, 999_999_937);
    while at < end {
        assert_eq!(super::ts(at), at.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "at {at}");
        at += step;
    }
    Ok(())
}

#[test]
fn a_malformed_stored_instant_is_an_error() {
    assert!(super::parse_ts("yesterday").is_err());
}

#[test]
fn kv_entries_are_replaced_not_duplicated() -> anyhow::Result<()> {
    let conn = database()?;
    assert_eq!(super::kv_get(&conn, "k")?, None);
    super::kv_set(&conn, "k", "one")?;
    super::kv_set(&conn, "k", "two")?;
    assert_eq!(super::kv_get(&conn, "k")?.as_deref(), Some("two"));
    Ok(())
}

#[test]
fn a_failed_transaction_leaves_nothing_behind() -> anyhow::Result<()> {
    let mut conn = database()?;
    let result: Result<(), rusqlite::Error> = super::in_transaction(&mut conn, |tx| {
        super::kv_set(tx, "k", "v")?;
        Err(rusqlite::Error::InvalidQuery)
    });
    assert!(result.is_err());
    assert_eq!(super::kv_get(&conn, "k")?, None);
    super::in_transaction(&mut conn, |tx| super::kv_set(tx, "k", "v"))?;
    assert_eq!(super::kv_get(&conn, "k")?.as_deref(), Some("v"));
    Ok(())
}

#[test]
fn the_learned_location_is_read_without_opening_for_writing() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sentinel.db");
    assert_eq!(super::learned_location(&path), None, "no database yet");
    assert!(!path.exists(), "reading created nothing");
    let conn = super::schema::open(&path)?;
    assert_eq!(super::learned_location(&path), None);
    super::kv_set(&conn, super::apply::LEARNED_LOCATION, "loc-a")?;
    assert_eq!(super::learned_location(&path).as_deref(), Some("loc-a"));
    Ok(())
}

#[test]
fn a_json_value_is_kept_and_an_unreadable_one_reads_as_the_default() -> anyhow::Result<()> {
    #[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
    struct Kept {
        failures: u32,
        last_error: Option<String>,
    }
    let conn = database()?;
    assert_eq!(super::kv_json::<Kept>(&conn, "record", None)?, Kept::default());
    let kept = Kept { failures: 2, last_error: Some("timed out".into()) };
    assert_eq!(super::kv_json(&conn, "record", Some(&kept))?, kept);
    assert_eq!(super::kv_json::<Kept>(&conn, "record", None)?, kept);
    super::kv_set(&conn, "record", "not json")?;
    assert_eq!(super::kv_json::<Kept>(&conn, "record", None)?, Kept::default());
    Ok(())
}
