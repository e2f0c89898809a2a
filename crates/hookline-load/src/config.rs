//! [`LoadConfig`]: what to load, how hard and for how long.

use std::fmt;
use std::time::Duration;

use crate::error::LoadError;

/// Settings of one run. [`LoadConfig::new`] gives the defaults; set fields directly.
#[derive(Clone)]
pub struct LoadConfig {
    /// `http://host[:port][/path]`. `https` is refused: see [`LoadError::Https`].
    pub url: String,
    /// App secret: when set, every request carries `X-Hub-Signature-256` over its exact body.
    pub secret: Option<Vec<u8>>,
    /// Keep-alive connections, each with one request in flight. Default 64.
    pub connections: usize,
    /// Open loop at this many requests per second; `None` for the closed loop.
    pub rate: Option<f64>,
    /// Stop taking new requests after this long. Default 10 s.
    pub duration: Option<Duration>,
    /// Stop after exactly this many requests (attempts, answered or not).
    pub requests: Option<u64>,
    /// Threads the connections are spread over, each with its own event loop. Default: one per
    /// available core; never more than `connections`.
    pub threads: usize,
    /// Per request: connecting, writing and reading the whole response. Default 5 s, the time Meta gives a
    /// receiver to answer.
    pub timeout: Duration,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Sent on every request; a `User-Agent` or `Content-Type` here replaces the default.
    pub headers: Vec<(String, String)>,
}

impl LoadConfig {
    pub fn new(url: impl Into<String>) -> LoadConfig {
        LoadConfig {
            url: url.into(),
            secret: None,
            connections: 64,
            rate: None,
            duration: Some(Duration::from_secs(10)),
            requests: None,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            timeout: Duration::from_secs(5),
            progress: false,
            headers: Vec::new(),
        }
    }

    /// Threads actually used: at least one, at most one per connection.
    pub fn effective_threads(&self) -> usize {
        self.threads.clamp(1, self.connections.max(1))
    }

    pub fn validate(&self) -> Result<(), LoadError> {
        if self.connections == 0 {
            return Err(LoadError::Config("connections must be at least 1"));
        }
        if let Some(rate) = self.rate
            && !(rate.is_finite() && rate > 0.0)
        {
            return Err(LoadError::Config("the rate must be a number above 0"));
        }
        if self.duration.is_none() && self.requests.is_none() {
            return Err(LoadError::Config("set a duration or a number of requests"));
        }
        if self.duration == Some(Duration::ZERO) || self.requests == Some(0) {
            return Err(LoadError::Config(
                "the duration and the number of requests must be above 0",
            ));
        }
        if self.timeout.is_zero() {
            return Err(LoadError::Config("the timeout must be above 0"));
        }
        Ok(())
    }
}

impl fmt::Debug for LoadConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadConfig")
            .field("url", &self.url)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .field("connections", &self.connections)
            .field("rate", &self.rate)
            .field("duration", &self.duration)
            .field("requests", &self.requests)
            .field("threads", &self.threads)
            .field("timeout", &self.timeout)
            .field("progress", &self.progress)
            .field("headers", &self.headers)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_run_for_ten_seconds() {
        let config = LoadConfig::new("http://127.0.0.1:8080/webhook");
        config.validate().unwrap();
        assert_eq!(config.duration, Some(Duration::from_secs(10)));
        assert!(config.threads >= 1);
    }

    #[test]
    fn runs_without_an_end_or_with_impossible_settings_are_refused() {
        let base = LoadConfig::new("http://127.0.0.1:8080/webhook");
        let cases: [fn(&mut LoadConfig); 5] = [
            |c| c.duration = None,
            |c| c.connections = 0,
            |c| c.rate = Some(0.0),
            |c| c.rate = Some(f64::NAN),
            |c| c.requests = Some(0),
        ];
        for change in cases {
            let mut config = base.clone();
            change(&mut config);
            assert!(config.validate().is_err(), "{config:?}");
        }
    }

    #[test]
    fn debug_output_hides_the_secret() {
        let mut config = LoadConfig::new("http://127.0.0.1:8080/webhook");
        config.secret = Some(b"very-secret".to_vec());
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("very-secret") && shown.contains("<redacted>"),
            "{shown}"
        );
    }

    #[test]
    fn threads_never_outnumber_connections() {
        let mut config = LoadConfig::new("http://127.0.0.1:8080/webhook");
        (config.threads, config.connections) = (8, 3);
        assert_eq!(config.effective_threads(), 3);
        config.threads = 0;
        assert_eq!(config.effective_threads(), 1);
    }
}
