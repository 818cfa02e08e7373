//! The resolver poller: the safety net that checks live issues against GHL for staff replies
//! (SPEC §5.2). Replies arriving as `OutboundMessage` webhooks are applied by the store at
//! once; this actor is where polling of GHL conversations lives.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::Ctx;

/// The resolver's protocol.
pub enum ResolverMsg {
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts the resolver.
    Fail,
}

/// The resolver actor.
pub struct Resolver;

impl Actor for Resolver {
    type Msg = ResolverMsg;
    type State = Ctx;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        _myself: ActorRef<ResolverMsg>,
        ctx: Ctx,
    ) -> Result<Ctx, ActorProcessingErr> {
        Ok(ctx)
    }

    async fn handle(
        &self,
        _myself: ActorRef<ResolverMsg>,
        msg: ResolverMsg,
        _ctx: &mut Ctx,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            ResolverMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            ResolverMsg::Fail => panic!("resolver: failure injected by a test"),
        }
        Ok(())
    }
}
