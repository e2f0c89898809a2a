//! `GET /api/v1/stream`: events posted after connecting arrive as Server-Sent Events, filters apply,
//! `Last-Event-ID` and `?after=` resume, and an open stream does not hold shutdown up.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, TestApp, message, message_and_read, with_admin};

/// One Server-Sent Event as received.
#[derive(Debug)]
struct Received {
    id: i64,
    event: String,
    data: Value,
}

/// An open stream and what was read of it and not yet parsed.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(app: &TestApp, path: &str, last_event_id: Option<&str>) -> Stream {
        let mut request = app.client.get(app.url(path)).bearer_auth(ADMIN_TOKEN);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Stream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (comments skipped); panics after 5 s without one.
    async fn next(&mut self) -> Received {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&frame) {
                    return event;
                }
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, self.response.chunk())
                .await
                .expect("no event within 5 s")
                .unwrap()
                .expect("the stream ended");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// Ids of the next `n` events.
    async fn ids(&mut self, n: usize) -> Vec<i64> {
        let mut ids = Vec::new();
        for _ in 0..n {
            ids.push(self.next().await.id);
        }
        ids
    }

    /// Asserts nothing but comments arrives for `wait`.
    async fn quiet_for(&mut self, wait: Duration) {
        let got = tokio::time::timeout(wait, self.next()).await;
        assert!(got.is_err(), "unexpected event: {got:?}");
    }
}

fn parse(frame: &str) -> Option<Received> {
    let (mut id, mut event, mut data) = (None, None, None);
    for line in frame.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            id = Some(v.trim().parse().unwrap());
        } else if let Some(v) = line.strip_prefix("event:") {
            event = Some(v.trim().to_owned());
        } else if let Some(v) = line.strip_prefix("data:") {
            data = Some(serde_json::from_str(v.trim()).unwrap());
        }
    }
    Some(Received {
        id: id?,
        event: event?,
        data: data?,
    })
}

#[tokio::test]
async fn events_posted_after_connecting_arrive_as_the_json_of_the_events_route() {
    let app = with_admin().await;
    assert_eq!(app.post_signed(&message_and_read(7, 0)).await.status(), 200);
    let mut stream = Stream::open(&app, "/api/v1/stream", None).await;
    assert_eq!(app.post_signed(&message_and_read(7, 1)).await.status(), 200);
    assert_eq!(app.post_signed(&message_and_read(8, 2)).await.status(), 200);

    let first = stream.next().await;
    assert_eq!((first.id, first.event.as_str()), (3, "event"));
    let expected = app
        .get_as("/api/v1/events/3", ADMIN_TOKEN)
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(first.data, expected);
    assert_eq!(first.data["mid"], "m.7.1");
    assert_eq!(stream.ids(3).await, [4, 5, 6]);
    stream.quiet_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn kind_and_conversation_filters_apply_to_the_stream() {
    let app = with_admin().await;
    let mut reads = Stream::open(&app, "/api/v1/stream?kind=read", None).await;
    let mut of_8 = Stream::open(
        &app,
        "/api/v1/stream?conversation=page:100:8&kind=message",
        None,
    )
    .await;
    for n in 0..4 {
        assert_eq!(
            app.post_signed(&message_and_read(7 + n % 2, n))
                .await
                .status(),
            200
        );
    }
    for id in [2, 4, 6, 8] {
        let event = reads.next().await;
        assert_eq!((event.id, event.data["kind"].as_str()), (id, Some("read")));
    }
    for id in [3, 7] {
        let event = of_8.next().await;
        assert_eq!(event.id, id);
        assert_eq!(event.data["conversation_key"], "page:100:8");
    }
    of_8.quiet_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn last_event_id_and_after_resume_past_the_given_event() {
    let app = with_admin().await;
    for n in 0..2 {
        assert_eq!(app.post_signed(&message_and_read(7, n)).await.status(), 200);
    }
    let mut resumed = Stream::open(&app, "/api/v1/stream", Some("1")).await;
    assert_eq!(resumed.ids(3).await, [2, 3, 4]);
    // The header wins over the query, as an EventSource reconnects to the same URL.
    let mut both = Stream::open(&app, "/api/v1/stream?after=0", Some("3")).await;
    assert_eq!(both.ids(1).await, [4]);
    let mut after = Stream::open(&app, "/api/v1/stream?after=2&kind=read", None).await;
    assert_eq!(after.ids(1).await, [4]);

    assert_eq!(app.post_signed(&message("m.new")).await.status(), 200);
    assert_eq!(resumed.ids(1).await, [5]);
    assert_eq!(both.ids(1).await, [5]);
    after.quiet_for(Duration::from_millis(300)).await;

    for bad in ["-1", "last"] {
        let response = app
            .client
            .get(app.url("/api/v1/stream"))
            .bearer_auth(ADMIN_TOKEN)
            .header("last-event-id", bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
    }
    let response = app.get_as("/api/v1/stream?after=x", ADMIN_TOKEN).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn a_server_with_an_open_stream_shuts_down_promptly_and_ends_the_stream() {
    let mut app = with_admin().await;
    let mut stream = Stream::open(&app, "/api/v1/stream", None).await;
    assert_eq!(app.post_signed(&message("m.1")).await.status(), 200);
    assert_eq!(stream.ids(1).await, [1]);

    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(3), app.stop())
        .await
        .expect("shutdown waited on the open stream")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(3));
    let rest = tokio::time::timeout(Duration::from_secs(2), stream.response.chunk())
        .await
        .expect("the stream did not end");
    assert!(matches!(rest, Ok(None) | Err(_)), "{rest:?}");
}
