//! Runs the engine against a URL, for measuring it (BENCHMARKS.md) without the `hookline` binary.
//!
//! ```text
//! cargo run --release -p hookline-load --example drive -- URL [--duration S] [--requests N]
//!     [--connections C] [--threads T] [--rate R] [--secret S] [--bodies FILE] [--json]
//! ```
//!
//! Bodies: with `--bodies`, the records of a `gen_bodies.py` file (`../shared/bench/`) in turn, signed
//! afresh with `--secret` (the file's own signatures are ignored); without it, a one-message Messenger
//! delivery with a unique mid per request.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use hookline_load::{BodySource, LoadConfig};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(url) = args.first() else {
        eprintln!("usage: drive URL [--duration S] [--requests N] [--connections C] [--threads T]");
        eprintln!("             [--rate R] [--secret S] [--bodies FILE] [--json]");
        std::process::exit(2);
    };
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
    };
    let number = |name: &str| {
        flag(name).map(|v| {
            v.parse::<f64>()
                .unwrap_or_else(|_| panic!("{name} {v}: not a number"))
        })
    };

    let mut config = LoadConfig::new(url.as_str());
    config.duration = number("--duration")
        .map(Duration::from_secs_f64)
        .or(config.duration);
    config.requests = number("--requests").map(|n| n as u64);
    if config.requests.is_some() && flag("--duration").is_none() {
        config.duration = None;
    }
    config.connections = number("--connections").map_or(config.connections, |n| n as usize);
    config.threads = number("--threads").map_or(config.threads, |n| n as usize);
    config.rate = number("--rate");
    config.secret = flag("--secret").map(|s| s.as_bytes().to_vec());
    config.progress = std::io::IsTerminal::is_terminal(&std::io::stderr());

    let bodies: Arc<dyn BodySource> = match flag("--bodies") {
        Some(path) => Arc::new(Cycle(read_bodies(path))),
        None => Arc::new(text_message),
    };
    match hookline_load::run_blocking(config, bodies) {
        Ok(report) if args.iter().any(|a| a == "--json") => println!("{}", report.to_json()),
        Ok(report) => print!("{}", report.to_text()),
        Err(e) => {
            eprintln!("drive: {e}");
            std::process::exit(1);
        }
    }
}

/// A one-message Messenger delivery whose mid and timestamps are the request's own.
fn text_message(seq: u64, now_ms: u64, out: &mut Vec<u8>) -> u32 {
    write!(
        out,
        r#"{{"object":"page","entry":[{{"id":"1000","time":{now_ms},"messaging":[{{"sender":{{"id":"2000"}},"recipient":{{"id":"1000"}},"timestamp":{now_ms},"message":{{"mid":"m_load.{seq:016x}","text":"load test message {seq}"}}}}]}}]}}"#
    )
    .expect("writing to a Vec");
    1
}

/// The bodies of a file, in turn.
struct Cycle(Vec<Vec<u8>>);

impl BodySource for Cycle {
    fn render(&self, seq: u64, _now_ms: u64, out: &mut Vec<u8>) -> u32 {
        out.extend_from_slice(&self.0[(seq % self.0.len() as u64) as usize]);
        1
    }
}

/// Records of a `WEBHOOK-BODIES 1` file: a count line, then per record a header line
/// `<sha256=..> <sha1=..> <length> <name>` and the body.
fn read_bodies(path: &str) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut lines = data.split(|&b| b == b'\n');
    let first = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let count: usize = first
        .strip_prefix("WEBHOOK-BODIES 1 ")
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{path}: not a WEBHOOK-BODIES 1 file"));
    let mut pos = first.len() + 1;
    let mut bodies = Vec::with_capacity(count);
    for _ in 0..count {
        let end = pos
            + data[pos..]
                .iter()
                .position(|&b| b == b'\n')
                .expect("a record header");
        let header = String::from_utf8_lossy(&data[pos..end]);
        let len: usize = header
            .split(' ')
            .nth(2)
            .and_then(|n| n.parse().ok())
            .expect("a body length");
        bodies.push(data[end + 1..end + 1 + len].to_vec());
        pos = end + 1 + len + 1;
    }
    bodies
}
