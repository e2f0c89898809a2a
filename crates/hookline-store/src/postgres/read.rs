//! Queries for events and deliveries, on pooled connections: the same filters, order and limits as
//! SQLite's `read.rs`, each a statement prepared once per connection.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::model::{DeliveryQuery, EventQuery, Outcome, StoredDelivery, StoredEvent};
use crate::postgres::owned_text;

macro_rules! event_columns {
    () => {
        "e.id, e.delivery_id, e.received_at_ms, e.dedup_key, e.object, e.entry_id,
        e.channel, e.kind, e.field, e.sender, e.user_ref, e.recipient, e.timestamp_ms, e.mid,
        e.conversation_key, e.duplicates"
    };
}

/// The raw JSON: the event's own copy, or else the span of its delivery's body as bytes, decoded in
/// Rust so that no body can make the query itself fail.
macro_rules! raw_columns {
    () => {
        "e.raw, CASE WHEN e.raw IS NULL
            THEN substring(d.body FROM (e.raw_start + 1)::int FOR e.raw_len::int) END"
    };
}

/// An event's columns and its raw JSON, for a query that joins `events e` and `deliveries d`.
pub(crate) const EVENT_COLUMNS_WITH_RAW: &str = concat!(event_columns!(), ", ", raw_columns!());

/// `SELECT` of an event's columns `FROM events e`, with the raw JSON or `NULL`s in its place.
fn select_events(with_raw: bool) -> String {
    let mut sql = String::from("SELECT ");
    if with_raw {
        sql.push_str(EVENT_COLUMNS_WITH_RAW);
        sql.push_str(" FROM events e JOIN deliveries d ON d.id = e.delivery_id");
    } else {
        sql.push_str(event_columns!());
        sql.push_str(", NULL::text, NULL::bytea FROM events e");
    }
    sql
}

pub(crate) async fn events(
    client: &impl GenericClient,
    query: &EventQuery,
) -> Result<Vec<StoredEvent>, tokio_postgres::Error> {
    let mut sql = select_events(query.with_raw);
    let mut filters = Filters::default();
    filters.add("e.id > ?", query.after_id);
    filters.add("e.id < ?", query.before_id);
    filters.add("e.kind = ?", query.kind.as_deref().map(owned_text));
    filters.add(
        "e.conversation_key = ?",
        query.conversation_key.as_deref().map(owned_text),
    );
    // No index on the event time (see sqlite/schema.rs): a filter on the id-ordered scan.
    filters.add("e.timestamp_ms >= ?", query.from_ms);
    filters.add("e.timestamp_ms < ?", query.until_ms);
    let order = if query.newest_first {
        "e.id DESC"
    } else {
        "e.id"
    };
    filters.finish(&mut sql, order, query.limit);
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &filters.params()).await?;
    rows.iter().map(|row| event_row_at(row, 0)).collect()
}

/// Every event of a conversation with its raw JSON, through the projection's index of them.
pub(crate) async fn events_of_conversation(
    client: &impl GenericClient,
    key: &str,
) -> Result<Vec<StoredEvent>, tokio_postgres::Error> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS_WITH_RAW}
         FROM conversation_events ce
         JOIN events e ON e.id = ce.event_id
         JOIN deliveries d ON d.id = e.delivery_id
         WHERE ce.conversation_key = $1
         ORDER BY e.id"
    );
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &[&key]).await?;
    rows.iter().map(|row| event_row_at(row, 0)).collect()
}

/// An event read from the 18 columns of [`EVENT_COLUMNS_WITH_RAW`] starting at column `at`.
pub(crate) fn event_row_at(row: &Row, at: usize) -> Result<StoredEvent, tokio_postgres::Error> {
    let raw: Option<String> = row.try_get(at + 16)?;
    let span: Option<&[u8]> = row.try_get(at + 17)?;
    Ok(StoredEvent {
        id: row.try_get(at)?,
        delivery_id: row.try_get(at + 1)?,
        received_at_ms: row.try_get(at + 2)?,
        dedup_key: row.try_get(at + 3)?,
        object: row.try_get(at + 4)?,
        entry_id: row.try_get(at + 5)?,
        channel: row.try_get(at + 6)?,
        kind: row.try_get(at + 7)?,
        field: row.try_get(at + 8)?,
        sender: row.try_get(at + 9)?,
        user_ref: row.try_get(at + 10)?,
        recipient: row.try_get(at + 11)?,
        timestamp_ms: row.try_get(at + 12)?,
        mid: row.try_get(at + 13)?,
        conversation_key: row.try_get(at + 14)?,
        duplicates: row.try_get(at + 15)?,
        raw: raw.or_else(|| span.map(|bytes| String::from_utf8_lossy(bytes).into_owned())),
    })
}

