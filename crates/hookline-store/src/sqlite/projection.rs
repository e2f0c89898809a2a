//! The conversation projection in SQLite: applying committed events to the conversation and account
//! summaries, and reading conversations back.
//!
//! Projection runs on the writer thread, between group commits (see `writer.rs`): SQLite has one write
//! lock, and a second writing thread would make ingest commits wait on SQLite's sleeping busy handler.
//! Each step takes the next events after the projection's cursor, in one transaction with the cursor,
//! so an event is applied exactly once even across crashes (and applying it twice would change nothing:
//! see [`crate::conversation::summary`]).

use std::collections::{HashMap, VecDeque};

use hookline_meta::ParseOptions;
use rusqlite::{Connection, OptionalExtension, Transaction, params};

use crate::conversation::facts::Facts;
use crate::conversation::sends::{last_outbound_ms, preview};
use crate::conversation::summary::{AccountSummary, Summary, counterpart_of};
use crate::conversation::view::{Account, Conversation};
use crate::conversation::{ConversationQuery, conversation_id};
use crate::model::{EventQuery, StoredEvent};
use crate::sqlite::read;
use crate::sqlite::sends as sqlite_sends;

/// Events applied in one projection step: small enough that a delivery arriving meanwhile waits a
/// millisecond or two (steps of 500 raised the ingest p99 by 2-3 ms under load), large enough that the
/// step's own commit and the conversations it loads and saves are shared by many events.
pub(crate) const STEP_EVENTS: usize = 200;

/// A committed event waiting for the projection, with what it takes from the typed event (`None` for an
/// event with no typed form, which it leaves out of the summaries).
#[derive(Debug)]
pub(crate) struct Pending {
    pub event: StoredEvent,
    pub facts: Option<Facts>,
}

/// The id of the last event the projection has applied.
pub(crate) fn position(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT last_event_id FROM projection_state WHERE id = 1",
        [],
        |row| row.get(0),
    )
}

/// Applies the next events after the cursor (at most [`STEP_EVENTS`]); returns the new position.
///
/// `recent` holds the latest committed events in id order, with their facts; when they follow on from
/// the cursor they are used as they are, otherwise the events are read from the file and parsed again.
pub(crate) fn step(tx: &Transaction<'_>, recent: &VecDeque<Pending>) -> rusqlite::Result<i64> {
    let from = position(tx)?;
    let start = recent.iter().position(|p| p.event.id > from);
    let read_back: Vec<Pending>;
    let events: Vec<&Pending> = match start {
        Some(i) if recent[i].event.id == from + 1 => recent.range(i..).take(STEP_EVENTS).collect(),
        _ => {
            let query = EventQuery {
                after_id: Some(from),
                limit: STEP_EVENTS,
                with_raw: true,
                ..EventQuery::default()
            };
            let options = ParseOptions::default();
            read_back = read::events(tx, &query)?
                .into_iter()
                .map(|event| Pending {
                    facts: Facts::read(&event, &options),
                    event,
                })
                .collect();
            read_back.iter().collect()
        }
    };
    let Some(last) = events.last().map(|p| p.event.id) else {
        return Ok(from);
    };
    let mut conversations: HashMap<String, Summary> = HashMap::new();
    let mut accounts: HashMap<(String, String), AccountSummary> = HashMap::new();
    for pending in events {
        apply(tx, pending, &mut conversations, &mut accounts)?;
    }
    for (key, summary) in &conversations {
        save_conversation(tx, key, summary)?;
    }
    for ((object, account), summary) in &accounts {
        tx.prepare_cached(
            "INSERT INTO accounts (object, account_id, state) VALUES (?1, ?2, ?3)
             ON CONFLICT (object, account_id) DO UPDATE SET state = excluded.state",
        )?
        .execute(params![object, account, to_json(summary)])?;
    }
    tx.execute(
        "UPDATE projection_state SET last_event_id = ?1 WHERE id = 1",
        [last],
    )?;
    Ok(last)
}

/// Applies one event to its conversation and its account.
fn apply(
    tx: &Transaction<'_>,
    Pending { event, facts }: &Pending,
    conversations: &mut HashMap<String, Summary>,
    accounts: &mut HashMap<(String, String), AccountSummary>,
) -> rusqlite::Result<()> {
    if let Some(key) = &event.conversation_key {
        if !conversations.contains_key(key) {
            let summary = load_conversation(tx, key)?.unwrap_or_default();
            conversations.insert(key.clone(), summary);
        }
        if let (Some(summary), Some(facts)) = (conversations.get_mut(key), facts) {
            summary.merge(event, facts);
        }
        let (mid, metadata) = facts.as_ref().and_then(|f| f.echo.clone()).unzip();
        tx.prepare_cached(
            "INSERT OR IGNORE INTO conversation_events
                 (conversation_key, event_id, timestamp_ms, kind, mid, metadata)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![
            key,
            event.id,
            event.timestamp_ms,
            event.kind,
            mid,
            metadata.flatten()
        ])?;
    }
    if let (Some(object), Some(account)) = (&event.object, &event.entry_id) {
        let id = (object.clone(), account.clone());
        if !accounts.contains_key(&id) {
            let summary = load_account(tx, &id)?.unwrap_or_default();
            accounts.insert(id.clone(), summary);
        }
        if let (Some(summary), Some(facts)) = (accounts.get_mut(&id), facts) {
            summary.merge(event, facts);
        }
    }
    Ok(())
}

fn load_conversation(conn: &Connection, key: &str) -> rusqlite::Result<Option<Summary>> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM conversations WHERE key = ?1")?
        .query_row([key], |row| row.get(0))
        .optional()?;
    Ok(state.and_then(|s| serde_json::from_str(&s).ok()))
}

