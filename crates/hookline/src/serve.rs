//! `hookline serve`: receive Meta webhooks into the store (CONTRACTS.md section 3).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::builder::BoolishValueParser;
use hookline_server::{Config, ConfigError, Overrides};

use crate::{logging, signal};

/// Receive Meta webhook deliveries: verify each signature, store it durably, answer 200.
///
/// Settings come from, in rising priority: built-in defaults, the TOML file given with --config, the
/// HOOKLINE_* environment variables, and these flags. hookline.example.toml lists every setting.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,

    #[command(flatten)]
    log: logging::LogArgs,
}

/// The settings of `hookline serve` that flags and `HOOKLINE_*` variables give (`hookline check` takes
/// the same, so it checks what serve would run with).
#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    /// A TOML config file (see hookline.example.toml).
    #[arg(long, env = "HOOKLINE_CONFIG")]
    pub config: Option<PathBuf>,

    /// Address to bind [default: 127.0.0.1:8080].
    #[arg(long, env = "HOOKLINE_LISTEN")]
    listen: Option<String>,

    /// Store URL: sqlite://PATH (embedded) or postgres://USER@HOST:PORT/DB?schema=NAME
    /// [default: sqlite://hookline.db].
    #[arg(long, env = "HOOKLINE_DATABASE")]
    database: Option<String>,

    /// Do not migrate the store at start-up: refuse a store whose schema is behind (run `hookline
    /// migrate` first). Same as `migrate = false` in the config file.
    #[arg(long, env = "HOOKLINE_NO_MIGRATE", value_parser = BoolishValueParser::new())]
    no_migrate: bool,

    /// App secret(s) that sign deliveries, comma-separated (rotation, several apps). Required.
    #[arg(long, env = "HOOKLINE_APP_SECRET", hide_env_values = true)]
    app_secret: Option<String>,

    /// Token(s) accepted in the subscription handshake, comma-separated.
    #[arg(long, env = "HOOKLINE_VERIFY_TOKEN", hide_env_values = true)]
    verify_token: Option<String>,

    /// Bearer token for the admin API.
    #[arg(long, env = "HOOKLINE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,

    /// App ids this deployment sends with, so their echoes are classified `this_app` (comma-separated).
    #[arg(long = "app-id", env = "HOOKLINE_APP_ID")]
    app_id: Option<String>,

    /// Largest accepted body in bytes; larger ones are answered 413 [default: 8388608].
    #[arg(long, env = "HOOKLINE_MAX_BODY_BYTES")]
    max_body_bytes: Option<usize>,

    /// Also accept the legacy X-Hub-Signature (SHA-1) header when X-Hub-Signature-256 is absent.
    #[arg(long, env = "HOOKLINE_ALLOW_SHA1", num_args = 0..=1, default_missing_value = "true")]
    allow_sha1: Option<bool>,

    #[command(flatten)]
    graph: GraphArgs,
}

/// Where Graph API calls go (the `[[account]]` watchdog, `hookline meta`).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct GraphArgs {
    /// Scheme and host of the Graph API, for both graph.facebook.com and graph.instagram.com calls
    /// (a local mock in tests) [default: https://graph.facebook.com].
    #[arg(long, env = "HOOKLINE_GRAPH_URL")]
    pub graph_url: Option<String>,

    /// Graph API version, vMAJOR.MINOR [default: v26.0].
    #[arg(long, env = "HOOKLINE_GRAPH_VERSION")]
    pub graph_version: Option<String>,
}

impl ConfigArgs {
    /// Defaults, the file, then these settings, validated: the config `hookline serve` runs with.
    pub fn load(self) -> Result<Config, ConfigError> {
        let overrides = Overrides {
            listen: self.listen,
            database: self.database,
            // Only an explicit --no-migrate overrides the file; its absence leaves `migrate` as set there.
            migrate: self.no_migrate.then_some(false),
            app_secret: self.app_secret,
            verify_token: self.verify_token,
            admin_token: self.admin_token,
            app_id: self.app_id,
            max_body_bytes: self.max_body_bytes,
            allow_sha1: self.allow_sha1,
            graph_url: self.graph.graph_url,
            graph_version: self.graph.graph_version,
        };
        Config::load(self.config.as_deref(), overrides)
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    logging::init(&args.log)?;
    let config = args.config.load()?;
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = worker_threads(&config) {
        builder.worker_threads(threads);
    }
    let runtime = builder
        .enable_all()
        .build()
        .context("while starting the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
}

/// The async runtime's threads, unless `TOKIO_WORKER_THREADS` is set (tokio then reads it itself).
fn worker_threads(config: &Config) -> Option<usize> {
    if std::env::var_os("TOKIO_WORKER_THREADS").is_some() {
        return None;
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Some(runtime_threads(&config.database, cores))
}

/// One runtime thread per core, less one for the embedded store's writer thread, which every
/// acknowledgement waits on. On 2 cores one runtime thread answered 4-12% more deliveries per second than
/// two in 6 of 7 alternated runs (BENCHMARKS.md, "HTTP ingest"): the writer no longer competes with a
/// second HTTP thread, and requests stop moving between threads. PostgreSQL writes in its own processes.
fn runtime_threads(database: &str, cores: usize) -> usize {
    let embedded = matches!(
        hookline_store::StoreUrl::parse(database),
        Ok(hookline_store::StoreUrl::Sqlite { .. })
    );
    if embedded {
        cores.saturating_sub(1).max(1)
    } else {
        cores.max(1)
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another process using it? choose another with --listen",
                config.listen
            )
        })?;
    let server = hookline_server::Server::bind(&config, listener).await?;
    server.run(shutdown_signal()).await
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    signal::stop_requested().await;
    tracing::info!("shutdown requested");
}

#[cfg(test)]
mod tests {
    use super::runtime_threads;

    #[test]
    fn the_embedded_store_leaves_one_core_to_its_writer_and_postgres_takes_them_all() {
        let sqlite = "sqlite://hookline.db";
        assert_eq!(runtime_threads(sqlite, 1), 1);
        assert_eq!(runtime_threads(sqlite, 2), 1);
        assert_eq!(runtime_threads(sqlite, 8), 7);
        let postgres = "postgres://postgres@127.0.0.1:5432/test";
        assert_eq!(runtime_threads(postgres, 2), 2);
        assert_eq!(runtime_threads(postgres, 8), 8);
    }
}
