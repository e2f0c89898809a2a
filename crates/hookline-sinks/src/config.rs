//! `[[sink]]` sections of the config file (CONTRACTS.md section 5), checked before anything starts.

use std::collections::HashSet;
use std::time::Duration;

use hookline_store::outbox::SinkStart;
use serde::{Deserialize, Deserializer};

use crate::filter::Filter;
use crate::http::Timeouts;
use crate::schedule::RetrySchedule;
use crate::signature::SigningSecret;

/// The default NATS subject prefix: subjects are `hookline.<object>.<kind>`.
pub const DEFAULT_SUBJECT_PREFIX: &str = "hookline";
/// Attempts one sink makes at the same time, by default.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// What kind of destination a sink is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkType {
    Http,
    Nats,
}

/// One `[[sink]]` section.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkConfig {
    /// Unique; used by `hookline sinks status`, `dlq` and `replay --to-sink`.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: SinkType,
    /// http: where events are POSTed; nats: the server URL.
    pub url: String,
    /// http: the Standard Webhooks secret (`whsec_` + base64 key).
    #[serde(default, deserialize_with = "signing_secret")]
    pub secret: Option<SigningSecret>,
    /// nats: subjects are `<prefix>.<object>.<kind>`.
    #[serde(default)]
    pub subject_prefix: Option<String>,
    /// nats: a JetStream stream to create (over `<prefix>.>`) at start-up if it does not exist.
    #[serde(default)]
    pub stream: Option<String>,
    #[serde(default, deserialize_with = "list")]
    pub kinds: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub objects: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub accounts: Vec<String>,
    #[serde(default, deserialize_with = "list")]
    pub channels: Vec<String>,
    #[serde(default)]
    pub include_standby: bool,
    #[serde(default)]
    pub include_echoes: bool,
    /// A conversation's events reach the sink one at a time, in order; other conversations go on.
    #[serde(default)]
    pub fifo: bool,
    /// Delays before each attempt, e.g. `["0s", "5s", "5m"]`; then dead letter.
    #[serde(default, deserialize_with = "optional_list")]
    pub retry_schedule: Option<Vec<String>>,
    /// http: retry 4xx answers (other than 408/429, always retried) instead of dead-lettering them.
    #[serde(default)]
    pub retry_client_errors: bool,
    /// http: time to connect, e.g. `"10s"`.
    #[serde(default)]
    pub connect_timeout: Option<String>,
    /// Time for a whole attempt, e.g. `"30s"`.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Attempts in flight at once.
    #[serde(default)]
    pub concurrency: Option<usize>,
    /// `"end"` (default: only events stored from the first start on) or `"beginning"` (every stored event).
    #[serde(default)]
    pub start: Option<String>,
    /// With several instances on one database: how long an instance's hold on the sink lasts without
    /// renewal, so how soon another takes over after it died, e.g. `"30s"`.
    #[serde(default)]
    pub lease: Option<String>,
}

/// A sink section that cannot be used, with what to change.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("sink {name:?}: {reason}")]
pub struct SinkConfigError {
    pub name: String,
    pub reason: String,
}

impl SinkConfig {
    /// Checks every sink and that names are unique.
    pub fn validate_all(sinks: &[SinkConfig]) -> Result<(), SinkConfigError> {
        let mut names = HashSet::new();
        for sink in sinks {
            sink.validate()?;
            if !names.insert(sink.name.as_str()) {
                return Err(sink.error(
                    "two [[sink]] sections have this name; give each sink its own name".into(),
                ));
            }
        }
        Ok(())
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), SinkConfigError> {
        self.check(is_name(&self.name), || {
            "a sink name must be letters, digits, '-' or '_' (it names the sink in the CLI and metrics)"
                .into()
        })?;
        match self.kind {
            SinkType::Http => self.check_http()?,
            SinkType::Nats => self.check_nats()?,
        }
        if let Some(prefix) = &self.subject_prefix {
            self.check(is_subject_prefix(prefix), || {
                format!(
                    "subject_prefix {prefix:?} is not a NATS subject prefix like \"hookline\" or \"acme.meta\" \
                     (no spaces, wildcards or leading/trailing dots)"
                )
            })?;
        }
        self.schedule()?;
        self.timeouts()?;
        self.lease()?;
        self.start_at()?;
        self.check(self.concurrency != Some(0), || {
            "concurrency must be at least 1".into()
        })
    }

