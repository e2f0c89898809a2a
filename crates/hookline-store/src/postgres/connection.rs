//! Connections to PostgreSQL and what their errors mean.
//!
//! The writer and the projection each own one dedicated connection (the writer's statements and the
//! projection's session lock must not be shared); reads and outbox writes take one from a small pool.
//! Every connection gets the store's `search_path` (and `plan_cache_mode`, see [`session_config`]) in its
//! startup packet, so a `schema=` option applies from the first statement without an extra round trip.
//!
//! Failures that a later attempt may not have (the server is down, unreachable, shutting down, out of
//! connections or disk, a standby) are [`StoreError::Unavailable`], which the server answers with 503
//! so Meta retries; anything else is [`StoreError::Query`].

use std::error::Error as _;
use std::time::Duration;

use deadpool_postgres::{
    ClientWrapper, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime,
};
use tokio_postgres::{Config, NoTls};

use crate::error::StoreError;
use crate::url::PostgresUrl;

/// How long a read waits for a pooled connection (or for a new one to be made) before giving up.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// A dedicated connection, with a cache of prepared statements. Dropping it closes the connection.
pub(crate) type Session = ClientWrapper;

/// The connection settings every connection of the store uses.
pub(crate) fn session_config(url: &PostgresUrl) -> Config {
    let mut config = url.config.clone();
    // Prepared statements are planned for their arguments every time. A generic plan is made once,
    // from the statistics of that moment: planned while `events` was nearly empty, the writer's dedup
    // lookup (`dedup_key = ANY($1)`) kept a sequential scan and took 7 ms per group at 20,000 events
    // instead of a few index probes. Planning these short statements costs microseconds.
    let mut options = String::from("-c plan_cache_mode=force_custom_plan");
    if let Some(schema) = &url.schema {
        // The schema was checked to be a plain identifier, so it needs no quoting here.
        options.push_str(&format!(" -c search_path={schema}"));
    }
    if let Some(given) = config.get_options() {
        options = format!("{given} {options}");
    }
    config.options(&options);
    if config.get_application_name().is_none() {
        // So a DBA looking at pg_stat_activity sees whose connections these are.
        config.application_name("hookline");
    }
    config
}

/// Opens a dedicated connection; its I/O runs in a task of the current runtime.
pub(crate) async fn connect(config: &Config) -> Result<Session, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    let task = tokio::spawn(async move {
        if let Err(err) = connection.await {
            tracing::debug!(error = %describe(&err), "postgres connection ended");
        }
    });
    Ok(ClientWrapper::new(client, task))
}

/// The pool for reads and outbox writes; it connects lazily.
pub(crate) fn pool(config: Config, size: usize) -> Result<Pool, String> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // A closed connection is noticed by the client itself; no test query per checkout.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(POOL_TIMEOUT))
        .create_timeout(Some(POOL_TIMEOUT))
        .recycle_timeout(Some(POOL_TIMEOUT))
        .build()
        .map_err(|err| err.to_string())
}

/// A failed query or connection as a store error.
pub(crate) fn store_error(err: &tokio_postgres::Error) -> StoreError {
    let message = describe(err);
    if is_unavailable(err) {
        StoreError::Unavailable { message }
    } else {
        StoreError::Query { message }
    }
}

/// A failure to get a pooled connection as a store error.
pub(crate) fn pool_error(err: PoolError) -> StoreError {
    match err {
        PoolError::Backend(err) => store_error(&err),
        PoolError::Timeout(_) => StoreError::Unavailable {
            message: format!(
                "no PostgreSQL connection became free or could be made within {} s; the server may be \
                 down, unreachable or overloaded (or raise the URL's pool_size)",
                POOL_TIMEOUT.as_secs()
            ),
        },
        PoolError::Closed => StoreError::Closed,
        other => StoreError::Unavailable {
            message: other.to_string(),
        },
    }
}

/// Whether the error is about the connection (lost, refused, timed out, or ended by the server: class
/// 08, and 57P01-57P03 for a terminated backend or a server shutting down or starting) rather than a
/// statement: the session is gone, and with it any transaction it had open.
pub(crate) fn connection_lost(err: &tokio_postgres::Error) -> bool {
    if let Some(code) = err.code() {
        let code = code.code();
        return code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03");
    }
    err.is_closed() || io_error(err).is_some()
}

/// Whether trying again later may succeed: the connection, or the server's state, not the statement.
pub(crate) fn is_unavailable(err: &tokio_postgres::Error) -> bool {
    if let Some(code) = err.code() {
        let code = code.code();
        // 08 connection exception, 40 serialization failure or deadlock, 53 insufficient resources
        // (disk full, too many connections), 57 operator intervention (shutdown, cancelled),
        // 58 system error (I/O); 55P03 lock not available; 25006 a read-only server (a standby).
        return ["08", "40", "53", "57", "58"]
            .iter()
            .any(|class| code.starts_with(class))
            || code == "55P03"
            || code == "25006";
    }
    connection_lost(err)
}

/// Whether the error comes from the data one delivery holds (a value the database refuses), not from
/// the store: SQLSTATE classes 22 (data exception) and 23 (integrity constraint).
pub(crate) fn is_data_error(err: &tokio_postgres::Error) -> bool {
    err.code()
        .is_some_and(|code| code.code().starts_with("22") || code.code().starts_with("23"))
}

/// The error with its cause and, where one is known, what to do about it. tokio-postgres' own
/// `Display` says only "db error" or "error connecting to server".
pub(crate) fn describe(err: &tokio_postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        let mut text = format!("{} ({}): {}", db.severity(), db.code().code(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!("; {detail}"));
        }
        let hint = match db.code().code() {
            "53100" => " (the database server's disk is full)",
            "53300" => {
                " (the server has no connection slots left; lower pool_size or raise max_connections)"
            }
            "25006" => " (the server is read-only: a standby, or a primary in recovery)",
            "57P01" | "57P02" | "57P03" => {
                " (the server is shutting down, starting up, or ended this connection)"
            }
            "42501" => {
                " (the user lacks a privilege: grant it, or give the URL a schema= the user may create)"
            }
            _ => "",
        };
        text.push_str(hint);
        return text;
    }
    let mut text = err.to_string();
    if let Some(cause) = err.source() {
        text.push_str(&format!(": {cause}"));
    }
    if connection_lost(err) {
        text.push_str(
            " (the connection to PostgreSQL was refused, lost or timed out; check that the server is up \
             and reachable at the URL's host and port)",
        );
    }
    text
}

fn io_error(err: &tokio_postgres::Error) -> Option<&std::io::Error> {
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = cause.source();
    }
    None
}
