//! The only code that knows GHL: webhook payloads, and the API client with the rate limiter
//! and the circuit breaker every request passes, and the
//! error they classify failures as (`error`).

pub mod breaker;
pub mod catchup;
pub mod client;
pub mod error;
pub mod limiter;
pub mod payload;
pub mod signature;
