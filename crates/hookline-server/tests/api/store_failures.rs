//! A store that cannot commit, or a writer that is behind, answers 503 with Retry-After, never 200.

use crate::helpers::{TestApp, message};

fn quick_busy(config: &mut hookline_server::Config) {
    config.database.push_str("?busy_timeout_ms=100");
}

/// Holds SQLite's write lock from another connection, as a backup tool or another process could.
fn lock(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    conn
}

#[tokio::test]
async fn a_store_that_cannot_commit_answers_503_with_retry_after() {
    let app = TestApp::spawn_with(quick_busy).await;
    let held = lock(&app.db_path);
    let response = app.post_signed(&message("m.locked")).await;
    assert_eq!(response.status(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    assert_eq!(app.get("/readyz").await.status(), 503);
    drop(held);
    assert!(app.events().await.is_empty());
    assert_eq!(app.get("/readyz").await.status(), 200);
    assert_eq!(app.post_signed(&message("m.locked")).await.status(), 200);
    assert_eq!(app.events().await.len(), 1);
}

#[tokio::test]
async fn a_full_writer_queue_answers_503_at_once() {
    let app = TestApp::spawn_with(|c| {
        c.database.push_str("?busy_timeout_ms=1500");
        c.writer_queue = 1;
        c.writer_max_batch = 1;
    })
    .await;
    let held = lock(&app.db_path);
    let posts: Vec<_> = (0..8)
        .map(|i| {
            let post = app.spawn_signed(message(&format!("m.q{i}")));
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                (post.await.unwrap(), started.elapsed())
            })
        })
        .collect();
    let mut quick_refusals = 0;
    let mut results = Vec::new();
    for post in posts {
        let (status, elapsed) = post.await.unwrap();
        if status == 503 && elapsed < std::time::Duration::from_millis(1000) {
            quick_refusals += 1;
        }
        results.push(status);
    }
    drop(held);
    assert!(
        results.iter().all(|s| *s == 503 || *s == 200),
        "{results:?}"
    );
    assert!(quick_refusals >= 5, "{results:?}");
}
