//! The `--database` URL and the backend it names.
//!
//! `sqlite://PATH` opens (or creates) an embedded database file; `PATH` is relative to the working
//! directory unless it starts with `/` (`sqlite:///var/lib/hookline/hookline.db`). Options follow a `?`:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `busy_timeout_ms` | 2000 | how long a commit waits for a lock held by another process before failing (the delivery is answered 503 and Meta retries); keep it well under Meta's 5 s deadline |
//! | `max_size_mb` | none | a size cap: once the file would grow past it, commits fail (503) instead of filling the disk |
//! | `cache_mb` | 32 | the writer's page cache: enough to keep the inner pages of the indexes in memory as the file grows to tens of GB, so an insert reads at most its leaf page from the file |
//! | `dedup_memory_keys` | 32768 | dedup keys of the latest events held in memory before they are merged into the file in key order (about 100 bytes each): more keys, fewer pages written per event merged |
//!
//! `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (or `postgresql://`) stores into PostgreSQL over plain
//! TCP. Its options are libpq's connection parameters that tokio-postgres understands (`sslmode`,
//! `connect_timeout`, `application_name`, ...; `connect_timeout` is 5 s unless given, so an unreachable
//! server fails a delivery with 503 rather than holding it) plus hookline's own, which are taken out
//! before the rest reaches the driver:
//!
//! | option | default | meaning |
//! |---|---|---|
//! | `pool_size` | 16 | connections for reads and outbox writes (the writer and the projection have one each besides) |
//! | `schema` | the server's `search_path` | a schema of its own for hookline's tables, created if missing, so several stores can share one database |
//!
//! This build has no TLS stack: `sslmode=require`, `verify-ca` and `verify-full` are refused; use
//! `sslmode=disable` (or `prefer`, the default, which then connects without TLS) on a private network.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::error::StoreError;
use crate::postgres::PostgresStore;
use crate::sqlite::{SqliteOptions, SqliteStore};
use crate::store::{CommitObserver, EventStore};

/// Connections for reads when the URL does not say.
const DEFAULT_POOL_SIZE: usize = 16;
/// How long connecting may take when the URL sets no `connect_timeout`: an unreachable host must fail
/// a delivery (503, Meta retries) rather than hold it past Meta's deadline.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Connection parameters passed on to tokio-postgres (the ones it knows).
const CONNECTION_OPTIONS: &[&str] = &[
    "user",
    "password",
    "dbname",
    "options",
    "application_name",
    "sslmode",
    "sslnegotiation",
    "host",
    "hostaddr",
    "port",
    "connect_timeout",
    "tcp_user_timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_retries",
    "target_session_attrs",
    "channel_binding",
    "load_balance_hosts",
];

/// The SQLite writer's page cache, MiB, unless the URL says otherwise.
pub const DEFAULT_CACHE_MB: u64 = 32;

/// Dedup keys the SQLite writer holds in memory before merging them, unless the URL says otherwise.
pub const DEFAULT_DEDUP_MEMORY_KEYS: usize = 32_768;

/// A parsed database URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite {
        path: PathBuf,
        busy_timeout: Duration,
        max_size_mb: Option<u64>,
        cache_mb: u64,
        dedup_memory_keys: usize,
    },
    /// Boxed: the driver's settings are several times the size of the SQLite variant.
    Postgres(Box<PostgresUrl>),
}

/// A `postgres://` URL: the driver's connection settings and hookline's own options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostgresUrl {
    /// Connection settings, without hookline's options (its `Debug` hides the password).
    pub config: tokio_postgres::Config,
    /// Connections in the read pool.
    pub pool_size: usize,
    /// The schema holding hookline's tables; `None` uses the server's `search_path`.
    pub schema: Option<String>,
}

impl StoreUrl {
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return parse_postgres(url).map(|parsed| StoreUrl::Postgres(Box::new(parsed)));
        }
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
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
        let mut cache_mb = DEFAULT_CACHE_MB;
        let mut dedup_memory_keys = DEFAULT_DEDUP_MEMORY_KEYS;
        for (key, value) in form_pairs(query) {
            let number = value
                .parse::<u64>()
                .map_err(|_| invalid(&format!("option {key}={value} is not a whole number")))?;
            match key {
                "busy_timeout_ms" => busy_timeout = Duration::from_millis(number),
                "max_size_mb" => max_size_mb = Some(number),
                "cache_mb" => cache_mb = number,
                "dedup_memory_keys" if number == 0 => {
                    return Err(invalid(
                        "option dedup_memory_keys=0: give at least 1 (the default is 32768)",
                    ));
                }
                "dedup_memory_keys" => {
                    dedup_memory_keys = usize::try_from(number).unwrap_or(usize::MAX)
                }
                _ => {
                    return Err(invalid(&format!(
                        "unknown option {key:?}; known: busy_timeout_ms, max_size_mb, cache_mb, dedup_memory_keys"
                    )));
                }
            }
        }
        Ok(StoreUrl::Sqlite {
            path: PathBuf::from(path),
            busy_timeout,
            max_size_mb,
            cache_mb,
            dedup_memory_keys,
        })
    }
}

