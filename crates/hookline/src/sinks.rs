//! `hookline sinks status`: where each sink's cursor stands in the event log and what it still owes.

use std::io::{BufWriter, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use hookline_store::outbox::SinkStatus;
use serde_json::json;

use crate::store::{StoreArgs, open_existing, rfc3339, runtime};

/// See how the configured sinks are doing.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Status(StatusArgs),
}

/// One line per sink that has run against the store: its cursor (the last event it dealt with), the
/// last stored event, the lag between them, the events waiting for another attempt, the dead letters,
/// when the next attempt is due, when the sink last saved its progress, and the instance whose worker
/// holds the sink's lease (`-` when none does: not running, stopped, or its lease ran out).
///
/// With --json, one object per line with the keys sink, cursor, head, lag, pending, dead,
/// next_attempt_at (RFC 3339, null when nothing is pending), updated_at, owner (the instance that holds
/// or last held the lease, null when released) and lease_until (RFC 3339, null when released).
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    store: StoreArgs,

    /// One JSON object per line.
    #[arg(long)]
    json: bool,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::Status(args) = command;
    let store = open_existing(&args.store)?;
    let statuses = runtime()?.block_on(async {
        let statuses = store.sink_statuses().await;
        store.close().await;
        statuses
    });
    let statuses = statuses.context("while reading the sinks' progress from the store")?;
    if statuses.is_empty() {
        eprintln!(
            "no sink has run against this store yet: add a [[sink]] section to the config file and \
             start `hookline serve` with it"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.json {
        write_json(&mut out, &statuses)?;
    } else {
        write_table(&mut out, &statuses, now_ms())?;
    }
    out.flush().context("while writing to standard output")?;
    Ok(ExitCode::SUCCESS)
}

fn write_json(out: &mut dyn Write, statuses: &[SinkStatus]) -> anyhow::Result<()> {
    for status in statuses {
        let line = json!({
            "sink": status.sink,
            "cursor": status.cursor,
            "head": status.head,
            "lag": status.lag(),
            "pending": status.pending,
            "dead": status.dead,
            "next_attempt_at": status.next_attempt_at_ms.map(rfc3339),
            "updated_at": rfc3339(status.updated_at_ms),
            "owner": status.owner,
            "lease_until": status.lease_until_ms.map(rfc3339),
        });
        serde_json::to_writer(&mut *out, &line).context("while writing the sinks' status")?;
        writeln!(out).context("while writing the sinks' status")?;
    }
    Ok(())
}

/// A header and a line per sink. A pending attempt that is already due shows as "now": a retried dead
/// letter is due at time 0, which would read as 1970. The owner comes last: it is long and has no
/// fixed width.
fn write_table(out: &mut dyn Write, statuses: &[SinkStatus], now_ms: i64) -> anyhow::Result<()> {
    let width = statuses
        .iter()
        .map(|s| s.sink.len())
        .max()
        .unwrap_or(0)
        .max("SINK".len());
    writeln!(
        out,
        "{:<width$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:<24}  {:<24}  OWNER",
        "SINK", "CURSOR", "HEAD", "LAG", "PENDING", "DEAD", "NEXT ATTEMPT", "UPDATED"
    )
    .context("while writing the sinks' status")?;
    for status in statuses {
        let next = match status.next_attempt_at_ms {
            None => "-".to_owned(),
            Some(at) if at <= now_ms => "now".to_owned(),
            Some(at) => rfc3339(at),
        };
        let owner = match (&status.owner, status.lease_until_ms) {
            (Some(owner), Some(until)) if until > now_ms => owner.as_str(),
            _ => "-",
        };
        writeln!(
            out,
            "{:<width$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:<24}  {:<24}  {}",
            status.sink,
            status.cursor,
            status.head,
            status.lag(),
            status.pending,
            status.dead,
            next,
            rfc3339(status.updated_at_ms),
            owner,
        )
        .context("while writing the sinks' status")?;
    }
    Ok(())
}

/// The current time in epoch ms, as the outbox records it (shared with `replay --to-sink`).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
