//! Opening the store for the reading subcommands (`events`, `deliveries`).

use std::io::{BufWriter, Write};
use std::sync::Arc;

use anyhow::Context;
use hookline_store::{BoxFuture, EventStore, StoreError, StoreUrl, WriterOptions};

/// The store option shared by reading subcommands.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Store URL, as given to `hookline serve`.
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
    if let StoreUrl::Sqlite { path, .. } = &url
        && !path.exists()
    {
        anyhow::bail!(
            "no store at {}: start `hookline serve` first, or pass the --database it uses",
            path.display()
        );
    }
    let writer = WriterOptions {
        queue_capacity: 1,
        max_batch: 1,
        observer: None,
        project: false,
        migrate: true,
    };
    // `open` is async, and this runs both outside a runtime and inside one (`hookline tail`), so the
    // store is opened on a thread of its own with a one-shot runtime. The store needs none of the
    // caller's runtime afterwards: SQLite runs threads of its own, PostgreSQL a runtime of its own.
    let opened = std::thread::scope(|scope| {
        scope
            .spawn(|| -> anyhow::Result<Arc<dyn EventStore>> {
                Ok(runtime()?.block_on(hookline_store::open(&url, writer))?)
            })
            .join()
    });
    match opened {
        Ok(store) => store.with_context(|| format!("while opening {}", args.database)),
        Err(_) => anyhow::bail!("the thread opening {} failed", args.database),
    }
}

/// A small runtime for one-shot reads.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")
}

/// Epoch ms as RFC 3339 UTC with milliseconds: one definition, shared with the admin API.
pub use hookline_server::api::rfc3339;

/// One page of rows after a cursor (`after`, at most `limit` rows), read from the store.
pub type Fetch<'f, T> = dyn for<'s> Fn(&'s dyn EventStore, Option<i64>, usize) -> BoxFuture<'s, Result<Vec<T>, StoreError>>
    + 'f;

/// Prints the rows of an existing store to standard output in pages of `page` rows, from the one after
/// `after`, until `limit` rows or the end, so a listing of millions starts at once.
pub fn list<T>(
    args: &StoreArgs,
    after: Option<i64>,
    limit: Option<usize>,
    page: usize,
    fetch: &Fetch<'_, T>,
    id: fn(&T) -> i64,
    write: impl Fn(&mut dyn Write, &T) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let store = open_existing(args)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut remaining = limit.unwrap_or(usize::MAX);
    let mut after = after;
    runtime()?.block_on(async {
        while remaining > 0 {
            let rows = fetch(store.as_ref(), after, remaining.min(page)).await?;
            for row in &rows {
                write(&mut out, row)?;
            }
            remaining -= rows.len();
            match rows.last() {
                Some(last) if rows.len() == page => after = Some(id(last)),
                _ => break,
            }
        }
        store.close().await;
        out.flush().context("while writing to standard output")
    })
}