fn load_account(
    conn: &Connection,
    (object, account): &(String, String),
) -> rusqlite::Result<Option<AccountSummary>> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM accounts WHERE object = ?1 AND account_id = ?2")?
        .query_row([object, account], |row| row.get(0))
        .optional()?;
    Ok(state.and_then(|s| serde_json::from_str(&s).ok()))
}

fn save_conversation(tx: &Transaction<'_>, key: &str, summary: &Summary) -> rusqlite::Result<()> {
    let Some((object, account, _)) = counterpart_of(key) else {
        return Ok(());
    };
    let owner = summary.owner.as_ref().and_then(|o| o.value.clone());
    tx.prepare_cached(
        "INSERT INTO conversations (key, id, object, account_id, last_event_ms, owner_app_id, state)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (key) DO UPDATE SET last_event_ms = excluded.last_event_ms,
             owner_app_id = excluded.owner_app_id, state = excluded.state",
    )?
    .execute(params![
        key,
        conversation_id(key),
        object,
        account,
        summary.last_event_ms.unwrap_or(0),
        owner,
        to_json(summary),
    ])?;
    Ok(())
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// Conversations, newest activity first.
pub(crate) fn conversations(
    conn: &Connection,
    query: &ConversationQuery,
) -> rusqlite::Result<Vec<Conversation>> {
    let mut sql = String::from("SELECT key, id, state FROM conversations WHERE 1 = 1");
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut add = |clause: &str, value: rusqlite::types::Value| {
        sql.push_str(clause);
        values.push(value);
    };
    use rusqlite::types::Value as V;
    if let Some(account) = &query.account {
        add(" AND account_id = ?", V::Text(account.clone()));
    }
    if let Some(since) = query.updated_since_ms {
        add(" AND last_event_ms >= ?", V::Integer(since));
    }
    if let Some(owner) = &query.owner_app_id {
        add(" AND owner_app_id = ?", V::Text(owner.clone()));
    }
    if let Some((ms, id)) = &query.before {
        sql.push_str(" AND (last_event_ms, id) < (?, ?)");
        values.push(V::Integer(*ms));
        values.push(V::Text(id.clone()));
    }
    sql.push_str(" ORDER BY last_event_ms DESC, id DESC LIMIT ?");
    values.push(V::Integer(query.limit.min(i64::MAX as usize) as i64));
    let mut stmt = conn.prepare(&sql)?;
    let rows = stmt.query_map(rusqlite::params_from_iter(values), |row| {
        Ok((
            row.get::<_, String>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    let rows: Vec<_> = rows.collect::<rusqlite::Result<_>>()?;
    rows.into_iter()
        .filter_map(|(key, id, state)| conversation(conn, key, id, &state).transpose())
        .collect()
}

/// One conversation by its id.
pub(crate) fn conversation_by_id(
    conn: &Connection,
    id: &str,
) -> rusqlite::Result<Option<Conversation>> {
    let row: Option<(String, String)> = conn
        .query_row(
            "SELECT key, state FROM conversations WHERE id = ?1",
            [id],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match row {
        Some((key, state)) => conversation(conn, key, id.to_owned(), &state),
        None => Ok(None),
    }
}

fn conversation(
    conn: &Connection,
    key: String,
    id: String,
    state: &str,
) -> rusqlite::Result<Option<Conversation>> {
    let Some((object, account_id, counterpart)) = counterpart_of(&key) else {
        return Ok(None);
    };
    let summary: Summary = serde_json::from_str(state).unwrap_or_default();
    let sends = sqlite_sends::in_list(conn, &key, &summary)?;
    let (message_count, unread): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE kind IN ('message', 'message_echo')),
                    count(*) FILTER (WHERE kind = 'message' AND timestamp_ms > ?2)
             FROM conversation_events WHERE conversation_key = ?1",
        )?
        .query_row(
            params![key, last_outbound_ms(&summary, &sends).unwrap_or(i64::MIN)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
    Ok(Some(Conversation {
        id,
        object,
        account_id,
        counterpart,
        last_event_ms: summary.last_event_ms,
        owner_app_id: summary.owner.as_ref().and_then(|o| o.value.clone()),
        standby: summary.standby.as_ref().is_some_and(|s| s.value),
        last_message: preview(&summary, &sends),
        unread,
        message_count: message_count + sends.unechoed,
        referral: summary.referral.as_ref().map(|r| r.value.clone()),
        key,
    }))
}

/// Every event of a conversation, with its raw JSON.
pub(crate) fn conversation_events(
    conn: &Connection,
    key: &str,
) -> rusqlite::Result<Vec<StoredEvent>> {
    read::events_of_conversation(conn, key)
}

/// Accounts that received events, with their conversation counts.
pub(crate) fn accounts(conn: &Connection) -> rusqlite::Result<Vec<Account>> {
    let mut stmt = conn.prepare(
        "SELECT a.object, a.account_id, a.state,
                (SELECT count(*) FROM conversations c WHERE c.object = a.object AND c.account_id = a.account_id)
         FROM accounts a ORDER BY a.object, a.account_id",
    )?;
    let rows = stmt.query_map([], |row| {
        let state: String = row.get(2)?;
        let summary: AccountSummary = serde_json::from_str(&state).unwrap_or_default();
        Ok(Account {
            object: row.get(0)?,
            account_id: row.get(1)?,
            conversations: row.get(3)?,
            last_event_ms: summary.last_event_ms,
            policy: summary.policy.map(|p| p.value),
        })
    })?;
    rows.collect()
}
