//! Opening the database: pragmas, `quick_check`, and versioned migrations.
//!
//! The schema version lives in `PRAGMA user_version`; each entry of [`MIGRATIONS`] moves the
//! file one version up inside one transaction, so a file left at any older version upgrades
//! in place and a crash mid-upgrade leaves the old version intact.

use std::path::Path;

use anyhow::Context as _;
use rusqlite::Connection;

/// Each migration, in order; index + 1 is the version it produces. Never edit a shipped one.
const MIGRATIONS: &[&str] = &[
    // v1: the foundation tables.
    r#"
    CREATE TABLE raw_events (
        id           INTEGER PRIMARY KEY,
        received_at  TEXT NOT NULL,
        route        TEXT NOT NULL,
        -- webhookId or messageId based; unique so a retried delivery is stored once
        idem_key     TEXT UNIQUE,
        body_hash    TEXT NOT NULL,
        body         TEXT NOT NULL,
        outcome      TEXT
    );
    CREATE INDEX raw_events_by_body ON raw_events (route, body_hash, received_at);
    CREATE INDEX raw_events_by_time ON raw_events (received_at);

    CREATE TABLE issues (
        id               INTEGER PRIMARY KEY,
        kind             TEXT NOT NULL CHECK (kind IN ('SMS', 'CALL')),
        status           TEXT NOT NULL CHECK (status IN ('PENDING', 'OPEN', 'RESOLVED', 'SPAM')),
        party_key        TEXT NOT NULL,
        conversation_id  TEXT,
        contact_id       TEXT,
        phone            TEXT,
        contact_name     TEXT,
        created_at       TEXT NOT NULL,
        first_inbound_at TEXT NOT NULL,
        last_inbound_at  TEXT NOT NULL,
        due_at           TEXT NOT NULL,
        inbound_count    INTEGER NOT NULL DEFAULT 1,
        last_text        TEXT,
        opened_at        TEXT,
        resolved_at      TEXT,
        resolved_by      TEXT,
        alerted_at       TEXT
    );
    -- SPEC §5.1: at most one live issue per party and kind, enforced by the database.
    CREATE UNIQUE INDEX issues_one_live ON issues (kind, party_key) WHERE status IN ('PENDING', 'OPEN');
    CREATE INDEX issues_by_status_due ON issues (status, due_at);
    CREATE INDEX issues_by_conversation ON issues (conversation_id) WHERE conversation_id IS NOT NULL;
    CREATE INDEX issues_by_contact ON issues (contact_id) WHERE contact_id IS NOT NULL;
    CREATE INDEX issues_by_phone ON issues (phone) WHERE phone IS NOT NULL;

    CREATE TABLE timeline (
        id        INTEGER PRIMARY KEY,
        issue_id  INTEGER NOT NULL REFERENCES issues (id),
        at        TEXT NOT NULL,
        event     TEXT NOT NULL,
        actor     TEXT NOT NULL,
        detail    TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX timeline_by_issue ON timeline (issue_id, id);

    -- Append-only: the timeline is history, not state (SPEC §5.2).
    CREATE TRIGGER timeline_no_update BEFORE UPDATE ON timeline
        BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END;
    CREATE TRIGGER timeline_no_delete BEFORE DELETE ON timeline
        BEGIN SELECT RAISE(ABORT, 'the timeline is append-only'); END;

    CREATE TABLE outbox (
        id              INTEGER PRIMARY KEY,
        purpose         TEXT NOT NULL,
        contact_id      TEXT NOT NULL,
        body            TEXT NOT NULL,
        created_at      TEXT NOT NULL,
        expires_at      TEXT NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        sent_at         TEXT,
        last_error      TEXT,
        -- never sent twice for the same purpose (SPEC §8)
        UNIQUE (purpose, contact_id)
    );
    CREATE INDEX outbox_unsent ON outbox (next_attempt_at) WHERE sent_at IS NULL;

    CREATE TABLE spam_phones (
        phone       TEXT PRIMARY KEY,
        created_at  TEXT NOT NULL
    );

    -- The last staff reply known per party key (conversation, contact or phone).
    CREATE TABLE staff_replies (
        party_key   TEXT PRIMARY KEY,
        replied_at  TEXT NOT NULL,
        message_id  TEXT
    );

    CREATE TABLE kv (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
    );
    "#,
    // v2: what the outbox needs to keep its promises to managers (SPEC §6).
    r#"
    -- The alert batch an OPEN issue is queued in; alerted_at is set only after a send succeeded.
    ALTER TABLE issues ADD COLUMN alert_purpose TEXT;
    -- pending | sent | expired | skipped (no GHL_TOKEN)
    ALTER TABLE outbox ADD COLUMN status TEXT NOT NULL DEFAULT 'pending';
    -- An alert's issues, marked alerted when one manager got it.
    ALTER TABLE outbox ADD COLUMN issue_ids TEXT;
    -- A digest's resolved-since watermark, moved when one manager got it.
    ALTER TABLE outbox ADD COLUMN watermark TEXT;
    ALTER TABLE outbox ADD COLUMN message_id TEXT;
    CREATE INDEX outbox_pending ON outbox (next_attempt_at) WHERE status = 'pending';
    "#,
    // v3: issues imported from the original service, by their original id (idempotent import).
    r#"
    CREATE TABLE imported (
        source    TEXT PRIMARY KEY,
        issue_id  INTEGER NOT NULL REFERENCES issues (id)
    );
    "#,
    // v4: every id a delivery carries (webhookId and messageId), so the same message under a
    // new webhookId is a duplicate too (SPEC §3.2). raw_events.idem_key keeps the first.
    r#"
    CREATE TABLE event_keys (
        key       TEXT PRIMARY KEY,
        event_id  INTEGER NOT NULL
    );
    CREATE INDEX event_keys_by_event ON event_keys (event_id);
    INSERT OR IGNORE INTO event_keys (key, event_id)
        SELECT idem_key, id FROM raw_events WHERE idem_key IS NOT NULL;
    "#,
    // v5: the AI check's verdicts, one per conversation, for the thread state they answer (SPEC §10).
    r#"
    CREATE TABLE ai_verdicts (
        conversation_id    TEXT PRIMARY KEY,
        -- the thread state: its newest message
        newest_message_id  TEXT NOT NULL,
        newest_at          TEXT NOT NULL,
        needs_follow_up    INTEGER NOT NULL,
        confidence         REAL NOT NULL,
        -- a JSON array of short strings
        evidence           TEXT NOT NULL,
        model              TEXT NOT NULL,
        checked_at         TEXT NOT NULL
    );
    "#,
    // v6: a send whose fate is unknown (timeout, 5xx) is looked for in GHL before it is sent
    // again, so a manager never gets it twice (SPEC §8).
    r#"
    ALTER TABLE outbox ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0;
    "#,
    // v7: webhooks stored while the wall clock could not be believed, with the monotonic
    // clock's reading that dates them once it can (issue 15).
    r#"
    CREATE TABLE deferred_events (
        event_id      INTEGER PRIMARY KEY,
        boot_id       TEXT NOT NULL,
        monotonic_ms  INTEGER NOT NULL
    );
    "#,
    // v8: fewer b-trees touched per webhook, so fewer pages written to the SD card (issue 15):
    // event_keys becomes one b-tree (WITHOUT ROWID, no index by event), and raw_events drops
    // the UNIQUE index on idem_key that event_keys has taken over.
    r#"
    CREATE TABLE event_keys_v8 (
        key       TEXT PRIMARY KEY,
        event_id  INTEGER NOT NULL
    ) WITHOUT ROWID;
    INSERT INTO event_keys_v8 (key, event_id) SELECT key, event_id FROM event_keys;
    DROP TABLE event_keys;
    ALTER TABLE event_keys_v8 RENAME TO event_keys;

    CREATE TABLE raw_events_v8 (
        id           INTEGER PRIMARY KEY,
        received_at  TEXT NOT NULL,
        route        TEXT NOT NULL,
        -- the first id the delivery carried; every id is in event_keys
        idem_key     TEXT,
        body_hash    TEXT NOT NULL,
        body         TEXT NOT NULL,
        outcome      TEXT
    );
    INSERT INTO raw_events_v8 (id, received_at, route, idem_key, body_hash, body, outcome)
        SELECT id, received_at, route, idem_key, body_hash, body, outcome FROM raw_events;
    DROP TABLE raw_events;
    ALTER TABLE raw_events_v8 RENAME TO raw_events;
    CREATE INDEX raw_events_by_body ON raw_events (route, body_hash, received_at);
    CREATE INDEX raw_events_by_time ON raw_events (received_at);
    "#,
    // v9: special days that managers set by SMS (issue 18); `open` is the day's hours as
    // `08:00-12:00+13:00-17:00`, empty when closed all day.
    r#"
    CREATE TABLE special_days (
        date            TEXT PRIMARY KEY,
        open            TEXT NOT NULL,
        set_by          TEXT NOT NULL,
        set_by_contact  TEXT NOT NULL,
        set_at          TEXT NOT NULL
    );
    "#,
    // v10: notification webhooks share the outbox (issue 18): `channel` is `sms` (contact_id
    // is the manager) or `webhook` (contact_id is the URL, body the JSON to POST).
    r#"
    ALTER TABLE outbox ADD COLUMN channel TEXT NOT NULL DEFAULT 'sms';
    "#,
    // v11: the managers' console (issue 17). A manager's PIN is kept only as a salted PBKDF2
    // hash; sessions and one-time sign-in links only as the SHA-256 of their token. A snoozed
    // issue keeps the time it was snoozed to, so a change of hours does not move it back.
    r#"
    CREATE TABLE managers (
        id          INTEGER PRIMARY KEY,
        name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
        contact_id  TEXT NOT NULL,
        pin_hash    TEXT NOT NULL,
        created_at  TEXT NOT NULL
    );
    CREATE TABLE console_sessions (
        token_hash  TEXT PRIMARY KEY,
        manager     TEXT NOT NULL,
        contact_id  TEXT NOT NULL,
        csrf        TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE console_links (
        token_hash  TEXT PRIMARY KEY,
        manager     TEXT NOT NULL,
        contact_id  TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        expires_at  TEXT NOT NULL
    ) WITHOUT ROWID;
    ALTER TABLE issues ADD COLUMN snoozed_until TEXT;
    "#,
    // v12: a manager added with `sentinel manager add` may be known by phone (normalised, as
    // `Phone` writes it) as well as, or instead of, a GHL contact id (then `contact_id` is
    // empty): a text from either is a command (issue 24).
    r#"
    ALTER TABLE managers ADD COLUMN phone TEXT;
    "#,
    // v13: each outbox row keeps its delivery id (a UUIDv7, issue 24), sent as a notification
    // webhook's `webhook-id` (`msg_` and the id) on every attempt. The row number was reused
    // after a restore and on every other box. Rows from before get one here, made from their
    // `created_at` and SQLite's randomness; a row an older release queues after a rollback
    // gets one when it is next due (`outbox::due`).
    r#"
    ALTER TABLE outbox ADD COLUMN delivery_id TEXT;
    UPDATE outbox SET delivery_id = lower(
        substr(printf('%012x', CAST(coalesce(unixepoch(created_at, 'subsec'), 0) * 1000 AS INTEGER)), 1, 8) || '-' ||
        substr(printf('%012x', CAST(coalesce(unixepoch(created_at, 'subsec'), 0) * 1000 AS INTEGER)), 9, 4) || '-' ||
        '7' || substr(hex(randomblob(2)), 2) || '-' ||
        substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' ||
        hex(randomblob(6)));
    "#,
    // v14: catch-up (SPEC §12). What Sentinel last knew of each conversation: the newest
    // message's time, its kind and text when it was a customer's (`fingerprint`), and the
    // unread count the last search showed; a search item that differs is read.
    r#"
    CREATE TABLE conversations_seen (
        conversation_id TEXT PRIMARY KEY,
        last_at         TEXT NOT NULL,
        fingerprint     TEXT,
        unread          INTEGER
    ) WITHOUT ROWID;
    "#,
];

/// The schema version this binary writes.
pub const VERSION: i64 = MIGRATIONS.len() as i64;

/// The first schema whose binaries queue a texted sign-in link without its token.
const TEXTED_LINKS_HASHED_SINCE: i64 = 13;

/// The page size of a new database, in bytes.
const PAGE_SIZE: i64 = 1024;

/// Opens (creating if needed) the database at `path`, checks it and migrates it.
pub fn open(path: &Path) -> anyhow::Result<Connection> {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| {
            // The original's Docker volume: say what to do, not only what failed (issue 24).
            let hint = if dir.starts_with("/data") {
                " (DB_PATH is the original's Docker volume path: delete the DB_PATH line, or point it at a directory \
                 you may write; sentinel check-config says more)"
            } else {
                ""
            };
            format!("creating {}{hint}", dir.display())
        })?;
    }
    let mut conn = Connection::open(path).with_context(|| format!("opening the database {}", path.display()))?;
    configure(&conn)?;
    let check = quick_check(&conn).context("running quick_check")?;
    if check != "ok" {
        anyhow::bail!("the database {} failed quick_check: {check}", path.display());
    }
    let (before, _) = readable_by(&conn)?;
    migrate(&mut conn)?;
    // Sign-in links a version before schema 13 kept in clear in the outbox (issue 23): scrubbed
    // once, when such a file is migrated, never on an ordinary start.
    if (1..TEXTED_LINKS_HASHED_SINCE).contains(&before) {
        super::outbox::scrub_texted_links(&conn).context("scrubbing sign-in links")?;
    }
    if crate::version::test_hooks() && std::env::var("SENTINEL_TEST_SCHEMA_AHEAD").is_ok_and(|v| v == "1") {
        schema_ahead(&mut conn)?;
    }
    Ok(conn)
}

