//! The supervisor: spawns the seven actors, restarts a failed one with backoff, and answers
//! whether every actor is alive (for `/health` and the systemd watchdog).
//!
//! Children are linked to the supervisor and registered by name, so a restarted child is
//! found by the next call without anyone holding a stale reference. The store starts first
//! because the others ask it for their state.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use ractor::{Actor, ActorCell, ActorProcessingErr, ActorRef, RpcReplyPort, SupervisionEvent};
use serde::Serialize;

use crate::actors::catchup::{CatchUp, CatchUpHandle};
use crate::actors::clock::Clock;
use crate::actors::clock::ClockHandle;
use crate::actors::intake::Intake;
use crate::actors::intake::IntakeHandle;
use crate::actors::outbox::Outbox;
use crate::actors::outbox::OutboxHandle;
use crate::actors::resolver::Resolver;
use crate::actors::resolver::ResolverHandle;
use crate::actors::store::Store;
use crate::actors::store::StoreHandle;
use crate::actors::summary::Summary;
use crate::actors::summary::SummaryHandle;
use crate::actors::{Ctx, names};

/// The supervisor's protocol.
pub enum SupervisorMsg {
    /// Start `child` again (sent after its backoff).
    Restart(Child),
    /// How many times each child was restarted.
    Restarts(RpcReplyPort<HashMap<&'static str, u32>>),
}

/// The supervised children, in start order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Child {
    /// Owns the database.
    Store,
    /// Turns webhooks into stored events.
    Intake,
    /// Wakes at due times.
    Clock,
    /// Polls GHL for staff replies.
    Resolver,
    /// Alerts and digests.
    Summary,
    /// Sends what the outbox holds.
    Outbox,
    /// Asks GHL what no webhook brought.
    CatchUp,
}

impl Child {
    /// Every child, in start order.
    pub const ALL: [Child; 7] =
        [Child::Store, Child::Intake, Child::Clock, Child::Resolver, Child::Summary, Child::Outbox, Child::CatchUp];

    /// The registered name.
    pub fn name(self) -> &'static str {
        match self {
            Child::Store => names::STORE,
            Child::Intake => names::INTAKE,
            Child::Clock => names::CLOCK,
            Child::Resolver => names::RESOLVER,
            Child::Summary => names::SUMMARY,
            Child::Outbox => names::OUTBOX,
            Child::CatchUp => names::CATCHUP,
        }
    }

    /// The child with this registered name.
    pub fn from_name(name: &str) -> Option<Child> {
        Child::ALL.into_iter().find(|child| child.name() == name)
    }

    async fn spawn(self, ctx: Ctx, supervisor: ActorCell) -> Result<(), ActorProcessingErr> {
        let name = Some(self.name().to_string());
        match self {
            Child::Store => Actor::spawn_linked(name, Store, ctx, supervisor).await.map(drop)?,
            Child::Intake => Actor::spawn_linked(name, Intake, ctx, supervisor).await.map(drop)?,
            Child::Clock => Actor::spawn_linked(name, Clock, ctx, supervisor).await.map(drop)?,
            Child::Resolver => Actor::spawn_linked(name, Resolver, ctx, supervisor).await.map(drop)?,
            Child::Summary => Actor::spawn_linked(name, Summary, ctx, supervisor).await.map(drop)?,
            Child::Outbox => Actor::spawn_linked(name, Outbox, ctx, supervisor).await.map(drop)?,
            Child::CatchUp => Actor::spawn_linked(name, CatchUp, ctx, supervisor).await.map(drop)?,
        }
        Ok(())
    }

    /// Asks the child to answer through its own mailbox; the store also commits a write.
    pub async fn probe(self, timeout: Duration) -> Result<(), String> {
        match self {
            Child::Store => StoreHandle::with_timeout(timeout).heartbeat().await.map_err(|err| err.to_string()),
            Child::Intake => IntakeHandle.ping(timeout).await.map_err(|err| err.to_string()),
            Child::Clock => ClockHandle.ping(timeout).await.map_err(|err| err.to_string()),
            Child::Resolver => ResolverHandle.ping(timeout).await.map_err(|err| err.to_string()),
            Child::Summary => SummaryHandle.ping(timeout).await.map_err(|err| err.to_string()),
            Child::Outbox => OutboxHandle.ping(timeout).await.map_err(|err| err.to_string()),
            Child::CatchUp => CatchUpHandle.ping(timeout).await.map_err(|err| err.to_string()),
        }
    }

    /// Makes the child fail (test hook).
    pub fn inject_failure(self) {
        match self {
            Child::Store => StoreHandle::default().fail(),
            Child::Intake => IntakeHandle.fail(),
            Child::Clock => ClockHandle.fail(),
            Child::Resolver => ResolverHandle.fail(),
            Child::Summary => SummaryHandle.fail(),
            Child::Outbox => OutboxHandle.fail(),
            Child::CatchUp => CatchUpHandle.fail(),
        }
    }
}

