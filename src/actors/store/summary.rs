//! What the summary sender plans with and queues (`db::facts`, `db::summary`): the facts it
//! plans with, each slot's digest, the alert for newly OPEN issues, and one-off notices.
//!
//! The sender decides what managers are told and when; the store builds the text, claims the
//! slot and queues it in one transaction, then wakes the outbox sender to send it.

use jiff::Timestamp;

use super::{Reply, StoreError, StoreHandle, StoreMsg, StoreState, text_err};
use crate::actors::outbox::OutboxHandle;
use crate::db::facts::{self, SummaryFacts};
use crate::db::in_transaction;
use crate::db::summary::{self, AlertReport, DigestReport};
use crate::domain::issue::Delivery;

/// The summary sender's requests.
pub enum Msg {
    /// What the summary sender needs to plan; records that the appliance is running now.
    Facts {
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
    /// Each manager's latest "OK" at or after `since` (`sentinel doctor --send-test-sms`).
    Oks {
        /// When the test texts were queued.
        since: Timestamp,
        /// Contact ids and when each said OK.
        reply: Reply<Vec<(String, Timestamp)>>,
    },
}

impl From<Msg> for StoreMsg {
    fn from(msg: Msg) -> StoreMsg {
        StoreMsg::Summary(msg)
    }
}

impl StoreHandle {
    /// What the summary sender plans with; records that the appliance runs now.
    pub async fn summary_facts(&self, now: Timestamp) -> Result<SummaryFacts, StoreError> {
        self.ask(|reply| Msg::Facts { now, reply }).await
    }

    /// Builds a slot's digest and, unless a dry run, claims the slot and queues it.
    pub async fn build_digest(
        &self,
        slot: String,
        now: Timestamp,
        delivery: Delivery,
    ) -> Result<DigestReport, StoreError> {
        self.ask(|reply| Msg::BuildDigest { slot, now, delivery, reply }).await
    }

    /// Builds the alert for OPEN issues not alerted yet and, unless a dry run, queues it.
    pub async fn build_alert(&self, now: Timestamp, delivery: Delivery) -> Result<AlertReport, StoreError> {
        self.ask(|reply| Msg::BuildAlert { now, delivery, reply }).await
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
        self.ask(|reply| Msg::QueueNotice { purpose, body, quiet_since, now, reply }).await
    }

    /// Each manager's latest "OK" at or after `since`, oldest first (SPEC §13).
    pub async fn manager_oks(&self, since: Timestamp) -> Result<Vec<(String, Timestamp)>, StoreError> {
        self.ask(|reply| Msg::Oks { since, reply }).await
    }
}

/// Answers one request of the summary sender.
pub(super) fn handle(msg: Msg, state: &mut StoreState) {
    let config = &state.ctx.config;
    match msg {
        Msg::Facts { now, reply } => {
            let trusted = state.ctx.signals.clock_trusted();
            let facts = tokio::task::block_in_place(|| facts::summary_facts(&state.conn, config, now, trusted));
            let _ = reply.send(text_err(facts));
        }
        Msg::BuildDigest { slot, now, delivery, reply } => {
            if !config.summary_slots.iter().any(|s| s.name == slot) {
                let expected = config.summary_slots.iter().map(|s| s.name.clone()).collect();
                let _ = reply.send(Err(StoreError::UnknownSlot { slot, expected }));
            } else {
                let built = tokio::task::block_in_place(|| {
                    in_transaction(&mut state.conn, |tx| summary::build_digest(tx, config, &slot, now, delivery))
                });
                if built.as_ref().is_ok_and(|report| report.queued) {
                    OutboxHandle.wake();
                }
                let _ = reply.send(text_err(built));
            }
        }
        Msg::BuildAlert { now, delivery, reply } => {
            let built = tokio::task::block_in_place(|| {
                in_transaction(&mut state.conn, |tx| summary::build_alert(tx, config, now, delivery))
            });
            // Webhooks may have been queued even when no SMS was.
            if built.is_ok() {
                OutboxHandle.wake();
            }
            let _ = reply.send(text_err(built));
        }
        Msg::QueueNotice { purpose, body, quiet_since, now, reply } => {
            let queued = tokio::task::block_in_place(|| {
                in_transaction(&mut state.conn, |tx| {
                    if let Some(since) = quiet_since
                        && summary::webhook_since(tx, since)?
                    {
                        return Ok(false);
                    }
                    summary::queue_notice(tx, config, &purpose, &body, now)
                })
            });
            if queued.as_ref().is_ok_and(|queued| *queued) {
                OutboxHandle.wake();
            }
            let _ = reply.send(text_err(queued));
        }
        Msg::Oks { since, reply } => {
            let _ = reply.send(text_err(crate::db::doctor::oks_since(&state.conn, since)));
        }
    }
}
