//! The single writer: one thread owns the write connection and commits deliveries in groups.
//!
//! It blocks for the first queued delivery, then takes whatever else is already queued (up to
//! `max_batch`) without waiting, and commits them all in one transaction: one fsync acknowledges the whole
//! group. Under load groups grow by themselves (while one commit is syncing, the next group queues up), so
//! no timer or artificial delay is needed. Every delivery's reply is sent only after `COMMIT` returns.
//!
//! With the projection on, the same thread applies committed events to the conversation summaries
//! (`projection.rs`) once no delivery has arrived for [`PROJECTION_IDLE`], and also between groups once it
//! is more than [`MAX_LAG`] events or [`MAX_DELAY`] behind, so it keeps up under sustained load without
//! ever holding the write lock against an ingest commit from another thread. Waiting for a quiet moment instead of taking
//! any empty queue makes projection steps large under load: each step is a transaction with its own
//! fsync, and each conversation it touches is loaded and saved once per step, so steps of a few dozen
//! events cost several times more per event than steps of hundreds.
//!
//! The events a commit added are kept in memory until the projection has applied them, so a step does
//! not read back and decode rows this thread has just written; after a restart it reads them back.
//!
//! A redelivery is found by its dedup key in memory or in `dedup_keys` (`dedup.rs`). Keys wait in memory
//! until enough have gathered, then this thread merges them into the file in key order, a chunk per
//! transaction, between groups (ahead of a projection step) or while no delivery arrives.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, ErrorCode, Transaction, TransactionBehavior, params};
use tokio::sync::{oneshot, watch};

use crate::error::StoreError;
use crate::model::{Appended, Content, NewDelivery, NewEvent, Outcome, StoredEvent};
use crate::sqlite::dedup::Dedup;
use crate::sqlite::outbox::{self, Answer, OutboxOp};
use crate::sqlite::projection::{self, Pending};
use crate::store::{CommitObserver, CommitStats};

/// Events the projection may fall behind by before it runs between group commits.
const MAX_LAG: i64 = 1_000;
/// How long the projection may go without a step while events wait for it, under a load that never
/// leaves the queue empty for [`PROJECTION_IDLE`] but stays under [`MAX_LAG`].
const MAX_DELAY: Duration = Duration::from_millis(50);
/// Committed events kept in memory for the projection, at most. It normally holds under [`MAX_LAG`] plus
/// a group; past this (the projection paused after a failure) the projection reads them back instead.
const MAX_RECENT: usize = 4 * MAX_LAG as usize;
/// After a failed projection step, how long to leave it before trying again.
const PROJECTION_RETRY: Duration = Duration::from_secs(1);
/// How long the queue must stay empty before the projection catches up outside the [`MAX_LAG`] rule.
/// It delays only the conversation view, never an acknowledgement: a delivery that arrives meanwhile is
/// taken at once.
const PROJECTION_IDLE: Duration = Duration::from_millis(2);

