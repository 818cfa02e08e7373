//! Issues, their timeline, the spam list and known staff replies.

use jiff::Timestamp;
use rusqlite::{Connection, OptionalExtension as _, Row, params};

use super::{exec, one, parse_ts, ts};
use crate::domain::event::{IssueKind, Party, Status};
use crate::domain::issue::{Issue, TimelineEntry};
use crate::domain::phone::Phone;

/// What a new issue starts with.
#[derive(Debug, Clone)]
pub struct NewIssue<'a> {
    /// SMS or CALL.
    pub kind: IssueKind,
    /// Who.
    pub party: &'a Party,
    /// Contact name, if known.
    pub contact_name: Option<&'a str>,
    /// Creation instant (the webhook's arrival).
    pub created_at: Timestamp,
    /// The due time, computed by the calendar.
    pub due_at: Timestamp,
    /// The text, for SMS.
    pub text: Option<&'a str>,
}

/// An issue's columns, in [`from_row`]'s order (a macro, so that statements can be literals).
macro_rules! columns {
    () => {
        "id, kind, status, party_key, conversation_id, contact_id, phone, contact_name, created_at, \
         first_inbound_at, last_inbound_at, due_at, inbound_count, last_text, opened_at, resolved_at, resolved_by, \
         alerted_at"
    };
}

const COLUMNS: &str = columns!();

/// The live issue of a kind by one of the party's ids (`?1` the kind, `?2` the id).
macro_rules! live_by {
    ($column:literal) => {
        concat!(
            "SELECT ",
            columns!(),
            " FROM issues WHERE kind = ?1 AND status IN ('PENDING', 'OPEN') AND ",
            $column,
            " = ?2 LIMIT 1"
        )
    };
}

fn opt_ts(row: &Row, index: usize) -> rusqlite::Result<Option<Timestamp>> {
    row.get::<_, Option<String>>(index)?.map(|text| parse_ts(&text)).transpose()
}

fn conversion_error(index: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, what.into())
}

fn from_row(row: &Row) -> rusqlite::Result<Issue> {
    let kind: String = row.get(1)?;
    let status: String = row.get(2)?;
    Ok(Issue {
        id: row.get(0)?,
        kind: IssueKind::parse(&kind).ok_or_else(|| conversion_error(1, format!("unknown kind {kind}")))?,
        status: Status::parse(&status).ok_or_else(|| conversion_error(2, format!("unknown status {status}")))?,
        party: row.get(3)?,
        conversation_id: row.get(4)?,
        contact_id: row.get(5)?,
        phone: row.get::<_, Option<String>>(6)?.as_deref().and_then(Phone::parse),
        contact_name: row.get(7)?,
        created_at: parse_ts(&row.get::<_, String>(8)?)?,
        first_inbound_at: parse_ts(&row.get::<_, String>(9)?)?,
        last_inbound_at: parse_ts(&row.get::<_, String>(10)?)?,
        due_at: parse_ts(&row.get::<_, String>(11)?)?,
        inbound_count: row.get(12)?,
        last_text: row.get(13)?,
        opened_at: opt_ts(row, 14)?,
        resolved_at: opt_ts(row, 15)?,
        resolved_by: row.get(16)?,
        alerted_at: opt_ts(row, 17)?,
    })
}

/// The first 500 characters of a text (SPEC §5.1).
fn clip(text: &str) -> String {
    text.chars().take(500).collect()
}

/// The live issue of `kind` for the party, matching by conversation, then contact, then phone.
pub fn find_live(conn: &Connection, kind: IssueKind, party: &Party) -> rusqlite::Result<Option<Issue>> {
    let candidates = [
        (live_by!("conversation_id"), party.conversation_id.as_deref()),
        (live_by!("contact_id"), party.contact_id.as_deref()),
        (live_by!("phone"), party.phone.as_ref().map(Phone::as_str)),
    ];
    for (sql, value) in candidates {
        let Some(value) = value else { continue };
        if let Some(issue) = one(conn, sql, params![kind.as_str(), value], from_row).optional()? {
            return Ok(Some(issue));
        }
    }
    Ok(None)
}

/// Every live issue of the party, of either kind.
pub fn live_for_party(conn: &Connection, party: &Party) -> rusqlite::Result<Vec<Issue>> {
    let mut found: Vec<Issue> = Vec::new();
    for kind in [IssueKind::Sms, IssueKind::Call] {
        found.extend(find_live(conn, kind, party)?);
    }
    Ok(found)
}

