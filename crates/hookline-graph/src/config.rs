//! Where Graph calls go, how long they may take, and how often a failed call is tried again.

use std::time::Duration;

use reqwest::Url;

/// Meta's Graph host for Pages, the Send API and Facebook-Login Instagram messaging.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";

/// The host of the Instagram API with Instagram Login ("All endpoints can be accessed via the
/// graph.instagram.com host", Instagram Platform "Setup Webhooks Subscriptions" and "Send Messages").
pub const DEFAULT_INSTAGRAM_BASE_URL: &str = "https://graph.instagram.com";

/// The newest Graph version when this crate was written: the Graph API changelog lists v26.0 as
/// introduced on July 29, 2026. A pinned version keeps request and webhook shapes stable; each version
/// stays available for about two years after the next one ships.
pub const DEFAULT_VERSION: &str = "v26.0";

/// Everything a [`GraphClient`](crate::GraphClient) needs to know before its first call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphConfig {
    /// Scheme and host (and optional path prefix) of the Graph API, without the version.
    pub base_url: String,
    /// Scheme and host of the Instagram-Login Graph API (`graph.instagram.com`).
    pub instagram_base_url: String,
    /// `vMAJOR.MINOR`, put first in every path.
    pub version: String,
    /// For a whole attempt: connecting, sending, and reading the answer.
    pub timeout: Duration,
    /// For opening the connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// How failed attempts are repeated.
    pub retry: RetryPolicy,
}

impl Default for GraphConfig {
    fn default() -> Self {
        GraphConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            instagram_base_url: DEFAULT_INSTAGRAM_BASE_URL.to_owned(),
            version: DEFAULT_VERSION.to_owned(),
            timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
        }
    }
}

impl GraphConfig {
    /// The defaults, with both hosts replaced by `url`: what `--graph-url` means, so that a local
    /// mock answers the Facebook and the Instagram-Login calls alike.
    pub fn with_base_url(url: impl Into<String>) -> Self {
        let url = url.into();
        GraphConfig {
            instagram_base_url: url.clone(),
            base_url: url,
            ..GraphConfig::default()
        }
    }

    /// The same configuration with another Graph version.
    pub fn version(mut self, version: impl Into<String>) -> Self {
        self.version = version.into();
        self
    }

    /// Checks every field and returns the parsed hosts.
    pub(crate) fn validate(&self) -> Result<(Url, Url), ConfigError> {
        let base = parse_base("base_url", &self.base_url)?;
        let instagram = parse_base("instagram_base_url", &self.instagram_base_url)?;
        if !is_version(&self.version) {
            return Err(ConfigError::Version(self.version.clone()));
        }
        if self.timeout.is_zero() || self.connect_timeout.is_zero() {
            return Err(ConfigError::ZeroTimeout);
        }
        if self.retry.max_attempts == 0 {
            return Err(ConfigError::NoAttempts);
        }
        Ok((base, instagram))
    }
}

/// Bounded exponential backoff with jitter, for the errors [`GraphError::is_retryable`](crate::GraphError::is_retryable)
/// accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included; 1 turns retries off.
    pub max_attempts: u32,
    /// The wait before the second attempt; it doubles for every attempt after that.
    pub base_delay: Duration,
    /// No single wait is longer than this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait after failed attempt number `attempt` (1-based): the doubled step capped at
    /// `max_delay`, of which the upper half is random, so that clients failing together do not retry
    /// together ("equal jitter").
    pub fn delay(&self, attempt: u32, rng: &mut fastrand::Rng) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        let step = self
            .base_delay
            .saturating_mul(1 << doublings)
            .min(self.max_delay);
        let half = step / 2;
        let spread = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(rng.u64(0..=spread))
    }
}

