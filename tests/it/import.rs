//! `sentinel import-original` against original-format databases built here: the newest
//! column set and an old one, offset and naive local times, a DST date (SPEC §9, issue 9).

use std::path::Path;

use rusqlite::{Connection, params};

use crate::harness::command;

const NEW_SCHEMA: &str = "
CREATE TABLE issues (id INTEGER PRIMARY KEY, issue_type TEXT, owner_id TEXT, contact_id TEXT, phone TEXT, created_ts TEXT,
  due_ts TEXT, status TEXT, resolved_ts TEXT, meta TEXT, first_inbound_ts TEXT, last_inbound_ts TEXT, inbound_count INTEGER,
  outbound_count INTEGER, conversation_id TEXT, breach_notified_ts TEXT, contact_name TEXT);
CREATE TABLE spam_phones (phone TEXT PRIMARY KEY, created_ts TEXT);
CREATE TABLE kv_store (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE conversation_state (conversation_id TEXT PRIMARY KEY, last_internal_outbound_ts TEXT, last_internal_outbound_contact_id TEXT);
CREATE TABLE raw_events (id INTEGER PRIMARY KEY, received_ts TEXT, source TEXT, payload TEXT);
";

/// The first release had none of the columns added later.
const OLD_SCHEMA: &str = "
CREATE TABLE issues (id INTEGER PRIMARY KEY, issue_type TEXT, owner_id TEXT, contact_id TEXT, phone TEXT, created_ts TEXT,
  due_ts TEXT, status TEXT, resolved_ts TEXT, meta TEXT);
";

fn original_new(path: &Path) -> anyhow::Result<()> {
    let conn = Connection::open(path)?;
    conn.execute_batch(NEW_SCHEMA)?;
    let insert = "INSERT INTO issues (id, issue_type, contact_id, phone, created_ts, due_ts, status, resolved_ts, meta,
        first_inbound_ts, last_inbound_ts, inbound_count, conversation_id, breach_notified_ts, contact_name)
        VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)";
    // A live OPEN text, in winter (CST), with notes and a breach alert.
    conn.execute(insert, params![
        7, "SMS", "c7", "(214) 555-0107", "2026-11-20T16:52:10.123456-06:00", "2026-11-23T09:52:10.123456-06:00", "OPEN", None::<String>,
        r#"{"last_text":"pool is green","notes":[{"ts":"2026-11-23T10:05:00-06:00","text":"called, left voicemail"}]}"#,
        "2026-11-20T16:52:10.123456-06:00", "2026-11-21T08:00:00-06:00", 3, "conv7", "2026-11-23T09:53:00-06:00", "Carl Jones"
    ])?;
    // A resolved call on the spring-forward day, times written without an offset (local time).
    conn.execute(
        insert,
        params![
            8,
            "CALL",
            "c8",
            "2145550108",
            "2026-03-08T10:30:00",
            "2026-03-09T09:30:00",
            "RESOLVED",
            "2026-03-09T08:15:00",
            r#"{"resolved_by":"staff_reply:poll","contact_name":"Dana"}"#,
            None::<String>,
            None::<String>,
            2,
            None::<String>,
            None::<String>,
            None::<String>
        ],
    )?;
    // A PENDING text whose name only lives in meta.
    conn.execute(
        insert,
        params![
            9,
            "SMS",
            "c9",
            "+12145550109",
            "2026-11-22T00:30:05.947520-06:00",
            "2026-11-23T10:00:00-06:00",
            "PENDING",
            None::<String>,
            r#"{"contact_name":"Eve"}"#,
            None::<String>,
            None::<String>,
            1,
            "conv9",
            None::<String>,
            ""
        ],
    )?;
    conn.execute("INSERT INTO spam_phones VALUES ('214-555-0666', '2026-10-01T09:00:00-05:00')", [])?;
    conn.execute("INSERT INTO kv_store VALUES ('last_summary_ts', '2026-11-23T08:00:02-06:00')", [])?;
    conn.execute("INSERT INTO kv_store VALUES ('last_summary_ts_morning', '2026-11-23T08:00:02-06:00')", [])?;
    conn.execute("INSERT INTO conversation_state VALUES ('conv9', '2026-11-22T00:10:00-06:00', 'staff1')", [])?;
    Ok(())
}

fn run(db: &Path, args: &[&str]) -> anyhow::Result<(bool, String)> {
    let output = command().args(args).env_clear().env("DB_PATH", db).output()?;
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    Ok((output.status.success(), text))
}

