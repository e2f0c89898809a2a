//! The PostgreSQL backend: the same tables and the same observable behaviour as the SQLite one, for
//! deployments that want a database server, or several hookline instances on one database.
//!
//! - [`schema`]: tables and migrations, applied under an advisory lock.
//! - [`connection`]: connections, the read pool, and which errors mean "unavailable" (503).
//! - [`writer`]: one task with a dedicated connection committing deliveries in groups;
//!   [`append`]: one group's transaction, with event ids in commit order across instances.
//! - [`follow`]: polls what other instances committed and projected, to raise the watches.
//! - [`projection`]: the conversation projection's steps and reads; [`projector`]: the task that runs
//!   them on one instance at a time.
//! - [`read`], [`outbox`]: queries, and the sinks' cursors and attempt rows, on pooled connections;
//!   [`lease`]: the sinks' leases and the claims on due rows, for several instances running one sink.
//! - [`sends`]: hookline's sends and their outcomes, each change a transaction on a pooled connection.
//! - [`lock`]: the advisory lock keys; [`runtime`]: the store's own runtime.
//!
//! Every task and query of the store runs on a small runtime of its own (see [`runtime`] for why), as
//! the SQLite store runs threads of its own.
//!
//! Only plain TCP (no TLS stack is built in): use it on a private network.

mod append;
mod connection;
mod follow;
mod lease;
mod lock;
mod outbox;
mod projection;
mod projector;
mod read;
mod runtime;
mod schema;
mod sends;
mod writer;

use std::borrow::Cow;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use tokio::runtime::Handle;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_postgres::config::Host;

use crate::conversation::ConversationQuery;
use crate::conversation::view::{Account, Conversation};
use crate::error::StoreError;
use crate::model::{DeliveryQuery, EventQuery, NewDelivery, StoredDelivery, StoredEvent};
use crate::outbox::{
    Attempt, AttemptQuery, DeadSelection, DueQuery, OutboxWrite, SinkClaim, SinkStart, SinkStatus,
};
use crate::send::{NewSend, SendId, SendOutcome, StoredSend};
use crate::store::{BoxFuture, EventStore, PendingCommit};
use crate::url::{PostgresUrl, WriterOptions};
use connection::{describe, pool_error, store_error};
use lock::Locks;
use projector::Projector;
use runtime::OwnRuntime;
use writer::{Job, WRITE_TIMEOUT, Writer, now_ms};

/// A store in a PostgreSQL database (or in one schema of it).
pub struct PostgresStore {
    location: String,
    jobs: RwLock<Option<mpsc::Sender<Job>>>,
    capacity: usize,
    depth: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    /// Set by `close`: outbox writes are refused from then on, as the SQLite store refuses them.
    closed: AtomicBool,
    pool: Pool,
    committed: watch::Receiver<i64>,
    projected: watch::Receiver<i64>,
    /// Tells the follower and the projector to end.
    stop: watch::Sender<bool>,
    writer: Mutex<Option<JoinHandle<()>>>,
    background: Mutex<Vec<JoinHandle<()>>>,
    handle: Handle,
    /// Declared last, so it is shut down after everything that runs on it was dropped.
    runtime: OwnRuntime,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("location", &self.location)
            .field("capacity", &self.capacity)
            .field("runtime", &self.runtime)
            .finish_non_exhaustive()
    }
}

/// What `start` built on the store's runtime.
struct Started {
    jobs: mpsc::Sender<Job>,
    depth: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    pool: Pool,
    committed: watch::Receiver<i64>,
    projected: watch::Receiver<i64>,
    stop: watch::Sender<bool>,
    writer: JoinHandle<()>,
    background: Vec<JoinHandle<()>>,
}

impl PostgresStore {
    /// Connects, applies migrations (unless `options.migrate` is false) and starts the writer, the
    /// follower and, with `options.project`, the projection.
    pub async fn open(url: PostgresUrl, options: WriterOptions) -> Result<Self, StoreError> {
        let location = location(&url);
        let runtime = OwnRuntime::start().map_err(|err| StoreError::Open {
            location: location.clone(),
            message: format!("cannot start the store's runtime: {err}"),
        })?;
        let handle = runtime.handle();
        let started = handle
            .spawn(start(url, options.clone(), location.clone()))
            .await
            .map_err(|err| StoreError::Open {
                location: location.clone(),
                message: format!("opening stopped: {err}"),
            })??;
        tracing::info!(%location, schema = schema::current_version(), "postgres store open");
        Ok(Self {
            location,
            jobs: RwLock::new(Some(started.jobs)),
            capacity: options.queue_capacity.max(1),
            depth: started.depth,
            healthy: started.healthy,
            closed: AtomicBool::new(false),
            pool: started.pool,
            committed: started.committed,
            projected: started.projected,
            stop: started.stop,
            writer: Mutex::new(Some(started.writer)),
            background: Mutex::new(started.background),
            handle,
            runtime,
        })
    }