/// Work for the writer.
pub(crate) enum Job {
    Append {
        delivery: NewDelivery,
        reply: oneshot::Sender<Result<Appended, StoreError>>,
    },
    /// Readiness check: can a write transaction start (and, after a failed commit, commit)?
    Probe {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    /// A sink's progress (or a dead-letter action), committed with the next group.
    Outbox { op: OutboxOp, reply: OutboxReply },
}

type Reply = oneshot::Sender<Result<Appended, StoreError>>;
pub(crate) type OutboxReply = oneshot::Sender<Result<Answer, StoreError>>;

pub(crate) struct Writer {
    pub conn: Connection,
    pub max_batch: usize,
    pub depth: Arc<AtomicUsize>,
    /// False after a failed commit until a later write succeeds.
    pub healthy: Arc<AtomicBool>,
    pub observer: Option<Arc<dyn CommitObserver>>,
    /// The highest committed event id, published after each commit that added events.
    pub committed: watch::Sender<i64>,
    /// Whether this writer keeps the conversation projection up to date, and how far it has got.
    pub project: bool,
    pub projected: watch::Sender<i64>,
    projection_paused_until: Option<Instant>,
    /// When the projection last finished a step.
    projected_at: Instant,
    /// The latest committed events, as the projection would read them back, in id order. A step takes
    /// its events from here when they follow on from its position, which spares reading them back from
    /// the file; after a restart, or once this was cleared, it reads them back until it catches up.
    recent: VecDeque<Pending>,
    /// Ids are assigned here: there is only one writer, and knowing a delivery's id before its events are
    /// written lets the delivery row be written last, with its counts, in one statement.
    next: Ids,
    /// The stored events' dedup keys: recent ones in memory, older ones in `dedup_keys`.
    dedup: Dedup,
    /// After a failed merge of dedup keys, when to try again.
    merge_paused_until: Option<Instant>,
}

impl Writer {
    pub(crate) fn new(conn: Connection, max_batch: usize) -> rusqlite::Result<Self> {
        let mut writer = Writer {
            conn,
            max_batch: max_batch.max(1),
            depth: Arc::default(),
            healthy: Arc::new(AtomicBool::new(true)),
            observer: None,
            committed: watch::Sender::new(0),
            project: false,
            projected: watch::Sender::new(0),
            projection_paused_until: None,
            projected_at: Instant::now(),
            recent: VecDeque::new(),
            next: Ids {
                delivery: 0,
                event: 0,
            },
            dedup: Dedup::new(),
            merge_paused_until: None,
        };
        let next = |table: &str| -> rusqlite::Result<i64> {
            writer.conn.query_row(
                &format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"),
                [],
                |row| row.get(0),
            )
        };
        let next = Ids {
            delivery: next("deliveries")?,
            event: next("events")?,
        };
        writer.next = next;
        writer.committed.send_replace(next.event - 1);
        writer
            .projected
            .send_replace(projection::position(&writer.conn)?);
        Ok(writer)
    }

    /// Runs until every sender is gone and the queue is empty.
    pub(crate) fn run(mut self, jobs: Receiver<Job>) {
        let mut group = Group::default();
        while let Some(first) = self.next_job(&jobs) {
            self.take(first, &mut group);
            while group.appends.len() < self.max_batch {
                match jobs.try_recv() {
                    Ok(job) => self.take(job, &mut group),
                    Err(_) => break,
                }
            }
            if !group.appends.is_empty() || !group.outbox.is_empty() {
                self.commit_group(&mut group.appends, &mut group.outbox);
            }
            let probes = std::mem::take(&mut group.probes);
            for reply in probes {
                let _ = reply.send(self.probe());
            }
            if self.merge_due() && self.healthy.load(Ordering::Relaxed) {
                self.merge_step();
            }
            if self.projection_due_between_groups() {
                self.project_step();
            }
        }
    }

    /// Whether dedup keys are due to be merged (see `dedup.rs`), unless paused after a failure.
    fn merge_due(&self) -> bool {
        !paused(self.merge_paused_until) && self.dedup.merge_due()
    }

    /// Holds up to `keys` dedup keys in memory before merging them (`dedup.rs`).
    pub(crate) fn keep_dedup_keys(&mut self, keys: usize) {
        self.dedup.set_memory_keys(keys);
    }

    /// Merges the next chunk of dedup keys into `dedup_keys`, in a transaction of its own.
    fn merge_step(&mut self) {
        match self.dedup.merge_step(&mut self.conn) {
            Ok(()) => self.merge_paused_until = None,
            Err(err) => {
                tracing::error!(error = %err, waiting = self.dedup.waiting(), "merging dedup keys failed; retrying in 1 s");
                self.merge_paused_until = Some(Instant::now() + PROJECTION_RETRY);
            }
        }
    }

    /// Whether the projection takes a step before the next group: when it has fallen too far or too long
    /// behind, and the last commit went through. While another process holds the write lock, a step would
    /// wait out the busy timeout and fail, and deliveries queued meanwhile would wait through it before
    /// their own commit could even try; they are answered first, 503 if the store is still locked.
    fn projection_due_between_groups(&self) -> bool {
        if !self.healthy.load(Ordering::Relaxed) {
            return false;
        }
        let lag = self.projection_lag();
        lag > MAX_LAG || (lag > 0 && self.projected_at.elapsed() >= MAX_DELAY)
    }

