//! Queueing notification webhooks (issue 18) in the outbox, beside the managers' SMS.
//!
//! Each target of `NOTIFY_WEBHOOK_URLS` that takes an event's kind gets one outbox row with
//! channel `webhook`: the URL in `contact_id`, the JSON body (from `domain::notify`) fixed at
//! queueing, and the purpose `hook:{purpose}`. The outbox's uniqueness per purpose and
//! recipient makes every delivery queued once however often the caller runs; the outbox
//! sender signs and POSTs them.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, params};

use super::{kv_get, kv_set, parse_ts, ts};
use crate::config::Config;
use crate::domain::notify::{self, EventKind};
use crate::domain::phone::mask_digits;

/// How long a delivery may wait for its receiver before it is given up.
const HOOK_EXPIRY: SignedDuration = SignedDuration::from_hours(24);

/// The resolutions before this instant were looked at for the `resolved` webhooks.
const RESOLVED_KEY: &str = "hook_resolved_since";

/// When resolutions were first looked at: those before it are history, never told.
const RESOLVED_START_KEY: &str = "hook_resolved_start";

/// Resolutions are looked for this far before the mark, in case one was dated a little early;
/// the outbox's uniqueness keeps them from being queued twice.
const RESOLVED_OVERLAP: SignedDuration = SignedDuration::from_hours(1);

/// Queues `text` about `kind` for every target that takes it; returns the rows queued now.
pub fn queue(
    conn: &Connection,
    config: &Config,
    kind: EventKind,
    purpose: &str,
    text: &str,
    now: Timestamp,
) -> rusqlite::Result<usize> {
    let mut queued = 0;
    for target in config.notify.targets.iter().filter(|target| target.takes(kind)) {
        let body = notify::body(target, kind, purpose, text, now);
        queued += conn.execute(
            "INSERT INTO outbox (purpose, contact_id, body, created_at, expires_at, next_attempt_at, channel, delivery_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?4, 'webhook', ?6) ON CONFLICT (purpose, contact_id) DO NOTHING",
            params![
                format!("hook:{purpose}"),
                target.url,
                body,
                ts(now),
                ts(now + HOOK_EXPIRY),
                super::outbox::new_delivery_id(now)?
            ],
        )?;
    }
    Ok(queued)
}

/// Queues a `resolved` delivery for each issue resolved since the last look. The first look
/// sets the mark at `now`: history is not replayed, but an issue resolved in the same
/// transaction as the first look is told. A delivery's purpose (`resolved:{id}`) makes a
/// second look at the same issue queue nothing. Returns the rows queued now.
pub fn queue_resolved(conn: &Connection, config: &Config, now: Timestamp) -> rusqlite::Result<usize> {
    if !config.notify.targets.iter().any(|target| target.takes(EventKind::Resolved)) {
        return Ok(0);
    }
    let since = match kv_get(conn, RESOLVED_KEY)?.map(|text| parse_ts(&text)).transpose()? {
        Some(since) => since,
        None => {
            kv_set(conn, RESOLVED_START_KEY, &ts(now))?;
            now
        }
    };
    let start = kv_get(conn, RESOLVED_START_KEY)?.map(|text| parse_ts(&text)).transpose()?.unwrap_or(since);
    let from = (since - RESOLVED_OVERLAP).max(start);
    let mut statement = conn.prepare(
        "SELECT id, kind, contact_name, phone, resolved_by FROM issues
         WHERE status = 'RESOLVED' AND resolved_at >= ?1 ORDER BY resolved_at, id",
    )?;
    let resolved = statement
        .query_map(params![ts(from)], |row| {
            // A manager-facing text masks the phone, as the digests do.
            let name: Option<String> = row.get(2)?;
            let phone: Option<String> = row.get(3)?;
            let who = name.or_else(|| phone.map(|phone| mask_digits(&phone))).unwrap_or_else(|| "?".to_string());
            Ok((row.get::<_, i64>(0)?, row.get::<_, String>(1)?, who, row.get(4)?))
        })?
        .collect::<rusqlite::Result<Vec<(i64, String, String, Option<String>)>>>()?;
    let mut queued = 0;
    for (id, kind, who, by) in resolved {
        let by = by.unwrap_or_else(|| "unknown".to_string());
        let text = format!("Issue #{id} resolved ({kind}, {who}): {by}");
        queued += queue(conn, config, EventKind::Resolved, &format!("resolved:{id}"), &text, now)?;
    }
    if now > since || kv_get(conn, RESOLVED_KEY)?.is_none() {
        kv_set(conn, RESOLVED_KEY, &ts(now))?;
    }
    Ok(queued)
}

/// Webhook rows waiting to be sent, and those given up (expired).
pub fn counts(conn: &Connection) -> rusqlite::Result<(i64, i64)> {
    conn.query_row(
        "SELECT COALESCE(SUM(status = 'pending'), 0), COALESCE(SUM(status IN ('skipped', 'expired')), 0)
         FROM outbox WHERE channel = 'webhook'",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}
