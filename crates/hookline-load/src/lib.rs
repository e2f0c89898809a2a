//! hookline's load generator engine: drives an HTTP receiver of Meta webhooks with unique, correctly
//! signed deliveries. This part holds the pieces without I/O: what a request looks like, where a
//! response ends, and when each request is due.
//!
//! - [`config`]: [`LoadConfig`], its defaults and its checks.
//! - [`body`]: the [`BodySource`] trait; [`FixedBody`] and closures implement it.
//! - [`schedule`]: request numbering, stop conditions and the open loop's timing (coordinated omission).
//! - [`request`]: the bytes of a request; [`signature`]: `X-Hub-Signature-256`.
//! - [`response`]: where a response ends (`httparse`, Content-Length, chunked, close).
//! - [`target`]: the URL.

pub mod body;
pub mod config;
pub mod error;
pub mod request;
pub mod response;
pub mod schedule;
pub mod signature;
pub mod target;

pub use body::{BodySource, FixedBody};
pub use config::LoadConfig;
pub use error::LoadError;
