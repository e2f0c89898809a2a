//! `GET /api/v1/events` (stored events, oldest first, in pages), `GET /api/v1/events/{id}`, and
//! [`event_json`], the one JSON form of a stored event (these routes, the live stream, `hookline events
//! list --json`, `hookline tail --json`).
//!
//! Query: `kind`, `conversation` (a conversation key), `limit`, `cursor` or `after` (an event id: what a
//! follower polls with), `order` (`asc` or `desc`), `raw` (`true` adds each event's JSON). Filters are
//! not part of the cursor: pass the same ones with each page.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use hookline_store::{EventQuery, StoredEvent};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::api::error::{ApiError, ErrorBody};
use crate::api::page::{self, Order, Page, Position};
use crate::state::AppState;

/// The query string, taken as text so that every bad value gets a message naming it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Params {
    /// Only events of this kind (`message`, `read`, ...).
    kind: Option<String>,
    /// Only events of this conversation key (`page:<page id>:<user id>`).
    conversation: Option<String>,
    /// Only events whose time (`timestamp_ms`) is at or after this, epoch milliseconds.
    since: Option<String>,
    /// Only events whose time is before this, epoch milliseconds.
    until: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only events with a greater id (forwards only; not with `cursor`).
    after: Option<String>,
    /// `asc` (oldest first, the default) or `desc`.
    order: Option<String>,
    /// `true` adds each event's raw JSON as `raw`.
    raw: Option<String>,
}

/// `?raw=` of a single event.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OneParams {
    /// `true` adds the event's raw JSON as `raw`.
    raw: Option<String>,
}

/// A stored event: the keys of `hookline parse` (CONTRACTS.md section 1), then the store's own.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct EventItem {
    object: Option<String>,
    entry_id: Option<String>,
    /// The array the event came from: `messaging`, `standby`, `changes`, ...
    channel: String,
    kind: String,
    field: Option<String>,
    sender: Option<String>,
    sender_user_ref: Option<String>,
    recipient: Option<String>,
    timestamp_ms: Option<i64>,
    mid: Option<String>,
    dedup_key: String,
    id: i64,
    /// RFC 3339 UTC with milliseconds.
    received_at: String,
    /// The first delivery that carried it.
    delivery_id: i64,
    /// How many later deliveries carried it again.
    duplicates: i64,
    conversation_key: Option<String>,
    /// The event's JSON as received, with `?raw=true` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    raw: Option<Value>,
}

impl From<&StoredEvent> for EventItem {
    fn from(event: &StoredEvent) -> Self {
        EventItem {
            object: event.object.clone(),
            entry_id: event.entry_id.clone(),
            channel: event.channel.clone(),
            kind: event.kind.clone(),
            field: event.field.clone(),
            sender: event.sender.clone(),
            sender_user_ref: event.user_ref.clone(),
            recipient: event.recipient.clone(),
            timestamp_ms: event.timestamp_ms,
            mid: event.mid.clone(),
            dedup_key: event.dedup_key.clone(),
            id: event.id,
            received_at: event.received_at(),
            delivery_id: event.delivery_id,
            duplicates: event.duplicates,
            conversation_key: event.conversation_key.clone(),
            raw: event.raw_json(),
        }
    }
}

/// Stored events, oldest first, in pages.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(Params),
    responses(
        (status = 200, description = "One page of events", body = Page<EventItem>),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Page<Value>>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let limit = page::limit(params.limit.as_deref())?;
    let position = Position::parse(
        params.order.as_deref(),
        params.cursor.as_deref(),
        params.after.as_deref(),
    )?;
    let query = EventQuery {
        kind: params.kind.filter(|k| !k.is_empty()),
        conversation_key: params.conversation.filter(|c| !c.is_empty()),
        after_id: position.after_id,
        before_id: position.before_id,
        from_ms: epoch_ms("since", params.since.as_deref())?,
        until_ms: epoch_ms("until", params.until.as_deref())?,
        newest_first: position.order == Order::Desc,
        limit: limit + 1,
        with_raw: flag("raw", params.raw.as_deref())?,
    };
    let events = state.store.list_events(query).await?;
    Ok(Json(Page::from_rows(
        events,
        limit,
        position.order,
        |e| e.id,
        event_json,
    )))
}