/// `SELECT` of a delivery's columns `FROM deliveries`, with the body or a `NULL` in its place.
fn select_deliveries(with_body: bool) -> String {
    let body = if with_body { "body" } else { "NULL::bytea" };
    format!(
        "SELECT id, received_at_ms, app, secret_index, signature, api_version, user_agent, outcome, error,
                event_count, new_event_count, octet_length(body)::int8, {body}
         FROM deliveries"
    )
}

pub(crate) async fn deliveries(
    client: &impl GenericClient,
    query: &DeliveryQuery,
) -> Result<Vec<StoredDelivery>, tokio_postgres::Error> {
    let mut sql = select_deliveries(query.with_body);
    let mut filters = Filters::default();
    filters.add("id > ?", query.after_id);
    filters.add("id < ?", query.before_id);
    filters.add("outcome = ?", query.outcome.map(|o| o.as_str().to_owned()));
    // No index on the receive time (it would cost every append): a filter on the id-ordered scan.
    filters.add("received_at_ms >= ?", query.received_from_ms);
    filters.add("received_at_ms < ?", query.received_until_ms);
    let order = if query.newest_first { "id DESC" } else { "id" };
    filters.finish(&mut sql, order, query.limit);
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &filters.params()).await?;
    rows.iter().map(delivery_row).collect()
}

pub(crate) async fn event(
    client: &impl GenericClient,
    id: i64,
    with_raw: bool,
) -> Result<Option<StoredEvent>, tokio_postgres::Error> {
    let sql = format!("{} WHERE e.id = $1", select_events(with_raw));
    let statement = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&statement, &[&id]).await?;
    row.map(|row| event_row_at(&row, 0)).transpose()
}

pub(crate) async fn delivery(
    client: &impl GenericClient,
    id: i64,
    with_body: bool,
) -> Result<Option<StoredDelivery>, tokio_postgres::Error> {
    let sql = format!("{} WHERE id = $1", select_deliveries(with_body));
    let statement = client.prepare_cached(&sql).await?;
    let row = client.query_opt(&statement, &[&id]).await?;
    row.map(|row| delivery_row(&row)).transpose()
}

/// The events delivery `id` stored first. As in SQLite, `events.delivery_id` has no index, but the
/// writer gives each delivery's new events consecutive ids after those of every earlier delivery (under
/// the append lock, across instances too), so `delivery_id` never decreases along `events.id`: a binary
/// search over the primary key, run by the server as a recursive query in one round trip, finds the
/// first, and the rest follow it.
const DELIVERY_EVENTS: &str = "
    WITH RECURSIVE search (low, high) AS (
        SELECT 0::int8, (SELECT coalesce(max(id), 0) FROM events) + 1
      UNION ALL
        SELECT CASE WHEN probe.at IS NULL OR probe.at >= $1 THEN search.low ELSE middle.at + 1 END,
               CASE WHEN probe.at IS NULL OR probe.at >= $1 THEN middle.at ELSE search.high END
        FROM search,
             LATERAL (SELECT search.low + (search.high - search.low) / 2 AS at) middle,
             LATERAL (SELECT (SELECT delivery_id FROM events WHERE id >= middle.at ORDER BY id LIMIT 1) AS at) probe
        WHERE search.low < search.high
    )
    SELECT low FROM search WHERE low >= high";

