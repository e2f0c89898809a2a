//! Slow clients (slowloris) cannot hold connections: one that dribbles its headers is disconnected after
//! the header deadline, one that dribbles its body is answered 408, while Meta's deliveries on other
//! connections are answered 200 meanwhile.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use crate::helpers::{TestApp, message};

async fn with_deadlines() -> TestApp {
    TestApp::spawn_with(|c| {
        c.header_read_timeout_secs = 1;
        c.request_timeout_secs = 1;
    })
    .await
}

/// Opens a connection, sends `head`, then one byte of `rest` every 100 ms until the server closes it.
async fn dribble(
    app: &TestApp,
    head: &str,
    rest: &'static [u8],
) -> (tokio::net::tcp::OwnedReadHalf, Instant) {
    let address = app.base.trim_start_matches("http://");
    let stream = TcpStream::connect(address).await.unwrap();
    let (read, mut write) = stream.into_split();
    write.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    tokio::spawn(async move { drip(&mut write, rest).await });
    (read, started)
}

async fn drip(write: &mut OwnedWriteHalf, rest: &[u8]) {
    for byte in rest.iter().cycle() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if write.write_all(&[*byte]).await.is_err() {
            return;
        }
    }
}

/// Everything the server sends until it closes the connection, and when it closed it.
async fn until_closed(read: &mut tokio::net::tcp::OwnedReadHalf) -> (String, Instant) {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 1024];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(10), read.read(&mut buffer))
            .await
            .expect("the server kept the slow connection open for 10 s");
        match read {
            Ok(0) | Err(_) => {
                return (
                    String::from_utf8_lossy(&answer).into_owned(),
                    Instant::now(),
                );
            }
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
        }
    }
}

#[tokio::test]
async fn a_client_dribbling_its_headers_is_disconnected_while_deliveries_are_answered() {
    let app = with_deadlines().await;
    let (mut read, started) = dribble(
        &app,
        "POST /webhook HTTP/1.1\r\nHost: hookline\r\n",
        b"X-Slow: aaaaaaaaaaaa",
    )
    .await;
    let delivery = app.post_signed(&message("m.meanwhile")).await;
    assert_eq!(delivery.status(), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the delivery waited for the slow client"
    );
    let (_, closed) = until_closed(&mut read).await;
    let held = closed - started;
    assert!(
        held >= Duration::from_millis(900),
        "closed after {held:?}, before the deadline"
    );
    assert!(held < Duration::from_secs(4), "held for {held:?}");
    assert_eq!(app.events().await.len(), 1);
}

#[tokio::test]
async fn a_client_dribbling_its_body_is_answered_408_and_nothing_is_stored() {
    let app = with_deadlines().await;
    let head = "POST /webhook HTTP/1.1\r\nHost: hookline\r\nContent-Type: application/json\r\n\
                X-Hub-Signature-256: sha256=00\r\nContent-Length: 100000\r\n\r\n{";
    let (mut read, started) = dribble(&app, head, b" ").await;
    let delivery = app.post_signed(&message("m.meanwhile")).await;
    assert_eq!(delivery.status(), 200);
    let (answer, closed) = until_closed(&mut read).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        closed - started < Duration::from_secs(4),
        "held for {:?}",
        closed - started
    );
    assert_eq!(app.deliveries().await.len(), 1);
}

#[tokio::test]
async fn the_live_stream_outlasts_the_request_deadline() {
    let app = TestApp::spawn_with(|c| {
        c.request_timeout_secs = 1;
        c.admin_token = Some(crate::helpers::ADMIN_TOKEN.into());
    })
    .await;
    let mut stream = app
        .get_as("/api/v1/stream", crate::helpers::ADMIN_TOKEN)
        .await;
    assert_eq!(stream.status(), 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    app.post_signed(&message("m.late")).await;
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !seen.contains("m.late") {
        let left = deadline.saturating_duration_since(Instant::now());
        let chunk = tokio::time::timeout(left, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("the stream did not send the new event: {seen}"))
            .unwrap()
            .unwrap_or_else(|| panic!("the stream ended: {seen}"));
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn over_the_connection_cap_a_client_waits_for_a_free_slot() {
    let app = TestApp::spawn_with(|c| {
        c.header_read_timeout_secs = 1;
        c.max_connections = 1;
    })
    .await;
    // Holds the only slot, sending nothing, until the header deadline closes it.
    let idle = TcpStream::connect(app.base.trim_start_matches("http://"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let delivery = app.post_signed(&message("m.queued")).await;
    assert_eq!(delivery.status(), 200);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(700),
        "answered after {waited:?}, while the only slot was taken"
    );
    drop(idle);
}
