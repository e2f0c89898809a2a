//! `kill -9` at random moments under load, many times, on SQLite and on PostgreSQL.
//!
//! Several clients post new deliveries, post again some that were already answered 200 (Meta does when
//! it misses an answer), and first of all post again those a kill cut off. At a moment drawn from the
//! seeded generator the server is killed, restarted and the store checked, and so on: every delivery
//! answered 200 is stored with all its events, no event is stored twice, and no delivery half.

use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::contents::{Store, Verdict, check};
use crate::deliveries::{Ledger, Load, client, join, lock, post_all, thousands, wait_until};
use crate::rng::Rng;
use crate::serve;
use crate::support::{PostgresSchema, Sandbox, fault_iterations};

const CLIENTS: usize = 8;
/// Acknowledgements an iteration waits for before its kill moment is drawn, so each kill lands under
/// load rather than during start-up.
const WARM_ACKS: usize = 20;
/// Iterations per backend unless `HOOKLINE_FAULT_ITERATIONS` says otherwise: short enough for every CI run.
const DEFAULT_ITERATIONS: usize = 4;
/// Longest an iteration may take to reach `WARM_ACKS` on a machine busy with other tests.
const WARM_DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_on_sqlite_loses_nothing_and_stores_nothing_twice() {
    let sandbox = Sandbox::new();
    let db = sandbox.db();
    kill_repeatedly(&sandbox, &sandbox.url(), Store::Sqlite(&db)).await;
}

