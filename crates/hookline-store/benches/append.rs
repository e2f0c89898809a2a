//! The SQLite store's append path without HTTP: groups of 64 deliveries (as from 64 connections) submitted
//! at once and awaited, committed with `synchronous=FULL` and projected into conversations, as
//! `hookline serve` does. Every delivery is one of the Meta fixtures with its mids made unique and its
//! times shifted, so every event is new (as with `../shared/bench`'s bodies).
//!
//! `cargo bench -p hookline-store --bench append`: the time per group includes the fsync, so it depends on
//! the disk as much as on the code; compare builds in alternated runs on the same machine.

use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{EventStore, WriterOptions};
use serde_json::Value;

#[path = "../tests/support/meta.rs"]
mod meta;

const GROUP: usize = 64;

fn append(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        writer: WriterOptions {
            project: true,
            ..WriterOptions::default()
        },
        ..SqliteOptions::default()
    };
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(&dir.path().join("bench.db"), options).unwrap());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let fixtures: Vec<Value> = meta::fixtures()
        .iter()
        .map(|body| serde_json::from_slice(body).unwrap())
        .collect();
    let mut n = 0u64;
    let mut group = c.benchmark_group("sqlite_append");
    group.throughput(Throughput::Elements(GROUP as u64));
    group.bench_function("group_of_64_projected", |b| {
        b.iter_batched(
            || {
                (0..GROUP)
                    .map(|_| {
                        n += 1;
                        let fixture = &fixtures[n as usize % fixtures.len()];
                        meta::delivery(serde_json::to_vec(&meta::unique(fixture, n)).unwrap())
                    })
                    .collect::<Vec<_>>()
            },
            |deliveries| {
                let pending: Vec<_> = deliveries
                    .into_iter()
                    .map(|d| store.submit(d).unwrap())
                    .collect();
                runtime.block_on(async {
                    for commit in pending {
                        commit.await.unwrap();
                    }
                });
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
