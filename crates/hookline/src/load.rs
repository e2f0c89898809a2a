//! `hookline load`: drives a webhook receiver with unique, correctly signed Meta deliveries (the engine is
//! `hookline-load`; the bodies are `hookline-trigger` templates) and reports throughput and latency.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use hookline_load::{BodySource, LoadConfig};
use hookline_trigger::{Params, Template};

/// Load-test a webhook receiver (hookline or any other) with unique, correctly signed Meta deliveries.
///
/// Closed loop by default: each connection sends its next request when the previous answer arrives.
/// With --rate, open loop: requests are due at a fixed rate and latency counts from when each was due,
/// so a stalled server cannot hide its stall (coordinated omission). Stops after --duration or after
/// exactly --requests requests.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The receiver's webhook URL (plain HTTP).
    #[arg(long, default_value = "http://127.0.0.1:8080/webhook")]
    url: String,

    /// App secret to sign every body with (X-Hub-Signature-256); the first of a comma-separated list.
    #[arg(long, env = "HOOKLINE_APP_SECRET", hide_env_values = true)]
    secret: Option<String>,

    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,

    /// Open loop: requests per second, due at fixed intervals whatever the answers' speed.
    #[arg(long)]
    rate: Option<f64>,

    /// How long to run, e.g. 10s or 2m [default: 10s, unless --requests is given].
    #[arg(long, value_parser = humantime::parse_duration)]
    duration: Option<Duration>,

    /// Send exactly this many requests, then stop.
    #[arg(long)]
    requests: Option<u64>,

    /// Events per request (Meta batches up to 1000, as several `entry` items).
    #[arg(long, default_value_t = 1)]
    batch: usize,

    /// Which kinds to send: `builtin` (an inbox-like mix) or a TOML file of `"kind" = weight` lines, kinds
    /// as listed by `hookline trigger --list`.
    #[arg(long, default_value = "builtin")]
    mix: String,

    /// The people writing: each event comes from one of N users, taken in turn, so that receipts and
    /// replies land in N conversations as in a real inbox. Without it every message comes from one user
    /// and every receipt from a new one.
    #[arg(long)]
    users: Option<u64>,

    /// Threads that drive the connections [default: the number of cores].
    #[arg(long)]
    threads: Option<usize>,

    /// Print the summary as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// An inbox-like mix: mostly messages with their echoes and receipts, some reactions and postbacks.
const BUILTIN_MIX: &[(&str, u32)] = &[
    ("message", 30),
    ("message.image", 5),
    ("instagram.message", 15),
    ("echo.this_app", 10),
    ("echo.page_inbox", 3),
    ("delivery", 12),
    ("read", 12),
    ("instagram.seen", 5),
    ("reaction", 4),
    ("postback", 4),
];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let secret = args.secret.as_deref().map(first_secret);
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        anyhow::bail!(
            "no secret to sign with: pass --secret (or set HOOKLINE_APP_SECRET) to the receiver's app secret"
        );
    };
    let weights = match args.mix.as_str() {
        "builtin" => BUILTIN_MIX
            .iter()
            .map(|(kind, weight)| ((*kind).to_owned(), *weight))
            .collect(),
        file => read_mix(Path::new(file))?,
    };
    let mix = Mix::new(&weights, args.batch, args.users)?;
    let mut config = LoadConfig::new(args.url);
    config.secret = Some(secret.as_bytes().to_vec());
    config.connections = args.connections;
    config.rate = args.rate;
    config.requests = args.requests;
    config.duration = match (args.duration, args.requests) {
        (None, Some(_)) => None,
        (duration, _) => duration.or(config.duration),
    };
    if let Some(threads) = args.threads {
        config.threads = threads;
    }
    config.progress = std::io::stderr().is_terminal() && !args.json;
    let report = hookline_load::run_blocking(config, Arc::new(mix))?;
    if args.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    let answered_2xx: u64 = report
        .status
        .iter()
        .filter(|(status, _)| status.starts_with('2'))
        .map(|(_, n)| n)
        .sum();
    // Refusals under load (503s) are results to read, not a failed run; nothing accepted at all is.
    Ok(if answered_2xx == 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

fn first_secret(list: &str) -> &str {
    list.split(',').next().unwrap_or_default().trim()
}

/// A `--mix` file: a TOML table of trigger kind names to positive integer weights.
fn read_mix(path: &Path) -> anyhow::Result<Vec<(String, u32)>> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read the mix file {}: pass a TOML file of `\"kind\" = weight` lines, or --mix builtin",
            path.display()
        )
    })?;
    let table: BTreeMap<String, u32> = toml::from_str(&text).with_context(|| {
        format!(
            "{} is not a mix: expected lines like `\"message\" = 70` (a trigger kind and a whole-number weight)",
            path.display()
        )
    })?;
    if table.values().all(|w| *w == 0) {
        anyhow::bail!("{} gives no kind a weight above 0", path.display());
    }
    Ok(table.into_iter().filter(|(_, w)| *w > 0).collect())
}

