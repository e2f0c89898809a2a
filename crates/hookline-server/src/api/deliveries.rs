//! `GET /api/v1/deliveries`, `/deliveries/{id}`, `/deliveries/{id}/body` and `/quarantine`: every POST
//! as recorded (accepted, redelivered or quarantined), for finding what Meta sent and replaying it by hand.
//!
//! Lists page exactly like `/events` (`limit`, `cursor`, `order`) and never carry bodies; the body is its
//! own download, byte for byte, with the signature header it arrived with.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use hookline_store::{DeliveryQuery, Outcome, StoredDelivery, StoredEvent};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::api::error::{ApiError, ErrorBody};
use crate::api::events::{path_id, rfc3339};
use crate::api::page::{self, Order, Page, Position};
use crate::state::AppState;

/// The query string of the delivery lists, taken as text so every bad value gets a message naming it.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct Params {
    /// `accepted` or `quarantined` (only on `/deliveries`).
    outcome: Option<String>,
    /// Page size, 1 to 500 (default 50).
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only deliveries with a greater id (forwards only; not with `cursor`).
    after: Option<String>,
    /// `asc` (oldest first, the default) or `desc`.
    order: Option<String>,
}

/// The query string of `/quarantine`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct QuarantineParams {
    /// Page size, 1 to 500 (default 50).
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Only deliveries with a greater id (forwards only; not with `cursor`).
    after: Option<String>,
    /// `asc` (oldest first, the default) or `desc`.
    order: Option<String>,
}

/// What became of a delivery.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum OutcomeName {
    /// Valid JSON; its events were extracted (and stored unless seen before).
    Accepted,
    /// Correctly signed but not JSON: kept whole, with the parser's message in `error`.
    Quarantined,
}

/// A recorded delivery, without its body.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryItem {
    id: i64,
    /// RFC 3339 UTC with milliseconds.
    received_at: String,
    received_at_ms: i64,
    /// The per-app route it arrived on (`/webhook/{app}`), null for `/webhook`.
    app: Option<String>,
    /// Which configured secret verified it.
    secret_index: Option<u32>,
    /// The signature header as received (`sha256=...`).
    signature: Option<String>,
    /// `Facebook-API-Version`.
    api_version: Option<String>,
    user_agent: Option<String>,
    outcome: OutcomeName,
    /// Why it was quarantined.
    error: Option<String>,
    event_count: i64,
    /// Events it carried that were not stored before.
    new_event_count: i64,
    body_len: i64,
}

impl From<&StoredDelivery> for DeliveryItem {
    fn from(d: &StoredDelivery) -> Self {
        DeliveryItem {
            id: d.id,
            received_at: rfc3339(d.received_at_ms),
            received_at_ms: d.received_at_ms,
            app: d.app.clone(),
            secret_index: d.secret_index,
            signature: d.signature.clone(),
            api_version: d.api_version.clone(),
            user_agent: d.user_agent.clone(),
            outcome: match d.outcome {
                Outcome::Accepted => OutcomeName::Accepted,
                Outcome::Quarantined => OutcomeName::Quarantined,
            },
            error: d.error.clone(),
            event_count: d.event_count,
            new_event_count: d.new_event_count,
            body_len: d.body_len,
        }
    }
}

/// One delivery with the events first stored from it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryDetail {
    #[serde(flatten)]
    delivery: DeliveryItem,
    /// The events this delivery stored first (not those it repeated), oldest first.
    events: Vec<DeliveryEvent>,
}

/// An event a delivery stored: enough to fetch it from `/api/v1/events/{id}`.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeliveryEvent {
    id: i64,
    dedup_key: String,
    kind: String,
}

impl From<&StoredEvent> for DeliveryEvent {
    fn from(e: &StoredEvent) -> Self {
        DeliveryEvent {
            id: e.id,
            dedup_key: e.dedup_key.clone(),
            kind: e.kind.clone(),
        }
    }
}

/// Recorded deliveries (accepted, redelivered and quarantined), in pages, without bodies.
#[utoipa::path(
    get,
    path = "/api/v1/deliveries",
    tag = "deliveries",
    params(Params),
    responses(
        (status = 200, description = "One page of deliveries", body = Page<DeliveryItem>),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
    ),
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    params: Result<Query<Params>, QueryRejection>,
) -> Result<Json<Page<DeliveryItem>>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let outcome = match params.outcome.as_deref().filter(|o| !o.is_empty()) {
        None => None,
        Some(name) => Some(Outcome::from_name(name).ok_or_else(|| {
            ApiError::BadRequest(format!(
                "outcome={name:?} is not usable: give accepted or quarantined"
            ))
        })?),
    };
    let listing = Listing {
        limit: params.limit,
        cursor: params.cursor,
        after: params.after,
        order: params.order,
    };
    page_of(&state, outcome, listing).await.map(Json)
}

