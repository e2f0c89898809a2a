//! Fan-out of stored events to downstream consumers.
//!
//! This crate owns what happens to an event after it is stored: the format it is forwarded in, how it is
//! signed, how one delivery attempt is made and judged, and when the next attempt is due. The outbox and its
//! workers come later and are built from these pieces.
//!
//! - [`signature`]: Standard Webhooks signing (`webhook-id`, `webhook-timestamp`, `webhook-signature`) and
//!   verification, keyed with a `whsec_` secret.
//! - [`schedule`]: the retry schedule, with jitter and `Retry-After` as a floor.
//! - [`payload`]: the versioned JSON event that is forwarded, and the stable `webhook-id` of an event.
//! - [`http`]: one HTTP delivery attempt and its [`http::Outcome`].

pub mod http;
pub mod payload;
pub mod schedule;
pub mod signature;

pub use http::{HttpSink, Outcome, Timeouts};
pub use payload::{ForwardedEvent, webhook_id};
pub use schedule::RetrySchedule;
pub use signature::{SigningSecret, sign, verify};