    /// The next job, merging dedup keys and catching the projection up while none arrives.
    fn next_job(&mut self, jobs: &Receiver<Job>) -> Option<Job> {
        loop {
            let merge = self.merge_due();
            if !merge && self.projection_lag() == 0 {
                return jobs.recv().ok();
            }
            match jobs.recv_timeout(PROJECTION_IDLE) {
                Ok(job) => return Some(job),
                Err(RecvTimeoutError::Disconnected) => return None,
                Err(RecvTimeoutError::Timeout) if merge => self.merge_step(),
                Err(RecvTimeoutError::Timeout) => self.project_step(),
            }
        }
    }

    /// Committed events the projection has not applied (0 when it is off or paused after a failure).
    fn projection_lag(&self) -> i64 {
        if !self.project || paused(self.projection_paused_until) {
            return 0;
        }
        *self.committed.borrow() - *self.projected.borrow()
    }

    /// Applies the next events to the conversation summaries, in a transaction of its own.
    fn project_step(&mut self) {
        let result =
            Transaction::new(&mut self.conn, TransactionBehavior::Immediate).and_then(|tx| {
                let position = projection::step(&tx, &self.recent)?;
                tx.commit()?;
                Ok(position)
            });
        match result {
            Ok(position) if position == *self.projected.borrow() => {
                // Nothing to apply although events were committed: never spin on it.
                tracing::error!(
                    position,
                    "conversation projection found no events to apply; pausing it"
                );
                self.projection_paused_until = Some(Instant::now() + PROJECTION_RETRY);
            }
            Ok(position) => {
                while self.recent.front().is_some_and(|p| p.event.id <= position) {
                    self.recent.pop_front();
                }
                self.projection_paused_until = None;
                self.projected_at = Instant::now();
                self.projected.send_replace(position);
            }
            Err(err) => {
                tracing::error!(error = %err, "conversation projection step failed; retrying in 1 s");
                self.projection_paused_until = Some(Instant::now() + PROJECTION_RETRY);
            }
        }
    }

    fn take(&self, job: Job, group: &mut Group) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        match job {
            Job::Append { delivery, reply } => group.appends.push((delivery, reply)),
            Job::Probe { reply } => group.probes.push(reply),
            Job::Outbox { op, reply } => group.outbox.push((op, reply)),
        }
    }

    /// Commits the queued deliveries and outbox changes in one transaction, then answers each.
    fn commit_group(
        &mut self,
        group: &mut Vec<(NewDelivery, Reply)>,
        outbox: &mut Vec<(OutboxOp, OutboxReply)>,
    ) {
        let started = Instant::now();
        let ops: Vec<&OutboxOp> = outbox.iter().map(|(op, _)| op).collect();
        let result = self.write(group.iter().map(|(d, _)| d), &ops);
        let ok = result.is_ok();
        match result {
            Ok((appended, applied)) => {
                if !group.is_empty() {
                    self.observe(group.len(), &appended, started, true);
                }
                for ((_, reply), appended) in group.drain(..).zip(appended) {
                    let _ = reply.send(Ok(appended));
                }
                for ((_, reply), applied) in outbox.drain(..).zip(applied) {
                    let _ = reply.send(applied);
                }
            }
            // A failure caused by one delivery's data must not fail its neighbours: commit them one by
            // one. Failures of the store itself (locked, full, I/O) fail the whole group at once.
            Err(err) if group.len() > 1 && is_data_error(&err) => {
                for (delivery, reply) in group.drain(..) {
                    let started = Instant::now();
                    let one = self.write(std::iter::once(&delivery), &[]);
                    let ok = one.is_ok();
                    let appended = one.map(|(mut a, _)| a.remove(0));
                    self.observe(
                        1,
                        appended.as_ref().map_or(&[][..], std::slice::from_ref),
                        started,
                        ok,
                    );
                    let _ = reply.send(appended.map_err(unavailable));
                }
                if !outbox.is_empty() {
                    self.commit_group(&mut Vec::new(), outbox);
                }
            }
            Err(err) => {
                if !group.is_empty() {
                    self.observe(group.len(), &[], started, false);
                }
                tracing::error!(error = %err, deliveries = group.len(), outbox = outbox.len(), "group commit failed");
                // A step would most likely fail the same way; an idle writer tries again after a pause.
                self.projection_paused_until = Some(Instant::now() + PROJECTION_RETRY);
                let message = unavailable(err).to_string();
                let failed = || StoreError::Unavailable {
                    message: message.clone(),
                };
                for (_, reply) in group.drain(..) {
                    let _ = reply.send(Err(failed()));
                }
                for (_, reply) in outbox.drain(..) {
                    let _ = reply.send(Err(failed()));
                }
            }
        }
        self.healthy.store(ok, Ordering::Relaxed);
    }

