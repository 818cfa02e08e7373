//! Webhooks into the store: the group commit (SPEC §2), the events deferred while the wall
//! clock was not believed (issue 15), and the pruning of raw events.
//!
//! An ingest is queued and a `Flush` cast to the store itself, which lands behind every ingest
//! already waiting in the mailbox; the flush applies them all in one transaction
//! (`db::apply`) and only then answers each. What follows a commit (the clock told, names
//! looked up, command replies sent) is [`follow_up`]'s.

use jiff::Timestamp;
use ractor::ActorRef;

use super::{Reply, StoreError, StoreHandle, StoreMsg, StoreState, hooks_resolved, is_disk_full, text_err};
use crate::actors::Ctx;
use crate::actors::clock::ClockHandle;
use crate::actors::names;
use crate::actors::outbox::OutboxHandle;
use crate::actors::resolver::ResolverHandle;
use crate::db::events::{self, RawEvent};
use crate::db::{World, apply, in_transaction};
use crate::domain::calendar::Calendar;
use crate::domain::event::{Event, Parsed};
use crate::domain::outcome::Outcome;

/// Webhooks in.
pub enum Msg {
    /// Store and apply a webhook; answered after the commit that contains it.
    Ingest {
        /// The webhook as received and as parsed (boxed: it dwarfs every other message).
        webhook: Box<Webhook>,
        /// Answered with what became of it.
        reply: IngestReply,
    },
    /// Commit every queued ingest (cast by the store to itself).
    Flush,
    /// Events stored while the wall clock was not believed, oldest first (issue 15).
    Deferred {
        /// Most events.
        limit: usize,
        /// The events.
        reply: Reply<Vec<events::Deferred>>,
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
    /// Prune raw events received before `before`.
    PruneRawEvents {
        /// Cut-off.
        before: Timestamp,
        /// Count only.
        dry_run: bool,
        /// How many were (or would be) deleted.
        reply: Reply<usize>,
    },
}

impl From<Msg> for StoreMsg {
    fn from(msg: Msg) -> StoreMsg {
        StoreMsg::Intake(msg)
    }
}

/// Where the store answers an ingest: with the outcome after the commit, or why it failed.
pub type IngestReply = Reply<Outcome>;

/// A webhook on its way into the database.
#[derive(Debug)]
pub struct Webhook {
    /// The raw event row to store.
    pub raw: RawEvent,
    /// What the parser made of it.
    pub parsed: Parsed,
}

impl StoreHandle {
    /// Hands a webhook to the store, which answers `reply` after the commit that contains it
    /// (or with why it could not).
    pub fn ingest(&self, webhook: Webhook, reply: IngestReply) {
        match crate::actors::find::<StoreMsg>(names::STORE) {
            Ok(store) => {
                let webhook = Box::new(webhook);
                if let Err(err) = store.cast(Msg::Ingest { webhook, reply }.into()) {
                    tracing::warn!("the store refused a webhook: {err}");
                }
            }
            Err(err) => {
                let _ = reply.send(Err(StoreError::Unavailable(err)));
            }
        }
    }

    /// Events stored while the wall clock was not believed, oldest first.
    pub async fn deferred(&self, limit: usize) -> Result<Vec<events::Deferred>, StoreError> {
        self.ask(|reply| Msg::Deferred { limit, reply }).await
    }

    /// Judges one deferred event at its true arrival time.
    pub async fn apply_deferred(&self, id: i64, parsed: Parsed, at: Timestamp) -> Result<Outcome, StoreError> {
        let parsed = Box::new(parsed);
        self.ask(|reply| Msg::ApplyDeferred { id, parsed, at, reply }).await
    }

