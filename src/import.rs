//! `sentinel import-original`: brings the original Python service's SQLite database over.
//!
//! Reads the original's `issues`, `spam_phones`, `kv_store` and `conversation_state` (columns
//! were added over time, so each is looked up before use), converts its local ISO times to
//! instants, and writes everything in one transaction: a foreign or corrupt file changes
//! nothing. Each original issue is remembered by its id, so importing twice adds nothing.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context as _, bail};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, params};
use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::db::{issues, kv_get, kv_set, outbox, ts};
use crate::domain::event::{IssueKind, Party, Status};
use crate::domain::phone::Phone;

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ImportReport {
    /// Issues imported.
    pub issues: usize,
    /// Issues already imported before (skipped).
    pub already_imported: usize,
    /// Issues that could not be imported, with why.
    pub skipped: Vec<String>,
    /// Phones added to the spam list.
    pub spam_phones: usize,
    /// Conversations whose last staff reply was kept.
    pub staff_replies: usize,
    /// Whether the digest watermark was taken over.
    pub watermark: bool,
    /// Digest slots the original already sent today.
    pub slots_claimed: usize,
}

impl std::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "issues imported:        {}", self.issues)?;
        writeln!(f, "issues already present: {}", self.already_imported)?;
        writeln!(f, "spam phones:            {}", self.spam_phones)?;
        writeln!(f, "staff replies:          {}", self.staff_replies)?;
        writeln!(f, "digest watermark:       {}", if self.watermark { "taken over" } else { "none" })?;
        writeln!(f, "slots sent today:       {}", self.slots_claimed)?;
        for why in &self.skipped {
            writeln!(f, "skipped: {why}")?;
        }
        Ok(())
    }
}

/// Whether to write or only count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Count what would be imported; write nothing.
    DryRun,
    /// Import.
    Write,
}

/// Imports the original database at `source` into `target` (already migrated).
pub fn import(source: &Path, target: &mut Connection, config: &Config, mode: Mode) -> anyhow::Result<ImportReport> {
    let original =
        Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
            .with_context(|| format!("opening {}", source.display()))?;
    let check: String = original
        .query_row("PRAGMA quick_check", [], |row| row.get(0))
        .with_context(|| format!("{} is not a readable SQLite database", source.display()))?;
    if check != "ok" {
        bail!("{} is damaged (quick_check: {check}); nothing was imported", source.display());
    }
    let columns = columns(&original, "issues")?;
    for required in ["id", "issue_type", "status", "created_ts", "due_ts"] {
        if !columns.contains(required) {
            bail!(
                "{} is not an original Sentinel database: table issues lacks {required}; nothing was imported",
                source.display()
            );
        }
    }
    let zone = config.calendar.zone().clone();
    let tx = target.transaction()?;
    let mut report = ImportReport::default();
    import_issues(&original, &tx, &columns, &zone, &mut report)?;
    import_spam(&original, &tx, &zone, &mut report)?;
    import_kv(&original, &tx, config, &mut report)?;
    import_staff_replies(&original, &tx, &zone, &mut report)?;
    match mode {
        Mode::Write => tx.commit()?,
        Mode::DryRun => tx.rollback()?,
    }
    Ok(report)
}

fn columns(conn: &Connection, table: &str) -> anyhow::Result<HashSet<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt.query_map([], |row| row.get::<_, String>(1))?.collect::<Result<HashSet<_>, _>>()?;
    if names.is_empty() {
        bail!("not an original Sentinel database: it has no {table} table; nothing was imported");
    }
    Ok(names)
}

fn has_table(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    conn.query_row("SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)", [table], |row| {
        row.get(0)
    })
}

/// The original's times: ISO with an offset, or naive local time in the business's zone.
pub fn parse_original_time(text: &str, zone: &TimeZone) -> Option<Timestamp> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    let naive: DateTime = text.replace(' ', "T").parse().ok()?;
    naive.to_zoned(zone.clone()).ok().map(|zoned| zoned.timestamp())
}

