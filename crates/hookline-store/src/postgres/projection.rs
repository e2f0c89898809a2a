//! The conversation projection in PostgreSQL: applying committed events to the conversation and account
//! summaries (with the backend-independent code of [`crate::conversation`]), and reading them back.
//!
//! Each step applies the next events after `projection_state.last_event_id` in one transaction that
//! also moves it, reading the cursor `FOR UPDATE`, so an event is applied exactly once even across
//! crashes and instances (and applying it twice would change nothing: see
//! [`crate::conversation::summary`]). Which instance runs the steps is `projector.rs`'s business.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::GenericClient;
use hookline_meta::ParseOptions;

use crate::conversation::facts::Facts;
use crate::conversation::sends::{InList, last_outbound_ms, preview};
use crate::conversation::summary::{AccountSummary, Summary, counterpart_of};
use crate::conversation::view::{Account, Conversation, Direction};
use crate::conversation::{ConversationQuery, conversation_id};
use crate::model::{EventQuery, StoredEvent};
use crate::postgres::connection::Session;
use crate::postgres::read::{self, Filters};
use crate::postgres::sends;
use crate::postgres::{owned_text, text};

/// Events applied in one step (one transaction).
const STEP_EVENTS: usize = 500;

type Error = tokio_postgres::Error;

/// Applies the next events after the cursor (at most [`STEP_EVENTS`]) in one transaction; returns the
/// new position.
pub(crate) async fn step(session: &mut Session) -> Result<i64, Error> {
    let tx = session.transaction().await?;
    let cursor = tx
        .prepare_cached("SELECT last_event_id FROM projection_state WHERE id = 1 FOR UPDATE")
        .await?;
    let from: i64 = tx.query_one(&cursor, &[]).await?.try_get(0)?;
    let query = EventQuery {
        after_id: Some(from),
        limit: STEP_EVENTS,
        with_raw: true,
        ..EventQuery::default()
    };
    let events = read::events(&tx, &query).await?;
    let Some(last) = events.last().map(|e| e.id) else {
        tx.commit().await?;
        return Ok(from);
    };
    let (mut conversations, mut accounts) = load(&tx, &events).await?;
    let options = ParseOptions::default();
    let mut echoes = Vec::with_capacity(events.len());
    for event in &events {
        let facts = Facts::read(event, &options);
        let mut echo = None;
        if let Some(summary) = event
            .conversation_key
            .as_ref()
            .and_then(|key| conversations.get_mut(key))
            && let Some(facts) = &facts
        {
            summary.merge(event, facts);
            echo = facts.echo.clone();
        }
        echoes.push(echo);
        if let (Some(object), Some(account)) = (&event.object, &event.entry_id)
            && let Some(summary) = accounts.get_mut(&(object.clone(), account.clone()))
            && let Some(facts) = &facts
        {
            summary.merge(event, facts);
        }
    }
    tokio::try_join!(
        save_timeline(&tx, &events, &echoes),
        save_conversations(&tx, &conversations),
        save_accounts(&tx, &accounts),
        async {
            let statement = tx
                .prepare_cached("UPDATE projection_state SET last_event_id = $1 WHERE id = 1")
                .await?;
            tx.execute(&statement, &[&last]).await
        },
    )?;
    tx.commit().await?;
    Ok(last)
}

type Conversations = HashMap<String, Summary>;
type Accounts = HashMap<(String, String), AccountSummary>;

