//! Clock skew and out-of-order deliveries, with `hookline serve` run as the real binary: one
//! conversation-rich set of deliveries with skewed times (`script`) goes to two servers with databases
//! of their own, to one in event-time order, to the other shuffled, repeated and partly split, posted by
//! several clients at once. Once both projections have caught up, the conversation list and every
//! conversation's messages (CONTRACTS.md section 6) must be the same JSON.
//!
//! Each seed draws another set and order. The seeds are printed (the first from the clock, or
//! `HOOKLINE_FAULT_SEED`, the others following it), so `HOOKLINE_FAULT_SEED=S HOOKLINE_FAULT_ITERATIONS=1`
//! replays seed S. `HOOKLINE_FAULT_ITERATIONS` raises the number of seeds (docs/faults.md).
#![cfg(unix)]

mod support;

// Shared with `store_faults`, which uses all of it.
#[allow(dead_code)]
#[path = "store_faults/rng.rs"]
mod rng;
#[path = "order_faults/routes.rs"]
mod routes;
#[path = "order_faults/script.rs"]
mod script;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use rng::Rng;
use routes::{ADMIN_TOKEN, Answers};
use serde_json::Value;
use support::{Sandbox, Server, client, hookline_json};

const SECRET: &str = "order-faults-secret";
/// Seeds in a short run.
const SEEDS: usize = 3;
/// Clients posting the shuffled set at once.
const CLIENTS: usize = 4;

async fn serve(sandbox: &Sandbox) -> Server {
    let database = sandbox.url();
    Server::start(
        sandbox,
        &[
            "--app-secret",
            SECRET,
            "--database",
            &database,
            "--admin-token",
            ADMIN_TOKEN,
            "--app-id",
            script::OWN_APP,
        ],
    )
    .await
}

/// The dedup keys of the events in `bodies`, as ingest derives them.
fn keys_of(bodies: &[Vec<u8>]) -> BTreeSet<String> {
    bodies
        .iter()
        .flat_map(|body| hookline_meta::parse(body).unwrap_or_default())
        .map(|event| event.dedup_key().to_string())
        .collect()
}

/// The stored events (with their raw JSON) of a database, off the runtime's threads; of one
/// conversation when `conversation` is given.
async fn stored(database: &str, conversation: Option<&str>) -> Vec<Value> {
    let database = database.to_owned();
    let conversation = conversation.map(str::to_owned);
    tokio::task::spawn_blocking(move || {
        let mut args = vec!["events", "list", "--json", "--raw"];
        if let Some(key) = &conversation {
            args.extend(["--conversation", key]);
        }
        hookline_json(&args, &database)
    })
    .await
    .unwrap()
}

/// Writes each body to `dir/NNNN.json`, so that a failing seed's inputs stay with its kept sandbox.
fn keep_bodies(dir: &std::path::Path, bodies: &[Vec<u8>]) {
    std::fs::create_dir_all(dir).unwrap();
    for (n, body) in bodies.iter().enumerate() {
        std::fs::write(dir.join(format!("{n:04}.json")), body).unwrap();
    }
}

fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).unwrap()
}

/// Where the two answers part, with the events behind the first differing conversation in each store.
async fn difference(in_order: &Answers, shuffled: &Answers, databases: [&str; 2]) -> String {
    let mut out = String::new();
    let key_of = |c: Option<&Value>| c.and_then(|c| c["key"].as_str()).map(str::to_owned);
    let mut key = None;
    let (a, b) = (&in_order.conversations, &shuffled.conversations);
    if let Some(i) = (0..a.len().max(b.len())).find(|&i| a.get(i) != b.get(i)) {
        let _ = writeln!(
            out,
            "conversation list differs at item {i} ({} vs {} items):\nin order: {}\nshuffled: {}",
            a.len(),
            b.len(),
            pretty(&a.get(i)),
            pretty(&b.get(i))
        );
        key = key_of(a.get(i)).or_else(|| key_of(b.get(i)));
    }
    let differing = in_order
        .messages
        .iter()
        .zip(&shuffled.messages)
        .find(|(x, y)| x != y);
    if let Some(((id, left), (_, right))) = differing {
        let i = (0..left.len().max(right.len()))
            .find(|&i| left.get(i) != right.get(i))
            .unwrap_or(0);
        let _ = writeln!(
            out,
            "messages of conversation {id} differ at item {i} ({} vs {} items):\nin order: {}\nshuffled: {}",
            left.len(),
            right.len(),
            pretty(&left.get(i)),
            pretty(&right.get(i))
        );
        key = key.or_else(|| key_of(a.iter().find(|c| c["id"] == id.as_str())));
    }
    let Some(key) = key else {
        return out;
    };
    for (name, database) in ["in order", "shuffled"].iter().zip(databases) {
        let events = stored(database, Some(&key)).await;
        let lines: Vec<String> = events
            .iter()
            .map(|e| {
                format!(
                    "  {} {} ts={} {}",
                    e["dedup_key"], e["kind"], e["timestamp_ms"], e["raw"]
                )
            })
            .collect();
        let _ = writeln!(out, "events of {key} stored {name}:\n{}", lines.join("\n"));
    }
    out
}

