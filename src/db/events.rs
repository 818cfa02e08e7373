//! Raw webhook events: stored before any decision, deduplicated, pruned after retention.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension as _, params};

use super::{exec, one, ts};

/// A webhook as received, ready to be stored.
#[derive(Debug, Clone)]
pub struct RawEvent {
    /// When it arrived.
    pub received_at: Timestamp,
    /// Which route it came to.
    pub route: &'static str,
    /// `webhook:<id>` and `message:<id>`, for each id the payload carries; any one seen before
    /// makes the delivery a duplicate.
    pub idem_keys: Vec<String>,
    /// Hash of route and body, for deliveries without ids.
    pub body_hash: String,
    /// The body as received (form bodies as their JSON reading).
    pub body: String,
}

/// Whether a raw event was new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Stored with this row id.
    New(i64),
    /// Seen before: nothing was stored.
    Duplicate,
}

/// An identical body for the same route within this window is a retried delivery (SPEC §3.2).
pub const BODY_DEDUPE_WINDOW: SignedDuration = SignedDuration::from_mins(2);

/// Stores the event unless it was seen before: by any of its ids, or, without ids, by an
/// identical body for the same route within [`BODY_DEDUPE_WINDOW`].
pub fn record(conn: &Connection, event: &RawEvent) -> rusqlite::Result<Recorded> {
    if event.idem_keys.is_empty() {
        let since = event.received_at - BODY_DEDUPE_WINDOW;
        let seen: Option<i64> = one(
            conn,
            "SELECT id FROM raw_events WHERE route = ?1 AND body_hash = ?2 AND received_at >= ?3 AND body = ?4 LIMIT 1",
            params![event.route, event.body_hash, ts(since), event.body],
            |row| row.get(0),
        )
        .optional()?;
        if seen.is_some() {
            return Ok(Recorded::Duplicate);
        }
    }
    for key in &event.idem_keys {
        let seen: Option<i64> =
            one(conn, "SELECT event_id FROM event_keys WHERE key = ?1", [key], |row| row.get(0)).optional()?;
        if seen.is_some() {
            return Ok(Recorded::Duplicate);
        }
    }
    exec(
        conn,
        "INSERT INTO raw_events (received_at, route, idem_key, body_hash, body) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![ts(event.received_at), event.route, event.idem_keys.first(), event.body_hash, event.body],
    )?;
    let id = conn.last_insert_rowid();
    for key in &event.idem_keys {
        exec(conn, "INSERT OR IGNORE INTO event_keys (key, event_id) VALUES (?1, ?2)", params![key, id])?;
    }
    Ok(Recorded::New(id))
}

/// Keeps an event for judging later, with the clock reading that dates it (issue 15).
pub fn defer(conn: &Connection, id: i64, boot_id: &str, monotonic_ms: i64) -> rusqlite::Result<()> {
    exec(
        conn,
        "INSERT INTO deferred_events (event_id, boot_id, monotonic_ms) VALUES (?1, ?2, ?3)",
        params![id, boot_id, monotonic_ms],
    )?;
    Ok(())
}

/// An event stored while the wall clock was not believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// The raw event's id.
    pub id: i64,
    /// Its route.
    pub route: String,
    /// Its body as stored.
    pub body: String,
    /// The boot it arrived in (`/proc/sys/kernel/random/boot_id`).
    pub boot_id: String,
    /// The monotonic clock then, in milliseconds since that boot.
    pub monotonic_ms: i64,
}

