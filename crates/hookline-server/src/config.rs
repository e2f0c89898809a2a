//! The server's settings, in rising priority: built-in defaults, a TOML file, then overrides (the binary
//! passes `HOOKLINE_*` environment variables and command-line flags, already merged by clap), then
//! [`Config::validate`].
//!
//! Secrets are [`Secret`]s (account tokens [`Token`]s), so `{:?}` of a config (and any log line) never
//! shows them.
//!
//! - [`account`]: the `[[account]]` sections (Pages and Instagram accounts with their tokens).

pub mod account;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use hookline_graph::{GraphClient, GraphConfig, Token};
use hookline_meta::Secret;
use hookline_sinks::SinkConfig;
use hookline_store::StoreUrl;
use serde::{Deserialize, Deserializer, Serialize};

pub use account::{Account, AccountConfig, AccountKind};

/// Default body cap: a 1000-entry batch is about 0.3–1 MB, and bodies over 300 KB are seen in the wild.
pub const DEFAULT_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// Every setting of `hookline serve`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to bind.
    pub listen: String,
    /// Store URL: `sqlite://PATH` (embedded default) or `postgres://USER@HOST:PORT/DB`.
    pub database: String,
    /// Apply the store's pending migrations at start-up. When false, a store whose schema is behind is
    /// refused, for deployments that migrate in a step of their own (`hookline migrate`).
    pub migrate: bool,
    /// Secrets that sign deliveries to `/webhook` (rotation, several apps).
    #[serde(deserialize_with = "secrets")]
    pub app_secret: Vec<Secret>,
    /// Tokens accepted by the subscription handshake on `/webhook`.
    #[serde(deserialize_with = "secrets")]
    pub verify_token: Vec<Secret>,
    /// Bearer token for the admin API.
    #[serde(default, deserialize_with = "optional_secret")]
    pub admin_token: Option<Secret>,
    /// App ids this deployment sends with, so their echoes are classified `this_app`.
    #[serde(deserialize_with = "list")]
    pub app_id: Vec<String>,
    /// Largest accepted body; larger ones are answered 413.
    pub max_body_bytes: usize,
    /// Also accept the legacy `X-Hub-Signature` (SHA-1) when a request has no SHA-256 header.
    pub allow_sha1: bool,
    /// Deliveries that may wait for the store's writer; beyond that, 503 with `Retry-After`.
    pub writer_queue: usize,
    /// Most deliveries committed in one transaction.
    pub writer_max_batch: usize,
    /// Seconds announced in `Retry-After` on a 503.
    pub retry_after_secs: u64,
    /// Seconds a client has to send a request's headers (or, idle, the next request's) before its
    /// connection is closed: slow clients cannot hold connections.
    pub header_read_timeout_secs: u64,
    /// Seconds a request (its body included) has to be answered, else 408; `/api/v1/stream` is exempt.
    pub request_timeout_secs: u64,
    /// Most connections open at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Further apps with their own route `/webhook/{name}`, secret and verify token.
    #[serde(rename = "app")]
    pub apps: Vec<AppConfig>,
    /// Where stored events are forwarded (`[[sink]]` sections, CONTRACTS.md section 5).
    #[serde(rename = "sink")]
    pub sinks: Vec<SinkConfig>,
    /// Scheme and host of the Graph API (both hosts, Facebook and Instagram, go there).
    pub graph_url: String,
    /// Graph API version, `vMAJOR.MINOR`.
    pub graph_version: String,
    /// Whether `serve` checks the `[[account]]` subscriptions and re-subscribes what Meta dropped.
    pub watchdog: bool,
    /// Time between two checks of one account (`watchdog_interval_secs`: seconds, fractions allowed, or
    /// a duration such as "5m" or "250ms").
    #[serde(rename = "watchdog_interval_secs", deserialize_with = "interval")]
    pub watchdog_interval: Duration,
    /// Pages and Instagram accounts with their tokens (`[[account]]` sections).
    #[serde(rename = "account")]
    pub accounts: Vec<AccountConfig>,
}

