//! The [`EventStore`] trait every backend implements.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{oneshot, watch};

use crate::conversation::ConversationQuery;
use crate::conversation::view::{Account, Conversation};
use crate::error::StoreError;
use crate::model::{Appended, DeliveryQuery, EventQuery, NewDelivery, StoredDelivery, StoredEvent};
use crate::outbox::{
    Attempt, AttemptQuery, DeadSelection, DueQuery, OutboxWrite, SinkClaim, SinkStart, SinkStatus,
};
use crate::send::{NewSend, SendId, StoredSend};

/// A boxed future, so the trait can be used as `dyn EventStore`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A durable store of deliveries and events.
pub trait EventStore: Send + Sync + fmt::Debug + 'static {
    /// Queues a delivery for the writer without waiting. Fails at once with [`StoreError::Saturated`]
    /// when the queue is full, so a caller under overload can answer "retry later" instead of piling up.
    fn submit(&self, delivery: NewDelivery) -> Result<PendingCommit, StoreError>;

    /// Deliveries queued and not yet taken by the writer.
    fn queue_depth(&self) -> usize;

    /// Whether the store can commit right now (for readiness checks).
    fn check_writable(&self) -> BoxFuture<'_, Result<(), StoreError>>;

    /// The schema version the store's database has (see [`crate::current_schema_version`] for the one
    /// this code writes).
    fn schema_version(&self) -> BoxFuture<'_, Result<u32, StoreError>>;

    /// Stored events, oldest first.
    fn list_events(&self, query: EventQuery)
    -> BoxFuture<'_, Result<Vec<StoredEvent>, StoreError>>;

    /// Recorded deliveries (accepted, duplicate and quarantined), oldest first.
    fn list_deliveries(
        &self,
        query: DeliveryQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredDelivery>, StoreError>>;

    /// Stops taking writes, commits everything already queued, and waits for the writer to finish.
    fn close(&self) -> BoxFuture<'_, ()>;

    /// The highest event id committed so far (0 for an empty store), updated after every group commit
    /// that added events: followers (the live stream, the conversation projector) wait on it instead of
    /// polling.
    fn committed_events(&self) -> watch::Receiver<i64>;

    /// The id of the last event the conversation projection has applied; it follows
    /// [`EventStore::committed_events`] when the store was opened with `WriterOptions::project`.
    fn projected_events(&self) -> watch::Receiver<i64>;

    /// Conversations, newest activity first (see [`crate::conversation`]).
    fn list_conversations(
        &self,
        query: ConversationQuery,
    ) -> BoxFuture<'_, Result<Vec<Conversation>, StoreError>>;

    /// One conversation by its id, `None` when there is none.
    fn get_conversation(
        &self,
        id: String,
    ) -> BoxFuture<'_, Result<Option<Conversation>, StoreError>>;

    /// Every event of the conversation with this key, with its raw JSON, for
    /// [`crate::conversation::fold::fold`].
    fn conversation_events(
        &self,
        key: String,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, StoreError>>;

    /// The Page and Instagram accounts that received events.
    fn list_accounts(&self) -> BoxFuture<'_, Result<Vec<Account>, StoreError>>;

    /// One event by id, with its raw JSON when `with_raw`; `None` when no event has that id.
    fn get_event(
        &self,
        id: i64,
        with_raw: bool,
    ) -> BoxFuture<'_, Result<Option<StoredEvent>, StoreError>>;

    /// One delivery by id, with its body when `with_body`; `None` when no delivery has that id.
    fn get_delivery(
        &self,
        id: i64,
        with_body: bool,
    ) -> BoxFuture<'_, Result<Option<StoredDelivery>, StoreError>>;

    /// The events first stored from delivery `id` (not the stored ones it repeated), oldest first,
    /// without their raw JSON.
    fn delivery_events(&self, id: i64) -> BoxFuture<'_, Result<Vec<StoredEvent>, StoreError>>;

    /// The sink's cursor, created at `start` the first time (see [`crate::outbox`]).
    fn open_sink(&self, sink: String, start: SinkStart) -> BoxFuture<'_, Result<i64, StoreError>>;

    /// Saves a sink's progress (cursor and attempt rows) in one transaction. With an owner, fails with
    /// [`StoreError::LeaseLost`] and writes nothing when the owner no longer holds the sink's lease.
    fn save_sink_progress(&self, write: OutboxWrite) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Takes or renews the sink's lease for `claim.owner` (see [`SinkClaim`]) and answers the sink's
    /// cursor as stored now (another instance may have moved it); `None` while another owner's lease is
    /// live. The sink must have a cursor ([`EventStore::open_sink`]).
    fn claim_sink(&self, claim: SinkClaim) -> BoxFuture<'_, Result<Option<i64>, StoreError>>;

    /// Gives up `owner`'s lease on the sink and its claims on the sink's rows, so that another instance
    /// takes them over at once (a clean shutdown). Does nothing to what `owner` does not hold.
    fn release_sink(&self, sink: String, owner: String) -> BoxFuture<'_, Result<(), StoreError>>;

    /// Extends to `until_ms` the claims `owner` still holds on the sink's attempt rows, so that a due
    /// pass slower than a lease keeps them; how many.
    fn renew_row_claims(
        &self,
        sink: String,
        owner: String,
        until_ms: i64,
    ) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Pending attempt rows with their events (raw JSON included), earliest due first; with
    /// [`DueQuery::claim`], the due ones are claimed as they are handed out.
    fn due_attempts(
        &self,
        query: DueQuery,
    ) -> BoxFuture<'_, Result<Vec<(Attempt, StoredEvent)>, StoreError>>;

    /// Which of these conversations have pending rows for the sink (so new events queue behind them).
    fn blocked_conversations(
        &self,
        sink: String,
        keys: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, StoreError>>;

    /// Attempt rows (pending retries, dead letters), by id.
    fn list_attempts(&self, query: AttemptQuery)
    -> BoxFuture<'_, Result<Vec<Attempt>, StoreError>>;

    /// Every sink that ever ran against this store, with its cursor and backlog.
    fn sink_statuses(&self) -> BoxFuture<'_, Result<Vec<SinkStatus>, StoreError>>;

    /// Makes the selected dead letters pending and due now, with a fresh schedule; how many.
    fn retry_dead(&self, selection: DeadSelection) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Deletes the selected dead letters; how many.
    fn drop_dead(&self, selection: DeadSelection) -> BoxFuture<'_, Result<u64, StoreError>>;

    /// Records a send, `pending`, before its Send API call (see [`crate::send`]). Recording the same
    /// send again (a retry after a lost answer) answers the stored one; another send under the same id
    /// is refused with [`StoreError::SendConflict`], a send that could not be read back with
    /// [`StoreError::InvalidSend`].
    fn create_send(&self, send: NewSend) -> BoxFuture<'_, Result<StoredSend, StoreError>>;

    /// Marks a pending send `sent` with the `message_id` the Send API answered, at `at_ms`; answers the
    /// send as it stands. Fails with [`StoreError::UnknownSend`] for an id never created, and with
    /// [`StoreError::SendConflict`] when the send was marked otherwise already or another send holds
    /// the message id (marking it again the same way changes nothing).
    fn mark_send_sent(
        &self,
        id: SendId,
        message_id: String,
        at_ms: i64,
    ) -> BoxFuture<'_, Result<StoredSend, StoreError>>;

    /// Marks a pending send `failed` with the error, at `at_ms`; answers the send as it stands. Fails
    /// as [`EventStore::mark_send_sent`] does.
    fn mark_send_failed(
        &self,
        id: SendId,
        error: String,
        at_ms: i64,
    ) -> BoxFuture<'_, Result<StoredSend, StoreError>>;

    /// One send by id, `None` when there is none.
    fn get_send(&self, id: SendId) -> BoxFuture<'_, Result<Option<StoredSend>, StoreError>>;

    /// The sends of the conversation with this key, oldest first, for
    /// [`crate::conversation::fold::fold_with_sends`].
    fn conversation_sends(&self, key: String)
    -> BoxFuture<'_, Result<Vec<StoredSend>, StoreError>>;

    /// The send that was answered with this message id (an echo's `mid`), `None` when there is none.
    fn send_by_message_id(
        &self,
        message_id: String,
    ) -> BoxFuture<'_, Result<Option<StoredSend>, StoreError>>;
}

/// A delivery handed to the writer; resolves once it is committed (or failed to be).
#[derive(Debug)]
pub struct PendingCommit(pub(crate) oneshot::Receiver<Result<Appended, StoreError>>);

impl Future for PendingCommit {
    type Output = Result<Appended, StoreError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|reply| reply.unwrap_or(Err(StoreError::Closed)))
    }
}

/// What one group commit did, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommitStats {
    /// Deliveries in the transaction.
    pub deliveries: usize,
    /// Events written (new ones, not duplicates).
    pub new_events: usize,
    /// Time from `BEGIN` to the end of `COMMIT`.
    pub elapsed: Duration,
    pub ok: bool,
}

/// Told about every group commit (the server's metrics implement it).
pub trait CommitObserver: Send + Sync + 'static {
    fn committed(&self, stats: CommitStats);
}
