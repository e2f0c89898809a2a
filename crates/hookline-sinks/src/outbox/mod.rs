//! The outbox workers: one per sink, each following the event log from its own cursor (see
//! [`hookline_store::outbox`] for what is stored, [`worker`] for how a sink is driven).
//!
//! [`Fanout`] runs a set of workers and stops them: on shutdown each finishes the pass in progress and
//! saves it, so nothing is attempted without being recorded, and whatever was attempted but not saved is
//! attempted again after a restart (at-least-once; consumers dedup on the event's `webhook-id`).
//!
//! Several instances may run the same sinks on one database: [`lease`] keeps them from attempting the
//! same event at the same time.
//!
//! [`Fanout::start_background`] runs the workers on threads of their own at a lower CPU priority (a
//! higher `nice`): forwarding then takes the CPU that acknowledging Meta's deliveries leaves over. A sink
//! falls behind during a burst and catches up after it, rather than every delivery waiting longer for its
//! 200 (measured in BENCHMARKS.md, "Fan-out").

pub mod lease;
pub mod priority;
pub mod worker;

use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use lease::default_owner;
pub use worker::{SinkObserver, Worker, WorkerOptions};

/// Running sink workers.
#[derive(Debug)]
pub struct Fanout {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    names: Vec<String>,
    /// The workers' own runtime, when they run in the background.
    runtime: Option<Runtime>,
}

/// Where [`Fanout::start_background`] runs the workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Background {
    pub threads: usize,
    /// Added to the threads' `nice` value (Linux; 0 to 19, higher yields more readily). Ignored elsewhere.
    pub nice: i32,
}

impl Default for Background {
    fn default() -> Self {
        Background {
            threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
            nice: 10,
        }
    }
}

impl Fanout {
    /// Spawns every worker on the current runtime.
    pub fn start(workers: Vec<Worker>) -> Fanout {
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut names = Vec::new();
        for worker in workers {
            names.push(worker.name().to_owned());
            tasks.spawn(worker.run(stopped.clone()));
        }
        Fanout {
            stop,
            tasks,
            names,
            runtime: None,
        }
    }

    /// Spawns every worker on a runtime of its own, `background.threads` threads at a lower priority.
    pub fn start_background(
        workers: Vec<Worker>,
        background: Background,
    ) -> std::io::Result<Fanout> {
        let nice = background.nice;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(background.threads.max(1))
            .thread_name("hookline-fanout")
            .on_thread_start(move || priority::lower_current_thread(nice))
            .enable_all()
            .build()?;
        let (stop, stopped) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let mut names = Vec::new();
        for worker in workers {
            names.push(worker.name().to_owned());
            tasks.spawn_on(worker.run(stopped.clone()), runtime.handle());
        }
        Ok(Fanout {
            stop,
            tasks,
            names,
            runtime: Some(runtime),
        })
    }

    /// The sinks being run.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Asks every worker to stop after its current pass and waits up to `deadline` for them; a worker
    /// still waiting on a slow sink then is abandoned (its unsaved attempts are made again next start).
    pub async fn stop(mut self, deadline: Duration) {
        self.stop.send_replace(true);
        let all = async { while self.tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(deadline, all).await.is_err() {
            tracing::warn!(
                "sink workers still busy {}s after shutdown began were stopped; their last attempts will be made again",
                deadline.as_secs()
            );
            self.tasks.abort_all();
        }
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        // A runtime may not be dropped the ordinary way from async code (it would block); its threads
        // end on their own once their tasks are gone.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
