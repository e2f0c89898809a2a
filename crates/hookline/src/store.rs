//! Opening the store for the reading subcommands (`events`, `deliveries`).

use std::sync::Arc;

use anyhow::Context;
use hookline_store::{EventStore, StoreUrl, WriterOptions};

/// The store option shared by reading subcommands.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Store URL, as given to `hookline serve` [default: sqlite://hookline.db].
    #[arg(
        long,
        env = "HOOKLINE_DATABASE",
        default_value = "sqlite://hookline.db"
    )]
    pub database: String,
}

/// Opens an existing store; a missing SQLite file is an error rather than a new empty store.
pub fn open_existing(args: &StoreArgs) -> anyhow::Result<Arc<dyn EventStore>> {
    let url = StoreUrl::parse(&args.database)?;
    if let StoreUrl::Sqlite { path, .. } = &url {
        if !path.exists() {
            anyhow::bail!(
                "no store at {}: start `hookline serve` first, or pass the --database it uses",
                path.display()
            );
        }
    }
    let writer = WriterOptions {
        queue_capacity: 1,
        max_batch: 1,
        observer: None,
    };
    hookline_store::open(&url, writer).with_context(|| format!("while opening {}", args.database))
}

/// A small runtime for one-shot reads.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")
}

/// Epoch ms as RFC 3339 UTC with milliseconds.
pub fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}
