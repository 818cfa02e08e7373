//! Sentinel: a missed-contact watchdog appliance for GoHighLevel.
//!
//! Data flows one way:
//!
//! ```text
//! http ──► intake ──► store (SQLite) ──► clock ──► resolver ──► GHL
//!                       │                  └─────► summary ──► store ──► outbox ──► GHL
//! GHL ──► catchup ──► store (what no webhook brought, judged as its webhook would have been)
//!                       └─ casts: Rescheduled ► clock · LookupName, AckCheck ► resolver · Wake ► outbox
//! ```
//!
//! `http` checks each request and hands webhooks to the `intake` actor, which parses them
//! (`ghl::payload`) and hands them to the `store` actor, the sole owner of the database. The
//! store group-commits and answers each webhook after its commit, then tells the SLA `clock`
//! that deadlines changed. The clock sleeps until the next due time, has the `resolver` check
//! GHL once more, and asks the store to settle what is due; breaches go to the `summary`
//! sender, which decides what managers are told and queues it; the `outbox` sender sends it.
//! After every gap and on a cadence, `catchup` asks GHL what came in that no webhook brought and
//! hands it to the store as the webhooks that were lost (SPEC §12).
//! Every actor is called through its typed handle, beside its message enum
//! (`actors::clock::ClockHandle`, …). `supervisor` restarts any actor that fails.
//!
//! Imports run one way: `domain` (pure logic and the shared types) ← `db` (SQL and its
//! transactions) ← `actors` ← `http`, `status` and `app`; `tests/it/tidy.rs` checks it.
//! `ghl` and `clients::ai` are the only code that talks to GHL and to the optional AI endpoint;
//! `backup` keeps the backup files (`db::backup` writes them), and `offbox` seals and sends
//! them to a bucket. `update` installs signed releases into A/B slots and rolls back a version
//! that is not healthy.

pub mod actors;
pub mod app;
pub mod backup;
pub mod clients;
pub mod clockwatch;
pub mod config;
pub mod console;
pub mod db;
pub mod doctor;
pub mod domain;
pub mod ghl;
pub mod guard;
pub mod http;
pub mod import;
pub mod led;
pub mod netwatch;
pub mod offbox;
pub mod output;
pub mod release;
pub mod replay;
pub mod secret;
pub mod signals;
pub mod status;
pub mod supervisor;
pub mod time;
pub mod update;
pub mod version;
