//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 document of the admin API, generated from the handlers'
//! `#[utoipa::path]` attributes and the response types' `ToSchema`, so it cannot drift from the code.
//!
//! It is served without the admin token: it describes routes, holds no data, and a client generator
//! needs it before it has a token.

use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{conversations, deliveries, events, meta_status, replies, stream};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookline admin API",
        description = "Stored Meta webhook events and deliveries, a live stream of new events, and replies \
                       through the Send API. \
                       Every route but this document needs `Authorization: Bearer <HOOKLINE_ADMIN_TOKEN>`."
    ),
    paths(
        events::list,
        events::one,
        stream::stream,
        deliveries::list,
        deliveries::one,
        deliveries::body,
        deliveries::quarantine,
        conversations::list,
        conversations::get,
        conversations::messages,
        conversations::timeline,
        conversations::accounts,
        replies::send,
        replies::one,
        meta_status::status,
        openapi,
    ),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    tags(
        (name = "events", description = "Events extracted from deliveries, each stored once"),
        (name = "conversations", description = "The state of every thread, projected from the events"),
        (name = "replies", description = "Messages sent into conversations through Meta's Send API, and their outcome"),
        (name = "deliveries", description = "Every POST as received, including redeliveries and quarantined bodies"),
        (name = "subscriptions", description = "The webhook subscriptions of the configured Pages and Instagram accounts, as the watchdog last checked them"),
        (name = "meta", description = "This document"),
    )
)]
pub(crate) struct ApiDoc;

/// The `bearer` security scheme every route (but the document itself) requires.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// This document (no token needed).
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "meta",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")),
)]
pub(crate) async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
