//! `hookline`: one binary, a file per subcommand. Each subcommand parses its arguments and calls library code.

mod check;
mod deliveries;
mod demo;
mod dlq;
mod events;
mod input;
mod load;
mod logging;
mod meta;
mod migrate;
mod parse;
mod replay;
mod send;
mod serve;
mod sign;
mod signal;
mod sinks;
mod store;
mod tail;
mod time;
mod trigger;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

// The server allocates small buffers on the HTTP threads that the store's writer thread frees; glibc's
// allocator spent a fifth of the HTTP threads' time on that (BENCHMARKS.md, "What was measured").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A gateway for Meta Messenger Platform and Instagram Messaging webhooks.
#[derive(Debug, Parser)]
#[command(name = "hookline", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Serve(serve::Args),
    Migrate(migrate::Args),
    Check(check::Args),
    Demo(demo::Args),
    Trigger(trigger::Args),
    Load(load::Args),
    Replay(replay::Args),
    Tail(tail::Args),
    #[command(subcommand)]
    Events(events::Command),
    #[command(subcommand)]
    Deliveries(deliveries::Command),
    #[command(subcommand)]
    Sinks(sinks::Command),
    #[command(subcommand)]
    Dlq(dlq::Command),
    #[command(subcommand)]
    Meta(meta::Command),
    Send(send::Args),
    Parse(parse::Args),
    Sign(sign::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Migrate(args) => migrate::run(args),
        Command::Check(args) => check::run(args),
        Command::Parse(args) => parse::run(args),
        Command::Events(command) => events::run(command),
        Command::Deliveries(command) => deliveries::run(command),
        Command::Sinks(command) => sinks::run(command),
        Command::Dlq(command) => dlq::run(command),
        Command::Meta(command) => meta::run(command),
        Command::Send(args) => send::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Tail(args) => tail::run(args),
        Command::Trigger(args) => trigger::run(args),
        Command::Load(args) => load::run(args),
        Command::Demo(args) => demo::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hookline: {err:#}");
            ExitCode::FAILURE
        }
    }
}
