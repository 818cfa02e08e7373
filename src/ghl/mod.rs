//! The only code that knows GHL: webhook payloads today, the API client beside them.

pub mod client;
pub mod payload;
pub mod signature;
