//! `GET /webhook` (the subscription handshake) and `POST /webhook` (ingest), and their per-app twins
//! `/webhook/{app}`.
//!
//! The POST path, in order: the body is buffered up to the size cap (413 beyond), its signature is checked
//! over the exact raw bytes (401, nothing stored), it is parsed (a body that is not JSON is quarantined,
//! not refused), and the delivery goes to the store's writer; the 200 is sent only once the writer has
//! committed it. A store that cannot commit, or a writer queue that is full, answers 503 with
//! `Retry-After`, so Meta retries instead of dropping the delivery.

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hookline_meta::signature::{Algorithm, HEADER_SHA1, HEADER_SHA256};
use hookline_meta::{HandshakeOutcome, SignatureHeaders, parse_verified};
use hookline_store::{Content, NewDelivery, NewEvent, StoreError};

use crate::metrics::object_label;
use crate::state::{AppState, Route};

const API_VERSION: HeaderName = HeaderName::from_static("facebook-api-version");

pub(crate) async fn handshake_default(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Response {
    match &state.default {
        Some(route) => handshake(route, query.as_deref()),
        None => no_default_route(),
    }
}

pub(crate) async fn handshake_app(
    State(state): State<AppState>,
    Path(app): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    match state.apps.get(&app) {
        Some(route) => handshake(route, query.as_deref()),
        None => unknown_app(),
    }
}

fn handshake(route: &Route, query: Option<&str>) -> Response {
    let outcome = route.handshake.answer(query.unwrap_or(""));
    let status = StatusCode::from_u16(outcome.status()).unwrap_or(StatusCode::FORBIDDEN);
    match outcome {
        HandshakeOutcome::Accept { challenge } => {
            tracing::info!(
                app = route.name.as_deref(),
                "subscription handshake accepted"
            );
            (status, [(header::CONTENT_TYPE, "text/plain")], challenge).into_response()
        }
        HandshakeOutcome::Forbidden(err) | HandshakeOutcome::BadRequest(err) => {
            tracing::warn!(
                app = route.name.as_deref(),
                reason = err.kind(),
                "subscription handshake refused: {err}"
            );
            (status, err.to_string()).into_response()
        }
    }
}

pub(crate) async fn receive_default(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match state.default.clone() {
        Some(route) => receive(&state, &route, &headers, body).await,
        None => no_default_route(),
    }
}

pub(crate) async fn receive_app(
    State(state): State<AppState>,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match state.apps.get(&app).cloned() {
        Some(route) => receive(&state, &route, &headers, body).await,
        None => unknown_app(),
    }
}

async fn receive(
    state: &AppState,
    route: &Arc<Route>,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return body_rejected(state, rejection),
    };
    let started = Instant::now();
    let response = match prepare(state, route, headers, body) {
        Ok(delivery) => commit(state, delivery).await,
        Err(unauthorized) => unauthorized.into_response(),
    };
    state.metrics.latency(started.elapsed());
    response
}

