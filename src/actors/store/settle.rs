//! Issues: reading them, and settling them with what the SLA clock and the resolver found
//! (SPEC §5.2), or with a manager's spam verdict (SPEC §5.1, §7).
//!
//! Settling is one transaction in `db::settle`; one that resolved issues queues their
//! notification webhooks, and one that changed live issues tells the SLA clock to look again.

use jiff::Timestamp;

use super::{Reply, StoreError, StoreHandle, StoreMsg, StoreState, hooks_resolved, text_err};
use crate::actors::clock::ClockHandle;
use crate::db::{in_transaction, issues, settle};
use crate::domain::event::Status;
use crate::domain::issue::{Issue, TimelineEntry};
use crate::domain::outcome::{Finding, SettleReport};
use crate::domain::phone::Phone;

/// Issues and their settling.
pub enum Msg {
    /// Issues having any of `statuses` (all when empty), by due time.
    ListIssues {
        /// Which statuses.
        statuses: Vec<Status>,
        /// The issues.
        reply: Reply<Vec<Issue>>,
    },
    /// One issue with its timeline.
    GetIssue {
        /// Issue number.
        id: i64,
        /// The issue and its timeline, or `None`.
        reply: Reply<Option<IssueWithTimeline>>,
    },
    /// The earliest PENDING due time.
    NextPendingDue {
        /// The due time, if any issue is PENDING.
        reply: Reply<Option<Timestamp>>,
    },
    /// PENDING issues whose due time has come, oldest first.
    PendingDue {
        /// The clock's now.
        now: Timestamp,
        /// Most issues to return.
        limit: usize,
        /// The due issues.
        reply: Reply<Vec<Issue>>,
    },
    /// Settle these due issues: resolved when GHL (or a known reply) shows a staff reply,
    /// else OPEN (SPEC §5.2). Issues no longer PENDING are left alone.
    SettleDue {
        /// The clock's now.
        now: Timestamp,
        /// The issues to settle.
        issue_ids: Vec<i64>,
        /// What the resolver found in GHL for them (may be empty).
        findings: Vec<Finding>,
        /// What was done.
        reply: Reply<SettleReport>,
    },
    /// Apply what a resolver pass found: resolve answered issues, remember conversations.
    ApplyFindings {
        /// The findings.
        findings: Vec<Finding>,
        /// The issues resolved.
        reply: Reply<Vec<i64>>,
    },
    /// Keep a contact name looked up in GHL.
    SetContactName {
        /// The issue.
        issue_id: i64,
        /// The name.
        name: String,
    },
    /// Put a phone on the spam list and mark its live issues SPAM (SPEC §5.1, §7).
    MarkSpam {
        /// The normalised phone.
        phone: Phone,
        /// Who asked, for the timeline (`admin`, `manual:<contact>`).
        by: String,
        /// The issues marked SPAM.
        reply: Reply<Vec<i64>>,
    },
}

impl From<Msg> for StoreMsg {
    fn from(msg: Msg) -> StoreMsg {
        StoreMsg::Settle(msg)
    }
}

/// An issue and its timeline, oldest entry first.
pub type IssueWithTimeline = (Issue, Vec<TimelineEntry>);

impl StoreHandle {
    /// Issues having any of `statuses` (all when empty), by due time.
    pub async fn list_issues(&self, statuses: Vec<Status>) -> Result<Vec<Issue>, StoreError> {
        self.ask(|reply| Msg::ListIssues { statuses, reply }).await
    }

    /// One issue with its timeline.
    pub async fn issue(&self, id: i64) -> Result<Option<IssueWithTimeline>, StoreError> {
        self.ask(|reply| Msg::GetIssue { id, reply }).await
    }

    /// The earliest PENDING due time.
    pub async fn next_pending_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.ask(|reply| Msg::NextPendingDue { reply }).await
    }

    /// PENDING issues whose due time has come, oldest first.
    pub async fn pending_due(&self, now: Timestamp, limit: usize) -> Result<Vec<Issue>, StoreError> {
        self.ask(|reply| Msg::PendingDue { now, limit, reply }).await
    }

    /// Settles due issues with what the resolver found.
    pub async fn settle_due(
        &self,
        now: Timestamp,
        issue_ids: Vec<i64>,
        findings: Vec<Finding>,
    ) -> Result<SettleReport, StoreError> {
        self.ask(|reply| Msg::SettleDue { now, issue_ids, findings, reply }).await
    }

    /// Applies what a resolver pass found; answers the issues resolved.
    pub async fn apply_findings(&self, findings: Vec<Finding>) -> Result<Vec<i64>, StoreError> {
        self.ask(|reply| Msg::ApplyFindings { findings, reply }).await
    }

    /// Keeps a contact name looked up in GHL (no answer).
    pub fn set_contact_name(&self, issue_id: i64, name: String) {
        self.tell(Msg::SetContactName { issue_id, name });
    }

    /// Puts a phone on the spam list and marks its live issues SPAM.
    pub async fn mark_spam(&self, phone: Phone, by: String) -> Result<Vec<i64>, StoreError> {
        self.ask(|reply| Msg::MarkSpam { phone, by, reply }).await
    }
}

/// Answers one request about issues.
pub(super) fn handle(msg: Msg, state: &mut StoreState) {
    match msg {
        Msg::ListIssues { statuses, reply } => {
            let _ = reply.send(text_err(issues::list(&state.conn, &statuses)));
        }
        Msg::GetIssue { id, reply } => {
            let found = issues::get(&state.conn, id).and_then(|issue| match issue {
                Some(issue) => Ok(Some((issue, issues::timeline(&state.conn, id)?))),
                None => Ok(None),
            });
            let _ = reply.send(text_err(found));
        }
        Msg::NextPendingDue { reply } => {
            let _ = reply.send(text_err(issues::next_pending_due(&state.conn)));
        }
        Msg::PendingDue { now, limit, reply } => {
            let _ = reply.send(text_err(issues::pending_due(&state.conn, now, limit)));
        }
        Msg::SettleDue { now, issue_ids, findings, reply } => {
            let config = &state.ctx.config;
            let report = tokio::task::block_in_place(|| {
                in_transaction(&mut state.conn, |tx| {
                    let report = settle::settle_due(tx, now, &issue_ids, &findings)?;
                    hooks_resolved(tx, config, now)?;
                    Ok(report)
                })
            });
            let _ = reply.send(text_err(report));
        }
        Msg::ApplyFindings { findings, reply } => {
            let now = state.ctx.time.now();
            let config = &state.ctx.config;
            let resolved = tokio::task::block_in_place(|| {
                in_transaction(&mut state.conn, |tx| {
                    let resolved = settle::apply_findings(tx, now, &findings)?;
                    hooks_resolved(tx, config, now)?;
                    Ok(resolved)
                })
            });
            if resolved.as_ref().is_ok_and(|ids| !ids.is_empty()) {
                ClockHandle.rescheduled();
            }
            let _ = reply.send(text_err(resolved));
        }
        Msg::SetContactName { issue_id, name } => {
            if let Err(err) = issues::set_contact_name(&state.conn, issue_id, &name) {
                tracing::warn!(issue = issue_id, "keeping the contact name failed: {err}");
            }
        }
        Msg::MarkSpam { phone, by, reply } => {
            let now = state.ctx.time.now();
            let marked = tokio::task::block_in_place(|| {
                in_transaction(&mut state.conn, |tx| settle::mark_spam(tx, &phone, &by, now))
            });
            if marked.as_ref().is_ok_and(|ids| !ids.is_empty()) {
                ClockHandle.rescheduled();
            }
            let _ = reply.send(text_err(marked));
        }
    }
}
