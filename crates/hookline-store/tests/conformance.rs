//! The behaviour every store backend must have, run against each backend this build has.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{
    Content, DeliveryQuery, EventQuery, EventStore, NewDelivery, NewEvent, Outcome, StoreError,
    WriterOptions,
};

struct Fixture {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    Fixture { _dir: dir, path }
}

fn open(fx: &Fixture, options: SqliteOptions) -> Arc<dyn EventStore> {
    Arc::new(SqliteStore::open(&fx.path, options).unwrap())
}

/// A message and a read receipt whose watermark follows the mid's number, so distinct mids make distinct
/// receipts.
fn body(mid: &str, text: &str) -> Vec<u8> {
    let n: i64 = mid.trim_start_matches("m.").parse().unwrap_or(0);
    let watermark = 1_700_000_000_000 + n;
    format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1700000000000,"messaging":[{{"sender":{{"id":"7"}},"recipient":{{"id":"100"}},"timestamp":1700000000000,"message":{{"mid":"{mid}","text":"{text}"}}}}]}},{{"id":"100","time":1700000000001,"messaging":[{{"sender":{{"id":"7"}},"recipient":{{"id":"100"}},"timestamp":1700000000001,"read":{{"watermark":{watermark}}}}}]}}]}}"#
    )
    .into_bytes()
}

fn delivery(body: Vec<u8>) -> NewDelivery {
    let body = Bytes::from(body);
    let content = match hookline_meta::parse(&body) {
        Ok(events) => Content::Events(
            events
                .iter()
                .map(|e| NewEvent::from_event(e, &body))
                .collect(),
        ),
        Err(err) => Content::Quarantined {
            reason: err.to_string(),
        },
    };
    NewDelivery {
        received_at_ms: 1_700_000_000_500,
        app: None,
        secret_index: Some(0),
        signature: Some("sha256=00".into()),
        api_version: Some("v25.0".into()),
        user_agent: Some("facebookexternalua".into()),
        body,
        content,
    }
}

fn all_events() -> EventQuery {
    EventQuery {
        limit: 1000,
        with_raw: true,
        ..EventQuery::default()
    }
}

fn all_deliveries() -> DeliveryQuery {
    DeliveryQuery {
        limit: 1000,
        with_body: true,
        ..DeliveryQuery::default()
    }
}

#[tokio::test]
async fn a_committed_delivery_lists_its_events_with_their_raw_json() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    let appended = store
        .submit(delivery(body("m.1", "hi")))
        .unwrap()
        .await
        .unwrap();
    assert_eq!((appended.events, appended.new_events), (2, 2));
    assert_eq!(appended.outcome, Outcome::Accepted);

    let events = store.list_events(all_events()).await.unwrap();
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["message", "read"]);
    let message = &events[0];
    assert_eq!(message.mid.as_deref(), Some("m.1"));
    assert_eq!(message.sender.as_deref(), Some("7"));
    assert_eq!(message.conversation_key.as_deref(), Some("page:100:7"));
    assert_eq!(message.timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(message.received_at_ms, 1_700_000_000_500);
    let raw: serde_json::Value = serde_json::from_str(message.raw.as_deref().unwrap()).unwrap();
    assert_eq!(raw["message"]["text"], "hi");

    let deliveries = store.list_deliveries(all_deliveries()).await.unwrap();
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].body.as_deref(), Some(&body("m.1", "hi")[..]));
    assert_eq!(deliveries[0].api_version.as_deref(), Some("v25.0"));
    assert_eq!(
        (deliveries[0].event_count, deliveries[0].new_event_count),
        (2, 2)
    );
}

#[tokio::test]
async fn followers_see_the_highest_committed_event_id_move_only_when_events_are_added() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    let mut committed = store.committed_events();
    assert_eq!(*committed.borrow_and_update(), 0);
    store
        .submit(delivery(body("m.1", "hi")))
        .unwrap()
        .await
        .unwrap();
    assert!(committed.has_changed().unwrap());
    assert_eq!(*committed.borrow_and_update(), 2);
    // A pure redelivery adds no event, so followers are not woken.
    store
        .submit(delivery(body("m.1", "hi")))
        .unwrap()
        .await
        .unwrap();
    assert!(!committed.has_changed().unwrap());
    store
        .submit(delivery(body("m.2", "yo")))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(*committed.borrow_and_update(), 4);
    drop(store);
    // A reopened store starts from what is on disk.
    let store = open(&fx, SqliteOptions::default());
    assert_eq!(*store.committed_events().borrow(), 4);
}

