//! The `--database` URL and the backend it names.
//!
//! `sqlite://PATH` opens (or creates) an embedded database file; `PATH` is relative to the working
//! directory unless it starts with `/` (`sqlite:///var/lib/hookline/hookline.db`). Options follow a `?`:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `busy_timeout_ms` | 2000 | how long a commit waits for a lock held by another process before failing (the delivery is answered 503 and Meta retries); keep it well under Meta's 5 s deadline |
//! | `max_size_mb` | none | a size cap: once the file would grow past it, commits fail (503) instead of filling the disk |

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use crate::sqlite::{SqliteOptions, SqliteStore};
use crate::store::{CommitObserver, EventStore};

/// A parsed database URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite {
        path: PathBuf,
        busy_timeout: Duration,
        max_size_mb: Option<u64>,
    },
    Postgres(String),
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(url.to_owned()));
        }
        let Some(rest) = url.strip_prefix("sqlite://") else {
            return Err(invalid(
                "expected sqlite://PATH (embedded, e.g. sqlite://hookline.db) or postgres://...",
            ));
        };
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() {
            return Err(invalid(
                "the path is empty; give a file, e.g. sqlite://hookline.db",
            ));
        }
        let mut busy_timeout = Duration::from_millis(2000);
        let mut max_size_mb = None;
        for (key, value) in form_pairs(query) {
            let number = value
                .parse::<u64>()
                .map_err(|_| invalid(&format!("option {key}={value} is not a whole number")))?;
            match key {
                "busy_timeout_ms" => busy_timeout = Duration::from_millis(number),
                "max_size_mb" => max_size_mb = Some(number),
                _ => {
                    return Err(invalid(&format!(
                        "unknown option {key:?}; known: busy_timeout_ms, max_size_mb"
                    )));
                }
            }
        }
        Ok(StoreUrl::Sqlite {
            path: PathBuf::from(path),
            busy_timeout,
            max_size_mb,
        })
    }
}

fn form_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Settings of the writer, whatever the backend.
#[derive(Clone)]
pub struct WriterOptions {
    /// Deliveries that may wait for the writer; more are refused with [`StoreError::Saturated`].
    pub queue_capacity: usize,
    /// Most deliveries committed in one transaction.
    pub max_batch: usize,
    pub observer: Option<Arc<dyn CommitObserver>>,
    /// Keep the conversation projection up to date (the server does; one-shot readers do not).
    pub project: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 4096,
            max_batch: 256,
            observer: None,
            project: false,
        }
    }
}

impl std::fmt::Debug for WriterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterOptions")
            .field("queue_capacity", &self.queue_capacity)
            .field("max_batch", &self.max_batch)
            .field("project", &self.project)
            .finish_non_exhaustive()
    }
}

/// Opens the store `url` names, running its migrations.
pub fn open(url: &StoreUrl, writer: WriterOptions) -> Result<Arc<dyn EventStore>, StoreError> {
    match url {
        StoreUrl::Sqlite {
            path,
            busy_timeout,
            max_size_mb,
        } => {
            let options = SqliteOptions {
                busy_timeout: *busy_timeout,
                max_size_mb: *max_size_mb,
                writer,
            };
            Ok(Arc::new(SqliteStore::open(path, options)?))
        }
        StoreUrl::Postgres(_) => Err(StoreError::InvalidUrl {
            url: "postgres://...".to_owned(),
            reason: "this build of hookline stores into SQLite only; use sqlite://PATH".to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relative_and_an_absolute_sqlite_path() {
        let relative = StoreUrl::parse("sqlite://hookline.db").unwrap();
        let absolute = StoreUrl::parse("sqlite:///var/lib/h.db?max_size_mb=5").unwrap();
        assert!(
            matches!(relative, StoreUrl::Sqlite { ref path, max_size_mb: None, .. } if path == &PathBuf::from("hookline.db"))
        );
        assert!(
            matches!(absolute, StoreUrl::Sqlite { ref path, max_size_mb: Some(5), .. } if path == &PathBuf::from("/var/lib/h.db"))
        );
    }

    #[test]
    fn bad_urls_say_what_is_expected() {
        for (url, hint) in [
            ("mysql://x", "expected sqlite://PATH"),
            ("sqlite://", "path is empty"),
            ("sqlite://a.db?max_size_mb=lots", "not a whole number"),
            ("sqlite://a.db?cache=1", "known: busy_timeout_ms"),
        ] {
            let err = StoreUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(hint), "{url}: {err}");
        }
    }
}
