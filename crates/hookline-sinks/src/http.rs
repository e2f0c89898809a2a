//! One HTTP delivery attempt: POST the signed event, then judge the response.
//!
//! 2xx is delivered. 408, 429, 5xx, timeouts and connection errors are worth retrying. A 3xx is a failure
//! that is retried: redirects are not followed, since following one would send a signed event somewhere the
//! operator did not configure. Any other 4xx means the consumer rejects the event, so it is dead-lettered at
//! once unless the sink is told to retry those too.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::{CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER, USER_AGENT};
use reqwest::{Client, StatusCode, Url, redirect};

use hookline_meta::ParseOptions;
use hookline_store::StoredEvent;

use crate::payload::{ForwardedEvent, webhook_id};
use crate::signature::{SigningSecret, sign};
use crate::sink::{BoxFuture, Outcome, Sink};

/// How much of a response body a reason quotes.
const BODY_QUOTE: usize = 200;

const AGENT: &str = concat!("hookline/", env!("CARGO_PKG_VERSION"));

/// How long an attempt may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// To open the connection (TCP and TLS).
    pub connect: Duration,
    /// For the whole attempt, from connecting to the last byte of the response read.
    pub total: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            total: Duration::from_secs(30),
        }
    }
}

/// An HTTP sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("the sink URL {url:?} is not usable: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("could not set up the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
}

/// Where and how events are POSTed.
#[derive(Clone, Debug)]
pub struct HttpSink {
    client: Client,
    url: Url,
    secret: SigningSecret,
    retry_client_errors: bool,
    /// How forwarded events are read again (the app ids that make an echo `this_app`).
    parse: ParseOptions,
}

impl HttpSink {
    /// A sink that POSTs to `url` (http or https), signing with `secret`.
    pub fn new(url: &str, secret: SigningSecret, timeouts: Timeouts) -> Result<Self, SinkError> {
        let bad = |reason: String| SinkError::BadUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = Url::parse(url).map_err(|err| bad(err.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("only http and https URLs can be POSTed to".into()));
        }
        let client = Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.total)
            .redirect(redirect::Policy::none())
            .build()?;
        Ok(HttpSink {
            client,
            url: parsed,
            secret,
            retry_client_errors: false,
            parse: ParseOptions::default(),
        })
    }

    /// Retry 4xx responses (other than 408/429, which are always retried) instead of dead-lettering them.
    pub fn retry_client_errors(mut self, retry: bool) -> Self {
        self.retry_client_errors = retry;
        self
    }

    /// Reads events with these options (as ingest does), so echoes are classified the same way.
    pub fn parse_options(mut self, options: ParseOptions) -> Self {
        self.parse = options;
        self
    }

    /// The URL events are POSTed to.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// POSTs `body` once with the Standard Webhooks headers for `webhook_id` at `now`, and classifies the result.
    pub async fn post(&self, body: Vec<u8>, webhook_id: &str, now: SystemTime) -> Outcome {
        let timestamp = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = sign(&self.secret, webhook_id, timestamp, &body);
        let sent = self
            .client
            .post(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, AGENT)
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(response) => self.judge(response, now).await,
            Err(err) => Outcome::Retry {
                reason: transport_reason(&err),
                retry_after: None,
            },
        }
    }

    async fn judge(&self, response: reqwest::Response, now: SystemTime) -> Outcome {
        let status = response.status();
        if status.is_success() {
            return Outcome::Delivered;
        }
        let retry_after = retry_after(response.headers(), now);
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|l| l.to_str().ok())
            .map(str::to_owned);
        let quoted = quote_body(response).await;
        if status.is_redirection() {
            let to = location.map_or_else(String::new, |l| format!(" to {l}"));
            return Outcome::Retry {
                reason: format!("HTTP {status}{to}: redirects are not followed{quoted}"),
                retry_after: None,
            };
        }
        let reason = format!("HTTP {status}{quoted}");
        let always_retried = matches!(
            status,
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS
        );
        if status.is_client_error() && !always_retried && !self.retry_client_errors {
            return Outcome::Dead { reason };
        }
        Outcome::Retry {
            reason,
            retry_after,
        }
    }
}

impl Sink for HttpSink {
    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let body = ForwardedEvent::from_stored(event, &self.parse).to_bytes();
            self.post(body, &webhook_id(&event.dedup_key), SystemTime::now())
                .await
        })
    }
}

/// A short sentence for an attempt that got no response.
fn transport_reason(err: &reqwest::Error) -> String {
    if err.is_timeout() {
        "timed out before a response arrived".to_owned()
    } else if err.is_connect() {
        format!("could not connect: {}", source_chain(err))
    } else {
        format!("request failed: {}", source_chain(err))
    }
}

/// The error with its causes, which hold the useful part (refused, DNS, TLS).
fn source_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `: <first 200 bytes of the body>` (cut at a character boundary), or nothing for an empty body.
async fn quote_body(mut response: reqwest::Response) -> String {
    let mut bytes = Vec::new();
    // Read only what is quoted: a large error page must not hold the worker.
    while bytes.len() <= BODY_QUOTE {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let cut = bytes.len() > BODY_QUOTE;
    let text = String::from_utf8_lossy(&bytes);
    let mut end = text.len().min(BODY_QUOTE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let quoted = text[..end].trim();
    match (quoted.is_empty(), cut) {
        (true, _) => String::new(),
        (false, false) => format!(": {quoted}"),
        (false, true) => format!(": {quoted}..."),
    }
}

/// `Retry-After` as delta seconds or an HTTP-date (relative to `now`; a past date is zero).
fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        map.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
        map
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = UNIX_EPOCH + Duration::from_secs(1_767_610_000);
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            retry_after(&headers(&later), now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(retry_after(&headers(&past), now), Some(Duration::ZERO));
        assert_eq!(retry_after(&headers("soon"), now), None);
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn only_http_urls_make_a_sink() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert!(HttpSink::new("ftp://example.com/", secret.clone(), Timeouts::default()).is_err());
        assert!(HttpSink::new("not a url", secret.clone(), Timeouts::default()).is_err());
        assert!(HttpSink::new("https://crm.example/hooks", secret, Timeouts::default()).is_ok());
    }
}