fn form_pairs(query: &str) -> impl Iterator<Item = (&str, &str)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
}

/// Takes hookline's options out of a `postgres://` URL and hands the rest to tokio-postgres.
fn parse_postgres(url: &str) -> Result<PostgresUrl, StoreError> {
    let invalid = |reason: String| StoreError::InvalidUrl {
        url: redact(url),
        reason,
    };
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut pool_size = DEFAULT_POOL_SIZE;
    let mut schema = None;
    let mut passed = Vec::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "pool_size" => {
                pool_size = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        invalid(format!(
                            "option pool_size={value} is not a whole number of at least 1"
                        ))
                    })?;
            }
            "schema" => schema = Some(schema_name(value).map_err(invalid)?),
            "sslmode" if matches!(value, "require" | "verify-ca" | "verify-full") => {
                return Err(invalid(format!(
                    "sslmode={value} asks for TLS, which this build of hookline does not support; \
                     connect over a private network with sslmode=disable (or prefer)"
                )));
            }
            _ if CONNECTION_OPTIONS.contains(&key) => passed.push(pair),
            _ => {
                return Err(invalid(format!(
                    "unknown option {key:?}; hookline's options are pool_size and schema, and the \
                     connection options are {}",
                    CONNECTION_OPTIONS.join(", ")
                )));
            }
        }
    }
    let rest = if passed.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", passed.join("&"))
    };
    let mut config = tokio_postgres::Config::from_str(&rest).map_err(|err| {
        let cause = std::error::Error::source(&err).map_or(String::new(), |c| format!(": {c}"));
        invalid(format!("{err}{cause}"))
    })?;
    if config.get_hosts().is_empty() && config.get_hostaddrs().is_empty() {
        return Err(invalid(
            "no host; give one, e.g. postgres://postgres@127.0.0.1:5432/hookline".to_owned(),
        ));
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    Ok(PostgresUrl {
        config,
        pool_size,
        schema,
    })
}

/// A schema name used as is in SQL and in `search_path`, so only a plain lower-case identifier.
fn schema_name(value: &str) -> Result<String, String> {
    let mut chars = value.chars();
    let plain = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !plain || value.len() > 63 {
        return Err(format!(
            "schema={value:?} is not a plain identifier: use at most 63 lower-case letters, digits \
             and underscores, not starting with a digit"
        ));
    }
    if value.starts_with("pg_") {
        return Err(format!(
            "schema={value:?}: names starting with pg_ are reserved by PostgreSQL"
        ));
    }
    Ok(value.to_owned())
}

/// The URL with its password hidden, for error messages and logs.
fn redact(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut out = match base.split_once("://") {
        Some((scheme, rest)) => match rest.split_once('@') {
            Some((userinfo, host)) => match userinfo.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => base.to_owned(),
            },
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    if !query.is_empty() {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some(("password", _)) => "password=***".to_owned(),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
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
    /// Apply pending migrations when opening. When false, a store whose schema is behind this hookline's
    /// is refused (for deployments that migrate in a separate step, `hookline migrate`).
    pub migrate: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            queue_capacity: 4096,
            max_batch: 256,
            observer: None,
            project: false,
            migrate: true,
        }
    }
}

impl std::fmt::Debug for WriterOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterOptions")
            .field("queue_capacity", &self.queue_capacity)
            .field("max_batch", &self.max_batch)
            .field("project", &self.project)
            .field("migrate", &self.migrate)
            .finish_non_exhaustive()
    }
}

/// Opens the store `url` names, running its migrations unless `writer.migrate` is false.
pub async fn open(
    url: &StoreUrl,
    writer: WriterOptions,
) -> Result<Arc<dyn EventStore>, StoreError> {
    match url {
        StoreUrl::Sqlite {
            path,
            busy_timeout,
            max_size_mb,
            cache_mb,
            dedup_memory_keys,
        } => {
            let options = SqliteOptions {
                busy_timeout: *busy_timeout,
                max_size_mb: *max_size_mb,
                cache_mb: *cache_mb,
                dedup_memory_keys: *dedup_memory_keys,
                writer,
            };
            let path = path.clone();
            // Opening a file and migrating it block: keep that off the async worker threads.
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path, options))
                .await
                .map_err(|err| StoreError::Open {
                    location: url_location(url),
                    message: format!("the opening thread failed: {err}"),
                })??;
            Ok(Arc::new(store))
        }
        StoreUrl::Postgres(postgres) => Ok(Arc::new(
            PostgresStore::open(PostgresUrl::clone(postgres), writer).await?,
        )),
    }
}

/// The schema version this hookline writes to the backend `url` names (what a store opened with
/// migrations on reports through [`EventStore::schema_version`]).
pub fn current_schema_version(url: &StoreUrl) -> u32 {
    match url {
        StoreUrl::Sqlite { .. } => crate::sqlite::schema_version(),
        StoreUrl::Postgres(_) => crate::postgres::schema_version(),
    }
}

