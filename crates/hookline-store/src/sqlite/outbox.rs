//! The outbox's SQL (see [`crate::outbox`]): writes, applied by the writer thread inside its group
//! transaction, and reads, on the read connections.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params, params_from_iter};

use crate::model::StoredEvent;
use crate::outbox::{
    Attempt, AttemptChange, AttemptQuery, AttemptState, DeadSelection, DueQuery, OutboxWrite,
    SinkStart, SinkStatus,
};

/// A change to the outbox, run by the writer.
#[derive(Debug)]
pub(crate) enum OutboxOp {
    /// Creates the sink's cursor if it has none; answers the cursor.
    Open {
        sink: String,
        start: SinkStart,
    },
    Write(OutboxWrite),
    /// Makes dead letters pending again, due at once, with a fresh schedule; answers how many.
    RequeueDead {
        selection: DeadSelection,
    },
    /// Deletes dead letters; answers how many.
    DropDead {
        selection: DeadSelection,
    },
}

/// Applies `op` within the writer's transaction.
pub(crate) fn apply(tx: &Connection, op: &OutboxOp, now_ms: i64) -> rusqlite::Result<i64> {
    match op {
        OutboxOp::Open { sink, start } => open(tx, sink, *start, now_ms),
        OutboxOp::Write(write) => self::write(tx, write).map(|()| 0),
        OutboxOp::RequeueDead { selection } => {
            // Due at once whatever the worker's clock says: 0 is before any time it can have.
            let (clause, values) = selected(selection);
            let sql = format!(
                "UPDATE sink_attempts SET state = 'pending', attempts = 0, next_attempt_at_ms = 0,
                        updated_at_ms = ? WHERE state = 'dead'{clause}"
            );
            let mut all = vec![Value::Integer(now_ms)];
            all.extend(values);
            tx.execute(&sql, params_from_iter(all)).map(|n| n as i64)
        }
        OutboxOp::DropDead { selection } => {
            let (clause, values) = selected(selection);
            let sql = format!("DELETE FROM sink_attempts WHERE state = 'dead'{clause}");
            tx.execute(&sql, params_from_iter(values)).map(|n| n as i64)
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

fn write(tx: &Connection, write: &OutboxWrite) -> rusqlite::Result<()> {
    if let Some(cursor) = write.cursor {
        tx.prepare_cached(
            "INSERT INTO sink_cursors (sink, last_event_id, updated_at_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT (sink) DO UPDATE SET last_event_id = max(last_event_id, excluded.last_event_id),
                                              updated_at_ms = excluded.updated_at_ms",
        )?
        .execute(params![write.sink, cursor, write.now_ms])?;
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
    for change in &write.changes {
        match change {
            AttemptChange::Delivered { id } => {
                tx.prepare_cached("DELETE FROM sink_attempts WHERE id = ?1")?
                    .execute([id])?;
            }
            AttemptChange::Retry {
                id,
                attempts,
                next_attempt_at_ms,
                error,
            } => {
                tx.prepare_cached(
                    "UPDATE sink_attempts SET attempts = ?2, next_attempt_at_ms = ?3, last_error = ?4,
                            updated_at_ms = ?5 WHERE id = ?1 AND state = 'pending'",
                )?
                .execute(params![id, attempts, next_attempt_at_ms, error, write.now_ms])?;
            }
            AttemptChange::Dead {
                id,
                attempts,
                error,
            } => {
                tx.prepare_cached(
                    "UPDATE sink_attempts SET state = 'dead', attempts = ?2, next_attempt_at_ms = NULL,
                            last_error = ?3, updated_at_ms = ?4 WHERE id = ?1",
                )?
                .execute(params![id, attempts, error, write.now_ms])?;
            }
        }
    }
    Ok(())
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

/// Pending rows of a sink, earliest due first, each with its event (and raw JSON). With `fifo`, only
/// the first pending row of each conversation: the others wait until it is delivered or dead.
pub(crate) fn due(
    conn: &Connection,
    query: &DueQuery,
) -> rusqlite::Result<Vec<(Attempt, StoredEvent)>> {
    let fifo = if query.fifo {
        "AND (a.conversation_key IS NULL OR NOT EXISTS (
             SELECT 1 FROM sink_attempts b
             WHERE b.sink = a.sink AND b.conversation_key = a.conversation_key AND b.state = 'pending'
               AND (coalesce(b.timestamp_ms, 0), b.event_id) < (coalesce(a.timestamp_ms, 0), a.event_id)))"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {ATTEMPT_COLUMNS}, {events}
         FROM sink_attempts a
         JOIN events e ON e.id = a.event_id
         JOIN deliveries d ON d.id = e.delivery_id
         WHERE a.sink = ?1 AND a.state = 'pending' {fifo}
         ORDER BY a.next_attempt_at_ms, a.id
         LIMIT ?2",
        events = super::read::EVENT_COLUMNS_WITH_RAW,
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map(params![query.sink, query.limit as i64], |row| {
        Ok((attempt_row(row)?, super::read::event_row_at(row, 11)?))
    })?;
    rows.collect()
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
                  WHERE a.sink = c.sink AND a.state = 'pending')
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
            head,
        })
    })?;
    rows.collect()
}
