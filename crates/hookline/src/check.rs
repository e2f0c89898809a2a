//! `hookline check`: whether `hookline serve` would start with these settings and find its store ready,
//! without starting anything or changing the store.

use std::process::ExitCode;

use hookline_meta::Secret;
use hookline_server::Config;
use hookline_store::StoreUrl;
use serde::Serialize;

use crate::serve::ConfigArgs;
use crate::store::{self, Schema, shown_url};

/// Check the configuration of `hookline serve` and its store, changing nothing.
///
/// Loads and validates the settings exactly as serve does (defaults, --config file, HOOKLINE_*
/// variables, flags; [[app]] and [[sink]] sections included), then opens the store without migrating
/// it and compares its schema version with this hookline's. Exits 0 only when the configuration is
/// valid and the store exists, answers, and is up to date. Sinks are not contacted, nor is Graph for the
/// [[account]] sections (their tokens are read; `hookline meta status` checks them on Meta's side).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    config: ConfigArgs,

    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

/// What was found; printed as text or JSON.
#[derive(Debug, Serialize)]
struct Report {
    ok: bool,
    config: ConfigReport,
    /// Absent when the configuration is invalid (there is no store to look at).
    store: Option<StoreReport>,
}

#[derive(Debug, Serialize)]
struct ConfigReport {
    ok: bool,
    /// The --config file, if any.
    file: Option<String>,
    /// Serve's message when the configuration is invalid.
    error: Option<String>,
    listen: Option<String>,
    /// Whether serve migrates the store at start.
    migrate: Option<bool>,
    apps: Vec<AppReport>,
    sinks: Vec<SinkReport>,
    accounts: Vec<AccountReport>,
    /// Seconds between two subscription checks by serve's watchdog; null when it is off.
    watchdog_interval_secs: Option<f64>,
}

#[derive(Debug, Serialize)]
struct AccountReport {
    /// `page` or `instagram`.
    kind: &'static str,
    id: String,
    /// Where the token comes from: `token_env NAME`, `token_file PATH` or `token` (never the token).
    token_source: String,
    fields: usize,
}

#[derive(Debug, Serialize)]
struct AppReport {
    /// The `[[app]]` name; null for the default route's top-level secrets.
    name: Option<String>,
    route: String,
    secrets: usize,
    verify_tokens: usize,
}

#[derive(Debug, Serialize)]
struct SinkReport {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Serialize)]
struct StoreReport {
    /// The store URL, any password hidden.
    url: String,
    /// False for a SQLite file that does not exist yet.
    exists: bool,
    reachable: bool,
    error: Option<String>,
    /// The store's schema version (when it was reachable).
    schema_version: Option<u32>,
    /// The version this hookline writes.
    current_version: u32,
    /// How the store's schema compares with this hookline's.
    schema: Option<Verdict>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Verdict {
    UpToDate,
    Behind,
    Newer,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let file = args.config.config.as_ref().map(|f| f.display().to_string());
    let report = match args.config.load() {
        Err(err) => Report {
            ok: false,
            config: ConfigReport::invalid(file, err.to_string()),
            store: None,
        },
        Ok(config) => {
            let store = store::runtime()?.block_on(check_store(&config.database));
            Report {
                ok: store.schema == Some(Verdict::UpToDate),
                config: ConfigReport::valid(file, &config),
                store: Some(store),
            }
        }
    };
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print_text(&report);
    }
    match report.problem() {
        Some(problem) => {
            eprintln!("hookline: {problem}");
            Ok(ExitCode::FAILURE)
        }
        None => Ok(ExitCode::SUCCESS),
    }
}

impl ConfigReport {
    fn invalid(file: Option<String>, error: String) -> Self {
        ConfigReport {
            ok: false,
            file,
            error: Some(error),
            listen: None,
            migrate: None,
            apps: Vec::new(),
            sinks: Vec::new(),
            accounts: Vec::new(),
            watchdog_interval_secs: None,
        }
    }

    fn valid(file: Option<String>, config: &Config) -> Self {
        let default = (count(&config.app_secret) > 0).then(|| AppReport {
            name: None,
            route: "/webhook".to_owned(),
            secrets: count(&config.app_secret),
            verify_tokens: count(&config.verify_token),
        });
        let named = config.apps.iter().map(|app| AppReport {
            name: Some(app.name.clone()),
            route: format!("/webhook/{}", app.name),
            secrets: count(&app.app_secret),
            verify_tokens: count(&app.verify_token),
        });
        let sinks = config.sinks.iter().map(|sink| SinkReport {
            name: sink.name.clone(),
            // The config's own spelling (`type = "http"`): the enum's names, lower-cased.
            kind: format!("{:?}", sink.kind).to_ascii_lowercase(),
        });
        let accounts = config
            .accounts
            .iter()
            .zip(config.accounts().unwrap_or_default());
        let accounts = accounts.map(|(section, account)| AccountReport {
            kind: account.kind.as_str(),
            id: account.id.clone(),
            token_source: match (&section.token_env, &section.token_file) {
                (Some(var), _) => format!("token_env {var}"),
                (None, Some(path)) => format!("token_file {}", path.display()),
                (None, None) => "token".to_owned(),
            },
            fields: account.fields.len(),
        });
        let watching = config.watchdog && !config.accounts.is_empty();
        ConfigReport {
            ok: true,
            file,
            error: None,
            listen: Some(config.listen.clone()),
            migrate: Some(config.migrate),
            apps: default.into_iter().chain(named).collect(),
            sinks: sinks.collect(),
            accounts: accounts.collect(),
            watchdog_interval_secs: watching.then_some(config.watchdog_interval.as_secs_f64()),
        }
    }
}