    /// Where the database is (host, port, database and schema; never credentials).
    pub fn location(&self) -> &str {
        &self.location
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
                TrySendError::Closed(_) => StoreError::Closed,
            }
        })
    }

    /// Runs `query` on a pooled connection, on the store's runtime.
    fn read<T, F, Fut>(&self, query: F) -> BoxFuture<'_, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        let pool = self.pool.clone();
        let task = self.handle.spawn(async move {
            let client = pool.get().await.map_err(pool_error)?;
            query(client).await.map_err(|err| store_error(&err))
        });
        Box::pin(async move {
            task.await.unwrap_or_else(|err| {
                Err(if err.is_cancelled() {
                    StoreError::Closed
                } else {
                    StoreError::Query {
                        message: format!("a store task failed: {err}"),
                    }
                })
            })
        })
    }

    /// Like [`Self::read`], for an outbox change: refused once the store is closed.
    fn change<T, F, Fut>(&self, change: F) -> BoxFuture<'_, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(Object) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, tokio_postgres::Error>> + Send + 'static,
    {
        if self.closed.load(Ordering::Relaxed) {
            return Box::pin(async { Err(StoreError::Closed) });
        }
        self.read(change)
    }
}

/// Connects, migrates and starts the store's tasks; runs on the store's runtime.
async fn start(
    url: PostgresUrl,
    options: WriterOptions,
    location: String,
) -> Result<Started, StoreError> {
    let fail = |message: String| StoreError::Open {
        location: location.clone(),
        message,
    };
    let config = connection::session_config(&url);
    let mut session = writer::connect(&config)
        .await
        .map_err(|err| fail(format!("cannot connect: {}", describe(&err))))?;
    let schema_name = match &url.schema {
        Some(schema) => schema.clone(),
        None => current_schema(&session).await.map_err(fail)?,
    };
    let locks = Locks::for_schema(&schema_name);
    let checked = if options.migrate {
        schema::migrate(&mut session, url.schema.as_deref(), locks).await
    } else {
        schema::check(&mut session).await
    };
    checked.map_err(|err| match err {
        schema::SchemaError::Db(err) => fail(format!("migration failed: {}", describe(&err))),
        schema::SchemaError::Mismatch { found, expected } => StoreError::Schema {
            location: location.clone(),
            found,
            expected,
        },
    })?;
    let (committed_at, projected_at) = follow::positions(&session)
        .await
        .map_err(|err| fail(describe(&err)))?;
    let pool = connection::pool(config.clone(), url.pool_size).map_err(fail)?;
    let committed = watch::Sender::new(committed_at);
    let projected = watch::Sender::new(projected_at);
    let stop = watch::Sender::new(false);
    let depth = Arc::new(AtomicUsize::new(0));
    let healthy = Arc::new(AtomicBool::new(true));
    let (jobs, queue) = mpsc::channel(options.queue_capacity.max(1));
    let writer = Writer {
        config: config.clone(),
        location,
        locks,
        session: Some(session),
        max_batch: options.max_batch.max(1),
        depth: depth.clone(),
        healthy: healthy.clone(),
        observer: options.observer,
        committed: committed.clone(),
    };
    let writer = tokio::spawn(writer.run(queue));
    let mut background = vec![tokio::spawn(follow::follow(
        pool.clone(),
        committed.clone(),
        projected.clone(),
        stop.subscribe(),
    ))];
    if options.project {
        let projector = Projector {
            config,
            locks,
            committed: committed.subscribe(),
            projected: projected.clone(),
            stop: stop.subscribe(),
        };
        background.push(tokio::spawn(projector.run()));
    }
    Ok(Started {
        jobs,
        depth,
        healthy,
        pool,
        committed: committed.subscribe(),
        projected: projected.subscribe(),
        stop,
        writer,
        background,
    })
}

/// The schema the server's `search_path` resolves to, when the URL names none.
async fn current_schema(session: &connection::Session) -> Result<String, String> {
    let row = session
        .query_one("SELECT current_schema()", &[])
        .await
        .map_err(|err| describe(&err))?;
    let schema: Option<String> = row.try_get(0).map_err(|err| describe(&err))?;
    schema.ok_or_else(|| {
        "the server's search_path names no schema that exists; add ?schema=NAME to the URL \
         (hookline creates it)"
            .to_owned()
    })
}