/// The stored summaries of every conversation and account the events touch (default ones for new
/// ones), read in two statements instead of one per key.
async fn load(
    client: &impl GenericClient,
    events: &[StoredEvent],
) -> Result<(Conversations, Accounts), Error> {
    let keys: HashSet<&str> = events
        .iter()
        .filter_map(|e| e.conversation_key.as_deref())
        .collect();
    let ids: HashSet<(&str, &str)> = events
        .iter()
        .filter_map(|e| Some((e.object.as_deref()?, e.entry_id.as_deref()?)))
        .collect();
    // Read back from the events table, these hold no NUL: no `text()` needed on this path.
    let key_list: Vec<&str> = keys.iter().copied().collect();
    let objects: Vec<&str> = ids.iter().map(|(o, _)| *o).collect();
    let account_ids: Vec<&str> = ids.iter().map(|(_, a)| *a).collect();
    let conversations = async {
        let statement = client
            .prepare_cached("SELECT key, state FROM conversations WHERE key = ANY($1)")
            .await?;
        client.query(&statement, &[&key_list]).await
    };
    let accounts = async {
        let statement = client
            .prepare_cached(
                "SELECT a.object, a.account_id, a.state
                 FROM accounts a JOIN unnest($1::text[], $2::text[]) AS u(object, account_id)
                      ON a.object = u.object AND a.account_id = u.account_id",
            )
            .await?;
        client.query(&statement, &[&objects, &account_ids]).await
    };
    let (conversation_rows, account_rows) = tokio::try_join!(conversations, accounts)?;
    let mut stored: HashMap<String, Summary> = HashMap::new();
    for row in &conversation_rows {
        let state: &str = row.try_get(1)?;
        stored.insert(
            row.try_get(0)?,
            serde_json::from_str(state).unwrap_or_default(),
        );
    }
    let mut stored_accounts: HashMap<(String, String), AccountSummary> = HashMap::new();
    for row in &account_rows {
        let state: &str = row.try_get(2)?;
        stored_accounts.insert(
            (row.try_get(0)?, row.try_get(1)?),
            serde_json::from_str(state).unwrap_or_default(),
        );
    }
    let conversations = keys
        .into_iter()
        .map(|key| {
            let summary = stored.remove(key).unwrap_or_default();
            (key.to_owned(), summary)
        })
        .collect();
    let accounts = ids
        .into_iter()
        .map(|(object, account)| {
            let id = (object.to_owned(), account.to_owned());
            let summary = stored_accounts.remove(&id).unwrap_or_default();
            (id, summary)
        })
        .collect();
    Ok((conversations, accounts))
}

/// An echo's mid and metadata (see [`Facts::echo`]).
type EchoKeys = Option<(String, Option<String>)>;

/// Indexes each event under its conversation, an echo with its mid and metadata (`echoes` are in the
/// events' order).
async fn save_timeline(
    client: &impl GenericClient,
    events: &[StoredEvent],
    echoes: &[EchoKeys],
) -> Result<u64, Error> {
    let rows: Vec<(&StoredEvent, &EchoKeys)> = events
        .iter()
        .zip(echoes)
        .filter(|(e, _)| e.conversation_key.is_some())
        .collect();
    if rows.is_empty() {
        return Ok(0);
    }
    let keys: Vec<&str> = rows
        .iter()
        .filter_map(|(e, _)| e.conversation_key.as_deref())
        .collect();
    let ids: Vec<i64> = rows.iter().map(|(e, _)| e.id).collect();
    let times: Vec<Option<i64>> = rows.iter().map(|(e, _)| e.timestamp_ms).collect();
    let kinds: Vec<&str> = rows.iter().map(|(e, _)| e.kind.as_str()).collect();
    // Parsed from the raw JSON, where an escape may put a NUL in them.
    let mids: Vec<Option<String>> = rows
        .iter()
        .map(|(_, echo)| echo.as_ref().map(|(mid, _)| owned_text(mid)))
        .collect();
    let metadata: Vec<Option<String>> = rows
        .iter()
        .map(|(_, echo)| {
            echo.as_ref()
                .and_then(|(_, m)| m.as_deref().map(owned_text))
        })
        .collect();
    let statement = client
        .prepare_cached(
            "INSERT INTO conversation_events (conversation_key, event_id, timestamp_ms, kind, mid, metadata)
             SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::text[], $5::text[], $6::text[])
             ON CONFLICT DO NOTHING",
        )
        .await?;
    client
        .execute(&statement, &[&keys, &ids, &times, &kinds, &mids, &metadata])
        .await
}

