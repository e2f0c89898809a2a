//! The outbox's SQL (see [`crate::outbox`]): writes, applied by the writer thread inside its group
//! transaction, and reads, on the read connections. Leases and claims are in `lease.rs`.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};

use crate::error::StoreError;
use crate::model::StoredEvent;
use crate::outbox::{
    Attempt, AttemptChange, AttemptQuery, AttemptState, DeadSelection, DueQuery, OutboxWrite,
    SinkClaim, SinkStart, SinkStatus,
};
use crate::send::StoredSend;
use crate::sqlite::lease;
use crate::sqlite::sends::{self, SendChange};

/// A change to the outbox, run by the writer.
#[derive(Debug)]
pub(crate) enum OutboxOp {
    /// Creates the sink's cursor if it has none; answers the cursor.
    Open {
        sink: String,
        start: SinkStart,
    },
    Write(OutboxWrite),
    /// Takes or renews a sink's lease; answers the cursor, or none while another owner holds it.
    Claim(SinkClaim),
    /// Gives up an owner's lease on a sink and its claims on the sink's rows.
    Release {
        sink: String,
        owner: String,
    },
    /// Extends an owner's claims on a sink's rows; answers how many.
    RenewRows {
        sink: String,
        owner: String,
        until_ms: i64,
    },
    /// Claims the due rows of a query with a claim; answers them, then the rows not due yet.
    ClaimDue(DueQuery),
    /// Makes dead letters pending again, due at once, with a fresh schedule; answers how many.
    RequeueDead {
        selection: DeadSelection,
    },
    /// Deletes dead letters; answers how many.
    DropDead {
        selection: DeadSelection,
    },
    /// Records a send or its outcome (see `sends.rs`): not the outbox's, but a small write the writer
    /// commits with its next group the same way.
    Send(SendChange),
}

/// What an [`OutboxOp`] answers.
#[derive(Debug)]
pub(crate) enum Answer {
    /// A cursor or a count.
    Number(i64),
    Claimed(Option<i64>),
    Rows(Vec<(Attempt, StoredEvent)>),
    Send(Box<StoredSend>),
}

/// Applies `op` within the writer's transaction. The outer error is the database's; the inner one a
/// refusal (a lost lease), after which the caller rolls back what `op` did.
pub(crate) fn apply(
    tx: &Connection,
    op: &OutboxOp,
    now_ms: i64,
) -> rusqlite::Result<Result<Answer, StoreError>> {
    let number = |n: usize| Ok(Answer::Number(n as i64));
    match op {
        OutboxOp::Open { sink, start } => {
            open(tx, sink, *start, now_ms).map(|c| Ok(Answer::Number(c)))
        }
        OutboxOp::Write(write) => {
            self::write(tx, write).map(|saved| saved.map(|()| Answer::Number(0)))
        }
        OutboxOp::Claim(claim) => lease::claim(tx, claim).map(|c| c.map(Answer::Claimed)),
        OutboxOp::Release { sink, owner } => lease::release(tx, sink, owner).map(|()| number(0)),
        OutboxOp::RenewRows {
            sink,
            owner,
            until_ms,
        } => lease::renew_rows(tx, sink, owner, *until_ms).map(number),
        OutboxOp::ClaimDue(query) => lease::claim_due(tx, query).map(|rows| Ok(Answer::Rows(rows))),
        OutboxOp::RequeueDead { selection } => {
            // Due at once whatever the worker's clock says: 0 is before any time it can have.
            let (clause, values) = selected(selection);
            let sql = format!(
                "UPDATE sink_attempts SET state = 'pending', attempts = 0, next_attempt_at_ms = 0,
                        updated_at_ms = ? WHERE state = 'dead'{clause}"
            );
            let mut all = vec![Value::Integer(now_ms)];
            all.extend(values);
            tx.execute(&sql, params_from_iter(all)).map(number)
        }
        OutboxOp::DropDead { selection } => {
            let (clause, values) = selected(selection);
            let sql = format!("DELETE FROM sink_attempts WHERE state = 'dead'{clause}");
            tx.execute(&sql, params_from_iter(values)).map(number)
        }
        OutboxOp::Send(change) => {
            sends::apply(tx, change).map(|done| done.map(|send| Answer::Send(Box::new(send))))
        }
    }
}

fn open(tx: &Connection, sink: &str, start: SinkStart, now_ms: i64) -> rusqlite::Result<i64> {
    let first = match start {
        SinkStart::End => "(SELECT coalesce(max(id), 0) FROM events)",
        SinkStart::Beginning => "0",
    };
    tx.execute(
        &format!(
            "INSERT INTO sink_cursors (sink, last_event_id, updated_at_ms) VALUES (?1, {first}, ?2)
             ON CONFLICT (sink) DO NOTHING"
        ),
        params![sink, now_ms],
    )?;
    tx.query_row(
        "SELECT last_event_id FROM sink_cursors WHERE sink = ?1",
        [sink],
        |row| row.get(0),
    )
}