#[tokio::test]
async fn redeliveries_add_deliveries_and_duplicate_counts_but_no_events() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    for _ in 0..3 {
        store
            .submit(delivery(body("m.1", "hi")))
            .unwrap()
            .await
            .unwrap();
    }
    let pending: Vec<_> = (0..5)
        .map(|_| store.submit(delivery(body("m.1", "hi"))).unwrap())
        .collect();
    for commit in pending {
        assert_eq!(commit.await.unwrap().new_events, 0);
    }
    let events = store.list_events(all_events()).await.unwrap();
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|e| e.duplicates == 7));
    let deliveries = store.list_deliveries(all_deliveries()).await.unwrap();
    assert_eq!(deliveries.len(), 8);
    assert_eq!(deliveries[0].new_event_count, 2);
    assert!(deliveries[1..].iter().all(|d| d.new_event_count == 0));
}

#[tokio::test]
async fn a_body_that_is_not_json_is_quarantined_whole() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    let appended = store
        .submit(delivery(b"{\"object\":\"page\",".to_vec()))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(appended.outcome, Outcome::Quarantined);
    assert!(store.list_events(all_events()).await.unwrap().is_empty());
    let quarantined = store
        .list_deliveries(DeliveryQuery {
            outcome: Some(Outcome::Quarantined),
            ..all_deliveries()
        })
        .await
        .unwrap();
    assert_eq!(quarantined.len(), 1);
    assert_eq!(
        quarantined[0].body.as_deref(),
        Some(&b"{\"object\":\"page\","[..])
    );
    assert!(quarantined[0].error.as_deref().unwrap().contains("line 1"));
}

