//! How actors are found and asked: `call` (a question with a timeout) and `cast` (something
//! changed) by registered name, the error a caller gets when that fails, the names, and the
//! one-shot timers the actors arm. Handles use these; nothing else should.

use std::time::Duration;

use ractor::{ActorRef, Message, RpcReplyPort};

/// How long a caller waits for an actor's answer before calling it unhealthy.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Finds the current incarnation of a registered actor.
pub(crate) fn find<M: Message>(name: &'static str) -> Result<ActorRef<M>, ActorError> {
    ActorRef::<M>::where_is(name).ok_or(ActorError::NotRunning(name))
}

/// Why an actor could not be asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorError {
    /// No incarnation is registered: it is stopped, or restarting.
    NotRunning(&'static str),
    /// It is stopping and did not take the message.
    Stopping(&'static str),
    /// It took the message but did not answer in time.
    NoAnswer(&'static str, Duration),
}

impl std::fmt::Display for ActorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ActorError::NotRunning(name) => write!(f, "the {name} actor is not running"),
            ActorError::Stopping(name) => write!(f, "the {name} actor is stopping"),
            ActorError::NoAnswer(name, after) => write!(f, "the {name} actor did not answer within {after:?}"),
        }
    }
}

impl std::error::Error for ActorError {}

/// Calls a registered actor and waits for its answer. Handles use this; nothing else should.
pub(crate) async fn call<M, R>(
    name: &'static str,
    build: impl FnOnce(RpcReplyPort<R>) -> M,
    timeout: Duration,
) -> Result<R, ActorError>
where
    M: Message,
    R: Send + 'static,
{
    let actor = find::<M>(name)?;
    let answer = actor.call(build, Some(timeout)).await.map_err(|_| ActorError::Stopping(name))?;
    answer.success_or(ActorError::NoAnswer(name, timeout))
}

/// Tells a registered actor that something changed; a missing actor is logged, not fatal,
/// because whatever must survive is already in the database.
pub(crate) fn cast<M: Message>(name: &'static str, message: M) {
    match find::<M>(name) {
        Ok(actor) => {
            if actor.cast(message).is_err() {
                tracing::warn!(actor = name, "message dropped: the actor is stopping");
            }
        }
        Err(err) => tracing::warn!(actor = name, "message dropped: {err}"),
    }
}

/// Casts `message` to `actor` after `delay`. The clock, the summary sender and the resolver
/// each keep one such timer and abort it when their next duty moves.
pub fn wake_after<M: Message>(actor: &ActorRef<M>, delay: Duration, message: M) -> tokio::task::JoinHandle<()> {
    let actor = actor.clone();
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = actor.cast(message);
    })
}

/// Stops an actor's pending timer, if it has one (on stop, so no stale wake-up survives).
pub fn cancel(timer: &mut Option<tokio::task::JoinHandle<()>>) {
    if let Some(timer) = timer.take() {
        timer.abort();
    }
}

/// Registered actor names.
pub mod names {
    /// The webhook intake.
    pub const INTAKE: &str = "intake";
    /// The issue store.
    pub const STORE: &str = "store";
    /// The SLA clock.
    pub const CLOCK: &str = "clock";
    /// The resolver poller.
    pub const RESOLVER: &str = "resolver";
    /// The summary sender.
    pub const SUMMARY: &str = "summary";
    /// The outbox sender.
    pub const OUTBOX: &str = "outbox";
    /// Catch-up after gaps.
    pub const CATCHUP: &str = "catchup";
}

/// Asks a health ping of `name`, whose protocol answers `Ping` with `()`.
pub(crate) async fn ping<M: Message>(
    name: &'static str,
    build: fn(RpcReplyPort<()>) -> M,
    timeout: Duration,
) -> Result<(), ActorError> {
    call(name, build, timeout).await
}
