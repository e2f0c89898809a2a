//! Log output of long-running subcommands: human-readable lines or JSON, filtered by `HOOKLINE_LOG`
//! (`RUST_LOG` syntax, default `info`).

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(long, env = "HOOKLINE_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: Format,
}

pub fn init(args: &LogArgs) -> anyhow::Result<()> {
    init_with_default(args, "info")
}

/// [`init`] with another filter when `HOOKLINE_LOG` is unset.
pub fn init_with_default(args: &LogArgs, default_filter: &str) -> anyhow::Result<()> {
    let filter =
        EnvFilter::try_from_env("HOOKLINE_LOG").unwrap_or_else(|_| EnvFilter::new(default_filter));
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    let result = match args.log_format {
        Format::Text => builder.try_init(),
        Format::Json => builder.json().try_init(),
    };
    result.map_err(|err| anyhow::anyhow!("cannot set up logging: {err}"))
}
