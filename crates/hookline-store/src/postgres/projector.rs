//! Which instance keeps the conversation projection, and the task that keeps it.
//!
//! Several instances may share the database, and the projection must run once: only the instance
//! holding a session-level advisory lock, taken with `pg_try_advisory_lock` on a connection of its own,
//! projects. The others try again every second, so when the owner dies its session ends, the lock is
//! released and another instance takes over within about a second. The steps themselves are in
//! `projection.rs`; each moves the cursor `FOR UPDATE` in its own transaction, so even two projectors
//! at once (an owner whose connection died mid-step) apply each event once.

use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::Config;

use crate::postgres::connection::{self, Session, describe};
use crate::postgres::follow::advance;
use crate::postgres::lock::Locks;
use crate::postgres::projection::step;

/// How often an instance that does not project checks whether the owner is gone, and how long to wait
/// after a failure before trying again.
const RETRY: Duration = Duration::from_secs(1);

type Error = tokio_postgres::Error;

/// Keeps the projection up to date while this instance holds the projection lock.
pub(crate) struct Projector {
    pub config: Config,
    pub locks: Locks,
    pub committed: watch::Receiver<i64>,
    pub projected: watch::Sender<i64>,
    pub stop: watch::Receiver<bool>,
}

impl Projector {
    /// Runs until the store stops.
    pub(crate) async fn run(mut self) {
        let mut session: Option<Session> = None;
        loop {
            if *self.stop.borrow() {
                return;
            }
            match self.own(&mut session).await {
                Ok(true) => {
                    tracing::info!("this instance now keeps the conversation projection");
                    if let Some(owned) = session.as_mut() {
                        self.project(owned).await;
                    }
                    // Stopped, or the connection failed: closing it releases the lock for another instance.
                    session = None;
                }
                Ok(false) => {}
                Err(err) => {
                    tracing::warn!(error = %describe(&err), "cannot check who keeps the conversation projection; retrying");
                    session = None;
                }
            }
            if self.stopped_within(RETRY).await {
                return;
            }
        }
    }

    /// Takes the projection lock if it is free, connecting first when needed.
    async fn own(&self, session: &mut Option<Session>) -> Result<bool, Error> {
        if session.as_ref().is_none_or(|s| s.is_closed()) {
            *session = Some(connection::connect(&self.config).await?);
        }
        let Some(session) = session.as_ref() else {
            return Ok(false);
        };
        let (key, space) = self.locks.project();
        let row = session
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&key, &space])
            .await?;
        row.try_get(0)
    }

    /// Applies committed events as they come, until the store stops or a step fails.
    async fn project(&mut self, session: &mut Session) {
        let mut position = match position(session).await {
            Ok(position) => position,
            Err(err) => {
                tracing::warn!(error = %describe(&err), "cannot read the projection's position");
                return;
            }
        };
        advance(&self.projected, position);
        loop {
            tokio::select! {
                caught_up = self.committed.wait_for(|committed| *committed > position) => {
                    if caught_up.is_err() {
                        return;
                    }
                }
                _ = self.stop.wait_for(|stop| *stop) => return,
            }
            match step(session).await {
                Ok(next) if next == position => {
                    // Nothing to apply although events were committed: never spin on it.
                    tracing::error!(
                        position,
                        "conversation projection found no events to apply; pausing it"
                    );
                    if self.stopped_within(RETRY).await {
                        return;
                    }
                }
                Ok(next) => {
                    position = next;
                    advance(&self.projected, next);
                }
                Err(err) => {
                    tracing::warn!(error = %describe(&err), "conversation projection step failed; retrying in 1 s");
                    return;
                }
            }
        }
    }

    /// Waits `period`; true when the store stopped meanwhile.
    async fn stopped_within(&mut self, period: Duration) -> bool {
        let stopped = tokio::select! {
            _ = tokio::time::sleep(period) => false,
            _ = self.stop.wait_for(|stop| *stop) => true,
        };
        stopped || *self.stop.borrow()
    }
}

/// The id of the last event the projection has applied.
async fn position(client: &Session) -> Result<i64, Error> {
    let statement = client
        .prepare_cached("SELECT last_event_id FROM projection_state WHERE id = 1")
        .await?;
    client.query_one(&statement, &[]).await?.try_get(0)
}
