//! `hookline meta subscribe|status`: the setup on Meta's side that receiving webhooks needs (CONTRACTS.md
//! section 7). An account is named with `--page ID` or `--instagram ID` and its token (`--token` or
//! `HOOKLINE_META_TOKEN`), or taken from the `[[account]]` sections of the config file.
//!
//! The checks and calls are `hookline_server::watchdog::check`, the ones `serve`'s watchdog makes.

mod status;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use hookline_graph::Token;
use hookline_server::config::{Account, AccountKind};
use hookline_server::watchdog::check;
use hookline_server::{Config, Overrides};

use crate::serve::GraphArgs;

/// Subscribe Pages and Instagram accounts to webhooks on Meta's side, and check those subscriptions.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    Subscribe(SubscribeArgs),
    Status(StatusArgs),
}

/// Which account, and where its token and the Graph settings come from.
#[derive(Debug, clap::Args)]
pub struct AccountArgs {
    /// A Facebook Page id.
    #[arg(long, conflicts_with = "instagram", value_name = "ID")]
    page: Option<String>,

    /// An Instagram professional account id (Instagram API with Instagram Login).
    #[arg(long, value_name = "ID")]
    instagram: Option<String>,

    /// The account's access token (Page access token, or Instagram User access token). Better given in
    /// HOOKLINE_META_TOKEN, which keeps it out of the shell history and the process list. Without it,
    /// the token of the config file's [[account]] for this id is used.
    #[arg(long, env = "HOOKLINE_META_TOKEN", hide_env_values = true)]
    token: Option<String>,

    /// The config file `hookline serve` runs with: its [[account]] sections, graph_url, graph_version
    /// and app_id.
    #[arg(long, env = "HOOKLINE_CONFIG")]
    config: Option<PathBuf>,

    #[command(flatten)]
    graph: GraphArgs,
}

/// Subscribe this app to an account's webhook fields: POST {graph-url}/{version}/{ID}/subscribed_apps.
///
/// Graph replaces the app's field list with the one given. Without --fields: the account's fields in the
/// config file, else every messaging field hookline understands.
#[derive(Debug, clap::Args)]
pub struct SubscribeArgs {
    #[command(flatten)]
    account: AccountArgs,

    /// Webhook fields, comma-separated (e.g. messages,message_echoes).
    #[arg(long, value_delimiter = ',')]
    fields: Option<Vec<String>>,
}

/// Show each account's subscribed fields, the fields and token permissions it lacks, and how to fix
/// them. Exits 1 when anything is missing.
///
/// Checks every [[account]] of the config file, or the one account given with --page/--instagram.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    #[command(flatten)]
    account: AccountArgs,

    /// The app id(s) whose subscription counts (comma-separated); default: the config's app_id, else
    /// every app subscribed to the account.
    #[arg(long = "app-id", env = "HOOKLINE_APP_ID")]
    app_id: Option<String>,

    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("while starting the async runtime")?;
    match command {
        Command::Subscribe(args) => runtime.block_on(subscribe(args)),
        Command::Status(args) => runtime.block_on(status::run(args)),
    }
}

async fn subscribe(args: SubscribeArgs) -> anyhow::Result<ExitCode> {
    let setup = Setup::load(&args.account, None)?;
    let Some(mut account) = setup.named_account(&args.account)? else {
        anyhow::bail!(
            "name the account to subscribe with --page ID (a Facebook Page) or --instagram ID (an \
             Instagram account with Instagram Login)"
        );
    };
    if let Some(fields) = args.fields {
        let fields: Vec<String> = fields
            .into_iter()
            .map(|f| f.trim().to_owned())
            .filter(|f| !f.is_empty())
            .collect();
        account.fields = fields;
    }
    account.kind.check_fields(&account.fields).map_err(|err| {
        anyhow::anyhow!("--fields: {err}; or leave --fields out for the default ones")
    })?;
    let client = setup.config.graph_client()?;
    let url = format!(
        "{}/{}/{}/subscribed_apps",
        setup.config.graph_url.trim_end_matches('/'),
        setup.config.graph_version,
        account.id
    );
    check::subscribe(&client, &account, &account.fields)
        .await
        .with_context(|| format!("subscribing {} failed (POST {url})", account.label()))?;
    println!(
        "subscribed {} to {} field(s): {}",
        account.label(),
        account.fields.len(),
        account.fields.join(",")
    );
    Ok(ExitCode::SUCCESS)
}

/// The configuration a `meta` command runs with.
struct Setup {
    config: Config,
    /// The --config path as given, for the fix commands.
    file: Option<String>,
}

impl Setup {
    /// The config file (if any) under the flags; only the Graph settings are checked here, the
    /// accounts when they are used.
    fn load(args: &AccountArgs, app_id: Option<String>) -> anyhow::Result<Setup> {
        let overrides = Overrides {
            graph_url: args.graph.graph_url.clone(),
            graph_version: args.graph.graph_version.clone(),
            app_id,
            ..Overrides::default()
        };
        let config = Config::extract(args.config.as_deref(), overrides)?;
        config.graph_client()?;
        Ok(Setup {
            config,
            file: args.config.as_ref().map(|f| f.display().to_string()),
        })
    }

    /// The account named by --page/--instagram, with --token or the config's token; `None` when no
    /// account is named.
    fn named_account(&self, args: &AccountArgs) -> anyhow::Result<Option<Account>> {
        let (kind, id) = match (&args.page, &args.instagram) {
            (Some(id), _) => (AccountKind::Page, id.trim()),
            (None, Some(id)) => (AccountKind::Instagram, id.trim()),
            (None, None) => return Ok(None),
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            anyhow::bail!(
                "{} {id:?} is not a numeric id; copy the id from the App Dashboard or a webhook's entry.id",
                kind.flag()
            );
        }
        if let Some(raw) = &args.token {
            let token = Token::new(raw.as_str()).context("--token / HOOKLINE_META_TOKEN")?;
            // The configured fields apply; the configured token source is not read, since one was given.
            let configured = self
                .config
                .accounts
                .iter()
                .find(|a| a.kind_and_id() == Some((kind, id)))
                .and_then(|a| a.fields.clone());
            let fields = configured.unwrap_or_else(|| {
                kind.default_fields()
                    .iter()
                    .map(|f| (*f).to_owned())
                    .collect()
            });
            return Ok(Some(Account {
                kind,
                id: id.to_owned(),
                token,
                fields,
            }));
        }
        if self.file.is_none() {
            anyhow::bail!(
                "no token for {} {id}: set HOOKLINE_META_TOKEN (or pass --token) to the account's access \
                 token, or give --config FILE with an [[account]] for it",
                kind.as_str()
            );
        }
        let account = self.config.account(id)?;
        if account.kind != kind {
            anyhow::bail!(
                "{id} is configured as {} account; use {} {id}",
                match account.kind {
                    AccountKind::Page => "a Page",
                    AccountKind::Instagram => "an Instagram",
                },
                account.kind.flag()
            );
        }
        Ok(Some(account))
    }
}
