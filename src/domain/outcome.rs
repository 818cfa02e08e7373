//! What the store's transactions report and what the resolver finds: the payloads that travel
//! between the actors and the HTTP layer.

use jiff::Timestamp;
use serde::Serialize;

use super::calendar::Calendar;
use super::event::IssueKind;

/// How a deferred event's outcome reads until it is judged.
pub const DEFERRED: &str = "deferred: waiting for the time";

/// What became of a webhook; the HTTP layer turns it into the original's response shapes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new issue was opened.
    Created {
        /// The new issue.
        issue_id: i64,
        /// Its kind.
        kind: IssueKind,
        /// The text only acknowledges, but no staff reply was known: GHL should be asked
        /// whether one came before it (SPEC §5.3).
        unconfirmed_ack: bool,
    },
    /// A live issue counted a repeat text or call.
    Repeat {
        /// The live issue.
        issue_id: i64,
        /// Its kind.
        kind: IssueKind,
        /// Texts or call attempts so far.
        count: i64,
    },
    /// An outbound message; `resolved` lists the issues a staff reply closed.
    Outbound {
        /// Issues resolved by it.
        resolved: Vec<i64>,
    },
    /// A manager's command, carried out; the reply is queued in the outbox.
    Command {
        /// The reply queued.
        reply: String,
        /// After a change of hours, the calendar in force (issue 18), which the webhooks after
        /// it and, once committed, the other actors go by.
        hours: Option<Box<Calendar>>,
    },
    /// A manager's command that reached Sentinel only through catch-up, after a gap: not run
    /// (it may be stale), and the manager is told so (SPEC §12).
    Noted(String),
    /// Stored and ignored.
    Ignored(String),
    /// Seen before: nothing changed.
    Duplicate,
    /// Stored, and judged once the wall clock can be believed again (issue 15).
    Deferred,
}

impl Outcome {
    /// Whether live issues or due times changed, so the SLA clock must look again.
    pub fn changes_deadlines(&self) -> bool {
        match self {
            Outcome::Created { .. } | Outcome::Command { .. } => true,
            Outcome::Outbound { resolved } => !resolved.is_empty(),
            _ => false,
        }
    }

    /// The outcome in words, as the raw event keeps it.
    pub fn describe(&self) -> String {
        match self {
            Outcome::Created { issue_id, .. } => format!("issue {issue_id} created"),
            Outcome::Repeat { issue_id, count, .. } => format!("issue {issue_id} repeat {count}"),
            Outcome::Outbound { resolved } if resolved.is_empty() => "outbound".to_string(),
            Outcome::Outbound { resolved } => format!("staff reply resolved {resolved:?}"),
            Outcome::Command { .. } => "command".to_string(),
            Outcome::Noted(text) => format!("command not run (found by catch-up): {text}"),
            Outcome::Ignored(reason) => format!("ignored: {reason}"),
            Outcome::Duplicate => "duplicate".to_string(),
            Outcome::Deferred => DEFERRED.to_string(),
        }
    }
}

/// What settling due issues did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SettleReport {
    /// PENDING issues that were due.
    pub checked: usize,
    /// Those that became OPEN.
    pub promoted_open: Vec<i64>,
    /// Those resolved: by a staff reply, or by a confident AI check.
    pub auto_resolved: Vec<i64>,
    /// Those of `auto_resolved` that the AI check resolved (SPEC §10).
    pub ai_resolved: Vec<i64>,
}

/// What GHL says about one issue.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// The issue.
    pub issue_id: i64,
    /// The staff reply that answers it, if one was found.
    pub reply: Option<FoundReply>,
    /// The conversation found for an issue that had none.
    pub conversation_id: Option<String>,
    /// Why GHL could not be asked.
    pub error: Option<String>,
    /// What the optional AI check decided, for a due text without a staff reply (SPEC §10).
    pub ai: Option<AiCheck>,
}

/// A staff reply found in GHL.
#[derive(Debug, Clone, Serialize)]
pub struct FoundReply {
    /// GHL's message id.
    pub message_id: String,
    /// When it was sent.
    pub at: Timestamp,
    /// The reply came before the issue's text, which only thanked it.
    pub acknowledged: bool,
}

/// What the AI check decided about one due issue; the store's settlement applies it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AiCheck {
    /// Resolve the issue (`resolved_by=ai`) instead of opening it.
    pub suppress: bool,
    /// What was asked and answered, for the issue's timeline.
    pub detail: String,
}
