//! The store's protocol and its typed handle: what can be asked of the one owner of the
//! database, and the errors that can come back.

use std::time::Duration;

use jiff::Timestamp;
use ractor::RpcReplyPort;

use super::super::{CALL_TIMEOUT, names};
pub use super::error::StoreError;
use crate::db::events::{self, RawEvent};
use crate::db::facts::{StoreStats, SummaryFacts};
use crate::db::outbox;
use crate::db::summary::{AlertReport, DigestReport};
use crate::domain::ai::{ThreadState, Verdict};
use crate::domain::event::{Parsed, Status};
use crate::domain::issue::{Delivery, Issue, TimelineEntry};
use crate::domain::notify::EventKind;
use crate::domain::outcome::{Finding, Outcome, SettleReport};
use crate::domain::phone::Phone;

/// Where the store answers: with the value, or why not.
pub type Reply<T> = RpcReplyPort<Result<T, StoreError>>;

/// The store's protocol. Callers use [`StoreHandle`]; only the store's own module builds these.
pub enum StoreMsg {
    /// Store and apply a webhook; answered after the commit that contains it.
    Ingest {
        /// The webhook as received and as parsed (boxed: it dwarfs every other message).
        webhook: Box<Webhook>,
        /// Answered with what became of it.
        reply: IngestReply,
    },
    /// Commit every queued ingest (cast by the store to itself).
    Flush,
    /// Health: a real write transaction, as the watchdog demands.
    Heartbeat {
        /// Answered after the commit.
        reply: Reply<()>,
    },
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
    /// The AI check's cached verdicts for these thread states, in the same order (SPEC §10).
    AiCached {
        /// The thread states about to be sent.
        states: Vec<ThreadState>,
        /// A verdict for each state that has one.
        reply: Reply<Vec<Option<Verdict>>>,
    },
    /// Keep fresh AI verdicts, each for the thread state it answers.
    AiRecord {
        /// The verdicts.
        verdicts: Vec<(ThreadState, Verdict)>,
        /// The model that gave them.
        model: String,
        /// The resolver's now.
        now: Timestamp,
        /// Answered after the commit.
        reply: Reply<()>,
    },
    /// Keep a contact name looked up in GHL.
    SetContactName {
        /// The issue.
        issue_id: i64,
        /// The name.
        name: String,
    },
    /// Prune raw events received before `before`.
    PruneRawEvents {
        /// Cut-off.
        before: Timestamp,
        /// Count only.
        dry_run: bool,
        /// How many were (or would be) deleted.
        reply: Reply<usize>,
    },
    /// What the summary sender needs to plan; records that the appliance is running now.
    SummaryFacts {
        /// The sender's now.
        now: Timestamp,
        /// The facts, read before `now` is recorded as last seen.
        reply: Reply<SummaryFacts>,
    },
    /// Build a slot's digest and, unless a dry run, claim the slot and queue it.
    BuildDigest {
        /// The slot's name.
        slot: String,
        /// The sender's now.
        now: Timestamp,
        /// Queue or only show.
        delivery: Delivery,
        /// What was built.
        reply: Reply<DigestReport>,
    },
    /// Build the alert for OPEN issues not alerted yet and, unless a dry run, queue it.
    BuildAlert {
        /// The sender's now.
        now: Timestamp,
        /// Queue or only show.
        delivery: Delivery,
        /// What was built.
        reply: Reply<AlertReport>,
    },
    /// Queue a one-off notice to managers (the appliance cannot see GHL); `quiet_since`
    /// makes it conditional on no webhook having arrived since then.
    QueueNotice {
        /// Unique purpose, e.g. `notice:quiet:2026-11-23`.
        purpose: String,
        /// The text.
        body: String,
        /// Only when no webhook arrived since this instant.
        quiet_since: Option<Timestamp>,
        /// The sender's now.
        now: Timestamp,
        /// Whether it was queued.
        reply: Reply<bool>,
    },
    /// Queue a notification webhook of `kind` for every target that takes it (issue 18).
    QueueHook {
        /// What it is about.
        kind: EventKind,
        /// Unique purpose, e.g. `health:2026-11-23T14:00:00Z`.
        purpose: String,
        /// The text.
        text: String,
        /// The sender's now.
        now: Timestamp,
        /// How many rows were queued.
        reply: Reply<usize>,
    },
    /// Outbox rows due for sending.
    DueOutbox {
        /// The sender's now.
        now: Timestamp,
        /// Most rows.
        limit: usize,
        /// The rows.
        reply: Reply<OutboxDue>,
    },
    /// The result of sending one outbox row: GHL's message id, or the error and whether the
    /// row can never be sent (no token).
    OutboxResult {
        /// The row.
        id: i64,
        /// When.
        now: Timestamp,
        /// What happened.
        outcome: outbox::Attempt,
        /// Answered after the commit.
        reply: Reply<()>,
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
    /// The nightly duty: run what is due (cast by the store's own timer, and by whoever moved
    /// the clock).
    Nightly,
    /// An off-box upload ended (sent by the upload itself): keep its record.
    OffboxDone(Box<crate::offbox::Record>),
    /// Where the rows queued under a purpose stand (`/jobs/*` report what really went out).
    OutboxProgress {
        /// The purpose the rows were queued under.
        purpose: String,
        /// Each row's state.
        reply: Reply<Vec<outbox::Progress>>,
    },
    /// Events stored while the wall clock was not believed, oldest first (issue 15).
    Deferred {
        /// Most events.
        limit: usize,
        /// The events.
        reply: Reply<Vec<crate::db::events::Deferred>>,
    },
    /// Judges one deferred event at its true arrival time.
    ApplyDeferred {
        /// The raw event.
        id: i64,
        /// It, parsed again.
        parsed: Box<Parsed>,
        /// When it really arrived.
        at: Timestamp,
        /// What became of it.
        reply: Reply<Outcome>,
    },
    /// Figures for `/health` and the status page.
    Stats {
        /// The figures.
        reply: Reply<StoreStats>,
    },
    /// The managers' console's requests (issue 17).
    Console(super::console::ConsoleMsg),
    /// Test hook: panic, to prove the supervisor restarts the store.
    Fail,
    /// Test hook: hold the mailbox this long, as a stuck disk would, to prove the watchdog
    /// stops being fed.
    Wedge(std::time::Duration),
}

/// Where the store answers an ingest: with the outcome after the commit, or why it failed.
pub type IngestReply = Reply<Outcome>;

/// Outbox rows due now, and when the next pending row is due.
pub type OutboxDue = (Vec<outbox::Entry>, Option<Timestamp>);

/// An issue and its timeline, oldest entry first.
pub type IssueWithTimeline = (Issue, Vec<TimelineEntry>);

/// A webhook on its way into the database.
#[derive(Debug)]
pub struct Webhook {
    /// The raw event row to store.
    pub raw: RawEvent,
    /// What the parser made of it.
    pub parsed: Parsed,
}

/// The store as callers see it: one method per request, typed answers and errors. It finds the
/// store by name on each call, so it survives the store's restarts.
#[derive(Debug, Clone, Copy)]
pub struct StoreHandle {
    timeout: Duration,
}

impl Default for StoreHandle {
    fn default() -> Self {
        StoreHandle { timeout: CALL_TIMEOUT }
    }
}

impl StoreHandle {
    /// A handle whose calls wait at most `timeout` for an answer.
    pub fn with_timeout(timeout: Duration) -> Self {
        StoreHandle { timeout }
    }

