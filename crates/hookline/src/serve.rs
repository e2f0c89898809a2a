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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")?;
    runtime.block_on(serve(config))?;
    Ok(ExitCode::SUCCESS)
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
