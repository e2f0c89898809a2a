//! The outbox's SQL in PostgreSQL (see [`crate::outbox`]); leases and claims are in `lease.rs`.
//!
//! In SQLite the single writer commits outbox changes with its next group, because SQLite has one write
//! lock. PostgreSQL locks rows, so here each change is a transaction of its own on a pooled connection
//! and a sink's bookkeeping never waits behind an ingest commit (nor the other way round). The
//! statements and their order are SQLite's, so the results are the same.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{GenericClient, Object, Transaction};
use tokio_postgres::Row;

use crate::error::StoreError;
use crate::model::StoredEvent;
use crate::outbox::{
    Attempt, AttemptChange, AttemptQuery, AttemptState, DeadSelection, DueQuery, NewAttempt,
    OutboxWrite, SinkStart, SinkStatus,
};
use crate::postgres::read::{self, EVENT_COLUMNS_WITH_RAW, Filters};
use crate::postgres::{owned_text, text};

type Error = tokio_postgres::Error;

/// Creates the sink's cursor if it has none; answers the cursor.
pub(crate) async fn open(
    client: &mut Object,
    sink: &str,
    start: SinkStart,
    now_ms: i64,
) -> Result<i64, Error> {
    let first = match start {
        SinkStart::End => "(SELECT coalesce(max(id), 0) FROM events)",
        SinkStart::Beginning => "0",
    };
    let tx = client.transaction().await?;
    let insert = tx
        .prepare_cached(&format!(
            "INSERT INTO sink_cursors (sink, last_event_id, updated_at_ms) VALUES ($1, {first}, $2)
             ON CONFLICT (sink) DO NOTHING"
        ))
        .await?;
    let sink = text(sink);
    tx.execute(&insert, &[&sink, &now_ms]).await?;
    // A statement of its own: in READ COMMITTED it sees a cursor another instance created meanwhile.
    let select = tx
        .prepare_cached("SELECT last_event_id FROM sink_cursors WHERE sink = $1")
        .await?;
    let cursor = tx.query_one(&select, &[&sink]).await?.try_get(0)?;
    tx.commit().await?;
    Ok(cursor)
}

const SAVE_CURSOR: &str = "
    INSERT INTO sink_cursors (sink, last_event_id, updated_at_ms) VALUES ($1, $2, $3)
    ON CONFLICT (sink) DO UPDATE SET
        last_event_id = greatest(sink_cursors.last_event_id, excluded.last_event_id),
        updated_at_ms = excluded.updated_at_ms";

/// The cursor of a sink run under a lease: moved only while `$4` holds it.
const SAVE_OWNED_CURSOR: &str = "
    UPDATE sink_cursors SET last_event_id = greatest(last_event_id, $2), updated_at_ms = $3
    WHERE sink = $1 AND lease_owner = $4";

/// Rows are inserted in array order (`ORDINALITY`), so their ids follow the order of `new` as in SQLite.
const INSERT_ATTEMPTS: &str = "
    INSERT INTO sink_attempts (sink, event_id, conversation_key, timestamp_ms, attempts, state,
                               next_attempt_at_ms, last_error, created_at_ms, updated_at_ms)
    SELECT $1::text, u.event_id, u.conversation_key, u.timestamp_ms, u.attempts, u.state,
           u.next_attempt_at_ms, u.last_error, $2::int8, $2::int8
    FROM unnest($3::int8[], $4::text[], $5::int8[], $6::int8[], $7::text[], $8::int8[], $9::text[])
         WITH ORDINALITY AS u(event_id, conversation_key, timestamp_ms, attempts, state,
                              next_attempt_at_ms, last_error, n)
    ORDER BY u.n
    ON CONFLICT (sink, event_id) DO UPDATE SET
        attempts = excluded.attempts, state = excluded.state,
        next_attempt_at_ms = excluded.next_attempt_at_ms, last_error = excluded.last_error,
        updated_at_ms = excluded.updated_at_ms";