/// The deferred events, oldest first.
pub fn deferred(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<Deferred>> {
    let mut statement = conn.prepare(
        "SELECT e.id, e.route, e.body, d.boot_id, d.monotonic_ms FROM deferred_events d
         JOIN raw_events e ON e.id = d.event_id ORDER BY e.id LIMIT ?1",
    )?;
    let rows = statement.query_map([limit as i64], |row| {
        Ok(Deferred {
            id: row.get(0)?,
            route: row.get(1)?,
            body: row.get(2)?,
            boot_id: row.get(3)?,
            monotonic_ms: row.get(4)?,
        })
    })?;
    rows.collect()
}

/// Takes an event off the deferred list, dated `arrived`.
pub fn undefer(conn: &Connection, id: i64, arrived: Timestamp) -> rusqlite::Result<()> {
    exec(conn, "DELETE FROM deferred_events WHERE event_id = ?1", [id])?;
    exec(conn, "UPDATE raw_events SET received_at = ?2 WHERE id = ?1", params![id, ts(arrived)])?;
    Ok(())
}

/// Records what became of an event (`issue 12 created`, `ignored: spam`, ...).
pub fn set_outcome(conn: &Connection, id: i64, outcome: &str) -> rusqlite::Result<()> {
    exec(conn, "UPDATE raw_events SET outcome = ?2 WHERE id = ?1", params![id, outcome])?;
    Ok(())
}

/// How long an event's duplicate keys are kept at the least, whatever the retention or the
/// data budget says: an event whose only proof is GHL's signature is believed for a day after
/// it was signed (`http::auth::SIGNED_MAX_AGE`), and a replay within that day must still meet
/// its keys (issue 23). The keys go with their raw event, so the raw event stays as long.
pub const KEYS_KEPT_FOR: SignedDuration = SignedDuration::from_hours(25);

/// Counts (and unless `dry_run`, deletes) raw events received before `before`, and never one
/// received within [`KEYS_KEPT_FOR`] of `now`.
pub fn prune(conn: &Connection, before: Timestamp, now: Timestamp, dry_run: bool) -> rusqlite::Result<usize> {
    // An event still waiting for the time is never pruned: its date is not known yet.
    const OLD: &str = "received_at < ?1 AND id NOT IN (SELECT event_id FROM deferred_events)";
    let before = ts(before.min(now - KEYS_KEPT_FOR));
    if dry_run {
        one(conn, &format!("SELECT COUNT(*) FROM raw_events WHERE {OLD}"), [&before], |row| {
            row.get::<_, i64>(0).map(|n| n as usize)
        })
    } else {
        exec(
            conn,
            &format!("DELETE FROM event_keys WHERE event_id IN (SELECT id FROM raw_events WHERE {OLD})"),
            [&before],
        )?;
        exec(conn, &format!("DELETE FROM raw_events WHERE {OLD}"), [&before])
    }
}

/// Bytes the database's live pages take (free pages inside the file do not count: SQLite
/// reuses them before the file grows).
pub fn used_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |row| row.get(0))?;
    let free: i64 = conn.query_row("PRAGMA freelist_count", [], |row| row.get(0))?;
    let size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
    Ok(((pages - free).max(0) * size) as u64)
}

/// What [`prune_to_fit`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Fitted {
    /// Raw events deleted with their keys.
    pub deleted: usize,
    /// Raw events younger than [`KEYS_KEPT_FOR`] whose bodies were dropped, their rows and
    /// keys kept.
    pub emptied: usize,
}

/// Deletes the oldest raw events, a batch at a time, until the database's live pages take at
/// most `limit` bytes or none are left to delete; an event waiting for the time is kept. An
/// event received within [`KEYS_KEPT_FOR`] of `now` is not deleted: only its body goes,
/// oldest first, and its row and keys stay until it is older. Issues, timelines and the outbox
/// are never touched: they are the record, the raw events only its evidence (`DATA_MAX_MB`,
/// issue 15).
pub fn prune_to_fit(conn: &Connection, limit: u64, now: Timestamp) -> rusqlite::Result<Fitted> {
    const BATCH: i64 = 500;
    let kept_since = ts(now - KEYS_KEPT_FOR);
    let mut fitted = Fitted::default();
    while used_bytes(conn)? > limit {
        let oldest =
            "SELECT id FROM raw_events WHERE received_at < ?2 AND id NOT IN (SELECT event_id FROM deferred_events)
                      ORDER BY received_at, id LIMIT ?1";
        exec(conn, &format!("DELETE FROM event_keys WHERE event_id IN ({oldest})"), params![BATCH, kept_since])?;
        let gone = exec(conn, &format!("DELETE FROM raw_events WHERE id IN ({oldest})"), params![BATCH, kept_since])?;
        if gone == 0 {
            break;
        }
        fitted.deleted += gone;
    }
    while used_bytes(conn)? > limit {
        let emptied = empty_bodies(conn, BATCH)?;
        if emptied == 0 {
            break;
        }
        fitted.emptied += emptied;
    }
    Ok(fitted)
}

/// Drops the bodies of the oldest `batch` raw events that still have one (not those waiting
/// for the time), keeping each row's id, so its keys still point at it. A row is deleted and
/// written again, all in one savepoint: emptied in place, the rows would keep their pages
/// (SQLite does not merge the b-tree's pages after an update), and nothing would be freed.
fn empty_bodies(conn: &Connection, batch: i64) -> rusqlite::Result<usize> {
    type Row = (i64, String, String, Option<String>, String, Option<String>);
    conn.execute_batch("SAVEPOINT empty_bodies")?;
    let emptied = (|| {
        let rows: Vec<Row> = conn
            .prepare(
                "SELECT id, received_at, route, idem_key, body_hash, outcome FROM raw_events
                 WHERE body != '' AND id NOT IN (SELECT event_id FROM deferred_events)
                 ORDER BY received_at, id LIMIT ?1",
            )?
            .query_map([batch], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        for (id, ..) in &rows {
            exec(conn, "DELETE FROM raw_events WHERE id = ?1", [id])?;
        }
        for (id, received_at, route, idem_key, body_hash, outcome) in &rows {
            exec(
                conn,
                "INSERT INTO raw_events (id, received_at, route, idem_key, body_hash, body, outcome)
                 VALUES (?1, ?2, ?3, ?4, ?5, '', ?6)",
                params![id, received_at, route, idem_key, body_hash, outcome],
            )?;
        }
        Ok(rows.len())
    })();
    match emptied {
        Ok(count) => conn.execute_batch("RELEASE empty_bodies").map(|()| count),
        Err(err) => {
            let _ = conn.execute_batch("ROLLBACK TO empty_bodies; RELEASE empty_bodies");
            Err(err)
        }
    }
}

/// A stored event as the status page lists it: when, which route, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Recent {
    /// When it arrived.
    pub received_at: Timestamp,
    /// The route it came to.
    pub route: String,
    /// What became of it (`issue 12 created`, `ignored: spam`, ...).
    pub outcome: Option<String>,
}

