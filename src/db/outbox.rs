//! The outbox: every SMS to a manager, and every notification webhook (issue 18, queued by
//! `db::notify`), is a row here before it is sent (SPEC §8).
//!
//! A row is unique per purpose and recipient, so a digest slot, an alert batch or a command
//! reply can never be queued twice. The summary sender takes due rows, sends them and
//! reports back; what a successful send means (an alert's issues are alerted, a digest's
//! watermark moves) is applied here in the same transaction that marks the row sent.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, params};
use serde::Serialize;

use super::{exec, kv_get, kv_set, parse_ts, ts};

/// The key of the "resolved since last summary" watermark.
pub const WATERMARK_KEY: &str = "digest_watermark";

/// How a row is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// An SMS to a manager through GHL; `contact_id` is the manager.
    Sms,
    /// A signed POST; `contact_id` is the URL and `body` the JSON (issue 18).
    Webhook,
}

impl Channel {
    /// The word kept in the `channel` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Webhook => "webhook",
        }
    }
}

/// One queued SMS or webhook delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Row id.
    pub id: i64,
    /// `digest:2026-11-23:morning`, `alert:…`, `reply:…`.
    pub purpose: String,
    /// The recipient's GHL contact id.
    pub contact_id: String,
    /// The text.
    pub body: String,
    /// Attempts so far.
    pub attempts: i64,
    /// An earlier attempt may have reached GHL: look for it there before sending again.
    pub uncertain: bool,
    /// When it was queued (a send it is looked for is no older).
    pub created_at: Timestamp,
    /// SMS or webhook.
    pub channel: Channel,
    /// The row's delivery id, a UUIDv7 made when it was queued: a webhook's `webhook-id` is
    /// `msg_` and this, the same on every attempt and never another row's.
    pub delivery_id: String,
}

/// What one send attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// GHL took it (or already had it), with its message id when known.
    Sent(Option<String>),
    /// It can never be sent (no token): the reason.
    Skipped(String),
    /// It failed and was certainly not sent: why.
    Failed(String),
    /// It failed in a way that may have sent it: why. It is looked for before it is sent again.
    Uncertain(String),
}

/// What to queue.
#[derive(Debug, Clone)]
pub struct NewEntry<'a> {
    /// Purpose; with the recipient, unique forever.
    pub purpose: &'a str,
    /// Recipient.
    pub contact_id: &'a str,
    /// Text.
    pub body: &'a str,
    /// Given up after this.
    pub expires_at: Timestamp,
    /// An alert's issue ids, comma-separated.
    pub issue_ids: Option<&'a str>,
    /// A digest's watermark.
    pub watermark: Option<Timestamp>,
}

/// Queues an SMS; false when the same purpose and recipient was queued before.
pub fn enqueue(conn: &Connection, entry: &NewEntry, now: Timestamp) -> rusqlite::Result<bool> {
    let inserted = conn.execute(
        "INSERT INTO outbox (purpose, contact_id, body, created_at, expires_at, next_attempt_at, issue_ids, watermark,
                             delivery_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?4, ?6, ?7, ?8) ON CONFLICT (purpose, contact_id) DO NOTHING",
        params![
            entry.purpose,
            entry.contact_id,
            entry.body,
            ts(now),
            ts(entry.expires_at),
            entry.issue_ids,
            entry.watermark.map(ts),
            new_delivery_id(now)?,
        ],
    )?;
    Ok(inserted > 0)
}

/// A new delivery id made at `now`: a UUIDv7 with 74 random bits from the system's generator.
pub fn new_delivery_id(now: Timestamp) -> rusqlite::Result<String> {
    let mut random = [0u8; 10];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut random)
        .map_err(|_| rusqlite::Error::ToSqlConversionFailure("no randomness for a delivery id".into()))?;
    Ok(crate::domain::notify::uuid_v7(now.as_millisecond(), random))
}

/// Queues a text of any length as one SMS per part (`format::split_sms`): one part keeps
/// `entry.purpose`, several are `{purpose}:{n}/{total}`, so a retried queueing adds nothing
/// and `progress(purpose)` finds every part. True when anything new was queued.
pub fn enqueue_text(conn: &Connection, entry: &NewEntry, now: Timestamp) -> rusqlite::Result<bool> {
    let parts = crate::domain::format::split_sms(entry.body);
    let total = parts.len();
    let mut queued = false;
    for (index, part) in parts.iter().enumerate() {
        let purpose =
            if total == 1 { entry.purpose.to_string() } else { format!("{}:{}/{total}", entry.purpose, index + 1) };
        queued |= enqueue(conn, &NewEntry { purpose: &purpose, body: part, ..*entry }, now)?;
    }
    Ok(queued)
}

