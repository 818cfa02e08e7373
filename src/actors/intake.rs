//! The webhook intake: turns a validated request body into a stored event.
//!
//! HTTP workers (see `http`) check auth, size and syntax, then call [`IntakeMsg::Webhook`].
//! Intake parses the body into our own event (`ghl::payload`), derives its idempotency key,
//! and forwards it to the store together with the caller's reply port: the store answers the
//! HTTP worker directly after its group commit, so intake never waits and never serialises
//! the commits.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};
use serde_json::{Map, Value};

use super::store::{StoreMsg, Webhook};
use super::{Ctx, names};
use crate::ghl::payload::{self, ParseOptions, Route};
use crate::store::apply::Outcome;
use crate::store::events::{RawEvent, body_hash};

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
        /// Answered by the store after the commit.
        reply: RpcReplyPort<Result<Outcome, String>>,
    },
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts intake.
    Fail,
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
            IntakeMsg::Webhook { route, body, text, reply } => {
                let parsed = payload::parse(route, &body, &state.options);
                // Either id makes a redelivery a duplicate: the same message can come again under
                // a new webhookId (a second app, a redelivery), SPEC §3.2.
                let idem_keys = [
                    parsed.webhook_id.as_ref().map(|id| format!("webhook:{id}")),
                    parsed.message_id.as_ref().map(|id| format!("message:{id}")),
                ]
                .into_iter()
                .flatten()
                .collect();
                let raw = RawEvent {
                    received_at: state.ctx.time.now(),
                    route: route.as_str(),
                    idem_keys,
                    body_hash: body_hash(route.as_str(), text.as_bytes()),
                    body: text,
                };
                let webhook = Box::new(Webhook { raw, parsed });
                match super::find::<StoreMsg>(names::STORE) {
                    Ok(store) => {
                        if let Err(err) = store.cast(StoreMsg::Ingest { webhook, reply }) {
                            tracing::warn!("the store refused a webhook: {err}");
                        }
                    }
                    Err(err) => {
                        let _ = reply.send(Err(format!("{err:#}")));
                    }
                }
            }
            IntakeMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            IntakeMsg::Fail => panic!("intake: failure injected by a test"),
        }
        Ok(())
    }
}
