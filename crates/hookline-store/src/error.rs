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
    /// No send has this id.
    #[error(
        "no send with id {id}: record it with create_send before marking it, and mark it by the id it \
         was created with"
    )]
    UnknownSend { id: String },
    /// The send cannot change this way (it was marked already, or its id or message id is another
    /// send's); `reason` says how and what to do.
    #[error("send {id} {reason}")]
    SendConflict { id: String, reason: String },
    /// A send, or an outcome of one, that cannot be recorded as given; `reason` says what to change.
    #[error("send {id} cannot be recorded: {reason}")]
    InvalidSend { id: String, reason: String },
    /// The database could not be opened or migrated.
    #[error("cannot open the store at {location}: {message}")]
    Open { location: String, message: String },
    /// The database's schema is not the one this hookline writes: `found` is behind `expected` and the
    /// store was opened with migrations off, or `found` is ahead (written by a newer hookline). Versions
    /// count the migrations applied.
    #[error("cannot open the store at {location}: {}", schema_refusal(*.found, *.expected))]
    Schema {
        location: String,
        found: u32,
        expected: u32,
    },
}

impl StoreError {
    /// True when retrying the same write later may succeed (the server answers 503 with `Retry-After`).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Saturated { .. } | StoreError::Unavailable { .. } | StoreError::Closed
        )
    }

    /// True when the store was refused because its schema is behind this hookline's and migrations were
    /// off: `hookline migrate` (or opening with migrations on) brings it up to date.
    pub fn is_schema_behind(&self) -> bool {
        matches!(self, StoreError::Schema { found, expected, .. } if found < expected)
    }

    /// True when the store was refused because a newer hookline wrote its schema.
    pub fn is_schema_newer(&self) -> bool {
        matches!(self, StoreError::Schema { found, expected, .. } if found > expected)
    }

    pub(crate) fn query(err: impl std::fmt::Display) -> Self {
        StoreError::Query {
            message: err.to_string(),
        }
    }
}

/// Why a schema version `found` is refused by code that writes `expected`.
fn schema_refusal(found: u32, expected: u32) -> String {
    if found > expected {
        format!(
            "the database has schema version {found}, newer than this hookline knows ({expected}); \
             use a newer hookline or another database"
        )
    } else {
        format!(
            "the database has schema version {found}, older than this hookline's ({expected}), and \
             migrations are off; run `hookline migrate` against it first"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(found: u32, expected: u32) -> StoreError {
        StoreError::Schema {
            location: "/data/h.db".into(),
            found,
            expected,
        }
    }

    #[test]
    fn a_refused_schema_says_which_way_it_differs_and_what_to_do() {
        let behind = refused(2, 4);
        assert_eq!(
            behind.to_string(),
            "cannot open the store at /data/h.db: the database has schema version 2, older than this \
             hookline's (4), and migrations are off; run `hookline migrate` against it first"
        );
        assert!(behind.is_schema_behind() && !behind.is_schema_newer());
        let newer = refused(12, 4);
        assert_eq!(
            newer.to_string(),
            "cannot open the store at /data/h.db: the database has schema version 12, newer than this \
             hookline knows (4); use a newer hookline or another database"
        );
        assert!(newer.is_schema_newer() && !newer.is_schema_behind());
        let other = StoreError::Query {
            message: "the database has schema version 2, older than".into(),
        };
        assert!(!other.is_schema_behind() && !other.is_schema_newer());
    }
}