/// Expires what is past its time, then returns pending rows due by `now`. A texted sign-in
/// link gets its token here, as it goes out (`console::mint_texted_link`); one whose
/// recipient is no longer a manager (`managers` by configuration, or the table) is skipped.
pub fn due(conn: &Connection, now: Timestamp, limit: usize, managers: &[String]) -> rusqlite::Result<Vec<Entry>> {
    let mut due = Vec::new();
    for mut entry in pending_due(conn, now, limit)? {
        if entry.channel == Channel::Sms
            && entry.purpose.starts_with(super::console::SIGN_IN_PURPOSE)
            && entry.body.contains(super::console::TOKEN_SLOT)
        {
            match super::console::mint_texted_link(conn, &entry.contact_id, &entry.body, managers, now)? {
                Some(body) => entry.body = body,
                None => {
                    mark_skipped(conn, entry.id, "no longer a manager")?;
                    continue;
                }
            }
        }
        due.push(entry);
    }
    Ok(due)
}

fn pending_due(conn: &Connection, now: Timestamp, limit: usize) -> rusqlite::Result<Vec<Entry>> {
    expire(conn, now)?;
    let mut stmt = conn.prepare(
        "SELECT id, purpose, contact_id, body, attempts, uncertain, created_at, channel, delivery_id FROM outbox
         WHERE status = 'pending' AND next_attempt_at <= ?1 ORDER BY id LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![ts(now), limit as i64], |row| {
        let created_at: String = row.get(6)?;
        let channel: String = row.get(7)?;
        Ok(Entry {
            delivery_id: row.get::<_, Option<String>>(8)?.unwrap_or_default(),
            channel: if channel == Channel::Webhook.as_str() { Channel::Webhook } else { Channel::Sms },
            id: row.get(0)?,
            purpose: row.get(1)?,
            contact_id: row.get(2)?,
            body: row.get(3)?,
            attempts: row.get(4)?,
            uncertain: row.get(5)?,
            created_at: parse_ts(&created_at)?,
        })
    })?;
    let mut entries: Vec<Entry> = rows.collect::<rusqlite::Result<_>>()?;
    // A row an older release queued after a rollback has no id yet: it gets one now, kept
    // for its every attempt.
    for entry in entries.iter_mut().filter(|entry| entry.delivery_id.is_empty()) {
        entry.delivery_id = new_delivery_id(entry.created_at)?;
        conn.execute("UPDATE outbox SET delivery_id = ?2 WHERE id = ?1", params![entry.id, entry.delivery_id])?;
    }
    Ok(entries)
}

/// When the next pending row is due.
pub fn next_attempt(conn: &Connection) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> =
        conn.query_row("SELECT MIN(next_attempt_at) FROM outbox WHERE status = 'pending'", [], |row| row.get(0))?;
    text.map(|t| parse_ts(&t)).transpose()
}

/// Pending manager SMS (webhook rows are counted by `db::notify::counts`).
pub fn backlog(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("SELECT COUNT(*) FROM outbox WHERE status = 'pending' AND channel = 'sms'", [], |row| row.get(0))
}

/// Where one queued SMS stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The manager.
    pub contact_id: String,
    /// pending, sent, skipped or expired.
    pub status: String,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

/// Where the rows queued under `purpose` (and its numbered parts) stand, per manager.
pub fn progress(conn: &Connection, purpose: &str) -> rusqlite::Result<Vec<Progress>> {
    let mut statement = conn.prepare(
        "SELECT contact_id, status, last_error FROM outbox
         WHERE purpose = ?1 OR substr(purpose, 1, length(?1) + 1) = ?1 || ':' ORDER BY id",
    )?;
    let rows = statement.query_map([purpose], |row| {
        Ok(Progress { contact_id: row.get(0)?, status: row.get(1)?, last_error: row.get(2)? })
    })?;
    rows.collect()
}