/// Where the database is, for messages and logs: hosts, port, database and schema, never credentials.
pub(crate) fn location(url: &PostgresUrl) -> String {
    let config = &url.config;
    let mut hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    if hosts.is_empty() {
        hosts = config
            .get_hostaddrs()
            .iter()
            .map(|a| a.to_string())
            .collect();
    }
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config.get_dbname().or(config.get_user()).unwrap_or("");
    let mut location = format!("postgres://{}:{port}/{database}", hosts.join(","));
    if let Some(schema) = &url.schema {
        location.push_str(&format!(" (schema {schema})"));
    }
    location
}

/// The schema version this code writes to a PostgreSQL store.
pub(crate) fn schema_version() -> u32 {
    schema::current_version().max(0) as u32
}

/// Text as PostgreSQL can store it: `TEXT` cannot hold U+0000 (SQLite can), so a NUL that a JSON escape
/// or a query parameter put into a field becomes U+FFFD rather than failing the whole delivery or
/// query. The raw body (`BYTEA`) keeps the exact bytes.
pub(crate) fn text(value: &str) -> Cow<'_, str> {
    if value.contains('\0') {
        Cow::Owned(value.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(value)
    }
}

/// [`text`], owned (for a parameter built at run time).
pub(crate) fn owned_text(value: &str) -> String {
    text(value).into_owned()
}