/// Creates a PENDING issue and its `created` timeline entry; returns its id.
pub fn create(conn: &Connection, new: &NewIssue, explanation: &str) -> rusqlite::Result<i64> {
    let key = new.party.key().ok_or_else(|| conversion_error(0, "a party without any id".into()))?;
    let issue = Issue {
        id: 0,
        kind: new.kind,
        status: Status::Pending,
        party: key,
        conversation_id: new.party.conversation_id.clone(),
        contact_id: new.party.contact_id.clone(),
        phone: new.party.phone.clone(),
        contact_name: new.contact_name.map(str::to_string),
        created_at: new.created_at,
        first_inbound_at: new.created_at,
        last_inbound_at: new.created_at,
        due_at: new.due_at,
        inbound_count: 1,
        last_text: new.text.map(clip),
        opened_at: None,
        resolved_at: None,
        resolved_by: None,
        alerted_at: None,
    };
    let id = insert(conn, &issue)?;
    add_timeline(conn, id, new.created_at, "created", "intake", explanation)?;
    Ok(id)
}

/// Writes `issue` as it stands, every column but its id (which the database gives and this
/// returns), with no timeline entry: [`create`]'s row, or one `import-original` brings over.
pub fn insert(conn: &Connection, issue: &Issue) -> rusqlite::Result<i64> {
    let opt = |at: Option<Timestamp>| at.map(ts);
    exec(
        conn,
        "INSERT INTO issues (kind, status, party_key, conversation_id, contact_id, phone, contact_name, created_at,
                             first_inbound_at, last_inbound_at, due_at, inbound_count, last_text, opened_at,
                             resolved_at, resolved_by, alerted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            issue.kind.as_str(),
            issue.status.as_str(),
            issue.party,
            issue.conversation_id,
            issue.contact_id,
            issue.phone.as_ref().map(Phone::as_str),
            issue.contact_name,
            ts(issue.created_at),
            ts(issue.first_inbound_at),
            ts(issue.last_inbound_at),
            ts(issue.due_at),
            issue.inbound_count,
            issue.last_text,
            opt(issue.opened_at),
            opt(issue.resolved_at),
            issue.resolved_by,
            opt(issue.alerted_at),
        ],
    )?;
    Ok(conn.last_insert_rowid())
}

/// The issue imported from `source` (`original:<id>`) before, if any.
pub fn imported_from(conn: &Connection, source: &str) -> rusqlite::Result<Option<i64>> {
    one(conn, "SELECT issue_id FROM imported WHERE source = ?1", [source], |row| row.get(0)).optional()
}

/// Remembers that issue `id` was imported from `source`, so importing again skips it.
pub fn mark_imported(conn: &Connection, source: &str, id: i64) -> rusqlite::Result<()> {
    exec(conn, "INSERT INTO imported (source, issue_id) VALUES (?1, ?2)", params![source, id])?;
    Ok(())
}

/// A repeat text or call: counts it and keeps the last text; never moves the due time or
/// the status (SPEC §5.1). Fills in ids and the name the issue did not have yet.
pub fn record_repeat(
    conn: &Connection,
    issue: &Issue,
    party: &Party,
    contact_name: Option<&str>,
    at: Timestamp,
    text: Option<&str>,
) -> rusqlite::Result<i64> {
    exec(
        conn,
        "UPDATE issues SET inbound_count = inbound_count + 1,
                           last_inbound_at = MAX(last_inbound_at, ?2),
                           last_text = COALESCE(?3, last_text),
                           conversation_id = COALESCE(conversation_id, ?4),
                           contact_id = COALESCE(contact_id, ?5),
                           phone = COALESCE(phone, ?6),
                           contact_name = COALESCE(contact_name, ?7)
         WHERE id = ?1",
        params![
            issue.id,
            ts(at),
            text.map(clip),
            party.conversation_id,
            party.contact_id,
            party.phone.as_ref().map(Phone::as_str),
            contact_name,
        ],
    )?;
    let what = match issue.kind {
        IssueKind::Sms => format!("text #{}", issue.inbound_count + 1),
        IssueKind::Call => format!("call attempt #{}", issue.inbound_count + 1),
    };
    add_timeline(conn, issue.id, at, "repeat", "intake", &what)?;
    Ok(issue.inbound_count + 1)
}

/// PENDING issues whose due time has come but that the SLA clock has not settled yet.
pub fn unsettled_due(conn: &Connection, now: Timestamp) -> rusqlite::Result<usize> {
    conn.query_row("SELECT COUNT(*) FROM issues WHERE status = 'PENDING' AND due_at <= ?1", [ts(now)], |row| {
        row.get::<_, i64>(0).map(|n| n as usize)
    })
}

