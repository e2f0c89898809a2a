//! Several instances running one sink (see `hookline_store::outbox`): the sink's lease, claims on due
//! rows, and saves by an instance that lost its lease. Each case runs on both backends; at the end, many
//! claims at once from two PostgreSQL stores on one schema.

use super::*;
use hookline_store::outbox::{
    AttemptChange, AttemptQuery, AttemptState, DueQuery, NewAttempt, OutboxWrite, RowClaim,
    SinkClaim, SinkStart,
};

on_every_backend!(
    a_live_lease_keeps_other_owners_out_and_an_expired_one_is_taken_over_at_the_saved_cursor,
    a_save_under_a_lost_lease_fails_and_writes_nothing,
    a_released_lease_is_taken_at_once_and_only_its_owner_releases_it,
    due_rows_claimed_by_one_owner_reach_another_only_once_the_claim_runs_out,
    changes_apply_only_to_rows_their_owner_claimed_or_nobody_claimed,
    fifo_hands_out_one_row_per_conversation_across_owners,
);

/// How long the leases and claims of these tests last.
const LEASE: i64 = 30_000;

fn claim(owner: &str, now_ms: i64) -> SinkClaim {
    SinkClaim {
        sink: "s".into(),
        owner: owner.into(),
        now_ms,
        until_ms: now_ms + LEASE,
    }
}

/// Rows of sink `s` due at `now_ms`, claimed for `owner`.
fn due_for(owner: &str, now_ms: i64, fifo: bool, limit: usize) -> DueQuery {
    DueQuery {
        sink: "s".into(),
        fifo,
        limit,
        claim: Some(RowClaim {
            owner: owner.into(),
            now_ms,
            until_ms: now_ms + LEASE,
        }),
    }
}

/// A pending row for `event_id`, due at `next`.
fn pending(event_id: i64, key: Option<&str>, ts: i64, next: i64) -> NewAttempt {
    NewAttempt {
        event_id,
        conversation_key: key.map(str::to_owned),
        timestamp_ms: Some(ts),
        attempts: 1,
        state: AttemptState::Pending,
        next_attempt_at_ms: Some(next),
        last_error: Some("HTTP 500".into()),
    }
}

fn save(cursor: Option<i64>, owner: Option<&str>) -> OutboxWrite {
    OutboxWrite {
        sink: "s".into(),
        cursor,
        new: Vec::new(),
        changes: Vec::new(),
        now_ms: 1_000,
        owner: owner.map(str::to_owned),
    }
}

/// A store with `n` deliveries (2 events each) and sink `s` opened at the beginning.
async fn with_sink(fx: &Fixture, n: usize) -> Arc<dyn EventStore> {
    let store = open(fx).await;
    let mut commits = Vec::new();
    for i in 0..n {
        commits.push(
            store
                .submit(delivery(body(&format!("m.{i}"), "x")))
                .unwrap(),
        );
    }
    for commit in commits {
        commit.await.unwrap();
    }
    store
        .open_sink("s".into(), SinkStart::Beginning)
        .await
        .unwrap();
    store
}

/// A store whose sink `s` has the given rows (written without an owner, as a replay writes them).
async fn with_rows(fx: &Fixture, rows: Vec<NewAttempt>) -> Arc<dyn EventStore> {
    let store = with_sink(fx, 3).await;
    let mut write = save(None, None);
    write.new = rows;
    store.save_sink_progress(write).await.unwrap();
    store
}

/// The event ids of what `query` hands out, in order.
async fn handed_out(store: &Arc<dyn EventStore>, query: DueQuery) -> Vec<i64> {
    let rows = store.due_attempts(query).await.unwrap();
    rows.iter().map(|(a, _)| a.event_id).collect()
}

/// The attempt row of `event_id` for sink `s`.
async fn row_of(
    store: &Arc<dyn EventStore>,
    event_id: i64,
) -> Option<hookline_store::outbox::Attempt> {
    let rows = store
        .list_attempts(AttemptQuery {
            sink: Some("s".into()),
            limit: 100,
            ..AttemptQuery::default()
        })
        .await
        .unwrap();
    rows.into_iter().find(|a| a.event_id == event_id)
}

