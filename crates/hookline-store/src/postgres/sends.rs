//! Sends' SQL in PostgreSQL (see [`crate::send`]). As the outbox's changes, each change is a
//! transaction of its own on a pooled connection; a mark locks its send's row, so two instances marking
//! one send at once apply one mark and judge the other against it, as SQLite's single writer does.

use deadpool_postgres::{GenericClient, Object};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;

use crate::conversation::conversation_id;
use crate::conversation::sends::InList;
use crate::conversation::view::Counterpart;
use crate::error::StoreError;
use crate::postgres::text;
use crate::send::{NewSend, SendId, SendOutcome, SendStatus, StoredSend, message_id_taken};

type Error = tokio_postgres::Error;

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

/// Records a pending send, or answers the one recorded under its id when it is the same send.
pub(crate) async fn create(
    client: &Object,
    send: &NewSend,
) -> Result<Result<StoredSend, StoreError>, Error> {
    if let Err(refused) = send.check() {
        return Ok(Err(refused));
    }
    let new = StoredSend::pending(send);
    let (recipient_id, recipient_user_ref) = match &new.recipient {
        Counterpart::Id(id) => (Some(text(id)), None),
        Counterpart::UserRef(user_ref) => (None, Some(text(user_ref))),
    };
    let insert = client
        .prepare_cached(
            "INSERT INTO sends (id, conversation_key, object, account_id, recipient_id,
                                recipient_user_ref, request, status, created_at_ms, updated_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
             ON CONFLICT (id) DO NOTHING",
        )
        .await?;
    // serde_json escapes control characters, so the request's JSON holds no NUL.
    let inserted = client
        .execute(
            &insert,
            &[
                &new.id.as_str(),
                &text(&new.conversation_key),
                &text(&new.object),
                &text(&new.account_id),
                &recipient_id,
                &recipient_user_ref,
                &new.request.to_string(),
                &new.status.as_str(),
                &new.created_at_ms,
            ],
        )
        .await?;
    // A statement of its own: in READ COMMITTED it sees the row another instance recorded meanwhile.
    let Some(stored) = get(client, new.id.as_str()).await? else {
        return Ok(Err(vanished(&new.id)));
    };
    Ok(if inserted == 1 {
        Ok(stored)
    } else {
        stored.created_again(send)
    })
}

/// Records a send's outcome, in a transaction that holds its row.
pub(crate) async fn mark(
    client: &mut Object,
    id: &SendId,
    outcome: &SendOutcome,
    at_ms: i64,
) -> Result<Result<StoredSend, StoreError>, Error> {
    if let Err(refused) = outcome.check(id) {
        return Ok(Err(refused));
    }
    let tx = client.transaction().await?;
    let locked = tx
        .prepare_cached(concat!(
            "SELECT ",
            send_columns!(),
            " FROM sends s WHERE s.id = $1 FOR UPDATE"
        ))
        .await?;
    let Some(row) = tx.query_opt(&locked, &[&id.as_str()]).await? else {
        return Ok(Err(StoreError::UnknownSend { id: id.to_string() }));
    };
    let stored = send_row_at(&row, 0)?;
    match outcome.changes(&stored) {
        Err(refused) => return Ok(Err(refused)),
        Ok(false) => return Ok(Ok(stored)),
        Ok(true) => {}
    }
    let message_id = outcome.message_id().map(text);
    if let Some(message_id) = &message_id
        && let Some(holder) = by_message_id(&tx, message_id).await?
    {
        return Ok(Err(message_id_taken(id, message_id, holder.id.as_str())));
    }
    let update = tx
        .prepare_cached(
            "UPDATE sends SET status = $2, message_id = $3, error = $4, updated_at_ms = $5
             WHERE id = $1",
        )
        .await?;
    let error = outcome.error().map(text);
    let updated = tx
        .execute(
            &update,
            &[
                &id.as_str(),
                &outcome.status().as_str(),
                &message_id,
                &error,
                &at_ms,
            ],
        )
        .await;
    match updated {
        // Another instance gave the same message id to another send between the check and the update.
        Err(err) if err.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            let message_id = message_id.as_deref().unwrap_or_default();
            return Ok(Err(message_id_taken(id, message_id, "another send")));
        }
        other => other?,
    };
    let Some(now) = get(&tx, id.as_str()).await? else {
        return Ok(Err(vanished(id)));
    };
    tx.commit().await?;
    Ok(Ok(now))
}

/// A send gone between two statements of one change: sends are never deleted, so only a database
/// changed behind hookline's back does this.
fn vanished(id: &SendId) -> StoreError {
    StoreError::Query {
        message: format!(
            "send {id} disappeared while it was written; check that nothing else deletes rows of the \
             sends table"
        ),
    }
}