// A change applies to a row claimed by its owner (the last parameter) or by nobody, and ends the claim;
// without an owner, to the row whoever claimed it.
const DELIVERED: &str = "
    DELETE FROM sink_attempts
    WHERE id = ANY($1) AND ($2::text IS NULL OR claimed_by IS NULL OR claimed_by = $2)";

const RETRY: &str = "
    UPDATE sink_attempts AS a SET attempts = u.attempts, next_attempt_at_ms = u.next_attempt_at_ms,
           last_error = u.last_error, updated_at_ms = $1, claimed_by = NULL, claimed_until_ms = NULL
    FROM unnest($2::int8[], $3::int8[], $4::int8[], $5::text[])
         AS u(id, attempts, next_attempt_at_ms, last_error)
    WHERE a.id = u.id AND a.state = 'pending'
      AND ($6::text IS NULL OR a.claimed_by IS NULL OR a.claimed_by = $6)";

const DEAD: &str = "
    UPDATE sink_attempts AS a SET state = 'dead', attempts = u.attempts, next_attempt_at_ms = NULL,
           last_error = u.last_error, updated_at_ms = $1, claimed_by = NULL, claimed_until_ms = NULL
    FROM unnest($2::int8[], $3::int8[], $4::text[]) AS u(id, attempts, last_error)
    WHERE a.id = u.id AND ($5::text IS NULL OR a.claimed_by IS NULL OR a.claimed_by = $5)";

/// Saves a sink's cursor and attempt rows in one transaction. With an owner that no longer holds the
/// sink's lease, rolls it all back and answers [`StoreError::LeaseLost`].
pub(crate) async fn write(
    client: &mut Object,
    write: &OutboxWrite,
) -> Result<Result<(), StoreError>, Error> {
    let tx = client.transaction().await?;
    let sink = text(&write.sink);
    let cursor = async {
        match (write.cursor, &write.owner) {
            (None, _) => Ok(true),
            (Some(cursor), None) => {
                let statement = tx.prepare_cached(SAVE_CURSOR).await?;
                tx.execute(&statement, &[&sink, &cursor, &write.now_ms])
                    .await?;
                Ok::<_, Error>(true)
            }
            (Some(cursor), Some(owner)) => {
                let statement = tx.prepare_cached(SAVE_OWNED_CURSOR).await?;
                let saved = tx
                    .execute(&statement, &[&sink, &cursor, &write.now_ms, &text(owner)])
                    .await?;
                Ok(saved == 1)
            }
        }
    };
    // The cursor and the rows are in different tables: sent together, in one round trip.
    let (held, ()) = tokio::try_join!(cursor, insert_attempts(&tx, write))?;
    if !held {
        tx.rollback().await?;
        return Ok(Err(StoreError::LeaseLost {
            sink: write.sink.clone(),
        }));
    }
    let owner = write.owner.as_deref();
    let ids: HashSet<i64> = write.changes.iter().map(change_id).collect();
    if ids.len() == write.changes.len() {
        apply_changes(&tx, &write.changes, write.now_ms, owner).await?;
    } else {
        // The same row changed twice: one at a time, so the last change wins as in SQLite.
        for change in &write.changes {
            apply_changes(&tx, std::slice::from_ref(change), write.now_ms, owner).await?;
        }
    }
    tx.commit().await?;
    Ok(Ok(()))
}

