//! The webhook intake: turns a validated request body into a stored event.
//!
//! HTTP workers (see `http`) check auth, size and syntax, then call [`IntakeMsg::Webhook`].
//! Intake parses the body into our own event (`ghl::payload`), derives its idempotency key,
//! and forwards it to the store together with the caller's reply port: the store answers the
//! HTTP worker directly after its group commit, so intake never waits and never serialises
//! the commits.

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::{Map, Value};

use super::store::{IngestReply, StoreError, StoreHandle, Webhook};
use super::{ActorError, Ctx, call, cast, names, ping};
use crate::db::events::{RawEvent, body_hash};
use crate::domain::outcome::Outcome;
use crate::ghl::payload::{self, ParseOptions, Route};

/// The intake's protocol.
pub enum IntakeMsg {
    /// A webhook body that passed auth and parsing as a JSON object.
    Webhook {
        /// Which route it came to.
        route: Route,
        /// The body as a JSON object (form bodies already converted).
        body: Map<String, Value>,
        /// The body as text, stored verbatim as the raw event.
        text: String,
        /// Proven by GHL's signature alone and undated: without an id of its own, its body is
        /// its duplicate key, kept as long as any key, so a copy posted again later is a
        /// duplicate rather than a new event (a replayed manager command runs once).
        keyed_by_body: bool,
        /// Answered by the store after the commit.
        reply: IngestReply,
    },
    /// The wall clock is believed again: judge the events stored meanwhile, in the order
    /// they came, at their true arrival times (issue 15).
    Replay,
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts intake.
    Fail,
}

/// The intake's API: callers never build a `IntakeMsg`. It finds the actor by name at each
/// call, so a restart is invisible.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntakeHandle;

impl IntakeHandle {
    /// Hands over a webhook that passed authentication; answers after the store's commit.
    pub async fn webhook(
        &self,
        route: Route,
        body: Map<String, Value>,
        text: String,
        keyed_by_body: bool,
        timeout: Duration,
    ) -> Result<Outcome, StoreError> {
        call(names::INTAKE, |reply| IntakeMsg::Webhook { route, body, text, keyed_by_body, reply }, timeout).await?
    }

    /// The wall clock is believed again: judge the events kept meanwhile.
    pub fn replay(&self) {
        cast(names::INTAKE, IntakeMsg::Replay);
    }

    /// Health ping.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ActorError> {
        ping(names::INTAKE, IntakeMsg::Ping, timeout).await
    }

    /// Test hook: makes the intake panic.
    pub fn fail(&self) {
        cast(names::INTAKE, IntakeMsg::Fail);
    }
}

/// The intake actor.
pub struct Intake;

/// Parser options, built once from the configuration.
pub struct IntakeState {
    ctx: Ctx,
    options: ParseOptions,
}

impl Actor for Intake {
    type Msg = IntakeMsg;
    type State = IntakeState;
    type Arguments = Ctx;

    async fn pre_start(&self, _myself: ActorRef<IntakeMsg>, ctx: Ctx) -> Result<IntakeState, ActorProcessingErr> {
        let options = ParseOptions {
            missed_marker_keys: ctx.config.call_missed_marker_keys.clone(),
            require_missed_marker: ctx.config.call_require_missed_marker,
        };
        Ok(IntakeState { ctx, options })
    }

    async fn handle(
        &self,
        _myself: ActorRef<IntakeMsg>,
        msg: IntakeMsg,
        state: &mut IntakeState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            IntakeMsg::Webhook { route, body, text, keyed_by_body, reply } => {
                let parsed = payload::parse(route, &body, &state.options);
                let mut idem_keys = parsed.idem_keys();
                if keyed_by_body && idem_keys.is_empty() {
                    let hash = crate::release::bundle::sha256_hex(text.as_bytes());
                    idem_keys.push(format!("body:{}:{hash}", route.as_str()));
                }
                let raw = RawEvent {
                    received_at: state.ctx.time.now(),
                    route: route.as_str(),
                    idem_keys,
                    body_hash: body_hash(route.as_str(), text.as_bytes()),
                    // GHL echoes the SMS Sentinel sends (OutboundMessage): a texted sign-in
                    // link's token must not be kept from the echo either (issue 23).
                    body: crate::db::console::without_tokens(text),
                };
                StoreHandle::default().ingest(Webhook { raw, parsed }, reply);
            }
            IntakeMsg::Replay => replay(&state.ctx, &state.options).await,
            IntakeMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            IntakeMsg::Fail => panic!("intake: failure injected by a test"),
        }
        Ok(())
    }
}

/// Events replayed per store call.
const REPLAY_BATCH: usize = 100;

/// Judges every deferred event, oldest first, each at its true arrival time.
async fn replay(ctx: &Ctx, options: &ParseOptions) {
    let store = StoreHandle::default();
    let mut judged = 0u64;
    loop {
        let limit = REPLAY_BATCH;
        let batch = match store.deferred(limit).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::error!("reading deferred events failed: {err}");
                return;
            }
        };
        if batch.is_empty() {
            break;
        }
        for deferred in batch {
            let body: Map<String, Value> = serde_json::from_str(&deferred.body).unwrap_or_default();
            let route = Route::from_name(&deferred.route).unwrap_or(Route::Events);
            let parsed = payload::parse(route, &body, options);
            let date_added = match &parsed.event {
                crate::domain::event::Event::Inbound(inbound) => inbound.sent_at,
                _ => None,
            };
            let at = arrival(ctx, &deferred.boot_id, deferred.monotonic_ms, date_added);
            let id = deferred.id;
            match store.apply_deferred(id, parsed, at).await {
                Ok(_) => judged += 1,
                Err(err) => {
                    tracing::error!(event = id, "judging a deferred event failed: {err}");
                    return;
                }
            }
        }
    }
    if judged > 0 {
        tracing::info!(judged, "events kept while the clock was not believed are judged");
        ctx.signals.add_replayed(judged);
    }
}

/// When an event stored while the clock was not believed really arrived: by the monotonic
/// clock when it was read in this boot, else GHL's `dateAdded`, else now (the latest it can
/// have been, so nothing falls due early).
pub fn arrival(ctx: &Ctx, boot_id: &str, monotonic_ms: i64, date_added: Option<Timestamp>) -> Timestamp {
    let now = ctx.time.now();
    if boot_id == ctx.time.boot_id() {
        let ago = ctx.time.monotonic().as_millis() as i64 - monotonic_ms;
        if ago >= 0 {
            return now - SignedDuration::from_millis(ago);
        }
    }
    date_added.filter(|at| *at <= now).unwrap_or(now)
}
