//! The server's settings, in rising priority: built-in defaults, a TOML file, then overrides (the binary
//! passes `HOOKLINE_*` environment variables and command-line flags, already merged by clap), then
//! [`Config::validate`].
//!
//! Secrets are [`Secret`]s, so `{:?}` of a config (and any log line) never shows them.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use hookline_meta::Secret;
use hookline_sinks::SinkConfig;
use hookline_store::StoreUrl;
use serde::{Deserialize, Deserializer, Serialize};

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
}

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
        let config: Config = figment
            .extract()
            .map_err(|err| ConfigError::Load(format!("invalid configuration: {err}")))?;
        config.validate()?;
        Ok(config)
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
        })
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
    }

    #[test]
    fn the_example_sinks_load_with_every_setting_uncommented() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../hookline.example.toml");
        let text = std::fs::read_to_string(path).unwrap();
        let sinks = &text[text.find("# [[sink]]").unwrap()..];
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
}
