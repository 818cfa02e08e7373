//! The managers' console's tables (issue 17): managers and their PIN hashes, sessions, one-time
//! sign-in links, and what the console's buttons do to an issue.
//!
//! Tokens (a session's, a link's) are 32 random bytes, given out once and kept only as their
//! SHA-256, so a copy of the database signs no one in. A PIN hash is made and checked by the
//! console itself (`console::pin`), off the store's mailbox; here it is only text. Every action
//! writes a timeline entry naming the manager, in the same transaction as the change.

use base64::Engine as _;
use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, OptionalExtension as _, params};
use serde::Serialize;

use super::{exec, issues, parse_ts, settle, ts};
use crate::domain::calendar::Calendar;
use crate::domain::event::Status;

/// How long a sign-in link sent by SMS can be used.
pub const LINK_LIFETIME: SignedDuration = SignedDuration::from_mins(15);

/// A manager who may sign in with a PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manager {
    /// Row id.
    pub id: i64,
    /// The name shown in the timeline; unique, case-insensitively.
    pub name: String,
    /// The manager's GHL contact id.
    pub contact_id: String,
    /// The PIN's salted hash, as `console::pin` writes it.
    #[serde(skip)]
    pub pin_hash: String,
    /// When the manager was added.
    pub created_at: Timestamp,
}

/// A signed-in manager's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The manager's name, for the timeline.
    pub manager: String,
    /// The manager's GHL contact id.
    pub contact_id: String,
    /// The token every form of this session carries (CSRF).
    pub csrf: String,
    /// When the session ends.
    pub expires_at: Timestamp,
}

/// A new session: its token, given out once as the cookie, and the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The cookie's value; only its hash is stored.
    pub token: String,
    /// The session it opens.
    pub session: Session,
}

/// What a console button does to one issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Resolve it.
    Resolve,
    /// Mark it spam and put its phone on the spam list.
    Spam,
    /// Append a note to its timeline.
    Note(String),
    /// Keep it live and let it fall due again at this instant.
    Snooze(Timestamp),
}

/// What came of an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acted {
    /// It was done; whether due times changed, so the SLA clock must look again.
    Done {
        /// Due times or live issues changed.
        deadlines: bool,
    },
    /// No such issue.
    NotFound,
    /// The issue is no longer live (resolved or spam), so only a note can be added.
    NotLive(Status),
}

/// A webhook Sentinel kept about an issue: when it came, on which route, and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownMessage {
    /// When it arrived.
    pub received_at: Timestamp,
    /// The route it came on (`inbound_sms`, `events`, ...).
    pub route: String,
    /// The body as received.
    pub body: String,
}

/// A manager SMS in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// When it was queued.
    pub created_at: Timestamp,
    /// When it went out, if it did.
    pub sent_at: Option<Timestamp>,
    /// The manager's contact id.
    pub contact_id: String,
    /// What it was for (`digest:…`, `alert:…`, a command's reply, …).
    pub purpose: String,
    /// `pending`, `sent`, `expired` or `skipped`.
    pub status: String,
    /// The text.
    pub body: String,
}

/// A new random token: 32 bytes, base64url.
pub fn new_token() -> rusqlite::Result<String> {
    let mut bytes = [0u8; 32];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| rusqlite::Error::ToSqlConversionFailure("no randomness for a token".into()))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

// === managers ===

/// Adds a manager; fails when the name is taken.
pub fn add_manager(
    conn: &Connection,
    name: &str,
    contact_id: &str,
    pin_hash: &str,
    now: Timestamp,
) -> rusqlite::Result<i64> {
    exec(
        conn,
        "INSERT INTO managers (name, contact_id, pin_hash, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![name, contact_id, pin_hash, ts(now)],
    )?;
    Ok(conn.last_insert_rowid())
}

/// Every manager, by name.
pub fn managers(conn: &Connection) -> rusqlite::Result<Vec<Manager>> {
    let mut stmt =
        conn.prepare("SELECT id, name, contact_id, pin_hash, created_at FROM managers ORDER BY name COLLATE NOCASE")?;
    let rows = stmt.query_map([], manager_row)?;
    rows.collect()
}

/// The manager of this name (case-insensitive).
pub fn manager_named(conn: &Connection, name: &str) -> rusqlite::Result<Option<Manager>> {
    conn.query_row(
        "SELECT id, name, contact_id, pin_hash, created_at FROM managers WHERE name = ?1",
        [name.trim()],
        manager_row,
    )
    .optional()
}