    fn observe(&self, deliveries: usize, appended: &[Appended], started: Instant, ok: bool) {
        if let Some(observer) = &self.observer {
            observer.committed(CommitStats {
                deliveries,
                new_events: appended.iter().map(|a| a.new_events).sum(),
                elapsed: started.elapsed(),
                ok,
            });
        }
    }

    /// Writes deliveries in one transaction. The next ids advance only once it is committed, so a failed
    /// transaction leaves nothing behind, in the file or in memory.
    ///
    /// Each outbox change runs in a savepoint of its own after the deliveries, so one that fails or is
    /// refused (and answers its error) leaves the deliveries and the other changes to commit.
    #[allow(clippy::type_complexity)]
    fn write<'d>(
        &mut self,
        deliveries: impl Iterator<Item = &'d NewDelivery>,
        ops: &[&OutboxOp],
    ) -> rusqlite::Result<(Vec<Appended>, Vec<Result<Answer, StoreError>>)> {
        let written = self.try_write(deliveries, ops);
        if written.is_err() {
            self.dedup.forget_from(self.next.event);
        }
        written
    }

    #[allow(clippy::type_complexity)]
    fn try_write<'d>(
        &mut self,
        deliveries: impl Iterator<Item = &'d NewDelivery>,
        ops: &[&OutboxOp],
    ) -> rusqlite::Result<(Vec<Appended>, Vec<Result<Answer, StoreError>>)> {
        let mut tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)?;
        self.dedup.load(&tx)?;
        let mut ids = self.next;
        let mut appended = Vec::new();
        let mut fresh = self.project.then(Vec::new);
        for delivery in deliveries {
            appended.push(insert_delivery(
                &tx,
                &mut ids,
                &mut self.dedup,
                delivery,
                fresh.as_mut(),
            )?);
        }
        let now = now_ms();
        let mut applied = Vec::with_capacity(ops.len());
        for op in ops {
            let savepoint = tx.savepoint()?;
            match outbox::apply(&savepoint, op, now) {
                Ok(Ok(answer)) => {
                    savepoint.commit()?;
                    applied.push(Ok(answer));
                }
                Ok(Err(refused)) => {
                    drop(savepoint);
                    applied.push(Err(refused));
                }
                Err(err) => {
                    drop(savepoint);
                    tracing::error!(error = %err, "outbox change failed");
                    applied.push(Err(unavailable(err)));
                }
            }
        }
        tx.commit()?;
        if let Some(fresh) = fresh {
            self.remember(fresh);
        }
        if ids.event != self.next.event {
            self.committed.send_replace(ids.event - 1);
        }
        self.next = ids;
        Ok((appended, applied))
    }

    /// Keeps newly committed events for the projection, or lets it read them back once too many wait.
    fn remember(&mut self, fresh: Vec<Pending>) {
        if self.recent.len() + fresh.len() > MAX_RECENT {
            self.recent.clear();
            return;
        }
        self.recent.extend(fresh);
    }

    fn probe(&mut self) -> Result<(), StoreError> {
        let tx = Transaction::new(&mut self.conn, TransactionBehavior::Immediate)
            .map_err(unavailable)?;
        if self.healthy.load(Ordering::Relaxed) {
            return tx.rollback().map_err(unavailable);
        }
        tx.execute(
            "INSERT OR REPLACE INTO heartbeat (id, at_ms) VALUES (1, ?1)",
            [now_ms()],
        )
        .map_err(unavailable)?;
        tx.commit().map_err(unavailable)?;
        self.healthy.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// What one pass of the writer took off the queue.
#[derive(Default)]
struct Group {
    appends: Vec<(NewDelivery, Reply)>,
    probes: Vec<oneshot::Sender<Result<(), StoreError>>>,
    outbox: Vec<(OutboxOp, OutboxReply)>,
}

/// The ids the next delivery and event get.
#[derive(Clone, Copy)]
struct Ids {
    delivery: i64,
    event: i64,
}

// No `RETURNING` in these statements: SQLite runs one through a temporary table it opens and closes on
// every execution, a page cache included, and as a trigger, which makes it keep a statement journal of
// every page it changes. A redelivery is found by its key first (`dedup.rs`), then counted by its id.
const INSERT_EVENT: &str = "
    INSERT INTO events (id, dedup_key, delivery_id, received_at_ms, object, entry_id, channel, kind, field,
                        sender, user_ref, recipient, timestamp_ms, mid, conversation_key, raw_start, raw_len, raw)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)";

