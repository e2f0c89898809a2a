//! hookline's event store: where every delivery and every distinct event is kept, durably, before Meta
//! gets its 200.
//!
//! - [`EventStore`]: the trait the server talks to. Writes go through [`EventStore::submit`], which hands a
//!   delivery to the backend's single writer; the returned [`PendingCommit`] resolves only once the
//!   delivery and its events are committed. Many concurrent deliveries share one transaction (group
//!   commit), so one fsync acknowledges a whole group.
//! - [`model`]: what is written ([`NewDelivery`], [`NewEvent`]) and read back ([`StoredEvent`],
//!   [`StoredDelivery`]); [`NewEvent::from_event`] turns a parsed Meta event into its stored columns.
//! - [`outbox`]: each sink's cursor over the event log and the attempts it still owes (pending retries,
//!   dead letters), written with the group commits; and the leases and claims that let several instances
//!   run one sink without attempting an event twice at once.
//! - [`send`]: hookline's own outgoing messages ([`NewSend`], [`StoredSend`]): recorded before their Send
//!   API call, marked with its outcome, and joined to their echoes when a conversation is read.
//! - [`url`]: the `--database` URL ([`StoreUrl`]) and [`open`], which builds the backend it names.
//! - [`sqlite`]: the embedded default backend (WAL, `synchronous=FULL`, one writer thread).
//! - [`postgres`]: the PostgreSQL backend (one writer task with group commits, a read pool), for a
//!   database server or several instances sharing one database. `tests/conformance.rs` runs the same
//!   tests against both, so they behave alike.
//!
//! Events are stored once per dedup key: a redelivery records the delivery, bumps the event's duplicate
//! count and links the delivery to it, and adds no event.

pub mod conversation;
pub mod error;
pub mod model;
pub mod outbox;
pub mod postgres;
pub mod send;
pub mod sqlite;
mod store;
pub mod url;

pub use error::StoreError;
pub use model::{
    Appended, Content, DeliveryQuery, EventQuery, NewDelivery, NewEvent, Outcome, RawSpan,
    StoredDelivery, StoredEvent, rfc3339,
};
pub use send::{NewSend, SendId, SendIdError, SendOutcome, SendStatus, StoredSend};
pub use store::{BoxFuture, CommitObserver, CommitStats, EventStore, PendingCommit};
pub use url::{PostgresUrl, StoreUrl, WriterOptions, current_schema_version, open};