    fn check_http(&self) -> Result<(), SinkConfigError> {
        let url = reqwest::Url::parse(&self.url);
        self.check(
            url.is_ok_and(|u| matches!(u.scheme(), "http" | "https")),
            || {
                format!(
                    "url {:?} is not an http:// or https:// URL; give the address events are POSTed to",
                    self.url
                )
            },
        )?;
        self.check(self.secret.is_some(), || {
            "an http sink needs secret = \"whsec_...\" (a Standard Webhooks secret: whsec_ + a base64 key, \
             e.g. from `openssl rand -base64 24`) so the consumer can verify what it receives"
                .into()
        })
    }

    fn check_nats(&self) -> Result<(), SinkConfigError> {
        self.check(!self.url.trim().is_empty(), || {
            "a nats sink needs url = \"nats://HOST:PORT\" (the NATS server)".into()
        })?;
        self.check(self.secret.is_none(), || {
            "secret is for http sinks; a nats sink publishes to the server it connects to".into()
        })
    }

    /// The retry schedule, the default when none is given.
    pub fn schedule(&self) -> Result<RetrySchedule, SinkConfigError> {
        match &self.retry_schedule {
            None => Ok(RetrySchedule::default()),
            Some(entries) => {
                RetrySchedule::parse(entries).map_err(|err| self.error(err.to_string()))
            }
        }
    }

    /// The HTTP timeouts, the defaults (10 s connect, 30 s total) for those not given.
    pub fn timeouts(&self) -> Result<Timeouts, SinkConfigError> {
        let default = Timeouts::default();
        Ok(Timeouts {
            connect: self
                .duration("connect_timeout", self.connect_timeout.as_deref())?
                .unwrap_or(default.connect),
            total: self
                .duration("timeout", self.timeout.as_deref())?
                .unwrap_or(default.total),
        })
    }

    /// The lease length, `None` for the worker's default (30 s).
    pub fn lease(&self) -> Result<Option<Duration>, SinkConfigError> {
        self.duration("lease", self.lease.as_deref())
    }

    pub fn start_at(&self) -> Result<SinkStart, SinkConfigError> {
        match self.start.as_deref() {
            None | Some("end") => Ok(SinkStart::End),
            Some("beginning") => Ok(SinkStart::Beginning),
            Some(other) => Err(self.error(format!(
                "start = {other:?} is not \"end\" (only events stored from now on) or \"beginning\" (every stored event)"
            ))),
        }
    }

    pub fn filter(&self) -> Filter {
        Filter {
            kinds: self.kinds.clone(),
            objects: self.objects.clone(),
            accounts: self.accounts.clone(),
            channels: self.channels.clone(),
            include_standby: self.include_standby,
            include_echoes: self.include_echoes,
        }
    }

    pub fn concurrency(&self) -> usize {
        self.concurrency.unwrap_or(DEFAULT_CONCURRENCY)
    }

    pub fn subject_prefix(&self) -> &str {
        self.subject_prefix
            .as_deref()
            .unwrap_or(DEFAULT_SUBJECT_PREFIX)
    }

    /// The duration `key` is set to, if it is: more than zero, like `"10s"`.
    fn duration(&self, key: &str, text: Option<&str>) -> Result<Option<Duration>, SinkConfigError> {
        let Some(text) = text else {
            return Ok(None);
        };
        match humantime::parse_duration(text) {
            Ok(d) if !d.is_zero() => Ok(Some(d)),
            Ok(_) => Err(self.error(format!("{key} must be more than zero"))),
            Err(err) => Err(self.error(format!(
                "{key} = {text:?} is not a duration like \"10s\" or \"1m\": {err}"
            ))),
        }
    }

    /// `Ok` when `ok` holds, else this sink's error with the reason `reason` gives.
    fn check(&self, ok: bool, reason: impl FnOnce() -> String) -> Result<(), SinkConfigError> {
        if ok {
            Ok(())
        } else {
            Err(self.error(reason()))
        }
    }

