//! Typed handles for the actors other than the store (whose handle lives beside its protocol
//! in `store/handle.rs`). Callers use these methods; no caller builds a message or matches an
//! error's text. A handle finds its actor by name on every call, so it survives restarts.

use std::time::Duration;

use ractor::{Message, RpcReplyPort};
use serde_json::{Map, Value};

use super::clock::ClockMsg;
use super::intake::IntakeMsg;
use super::outbox::OutboxMsg;
use super::resolver::{PollReport, ResolverMsg};
use super::store::StoreError;
use super::summary::SummaryMsg;
use super::{ActorError, CALL_TIMEOUT, call, cast, names};
use crate::db::summary::{AlertReport, DigestReport};
use crate::domain::issue::{Delivery, Issue};
use crate::domain::outcome::{Finding, Outcome, SettleReport};
use crate::ghl::payload::Route;

pub use super::store::StoreHandle;

/// Asks a health ping of `name`, whose protocol answers `Ping` with `()`.
async fn ping<M: Message>(
    name: &'static str,
    build: fn(RpcReplyPort<()>) -> M,
    timeout: Duration,
) -> Result<(), ActorError> {
    call(name, build, timeout).await
}

/// The webhook intake.
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

/// The SLA clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClockHandle;

impl ClockHandle {
    /// Deadlines changed: look again for the next one.
    pub fn rescheduled(&self) {
        cast(names::CLOCK, ClockMsg::Rescheduled);
    }

    /// Settles up to `limit` due issues now, waiting at most `timeout`.
    pub async fn settle_now(&self, limit: usize, timeout: Duration) -> Result<SettleReport, StoreError> {
        call(names::CLOCK, |reply| ClockMsg::SettleNow { limit, reply }, timeout).await?
    }

    /// Health ping.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ActorError> {
        ping(names::CLOCK, ClockMsg::Ping, timeout).await
    }

    /// Test hook: makes the clock panic.
    pub fn fail(&self) {
        cast(names::CLOCK, ClockMsg::Fail);
    }
}

/// The resolver poller.
#[derive(Debug, Clone, Copy, Default)]
pub struct ResolverHandle;

impl ResolverHandle {
    /// Checks up to `limit` live issues against GHL now, waiting at most `timeout`.
    pub async fn poll_now(&self, limit: usize, timeout: Duration) -> Result<PollReport, ActorError> {
        call(names::RESOLVER, |reply| ResolverMsg::PollNow { limit, reply }, timeout).await
    }

    /// Checks due issues once more before they open; one finding per issue.
    pub async fn check_due(&self, issues: Vec<Issue>, timeout: Duration) -> Result<Vec<Finding>, ActorError> {
        call(names::RESOLVER, |reply| ResolverMsg::CheckDue { issues, reply }, timeout).await
    }

    /// Looks up a missing contact name once.
    pub fn lookup_name(&self, issue_id: i64, contact_id: String) {
        cast(names::RESOLVER, ResolverMsg::LookupName { issue_id, contact_id });
    }

    /// Asks GHL whether a staff reply came just before a text that only thanked it.
    pub fn ack_check(&self, issue_id: i64) {
        cast(names::RESOLVER, ResolverMsg::AckCheck { issue_id });
    }

    /// Runs the cadence check if it is due.
    pub fn tick(&self) {
        cast(names::RESOLVER, ResolverMsg::Tick);
    }

    /// Health ping.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ActorError> {
        ping(names::RESOLVER, ResolverMsg::Ping, timeout).await
    }

    /// Test hook: makes the resolver panic.
    pub fn fail(&self) {
        cast(names::RESOLVER, ResolverMsg::Fail);
    }
}

/// The summary sender.
#[derive(Debug, Clone, Copy, Default)]
pub struct SummaryHandle;

impl SummaryHandle {
    /// These issues just breached: alert once (bundled).
    pub fn breached(&self, ids: Vec<i64>) {
        cast(names::SUMMARY, SummaryMsg::Breached(ids));
    }

    /// Something changed: look at what is due again.
    pub fn wake(&self) {
        cast(names::SUMMARY, SummaryMsg::Wake);
    }

    /// Builds a slot's digest and, unless a dry run, queues it.
    pub async fn send_digest(&self, slot: String, delivery: Delivery) -> Result<DigestReport, StoreError> {
        call(names::SUMMARY, |reply| SummaryMsg::SendDigest { slot, delivery, reply }, CALL_TIMEOUT).await?
    }

    /// Builds the alert for OPEN issues not alerted yet and, unless a dry run, queues it.
    pub async fn send_alert(&self, delivery: Delivery) -> Result<AlertReport, StoreError> {
        call(names::SUMMARY, |reply| SummaryMsg::SendAlert { delivery, reply }, CALL_TIMEOUT).await?
    }

    /// Health ping.
    pub async fn ping(&self, timeout: Duration) -> Result<(), ActorError> {
        ping(names::SUMMARY, SummaryMsg::Ping, timeout).await
    }

    /// Test hook: makes the summary sender panic.
    pub fn fail(&self) {
        cast(names::SUMMARY, SummaryMsg::Fail);
    }
}

/// The outbox sender.
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