async fn save_conversations(
    client: &impl GenericClient,
    conversations: &Conversations,
) -> Result<u64, Error> {
    let mut keys = Vec::new();
    let mut ids = Vec::new();
    let mut objects = Vec::new();
    let mut accounts = Vec::new();
    let mut last = Vec::new();
    let mut owners = Vec::new();
    let mut states = Vec::new();
    for (key, summary) in conversations {
        let Some((object, account, _)) = counterpart_of(key) else {
            continue;
        };
        keys.push(key.as_str());
        ids.push(conversation_id(key));
        objects.push(object);
        accounts.push(account);
        last.push(summary.last_event_ms.unwrap_or(0));
        // An owner app id comes from a JSON string, so it may hold an escaped NUL.
        owners.push(
            summary
                .owner
                .as_ref()
                .and_then(|o| o.value.as_deref())
                .map(|owner| text(owner).into_owned()),
        );
        // serde_json escapes control characters, so the JSON holds no NUL.
        states.push(to_json(summary));
    }
    if keys.is_empty() {
        return Ok(0);
    }
    let statement = client
        .prepare_cached(
            "INSERT INTO conversations (key, id, object, account_id, last_event_ms, owner_app_id, state)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int8[],
                                  $6::text[], $7::text[])
             ON CONFLICT (key) DO UPDATE SET last_event_ms = excluded.last_event_ms,
                 owner_app_id = excluded.owner_app_id, state = excluded.state",
        )
        .await?;
    client
        .execute(
            &statement,
            &[&keys, &ids, &objects, &accounts, &last, &owners, &states],
        )
        .await
}

async fn save_accounts(client: &impl GenericClient, accounts: &Accounts) -> Result<u64, Error> {
    if accounts.is_empty() {
        return Ok(0);
    }
    let objects: Vec<&str> = accounts.keys().map(|(o, _)| o.as_str()).collect();
    let ids: Vec<&str> = accounts.keys().map(|(_, a)| a.as_str()).collect();
    let states: Vec<String> = accounts.values().map(to_json).collect();
    let statement = client
        .prepare_cached(
            "INSERT INTO accounts (object, account_id, state)
             SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
             ON CONFLICT (object, account_id) DO UPDATE SET state = excluded.state",
        )
        .await?;
    client.execute(&statement, &[&objects, &ids, &states]).await
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned())
}

/// Conversations, newest activity first.
pub(crate) async fn conversations(
    client: &impl GenericClient,
    query: &ConversationQuery,
) -> Result<Vec<Conversation>, Error> {
    let mut sql = String::from("SELECT key, id, state FROM conversations");
    let mut filters = Filters::default();
    filters.add("account_id = ?", query.account.as_deref().map(owned_text));
    filters.add("last_event_ms >= ?", query.updated_since_ms);
    filters.add(
        "owner_app_id = ?",
        query.owner_app_id.as_deref().map(owned_text),
    );
    if let Some((ms, id)) = &query.before {
        filters.add_pair("(last_event_ms, id) < (?, ?)", *ms, owned_text(id));
    }
    filters.finish(&mut sql, "last_event_ms DESC, id DESC", query.limit);
    let statement = client.prepare_cached(&sql).await?;
    let rows = client.query(&statement, &filters.params()).await?;
    let mut listed = Vec::with_capacity(rows.len());
    for row in &rows {
        listed.push((
            row.try_get::<_, String>(0)?,
            row.try_get::<_, String>(1)?,
            row.try_get::<_, &str>(2)?,
        ));
    }
    let summaries: Vec<(String, String, Summary)> = listed
        .into_iter()
        .map(|(key, id, state)| (key, id, serde_json::from_str(state).unwrap_or_default()))
        .collect();
    with_counts(client, summaries).await
}

