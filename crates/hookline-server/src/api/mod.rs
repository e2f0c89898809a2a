//! The admin API under `/api/v1`: JSON over HTTP for operators and for `hookline tail`, behind the bearer
//! token `HOOKLINE_ADMIN_TOKEN` (CONTRACTS.md sections 3 and 6).
//!
//! - `auth`: the bearer check every route of this router goes through.
//! - `error`: [`ApiError`], the one error type of the handlers, and its `{"error": "..."}` bodies.
//! - `page`: what every list route shares: `?limit=`, the opaque `?cursor=`, and the
//!   `{"items": [...], "next_cursor": ...}` answer.
//! - `conversations`: the conversation routes and `GET /api/v1/accounts` (the projected state).
//! - `events`: `GET /api/v1/events` and `/events/{id}`, and [`event_json`], the JSON of a stored event
//!   wherever it is shown.
//! - `deliveries`: `GET /api/v1/deliveries`, `/deliveries/{id}`, `/deliveries/{id}/body`, `/quarantine`.
//! - `stream`: `GET /api/v1/stream`, new events as Server-Sent Events.
//! - `replies`: `POST /api/v1/conversations/{id}/messages` (a reply through the Send API) and
//!   `GET /api/v1/sends/{id}`.
//! - `meta_status`: `GET /api/v1/meta/status`, the subscription watchdog's last check per account.
//! - `openapi`: `GET /api/v1/openapi.json`, generated from the handlers.
//!
//! A route is a handler in a file named for its resource with a `#[utoipa::path]`, listed in [`ROUTES`]
//! and in `openapi::ApiDoc`; a test checks that the two lists agree.

mod auth;
mod conversations;
mod deliveries;
mod error;
mod events;
mod meta_status;
mod openapi;
mod page;
mod replies;
mod stream;

use axum::Router;
use axum::http::Method;
use axum::middleware;
use axum::routing::{MethodRouter, get, post};

pub use error::ApiError;
pub use events::{event_json, rfc3339};

use crate::state::AppState;

/// Every route under `/api/v1`: its path, its method, and whether it is served without the token.
pub const ROUTES: &[(&str, Method, bool)] = &[
    ("/events", Method::GET, false),
    ("/events/{id}", Method::GET, false),
    ("/stream", Method::GET, false),
    ("/deliveries", Method::GET, false),
    ("/deliveries/{id}", Method::GET, false),
    ("/deliveries/{id}/body", Method::GET, false),
    ("/quarantine", Method::GET, false),
    ("/conversations", Method::GET, false),
    ("/conversations/{id}", Method::GET, false),
    ("/conversations/{id}/messages", Method::GET, false),
    ("/conversations/{id}/messages", Method::POST, false),
    ("/conversations/{id}/timeline", Method::GET, false),
    ("/accounts", Method::GET, false),
    ("/sends/{id}", Method::GET, false),
    ("/meta/status", Method::GET, false),
    ("/openapi.json", Method::GET, true),
];

/// The handler of each entry of [`ROUTES`].
fn handler(path: &str, method: &Method) -> MethodRouter<AppState> {
    if method == Method::POST {
        return match path {
            "/conversations/{id}/messages" => post(replies::send),
            other => unreachable!("no POST handler for {other}"),
        };
    }
    match path {
        "/events" => get(events::list),
        "/events/{id}" => get(events::one),
        "/stream" => get(stream::stream),
        "/deliveries" => get(deliveries::list),
        "/deliveries/{id}" => get(deliveries::one),
        "/deliveries/{id}/body" => get(deliveries::body),
        "/quarantine" => get(deliveries::quarantine),
        "/conversations" => get(conversations::list),
        "/conversations/{id}" => get(conversations::get),
        "/conversations/{id}/messages" => get(conversations::messages),
        "/conversations/{id}/timeline" => get(conversations::timeline),
        "/accounts" => get(conversations::accounts),
        "/sends/{id}" => get(replies::one),
        "/meta/status" => get(meta_status::status),
        "/openapi.json" => get(openapi::openapi),
        other => unreachable!("no handler for {other}"),
    }
}

/// The routes under `/api/v1`, each behind the bearer check but the public ones.
pub(crate) fn router(state: AppState) -> Router<AppState> {
    let (public, private): (Vec<_>, Vec<_>) = ROUTES.iter().partition(|(_, _, public)| *public);
    let mount = |routes: Vec<&(&str, Method, bool)>| {
        routes
            .into_iter()
            .fold(Router::new(), |router, (path, method, _)| {
                router.route(path, handler(path, method))
            })
    };
    let guarded =
        mount(private).route_layer(middleware::from_fn_with_state(state, auth::require_admin));
    guarded.merge(mount(public))
}