async fn a_live_lease_keeps_other_owners_out_and_an_expired_one_is_taken_over_at_the_saved_cursor(
    fx: &Fixture,
) {
    let store = with_sink(fx, 3).await;
    assert_eq!(store.claim_sink(claim("a", 1_000)).await.unwrap(), Some(0));
    assert_eq!(store.claim_sink(claim("b", 2_000)).await.unwrap(), None);
    // A renews its lease (until 35 000) and saves under it.
    assert_eq!(store.claim_sink(claim("a", 5_000)).await.unwrap(), Some(0));
    store
        .save_sink_progress(save(Some(3), Some("a")))
        .await
        .unwrap();
    let status = &store.sink_statuses().await.unwrap()[0];
    assert_eq!(
        (
            status.owner.as_deref(),
            status.lease_until_ms,
            status.cursor
        ),
        (Some("a"), Some(35_000), 3)
    );
    // Still A's until the renewed end (the first lease ended at 31 000), then B's, at A's cursor.
    assert_eq!(store.claim_sink(claim("b", 34_999)).await.unwrap(), None);
    assert_eq!(store.claim_sink(claim("b", 35_000)).await.unwrap(), Some(3));
    assert_eq!(store.claim_sink(claim("a", 36_000)).await.unwrap(), None);
    let status = &store.sink_statuses().await.unwrap()[0];
    assert_eq!(
        (status.owner.as_deref(), status.lease_until_ms),
        (Some("b"), Some(65_000))
    );
    let unknown = SinkClaim {
        sink: "nope".into(),
        ..claim("a", 1_000)
    };
    let err = store.claim_sink(unknown).await.unwrap_err();
    assert!(err.to_string().contains("no cursor"), "{err}");
}

async fn a_save_under_a_lost_lease_fails_and_writes_nothing(fx: &Fixture) {
    let store = with_rows(fx, vec![pending(1, None, 1, 100)]).await;
    let row = row_of(&store, 1).await.unwrap();
    assert_eq!(store.claim_sink(claim("a", 1_000)).await.unwrap(), Some(0));
    // A's lease runs out; B takes the sink over and saves.
    assert_eq!(store.claim_sink(claim("b", 40_000)).await.unwrap(), Some(0));
    store
        .save_sink_progress(save(Some(2), Some("b")))
        .await
        .unwrap();
    // A, unaware, saves a pass: a cursor, a new row and a change.
    let mut late = save(Some(6), Some("a"));
    late.new.push(pending(5, None, 5, 100));
    late.changes.push(AttemptChange::Delivered { id: row.id });
    let err = store.save_sink_progress(late).await.unwrap_err();
    assert!(
        matches!(&err, StoreError::LeaseLost { sink } if sink == "s"),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("another instance") && message.contains("at-least-once"),
        "{message}"
    );
    assert_eq!(store.sink_statuses().await.unwrap()[0].cursor, 2);
    assert_eq!(
        row_of(&store, 1).await,
        Some(row),
        "the change was rolled back"
    );
    assert_eq!(row_of(&store, 5).await, None, "the new row was rolled back");
    // B's saves go on; a save without an owner (the CLI) writes whoever holds the lease.
    store
        .save_sink_progress(save(Some(4), Some("b")))
        .await
        .unwrap();
    store.save_sink_progress(save(Some(5), None)).await.unwrap();
    assert_eq!(store.sink_statuses().await.unwrap()[0].cursor, 5);
}