/// Adds (or replaces) the rows of `write.new`. An event listed twice keeps the place of its first listing
/// and the values of its last, as SQLite's row-by-row upserts leave it.
async fn insert_attempts(tx: &Transaction<'_>, write: &OutboxWrite) -> Result<(), Error> {
    if write.new.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<&NewAttempt> = Vec::with_capacity(write.new.len());
    let mut slot: HashMap<i64, usize> = HashMap::new();
    for new in &write.new {
        match slot.get(&new.event_id) {
            Some(&at) => rows[at] = new,
            None => {
                slot.insert(new.event_id, rows.len());
                rows.push(new);
            }
        }
    }
    let event_ids: Vec<i64> = rows.iter().map(|r| r.event_id).collect();
    let keys: Vec<Option<_>> = rows
        .iter()
        .map(|r| r.conversation_key.as_deref().map(text))
        .collect();
    let times: Vec<Option<i64>> = rows.iter().map(|r| r.timestamp_ms).collect();
    let attempts: Vec<i64> = rows.iter().map(|r| i64::from(r.attempts)).collect();
    let states: Vec<&str> = rows.iter().map(|r| r.state.as_str()).collect();
    let due: Vec<Option<i64>> = rows.iter().map(|r| r.next_attempt_at_ms).collect();
    let errors: Vec<Option<_>> = rows
        .iter()
        .map(|r| r.last_error.as_deref().map(text))
        .collect();
    let statement = tx.prepare_cached(INSERT_ATTEMPTS).await?;
    tx.execute(
        &statement,
        &[
            &text(&write.sink),
            &write.now_ms,
            &event_ids,
            &keys,
            &times,
            &attempts,
            &states,
            &due,
            &errors,
        ],
    )
    .await?;
    Ok(())
}

fn change_id(change: &AttemptChange) -> i64 {
    match change {
        AttemptChange::Delivered { id }
        | AttemptChange::Retry { id, .. }
        | AttemptChange::Dead { id, .. } => *id,
    }
}

/// Applies changes to distinct rows: one statement per kind, sent together.
async fn apply_changes(
    tx: &Transaction<'_>,
    changes: &[AttemptChange],
    now_ms: i64,
    owner: Option<&str>,
) -> Result<(), Error> {
    let owner = owner.map(text);
    let mut delivered = Vec::new();
    let (mut retry_ids, mut retry_attempts, mut retry_due, mut retry_errors) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut dead_ids, mut dead_attempts, mut dead_errors) = (Vec::new(), Vec::new(), Vec::new());
    for change in changes {
        match change {
            AttemptChange::Delivered { id } => delivered.push(*id),
            AttemptChange::Retry {
                id,
                attempts,
                next_attempt_at_ms,
                error,
            } => {
                retry_ids.push(*id);
                retry_attempts.push(i64::from(*attempts));
                retry_due.push(*next_attempt_at_ms);
                retry_errors.push(text(error));
            }
            AttemptChange::Dead {
                id,
                attempts,
                error,
            } => {
                dead_ids.push(*id);
                dead_attempts.push(i64::from(*attempts));
                dead_errors.push(text(error));
            }
        }
    }
    let delivered = async {
        if !delivered.is_empty() {
            let statement = tx.prepare_cached(DELIVERED).await?;
            tx.execute(&statement, &[&delivered, &owner]).await?;
        }
        Ok::<_, Error>(())
    };
    let retried = async {
        if !retry_ids.is_empty() {
            let statement = tx.prepare_cached(RETRY).await?;
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] = [
                &now_ms,
                &retry_ids,
                &retry_attempts,
                &retry_due,
                &retry_errors,
                &owner,
            ];
            tx.execute(&statement, &params).await?;
        }
        Ok::<_, Error>(())
    };
    let dead = async {
        if !dead_ids.is_empty() {
            let statement = tx.prepare_cached(DEAD).await?;
            tx.execute(
                &statement,
                &[&now_ms, &dead_ids, &dead_attempts, &dead_errors, &owner],
            )
            .await?;
        }
        Ok::<_, Error>(())
    };
    tokio::try_join!(delivered, retried, dead)?;
    Ok(())
}

/// `WHERE` of a dead-letter selection, its sink and ids in parameters `$first` and `$first + 1`: every
/// sink when none is named, every id when none is listed.
fn selected(first: usize) -> String {
    let (sink, ids) = (first, first + 1);
    format!(
        "state = 'dead' AND (${sink}::text IS NULL OR sink = ${sink})
         AND (cardinality(${ids}::int8[]) = 0 OR id = ANY(${ids}))"
    )
}

