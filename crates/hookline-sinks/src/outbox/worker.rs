//! One sink's worker: follows the event log from the sink's cursor, makes each attempt, and records what
//! came of it with the cursor in one store transaction.
//!
//! A pass has two halves. **Fresh** events (after the cursor, matching the filter) are attempted at once;
//! the failures become attempt rows (pending with `next_attempt_at_ms`, or dead), and the cursor moves
//! past the batch. **Due** rows are attempted again when their time comes, and moved along the schedule
//! or removed. With `fifo`, a conversation's events go one at a time in event-time order: a fresh event
//! whose conversation has a pending row queues behind it (a row with no attempt made yet), and only the
//! first pending row of each conversation is ever due.
//!
//! The worker only waits on its own sink, so a slow or dead sink delays nobody else: ingest never waits on
//! a worker, and every sink has its own worker and cursor.
//!
//! Workers of several instances may run the same sink on one database (see [`super::lease`]): a fresh
//! half runs only under the sink's lease, and a due half attempts only the rows it claimed.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::lease::{Lease, default_owner};
use futures_util::StreamExt;
use hookline_store::outbox::{
    Attempt, AttemptChange, AttemptState, DueQuery, NewAttempt, OutboxWrite, SinkStart,
};
use hookline_store::{EventQuery, EventStore, StoreError, StoredEvent};
use tokio::sync::watch;

use crate::clock::Clock;
use crate::filter::Filter;
use crate::schedule::RetrySchedule;
use crate::sink::{Outcome, Sink};

/// How often an idle worker looks for work it was not told about (another process's commits, a
/// `dlq retry` from the CLI).
const POLL: Duration = Duration::from_secs(1);
/// How long to wait after the store failed before trying again.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// How a worker runs its sink.
#[derive(Clone, Debug)]
pub struct WorkerOptions {
    pub filter: Filter,
    pub schedule: RetrySchedule,
    pub fifo: bool,
    /// Attempts in flight at once.
    pub concurrency: usize,
    /// Events read per pass.
    pub batch: usize,
    pub start: SinkStart,
    /// This instance's name in the sink's lease and in row claims (default: `<hostname>-<pid>-<4 hex>`,
    /// one per process). Workers of one sink must have different owners.
    pub owner: String,
    /// How long a lease or a row claim lasts without renewal: how soon another instance takes over a
    /// sink whose instance died.
    pub lease: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            filter: Filter::default(),
            schedule: RetrySchedule::default(),
            fifo: false,
            concurrency: crate::config::DEFAULT_CONCURRENCY,
            batch: 256,
            start: SinkStart::End,
            owner: default_owner(),
            lease: Duration::from_secs(30),
        }
    }
}

/// Told about every attempt and every saved cursor (the server's metrics implement it).
pub trait SinkObserver: Send + Sync + std::fmt::Debug + 'static {
    fn attempted(&self, sink: &str, outcome: &Outcome);
    /// The sink's cursor after a saved pass.
    fn progressed(&self, sink: &str, cursor: i64);
}

/// A sink with its worker's settings, ready to run.
#[derive(Debug)]
pub struct Worker {
    pub(crate) name: String,
    pub(crate) sink: Arc<dyn Sink>,
    pub(crate) options: WorkerOptions,
    pub(crate) store: Arc<dyn EventStore>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) observer: Option<Arc<dyn SinkObserver>>,
    pub(crate) rng: fastrand::Rng,
    pub(crate) lease: Lease,
    /// Until when this worker holds the sink's lease, as far as it knows.
    pub(crate) held_until: Option<i64>,
}

/// What a pass found.
enum Pass {
    /// More work may be waiting: go again at once.
    More,
    /// Nothing to do until new events arrive or the next row is due.
    Idle { next_due_ms: Option<i64> },
    /// Another instance holds the sink: nothing to do until the next row is due or it is time to look
    /// at the lease again (new events are not this worker's business meanwhile).
    Standby { next_due_ms: Option<i64> },
}

/// What happened to one event in a fresh batch.
enum Fresh {
    Delivered,
    Failed(Outcome),
    /// Held back behind an earlier event of its conversation.
    Waiting,
}

impl Worker {
    /// A worker for `sink`, named `name`, on `store`.
    pub fn new(
        name: impl Into<String>,
        sink: Arc<dyn Sink>,
        options: WorkerOptions,
        store: Arc<dyn EventStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let name = name.into();
        let lease = Lease {
            store: store.clone(),
            clock: clock.clone(),
            sink: name.clone(),
            owner: options.owner.clone(),
            lease: options.lease,
        };
        Worker {
            name,
            sink,
            options,
            store,
            clock,
            observer: None,
            rng: fastrand::Rng::new(),
            lease,
            held_until: None,
        }
    }