/// Saves a sink's progress; with an owner, refuses (writing nothing) once another instance has the lease.
fn write(tx: &Connection, write: &OutboxWrite) -> rusqlite::Result<Result<(), StoreError>> {
    match (write.cursor, &write.owner) {
        (None, _) => {}
        (Some(cursor), None) => {
            tx.prepare_cached(
                "INSERT INTO sink_cursors (sink, last_event_id, updated_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sink) DO UPDATE SET last_event_id = max(last_event_id, excluded.last_event_id),
                                                  updated_at_ms = excluded.updated_at_ms",
            )?
            .execute(params![write.sink, cursor, write.now_ms])?;
        }
        (Some(cursor), Some(owner)) => {
            let saved = tx
                .prepare_cached(
                    "UPDATE sink_cursors SET last_event_id = max(last_event_id, ?2), updated_at_ms = ?3
                     WHERE sink = ?1 AND lease_owner = ?4",
                )?
                .execute(params![write.sink, cursor, write.now_ms, owner])?;
            if saved == 0 {
                return Ok(Err(StoreError::LeaseLost {
                    sink: write.sink.clone(),
                }));
            }
        }
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO sink_attempts (sink, event_id, conversation_key, timestamp_ms, attempts, state,
                                    next_attempt_at_ms, last_error, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)
         ON CONFLICT (sink, event_id) DO UPDATE SET
             attempts = excluded.attempts, state = excluded.state,
             next_attempt_at_ms = excluded.next_attempt_at_ms, last_error = excluded.last_error,
             updated_at_ms = excluded.updated_at_ms",
    )?;
    for new in &write.new {
        insert.execute(params![
            write.sink,
            new.event_id,
            new.conversation_key,
            new.timestamp_ms,
            new.attempts,
            new.state.as_str(),
            new.next_attempt_at_ms,
            new.last_error,
            write.now_ms,
        ])?;
    }
    // A change applies to a row claimed by its owner or by nobody, and ends the claim.
    let owner = write.owner.as_deref();
    for change in &write.changes {
        match change {
            AttemptChange::Delivered { id } => {
                tx.prepare_cached(
                    "DELETE FROM sink_attempts
                     WHERE id = ?1 AND (?2 IS NULL OR claimed_by IS NULL OR claimed_by = ?2)",
                )?
                .execute(params![id, owner])?;
            }
            AttemptChange::Retry {
                id,
                attempts,
                next_attempt_at_ms,
                error,
            } => {
                tx.prepare_cached(
                    "UPDATE sink_attempts SET attempts = ?2, next_attempt_at_ms = ?3, last_error = ?4,
                            updated_at_ms = ?5, claimed_by = NULL, claimed_until_ms = NULL
                     WHERE id = ?1 AND state = 'pending'
                       AND (?6 IS NULL OR claimed_by IS NULL OR claimed_by = ?6)",
                )?
                .execute(params![
                    id,
                    attempts,
                    next_attempt_at_ms,
                    error,
                    write.now_ms,
                    owner
                ])?;
            }
            AttemptChange::Dead {
                id,
                attempts,
                error,
            } => {
                tx.prepare_cached(
                    "UPDATE sink_attempts SET state = 'dead', attempts = ?2, next_attempt_at_ms = NULL,
                            last_error = ?3, updated_at_ms = ?4, claimed_by = NULL, claimed_until_ms = NULL
                     WHERE id = ?1 AND (?5 IS NULL OR claimed_by IS NULL OR claimed_by = ?5)",
                )?
                .execute(params![id, attempts, error, write.now_ms, owner])?;
            }
        }
    }
    Ok(Ok(()))
}

/// ` AND ...` for a dead-letter selection, with its parameters.
fn selected(selection: &DeadSelection) -> (String, Vec<Value>) {
    let mut clause = String::new();
    let mut values = Vec::new();
    if let Some(sink) = &selection.sink {
        clause.push_str(" AND sink = ?");
        values.push(Value::Text(sink.clone()));
    }
    if !selection.ids.is_empty() {
        let marks = vec!["?"; selection.ids.len()].join(", ");
        clause.push_str(&format!(" AND id IN ({marks})"));
        values.extend(selection.ids.iter().map(|id| Value::Integer(*id)));
    }
    (clause, values)
}

const ATTEMPT_COLUMNS: &str =
    "a.id, a.sink, a.event_id, a.conversation_key, a.timestamp_ms, a.attempts,
    a.state, a.next_attempt_at_ms, a.last_error, a.created_at_ms, a.updated_at_ms";

fn attempt_row(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    let state: String = row.get(6)?;
    Ok(Attempt {
        id: row.get(0)?,
        sink: row.get(1)?,
        event_id: row.get(2)?,
        conversation_key: row.get(3)?,
        timestamp_ms: row.get(4)?,
        attempts: row.get(5)?,
        state: AttemptState::from_name(&state).unwrap_or(AttemptState::Pending),
        next_attempt_at_ms: row.get(7)?,
        last_error: row.get(8)?,
        created_at_ms: row.get(9)?,
        updated_at_ms: row.get(10)?,
    })
}