/// Counts of what the answers show, asserted non-zero so that the comparison covers every feature.
fn coverage(answers: &Answers) -> String {
    let messages: Vec<&Value> = answers.messages.iter().flat_map(|(_, m)| m).collect();
    let count = |f: &dyn Fn(&Value) -> bool| messages.iter().filter(|m| f(m)).count();
    let figures = [
        ("conversations", answers.conversations.len()),
        ("messages", messages.len()),
        ("outbound", count(&|m| m["direction"] == "out")),
        ("this_app", count(&|m| m["echo_source"] == "this_app")),
        ("delivered", count(&|m| m["status"] == "delivered")),
        ("read", count(&|m| m["status"] == "read")),
        (
            "with reactions",
            count(&|m| m["reactions"].as_array().is_some_and(|r| !r.is_empty())),
        ),
        ("edited", count(&|m| m["edit_count"].as_u64() > Some(0))),
        ("deleted", count(&|m| m["deleted"] == true)),
        ("standby", count(&|m| m["standby"] == true)),
        (
            "owned threads",
            answers
                .conversations
                .iter()
                .filter(|c| !c["owner_app_id"].is_null())
                .count(),
        ),
    ];
    for (name, n) in figures {
        assert!(
            n > 0,
            "expected the set to show {name} in the answers; it shows none"
        );
    }
    figures
        .iter()
        .map(|(name, n)| format!("{name} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shuffled_repeated_and_clock_skewed_deliveries_project_the_same_conversations() {
    let first = Rng::seed();
    let seeds = support::fault_iterations(SEEDS) as u64;
    let client = client();
    let (mut deliveries, mut compared) = (0, 0);
    for seed in (0..seeds).map(|s| first.wrapping_add(s)) {
        let mut rng = Rng::new(seed);
        let set = script::build(&mut rng);
        let in_order = set.in_order();
        let shuffled = set.shuffled(&mut rng);
        let keys = keys_of(&in_order);

        let (sandbox_a, sandbox_b) = (Sandbox::new(), Sandbox::new());
        keep_bodies(&sandbox_a.path().join("posted"), &in_order);
        keep_bodies(&sandbox_b.path().join("posted"), &shuffled);
        let (a, b) = tokio::join!(serve(&sandbox_a), serve(&sandbox_b));
        tokio::join!(
            routes::post_all(&client, &a, SECRET, in_order.clone(), 1),
            routes::post_all(&client, &b, SECRET, shuffled.clone(), CLIENTS),
        );
        tokio::join!(
            routes::wait_projected(&client, &a),
            routes::wait_projected(&client, &b)
        );
        let (url_a, url_b) = (sandbox_a.url(), sandbox_b.url());
        for (name, url) in [("in order", &url_a), ("shuffled", &url_b)] {
            let stored: Vec<String> = stored(url, None)
                .await
                .iter()
                .map(|e| e["dedup_key"].as_str().unwrap().to_owned())
                .collect();
            let distinct: BTreeSet<String> = stored.iter().cloned().collect();
            assert!(
                distinct == keys && stored.len() == keys.len(),
                "seed {seed}: expected the store fed {name} to hold each of the {} distinct events once; \
                 it holds {} events, {} distinct, {} of them not posted",
                keys.len(),
                stored.len(),
                distinct.len(),
                distinct.difference(&keys).count()
            );
        }

        let (answers_a, answers_b) =
            tokio::join!(routes::read(&client, &a), routes::read(&client, &b));
        if answers_a != answers_b {
            let report = difference(&answers_a, &answers_b, [&url_a, &url_b]).await;
            panic!(
                "seed {seed}: expected the same conversations and messages from the store fed in order \
                 and the one fed shuffled; they differ (inputs kept in each sandbox's posted/; \
                 HOOKLINE_FAULT_SEED={seed} HOOKLINE_FAULT_ITERATIONS=1 replays this seed):\n{report}"
            );
        }
        let shown = coverage(&answers_a);
        eprintln!(
            "order faults seed {seed}: {} deliveries in order, {} shuffled with repeats and splits, {} \
             distinct events, {} conversations ({} scripted) compared: equal; {shown}",
            in_order.len(),
            shuffled.len(),
            keys.len(),
            answers_a.conversations.len(),
            set.scripted
        );
        deliveries += in_order.len() + shuffled.len();
        compared += answers_a.conversations.len();
        tokio::join!(a.stop(), b.stop());
    }
    eprintln!(
        "order faults: {seeds} seeds from {first}, {deliveries} deliveries posted, {compared} conversations \
         compared, all equal"
    );
}
