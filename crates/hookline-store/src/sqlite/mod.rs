//! The embedded default backend: one SQLite file in WAL mode with `synchronous=FULL`, so a commit is on
//! disk (the WAL is fsynced) before any delivery in it is acknowledged.
//!
//! - [`schema`]: tables, indexes and migrations.
//! - [`writer`]: the single writer thread and its group commit; [`dedup`]: how it finds an event's
//!   earlier copy (keys in memory, merged into a table in key order).
//! - [`checkpoint`]: WAL checkpoints on their own thread, off the commit path.
//! - [`read`]: queries on separate read-only connections.
//! - [`projection`]: the conversation projection's steps (run by the writer) and its reads.
//! - [`outbox`]: the sinks' cursors and attempt rows (written by the writer, read on the read connections);
//!   [`lease`]: the leases and claims of several instances on one database; [`presence`]: which
//!   processes have the file open, so that leases of a process that died are cleared at once.
//! - [`sends`]: hookline's sends and their outcomes (written by the writer, read on the read
//!   connections).

mod checkpoint;
mod dedup;
mod lease;
mod outbox;
mod presence;
mod projection;
mod read;
mod schema;
mod sends;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{oneshot, watch};

use crate::conversation::ConversationQuery;
use crate::conversation::view::{Account, Conversation};
use crate::error::StoreError;
use crate::model::{DeliveryQuery, EventQuery, NewDelivery, StoredDelivery, StoredEvent};
use crate::outbox::{
    Attempt, AttemptQuery, DeadSelection, DueQuery, OutboxWrite, SinkClaim, SinkStart, SinkStatus,
};
use crate::send::{NewSend, SendId, SendOutcome, StoredSend};
use crate::store::{BoxFuture, EventStore, PendingCommit};
use crate::url::WriterOptions;
use outbox::{Answer, OutboxOp};
use read::Readers;
use sends::SendChange;
use writer::{Job, Writer};

/// Settings of a SQLite store.
#[derive(Clone, Debug)]
pub struct SqliteOptions {
    /// How long a commit waits for another process's lock before failing.
    pub busy_timeout: Duration,
    /// Size cap of the database file, in MiB.
    pub max_size_mb: Option<u64>,
    /// The writer connection's page cache, in MiB.
    pub cache_mb: u64,
    /// Dedup keys of the latest events held in memory before a merge into the file (`dedup.rs`).
    pub dedup_memory_keys: usize,
    pub writer: WriterOptions,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        Self {
            busy_timeout: Duration::from_millis(2000),
            max_size_mb: None,
            cache_mb: crate::url::DEFAULT_CACHE_MB,
            dedup_memory_keys: crate::url::DEFAULT_DEDUP_MEMORY_KEYS,
            writer: WriterOptions::default(),
        }
    }
}

/// A store in one SQLite database file.
#[derive(Debug)]
pub struct SqliteStore {
    path: PathBuf,
    jobs: RwLock<Option<SyncSender<Job>>>,
    capacity: usize,
    depth: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// Dropping it stops the checkpoint thread.
    checkpoints: Mutex<Option<(SyncSender<()>, JoinHandle<()>)>>,
    readers: Arc<Readers>,
    committed: watch::Receiver<i64>,
    projected: watch::Receiver<i64>,
    _presence: presence::Presence,
}

