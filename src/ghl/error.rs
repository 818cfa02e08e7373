//! Why a GHL request failed, classified so that callers act on the cause (STYLE.md, "Errors"):
//! the client returns it, and the rate limiter and the circuit breaker refuse with it.

/// Why a GHL request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GhlError {
    /// No `GHL_TOKEN` is configured.
    NotConfigured,
    /// The token was refused (401).
    Auth(String),
    /// The token lacks a scope or the location (401 scope / 403).
    Scope(String),
    /// The resource does not exist (404).
    NotFound(String),
    /// GHL kept answering 429 after our retries.
    RateLimited(String),
    /// GHL is down, slow or answering garbage (5xx, timeouts, bad JSON).
    Unavailable(String),
    /// Another 4xx: our request was wrong; retrying will not help.
    Rejected(u16, String),
    /// The circuit breaker is open after repeated failures.
    CircuitOpen,
    /// The daily request budget is spent.
    BudgetExhausted,
    /// A send whose fate is unknown: it timed out or GHL failed after it may have taken it.
    /// It is not repeated blindly: the manager's conversation is looked at first.
    Uncertain(String),
}

impl GhlError {
    /// Worth trying again later (as opposed to a request or token problem).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            GhlError::RateLimited(_)
                | GhlError::Unavailable(_)
                | GhlError::CircuitOpen
                | GhlError::BudgetExhausted
                | GhlError::Uncertain(_)
        )
    }
}

impl std::fmt::Display for GhlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GhlError::NotConfigured => write!(f, "not sent: no GHL_TOKEN"),
            GhlError::Auth(m) => write!(f, "GHL refused the token: {m}"),
            GhlError::Scope(m) => write!(f, "GHL token lacks access: {m}"),
            GhlError::NotFound(m) => write!(f, "not found in GHL: {m}"),
            GhlError::RateLimited(m) => write!(f, "GHL rate limit: {m}"),
            GhlError::Unavailable(m) => write!(f, "GHL unavailable: {m}"),
            GhlError::Rejected(status, m) => write!(f, "GHL rejected the request ({status}): {m}"),
            GhlError::CircuitOpen => write!(f, "GHL circuit open after repeated failures"),
            GhlError::BudgetExhausted => write!(f, "daily GHL request budget spent"),
            GhlError::Uncertain(m) => write!(f, "GHL may or may not have sent it: {m}"),
        }
    }
}

impl std::error::Error for GhlError {}