#[tokio::test]
async fn events_filter_by_kind_and_page_after_a_cursor() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    for i in 0..5 {
        let commit = store
            .submit(delivery(body(&format!("m.{i}"), "x")))
            .unwrap();
        commit.await.unwrap();
    }
    let messages = store
        .list_events(EventQuery {
            kind: Some("message".into()),
            limit: 2,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(messages.len(), 2);
    assert!(
        messages
            .iter()
            .all(|e| e.kind == "message" && e.raw.is_none())
    );
    let rest = store
        .list_events(EventQuery {
            kind: Some("message".into()),
            after_id: Some(messages[1].id),
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let mids: Vec<_> = rest.iter().map(|e| e.mid.clone().unwrap()).collect();
    assert_eq!(mids, ["m.2", "m.3", "m.4"]);
    let conversation = store
        .list_events(EventQuery {
            conversation_key: Some("page:100:7".into()),
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(conversation.len(), 10);
}

#[tokio::test]
async fn events_list_newest_first_within_id_bounds() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    for i in 0..3 {
        let commit = store
            .submit(delivery(body(&format!("m.{i}"), "x")))
            .unwrap();
        commit.await.unwrap();
    }
    let newest = |before_id, limit| EventQuery {
        kind: Some("message".into()),
        before_id,
        newest_first: true,
        limit,
        ..EventQuery::default()
    };
    let latest = store.list_events(newest(None, 1)).await.unwrap();
    assert_eq!(latest[0].mid.as_deref(), Some("m.2"));
    let older = store
        .list_events(newest(Some(latest[0].id), 10))
        .await
        .unwrap();
    let mids: Vec<_> = older.iter().map(|e| e.mid.clone().unwrap()).collect();
    assert_eq!(mids, ["m.1", "m.0"]);
    let between = store
        .list_events(EventQuery {
            after_id: Some(1),
            before_id: Some(4),
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let ids: Vec<_> = between.iter().map(|e| e.id).collect();
    assert_eq!(ids, [2, 3]);
}

#[tokio::test]
async fn one_event_and_one_delivery_are_read_by_id_and_unknown_ids_are_none() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    store
        .submit(delivery(body("m.1", "hi")))
        .unwrap()
        .await
        .unwrap();
    let listed = store.list_events(all_events()).await.unwrap();
    let with_raw = store.get_event(listed[1].id, true).await.unwrap().unwrap();
    assert_eq!(with_raw, listed[1]);
    let plain = store.get_event(listed[0].id, false).await.unwrap().unwrap();
    assert_eq!((plain.mid.as_deref(), plain.raw), (Some("m.1"), None));
    assert_eq!(store.get_event(99, true).await.unwrap(), None);

    let listed = store.list_deliveries(all_deliveries()).await.unwrap();
    let full = store.get_delivery(1, true).await.unwrap().unwrap();
    assert_eq!(full, listed[0]);
    assert_eq!(full.body.as_deref(), Some(&body("m.1", "hi")[..]));
    let bare = store.get_delivery(1, false).await.unwrap().unwrap();
    assert_eq!((bare.body, bare.body_len), (None, full.body_len));
    assert_eq!(store.get_delivery(2, false).await.unwrap(), None);
}

#[tokio::test]
async fn a_delivery_s_events_are_those_it_stored_first_not_those_it_repeated() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    // Deliveries 1..=9: new pairs, a redelivery (4), a quarantined body (6) and an empty one (8).
    for i in 1..=9 {
        let raw = match i {
            4 => body("m.3", "x"),
            6 => b"not json".to_vec(),
            8 => br#"{"object":"page","entry":[]}"#.to_vec(),
            _ => body(&format!("m.{i}"), "x"),
        };
        store.submit(delivery(raw)).unwrap().await.unwrap();
    }
    let events = store.list_events(all_events()).await.unwrap();
    for id in 1..=10 {
        let expected: Vec<i64> = events
            .iter()
            .filter(|e| e.delivery_id == id)
            .map(|e| e.id)
            .collect();
        let found: Vec<i64> = store
            .delivery_events(id)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(found, expected, "delivery {id}");
        let stored_new = [1, 2, 3, 5, 7, 9].contains(&id);
        assert_eq!(found.len(), if stored_new { 2 } else { 0 }, "delivery {id}");
    }
}

#[tokio::test]
async fn deliveries_list_newest_first_below_a_bound() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    for i in 0..4 {
        let commit = store
            .submit(delivery(body(&format!("m.{i}"), "x")))
            .unwrap();
        commit.await.unwrap();
    }
    let newest = |before_id| DeliveryQuery {
        before_id,
        newest_first: true,
        limit: 2,
        ..DeliveryQuery::default()
    };
    let ids =
        |rows: Vec<hookline_store::StoredDelivery>| rows.iter().map(|d| d.id).collect::<Vec<_>>();
    assert_eq!(
        ids(store.list_deliveries(newest(None)).await.unwrap()),
        [4, 3]
    );
    assert_eq!(
        ids(store.list_deliveries(newest(Some(3))).await.unwrap()),
        [2, 1]
    );
}

#[tokio::test]
async fn deliveries_filter_by_a_receive_window_that_includes_its_start_and_excludes_its_end() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    let base = 1_700_000_000_000;
    for i in 0..5 {
        let at = NewDelivery {
            received_at_ms: base + i * 1000,
            ..delivery(body(&format!("m.{i}"), "x"))
        };
        store.submit(at).unwrap().await.unwrap();
    }
    let window = |from: Option<i64>, until: Option<i64>, after_id: Option<i64>| DeliveryQuery {
        received_from_ms: from.map(|s| base + s * 1000),
        received_until_ms: until.map(|s| base + s * 1000),
        after_id,
        ..all_deliveries()
    };
    let times = |deliveries: Vec<hookline_store::StoredDelivery>| -> Vec<i64> {
        deliveries
            .iter()
            .map(|d| (d.received_at_ms - base) / 1000)
            .collect()
    };
    let cases = [
        (Some(1), Some(3), None, vec![1, 2]),
        (Some(3), None, None, vec![3, 4]),
        (None, Some(1), None, vec![0]),
        (Some(2), Some(2), None, vec![]),
        (Some(1), Some(4), Some(2), vec![2, 3]),
    ];
    for (from, until, after, expected) in cases {
        let listed = store
            .list_deliveries(window(from, until, after))
            .await
            .unwrap();
        assert_eq!(times(listed), expected, "from {from:?} until {until:?}");
    }
    let bodies = store
        .list_deliveries(window(Some(4), None, None))
        .await
        .unwrap();
    assert_eq!(bodies[0].body.as_deref(), Some(&body("m.4", "x")[..]));
}

#[tokio::test]
async fn a_reopened_store_keeps_everything_and_goes_on_numbering() {
    let fx = fixture();
    {
        let store = open(&fx, SqliteOptions::default());
        store
            .submit(delivery(body("m.1", "a")))
            .unwrap()
            .await
            .unwrap();
        store.close().await;
    }
    let store = open(&fx, SqliteOptions::default());
    let again = store
        .submit(delivery(body("m.1", "a")))
        .unwrap()
        .await
        .unwrap();
    assert_eq!((again.delivery_id, again.new_events), (2, 0));
    let next = store
        .submit(delivery(body("m.2", "b")))
        .unwrap()
        .await
        .unwrap();
    assert_eq!((next.delivery_id, next.new_events), (3, 2));
    let ids: Vec<_> = store
        .list_events(all_events())
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(ids, [1, 2, 3, 4]);
}

#[tokio::test]
async fn close_commits_what_is_queued_and_then_refuses_writes() {
    let fx = fixture();
    let store = open(&fx, SqliteOptions::default());
    let pending: Vec<_> = (0..50)
        .map(|i| {
            store
                .submit(delivery(body(&format!("m.{i}"), "x")))
                .unwrap()
        })
        .collect();
    store.close().await;
    for commit in pending {
        assert_eq!(commit.await.unwrap().new_events, 2);
    }
    assert!(matches!(
        store.submit(delivery(body("m.x", "x"))),
        Err(StoreError::Closed)
    ));
}

/// Holds SQLite's write lock from another connection, as a backup tool or a second process would.
fn lock_database(path: &std::path::Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
    conn
}

fn quick_busy() -> SqliteOptions {
    SqliteOptions {
        busy_timeout: Duration::from_millis(50),
        ..SqliteOptions::default()
    }
}

#[tokio::test]
async fn a_locked_database_fails_the_commit_and_recovers_when_released() {
    let fx = fixture();
    let store = open(&fx, quick_busy());
    store.check_writable().await.unwrap();
    let lock = lock_database(&fx.path);
    let err = store
        .submit(delivery(body("m.1", "a")))
        .unwrap()
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
    assert!(err.to_string().contains("lock"), "{err}");
    assert!(err.is_transient());
    assert!(store.check_writable().await.is_err());
    drop(lock);
    store.check_writable().await.unwrap();
    let ok = store
        .submit(delivery(body("m.1", "a")))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(ok.new_events, 2);
    assert_eq!(
        store.list_deliveries(all_deliveries()).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn a_full_queue_is_refused_at_once() {
    let fx = fixture();
    let options = SqliteOptions {
        busy_timeout: Duration::from_millis(300),
        writer: WriterOptions {
            queue_capacity: 2,
            max_batch: 1,
            ..WriterOptions::default()
        },
        ..SqliteOptions::default()
    };
    let store = open(&fx, options);
    let lock = lock_database(&fx.path);
    let mut saturated = 0;
    let mut pending = Vec::new();
    for i in 0..10 {
        match store.submit(delivery(body(&format!("m.{i}"), "x"))) {
            Ok(commit) => pending.push(commit),
            Err(StoreError::Saturated { capacity }) => {
                assert_eq!(capacity, 2);
                saturated += 1;
            }
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert!(saturated >= 6, "only {saturated} refused");
    drop(lock);
    for commit in pending {
        let _ = commit.await;
    }
}

#[tokio::test]
async fn a_store_at_its_size_cap_fails_commits_instead_of_filling_the_disk() {
    let fx = fixture();
    let store = open(
        &fx,
        SqliteOptions {
            max_size_mb: Some(1),
            ..SqliteOptions::default()
        },
    );
    let big = "x".repeat(60_000);
    let mut failed = None;
    for i in 0..100 {
        if let Err(err) = store
            .submit(delivery(body(&format!("m.{i}"), &big)))
            .unwrap()
            .await
        {
            failed = Some((i, err));
            break;
        }
    }
    let (at, err) = failed.expect("the cap was never reached");
    assert!(at > 5, "failed too early, at {at}");
    assert!(err.to_string().contains("full"), "{err}");
    assert!(err.is_transient());
}

#[test]
fn a_database_from_a_newer_hookline_is_refused_with_a_reason() {
    let fx = fixture();
    let conn = rusqlite::Connection::open(&fx.path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(&fx.path, SqliteOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("newer than this hookline"),
        "{err}"
    );
}

mod outbox {
    use super::*;
    use hookline_store::outbox::{
        AttemptChange, AttemptQuery, AttemptState, DeadSelection, DueQuery, NewAttempt,
        OutboxWrite, SinkStart,
    };

    fn row(event_id: i64, key: Option<&str>, ts: i64, next: Option<i64>) -> NewAttempt {
        NewAttempt {
            event_id,
            conversation_key: key.map(str::to_owned),
            timestamp_ms: Some(ts),
            attempts: 1,
            state: if next.is_some() {
                AttemptState::Pending
            } else {
                AttemptState::Dead
            },
            next_attempt_at_ms: next,
            last_error: Some("HTTP 500".into()),
        }
    }

    fn write(sink: &str, cursor: Option<i64>, new: Vec<NewAttempt>) -> OutboxWrite {
        OutboxWrite {
            sink: sink.into(),
            cursor,
            new,
            changes: Vec::new(),
            now_ms: 1_000,
        }
    }

    async fn stored_with_events(fx: &Fixture, n: usize) -> Arc<dyn EventStore> {
        let store = open(fx, SqliteOptions::default());
        for i in 0..n {
            let mid = format!("m.{i}");
            store
                .submit(delivery(body(&mid, "x")))
                .unwrap()
                .await
                .unwrap();
        }
        store
    }

    #[tokio::test]
    async fn a_new_sink_starts_at_the_end_or_the_beginning_and_keeps_its_cursor() {
        let fx = fixture();
        let store = stored_with_events(&fx, 2).await;
        assert_eq!(
            store
                .open_sink("late".into(), SinkStart::End)
                .await
                .unwrap(),
            4
        );
        assert_eq!(
            store
                .open_sink("all".into(), SinkStart::Beginning)
                .await
                .unwrap(),
            0
        );
        store
            .save_sink_progress(write("all", Some(3), Vec::new()))
            .await
            .unwrap();
        // Opening again never moves a cursor, whatever the start.
        assert_eq!(
            store.open_sink("all".into(), SinkStart::End).await.unwrap(),
            3
        );
        // A cursor never goes back (a slow save landing after a later one).
        store
            .save_sink_progress(write("all", Some(2), Vec::new()))
            .await
            .unwrap();
        let statuses = store.sink_statuses().await.unwrap();
        let names: Vec<_> = statuses
            .iter()
            .map(|s| (s.sink.as_str(), s.cursor, s.lag()))
            .collect();
        assert_eq!(names, [("all", 3, 1), ("late", 4, 0)]);
        store.close().await;
        let reopened = open(&fx, SqliteOptions::default());
        assert_eq!(
            reopened
                .open_sink("all".into(), SinkStart::Beginning)
                .await
                .unwrap(),
            3
        );
    }

    #[tokio::test]
    async fn due_rows_come_earliest_first_with_their_events_and_fifo_gives_one_per_conversation() {
        let fx = fixture();
        let store = stored_with_events(&fx, 3).await;
        let rows = vec![
            row(3, Some("c1"), 20, Some(500)),
            row(1, Some("c1"), 10, Some(900)),
            row(5, Some("c2"), 30, Some(100)),
            row(6, None, 40, Some(50)),
            row(2, Some("c1"), 15, None),
        ];
        store
            .save_sink_progress(write("s", Some(6), rows))
            .await
            .unwrap();
        let due = |fifo| DueQuery {
            sink: "s".into(),
            fifo,
            limit: 10,
        };
        let all = store.due_attempts(due(false)).await.unwrap();
        let order: Vec<i64> = all.iter().map(|(a, _)| a.event_id).collect();
        assert_eq!(
            order,
            [6, 5, 3, 1],
            "pending rows by due time; dead rows never due"
        );
        assert!(
            all.iter()
                .all(|(a, e)| a.event_id == e.id && e.raw.is_some())
        );
        // With fifo, event 1 (time 10) heads conversation c1 although event 3 is due earlier.
        let heads = store.due_attempts(due(true)).await.unwrap();
        let order: Vec<i64> = heads.iter().map(|(a, _)| a.event_id).collect();
        assert_eq!(order, [6, 5, 1]);
        let blocked = store
            .blocked_conversations("s".into(), vec!["c1".into(), "c3".into()])
            .await
            .unwrap();
        assert_eq!(blocked, ["c1"]);
        // Delivering the head lets the next of its conversation through.
        let head = heads.iter().find(|(a, _)| a.event_id == 1).unwrap().0.id;
        let mut delivered = write("s", None, Vec::new());
        delivered
            .changes
            .push(AttemptChange::Delivered { id: head });
        store.save_sink_progress(delivered).await.unwrap();
        let heads = store.due_attempts(due(true)).await.unwrap();
        let order: Vec<i64> = heads.iter().map(|(a, _)| a.event_id).collect();
        assert_eq!(order, [6, 5, 3]);
    }

    #[tokio::test]
    async fn retries_move_along_dead_letters_are_retried_or_dropped_by_sink_or_id() {
        let fx = fixture();
        let store = stored_with_events(&fx, 3).await;
        store
            .save_sink_progress(write(
                "a",
                Some(6),
                vec![row(1, None, 1, Some(10)), row(2, None, 2, None)],
            ))
            .await
            .unwrap();
        store
            .save_sink_progress(write(
                "b",
                Some(6),
                vec![row(3, None, 3, None), row(4, None, 4, None)],
            ))
            .await
            .unwrap();
        let pending = store
            .due_attempts(DueQuery {
                sink: "a".into(),
                fifo: false,
                limit: 10,
            })
            .await
            .unwrap();
        let mut change = write("a", None, Vec::new());
        change.changes.push(AttemptChange::Retry {
            id: pending[0].0.id,
            attempts: 2,
            next_attempt_at_ms: 5_000,
            error: "HTTP 503".into(),
        });
        store.save_sink_progress(change).await.unwrap();
        let dead = |sink: Option<&str>| AttemptQuery {
            sink: sink.map(str::to_owned),
            state: Some(AttemptState::Dead),
            limit: 10,
            ..AttemptQuery::default()
        };
        let a = store
            .list_attempts(AttemptQuery {
                sink: Some("a".into()),
                limit: 10,
                ..AttemptQuery::default()
            })
            .await
            .unwrap();
        assert_eq!(
            (
                a[0].attempts,
                a[0].next_attempt_at_ms,
                a[0].last_error.as_deref()
            ),
            (2, Some(5_000), Some("HTTP 503"))
        );
        assert_eq!(store.list_attempts(dead(None)).await.unwrap().len(), 3);

        let b_dead = store.list_attempts(dead(Some("b"))).await.unwrap();
        let one = DeadSelection {
            sink: None,
            ids: vec![b_dead[0].id],
        };
        assert_eq!(store.retry_dead(one).await.unwrap(), 1);
        let revived = store
            .due_attempts(DueQuery {
                sink: "b".into(),
                fifo: false,
                limit: 10,
            })
            .await
            .unwrap();
        assert_eq!(revived.len(), 1);
        assert_eq!((revived[0].0.attempts, revived[0].0.event_id), (0, 3));
        assert_eq!(
            store
                .drop_dead(DeadSelection {
                    sink: Some("a".into()),
                    ids: Vec::new()
                })
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            store.list_attempts(dead(None)).await.unwrap().len(),
            1,
            "b's other dead letter stays"
        );
        let statuses = store.sink_statuses().await.unwrap();
        let counts: Vec<_> = statuses
            .iter()
            .map(|s| (s.sink.as_str(), s.pending, s.dead))
            .collect();
        assert_eq!(counts, [("a", 1, 0), ("b", 1, 1)]);
        // Re-queuing an event that has a row replaces the row (a replay revives a dead letter).
        let mut replay = write("b", None, vec![row(4, None, 4, Some(0))]);
        replay.new[0].attempts = 0;
        store.save_sink_progress(replay).await.unwrap();
        let statuses = store.sink_statuses().await.unwrap();
        assert_eq!((statuses[1].pending, statuses[1].dead), (2, 0));
    }
}