pub(crate) async fn delivery_events(
    client: &impl GenericClient,
    id: i64,
) -> Result<Vec<StoredEvent>, tokio_postgres::Error> {
    let count = client
        .prepare_cached("SELECT new_event_count FROM deliveries WHERE id = $1")
        .await?;
    let new_events: Option<i64> = client
        .query_opt(&count, &[&id])
        .await?
        .map(|row| row.try_get(0))
        .transpose()?;
    let Some(count @ 1..) = new_events else {
        return Ok(Vec::new());
    };
    let sql = format!(
        "WITH first AS ({DELIVERY_EVENTS})
         {} WHERE e.id >= (SELECT low FROM first) AND e.delivery_id = $1 ORDER BY e.id LIMIT $2",
        select_events(false)
    );
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &[&id, &count]).await?;
    rows.iter().map(|row| event_row_at(row, 0)).collect()
}

fn delivery_row(row: &Row) -> Result<StoredDelivery, tokio_postgres::Error> {
    let outcome: &str = row.try_get(7)?;
    let secret_index: Option<i64> = row.try_get(3)?;
    Ok(StoredDelivery {
        id: row.try_get(0)?,
        received_at_ms: row.try_get(1)?,
        app: row.try_get(2)?,
        secret_index: secret_index.map(|index| u32::try_from(index).unwrap_or(u32::MAX)),
        signature: row.try_get(4)?,
        api_version: row.try_get(5)?,
        user_agent: row.try_get(6)?,
        outcome: Outcome::from_name(outcome).unwrap_or(Outcome::Accepted),
        error: row.try_get(8)?,
        event_count: row.try_get(9)?,
        new_event_count: row.try_get(10)?,
        body_len: row.try_get(11)?,
        body: row.try_get(12)?,
    })
}

/// A parameter of a statement built at run time.
pub(crate) type Param = Box<dyn ToSql + Sync + Send>;

/// `WHERE` clauses with their parameters, only for the filters a query sets; `?` in a clause becomes the
/// parameter's `$n`.
#[derive(Default)]
pub(crate) struct Filters {
    clauses: Vec<String>,
    values: Vec<Param>,
}

impl Filters {
    pub(crate) fn add<T: ToSql + Sync + Send + 'static>(&mut self, clause: &str, value: Option<T>) {
        if let Some(value) = value {
            self.push(clause, vec![Box::new(value)]);
        }
    }

    /// A clause with two parameters, the first `?` for `a` and the second for `b`.
    pub(crate) fn add_pair<A, B>(&mut self, clause: &str, a: A, b: B)
    where
        A: ToSql + Sync + Send + 'static,
        B: ToSql + Sync + Send + 'static,
    {
        self.push(clause, vec![Box::new(a), Box::new(b)]);
    }

    fn push(&mut self, clause: &str, values: Vec<Param>) {
        let mut numbered = String::with_capacity(clause.len() + 4 * values.len());
        let mut parts = clause.split('?');
        numbered.push_str(parts.next().unwrap_or_default());
        for (value, part) in values.into_iter().zip(parts) {
            self.values.push(value);
            numbered.push_str(&format!("${}", self.values.len()));
            numbered.push_str(part);
        }
        self.clauses.push(numbered);
    }

    /// Appends the `WHERE`, `ORDER BY` and `LIMIT` clauses.
    pub(crate) fn finish(&mut self, sql: &mut String, order_by: &str, limit: usize) {
        if !self.clauses.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&self.clauses.join(" AND "));
        }
        self.values
            .push(Box::new(limit.min(i64::MAX as usize) as i64));
        sql.push_str(&format!(
            " ORDER BY {order_by} LIMIT ${}",
            self.values.len()
        ));
    }

    pub(crate) fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.values
            .iter()
            .map(|value| value.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_number_their_parameters_in_order_and_end_with_the_limit() {
        let mut filters = Filters::default();
        filters.add("a > ?", Some(1_i64));
        filters.add("b = ?", None::<String>);
        filters.add("c = ?", Some("x".to_owned()));
        filters.add_pair("(d, e) < (?, ?)", 2_i64, "y".to_owned());
        let mut sql = String::from("SELECT 1 FROM t");
        filters.finish(&mut sql, "id", usize::MAX);
        assert_eq!(
            sql,
            "SELECT 1 FROM t WHERE a > $1 AND c = $2 AND (d, e) < ($3, $4) ORDER BY id LIMIT $5"
        );
        assert_eq!(filters.params().len(), 5);
    }
}