/// One conversation by its id.
pub(crate) async fn conversation_by_id(
    client: &impl GenericClient,
    id: &str,
) -> Result<Option<Conversation>, Error> {
    let statement = client
        .prepare_cached("SELECT key, state FROM conversations WHERE id = $1")
        .await?;
    let Some(row) = client.query_opt(&statement, &[&text(id)]).await? else {
        return Ok(None);
    };
    let key: String = row.try_get(0)?;
    let state: &str = row.try_get(1)?;
    let summary = serde_json::from_str(state).unwrap_or_default();
    let mut found = with_counts(client, vec![(key, id.to_owned(), summary)]).await?;
    Ok(found.pop())
}

/// The conversations with their message and unread counts, counted for all of them in one statement
/// (each with its own unread threshold: messages after the last outbound one).
async fn with_counts(
    client: &impl GenericClient,
    summaries: Vec<(String, String, Summary)>,
) -> Result<Vec<Conversation>, Error> {
    let summaries: Vec<_> = summaries
        .into_iter()
        .filter(|(key, _, _)| counterpart_of(key).is_some())
        .collect();
    if summaries.is_empty() {
        return Ok(Vec::new());
    }
    let keys: Vec<&str> = summaries.iter().map(|(key, _, _)| key.as_str()).collect();
    let echo_mids: Vec<Option<&str>> = summaries
        .iter()
        .map(|(_, _, s)| {
            let last = &s.last_message.as_ref()?.value;
            (last.direction == Direction::Out).then_some(last.mid.as_deref())?
        })
        .collect();
    let in_list: Vec<InList> = sends::in_list(client, &keys, &echo_mids).await?;
    let since: Vec<i64> = summaries
        .iter()
        .zip(&in_list)
        .map(|((_, _, s), sends)| last_outbound_ms(s, sends).unwrap_or(i64::MIN))
        .collect();
    let statement = client
        .prepare_cached(
            "SELECT u.n,
                    count(ce.event_id) FILTER (WHERE ce.kind IN ('message', 'message_echo')),
                    count(ce.event_id) FILTER (WHERE ce.kind = 'message' AND ce.timestamp_ms > u.since)
             FROM unnest($1::text[], $2::int8[]) WITH ORDINALITY AS u(key, since, n)
             LEFT JOIN conversation_events ce ON ce.conversation_key = u.key
             GROUP BY u.n",
        )
        .await?;
    let rows = client.query(&statement, &[&keys, &since]).await?;
    let mut counts: HashMap<i64, (i64, i64)> = HashMap::new();
    for row in &rows {
        counts.insert(row.try_get(0)?, (row.try_get(1)?, row.try_get(2)?));
    }
    Ok(summaries
        .into_iter()
        .zip(in_list)
        .enumerate()
        .filter_map(|(n, ((key, id, summary), sends))| {
            let (message_count, unread) = counts.get(&(n as i64 + 1)).copied().unwrap_or((0, 0));
            let (object, account_id, counterpart) = counterpart_of(&key)?;
            Some(Conversation {
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
            })
        })
        .collect())
}

/// Every event of a conversation, with its raw JSON.
pub(crate) async fn conversation_events(
    client: &impl GenericClient,
    key: &str,
) -> Result<Vec<StoredEvent>, Error> {
    read::events_of_conversation(client, &text(key)).await
}

/// Accounts that received events, with their conversation counts.
pub(crate) async fn accounts(client: &impl GenericClient) -> Result<Vec<Account>, Error> {
    let statement = client
        .prepare_cached(
            "SELECT a.object, a.account_id, a.state,
                    (SELECT count(*) FROM conversations c
                      WHERE c.object = a.object AND c.account_id = a.account_id)
             FROM accounts a ORDER BY a.object, a.account_id",
        )
        .await?;
    let rows = client.query(&statement, &[]).await?;
    rows.iter()
        .map(|row| {
            let state: &str = row.try_get(2)?;
            let summary: AccountSummary = serde_json::from_str(state).unwrap_or_default();
            Ok(Account {
                object: row.try_get(0)?,
                account_id: row.try_get(1)?,
                conversations: row.try_get(3)?,
                last_event_ms: summary.last_event_ms,
                policy: summary.policy.map(|p| p.value),
            })
        })
        .collect()
}