    fn error(&self, reason: String) -> SinkConfigError {
        SinkConfigError {
            name: self.name.clone(),
            reason,
        }
    }
}

/// Not empty, and only letters, digits, '-' and '_'.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Not empty, no leading or trailing dot, no wildcard or space.
fn is_subject_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && !prefix.starts_with('.')
        && !prefix.ends_with('.')
        && !prefix.contains(['*', '>', ' '])
}

fn signing_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SigningSecret>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    text.map(|t| SigningSecret::parse(&t).map_err(serde::de::Error::custom))
        .transpose()
}

/// A list given as an array or as one comma-separated string.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

fn list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        OneOrMany::Many(items) => items,
    })
}

fn optional_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    list(d).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(toml_text: &str) -> Result<SinkConfig, String> {
        let sink: SinkConfig = toml::from_str(toml_text).map_err(|e| e.to_string())?;
        sink.validate().map_err(|e| e.to_string())?;
        Ok(sink)
    }

    #[test]
    fn the_contract_example_is_valid() {
        let sink = parse(
            r#"
            name = "crm"
            type = "http"
            url = "https://crm.example/hooks"
            secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
            kinds = ["message", "postback"]
            objects = ["page", "instagram"]
            include_standby = false
            include_echoes = false
            "#,
        )
        .unwrap();
        assert_eq!(sink.kind, SinkType::Http);
        assert_eq!(sink.filter().kinds, ["message", "postback"]);
        assert_eq!(sink.schedule().unwrap(), RetrySchedule::default());
        assert_eq!(sink.start_at().unwrap(), SinkStart::End);
        let nats = parse(
            r#"
            name = "bus"
            type = "nats"
            url = "nats://127.0.0.1:4222"
            subject_prefix = "acme.meta"
            kinds = "message, reaction"
            "#,
        )
        .unwrap();
        assert_eq!(nats.subject_prefix(), "acme.meta");
        assert_eq!(nats.kinds, ["message", "reaction"]);
    }

    #[test]
    fn each_mistake_is_named_with_what_to_do() {
        let cases = [
            (
                r#"name = "a b"
                type = "http"
                url = "https://x.example/""#,
                "letters, digits",
            ),
            (
                r#"name = "crm"
                type = "http"
                url = "https://x.example/""#,
                "needs secret",
            ),
            (
                r#"name = "crm"
                type = "http"
                url = "ftp://x.example/"
                secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw""#,
                "not an http",
            ),
            (
                r#"name = "crm"
                type = "http"
                url = "https://x.example/"
                secret = "nope""#,
                "whsec_",
            ),
            (
                r#"name = "crm"
                type = "smtp"
                url = "x""#,
                "unknown variant",
            ),
            (
                r#"name = "crm"
                type = "nats"
                url = "nats://x"
                subjects = "typo""#,
                "unknown field",
            ),
            (
                r#"name = "crm"
                type = "nats"
                url = "nats://x"
                retry_schedule = ["5s", "soon"]"#,
                "soon",
            ),
            (
                r#"name = "crm"
                type = "nats"
                url = "nats://x"
                timeout = "0s""#,
                "more than zero",
            ),
            (
                r#"name = "crm"
                type = "nats"
                url = "nats://x"
                lease = "soon""#,
                "lease = \"soon\" is not a duration",
            ),
            (
                r#"name = "crm"
                type = "nats"
                url = "nats://x"
                start = "middle""#,
                "beginning",
            ),
            (
                r#"name = "crm"
                type = "nats"
                url = "nats://x"
                subject_prefix = "a.>""#,
                "wildcards",
            ),
        ];
        for (text, expected) in cases {
            let err = parse(text).expect_err(text);
            assert!(
                err.contains(expected),
                "{err:?} should mention {expected:?}"
            );
        }
    }

    #[test]
    fn names_must_be_unique() {
        let one = parse(
            r#"
            name = "bus"
            type = "nats"
            url = "nats://127.0.0.1:4222"
            "#,
        )
        .unwrap();
        let err = SinkConfig::validate_all(&[one.clone(), one]).unwrap_err();
        assert!(err.to_string().contains("two [[sink]] sections"), "{err}");
    }
}
