//! `hookline parse [FILE ...]`: print the events of webhook bodies as JSON Lines (CONTRACTS.md section 1).

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hookline_meta::{ParseOptions, parse_with};

use crate::input;

/// Print the events of webhook POST bodies as JSON Lines, one object per event, in body order.
///
/// Each FILE is one body; none or `-` reads standard input. Every line has the keys object, entry_id,
/// channel, kind, field, sender, sender_user_ref, recipient, timestamp_ms, mid and dedup_key, followed by
/// timestamp_raw and detail (the typed payload). A file that is not valid JSON is reported on standard
/// error with its line and column, and the command exits 1 after printing the events of the other files.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files holding one webhook body each; `-` or none for standard input.
    files: Vec<PathBuf>,

    /// App ids this deployment sends with, so their echoes are classified `this_app` (comma-separated).
    #[arg(long = "app-id", env = "HOOKLINE_APP_ID", value_delimiter = ',')]
    app_ids: Vec<String>,

    /// Add each event's raw JSON under `raw`.
    #[arg(long)]
    raw: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let files = if args.files.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.files
    };
    let options = ParseOptions {
        own_app_ids: args.app_ids.iter().map(|id| id.trim().to_owned()).collect(),
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut failed = false;
    for path in &files {
        let body = input::read_bytes(path)?;
        match parse_with(&body, &options) {
            Ok(events) => {
                for event in &events {
                    let record = if args.raw {
                        event.record_with_raw()
                    } else {
                        event.record()
                    };
                    serde_json::to_writer(&mut out, &record).context("while writing an event")?;
                    out.write_all(b"\n").context("while writing an event")?;
                }
            }
            Err(err) => {
                out.flush().context("while writing events")?;
                eprintln!("hookline parse: {}: {err}", input::name(path));
                failed = true;
            }
        }
    }
    out.flush().context("while writing events")?;
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