/// Verifies and parses a body into the delivery to store, or the answer that refuses it.
fn prepare(
    state: &AppState,
    route: &Route,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Prepared, Unauthorized> {
    if let Some(name) = repeated_signature_header(headers) {
        // `HeaderMap::get` takes the first value, so a right and a wrong signature would be accepted
        // in one order and refused in the other; two values are ambiguous, so refuse both orders.
        state.metrics.signature_failure("repeated");
        state.metrics.delivery("bad_signature");
        tracing::warn!(
            app = route.name.as_deref(),
            reason = "repeated",
            header = name,
            body_len = body.len(),
            "delivery refused: the {name} header is given more than once"
        );
        return Err(Unauthorized);
    }
    let signatures = SignatureHeaders {
        sha256: headers.get(HEADER_SHA256).map(|v| v.as_bytes()),
        sha1: headers.get(HEADER_SHA1).map(|v| v.as_bytes()),
    };
    let verified = match route.verifier.verify(&signatures, body.clone()) {
        Ok(verified) => verified,
        Err(err) => {
            state.metrics.signature_failure(err.kind());
            state.metrics.delivery("bad_signature");
            // Enough to debug a misconfigured secret or a rewriting proxy; never the expected digest.
            tracing::warn!(
                app = route.name.as_deref(),
                reason = err.kind(),
                header = err.header_name(),
                body_len = body.len(),
                api_version = header_text(headers, &API_VERSION).as_deref(),
                "delivery refused: {err}"
            );
            return Err(Unauthorized);
        }
    };
    let signature_header = match verified.algorithm() {
        Algorithm::Sha256 => HEADER_SHA256,
        Algorithm::Sha1 => HEADER_SHA1,
    };
    let mut labels = Vec::new();
    let content = match parse_verified(&verified, &route.parse) {
        Ok(events) => {
            labels.extend(
                events
                    .iter()
                    .map(|e| (object_label(e.object.as_deref()), e.kind_name())),
            );
            Content::Events(
                events
                    .iter()
                    .map(|e| NewEvent::from_event(e, &body))
                    .collect(),
            )
        }
        Err(err) => {
            tracing::warn!(
                app = route.name.as_deref(),
                body_len = body.len(),
                "signed body is not JSON; quarantined: {err}"
            );
            Content::Quarantined {
                reason: err.to_string(),
            }
        }
    };
    let delivery = NewDelivery {
        received_at_ms: now_ms(),
        app: route.name.clone(),
        secret_index: u32::try_from(verified.matched_secret()).ok(),
        signature: header_text(headers, signature_header),
        api_version: header_text(headers, &API_VERSION),
        user_agent: header_text(headers, &header::USER_AGENT),
        body,
        content,
    };
    Ok(Prepared { delivery, labels })
}

/// The first signature header that appears more than once, if any.
fn repeated_signature_header(headers: &HeaderMap) -> Option<&'static str> {
    [HEADER_SHA256, HEADER_SHA1]
        .into_iter()
        .find(|name| headers.get_all(*name).iter().nth(1).is_some())
}

/// A signature failure: a generic 401 that never hints at the expected digest.
struct Unauthorized;

impl IntoResponse for Unauthorized {
    fn into_response(self) -> Response {
        (StatusCode::UNAUTHORIZED, "invalid or missing signature\n").into_response()
    }
}

struct Prepared {
    delivery: NewDelivery,
    /// (object, kind) of each event, for metrics once committed.
    labels: Vec<(&'static str, &'static str)>,
}

async fn commit(state: &AppState, prepared: Prepared) -> Response {
    let Prepared { delivery, labels } = prepared;
    let quarantined = matches!(delivery.content, Content::Quarantined { .. });
    let result = match state.store.submit(delivery) {
        Ok(pending) => pending.await,
        Err(err) => Err(err),
    };
    match result {
        Ok(appended) => {
            let outcome = if quarantined {
                "quarantined"
            } else if appended.events > 0 && appended.new_events == 0 {
                "duplicate"
            } else {
                "accepted"
            };
            state.metrics.delivery(outcome);
            state.metrics.events(&labels);
            state.metrics.duplicates(appended.duplicates());
            tracing::debug!(
                delivery = appended.delivery_id,
                events = appended.events,
                new = appended.new_events,
                "delivery stored"
            );
            (StatusCode::OK, "EVENT_RECEIVED").into_response()
        }
        Err(err) => unavailable(state, &err),
    }
}

fn unavailable(state: &AppState, err: &StoreError) -> Response {
    state.metrics.delivery("unavailable");
    match err {
        StoreError::Saturated { .. } => tracing::warn!("delivery refused with 503: {err}"),
        _ => tracing::error!("delivery refused with 503: {err}"),
    }
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, state.retry_after.clone())],
        "the store cannot take this delivery right now; retry later\n",
    )
        .into_response()
}

fn body_rejected(state: &AppState, rejection: BytesRejection) -> Response {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        state.metrics.delivery("too_large");
        tracing::warn!("delivery refused: body over the size limit (max_body_bytes)");
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is larger than this server accepts (max_body_bytes)\n",
        )
            .into_response();
    }
    (rejection.status(), rejection.body_text()).into_response()
}

fn no_default_route() -> Response {
    (
        StatusCode::NOT_FOUND,
        "this server has no app secret for /webhook; post to /webhook/{app} for a configured app\n",
    )
        .into_response()
}

fn unknown_app() -> Response {
    (
        StatusCode::NOT_FOUND,
        "no app with this name is configured\n",
    )
        .into_response()
}

/// A header as text, cut to a sane length (it is stored with the delivery).
fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    Some(value.chars().take(256).collect())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
