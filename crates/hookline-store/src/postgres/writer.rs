//! The writer: one task owning one dedicated connection, committing deliveries in groups.
//!
//! As in SQLite's writer, it waits for the first queued delivery, takes whatever else is already queued
//! (up to `max_batch`) without waiting, commits them all in one transaction (see `append.rs`), and
//! answers each delivery only after `COMMIT` returns.
//!
//! Failures answer every delivery of the group with an error, never a success. When the connection is
//! found lost before `COMMIT` was sent, nothing can have been committed, so the writer reconnects and
//! tries the group once more; a connection lost during `COMMIT` leaves the outcome unknown, so the group
//! fails (Meta retries, and dedup makes the retry harmless). A later group reconnects by itself.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, oneshot, watch};
use tokio_postgres::Config;

use crate::error::StoreError;
use crate::model::{Appended, NewDelivery};
use crate::postgres::append::{Aborted, append};
use crate::postgres::connection::{self, Session, connection_lost, describe, is_data_error};
use crate::postgres::follow::advance;
use crate::postgres::lock::Locks;
use crate::store::{CommitObserver, CommitStats};

/// The longest a group may take, connecting included. Past Meta's own deadline for the answer waiting
/// helps no one, and a connection that hangs (a dead peer) must not hold the queue.
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// Work for the writer.
pub(crate) enum Job {
    Append {
        delivery: NewDelivery,
        reply: oneshot::Sender<Result<Appended, StoreError>>,
    },
    /// Readiness check: can the writer reach the database (and, after a failed commit, commit)?
    Probe {
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

type Reply = oneshot::Sender<Result<Appended, StoreError>>;

pub(crate) struct Writer {
    pub config: Config,
    /// Where the database is, for messages (no credentials).
    pub location: String,
    pub locks: Locks,
    /// The dedicated connection; `None` until (re)connected.
    pub session: Option<Session>,
    pub max_batch: usize,
    pub depth: Arc<AtomicUsize>,
    /// False after a failed commit until a later write succeeds.
    pub healthy: Arc<AtomicBool>,
    pub observer: Option<Arc<dyn CommitObserver>>,
    /// The highest committed event id, raised after each commit that added events.
    pub committed: watch::Sender<i64>,
}

impl Writer {
    /// Runs until every sender is gone and the queue is empty.
    pub(crate) async fn run(mut self, mut jobs: mpsc::Receiver<Job>) {
        let mut appends = Vec::new();
        let mut probes = Vec::new();
        while let Some(first) = jobs.recv().await {
            self.take(first, &mut appends, &mut probes);
            while appends.len() < self.max_batch {
                match jobs.try_recv() {
                    Ok(job) => self.take(job, &mut appends, &mut probes),
                    Err(_) => break,
                }
            }
            if !appends.is_empty() {
                self.commit_group(&mut appends).await;
            }
            for reply in std::mem::take(&mut probes) {
                let _ = reply.send(self.probe().await);
            }
        }
    }

    fn take(
        &self,
        job: Job,
        appends: &mut Vec<(NewDelivery, Reply)>,
        probes: &mut Vec<oneshot::Sender<Result<(), StoreError>>>,
    ) {
        self.depth.fetch_sub(1, Ordering::Relaxed);
        match job {
            Job::Append { delivery, reply } => appends.push((delivery, reply)),
            Job::Probe { reply } => probes.push(reply),
        }
    }

    /// Commits the queued deliveries in one transaction, then answers each.
    async fn commit_group(&mut self, group: &mut Vec<(NewDelivery, Reply)>) {
        let started = Instant::now();
        let deliveries: Vec<&NewDelivery> = group.iter().map(|(d, _)| d).collect();
        let result = self.write(&deliveries).await;
        let ok = result.is_ok();
        match result {
            Ok(appended) => {
                self.observe(group.len(), &appended, started, true);
                for ((_, reply), appended) in group.drain(..).zip(appended) {
                    let _ = reply.send(Ok(appended));
                }
            }
            // A value one delivery holds must not fail its neighbours: commit them one by one. Failures
            // of the store itself (down, full, read-only) fail the whole group at once.
            Err(failure) if group.len() > 1 && failure.is_data_error() => {
                tracing::warn!(error = %failure.message(&self.location), "a delivery was refused; committing the group one delivery at a time");
                for (delivery, reply) in group.drain(..) {
                    let started = Instant::now();
                    let one = self.write(&[&delivery]).await;
                    let ok = one.is_ok();
                    let appended = one.map(|mut appended| appended.remove(0));
                    let committed = appended.as_ref().map_or(&[][..], std::slice::from_ref);
                    self.observe(1, committed, started, ok);
                    let _ = reply.send(appended.map_err(|f| f.into_error(&self.location)));
                }
            }
            Err(failure) => {
                self.observe(group.len(), &[], started, false);
                let message = failure.message(&self.location);
                tracing::error!(error = %message, deliveries = group.len(), "group commit failed");
                for (_, reply) in group.drain(..) {
                    let _ = reply.send(Err(StoreError::Unavailable {
                        message: message.clone(),
                    }));
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

    /// Writes deliveries in one transaction, within [`WRITE_TIMEOUT`].
    async fn write(&mut self, deliveries: &[&NewDelivery]) -> Result<Vec<Appended>, Failure> {
        match tokio::time::timeout(WRITE_TIMEOUT, self.write_retrying(deliveries)).await {
            Ok(result) => result,
            Err(_) => {
                // The connection's state is unknown (maybe mid-transaction): start over on a new one.
                self.session = None;
                Err(Failure::TimedOut)
            }
        }
    }

    async fn write_retrying(
        &mut self,
        deliveries: &[&NewDelivery],
    ) -> Result<Vec<Appended>, Failure> {
        let locks = self.locks;
        let mut retried = false;
        loop {
            let session = self.session().await?;
            match append(session, locks, deliveries).await {
                Ok(plan) => {
                    if let Some(last) = plan.last_event() {
                        advance(&self.committed, last);
                    }
                    return Ok(plan.appended);
                }
                Err(Aborted { error, committing }) => {
                    if connection_lost(&error) {
                        self.session = None;
                        if !committing && !retried {
                            tracing::info!(error = %describe(&error), "the writer's connection was lost before commit; reconnecting to try the group again");
                            retried = true;
                            continue;
                        }
                    } else if let Some(session) = &self.session
                        && session.batch_execute("ROLLBACK").await.is_err()
                    {
                        self.session = None;
                    }
                    return Err(Failure::Statement(error));
                }
            }
        }
    }

    /// The dedicated connection, (re)connecting when there is none or it was closed.
    async fn session(&mut self) -> Result<&Session, Failure> {
        let session = match self.session.take() {
            Some(session) if !session.is_closed() => session,
            _ => connect(&self.config).await.map_err(Failure::Connect)?,
        };
        Ok(self.session.insert(session))
    }

    /// Whether the database takes writes: a round trip on the writer's connection, and after a failed
    /// commit a real one (the heartbeat row), which makes the store healthy again.
    async fn probe(&mut self) -> Result<(), StoreError> {
        let healthy = self.healthy.load(Ordering::Relaxed);
        let attempt = async {
            let session = self.session().await?;
            let done = if healthy {
                session.batch_execute("SELECT 1").await
            } else {
                session
                    .execute(
                        "INSERT INTO heartbeat (id, at_ms) VALUES (1, $1)
                         ON CONFLICT (id) DO UPDATE SET at_ms = excluded.at_ms",
                        &[&now_ms()],
                    )
                    .await
                    .map(drop)
            };
            done.map_err(Failure::Statement)
        };
        let result = tokio::time::timeout(WRITE_TIMEOUT, attempt)
            .await
            .unwrap_or(Err(Failure::TimedOut));
        match result {
            Ok(()) => {
                self.healthy.store(true, Ordering::Relaxed);
                Ok(())
            }
            Err(failure) => {
                if failure.lost_connection() {
                    self.session = None;
                }
                Err(failure.into_error(&self.location))
            }
        }
    }
}

/// Opens the writer's connection. An acknowledged delivery must survive a crash of the database server,
/// so a database set to `synchronous_commit = off` is overridden for this connection.
pub(crate) async fn connect(config: &Config) -> Result<Session, tokio_postgres::Error> {
    let session = connection::connect(config).await?;
    let setting = session
        .query_one("SELECT current_setting('synchronous_commit')", &[])
        .await?;
    if setting.try_get::<_, &str>(0)? == "off" {
        session
            .batch_execute("SET synchronous_commit TO on")
            .await?;
        tracing::info!(
            "synchronous_commit is off on this database; hookline's writer turns it on for its commits"
        );
    }
    Ok(session)
}

/// Why a group was not committed.
#[derive(Debug)]
enum Failure {
    Connect(tokio_postgres::Error),
    Statement(tokio_postgres::Error),
    TimedOut,
}

impl Failure {
    fn is_data_error(&self) -> bool {
        matches!(self, Failure::Statement(err) if is_data_error(err))
    }

    fn lost_connection(&self) -> bool {
        match self {
            Failure::Connect(_) | Failure::TimedOut => true,
            Failure::Statement(err) => connection_lost(err),
        }
    }

    fn message(&self, location: &str) -> String {
        match self {
            Failure::Connect(err) => {
                format!(
                    "cannot connect to PostgreSQL at {location}: {}",
                    describe(err)
                )
            }
            Failure::Statement(err) => describe(err),
            Failure::TimedOut => format!(
                "PostgreSQL at {location} did not complete the commit within {} s (down, unreachable or \
                 overloaded); the delivery may or may not be stored, and a retry is deduplicated",
                WRITE_TIMEOUT.as_secs()
            ),
        }
    }

    fn into_error(self, location: &str) -> StoreError {
        StoreError::Unavailable {
            message: self.message(location),
        }
    }
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
