//! hookline's HTTP server: the webhook routes Meta posts to, health checks, metrics and the admin API.
//!
//! [`Server::bind`] opens the store named by the [`Config`] and builds the router on a listener the caller
//! bound (tests bind port 0); [`Server::run`] serves until the shutdown future resolves, then finishes the
//! requests in flight (each waits for its commit) and closes the store, so every delivery that got a 200 is
//! on disk. [`run`] does both.
//!
//! - [`config`]: every setting, its defaults and its validation.
//! - `connections`: accepting connections, with header and request deadlines and a connection cap.
//! - `webhook`: `GET`/`POST /webhook` and `/webhook/{app}` (handshake, verify, parse, commit).
//! - `health`: `/healthz`, `/readyz`, `/metrics`; [`metrics`]: the counters and histograms.
//! - [`api`]: the admin API under `/api/v1`, behind the bearer token.
//! - `inspector`: the web inspector at `/`, signed in with the admin token.
//! - `fanout`: the `[[sink]]` sections as outbox workers, started with the server and stopped after the
//!   last request, before the store closes.
//! - `security`: the headers every response carries (nosniff, no framing, no referrer; never CORS).
//! - `state`: what the handlers share.
//! - [`reply`]: replies into a conversation through the Send API, recorded so their echoes are known.
//! - [`watchdog`]: with `[[account]]` sections, checks each account's webhook subscription on Meta's
//!   side every interval and subscribes it again when Meta dropped it.

pub mod api;
pub mod config;
mod connections;
mod fanout;
mod health;
mod inspector;
pub mod metrics;
pub mod reply;
mod security;
mod state;
pub mod watchdog;
mod webhook;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use hookline_sinks::{Background, Fanout, Sink, Worker, WorkerOptions};
use hookline_store::{EventStore, StoreUrl, WriterOptions};
use tokio::net::TcpListener;

pub use config::{Config, ConfigError, Overrides};
use metrics::Metrics;
use state::AppState;

/// A server with its store open and its listener bound, not yet serving.
#[derive(Debug)]
pub struct Server {
    router: Router,
    listener: TcpListener,
    store: Arc<dyn EventStore>,
    metrics: Arc<Metrics>,
    /// Told when shutdown begins, so open live streams end.
    shutdown: Arc<tokio::sync::watch::Sender<bool>>,
    /// One per sink, started by [`Server::run`].
    workers: Vec<Worker>,
    /// The subscription watchdog, started by [`Server::run`]; `None` when it is off.
    watchdog: Option<watchdog::Watchdog>,
    limits: connections::Limits,
}

impl Server {
    /// Opens the store (running migrations) and builds the routes.
    pub async fn bind(config: &Config, listener: TcpListener) -> anyhow::Result<Server> {
        config.validate()?;
        let metrics = Arc::new(Metrics::default());
        let url = StoreUrl::parse(&config.database)?;
        let writer = WriterOptions {
            queue_capacity: config.writer_queue,
            max_batch: config.writer_max_batch,
            observer: Some(metrics.clone()),
            project: true,
            migrate: config.migrate,
        };
        let store = hookline_store::open(&url, writer)
            .await
            .context("while opening the store")?;
        let workers = match fanout::workers(config, &store, &metrics).await {
            Ok(workers) => workers,
            Err(err) => {
                store.close().await;
                return Err(err);
            }
        };
        let replier = match reply::Replier::from_config(config, store.clone()) {
            Ok(replier) => replier.with_metrics(metrics.clone()),
            Err(err) => {
                store.close().await;
                return Err(err.into());
            }
        };
        let state = AppState::new(config, store.clone(), metrics.clone(), replier);
        let watchdog =
            match watchdog::Watchdog::new(config, state.watchdog.clone(), metrics.clone()) {
                Ok(watchdog) => watchdog,
                Err(err) => {
                    store.close().await;
                    return Err(err);
                }
            };
        let shutdown = state.shutdown.clone();
        let limits = connections::Limits {
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            request_timeout: Duration::from_secs(config.request_timeout_secs),
            max_connections: config.max_connections,
        };
        let router = router(state, config.max_body_bytes, limits.request_timeout);
        if config.admin_token.is_none() {
            tracing::info!(
                "no admin token is configured: /api/v1 answers 401; set HOOKLINE_ADMIN_TOKEN to use it"
            );
        }
        if config.verify_token.is_empty() && config.apps.iter().all(|a| a.verify_token.is_empty()) {
            tracing::warn!(
                "no verify token is configured: subscription checks (GET /webhook) will be refused; \
                 set HOOKLINE_VERIFY_TOKEN to the token you enter in Meta's App Dashboard"
            );
        }
        Ok(Server {
            router,
            listener,
            store,
            metrics,
            shutdown,
            workers,
            watchdog,
            limits,
        })
    }

