//! Sends' SQL (see [`crate::send`]): changes, applied by the writer thread inside its group transaction
//! (SQLite has one write lock), and reads, on the read connections.

use rusqlite::{Connection, OptionalExtension, Row, params};

use crate::conversation::sends::InList;
use crate::conversation::summary::Summary;
use crate::conversation::view::{Counterpart, Direction};
use crate::error::StoreError;
use crate::send::{NewSend, SendId, SendOutcome, SendStatus, StoredSend, message_id_taken};

/// A change to a send, run by the writer; answers the send as it stands after it.
#[derive(Debug)]
pub(crate) enum SendChange {
    Create(NewSend),
    Mark {
        id: SendId,
        outcome: SendOutcome,
        at_ms: i64,
    },
}

macro_rules! send_columns {
    () => {
        "s.id, s.conversation_key, s.object, s.account_id, s.recipient_id, s.recipient_user_ref,
         s.request, s.status, s.message_id, s.error, s.created_at_ms, s.updated_at_ms"
    };
}

/// Whether send `s` has an echo in its conversation: by the echo's metadata or by its mid (the rule of
/// `conversation/sends.rs`).
macro_rules! echoed {
    () => {
        "EXISTS (SELECT 1 FROM conversation_events ce
                 WHERE ce.conversation_key = s.conversation_key AND ce.kind = 'message_echo'
                   AND (ce.metadata = s.id OR ce.mid = s.message_id))"
    };
}

/// Applies `change` within the writer's transaction. The outer error is the database's; the inner one a
/// refusal, after which the caller rolls back what `change` did.
pub(crate) fn apply(
    tx: &Connection,
    change: &SendChange,
) -> rusqlite::Result<Result<StoredSend, StoreError>> {
    match change {
        SendChange::Create(send) => create(tx, send),
        SendChange::Mark { id, outcome, at_ms } => mark(tx, id, outcome, *at_ms),
    }
}

fn create(tx: &Connection, send: &NewSend) -> rusqlite::Result<Result<StoredSend, StoreError>> {
    if let Err(refused) = send.check() {
        return Ok(Err(refused));
    }
    if let Some(stored) = get(tx, send.id.as_str())? {
        return Ok(stored.created_again(send));
    }
    let new = StoredSend::pending(send);
    let (recipient_id, recipient_user_ref) = recipient_columns(&new.recipient);
    tx.prepare_cached(
        "INSERT INTO sends (id, conversation_key, object, account_id, recipient_id, recipient_user_ref,
                            request, status, message_id, error, created_at_ms, updated_at_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, NULL, NULL, ?9, ?9)",
    )?
    .execute(params![
        new.id.as_str(),
        new.conversation_key,
        new.object,
        new.account_id,
        recipient_id,
        recipient_user_ref,
        new.request.to_string(),
        new.status.as_str(),
        new.created_at_ms,
    ])?;
    stored_now(tx, &new.id)
}

fn mark(
    tx: &Connection,
    id: &SendId,
    outcome: &SendOutcome,
    at_ms: i64,
) -> rusqlite::Result<Result<StoredSend, StoreError>> {
    if let Err(refused) = outcome.check(id) {
        return Ok(Err(refused));
    }
    let Some(stored) = get(tx, id.as_str())? else {
        return Ok(Err(StoreError::UnknownSend { id: id.to_string() }));
    };
    match outcome.changes(&stored) {
        Err(refused) => return Ok(Err(refused)),
        Ok(false) => return Ok(Ok(stored)),
        Ok(true) => {}
    }
    if let Some(message_id) = outcome.message_id()
        && let Some(holder) = by_message_id(tx, message_id)?
    {
        return Ok(Err(message_id_taken(id, message_id, holder.id.as_str())));
    }
    tx.prepare_cached(
        "UPDATE sends SET status = ?2, message_id = ?3, error = ?4, updated_at_ms = ?5 WHERE id = ?1",
    )?
    .execute(params![
        id.as_str(),
        outcome.status().as_str(),
        outcome.message_id(),
        outcome.error(),
        at_ms,
    ])?;
    stored_now(tx, id)
}

/// The send as written, read back as every reader will see it.
fn stored_now(tx: &Connection, id: &SendId) -> rusqlite::Result<Result<StoredSend, StoreError>> {
    get(tx, id.as_str())?
        .map(Ok)
        .ok_or(rusqlite::Error::QueryReturnedNoRows)
}

