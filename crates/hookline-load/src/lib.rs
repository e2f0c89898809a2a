//! hookline's load generator engine: drives an HTTP receiver of Meta webhooks with unique, correctly
//! signed deliveries and reports throughput, latency and outcomes. The `hookline load` command and the
//! tests that load a server in-process both run it.
//!
//! A caller supplies bodies through [`BodySource`] and settings through [`LoadConfig`], then calls [`run`]
//! (async) or [`run_blocking`] and gets a [`Report`].
//!
//! - [`config`]: [`LoadConfig`], its defaults and its checks.
//! - [`body`]: the [`BodySource`] trait; [`FixedBody`] and closures implement it.
//! - `run`: starting the threads, waiting for them, merging their counts.
//! - `worker`: one load thread, a single-threaded runtime with its share of the connections.
//! - `connection`: one keep-alive HTTP/1.1 connection, one request in flight.
//! - [`schedule`]: request numbering, stop conditions and the open loop's timing (coordinated omission).
//! - [`request`]: the bytes of a request; [`signature`]: `X-Hub-Signature-256`.
//! - [`response`]: where a response ends (`httparse`, Content-Length, chunked, close).
//! - `stats`: per-thread histograms and counters; [`report`]: the merged [`Report`]; `cpu`: the load
//!   threads' own CPU time.
//! - `timer`: per-connection timers for timeouts and pacing; `progress`: the progress bar;
//!   [`target`]: the URL.
//!
//! Plain HTTP/1.1 only, written by hand over tokio's `TcpStream` rather than through an HTTP client
//! library: the engine must outrun the receivers it measures (see the crate's README for the figures).

pub mod body;
pub mod config;
mod connection;
mod cpu;
pub mod error;
mod progress;
pub mod report;
pub mod request;
pub mod response;
mod run;
pub mod schedule;
pub mod signature;
mod stats;
pub mod target;
mod timer;
mod worker;

pub use body::{BodySource, FixedBody};
pub use config::LoadConfig;
pub use error::LoadError;
pub use report::{Errors, Latency, Mode, Report};
pub use run::{run, run_blocking};