    pub(super) async fn ask<T: Send + 'static>(
        &self,
        build: impl FnOnce(Reply<T>) -> StoreMsg,
    ) -> Result<T, StoreError> {
        super::super::call(names::STORE, build, self.timeout).await?
    }

    fn tell(&self, message: StoreMsg) {
        super::super::cast(names::STORE, message);
    }

    /// Hands a webhook to the store, which answers `reply` after the commit that contains it
    /// (or with why it could not).
    pub fn ingest(&self, webhook: Webhook, reply: IngestReply) {
        match super::super::find::<StoreMsg>(names::STORE) {
            Ok(store) => {
                let webhook = Box::new(webhook);
                if let Err(err) = store.cast(StoreMsg::Ingest { webhook, reply }) {
                    tracing::warn!("the store refused a webhook: {err}");
                }
            }
            Err(err) => {
                let _ = reply.send(Err(StoreError::Unavailable(err)));
            }
        }
    }

    /// A real write when one is due, else a read: the watchdog's deep probe.
    pub async fn heartbeat(&self) -> Result<(), StoreError> {
        self.ask(|reply| StoreMsg::Heartbeat { reply }).await
    }

    /// Issues having any of `statuses` (all when empty), by due time.
    pub async fn list_issues(&self, statuses: Vec<Status>) -> Result<Vec<Issue>, StoreError> {
        self.ask(|reply| StoreMsg::ListIssues { statuses, reply }).await
    }

    /// One issue with its timeline.
    pub async fn issue(&self, id: i64) -> Result<Option<IssueWithTimeline>, StoreError> {
        self.ask(|reply| StoreMsg::GetIssue { id, reply }).await
    }

    /// The earliest PENDING due time.
    pub async fn next_pending_due(&self) -> Result<Option<Timestamp>, StoreError> {
        self.ask(|reply| StoreMsg::NextPendingDue { reply }).await
    }

    /// PENDING issues whose due time has come, oldest first.
    pub async fn pending_due(&self, now: Timestamp, limit: usize) -> Result<Vec<Issue>, StoreError> {
        self.ask(|reply| StoreMsg::PendingDue { now, limit, reply }).await
    }

    /// Settles due issues with what the resolver found.
    pub async fn settle_due(
        &self,
        now: Timestamp,
        issue_ids: Vec<i64>,
        findings: Vec<Finding>,
    ) -> Result<SettleReport, StoreError> {
        self.ask(|reply| StoreMsg::SettleDue { now, issue_ids, findings, reply }).await
    }

    /// Applies what a resolver pass found; answers the issues resolved.
    pub async fn apply_findings(&self, findings: Vec<Finding>) -> Result<Vec<i64>, StoreError> {
        self.ask(|reply| StoreMsg::ApplyFindings { findings, reply }).await
    }

