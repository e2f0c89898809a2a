//! Leases and claims for several instances on one database (see [`crate::outbox`]).
//!
//! A lease is a conditional `UPDATE` of the sink's cursor row: two instances claiming at once queue on
//! the row lock, and the second sees the first's lease when its `WHERE` is checked again. Due rows are
//! claimed with `SELECT ... FOR UPDATE SKIP LOCKED` in the claiming transaction: rows another instance
//! is claiming are skipped rather than waited for, and a row whose claim committed meanwhile fails the
//! re-checked `WHERE`, so two instances never get the same row.

use deadpool_postgres::{GenericClient, Object};

use crate::error::StoreError;
use crate::model::StoredEvent;
use crate::outbox::{Attempt, DueQuery, SinkClaim};
use crate::postgres::outbox::{Part, due, due_rows, due_sql};
use crate::postgres::text;

type Error = tokio_postgres::Error;

/// Takes or renews the sink's lease; answers the cursor, `None` while another owner's lease is live.
pub(crate) async fn claim(
    client: &impl GenericClient,
    claim: &SinkClaim,
) -> Result<Result<Option<i64>, StoreError>, Error> {
    let statement = client
        .prepare_cached(
            "UPDATE sink_cursors SET lease_owner = $2, lease_until_ms = $4
             WHERE sink = $1
               AND (lease_owner IS NULL OR lease_owner = $2 OR coalesce(lease_until_ms, 0) <= $3)
             RETURNING last_event_id",
        )
        .await?;
    let sink = text(&claim.sink);
    let row = client
        .query_opt(
            &statement,
            &[&sink, &text(&claim.owner), &claim.now_ms, &claim.until_ms],
        )
        .await?;
    if let Some(row) = row {
        return Ok(Ok(Some(row.try_get(0)?)));
    }
    let statement = client
        .prepare_cached("SELECT 1 FROM sink_cursors WHERE sink = $1")
        .await?;
    let exists = client.query_opt(&statement, &[&sink]).await?.is_some();
    Ok(if exists {
        Ok(None)
    } else {
        Err(StoreError::Query {
            message: format!(
                "sink {:?} has no cursor to claim: open it first",
                claim.sink
            ),
        })
    })
}

/// Gives up `owner`'s lease on the sink and its claims on the sink's rows, in one transaction.
pub(crate) async fn release(client: &mut Object, sink: &str, owner: &str) -> Result<(), Error> {
    let tx = client.transaction().await?;
    let (sink, owner) = (text(sink), text(owner));
    let lease = tx
        .prepare_cached(
            "UPDATE sink_cursors SET lease_owner = NULL, lease_until_ms = NULL
             WHERE sink = $1 AND lease_owner = $2",
        )
        .await?;
    let rows = tx
        .prepare_cached(
            "UPDATE sink_attempts SET claimed_by = NULL, claimed_until_ms = NULL
             WHERE sink = $1 AND claimed_by = $2",
        )
        .await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&sink, &owner];
    tokio::try_join!(tx.execute(&lease, &params), tx.execute(&rows, &params))?;
    tx.commit().await
}

/// Extends `owner`'s claims on the sink's rows; how many.
pub(crate) async fn renew_rows(
    client: &impl GenericClient,
    sink: &str,
    owner: &str,
    until_ms: i64,
) -> Result<u64, Error> {
    let statement = client
        .prepare_cached(
            "UPDATE sink_attempts SET claimed_until_ms = $3 WHERE sink = $1 AND claimed_by = $2",
        )
        .await?;
    client
        .execute(&statement, &[&text(sink), &text(owner), &until_ms])
        .await
}

/// Claims the rows of `query` that are due and free, and answers them, then (up to the limit) the rows
/// not due yet.
pub(crate) async fn claim_due(
    client: &mut Object,
    query: &DueQuery,
) -> Result<Vec<(Attempt, StoredEvent)>, Error> {
    let Some(claim) = &query.claim else {
        return due(client, query).await;
    };
    let tx = client.transaction().await?;
    let (sink, owner) = (text(&query.sink), text(&claim.owner));
    let limit = query.limit.min(i64::MAX as usize) as i64;
    let mut rows = due_rows(
        &tx,
        &due_sql(query.fifo, Part::Due),
        &[&sink, &limit, &claim.now_ms, &owner],
    )
    .await?;
    if !rows.is_empty() {
        let ids: Vec<i64> = rows.iter().map(|(row, _)| row.id).collect();
        let statement = tx
            .prepare_cached(
                "UPDATE sink_attempts SET claimed_by = $2, claimed_until_ms = $3 WHERE id = ANY($1)",
            )
            .await?;
        tx.execute(&statement, &[&ids, &owner, &claim.until_ms])
            .await?;
    }
    let rest = limit - rows.len() as i64;
    if rest > 0 {
        let later = due_rows(
            &tx,
            &due_sql(query.fifo, Part::Later),
            &[&sink, &rest, &claim.now_ms, &owner],
        )
        .await?;
        rows.extend(later);
    }
    tx.commit().await?;
    Ok(rows)
}
