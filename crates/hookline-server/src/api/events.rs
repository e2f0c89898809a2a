//! `GET /api/v1/events`: stored events, oldest first, in pages; and [`event_json`], the one JSON form of
//! a stored event (this route, `hookline events list --json`, `hookline tail --json`).
//!
//! Query: `kind`, `conversation` (a conversation key), `limit`, `cursor` or `after` (an event id: what a
//! follower polls with), `order` (`asc` or `desc`), `raw` (`true` adds each event's JSON). Filters are
//! not part of the cursor: pass the same ones with each page.

use std::time::{Duration, UNIX_EPOCH};

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use hookline_store::{EventQuery, StoredEvent};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::error::ApiError;
use crate::api::page::{self, Order, Page, Position};
use crate::state::AppState;

/// The query string, taken as text so that every bad value gets a message naming it.
#[derive(Debug, Deserialize)]
pub(crate) struct Params {
    kind: Option<String>,
    conversation: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    after: Option<String>,
    order: Option<String>,
    raw: Option<String>,
}

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

fn flag(name: &str, raw: Option<&str>) -> Result<bool, ApiError> {
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
    let mut line = json!({
        "object": event.object,
        "entry_id": event.entry_id,
        "channel": event.channel,
        "kind": event.kind,
        "field": event.field,
        "sender": event.sender,
        "sender_user_ref": event.user_ref,
        "recipient": event.recipient,
        "timestamp_ms": event.timestamp_ms,
        "mid": event.mid,
        "dedup_key": event.dedup_key,
        "id": event.id,
        "received_at": rfc3339(event.received_at_ms),
        "delivery_id": event.delivery_id,
        "duplicates": event.duplicates,
        "conversation_key": event.conversation_key,
    });
    if let Some(raw) = &event.raw {
        // The raw JSON was valid when stored; a string is the fallback should a row ever hold otherwise.
        line["raw"] = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.clone()));
    }
    line
}

/// Epoch ms as RFC 3339 UTC with milliseconds, as every time in hookline's output.
pub fn rfc3339(ms: i64) -> String {
    let time = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

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
