//! What can go wrong when the store is asked for something, as a type callers can match.

use crate::actors::ActorError;

/// Why the store could not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The store could not be reached or did not answer.
    Unavailable(ActorError),
    /// The database refused: the disk, not the request.
    Database(String),
    /// No digest slot by that name.
    UnknownSlot {
        /// The name asked for.
        slot: String,
        /// The configured slots.
        expected: Vec<String>,
    },
    /// The work stopped before it finished (a task failed), and why.
    Aborted(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Unavailable(err) => err.fmt(f),
            StoreError::Database(err) => write!(f, "database error: {err}"),
            StoreError::UnknownSlot { slot, expected } => {
                write!(f, "unknown slot {slot:?}; expected one of {}", expected.join(", "))
            }
            StoreError::Aborted(err) => write!(f, "stopped before it finished: {err}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<ActorError> for StoreError {
    fn from(err: ActorError) -> Self {
        StoreError::Unavailable(err)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(err: rusqlite::Error) -> Self {
        StoreError::Database(err.to_string())
    }
}
