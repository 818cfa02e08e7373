//! The issue store: sole owner of the SQLite connection.
//!
//! Webhooks arrive as [`StoreMsg::Ingest`] and are group-committed: each one is queued and a
//! [`StoreMsg::Flush`] is cast to ourselves, which lands behind every ingest already waiting in
//! the mailbox. The flush applies them all in one `synchronous=FULL` transaction and only then
//! answers each, so a webhook's 2xx always follows a durable commit (SPEC §2) and a burst costs
//! one fsync. After a commit that changed deadlines, the SLA clock is told to look again.

use jiff::Timestamp;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use rusqlite::Connection;
use serde::Serialize;

use super::clock::ClockMsg;
use super::{Ctx, names};
use crate::domain::event::{Party, Status};
use crate::domain::phone::Phone;
use crate::ghl::payload::Parsed;
use crate::store::apply::{self, Outcome};
use crate::store::events::{self, RawEvent};
use crate::store::issues::{self, Issue, TimelineEntry};
use crate::store::{kv_set, ts};

/// The store's protocol. Errors travel as text: the caller reports them, it cannot fix them.
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
        reply: RpcReplyPort<Result<(), String>>,
    },
    /// Issues having any of `statuses` (all when empty), by due time.
    ListIssues {
        /// Which statuses.
        statuses: Vec<Status>,
        /// The issues.
        reply: RpcReplyPort<Result<Vec<Issue>, String>>,
    },
    /// One issue with its timeline.
    GetIssue {
        /// Issue number.
        id: i64,
        /// The issue and its timeline, or `None`.
        reply: RpcReplyPort<Result<Option<IssueWithTimeline>, String>>,
    },
    /// The earliest PENDING due time.
    NextPendingDue {
        /// The due time, if any issue is PENDING.
        reply: RpcReplyPort<Result<Option<Timestamp>, String>>,
    },
    /// Settle PENDING issues due at `now`: each becomes OPEN (SPEC §5.2).
    SettleDue {
        /// The clock's now.
        now: Timestamp,
        /// Most issues to settle.
        limit: usize,
        /// What was done.
        reply: RpcReplyPort<Result<SettleReport, String>>,
    },
    /// Prune raw events received before `before`.
    PruneRawEvents {
        /// Cut-off.
        before: Timestamp,
        /// Count only.
        dry_run: bool,
        /// How many were (or would be) deleted.
        reply: RpcReplyPort<Result<usize, String>>,
    },
    /// Put a phone on the spam list and mark its live issues SPAM (SPEC §5.1, §7).
    MarkSpam {
        /// The normalised phone.
        phone: Phone,
        /// Who asked, for the timeline (`admin`, `manual:<contact>`).
        by: String,
        /// The issues marked SPAM.
        reply: RpcReplyPort<Result<Vec<i64>, String>>,
    },
    /// Figures for `/health` and the status page.
    Stats {
        /// The figures.
        reply: RpcReplyPort<Result<StoreStats, String>>,
    },
    /// Test hook: panic, to prove the supervisor restarts the store.
    Fail,
}

/// Where the store answers an ingest: with the outcome after the commit, or why it failed.
pub type IngestReply = RpcReplyPort<Result<Outcome, String>>;

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

/// What settling due issues did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SettleReport {
    /// PENDING issues that were due.
    pub checked: usize,
    /// Those that became OPEN.
    pub promoted_open: Vec<i64>,
    /// Those resolved by a known staff reply.
    pub auto_resolved: Vec<i64>,
}

/// Figures about the database.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StoreStats {
    /// Issues per status.
    pub issues: std::collections::BTreeMap<String, i64>,
    /// When the last webhook was received.
    pub last_webhook_at: Option<Timestamp>,
}

/// The store actor; its state is built in `pre_start`.
pub struct Store;

/// The connection and the ingests waiting for the next commit.
pub struct StoreState {
    ctx: Ctx,
    conn: Connection,
    queued: Vec<(Box<Webhook>, IngestReply)>,
}

