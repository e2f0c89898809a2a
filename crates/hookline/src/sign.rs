//! `hookline sign --secret S [FILE]`: the `X-Hub-Signature-256` value Meta would send (CONTRACTS.md section 2).

use std::path::PathBuf;
use std::process::ExitCode;

use hookline_meta::signature;

use crate::input;

/// Print `sha256=<hex HMAC-SHA256>` of a file's exact bytes, as Meta computes X-Hub-Signature-256.
///
/// The bytes are signed as they are: nothing is parsed or re-encoded, so sign a body in Meta's wire form
/// (compact, `\uXXXX` escapes, `\/`) to get what Meta would send for it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The app secret (App Dashboard → App settings → Basic).
    #[arg(long, env = "HOOKLINE_SIGN_SECRET", hide_env_values = true)]
    secret: String,

    /// Also print the legacy `sha1=<hex>` value (X-Hub-Signature) on a second line.
    #[arg(long)]
    sha1: bool,

    /// The file to sign; `-` or none for standard input.
    file: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.secret.is_empty() {
        anyhow::bail!("--secret is empty; pass the app secret that Meta signs deliveries with");
    }
    let path = args.file.unwrap_or_else(|| PathBuf::from("-"));
    let body = input::read_bytes(&path)?;
    println!("{}", signature::sign(args.secret.as_bytes(), &body));
    if args.sha1 {
        println!("{}", signature::sign_sha1(args.secret.as_bytes(), &body));
    }
    Ok(ExitCode::SUCCESS)
}
