//! The `[[sink]]` sections turned into running outbox workers (`hookline-sinks`), one per sink.

use std::sync::Arc;

use anyhow::Context;
use hookline_sinks::nats::{NatsOptions, NatsSink};
use hookline_sinks::{HttpSink, Sink, SinkConfig, SinkType, SystemClock, Worker, WorkerOptions};
use hookline_store::EventStore;

use crate::config::Config;
use crate::metrics::Metrics;

/// A worker for every configured sink. NATS sinks connect here, so a server that cannot reach its bus
/// says so at start-up instead of filling the dead letters.
pub(crate) async fn workers(
    config: &Config,
    store: &Arc<dyn EventStore>,
    metrics: &Arc<Metrics>,
) -> anyhow::Result<Vec<Worker>> {
    let mut workers = Vec::with_capacity(config.sinks.len());
    for sink_config in &config.sinks {
        let sink = build(config, sink_config)
            .await
            .with_context(|| format!("while setting up sink {:?}", sink_config.name))?;
        workers.push(worker(
            &sink_config.name,
            sink,
            options(sink_config)?,
            store,
            metrics,
        ));
    }
    Ok(workers)
}

/// A worker for `sink` on the server's store, reporting to its metrics.
pub(crate) fn worker(
    name: &str,
    sink: Arc<dyn Sink>,
    options: WorkerOptions,
    store: &Arc<dyn EventStore>,
    metrics: &Arc<Metrics>,
) -> Worker {
    Worker::new(name, sink, options, store.clone(), Arc::new(SystemClock)).observer(metrics.clone())
}

/// The worker settings of a sink section (already validated).
pub(crate) fn options(sink: &SinkConfig) -> anyhow::Result<WorkerOptions> {
    let default = WorkerOptions::default();
    Ok(WorkerOptions {
        lease: sink.lease()?.unwrap_or(default.lease),
        filter: sink.filter(),
        schedule: sink.schedule()?,
        fifo: sink.fifo,
        concurrency: sink.concurrency(),
        start: sink.start_at()?,
        ..default
    })
}

async fn build(config: &Config, sink: &SinkConfig) -> anyhow::Result<Arc<dyn Sink>> {
    let timeouts = sink.timeouts()?;
    Ok(match sink.kind {
        SinkType::Http => {
            let secret = sink
                .secret
                .clone()
                .context("an http sink needs a secret (whsec_...)")?;
            Arc::new(
                HttpSink::new(&sink.url, secret, timeouts)?
                    .retry_client_errors(sink.retry_client_errors)
                    .parse_options(config.parse_options()),
            )
        }
        SinkType::Nats => {
            let options = NatsOptions {
                subject_prefix: sink.subject_prefix().to_owned(),
                stream: sink.stream.clone(),
                timeout: timeouts.total,
                parse: config.parse_options(),
            };
            Arc::new(NatsSink::connect(&sink.url, options).await?)
        }
    })
}