/// SQLite's `quick_check`: `ok`, or what is wrong with the file.
pub fn quick_check(conn: &Connection) -> rusqlite::Result<String> {
    conn.query_row("PRAGMA quick_check", [], |row| row.get(0))
}

/// The test hook `SENTINEL_TEST_SCHEMA_AHEAD=1`: one more migration of the kind the rule allows
/// (a table and a column added), so a test can roll back over a file the new version migrated.
fn schema_ahead(conn: &mut Connection) -> anyhow::Result<()> {
    let tx = conn.transaction()?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == VERSION {
        tx.execute_batch(
            "CREATE TABLE test_ahead (id INTEGER PRIMARY KEY, note TEXT NOT NULL);
             ALTER TABLE issues ADD COLUMN test_ahead TEXT;
             INSERT INTO test_ahead (note) VALUES ('written by a newer schema (test hook)');",
        )?;
        tx.pragma_update(None, "user_version", VERSION + 1)?;
    }
    tx.commit()?;
    Ok(())
}

/// An in-memory database at the current version (tests).
pub fn open_in_memory() -> anyhow::Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    configure(&conn)?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// The what-if replay's own database: in memory, at the current schema, with SQLite's usual
/// page size (the small pages of the live file save SD wear, which memory does not need).
pub fn open_for_replay() -> anyhow::Result<Connection> {
    let mut conn = Connection::open_in_memory()?;
    conn.pragma_update(None, "page_size", 4096)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.set_prepared_statement_cache_capacity(128);
    migrate(&mut conn).context("creating the replay's database")?;
    // Finding a party's live issue looks among all its issues by contact (or phone, or
    // conversation); a year of them makes that the replay's main cost. These indexes cover the
    // live ones only, and replace the ones over every issue, which the replay's statements
    // only ever ask about live issues: they change no answer. The live file keeps its own.
    conn.execute_batch(
        "CREATE INDEX replay_live_by_contact ON issues (contact_id, kind)
           WHERE contact_id IS NOT NULL AND status IN ('PENDING', 'OPEN');
         CREATE INDEX replay_live_by_phone ON issues (phone, kind)
           WHERE phone IS NOT NULL AND status IN ('PENDING', 'OPEN');
         CREATE INDEX replay_live_by_conversation ON issues (conversation_id, kind)
           WHERE conversation_id IS NOT NULL AND status IN ('PENDING', 'OPEN');
         DROP INDEX issues_by_contact;
         DROP INDEX issues_by_phone;
         DROP INDEX issues_by_conversation;",
    )?;
    Ok(conn)
}

