//! The SQLite store's append path in a plain loop, for instruction counts: `valgrind --tool=callgrind
//! target/release/examples/append_loop GROUPS` gives a total that repeats from run to run, where the
//! `append` bench's wall times move with the disk and the machine. Appends GROUPS groups of 32 deliveries
//! (as from 32 connections; one in ten a redelivery) with the projection on, then prints the deliveries
//! and the bytes written.

use std::sync::Arc;

use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{EventStore, WriterOptions};
use serde_json::Value;

#[path = "../tests/support/meta.rs"]
mod meta;

const GROUP: usize = 32;

fn written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|io| {
            io.lines()
                .find_map(|l| l.strip_prefix("wchar: ").map(|n| n.parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

fn main() {
    let groups: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(500);
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        writer: WriterOptions {
            project: true,
            ..WriterOptions::default()
        },
        ..SqliteOptions::default()
    };
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(&dir.path().join("loop.db"), options).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fixtures: Vec<Value> = meta::fixtures()
        .iter()
        .map(|body| serde_json::from_slice(body).unwrap())
        .collect();
    // Parsed before the loop: the count is of the store, not of the parser.
    let deliveries: Vec<_> = (0..groups * GROUP)
        .map(|n| {
            // Every tenth delivery repeats an earlier one, as Meta redelivers (and about as often as
            // `../shared/bench`'s bodies repeat an event).
            let n = if n % 10 == 9 { n - 5 } else { n };
            let body = meta::unique(&fixtures[n % fixtures.len()], n as u64);
            meta::delivery(serde_json::to_vec(&body).unwrap())
        })
        .collect();
    let before = written();
    let mut deliveries = deliveries.into_iter();
    for _ in 0..groups {
        let pending: Vec<_> = deliveries
            .by_ref()
            .take(GROUP)
            .map(|d| store.submit(d).unwrap())
            .collect();
        runtime.block_on(async {
            for commit in pending {
                commit.await.unwrap();
            }
        });
    }
    runtime.block_on(store.close());
    let deliveries = groups * GROUP;
    let bytes = written() - before;
    println!(
        "deliveries={deliveries} bytes_written={bytes} per_delivery={}",
        bytes / deliveries as u64
    );
}
