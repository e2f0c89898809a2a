//! Posting a set of deliveries to a server, waiting for its projection, and reading the two conversation
//! routes of the admin API (CONTRACTS.md section 6) whole, page by page.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::Server;

pub const ADMIN_TOKEN: &str = "order-faults-admin-token";
/// Generous: a loaded machine may take long, and no figure here is a timing.
const DEADLINE: Duration = Duration::from_secs(60);

/// Posts `bodies` signed with `secret`, `clients` at a time (each taking the next body in line), and
/// asserts each was answered 200.
pub async fn post_all(
    client: &reqwest::Client,
    server: &Server,
    secret: &str,
    bodies: Vec<Vec<u8>>,
    clients: usize,
) {
    let url = server.url("/webhook");
    let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies.into_iter().enumerate()));
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, url, queue) = (client.clone(), url.clone(), queue.clone());
            let secret = secret.to_owned();
            tokio::spawn(async move {
                loop {
                    let next = queue.lock().unwrap().next();
                    let Some((n, body)) = next else { break };
                    let signature = hookline_meta::signature::sign(secret.as_bytes(), &body);
                    let answer = client
                        .post(&url)
                        .header("content-type", "application/json")
                        .header("x-hub-signature-256", signature)
                        .body(body)
                        .send()
                        .await
                        .map(|r| r.status().as_u16());
                    assert!(
                        matches!(answer, Ok(200)),
                        "expected delivery {n} answered 200; got {answer:?}"
                    );
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

/// Waits until the conversation projection has applied every committed event (`/metrics`).
pub async fn wait_projected(client: &reqwest::Client, server: &Server) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let text = client
            .get(server.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let lag = text
            .lines()
            .find_map(|l| l.strip_prefix("hookline_projection_lag_events "))
            .map(str::to_owned);
        if lag.as_deref() == Some("0") {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected the projection to catch up within {DEADLINE:?}; lag is still {lag:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Every item of a paged admin route (`?limit=500`, then `?cursor=`).
async fn all_pages(client: &reqwest::Client, server: &Server, path: &str) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut request = client
            .get(server.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .query(&[("limit", "500")]);
        if let Some(cursor) = &cursor {
            request = request.query(&[("cursor", cursor)]);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let page: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "expected GET {path} answered 200; got {page}");
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// What the two routes answer: the conversation list, and each conversation's messages by its id.
#[derive(Debug, PartialEq)]
pub struct Answers {
    pub conversations: Vec<Value>,
    pub messages: Vec<(String, Vec<Value>)>,
}

pub async fn read(client: &reqwest::Client, server: &Server) -> Answers {
    let conversations = all_pages(client, server, "/api/v1/conversations").await;
    let mut messages = Vec::new();
    for conversation in &conversations {
        let id = conversation["id"].as_str().unwrap().to_owned();
        let path = format!("/api/v1/conversations/{id}/messages");
        messages.push((id, all_pages(client, server, &path).await));
    }
    Answers {
        conversations,
        messages,
    }
}
