//! /healthz, /readyz and /metrics.

use crate::helpers::{TestApp, message};

#[tokio::test]
async fn health_and_readiness_answer_200_on_a_working_store() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn metrics_count_deliveries_events_duplicates_and_signature_failures() {
    let app = TestApp::spawn().await;
    app.post_signed(&message("m.1")).await;
    app.post_signed(&message("m.1")).await;
    app.post_signed(b"not json").await;
    app.post("/webhook", &message("m.2"), &[]).await;
    app.projected().await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    for line in [
        "hookline_deliveries_total{outcome=\"accepted\"} 1",
        "hookline_deliveries_total{outcome=\"duplicate\"} 1",
        "hookline_deliveries_total{outcome=\"quarantined\"} 1",
        "hookline_deliveries_total{outcome=\"bad_signature\"} 1",
        "hookline_events_total{object=\"page\",kind=\"message\"} 2",
        "hookline_duplicate_events_total 1",
        "hookline_signature_failures_total{reason=\"missing\"} 1",
        "hookline_request_duration_seconds_count 4",
        "hookline_writer_queue_depth 0",
        "hookline_projection_lag_events 0",
        "# TYPE hookline_commit_batch_deliveries histogram",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}