async fn a_released_lease_is_taken_at_once_and_only_its_owner_releases_it(fx: &Fixture) {
    let store = with_rows(fx, vec![pending(1, None, 1, 100)]).await;
    assert_eq!(store.claim_sink(claim("a", 1_000)).await.unwrap(), Some(0));
    assert_eq!(
        handed_out(&store, due_for("a", 1_000, false, 10)).await,
        [1]
    );
    store
        .save_sink_progress(save(Some(4), Some("a")))
        .await
        .unwrap();
    // Only the owner can release.
    store.release_sink("s".into(), "b".into()).await.unwrap();
    assert_eq!(store.claim_sink(claim("b", 2_000)).await.unwrap(), None);
    assert!(
        handed_out(&store, due_for("b", 2_000, false, 10))
            .await
            .is_empty()
    );
    store.release_sink("s".into(), "a".into()).await.unwrap();
    let status = &store.sink_statuses().await.unwrap()[0];
    assert_eq!(
        (status.owner.as_deref(), status.lease_until_ms),
        (None, None)
    );
    // Long before A's lease and claim would have run out, B has the sink and the row.
    assert_eq!(store.claim_sink(claim("b", 2_000)).await.unwrap(), Some(4));
    assert_eq!(
        handed_out(&store, due_for("b", 2_000, false, 10)).await,
        [1]
    );
}

async fn due_rows_claimed_by_one_owner_reach_another_only_once_the_claim_runs_out(fx: &Fixture) {
    let store = with_rows(
        fx,
        vec![
            pending(1, None, 1, 100),
            pending(2, None, 2, 200),
            pending(3, None, 3, 100_000),
        ],
    )
    .await;
    // A claims what is due (1, 2) and sees what is not (3, unclaimed).
    assert_eq!(
        handed_out(&store, due_for("a", 1_000, false, 10)).await,
        [1, 2, 3]
    );
    assert_eq!(
        handed_out(&store, due_for("b", 1_000, false, 10)).await,
        [3]
    );
    assert_eq!(
        handed_out(&store, due_for("b", 30_999, false, 10)).await,
        [3]
    );
    // A's pass is slow: it renews its claims until 40 000.
    let renewed = store
        .renew_row_claims("s".into(), "a".into(), 40_000)
        .await
        .unwrap();
    assert_eq!(renewed, 2);
    assert_eq!(
        handed_out(&store, due_for("b", 31_000, false, 10)).await,
        [3]
    );
    // A claim of A's own comes back to A.
    assert_eq!(
        handed_out(&store, due_for("a", 31_000, false, 10)).await,
        [1, 2, 3]
    );
    // A dies; its claims run out and B gets the rows, now B's.
    assert_eq!(
        handed_out(&store, due_for("b", 61_000, false, 10)).await,
        [1, 2, 3]
    );
    assert_eq!(
        handed_out(&store, due_for("a", 61_000, false, 10)).await,
        [3]
    );
    // Only what is handed out is claimed: C's limit leaves row 3 to D.
    assert_eq!(
        handed_out(&store, due_for("c", 200_000, false, 2)).await,
        [1, 2]
    );
    assert_eq!(
        handed_out(&store, due_for("d", 200_000, false, 10)).await,
        [3]
    );
    // Without a claim (the CLI), every pending row, as before.
    let all = DueQuery {
        claim: None,
        ..due_for("c", 0, false, 10)
    };
    assert_eq!(handed_out(&store, all).await, [1, 2, 3]);
}