fn configure(conn: &Connection) -> anyhow::Result<()> {
    // Small pages for a new database: every commit writes each page it touched to the WAL,
    // whole, so on an SD card smaller pages mean less wear (issue 15). It takes effect only on
    // an empty file, before WAL; an existing database keeps its page size.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    // WAL + FULL: a commit is on disk when it returns, and the 2xx to GHL is a promise
    // (SPEC §2, APPLIANCE §5.2). busy_timeout covers readers such as `sentinel status`.
    conn.pragma_update(None, "journal_mode", "WAL").context("enabling WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.set_prepared_statement_cache_capacity(128);
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "journal_size_limit", 8 * 1024 * 1024)?;
    // Checkpoint every 4 MiB of WAL rather than SQLite's 1,000 pages: a page that many
    // commits touch (an index leaf) is copied into the database once per checkpoint.
    conn.pragma_update(None, "wal_autocheckpoint", 4 * 1024 * 1024 / PAGE_SIZE)?;
    Ok(())
}

/// The `kv` key that holds the oldest schema version able to read the file. Every migration
/// keeps the previous release able to read and write the file (ARCHITECTURE.md, "Updates and
/// the schema"), so none sets it yet; one that cannot keep that promise must.
pub const MIN_READER_KEY: &str = "schema_min_reader";

