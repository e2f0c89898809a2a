//! `hookline deliveries list`: every recorded POST, including redeliveries and quarantined bodies.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use hookline_store::{DeliveryQuery, Outcome, StoredDelivery};
use serde_json::json;

use crate::store::{Fetch, StoreArgs, list, rfc3339};

/// Read the deliveries hookline has recorded.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    List(ListArgs),
}

/// List recorded deliveries (raw POSTs), oldest first: accepted ones, redeliveries (no new event) and
/// quarantined bodies (correctly signed but not JSON).
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    store: StoreArgs,

    /// Only deliveries with this outcome.
    #[arg(long, value_parser = ["accepted", "quarantined"])]
    outcome: Option<String>,

    /// Only deliveries with an id above this one.
    #[arg(long)]
    after: Option<i64>,

    /// At most this many deliveries.
    #[arg(long)]
    limit: Option<usize>,

    /// One JSON object per line.
    #[arg(long)]
    json: bool,

    /// Add the raw body (with --json): as text under `body`, or under `body_hex` if it is not UTF-8.
    #[arg(long)]
    body: bool,
}

/// Deliveries read per query (bodies can be large).
const PAGE: usize = 500;

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::List(args) = command;
    let fetch: &Fetch<'_, StoredDelivery> = &|store, after_id, limit| {
        store.list_deliveries(DeliveryQuery {
            outcome: args.outcome.as_deref().and_then(Outcome::from_name),
            after_id,
            limit,
            with_body: args.body && args.json,
            ..DeliveryQuery::default()
        })
    };
    list(
        &args.store,
        args.after,
        args.limit,
        PAGE,
        fetch,
        |delivery| delivery.id,
        |out, delivery| write_delivery(out, delivery, args.json),
    )?;
    Ok(ExitCode::SUCCESS)
}

/// A redelivery: it carried events, all of them already stored.
fn is_duplicate(d: &StoredDelivery) -> bool {
    d.event_count > 0 && d.new_event_count == 0
}

fn write_delivery(out: &mut dyn Write, d: &StoredDelivery, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        let mut line = json!({
            "id": d.id,
            "received_at": rfc3339(d.received_at_ms),
            "outcome": d.outcome.as_str(),
            "duplicate": is_duplicate(d),
            "error": d.error,
            "event_count": d.event_count,
            "new_event_count": d.new_event_count,
            "body_len": d.body_len,
            "app": d.app,
            "secret_index": d.secret_index,
            "signature": d.signature,
            "api_version": d.api_version,
            "user_agent": d.user_agent,
        });
        if let Some(body) = &d.body {
            match std::str::from_utf8(body) {
                Ok(text) => line["body"] = text.into(),
                Err(_) => line["body_hex"] = hex::encode(body).into(),
            }
        }
        serde_json::to_writer(&mut *out, &line).context("while writing deliveries")?;
        writeln!(out).context("while writing deliveries")?;
        return Ok(());
    }
    let note = match (d.outcome, is_duplicate(d)) {
        (Outcome::Quarantined, _) => format!("quarantined: {}", d.error.as_deref().unwrap_or("")),
        (_, true) => "redelivery".to_owned(),
        _ => String::new(),
    };
    writeln!(
        out,
        "{:>8}  {}  {:<11}  {:>4} events ({} new)  {:>8} bytes  {}",
        d.id,
        rfc3339(d.received_at_ms),
        d.outcome.as_str(),
        d.event_count,
        d.new_event_count,
        d.body_len,
        note
    )
    .context("while writing deliveries")
}
