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
use crate::domain::phone::Phone;

/// How long a sign-in link sent by SMS can be used.
pub const LINK_LIFETIME: SignedDuration = SignedDuration::from_mins(15);

/// The outbox purpose of a texted sign-in link (the inbound `Pin`'s own purpose follows).
pub const SIGN_IN_PURPOSE: &str = "signin:";
/// Stands in a queued sign-in text for its link's token. The token is made only as the text
/// goes out ([`mint_texted_link`]) and kept only as its hash, so no page, backup or copy of
/// the database ever holds a link that signs anyone in.
pub const TOKEN_SLOT: &str = "{one-time-token}";
/// What pages show in place of a texted link's token.
pub const TOKEN_SHOWN: &str = "(link sent only to this manager)";

/// `body` as a page may show it: a sign-in link's token slot (or a token an earlier version
/// kept in clear) is never shown.
pub fn shown_body(body: &str) -> String {
    const LINK: &str = "/console/link?token=";
    let body = body.replace(TOKEN_SLOT, TOKEN_SHOWN);
    let mut shown = String::with_capacity(body.len());
    let mut rest = body.as_str();
    while let Some(at) = rest.find(LINK) {
        let start = at + LINK.len();
        // A token is base64url: it ends at the first other character (a space, a quote in JSON).
        let end = rest[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .map_or(rest.len(), |len| start + len);
        shown.push_str(&rest[..start]);
        if end > start {
            shown.push_str(TOKEN_SHOWN);
        }
        rest = &rest[end..];
    }
    shown.push_str(rest);
    shown
}

/// `text` with any sign-in link's token masked, for what is stored of a webhook.
pub fn without_tokens(text: String) -> String {
    if text.contains("/console/link?token=") { shown_body(&text) } else { text }
}

fn link_name_key(contact_id: &str) -> String {
    format!("signin_name:{contact_id}")
}

/// Queues nothing itself: remembers the name a texted link for `contact_id` signs in under,
/// for [`mint_texted_link`] when the text goes out.
pub fn promise_link(conn: &Connection, name: &str, contact_id: &str) -> rusqlite::Result<()> {
    super::kv_set(conn, &link_name_key(contact_id), name)
}

/// Makes the link of a queued sign-in text as it goes out: a new token in place of
/// [`TOKEN_SLOT`], stored only as its hash. `None` when the recipient is no longer a manager:
/// removed from the table since (which withdraws the promise), or no longer configured. Each
/// attempt makes a new link; an unused one expires.
pub fn mint_texted_link(
    conn: &Connection,
    contact_id: &str,
    body: &str,
    managers_by_config: &[String],
    now: Timestamp,
) -> rusqlite::Result<Option<String>> {
    let Some(name) = super::kv_get(conn, &link_name_key(contact_id))? else { return Ok(None) };
    let in_table = manager_named(conn, &name)?.is_some();
    if !in_table && !managers_by_config.iter().any(|id| id == contact_id) {
        return Ok(None);
    }
    let token = create_link(conn, &name, contact_id, now)?;
    Ok(Some(body.replace(TOKEN_SLOT, &token)))
}

/// A manager who may sign in with a PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manager {
    /// Row id.
    pub id: i64,
    /// The name shown in the timeline; unique, case-insensitively.
    pub name: String,
    /// The manager's GHL contact id; empty when only their phone is known.
    pub contact_id: String,
    /// The manager's phone, normalised; a text from it is a command like one from the contact.
    pub phone: Option<String>,
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
    /// The recipient's name, when the managers table knows it.
    pub manager: Option<String>,
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

/// Adds a manager known by GHL contact id (empty when unknown), phone, or both; fails when the
/// name is taken.
pub fn add_manager(
    conn: &Connection,
    name: &str,
    contact_id: &str,
    phone: Option<&Phone>,
    pin_hash: &str,
    now: Timestamp,
) -> rusqlite::Result<i64> {
    exec(conn, INSERT_MANAGER, params![name, contact_id, phone.map(Phone::as_str), pin_hash, ts(now)])?;
    Ok(conn.last_insert_rowid())
}

const INSERT_MANAGER: &str =
    "INSERT INTO managers (name, contact_id, phone, pin_hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";

/// Copies every manager of `from` into `into` as stored (the replay's database, so that their
/// texts are commands there too, issue 24). A file too old to have the table (or the phone
/// column) has none to copy, or none known by phone.
pub fn copy_managers(from: &Connection, into: &Connection) -> rusqlite::Result<()> {
    // name, contact id, phone, PIN hash, when added.
    type Row = (String, String, Option<String>, String, String);
    let read = |sql: &str| -> rusqlite::Result<Vec<Row>> {
        let mut statement = from.prepare(sql)?;
        let rows =
            statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))?;
        rows.collect()
    };
    let managers = read("SELECT name, contact_id, phone, pin_hash, created_at FROM managers")
        .or_else(|_| read("SELECT name, contact_id, NULL, pin_hash, created_at FROM managers"))
        .unwrap_or_default();
    for manager in managers {
        into.execute(INSERT_MANAGER, params![manager.0, manager.1, manager.2, manager.3, manager.4])?;
    }
    Ok(())
}

/// The columns [`manager_row`] reads.
const MANAGER_COLUMNS: &str = "id, name, contact_id, phone, pin_hash, created_at";

/// Every manager, by name.
pub fn managers(conn: &Connection) -> rusqlite::Result<Vec<Manager>> {
    let mut stmt = conn.prepare(&format!("SELECT {MANAGER_COLUMNS} FROM managers ORDER BY name COLLATE NOCASE"))?;
    let rows = stmt.query_map([], manager_row)?;
    rows.collect()
}

