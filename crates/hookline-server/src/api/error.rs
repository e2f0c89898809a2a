//! [`ApiError`]: every way an admin API request fails, as a status and a `{"error": "..."}` body.
//!
//! Client errors say what to change. Server errors say only that something failed: the cause is logged,
//! never sent, so a store path or a query never reaches a client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hookline_graph::GraphError;
use hookline_store::StoreError;
use serde_json::json;

use crate::reply::ReplyError;

/// The body of every failed admin API request.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong, and for a 4xx what to change.
    pub error: String,
}

/// A failed admin API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The server has no admin token, so no request can be authorised.
    #[error(
        "the admin API is disabled because no admin token is configured; set HOOKLINE_ADMIN_TOKEN \
         (or --admin-token, or admin_token in the config file) and restart hookline serve"
    )]
    AdminTokenNotConfigured,
    /// No `Authorization: Bearer` header.
    #[error("this route needs the admin token: send the header Authorization: Bearer <token>")]
    MissingToken,
    /// A bearer token that is not the configured one.
    #[error("the admin token is not valid")]
    InvalidToken,
    /// A query parameter that cannot be used; the message says which and why.
    #[error("{0}")]
    BadRequest(String),
    /// What the path names does not exist; the message says what was looked for.
    #[error("{0}")]
    NotFound(String),
    /// The store failed to answer.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A reply was not sent, or its outcome not recorded.
    #[error(transparent)]
    Reply(#[from] ReplyError),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::AdminTokenNotConfigured | ApiError::MissingToken | ApiError::InvalidToken => {
                StatusCode::UNAUTHORIZED
            }
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Store(err) if err.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::Reply(err) => reply_status(err),
        }
    }

    /// What the client is told: the error itself for 4xx, a generic sentence for 5xx.
    fn public_message(&self) -> String {
        match self {
            ApiError::Store(err) | ApiError::Reply(ReplyError::Store(err)) => store_message(err),
            ApiError::Reply(ReplyError::Unrecorded {
                send_id,
                message_id,
                ..
            }) => format!(
                "send {send_id} went to the Send API ({}), but recording its outcome failed (the \
                 server log has the details); its echo will still be linked to it, so do not send it \
                 again",
                match message_id {
                    Some(mid) => format!("message id {mid}"),
                    None => "refused".to_owned(),
                }
            ),
            other => other.to_string(),
        }
    }

    /// RFC 6750: a 401 names the scheme, and says `invalid_token` when a token was sent but refused.
    fn challenge(&self) -> Option<HeaderValue> {
        match self {
            ApiError::AdminTokenNotConfigured | ApiError::MissingToken => {
                Some(HeaderValue::from_static(r#"Bearer realm="hookline""#))
            }
            ApiError::InvalidToken => Some(HeaderValue::from_static(
                r#"Bearer realm="hookline", error="invalid_token""#,
            )),
            _ => None,
        }
    }
}

fn store_message(err: &StoreError) -> String {
    if err.is_transient() {
        "the store cannot answer right now; retry shortly".to_owned()
    } else {
        "internal error; the server log has the details".to_owned()
    }
}

/// A refused reply's status: 422 when the message cannot go to this person as it is, 429 for Meta's rate
/// limits, 502 when the token, Meta or the connection failed.
fn reply_status(err: &ReplyError) -> StatusCode {
    match err {
        ReplyError::NoConversation(_) => StatusCode::NOT_FOUND,
        ReplyError::Invalid(_) => StatusCode::BAD_REQUEST,
        ReplyError::NoAccount { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        ReplyError::Store(err) if err.is_transient() => StatusCode::SERVICE_UNAVAILABLE,
        ReplyError::Store(_) | ReplyError::Unrecorded { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        ReplyError::Refused { error, .. } => match error {
            GraphError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            GraphError::OutsideMessagingWindow { .. }
            | GraphError::UserUnavailable { .. }
            | GraphError::UnknownRecipient { .. }
            | GraphError::InvalidParameter { .. }
            | GraphError::InvalidRequest(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_GATEWAY,
        },
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::error!("admin API request failed with {status}: {self}");
        }
        let mut body = json!({ "error": self.public_message() });
        if let ApiError::Reply(err) = &self
            && let Some(send_id) = err.send_id()
        {
            body["send_id"] = json!(send_id);
        }
        let mut response = (status, Json(body)).into_response();
        if let ApiError::Reply(ReplyError::Refused { error, .. }) = &self
            && let Some(wait) = error.retry_after()
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(wait.as_secs().max(1)),
            );
        }
        if let Some(challenge) = self.challenge() {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn answer(err: ApiError) -> (StatusCode, String) {
        let response = err.into_response();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn store_failures_answer_5xx_without_their_details() {
        let broken = ApiError::Store(StoreError::Query {
            message: "no such table: /var/lib/hookline/secret.db".into(),
        });
        let (status, body) = answer(broken).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            !body.contains("secret.db") && body.contains("internal error"),
            "{body}"
        );
        let busy = ApiError::Store(StoreError::Unavailable {
            message: "database is locked".into(),
        });
        let (status, body) = answer(busy).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(!body.contains("locked") && body.contains("retry"), "{body}");
    }

    #[tokio::test]
    async fn client_errors_say_what_to_change_as_json() {
        let (status, body) = answer(ApiError::BadRequest("limit=0 is not usable".into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body, r#"{"error":"limit=0 is not usable"}"#);
    }
}