/// Quarantined deliveries (signed correctly, not JSON), in pages, with the parser's message in `error`.
#[utoipa::path(
    get,
    path = "/api/v1/quarantine",
    tag = "deliveries",
    params(QuarantineParams),
    responses(
        (status = 200, description = "One page of quarantined deliveries", body = Page<DeliveryItem>),
        (status = 400, description = "A parameter is not usable", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
    ),
)]
pub(crate) async fn quarantine(
    State(state): State<AppState>,
    params: Result<Query<QuarantineParams>, QueryRejection>,
) -> Result<Json<Page<DeliveryItem>>, ApiError> {
    let Query(params) = params.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let listing = Listing {
        limit: params.limit,
        cursor: params.cursor,
        after: params.after,
        order: params.order,
    };
    page_of(&state, Some(Outcome::Quarantined), listing)
        .await
        .map(Json)
}

/// The paging parameters both lists share.
struct Listing {
    limit: Option<String>,
    cursor: Option<String>,
    after: Option<String>,
    order: Option<String>,
}

async fn page_of(
    state: &AppState,
    outcome: Option<Outcome>,
    listing: Listing,
) -> Result<Page<DeliveryItem>, ApiError> {
    let limit = page::limit(listing.limit.as_deref())?;
    let position = Position::parse(
        listing.order.as_deref(),
        listing.cursor.as_deref(),
        listing.after.as_deref(),
    )?;
    let query = DeliveryQuery {
        outcome,
        after_id: position.after_id,
        before_id: position.before_id,
        newest_first: position.order == Order::Desc,
        limit: limit + 1,
        ..DeliveryQuery::default()
    };
    let rows = state.store.list_deliveries(query).await?;
    Ok(Page::from_rows(
        rows,
        limit,
        position.order,
        |d| d.id,
        |d| DeliveryItem::from(d),
    ))
}

/// One delivery, with the events it stored first.
#[utoipa::path(
    get,
    path = "/api/v1/deliveries/{id}",
    tag = "deliveries",
    params(("id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "The delivery", body = DeliveryDetail),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
        (status = 404, description = "No delivery has this id", body = ErrorBody),
    ),
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<DeliveryDetail>, ApiError> {
    let id = path_id("a delivery", id)?;
    let delivery = found(id, state.store.get_delivery(id, false).await?)?;
    let events = state.store.delivery_events(id).await?;
    Ok(Json(DeliveryDetail {
        delivery: DeliveryItem::from(&delivery),
        events: events.iter().map(DeliveryEvent::from).collect(),
    }))
}

/// The exact bytes of a delivery's body, as a download, with the signature header it arrived with: post
/// both back to a `/webhook` to replay it by hand.
#[utoipa::path(
    get,
    path = "/api/v1/deliveries/{id}/body",
    tag = "deliveries",
    params(("id" = i64, Path, description = "The delivery's id")),
    responses(
        (status = 200, description = "The raw body, byte for byte", content_type = "application/octet-stream", body = Vec<u8>,
         headers(
             ("Content-Disposition" = String, description = "attachment; filename=\"delivery-<id>.json\""),
             ("X-Hub-Signature-256" = String, description = "The signature as received, when it was SHA-256"),
         )),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
        (status = 404, description = "No delivery has this id", body = ErrorBody),
    ),
)]
pub(crate) async fn body(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_id("a delivery", id)?;
    let delivery = found(id, state.store.get_delivery(id, true).await?)?;
    let disposition = format!("attachment; filename=\"delivery-{id}.json\"");
    let mut response = (
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        delivery.body.unwrap_or_default(),
    )
        .into_response();
    if let Some((name, value)) = delivery.signature.as_deref().and_then(signature_header) {
        response.headers_mut().insert(name, value);
    }
    Ok(response)
}

/// The header a stored signature came in: `X-Hub-Signature-256` for `sha256=`, `X-Hub-Signature` for
/// the legacy `sha1=`.
fn signature_header(signature: &str) -> Option<(HeaderName, HeaderValue)> {
    let name = if signature.starts_with("sha256=") {
        "x-hub-signature-256"
    } else if signature.starts_with("sha1=") {
        "x-hub-signature"
    } else {
        return None;
    };
    Some((
        HeaderName::from_static(name),
        HeaderValue::from_str(signature).ok()?,
    ))
}

fn found(id: i64, delivery: Option<StoredDelivery>) -> Result<StoredDelivery, ApiError> {
    delivery.ok_or_else(|| ApiError::NotFound(format!("no delivery has id {id}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_signature_goes_back_in_the_header_it_came_in() {
        let (name, value) = signature_header("sha256=ab").unwrap();
        assert_eq!(
            (name.as_str(), value.to_str().unwrap()),
            ("x-hub-signature-256", "sha256=ab")
        );
        let (name, _) = signature_header("sha1=cd").unwrap();
        assert_eq!(name.as_str(), "x-hub-signature");
        assert!(signature_header("md5=00").is_none());
    }
}
