//! The admin API under `/api/v1`: JSON over HTTP for operators and for `hookline tail`, behind the bearer
//! token `HOOKLINE_ADMIN_TOKEN` (CONTRACTS.md sections 3 and 6).
//!
//! - `auth`: the bearer check every route of this router goes through.
//! - `error`: [`ApiError`], the one error type of the handlers, and its `{"error": "..."}` bodies.
//! - `page`: what every list route shares: `?limit=`, the opaque `?cursor=`, and the
//!   `{"items": [...], "next_cursor": ...}` answer.
//! - `events`: `GET /api/v1/events`, and [`event_json`], the JSON of a stored event wherever it is shown.
//! - `conversations`: the conversation routes and `GET /api/v1/accounts` (the projected state).
//!
//! A route is a handler in a file named for its resource, added to [`router`]; the auth layer covers it.

mod auth;
mod conversations;
mod error;
mod events;
mod page;

use axum::Router;
use axum::middleware;
use axum::routing::get;

pub use error::ApiError;
pub use events::{event_json, rfc3339};

use crate::state::AppState;

/// The routes under `/api/v1`, each behind the bearer check.
pub(crate) fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/events", get(events::list))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::get))
        .route("/conversations/{id}/messages", get(conversations::messages))
        .route("/conversations/{id}/timeline", get(conversations::timeline))
        .route("/accounts", get(conversations::accounts))
        .route_layer(middleware::from_fn_with_state(state, auth::require_admin))
}
