//! The engine against the in-test responder: counts, statuses, framing, reconnects, failures.

use std::sync::Arc;
use std::time::Duration;

use hookline_load::{BodySource, LoadConfig, LoadError, Mode, run_blocking};

use crate::responder::{Answer, Responder, SECRET};

/// A body naming its request number, so the responder can tell requests apart.
fn numbered(seq: u64, _now_ms: u64, out: &mut Vec<u8>) -> u32 {
    out.extend_from_slice(format!(r#"{{"object":"page","seq":{seq}}}"#).as_bytes());
    1
}

fn config(url: &str, requests: u64, connections: usize) -> LoadConfig {
    let mut config = LoadConfig::new(url);
    config.secret = Some(SECRET.as_bytes().to_vec());
    config.requests = Some(requests);
    config.duration = None;
    config.connections = connections;
    config.threads = 2;
    config
}

fn bodies() -> Arc<dyn BodySource> {
    Arc::new(numbered)
}

#[test]
fn exactly_the_requested_number_of_requests_reach_the_receiver_over_several_connections() {
    let responder = Responder::start(Answer::Status(200));
    let report = run_blocking(config(&responder.url, 1_000, 8), bodies()).unwrap();

    assert_eq!(
        (report.requests, report.responses, report.events),
        (1_000, 1_000, 1_000)
    );
    assert_eq!(report.status.get("200"), Some(&1_000));
    assert_eq!(report.errors.total(), 0);
    assert_eq!(
        (report.mode, report.connections, report.threads),
        (Mode::Closed, 8, 2)
    );
    let received = responder.received();
    assert_eq!(received.requests, 1_000);
    assert_eq!(
        received.bodies.len(),
        1_000,
        "every request has its own body"
    );
    assert_eq!(received.bad_signatures, 0);
    assert!(received.user_agents.contains("facebookexternalua"));
    for seq in [0, 999] {
        let body = format!(r#"{{"object":"page","seq":{seq}}}"#).into_bytes();
        assert!(received.bodies.contains(&body), "request {seq} was sent");
    }
}

#[test]
fn a_receiver_answering_500_is_counted_by_status_with_no_events_acknowledged() {
    let responder = Responder::start(Answer::Status(500));
    let report = run_blocking(config(&responder.url, 300, 4), bodies()).unwrap();

    assert_eq!(report.status.len(), 1, "{:?}", report.status);
    assert_eq!(report.status.get("500"), Some(&300));
    assert_eq!(
        (report.responses, report.events, report.errors.total()),
        (300, 0, 0)
    );
    assert_eq!(responder.received().requests, 300);
}

#[test]
fn chunked_responses_are_read_to_their_end_on_a_kept_connection() {
    let responder = Responder::start(Answer::Chunked);
    let report = run_blocking(config(&responder.url, 400, 4), bodies()).unwrap();

    assert_eq!(report.status.get("200"), Some(&400));
    assert_eq!((report.errors.total(), report.reconnects), (0, 0));
}

#[test]
fn a_receiver_that_closes_after_each_response_gets_a_new_connection_per_request() {
    let responder = Responder::start(Answer::Close);
    let report = run_blocking(config(&responder.url, 200, 4), bodies()).unwrap();

    assert_eq!(report.status.get("200"), Some(&200));
    assert_eq!(report.errors.total(), 0);
    // Each connection's first request uses the connection opened before the start.
    assert!(
        (196..200).contains(&report.reconnects),
        "{}",
        report.reconnects
    );
    assert_eq!(responder.received().requests, 200);
}

#[test]
fn a_receiver_that_never_answers_times_every_request_out() {
    let responder = Responder::start(Answer::Silent);
    let mut config = config(&responder.url, 4, 2);
    config.timeout = Duration::from_millis(200);
    let report = run_blocking(config, bodies()).unwrap();

    assert_eq!(
        (report.requests, report.responses, report.errors.timeout),
        (4, 0, 4)
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.contains("no request was answered"))
    );
}

#[test]
fn a_receiver_that_is_down_fails_the_run_with_an_error_naming_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/webhook");
    let err = run_blocking(config(&url, 100, 4), bodies()).unwrap_err();

    assert!(matches!(err, LoadError::Connect { .. }), "{err:?}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[test]
fn an_open_loop_run_with_a_request_count_sends_exactly_that_many() {
    let responder = Responder::start(Answer::Status(200));
    let mut config = config(&responder.url, 100, 4);
    config.rate = Some(1_000.0);
    let report = run_blocking(config, bodies()).unwrap();

    assert_eq!(
        (report.mode, report.target_rate),
        (Mode::Open, Some(1_000.0))
    );
    assert_eq!(report.status.get("200"), Some(&100));
    assert_eq!(responder.received().requests, 100);
}

#[test]
fn an_open_loop_run_with_a_duration_ends_and_counts_what_it_sent() {
    let responder = Responder::start(Answer::Status(200));
    let mut config = config(&responder.url, 1, 4);
    (config.requests, config.duration) = (None, Some(Duration::from_millis(300)));
    config.rate = Some(100.0);
    let report = run_blocking(config, bodies()).unwrap();

    // 30 are due within 300 ms; a stalled machine may leave the last few unsent.
    assert!((1..=30).contains(&report.requests), "{}", report.requests);
    assert_eq!(report.status.get("200"), Some(&report.requests));
    assert_eq!(responder.received().requests, report.requests);
}

#[test]
fn https_urls_are_refused_before_anything_is_sent() {
    let err = run_blocking(config("https://127.0.0.1:1/webhook", 1, 1), bodies()).unwrap_err();
    assert!(matches!(err, LoadError::Https { .. }), "{err:?}");
}
