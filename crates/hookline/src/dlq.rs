//! `hookline dlq list|retry|drop`: the dead letters, events a sink gave up on (its retry schedule was
//! used up, or it refused them for good).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use hookline_store::outbox::{Attempt, AttemptQuery, AttemptState, DeadSelection};
use serde_json::json;

use crate::store::{Fetch, StoreArgs, list, open_existing, rfc3339, runtime};

/// Look at, retry or drop the events sinks gave up on.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    List(ListArgs),
    /// Make dead letters pending again, due at once with a fresh retry schedule.
    ///
    /// A running `hookline serve` looks for due attempts every second, so it delivers them without a
    /// restart. Give attempt ids (from `hookline dlq list`) or --all. Exits 1 when some of the given
    /// ids are not dead letters (of --sink, when given).
    Retry(ActArgs),
    /// Delete dead letters for good.
    ///
    /// Give attempt ids (from `hookline dlq list`) or --all. Exits 1 when some of the given ids are not
    /// dead letters (of --sink, when given).
    Drop(ActArgs),
}

/// List dead letters, oldest first: attempt id, sink, event id, attempts made, when it was last tried,
/// and the last error.
///
/// With --json, one object per line with the keys id, sink, event_id, conversation_key, attempts,
/// last_error, created_at and updated_at.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    store: StoreArgs,

    /// Only the dead letters of this sink.
    #[arg(long, value_name = "NAME")]
    sink: Option<String>,

    /// Only dead letters with an attempt id above this one (to continue a listing).
    #[arg(long, value_name = "ID")]
    after: Option<i64>,

    /// At most this many dead letters.
    #[arg(long)]
    limit: Option<usize>,

    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

/// Which dead letters `retry` and `drop` act on: the listed attempt ids, or all of them.
#[derive(Debug, clap::Args)]
pub struct ActArgs {
    #[command(flatten)]
    store: StoreArgs,

    /// Only the dead letters of this sink.
    #[arg(long, value_name = "NAME")]
    sink: Option<String>,

    /// Attempt ids, as `hookline dlq list` shows them.
    #[arg(value_name = "IDS", conflicts_with = "all")]
    ids: Vec<i64>,

    /// Every dead letter (of --sink, when given) instead of listed ids.
    #[arg(long)]
    all: bool,
}

/// Dead letters read per query.
const PAGE: usize = 1000;

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::List(args) => list_dead(&args),
        Command::Retry(args) => act(&args, Action::Retry),
        Command::Drop(args) => act(&args, Action::Drop),
    }
}

fn list_dead(args: &ListArgs) -> anyhow::Result<ExitCode> {
    let fetch: &Fetch<'_, Attempt> = &|store, after_id, limit| {
        store.list_attempts(AttemptQuery {
            sink: args.sink.clone(),
            state: Some(AttemptState::Dead),
            after_id,
            limit,
        })
    };
    list(
        &args.store,
        args.after,
        args.limit,
        PAGE,
        fetch,
        |attempt| attempt.id,
        |out, attempt| write_attempt(out, attempt, args.json),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn write_attempt(out: &mut dyn Write, attempt: &Attempt, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let line = json!({
            "id": attempt.id,
            "sink": attempt.sink,
            "event_id": attempt.event_id,
            "conversation_key": attempt.conversation_key,
            "attempts": attempt.attempts,
            "last_error": attempt.last_error,
            "created_at": rfc3339(attempt.created_at_ms),
            "updated_at": rfc3339(attempt.updated_at_ms),
        });
        serde_json::to_writer(&mut *out, &line).context("while writing dead letters")?;
        writeln!(out).context("while writing dead letters")?;
        return Ok(());
    }
    // The error is free text, so it goes last and on the same line.
    let error = attempt
        .last_error
        .as_deref()
        .unwrap_or("-")
        .replace(['\n', '\r'], " ");
    writeln!(
        out,
        "{:>8}  {:<16}  event {:<8}  {:>2} attempts  {}  {}",
        attempt.id,
        attempt.sink,
        attempt.event_id,
        attempt.attempts,
        rfc3339(attempt.updated_at_ms),
        error,
    )
    .context("while writing dead letters")
}

#[derive(Clone, Copy, Debug)]
enum Action {
    Retry,
    Drop,
}

impl Action {
    fn done(self) -> &'static str {
        match self {
            Action::Retry => "requeued",
            Action::Drop => "dropped",
        }
    }
}

fn act(args: &ActArgs, action: Action) -> anyhow::Result<ExitCode> {
    // Acting on every dead letter must be asked for, never the result of a forgotten argument.
    if args.ids.is_empty() && !args.all {
        anyhow::bail!(
            "no dead letters chosen: pass attempt ids (from `hookline dlq list`), or --all for every \
             dead letter (of --sink NAME, when given)"
        );
    }
    let ids: BTreeSet<i64> = args.ids.iter().copied().collect();
    let selection = DeadSelection {
        sink: args.sink.clone(),
        ids: ids.iter().copied().collect(),
    };
    let store = open_existing(&args.store)?;
    let done = runtime()?.block_on(async {
        let done = match action {
            Action::Retry => store.retry_dead(selection).await,
            Action::Drop => store.drop_dead(selection).await,
        };
        store.close().await;
        done
    });
    let count =
        done.with_context(|| format!("while changing dead letters in {}", args.store.database))?;
    println!("{} {count} dead letters", action.done());
    let missed = (ids.len() as u64).saturating_sub(count);
    if missed > 0 {
        let of_sink = args
            .sink
            .as_deref()
            .map_or_else(String::new, |sink| format!(" of sink {sink:?}"));
        eprintln!(
            "hookline: {missed} of the {} given ids are not dead letters{of_sink}; \
             `hookline dlq list` shows the ones there are",
            ids.len()
        );
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