const COUNT_DUPLICATE: &str = "UPDATE events SET duplicates = duplicates + 1 WHERE id = ?1";

const INSERT_DELIVERY: &str = "
    INSERT INTO deliveries (id, received_at_ms, app, secret_index, signature, api_version, user_agent,
                            outcome, error, event_count, new_event_count, body)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)";

/// Inserts a delivery and its events; with `fresh`, adds the new events to it as the projection takes them.
fn insert_delivery(
    tx: &Transaction<'_>,
    ids: &mut Ids,
    dedup: &mut Dedup,
    delivery: &NewDelivery,
    mut fresh: Option<&mut Vec<Pending>>,
) -> rusqlite::Result<Appended> {
    let delivery_id = ids.delivery;
    let (outcome, error, events) = match &delivery.content {
        Content::Events(events) => (Outcome::Accepted, None, events.as_slice()),
        Content::Quarantined { reason } => (Outcome::Quarantined, Some(reason.as_str()), &[][..]),
    };
    let mut new_events = 0;
    for event in events {
        if insert_event(tx, ids, dedup, delivery_id, delivery.received_at_ms, event)? {
            new_events += 1;
            if let Some(fresh) = fresh.as_deref_mut() {
                fresh.push(Pending {
                    event: stored(ids.event - 1, delivery_id, delivery, event),
                    facts: event.facts.clone(),
                });
            }
        }
    }
    tx.prepare_cached(INSERT_DELIVERY)?.execute(params![
        delivery_id,
        delivery.received_at_ms,
        delivery.app,
        delivery.secret_index,
        delivery.signature,
        delivery.api_version,
        delivery.user_agent,
        outcome.as_str(),
        error,
        events.len() as i64,
        new_events as i64,
        delivery.body.as_ref(),
    ])?;
    ids.delivery += 1;
    Ok(Appended {
        delivery_id,
        events: events.len(),
        new_events,
        outcome,
    })
}

/// Inserts one event, or records a redelivery of a stored one. True when the event is new.
fn insert_event(
    tx: &Transaction<'_>,
    ids: &mut Ids,
    dedup: &mut Dedup,
    delivery_id: i64,
    received_at_ms: i64,
    event: &NewEvent,
) -> rusqlite::Result<bool> {
    if let Some(id) = dedup.find(tx, &event.dedup_key)? {
        tx.prepare_cached(COUNT_DUPLICATE)?.execute([id])?;
        tx.prepare_cached(
            "INSERT OR IGNORE INTO redeliveries (event_id, delivery_id) VALUES (?1, ?2)",
        )?
        .execute(params![id, delivery_id])?;
        return Ok(false);
    }
    tx.prepare_cached(INSERT_EVENT)?.execute(params![
        ids.event,
        event.dedup_key,
        delivery_id,
        received_at_ms,
        event.object,
        event.entry_id,
        event.channel,
        event.kind,
        event.field,
        event.sender,
        event.user_ref,
        event.recipient,
        event.timestamp_ms,
        event.mid,
        event.conversation_key,
        event.raw_span.map(|s| s.start as i64),
        event.raw_span.map(|s| s.len as i64),
        event.raw,
    ])?;
    dedup.add(&event.dedup_key, ids.event);
    ids.event += 1;
    Ok(true)
}

