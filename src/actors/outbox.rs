//! The outbox sender: sends queued SMS to managers through GHL and notification webhooks
//! through `clients::notify` (issue 18), retries with backoff, and tells managers straight through GHL
//! when the data partition is full.
//!
//! Whatever must be sent is a row in the outbox table (the summary sender and the manager
//! commands queue them); this actor only sends. A pass reads due rows and sends each on the
//! blocking pool, recording each result in the store at once, so a crash repeats at most the
//! send in flight. The pass runs beside the mailbox and reports back with
//! [`OutboxMsg::Passed`]; one pass runs at a time, and a wake during a pass asks for another.
//! After a pass the actor sleeps until the next row's retry time.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use ractor::concurrency::JoinHandle;
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::store::StoreHandle;
use super::{ActorError, Ctx, cast, names, ping};
use crate::clients::notify::Notifier;
use crate::db::outbox;
use crate::ghl::client::{GhlClient, GhlError};

/// The outbox sender's protocol.
pub enum OutboxMsg {
    /// Rows may be due (queued, or a retry time came): send what is due now.
    Wake,
    /// A pass ended (sent by the pass itself).
    Passed {
        /// When the next pending row is due, if any is left.
        next_at: Option<Timestamp>,
    },
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts the sender.
    Fail,
}

/// The outbox sender's API: callers never build a `OutboxMsg`. It finds the actor by name at each
/// call, so a restart is invisible.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutboxHandle;

impl OutboxHandle {
    /// Rows may be due: send what is due now.
    pub fn wake(&self) {
        cast(names::OUTBOX, OutboxMsg::Wake);
    }

    /// Health ping.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ActorError> {
        ping(names::OUTBOX, OutboxMsg::Ping, timeout).await
    }

    /// Test hook: makes the outbox sender panic.
    pub fn fail(&self) {
        cast(names::OUTBOX, OutboxMsg::Fail);
    }
}

/// Rows read per store call.
const SEND_BATCH: usize = 20;

/// GHL's clock and ours may disagree a little about when a send happened.
const UNCERTAIN_SLACK: SignedDuration = SignedDuration::from_mins(5);

/// The outbox sender actor.
pub struct Outbox;

/// Whether a pass runs, whether another was asked for meanwhile, and the retry timer.
pub struct OutboxState {
    ctx: Ctx,
    sending: bool,
    again: bool,
    timer: Option<JoinHandle<()>>,
    /// Managers were told the data partition is full (once per episode).
    disk_notice_sent: bool,
}

impl Actor for Outbox {
    type Msg = OutboxMsg;
    type State = OutboxState;
    type Arguments = Ctx;

    async fn pre_start(&self, myself: ActorRef<OutboxMsg>, ctx: Ctx) -> Result<OutboxState, ActorProcessingErr> {
        // Rows queued before a (re)start are in the database: look there first.
        let _ = myself.cast(OutboxMsg::Wake);
        Ok(OutboxState { ctx, sending: false, again: false, timer: None, disk_notice_sent: false })
    }

    async fn post_stop(&self, _myself: ActorRef<OutboxMsg>, state: &mut OutboxState) -> Result<(), ActorProcessingErr> {
        super::cancel(&mut state.timer);
        Ok(())
    }

    async fn handle(
        &self,
        myself: ActorRef<OutboxMsg>,
        msg: OutboxMsg,
        state: &mut OutboxState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            OutboxMsg::Wake => {
                disk_notice(state);
                if state.sending {
                    state.again = true;
                } else {
                    start_pass(&myself, state);
                }
            }
            OutboxMsg::Passed { next_at } => {
                state.sending = false;
                if std::mem::take(&mut state.again) {
                    start_pass(&myself, state);
                } else {
                    super::cancel(&mut state.timer);
                    if let Some(at) = next_at {
                        let delay = state.ctx.time.until(at).max(std::time::Duration::from_millis(10));
                        state.timer = Some(super::wake_after(&myself, delay, OutboxMsg::Wake));
                    }
                }
            }
            OutboxMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            OutboxMsg::Fail => panic!("outbox: failure injected by a test"),
        }
        Ok(())
    }
}

/// Starts a pass over the due rows beside the mailbox.
fn start_pass(myself: &ActorRef<OutboxMsg>, state: &mut OutboxState) {
    state.sending = true;
    let (ctx, me) = (state.ctx.clone(), myself.clone());
    tokio::spawn(async move {
        let next_at = pass(&ctx).await;
        let _ = me.cast(OutboxMsg::Passed { next_at });
    });
}