    /// The AI check's cached verdicts, one per thread state.
    pub async fn ai_cached(&self, states: Vec<ThreadState>) -> Result<Vec<Option<Verdict>>, StoreError> {
        self.ask(|reply| StoreMsg::AiCached { states, reply }).await
    }

    /// Keeps fresh AI verdicts.
    pub async fn ai_record(
        &self,
        verdicts: Vec<(ThreadState, Verdict)>,
        model: String,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        self.ask(|reply| StoreMsg::AiRecord { verdicts, model, now, reply }).await
    }

    /// Keeps a contact name looked up in GHL (no answer).
    pub fn set_contact_name(&self, issue_id: i64, name: String) {
        self.tell(StoreMsg::SetContactName { issue_id, name });
    }

    /// Prunes raw events received before `before`, or only counts them.
    pub async fn prune_raw_events(&self, before: Timestamp, dry_run: bool) -> Result<usize, StoreError> {
        self.ask(|reply| StoreMsg::PruneRawEvents { before, dry_run, reply }).await
    }

    /// What the summary sender plans with; records that the appliance runs now.
    pub async fn summary_facts(&self, now: Timestamp) -> Result<SummaryFacts, StoreError> {
        self.ask(|reply| StoreMsg::SummaryFacts { now, reply }).await
    }

    /// Builds a slot's digest and, unless a dry run, claims the slot and queues it.
    pub async fn build_digest(
        &self,
        slot: String,
        now: Timestamp,
        delivery: Delivery,
    ) -> Result<DigestReport, StoreError> {
        self.ask(|reply| StoreMsg::BuildDigest { slot, now, delivery, reply }).await
    }

    /// Builds the alert for OPEN issues not alerted yet and, unless a dry run, queues it.
    pub async fn build_alert(&self, now: Timestamp, delivery: Delivery) -> Result<AlertReport, StoreError> {
        self.ask(|reply| StoreMsg::BuildAlert { now, delivery, reply }).await
    }

    /// Queues a one-off notice to managers; with `quiet_since`, only when no webhook arrived
    /// since then. Answers whether it was queued.
    pub async fn queue_notice(
        &self,
        purpose: String,
        body: String,
        quiet_since: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<bool, StoreError> {
        self.ask(|reply| StoreMsg::QueueNotice { purpose, body, quiet_since, now, reply }).await
    }

    /// Queues a notification webhook of `kind` for every target that takes it; answers how
    /// many rows were queued.
    pub async fn queue_hook(
        &self,
        kind: EventKind,
        purpose: String,
        text: String,
        now: Timestamp,
    ) -> Result<usize, StoreError> {
        self.ask(|reply| StoreMsg::QueueHook { kind, purpose, text, now, reply }).await
    }

    /// Outbox rows due for sending, and when the next pending row is due.
    pub async fn due_outbox(&self, now: Timestamp, limit: usize) -> Result<OutboxDue, StoreError> {
        self.ask(|reply| StoreMsg::DueOutbox { now, limit, reply }).await
    }

    /// Records what sending one outbox row did.
    pub async fn outbox_result(&self, id: i64, now: Timestamp, outcome: outbox::Attempt) -> Result<(), StoreError> {
        self.ask(|reply| StoreMsg::OutboxResult { id, now, outcome, reply }).await
    }

    /// Where the rows queued under `purpose` stand.
    pub async fn outbox_progress(&self, purpose: String) -> Result<Vec<outbox::Progress>, StoreError> {
        self.ask(|reply| StoreMsg::OutboxProgress { purpose, reply }).await
    }

    /// Puts a phone on the spam list and marks its live issues SPAM.
    pub async fn mark_spam(&self, phone: Phone, by: String) -> Result<Vec<i64>, StoreError> {
        self.ask(|reply| StoreMsg::MarkSpam { phone, by, reply }).await
    }

    /// Runs the nightly duty if it is due (the clock moved, or came to be believed).
    pub fn nightly(&self) {
        self.tell(StoreMsg::Nightly);
    }

    /// Events stored while the wall clock was not believed, oldest first.
    pub async fn deferred(&self, limit: usize) -> Result<Vec<events::Deferred>, StoreError> {
        self.ask(|reply| StoreMsg::Deferred { limit, reply }).await
    }

    /// Judges one deferred event at its true arrival time.
    pub async fn apply_deferred(&self, id: i64, parsed: Parsed, at: Timestamp) -> Result<Outcome, StoreError> {
        let parsed = Box::new(parsed);
        self.ask(|reply| StoreMsg::ApplyDeferred { id, parsed, at, reply }).await
    }

    /// Figures for `/health` and the status page.
    pub async fn stats(&self) -> Result<StoreStats, StoreError> {
        self.ask(|reply| StoreMsg::Stats { reply }).await
    }

    /// Test hook: makes the store panic.
    pub fn fail(&self) {
        self.tell(StoreMsg::Fail);
    }

    /// Test hook: holds the store's mailbox for `period`.
    pub fn wedge(&self, period: Duration) {
        self.tell(StoreMsg::Wedge(period));
    }
}