async fn changes_apply_only_to_rows_their_owner_claimed_or_nobody_claimed(fx: &Fixture) {
    let store = with_rows(
        fx,
        vec![
            pending(1, None, 1, 100),
            pending(2, None, 2, 200),
            pending(3, None, 3, 300),
        ],
    )
    .await;
    assert_eq!(handed_out(&store, due_for("a", 1_000, false, 1)).await, [1]);
    assert_eq!(handed_out(&store, due_for("b", 1_000, false, 1)).await, [2]);
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for event in 1..=3 {
            ids.push(row_of(&store, event).await.unwrap().id);
        }
        ids
    };
    let mut b = save(None, Some("b"));
    b.changes = vec![
        AttemptChange::Delivered { id: ids[0] },
        AttemptChange::Retry {
            id: ids[1],
            attempts: 2,
            next_attempt_at_ms: 5_000,
            error: "HTTP 503".into(),
        },
        AttemptChange::Dead {
            id: ids[2],
            attempts: 2,
            error: "HTTP 410".into(),
        },
    ];
    store.save_sink_progress(b).await.unwrap();
    let first = row_of(&store, 1)
        .await
        .expect("A's row is not B's to deliver");
    assert_eq!(first.attempts, 1);
    let second = row_of(&store, 2).await.unwrap();
    assert_eq!(
        (second.attempts, second.next_attempt_at_ms),
        (2, Some(5_000))
    );
    assert_eq!(row_of(&store, 3).await.unwrap().state, AttemptState::Dead);
    // B's change ended its claim: C gets row 2 once due, long before B's claim would have run out.
    assert_eq!(
        handed_out(&store, due_for("c", 6_000, false, 10)).await,
        [2]
    );
    // A change without an owner (the CLI) applies whoever claimed the row.
    let mut cli = save(None, None);
    cli.changes.push(AttemptChange::Delivered { id: ids[0] });
    store.save_sink_progress(cli).await.unwrap();
    assert_eq!(row_of(&store, 1).await, None);
}

async fn fifo_hands_out_one_row_per_conversation_across_owners(fx: &Fixture) {
    let store = with_rows(
        fx,
        vec![
            pending(1, Some("c1"), 10, 100),
            pending(3, Some("c1"), 20, 100),
            pending(5, Some("c2"), 30, 100),
        ],
    )
    .await;
    assert_eq!(
        handed_out(&store, due_for("a", 1_000, true, 10)).await,
        [1, 5]
    );
    // B gets nothing: the heads are A's, and event 3 waits behind event 1 whoever holds it.
    assert!(
        handed_out(&store, due_for("b", 1_000, true, 10))
            .await
            .is_empty()
    );
    let head = row_of(&store, 1).await.unwrap().id;
    let mut delivered = save(None, Some("a"));
    delivered
        .changes
        .push(AttemptChange::Delivered { id: head });
    store.save_sink_progress(delivered).await.unwrap();
    assert_eq!(handed_out(&store, due_for("b", 1_000, true, 10)).await, [3]);
}

/// Two PostgreSQL stores on one schema, two claimers on each, claiming due rows at once in small
/// batches and delivering them, round after round until none is left: every row is handed out once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claims_from_two_postgres_stores_never_share_a_row() {
    let Some(fx) = Fixture::postgres("concurrent_claims_never_share_a_row") else {
        return;
    };
    const ROWS: i64 = 240;
    let a = with_sink(&fx, ROWS as usize / 2).await;
    let b = open(&fx).await;
    let mut write = save(None, None);
    write.new = (1..=ROWS).map(|id| pending(id, None, id, id)).collect();
    a.save_sink_progress(write).await.unwrap();

    let mut claimers = Vec::new();
    for (n, store) in [&a, &a, &b, &b].into_iter().enumerate() {
        let store = store.clone();
        claimers.push(tokio::spawn(async move {
            let owner = format!("owner-{n}");
            let mut got = Vec::new();
            let mut rounds = 0;
            loop {
                let rows = store
                    .due_attempts(due_for(&owner, 1_000, false, 7))
                    .await
                    .unwrap();
                if rows.is_empty() {
                    return (got, rounds);
                }
                rounds += 1;
                let mut done = save(None, Some(&owner));
                for (row, _) in &rows {
                    got.push(row.event_id);
                    done.changes.push(AttemptChange::Delivered { id: row.id });
                }
                store.save_sink_progress(done).await.unwrap();
            }
        }));
    }
    let mut all = Vec::new();
    let mut busy = 0;
    for claimer in claimers {
        let (got, rounds) = claimer.await.unwrap();
        busy += usize::from(rounds > 0);
        all.extend(got);
    }
    let handed = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(
        handed,
        all.len(),
        "{} rows were handed to two claimers",
        handed - all.len()
    );
    assert_eq!(all, (1..=ROWS).collect::<Vec<_>>(), "every row handed out");
    assert!(busy >= 2, "the claimers did not overlap: {busy} got rows");
}
