//! Queries, on read-only connections of their own: in WAL mode readers never block the writer nor wait
//! for it, so listing events does not slow ingest down.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params_from_iter};

use crate::error::StoreError;
use crate::model::{DeliveryQuery, EventQuery, Outcome, StoredDelivery, StoredEvent};

/// Idle read connections, reused across queries.
#[derive(Debug)]
pub(crate) struct Readers {
    path: PathBuf,
    busy_timeout: Duration,
    idle: Mutex<Vec<Connection>>,
}

impl Readers {
    pub(crate) fn new(path: PathBuf, busy_timeout: Duration) -> Self {
        Self {
            path,
            busy_timeout,
            idle: Mutex::default(),
        }
    }

    /// Runs `query` on an idle connection (or a new one) and puts the connection back.
    pub(crate) fn with<T>(
        &self,
        query: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open().map_err(StoreError::query)?,
        };
        let result = query(&conn).map_err(StoreError::query);
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(conn);
        result
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)?;
        conn.busy_timeout(self.busy_timeout)?;
        Ok(conn)
    }
}

macro_rules! event_columns {
    () => {
        "e.id, e.delivery_id, e.received_at_ms, e.dedup_key, e.object, e.entry_id,
        e.channel, e.kind, e.field, e.sender, e.user_ref, e.recipient, e.timestamp_ms, e.mid,
        e.conversation_key, e.duplicates"
    };
}

/// The raw JSON is a span of the delivery's body; SQLite's substr counts BLOB bytes from 1.
macro_rules! raw_column {
    () => {
        "coalesce(e.raw, CAST(substr(d.body, e.raw_start + 1, e.raw_len) AS TEXT))"
    };
}

const EVENT_COLUMNS: &str = event_columns!();

/// An event's columns and its raw JSON, for a query that joins `events e` and `deliveries d`.
pub(crate) const EVENT_COLUMNS_WITH_RAW: &str = concat!(event_columns!(), ", ", raw_column!());

/// `SELECT` of an event's columns `FROM events e`, with the raw JSON or a `NULL` in its place.
fn select_events(with_raw: bool) -> String {
    let mut sql = String::from("SELECT ");
    if with_raw {
        sql.push_str(EVENT_COLUMNS_WITH_RAW);
        sql.push_str(" FROM events e JOIN deliveries d ON d.id = e.delivery_id");
    } else {
        sql.push_str(EVENT_COLUMNS);
        sql.push_str(", NULL FROM events e");
    }
    sql
}

pub(crate) fn events(conn: &Connection, query: &EventQuery) -> rusqlite::Result<Vec<StoredEvent>> {
    let mut sql = select_events(query.with_raw);
    let mut filters = Filters::default();
    filters.add("e.id > ?", query.after_id.map(Value::Integer));
    filters.add("e.id < ?", query.before_id.map(Value::Integer));
    filters.add("e.kind = ?", query.kind.clone().map(Value::Text));
    filters.add(
        "e.conversation_key = ?",
        query.conversation_key.clone().map(Value::Text),
    );
    // No index on the event time (see schema.rs): a filter on the id-ordered scan.
    filters.add("e.timestamp_ms >= ?", query.from_ms.map(Value::Integer));
    filters.add("e.timestamp_ms < ?", query.until_ms.map(Value::Integer));
    let order = if query.newest_first {
        "e.id DESC"
    } else {
        "e.id"
    };
    filters.finish(&mut sql, order, query.limit);
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(filters.values), event_row)?;
    rows.collect()
}

/// Every event of a conversation with its raw JSON, through the projection's index of them.
pub(crate) fn events_of_conversation(
    conn: &Connection,
    key: &str,
) -> rusqlite::Result<Vec<StoredEvent>> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS_WITH_RAW}
         FROM conversation_events ce
         JOIN events e ON e.id = ce.event_id
         JOIN deliveries d ON d.id = e.delivery_id
         WHERE ce.conversation_key = ?1
         ORDER BY e.id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_map([key], event_row)?;
    rows.collect()
}

fn event_row(row: &Row<'_>) -> rusqlite::Result<StoredEvent> {
    event_row_at(row, 0)
}

/// An event read from the 17 columns of [`EVENT_COLUMNS_WITH_RAW`] starting at column `at`.
pub(crate) fn event_row_at(row: &Row<'_>, at: usize) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        id: row.get(at)?,
        delivery_id: row.get(at + 1)?,
        received_at_ms: row.get(at + 2)?,
        dedup_key: row.get(at + 3)?,
        object: row.get(at + 4)?,
        entry_id: row.get(at + 5)?,
        channel: row.get(at + 6)?,
        kind: row.get(at + 7)?,
        field: row.get(at + 8)?,
        sender: row.get(at + 9)?,
        user_ref: row.get(at + 10)?,
        recipient: row.get(at + 11)?,
        timestamp_ms: row.get(at + 12)?,
        mid: row.get(at + 13)?,
        conversation_key: row.get(at + 14)?,
        duplicates: row.get(at + 15)?,
        raw: row.get(at + 16)?,
    })
}

