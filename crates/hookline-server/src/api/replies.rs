//! Replies over the admin API:
//!
//! - `POST /api/v1/conversations/{id}/messages`: sends a message into the conversation through the Send
//!   API ([`crate::reply::Replier`]) and answers the send, `201 Created`, once Meta accepted it.
//! - `GET /api/v1/sends/{id}`: one send as it stands (`pending`, `sent`, `failed`).
//!
//! A refused send is recorded (`failed`) and answered with the error and its `send_id`: 422 when the
//! message cannot go to this person as it is (the 24-hour window, an unavailable or unknown user, a
//! parameter Meta refused), 429 with `Retry-After` for a rate limit, 502 when Meta or the token failed.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hookline_store::{SendId, StoredSend};

use crate::api::error::{ApiError, ErrorBody};
use crate::reply::Reply;
use crate::state::AppState;

/// Sends a reply into the conversation (text or one attachment by URL, optional quick replies).
#[utoipa::path(
    post,
    path = "/api/v1/conversations/{id}/messages",
    tag = "replies",
    params(
        ("id" = String, Path, description = "The conversation's id"),
    ),
    request_body = Reply,
    responses(
        (status = 201, description = "Meta accepted the message; the send, `sent`, with its `message_id`", body = StoredSend),
        (status = 400, description = "The reply is not one that can be sent (the message says why); nothing was sent", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
        (status = 404, description = "No conversation with this id", body = ErrorBody),
        (status = 422, description = "No [[account]] for the conversation's Page or Instagram account, or Meta refused the message for this person (24-hour window, unavailable user); the send is recorded `failed`", body = ErrorBody),
        (status = 429, description = "Meta's rate limit; `Retry-After` says when to try again when Meta says", body = ErrorBody),
        (status = 502, description = "The token was refused, Meta failed, or the outcome is unknown (the send is recorded `failed` and its echo will show it if it was delivered)", body = ErrorBody),
    ),
)]
pub(crate) async fn send(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Reply>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Json(reply) = body.map_err(|rejection| {
        ApiError::BadRequest(format!(
            "{}; send a JSON object such as {{\"text\": \"Thanks, we're on it\"}} with Content-Type: \
             application/json",
            rejection.body_text()
        ))
    })?;
    let sent = state.replier.send(&id, &reply).await?;
    let location = format!("/api/v1/sends/{}", sent.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(sent),
    )
        .into_response())
}

/// One send (a reply through the Send API) as it stands.
#[utoipa::path(
    get,
    path = "/api/v1/sends/{id}",
    tag = "replies",
    params(
        ("id" = String, Path, description = "The send's id (`hl_...`)"),
    ),
    responses(
        (status = 200, description = "The send", body = StoredSend),
        (status = 400, description = "The id is not a send id", body = ErrorBody),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
        (status = 404, description = "No send with this id", body = ErrorBody),
    ),
)]
pub(crate) async fn one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<StoredSend>, ApiError> {
    let id = SendId::parse(&id).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    state
        .store
        .get_send(id.clone())
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no send with id {id}")))
}