    /// Prunes raw events received before `before`, or only counts them.
    pub async fn prune_raw_events(&self, before: Timestamp, dry_run: bool) -> Result<usize, StoreError> {
        self.ask(|reply| Msg::PruneRawEvents { before, dry_run, reply }).await
    }
}

/// Answers one intake request.
pub(super) fn handle(msg: Msg, myself: &ActorRef<StoreMsg>, state: &mut StoreState) {
    match msg {
        Msg::Ingest { webhook, reply } => {
            if state.queued.is_empty() && myself.cast(Msg::Flush.into()).is_err() {
                tracing::warn!("store is stopping; the webhook will be refused and retried");
            }
            state.queued.push((webhook, reply));
        }
        Msg::Flush => tokio::task::block_in_place(|| flush(state)),
        Msg::Deferred { limit, reply } => {
            let _ = reply.send(text_err(events::deferred(&state.conn, limit)));
        }
        Msg::ApplyDeferred { id, parsed, at, reply } => {
            let ctx = state.ctx.clone();
            let calendar = ctx.calendar();
            let judged = tokio::task::block_in_place(|| {
                with_world(&ctx, &state.boot_id, &calendar, |world| {
                    in_transaction(&mut state.conn, |tx| apply::apply_deferred(tx, world, id, &parsed, at))
                })
            });
            if let Ok(outcome) = &judged {
                if let Outcome::Command { hours: Some(calendar), .. } = outcome {
                    super::hours::share(&ctx, calendar);
                }
                follow_up(&ctx, &[(&parsed, outcome)]);
            }
            let _ = reply.send(text_err(judged));
        }
        Msg::PruneRawEvents { before, dry_run, reply } => {
            let now = state.ctx.time.now();
            let pruned = tokio::task::block_in_place(|| events::prune(&state.conn, before, now, dry_run));
            let _ = reply.send(text_err(pruned));
        }
    }
}

/// Applies every queued webhook in one transaction, then answers each.
fn flush(state: &mut StoreState) {
    let queued = std::mem::take(&mut state.queued);
    if queued.is_empty() {
        return;
    }
    let now = state.ctx.time.now();
    let ctx = &state.ctx;
    let calendar = ctx.calendar();
    let committed = with_world(ctx, &state.boot_id, &calendar, |world| {
        in_transaction(&mut state.conn, |tx| {
            let mut changed: Option<Calendar> = None;
            let mut outcomes = Vec::with_capacity(queued.len());
            for (webhook, _) in &queued {
                let world = World { calendar: changed.as_ref().unwrap_or(world.calendar), ..*world };
                let outcome = apply::apply(tx, &world, &webhook.raw, &webhook.parsed, now)?;
                // A command may have changed the hours: the rest of the batch sees the new ones.
                if let Outcome::Command { hours: Some(calendar), .. } = &outcome {
                    changed = Some(Calendar::clone(calendar));
                }
                outcomes.push(outcome);
            }
            hooks_resolved(tx, &ctx.config, now)?;
            Ok((outcomes, changed))
        })
    });
    match committed {
        Ok((outcomes, changed)) => {
            state.ctx.signals.webhooks_committed();
            state.ctx.signals.set_disk_full(false);
            let judged: Vec<(&Parsed, &Outcome)> =
                queued.iter().map(|(webhook, _)| &webhook.parsed).zip(outcomes.iter()).collect();
            if let Some(calendar) = &changed {
                super::hours::share(&state.ctx, calendar);
            }
            follow_up(&state.ctx, &judged);
            tracing::debug!(batch = outcomes.len(), "webhooks committed");
            for ((_, reply), outcome) in queued.into_iter().zip(outcomes) {
                let _ = reply.send(Ok(outcome));
            }
        }
        Err(err) => {
            // Nothing was committed: every sender gets an error, and GHL retries (SPEC §2).
            if is_disk_full(&err) {
                state.ctx.signals.set_disk_full(true);
                OutboxHandle.wake();
            }
            tracing::error!(batch = queued.len(), error = %err, "webhook commit failed");
            for (_, reply) in queued {
                let _ = reply.send(Err(StoreError::Database(format!("could not store the event: {err}"))));
            }
        }
    }
}

/// Runs `work` with what the store's transactions are told of the world outside.
pub(super) fn with_world<T>(ctx: &Ctx, boot_id: &str, calendar: &Calendar, work: impl FnOnce(&World<'_>) -> T) -> T {
    let location = ctx.ghl.location_id();
    let world = World {
        config: &ctx.config,
        calendar,
        clock_trusted: ctx.signals.clock_trusted(),
        monotonic: ctx.time.monotonic(),
        boot_id,
        location_id: location.as_deref(),
        uptime: ctx.uptime(),
        ghl_state: ctx.ghl.status().state,
    };
    work(&world)
}

/// What follows a commit of judged events: the SLA clock looks again when deadlines moved,
/// command replies go out, and GHL is asked for missing names (SPEC §3.4) and whether a
/// lone "thanks" followed a staff reply (SPEC §5.3).
pub(super) fn follow_up(ctx: &Ctx, judged: &[(&Parsed, &Outcome)]) {
    // The first webhook's location is kept by the transaction; the client learns it now.
    if ctx.config.ghl.location_id.is_none() {
        for (parsed, _) in judged {
            if let Some(location) = &parsed.location_id
                && ctx.ghl.learn_location(location)
            {
                tracing::info!(location, "GHL location learned from a webhook (set GHL_LOCATION_ID to pin it)");
            }
        }
    }
    if judged.iter().any(|(_, outcome)| outcome.changes_deadlines()) {
        ClockHandle.rescheduled();
    }
    if judged.iter().any(|(_, outcome)| matches!(outcome, Outcome::Command { .. } | Outcome::Noted(_))) {
        OutboxHandle.wake();
    }
    if !ctx.ghl.is_configured() {
        return;
    }
    for (parsed, outcome) in judged {
        if let (Outcome::Created { issue_id, .. }, Event::Inbound(inbound)) = (outcome, &parsed.event)
            && inbound.contact_name.is_none()
            && let Some(contact_id) = inbound.party.contact_id.clone()
        {
            ResolverHandle.lookup_name(*issue_id, contact_id);
        }
        if let Outcome::Created { issue_id, unconfirmed_ack: true, .. } = outcome {
            ResolverHandle.ack_check(*issue_id);
        }
    }
}
