//! `hookline events list`: the stored events, oldest first (CONTRACTS.md section 4).

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use hookline_server::api::event_json;
use hookline_store::{EventQuery, StoredEvent};

use crate::store::{Fetch, StoreArgs, list, rfc3339};

/// Read the events hookline has stored.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    List(ListArgs),
}

/// List stored events, oldest first. Each distinct event is stored once, however often it was delivered.
///
/// With --json, one object per line with the keys of `hookline parse` (object, entry_id, channel, kind,
/// field, sender, sender_user_ref, recipient, timestamp_ms, mid, dedup_key) plus id, received_at,
/// delivery_id, duplicates and conversation_key.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    store: StoreArgs,

    /// Only events of this kind (message, reaction, read, ...).
    #[arg(long)]
    kind: Option<String>,

    /// Only events of this conversation (its key, as shown by --json).
    #[arg(long)]
    conversation: Option<String>,

    /// Only events with an id above this one (to continue a listing).
    #[arg(long)]
    after: Option<i64>,

    /// At most this many events.
    #[arg(long)]
    limit: Option<usize>,

    /// One JSON object per line.
    #[arg(long)]
    json: bool,

    /// Add each event's raw JSON (with --json).
    #[arg(long)]
    raw: bool,
}

/// Events read per query.
const PAGE: usize = 1000;

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let Command::List(args) = command;
    let fetch: &Fetch<'_, StoredEvent> = &|store, after_id, limit| {
        store.list_events(EventQuery {
            kind: args.kind.clone(),
            conversation_key: args.conversation.clone(),
            after_id,
            limit,
            with_raw: args.raw && args.json,
            ..EventQuery::default()
        })
    };
    list(
        &args.store,
        args.after,
        args.limit,
        PAGE,
        fetch,
        |event| event.id,
        |out, event| write_event(out, event, args.json),
    )?;
    Ok(ExitCode::SUCCESS)
}

fn write_event(out: &mut dyn Write, event: &StoredEvent, as_json: bool) -> anyhow::Result<()> {
    if as_json {
        serde_json::to_writer(&mut *out, &event_json(event)).context("while writing events")?;
        writeln!(out).context("while writing events")?;
        return Ok(());
    }
    let who = event
        .sender
        .as_deref()
        .or(event.user_ref.as_deref())
        .unwrap_or("-");
    writeln!(
        out,
        "{:>8}  {}  {:<9}  {:<22}  {} -> {}  {}",
        event.id,
        rfc3339(event.received_at_ms),
        event.object.as_deref().unwrap_or("-"),
        event.kind,
        who,
        event.recipient.as_deref().unwrap_or("-"),
        event
            .mid
            .as_deref()
            .or(event.field.as_deref())
            .unwrap_or(""),
    )
    .context("while writing events")
}
