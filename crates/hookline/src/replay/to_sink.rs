//! `hookline replay --to-sink NAME`: stored events queued again in one sink's outbox, for the sink's
//! worker in `hookline serve` to deliver (a consumer that lost data, a sink added after the fact).
//!
//! Only events up to the sink's cursor are queued: those after it have not been looked at yet and the
//! worker delivers them anyway, so queuing them as well would send them twice. An event that already
//! has a pending row or a dead letter for the sink has it replaced, due at once with a fresh schedule.

use std::process::ExitCode;

use anyhow::Context;
use hookline_server::{Config, Overrides};
use hookline_store::outbox::{AttemptState, NewAttempt, OutboxWrite};
use hookline_store::{EventQuery, EventStore, StoredEvent};

use super::Args;
use crate::sinks::now_ms;
use crate::store::{StoreArgs, open_existing, runtime};

/// Events read per query.
const PAGE: usize = 1000;

/// What a replay queued and what the sink's filter left out.
#[derive(Debug, Default)]
struct Queued {
    queued: u64,
    not_matched: u64,
}

pub fn run(args: &Args) -> anyhow::Result<ExitCode> {
    let name = args
        .to_sink
        .as_deref()
        .context("give --to URL or --to-sink NAME")?;
    let config = load_config(args)?;
    let Some(sink) = config.sinks.iter().find(|s| s.name == name) else {
        anyhow::bail!("{}", unknown_sink(name, &config));
    };
    // The same filter and starting point the server's worker is built with.
    let filter = sink.filter();
    let start = sink.start_at()?;
    let store = open_existing(&StoreArgs {
        database: config.database.clone(),
    })?;
    let queued = runtime()?.block_on(async {
        let queued = async {
            let cursor = store
                .open_sink(name.to_owned(), start)
                .await
                .with_context(|| format!("while reading the cursor of sink {name:?}"))?;
            queue(store.as_ref(), args, name, cursor, |e| filter.matches(e)).await
        }
        .await;
        store.close().await;
        queued
    })?;
    println!(
        "queued {} events for sink {name} ({} stored events did not match its filter)",
        queued.queued, queued.not_matched
    );
    Ok(ExitCode::SUCCESS)
}

/// The config as `hookline serve` loads it: defaults, the file, then --database / HOOKLINE_DATABASE.
/// The app secret serve would take from HOOKLINE_APP_SECRET is read too, so a config that lets serve
/// start is accepted here (it is checked, though not used).
fn load_config(args: &Args) -> anyhow::Result<Config> {
    let file = args
        .config
        .as_deref()
        .context("--to-sink needs --config FILE, the config file `hookline serve` runs with")?;
    let overrides = Overrides {
        database: args.database.clone(),
        app_secret: std::env::var("HOOKLINE_APP_SECRET").ok(),
        ..Overrides::default()
    };
    Config::load(Some(file), overrides)
        .with_context(|| format!("while loading the config file {}", file.display()))
}

/// Why `name` is not a sink of `config`, naming those it has.
fn unknown_sink(name: &str, config: &Config) -> String {
    if config.sinks.is_empty() {
        return format!(
            "--to-sink {name}: the config file has no [[sink]] sections; add one named {name:?}"
        );
    }
    let names: Vec<&str> = config.sinks.iter().map(|s| s.name.as_str()).collect();
    format!(
        "--to-sink {name}: the config file has no [[sink]] named {name:?}; its sinks are: {}",
        names.join(", ")
    )
}

/// Pages through the chosen events up to `cursor`, writing those `accepts` takes to the outbox one
/// page per transaction.
async fn queue(
    store: &dyn EventStore,
    args: &Args,
    sink: &str,
    cursor: i64,
    accepts: impl Fn(&StoredEvent) -> bool,
) -> anyhow::Result<Queued> {
    let mut result = Queued::default();
    let mut after = None;
    loop {
        let page = store
            .list_events(query(args, after, cursor))
            .await
            .context("while reading stored events")?;
        after = page.last().map(|e| e.id);
        let end = page.len() < PAGE;
        let mut rows = Vec::new();
        for event in &page {
            if !args.kind.is_empty() && !args.kind.contains(&event.kind) {
                continue;
            }
            if accepts(event) {
                rows.push(attempt(event));
            } else {
                result.not_matched += 1;
            }
        }
        if !rows.is_empty() {
            let count = rows.len() as u64;
            store
                .save_sink_progress(OutboxWrite {
                    sink: sink.to_owned(),
                    cursor: None,
                    new: rows,
                    changes: vec![],
                    now_ms: now_ms(),
                    owner: None,
                })
                .await
                .with_context(|| {
                    format!(
                        "while queuing events for sink {sink:?} ({} were queued before this page)",
                        result.queued
                    )
                })?;
            result.queued += count;
        }
        if end {
            return Ok(result);
        }
    }
}

/// The events after `after` up to the cursor, in the --since/--until window; one kind is left to the
/// store, several are checked by [`queue`].
fn query(args: &Args, after: Option<i64>, cursor: i64) -> EventQuery {
    EventQuery {
        kind: match args.kind.as_slice() {
            [one] => Some(one.clone()),
            _ => None,
        },
        after_id: after,
        before_id: Some(cursor.saturating_add(1)),
        from_ms: args.since,
        until_ms: args.until,
        limit: PAGE,
        ..EventQuery::default()
    }
}

/// A row that has not been tried yet, due at once (0 is before any time the worker's clock can read).
fn attempt(event: &StoredEvent) -> NewAttempt {
    NewAttempt {
        event_id: event.id,
        conversation_key: event.conversation_key.clone(),
        timestamp_ms: event.timestamp_ms,
        attempts: 0,
        state: AttemptState::Pending,
        next_attempt_at_ms: Some(0),
        last_error: None,
    }
}