impl Actor for Store {
    type Msg = StoreMsg;
    type State = StoreState;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        _myself: ActorRef<StoreMsg>,
        ctx: Ctx,
    ) -> Result<StoreState, ActorProcessingErr> {
        let conn = tokio::task::block_in_place(|| crate::store::schema::open(&ctx.config.db_path))?;
        Ok(StoreState {
            ctx,
            conn,
            queued: Vec::new(),
        })
    }

    async fn handle(
        &self,
        myself: ActorRef<StoreMsg>,
        msg: StoreMsg,
        state: &mut StoreState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            StoreMsg::Ingest { webhook, reply } => {
                if state.queued.is_empty() && myself.cast(StoreMsg::Flush).is_err() {
                    tracing::warn!("store is stopping; the webhook will be refused and retried");
                }
                state.queued.push((webhook, reply));
            }
            StoreMsg::Flush => tokio::task::block_in_place(|| flush(state)),
            StoreMsg::Heartbeat { reply } => {
                let now = state.ctx.time.now();
                let result =
                    tokio::task::block_in_place(|| kv_set(&state.conn, "heartbeat_at", &ts(now)));
                let _ = reply.send(result.map_err(|err| format!("database write failed: {err}")));
            }
            StoreMsg::ListIssues { statuses, reply } => {
                let _ = reply.send(text_err(issues::list(&state.conn, &statuses)));
            }
            StoreMsg::GetIssue { id, reply } => {
                let found = issues::get(&state.conn, id).and_then(|issue| match issue {
                    Some(issue) => Ok(Some((issue, issues::timeline(&state.conn, id)?))),
                    None => Ok(None),
                });
                let _ = reply.send(text_err(found));
            }
            StoreMsg::NextPendingDue { reply } => {
                let _ = reply.send(text_err(issues::next_pending_due(&state.conn)));
            }
            StoreMsg::SettleDue { now, limit, reply } => {
                let report =
                    tokio::task::block_in_place(|| settle_due(&mut state.conn, now, limit));
                let _ = reply.send(text_err(report));
            }
            StoreMsg::PruneRawEvents {
                before,
                dry_run,
                reply,
            } => {
                let pruned =
                    tokio::task::block_in_place(|| events::prune(&state.conn, before, dry_run));
                let _ = reply.send(text_err(pruned));
            }
            StoreMsg::MarkSpam { phone, by, reply } => {
                let now = state.ctx.time.now();
                let marked =
                    tokio::task::block_in_place(|| mark_spam(&mut state.conn, &phone, &by, now));
                if marked.as_ref().is_ok_and(|ids| !ids.is_empty()) {
                    super::cast(names::CLOCK, ClockMsg::Rescheduled);
                }
                let _ = reply.send(text_err(marked));
            }
            StoreMsg::Stats { reply } => {
                let _ = reply.send(text_err(stats(&state.conn)));
            }
            StoreMsg::Fail => panic!("store: failure injected by a test"),
        }
        Ok(())
    }
}

fn text_err<T>(result: rusqlite::Result<T>) -> Result<T, String> {
    result.map_err(|err| format!("database error: {err}"))
}

/// Applies every queued webhook in one transaction, then answers each.
fn flush(state: &mut StoreState) {
    let queued = std::mem::take(&mut state.queued);
    if queued.is_empty() {
        return;
    }
    let now = state.ctx.time.now();
    let config = &state.ctx.config;
    let committed = (|| -> rusqlite::Result<Vec<Outcome>> {
        let tx = state.conn.transaction()?;
        let outcomes = queued
            .iter()
            .map(|(webhook, _)| apply::apply(&tx, config, &webhook.raw, &webhook.parsed, now))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        tx.commit()?;
        Ok(outcomes)
    })();
    match committed {
        Ok(outcomes) => {
            let reschedule = outcomes.iter().any(Outcome::changes_deadlines);
            tracing::debug!(batch = outcomes.len(), "webhooks committed");
            for ((_, reply), outcome) in queued.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
            if reschedule {
                super::cast(names::CLOCK, ClockMsg::Rescheduled);
            }
        }
        Err(err) => {
            // Nothing was committed: every sender gets an error, and GHL retries (SPEC §2).
            tracing::error!(batch = queued.len(), error = %err, "webhook commit failed");
            for (_, reply) in queued {
                let _ = reply.send(Err(format!("could not store the event: {err}")));
            }
        }
    }
}

fn settle_due(
    conn: &mut Connection,
    now: Timestamp,
    limit: usize,
) -> rusqlite::Result<SettleReport> {
    let tx = conn.transaction()?;
    let due = issues::pending_due(&tx, now, limit)?;
    let mut report = SettleReport {
        checked: due.len(),
        ..SettleReport::default()
    };
    for issue in due {
        let party = crate::domain::event::Party {
            conversation_id: issue.conversation_id.clone(),
            contact_id: issue.contact_id.clone(),
            phone: issue
                .phone
                .as_deref()
                .and_then(crate::domain::phone::Phone::parse),
        };
        let replied =
            issues::last_staff_reply(&tx, &party)?.is_some_and(|at| at > issue.first_inbound_at);
        if replied
            && issues::resolve(
                &tx,
                issue.id,
                now,
                "staff_reply:known",
                "a staff reply was already recorded",
            )?
        {
            report.auto_resolved.push(issue.id);
        } else if issues::open(
            &tx,
            issue.id,
            now,
            "response target passed without a staff reply",
        )? {
            report.promoted_open.push(issue.id);
        }
    }
    tx.commit()?;
    Ok(report)
}

fn mark_spam(
    conn: &mut Connection,
    phone: &Phone,
    by: &str,
    now: Timestamp,
) -> rusqlite::Result<Vec<i64>> {
    let tx = conn.transaction()?;
    issues::add_spam(&tx, phone, now)?;
    let party = Party {
        phone: Some(phone.clone()),
        ..Party::default()
    };
    let mut marked = Vec::new();
    for issue in issues::live_for_party(&tx, &party)? {
        if issues::mark_spam(&tx, issue.id, now, by)? {
            marked.push(issue.id);
        }
    }
    tx.commit()?;
    Ok(marked)
}

fn stats(conn: &Connection) -> rusqlite::Result<StoreStats> {
    Ok(StoreStats {
        issues: issues::counts(conn)?.into_iter().collect(),
        last_webhook_at: events::last_received_at(conn)?,
    })
}