/// One `[[app]]` section: an app with its own route, secrets and tokens.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// The route is `/webhook/{name}`: letters, digits, `-` and `_`.
    pub name: String,
    #[serde(deserialize_with = "secrets")]
    pub app_secret: Vec<Secret>,
    #[serde(default, deserialize_with = "secrets")]
    pub verify_token: Vec<Secret>,
    #[serde(default, deserialize_with = "list")]
    pub app_id: Vec<String>,
}

/// Settings given on the command line or in `HOOKLINE_*` variables; `None` leaves the file's value.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub migrate: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verify_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_body_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_sha1: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub graph_version: Option<String>,
}

/// The built-in defaults, as the first layer.
#[derive(Serialize)]
struct Defaults {
    listen: &'static str,
    database: &'static str,
    migrate: bool,
    app_secret: Vec<String>,
    verify_token: Vec<String>,
    app_id: Vec<String>,
    max_body_bytes: usize,
    allow_sha1: bool,
    writer_queue: usize,
    writer_max_batch: usize,
    retry_after_secs: u64,
    header_read_timeout_secs: u64,
    request_timeout_secs: u64,
    max_connections: usize,
    app: Vec<()>,
    sink: Vec<()>,
    graph_url: &'static str,
    graph_version: &'static str,
    watchdog: bool,
    watchdog_interval_secs: u64,
    account: Vec<()>,
}

/// Seconds between two checks of an account's subscription: Meta disables an app's subscription after
/// deliveries have failed for about an hour, so a check every five minutes restores it well within that,
/// at two Graph reads per account.
pub const DEFAULT_WATCHDOG_INTERVAL_SECS: u64 = 300;

const DEFAULTS: fn() -> Defaults = || Defaults {
    listen: "127.0.0.1:8080",
    database: "sqlite://hookline.db",
    migrate: true,
    app_secret: Vec::new(),
    verify_token: Vec::new(),
    app_id: Vec::new(),
    max_body_bytes: DEFAULT_MAX_BODY_BYTES,
    allow_sha1: false,
    writer_queue: 4096,
    writer_max_batch: 256,
    retry_after_secs: 5,
    // Meta sends small bodies at once; these only stop clients that dribble (slowloris).
    header_read_timeout_secs: 10,
    request_timeout_secs: 30,
    max_connections: 1024,
    app: Vec::new(),
    sink: Vec::new(),
    graph_url: hookline_graph::DEFAULT_BASE_URL,
    graph_version: hookline_graph::DEFAULT_VERSION,
    watchdog: true,
    watchdog_interval_secs: DEFAULT_WATCHDOG_INTERVAL_SECS,
    account: Vec::new(),
};

/// A configuration that cannot be used, with what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Load(String),
    #[error("{0}")]
    Invalid(String),
}