impl EventStore for PostgresStore {
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
        self.read(|client| async move {
            schema::applied(&client)
                .await
                .map(|version| version.max(0) as u32)
        })
    }

    fn list_events(
        &self,
        query: EventQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, StoreError>> {
        self.read(move |client| async move { read::events(&client, &query).await })
    }

    fn list_deliveries(
        &self,
        query: DeliveryQuery,
    ) -> BoxFuture<'_, Result<Vec<StoredDelivery>, StoreError>> {
        self.read(move |client| async move { read::deliveries(&client, &query).await })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.closed.store(true, Ordering::Relaxed);
            // Dropping the only sender lets the writer commit what is queued and end.
            self.jobs.write().unwrap_or_else(|e| e.into_inner()).take();
            let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
            if let Some(writer) = writer {
                let _ = writer.await;
            }
            self.stop.send_replace(true);
            let background =
                std::mem::take(&mut *self.background.lock().unwrap_or_else(|e| e.into_inner()));
            for task in background {
                let _ = task.await;
            }
        })
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
        self.read(move |client| async move { projection::conversations(&client, &query).await })
    }

    fn get_conversation(
        &self,
        id: String,
    ) -> BoxFuture<'_, Result<Option<Conversation>, StoreError>> {
        self.read(move |client| async move { projection::conversation_by_id(&client, &id).await })
    }

    fn conversation_events(
        &self,
        key: String,
    ) -> BoxFuture<'_, Result<Vec<StoredEvent>, StoreError>> {
        self.read(move |client| async move { projection::conversation_events(&client, &key).await })
    }

    fn list_accounts(&self) -> BoxFuture<'_, Result<Vec<Account>, StoreError>> {
        self.read(|client| async move { projection::accounts(&client).await })
    }

    fn get_event(
        &self,
        id: i64,
        with_raw: bool,
    ) -> BoxFuture<'_, Result<Option<StoredEvent>, StoreError>> {
        self.read(move |client| async move { read::event(&client, id, with_raw).await })
    }

    fn get_delivery(
        &self,
        id: i64,
        with_body: bool,
    ) -> BoxFuture<'_, Result<Option<StoredDelivery>, StoreError>> {
        self.read(move |client| async move { read::delivery(&client, id, with_body).await })
    }

    fn delivery_events(&self, id: i64) -> BoxFuture<'_, Result<Vec<StoredEvent>, StoreError>> {
        self.read(move |client| async move { read::delivery_events(&client, id).await })
    }

    fn open_sink(&self, sink: String, start: SinkStart) -> BoxFuture<'_, Result<i64, StoreError>> {
        self.change(move |mut client| async move {
            outbox::open(&mut client, &sink, start, now_ms()).await
        })
    }

    fn save_sink_progress(&self, write: OutboxWrite) -> BoxFuture<'_, Result<(), StoreError>> {
        let saved =
            self.change(move |mut client| async move { outbox::write(&mut client, &write).await });
        Box::pin(async move { saved.await? })
    }

    fn claim_sink(&self, claim: SinkClaim) -> BoxFuture<'_, Result<Option<i64>, StoreError>> {
        let claimed = self.change(move |client| async move { lease::claim(&client, &claim).await });
        Box::pin(async move { claimed.await? })
    }

    fn release_sink(&self, sink: String, owner: String) -> BoxFuture<'_, Result<(), StoreError>> {
        self.change(
            move |mut client| async move { lease::release(&mut client, &sink, &owner).await },
        )
    }

    fn renew_row_claims(
        &self,
        sink: String,
        owner: String,
        until_ms: i64,
    ) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.change(move |client| async move {
            lease::renew_rows(&client, &sink, &owner, until_ms).await
        })
    }

    fn due_attempts(
        &self,
        query: DueQuery,
    ) -> BoxFuture<'_, Result<Vec<(Attempt, StoredEvent)>, StoreError>> {
        if query.claim.is_none() {
            return self.read(move |client| async move { outbox::due(&client, &query).await });
        }
        self.change(move |mut client| async move { lease::claim_due(&mut client, &query).await })
    }

    fn blocked_conversations(
        &self,
        sink: String,
        keys: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<String>, StoreError>> {
        self.read(move |client| async move {
            outbox::blocked_conversations(&client, &sink, &keys).await
        })
    }

    fn list_attempts(
        &self,
        query: AttemptQuery,
    ) -> BoxFuture<'_, Result<Vec<Attempt>, StoreError>> {
        self.read(move |client| async move { outbox::attempts(&client, &query).await })
    }

    fn sink_statuses(&self) -> BoxFuture<'_, Result<Vec<SinkStatus>, StoreError>> {
        self.read(|client| async move { outbox::statuses(&client).await })
    }

    fn retry_dead(&self, selection: DeadSelection) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.change(move |client| async move {
            outbox::requeue_dead(&client, &selection, now_ms()).await
        })
    }

    fn drop_dead(&self, selection: DeadSelection) -> BoxFuture<'_, Result<u64, StoreError>> {
        self.change(move |client| async move { outbox::drop_dead(&client, &selection).await })
    }

    fn create_send(&self, send: NewSend) -> BoxFuture<'_, Result<StoredSend, StoreError>> {
        let created = self.change(move |client| async move { sends::create(&client, &send).await });
        Box::pin(async move { created.await? })
    }

    fn mark_send_sent(
        &self,
        id: SendId,
        message_id: String,
        at_ms: i64,
    ) -> BoxFuture<'_, Result<StoredSend, StoreError>> {
        self.mark_send(id, SendOutcome::Sent { message_id }, at_ms)
    }

    fn mark_send_failed(
        &self,
        id: SendId,
        error: String,
        at_ms: i64,
    ) -> BoxFuture<'_, Result<StoredSend, StoreError>> {
        self.mark_send(id, SendOutcome::Failed { error }, at_ms)
    }

    fn get_send(&self, id: SendId) -> BoxFuture<'_, Result<Option<StoredSend>, StoreError>> {
        self.read(move |client| async move { sends::get(&client, id.as_str()).await })
    }

    fn conversation_sends(
        &self,
        key: String,
    ) -> BoxFuture<'_, Result<Vec<StoredSend>, StoreError>> {
        self.read(move |client| async move { sends::of_conversation(&client, &key).await })
    }

    fn send_by_message_id(
        &self,
        message_id: String,
    ) -> BoxFuture<'_, Result<Option<StoredSend>, StoreError>> {
        self.read(move |client| async move { sends::by_message_id(&client, &message_id).await })
    }
}

impl PostgresStore {
    fn mark_send(
        &self,
        id: SendId,
        outcome: SendOutcome,
        at_ms: i64,
    ) -> BoxFuture<'_, Result<StoredSend, StoreError>> {
        let marked = self.change(move |mut client| async move {
            sends::mark(&mut client, &id, &outcome, at_ms).await
        });
        Box::pin(async move { marked.await? })
    }
}

impl Drop for PostgresStore {
    /// Stops taking writes and, as the SQLite store joins its writer thread, waits (bounded) for the
    /// writer to commit what is queued; then the runtime and every task on it stop.
    fn drop(&mut self) {
        self.jobs
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        self.stop.send_replace(true);
        let writer = self
            .writer
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(writer) = writer
            && !writer.is_finished()
        {
            let (done, finished) = std::sync::mpsc::channel();
            self.handle.spawn(async move {
                let _ = writer.await;
                let _ = done.send(());
            });
            let _ = finished.recv_timeout(WRITE_TIMEOUT + Duration::from_secs(1));
        }
    }
}
