//! The receiving hot path: HMAC verification and typed parsing of one delivery and of a 1000-entry batch.
//!
//! Run with `cargo bench -p hookline-meta --bench ingest`; figures and method are in BENCHMARKS.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookline_meta::signature::{SignatureHeaders, Verifier, sign};
use hookline_meta::{ParseOptions, Secret, parse_with, wire};

const SECRET: &str = "bench-app-secret";

/// A Messenger message from an ad: Portuguese text with escapes, a quick reply and ad context (1.3 KB).
fn one_delivery() -> Vec<u8> {
    include_bytes!("delivery_1300.json").to_vec()
}

/// 1000 entries cycling through every Messenger and Instagram messaging fixture, in wire form.
fn batch_1000() -> Vec<u8> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    let mut entries = Vec::new();
    for path in names.iter().cycle() {
        let body: serde_json::Value =
            serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        for entry in body["entry"].as_array().unwrap() {
            if entry.get("messaging").is_some() && entries.len() < 1000 {
                entries.push(entry.clone());
            }
        }
        if entries.len() == 1000 {
            break;
        }
    }
    wire::encode(&serde_json::json!({ "object": "page", "entry": entries }))
}

fn verifier() -> Verifier {
    Verifier::new(vec![Secret::new(SECRET)])
}

fn bench_body(c: &mut Criterion, name: &str, body: &[u8]) {
    let header = sign(SECRET.as_bytes(), body);
    let headers = SignatureHeaders {
        sha256: Some(header.as_bytes()),
        sha1: None,
    };
    let verifier = verifier();
    let options = ParseOptions {
        own_app_ids: vec!["1517776481860111".into()],
    };
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("hmac_verify", |b| {
        b.iter(|| {
            verifier
                .verify(black_box(&headers), black_box(body))
                .unwrap()
        })
    });
    group.bench_function("parse", |b| {
        b.iter(|| parse_with(black_box(body), &options).unwrap())
    });
    group.bench_function("verify_parse", |b| {
        b.iter(|| {
            let verified = verifier
                .verify(black_box(&headers), black_box(body))
                .unwrap();
            parse_with(verified.bytes(), &options).unwrap().len()
        })
    });
    group.bench_function("verify_parse_dedup", |b| {
        b.iter(|| {
            let verified = verifier
                .verify(black_box(&headers), black_box(body))
                .unwrap();
            let events = parse_with(verified.bytes(), &options).unwrap();
            events.iter().for_each(|e| drop(black_box(e.dedup_key())));
            events.len()
        })
    });
    group.finish();
}

fn ingest(c: &mut Criterion) {
    bench_body(c, "delivery_1_3kb", &one_delivery());
    bench_body(c, "batch_1000", &batch_1000());
}

criterion_group!(benches, ingest);
criterion_main!(benches);
