//! Catch-up's memory (SPEC §12): what Sentinel last knew of each conversation, the watermark a
//! pass covers from, and how many events catch-up found per day.
//!
//! Every judged event with a conversation marks it seen ([`saw`]), so a conversation whose
//! newest message came by webhook is never read again by catch-up; a pass compares GHL's
//! search items against these rows to read only what changed.

use std::collections::HashMap;

use jiff::Timestamp;
use rusqlite::{Connection, params};

use super::{exec, kv_get, kv_set, parse_ts, ts};
use crate::domain::catchup::Seen;

/// Where the watermark is kept: the instant up to which the last pass looked.
const WATERMARK: &str = "catchup_watermark";

/// Notes that Sentinel knows a message of `conversation` from `at`; `fingerprint` is the
/// message's kind and text when it was a customer's, `None` for any other message. A message
/// older than what is known changes nothing.
pub fn saw(conn: &Connection, conversation: &str, at: Timestamp, fingerprint: Option<&str>) -> rusqlite::Result<()> {
    exec(
        conn,
        "INSERT INTO conversations_seen (conversation_id, last_at, fingerprint) VALUES (?1, ?2, ?3)
         ON CONFLICT (conversation_id) DO UPDATE SET
             fingerprint = CASE WHEN excluded.last_at >= last_at THEN excluded.fingerprint ELSE fingerprint END,
             last_at = max(last_at, excluded.last_at)",
        params![conversation, ts(at), fingerprint],
    )?;
    Ok(())
}

/// Keeps the unread count a search showed for each conversation it listed.
pub fn saw_unread(conn: &Connection, unread: &[(String, i64)]) -> rusqlite::Result<()> {
    for (conversation, count) in unread {
        exec(
            conn,
            "UPDATE conversations_seen SET unread = ?2 WHERE conversation_id = ?1",
            params![conversation, count],
        )?;
    }
    Ok(())
}

/// What is known of these conversations.
pub fn seen(conn: &Connection, ids: &[String]) -> rusqlite::Result<HashMap<String, Seen>> {
    let mut statement =
        conn.prepare_cached("SELECT last_at, fingerprint, unread FROM conversations_seen WHERE conversation_id = ?1")?;
    let mut known = HashMap::new();
    for id in ids {
        let mut rows = statement.query([id])?;
        if let Some(row) = rows.next()? {
            let last_at: String = row.get(0)?;
            known.insert(
                id.clone(),
                Seen { last_at: parse_ts(&last_at)?, fingerprint: row.get(1)?, unread: row.get(2)? },
            );
        }
    }
    Ok(known)
}

/// The instant the next pass covers from: the last pass's watermark; before any pass, the
/// last event stored (a box upgraded from a release without catch-up); on a new box, `None`.
pub fn watermark(conn: &Connection) -> rusqlite::Result<Option<Timestamp>> {
    if let Some(text) = kv_get(conn, WATERMARK)? {
        return parse_ts(&text).map(Some);
    }
    super::events::last_stored_at(conn)
}

/// Moves the watermark on to `at` (never back).
pub fn set_watermark(conn: &Connection, at: Timestamp) -> rusqlite::Result<()> {
    let current = kv_get(conn, WATERMARK)?.map(|text| parse_ts(&text)).transpose()?;
    if current.is_none_or(|current| at > current) {
        kv_set(conn, WATERMARK, &ts(at))?;
    }
    Ok(())
}

/// Customer messages catch-up found on `date` (the office's local date), after adding `more`.
pub fn count_found(conn: &Connection, date: &str, more: u64) -> rusqlite::Result<u64> {
    let key = format!("catchup_found:{date}");
    let before: u64 = kv_get(conn, &key)?.and_then(|text| text.parse().ok()).unwrap_or(0);
    let after = before + more;
    if more > 0 {
        kv_set(conn, &key, &after.to_string())?;
        // One day's count is all anyone reads; yesterday's goes.
        exec(conn, "DELETE FROM kv WHERE key LIKE 'catchup_found:%' AND key < ?1", [&key])?;
    }
    Ok(after)
}