/// The newest `limit` events, newest first.
pub fn recent(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<Recent>> {
    let mut statement =
        conn.prepare("SELECT received_at, route, outcome FROM raw_events ORDER BY received_at DESC, id DESC LIMIT ?1")?;
    let rows = statement.query_map([limit as i64], |row| {
        let at: String = row.get(0)?;
        Ok((at, row.get::<_, String>(1)?, row.get::<_, Option<String>>(2)?))
    })?;
    rows.map(|row| {
        let (at, route, outcome) = row?;
        Ok(Recent { received_at: super::parse_ts(&at)?, route, outcome })
    })
    .collect()
}

/// The time of the newest webhook: what catch-up found is not one (SPEC §12).
pub fn last_received_at(conn: &Connection) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = one(
        conn,
        "SELECT received_at FROM raw_events WHERE route != 'catchup' ORDER BY received_at DESC LIMIT 1",
        [],
        |row| row.get(0),
    )
    .optional()?;
    text.map(|t| super::parse_ts(&t)).transpose()
}

/// The time of the newest raw event, webhook or caught up.
pub fn last_stored_at(conn: &Connection) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> = one(conn, "SELECT MAX(received_at) FROM raw_events", [], |row| row.get(0))?;
    text.map(|t| super::parse_ts(&t)).transpose()
}

/// A stored event as the replay reads it back.
#[derive(Debug, Clone)]
pub struct Stored {
    /// When it arrived.
    pub received_at: Timestamp,
    /// The route's name.
    pub route: String,
    /// Hash of route and body.
    pub body_hash: String,
    /// The body as stored.
    pub body: String,
}

/// Hands `each` the events received before `until` (all of them without it), in the order
/// received, until it answers `false`. Events still waiting for the time were never judged
/// live: they are left out, and so are those whose bodies the data budget took (only their
/// keys were kept).
pub fn each_judged<E: From<rusqlite::Error>>(
    conn: &Connection,
    until: Option<Timestamp>,
    mut each: impl FnMut(Stored) -> Result<bool, E>,
) -> Result<(), E> {
    let mut statement = conn.prepare(
        "SELECT received_at, route, body_hash, body FROM raw_events
         WHERE received_at < ?1 AND body != '' AND id NOT IN (SELECT event_id FROM deferred_events)
         ORDER BY received_at, id",
    )?;
    let until = until.map(ts).unwrap_or_else(|| "9999".to_string());
    let mut rows = statement.query([until])?;
    while let Some(row) = rows.next()? {
        let event = Stored {
            received_at: super::parse_ts(&row.get::<_, String>(0)?)?,
            route: row.get(1)?,
            body_hash: row.get(2)?,
            body: row.get(3)?,
        };
        if !each(event)? {
            break;
        }
    }
    Ok(())
}

