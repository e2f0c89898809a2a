//! The behaviour every store backend must have: each test in [`on_every_backend!`] runs against SQLite
//! and against PostgreSQL (see `support/mod.rs` for how the PostgreSQL tests find their database).
//! Below them, the tests of what only one backend has: SQLite's file locks and size cap, PostgreSQL's
//! several instances on one database and its lost connections. `conformance/leases.rs` holds the tests
//! of several instances running one sink, `conformance/sends.rs` those of hookline's own sends and their
//! echoes.

#[path = "support/proxy.rs"]
mod proxy;
#[macro_use]
mod support;

use support::meta::delivery;

use std::sync::Arc;
use std::time::Duration;

use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{
    DeliveryQuery, EventQuery, EventStore, NewDelivery, Outcome, StoreError, WriterOptions,
};
use support::Fixture;

on_every_backend!(
    a_committed_delivery_lists_its_events_with_their_raw_json,
    followers_see_the_highest_committed_event_id_move_only_when_events_are_added,
    redeliveries_add_deliveries_and_duplicate_counts_but_no_events,
    repeats_within_one_delivery_and_one_group_count_as_duplicates,
    a_body_that_is_not_json_is_quarantined_whole,
    events_filter_by_kind_and_page_after_a_cursor,
    events_list_newest_first_within_id_bounds,
    one_event_and_one_delivery_are_read_by_id_and_unknown_ids_are_none,
    a_delivery_s_events_are_those_it_stored_first_not_those_it_repeated,
    deliveries_list_newest_first_below_a_bound,
    deliveries_filter_by_a_receive_window_that_includes_its_start_and_excludes_its_end,
    a_reopened_store_keeps_everything_and_goes_on_numbering,
    close_commits_what_is_queued_and_then_refuses_writes,
    the_schema_version_is_the_one_this_hookline_writes,
    a_store_behind_this_hookline_is_refused_when_migrations_are_off,
);