/// Makes dead letters pending again, due at once (0 is before any time a worker's clock can say), with
/// a fresh schedule; answers how many.
pub(crate) async fn requeue_dead(
    client: &Object,
    selection: &DeadSelection,
    now_ms: i64,
) -> Result<u64, Error> {
    let statement = client
        .prepare_cached(&format!(
            "UPDATE sink_attempts SET state = 'pending', attempts = 0, next_attempt_at_ms = 0,
                    updated_at_ms = $1 WHERE {}",
            selected(2)
        ))
        .await?;
    let sink = selection.sink.as_deref().map(text);
    client
        .execute(&statement, &[&now_ms, &sink, &selection.ids])
        .await
}

/// Deletes dead letters; answers how many.
pub(crate) async fn drop_dead(client: &Object, selection: &DeadSelection) -> Result<u64, Error> {
    let statement = client
        .prepare_cached(&format!("DELETE FROM sink_attempts WHERE {}", selected(1)))
        .await?;
    let sink = selection.sink.as_deref().map(text);
    client.execute(&statement, &[&sink, &selection.ids]).await
}

const ATTEMPT_COLUMNS: &str =
    "a.id, a.sink, a.event_id, a.conversation_key, a.timestamp_ms, a.attempts,
    a.state, a.next_attempt_at_ms, a.last_error, a.created_at_ms, a.updated_at_ms";

fn attempt_row(row: &Row) -> Result<Attempt, Error> {
    let state: &str = row.try_get(6)?;
    let attempts: i64 = row.try_get(5)?;
    Ok(Attempt {
        id: row.try_get(0)?,
        sink: row.try_get(1)?,
        event_id: row.try_get(2)?,
        conversation_key: row.try_get(3)?,
        timestamp_ms: row.try_get(4)?,
        attempts: u32::try_from(attempts).unwrap_or(u32::MAX),
        state: AttemptState::from_name(state).unwrap_or(AttemptState::Pending),
        next_attempt_at_ms: row.try_get(7)?,
        last_error: row.try_get(8)?,
        created_at_ms: row.try_get(9)?,
        updated_at_ms: row.try_get(10)?,
    })
}

/// Which pending rows of a sink [`due_sql`] reads (as in SQLite's `outbox.rs`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// Every pending row (a query without a claim).
    All,
    /// Rows due at `$3` that no owner but `$4` has a live claim on, locked for the claiming
    /// transaction; rows another transaction is claiming or changing are skipped, not waited for.
    Due,
    /// Rows not due at `$3` that no owner but `$4` has a live claim on.
    Later,
}

/// Pending rows of a sink, earliest due first (SQLite sorts a missing due time first, so here too),
/// each with its event and raw JSON. With `fifo`, only the first pending row of each conversation.
/// Parameters: `$1` the sink, `$2` the limit, and for [`Part::Due`] and [`Part::Later`] `$3` the time
/// and `$4` the claiming owner.
pub(crate) fn due_sql(fifo: bool, part: Part) -> String {
    let fifo = if fifo {
        "AND (a.conversation_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM sink_attempts b
             WHERE b.sink = a.sink AND b.conversation_key = a.conversation_key AND b.state = 'pending'
               AND (coalesce(b.timestamp_ms, 0), b.event_id) < (coalesce(a.timestamp_ms, 0), a.event_id)))"
    } else {
        ""
    };
    let claimable =
        "AND (a.claimed_by IS NULL OR a.claimed_by = $4 OR coalesce(a.claimed_until_ms, 0) <= $3)";
    let (part, lock) = match part {
        Part::All => (String::new(), ""),
        Part::Due => (
            format!("AND a.next_attempt_at_ms <= $3 {claimable}"),
            "FOR UPDATE OF a SKIP LOCKED",
        ),
        Part::Later => (
            format!("AND (a.next_attempt_at_ms IS NULL OR a.next_attempt_at_ms > $3) {claimable}"),
            "",
        ),
    };
    format!(
        "SELECT {ATTEMPT_COLUMNS}, {EVENT_COLUMNS_WITH_RAW}
         FROM sink_attempts a
         JOIN events e ON e.id = a.event_id
         JOIN deliveries d ON d.id = e.delivery_id
         WHERE a.sink = $1 AND a.state = 'pending' {part} {fifo}
         ORDER BY a.next_attempt_at_ms NULLS FIRST, a.id
         LIMIT $2
         {lock}"
    )
}