/// Manager SMS that will never be sent, and the newest reason (e.g. "not sent: no GHL_TOKEN").
pub fn not_sent(conn: &Connection) -> rusqlite::Result<(i64, Option<String>)> {
    conn.query_row(
        "SELECT COUNT(*), (SELECT last_error FROM outbox WHERE status IN ('skipped', 'expired') AND channel = 'sms'
                           ORDER BY id DESC LIMIT 1)
         FROM outbox WHERE status IN ('skipped', 'expired') AND channel = 'sms'",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}

/// Marks a row sent and applies what that means: an alert's issues are alerted, a digest's
/// watermark moves forward (never back).
pub fn mark_sent(conn: &Connection, id: i64, now: Timestamp, message_id: Option<&str>) -> rusqlite::Result<()> {
    let changed = conn.execute(
        "UPDATE outbox SET status = 'sent', sent_at = ?2, message_id = ?3, attempts = attempts + 1, last_error = NULL
         WHERE id = ?1 AND status = 'pending'",
        params![id, ts(now), message_id],
    )?;
    if changed == 0 {
        return Ok(());
    }
    let (issue_ids, watermark): (Option<String>, Option<String>) =
        conn.query_row("SELECT issue_ids, watermark FROM outbox WHERE id = ?1", [id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    for issue in issue_ids.iter().flat_map(|ids| ids.split(',')).filter_map(|id| id.parse::<i64>().ok()) {
        conn.execute(
            // A second alert after a snooze moves the time forward (SPEC §6, issue 24).
            "UPDATE issues SET alerted_at = ?2 WHERE id = ?1 AND (alerted_at IS NULL OR alerted_at < ?2)",
            params![issue, ts(now)],
        )?;
    }
    if let Some(watermark) = watermark {
        let current = kv_get(conn, WATERMARK_KEY)?;
        if current.as_deref().is_none_or(|current| current < watermark.as_str()) {
            kv_set(conn, WATERMARK_KEY, &watermark)?;
        }
    }
    Ok(())
}

/// Records a failed attempt; the row is tried again after a backoff.
/// Records what an attempt came to, and what a successful send means.
pub fn record(conn: &Connection, id: i64, now: Timestamp, attempt: &Attempt) -> rusqlite::Result<()> {
    match attempt {
        Attempt::Sent(message_id) => mark_sent(conn, id, now, message_id.as_deref()),
        Attempt::Skipped(reason) => mark_skipped(conn, id, reason),
        Attempt::Failed(error) => mark_failed(conn, id, now, error),
        Attempt::Uncertain(error) => {
            conn.execute("UPDATE outbox SET uncertain = 1 WHERE id = ?1", [id])?;
            mark_failed(conn, id, now, error)
        }
    }
}

/// Records a failed attempt; the row waits longer after each (30 s up to 30 min).
pub fn mark_failed(conn: &Connection, id: i64, now: Timestamp, error: &str) -> rusqlite::Result<()> {
    let attempts: i64 = conn.query_row("SELECT attempts FROM outbox WHERE id = ?1", [id], |row| row.get(0))?;
    // 30 s, 1 min, 2 min … up to 30 min between attempts.
    let backoff = SignedDuration::from_secs(30 * (1i64 << attempts.clamp(0, 6))).min(SignedDuration::from_mins(30));
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3 WHERE id = ?1 AND status = 'pending'",
        params![id, error, ts(now + backoff)],
    )?;
    Ok(())
}

/// Records a row that will never be sent (no GHL token), with the reason.
pub fn mark_skipped(conn: &Connection, id: i64, reason: &str) -> rusqlite::Result<()> {
    conn.execute(
        "UPDATE outbox SET status = 'skipped', last_error = ?2 WHERE id = ?1 AND status = 'pending'",
        params![id, reason],
    )?;
    release_unsent_alerts(conn)
}

/// Gives up on rows past their expiry. An alert nobody received frees its issues, so the
/// next alert includes them again.
fn expire(conn: &Connection, now: Timestamp) -> rusqlite::Result<()> {
    let expired =
        conn.execute("UPDATE outbox SET status = 'expired' WHERE status = 'pending' AND expires_at <= ?1", [ts(now)])?;
    if expired > 0 {
        tracing::warn!(expired, "outbox entries expired unsent");
        release_unsent_alerts(conn)?;
    }
    Ok(())
}

fn release_unsent_alerts(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute(
        // Also an issue alerted before: its alert after a snooze may be the one that expired.
        "UPDATE issues SET alert_purpose = NULL
         WHERE alert_purpose IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM outbox WHERE outbox.purpose = issues.alert_purpose AND status IN ('pending', 'sent'))",
        [],
    )?;
    Ok(())
}

/// Rewrites sign-in texts an earlier version queued with their token in clear: none keeps its
/// token, and one not yet sent is not sent (the manager texts `Pin` again).
pub fn scrub_texted_links(conn: &Connection) -> rusqlite::Result<usize> {
    let mut stmt = conn.prepare("SELECT id, body, status FROM outbox WHERE body LIKE '%/console/link?token=%'")?;
    let rows = stmt
        .query_map([], |row| Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, row.get::<_, String>(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut scrubbed = 0;
    for (id, body, status) in rows {
        let clean = super::console::shown_body(&body).replace(super::console::TOKEN_SHOWN, super::console::TOKEN_SLOT);
        if clean == body {
            continue;
        }
        scrubbed += exec(conn, "UPDATE outbox SET body = ?1 WHERE id = ?2", params![clean, id])?;
        if status == "pending" {
            mark_skipped(conn, id, "a sign-in link kept in clear by an earlier version")?;
        }
    }
    Ok(scrubbed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::open_in_memory;

    fn at(text: &str) -> Timestamp {
        text.parse().expect("instant")
    }

    fn entry<'a>(purpose: &'a str, contact: &'a str, watermark: Option<Timestamp>) -> NewEntry<'a> {
        NewEntry {
            purpose,
            contact_id: contact,
            body: "hi",
            expires_at: at("2026-03-02T20:00:00Z"),
            issue_ids: None,
            watermark,
        }
    }

    #[test]
    fn the_same_purpose_is_queued_once_per_recipient() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        let now = at("2026-03-02T14:00:00Z");
        assert!(enqueue(&conn, &entry("digest:2026-03-02:morning", "m1", None), now)?);
        assert!(!enqueue(&conn, &entry("digest:2026-03-02:morning", "m1", None), now)?);
        assert!(enqueue(&conn, &entry("digest:2026-03-02:morning", "m2", None), now)?);
        assert_eq!(due(&conn, now, 10, &[])?.len(), 2);
        Ok(())
    }

    #[test]
    fn a_long_text_is_queued_in_named_parts_once() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        let now = at("2026-03-02T14:00:00Z");
        let long = "word ".repeat(1000);
        let text = NewEntry { body: &long, ..entry("reply:7", "m1", None) };
        assert!(enqueue_text(&conn, &text, now)?);
        assert!(!enqueue_text(&conn, &text, now)?, "queued once");
        let purposes: Vec<String> = due(&conn, now, 10, &[])?.into_iter().map(|row| row.purpose).collect();
        let total = purposes.len();
        assert!(total > 1, "{purposes:?}");
        let expected: Vec<String> = (1..=total).map(|n| format!("reply:7:{n}/{total}")).collect();
        assert_eq!(purposes, expected);
        assert_eq!(progress(&conn, "reply:7")?.len(), total, "every part is found by its purpose");
        let short = NewEntry { body: "ok", ..entry("reply:8", "m1", None) };
        enqueue_text(&conn, &short, now)?;
        assert_eq!(progress(&conn, "reply:8")?.len(), 1);
        Ok(())
    }

    #[test]
    fn a_failed_send_waits_and_the_watermark_moves_only_on_success() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        let now = at("2026-03-02T14:00:00Z");
        enqueue(&conn, &entry("digest:2026-03-02:morning", "m1", Some(now)), now)?;
        let id = due(&conn, now, 10, &[])?[0].id;
        mark_failed(&conn, id, now, "GHL unavailable")?;
        assert!(due(&conn, now, 10, &[])?.is_empty(), "backing off");
        assert_eq!(kv_get(&conn, WATERMARK_KEY)?, None, "not moved by a failure");
        let later = now + SignedDuration::from_secs(31);
        assert_eq!(due(&conn, later, 10, &[])?.len(), 1);
        mark_sent(&conn, id, later, Some("msg1"))?;
        assert_eq!(kv_get(&conn, WATERMARK_KEY)?, Some(ts(now)));
        assert!(due(&conn, later, 10, &[])?.is_empty(), "sent rows are never sent again");
        Ok(())
    }

    #[test]
    fn each_row_keeps_its_own_delivery_id_even_one_an_older_release_queued() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        let now = at("2026-03-02T14:00:00Z");
        enqueue(&conn, &entry("digest:2026-03-02:morning", "m1", None), now)?;
        enqueue(&conn, &entry("digest:2026-03-02:morning", "m2", None), now)?;
        // As a release before schema 13 queues it, after a rollback and an update again.
        conn.execute(
            "INSERT INTO outbox (purpose, contact_id, body, created_at, expires_at, next_attempt_at)
             VALUES ('reply:1', 'm1', 'hi', ?1, ?2, ?1)",
            params![ts(now), ts(now + SignedDuration::from_hours(2))],
        )?;
        let first: Vec<String> = due(&conn, now, 10, &[])?.into_iter().map(|row| row.delivery_id).collect();
        assert_eq!(first.len(), 3);
        assert!(first.iter().all(|id| id.len() == 36 && id.starts_with("019caed9-4300-7")), "{first:?}");
        assert!(first[0] != first[1] && first[1] != first[2], "{first:?}");
        let again: Vec<String> = due(&conn, now, 10, &[])?.into_iter().map(|row| row.delivery_id).collect();
        assert_eq!(again, first, "every attempt keeps the row's id");
        Ok(())
    }

    #[test]
    fn expired_rows_are_not_sent() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        enqueue(&conn, &entry("reply:1", "m1", None), at("2026-03-02T14:00:00Z"))?;
        assert!(due(&conn, at("2026-03-02T21:00:00Z"), 10, &[])?.is_empty());
        assert_eq!(backlog(&conn)?, 0);
        Ok(())
    }
}
