//! Sentinel: a missed-contact watchdog appliance for GoHighLevel.
//!
//! Data flows one way:
//!
//! ```text
//! HTTP workers (http) ──► intake ──► store (SQLite) ──► clock ──► summary
//!                                           ▲              resolver
//! ```
//!
//! `http` checks each request and hands webhooks to the `intake` actor, which parses them
//! (`ghl::payload`) and forwards them to the `store` actor, the sole owner of the database. The
//! store group-commits and answers each webhook after its commit, then tells the SLA `clock`
//! that deadlines changed. The clock sleeps until the next due time and asks the store to
//! settle what is due; breaches go to the `summary` sender. `supervisor` restarts any actor
//! that fails. `domain` holds the pure logic (calendar, classification, phones, events); `store`
//! holds the SQL. `ghl` and `ai` are the only code that talks to GHL and to the optional AI
//! endpoint; `backup` keeps the nightly copies, and `offbox` seals and sends them to a bucket.

pub mod actors;
pub mod ai;
pub mod app;
pub mod backup;
pub mod config;
pub mod domain;
pub mod ghl;
pub mod guard;
pub mod http;
pub mod import;
pub mod led;
pub mod offbox;
pub mod secret;
pub mod status;
pub mod store;
pub mod supervisor;
pub mod time;