/// With a handful of dedup keys held in memory, the writer merges them into the file all the time, so
/// kills land before, during and after merges, and redeliveries are found in memory, in the file, or in a
/// merge cut short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_while_dedup_keys_are_merged_on_sqlite_loses_nothing_and_stores_nothing_twice() {
    let sandbox = Sandbox::new();
    let db = sandbox.db();
    let url = format!("{}?dedup_memory_keys=16", sandbox.url());
    kill_repeatedly(&sandbox, &url, Store::Sqlite(&db)).await;
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (merged_through, merged): (i64, i64) = conn
        .query_row(
            "SELECT merged_through, (SELECT count(*) FROM dedup_keys) FROM dedup_state",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    eprintln!("kill9[sqlite, merging]: {merged} keys merged, through event {merged_through}");
    assert!(
        merged_through > 0 && merged > 16,
        "expected keys merged into the file during the run, got {merged} through event {merged_through}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_on_postgres_loses_nothing_and_stores_nothing_twice() {
    let Some(pg) = PostgresSchema::new("kill_9_at_random_moments_on_postgres") else {
        return;
    };
    let sandbox = Sandbox::new();
    kill_repeatedly(&sandbox, &pg.url(), Store::Postgres(&pg)).await;
}

async fn kill_repeatedly(sandbox: &Sandbox, database: &str, store: Store<'_>) {
    let name = format!("kill9[{}]", store.name());
    let iterations = fault_iterations(DEFAULT_ITERATIONS);
    let seed = Rng::seed();
    eprintln!("{name}: seed {seed} (HOOKLINE_FAULT_SEED={seed} draws the same kill moments)");
    let mut rng = Rng::new(seed);
    let ledger = Ledger::shared();
    let client = client(Duration::from_secs(30));
    let started = Instant::now();
    // Deliveries a kill cut off after their commit, before their answer: their retries are redeliveries.
    let mut committed_unanswered = 0;
    for iteration in 0..iterations {
        let mut server = serve(sandbox, database).await;
        // The restart recovered what the previous kill left: check it before adding to it.
        let verdict = verify(
            store,
            &ledger,
            &format!("{name}: after restart {iteration}"),
        );
        committed_unanswered += verdict.unacked_stored.len();

        let mut load = Load::new(&client, server.url("/webhook"), &ledger);
        load.stop_kills = true;
        load.retries = Arc::new(Mutex::new(lock(&ledger).unacked()));
        let acked_before = lock(&ledger).acked_posts;
        let tasks = load.spawn(CLIENTS, &format!("i{iteration}"), &mut rng);
        // Most kills come under load; one in four as soon as the server answers, while it may still be
        // catching up on what the previous kill left (the conversation projection, the WAL).
        let warm = if rng.one_in(4) { 0 } else { WARM_ACKS };
        wait_until(&ledger, WARM_DEADLINE, &name, |l| {
            l.acked_posts >= acked_before + warm
        })
        .await;
        let delay = rng.millis(0..1000);
        tokio::time::sleep(delay).await;
        // Set before the signal: a failure seen while it is still false is a real failure.
        load.stop.store(true, Ordering::SeqCst);
        let status = server.kill9();
        assert_eq!(
            status.signal(),
            Some(9),
            "{name}: iteration {iteration}: expected the server to die of SIGKILL, but it exited with {status}"
        );
        join(tasks).await;
        let ledger = lock(&ledger);
        eprintln!(
            "{name}: iteration {iteration}: killed {delay:?} after {}; \
             {} posts answered 200 so far, {} cut off",
            if warm == 0 {
                "the restart".to_owned()
            } else {
                format!("the first {warm} answers")
            },
            thousands(ledger.acked_posts),
            thousands(ledger.cut_off)
        );
        ledger.assert_only_200_and_503(&format!("{name}: iteration {iteration}"));
    }

    let server = serve(sandbox, database).await;
    let verdict = verify(store, &ledger, &format!("{name}: after the last restart"));
    committed_unanswered += verdict.unacked_stored.len();
    // Meta posts again what was never answered 200 (and, having missed some answers, a few that were):
    // then every delivery posted is stored, once.
    let mut again = lock(&ledger).unacked();
    for _ in 0..20 {
        again.extend(lock(&ledger).pick_acked(&mut rng));
    }
    post_all(&client, &server.url("/webhook"), again, &ledger).await;
    let verdict = verify(store, &ledger, &format!("{name}: after the retries"));
    assert_eq!(
        verdict.unacked_stored.len() + verdict.torn.len(),
        0,
        "{name}: expected every delivery to be answered 200 once posted again to a running server"
    );
    report(
        &name,
        iterations,
        seed,
        &lock(&ledger),
        &verdict,
        committed_unanswered,
        started,
    );
    server.stop().await;
}

/// Prints the figures of a run, and fails unless dedup across a kill was exercised.
fn report(
    name: &str,
    iterations: usize,
    seed: u64,
    ledger: &Ledger,
    verdict: &Verdict,
    committed_unanswered: usize,
    started: Instant,
) {
    eprintln!(
        "{name}: {iterations} iterations, {} acked, {} lost, {} stored twice \
         (seed {seed}; {} posts: {} re-posts of acknowledged deliveries answered 200; {} cut off by a kill, \
         {} refused with 503; {} deliveries answered 200 when posted again after that, {} of which had been \
         committed before the kill cut off their answer; {} half stored; {} events and {} delivery rows; \
         {:.1} s)",
        thousands(verdict.acked),
        thousands(verdict.lost.len()),
        thousands(verdict.stored_twice.len()),
        thousands(ledger.posts),
        thousands(ledger.acked_reposts),
        thousands(ledger.cut_off),
        thousands(ledger.refused),
        thousands(ledger.acked_retries),
        thousands(committed_unanswered),
        thousands(verdict.torn.len()),
        thousands(verdict.events),
        thousands(verdict.deliveries),
        started.elapsed().as_secs_f64(),
    );
    assert!(
        ledger.acked_reposts > 0 && ledger.acked_retries > 0,
        "{name}: expected some re-posts of acknowledged deliveries and some retries of cut-off posts to be \
         answered 200 (so that dedup across a kill was exercised), got {} and {}",
        ledger.acked_reposts,
        ledger.acked_retries
    );
}

/// Reads the store and fails unless it agrees with the ledger.
fn verify(store: Store<'_>, ledger: &Mutex<Ledger>, what: &str) -> Verdict {
    let contents = store.read();
    let ledger = lock(ledger);
    let verdict = check(&contents, &ledger);
    verdict.assert_clean(what);
    verdict
}