impl Config {
    /// Defaults, then `file` (if any), then `overrides`; validated.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let config = Config::extract(file, overrides)?;
        config.validate()?;
        Ok(config)
    }

    /// Defaults, then `file` (if any), then `overrides`, not yet validated: for commands that need only
    /// part of the settings (`hookline meta` checks them with [`Config::validate_meta`]).
    pub fn extract(file: Option<&Path>, overrides: Overrides) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(DEFAULTS()));
        if let Some(file) = file {
            if !file.exists() {
                return Err(ConfigError::Load(format!(
                    "config file {} does not exist; check the --config path (hookline.example.toml shows every setting)",
                    file.display()
                )));
            }
            figment = figment.merge(Toml::file(file));
        }
        figment = figment.merge(Serialized::defaults(overrides));
        figment
            .extract()
            .map_err(|err| ConfigError::Load(format!("invalid configuration: {err}")))
    }

    /// A config with built-in defaults and the given secret, for tests and embedding.
    pub fn with_secret(secret: &str) -> Config {
        let overrides = Overrides {
            app_secret: Some(secret.to_owned()),
            ..Overrides::default()
        };
        Figment::from(Serialized::defaults(DEFAULTS()))
            .merge(Serialized::defaults(overrides))
            .extract()
            .expect("the built-in defaults are valid")
    }

    /// Checks what serde cannot: a secret somewhere, a usable address and store URL, sane limits.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Invalid(msg));
        let has_secret =
            usable(&self.app_secret) || self.apps.iter().any(|a| usable(&a.app_secret));
        if !has_secret {
            return invalid(
                "no app secret is configured, so no delivery could be verified. Set HOOKLINE_APP_SECRET, pass \
                 --app-secret, or put app_secret in the config file; Meta shows it in the App Dashboard under \
                 App settings > Basic > App secret (for local testing any string works, e.g. \
                 --app-secret dev-secret)"
                    .to_owned(),
            );
        }
        if self.listen.parse::<SocketAddr>().is_err() {
            return invalid(format!(
                "listen address {:?} is not IP:PORT, e.g. 127.0.0.1:8080 or 0.0.0.0:8080",
                self.listen
            ));
        }
        if let Err(err) = StoreUrl::parse(&self.database) {
            return invalid(err.to_string());
        }
        if self.max_body_bytes < 1024 {
            return invalid(format!(
                "max_body_bytes = {} is too small for any delivery; the default is {DEFAULT_MAX_BODY_BYTES} (8 MiB)",
                self.max_body_bytes
            ));
        }
        if self.writer_queue == 0 || self.writer_max_batch == 0 {
            return invalid("writer_queue and writer_max_batch must be at least 1".to_owned());
        }
        if self.header_read_timeout_secs == 0
            || self.request_timeout_secs == 0
            || self.max_connections == 0
        {
            return invalid(
                "header_read_timeout_secs, request_timeout_secs and max_connections must be at least 1"
                    .to_owned(),
            );
        }
        self.validate_apps()?;
        SinkConfig::validate_all(&self.sinks).map_err(|err| {
            ConfigError::Invalid(format!(
                "[[sink]] {err} (hookline.example.toml shows every sink setting)"
            ))
        })?;
        self.validate_meta()
    }

    /// Checks the settings of the Graph side: the Graph URL and version, the watchdog interval, and every
    /// `[[account]]` (exactly one id and one token source, the token readable, known field names, no id
    /// twice).
    pub fn validate_meta(&self) -> Result<(), ConfigError> {
        self.graph_client()?;
        if self.watchdog_interval.is_zero() {
            return Err(ConfigError::Invalid(format!(
                "watchdog_interval_secs must be above zero; the default is {DEFAULT_WATCHDOG_INTERVAL_SECS} \
                 (set watchdog = false to turn the watchdog off)"
            )));
        }
        self.accounts()?;
        Ok(())
    }

    /// Where Graph calls go: `graph_url` for both the Facebook and the Instagram host, `graph_version`.
    pub fn graph_config(&self) -> GraphConfig {
        GraphConfig::with_base_url(self.graph_url.trim()).version(self.graph_version.trim())
    }

    /// A Graph client for [`Config::graph_config`].
    pub fn graph_client(&self) -> Result<GraphClient, ConfigError> {
        GraphClient::new(self.graph_config()).map_err(|err| {
            ConfigError::Invalid(format!(
                "graph_url / graph_version (--graph-url, HOOKLINE_GRAPH_URL, --graph-version, \
                 HOOKLINE_GRAPH_VERSION): {err}"
            ))
        })
    }

    /// Every `[[account]]` with its token read, in file order.
    pub fn accounts(&self) -> Result<Vec<Account>, ConfigError> {
        let mut seen = HashSet::new();
        let mut accounts = Vec::with_capacity(self.accounts.len());
        for (index, section) in self.accounts.iter().enumerate() {
            let account = section.resolve(index).map_err(ConfigError::Invalid)?;
            if !seen.insert(account.id.clone()) {
                return Err(ConfigError::Invalid(format!(
                    "{} appears twice; give each Page or Instagram account one [[account]] section",
                    section.label(index)
                )));
            }
            accounts.push(account);
        }
        Ok(accounts)
    }

    /// The `[[account]]` whose `page_id` or `instagram_id` is `id`, with its token read.
    pub fn account(&self, id: &str) -> Result<Account, ConfigError> {
        let found = self
            .accounts
            .iter()
            .enumerate()
            .find(|(_, a)| a.kind_and_id().is_some_and(|(_, own)| own == id));
        let Some((index, section)) = found else {
            return Err(ConfigError::Invalid(format!(
                "no [[account]] with page_id or instagram_id {id} is configured; add one with its \
                 token_env (or token_file) to the config file (hookline.example.toml shows how)"
            )));
        };
        section.resolve(index).map_err(ConfigError::Invalid)
    }

    /// The token of the account `id`, as [`Config::account`] reads it.
    pub fn account_token(&self, id: &str) -> Result<Token, ConfigError> {
        self.account(id).map(|account| account.token)
    }

    /// How events are read (the app ids that make an echo `this_app`), as ingest reads them.
    pub fn parse_options(&self) -> hookline_meta::ParseOptions {
        let mut own_app_ids = self.app_id.clone();
        for app in &self.apps {
            own_app_ids.extend(app.app_id.iter().cloned());
        }
        hookline_meta::ParseOptions { own_app_ids }
    }

    fn validate_apps(&self) -> Result<(), ConfigError> {
        let mut names = HashSet::new();
        for app in &self.apps {
            let valid_name = !app.name.is_empty()
                && app
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid_name {
                return Err(ConfigError::Invalid(format!(
                    "[[app]] name {:?} cannot be a route segment; use letters, digits, '-' and '_'",
                    app.name
                )));
            }
            if !names.insert(app.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "[[app]] name {:?} appears twice; each app needs its own name",
                    app.name
                )));
            }
            if !usable(&app.app_secret) {
                return Err(ConfigError::Invalid(format!(
                    "[[app]] {:?} has no app_secret; give the secret of that app",
                    app.name
                )));
            }
        }
        Ok(())
    }
}

