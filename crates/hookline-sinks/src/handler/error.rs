//! What a handler says when it could not handle an event: try again later, or never.

use crate::sink::Outcome;

/// What every [`Handler`](super::Handler) method returns.
pub type HandlerResult = Result<(), HandlerError>;

/// Why a handler did not handle an event, and whether it should be tried again.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandlerError {
    /// Something passing went wrong (a downstream API is down or rate-limited): the outbox attempts the
    /// event again on the sink's retry schedule, and dead-letters it once the schedule is used up.
    #[error("retry: {reason}")]
    Retry { reason: String },
    /// The event can never be handled: it goes to the dead letters at once.
    #[error("rejected: {reason}")]
    Reject { reason: String },
}

impl HandlerError {
    /// Try the event again later.
    pub fn retry(reason: impl Into<String>) -> Self {
        HandlerError::Retry {
            reason: reason.into(),
        }
    }

    /// Do not try the event again: dead-letter it.
    pub fn reject(reason: impl Into<String>) -> Self {
        HandlerError::Reject {
            reason: reason.into(),
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            HandlerError::Retry { reason } | HandlerError::Reject { reason } => reason,
        }
    }

    /// The outbox's verdict on the attempt.
    pub(crate) fn into_outcome(self) -> Outcome {
        match self {
            HandlerError::Retry { reason } => Outcome::Retry {
                reason,
                retry_after: None,
            },
            HandlerError::Reject { reason } => Outcome::Dead { reason },
        }
    }
}