fn url_location(url: &StoreUrl) -> String {
    match url {
        StoreUrl::Sqlite { path, .. } => path.display().to_string(),
        StoreUrl::Postgres(postgres) => crate::postgres::location(postgres),
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
        assert!(matches!(
            relative,
            StoreUrl::Sqlite {
                cache_mb: DEFAULT_CACHE_MB,
                ..
            }
        ));
        let cached = StoreUrl::parse("sqlite://h.db?cache_mb=64").unwrap();
        assert!(matches!(cached, StoreUrl::Sqlite { cache_mb: 64, .. }));
        assert!(matches!(
            relative,
            StoreUrl::Sqlite {
                dedup_memory_keys: DEFAULT_DEDUP_MEMORY_KEYS,
                ..
            }
        ));
        let keys = StoreUrl::parse("sqlite://h.db?dedup_memory_keys=100").unwrap();
        assert!(matches!(
            keys,
            StoreUrl::Sqlite {
                dedup_memory_keys: 100,
                ..
            }
        ));
    }

    #[test]
    fn bad_urls_say_what_is_expected() {
        for (url, hint) in [
            ("mysql://x", "expected sqlite://PATH"),
            ("sqlite://", "path is empty"),
            ("sqlite://a.db?max_size_mb=lots", "not a whole number"),
            (
                "sqlite://a.db?cache=1",
                "known: busy_timeout_ms, max_size_mb, cache_mb, dedup_memory_keys",
            ),
            ("sqlite://a.db?dedup_memory_keys=0", "give at least 1"),
        ] {
            let err = StoreUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(hint), "{url}: {err}");
        }
    }

    fn postgres(url: &str) -> PostgresUrl {
        match StoreUrl::parse(url).unwrap() {
            StoreUrl::Postgres(parsed) => *parsed,
            other => panic!("{url} parsed as {other:?}"),
        }
    }

    #[test]
    fn a_postgres_url_keeps_its_connection_settings_and_takes_hookline_s_options_out() {
        let url = postgres(
            "postgresql://app:s3cret@db.internal:6432/events?sslmode=disable&pool_size=4&schema=hookline&application_name=h1",
        );
        assert_eq!(
            (url.pool_size, url.schema.as_deref()),
            (4, Some("hookline"))
        );
        assert_eq!(url.config.get_user(), Some("app"));
        assert_eq!(url.config.get_password(), Some(&b"s3cret"[..]));
        assert_eq!(url.config.get_dbname(), Some("events"));
        assert_eq!(url.config.get_ports(), [6432]);
        assert_eq!(url.config.get_application_name(), Some("h1"));
        assert_eq!(
            url.config.get_ssl_mode(),
            tokio_postgres::config::SslMode::Disable
        );
        assert_eq!(
            url.config.get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
        assert!(!format!("{url:?}").contains("s3cret"), "{url:?}");
    }

    #[test]
    fn a_bare_postgres_url_gets_the_defaults() {
        let url = postgres("postgres://postgres@127.0.0.1/test?connect_timeout=2");
        assert_eq!((url.pool_size, url.schema), (DEFAULT_POOL_SIZE, None));
        assert_eq!(url.config.get_ports(), [5432]);
        assert_eq!(
            url.config.get_connect_timeout(),
            Some(&Duration::from_secs(2))
        );
    }

    #[test]
    fn bad_postgres_urls_say_what_is_wrong_and_never_show_the_password() {
        for (url, hint) in [
            ("postgres://u:pw@h/db?sslmode=require", "does not support"),
            (
                "postgres://u:pw@h/db?sslmode=verify-full",
                "sslmode=disable",
            ),
            ("postgres://u:pw@h/db?pool_size=0", "at least 1"),
            ("postgres://u:pw@h/db?pool_size=many", "pool_size=many"),
            ("postgres://u:pw@h/db?schema=Hook-Line", "plain identifier"),
            ("postgres://u:pw@h/db?schema=1abc", "plain identifier"),
            ("postgres://u:pw@h/db?schema=pg_mine", "reserved"),
            (
                "postgres://u:pw@h/db?poolsize=3",
                "hookline's options are pool_size and schema",
            ),
            (
                "postgres://u:pw@h/db?port=x",
                "invalid value for option `port`",
            ),
            ("postgres://u:pw@/db", "no host"),
        ] {
            let err = StoreUrl::parse(url).unwrap_err().to_string();
            assert!(err.contains(hint), "{url}: {err}");
            assert!(!err.contains("pw@"), "{url}: the password shows in {err}");
        }
    }

    #[test]
    fn passwords_are_hidden_in_the_userinfo_and_in_the_query() {
        assert_eq!(
            redact("postgres://u:pw@h:1/db?password=x&pool_size=2"),
            "postgres://u:***@h:1/db?password=***&pool_size=2"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
    }
}