/// Templates picked by weight: request `seq` gets the template its hash lands on, so every run of the
/// same length sends the same sequence of kinds.
#[derive(Debug)]
struct Mix {
    templates: Vec<Template>,
    /// Running weight totals, one per template.
    bounds: Vec<u64>,
}

impl Mix {
    fn new(weights: &[(String, u32)], batch: usize, users: Option<u64>) -> anyhow::Result<Mix> {
        let params = Params {
            batch: batch.max(1),
            users,
            ..Params::default()
        };
        let mut templates = Vec::new();
        let mut bounds = Vec::new();
        let mut total = 0;
        for (name, weight) in weights {
            let kind = hookline_trigger::find(name)?;
            templates.push(
                Template::new(kind, &params)
                    .with_context(|| format!("while preparing {name} bodies"))?,
            );
            total += u64::from(*weight);
            bounds.push(total);
        }
        Ok(Mix { templates, bounds })
    }

    fn pick(&self, seq: u64) -> &Template {
        let total = *self.bounds.last().expect("a mix has at least one kind");
        let point = spread(seq) % total;
        let index = self.bounds.partition_point(|bound| *bound <= point);
        &self.templates[index]
    }
}

/// SplitMix64's finaliser: consecutive request numbers land all over the weight range (a bare
/// multiplication leaves the low bits that `%` reads poorly mixed, starving some kinds).
fn spread(seq: u64) -> u64 {
    let mut z = seq.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl BodySource for Mix {
    fn render(&self, seq: u64, now_ms: u64, out: &mut Vec<u8>) -> u32 {
        let template = self.pick(seq);
        template.render(seq, now_ms, out);
        template.events() as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_mix_names_only_trigger_kinds() {
        let weights: Vec<(String, u32)> = BUILTIN_MIX
            .iter()
            .map(|(k, w)| ((*k).to_owned(), *w))
            .collect();
        Mix::new(&weights, 1, None).unwrap();
    }

    #[test]
    fn a_mix_sends_each_kind_in_proportion_to_its_weight() {
        let weights = vec![("message".to_owned(), 3), ("read".to_owned(), 1)];
        let mix = Mix::new(&weights, 1, None).unwrap();
        let mut kinds = BTreeMap::new();
        for seq in 0..4000 {
            *kinds.entry(mix.pick(seq).kind().name).or_insert(0) += 1;
        }
        assert!((2800..3200).contains(&kinds["message"]), "{kinds:?}");
        assert!((800..1200).contains(&kinds["read"]), "{kinds:?}");
    }

    #[test]
    fn a_small_weight_gets_its_share_of_a_short_run() {
        let weights: Vec<(String, u32)> = BUILTIN_MIX
            .iter()
            .map(|(k, w)| ((*k).to_owned(), *w))
            .collect();
        let mix = Mix::new(&weights, 1, None).unwrap();
        let postbacks = (0..1000)
            .filter(|seq| mix.pick(*seq).kind().name == "postback")
            .count();
        assert!(
            (20..60).contains(&postbacks),
            "{postbacks} postbacks in 1000"
        );
    }

    #[test]
    fn a_mix_file_with_an_unknown_kind_is_refused_by_name() {
        let weights = vec![("mesage".to_owned(), 1)];
        let err = Mix::new(&weights, 1, None).unwrap_err().to_string();
        assert!(err.contains("mesage"), "{err}");
    }
}
