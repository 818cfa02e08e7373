//! The summary sender: managers' breach alerts and digests (SPEC §6).
//!
//! Today it receives breaches from the SLA clock and logs them; the durable outbox, alert
//! bundling and the digest slots build on this protocol.

use ractor::{Actor, ActorProcessingErr, ActorRef, RpcReplyPort};

use super::Ctx;

/// The summary sender's protocol.
pub enum SummaryMsg {
    /// These issues just became OPEN.
    Breached(Vec<i64>),
    /// Health ping.
    Ping(RpcReplyPort<()>),
    /// Test hook: panic, to prove the supervisor restarts the summary sender.
    Fail,
}

/// The summary sender actor.
pub struct Summary;

impl Actor for Summary {
    type Msg = SummaryMsg;
    type State = Ctx;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        _myself: ActorRef<SummaryMsg>,
        ctx: Ctx,
    ) -> Result<Ctx, ActorProcessingErr> {
        Ok(ctx)
    }

    async fn handle(
        &self,
        _myself: ActorRef<SummaryMsg>,
        msg: SummaryMsg,
        _ctx: &mut Ctx,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SummaryMsg::Breached(issues) => {
                tracing::info!(
                    ?issues,
                    "breach recorded; managers see it in /api/issues?status=OPEN"
                );
            }
            SummaryMsg::Ping(reply) => {
                let _ = reply.send(());
            }
            SummaryMsg::Fail => panic!("summary: failure injected by a test"),
        }
        Ok(())
    }
}
