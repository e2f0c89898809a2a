//! A run from start to report: check the settings, resolve the target, start the load threads, draw the
//! progress bar while they work, merge what they counted.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use crate::body::BodySource;
use crate::config::LoadConfig;
use crate::error::LoadError;
use crate::progress::{Bar, TICK};
use crate::report::{Report, RunInfo};
use crate::request::RequestWriter;
use crate::schedule::Plan;
use crate::stats::Stats;
use crate::target::Target;
use crate::worker::{Gate, Shared, Signal, run_thread};

/// Runs the load on threads of its own and returns the report; see [`run_blocking`].
///
/// The calling runtime only waits: the load threads have their own event loops, so a test may run a
/// server and the load in one process without the two competing for one runtime's workers.
pub async fn run(config: LoadConfig, bodies: Arc<dyn BodySource>) -> Result<Report, LoadError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("hookline-load".into())
        .spawn(move || {
            let _ = tx.send(run_blocking(config, bodies));
        })
        .map_err(LoadError::Start)?;
    rx.await.map_err(|_| LoadError::Panicked)?
}

/// Runs the load and blocks until the last request has finished.
///
/// Requests stop when `config.requests` were attempted or `config.duration` has passed, whichever comes
/// first; requests in flight then finish, each within `config.timeout`. The run fails without a report
/// only when the settings are invalid, the host does not resolve, or nothing at the URL accepted a
/// connection before the first response (see [`LoadError::Connect`]).
pub fn run_blocking(config: LoadConfig, bodies: Arc<dyn BodySource>) -> Result<Report, LoadError> {
    config.validate()?;
    let target = Target::parse(&config.url)?;
    let addrs = target.resolve()?;
    let writer = RequestWriter::new(&target, &config.headers, config.secret.as_deref())?;
    let threads = config.effective_threads();
    let plan = Plan::new(config.requests, config.duration, config.rate);
    let shared = Arc::new(Shared::new(
        target.url.clone(),
        addrs,
        plan,
        writer,
        bodies,
        config.timeout,
        threads,
    ));

    let gate = Arc::new(Gate::default());
    let (signals, signalled) = mpsc::channel();
    let mut handles = Vec::with_capacity(threads);
    for index in 0..threads {
        // Connections spread evenly: the first `connections % threads` threads take one more.
        let connections =
            config.connections / threads + usize::from(index < config.connections % threads);
        let (thread_shared, thread_gate, signals) = (shared.clone(), gate.clone(), signals.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("hookline-load-{index}"))
            .spawn(move || {
                let result = run_thread(
                    thread_shared,
                    index,
                    connections,
                    thread_gate,
                    signals.clone(),
                );
                let _ = signals.send(Signal::Done);
                result
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                shared.plan.stop();
                gate.open();
                return Err(LoadError::Start(e));
            }
        }
    }
    drop(signals);
    let finished_early = wait_until_ready(&signalled, threads);
    let start = shared.plan.start();
    gate.open();

    wait_for_threads(
        &config,
        &shared,
        &signalled,
        threads - finished_early,
        start,
    );
    let mut merged = Stats::new();
    let mut finished = start;
    for handle in handles {
        let (stats, at) = handle.join().map_err(|_| LoadError::Panicked)??;
        merged.merge(&stats);
        finished = finished.max(at);
    }
    if let Some(fatal) = shared.take_fatal() {
        return Err(fatal);
    }
    let info = RunInfo {
        url: target.url,
        connections: config.connections,
        threads,
        target_rate: config.rate,
        duration_s: (finished - start).as_secs_f64(),
        sending_s: merged
            .last_sent
            .map_or(0.0, |t| t.saturating_duration_since(start).as_secs_f64()),
    };
    Ok(Report::new(info, &merged))
}

/// Blocks until `threads` load threads have opened their connections; returns how many of them have
/// also finished already (a thread that could not start).
fn wait_until_ready(signals: &mpsc::Receiver<Signal>, threads: usize) -> usize {
    let (mut ready, mut done) = (0, 0);
    while ready < threads {
        match signals.recv() {
            Ok(Signal::Ready) => ready += 1,
            Ok(Signal::Done) => done += 1,
            Err(mpsc::RecvError) => break,
        }
    }
    done
}

/// Blocks until `threads` load threads have said they are done, redrawing the bar meanwhile when asked for.
fn wait_for_threads(
    config: &LoadConfig,
    shared: &Shared,
    signals: &mpsc::Receiver<Signal>,
    threads: usize,
    start: Instant,
) {
    let mut bar = config
        .progress
        .then(|| Bar::new(config.requests, config.duration, start));
    let mut running = threads;
    while running > 0 {
        match signals.recv_timeout(TICK) {
            Ok(Signal::Done) => running -= 1,
            Ok(Signal::Ready) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if let Some(bar) = &mut bar {
            bar.update(shared.progress.total());
        }
    }
    if let Some(bar) = bar {
        bar.finish();
    }
}