impl SqliteStore {
    /// Opens or creates the database at `path`, applies migrations and starts the writer thread.
    pub fn open(path: &Path, options: SqliteOptions) -> Result<Self, StoreError> {
        let fail = |err: rusqlite::Error| StoreError::Open {
            location: path.display().to_string(),
            message: err.to_string(),
        };
        let conn = open_writer(path, &options)?;
        let presence = presence::Presence::enter(path, &conn);
        let mut writer = Writer::new(conn, options.writer.max_batch).map_err(fail)?;
        writer.observer = options.writer.observer.clone();
        writer.project = options.writer.project;
        writer.keep_dedup_keys(options.dedup_memory_keys);
        let depth = writer.depth.clone();
        let healthy = writer.healthy.clone();
        let committed = writer.committed.subscribe();
        let projected = writer.projected.subscribe();
        let capacity = options.writer.queue_capacity.max(1);
        let (sender, receiver) = sync_channel(capacity);
        let thread = std::thread::Builder::new()
            .name("hookline-sqlite-writer".into())
            .spawn(move || writer.run(receiver))
            .map_err(|err| StoreError::Open {
                location: path.display().to_string(),
                message: format!("cannot start the writer thread: {err}"),
            })?;
        let checkpoints =
            start_checkpoints(path, options.busy_timeout).map_err(|err| StoreError::Open {
                location: path.display().to_string(),
                message: format!("cannot start the checkpoint thread: {err}"),
            })?;
        tracing::info!(path = %path.display(), schema = schema::current_version(), "sqlite store open");
        Ok(Self {
            path: path.to_owned(),
            jobs: RwLock::new(Some(sender)),
            capacity,
            depth,
            healthy,
            writer: Mutex::new(Some(thread)),
            checkpoints: Mutex::new(Some(checkpoints)),
            readers: Arc::new(Readers::new(path.to_owned(), options.busy_timeout)),
            committed,
            projected,
            _presence: presence,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn send(&self, job: Job) -> Result<(), StoreError> {
        let jobs = self.jobs.read().unwrap_or_else(|e| e.into_inner());
        let sender = jobs.as_ref().ok_or(StoreError::Closed)?;
        self.depth.fetch_add(1, Ordering::Relaxed);
        sender.try_send(job).map_err(|err| {
            self.depth.fetch_sub(1, Ordering::Relaxed);
            match err {
                TrySendError::Full(_) => StoreError::Saturated {
                    capacity: self.capacity,
                },
                TrySendError::Disconnected(_) => StoreError::Closed,
            }
        })
    }

    /// Hands an outbox change to the writer, which commits it with the next group.
    fn outbox(&self, op: OutboxOp) -> BoxFuture<'_, Result<Answer, StoreError>> {
        Box::pin(async move {
            let (reply, receiver) = oneshot::channel();
            self.send(Job::Outbox { op, reply })?;
            receiver.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    /// [`Self::outbox`] for a change that answers a cursor or a count.
    fn outbox_number(&self, op: OutboxOp) -> BoxFuture<'_, Result<i64, StoreError>> {
        let done = self.outbox(op);
        Box::pin(async move {
            match done.await? {
                Answer::Number(n) => Ok(n),
                other => Err(unexpected(&other)),
            }
        })
    }

    /// Hands a change to a send to the writer, which commits it with the next group.
    fn send_change(&self, change: SendChange) -> BoxFuture<'_, Result<StoredSend, StoreError>> {
        let done = self.outbox(OutboxOp::Send(change));
        Box::pin(async move {
            match done.await? {
                Answer::Send(send) => Ok(*send),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn read<T: Send + 'static>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> BoxFuture<'_, Result<T, StoreError>> {
        let readers = self.readers.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || readers.with(query))
                .await
                .map_err(StoreError::query)?
        })
    }
}

/// The writer answered an outbox change with the wrong kind of answer (a bug).
fn unexpected(answer: &Answer) -> StoreError {
    StoreError::Query {
        message: format!("unexpected answer from the writer: {answer:?}"),
    }
}

fn start_checkpoints(
    path: &Path,
    busy_timeout: Duration,
) -> std::io::Result<(SyncSender<()>, JoinHandle<()>)> {
    let (stop, stopped) = sync_channel(1);
    let checkpointer = checkpoint::Checkpointer {
        path: path.to_owned(),
        busy_timeout,
    };
    let thread = std::thread::Builder::new()
        .name("hookline-sqlite-checkpoint".into())
        .spawn(move || checkpointer.run(stopped))?;
    Ok((stop, thread))
}

fn open_writer(path: &Path, options: &SqliteOptions) -> Result<Connection, StoreError> {
    let location = || path.display().to_string();
    let fail = |err: rusqlite::Error| StoreError::Open {
        location: location(),
        message: err.to_string(),
    };
    let mut conn = connect_writer(path, options).map_err(fail)?;
    let checked = if options.writer.migrate {
        schema::migrate(&mut conn)
    } else {
        schema::check(&conn)
    };
    checked.map_err(|err| err.at(location()))?;
    if let Some(mb) = options.max_size_mb {
        limit_size(&conn, mb).map_err(fail)?;
    }
    Ok(conn)
}

fn connect_writer(path: &Path, options: &SqliteOptions) -> rusqlite::Result<Connection> {
    // Before SQLite's first use in the process: without it, a B-tree page split makes the next commit
    // scan the whole page cache (see hookline-pcache), which grows with `cache_mb`.
    if hookline_pcache::install() == hookline_pcache::Installed::TooLate {
        tracing::debug!(
            "SQLite was in use before the store opened; its default page cache stays (commits scan it after page splits)"
        );
    }
    let conn = Connection::open(path)?;
    conn.busy_timeout(options.busy_timeout)?;
    // WAL: readers and the writer do not block each other, and a commit is one sequential append.
    // FULL: the WAL is fsynced at every commit, so an acknowledged delivery survives a power loss.
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    // Every event inserts into indexes on hashed keys (the dedup key, new conversations), which land on
    // random pages. SQLite's default 2 MB cache stops holding those indexes' inner pages once the store
    // passes a few million events; then each insert reads two or three pages back from the file. With the
    // inner pages cached, it reads at most the leaf.
    let cache_kib = i64::try_from(options.cache_mb.saturating_mul(1024)).unwrap_or(i64::MAX);
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(conn)
}

fn limit_size(conn: &Connection, mb: u64) -> rusqlite::Result<()> {
    let page_size: i64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
    let mb = i64::try_from(mb).unwrap_or(i64::MAX / (1024 * 1024));
    let pages = (mb * 1024 * 1024 / page_size.max(1)).max(1);
    conn.pragma_update(None, "max_page_count", pages)
}

/// The schema version this code writes to a SQLite store.
pub(crate) fn schema_version() -> u32 {
    u32::try_from(schema::current_version()).unwrap_or(u32::MAX)
}

impl EventStore for SqliteStore {
    fn submit(&self, delivery: NewDelivery) -> Result<PendingCommit, StoreError> {
        let (reply, receiver) = oneshot::channel();
        self.send(Job::Append { delivery, reply })?;
        Ok(PendingCommit(receiver))
    }

    fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    fn check_writable(&self) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(async move {
            let (reply, receiver) = oneshot::channel();
            self.send(Job::Probe { reply })?;
            receiver.await.unwrap_or(Err(StoreError::Closed))?;
            if self.healthy.load(Ordering::Relaxed) {
                Ok(())
            } else {
                Err(StoreError::Unavailable {
                    message: "the last commit failed".into(),
                })
            }
        })
    }

    fn schema_version(&self) -> BoxFuture<'_, Result<u32, StoreError>> {
        self.read(|conn| {
            schema::applied(conn).map(|applied| u32::try_from(applied).unwrap_or(u32::MAX))
        })
    }

    fn list_events(
        &self,
        query: EventQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, StoreError>> {
        self.read(move |conn| read::events(conn, &query))
    }

    fn list_deliveries(
        &self,
        query: DeliveryQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredDelivery>, StoreError>> {
        self.read(move |conn| read::deliveries(conn, &query))
    }

    fn committed_events(&self) -> watch::Receiver<i64> {
        self.committed.clone()
    }

    fn projected_events(&self) -> watch::Receiver<i64> {
        self.projected.clone()
    }

    fn list_conversations(
        &self,
        query: ConversationQuery,
    ) -> BoxFuture<'_, Result<Vec<Conversation>, StoreError>> {
        self.read(move |conn| projection::conversations(conn, &query))
    }

    fn get_conversation(
        &self,
        id: String,
    ) -> BoxFuture<'_, Result<Option<Conversation>, StoreError>> {
        self.read(move |conn| projection::conversation_by_id(conn, &id))
    }

    fn conversation_events(
        &self,
        key: String,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, StoreError>> {
        self.read(move |conn| projection::conversation_events(conn, &key))
    }

    fn list_accounts(&self) -> BoxFuture<'_, Result<Vec<Account>, StoreError>> {
        self.read(projection::accounts)
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let threads = self.stop_taking_writes();
            let _ = tokio::task::spawn_blocking(move || threads.join()).await;
        })
    }