fn count(secrets: &[Secret]) -> usize {
    secrets.iter().filter(|s| !s.is_empty()).count()
}

/// Opens the store without migrating (or creating) it and compares its schema with this hookline's.
async fn check_store(database: &str) -> StoreReport {
    // Already validated with the config.
    let url = StoreUrl::parse(database).expect("the config's database URL was validated");
    let mut report = StoreReport {
        url: shown_url(database),
        exists: true,
        reachable: false,
        error: None,
        schema_version: None,
        current_version: hookline_store::current_schema_version(&url),
        schema: None,
    };
    if let StoreUrl::Sqlite { path, .. } = &url
        && !path.exists()
    {
        report.exists = false;
        return report;
    }
    match store::probe_schema(&url).await {
        Ok(schema) => {
            report.reachable = true;
            let (version, verdict) = match schema {
                Schema::UpToDate(version) => (version, Verdict::UpToDate),
                Schema::Behind(version) => (version, Verdict::Behind),
                Schema::Newer(version) => (version, Verdict::Newer),
            };
            report.schema_version = Some(version);
            report.schema = Some(verdict);
        }
        Err(err) => report.error = Some(err.to_string()),
    }
    report
}

impl Report {
    /// Why the check failed, for standard error; `None` when everything is ready.
    fn problem(&self) -> Option<String> {
        if let Some(error) = &self.config.error {
            // Word for word what `hookline serve` says.
            return Some(error.clone());
        }
        let store = self.store.as_ref()?;
        if !store.exists {
            return Some("check failed: no store yet".to_owned());
        }
        if let Some(error) = &store.error {
            return Some(error.clone());
        }
        match store.schema {
            Some(Verdict::Behind) => Some("check failed: the store's schema is behind".to_owned()),
            Some(Verdict::Newer) => Some("check failed: the store's schema is newer".to_owned()),
            Some(Verdict::UpToDate) | None => None,
        }
    }
}

fn print_text(report: &Report) {
    let config = &report.config;
    let source = config
        .file
        .as_deref()
        .unwrap_or("defaults, environment and flags; no config file");
    if !config.ok {
        println!("config  invalid ({source})");
        return;
    }
    println!("config  ok ({source})");
    println!("listen  {}", config.listen.as_deref().unwrap_or(""));
    for (n, app) in config.apps.iter().enumerate() {
        let label = if n == 0 { "apps  " } else { "      " };
        let name = app
            .name
            .as_deref()
            .map_or(String::new(), |n| format!("{n} at "));
        println!(
            "{label}  {name}{}: {}, {}",
            app.route,
            plural(app.secrets, "secret"),
            plural(app.verify_tokens, "verify token"),
        );
    }
    let sinks: Vec<String> = config
        .sinks
        .iter()
        .map(|s| format!("{} ({})", s.name, s.kind))
        .collect();
    let sinks = if sinks.is_empty() {
        "none".to_owned()
    } else {
        sinks.join(", ")
    };
    println!("sinks   {sinks}");
    print_accounts(config);
    if let Some(store) = &report.store {
        print_store(store, config.migrate == Some(true));
    }
}

fn print_accounts(config: &ConfigReport) {
    // Most deployments have no [[account]]; they get no line about it.
    if config.accounts.is_empty() {
        return;
    }
    for (n, account) in config.accounts.iter().enumerate() {
        let label = if n == 0 { "meta  " } else { "      " };
        println!(
            "{label}  {} {}: {} field(s), token from {}",
            account.kind, account.id, account.fields, account.token_source
        );
    }
    match config.watchdog_interval_secs {
        Some(secs) => println!("        watchdog checks every {secs} s"),
        None => println!("        watchdog off (watchdog = false)"),
    }
}

fn print_store(store: &StoreReport, serve_migrates: bool) {
    if !store.exists {
        println!(
            "store   no store yet at {}; `hookline serve` or `hookline migrate` creates it",
            store.url
        );
        return;
    }
    if !store.reachable {
        println!("store   unreachable: {}", store.url);
        return;
    }
    println!("store   reachable: {}", store.url);
    let version = store.schema_version.unwrap_or(0);
    let current = store.current_version;
    let verdict = match store.schema {
        Some(Verdict::UpToDate) | None => "up to date",
        Some(Verdict::Behind) if serve_migrates => {
            "behind: run `hookline migrate` (or let `hookline serve` migrate it at start)"
        }
        Some(Verdict::Behind) => "behind: run `hookline migrate`",
        Some(Verdict::Newer) => "newer: upgrade hookline",
    };
    println!("schema  version {version} of {current}, {verdict}");
}

fn plural(n: usize, noun: &str) -> String {
    match n {
        0 => format!("no {noun}"),
        1 => format!("1 {noun}"),
        _ => format!("{n} {noun}s"),
    }
}