/// The state of every child, as `/health` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ActorHealth {
    /// Registered name.
    pub name: &'static str,
    /// Whether it answered in time.
    pub ok: bool,
    /// Why not, when it did not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Probes every child concurrently, so one slow actor costs one timeout, not five.
pub async fn probe_all(timeout: Duration) -> Vec<ActorHealth> {
    let probes = Child::ALL.map(|child| tokio::spawn(async move { child.probe(timeout).await }));
    let mut health = Vec::with_capacity(probes.len());
    for (child, probe) in Child::ALL.into_iter().zip(probes) {
        let result = probe.await.unwrap_or_else(|err| Err(format!("probe failed: {err}")));
        health.push(ActorHealth { name: child.name(), ok: result.is_ok(), error: result.err() });
    }
    // A build made never to become healthy, for the update's rollback tests (issue 16).
    if let Some(why) = crate::version::test_unhealthy() {
        health.push(ActorHealth { name: "test-hook", ok: false, error: Some(why) });
    }
    health
}

/// First backoff after a failure; doubles per quick repeat, up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// Longest wait before a restart.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// A child that ran this long since its last failure starts over at the first backoff.
const STABLE_AFTER: Duration = Duration::from_secs(120);

/// The supervisor actor.
pub struct Supervisor;

/// Restart bookkeeping per child.
pub struct SupervisorState {
    ctx: Ctx,
    failures: HashMap<Child, (u32, Instant)>,
    restarts: HashMap<&'static str, u32>,
}

impl Actor for Supervisor {
    type Msg = SupervisorMsg;
    type State = SupervisorState;
    type Arguments = Ctx;

    async fn pre_start(
        &self,
        myself: ActorRef<SupervisorMsg>,
        ctx: Ctx,
    ) -> Result<SupervisorState, ActorProcessingErr> {
        for child in Child::ALL {
            child.spawn(ctx.clone(), myself.get_cell()).await?;
        }
        Ok(SupervisorState { ctx, failures: HashMap::new(), restarts: HashMap::new() })
    }

    async fn handle(
        &self,
        myself: ActorRef<SupervisorMsg>,
        msg: SupervisorMsg,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        match msg {
            SupervisorMsg::Restart(child) => {
                if let Err(err) = child.spawn(state.ctx.clone(), myself.get_cell()).await {
                    tracing::error!(actor = child.name(), "restart failed: {err}; trying again");
                    schedule_restart(&myself, state, child);
                } else {
                    *state.restarts.entry(child.name()).or_default() += 1;
                    tracing::info!(actor = child.name(), "actor restarted");
                }
            }
            SupervisorMsg::Restarts(reply) => {
                let _ = reply.send(state.restarts.clone());
            }
        }
        Ok(())
    }

    async fn handle_supervisor_evt(
        &self,
        myself: ActorRef<SupervisorMsg>,
        event: SupervisionEvent,
        state: &mut SupervisorState,
    ) -> Result<(), ActorProcessingErr> {
        let (cell, why) = match event {
            SupervisionEvent::ActorFailed(cell, err) => (cell, format!("failed: {err}")),
            SupervisionEvent::ActorTerminated(cell, _, reason) => {
                (cell, format!("stopped: {}", reason.unwrap_or_else(|| "no reason given".to_string())))
            }
            _ => return Ok(()),
        };
        let Some(child) = cell.get_name().as_deref().and_then(Child::from_name) else {
            return Ok(());
        };
        tracing::error!(actor = child.name(), "actor {why}; restarting it");
        schedule_restart(&myself, state, child);
        Ok(())
    }
}

fn schedule_restart(myself: &ActorRef<SupervisorMsg>, state: &mut SupervisorState, child: Child) {
    let now = Instant::now();
    let entry = state.failures.entry(child).or_insert((0, now));
    if now.duration_since(entry.1) > STABLE_AFTER {
        entry.0 = 0;
    }
    let backoff = FIRST_BACKOFF.saturating_mul(1 << entry.0.min(8)).min(MAX_BACKOFF);
    *entry = (entry.0 + 1, now);
    myself.send_after(backoff, move || SupervisorMsg::Restart(child));
}