/// Runs a [`due_sql`] statement.
pub(crate) async fn due_rows(
    client: &impl GenericClient,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<(Attempt, StoredEvent)>, Error> {
    let statement = client.prepare_cached(sql).await?;
    let rows = client.query(&statement, params).await?;
    rows.iter()
        .map(|row| Ok((attempt_row(row)?, read::event_row_at(row, 11)?)))
        .collect()
}

/// Pending rows of a sink, unclaimed (a query without a claim).
pub(crate) async fn due(
    client: &impl GenericClient,
    query: &DueQuery,
) -> Result<Vec<(Attempt, StoredEvent)>, Error> {
    let limit = query.limit.min(i64::MAX as usize) as i64;
    due_rows(
        client,
        &due_sql(query.fifo, Part::All),
        &[&text(&query.sink), &limit],
    )
    .await
}

/// Which conversations of `keys` have pending rows for `sink`, in the order (and repetition) of `keys`.
pub(crate) async fn blocked_conversations(
    client: &impl GenericClient,
    sink: &str,
    keys: &[String],
) -> Result<Vec<String>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client
        .prepare_cached(
            "SELECT DISTINCT conversation_key FROM sink_attempts
             WHERE sink = $1 AND state = 'pending' AND conversation_key = ANY($2)",
        )
        .await?;
    let asked: Vec<_> = keys.iter().map(|key| text(key)).collect();
    let rows = client.query(&statement, &[&text(sink), &asked]).await?;
    let blocked: HashSet<String> = rows
        .iter()
        .map(|row| row.try_get(0))
        .collect::<Result<_, _>>()?;
    Ok(keys
        .iter()
        .filter(|key| blocked.contains(text(key).as_ref()))
        .cloned()
        .collect())
}

pub(crate) async fn attempts(
    client: &impl GenericClient,
    query: &AttemptQuery,
) -> Result<Vec<Attempt>, Error> {
    let mut sql = format!("SELECT {ATTEMPT_COLUMNS} FROM sink_attempts a");
    let mut filters = Filters::default();
    filters.add("a.id > ?", Some(query.after_id.unwrap_or(0)));
    filters.add("a.sink = ?", query.sink.as_deref().map(owned_text));
    filters.add("a.state = ?", query.state.map(|s| s.as_str().to_owned()));
    filters.finish(&mut sql, "a.id", query.limit);
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &filters.params()).await?;
    rows.iter().map(attempt_row).collect()
}

/// Every sink the store has a cursor for, by name, with the head read in the same snapshot.
pub(crate) async fn statuses(client: &impl GenericClient) -> Result<Vec<SinkStatus>, Error> {
    let statement = client
        .prepare_cached(
            "SELECT c.sink, c.last_event_id, c.updated_at_ms,
                    (SELECT count(*) FROM sink_attempts a WHERE a.sink = c.sink AND a.state = 'pending'),
                    (SELECT count(*) FROM sink_attempts a WHERE a.sink = c.sink AND a.state = 'dead'),
                    (SELECT min(next_attempt_at_ms) FROM sink_attempts a
                      WHERE a.sink = c.sink AND a.state = 'pending'),
                    (SELECT coalesce(max(id), 0) FROM events),
                    c.lease_owner, c.lease_until_ms
             FROM sink_cursors c ORDER BY c.sink",
        )
        .await?;
    let rows = client.query(&statement, &[]).await?;
    rows.iter()
        .map(|row| {
            Ok(SinkStatus {
                sink: row.try_get(0)?,
                cursor: row.try_get(1)?,
                updated_at_ms: row.try_get(2)?,
                pending: row.try_get::<_, i64>(3)?.max(0) as u64,
                dead: row.try_get::<_, i64>(4)?.max(0) as u64,
                next_attempt_at_ms: row.try_get(5)?,
                head: row.try_get(6)?,
                owner: row.try_get(7)?,
                lease_until_ms: row.try_get(8)?,
            })
        })
        .collect()
}