/// `SELECT` of a delivery's columns `FROM deliveries`, with the body or a `NULL` in its place.
fn select_deliveries(with_body: bool) -> String {
    let body = if with_body { "body" } else { "NULL" };
    format!(
        "SELECT id, received_at_ms, app, secret_index, signature, api_version, user_agent, outcome, error,
                event_count, new_event_count, length(body), {body}
         FROM deliveries"
    )
}

pub(crate) fn deliveries(
    conn: &Connection,
    query: &DeliveryQuery,
) -> rusqlite::Result<Vec<StoredDelivery>> {
    let mut sql = select_deliveries(query.with_body);
    let mut filters = Filters::default();
    filters.add("id > ?", query.after_id.map(Value::Integer));
    filters.add("id < ?", query.before_id.map(Value::Integer));
    filters.add(
        "outcome = ?",
        query.outcome.map(|o| Value::Text(o.as_str().to_owned())),
    );
    // No index on the receive time (it would cost every append, see schema.rs): the window is a filter
    // on the id-ordered scan, which is what a replay reads anyway.
    filters.add(
        "received_at_ms >= ?",
        query.received_from_ms.map(Value::Integer),
    );
    filters.add(
        "received_at_ms < ?",
        query.received_until_ms.map(Value::Integer),
    );
    let order = if query.newest_first { "id DESC" } else { "id" };
    filters.finish(&mut sql, order, query.limit);
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(params_from_iter(filters.values), delivery_row)?;
    rows.collect()
}

pub(crate) fn event(
    conn: &Connection,
    id: i64,
    with_raw: bool,
) -> rusqlite::Result<Option<StoredEvent>> {
    let sql = format!("{} WHERE e.id = ?1", select_events(with_raw));
    conn.query_row(&sql, [id], event_row).optional()
}

pub(crate) fn delivery(
    conn: &Connection,
    id: i64,
    with_body: bool,
) -> rusqlite::Result<Option<StoredDelivery>> {
    let sql = format!("{} WHERE id = ?1", select_deliveries(with_body));
    conn.query_row(&sql, [id], delivery_row).optional()
}

/// The events delivery `id` stored first. `events.delivery_id` has no index (see schema.rs), but the
/// single writer inserts each delivery's new events with consecutive ids after those of every earlier
/// delivery, so `delivery_id` never decreases along `events.id`: a binary search over the primary key
/// finds the first one in O(log² n), and the rest follow it.
pub(crate) fn delivery_events(conn: &Connection, id: i64) -> rusqlite::Result<Vec<StoredEvent>> {
    let new_events: Option<i64> = conn
        .query_row(
            "SELECT new_event_count FROM deliveries WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
        .optional()?;
    let Some(count @ 1..) = new_events else {
        return Ok(Vec::new());
    };
    let first = first_event_at_or_after_delivery(conn, id)?;
    let sql = format!(
        "{} WHERE e.id >= ?1 AND e.delivery_id = ?2 ORDER BY e.id LIMIT ?3",
        select_events(false)
    );
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map([first, id, count], event_row)?;
    rows.collect()
}

/// The smallest event id whose delivery is `delivery_id` or a later one (past the last event if none).
fn first_event_at_or_after_delivery(conn: &Connection, delivery_id: i64) -> rusqlite::Result<i64> {
    let mut probe =
        conn.prepare_cached("SELECT delivery_id FROM events WHERE id >= ?1 ORDER BY id LIMIT 1")?;
    let last: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM events", [], |row| {
        row.get(0)
    })?;
    // The answer lies in [low, high]; high = last + 1 stands for "no such event".
    let (mut low, mut high) = (0, last + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        let at: Option<i64> = probe.query_row([middle], |row| row.get(0)).optional()?;
        if at.is_none_or(|d| d >= delivery_id) {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    Ok(low)
}

fn delivery_row(row: &Row<'_>) -> rusqlite::Result<StoredDelivery> {
    let outcome: String = row.get(7)?;
    Ok(StoredDelivery {
        id: row.get(0)?,
        received_at_ms: row.get(1)?,
        app: row.get(2)?,
        secret_index: row.get(3)?,
        signature: row.get(4)?,
        api_version: row.get(5)?,
        user_agent: row.get(6)?,
        outcome: Outcome::from_name(&outcome).unwrap_or(Outcome::Accepted),
        error: row.get(8)?,
        event_count: row.get(9)?,
        new_event_count: row.get(10)?,
        body_len: row.get(11)?,
        body: row.get(12)?,
    })
}

/// `WHERE` clauses with their parameters, only for the filters a query sets.
#[derive(Default)]
struct Filters {
    clauses: Vec<&'static str>,
    values: Vec<Value>,
}

impl Filters {
    fn add(&mut self, clause: &'static str, value: Option<Value>) {
        if let Some(value) = value {
            self.clauses.push(clause);
            self.values.push(value);
        }
    }

    fn finish(&mut self, sql: &mut String, order_by: &str, limit: usize) {
        if !self.clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.clauses.join(" AND "));
        }
        sql.push_str(&format!(" ORDER BY {order_by} LIMIT ?"));
        self.values
            .push(Value::Integer(limit.min(i64::MAX as usize) as i64));
    }
}
