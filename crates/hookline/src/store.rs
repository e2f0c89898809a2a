//! Opening the store for the reading subcommands (`events`, `deliveries`), and for `migrate` and `check`:
//! how a store's schema compares with this hookline's, and its URL as it may be shown.

use std::io::{BufWriter, Write};
use std::sync::Arc;

use anyhow::Context;
use hookline_store::{BoxFuture, EventStore, StoreError, StoreUrl, WriterOptions};

/// The store option shared by reading subcommands.
#[derive(Debug, clap::Args)]
pub struct StoreArgs {
    /// Store URL, as given to `hookline serve`: sqlite://PATH or postgres://USER@HOST:PORT/DB?schema=NAME.
    #[arg(
        long,
        env = "HOOKLINE_DATABASE",
        default_value = "sqlite://hookline.db"
    )]
    pub database: String,
}

/// Opens an existing store without migrating it (only `serve` and `migrate` change a schema): a store
/// that is behind is refused with a message naming `hookline migrate`, and a missing SQLite file is an
/// error rather than a new empty store.
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
    let writer = one_shot(false);
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

/// How a store's schema compares with the one this hookline writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Schema {
    UpToDate(u32),
    /// `hookline migrate` brings it up to date.
    Behind(u32),
    /// Written by a newer hookline; this one refuses it.
    Newer(u32),
}

/// Opens the store without migrating it and says how its schema compares with this hookline's.
///
/// A store that is behind or newer cannot be opened that way; its refusal
/// ([`StoreError::Schema`]) names its version. Other failures (unreachable, not a database) are returned
/// as they are. A missing SQLite file is created empty: check for it first where that matters.
pub async fn probe_schema(url: &StoreUrl) -> Result<Schema, StoreError> {
    match hookline_store::open(url, one_shot(false)).await {
        Ok(store) => {
            let version = store.schema_version().await;
            store.close().await;
            Ok(Schema::UpToDate(version?))
        }
        Err(err) => schema_refusal(err),
    }
}

/// The schema a store's refusal names, or the error itself when it was refused for another reason.
fn schema_refusal(err: StoreError) -> Result<Schema, StoreError> {
    match err {
        StoreError::Schema {
            found, expected, ..
        } if found < expected => Ok(Schema::Behind(found)),
        StoreError::Schema { found, .. } => Ok(Schema::Newer(found)),
        err => Err(err),
    }
}

/// Writer settings for a store opened to run one command: no projection, no queue to speak of.
pub fn one_shot(migrate: bool) -> WriterOptions {
    WriterOptions {
        queue_capacity: 1,
        max_batch: 1,
        observer: None,
        project: false,
        migrate,
    }
}

/// A store URL as it may be printed: a password, in the user part or as `password=`, becomes `***`.
pub fn shown_url(url: &str) -> String {
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return url.to_owned();
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut shown = match base.split_once("://") {
        // The last `@` ends the user part: an unencoded `@` in a password stays hidden too.
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((userinfo, host)) if userinfo.contains(':') => {
                let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
                format!("{scheme}://{user}:***@{host}")
            }
            _ => base.to_owned(),
        },
        None => base.to_owned(),
    };
    if !query.is_empty() {
        let pairs: Vec<&str> = query
            .split('&')
            .map(|pair| {
                if pair.starts_with("password=") {
                    "password=***"
                } else {
                    pair
                }
            })
            .collect();
        shown.push('?');
        shown.push_str(&pairs.join("&"));
    }
    shown
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(found: u32, expected: u32) -> StoreError {
        StoreError::Schema {
            location: "x".into(),
            found,
            expected,
        }
    }

    #[test]
    fn a_refused_schema_names_its_version_and_which_way_it_differs() {
        assert_eq!(schema_refusal(refused(2, 3)).unwrap(), Schema::Behind(2));
        assert_eq!(schema_refusal(refused(12, 3)).unwrap(), Schema::Newer(12));
        let other = StoreError::Open {
            location: "x".into(),
            message: "the database has schema version 2, older than this hookline's (3)".into(),
        };
        assert!(matches!(
            schema_refusal(other),
            Err(StoreError::Open { .. })
        ));
    }

    #[test]
    fn passwords_never_show_in_a_printed_url() {
        assert_eq!(
            shown_url("postgres://app:s3@cr3t@db:5432/h?password=x&schema=a"),
            "postgres://app:***@db:5432/h?password=***&schema=a"
        );
        assert_eq!(
            shown_url("postgresql://app@db/h?schema=a"),
            "postgresql://app@db/h?schema=a"
        );
        assert_eq!(shown_url("sqlite://a:b@c.db"), "sqlite://a:b@c.db");
    }
}