pub(crate) async fn get(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<StoredSend>, Error> {
    let statement = client
        .prepare_cached(concat!(
            "SELECT ",
            send_columns!(),
            " FROM sends s WHERE s.id = $1"
        ))
        .await?;
    let row = client.query_opt(&statement, &[&text(id)]).await?;
    row.map(|row| send_row_at(&row, 0)).transpose()
}

pub(crate) async fn by_message_id(
    client: &impl GenericClient,
    message_id: &str,
) -> Result<Option<StoredSend>, Error> {
    let statement = client
        .prepare_cached(concat!(
            "SELECT ",
            send_columns!(),
            " FROM sends s WHERE s.message_id = $1"
        ))
        .await?;
    let row = client.query_opt(&statement, &[&text(message_id)]).await?;
    row.map(|row| send_row_at(&row, 0)).transpose()
}

/// A conversation's sends, oldest first.
pub(crate) async fn of_conversation(
    client: &impl GenericClient,
    key: &str,
) -> Result<Vec<StoredSend>, Error> {
    let statement = client
        .prepare_cached(concat!(
            "SELECT ",
            send_columns!(),
            " FROM sends s WHERE s.conversation_key = $1 ORDER BY s.created_at_ms, s.id"
        ))
        .await?;
    let rows = client.query(&statement, &[&text(key)]).await?;
    rows.iter().map(|row| send_row_at(row, 0)).collect()
}

/// What their sends add to the list items of these conversations, each given with the mid of its last
/// message when that is outbound (to find the send it is an echo of): in one statement, in the keys'
/// order.
pub(crate) async fn in_list(
    client: &impl GenericClient,
    keys: &[&str],
    echo_mids: &[Option<&str>],
) -> Result<Vec<InList>, Error> {
    let statement = client
        .prepare_cached(concat!(
            "SELECT a.sends, a.unechoed, a.latest_ms, p.echo_send, l.*
             FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(key, echo_mid, n)
             CROSS JOIN LATERAL (
                 SELECT count(*) AS sends, count(*) FILTER (WHERE NOT x.echoed) AS unechoed,
                        max(x.created_at_ms) FILTER (WHERE x.status <> 'failed') AS latest_ms
                 FROM (SELECT s.created_at_ms, s.status, ",
            echoed!(),
            " AS echoed FROM sends s WHERE s.conversation_key = u.key) x
             ) a
             LEFT JOIN LATERAL (
                 SELECT ",
            send_columns!(),
            " FROM sends s WHERE s.conversation_key = u.key AND NOT ",
            echoed!(),
            " ORDER BY s.created_at_ms DESC, s.id DESC LIMIT 1
             ) l ON true
             LEFT JOIN LATERAL (
                 -- The send the echo names by metadata first, else the one that holds its mid.
                 SELECT s.id AS echo_send FROM sends s
                 WHERE s.conversation_key = u.key
                   AND (s.message_id = u.echo_mid
                        OR s.id IN (SELECT ce.metadata FROM conversation_events ce
                                    WHERE ce.conversation_key = u.key AND ce.kind = 'message_echo'
                                      AND ce.mid = u.echo_mid))
                 ORDER BY coalesce(s.message_id = u.echo_mid, false), s.id LIMIT 1
             ) p ON true
             ORDER BY u.n"
        ))
        .await?;
    let rows = client.query(&statement, &[&keys, &echo_mids]).await?;
    rows.iter()
        .map(|row| {
            let latest: Option<&str> = row.try_get(4)?;
            Ok(InList {
                unechoed: row.try_get(1)?,
                latest_ms: row.try_get(2)?,
                echo_send: row.try_get(3)?,
                latest_unechoed: match latest {
                    Some(_) => Some(send_row_at(row, 4)?),
                    None => None,
                },
            })
        })
        .collect()
}

/// A send read from the 12 columns of `send_columns!` starting at column `at`.
fn send_row_at(row: &Row, at: usize) -> Result<StoredSend, Error> {
    let key: String = row.try_get(at + 1)?;
    let recipient = match (
        row.try_get::<_, Option<String>>(at + 4)?,
        row.try_get::<_, Option<String>>(at + 5)?,
    ) {
        (Some(id), _) => Counterpart::Id(id),
        (None, user_ref) => Counterpart::UserRef(user_ref.unwrap_or_default()),
    };
    let request: String = row.try_get(at + 6)?;
    let status: &str = row.try_get(at + 7)?;
    Ok(StoredSend {
        id: SendId::stored(row.try_get(at)?),
        conversation_id: conversation_id(&key),
        conversation_key: key,
        object: row.try_get(at + 2)?,
        account_id: row.try_get(at + 3)?,
        recipient,
        // Written from a JSON value; a string is the fallback should a row ever hold otherwise.
        request: serde_json::from_str(&request).unwrap_or(serde_json::Value::String(request)),
        status: SendStatus::from_name(status).unwrap_or(SendStatus::Pending),
        message_id: row.try_get(at + 8)?,
        error: row.try_get(at + 9)?,
        created_at_ms: row.try_get(at + 10)?,
        updated_at_ms: row.try_get(at + 11)?,
    })
}
