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
use rusqlite::{Connection, OpenFlags};
use serde::Serialize;
use serde_json::Value;

use crate::config::Config;
use crate::db::original::Row;
use crate::db::{self, issues, kv_get, kv_set, outbox, schema, ts};
use crate::domain::event::{IssueKind, Party, Status};
use crate::domain::issue::Issue;
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
    let check = schema::quick_check(&original)
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
    let names = db::original::columns(conn, table)?;
    if names.is_empty() {
        bail!("not an original Sentinel database: it has no {table} table; nothing was imported");
    }
    Ok(names)
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

/// An issue of the original's, as it will be written, with what goes into its timeline.
struct OriginalIssue {
    /// Its id in the original.
    id: i64,
    /// Who, with every id the original knew.
    party: Party,
    /// The issue to write (its party key still empty, its id the database's to give).
    issue: Issue,
    /// Its notes: when each was written, if known, and the text.
    notes: Vec<(Option<Timestamp>, String)>,
}

fn import_issues(
    original: &Connection,
    tx: &Connection,
    columns: &HashSet<String>,
    zone: &TimeZone,
    report: &mut ImportReport,
) -> anyhow::Result<()> {
    db::original::each_issue(original, columns, |row: &Row| -> anyhow::Result<()> {
        let id = row.id()?;
        let text = |column: &str| -> rusqlite::Result<Option<String>> {
            Ok(row.text(column)?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
        };
        let time = |column: &str| -> rusqlite::Result<Option<Timestamp>> {
            Ok(text(column)?.and_then(|t| parse_original_time(&t, zone)))
        };
        let (Some(kind), Some(status)) = (
            text("issue_type")?.as_deref().and_then(IssueKind::parse),
            text("status")?.as_deref().and_then(Status::parse),
        ) else {
            report.skipped.push(format!("issue {id}: unknown type or status"));
            return Ok(());
        };
        let (Some(created_at), Some(due_at)) = (time("created_ts")?, time("due_ts")?) else {
            report.skipped.push(format!("issue {id}: unreadable created_ts or due_ts"));
            return Ok(());
        };
        let meta: Value = text("meta")?.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or(Value::Null);
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
        let first_inbound_at = time("first_inbound_ts")?.unwrap_or(created_at);
        let party = Party {
            conversation_id: text("conversation_id")?,
            contact_id: text("contact_id")?,
            phone: text("phone")?.as_deref().and_then(Phone::parse),
        };
        let issue = Issue {
            id: 0,
            kind,
            status,
            party: String::new(),
            conversation_id: party.conversation_id.clone(),
            contact_id: party.contact_id.clone(),
            phone: party.phone.clone(),
            contact_name: text("contact_name")?.or_else(|| meta_text("contact_name")),
            created_at,
            first_inbound_at,
            last_inbound_at: time("last_inbound_ts")?.unwrap_or(first_inbound_at),
            due_at,
            inbound_count: row.number("inbound_count")?.unwrap_or(1).max(1),
            last_text: meta_text("last_text"),
            opened_at: (status == Status::Open).then_some(due_at),
            resolved_at: time("resolved_ts")?,
            resolved_by: meta_text("resolved_by"),
            alerted_at: time("breach_notified_ts")?,
        };
        insert_issue(tx, OriginalIssue { id, party, issue, notes }, report)
    })
}

fn insert_issue(tx: &Connection, original: OriginalIssue, report: &mut ImportReport) -> anyhow::Result<()> {
    let OriginalIssue { id: original_id, party, mut issue, notes } = original;
    let source = format!("original:{original_id}");
    if issues::imported_from(tx, &source)?.is_some() {
        report.already_imported += 1;
        return Ok(());
    }
    let Some(key) = party.key() else {
        report.skipped.push(format!("issue {original_id}: no contact, conversation or phone"));
        return Ok(());
    };
    let live = matches!(issue.status, Status::Pending | Status::Open);
    if live && issues::find_live(tx, issue.kind, &party)?.is_some() {
        report.skipped.push(format!("issue {original_id}: the party already has a live {} issue", issue.kind));
        return Ok(());
    }
    issue.party = key;
    let id = issues::insert(tx, &issue)?;
    issues::mark_imported(tx, &source, id)?;
    issues::add_timeline(
        tx,
        id,
        issue.created_at,
        "imported",
        "import",
        &format!("from the original service, issue {original_id}"),
    )?;
    for (at, text) in &notes {
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
    if !db::original::has_table(original, "spam_phones")? {
        return Ok(());
    }
    db::original::each_spam_phone(original, |row: &Row| -> anyhow::Result<()> {
        let Some(phone) = row.text("phone")?.as_deref().and_then(Phone::parse) else { return Ok(()) };
        let at = row.text("created_ts")?.and_then(|t| parse_original_time(&t, zone)).unwrap_or(Timestamp::UNIX_EPOCH);
        if !issues::is_spam(tx, &phone)? {
            issues::add_spam(tx, &phone, at)?;
            report.spam_phones += 1;
        }
        Ok(())
    })
}

fn import_kv(original: &Connection, tx: &Connection, config: &Config, report: &mut ImportReport) -> anyhow::Result<()> {
    if !db::original::has_table(original, "kv_store")? {
        return Ok(());
    }
    let zone = config.calendar.zone();
    let value = |key: &str| db::original::kv_value(original, key);
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
    if !db::original::has_table(original, "conversation_state")? {
        return Ok(());
    }
    db::original::each_staff_reply(original, |row: &Row| -> anyhow::Result<()> {
        let (Some(conversation), Some(at)) = (
            row.text("conversation_id")?,
            row.text("last_internal_outbound_ts")?.and_then(|t| parse_original_time(&t, zone)),
        ) else {
            return Ok(());
        };
        let party = Party { conversation_id: Some(conversation), ..Party::default() };
        issues::record_staff_reply(tx, &party, at, None)?;
        report.staff_replies += 1;
        Ok(())
    })
}
