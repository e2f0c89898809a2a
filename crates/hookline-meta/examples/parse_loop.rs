//! Parses one body many times, for instruction counts under `valgrind --tool=callgrind` (BENCHMARKS.md).
//!
//! `cargo run --release -p hookline-meta --example parse_loop -- <body.json | batch_1000> [times] [loops]`;
//! `batch_1000` builds the bench's 1000-entry batch. With `loops`, it also times that many loops of `times`
//! parses each and prints the fastest loop per parse: on a busy machine the fastest loop is the one least
//! disturbed, which makes two builds comparable when they are run alternately (BENCHMARKS.md).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use hookline_meta::{ParseOptions, parse_with, wire};

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

fn main() {
    let mut args = std::env::args().skip(1);
    let source = args.next().expect("a body file or batch_1000");
    let times: usize = args.next().map_or(1000, |n| n.parse().expect("a count"));
    let body = match source.as_str() {
        "batch_1000" => batch_1000(),
        path => std::fs::read(path).expect("a readable body"),
    };
    let options = ParseOptions {
        own_app_ids: vec!["1517776481860111".into()],
    };
    let mut events = 0;
    for _ in 0..times {
        events += parse_with(black_box(&body), &options).unwrap().len();
    }
    println!("{events} events");
    if let Some(loops) = args.next() {
        let loops: usize = loops.parse().expect("a count");
        let fastest = (0..loops)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..times {
                    drop(black_box(parse_with(black_box(&body), &options).unwrap()));
                }
                start.elapsed()
            })
            .min()
            .unwrap_or(Duration::ZERO);
        let per_parse = fastest.as_secs_f64() / times as f64;
        println!(
            "fastest of {loops} loops: {:.3} µs per parse",
            per_parse * 1e6
        );
    }
}