/// The manager of this name (case-insensitive).
pub fn manager_named(conn: &Connection, name: &str) -> rusqlite::Result<Option<Manager>> {
    conn.query_row(&format!("SELECT {MANAGER_COLUMNS} FROM managers WHERE name = ?1"), [name.trim()], manager_row)
        .optional()
}

/// The manager a text from `contact_id` or `phone` comes from, if any: the one whose contact id
/// or phone it is (the first added, should two match).
pub fn manager_for_sender(
    conn: &Connection,
    contact_id: Option<&str>,
    phone: Option<&Phone>,
) -> rusqlite::Result<Option<Manager>> {
    conn.prepare_cached(&format!(
        "SELECT {MANAGER_COLUMNS} FROM managers
         WHERE (contact_id <> '' AND contact_id = ?1) OR phone = ?2 ORDER BY id LIMIT 1"
    ))?
    .query_row(params![contact_id, phone.map(Phone::as_str)], manager_row)
    .optional()
}

/// Whether a text from `contact_id` or `phone` comes from a manager in the managers table; asked
/// for every inbound message, so it goes through the statement cache.
pub fn is_manager_sender(conn: &Connection, contact_id: Option<&str>, phone: Option<&Phone>) -> rusqlite::Result<bool> {
    if contact_id.is_none() && phone.is_none() {
        return Ok(false);
    }
    super::one(
        conn,
        "SELECT EXISTS (SELECT 1 FROM managers WHERE (contact_id <> '' AND contact_id = ?1) OR phone = ?2)",
        params![contact_id, phone.map(Phone::as_str)],
        |row| row.get(0),
    )
}

/// The GHL contact ids of the managers in the managers table (those known by one).
pub fn manager_contact_ids(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt =
        conn.prepare_cached("SELECT DISTINCT contact_id FROM managers WHERE contact_id <> '' ORDER BY id")?;
    let rows = stmt.query_map([], |row| row.get(0))?;
    rows.collect()
}

/// Removes a manager and ends their sessions and unused sign-in links (a texted link not yet
/// sent is not sent); false when there was none of that name.
pub fn remove_manager(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    let Some(manager) = manager_named(conn, name)? else { return Ok(false) };
    exec(conn, "DELETE FROM console_sessions WHERE manager = ?1", [&manager.name])?;
    exec(
        conn,
        "DELETE FROM console_links WHERE manager = ?1 OR contact_id = ?2",
        [&manager.name, &manager.contact_id],
    )?;
    exec(conn, "DELETE FROM kv WHERE key LIKE 'signin_name:%' AND value = ?1", [&manager.name])?;
    exec(conn, "DELETE FROM managers WHERE id = ?1", [manager.id])?;
    Ok(true)
}

fn manager_row(row: &rusqlite::Row) -> rusqlite::Result<Manager> {
    Ok(Manager {
        id: row.get(0)?,
        name: row.get(1)?,
        contact_id: row.get(2)?,
        phone: row.get(3)?,
        pin_hash: row.get(4)?,
        created_at: parse_ts(&row.get::<_, String>(5)?)?,
    })
}

/// The name a manager texting from `contact_id` (or `phone`) signs in under: their name in the
/// managers table, else their GHL name, else the contact id.
pub fn name_for_sender(
    conn: &Connection,
    contact_id: &str,
    phone: Option<&Phone>,
    ghl_name: Option<&str>,
) -> rusqlite::Result<String> {
    if let Some(manager) = manager_for_sender(conn, Some(contact_id), phone)? {
        return Ok(manager.name);
    }
    let Some(ghl_name) = ghl_name.map(str::trim).filter(|name| !name.is_empty()) else {
        return Ok(contact_id.to_string());
    };
    // A GHL name that is another manager's here must not sign in, nor act, as that manager.
    if manager_named(conn, ghl_name)?.is_some() {
        return Ok(format!("{ghl_name} (MANAGER_CONTACT_IDS {contact_id})"));
    }
    Ok(ghl_name.to_string())
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
            // `alerted_at` stays: when managers were last told. A snooze set after it asks for
            // one more alert when the issue falls due again (`summary::ALERT_DUE`).
            exec(
                conn,
                "UPDATE issues SET status = 'PENDING', due_at = ?2, snoozed_until = ?2, alert_purpose = NULL
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

/// What managers were told since `since`, newest first: digests, alerts and notices, each part
/// of each with its recipient's name when the managers table knows it. Replies to commands
/// (and texted sign-in links) are a manager's own conversation and are left out.
pub fn sms_since(conn: &Connection, since: Timestamp) -> rusqlite::Result<Vec<Sms>> {
    let mut stmt = conn.prepare(
        "SELECT o.created_at, o.sent_at, o.contact_id, o.purpose, o.status, o.body,
                (SELECT m.name FROM managers m WHERE m.contact_id = o.contact_id ORDER BY m.id LIMIT 1)
         FROM outbox o
         WHERE o.channel = 'sms' AND (o.created_at >= ?1 OR o.sent_at >= ?1)
           AND (o.purpose LIKE 'digest:%' OR o.purpose LIKE 'alert:%' OR o.purpose LIKE 'notice:%')
         ORDER BY o.created_at DESC, o.id DESC LIMIT 2000",
    )?;
    let rows = stmt.query_map([ts(since)], |row| {
        Ok(Sms {
            created_at: parse_ts(&row.get::<_, String>(0)?)?,
            sent_at: row.get::<_, Option<String>>(1)?.map(|at| parse_ts(&at)).transpose()?,
            contact_id: row.get(2)?,
            purpose: row.get(3)?,
            status: row.get(4)?,
            body: row.get(5)?,
            manager: row.get(6)?,
        })
    })?;
    rows.collect()
}
