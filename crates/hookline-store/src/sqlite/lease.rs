//! Leases and claims for several instances on one database (see [`crate::outbox`]), run by the writer
//! thread like every outbox change: one writer sees every claim in order, so two claims never overlap.

use rusqlite::{Connection, OptionalExtension, params};

use crate::error::StoreError;
use crate::model::StoredEvent;
use crate::outbox::{Attempt, DueQuery, SinkClaim};
use crate::sqlite::outbox::{Part, due_rows, due_sql};

/// Takes or renews the sink's lease; answers the cursor, `None` while another owner's lease is live.
pub(crate) fn claim(
    tx: &Connection,
    claim: &SinkClaim,
) -> rusqlite::Result<Result<Option<i64>, StoreError>> {
    let cursor: Option<i64> = tx
        .prepare_cached(
            "UPDATE sink_cursors SET lease_owner = ?2, lease_until_ms = ?4
             WHERE sink = ?1
               AND (lease_owner IS NULL OR lease_owner = ?2 OR coalesce(lease_until_ms, 0) <= ?3)
             RETURNING last_event_id",
        )?
        .query_row(
            params![claim.sink, claim.owner, claim.now_ms, claim.until_ms],
            |row| row.get(0),
        )
        .optional()?;
    if cursor.is_some() {
        return Ok(Ok(cursor));
    }
    let exists = tx
        .prepare_cached("SELECT 1 FROM sink_cursors WHERE sink = ?1")?
        .exists([&claim.sink])?;
    Ok(if exists {
        Ok(None)
    } else {
        Err(no_cursor(&claim.sink))
    })
}

pub(crate) fn no_cursor(sink: &str) -> StoreError {
    StoreError::Query {
        message: format!("sink {sink:?} has no cursor to claim: open it first"),
    }
}

/// Gives up `owner`'s lease on the sink and its claims on the sink's rows.
pub(crate) fn release(tx: &Connection, sink: &str, owner: &str) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "UPDATE sink_cursors SET lease_owner = NULL, lease_until_ms = NULL
         WHERE sink = ?1 AND lease_owner = ?2",
    )?
    .execute(params![sink, owner])?;
    tx.prepare_cached(
        "UPDATE sink_attempts SET claimed_by = NULL, claimed_until_ms = NULL
         WHERE sink = ?1 AND claimed_by = ?2",
    )?
    .execute(params![sink, owner])?;
    Ok(())
}

/// Extends `owner`'s claims on the sink's rows; how many.
pub(crate) fn renew_rows(
    tx: &Connection,
    sink: &str,
    owner: &str,
    until_ms: i64,
) -> rusqlite::Result<usize> {
    tx.prepare_cached(
        "UPDATE sink_attempts SET claimed_until_ms = ?3 WHERE sink = ?1 AND claimed_by = ?2",
    )?
    .execute(params![sink, owner, until_ms])
}

/// Claims the rows of `query` that are due and free, and answers them, then (up to the limit) the rows
/// not due yet.
pub(crate) fn claim_due(
    tx: &Connection,
    query: &DueQuery,
) -> rusqlite::Result<Vec<(Attempt, StoredEvent)>> {
    let Some(claim) = &query.claim else {
        return super::outbox::due(tx, query);
    };
    let limit = query.limit.min(i64::MAX as usize) as i64;
    let mut rows = due_rows(
        tx,
        &due_sql(query.fifo, Part::Due),
        params![query.sink, limit, claim.now_ms, claim.owner],
    )?;
    let mut claimed = tx.prepare_cached(
        "UPDATE sink_attempts SET claimed_by = ?2, claimed_until_ms = ?3 WHERE id = ?1",
    )?;
    for (row, _) in &rows {
        claimed.execute(params![row.id, claim.owner, claim.until_ms])?;
    }
    let rest = limit - rows.len() as i64;
    if rest > 0 {
        rows.extend(later(tx, query, rest)?);
    }
    Ok(rows)
}

/// With a claim: the rows not due yet, when none is due (then there is nothing to claim, and a read
/// connection answers without the writer); `None` when some row is due.
pub(crate) fn nothing_due(
    conn: &Connection,
    query: &DueQuery,
) -> rusqlite::Result<Option<Vec<(Attempt, StoredEvent)>>> {
    let Some(claim) = &query.claim else {
        return Ok(None);
    };
    let due = due_rows(
        conn,
        &due_sql(query.fifo, Part::Due),
        params![query.sink, 1, claim.now_ms, claim.owner],
    )?;
    if !due.is_empty() {
        return Ok(None);
    }
    let limit = query.limit.min(i64::MAX as usize) as i64;
    later(conn, query, limit).map(Some)
}

fn later(
    conn: &Connection,
    query: &DueQuery,
    limit: i64,
) -> rusqlite::Result<Vec<(Attempt, StoredEvent)>> {
    let Some(claim) = &query.claim else {
        return Ok(Vec::new());
    };
    due_rows(
        conn,
        &due_sql(query.fifo, Part::Later),
        params![query.sink, limit, claim.now_ms, claim.owner],
    )
}
