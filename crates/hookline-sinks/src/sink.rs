//! What every sink is: something that takes one stored event and says what came of trying to deliver it.
//!
//! The outbox worker ([`crate::outbox`]) owns retries, dead letters, order and cursors; a sink only makes
//! one attempt. HTTP ([`crate::http::HttpSink`]), NATS JetStream ([`crate::nats::NatsSink`]) and the
//! in-process handler API ([`crate::handler::HandlerSink`]) all implement it, and so can an embedder's own.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use hookline_store::StoredEvent;

/// A boxed future, so sinks can be used as `dyn Sink`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What came of one attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    /// Try again later; `retry_after` is what the downstream asked for, if anything.
    Retry {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Do not try again: the event goes to the dead letters.
    Dead {
        reason: String,
    },
}

impl Outcome {
    /// The label used in metrics and logs.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Retry { .. } => "retry",
            Outcome::Dead { .. } => "dead",
        }
    }
}

/// One destination for events.
pub trait Sink: Send + Sync + fmt::Debug + 'static {
    /// Makes one attempt to hand `event` (read with its raw JSON) to the destination. Must not panic on
    /// any event: an event the sink cannot use is an [`Outcome::Dead`] with the reason.
    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome>;
}