fn usable(secrets: &[Secret]) -> bool {
    secrets.iter().any(|s| !s.is_empty())
}

/// A string, comma-separated, or a list of strings; blanks around commas are dropped.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    // Numeric app ids written without quotes in TOML.
    Number(u64),
    Many(Vec<String>),
}

fn split(value: OneOrMany) -> Vec<String> {
    let items = match value {
        OneOrMany::One(one) => one.split(',').map(str::to_owned).collect(),
        OneOrMany::Number(n) => vec![n.to_string()],
        OneOrMany::Many(many) => many,
    };
    items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    OneOrMany::deserialize(d).map(split)
}

fn secrets<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Secret>, D::Error> {
    list(d).map(|items| items.into_iter().map(Secret::new).collect())
}

fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    Ok(value.filter(|s| !s.is_empty()).map(Secret::new))
}

/// Seconds as an integer or a fraction (`0.25`), or a duration string (`"5m"`, `"250ms"`, `"300"`).
fn interval<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Interval {
        Whole(u64),
        Fraction(f64),
        Text(String),
    }
    let bad = |what: &str| {
        serde::de::Error::custom(format!(
            "watchdog_interval_secs {what} is not a duration; give seconds (300, 0.5) or a duration such \
             as \"5m\" or \"250ms\""
        ))
    };
    match Interval::deserialize(d)? {
        Interval::Whole(secs) => Ok(Duration::from_secs(secs)),
        Interval::Fraction(secs) => {
            Duration::try_from_secs_f64(secs).map_err(|_| bad(&secs.to_string()))
        }
        Interval::Text(text) => {
            let trimmed = text.trim();
            match trimmed.parse::<f64>() {
                Ok(secs) => {
                    Duration::try_from_secs_f64(secs).map_err(|_| bad(&format!("{text:?}")))
                }
                Err(_) => humantime::parse_duration(trimmed).map_err(|_| bad(&format!("{text:?}"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn defaults_then_file_then_overrides() {
        let toml =
            file("listen = \"0.0.0.0:9000\"\napp_secret = \"from-file\"\nmax_body_bytes = 4096\n");
        let config = Config::load(
            Some(toml.path()),
            Overrides {
                app_secret: Some("new, old".into()),
                ..Overrides::default()
            },
        )
        .unwrap();
        assert_eq!(config.listen, "0.0.0.0:9000");
        assert_eq!(config.database, "sqlite://hookline.db");
        assert_eq!(config.max_body_bytes, 4096);
        let secrets: Vec<_> = config.app_secret.iter().map(Secret::expose).collect();
        assert_eq!(secrets, ["new", "old"]);
    }

    #[test]
    fn migrations_run_at_start_unless_the_file_or_an_override_turns_them_off() {
        assert!(Config::with_secret("x").migrate);
        let off = file("app_secret = \"x\"\nmigrate = false\n");
        let config = Config::load(Some(off.path()), Overrides::default()).unwrap();
        assert!(!config.migrate);
        let back_on = Overrides {
            migrate: Some(true),
            ..Overrides::default()
        };
        assert!(Config::load(Some(off.path()), back_on).unwrap().migrate);
        let flag = Overrides {
            app_secret: Some("x".into()),
            migrate: Some(false),
            ..Overrides::default()
        };
        assert!(!Config::load(None, flag).unwrap().migrate);
    }

    #[test]
    fn without_a_secret_the_error_says_how_to_set_one() {
        let err = Config::load(None, Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("HOOKLINE_APP_SECRET") && err.contains("--app-secret"),
            "{err}"
        );
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let config = Config::with_secret("s3cr3t-value");
        assert!(!format!("{config:?}").contains("s3cr3t-value"));
    }

    #[test]
    fn typos_and_bad_values_are_named() {
        let typo = file("app_secret = \"x\"\nmax_body_byte = 10\n");
        let err = Config::load(Some(typo.path()), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_body_byte"), "{err}");
        let bad = file("app_secret = \"x\"\nlisten = \"localhost\"\n");
        let err = Config::load(Some(bad.path()), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("IP:PORT"), "{err}");
        let missing = Config::load(Some(Path::new("/nonexistent/h.toml")), Overrides::default());
        assert!(missing.unwrap_err().to_string().contains("does not exist"));
    }

    #[test]
    fn per_app_sections_need_a_name_and_a_secret() {
        let ok =
            file("[[app]]\nname = \"shop\"\napp_secret = [\"a\", \"b\"]\nverify_token = \"t\"\n");
        let config = Config::load(Some(ok.path()), Overrides::default()).unwrap();
        assert_eq!(config.apps[0].app_secret.len(), 2);
        let dup = file(
            "[[app]]\nname = \"a\"\napp_secret = \"x\"\n[[app]]\nname = \"a\"\napp_secret = \"y\"\n",
        );
        let err = Config::load(Some(dup.path()), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("appears twice"), "{err}");
        let bad = file("[[app]]\nname = \"a/b\"\napp_secret = \"x\"\n");
        let err = Config::load(Some(bad.path()), Overrides::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("route segment"), "{err}");
    }

    #[test]
    fn the_example_file_loads_and_states_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hookline.example.toml");
        let example = Config::load(Some(&path), Overrides::default()).unwrap();
        let defaults = Config::with_secret("x");
        assert_eq!(example.listen, defaults.listen);
        assert_eq!(example.database, defaults.database);
        assert_eq!(example.migrate, defaults.migrate);
        assert_eq!(example.max_body_bytes, defaults.max_body_bytes);
        assert_eq!(example.allow_sha1, defaults.allow_sha1);
        assert_eq!(example.writer_queue, defaults.writer_queue);
        assert_eq!(example.writer_max_batch, defaults.writer_max_batch);
        assert_eq!(example.retry_after_secs, defaults.retry_after_secs);
        assert_eq!(example.app_secret[0].expose(), "dev-secret");
        assert!(
            example.sinks.is_empty(),
            "the example's sinks are commented out"
        );
        assert_eq!(example.graph_url, defaults.graph_url);
        assert_eq!(example.graph_version, defaults.graph_version);
        assert_eq!(example.watchdog, defaults.watchdog);
        assert_eq!(example.watchdog_interval, defaults.watchdog_interval);
        assert!(
            example.accounts.is_empty(),
            "the example's accounts are commented out"
        );
    }

    #[test]
    fn the_example_accounts_read_as_written_when_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hookline.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let accounts = &text[text.find("# [[account]]").unwrap()..];
        let uncommented: String = accounts
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| line.starts_with("[[account]]") || line.contains(" = "))
            .filter(|line| {
                line.starts_with('[') || line.starts_with(|c: char| c.is_ascii_lowercase())
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let toml = file(&format!("app_secret = \"x\"\n{uncommented}"));
        // Unvalidated: the example's variable and file do not exist here.
        let config = Config::extract(Some(toml.path()), Overrides::default()).unwrap();
        let kinds: Vec<_> = config
            .accounts
            .iter()
            .map(|a| a.kind_and_id().unwrap())
            .collect();
        assert_eq!(
            kinds,
            [
                (AccountKind::Page, "104938475610293"),
                (AccountKind::Instagram, "17841405309211844")
            ]
        );
        assert_eq!(config.accounts[0].token_env.as_deref(), Some("PAGE_TOKEN"));
        assert_eq!(
            config.accounts[0].fields.as_deref().unwrap(),
            ["messages", "message_echoes", "messaging_postbacks"]
        );
        assert!(config.accounts[1].token_file.is_some() && config.accounts[1].token.is_none());
    }

    #[test]
    fn the_example_sinks_load_with_every_setting_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hookline.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let start = text.find("# [[sink]]").unwrap();
        // The sinks run up to the next section of the file.
        let end = text[start..]
            .find("# ----------")
            .map_or(text.len(), |n| start + n);
        let sinks = &text[start..end];
        let uncommented: String = sinks
            .lines()
            .filter_map(|line| line.strip_prefix("# "))
            .filter(|line| line.starts_with("[[sink]]") || line.contains(" = "))
            .filter(|line| {
                line.chars()
                    .next()
                    .is_some_and(|c| c == '[' || c.is_ascii_lowercase())
            })
            .map(|line| format!("{line}\n"))
            .collect();
        let config = file(&format!("app_secret = \"x\"\n{uncommented}"));
        let loaded = Config::load(Some(config.path()), Overrides::default()).unwrap();
        let names: Vec<_> = loaded.sinks.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["crm", "bus"]);
        let crm = &loaded.sinks[0];
        assert_eq!(crm.kinds, ["message", "postback"]);
        assert_eq!(crm.concurrency, Some(16));
        assert_eq!(crm.lease.as_deref(), Some("30s"));
        assert_eq!(loaded.sinks[1].stream.as_deref(), Some("HOOKLINE"));
    }

    fn accounts_config(text: &str) -> Result<Config, String> {
        let toml = file(&format!("app_secret = \"x\"\n{text}"));
        Config::load(Some(toml.path()), Overrides::default()).map_err(|err| err.to_string())
    }

    #[test]
    fn graph_and_watchdog_settings_have_defaults() {
        let config = Config::with_secret("x");
        assert_eq!(config.graph_url, "https://graph.facebook.com");
        assert_eq!(config.graph_version, hookline_graph::DEFAULT_VERSION);
        assert!(config.watchdog);
        assert_eq!(config.watchdog_interval, Duration::from_secs(300));
        assert!(config.accounts.is_empty());
        let client = config.graph_client().unwrap();
        assert_eq!(client.config().base_url, "https://graph.facebook.com");
        assert_eq!(
            client.config().instagram_base_url,
            "https://graph.facebook.com"
        );
    }

    #[test]
    fn graph_overrides_win_over_the_file_and_bad_ones_name_the_flag() {
        let toml = file(
            "app_secret = \"x\"\ngraph_url = \"http://127.0.0.1:1\"\ngraph_version = \"v25.0\"\n",
        );
        let overrides = Overrides {
            graph_url: Some("http://127.0.0.1:2".into()),
            ..Overrides::default()
        };
        let config = Config::load(Some(toml.path()), overrides).unwrap();
        assert_eq!(config.graph_config().base_url, "http://127.0.0.1:2");
        assert_eq!(config.graph_config().version, "v25.0");
        let err = accounts_config("graph_version = \"26\"\n").unwrap_err();
        assert!(
            err.contains("--graph-version") && err.contains("vMAJOR.MINOR"),
            "{err}"
        );
        let err = accounts_config("graph_url = \"graph.facebook.com\"\n").unwrap_err();
        assert!(
            err.contains("--graph-url") && err.contains("give a URL like"),
            "{err}"
        );
    }

    #[test]
    fn the_watchdog_interval_takes_seconds_fractions_and_durations() {
        for (text, expected) in [
            ("60", Duration::from_secs(60)),
            ("0.25", Duration::from_millis(250)),
            ("\"250ms\"", Duration::from_millis(250)),
            ("\"5m\"", Duration::from_secs(300)),
            ("\"2\"", Duration::from_secs(2)),
        ] {
            let config = accounts_config(&format!("watchdog_interval_secs = {text}\n")).unwrap();
            assert_eq!(config.watchdog_interval, expected, "{text}");
        }
        let err = accounts_config("watchdog_interval_secs = 0\n").unwrap_err();
        assert!(
            err.contains("above zero") && err.contains("watchdog = false"),
            "{err}"
        );
        let err = accounts_config("watchdog_interval_secs = \"soon\"\n").unwrap_err();
        assert!(
            err.contains("\\\"5m\\\"") || err.contains("\"5m\""),
            "{err}"
        );
        let err = accounts_config("watchdog_interval_secs = -1.5\n").unwrap_err();
        assert!(err.contains("not a duration"), "{err}");
    }

    #[test]
    fn accounts_resolve_their_tokens_and_are_found_by_id() {
        let token_file = file("EAAfromfile\n");
        let config = accounts_config(&format!(
            "[[account]]\npage_id = \"1001\"\ntoken_env = \"CARGO_PKG_NAME\"\n\
             [[account]]\ninstagram_id = 17841400000000001\ntoken_file = {:?}\nfields = \"messages, message_edit\"\n\
             [[account]]\npage_id = \"1002\"\ntoken = \"EAAinline\"\nfields = [\"messages\", \"calls\"]\n",
            token_file.path().display().to_string()
        ))
        .unwrap();
        let accounts = config.accounts().unwrap();
        assert_eq!(accounts.len(), 3);
        // Cargo sets CARGO_PKG_NAME in the environment of the tests it runs.
        assert_eq!(accounts[0].token.expose(), "hookline-server");
        assert_eq!(accounts[0].kind, AccountKind::Page);
        assert_eq!(accounts[0].fields, hookline_graph::DEFAULT_FIELDS);
        let instagram = config.account("17841400000000001").unwrap();
        assert_eq!(instagram.kind, AccountKind::Instagram);
        assert_eq!(instagram.token.expose(), "EAAfromfile");
        assert_eq!(instagram.fields, ["messages", "message_edit"]);
        assert_eq!(config.account_token("1002").unwrap().expose(), "EAAinline");
        assert_eq!(
            config.account("1002").unwrap().fields,
            ["messages", "calls"]
        );
        let err = config.account("999").unwrap_err().to_string();
        assert!(
            err.contains("no [[account]]") && err.contains("999"),
            "{err}"
        );
    }

    #[test]
    fn an_account_needs_exactly_one_numeric_id() {
        let err = accounts_config("[[account]]\ntoken = \"t\"\n").unwrap_err();
        assert!(
            err.contains("[[account]] number 1") && err.contains("exactly one of page_id"),
            "{err}"
        );
        let err =
            accounts_config("[[account]]\npage_id = \"1\"\ninstagram_id = \"2\"\ntoken = \"t\"\n")
                .unwrap_err();
        assert!(err.contains("exactly one of page_id"), "{err}");
        let err =
            accounts_config("[[account]]\npage_id = \"my-page\"\ntoken = \"t\"\n").unwrap_err();
        assert!(err.contains("\"my-page\" is not a numeric id"), "{err}");
        let err = accounts_config(
            "[[account]]\npage_id = \"1\"\ntoken = \"t\"\n[[account]]\npage_id = 1\ntoken = \"u\"\n",
        )
        .unwrap_err();
        assert!(err.contains("page_id 1 appears twice"), "{err}");
    }

    #[test]
    fn an_account_needs_exactly_one_usable_token_source() {
        let err = accounts_config("[[account]]\npage_id = \"1\"\n").unwrap_err();
        assert!(err.contains("exactly one token source, but 0"), "{err}");
        let err =
            accounts_config("[[account]]\npage_id = \"1\"\ntoken = \"t\"\ntoken_env = \"X\"\n")
                .unwrap_err();
        assert!(err.contains("exactly one token source, but 2"), "{err}");
        let err = accounts_config(
            "[[account]]\npage_id = \"1\"\ntoken_env = \"HOOKLINE_TEST_VARIABLE_THAT_IS_NEVER_SET\"\n",
        )
        .unwrap_err();
        assert!(
            err.contains("HOOKLINE_TEST_VARIABLE_THAT_IS_NEVER_SET is not set")
                && err.contains("export it"),
            "{err}"
        );
        let err =
            accounts_config("[[account]]\npage_id = \"1\"\ntoken_file = \"/nonexistent/token\"\n")
                .unwrap_err();
        assert!(
            err.contains("cannot read token_file /nonexistent/token"),
            "{err}"
        );
        let empty = file("\n");
        let err = accounts_config(&format!(
            "[[account]]\npage_id = \"1\"\ntoken_file = {:?}\n",
            empty.path().display().to_string()
        ))
        .unwrap_err();
        assert!(
            err.contains("page_id 1") && err.contains("token is empty"),
            "{err}"
        );
    }

    #[test]
    fn unknown_fields_are_refused_naming_the_known_ones() {
        let err = accounts_config(
            "[[account]]\npage_id = \"1\"\ntoken = \"t\"\nfields = [\"messages\", \"mesages\"]\n",
        )
        .unwrap_err();
        assert!(err.contains("unknown webhook field(s) mesages"), "{err}");
        assert!(
            err.contains("message_echoes") && err.contains("calls"),
            "{err}"
        );
        // Instagram Login names some fields differently: the Page spelling is refused there.
        let err = accounts_config(
            "[[account]]\ninstagram_id = \"2\"\ntoken = \"t\"\nfields = [\"messaging_referrals\"]\n",
        )
        .unwrap_err();
        assert!(
            err.contains("messaging_referrals") && err.contains("messaging_referral,"),
            "{err}"
        );
        let err = accounts_config("[[account]]\npage_id = \"1\"\ntoken = \"t\"\nfields = []\n")
            .unwrap_err();
        assert!(err.contains("no webhook fields"), "{err}");
    }

    #[test]
    fn account_tokens_never_show_in_debug_output_or_errors() {
        let config =
            accounts_config("[[account]]\npage_id = \"1\"\ntoken = \"EAAsecret-token\"\n").unwrap();
        assert!(!format!("{config:?}").contains("EAAsecret-token"));
        assert!(!format!("{:?}", config.accounts().unwrap()).contains("EAAsecret-token"));
        let err =
            accounts_config("[[account]]\npage_id = \"1\"\ntoken = \"EAA secret\"\n").unwrap_err();
        assert!(
            !err.contains("EAA secret") && err.contains("spaces"),
            "{err}"
        );
    }
}