#[test]
fn the_newest_original_imports_every_field_once() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let original = dir.path().join("original.db");
    original_new(&original)?;
    let ours = dir.path().join("sentinel.db");
    let path = original.display().to_string();

    let (ok, dry) = run(&ours, &["import-original", &path, "--dry-run"])?;
    assert!(ok, "{dry}");
    assert!(dry.contains("dry run") && dry.contains("issues imported:        3"), "{dry}");
    let conn = Connection::open(&ours)?;
    assert_eq!(
        conn.query_row("SELECT COUNT(*) FROM issues", [], |r| r.get::<_, i64>(0))?,
        0,
        "a dry run writes nothing"
    );

    let (ok, first) = run(&ours, &["import-original", &path])?;
    assert!(ok && first.contains("issues imported:        3"), "{first}");
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
    );
    let row = |id: &str| -> anyhow::Result<Row> {
        let issue_id: i64 =
            conn.query_row("SELECT issue_id FROM imported WHERE source = ?1", [format!("original:{id}")], |r| {
                r.get(0)
            })?;
        Ok(conn.query_row(
            "SELECT kind, status, phone, COALESCE(contact_name, ''), created_at, due_at, first_inbound_at, inbound_count,
                    last_text, resolved_at, resolved_by, alerted_at FROM issues WHERE id = ?1",
            [issue_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?, r.get(7)?, r.get(8)?, r.get(9)?, r.get(10)?, r.get(11)?)),
        )?)
    };
    let carl = row("7")?;
    assert_eq!(
        (carl.0.as_str(), carl.1.as_str(), carl.2.as_str(), carl.3.as_str()),
        ("SMS", "OPEN", "+12145550107", "Carl Jones")
    );
    assert_eq!(carl.4, "2026-11-20T22:52:10.123Z", "CST offset applied");
    assert_eq!(carl.5, "2026-11-23T15:52:10.123Z", "a live issue keeps its due time");
    assert_eq!((carl.7, carl.8.as_deref()), (3, Some("pool is green")));
    assert_eq!(carl.11.as_deref(), Some("2026-11-23T15:53:00.000Z"), "breach notified → alerted");
    let dana = row("8")?;
    assert_eq!(dana.4, "2026-03-08T15:30:00.000Z", "naive local time on the spring-forward day is CDT");
    assert_eq!(dana.9.as_deref(), Some("2026-03-09T13:15:00.000Z"));
    assert_eq!((dana.3.as_str(), dana.10.as_deref()), ("Dana", Some("staff_reply:poll")), "name from meta");
    assert_eq!(dana.6, dana.4, "first inbound defaults to creation");
    let eve = row("9")?;
    assert_eq!((eve.1.as_str(), eve.3.as_str()), ("PENDING", "Eve"));
    let note: String = conn.query_row("SELECT detail FROM timeline WHERE event = 'note'", [], |r| r.get(0))?;
    assert_eq!(note, "called, left voicemail");
    let spam: String = conn.query_row("SELECT phone FROM spam_phones", [], |r| r.get(0))?;
    assert_eq!(spam, "+12145550666");
    let watermark: String = conn.query_row("SELECT value FROM kv WHERE key = 'digest_watermark'", [], |r| r.get(0))?;
    assert_eq!(watermark, "2026-11-23T14:00:02.000Z");
    let claimed: i64 =
        conn.query_row("SELECT COUNT(*) FROM kv WHERE key = 'digest_claimed:2026-11-23:morning'", [], |r| r.get(0))?;
    assert_eq!(claimed, 1, "the original's morning digest is not sent again");
    let reply: String =
        conn.query_row("SELECT replied_at FROM staff_replies WHERE party_key = 'conversation:conv9'", [], |r| {
            r.get(0)
        })?;
    assert_eq!(reply, "2026-11-22T06:10:00.000Z");

    let (ok, second) = run(&ours, &["import-original", &path])?;
    assert!(
        ok && second.contains("issues imported:        0") && second.contains("issues already present: 3"),
        "{second}"
    );
    assert_eq!(conn.query_row("SELECT COUNT(*) FROM issues", [], |r| r.get::<_, i64>(0))?, 3);
    assert_eq!(conn.query_row("SELECT COUNT(*) FROM timeline WHERE event = 'note'", [], |r| r.get::<_, i64>(0))?, 1);
    Ok(())
}

#[test]
fn an_old_original_without_later_columns_imports() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let original = dir.path().join("old.db");
    let conn = Connection::open(&original)?;
    conn.execute_batch(OLD_SCHEMA)?;
    conn.execute(
        "INSERT INTO issues VALUES (1, 'CALL', 'o1', 'c1', '214 555 0101', '2026-07-01T09:00:00-05:00', '2026-07-01T11:00:00-05:00', 'OPEN', NULL, NULL)",
        [],
    )?;
    drop(conn);
    let ours = dir.path().join("sentinel.db");
    let (ok, out) = run(&ours, &["import-original", &original.display().to_string()])?;
    assert!(ok && out.contains("issues imported:        1"), "{out}");
    let conn = Connection::open(&ours)?;
    let (first, count, created): (String, i64, String) =
        conn.query_row("SELECT first_inbound_at, inbound_count, created_at FROM issues", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    assert_eq!((first.as_str(), count, created.as_str()), ("2026-07-01T14:00:00.000Z", 1, "2026-07-01T14:00:00.000Z"));
    Ok(())
}

#[test]
fn a_foreign_or_corrupt_file_is_refused_and_nothing_written() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let ours = dir.path().join("sentinel.db");
    let foreign = dir.path().join("foreign.db");
    Connection::open(&foreign)?.execute_batch("CREATE TABLE things (id INTEGER)")?;
    let (ok, out) = run(&ours, &["import-original", &foreign.display().to_string()])?;
    assert!(!ok && out.contains("not an original Sentinel database"), "{out}");
    let corrupt = dir.path().join("corrupt.db");
    std::fs::write(&corrupt, vec![7u8; 8192])?;
    let (ok, out) = run(&ours, &["import-original", &corrupt.display().to_string()])?;
    assert!(!ok && out.contains("corrupt.db"), "{out}");
    let (ok, out) = run(&ours, &["import-original"])?;
    assert!(!ok && out.contains("needs the original"), "{out}");
    let conn = Connection::open(&ours)?;
    assert_eq!(conn.query_row("SELECT COUNT(*) FROM issues", [], |r| r.get::<_, i64>(0))?, 0);
    Ok(())
}