async fn open(fx: &Fixture) -> Arc<dyn EventStore> {
    fx.open(WriterOptions::default()).await
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

async fn a_committed_delivery_lists_its_events_with_their_raw_json(fx: &Fixture) {
    let store = open(fx).await;
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

async fn followers_see_the_highest_committed_event_id_move_only_when_events_are_added(
    fx: &Fixture,
) {
    let store = open(fx).await;
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
    // A reopened store starts from what is stored.
    let store = open(fx).await;
    assert_eq!(*store.committed_events().borrow(), 4);
}

async fn redeliveries_add_deliveries_and_duplicate_counts_but_no_events(fx: &Fixture) {
    let store = open(fx).await;
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

async fn a_body_that_is_not_json_is_quarantined_whole(fx: &Fixture) {
    let store = open(fx).await;
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

async fn events_filter_by_kind_and_page_after_a_cursor(fx: &Fixture) {
    let store = open(fx).await;
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

async fn events_list_newest_first_within_id_bounds(fx: &Fixture) {
    let store = open(fx).await;
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

async fn one_event_and_one_delivery_are_read_by_id_and_unknown_ids_are_none(fx: &Fixture) {
    let store = open(fx).await;
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

async fn a_delivery_s_events_are_those_it_stored_first_not_those_it_repeated(fx: &Fixture) {
    let store = open(fx).await;
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

async fn deliveries_list_newest_first_below_a_bound(fx: &Fixture) {
    let store = open(fx).await;
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

async fn deliveries_filter_by_a_receive_window_that_includes_its_start_and_excludes_its_end(
    fx: &Fixture,
) {
    let store = open(fx).await;
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

async fn a_reopened_store_keeps_everything_and_goes_on_numbering(fx: &Fixture) {
    {
        let store = open(fx).await;
        store
            .submit(delivery(body("m.1", "a")))
            .unwrap()
            .await
            .unwrap();
        store.close().await;
    }
    let store = open(fx).await;
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

async fn close_commits_what_is_queued_and_then_refuses_writes(fx: &Fixture) {
    let store = open(fx).await;
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

async fn repeats_within_one_delivery_and_one_group_count_as_duplicates(fx: &Fixture) {
    let store = open(fx).await;
    // The same message twice in one body: one event, repeated once, linked to its own delivery.
    let twice = format!(
        r#"{{"object":"page","entry":[{entry},{entry}]}}"#,
        entry = r#"{"id":"100","time":1,"messaging":[{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":1700000000000,"message":{"mid":"m.twice","text":"a"}}]}"#
    );
    let first = store
        .submit(delivery(twice.into_bytes()))
        .unwrap()
        .await
        .unwrap();
    assert_eq!((first.events, first.new_events), (2, 1));
    // Three deliveries of one new pair queued together: committed in one group, stored once.
    let pending: Vec<_> = (0..3)
        .map(|_| store.submit(delivery(body("m.5", "x"))).unwrap())
        .collect();
    let mut new_events = Vec::new();
    for commit in pending {
        new_events.push(commit.await.unwrap().new_events);
    }
    assert_eq!(new_events, [2, 0, 0]);
    let events = store.list_events(all_events()).await.unwrap();
    let counts: Vec<_> = events
        .iter()
        .map(|e| (e.mid.as_deref(), e.kind.as_str(), e.duplicates))
        .collect();
    assert_eq!(
        counts,
        [
            (Some("m.twice"), "message", 1),
            (Some("m.5"), "message", 2),
            (None, "read", 2)
        ]
    );
    let deliveries = store.list_deliveries(all_deliveries()).await.unwrap();
    let counts: Vec<_> = deliveries
        .iter()
        .map(|d| (d.event_count, d.new_event_count))
        .collect();
    assert_eq!(counts, [(2, 1), (2, 2), (2, 0), (2, 0)]);
}

async fn the_schema_version_is_the_one_this_hookline_writes(fx: &Fixture) {
    let store = open(fx).await;
    let version = store.schema_version().await.unwrap();
    assert_eq!(
        version,
        hookline_store::current_schema_version(&fx.store_url())
    );
    assert!(version >= 3, "{version}");
}

async fn a_store_behind_this_hookline_is_refused_when_migrations_are_off(fx: &Fixture) {
    let no_migrations = || WriterOptions {
        migrate: false,
        ..WriterOptions::default()
    };
    let err = fx.try_open(no_migrations()).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("hookline migrate"), "{message}");
    assert!(message.contains("schema version 0"), "{message}");
    // Once migrated, the same store opens with migrations off.
    open(fx).await.close().await;
    let store = fx.try_open(no_migrations()).await.unwrap();
    store
        .submit(delivery(body("m.1", "a")))
        .unwrap()
        .await
        .unwrap();
}

mod sqlite_only {
    //! SQLite's file: another process's lock, the size cap, the version in `user_version`.

    use super::*;

    struct File {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
    }

    fn fixture() -> File {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        File { _dir: dir, path }
    }

    fn open(fx: &File, options: SqliteOptions) -> Arc<dyn EventStore> {
        Arc::new(SqliteStore::open(&fx.path, options).unwrap())
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

    /// A store with events 1 and 2, sink `s` at the beginning, a row for event 1 due at once, and both
    /// the sink's lease and the row claimed by `gone` until far in the future.
    async fn leased_by_gone(fx: &File) -> Arc<dyn EventStore> {
        use hookline_store::outbox::{
            AttemptState, DueQuery, NewAttempt, OutboxWrite, RowClaim, SinkClaim, SinkStart,
        };
        let store = open(fx, SqliteOptions::default());
        store
            .submit(delivery(body("m.1", "a")))
            .unwrap()
            .await
            .unwrap();
        store
            .open_sink("s".into(), SinkStart::Beginning)
            .await
            .unwrap();
        let row = NewAttempt {
            event_id: 1,
            conversation_key: None,
            timestamp_ms: None,
            attempts: 1,
            state: AttemptState::Pending,
            next_attempt_at_ms: Some(0),
            last_error: None,
        };
        let write = OutboxWrite {
            sink: "s".into(),
            cursor: None,
            new: vec![row],
            changes: Vec::new(),
            now_ms: 0,
            owner: None,
        };
        store.save_sink_progress(write).await.unwrap();
        let far = i64::MAX / 2;
        let lease = SinkClaim {
            sink: "s".into(),
            owner: "gone".into(),
            now_ms: 0,
            until_ms: far,
        };
        assert_eq!(store.claim_sink(lease).await.unwrap(), Some(0));
        let due = DueQuery {
            sink: "s".into(),
            fifo: false,
            limit: 10,
            claim: Some(RowClaim {
                owner: "gone".into(),
                now_ms: 0,
                until_ms: far,
            }),
        };
        assert_eq!(store.due_attempts(due).await.unwrap().len(), 1);
        store
    }

    /// What `owner` gets at time 1: the sink's cursor (if it takes the lease) and the due rows it claims.
    async fn take(store: &Arc<dyn EventStore>, owner: &str) -> (Option<i64>, usize) {
        use hookline_store::outbox::{DueQuery, RowClaim, SinkClaim};
        let lease = SinkClaim {
            sink: "s".into(),
            owner: owner.into(),
            now_ms: 1,
            until_ms: 30_001,
        };
        let due = DueQuery {
            sink: "s".into(),
            fifo: false,
            limit: 10,
            claim: Some(RowClaim {
                owner: owner.into(),
                now_ms: 1,
                until_ms: 30_001,
            }),
        };
        (
            store.claim_sink(lease).await.unwrap(),
            store.due_attempts(due).await.unwrap().len(),
        )
    }

    #[tokio::test]
    async fn leases_of_a_process_that_is_gone_are_cleared_when_the_file_is_opened_alone() {
        let fx = fixture();
        let first = leased_by_gone(&fx).await;
        // While the first store is open, a second one respects its lease and claim.
        let second = open(&fx, SqliteOptions::default());
        assert_eq!(take(&second, "b").await, (None, 0));
        second.close().await;
        drop(second);
        // The first goes away without releasing anything, as a killed process would.
        first.close().await;
        drop(first);
        let restarted = open(&fx, SqliteOptions::default());
        assert_eq!(take(&restarted, "c").await, (Some(0), 1));
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
            owner: None,
        }
    }

    on_every_backend!(
        a_new_sink_starts_at_the_end_or_the_beginning_and_keeps_its_cursor,
        due_rows_come_earliest_first_with_their_events_and_fifo_gives_one_per_conversation,
        retries_move_along_dead_letters_are_retried_or_dropped_by_sink_or_id,
        outbox_changes_are_refused_once_the_store_is_closed,
    );

    async fn stored_with_events(fx: &Fixture, n: usize) -> Arc<dyn EventStore> {
        let store = open(fx).await;
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

    async fn a_new_sink_starts_at_the_end_or_the_beginning_and_keeps_its_cursor(fx: &Fixture) {
        let store = stored_with_events(fx, 2).await;
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
        let reopened = open(fx).await;
        assert_eq!(
            reopened
                .open_sink("all".into(), SinkStart::Beginning)
                .await
                .unwrap(),
            3
        );
    }

    async fn due_rows_come_earliest_first_with_their_events_and_fifo_gives_one_per_conversation(
        fx: &Fixture,
    ) {
        let store = stored_with_events(fx, 3).await;
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
            claim: None,
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

    async fn retries_move_along_dead_letters_are_retried_or_dropped_by_sink_or_id(fx: &Fixture) {
        let store = stored_with_events(fx, 3).await;
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
                claim: None,
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
                claim: None,
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

    async fn outbox_changes_are_refused_once_the_store_is_closed(fx: &Fixture) {
        let store = stored_with_events(fx, 1).await;
        store
            .open_sink("s".into(), SinkStart::Beginning)
            .await
            .unwrap();
        store.close().await;
        let refused = store
            .save_sink_progress(write("s", Some(2), Vec::new()))
            .await;
        assert!(matches!(refused, Err(StoreError::Closed)), "{refused:?}");
        // Reads still answer after close.
        assert_eq!(store.sink_statuses().await.unwrap()[0].cursor, 0);
    }
}

#[path = "conformance/leases.rs"]
mod leases;

#[path = "conformance/sends.rs"]
mod sends;

mod postgres_only {
    //! What only PostgreSQL has: several instances on one database, and a database that goes away.

    use super::*;
    use crate::proxy::{Proxy, proxied};
    use hookline_store::StoreUrl;

    async fn admin(fx: &Fixture) -> tokio_postgres::Client {
        support::connect(fx.server().unwrap()).await
    }

    fn tag() -> String {
        format!("{:08x}", fastrand::u32(..))
    }

    async fn open_url(url: &str, writer: WriterOptions) -> Arc<dyn EventStore> {
        hookline_store::open(&StoreUrl::parse(url).unwrap(), writer)
            .await
            .unwrap()
    }

    fn projecting() -> WriterOptions {
        WriterOptions {
            project: true,
            ..WriterOptions::default()
        }
    }

    #[tokio::test]
    async fn the_same_deliveries_read_back_the_same_from_sqlite_and_postgres() {
        let Some(postgres) = Fixture::postgres("the_same_deliveries_read_back_the_same") else {
            return;
        };
        let sqlite = Fixture::sqlite();
        let twice = format!(
            r#"{{"object":"page","entry":[{entry},{entry}]}}"#,
            entry = r#"{"id":"100","time":1,"messaging":[{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":1700000000000,"message":{"mid":"m.twice","text":"a\u00e9"}}]}"#
        );
        let bodies = [
            body("m.1", "hi"),
            body("m.2", "yo"),
            body("m.1", "hi"),
            b"not json".to_vec(),
            br#"{"object":"page","entry":[]}"#.to_vec(),
            twice.into_bytes(),
            body("m.3", "\\u0000 in the text"),
        ];
        let mut seen = Vec::new();
        for fx in [&sqlite, &postgres] {
            let store = open(fx).await;
            let mut appended = Vec::new();
            // Queued together, so groups form as they would under load.
            let pending: Vec<_> = bodies
                .iter()
                .map(|b| store.submit(delivery(b.clone())).unwrap())
                .collect();
            for commit in pending {
                appended.push(commit.await.unwrap());
            }
            let events = store.list_events(all_events()).await.unwrap();
            let deliveries = store.list_deliveries(all_deliveries()).await.unwrap();
            let mut per_delivery = Vec::new();
            for d in &deliveries {
                per_delivery.push(store.delivery_events(d.id).await.unwrap());
            }
            let newest = store
                .list_events(EventQuery {
                    newest_first: true,
                    limit: 3,
                    kind: Some("message".into()),
                    ..EventQuery::default()
                })
                .await
                .unwrap();
            seen.push((appended, events, deliveries, per_delivery, newest));
            store.close().await;
        }
        assert_eq!(seen[0].1.len(), 7, "{:?}", seen[0].1);
        assert_eq!(seen[0], seen[1]);
    }

    #[tokio::test]
    async fn a_nul_in_a_field_is_stored_as_a_replacement_character_instead_of_failing() {
        let Some(fx) = Fixture::postgres("a_nul_in_a_field_is_stored") else {
            return;
        };
        let store = open(&fx).await;
        // A JSON escape puts U+0000 into the mid (and the dedup key), which TEXT cannot hold.
        let raw = body("m.\\u0000x", "hi");
        let appended = store.submit(delivery(raw.clone())).unwrap().await.unwrap();
        assert_eq!(appended.new_events, 2);
        let events = store.list_events(all_events()).await.unwrap();
        assert_eq!(events[0].mid.as_deref(), Some("m.\u{FFFD}x"));
        // The body and the raw JSON keep the escape as it arrived.
        assert!(events[0].raw.as_deref().unwrap().contains("m.\\u0000x"));
        let stored = store.get_delivery(1, true).await.unwrap().unwrap();
        assert_eq!(stored.body.as_deref(), Some(&raw[..]));
        // A redelivery is recognised as one.
        let again = store.submit(delivery(raw)).unwrap().await.unwrap();
        assert_eq!(again.new_events, 0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn two_instances_storing_the_same_delivery_at_once_keep_one_set_of_events() {
        let Some(fx) = Fixture::postgres("two_instances_storing_the_same_delivery_at_once") else {
            return;
        };
        let (a, b) = (open(&fx).await, open(&fx).await);
        let mut pending = Vec::new();
        for _ in 0..10 {
            pending.push(a.submit(delivery(body("m.1", "hi"))).unwrap());
            pending.push(b.submit(delivery(body("m.1", "hi"))).unwrap());
        }
        let mut new_events = 0;
        for commit in pending {
            new_events += commit.await.unwrap().new_events;
        }
        assert_eq!(new_events, 2, "the pair is new exactly once");
        let events = a.list_events(all_events()).await.unwrap();
        assert_eq!(events.len(), 2);
        assert!(events.iter().all(|e| e.duplicates == 19), "{events:?}");
        let deliveries = b.list_deliveries(all_deliveries()).await.unwrap();
        let ids: Vec<i64> = deliveries.iter().map(|d| d.id).collect();
        assert_eq!(ids, (1..=20).collect::<Vec<_>>());
        assert_eq!(deliveries.iter().map(|d| d.new_event_count).sum::<i64>(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn event_ids_grow_in_commit_order_across_instances_so_a_follower_misses_none() {
        let Some(fx) = Fixture::postgres("event_ids_grow_in_commit_order_across_instances") else {
            return;
        };
        let (a, b) = (open(&fx).await, open(&fx).await);
        // Reads "events after my cursor" on instance A while both commit, as a sink or the live stream
        // does: an id committed below the cursor after the cursor passed it would be lost.
        let follower = tokio::spawn({
            let a = a.clone();
            async move {
                let mut seen = Vec::new();
                let mut cursor = 0;
                let mut committed = a.committed_events();
                while cursor < 400 {
                    let page = a
                        .list_events(EventQuery {
                            after_id: Some(cursor),
                            limit: 1000,
                            ..EventQuery::default()
                        })
                        .await
                        .unwrap();
                    for event in &page {
                        seen.push(event.id);
                        cursor = event.id;
                    }
                    let _ =
                        tokio::time::timeout(Duration::from_millis(20), committed.changed()).await;
                }
                seen
            }
        });
        for wave in 0..10 {
            let mut pending = Vec::new();
            for i in 0..10 {
                let n = wave * 20 + i * 2;
                pending.push(a.submit(delivery(body(&format!("m.{n}"), "a"))).unwrap());
                let n = n + 1;
                pending.push(b.submit(delivery(body(&format!("m.{n}"), "b"))).unwrap());
            }
            for commit in pending {
                assert_eq!(commit.await.unwrap().new_events, 2);
            }
        }
        let seen = tokio::time::timeout(Duration::from_secs(30), follower)
            .await
            .expect("the follower reads every event")
            .unwrap();
        assert_eq!(seen, (1..=400).collect::<Vec<_>>());
        // Deliveries are numbered in commit order too, so each delivery's events are found by id.
        let events = b.list_events(all_events()).await.unwrap();
        assert!(
            events
                .windows(2)
                .all(|w| w[0].delivery_id <= w[1].delivery_id)
        );
        for id in [1, 77, 200] {
            let found: Vec<i64> = b
                .delivery_events(id)
                .await
                .unwrap()
                .iter()
                .map(|e| e.delivery_id)
                .collect();
            assert_eq!(found, [id, id], "delivery {id}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn events_committed_by_one_instance_reach_the_other_s_followers() {
        let Some(fx) = Fixture::postgres("events_committed_by_one_instance_reach_the_other") else {
            return;
        };
        let (a, b) = (open(&fx).await, open(&fx).await);
        let mut followed = b.committed_events();
        assert_eq!(*followed.borrow_and_update(), 0);
        a.submit(delivery(body("m.1", "hi")))
            .unwrap()
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_secs(5), followed.wait_for(|id| *id == 2))
            .await
            .expect("B's watch follows A's commits")
            .unwrap();
        let listed = b.list_events(all_events()).await.unwrap();
        let mids: Vec<_> = listed.iter().map(|e| e.mid.as_deref()).collect();
        assert_eq!(mids, [Some("m.1"), None]);
        // And the other way, with ids going on from A's.
        let appended = b
            .submit(delivery(body("m.2", "yo")))
            .unwrap()
            .await
            .unwrap();
        assert_eq!((appended.delivery_id, appended.new_events), (2, 2));
        tokio::time::timeout(
            Duration::from_secs(5),
            a.committed_events().wait_for(|id| *id == 4),
        )
        .await
        .expect("A's watch follows B's commits")
        .unwrap();
    }

    /// A store whose connections go through a [`Proxy`] in front of the test database, with one
    /// delivery (`m.1`) already committed through it.
    async fn through_proxy(fx: &Fixture) -> (Proxy, Arc<dyn EventStore>) {
        let (target, _) = proxied(fx.url(), 0);
        let proxy = Proxy::start(target).await;
        let (_, url) = proxied(fx.url(), proxy.port);
        let store = open_url(&url, WriterOptions::default()).await;
        store
            .submit(delivery(body("m.1", "a")))
            .unwrap()
            .await
            .unwrap();
        (proxy, store)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unreachable_database_fails_commits_and_the_store_recovers_when_it_is_back() {
        let Some(fx) = Fixture::postgres("an_unreachable_database_fails_commits") else {
            return;
        };
        let (proxy, store) = through_proxy(&fx).await;

        proxy.cut();
        // Twice: first on the connection that was lost, then on one that cannot be made.
        for _ in 0..2 {
            let err = store
                .submit(delivery(body("m.2", "b")))
                .unwrap()
                .await
                .unwrap_err();
            assert!(matches!(err, StoreError::Unavailable { .. }), "{err}");
            assert!(err.is_transient());
            assert!(err.to_string().contains("PostgreSQL"), "{err}");
        }
        assert!(store.check_writable().await.is_err());
        let read = store.list_events(all_events()).await.unwrap_err();
        assert!(matches!(read, StoreError::Unavailable { .. }), "{read}");

        proxy.restore();
        let appended = store
            .submit(delivery(body("m.2", "b")))
            .unwrap()
            .await
            .unwrap();
        assert_eq!(appended.new_events, 2, "the failed attempts stored nothing");
        store.check_writable().await.unwrap();
        let deliveries = store.list_deliveries(all_deliveries()).await.unwrap();
        assert_eq!(deliveries.len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_connection_found_dead_before_commit_is_replaced_without_failing_the_delivery() {
        let Some(fx) = Fixture::postgres("a_connection_found_dead_before_commit") else {
            return;
        };
        let (proxy, store) = through_proxy(&fx).await;
        // The writer learns that its connection is dead only from the failing BEGIN: nothing was
        // committed, so it reconnects and commits the group instead of failing it.
        proxy.sever();
        let appended = store
            .submit(delivery(body("m.2", "b")))
            .unwrap()
            .await
            .unwrap();
        assert_eq!(appended.new_events, 2);
        let events = store.list_events(all_events()).await;
        // The pooled connection died the same way: one read may fail (503); the next one works.
        let events = match events {
            Ok(events) => events,
            Err(StoreError::Unavailable { .. }) => store.list_events(all_events()).await.unwrap(),
            Err(other) => panic!("unexpected {other}"),
        };
        assert_eq!(events.len(), 4);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_writer_connection_ended_by_the_server_is_replaced_without_failing_the_delivery() {
        let app = format!("hookline_test_{}", tag());
        let options = format!("application_name={app}");
        let Some(fx) = Fixture::postgres_with("a_writer_connection_ended_by_the_server", &options)
        else {
            return;
        };
        let store = open(&fx).await;
        store
            .submit(delivery(body("m.1", "a")))
            .unwrap()
            .await
            .unwrap();
        // Waits (up to 5 s) until the backends have exited.
        let ended: i64 = admin(&fx)
            .await
            .query_one(
                "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 5000))
                 FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap()
            .get(0);
        assert!(ended >= 1, "no connection of the store was found");
        let appended = store
            .submit(delivery(body("m.2", "b")))
            .unwrap()
            .await
            .unwrap();
        assert_eq!(appended.new_events, 2);
        store.check_writable().await.unwrap();
    }

    #[tokio::test]
    async fn a_database_that_cannot_be_reached_is_refused_at_open_with_the_reason() {
        // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
        let url = StoreUrl::parse("postgres://postgres@127.0.0.1:1/test?schema=nowhere").unwrap();
        let err = hookline_store::open(&url, WriterOptions::default())
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("cannot connect"), "{message}");
        assert!(message.contains("127.0.0.1:1/test"), "{message}");
        assert!(message.contains("refused"), "{message}");
    }

    #[tokio::test]
    async fn a_database_from_a_newer_hookline_is_refused_with_a_reason() {
        let Some(fx) = Fixture::postgres("a_database_from_a_newer_hookline") else {
            return;
        };
        let schema = fx.schema().unwrap();
        admin(&fx)
            .await
            .batch_execute(&format!(
                "CREATE SCHEMA {schema};
                 CREATE TABLE {schema}.hookline_schema (id SMALLINT PRIMARY KEY, version INTEGER NOT NULL);
                 INSERT INTO {schema}.hookline_schema VALUES (1, 99);"
            ))
            .await
            .unwrap();
        for migrate in [true, false] {
            let err = fx
                .try_open(WriterOptions {
                    migrate,
                    ..WriterOptions::default()
                })
                .await
                .unwrap_err();
            let message = err.to_string();
            assert!(message.contains("newer than this hookline"), "{message}");
            assert!(message.contains("version 99"), "{message}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn instances_starting_together_on_a_new_schema_migrate_it_once() {
        let Some(fx) = Fixture::postgres("instances_starting_together_migrate_once") else {
            return;
        };
        let options = WriterOptions::default;
        let (a, b, c) = tokio::join!(
            fx.try_open(options()),
            fx.try_open(options()),
            fx.try_open(options())
        );
        let (a, b, c) = (a.unwrap(), b.unwrap(), c.unwrap());
        let current = hookline_store::current_schema_version(&fx.store_url());
        for store in [&a, &b, &c] {
            assert_eq!(store.schema_version().await.unwrap(), current);
        }
        a.submit(delivery(body("m.1", "a"))).unwrap().await.unwrap();
        assert_eq!(c.list_events(all_events()).await.unwrap().len(), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_queue_is_refused_at_once() {
        let Some(fx) = Fixture::postgres("a_full_queue_is_refused_at_once") else {
            return;
        };
        let store = fx
            .open(WriterOptions {
                queue_capacity: 2,
                max_batch: 1,
                ..WriterOptions::default()
            })
            .await;
        // Another session holds the events table, so the writer's first commit waits on it.
        let blocker = admin(&fx).await;
        blocker
            .batch_execute(&format!(
                "BEGIN; LOCK TABLE {}.events IN ACCESS EXCLUSIVE MODE",
                fx.schema().unwrap()
            ))
            .await
            .unwrap();
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
        blocker.batch_execute("ROLLBACK").await.unwrap();
        for commit in pending {
            assert_eq!(commit.await.unwrap().new_events, 2);
        }
    }

    /// The `application_name`s of the sessions holding a session-level advisory lock: the projector.
    async fn projection_owners(admin: &tokio_postgres::Client, apps: &[&str]) -> Vec<String> {
        admin
            .query(
                "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                 WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = ANY($1)",
                &[&apps],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }

    async fn caught_up(store: &Arc<dyn EventStore>) {
        let committed = *store.committed_events().borrow();
        tokio::time::timeout(
            Duration::from_secs(10),
            store.projected_events().wait_for(|p| *p >= committed),
        )
        .await
        .expect("the projection catches up")
        .unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn one_instance_projects_and_another_takes_over_when_it_stops() {
        let Some(fx) = Fixture::postgres("one_instance_projects") else {
            return;
        };
        let tag = tag();
        let apps = [format!("hookline_a_{tag}"), format!("hookline_b_{tag}")];
        let names = [apps[0].as_str(), apps[1].as_str()];
        let a = open_url(
            &format!("{}&application_name={}", fx.url(), apps[0]),
            projecting(),
        )
        .await;
        let b = open_url(
            &format!("{}&application_name={}", fx.url(), apps[1]),
            projecting(),
        )
        .await;
        for i in 0..3 {
            a.submit(delivery(body(&format!("m.{i}"), "x")))
                .unwrap()
                .await
                .unwrap();
        }
        caught_up(&a).await;
        // B did not project, yet its watch follows the projection through the database.
        tokio::time::timeout(
            Duration::from_secs(5),
            b.projected_events().wait_for(|p| *p == 6),
        )
        .await
        .expect("B sees the projection's position")
        .unwrap();
        let admin = admin(&fx).await;
        let owners = projection_owners(&admin, &names).await;
        assert_eq!(owners.len(), 1, "exactly one instance projects: {owners:?}");
        let (owner, other, other_app) = if owners[0] == apps[0] {
            (a, b, &apps[1])
        } else {
            (b, a, &apps[0])
        };
        owner.close().await;
        drop(owner);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while projection_owners(&admin, &names).await != [other_app.clone()] {
            assert!(
                std::time::Instant::now() < deadline,
                "no instance took the projection over"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        for i in 3..5 {
            other
                .submit(delivery(body(&format!("m.{i}"), "x")))
                .unwrap()
                .await
                .unwrap();
        }
        caught_up(&other).await;
        let conversations = other
            .list_conversations(hookline_store::conversation::ConversationQuery {
                limit: 10,
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(conversations.len(), 1);
        assert_eq!(conversations[0].message_count, 5);
    }
}