/// Resolves a live issue; returns false when it was no longer live.
pub fn resolve(conn: &Connection, id: i64, at: Timestamp, by: &str, detail: &str) -> rusqlite::Result<bool> {
    close(conn, id, Status::Resolved, at, by, ("resolved", detail))
}

/// Marks a live issue SPAM; returns false when it was no longer live.
pub fn mark_spam(conn: &Connection, id: i64, at: Timestamp, by: &str) -> rusqlite::Result<bool> {
    close(conn, id, Status::Spam, at, by, ("spam", "phone added to the spam list"))
}

/// Ends a live issue with `status`, and records `(event, detail)` in its timeline.
fn close(
    conn: &Connection,
    id: i64,
    status: Status,
    at: Timestamp,
    by: &str,
    (event, detail): (&str, &str),
) -> rusqlite::Result<bool> {
    let changed = exec(
        conn,
        "UPDATE issues SET status = ?4, resolved_at = ?2, resolved_by = ?3
         WHERE id = ?1 AND status IN ('PENDING', 'OPEN')",
        params![id, ts(at), by, status.as_str()],
    )?;
    if changed > 0 {
        add_timeline(conn, id, at, event, by, detail)?;
    }
    Ok(changed > 0)
}

/// Moves a PENDING issue to OPEN (overdue); returns false when it was not PENDING.
pub fn open(conn: &Connection, id: i64, at: Timestamp, detail: &str) -> rusqlite::Result<bool> {
    let changed = exec(
        conn,
        "UPDATE issues SET status = 'OPEN', opened_at = ?2 WHERE id = ?1 AND status = 'PENDING'",
        params![id, ts(at)],
    )?;
    if changed > 0 {
        add_timeline(conn, id, at, "opened", "clock", detail)?;
    }
    Ok(changed > 0)
}

/// Remembers the GHL conversation of an issue that had none.
pub fn set_conversation(conn: &Connection, id: i64, conversation_id: &str) -> rusqlite::Result<()> {
    exec(
        conn,
        "UPDATE issues SET conversation_id = ?2 WHERE id = ?1 AND conversation_id IS NULL",
        params![id, conversation_id],
    )?;
    Ok(())
}

/// Keeps a contact name looked up in GHL, unless the issue has one by now.
pub fn set_contact_name(conn: &Connection, id: i64, name: &str) -> rusqlite::Result<()> {
    exec(conn, "UPDATE issues SET contact_name = ?2 WHERE id = ?1 AND contact_name IS NULL", params![id, name])?;
    Ok(())
}

/// Appends to an issue's timeline.
pub fn add_timeline(
    conn: &Connection,
    id: i64,
    at: Timestamp,
    event: &str,
    actor: &str,
    detail: &str,
) -> rusqlite::Result<()> {
    exec(
        conn,
        "INSERT INTO timeline (issue_id, at, event, actor, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, ts(at), event, actor, detail],
    )?;
    Ok(())
}

/// One issue by id.
pub fn get(conn: &Connection, id: i64) -> rusqlite::Result<Option<Issue>> {
    one(conn, concat!("SELECT ", columns!(), " FROM issues WHERE id = ?1"), [id], from_row).optional()
}

/// An issue's timeline, oldest first.
pub fn timeline(conn: &Connection, id: i64) -> rusqlite::Result<Vec<TimelineEntry>> {
    // A manager's SMS command is stored as `manual:<contact id>`; people read their name
    // (issue 24): the managers table's first, else the GHL name their texts carried.
    let mut stmt = conn.prepare(
        "SELECT t.at, t.event, t.actor, t.detail,
                coalesce((SELECT m.name FROM managers m
                          WHERE m.contact_id <> '' AND t.actor = 'manual:' || m.contact_id ORDER BY m.id LIMIT 1),
                         (SELECT kv.value FROM kv
                          WHERE t.actor LIKE 'manual:%' AND kv.key = 'contact_name:' || substr(t.actor, 8)))
         FROM timeline t WHERE t.issue_id = ?1 ORDER BY t.id",
    )?;
    let rows = stmt.query_map([id], |row| {
        let actor: String = row.get(2)?;
        Ok(TimelineEntry {
            at: parse_ts(&row.get::<_, String>(0)?)?,
            event: row.get(1)?,
            by: TimelineEntry::display_actor(&actor, row.get(4)?),
            actor,
            detail: row.get(3)?,
        })
    })?;
    rows.collect()
}