    pub fn observer(mut self, observer: Arc<dyn SinkObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sink's cursor, created at the worker's `start` if the sink has none. The server opens every
    /// cursor before it accepts deliveries, so a new sink's "from now on" begins before the first one.
    pub async fn open_cursor(&self) -> Result<i64, StoreError> {
        self.store
            .open_sink(self.name.clone(), self.options.start)
            .await
    }

    /// Runs until `stop` turns true, finishing the pass in progress so what it did is saved, then gives
    /// the sink's lease up for another instance to take over at once.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) {
        loop {
            match self
                .store
                .open_sink(self.name.clone(), self.options.start)
                .await
            {
                Ok(_) => break,
                Err(err) => {
                    tracing::warn!(sink = %self.name, error = %err, "cannot open the sink's cursor; retrying");
                    if pause(&mut stop, STORE_RETRY).await {
                        return;
                    }
                }
            }
        }
        tracing::info!(sink = %self.name, owner = %self.options.owner, "sink worker started");
        // The cursor as this worker knows it: only while it holds the sink's lease.
        let mut cursor = None;
        let mut committed = self.store.committed_events();
        loop {
            // A dropped stop switch stops the worker too (else every wait would end at once).
            if *stop.borrow() || stop.has_changed().is_err() {
                break;
            }
            committed.borrow_and_update();
            match self.pass(&mut cursor).await {
                Ok(Pass::More) => {}
                Ok(Pass::Idle { next_due_ms }) => {
                    let mut sleep = self.sleep(next_due_ms);
                    tokio::select! {
                        changed = committed.changed() => {
                            // The store is closing: only the clock or the stop can wake us now.
                            if changed.is_err() {
                                tokio::select! {
                                    () = &mut sleep => {}
                                    _ = stop.changed() => {}
                                }
                            }
                        }
                        () = &mut sleep => {}
                        _ = stop.changed() => {}
                    }
                }
                Ok(Pass::Standby { next_due_ms }) => {
                    tokio::select! {
                        () = self.sleep(next_due_ms) => {}
                        _ = stop.changed() => {}
                    }
                }
                Err(StoreError::LeaseLost { .. }) => {
                    tracing::info!(sink = %self.name, owner = %self.options.owner, "another instance took the sink over (this worker's lease ran out); it delivers the events this pass did not save");
                    cursor = None;
                    self.held_until = None;
                }
                Err(err) => {
                    tracing::warn!(sink = %self.name, error = %err, "sink worker could not read or save its progress; retrying");
                    if pause(&mut stop, STORE_RETRY).await {
                        break;
                    }
                }
            }
        }
        self.lease.release().await;
        tracing::info!(sink = %self.name, cursor, "sink worker stopped");
    }

