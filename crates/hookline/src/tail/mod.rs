//! `hookline tail`: print events as they are stored, one line each, until Ctrl-C, SIGTERM or a closed
//! pipe.
//!
//! Events are read from the store itself (`--database`) or from a running hookline's admin API (`--url`);
//! either way by polling for ids above the last one printed, which the store hands out in commit order.
//!
//! - `source`: the two places events are read from.
//! - `line`: the readable line of an event and its colours.

mod line;
mod source;

use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use crate::signal;
use crate::store::{StoreArgs, runtime};
use source::{Filter, Source};

/// Follow new events as they are stored: one readable line each (coloured on a terminal), or --json.
///
/// Starts at the newest stored event and prints those that come after it, unless --from-start or
/// --after ID; --once prints what is stored and exits. Reads the store directly (--database), or a
/// running server's admin API (--url with --admin-token).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Store URL, as given to `hookline serve` [env: HOOKLINE_DATABASE] [default: sqlite://hookline.db].
    // The variable is read by hand: set in the environment, it must not conflict with --url.
    #[arg(long)]
    database: Option<String>,

    /// A running hookline to read through its admin API instead, e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL", conflicts_with = "database")]
    url: Option<String>,

    /// The server's admin token (with --url).
    #[arg(long, env = "HOOKLINE_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,

    /// Only events of this kind (message, reaction, read, ...).
    #[arg(long)]
    kind: Option<String>,

    /// Only events of this conversation (its key, e.g. page:PAGE_ID:PSID).
    #[arg(long)]
    conversation: Option<String>,

    /// Start with the oldest stored event instead of the newest.
    #[arg(long, conflicts_with = "after")]
    from_start: bool,

    /// Start after the event with this id.
    #[arg(long, value_name = "ID")]
    after: Option<i64>,

    /// Print the events stored now (all of them, or those after --after) and exit.
    #[arg(long)]
    once: bool,

    /// One JSON object per line, as `hookline events list --json` prints.
    #[arg(long)]
    json: bool,

    /// Add each event's raw JSON (with --json).
    #[arg(long, requires = "json")]
    raw: bool,

    /// How often to look for new events.
    #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
    interval: Duration,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let filter = Filter {
        kind: args.kind.clone(),
        conversation: args.conversation.clone(),
        // The readable line shows a message's text, which only the raw JSON has.
        with_raw: args.raw || !args.json,
    };
    runtime()?.block_on(async {
        let source = match &args.url {
            Some(url) => Source::api(url, args.admin_token.as_deref(), filter)?,
            None => {
                let database = args
                    .database
                    .clone()
                    .or_else(|| std::env::var("HOOKLINE_DATABASE").ok())
                    .unwrap_or_else(|| "sqlite://hookline.db".to_owned());
                Source::store(&StoreArgs { database }, filter)?
            }
        };
        let followed = follow(&source, &args).await;
        source.close().await;
        match followed {
            Err(err) if is_broken_pipe(&err) => Ok(ExitCode::SUCCESS),
            other => other.map(|()| ExitCode::SUCCESS),
        }
    })
}

/// Prints pages of events after the last one printed, until stopped (or once, with `--once`).
async fn follow(source: &Source, args: &Args) -> anyhow::Result<()> {
    let mut out = Output::new(args.json);
    let mut after = match args.after {
        Some(id) => Some(id),
        None if args.from_start || args.once => None,
        None => source.newest_id().await?,
    };
    let stop = signal::stop_requested();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            printed = print_available(source, after, &mut out, !args.once) => after = printed?,
        }
        if args.once {
            return Ok(());
        }
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(args.interval) => {}
        }
    }
}

/// Prints every event after `after` that is there now; returns the id of the last one printed.
async fn print_available(
    source: &Source,
    mut after: Option<i64>,
    out: &mut Output,
    keep_going: bool,
) -> anyhow::Result<Option<i64>> {
    loop {
        let Some(events) = source.events_after(after, keep_going).await? else {
            return Ok(after);
        };
        for event in &events {
            out.event(event)?;
            after = event["id"].as_i64().or(after);
        }
        out.flush()?;
        if events.len() < source::PAGE {
            return Ok(after);
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Standard output, as JSON lines or readable lines.
struct Output {
    stdout: io::Stdout,
    json: bool,
    colour: bool,
}

impl Output {
    fn new(json: bool) -> Output {
        let stdout = io::stdout();
        // https://no-color.org: set and not empty means no colour.
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let colour = !json && !no_color && stdout.is_terminal();
        Output {
            stdout,
            json,
            colour,
        }
    }

    fn event(&mut self, event: &Value) -> anyhow::Result<()> {
        let mut lock = self.stdout.lock();
        if self.json {
            // Into an io::Error, so that a closed pipe is still recognised as one.
            serde_json::to_writer(&mut lock, event).map_err(io::Error::from)?;
            writeln!(lock)?;
        } else {
            writeln!(lock, "{}", line::render(event, self.colour))?;
        }
        Ok(())
    }

    fn flush(&mut self) -> anyhow::Result<()> {
        self.stdout
            .flush()
            .context("while writing to standard output")
    }
}