fn recipient_columns(recipient: &Counterpart) -> (Option<&str>, Option<&str>) {
    match recipient {
        Counterpart::Id(id) => (Some(id), None),
        Counterpart::UserRef(user_ref) => (None, Some(user_ref)),
    }
}

pub(crate) fn get(conn: &Connection, id: &str) -> rusqlite::Result<Option<StoredSend>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        send_columns!(),
        " FROM sends s WHERE s.id = ?1"
    ))?
    .query_row([id], send_row)
    .optional()
}

pub(crate) fn by_message_id(
    conn: &Connection,
    message_id: &str,
) -> rusqlite::Result<Option<StoredSend>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        send_columns!(),
        " FROM sends s WHERE s.message_id = ?1"
    ))?
    .query_row([message_id], send_row)
    .optional()
}

/// A conversation's sends, oldest first.
pub(crate) fn of_conversation(conn: &Connection, key: &str) -> rusqlite::Result<Vec<StoredSend>> {
    let mut stmt = conn.prepare_cached(concat!(
        "SELECT ",
        send_columns!(),
        " FROM sends s WHERE s.conversation_key = ?1 ORDER BY s.created_at_ms, s.id"
    ))?;
    let rows = stmt.query_map([key], send_row)?;
    rows.collect()
}

/// What the conversation's sends add to its list item.
pub(crate) fn in_list(conn: &Connection, key: &str, summary: &Summary) -> rusqlite::Result<InList> {
    let (sends, unechoed, latest_ms): (i64, i64, Option<i64>) = conn
        .prepare_cached(concat!(
            "SELECT count(*), count(*) FILTER (WHERE NOT echoed),
                    max(created_at_ms) FILTER (WHERE status <> 'failed')
             FROM (SELECT s.created_at_ms, s.status, ",
            echoed!(),
            " AS echoed FROM sends s WHERE s.conversation_key = ?1)"
        ))?
        .query_row([key], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?;
    if sends == 0 {
        return Ok(InList::default());
    }
    let latest_unechoed = if unechoed > 0 {
        conn.prepare_cached(concat!(
            "SELECT ",
            send_columns!(),
            " FROM sends s WHERE s.conversation_key = ?1 AND NOT ",
            echoed!(),
            " ORDER BY s.created_at_ms DESC, s.id DESC LIMIT 1"
        ))?
        .query_row([key], send_row)
        .optional()?
    } else {
        None
    };
    let echo_mid = summary
        .last_message
        .as_ref()
        .filter(|last| last.value.direction == Direction::Out)
        .and_then(|last| last.value.mid.as_deref());
    let echo_send = match echo_mid {
        // The send the echo names by metadata first, else the one that holds its mid.
        Some(mid) => conn
            .prepare_cached(
                "SELECT s.id FROM sends s
                 WHERE s.conversation_key = ?1
                   AND (s.message_id = ?2
                        OR s.id IN (SELECT ce.metadata FROM conversation_events ce
                                    WHERE ce.conversation_key = ?1 AND ce.kind = 'message_echo'
                                      AND ce.mid = ?2))
                 ORDER BY coalesce(s.message_id = ?2, 0), s.id LIMIT 1",
            )?
            .query_row([key, mid], |row| row.get(0))
            .optional()?,
        None => None,
    };
    Ok(InList {
        unechoed,
        latest_ms,
        latest_unechoed,
        echo_send,
    })
}

fn send_row(row: &Row<'_>) -> rusqlite::Result<StoredSend> {
    let key: String = row.get(1)?;
    let recipient = match (
        row.get::<_, Option<String>>(4)?,
        row.get::<_, Option<String>>(5)?,
    ) {
        (Some(id), _) => Counterpart::Id(id),
        (None, user_ref) => Counterpart::UserRef(user_ref.unwrap_or_default()),
    };
    let request: String = row.get(6)?;
    let status: String = row.get(7)?;
    Ok(StoredSend {
        id: SendId::stored(row.get(0)?),
        conversation_id: crate::conversation::conversation_id(&key),
        conversation_key: key,
        object: row.get(2)?,
        account_id: row.get(3)?,
        recipient,
        // Written from a JSON value; a string is the fallback should a row ever hold otherwise.
        request: serde_json::from_str(&request).unwrap_or(serde_json::Value::String(request)),
        status: SendStatus::from_name(&status).unwrap_or(SendStatus::Pending),
        message_id: row.get(8)?,
        error: row.get(9)?,
        created_at_ms: row.get(10)?,
        updated_at_ms: row.get(11)?,
    })
}
