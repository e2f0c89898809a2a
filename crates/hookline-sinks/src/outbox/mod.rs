//! The outbox workers: one per sink, each following the event log from its own cursor (see
//! [`hookline_store::outbox`] for what is stored, [`worker`] for how a sink is driven).
//!
//! [`Fanout`] runs a set of workers and stops them: on shutdown each finishes the pass in progress and
//! saves it, so nothing is attempted without being recorded, and whatever was attempted but not saved is
//! attempted again after a restart (at-least-once; consumers dedup on the event's `webhook-id`).

pub mod worker;

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;

pub use worker::{SinkObserver, Worker, WorkerOptions};

/// Running sink workers.
#[derive(Debug)]
pub struct Fanout {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
    names: Vec<String>,
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
        Fanout { stop, tasks, names }
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