/// A new event as `read::events` reads it back with its raw JSON, before any redelivery of it.
fn stored(id: i64, delivery_id: i64, delivery: &NewDelivery, event: &NewEvent) -> StoredEvent {
    let raw = match event.raw_span {
        Some(span) => delivery
            .body
            .get(span.start..span.start + span.len)
            .map(|raw| match std::str::from_utf8(raw) {
                Ok(raw) => raw.to_owned(),
                Err(_) => String::from_utf8_lossy(raw).into_owned(),
            }),
        None => event.raw.clone(),
    };
    StoredEvent {
        id,
        delivery_id,
        received_at_ms: delivery.received_at_ms,
        dedup_key: event.dedup_key.clone(),
        object: event.object.clone(),
        entry_id: event.entry_id.clone(),
        channel: event.channel.clone(),
        kind: event.kind.to_owned(),
        field: event.field.clone(),
        sender: event.sender.clone(),
        user_ref: event.user_ref.clone(),
        recipient: event.recipient.clone(),
        timestamp_ms: event.timestamp_ms,
        mid: event.mid.clone(),
        conversation_key: event.conversation_key.clone(),
        duplicates: 0,
        raw,
    }
}

/// Errors caused by what one delivery holds rather than by the store.
fn is_data_error(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(ErrorCode::ConstraintViolation | ErrorCode::TooBig | ErrorCode::TypeMismatch)
    ) || matches!(err, rusqlite::Error::ToSqlConversionFailure(_))
}

/// Whether a step paused after a failure must still wait.
fn paused(until: Option<Instant>) -> bool {
    until.is_some_and(|until| Instant::now() < until)
}

