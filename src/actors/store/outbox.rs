//! The outbox's side of the store (`db::outbox`, `db::notify`): the rows due for sending, what
//! sending one did, where the rows of a purpose stand, and notification webhooks queued as
//! outbox rows (issue 18). Every row is written before it is sent.

use jiff::Timestamp;

use super::{Reply, StoreError, StoreHandle, StoreMsg, StoreState, text_err};
use crate::actors::outbox::OutboxHandle;
use crate::db::{in_transaction, notify, outbox};
use crate::domain::notify::EventKind;

/// The outbox's requests.
pub enum Msg {
    /// Outbox rows due for sending.
    Due {
        /// The sender's now.
        now: Timestamp,
        /// Most rows.
        limit: usize,
        /// The rows.
        reply: Reply<OutboxDue>,
    },
    /// The result of sending one outbox row: GHL's message id, or the error and whether the
    /// row can never be sent (no token).
    Result {
        /// The row.
        id: i64,
        /// When.
        now: Timestamp,
        /// What happened.
        outcome: outbox::Attempt,
        /// Answered after the commit.
        reply: Reply<()>,
    },
    /// Where the rows queued under a purpose stand (`/jobs/*` report what really went out).
    Progress {
        /// The purpose the rows were queued under.
        purpose: String,
        /// Each row's state.
        reply: Reply<Vec<outbox::Progress>>,
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
}

impl From<Msg> for StoreMsg {
    fn from(msg: Msg) -> StoreMsg {
        StoreMsg::Outbox(msg)
    }
}

/// Outbox rows due now, and when the next pending row is due.
pub type OutboxDue = (Vec<outbox::Entry>, Option<Timestamp>);

impl StoreHandle {
    /// Outbox rows due for sending, and when the next pending row is due.
    pub async fn due_outbox(&self, now: Timestamp, limit: usize) -> Result<OutboxDue, StoreError> {
        self.ask(|reply| Msg::Due { now, limit, reply }).await
    }

    /// Records what sending one outbox row did.
    pub async fn outbox_result(&self, id: i64, now: Timestamp, outcome: outbox::Attempt) -> Result<(), StoreError> {
        self.ask(|reply| Msg::Result { id, now, outcome, reply }).await
    }

    /// Where the rows queued under `purpose` stand.
    pub async fn outbox_progress(&self, purpose: String) -> Result<Vec<outbox::Progress>, StoreError> {
        self.ask(|reply| Msg::Progress { purpose, reply }).await
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
        self.ask(|reply| Msg::QueueHook { kind, purpose, text, now, reply }).await
    }
}

/// Answers one request about the outbox.
pub(super) fn handle(msg: Msg, state: &mut StoreState) {
    match msg {
        Msg::Due { now, limit, reply } => {
            let due = tokio::task::block_in_place(|| {
                let managers = &state.ctx.config.manager_contact_ids;
                in_transaction(&mut state.conn, |tx| {
                    Ok((outbox::due(tx, now, limit, managers)?, outbox::next_attempt(tx)?))
                })
            });
            let _ = reply.send(text_err(due));
        }
        Msg::Result { id, now, outcome, reply } => {
            let done = tokio::task::block_in_place(|| {
                in_transaction(&mut state.conn, |tx| outbox::record(tx, id, now, &outcome))
            });
            let _ = reply.send(text_err(done));
        }
        Msg::Progress { purpose, reply } => {
            let _ = reply.send(text_err(outbox::progress(&state.conn, &purpose)));
        }
        Msg::QueueHook { kind, purpose, text, now, reply } => {
            let config = &state.ctx.config;
            let queued = tokio::task::block_in_place(|| {
                in_transaction(&mut state.conn, |tx| notify::queue(tx, config, kind, &purpose, &text, now))
            });
            if queued.as_ref().is_ok_and(|queued| *queued > 0) {
                OutboxHandle.wake();
            }
            let _ = reply.send(text_err(queued));
        }
    }
}