/// FNV-1a over route and body: stable across releases and restarts, unlike std's hasher.
pub fn body_hash(route: &str, body: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in route.as_bytes().iter().chain([0u8].iter()).chain(body) {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::schema::open_in_memory;

    fn event(at: &str, idem_key: Option<&str>, body: &str) -> anyhow::Result<RawEvent> {
        keyed(at, idem_key.into_iter().collect(), body)
    }

    fn keyed(at: &str, keys: Vec<&str>, body: &str) -> anyhow::Result<RawEvent> {
        Ok(RawEvent {
            received_at: at.parse()?,
            route: "inbound_sms",
            idem_keys: keys.into_iter().map(Into::into).collect(),
            body_hash: body_hash("inbound_sms", body.as_bytes()),
            body: body.into(),
        })
    }

    #[test]
    fn ids_deduplicate_forever_bodies_for_two_minutes() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        assert!(matches!(record(&conn, &event("2026-03-02T15:00:00Z", Some("webhook:a"), "{}")?)?, Recorded::New(_)));
        assert_eq!(record(&conn, &event("2026-03-09T15:00:00Z", Some("webhook:a"), "{}")?)?, Recorded::Duplicate);
        let body = r#"{"contact_id":"c"}"#;
        assert!(matches!(record(&conn, &event("2026-03-02T15:00:00Z", None, body)?)?, Recorded::New(_)));
        assert_eq!(record(&conn, &event("2026-03-02T15:01:59Z", None, body)?)?, Recorded::Duplicate);
        assert!(matches!(record(&conn, &event("2026-03-02T15:04:00Z", None, body)?)?, Recorded::New(_)));
        Ok(())
    }

    #[test]
    fn the_same_message_under_a_new_webhook_id_is_a_duplicate() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        let first = keyed("2026-03-02T15:00:00Z", vec!["webhook:w1", "message:m1"], "{}")?;
        assert!(matches!(record(&conn, &first)?, Recorded::New(_)));
        let redelivered = keyed("2026-03-02T15:05:00Z", vec!["webhook:w2", "message:m1"], "{}")?;
        assert_eq!(record(&conn, &redelivered)?, Recorded::Duplicate);
        let other_message = keyed("2026-03-02T15:05:00Z", vec!["webhook:w3", "message:m2"], "{}")?;
        assert!(matches!(record(&conn, &other_message)?, Recorded::New(_)));
        // The duplicate left no key behind, so w2 is still unknown.
        assert!(matches!(record(&conn, &keyed("2026-03-02T15:06:00Z", vec!["webhook:w2"], "{}")?)?, Recorded::New(_)));
        Ok(())
    }

    #[test]
    fn prune_counts_then_deletes() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        record(&conn, &event("2026-01-01T00:00:00Z", Some("webhook:old"), "{}")?)?;
        record(&conn, &event("2026-03-01T00:00:00Z", Some("webhook:new"), "{}")?)?;
        let (cutoff, now) = ("2026-02-01T00:00:00Z".parse()?, "2026-03-02T00:00:00Z".parse()?);
        assert_eq!(prune(&conn, cutoff, now, true)?, 1);
        assert_eq!(prune(&conn, cutoff, now, true)?, 1, "a dry run changes nothing");
        assert_eq!(prune(&conn, cutoff, now, false)?, 1);
        assert_eq!(prune(&conn, cutoff, now, true)?, 0);
        // The pruned event's id is forgotten with it; the kept one's is not.
        assert!(matches!(record(&conn, &event("2026-03-02T00:00:00Z", Some("webhook:old"), "{}")?)?, Recorded::New(_)));
        assert_eq!(record(&conn, &event("2026-03-02T00:00:00Z", Some("webhook:new"), "{}")?)?, Recorded::Duplicate);
        Ok(())
    }

    /// A replay of a GHL-signed event is believed for a day after signing: its keys stay for
    /// [`KEYS_KEPT_FOR`] whatever the retention asked for or the data budget needs.
    #[test]
    fn keys_stay_for_a_day_whatever_is_pruned() -> anyhow::Result<()> {
        let conn = open_in_memory()?;
        let big = format!("{{\"text\": \"{}\"}}", "y".repeat(4000));
        record(&conn, &event("2026-03-01T10:00:00Z", Some("webhook:older"), &big)?)?;
        record(&conn, &event("2026-03-01T16:00:00Z", Some("webhook:young"), &big)?)?;
        let now: Timestamp = "2026-03-02T15:00:00Z".parse()?;
        // Even a retention of none (everything before now) spares the event received 23 hours
        // ago, and takes the one received 29 hours ago.
        assert_eq!(prune(&conn, now, now, false)?, 1, "only the one older than the keys' day");
        assert_eq!(record(&conn, &event("2026-03-02T15:00:00Z", Some("webhook:young"), "{}")?)?, Recorded::Duplicate);
        // Past the data budget, the young event loses its body and keeps its row and keys.
        record(&conn, &event("2026-03-02T14:00:00Z", Some("webhook:newest"), &big)?)?;
        let fitted = prune_to_fit(&conn, 0, now)?;
        assert_eq!(fitted, Fitted { deleted: 0, emptied: 2 });
        let bodies: i64 = one(&conn, "SELECT COUNT(*) FROM raw_events WHERE body != ''", [], |row| row.get(0))?;
        assert_eq!(bodies, 0);
        for key in ["webhook:young", "webhook:newest"] {
            assert_eq!(record(&conn, &event("2026-03-02T15:00:00Z", Some(key), "{}")?)?, Recorded::Duplicate, "{key}");
        }
        // A day on, they are old enough to go whole.
        let later = now + SignedDuration::from_hours(26);
        assert_eq!(prune_to_fit(&conn, 0, later)?.deleted, 2);
        Ok(())
    }
}