/// Removes a manager and ends their sessions; false when there was none of that name.
pub fn remove_manager(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    let Some(manager) = manager_named(conn, name)? else { return Ok(false) };
    exec(conn, "DELETE FROM console_sessions WHERE manager = ?1", [&manager.name])?;
    exec(conn, "DELETE FROM managers WHERE id = ?1", [manager.id])?;
    Ok(true)
}

fn manager_row(row: &rusqlite::Row) -> rusqlite::Result<Manager> {
    Ok(Manager {
        id: row.get(0)?,
        name: row.get(1)?,
        contact_id: row.get(2)?,
        pin_hash: row.get(3)?,
        created_at: parse_ts(&row.get::<_, String>(4)?)?,
    })
}

/// The name a manager texting from `contact_id` signs in under: their name in the managers
/// table, else their GHL name, else the contact id.
pub fn name_for_contact(conn: &Connection, contact_id: &str, ghl_name: Option<&str>) -> rusqlite::Result<String> {
    let known: Option<String> = conn
        .query_row("SELECT name FROM managers WHERE contact_id = ?1 ORDER BY id LIMIT 1", [contact_id], |row| {
            row.get(0)
        })
        .optional()?;
    let ghl_name = ghl_name.map(str::trim).filter(|name| !name.is_empty());
    Ok(known.or(ghl_name.map(str::to_string)).unwrap_or_else(|| contact_id.to_string()))
}

/// Whether `contact_id` is in the managers table.
pub fn is_manager_contact(conn: &Connection, contact_id: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM managers WHERE contact_id = ?1)", [contact_id], |row| row.get(0))
}

// === sessions and links ===

/// Opens a session for `manager`, lasting `lifetime`; ended sessions are dropped on the way.
pub fn create_session(
    conn: &Connection,
    manager: &str,
    contact_id: &str,
    now: Timestamp,
    lifetime: SignedDuration,
) -> rusqlite::Result<Grant> {
    exec(conn, "DELETE FROM console_sessions WHERE expires_at <= ?1", [ts(now)])?;
    let (token, csrf) = (new_token()?, new_token()?);
    let expires_at = now + lifetime;
    exec(
        conn,
        "INSERT INTO console_sessions (token_hash, manager, contact_id, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![token_hash(&token), manager, contact_id, csrf, ts(now), ts(expires_at)],
    )?;
    let session = Session { manager: manager.to_string(), contact_id: contact_id.to_string(), csrf, expires_at };
    Ok(Grant { token, session })
}

/// The session of a cookie's token, unless it has ended by `now`.
pub fn session(conn: &Connection, token: &str, now: Timestamp) -> rusqlite::Result<Option<Session>> {
    conn.query_row(
        "SELECT manager, contact_id, csrf, expires_at FROM console_sessions WHERE token_hash = ?1 AND expires_at > ?2",
        params![token_hash(token), ts(now)],
        |row| {
            Ok(Session {
                manager: row.get(0)?,
                contact_id: row.get(1)?,
                csrf: row.get(2)?,
                expires_at: parse_ts(&row.get::<_, String>(3)?)?,
            })
        },
    )
    .optional()
}

/// Ends a session (signing out).
pub fn end_session(conn: &Connection, token: &str) -> rusqlite::Result<()> {
    exec(conn, "DELETE FROM console_sessions WHERE token_hash = ?1", [token_hash(token)])?;
    Ok(())
}

/// A one-time sign-in link's token for `manager`, usable for [`LINK_LIFETIME`].
pub fn create_link(conn: &Connection, manager: &str, contact_id: &str, now: Timestamp) -> rusqlite::Result<String> {
    exec(conn, "DELETE FROM console_links WHERE expires_at <= ?1", [ts(now)])?;
    let token = new_token()?;
    exec(
        conn,
        "INSERT INTO console_links (token_hash, manager, contact_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash(&token), manager, contact_id, ts(now), ts(now + LINK_LIFETIME)],
    )?;
    Ok(token)
}

/// Whose sign-in link this is, if it can still be used (the link is not used up by looking).
pub fn link_owner(conn: &Connection, token: &str, now: Timestamp) -> rusqlite::Result<Option<String>> {
    conn.query_row(
        "SELECT manager FROM console_links WHERE token_hash = ?1 AND expires_at > ?2",
        params![token_hash(token), ts(now)],
        |row| row.get(0),
    )
    .optional()
}