    fn get_event(
        &self,
        id: i64,
        with_raw: bool,
    ) -> BoxFuture<'_, Result<Option<StoredEvent>, StoreError>> {
        self.read(move |conn| read::event(conn, id, with_raw))
    }

    fn get_delivery(
        &self,
        id: i64,
        with_body: bool,
    ) -> BoxFuture<'_, Result<Option<StoredDelivery>, StoreError>> {
        self.read(move |conn| read::delivery(conn, id, with_body))
    }

    fn delivery_events(&self, id: i64) -> BoxFuture<'_, Result<Vec<StoredEvent>, StoreError>> {
        self.read(move |conn| read::delivery_events(conn, id))
    }

    fn open_sink(&self, sink: String, start: SinkStart) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.outbox_number(OutboxOp::Open { sink, start })
    }

    fn save_sink_progress(&self, write: OutboxWrite) -> BoxFuture<'_, Result<(), StoreError>> {
        let saved = self.outbox_number(OutboxOp::Write(write));
        Box::pin(async move { saved.await.map(drop) })
    }

    fn claim_sink(&self, claim: SinkClaim) -> BoxFuture<'_, Result<Option<i64>, StoreError>> {
        let claimed = self.outbox(OutboxOp::Claim(claim));
        Box::pin(async move {
            match claimed.await? {
                Answer::Claimed(cursor) => Ok(cursor),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn release_sink(&self, sink: String, owner: String) -> BoxFuture<'_, Result<(), StoreError>> {
        let released = self.outbox_number(OutboxOp::Release { sink, owner });
        Box::pin(async move { released.await.map(drop) })
    }

    fn renew_row_claims(
        &self,
        sink: String,
        owner: String,
        until_ms: i64,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        let renewed = self.outbox_number(OutboxOp::RenewRows {
            sink,
            owner,
            until_ms,
        });
        Box::pin(async move { renewed.await.map(|n| n.max(0) as u64) })
    }

    fn due_attempts(
        &self,
        query: DueQuery,
    ) -> BoxFuture<'_, Result<Vec<(Attempt, StoredEvent)>, StoreError>> {
        if query.claim.is_none() {
            return self.read(move |conn| outbox::due(conn, &query));
        }
        Box::pin(async move {
            // Claiming writes, so it is the writer's; but when nothing is due there is nothing to claim.
            let peek = query.clone();
            if let Some(later) = self
                .read(move |conn| lease::nothing_due(conn, &peek))
                .await?
            {
                return Ok(later);
            }
            match self.outbox(OutboxOp::ClaimDue(query)).await? {
                Answer::Rows(rows) => Ok(rows),
                other => Err(unexpected(&other)),
            }
        })
    }

    fn blocked_conversations(
        &self,
        sink: String,
        keys: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        self.read(move |conn| outbox::blocked_conversations(conn, &sink, &keys))
    }

    fn list_attempts(
        &self,
        query: AttemptQuery,
    ) -> BoxFuture<'_, Result<Vec<Attempt>, StoreError>> {
        self.read(move |conn| outbox::attempts(conn, &query))
    }

    fn sink_statuses(&self) -> BoxFuture<'_, Result<Vec<SinkStatus>, StoreError>> {
        self.read(outbox::statuses)
    }

    fn retry_dead(&self, selection: DeadSelection) -> BoxFuture<'_, Result<u64, StoreError>> {
        let done = self.outbox_number(OutboxOp::RequeueDead { selection });
        Box::pin(async move { done.await.map(|n| n.max(0) as u64) })
    }

    fn drop_dead(&self, selection: DeadSelection) -> BoxFuture<'_, Result<u64, StoreError>> {
        let done = self.outbox_number(OutboxOp::DropDead { selection });
        Box::pin(async move { done.await.map(|n| n.max(0) as u64) })
    }

    fn create_send(&self, send: NewSend) -> BoxFuture<'_, Result<StoredSend, StoreError>> {
        self.send_change(SendChange::Create(send))
    }

    fn mark_send_sent(
        &self,
        id: SendId,
        message_id: String,
        at_ms: i64,
    ) -> BoxFuture<'_, Result<StoredSend, StoreError>> {
        let outcome = SendOutcome::Sent { message_id };
        self.send_change(SendChange::Mark { id, outcome, at_ms })
    }

    fn mark_send_failed(
        &self,
        id: SendId,
        error: String,
        at_ms: i64,
    ) -> BoxFuture<'_, Result<StoredSend, StoreError>> {
        let outcome = SendOutcome::Failed { error };
        self.send_change(SendChange::Mark { id, outcome, at_ms })
    }

    fn get_send(&self, id: SendId) -> BoxFuture<'_, Result<Option<StoredSend>, StoreError>> {
        self.read(move |conn| sends::get(conn, id.as_str()))
    }

    fn conversation_sends(
        &self,
        key: String,
    ) -> BoxFuture<'_, Result<Vec<StoredSend>, StoreError>> {
        self.read(move |conn| sends::of_conversation(conn, &key))
    }

    fn send_by_message_id(
        &self,
        message_id: String,
    ) -> BoxFuture<'_, Result<Option<StoredSend>, StoreError>> {
        self.read(move |conn| sends::by_message_id(conn, &message_id))
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.stop_taking_writes().join();
    }
}

/// The store's threads, once taken out of it to be joined.
struct Threads {
    writer: Option<JoinHandle<()>>,
    checkpoints: Option<(SyncSender<()>, JoinHandle<()>)>,
}

impl Threads {
    /// Waits for the writer to commit what is queued, then stops the checkpoint thread.
    fn join(self) {
        if let Some(writer) = self.writer {
            let _ = writer.join();
        }
        if let Some((stop, thread)) = self.checkpoints {
            drop(stop);
            let _ = thread.join();
        }
    }
}

impl SqliteStore {
    /// Drops the only sender of the writer's queue, so the writer drains what is queued and returns, and
    /// hands out the threads to join (none the second time).
    fn stop_taking_writes(&self) -> Threads {
        self.jobs.write().unwrap_or_else(|e| e.into_inner()).take();
        Threads {
            writer: self.writer.lock().unwrap_or_else(|e| e.into_inner()).take(),
            checkpoints: self
                .checkpoints
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        }
    }
}