/// The file's schema version and the oldest schema version that can read it.
pub fn readable_by(conn: &Connection) -> anyhow::Result<(i64, i64)> {
    use rusqlite::OptionalExtension as _;
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version == 0 {
        return Ok((0, 0));
    }
    let min_reader: Option<String> =
        conn.query_row("SELECT value FROM kv WHERE key = ?1", [MIN_READER_KEY], |row| row.get(0)).optional()?;
    Ok((version, min_reader.and_then(|text| text.parse().ok()).unwrap_or(0)))
}

/// Applies every migration newer than the file's version. A file a newer release migrated is
/// used as it is when that release says this one can still read it (a rollback, issue 16).
pub fn migrate(conn: &mut Connection) -> anyhow::Result<()> {
    let (current, min_reader) = readable_by(conn)?;
    if current > VERSION {
        if min_reader > VERSION {
            anyhow::bail!(
                "the database is at schema version {current}, which needs schema {min_reader} to read, newer than this \
                 binary's {VERSION}; upgrade sentinel"
            );
        }
        tracing::warn!(
            "the database is at schema version {current}, newer than this binary's {VERSION}, and readable by it"
        );
        return Ok(());
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = index as i64 + 1;
        let tx = conn.transaction()?;
        tx.execute_batch(sql).with_context(|| format!("migrating the database to version {version}"))?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_file_is_at_the_current_version() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let conn = open(&dir.path().join("nested/sentinel.db"))?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        assert_eq!(version, VERSION);
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |row| row.get(0))?;
        assert_eq!(mode, "wal");
        Ok(())
    }

    #[test]
    fn reopening_does_not_migrate_again() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sentinel.db");
        open(&path)?.execute("INSERT INTO kv (key, value) VALUES ('k', 'v')", [])?;
        let conn = open(&path)?;
        let value: String = conn.query_row("SELECT value FROM kv WHERE key = 'k'", [], |row| row.get(0))?;
        assert_eq!(value, "v");
        Ok(())
    }

    /// Issue 24: rows queued before v13 get delivery ids too, UUIDv7s dated by `created_at`.
    #[test]
    fn outbox_rows_from_before_version_13_get_their_own_delivery_ids() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sentinel.db");
        {
            let mut conn = Connection::open(&path)?;
            let tx = conn.transaction()?;
            for sql in &MIGRATIONS[..12] {
                tx.execute_batch(sql)?;
            }
            tx.pragma_update(None, "user_version", 12)?;
            for n in 0..3 {
                tx.execute(
                    "INSERT INTO outbox (purpose, contact_id, body, created_at, expires_at, next_attempt_at)
                     VALUES (?1, 'm1', 'x', '2026-03-02T15:00:00.123Z', 'z', 'a')",
                    [format!("p{n}")],
                )?;
            }
            tx.commit()?;
        }
        let conn = open(&path)?;
        let mut stmt = conn.prepare("SELECT delivery_id FROM outbox ORDER BY id")?;
        let ids: Vec<String> = stmt.query_map([], |row| row.get(0))?.collect::<rusqlite::Result<_>>()?;
        let ms: i64 = "2026-03-02T15:00:00.123Z".parse::<jiff::Timestamp>()?.as_millisecond();
        let stamp = format!("{ms:012x}");
        for id in &ids {
            let parts: Vec<&str> = id.split('-').collect();
            let lengths: Vec<usize> = parts.iter().map(|part| part.len()).collect();
            assert_eq!(lengths, [8, 4, 4, 4, 12], "{id}");
            assert_eq!(format!("{}{}", parts[0], parts[1]), stamp, "{id}");
            assert!(parts[2].starts_with('7') && "89ab".contains(&parts[3][..1]), "{id}");
            assert!(id.chars().all(|c| c == '-' || c.is_ascii_digit() || ('a'..='f').contains(&c)), "{id}");
        }
        assert!(ids[0] != ids[1] && ids[1] != ids[2] && ids[0] != ids[2], "{ids:?}");
        Ok(())
    }

    #[test]
    fn a_file_left_at_version_1_upgrades_in_place() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sentinel.db");
        {
            let mut conn = Connection::open(&path)?;
            let tx = conn.transaction()?;
            tx.execute_batch(MIGRATIONS[0])?;
            tx.pragma_update(None, "user_version", 1)?;
            tx.execute(
                "INSERT INTO issues (kind, status, party_key, created_at, first_inbound_at, last_inbound_at, due_at)
                 VALUES ('SMS', 'OPEN', 'contact:c', 'a', 'a', 'a', 'b')",
                [],
            )?;
            tx.commit()?;
        }
        let conn = open(&path)?;
        let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        assert_eq!(version, VERSION);
        let kept: (String, Option<String>) =
            conn.query_row("SELECT status, alert_purpose FROM issues", [], |row| Ok((row.get(0)?, row.get(1)?)))?;
        assert_eq!(kept, ("OPEN".to_string(), None));
        Ok(())
    }

    #[test]
    fn a_newer_file_this_version_cannot_read_is_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sentinel.db");
        let conn = open(&path)?;
        conn.pragma_update(None, "user_version", VERSION + 1)?;
        conn.execute("INSERT INTO kv (key, value) VALUES (?1, ?2)", rusqlite::params![MIN_READER_KEY, VERSION + 1])?;
        drop(conn);
        let err = open(&path).err().map(|e| format!("{e:#}")).unwrap_or_default();
        assert!(err.contains("newer than this binary"), "{err}");
        Ok(())
    }

    #[test]
    fn a_newer_file_this_version_can_read_opens_as_it_is() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sentinel.db");
        let conn = open(&path)?;
        conn.execute_batch("CREATE TABLE later (id INTEGER PRIMARY KEY); ALTER TABLE issues ADD COLUMN later TEXT;")?;
        conn.pragma_update(None, "user_version", VERSION + 1)?;
        conn.execute("INSERT INTO kv (key, value) VALUES (?1, ?2)", rusqlite::params![MIN_READER_KEY, VERSION])?;
        drop(conn);
        let conn = open(&path)?;
        assert_eq!(readable_by(&conn)?, (VERSION + 1, VERSION));
        Ok(())
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sentinel.db");
        std::fs::write(&path, b"this is not sqlite, just some text that is long enough")?;
        assert!(open(&path).is_err());
        Ok(())
    }

    #[test]
    fn the_timeline_is_append_only() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        conn.execute_batch(
            "INSERT INTO issues (kind, status, party_key, created_at, first_inbound_at, last_inbound_at, due_at)
             VALUES ('SMS', 'PENDING', 'contact:c', 'a', 'a', 'a', 'b');
             INSERT INTO timeline (issue_id, at, event, actor) VALUES (1, 'a', 'created', 'intake');",
        )?;
        assert!(conn.execute("UPDATE timeline SET event = 'x'", []).is_err());
        assert!(conn.execute("DELETE FROM timeline", []).is_err());
        Ok(())
    }

    #[test]
    fn one_live_issue_per_party_and_kind() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        let insert =
            "INSERT INTO issues (kind, status, party_key, created_at, first_inbound_at, last_inbound_at, due_at)
                      VALUES (?1, ?2, 'contact:c', 'a', 'a', 'a', 'b')";
        conn.execute(insert, ["SMS", "PENDING"])?;
        assert!(conn.execute(insert, ["SMS", "OPEN"]).is_err());
        conn.execute(insert, ["CALL", "OPEN"])?;
        conn.execute(insert, ["SMS", "RESOLVED"])?;
        Ok(())
    }
}
