//! The stores the tests run against: a SQLite file in a temporary directory, or a fresh schema of the
//! PostgreSQL database named by `HOOKLINE_TEST_POSTGRES_URL` (e.g.
//! `postgres://postgres@127.0.0.1:5432/test`). Without that variable the PostgreSQL tests print why and
//! pass, unless `HOOKLINE_REQUIRE_SERVICES=1`, which makes that a failure.
//!
//! Each test binary uses a part of this, so the rest is dead code there.
#![allow(dead_code)]

pub mod meta;

use std::sync::Arc;

use hookline_store::{EventStore, StoreError, StoreUrl, WriterOptions};

/// Where one test's store lives; a PostgreSQL schema is dropped when the fixture is.
#[derive(Debug)]
pub struct Fixture {
    url: String,
    _dir: Option<tempfile::TempDir>,
    /// The server's URL without the schema, and the schema, for clean-up.
    postgres: Option<(String, String)>,
}

impl Fixture {
    pub fn sqlite() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        Fixture {
            url,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A schema of its own in the test database, or `None` (after saying why) when there is none.
    pub fn postgres(test: &str) -> Option<Fixture> {
        Self::postgres_with(test, "")
    }

    /// Like [`Fixture::postgres`], with more URL options (`key=value&...`).
    pub fn postgres_with(test: &str, options: &str) -> Option<Fixture> {
        let server = postgres_url(test)?;
        let schema = format!("t_{:016x}", fastrand::u64(..));
        let mut url = format!("{server}{}schema={schema}", separator(&server));
        if !options.is_empty() {
            url.push('&');
            url.push_str(options);
        }
        Some(Fixture {
            url,
            _dir: None,
            postgres: Some((server, schema)),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn store_url(&self) -> StoreUrl {
        StoreUrl::parse(&self.url).unwrap()
    }

    /// The PostgreSQL schema, for a test that reaches into the database.
    pub fn schema(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(_, schema)| schema.as_str())
    }

    /// The PostgreSQL server's URL without the schema, for a test that reaches into the database.
    pub fn server(&self) -> Option<&str> {
        self.postgres.as_ref().map(|(server, _)| server.as_str())
    }

    pub async fn try_open(&self, writer: WriterOptions) -> Result<Arc<dyn EventStore>, StoreError> {
        hookline_store::open(&self.store_url(), writer).await
    }

    pub async fn open(&self, writer: WriterOptions) -> Arc<dyn EventStore> {
        self.try_open(writer).await.unwrap()
    }

    /// A store that keeps the conversation projection up to date.
    pub async fn open_projecting(&self) -> Arc<dyn EventStore> {
        self.open(WriterOptions {
            project: true,
            ..WriterOptions::default()
        })
        .await
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let Some((server, schema)) = self.postgres.take() else {
            return;
        };
        // On a thread of its own: a fixture is dropped inside the test's runtime, which must not block.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let client = connect(&server).await;
                let sql =
                    format!("SET lock_timeout = '5s'; DROP SCHEMA IF EXISTS {schema} CASCADE");
                if let Err(err) = client.batch_execute(&sql).await {
                    eprintln!("could not drop test schema {schema}: {err}");
                }
            });
        });
        let _ = dropped.join();
    }
}

/// `HOOKLINE_TEST_POSTGRES_URL`, or `None` (after saying why) when it is not set.
pub fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("HOOKLINE_TEST_POSTGRES_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_owned()),
        _ if std::env::var("HOOKLINE_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
            "HOOKLINE_REQUIRE_SERVICES=1 but HOOKLINE_TEST_POSTGRES_URL is not set: start PostgreSQL and \
             set HOOKLINE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test"
        ),
        _ => {
            eprintln!(
                "skipping {test}: set HOOKLINE_TEST_POSTGRES_URL (e.g. postgres://postgres@127.0.0.1:5432/test) to run it"
            );
            None
        }
    }
}

/// A plain connection to the test database, for what the tests do behind the store's back.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

fn separator(url: &str) -> char {
    if url.contains('?') { '&' } else { '?' }
}

/// One test module per backend, each with a `#[tokio::test]` per listed case (an `async fn(&Fixture)`);
/// the invoking file has `Fixture` in scope.
macro_rules! on_every_backend {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    super::$case(&super::Fixture::sqlite()).await;
                }
            )*
        }

        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    if let Some(fx) = super::Fixture::postgres(stringify!($case)) {
                        super::$case(&fx).await;
                    }
                }
            )*
        }
    };
}
