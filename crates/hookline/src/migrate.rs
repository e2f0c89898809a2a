//! `hookline migrate`: brings the store's schema up to this hookline's, as a step of its own (for
//! deployments that run `hookline serve --no-migrate`, or several instances on one database).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use hookline_store::StoreUrl;

use crate::store::{self, Schema, shown_url};

/// The store `hookline serve` uses when neither --database, HOOKLINE_DATABASE nor a config file says.
const DEFAULT_DATABASE: &str = "sqlite://hookline.db";

/// Apply the store's pending migrations and say what was done.
///
/// Prints `schema version 2 -> 3 (URL)` after migrating, or `schema version 3, up to date (URL)`. A store
/// written by a newer hookline is refused. A SQLite file that does not exist is created.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The config file `hookline serve` runs with; its `database` is used unless --database says.
    #[arg(long, env = "HOOKLINE_CONFIG")]
    config: Option<PathBuf>,

    /// Store URL: sqlite://PATH or postgres://USER@HOST:PORT/DB?schema=NAME [default: the config file's
    /// database, else sqlite://hookline.db].
    #[arg(long, env = "HOOKLINE_DATABASE")]
    database: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let database = match args.database {
        Some(database) => database,
        None => file_database(args.config.as_deref())?,
    };
    let url = StoreUrl::parse(&database)?;
    let created = matches!(&url, StoreUrl::Sqlite { path, .. } if !path.exists());
    let shown = shown_url(&database);
    let (before, after) = store::runtime()?
        .block_on(migrate(&url))
        .with_context(|| format!("while migrating {shown}"))?;
    if before == after {
        println!("schema version {after}, up to date ({shown})");
    } else if created {
        println!("schema version {before} -> {after} ({shown}, a new file)");
    } else {
        println!("schema version {before} -> {after} ({shown})");
    }
    Ok(ExitCode::SUCCESS)
}

/// The store's schema version before and after.
async fn migrate(url: &StoreUrl) -> anyhow::Result<(u32, u32)> {
    let before = match store::probe_schema(url).await? {
        Schema::UpToDate(version) => return Ok((version, version)),
        Schema::Behind(version) | Schema::Newer(version) => version,
    };
    // A newer store is refused here, with the store's own message.
    let opened = hookline_store::open(url, store::one_shot(true)).await?;
    let after = opened.schema_version().await;
    opened.close().await;
    Ok((before, after?))
}

/// The `database` of the config file, as `hookline serve` would read it, or the default. Only that key
/// is read: migrating needs no app secret or sinks.
fn file_database(config: Option<&Path>) -> anyhow::Result<String> {
    let Some(file) = config else {
        return Ok(DEFAULT_DATABASE.to_owned());
    };
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("cannot read the config file {}", file.display()))?;
    let table: toml::Table = toml::from_str(&text)
        .with_context(|| format!("the config file {} is not valid TOML", file.display()))?;
    match table.get("database") {
        None => Ok(DEFAULT_DATABASE.to_owned()),
        Some(toml::Value::String(database)) => Ok(database.clone()),
        Some(other) => anyhow::bail!(
            "database in {} is {other}, not a string like \"sqlite://hookline.db\"",
            file.display()
        ),
    }
}
