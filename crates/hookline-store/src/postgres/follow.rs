//! Following the commits and the projection of other instances sharing the database.
//!
//! This instance's writer and projector raise [`EventStore::committed_events`] and
//! [`EventStore::projected_events`] at once; events committed by another instance reach them only
//! through the database. So a task reads both positions every [`POLL_INTERVAL`] and raises the
//! watches when they moved: a follower here (a sink, the live stream) sees another instance's events
//! within that delay. Two index lookups per poll, so the cost is nothing next to ingest.
//!
//! [`EventStore::committed_events`]: crate::EventStore::committed_events
//! [`EventStore::projected_events`]: crate::EventStore::projected_events

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::error::StoreError;
use crate::postgres::connection::{Session, pool_error, store_error};

/// How often to look for commits made elsewhere.
pub(crate) const POLL_INTERVAL: Duration = Duration::from_millis(250);

/// The highest committed event id and the projection's position, in one snapshot.
pub(crate) async fn positions(client: &Session) -> Result<(i64, i64), tokio_postgres::Error> {
    let statement = client
        .prepare_cached(
            "SELECT (SELECT coalesce(max(id), 0) FROM events),
                    (SELECT coalesce(max(last_event_id), 0) FROM projection_state)",
        )
        .await?;
    let row = client.query_one(&statement, &[]).await?;
    Ok((row.try_get(0)?, row.try_get(1)?))
}

/// Raises the watches to the database's positions every [`POLL_INTERVAL`] until `stop`.
pub(crate) async fn follow(
    pool: Pool,
    committed: watch::Sender<i64>,
    projected: watch::Sender<i64>,
    mut stop: watch::Receiver<bool>,
) {
    let mut ticks = tokio::time::interval(POLL_INTERVAL);
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        match poll(&pool).await {
            Ok((events, projection)) => {
                advance(&committed, events);
                advance(&projected, projection);
                if failing {
                    tracing::info!("reading the database's positions again");
                    failing = false;
                }
            }
            Err(err) if !failing => {
                // Once per outage, not four times a second.
                tracing::warn!(error = %err, "cannot read the database's positions; commits by other instances are not seen until it can");
                failing = true;
            }
            Err(_) => {}
        }
    }
}

async fn poll(pool: &Pool) -> Result<(i64, i64), StoreError> {
    let client = pool.get().await.map_err(pool_error)?;
    positions(&client).await.map_err(|err| store_error(&err))
}

/// Raises a watched position, never lowers it, and wakes followers only when it moved.
pub(crate) fn advance(watched: &watch::Sender<i64>, to: i64) {
    watched.send_if_modified(|at| {
        let raised = to > *at;
        *at = (*at).max(to);
        raised
    });
}
