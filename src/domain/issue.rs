//! The issue, Sentinel's core entity, as every layer sees it: the store reads and writes it,
//! the actors pass it around, and the HTTP layer shows it.

use jiff::Timestamp;
use serde::Serialize;

use super::calendar::Snooze;
use super::event::{IssueKind, Party, Status};
use super::phone::Phone;

/// One issue as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    /// Issue number, shown to managers as `#12`.
    pub id: i64,
    /// SMS or CALL.
    #[serde(serialize_with = "kind_name")]
    pub kind: IssueKind,
    /// PENDING, OPEN, RESOLVED or SPAM.
    #[serde(serialize_with = "status_name")]
    pub status: Status,
    /// The key that keeps one live issue per party and kind.
    pub party: String,
    /// GHL conversation id.
    pub conversation_id: Option<String>,
    /// GHL contact id.
    pub contact_id: Option<String>,
    /// Normalised phone.
    #[serde(serialize_with = "phone_text")]
    pub phone: Option<Phone>,
    /// Contact name.
    pub contact_name: Option<String>,
    /// When the issue was created.
    pub created_at: Timestamp,
    /// The first inbound message.
    pub first_inbound_at: Timestamp,
    /// The latest inbound message.
    pub last_inbound_at: Timestamp,
    /// The response target; fixed at creation.
    pub due_at: Timestamp,
    /// Texts received, or call attempts.
    pub inbound_count: i64,
    /// The last text (first 500 characters).
    pub last_text: Option<String>,
    /// When it became OPEN.
    pub opened_at: Option<Timestamp>,
    /// When it was resolved or marked spam.
    pub resolved_at: Option<Timestamp>,
    /// Who or what resolved it (`staff_reply:webhook`, `manual:<id>`, ...).
    pub resolved_by: Option<String>,
    /// When managers were alerted about its breach.
    pub alerted_at: Option<Timestamp>,
}

fn kind_name<S: serde::Serializer>(kind: &IssueKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.as_str())
}

fn phone_text<S: serde::Serializer>(phone: &Option<Phone>, s: S) -> Result<S::Ok, S::Error> {
    match phone {
        Some(phone) => s.serialize_some(phone.as_str()),
        None => s.serialize_none(),
    }
}

fn status_name<S: serde::Serializer>(status: &Status, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(status.as_str())
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    /// When it happened.
    pub at: Timestamp,
    /// What happened: `created`, `repeat`, `opened`, `resolved`, `note`, ...
    pub event: String,
    /// Who or what did it, as stored (`manual:<contact id>`, `console:<name>`, ...).
    pub actor: String,
    /// Who did it, as people read it: a manager's name where one is known (the managers
    /// table, else their GHL name), else `actor` as stored.
    pub by: String,
    /// Why, in words.
    pub detail: String,
}

impl TimelineEntry {
    /// The name a stored `actor` is shown as: `name` when one is known, the manager's name a
    /// console action was taken under, else the actor itself.
    pub fn display_actor(actor: &str, name: Option<String>) -> String {
        match (name, actor.strip_prefix("console:")) {
            (Some(name), _) => name,
            (None, Some(manager)) => manager.to_string(),
            (None, None) => actor.to_string(),
        }
    }
}

/// The latest snooze in `timeline`, for the issue's Why.
pub fn last_snooze(timeline: &[TimelineEntry]) -> Option<Snooze> {
    timeline
        .iter()
        .rev()
        .find(|entry| entry.event == "snoozed")
        .map(|entry| Snooze { by: entry.by.clone(), at: entry.at })
}

impl Issue {
    /// The customer the issue is about, for matching staff replies.
    pub fn party(&self) -> Party {
        Party {
            conversation_id: self.conversation_id.clone(),
            contact_id: self.contact_id.clone(),
            phone: self.phone.clone(),
        }
    }
}

/// Whether to queue the message or only show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// Build the text and change nothing (`dry_run=1`).
    DryRun,
    /// Queue it for every manager.
    Queue,
}
