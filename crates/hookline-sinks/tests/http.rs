//! One delivery attempt against a wiremock consumer, for each class of response.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookline_sinks::Outcome;
use hookline_sinks::http::{HttpSink, Timeouts};
use hookline_sinks::signature::{SigningSecret, verify};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::{SECRET, header};

const ID: &str = "evt_0123456789abcdef0123456789abcdef";
const BODY: &[u8] = br#"{"version":1,"kind":"message"}"#;

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_610_100)
}

fn secret() -> SigningSecret {
    SigningSecret::parse(SECRET).unwrap()
}

fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(2),
        total: Duration::from_millis(500),
    }
}

/// A consumer at `/hooks` answering every POST with `response`.
async fn consumer(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

fn sink(server: &MockServer) -> HttpSink {
    HttpSink::new(&format!("{}/hooks", server.uri()), secret(), timeouts()).unwrap()
}

async fn attempt(response: ResponseTemplate) -> Outcome {
    let server = consumer(response).await;
    sink(&server).post(BODY.to_vec(), ID, now()).await
}

fn retry_reason(outcome: Outcome) -> (String, Option<Duration>) {
    match outcome {
        Outcome::Retry {
            reason,
            retry_after,
        } => (reason, retry_after),
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn a_2xx_is_delivered() {
    assert_eq!(
        attempt(ResponseTemplate::new(200)).await,
        Outcome::Delivered
    );
    assert_eq!(
        attempt(ResponseTemplate::new(204)).await,
        Outcome::Delivered
    );
}

#[tokio::test]
async fn sends_the_standard_webhooks_headers_that_verify_accepts() {
    let server = consumer(ResponseTemplate::new(200)).await;
    sink(&server).post(BODY.to_vec(), ID, now()).await;
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.body, BODY);
    assert_eq!(header(request, "content-type"), "application/json");
    assert_eq!(header(request, "webhook-id"), ID);
    assert_eq!(header(request, "webhook-timestamp"), "1767610100");
    assert_eq!(
        header(request, "webhook-signature"),
        include_str!("vectors/vector2.txt").trim()
    );
    let tolerance = Duration::from_secs(300);
    let checked = verify(
        &secret(),
        &header(request, "webhook-id"),
        &header(request, "webhook-timestamp"),
        &header(request, "webhook-signature"),
        &request.body,
        1_767_610_100,
        tolerance,
    );
    assert_eq!(checked, Ok(()));
}

#[tokio::test]
async fn the_same_event_keeps_its_webhook_id_across_attempts() {
    let server = consumer(ResponseTemplate::new(500)).await;
    let sink = sink(&server);
    sink.post(BODY.to_vec(), ID, now()).await;
    sink.post(BODY.to_vec(), ID, now() + Duration::from_secs(5))
        .await;
    let requests = server.received_requests().await.unwrap();
    let ids: Vec<_> = requests
        .iter()
        .map(|r| r.headers.get("webhook-id").unwrap().clone())
        .collect();
    assert_eq!(ids, [ID, ID]);
    let stamps: Vec<_> = requests
        .iter()
        .map(|r| r.headers.get("webhook-timestamp").unwrap().clone())
        .collect();
    assert_eq!(stamps, ["1767610100", "1767610105"]);
}

#[tokio::test]
async fn a_4xx_is_a_dead_letter_with_status_and_body_in_the_reason() {
    let outcome =
        attempt(ResponseTemplate::new(400).set_body_string("unknown field \"kind\"")).await;
    assert_eq!(
        outcome,
        Outcome::Dead {
            reason: "HTTP 400 Bad Request: unknown field \"kind\"".into()
        }
    );
    assert!(matches!(
        attempt(ResponseTemplate::new(410)).await,
        Outcome::Dead { .. }
    ));
}

#[tokio::test]
async fn a_4xx_is_retried_when_the_sink_is_told_to() {
    let server = consumer(ResponseTemplate::new(404)).await;
    let sink = sink(&server).retry_client_errors(true);
    let (reason, _) = retry_reason(sink.post(BODY.to_vec(), ID, now()).await);
    assert_eq!(reason, "HTTP 404 Not Found");
}

#[tokio::test]
async fn a_long_body_is_quoted_to_about_200_bytes() {
    let page = "é".repeat(2000);
    let (reason, _) = retry_reason(attempt(ResponseTemplate::new(502).set_body_string(page)).await);
    assert!(reason.starts_with("HTTP 502 Bad Gateway: é"), "{reason}");
    assert!(reason.ends_with("..."), "{reason}");
    assert!(reason.len() <= 240, "{} bytes", reason.len());
}

#[tokio::test]
async fn timeouts_and_throttling_and_5xx_are_retried() {
    for status in [408, 429, 500, 503] {
        let (reason, retry_after) = retry_reason(attempt(ResponseTemplate::new(status)).await);
        assert!(reason.starts_with(&format!("HTTP {status}")), "{reason}");
        assert_eq!(retry_after, None);
    }
}

#[tokio::test]
async fn retry_after_is_passed_on_in_seconds_or_as_a_date() {
    let throttled = ResponseTemplate::new(429).insert_header("retry-after", "120");
    let (_, retry_after) = retry_reason(attempt(throttled).await);
    assert_eq!(retry_after, Some(Duration::from_secs(120)));

    let date = httpdate::fmt_http_date(now() + Duration::from_secs(600));
    let unavailable = ResponseTemplate::new(503).insert_header("retry-after", date.as_str());
    let (_, retry_after) = retry_reason(attempt(unavailable).await);
    assert_eq!(retry_after, Some(Duration::from_secs(600)));
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_is_retried() {
    let server = MockServer::start().await;
    let elsewhere = format!("{}/elsewhere", server.uri());
    Mock::given(method("POST"))
        .and(path("/hooks"))
        .respond_with(ResponseTemplate::new(307).insert_header("location", elsewhere.as_str()))
        .mount(&server)
        .await;
    Mock::given(path("/elsewhere"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let (reason, _) = retry_reason(sink(&server).post(BODY.to_vec(), ID, now()).await);
    assert_eq!(
        reason,
        format!("HTTP 307 Temporary Redirect to {elsewhere}: redirects are not followed")
    );
    server.verify().await;
}

#[tokio::test]
async fn a_response_slower_than_the_total_timeout_is_retried() {
    let slow = ResponseTemplate::new(200).set_delay(Duration::from_secs(3));
    let started = std::time::Instant::now();
    let (reason, _) = retry_reason(attempt(slow).await);
    assert_eq!(reason, "timed out before a response arrived");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_refused_connection_is_retried() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let sink = HttpSink::new(
        &format!("http://127.0.0.1:{port}/hooks"),
        secret(),
        timeouts(),
    )
    .unwrap();
    let (reason, retry_after) = retry_reason(sink.post(BODY.to_vec(), ID, now()).await);
    assert!(reason.starts_with("could not connect"), "{reason}");
    assert_eq!(retry_after, None);
}
