//! Settling issues: what happens at a due time, after a resolver pass, and when a phone is
//! marked spam. Each function runs inside the caller's transaction.

use jiff::Timestamp;
use rusqlite::Connection;

use super::issues;
use crate::domain::event::{Party, Status};
use crate::domain::outcome::{Finding, SettleReport};
use crate::domain::phone::Phone;

/// Settles due PENDING issues (SPEC §5.2): resolved when GHL or a known staff reply shows an
/// answer, or when the AI check is confident no answer is needed; else OPEN. Issues no longer
/// PENDING, or not yet due, are left alone. Run inside a transaction.
pub fn settle_due(
    conn: &Connection,
    now: Timestamp,
    issue_ids: &[i64],
    findings: &[Finding],
) -> rusqlite::Result<SettleReport> {
    let mut report = SettleReport::default();
    for &id in issue_ids {
        let Some(issue) = issues::get(conn, id)? else {
            continue;
        };
        if issue.status != Status::Pending || issue.due_at > now {
            continue;
        }
        report.checked += 1;
        let finding = findings.iter().find(|f| f.issue_id == id);
        if let Some(conversation) = finding.and_then(|f| f.conversation_id.as_deref()) {
            issues::set_conversation(conn, id, conversation)?;
        }
        if let Some(reply) = finding.and_then(|f| f.reply.as_ref()) {
            let detail = format!("staff reply found in GHL, message {}", reply.message_id);
            if issues::resolve(conn, id, now, "staff_reply:poll", &detail)? {
                report.auto_resolved.push(id);
            }
            continue;
        }
        let party = issue.party();
        let replied = issues::last_staff_reply(conn, &party)?.is_some_and(|at| at > issue.first_inbound_at);
        if replied && issues::resolve(conn, id, now, "staff_reply:known", "a staff reply was already recorded")? {
            report.auto_resolved.push(id);
            continue;
        }
        // The AI check can only suppress (SPEC §10): a confident NO resolves, anything else
        // leaves the issue to open just as it would without the check.
        let ai = finding.and_then(|f| f.ai.as_ref());
        if let Some(check) = ai.filter(|check| check.suppress)
            && issues::resolve(conn, id, now, "ai", &check.detail)?
        {
            report.auto_resolved.push(id);
            report.ai_resolved.push(id);
            continue;
        }
        // Fail towards telling managers: an unreachable GHL opens the issue (SPEC §5.2); the
        // resolver's cadence checks OPEN issues again later.
        let mut detail = match finding.and_then(|f| f.error.as_deref()) {
            Some(error) => format!("response target passed; GHL could not be checked ({error})"),
            None => "response target passed without a staff reply".to_string(),
        };
        if let Some(check) = ai {
            detail = format!("{detail}; {}", check.detail);
        }
        if issues::open(conn, id, now, &detail)? {
            report.promoted_open.push(id);
        }
    }
    Ok(report)
}

/// Applies what a resolver pass found: remembers conversations and resolves the issues a staff
/// reply (or a lone thanks after one) answers. Returns the issues resolved.
pub fn apply_findings(conn: &Connection, now: Timestamp, findings: &[Finding]) -> rusqlite::Result<Vec<i64>> {
    let mut resolved = Vec::new();
    for finding in findings {
        if let Some(conversation) = &finding.conversation_id {
            issues::set_conversation(conn, finding.issue_id, conversation)?;
        }
        if let Some(reply) = &finding.reply {
            let (by, detail) = if reply.acknowledged {
                (
                    "acknowledgement:ghl",
                    format!("only thanks the staff reply found in GHL, message {}", reply.message_id),
                )
            } else {
                ("staff_reply:poll", format!("staff reply found in GHL, message {}", reply.message_id))
            };
            if issues::resolve(conn, finding.issue_id, now, by, &detail)? {
                resolved.push(finding.issue_id);
            }
        }
    }
    Ok(resolved)
}

/// Puts a phone on the spam list and marks its live issues SPAM (SPEC §5.1, §7). Returns the
/// issues marked.
pub fn mark_spam(conn: &Connection, phone: &Phone, by: &str, now: Timestamp) -> rusqlite::Result<Vec<i64>> {
    issues::add_spam(conn, phone, now)?;
    let party = Party { phone: Some(phone.clone()), ..Party::default() };
    let mut marked = Vec::new();
    for issue in issues::live_for_party(conn, &party)? {
        if issues::mark_spam(conn, issue.id, now, by)? {
            marked.push(issue.id);
        }
    }
    Ok(marked)
}