/// Sends every due row, batch after batch, until none is due; answers when the next pending
/// row is due.
async fn pass(ctx: &Ctx) -> Option<Timestamp> {
    let store = StoreHandle::default();
    let notifier = Notifier::new(ctx.config.notify.key());
    loop {
        let (due, next_at) = match store.due_outbox(ctx.time.now(), SEND_BATCH).await {
            Ok(due) => due,
            Err(err) => {
                tracing::warn!("reading the outbox failed: {err}");
                return None;
            }
        };
        if due.is_empty() {
            return next_at;
        }
        for entry in due {
            if entry.channel == outbox::Channel::Webhook {
                deliver_hook(ctx, &store, &notifier, entry).await;
                continue;
            }
            let (client, task_entry) = (ctx.ghl.clone(), entry.clone());
            let result = tokio::task::spawn_blocking(move || send_once(&client, &task_entry))
                .await
                .unwrap_or_else(|err| Err(GhlError::Unavailable(format!("send task failed: {err}"))));
            if let Err(err) = &result {
                tracing::warn!(purpose = %entry.purpose, "manager SMS not sent: {err}");
            }
            let outcome = match result {
                Ok(message_id) => outbox::Attempt::Sent(message_id),
                Err(GhlError::NotConfigured) => outbox::Attempt::Skipped(GhlError::NotConfigured.to_string()),
                Err(err @ GhlError::Uncertain(_)) => outbox::Attempt::Uncertain(err.to_string()),
                // A row already uncertain stays so until GHL is seen not to have it.
                Err(err) if entry.uncertain => outbox::Attempt::Uncertain(err.to_string()),
                Err(err) => outbox::Attempt::Failed(err.to_string()),
            };
            if let Err(err) = store.outbox_result(entry.id, ctx.time.now(), outcome).await {
                tracing::warn!(purpose = %entry.purpose, "recording a send failed: {err}");
            }
        }
    }
}

/// One attempt at a webhook delivery (issue 18), on the blocking pool, and its record.
async fn deliver_hook(ctx: &Ctx, store: &StoreHandle, notifier: &Notifier, entry: outbox::Entry) {
    let (notifier, task_entry, now) = (notifier.clone(), entry.clone(), ctx.time.now());
    let outcome = tokio::task::spawn_blocking(move || notifier.deliver(&task_entry, now))
        .await
        .unwrap_or_else(|err| outbox::Attempt::Failed(format!("send task failed: {err}")));
    if let outbox::Attempt::Failed(err) = &outcome {
        let to = crate::domain::notify::mask_url(&entry.contact_id);
        tracing::warn!(purpose = %entry.purpose, to = %to, "webhook not delivered: {err}");
    }
    if let Err(err) = store.outbox_result(entry.id, ctx.time.now(), outcome).await {
        tracing::warn!(purpose = %entry.purpose, "recording a delivery failed: {err}");
    }
}

/// One attempt at a queued SMS. After an attempt whose fate was unknown, the manager's
/// conversation is looked at first: found there, it counts as sent and is not sent again.
fn send_once(client: &GhlClient, entry: &outbox::Entry) -> Result<Option<String>, GhlError> {
    if entry.uncertain
        && let Some(found) = client.find_sent(&entry.contact_id, &entry.body, entry.created_at - UNCERTAIN_SLACK)?
    {
        tracing::info!(purpose = %entry.purpose, "an earlier attempt had reached GHL; not sent again");
        return Ok(Some(found));
    }
    client.send_sms(&entry.contact_id, &entry.body)
}

/// Tells managers once, straight through GHL, that the data partition is full: the outbox
/// cannot hold the message while it is (issue 15). Told again only after space came back and
/// ran out anew.
fn disk_notice(state: &mut OutboxState) {
    let ctx = &state.ctx;
    if !ctx.signals.disk_full() {
        state.disk_notice_sent = false;
        return;
    }
    if state.disk_notice_sent || !ctx.ghl.is_configured() || ctx.config.manager_contact_ids.is_empty() {
        return;
    }
    state.disk_notice_sent = true;
    let body = format!(
        "{} — the appliance's storage is full. New texts and calls are refused (GHL retries them) until space is freed. Please call whoever looks after the box.",
        crate::domain::format::BRAND
    );
    let (client, managers) = (ctx.ghl.clone(), ctx.config.manager_contact_ids.clone());
    // On the blocking pool, beside the mailbox: a slow GHL must not hold up health pings.
    tokio::task::spawn_blocking(move || {
        let sent = managers.iter().filter(|manager| client.send_sms(manager, &body).is_ok()).count();
        tracing::warn!(managers = sent, "managers told that the data partition is full");
    });
}