fn unavailable(err: rusqlite::Error) -> StoreError {
    let hint = match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            " (another process holds a lock on the database file)"
        }
        Some(ErrorCode::DiskFull) => " (the disk or the store's max_size_mb is full)",
        Some(ErrorCode::ReadOnly) => " (the database file or its directory is read-only)",
        _ => "",
    };
    StoreError::Unavailable {
        message: format!("{err}{hint}"),
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use bytes::Bytes;

    use super::*;
    use crate::sqlite::{SqliteOptions, open_writer};

    /// Every fixture of `hookline-meta` as a delivery, in name order.
    fn deliveries() -> Vec<NewDelivery> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hookline-meta/tests/fixtures");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .collect();
        paths.sort();
        paths
            .iter()
            .map(|path| {
                let body = Bytes::from(std::fs::read(path).unwrap());
                let events = hookline_meta::parse(&body).unwrap();
                let events = events
                    .iter()
                    .map(|e| NewEvent::from_event(e, &body))
                    .collect();
                NewDelivery {
                    received_at_ms: 1_700_000_000_000,
                    app: None,
                    secret_index: Some(0),
                    signature: None,
                    api_version: None,
                    user_agent: None,
                    body,
                    content: Content::Events(events),
                }
            })
            .collect()
    }

    fn writer(path: &Path) -> Writer {
        let conn = open_writer(path, &SqliteOptions::default()).unwrap();
        let mut writer = Writer::new(conn, 64).unwrap();
        writer.project = true;
        writer
    }

    /// The projection's tables, row by row.
    fn projected(writer: &Writer) -> Vec<String> {
        let mut rows = Vec::new();
        for sql in [
            "SELECT key || ' ' || id || ' ' || state FROM conversations ORDER BY key",
            "SELECT conversation_key || ' ' || event_id || ' ' || kind || ' ' || coalesce(mid, '')
             FROM conversation_events ORDER BY conversation_key, event_id",
            "SELECT object || ' ' || account_id || ' ' || state FROM accounts ORDER BY object, account_id",
        ] {
            let mut stmt = writer.conn.prepare(sql).unwrap();
            let found = stmt.query_map([], |row| row.get::<_, String>(0)).unwrap();
            rows.extend(found.map(Result::unwrap));
        }
        rows
    }

    fn catch_up(writer: &mut Writer) {
        while writer.projection_lag() > 0 {
            writer.project_step();
        }
    }

    #[test]
    fn events_projected_from_memory_read_as_events_read_back_from_the_file() {
        let deliveries = deliveries();
        let dir = tempfile::tempdir().unwrap();
        let mut from_memory = writer(&dir.path().join("memory.db"));
        let mut read_back = writer(&dir.path().join("file.db"));
        for group in deliveries.chunks(7) {
            from_memory.write(group.iter(), &[]).unwrap();
            assert!(!from_memory.recent.is_empty());
            read_back.write(group.iter(), &[]).unwrap();
            // As after a restart, or once too many events waited: nothing to take from memory.
            read_back.recent.clear();
        }
        catch_up(&mut from_memory);
        catch_up(&mut read_back);
        assert!(from_memory.recent.is_empty(), "applied events are let go");
        let committed = *from_memory.committed.borrow();
        assert!(committed > 50);
        assert_eq!(*from_memory.projected.borrow(), committed);
        assert_eq!(*read_back.projected.borrow(), committed);
        let expected = projected(&read_back);
        assert!(expected.len() > 50);
        assert_eq!(projected(&from_memory), expected);
    }

    #[test]
    fn while_another_process_holds_the_write_lock_queued_deliveries_are_answered_before_any_projection_step()
     {
        let deliveries = deliveries();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locked.db");
        let options = SqliteOptions {
            busy_timeout: Duration::from_millis(50),
            ..SqliteOptions::default()
        };
        let mut writer = Writer::new(open_writer(&path, &options).unwrap(), 64).unwrap();
        writer.project = true;
        writer.write(deliveries[..10].iter(), &[]).unwrap();
        writer.projected_at = Instant::now() - MAX_DELAY;
        assert!(
            writer.projection_due_between_groups(),
            "behind long enough to step"
        );

        let mut other = Connection::open(&path).unwrap();
        let lock = other
            .transaction_with_behavior(TransactionBehavior::Exclusive)
            .unwrap();
        let (reply, answer) = oneshot::channel();
        writer.commit_group(&mut vec![(deliveries[10].clone(), reply)], &mut Vec::new());
        let refused = answer.blocking_recv().unwrap();
        assert!(
            matches!(&refused, Err(StoreError::Unavailable { message }) if message.contains("lock")),
            "{refused:?}"
        );
        assert!(!writer.healthy.load(Ordering::Relaxed));
        assert!(
            !writer.projection_due_between_groups(),
            "the next group goes first"
        );
        assert_eq!(writer.projection_lag(), 0, "idle steps pause too");
        writer.projection_paused_until = None;
        assert!(
            !writer.projection_due_between_groups(),
            "until a commit goes through, only an idle writer steps"
        );

        lock.rollback().unwrap();
        let (reply, answer) = oneshot::channel();
        writer.commit_group(&mut vec![(deliveries[10].clone(), reply)], &mut Vec::new());
        assert!(answer.blocking_recv().unwrap().is_ok());
        assert!(
            writer.projection_due_between_groups(),
            "back to stepping between groups"
        );
        catch_up(&mut writer);
        assert_eq!(*writer.projected.borrow(), *writer.committed.borrow());
    }

    /// Every delivery's appended counts, as its reply would carry them.
    fn counts(appended: &[Appended]) -> Vec<(usize, usize)> {
        appended.iter().map(|a| (a.events, a.new_events)).collect()
    }

    #[test]
    fn redeliveries_are_told_apart_before_during_and_after_merges_and_across_a_restart() {
        let deliveries = deliveries();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dedup.db");
        let small = |writer: &mut Writer| {
            writer.dedup.merge_at = 16;
            writer.dedup.chunk = 5;
        };
        let mut writer = writer(&path);
        small(&mut writer);
        let mut first = Vec::new();
        let mut merges = 0;
        for group in deliveries.chunks(3) {
            first.extend(writer.write(group.iter(), &[]).unwrap().0);
            // A group, then one merge step if due, as the writer's loop runs them.
            if writer.merge_due() {
                writer.merge_step();
                merges += 1;
            }
        }
        assert!(merges > 10, "merged in many steps: {merges}");
        let events = first.iter().map(|a| a.new_events).sum::<usize>() as i64;
        assert_eq!(*writer.committed.borrow(), events);
        let in_table: i64 = writer
            .conn
            .query_row("SELECT count(*) FROM dedup_keys", [], |r| r.get(0))
            .unwrap();
        assert!(in_table > 0 && in_table < events, "{in_table} of {events}");

        // Every delivery again: each of its events is found, whether merged, in memory or half-merged.
        let again = writer.write(deliveries.iter(), &[]).unwrap().0;
        let expected: Vec<_> = first.iter().map(|a| (a.events, 0)).collect();
        assert_eq!(counts(&again), expected);
        drop(writer);

        let mut writer = self::writer(&path);
        small(&mut writer);
        while writer.merge_due() {
            writer.merge_step();
        }
        let after_restart = writer.write(deliveries.iter(), &[]).unwrap().0;
        assert_eq!(counts(&after_restart), expected);
        let (stored, duplicates): (i64, i64) = writer
            .conn
            .query_row("SELECT count(*), sum(duplicates) FROM events", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(stored, events);
        assert_eq!(duplicates, 2 * events, "each event repeated twice");
    }

    #[test]
    fn keys_of_a_failed_transaction_are_not_taken_for_stored_events() {
        let deliveries = deliveries();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failed.db");
        let mut writer = writer(&path);
        writer.write(deliveries[..5].iter(), &[]).unwrap();
        // Another process takes the id of the third event the next transaction inserts, so that
        // transaction fails after its first two events were added.
        let taken = *writer.committed.borrow() + 3;
        let other = Connection::open(&path).unwrap();
        let take = |sql: &str| other.execute(sql, [taken]).unwrap();
        take(
            "INSERT INTO events (id, dedup_key, delivery_id, received_at_ms, channel, kind)
             VALUES (?1, 'v1:other', 0, 0, 'messaging', 'message')",
        );
        let failed = writer.write(deliveries[5..10].iter(), &[]);
        assert!(is_data_error(&failed.err().unwrap()));
        take("DELETE FROM events WHERE id = ?1");

        let retried = writer.write(deliveries[5..10].iter(), &[]).unwrap().0;
        assert!(retried.iter().map(|a| a.events).sum::<usize>() >= 3);
        assert!(
            retried.iter().all(|a| a.new_events == a.events),
            "nothing of the failed transaction was stored, so every event is new: {:?}",
            counts(&retried)
        );
    }

    #[test]
    fn a_projection_that_starts_behind_its_memory_reads_back_the_gap() {
        let deliveries = deliveries();
        let dir = tempfile::tempdir().unwrap();
        let mut writer = writer(&dir.path().join("gap.db"));
        let (first, rest) = deliveries.split_at(20);
        writer.write(first.iter(), &[]).unwrap();
        writer.recent.clear();
        writer.write(rest.iter(), &[]).unwrap();
        let gap_end = writer.recent.front().unwrap().event.id - 1;
        assert!(gap_end > 0);
        catch_up(&mut writer);
        assert_eq!(*writer.projected.borrow(), *writer.committed.borrow());
        let applied: i64 = writer
            .conn
            .query_row(
                "SELECT count(DISTINCT event_id) FROM conversation_events WHERE event_id <= ?1",
                [gap_end],
                |row| row.get(0),
            )
            .unwrap();
        assert!(applied > 0, "the events before the memory were applied");
    }
}
