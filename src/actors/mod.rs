//! The supervised actors and the context they are started with.
//!
//! Each actor's file holds its protocol and, beside it, its typed handle (`clock::ClockHandle`,
//! `store::StoreHandle`, …). Actors are registered by name, so a handle survives a restart:
//! each call looks the actor up again and reaches the new incarnation (`call`). The flow is
//! drawn once, in `lib.rs`.

mod call;
pub mod catchup;
pub mod clock;
pub mod intake;
pub mod outbox;
pub mod resolver;
pub mod store;
pub mod summary;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

pub use call::{ActorError, CALL_TIMEOUT, cancel, names, wake_after};
pub(crate) use call::{call, cast, find, ping};

use crate::clients::ai::AiClient;
use crate::config::Config;
use crate::ghl::client::GhlClient;
use crate::signals::{LiveCalendar, Signals};
use crate::time::TimeSource;

/// What every actor is started with.
#[derive(Debug)]
pub struct Shared {
    /// The validated configuration.
    pub config: Config,
    /// Where "now" comes from.
    pub time: TimeSource,
    /// The monotonic clock when the process started (see [`Shared::started_at`]).
    pub started_monotonic: Duration,
    /// The one GHL client, whose rate limiter every actor shares.
    pub ghl: GhlClient,
    /// The optional AI check's client and counters (SPEC §10).
    pub ai: AiClient,
    /// Outside conditions the LED and `/health` show as "degraded".
    pub signals: Signals,
    /// What the off-box copy of the nightly backup last did (issue 15).
    pub offbox: crate::offbox::Uploads,
    /// The calendar in force: `config.calendar` with the managers' special days over it.
    pub hours: LiveCalendar,
}

impl Shared {
    /// The calendar in force, special days included; use it for every business-time question
    /// (`config.calendar` lacks the special days).
    pub fn calendar(&self) -> Arc<crate::domain::calendar::Calendar> {
        self.hours.get()
    }

    /// How long the process has run, by the monotonic clock (no step of the wall clock
    /// changes it).
    pub fn uptime(&self) -> Duration {
        self.time.monotonic().saturating_sub(self.started_monotonic)
    }

    /// When the process started, by today's wall clock: right even when the wall clock was
    /// corrected since (a Pi without a real-time clock starts with a wrong one).
    pub fn started_at(&self) -> Timestamp {
        let uptime = jiff::SignedDuration::try_from(self.uptime()).unwrap_or(jiff::SignedDuration::ZERO);
        self.time.now() - uptime
    }
}

/// The shared context, cheap to clone into actors and HTTP workers.
pub type Ctx = Arc<Shared>;
