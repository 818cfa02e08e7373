//! The only code that knows GHL: webhook payloads, and the API client with the rate limiter
//! and the circuit breaker every request passes.

pub mod breaker;
pub mod client;
pub mod limiter;
pub mod payload;
pub mod signature;