/// Uses up a sign-in link and opens its session; `None` when it is unknown, used or expired.
pub fn redeem_link(
    conn: &Connection,
    token: &str,
    now: Timestamp,
    lifetime: SignedDuration,
) -> rusqlite::Result<Option<Grant>> {
    let found: Option<(String, String)> = conn
        .query_row(
            "SELECT manager, contact_id FROM console_links WHERE token_hash = ?1 AND expires_at > ?2",
            params![token_hash(token), ts(now)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    let Some((manager, contact_id)) = found else { return Ok(None) };
    exec(conn, "DELETE FROM console_links WHERE token_hash = ?1", [token_hash(token)])?;
    create_session(conn, &manager, &contact_id, now, lifetime).map(Some)
}

// === actions ===

/// Carries out `action` on issue `id` for `manager`, with a timeline entry naming them.
pub fn act(
    conn: &Connection,
    id: i64,
    action: &Action,
    manager: &str,
    calendar: &Calendar,
    now: Timestamp,
) -> rusqlite::Result<Acted> {
    let Some(issue) = issues::get(conn, id)? else { return Ok(Acted::NotFound) };
    let by = actor(manager);
    let live = matches!(issue.status, Status::Pending | Status::Open);
    if !live && !matches!(action, Action::Note(_)) {
        return Ok(Acted::NotLive(issue.status));
    }
    match action {
        Action::Resolve => {
            issues::resolve(conn, id, now, &by, "resolved in the console")?;
        }
        Action::Spam => {
            if let Some(phone) = &issue.phone {
                settle::mark_spam(conn, phone, &by, now)?;
            }
            issues::mark_spam(conn, id, now, &by)?;
        }
        Action::Note(text) => {
            issues::add_timeline(conn, id, now, "note", &by, text)?;
            return Ok(Acted::Done { deadlines: false });
        }
        Action::Snooze(until) => {
            exec(
                conn,
                "UPDATE issues SET status = 'PENDING', due_at = ?2, snoozed_until = ?2, alert_purpose = NULL,
                                   alerted_at = NULL
                 WHERE id = ?1",
                params![id, ts(*until)],
            )?;
            let detail =
                format!("falls due again {} (was due {})", calendar.stamp(*until), calendar.stamp(issue.due_at));
            issues::add_timeline(conn, id, now, "snoozed", &by, &detail)?;
        }
    }
    Ok(Acted::Done { deadlines: true })
}

/// How the timeline names a manager who acted in the console.
pub fn actor(manager: &str) -> String {
    format!("console:{manager}")
}

/// Ids of snoozed PENDING issues, whose due time a change of hours must leave alone.
pub fn snoozed(conn: &Connection) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = conn.prepare("SELECT id FROM issues WHERE status = 'PENDING' AND snoozed_until IS NOT NULL")?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    rows.collect()
}

// === what the pages show ===

/// The webhooks that created or repeated issue `id`, oldest first (those not pruned yet).
pub fn messages(conn: &Connection, id: i64) -> rusqlite::Result<Vec<KnownMessage>> {
    let mut stmt = conn.prepare(
        "SELECT received_at, route, body FROM raw_events
         WHERE (outcome = ?1 OR outcome LIKE ?2) AND body != '' ORDER BY received_at, id LIMIT 50",
    )?;
    let created = format!("issue {id} created");
    let repeat = format!("issue {id} repeat %");
    let rows = stmt.query_map(params![created, repeat], |row| {
        Ok(KnownMessage { received_at: parse_ts(&row.get::<_, String>(0)?)?, route: row.get(1)?, body: row.get(2)? })
    })?;
    rows.collect()
}

/// Manager SMS queued since `since`, newest first.
pub fn sms_since(conn: &Connection, since: Timestamp) -> rusqlite::Result<Vec<Sms>> {
    let mut stmt = conn.prepare(
        "SELECT created_at, sent_at, contact_id, purpose, status, body FROM outbox
         WHERE channel = 'sms' AND (created_at >= ?1 OR sent_at >= ?1) ORDER BY created_at DESC, id DESC LIMIT 100",
    )?;
    let rows = stmt.query_map([ts(since)], |row| {
        Ok(Sms {
            created_at: parse_ts(&row.get::<_, String>(0)?)?,
            sent_at: row.get::<_, Option<String>>(1)?.map(|at| parse_ts(&at)).transpose()?,
            contact_id: row.get(2)?,
            purpose: row.get(3)?,
            status: row.get(4)?,
            body: row.get(5)?,
        })
    })?;
    rows.collect()
}