    /// Until the next row is due, and at most [`POLL`].
    fn sleep(&self, next_due_ms: Option<i64>) -> crate::sink::BoxFuture<'static, ()> {
        let poll = self.clock.now_ms() + POLL.as_millis() as i64;
        let wake = next_due_ms.map_or(poll, |due| due.min(poll));
        self.clock.sleep_until(wake)
    }

    /// Fresh events when this worker holds the sink's lease, then due rows, while the leases are
    /// renewed beside them.
    async fn pass(&mut self, cursor: &mut Option<i64>) -> Result<Pass, StoreError> {
        let holding = self.hold(cursor).await?;
        let lease = self.lease.clone();
        let work = async {
            let fresh_more = match cursor.as_mut() {
                Some(cursor) => self.fresh(cursor).await?,
                None => false,
            };
            let (due_more, next_due_ms) = self.due().await?;
            Ok(if fresh_more || due_more {
                Pass::More
            } else if holding {
                Pass::Idle { next_due_ms }
            } else {
                Pass::Standby { next_due_ms }
            })
        };
        tokio::select! {
            done = work => done,
            never = lease.keep(holding) => match never {},
        }
    }

    /// Whether this worker holds the sink's lease for the coming pass: claimed (or renewed) unless a
    /// claim made less than a third of a lease ago still holds. Sets `cursor` to the stored one when
    /// the lease is (re)taken, and forgets it when another instance holds the sink.
    async fn hold(&mut self, cursor: &mut Option<i64>) -> Result<bool, StoreError> {
        let now = self.clock.now_ms();
        if let (Some(until), Some(_)) = (self.held_until, *cursor)
            && !self.lease.needs_renewal(until, now)
        {
            return Ok(true);
        }
        match self.lease.claim(now).await? {
            Some(stored) => {
                if cursor.is_none() {
                    tracing::info!(sink = %self.name, owner = %self.options.owner, cursor = stored, "holding the sink's lease: delivering its new events");
                }
                *cursor = Some(stored);
                self.held_until = Some(self.lease.until(now));
                Ok(true)
            }
            None => {
                if cursor.is_some() {
                    tracing::info!(sink = %self.name, owner = %self.options.owner, "another instance holds the sink now; attempting only due retries here");
                }
                *cursor = None;
                self.held_until = None;
                Ok(false)
            }
        }
    }

    /// Attempts the events after the cursor; true when the batch was full (more may be waiting).
    async fn fresh(&mut self, cursor: &mut i64) -> Result<bool, StoreError> {
        let batch = self.options.batch.max(1);
        let events = self
            .store
            .list_events(EventQuery {
                after_id: Some(*cursor),
                limit: batch,
                with_raw: true,
                ..EventQuery::default()
            })
            .await?;
        let Some(last) = events.last().map(|e| e.id) else {
            return Ok(false);
        };
        let full = events.len() == batch;
        let chosen: Vec<StoredEvent> = events
            .into_iter()
            .filter(|e| self.options.filter.matches(e))
            .collect();
        let results = self.attempt_fresh(&chosen).await?;
        let now = self.clock.now_ms();
        let mut new = Vec::new();
        for (event, result) in chosen.iter().zip(results) {
            let row = |attempts, state, next, error| NewAttempt {
                event_id: event.id,
                conversation_key: event.conversation_key.clone(),
                timestamp_ms: event.timestamp_ms,
                attempts,
                state,
                next_attempt_at_ms: next,
                last_error: error,
            };
            match result {
                Fresh::Delivered => {}
                Fresh::Waiting => {
                    // Due as soon as it is first in line; with a first delay in the schedule, after it.
                    let wait = self.options.schedule.steps()[0];
                    let next = now + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
                    new.push(row(0, AttemptState::Pending, Some(next), None));
                }
                Fresh::Failed(outcome) => {
                    let (state, next, error) = self.after_failure(1, &outcome, now);
                    new.push(row(1, state, next, Some(error)));
                }
            }
        }
        self.save(Some(last), new, Vec::new()).await?;
        *cursor = last;
        Ok(full)
    }

    /// One attempt per chosen event, in lanes: with `fifo` a lane is a conversation (in event-time order,
    /// stopping at its first retry), otherwise every event is its own lane. Lanes run concurrently.
    async fn attempt_fresh(&self, chosen: &[StoredEvent]) -> Result<Vec<Fresh>, StoreError> {
        let first_delay = self.options.schedule.steps()[0];
        if !first_delay.is_zero() {
            // The schedule asks for a wait before the first attempt: every event starts as a row.
            return Ok(chosen.iter().map(|_| Fresh::Waiting).collect());
        }
        let mut lanes: Vec<Vec<usize>> = Vec::new();
        let mut blocked = HashSet::new();
        if self.options.fifo {
            let mut by_conversation: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (index, event) in chosen.iter().enumerate() {
                match event.conversation_key.as_deref() {
                    Some(key) => by_conversation.entry(key).or_default().push(index),
                    None => lanes.push(vec![index]),
                }
            }
            let keys: Vec<String> = by_conversation.keys().map(|k| (*k).to_owned()).collect();
            if !keys.is_empty() {
                blocked = self
                    .store
                    .blocked_conversations(self.name.clone(), keys)
                    .await?
                    .into_iter()
                    .collect();
            }
            for (key, mut lane) in by_conversation {
                lane.sort_by_key(|&i| (chosen[i].timestamp_ms.unwrap_or(0), chosen[i].id));
                if blocked.contains(key) {
                    continue;
                }
                lanes.push(lane);
            }
        } else {
            lanes.extend((0..chosen.len()).map(|i| vec![i]));
        }
        let mut results: Vec<Fresh> = chosen.iter().map(|_| Fresh::Waiting).collect();
        let fifo = self.options.fifo;
        let done: Vec<Vec<(usize, Fresh)>> = futures_util::stream::iter(lanes)
            .map(|lane| async move {
                let mut out = Vec::with_capacity(lane.len());
                let mut stopped = false;
                for index in lane {
                    if stopped {
                        out.push((index, Fresh::Waiting));
                        continue;
                    }
                    let outcome = self.attempt(&chosen[index]).await;
                    match outcome {
                        Outcome::Delivered => out.push((index, Fresh::Delivered)),
                        Outcome::Retry { .. } => {
                            // The rest of the conversation waits behind this one.
                            stopped = fifo;
                            out.push((index, Fresh::Failed(outcome)));
                        }
                        Outcome::Dead { .. } => out.push((index, Fresh::Failed(outcome))),
                    }
                }
                out
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        for (index, result) in done.into_iter().flatten() {
            results[index] = result;
        }
        Ok(results)
    }

    /// Attempts the rows that are due; true when more may be due at once, and when the next one is due.
    async fn due(&mut self) -> Result<(bool, Option<i64>), StoreError> {
        let batch = self.options.batch.max(1);
        // The rows due at `now` come claimed for this worker: ready means due at that same `now`.
        let now = self.clock.now_ms();
        let rows = self
            .store
            .due_attempts(DueQuery {
                sink: self.name.clone(),
                fifo: self.options.fifo,
                limit: batch,
                claim: Some(self.lease.row_claim(now)),
            })
            .await?;
        let (ready, later): (Vec<_>, Vec<_>) = rows
            .into_iter()
            .partition(|(row, _)| row.next_attempt_at_ms.is_some_and(|at| at <= now));
        let next_due_ms = later.first().and_then(|(row, _)| row.next_attempt_at_ms);
        if ready.is_empty() {
            return Ok((false, next_due_ms));
        }
        let full = ready.len() == batch;
        let this = &*self;
        let outcomes: Vec<(Attempt, Outcome)> = futures_util::stream::iter(ready)
            .map(|(row, event)| async move {
                let outcome = this.attempt(&event).await;
                (row, outcome)
            })
            .buffer_unordered(self.options.concurrency.max(1))
            .collect()
            .await;
        let now = self.clock.now_ms();
        let mut changes = Vec::with_capacity(outcomes.len());
        let mut unblocked = false;
        for (row, outcome) in outcomes {
            let attempts = row.attempts.saturating_add(1);
            let change = match &outcome {
                Outcome::Delivered => AttemptChange::Delivered { id: row.id },
                failed => match self.after_failure(attempts, failed, now) {
                    (AttemptState::Pending, Some(next), error) => AttemptChange::Retry {
                        id: row.id,
                        attempts,
                        next_attempt_at_ms: next,
                        error,
                    },
                    (_, _, error) => AttemptChange::Dead {
                        id: row.id,
                        attempts,
                        error,
                    },
                },
            };
            unblocked |= !matches!(change, AttemptChange::Retry { .. });
            changes.push(change);
        }
        self.save(None, Vec::new(), changes).await?;
        // With fifo a finished row lets the next of its conversation become due: look again at once.
        Ok((full || (self.options.fifo && unblocked), next_due_ms))
    }

    /// One attempt, observed.
    async fn attempt(&self, event: &StoredEvent) -> Outcome {
        let outcome = self.sink.deliver(event).await;
        if let Outcome::Retry { reason, .. } | Outcome::Dead { reason } = &outcome {
            tracing::debug!(sink = %self.name, event = event.id, outcome = outcome.label(), %reason, "attempt failed");
        }
        if let Some(observer) = &self.observer {
            observer.attempted(&self.name, &outcome);
        }
        outcome
    }

    /// The row state after a failed attempt (`attempts` made so far, this one included): pending with the
    /// next time from the schedule, or dead once the schedule is used up or the sink refused the event.
    fn after_failure(
        &mut self,
        attempts: u32,
        outcome: &Outcome,
        now: i64,
    ) -> (AttemptState, Option<i64>, String) {
        match outcome {
            Outcome::Retry {
                reason,
                retry_after,
            } => match self
                .options
                .schedule
                .next_delay(attempts, *retry_after, &mut self.rng)
            {
                Some(delay) => {
                    let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
                    (
                        AttemptState::Pending,
                        Some(now.saturating_add(delay)),
                        reason.clone(),
                    )
                }
                None => (
                    AttemptState::Dead,
                    None,
                    format!("{reason} (attempt {attempts}, the last in the schedule)"),
                ),
            },
            Outcome::Dead { reason } => (AttemptState::Dead, None, reason.clone()),
            Outcome::Delivered => (AttemptState::Pending, Some(now), String::new()),
        }
    }

    async fn save(
        &self,
        cursor: Option<i64>,
        new: Vec<NewAttempt>,
        changes: Vec<AttemptChange>,
    ) -> Result<(), StoreError> {
        if cursor.is_none() && new.is_empty() && changes.is_empty() {
            return Ok(());
        }
        for row in &new {
            if row.state == AttemptState::Dead {
                tracing::warn!(sink = %self.name, event = row.event_id, error = row.last_error.as_deref().unwrap_or(""), "event dead-lettered");
            }
        }
        for change in &changes {
            if let AttemptChange::Dead { id, error, .. } = change {
                tracing::warn!(sink = %self.name, attempt = id, %error, "event dead-lettered");
            }
        }
        self.store
            .save_sink_progress(OutboxWrite {
                sink: self.name.clone(),
                cursor,
                new,
                changes,
                now_ms: self.clock.now_ms(),
                owner: Some(self.options.owner.clone()),
            })
            .await?;
        if let (Some(cursor), Some(observer)) = (cursor, &self.observer) {
            observer.progressed(&self.name, cursor);
        }
        Ok(())
    }
}

/// Waits `wait` (real time) or until `stop`; true when stopped.
async fn pause(stop: &mut watch::Receiver<bool>, wait: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(wait) => *stop.borrow(),
        _ = stop.changed() => true,
    }
}
