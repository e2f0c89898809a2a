//! The conversation routes (CONTRACTS.md section 6): the projected state of every thread.
//!
//! - `GET /api/v1/conversations`: newest activity first; filters `account`, `updated_since` (epoch ms),
//!   `owner_app_id`.
//! - `GET /api/v1/conversations/{id}`: one conversation.
//! - `GET /api/v1/conversations/{id}/messages`: its messages in timestamp order.
//! - `GET /api/v1/conversations/{id}/timeline`: every event of it in timestamp order, messages as they
//!   stand now and a readable note for the rest.
//! - `GET /api/v1/accounts`: the Page and Instagram accounts, with policy enforcement state.
//!
//! Messages and timelines are folded from the conversation's events on each read
//! (`hookline_store::conversation::fold`), so they are the same in every store that holds the same
//! events. Their cursors are positions in that order (time and dedup key), not row ids, for the same
//! reason.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use hookline_meta::ParseOptions;
use hookline_store::conversation::ConversationQuery;
use hookline_store::conversation::fold::{Position, fold_with_sends};
use hookline_store::conversation::view::{Account, Conversation, Message, TimelineItem};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::api::error::{ApiError, ErrorBody};
use crate::api::events::epoch_ms;
use crate::api::page::{self, Page};
use crate::state::AppState;

/// The query string of the conversation list, taken as text so every bad value gets a message naming it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only conversations of this Page or Instagram account id.
    account: Option<String>,
    /// Only conversations with activity at or after this time, epoch milliseconds.
    updated_since: Option<String>,
    /// Only conversations whose thread this app owns (handover protocol).
    owner_app_id: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<String>,
}

/// The query string of a conversation's messages and timeline.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParams {
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<String>,
}

/// Conversations, newest activity first.
#[utoipa::path(
    get,
    path = "/api/v1/conversations",
    tag = "conversations",
    params(
        ListParams,
    ),
    responses(
        (status = 200, description = "One page of conversations, newest activity first", body = Page<Conversation>),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<Page<Conversation>>, ApiError> {
    let Query(params) = params.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let limit = page::limit(params.limit.as_deref())?;
    let before = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(cursor) => {
            let (ms, id) = decode(cursor, "conversations")?;
            Some((ms, id))
        }
        None => None,
    };
    let updated_since_ms = epoch_ms("updated_since", params.updated_since.as_deref())?;
    let query = ConversationQuery {
        account: params.account.filter(|a| !a.is_empty()),
        updated_since_ms,
        owner_app_id: params.owner_app_id.filter(|o| !o.is_empty()),
        before,
        limit: limit + 1,
    };
    let mut rows = state.store.list_conversations(query).await?;
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = rows
        .last()
        .filter(|_| more)
        .map(|c| encode("conversations", c.last_event_ms.unwrap_or(0), &c.id));
    Ok(Json(Page {
        items: rows,
        next_cursor,
    }))
}

/// One conversation.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}",
    tag = "conversations",
    params(
        ("id" = String, Path, description = "The conversation's id"),
    ),
    responses(
        (status = 200, description = "The conversation", body = Conversation),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
        (status = 404, description = "No conversation with this id", body = ErrorBody),
    ),
)]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Conversation>, ApiError> {
    Ok(Json(find(&state, id).await?))
}

/// A conversation's messages in time order, each as it stands now (edits, reactions, deletion, status).
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/messages",
    tag = "conversations",
    params(
        ("id" = String, Path, description = "The conversation's id"),
        PageParams,
    ),
    responses(
        (status = 200, description = "One page of the conversation's messages, in time order", body = Page<Message>),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
        (status = 404, description = "No conversation with this id", body = ErrorBody),
    ),
)]
pub(crate) async fn messages(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Page<Message>>, ApiError> {
    let Query(params) = params.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let folded = folded(&state, id).await?;
    paged(folded.messages, &params, "messages")
}

/// Every event of a conversation in time order: messages as they stand now, a note for the rest.
#[utoipa::path(
    get,
    path = "/api/v1/conversations/{id}/timeline",
    tag = "conversations",
    params(
        ("id" = String, Path, description = "The conversation's id"),
        PageParams,
    ),
    responses(
        (status = 200, description = "One page of the conversation's events, in time order", body = Page<TimelineItem>),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
        (status = 404, description = "No conversation with this id", body = ErrorBody),
    ),
)]
pub(crate) async fn timeline(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<PageParams>, QueryRejection>,
) -> Result<Json<Page<TimelineItem>>, ApiError> {
    let Query(params) = params.map_err(|r| ApiError::BadRequest(r.body_text()))?;
    let folded = folded(&state, id).await?;
    paged(folded.timeline, &params, "timeline")
}