/// A [`GraphConfig`] that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error(
        "the Graph {field} {url:?} is not usable: {reason}; give a URL like https://graph.facebook.com (or http://127.0.0.1:PORT for a local mock)"
    )]
    BadUrl {
        field: &'static str,
        url: String,
        reason: String,
    },
    #[error(
        "the Graph version {0:?} is not of the form vMAJOR.MINOR; give one like {DEFAULT_VERSION}"
    )]
    Version(String),
    #[error("a Graph timeout of zero would fail every call; give a positive duration")]
    ZeroTimeout,
    #[error(
        "a retry policy of zero attempts would never call Graph; give max_attempts of 1 or more"
    )]
    NoAttempts,
    #[error("could not set up the HTTP client for Graph calls: {0}")]
    Client(String),
}

fn parse_base(field: &'static str, raw: &str) -> Result<Url, ConfigError> {
    let bad = |reason: &str| ConfigError::BadUrl {
        field,
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw).map_err(|err| bad(&err.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("only http and https are supported"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not carry a query or a fragment"));
    }
    if url.cannot_be_a_base() || url.host_str().is_none() {
        return Err(bad("it has no host"));
    }
    Ok(url)
}

fn is_version(version: &str) -> bool {
    let Some(rest) = version.strip_prefix('v') else {
        return false;
    };
    let mut parts = rest.split('.');
    let numeric =
        |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    numeric(parts.next()) && numeric(parts.next()) && parts.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_point_at_meta_with_a_pinned_version() {
        let config = GraphConfig::default();
        let (base, instagram) = config.validate().unwrap();
        assert_eq!(base.as_str(), "https://graph.facebook.com/");
        assert_eq!(instagram.as_str(), "https://graph.instagram.com/");
        assert_eq!(config.version, "v26.0");
    }

    #[test]
    fn with_base_url_points_both_hosts_at_the_same_place() {
        let config = GraphConfig::with_base_url("http://127.0.0.1:9");
        assert_eq!(config.base_url, "http://127.0.0.1:9");
        assert_eq!(config.instagram_base_url, "http://127.0.0.1:9");
    }

    #[test]
    fn rejects_versions_that_are_not_v_major_minor() {
        for bad in ["26.0", "v26", "v26.0.1", "v26.x", "", "latest"] {
            let config = GraphConfig::default().version(bad);
            assert_eq!(
                config.validate(),
                Err(ConfigError::Version(bad.into())),
                "{bad}"
            );
        }
        assert!(GraphConfig::default().version("v3.3").validate().is_ok());
    }

    #[test]
    fn rejects_urls_that_cannot_prefix_a_graph_path() {
        for bad in [
            "graph.facebook.com",
            "ftp://graph.facebook.com",
            "https://x/?a=b",
            "mailto:a@b",
        ] {
            let err = GraphConfig::with_base_url(bad).validate().unwrap_err();
            assert!(matches!(err, ConfigError::BadUrl { .. }), "{bad}: {err}");
            assert!(err.to_string().contains("give a URL like"), "{err}");
        }
    }

    #[test]
    fn rejects_zero_timeouts_and_zero_attempts() {
        let config = GraphConfig {
            timeout: Duration::ZERO,
            ..GraphConfig::default()
        };
        assert_eq!(config.validate(), Err(ConfigError::ZeroTimeout));
        let config = GraphConfig {
            retry: RetryPolicy {
                max_attempts: 0,
                ..RetryPolicy::default()
            },
            ..GraphConfig::default()
        };
        assert_eq!(config.validate(), Err(ConfigError::NoAttempts));
    }

    #[test]
    fn delays_double_stay_within_their_step_and_are_capped() {
        let policy = RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
        };
        let mut rng = fastrand::Rng::with_seed(7);
        for (attempt, step_ms) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (9, 1000)] {
            for _ in 0..50 {
                let delay = policy.delay(attempt, &mut rng);
                let step = Duration::from_millis(step_ms);
                assert!(
                    delay >= step / 2 && delay <= step,
                    "attempt {attempt}: {delay:?}"
                );
            }
        }
    }

    #[test]
    fn jitter_spreads_the_delays() {
        let policy = RetryPolicy::default();
        let mut rng = fastrand::Rng::with_seed(1);
        let delays: std::collections::HashSet<_> =
            (0..20).map(|_| policy.delay(2, &mut rng)).collect();
        assert!(delays.len() > 10, "{delays:?}");
    }
}