struct OriginalIssue {
    id: i64,
    kind: IssueKind,
    status: Status,
    party: Party,
    contact_name: Option<String>,
    created_at: Timestamp,
    due_at: Timestamp,
    first_inbound_at: Timestamp,
    last_inbound_at: Timestamp,
    inbound_count: i64,
    resolved_at: Option<Timestamp>,
    resolved_by: Option<String>,
    alerted_at: Option<Timestamp>,
    last_text: Option<String>,
    notes: Vec<(Option<Timestamp>, String)>,
}

fn import_issues(
    original: &Connection,
    tx: &Connection,
    columns: &HashSet<String>,
    zone: &TimeZone,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    let wanted = [
        "id",
        "issue_type",
        "status",
        "contact_id",
        "phone",
        "created_ts",
        "due_ts",
        "resolved_ts",
        "meta",
        "first_inbound_ts",
        "last_inbound_ts",
        "inbound_count",
        "conversation_id",
        "breach_notified_ts",
        "contact_name",
    ];
    // Columns an older file lacks are read as NULL.
    let select: Vec<String> =
        wanted.iter().map(|c| if columns.contains(*c) { c.to_string() } else { format!("NULL AS {c}") }).collect();
    let mut stmt = original.prepare(&format!("SELECT {} FROM issues ORDER BY id", select.join(", ")))?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let id: i64 = row.get(0)?;
        let text = |index: usize| -> rusqlite::Result<Option<String>> {
            Ok(row.get::<_, Option<String>>(index)?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        };
        let time = |index: usize| -> rusqlite::Result<Option<Timestamp>> {
            Ok(text(index)?.and_then(|t| parse_original_time(&t, zone)))
        };
        let (Some(kind), Some(status)) =
            (text(1)?.as_deref().and_then(IssueKind::parse), text(2)?.as_deref().and_then(Status::parse))
        else {
            report.skipped.push(format!("issue {id}: unknown type or status"));
            continue;
        };
        let (Some(created_at), Some(due_at)) = (time(5)?, time(6)?) else {
            report.skipped.push(format!("issue {id}: unreadable created_ts or due_ts"));
            continue;
        };
        let meta: Value = text(8)?.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or(Value::Null);
        let meta_text = |key: &str| meta[key].as_str().map(str::to_string).filter(|s| !s.is_empty());
        let notes = meta["notes"]
            .as_array()
            .map(|notes| {
                notes
                    .iter()
                    .filter_map(|note| {
                        let body = note["text"].as_str()?.to_string();
                        Some((note["ts"].as_str().and_then(|t| parse_original_time(t, zone)), body))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let first_inbound_at = time(9)?.unwrap_or(created_at);
        let issue = OriginalIssue {
            id,
            kind,
            status,
            party: Party {
                conversation_id: text(12)?,
                contact_id: text(3)?,
                phone: text(4)?.as_deref().and_then(Phone::parse),
            },
            contact_name: text(14)?.or_else(|| meta_text("contact_name")),
            created_at,
            due_at,
            first_inbound_at,
            last_inbound_at: time(10)?.unwrap_or(first_inbound_at),
            inbound_count: row.get::<_, Option<i64>>(11)?.unwrap_or(1).max(1),
            resolved_at: time(7)?,
            resolved_by: meta_text("resolved_by"),
            alerted_at: time(13)?,
            last_text: meta_text("last_text"),
            notes,
        };
        insert_issue(tx, &issue, report)?;
    }
    Ok(())
}

fn insert_issue(tx: &Connection, issue: &OriginalIssue, report: &mut ImportReport) -> anyhow::Result<()> {
    let source = format!("original:{}", issue.id);
    let seen: Option<i64> =
        tx.query_row("SELECT issue_id FROM imported WHERE source = ?1", [&source], |row| row.get(0)).optional()?;
    if seen.is_some() {
        report.already_imported += 1;
        return Ok(());
    }
    let Some(key) = issue.party.key() else {
        report.skipped.push(format!("issue {}: no contact, conversation or phone", issue.id));
        return Ok(());
    };
    let live = matches!(issue.status, Status::Pending | Status::Open);
    if live && issues::find_live(tx, issue.kind, &issue.party)?.is_some() {
        report.skipped.push(format!("issue {}: the party already has a live {} issue", issue.id, issue.kind));
        return Ok(());
    }
    let opt = |at: Option<Timestamp>| at.map(ts);
    tx.execute(
        "INSERT INTO issues (kind, status, party_key, conversation_id, contact_id, phone, contact_name, created_at,
                             first_inbound_at, last_inbound_at, due_at, inbound_count, last_text, opened_at,
                             resolved_at, resolved_by, alerted_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            issue.kind.as_str(),
            issue.status.as_str(),
            key,
            issue.party.conversation_id,
            issue.party.contact_id,
            issue.party.phone.as_ref().map(Phone::as_str),
            issue.contact_name,
            ts(issue.created_at),
            ts(issue.first_inbound_at),
            ts(issue.last_inbound_at),
            ts(issue.due_at),
            issue.inbound_count,
            issue.last_text,
            (issue.status == Status::Open).then(|| ts(issue.due_at)),
            opt(issue.resolved_at),
            issue.resolved_by,
            opt(issue.alerted_at),
        ],
    )?;
    let id = tx.last_insert_rowid();
    tx.execute("INSERT INTO imported (source, issue_id) VALUES (?1, ?2)", params![source, id])?;
    issues::add_timeline(
        tx,
        id,
        issue.created_at,
        "imported",
        "import",
        &format!("from the original service, issue {}", issue.id),
    )?;
    for (at, text) in &issue.notes {
        issues::add_timeline(tx, id, at.unwrap_or(issue.created_at), "note", "import", text)?;
    }
    report.issues += 1;
    Ok(())
}

fn import_spam(
    original: &Connection,
    tx: &Connection,
    zone: &TimeZone,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    if !has_table(original, "spam_phones")? {
        return Ok(());
    }
    let mut stmt = original.prepare("SELECT phone, created_ts FROM spam_phones")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let Some(phone) = row.get::<_, Option<String>>(0)?.as_deref().and_then(Phone::parse) else { continue };
        let at = row
            .get::<_, Option<String>>(1)?
            .and_then(|t| parse_original_time(&t, zone))
            .unwrap_or(Timestamp::UNIX_EPOCH);
        if !issues::is_spam(tx, &phone)? {
            issues::add_spam(tx, &phone, at)?;
            report.spam_phones += 1;
        }
    }
    Ok(())
}

fn import_kv(original: &Connection, tx: &Connection, config: &Config, report: &mut ImportReport) -> anyhow::Result<()> {
    if !has_table(original, "kv_store")? {
        return Ok(());
    }
    let zone = config.calendar.zone();
    let value = |key: &str| -> rusqlite::Result<Option<String>> {
        original.query_row("SELECT value FROM kv_store WHERE key = ?1", [key], |row| row.get(0)).optional()
    };
    if let Some(at) = value("last_summary_ts")?.and_then(|t| parse_original_time(&t, zone)) {
        let current = kv_get(tx, outbox::WATERMARK_KEY)?;
        if current.as_deref().is_none_or(|c| c < ts(at).as_str()) {
            kv_set(tx, outbox::WATERMARK_KEY, &ts(at))?;
        }
        report.watermark = true;
    }
    // A slot the original already sent today must not be sent again by the appliance.
    for slot in &config.summary_slots {
        if let Some(at) = value(&format!("last_summary_ts_{}", slot.name))?.and_then(|t| parse_original_time(&t, zone))
        {
            let date = at.to_zoned(zone.clone()).date();
            kv_set(tx, &format!("digest_claimed:{date}:{}", slot.name), &ts(at))?;
            report.slots_claimed += 1;
        }
    }
    Ok(())
}

fn import_staff_replies(
    original: &Connection,
    tx: &Connection,
    zone: &TimeZone,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    if !has_table(original, "conversation_state")? {
        return Ok(());
    }
    let mut stmt = original.prepare("SELECT conversation_id, last_internal_outbound_ts FROM conversation_state")?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        let (Some(conversation), Some(at)) = (
            row.get::<_, Option<String>>(0)?,
            row.get::<_, Option<String>>(1)?.and_then(|t| parse_original_time(&t, zone)),
        ) else {
            continue;
        };
        let party = Party { conversation_id: Some(conversation), ..Party::default() };
        issues::record_staff_reply(tx, &party, at, None)?;
        report.staff_replies += 1;
    }
    Ok(())
}