/// Which pending rows of a sink [`due`] reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// Every pending row (a query without a claim).
    All,
    /// Rows due at `?3` that no owner but `?4` has a live claim on.
    Due,
    /// Rows not due at `?3` that no owner but `?4` has a live claim on.
    Later,
}

/// Pending rows of a sink, earliest due first, each with its event (and raw JSON). With `fifo`, only
/// the first pending row of each conversation: the others wait until it is delivered or dead.
/// Parameters: `?1` the sink, `?2` the limit, and for [`Part::Due`] and [`Part::Later`] `?3` the time
/// and `?4` the claiming owner.
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
        "AND (a.claimed_by IS NULL OR a.claimed_by = ?4 OR coalesce(a.claimed_until_ms, 0) <= ?3)";
    let part = match part {
        Part::All => String::new(),
        Part::Due => format!("AND a.next_attempt_at_ms <= ?3 {claimable}"),
        Part::Later => {
            format!("AND (a.next_attempt_at_ms IS NULL OR a.next_attempt_at_ms > ?3) {claimable}")
        }
    };
    format!(
        "SELECT {ATTEMPT_COLUMNS}, {events}
         FROM sink_attempts a
         JOIN events e ON e.id = a.event_id
         JOIN deliveries d ON d.id = e.delivery_id
         WHERE a.sink = ?1 AND a.state = 'pending' {part} {fifo}
         ORDER BY a.next_attempt_at_ms, a.id
         LIMIT ?2",
        events = super::read::EVENT_COLUMNS_WITH_RAW,
    )
}

/// Runs a [`due_sql`] statement.
pub(crate) fn due_rows(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> rusqlite::Result<Vec<(Attempt, StoredEvent)>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, |row| {
        Ok((attempt_row(row)?, super::read::event_row_at(row, 11)?))
    })?;
    rows.collect()
}

/// Pending rows of a sink, unclaimed (a query without a claim).
pub(crate) fn due(
    conn: &Connection,
    query: &DueQuery,
) -> rusqlite::Result<Vec<(Attempt, StoredEvent)>> {
    due_rows(
        conn,
        &due_sql(query.fifo, Part::All),
        params![query.sink, query.limit.min(i64::MAX as usize) as i64],
    )
}

/// Which conversations of `keys` have pending rows for `sink` (their new events must wait in line).
pub(crate) fn blocked_conversations(
    conn: &Connection,
    sink: &str,
    keys: &[String],
) -> rusqlite::Result<Vec<String>> {
    let mut blocked = Vec::new();
    let mut stmt = conn.prepare_cached(
        "SELECT 1 FROM sink_attempts
         WHERE sink = ?1 AND conversation_key = ?2 AND state = 'pending' LIMIT 1",
    )?;
    for key in keys {
        if stmt.exists(params![sink, key])? {
            blocked.push(key.clone());
        }
    }
    Ok(blocked)
}

pub(crate) fn attempts(conn: &Connection, query: &AttemptQuery) -> rusqlite::Result<Vec<Attempt>> {
    let mut sql = format!("SELECT {ATTEMPT_COLUMNS} FROM sink_attempts a WHERE a.id > ?");
    let mut values = vec![Value::Integer(query.after_id.unwrap_or(0))];
    if let Some(sink) = &query.sink {
        sql.push_str(" AND a.sink = ?");
        values.push(Value::Text(sink.clone()));
    }
    if let Some(state) = query.state {
        sql.push_str(" AND a.state = ?");
        values.push(Value::Text(state.as_str().to_owned()));
    }
    sql.push_str(" ORDER BY a.id LIMIT ?");
    values.push(Value::Integer(query.limit.min(i64::MAX as usize) as i64));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(values), attempt_row)?;
    rows.collect()
}

/// Every sink the store has a cursor for, by name.
pub(crate) fn statuses(conn: &Connection) -> rusqlite::Result<Vec<SinkStatus>> {
    let head: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |row| {
        row.get(0)
    })?;
    let mut stmt = conn.prepare(
        "SELECT c.sink, c.last_event_id, c.updated_at_ms,
                (SELECT count(*) FROM sink_attempts a WHERE a.sink = c.sink AND a.state = 'pending'),
                (SELECT count(*) FROM sink_attempts a WHERE a.sink = c.sink AND a.state = 'dead'),
                (SELECT min(next_attempt_at_ms) FROM sink_attempts a
                  WHERE a.sink = c.sink AND a.state = 'pending'),
                c.lease_owner, c.lease_until_ms
         FROM sink_cursors c ORDER BY c.sink",
    )?;
    let rows = stmt.query_map([], |row| {
        Ok(SinkStatus {
            sink: row.get(0)?,
            cursor: row.get(1)?,
            updated_at_ms: row.get(2)?,
            pending: row.get::<_, i64>(3)?.max(0) as u64,
            dead: row.get::<_, i64>(4)?.max(0) as u64,
            next_attempt_at_ms: row.get(5)?,
            owner: row.get(6)?,
            lease_until_ms: row.get(7)?,
            head,
        })
    })?;
    rows.collect()
}
