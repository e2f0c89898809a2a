//! Fan-out of stored events to downstream consumers.
//!
//! This crate owns what happens to an event after it is stored: the format it is forwarded in, how it is
//! signed, how one delivery attempt is made and judged, when the next attempt is due, and the outbox
//! workers that follow the event log for each configured sink. The crate README documents the forwarded
//! format and the delivery guarantees.
//!
//! - [`sink`]: the [`Sink`] trait every destination implements, and the [`Outcome`] of one attempt.
//! - [`signature`]: Standard Webhooks signing (`webhook-id`, `webhook-timestamp`, `webhook-signature`) and
//!   verification, keyed with a `whsec_` secret.
//! - [`schedule`]: the retry schedule, with jitter and `Retry-After` as a floor.
//! - [`payload`]: the versioned JSON event that is forwarded, and the stable `webhook-id` of an event.
//! - [`http`]: one HTTP delivery attempt and its [`Outcome`].
//! - [`nats`]: publishing to NATS JetStream, with the dedup key as `Nats-Msg-Id`.
//! - [`outbox`]: one [`Worker`] per sink with its own cursor, retries and dead letters; [`Fanout`] runs them.
//! - [`filter`]: which events a sink gets; [`config`]: a `[[sink]]` section, validated.
//! - [`handler`]: the in-process handler API, typed events handed to your own code as a sink.
//! - [`clock`]: the time workers schedule by, and a [`ManualClock`] for tests.

pub mod clock;
pub mod config;
pub mod filter;
pub mod handler;
pub mod http;
pub mod nats;
pub mod outbox;
pub mod payload;
pub mod schedule;
pub mod signature;
pub mod sink;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{SinkConfig, SinkConfigError, SinkType};
pub use filter::Filter;
pub use handler::{Context, Handler, HandlerError, HandlerSink, Handover};
pub use http::{HttpSink, Timeouts};
pub use nats::{NatsError, NatsOptions, NatsSink};
pub use outbox::{Background, Fanout, SinkObserver, Worker, WorkerOptions};
pub use payload::{ForwardedEvent, webhook_id};
pub use schedule::RetrySchedule;
pub use signature::{SigningSecret, sign, verify};
pub use sink::{BoxFuture, Outcome, Sink};
