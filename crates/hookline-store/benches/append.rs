//! The SQLite store's append path without HTTP: groups of 64 deliveries (as from 64 connections) submitted
//! at once and awaited, committed with `synchronous=FULL` and projected into conversations, as
//! `hookline serve` does. Every delivery is one of the Meta fixtures with its mids made unique and its
//! times shifted, so every event is new (as with `../shared/bench`'s bodies).
//!
//! `cargo bench -p hookline-store --bench append`: the time per group includes the fsync, so it depends on
//! the disk as much as on the code; compare builds in alternated runs on the same machine.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use hookline_store::sqlite::{SqliteOptions, SqliteStore};
use hookline_store::{Content, EventStore, NewDelivery, NewEvent, WriterOptions};
use serde_json::Value;

const GROUP: usize = 64;

fn fixtures() -> Vec<Value> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hookline-meta/tests/fixtures");
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// The fixture with every mid made unique for `n` and every time shifted by `n`.
fn unique(value: &Value, n: u64) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = match (k.as_str(), v) {
                        ("mid", Value::String(s)) => Value::String(format!("{s}.{n}")),
                        ("time" | "timestamp", Value::Number(t)) => {
                            Value::from(t.as_u64().unwrap_or(0) + n)
                        }
                        _ => unique(v, n),
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| unique(v, n)).collect()),
        other => other.clone(),
    }
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
        received_at_ms: 1_700_000_000_000,
        app: None,
        secret_index: Some(0),
        signature: Some("sha256=0000".into()),
        api_version: Some("v23.0".into()),
        user_agent: Some("facebookexternalua".into()),
        body,
        content,
    }
}

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
    let fixtures = fixtures();
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
                        delivery(serde_json::to_vec(&unique(fixture, n)).unwrap())
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
