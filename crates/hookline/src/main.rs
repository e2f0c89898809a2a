//! `hookline`: one binary, a file per subcommand. Each subcommand parses its arguments and calls library code.

mod input;
mod parse;
mod sign;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// A gateway for Meta Messenger Platform and Instagram Messaging webhooks.
#[derive(Debug, Parser)]
#[command(name = "hookline", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Parse(parse::Args),
    Sign(sign::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Parse(args) => parse::run(args),
        Command::Sign(args) => sign::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("hookline: {err:#}");
            ExitCode::FAILURE
        }
    }
}
