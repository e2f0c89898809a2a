//! Parses one body many times, for instruction counts under `valgrind --tool=callgrind` (BENCHMARKS.md).
//!
//! `cargo run --release -p hookline-meta --example parse_loop -- <body.json | batch_1000> [times]`; `batch_1000`
//! builds the bench's 1000-entry batch.

use std::hint::black_box;
use std::path::Path;

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
}