/// Issues with any of `statuses` (all when empty), by due time.
pub fn list(conn: &Connection, statuses: &[Status]) -> rusqlite::Result<Vec<Issue>> {
    let names: Vec<&str> = if statuses.is_empty() {
        vec!["PENDING", "OPEN", "RESOLVED", "SPAM"]
    } else {
        statuses.iter().map(|s| s.as_str()).collect()
    };
    let placeholders = vec!["?"; names.len()].join(", ");
    let mut stmt =
        conn.prepare(&format!("SELECT {COLUMNS} FROM issues WHERE status IN ({placeholders}) ORDER BY due_at, id"))?;
    let rows = stmt.query_map(rusqlite::params_from_iter(names), from_row)?;
    rows.collect()
}

/// The earliest due time of a PENDING issue: when the SLA clock must wake next.
pub fn next_pending_due(conn: &Connection) -> rusqlite::Result<Option<Timestamp>> {
    let text: Option<String> =
        one(conn, "SELECT MIN(due_at) FROM issues WHERE status = 'PENDING'", [], |row| row.get(0))?;
    text.map(|t| parse_ts(&t)).transpose()
}

/// PENDING issues whose due time is at or before `now`, oldest due first.
pub fn pending_due(conn: &Connection, now: Timestamp, limit: usize) -> rusqlite::Result<Vec<Issue>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        columns!(),
        " FROM issues WHERE status = 'PENDING' AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![ts(now), limit as i64], from_row)?;
    rows.collect()
}

/// The ids and due times of the PENDING issues due at or before `now`, oldest due first:
/// [`pending_due`] without reading the rest of each issue.
pub fn pending_due_ids(conn: &Connection, now: Timestamp) -> rusqlite::Result<Vec<(i64, Timestamp)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, due_at FROM issues WHERE status = 'PENDING' AND due_at <= ?1 ORDER BY due_at, id",
    )?;
    let rows = stmt.query_map([ts(now)], |row| Ok((row.get(0)?, parse_ts(&row.get::<_, String>(1)?)?)))?;
    rows.collect()
}

/// Counts of issues by status.
pub fn counts(conn: &Connection) -> rusqlite::Result<Vec<(String, i64)>> {
    let mut stmt = conn.prepare("SELECT status, COUNT(*) FROM issues GROUP BY status ORDER BY status")?;
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// Whether a phone is on the spam list.
pub fn is_spam(conn: &Connection, phone: &Phone) -> rusqlite::Result<bool> {
    one(conn, "SELECT EXISTS (SELECT 1 FROM spam_phones WHERE phone = ?1)", [phone.as_str()], |row| row.get(0))
}

/// Adds a phone to the spam list.
pub fn add_spam(conn: &Connection, phone: &Phone, at: Timestamp) -> rusqlite::Result<()> {
    exec(
        conn,
        "INSERT INTO spam_phones (phone, created_at) VALUES (?1, ?2) ON CONFLICT (phone) DO NOTHING",
        params![phone.as_str(), ts(at)],
    )?;
    Ok(())
}

/// The party's identifiers as stored keys, in matching order.
fn party_keys(party: &Party) -> Vec<String> {
    let mut keys = Vec::new();
    if let Some(id) = &party.conversation_id {
        keys.push(format!("conversation:{id}"));
    }
    if let Some(id) = &party.contact_id {
        keys.push(format!("contact:{id}"));
    }
    if let Some(phone) = &party.phone {
        keys.push(format!("phone:{}", phone.as_str()));
    }
    keys
}

/// Remembers a staff reply under every identifier of the party (newest wins).
pub fn record_staff_reply(
    conn: &Connection,
    party: &Party,
    at: Timestamp,
    message_id: Option<&str>,
) -> rusqlite::Result<()> {
    for key in party_keys(party) {
        exec(
            conn,
            "INSERT INTO staff_replies (party_key, replied_at, message_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (party_key) DO UPDATE SET replied_at = excluded.replied_at, message_id = excluded.message_id
             WHERE excluded.replied_at > staff_replies.replied_at",
            params![key, ts(at), message_id],
        )?;
    }
    Ok(())
}

/// The latest staff reply known for any identifier of the party.
pub fn last_staff_reply(conn: &Connection, party: &Party) -> rusqlite::Result<Option<Timestamp>> {
    let mut latest: Option<Timestamp> = None;
    for key in party_keys(party) {
        let found: Option<String> =
            one(conn, "SELECT replied_at FROM staff_replies WHERE party_key = ?1", [&key], |row| row.get(0))
                .optional()?;
        if let Some(text) = found {
            let at = parse_ts(&text)?;
            latest = Some(latest.map_or(at, |l| l.max(at)));
        }
    }
    Ok(latest)
}