/// One stored event.
#[utoipa::path(
    get,
    path = "/api/v1/events/{id}",
    tag = "events",
    params(("id" = i64, Path, description = "The event's id"), OneParams),
    responses(
        (status = 200, description = "The event", body = EventItem),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
        (status = 404, description = "No event has this id", body = ErrorBody),
    ),
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<OneParams>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let id = path_id("an event", id)?;
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let with_raw = flag("raw", params.raw.as_deref())?;
    match state.store.get_event(id, with_raw).await? {
        Some(event) => Ok(Json(event_json(&event))),
        None => Err(ApiError::NotFound(format!("no event has id {id}"))),
    }
}

/// The `{id}` of a route: a whole number, else 400 naming what was given.
pub(crate) fn path_id(
    what: &str,
    raw: Result<Path<String>, PathRejection>,
) -> Result<i64, ApiError> {
    let Path(raw) = raw.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    raw.parse::<i64>().map_err(|_| {
        ApiError::BadRequest(format!(
            "{raw:?} is not usable as {what} id: give a whole number"
        ))
    })
}

/// A time parameter in epoch milliseconds.
pub(crate) fn epoch_ms(name: &str, raw: Option<&str>) -> Result<Option<i64>, ApiError> {
    match raw.filter(|r| !r.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.parse::<i64>().map(Some).map_err(|_| {
            ApiError::BadRequest(format!(
                "{name}={raw:?} is not usable: give a time in epoch milliseconds"
            ))
        }),
    }
}

pub(crate) fn flag(name: &str, raw: Option<&str>) -> Result<bool, ApiError> {
    match raw {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(ApiError::BadRequest(format!(
            "{name}={other:?} is not usable: give true or false"
        ))),
    }
}

/// A stored event as JSON: the keys of `hookline parse` (CONTRACTS.md section 1) first, then `id`,
/// `received_at`, `delivery_id`, `duplicates`, `conversation_key`, and `raw` when it was read.
pub fn event_json(event: &StoredEvent) -> Value {
    serde_json::to_value(EventItem::from(event)).unwrap_or(Value::Null)
}

pub use hookline_store::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> StoredEvent {
        StoredEvent {
            id: 3,
            delivery_id: 2,
            received_at_ms: 1_767_610_000_123,
            dedup_key: "v1:00".into(),
            object: Some("page".into()),
            entry_id: Some("100".into()),
            channel: "messaging".into(),
            kind: "message".into(),
            field: None,
            sender: Some("7".into()),
            user_ref: None,
            recipient: Some("100".into()),
            timestamp_ms: Some(1_767_610_000_000),
            mid: Some("m.1".into()),
            conversation_key: Some("page:100:7".into()),
            duplicates: 1,
            raw: None,
        }
    }

    #[test]
    fn the_contract_keys_come_first_then_the_store_s_own() {
        let json = event_json(&stored());
        let keys: Vec<&str> = json
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "object",
                "entry_id",
                "channel",
                "kind",
                "field",
                "sender",
                "sender_user_ref",
                "recipient",
                "timestamp_ms",
                "mid",
                "dedup_key",
                "id",
                "received_at",
                "delivery_id",
                "duplicates",
                "conversation_key"
            ]
        );
        assert_eq!(json["received_at"], "2026-01-05T10:46:40.123Z");
    }

    #[test]
    fn raw_json_is_embedded_as_json_when_it_was_read() {
        let event = StoredEvent {
            raw: Some(r#"{"message":{"text":"hi"}}"#.into()),
            ..stored()
        };
        assert_eq!(event_json(&event)["raw"]["message"]["text"], "hi");
    }

    #[test]
    fn flags_are_true_or_false() {
        assert!(flag("raw", Some("true")).unwrap());
        assert!(!flag("raw", None).unwrap());
        assert!(
            flag("raw", Some("yes"))
                .unwrap_err()
                .to_string()
                .contains("true or false")
        );
    }
}