    /// Adds a sink of the embedder's own (a [`hookline_sinks::handler::HandlerSink`], say), run by an
    /// outbox worker like the configured ones: its own cursor named `name`, retries, dead letters.
    pub fn with_sink(mut self, name: &str, sink: Arc<dyn Sink>, options: WorkerOptions) -> Server {
        let worker = fanout::worker(name, sink, options, &self.store, &self.metrics);
        self.workers.push(worker);
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The store, for reading what was received (tests, embedding).
    pub fn store(&self) -> Arc<dyn EventStore> {
        self.store.clone()
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        self.metrics.clone()
    }

    /// Serves until `shutdown` resolves, then lets in-flight deliveries commit and closes the store.
    ///
    /// Requests still running [`DRAIN_DEADLINE`] after shutdown began (a client stalling its upload) are
    /// abandoned, so a stuck client cannot keep the process alive past a supervisor's grace period.
    /// Their deliveries were not acknowledged, so Meta retries them.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self.local_addr()?;
        for worker in &self.workers {
            if let Err(err) = worker.open_cursor().await {
                self.store.close().await;
                return Err(err).with_context(|| {
                    format!(
                        "while opening the outbox cursor of sink {:?}",
                        worker.name()
                    )
                });
            }
        }
        tracing::info!(%addr, "hookline is listening");
        // Forwarding runs at a lower CPU priority than acknowledging deliveries (see hookline_sinks::outbox).
        let fanout = Fanout::start_background(self.workers, Background::default())
            .context("while starting the sink workers' threads")?;
        // Graph calls wait on the network only, so the watchdog shares the server's runtime.
        let watchdog = self.watchdog.map(|w| tokio::spawn(w.run()));
        let begun = Arc::new(tokio::sync::Notify::new());
        let signal = {
            let begun = begun.clone();
            let streams = self.shutdown.clone();
            async move {
                shutdown.await;
                streams.send_replace(true);
                begun.notify_one();
            }
        };
        let serving = connections::serve(self.listener, self.router, self.limits, signal);
        let deadline = async {
            begun.notified().await;
            tokio::time::sleep(DRAIN_DEADLINE).await;
        };
        tokio::select! {
            () = serving => {}
            () = deadline => tracing::warn!(
                "requests still running {}s after shutdown began were abandoned (not acknowledged)",
                DRAIN_DEADLINE.as_secs()
            ),
        }
        if let Some(watchdog) = watchdog {
            // A check cut short changes nothing on Meta's side that the next start would not redo.
            watchdog.abort();
        }
        tracing::info!("stopped accepting; saving the sinks' progress");
        fanout.stop(DRAIN_DEADLINE).await;
        tracing::info!("committing what is queued");
        self.store.close().await;
        tracing::info!("store closed; bye");
        Ok(())
    }
}

/// How long shutdown waits for requests in flight.
pub const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Binds the store and serves `listener` until `shutdown` resolves.
pub async fn run(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    Server::bind(&config, listener).await?.run(shutdown).await
}

fn router(state: AppState, max_body_bytes: usize, request_timeout: Duration) -> Router {
    Router::new()
        .route(
            "/webhook",
            get(webhook::handshake_default).post(webhook::receive_default),
        )
        .route(
            "/webhook/{app}",
            get(webhook::handshake_app).post(webhook::receive_app),
        )
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::metrics))
        .nest("/api/v1", api::router(state.clone()))
        .merge(inspector::router())
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            connections::request_deadline,
        ))
        .layer(axum::middleware::from_fn(security::safe_headers))
        .with_state(state)
}
