//! Tests of `db::housekeeping`: the nightly run prunes, backs up, and runs once per date.

use jiff::civil::date;
use rusqlite::Connection;

use super::{at, config, raw};
use crate::config::Config;
use crate::db::housekeeping::nightly;
use crate::db::{events, schema};

/// A database file in a fresh directory, and a configuration that points at it.
fn on_disk(dir: &tempfile::TempDir, pairs: &[(&str, &str)]) -> anyhow::Result<(Connection, Config)> {
    let path = dir.path().join("sentinel.db");
    let db_path = path.to_string_lossy().into_owned();
    let mut all = vec![("DB_PATH", db_path.as_str()), ("DATA_MAX_MB", "64")];
    all.extend_from_slice(pairs);
    let config = config(&all)?;
    Ok((schema::open(&path)?, config))
}

/// Tuesday 3 March 2026, 02:00 in Chicago.
const NIGHT: &str = "2026-03-03T08:00:00Z";

#[test]
fn the_nightly_run_happens_once_per_date_and_writes_a_backup() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (conn, config) = on_disk(&dir, &[])?;
    let Some(backup) = nightly(&conn, &config, date(2026, 3, 3), at(NIGHT))? else {
        anyhow::bail!("the first run of the night did nothing");
    };
    assert!(backup.starts_with(dir.path().join("backups")), "{}", backup.display());
    let copy = Connection::open(&backup)?;
    let version: i64 = copy.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    assert_eq!(version, schema::VERSION, "the backup is a whole database");
    assert_eq!(nightly(&conn, &config, date(2026, 3, 3), at("2026-03-03T09:00:00Z"))?, None, "done already");
    let next = nightly(&conn, &config, date(2026, 3, 4), at("2026-03-04T08:00:00Z"))?;
    assert!(next.is_some_and(|path| path != backup && path.exists()));
    assert!(backup.exists(), "yesterday's backup is kept");
    Ok(())
}

#[test]
fn raw_events_past_their_retention_are_pruned() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (conn, config) = on_disk(&dir, &[("RAW_EVENTS_RETENTION_DAYS", "30")])?;
    events::record(&conn, &raw(at("2026-01-15T12:00:00Z"), "old"))?;
    events::record(&conn, &raw(at("2026-02-10T12:00:00Z"), "recent"))?;
    nightly(&conn, &config, date(2026, 3, 3), at(NIGHT))?;
    let kept: Vec<String> =
        events::recent(&conn, 10)?.into_iter().map(|recent| recent.received_at.to_string()).collect();
    assert_eq!(kept, vec!["2026-02-10T12:00:00Z".to_string()]);
    // The pruned event's id is forgotten with it, so a new delivery of it is stored.
    let again = events::record(&conn, &raw(at(NIGHT), "old"))?;
    assert!(matches!(again, events::Recorded::New(_)));
    Ok(())
}

#[test]
fn an_event_waiting_for_the_time_is_never_pruned() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let (conn, config) = on_disk(&dir, &[])?;
    let events::Recorded::New(id) = events::record(&conn, &raw(at("2026-01-01T00:00:00Z"), "waiting"))? else {
        anyhow::bail!("the event was not stored");
    };
    events::defer(&conn, id, "boot-a", 1_000)?;
    nightly(&conn, &config, date(2026, 3, 3), at(NIGHT))?;
    assert_eq!(events::deferred(&conn, 10)?.len(), 1);
    Ok(())
}

#[test]
fn breach_webhook_marks_go_with_their_issue_and_live_ones_stay() -> anyhow::Result<()> {
    use crate::db::{kv_get, kv_set};
    let dir = tempfile::tempdir()?;
    let (conn, config) = on_disk(&dir, &[("RAW_EVENTS_RETENTION_DAYS", "30")])?;
    let issue = |id: i64, status: &str, resolved_at: Option<&str>| {
        conn.execute(
            "INSERT INTO issues (id, kind, status, party_key, created_at, first_inbound_at, last_inbound_at, due_at,
                                 resolved_at)
             VALUES (?1, 'SMS', ?2, ?3, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z',
                     '2026-01-01T00:00:00.000Z', '2026-01-01T02:00:00.000Z', ?4)",
            rusqlite::params![id, status, format!("party-{id}"), resolved_at],
        )
    };
    issue(1, "OPEN", None)?;
    issue(2, "RESOLVED", Some("2026-01-02T00:00:00.000Z"))?;
    issue(3, "RESOLVED", Some("2026-02-20T00:00:00.000Z"))?;
    issue(4, "SPAM", Some("2026-01-02T00:00:00.000Z"))?;
    for id in 1..=5 {
        kv_set(&conn, &format!("hook_breach:{id}"), "alert:2026-01-01T02:00:00.000Z")?;
    }
    nightly(&conn, &config, date(2026, 3, 3), at(NIGHT))?;
    let kept: Vec<i64> =
        (1..=5).filter(|id| kv_get(&conn, &format!("hook_breach:{id}")).ok().flatten().is_some()).collect();
    // 1 is live, 3 was resolved within the retention; 2 and 4 ended long ago, 5 is gone.
    assert_eq!(kept, vec![1, 3]);
    assert_eq!(kv_get(&conn, "last_backup_date")?.as_deref(), Some("2026-03-03"), "other keys stay");
    Ok(())
}
