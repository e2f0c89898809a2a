//! Meta's webhook vocabulary for the Messenger Platform and Instagram Messaging.
//!
//! This crate owns everything about what Meta sends to a webhook receiver, and nothing about how it is
//! received or stored: it has no async, no I/O and no storage, so any server can use it.
//!
//! - [`signature`]: `X-Hub-Signature-256` verification over the exact raw bytes ([`VerifiedBody`]).
//! - [`handshake`]: the `GET` subscription check.
//! - [`parse`] / [`parse_with`] / [`parse_verified`]: a body into [`Event`]s. Valid JSON never fails to
//!   parse: what is not understood becomes an `unknown` event or attachment that keeps its raw JSON.
//! - [`event`]: the normalised [`Event`] and its [`EventKind`]; the payload types live in [`message`],
//!   [`attachment`], [`referral`], [`receipt`], [`reaction`], [`postback`], [`handover`], [`account`],
//!   [`feedback`], [`call`] and [`change`].
//! - [`dedup`]: the stable dedup key of every event; [`conversation`]: which conversation it belongs to.
//! - [`record`]: the JSON line of `hookline parse` (and of stored events).
//! - [`wire`]: Meta's wire form of a JSON body (compact, `\uXXXX`, `\/`), for signing test deliveries.
//! - [`id`], [`text`], [`timestamp`]: ids as decimal strings, borrowed text, times in epoch ms.

pub mod account;
pub mod attachment;
pub mod call;
pub mod change;
pub mod conversation;
pub mod dedup;
mod envelope;
pub mod error;
pub mod event;
pub mod feedback;
pub mod handover;
pub mod handshake;
pub mod id;
mod json;
pub mod message;
mod messaging;
mod parse;
pub mod postback;
pub mod raw;
pub mod reaction;
mod reader;
pub mod receipt;
pub mod record;
pub mod referral;
mod scalar;
pub mod secret;
pub mod signature;
pub mod text;
pub mod timestamp;
pub mod wire;

pub use dedup::DedupKey;
pub use error::ParseError;
pub use event::{Channel, Event, EventKind};
pub use handshake::{Handshake, HandshakeOutcome};
pub use parse::{ParseOptions, parse, parse_verified, parse_with};
pub use raw::RawJson;
pub use secret::Secret;
pub use signature::{SignatureError, SignatureHeaders, VerifiedBody, Verifier};