/// The Page and Instagram accounts that received events, with their latest policy enforcement.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "conversations",
    responses(
        (status = 200, description = "The Page and Instagram accounts that received events (one page)", body = Page<Account>),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
    ),
)]
pub(crate) async fn accounts(
    State(state): State<AppState>,
) -> Result<Json<Page<Account>>, ApiError> {
    let items = state.store.list_accounts().await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

async fn find(state: &AppState, id: String) -> Result<Conversation, ApiError> {
    state
        .store
        .get_conversation(id.clone())
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no conversation with id {id:?}")))
}

async fn folded(
    state: &AppState,
    id: String,
) -> Result<hookline_store::conversation::fold::Folded, ApiError> {
    let conversation = find(state, id).await?;
    let events = state
        .store
        .conversation_events(conversation.key.clone())
        .await?;
    // Replies sent through this server are shown once each, merged with their echoes when those arrived.
    let sends = state.store.conversation_sends(conversation.key).await?;
    Ok(fold_with_sends(&events, &sends, &own_apps(state)))
}

/// Echoes of any app configured on this server are its own (`this_app`).
fn own_apps(state: &AppState) -> ParseOptions {
    let own_app_ids = state
        .default
        .iter()
        .chain(state.apps.values())
        .flat_map(|route| route.parse.own_app_ids.iter().cloned())
        .collect();
    ParseOptions { own_app_ids }
}

/// A page of items already in order, after the cursor's position.
fn paged<T>(
    items: Vec<(Position, T)>,
    params: &PageParams,
    listing: &str,
) -> Result<Json<Page<T>>, ApiError> {
    let limit = page::limit(params.limit.as_deref())?;
    let after = match params.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(cursor) => Some(decode(cursor, listing)?),
        None => None,
    };
    let mut rest: Vec<(Position, T)> = items
        .into_iter()
        .filter(|(position, _)| after.as_ref().is_none_or(|after| position > after))
        .collect();
    let more = rest.len() > limit;
    rest.truncate(limit);
    let next_cursor = rest
        .last()
        .filter(|_| more)
        .map(|((at, key), _)| encode(listing, *at, key));
    Ok(Json(Page {
        items: rest.into_iter().map(|(_, item)| item).collect(),
        next_cursor,
    }))
}

/// A cursor of these routes: the hex of `v1:<listing>:<time>:<key>`.
fn encode(listing: &str, at: i64, key: &str) -> String {
    hex::encode(format!("v1:{listing}:{at}:{key}"))
}

fn decode(raw: &str, listing: &str) -> Result<(i64, String), ApiError> {
    let decoded = hex::decode(raw)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let rest = text
                .strip_prefix("v1:")?
                .strip_prefix(listing)?
                .strip_prefix(':')?;
            let (at, key) = rest.split_once(':')?;
            Some((at.parse::<i64>().ok()?, key.to_owned()))
        });
    decoded.ok_or_else(|| {
        ApiError::BadRequest(format!(
            "cursor is not one this server issued for {listing}; pass next_cursor from the previous page unchanged"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_belong_to_their_listing() {
        let cursor = encode("messages", -5, "v1:abc");
        assert_eq!(
            decode(&cursor, "messages").unwrap(),
            (-5, "v1:abc".to_owned())
        );
        assert!(decode(&cursor, "timeline").is_err());
        assert!(decode("zz", "messages").is_err());
    }
}
