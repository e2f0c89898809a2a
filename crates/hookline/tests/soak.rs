//! A one-minute soak of `hookline serve`: a steady open-loop load of unique signed deliveries, measured in
//! windows, must be answered 200 throughout and leave the server's memory flat once warm. The long form,
//! 30 minutes at half the measured capacity on a release build, is `bench/soak.sh` (BENCHMARKS.md "Soak").
//!
//! Latency is printed per window, not asserted: timings belong to benchmarks, and this machine is shared
//! with the rest of the test suite. Memory is asserted because a leak or an unbounded queue shows as
//! growth whatever the machine's speed.
#![cfg(target_os = "linux")]

mod support;

use std::time::Duration;

use support::{Sandbox, Server, hookline};

const SECRET: &str = "soak-secret";
/// Requests per second: well within what a debug build serves on a busy CI machine, so that what is
/// measured is drift over time, not saturation.
const RATE: &str = "300";
/// The people writing, as in `bench/soak.sh`: every event in the conversation of one of them.
const USERS: &str = "1000";
/// Six windows of ten seconds: the first warms up (page cache, connection pools, allocator arenas), the
/// other five are compared with it.
const WINDOWS: usize = 6;
const WINDOW: &str = "10s";
/// Growth allowed after the warm-up window. SQLite's page caches are bounded (2 MB per connection by
/// default) and the writer's queue is bounded, so a warm server's resident memory should barely move; a
/// leak of even one small allocation per request (300 per second) would exceed this within the minute.
const MAX_GROWTH_MB: f64 = 24.0;

#[derive(Debug)]
struct Window {
    responses: u64,
    ok: u64,
    errors: u64,
    p50_ms: f64,
    p99_ms: f64,
    rss_mb: f64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minute_of_steady_load_is_answered_200_with_flat_memory() {
    let sandbox = Sandbox::new();
    let server = Server::start(
        &sandbox,
        &["--app-secret", SECRET, "--database", &sandbox.url()],
    )
    .await;
    let url = server.url("/webhook");
    let pid = server.pid();

    let mut windows = Vec::new();
    for w in 1..=WINDOWS {
        let load_url = url.clone();
        let output = tokio::task::spawn_blocking(move || {
            hookline(&[
                "load",
                "--url",
                &load_url,
                "--secret",
                SECRET,
                "--rate",
                RATE,
                "--duration",
                WINDOW,
                "--connections",
                "8",
                "--users",
                USERS,
                "--json",
            ])
        })
        .await
        .unwrap();
        assert!(
            output.status.success(),
            "window {w}: hookline load failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        let ms = |key: &str| report["latency_us"][key].as_u64().unwrap() as f64 / 1000.0;
        let window = Window {
            responses: report["responses"].as_u64().unwrap(),
            ok: report["status"]["200"].as_u64().unwrap_or(0),
            errors: ["connect", "timeout", "io", "parse"]
                .iter()
                .map(|k| report["errors"][k].as_u64().unwrap_or(0))
                .sum(),
            p50_ms: ms("p50"),
            p99_ms: ms("p99"),
            rss_mb: rss_mb(pid),
        };
        println!(
            "soak window {w}/{WINDOWS}: {} responses, {} answered 200, {} errors, p50 {:.2} ms, \
             p99 {:.2} ms, server rss {:.1} MB",
            window.responses, window.ok, window.errors, window.p50_ms, window.p99_ms, window.rss_mb
        );
        assert!(
            window.responses > 0 && window.ok == window.responses && window.errors == 0,
            "window {w}: every request should be answered 200, got {window:?} ({report})"
        );
        windows.push(window);
    }

    let warm = windows[0].rss_mb;
    let peak = windows.iter().map(|w| w.rss_mb).fold(0.0, f64::max);
    println!(
        "soak: rss after warm-up {warm:.1} MB, peak of later windows {peak:.1} MB (+{:.1} MB), \
         {} requests answered 200",
        peak - warm,
        windows.iter().map(|w| w.ok).sum::<u64>()
    );
    assert!(
        peak - warm <= MAX_GROWTH_MB,
        "the server's resident memory grew by {:.1} MB after the warm-up window (allowed {MAX_GROWTH_MB} \
         MB): windows {windows:?}",
        peak - warm
    );

    // Every acknowledged delivery is in the store.
    let acked: u64 = windows.iter().map(|w| w.ok).sum();
    let stored = stored_deliveries(&sandbox);
    assert_eq!(
        stored, acked,
        "every delivery answered 200 should be stored once ({acked} acknowledged, {stored} stored)"
    );
    server.stop().await;
}

/// The process's resident set size in MB, from /proc/PID/status.
fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("the server process should be running");
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("/proc/PID/status should have a VmRSS line");
    kb / 1024.0
}

fn stored_deliveries(sandbox: &Sandbox) -> u64 {
    let conn = rusqlite::Connection::open(sandbox.db()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    conn.query_row("SELECT count(*) FROM deliveries", [], |r| {
        r.get::<_, i64>(0)
    })
    .unwrap() as u64
}
