//! A small client for the parts of Meta's Graph API that a Messenger and Instagram webhook gateway
//! needs: subscribing a Page (or an Instagram account) to webhook fields, reading that subscription
//! back, checking a token's permissions, and sending messages with the Send API.
//!
//! Graph errors become a [`GraphError`] a caller can match (an expired token, a missing permission, a
//! rate limit, the 24-hour window, ...); each message says what was wrong and what to do, and keeps
//! Meta's message and `fbtrace_id`. Tokens are [`Token`]s, which never print.
//!
//! - [`client`] holds [`GraphClient`] and its calls, with the paths Meta documents.
//! - [`config`] holds [`GraphConfig`] (hosts, version, timeouts) and the [`RetryPolicy`].
//! - [`send`] holds [`SendRequest`] and its parts, checked against Meta's limits.
//! - [`error`] holds [`GraphError`] and Meta's [`MetaError`] object; `classify` maps Graph codes to
//!   variants, and `transport` makes one call and its retries.
//! - [`request`] holds [`InvalidRequest`], what is refused before sending.
//! - [`subscription`] holds [`SubscribedApp`] and [`Permissions`].
//! - [`fields`] holds the default webhook fields and the permissions each setup needs.
//! - [`token`] holds [`Token`].
//! - `mock` (feature `mock`) holds `MockGraph`, a local Graph stand-in for tests.

mod classify;
pub mod client;
pub mod config;
pub mod error;
pub mod fields;
pub mod request;
pub mod send;
pub mod subscription;
pub mod token;
mod transport;

#[cfg(feature = "mock")]
pub mod mock;

pub use client::GraphClient;
pub use config::{
    ConfigError, DEFAULT_BASE_URL, DEFAULT_INSTAGRAM_BASE_URL, DEFAULT_VERSION, GraphConfig,
    RetryPolicy,
};
pub use error::{GraphError, MetaError};
pub use fields::{
    DEFAULT_FIELDS, INSTAGRAM_FIELDS, INSTAGRAM_LOGIN_PERMISSIONS, INSTAGRAM_PERMISSIONS,
    OPTIONAL_FIELDS, PAGE_PERMISSIONS,
};
pub use request::InvalidRequest;
pub use send::{
    Attachment, AttachmentKind, AttachmentSource, Content, Message, MessageTag, MessagingType,
    QuickReply, Recipient, SendRequest, SendResponse,
};
pub use subscription::{Permission, PermissionStatus, Permissions, SubscribedApp};
pub use token::{Token, TokenError};
