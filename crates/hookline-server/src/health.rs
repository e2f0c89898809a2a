//! `/healthz` (the process runs), `/readyz` (the store takes writes) and `/metrics`.
//!
//! `/readyz` answers by the store alone: a Page Meta dropped is no reason to stop taking deliveries from
//! the others. With the subscription watchdog on, its body adds one line per `[[account]]` with the last
//! check (`meta page 1001: ok, checked 2026-...Z`), for a person reading the probe.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::metrics::StoreGauges;
use crate::state::AppState;

/// Longest a readiness probe waits for the writer (it queues behind pending commits).
const READY_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) async fn healthz() -> &'static str {
    "ok\n"
}

pub(crate) async fn readyz(State(state): State<AppState>) -> Response {
    let check = tokio::time::timeout(READY_TIMEOUT, state.store.check_writable()).await;
    let (status, head) = match check {
        Ok(Ok(())) => (StatusCode::OK, "ready".to_owned()),
        Ok(Err(err)) => {
            tracing::warn!("not ready: {err}");
            (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {err}"))
        }
        Err(_) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the store's writer did not answer within 3 s".to_owned(),
        ),
    };
    let mut body = head + "\n";
    for report in state.watchdog.reports() {
        body.push_str(&report.summary());
        body.push('\n');
    }
    (status, body).into_response()
}

pub(crate) async fn metrics(State(state): State<AppState>) -> Response {
    let head = *state.store.committed_events().borrow();
    let gauges = StoreGauges {
        queue_depth: state.store.queue_depth(),
        projection_lag: head - *state.store.projected_events().borrow(),
        head,
    };
    let text = state.metrics.render(gauges);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
