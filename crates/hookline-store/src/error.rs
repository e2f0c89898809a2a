//! What can go wrong in a store, as kinds a caller can match (the server maps them to status codes).

/// A store failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The writer's queue is full: the store is behind. Ask the sender to retry later.
    #[error("the store's write queue is full ({capacity} deliveries waiting); retry shortly")]
    Saturated { capacity: usize },
    /// The store is shutting down or its writer stopped.
    #[error("the store is closed (shutting down, or its writer stopped after an error)")]
    Closed,
    /// The store cannot commit or answer right now: locked by another process, disk or size limit full,
    /// I/O error, database server down or unreachable.
    #[error("the store is unavailable: {message}")]
    Unavailable { message: String },
    /// A read or a migration failed.
    #[error("store query failed: {message}")]
    Query { message: String },
    /// The database URL or one of its options is not usable.
    #[error("invalid database URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    /// A save under a sink's lease found that another instance holds it now (this one's lease ran out
    /// and was taken over, or was released): nothing was written. The events of the unsaved pass are
    /// delivered by that instance from the saved cursor, so a consumer may see them twice, never zero
    /// times (at-least-once).
    #[error(
        "sink {sink:?} was taken over by another instance (this one's lease ran out): its progress was not \
         saved, and the events of this pass will be delivered by that instance (at-least-once)"
    )]
    LeaseLost { sink: String },
    /// The database could not be opened or migrated.
    #[error("cannot open the store at {location}: {message}")]
    Open { location: String, message: String },
}

impl StoreError {
    /// True when retrying the same write later may succeed (the server answers 503 with `Retry-After`).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Saturated { .. } | StoreError::Unavailable { .. } | StoreError::Closed
        )
    }

    pub(crate) fn query(err: impl std::fmt::Display) -> Self {
        StoreError::Query {
            message: err.to_string(),
        }
    }
}
