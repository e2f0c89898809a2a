//! The NATS JetStream sink: each event is published to `<prefix>.<object>.<kind>` and counts as delivered
//! only once JetStream acknowledges that it is stored.
//!
//! Why JetStream and not core NATS: a core publish is fire-and-forget, so the worker could move its cursor
//! past an event nobody stored. The publish ack (`PubAck`) is a durable hand-off: after it, the event is in
//! the stream, and the outbox may forget it.
//!
//! Why `Nats-Msg-Id` is the dedup key: the outbox is at-least-once. A worker that crashes after the ack but
//! before it saves its cursor publishes the same events again when it restarts. JetStream drops a message
//! whose `Nats-Msg-Id` it has seen within the stream's duplicate window (2 minutes by default; NATS cautions
//! against large windows, since it keeps every id of the window in memory) and still acks it, with
//! `duplicate: true`. So a redelivery within the window is harmless, and one after it reaches consumers
//! twice: consumers that must be exact dedup on the `Nats-Msg-Id` header (or `dedup_key` in the body), as
//! HTTP consumers do on `webhook-id`.
//!
//! The body is the same JSON the HTTP sink POSTs ([`crate::payload`]), with `Content-Type:
//! application/json` and `hookline-event-id` (the store's event id) as headers. Each wait (sending, then
//! the ack) is bounded by [`NatsOptions::timeout`]. After the first connection the client reconnects by
//! itself; meanwhile attempts time out and are retried by the worker.

use std::time::Duration;

use async_nats::ConnectOptions;
use async_nats::header::{self, HeaderMap, HeaderValue};
use async_nats::jetstream::context::{CreateStreamErrorKind, PublishError, PublishErrorKind};
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType};
use async_nats::jetstream::{self, ErrorCode};

use hookline_meta::ParseOptions;
use hookline_store::StoredEvent;

use crate::config::DEFAULT_SUBJECT_PREFIX;
use crate::payload::ForwardedEvent;
use crate::sink::{BoxFuture, Outcome, Sink};

/// The header with the store's event id.
pub const EVENT_ID_HEADER: &str = "hookline-event-id";

/// How a [`NatsSink`] publishes.
#[derive(Clone, Debug)]
pub struct NatsOptions {
    /// Subjects are `<subject_prefix>.<object>.<kind>`; the prefix may hold several tokens (`acme.meta`).
    pub subject_prefix: String,
    /// A stream to get or create (over `<subject_prefix>.>`) when connecting; `None` leaves streams to the
    /// operator.
    pub stream: Option<String>,
    /// For connecting, for each JetStream request, and for each publish ack.
    pub timeout: Duration,
    /// How forwarded events are read again (the app ids that make an echo `this_app`), as ingest reads them.
    pub parse: ParseOptions,
}

impl Default for NatsOptions {
    fn default() -> Self {
        NatsOptions {
            subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
            stream: None,
            timeout: Duration::from_secs(30),
            parse: ParseOptions::default(),
        }
    }
}

/// A NATS sink could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error(
        "subject prefix {prefix:?} is not usable: {reason}; give a prefix like \"hookline\" or \"acme.meta\""
    )]
    BadPrefix {
        prefix: String,
        reason: &'static str,
    },
    #[error(
        "could not connect to NATS at {url}: {cause}; is nats-server running with JetStream (-js)?"
    )]
    Connect { url: String, cause: String },
    #[error(
        "could not get or create the JetStream stream {stream:?} over {subjects:?}: {cause}; {hint}"
    )]
    Stream {
        stream: String,
        subjects: String,
        cause: String,
        hint: &'static str,
    },
    #[error(
        "the JetStream stream {stream:?} exists but captures {subjects:?}, not {wanted:?}: add {wanted:?} to its \
         subjects (`nats stream edit {stream}`), or set stream to another name so hookline creates that one"
    )]
    StreamSubjects {
        stream: String,
        subjects: Vec<String>,
        wanted: String,
    },
}

/// Publishes events to JetStream.
#[derive(Clone, Debug)]
pub struct NatsSink {
    jetstream: jetstream::Context,
    prefix: String,
    timeout: Duration,
    parse: ParseOptions,
}

impl NatsSink {
    /// Connects to the NATS server at `url` and, when `options.stream` names one, gets or creates that
    /// stream over `<prefix>.>` (file storage, the server's default duplicate window).
    pub async fn connect(url: &str, options: NatsOptions) -> Result<NatsSink, NatsError> {
        let prefix = options.subject_prefix;
        if let Err(reason) = check_prefix(&prefix) {
            return Err(NatsError::BadPrefix { prefix, reason });
        }
        let client = ConnectOptions::new()
            .name(concat!("hookline/", env!("CARGO_PKG_VERSION")))
            .connection_timeout(options.timeout)
            .request_timeout(Some(options.timeout))
            .connect(url)
            .await
            .map_err(|err| NatsError::Connect {
                url: url.to_owned(),
                cause: err.to_string(),
            })?;
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(options.timeout)
            .build(client);
        if let Some(stream) = &options.stream {
            ensure_stream(&jetstream, stream, &prefix).await?;
        }
        Ok(NatsSink {
            jetstream,
            prefix,
            timeout: options.timeout,
            parse: options.parse,
        })
    }

    /// The subject `event` is published to.
    pub fn subject_of(&self, event: &StoredEvent) -> String {
        subject(&self.prefix, event.object.as_deref(), &event.kind)
    }

    /// Publishes once and waits for the ack.
    async fn publish(&self, subject: String, headers: HeaderMap, body: Vec<u8>) -> Outcome {
        let sent = self
            .jetstream
            .publish_with_headers(subject.clone(), headers, body.into())
            .await;
        let acked = match sent {
            Ok(ack) => ack.await,
            Err(err) => Err(err),
        };
        match acked {
            Ok(ack) => {
                if ack.duplicate {
                    tracing::debug!(%subject, stream = %ack.stream, seq = ack.sequence, "already in the stream (dedup by Nats-Msg-Id)");
                }
                Outcome::Delivered
            }
            Err(err) => self.judge(&subject, &err),
        }
    }

    fn judge(&self, subject: &str, err: &PublishError) -> Outcome {
        let retry = |reason: String| Outcome::Retry {
            reason,
            retry_after: None,
        };
        match err.kind() {
            PublishErrorKind::StreamNotFound => retry(format!(
                "no JetStream stream captures {subject} (NATS answered \"no responders\"): create a stream over \
                 \"{prefix}.>\" (`nats stream add NAME --subjects '{prefix}.>'`) or set stream = \"NAME\" in the \
                 sink config so hookline creates it; JetStream must be enabled (nats-server -js)",
                prefix = self.prefix
            )),
            PublishErrorKind::TimedOut => retry(format!(
                "no JetStream ack for {subject} within {:?}: is the NATS server reachable and the stream's \
                 storage healthy?",
                self.timeout
            )),
            PublishErrorKind::BrokenPipe => retry(format!(
                "the connection to NATS was lost before the ack for {subject}"
            )),
            // Retrying cannot help until the server's limit changes; `dlq retry` sends it again then.
            PublishErrorKind::MaxPayloadExceeded => Outcome::Dead {
                reason: format!(
                    "the event is larger than the NATS server's max_payload ({err}); raise max_payload in the \
                     nats-server config"
                ),
            },
            _ => retry(format!("publishing to {subject} failed: {err}")),
        }
    }
}

impl Sink for NatsSink {
    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let headers = match headers(event) {
                Ok(headers) => headers,
                Err(reason) => return Outcome::Dead { reason },
            };
            let body = ForwardedEvent::from_stored(event, &self.parse).to_bytes();
            self.publish(self.subject_of(event), headers, body).await
        })
    }
}

/// `Nats-Msg-Id` (the dedup key), `Content-Type` and the event id.
fn headers(event: &StoredEvent) -> Result<HeaderMap, String> {
    // `HeaderValue::from(&str)` panics on CR/LF; a dedup key never has them, but a sink must not panic.
    let id: HeaderValue = event.dedup_key.parse().map_err(|_| {
        format!(
            "the dedup key {:?} cannot be a Nats-Msg-Id header (it has a line break)",
            event.dedup_key
        )
    })?;
    let mut headers = HeaderMap::new();
    headers.insert(header::NATS_MESSAGE_ID, id);
    headers.insert("Content-Type", "application/json");
    headers.insert(EVENT_ID_HEADER, event.id.to_string().as_str());
    Ok(headers)
}

/// `<prefix>.<object>.<kind>`, with `object` and `kind` each made one valid token.
pub fn subject(prefix: &str, object: Option<&str>, kind: &str) -> String {
    format!(
        "{prefix}.{}.{}",
        token(object.unwrap_or_default()),
        token(kind)
    )
}

/// One NATS subject token: separators, wildcards, whitespace and control characters become `_`, and an
/// empty text is `unknown`.
fn token(text: &str) -> String {
    if text.is_empty() {
        return "unknown".to_owned();
    }
    text.chars()
        .map(|c| {
            let bad = matches!(c, '.' | '*' | '>') || c.is_whitespace() || c.is_control();
            if bad { '_' } else { c }
        })
        .collect()
}

/// Dot-separated tokens, none empty, with no wildcards, whitespace or control characters.
fn check_prefix(prefix: &str) -> Result<(), &'static str> {
    if prefix.split('.').any(str::is_empty) {
        return Err("it is empty, starts or ends with '.', or has '..'");
    }
    let bad = |c: char| matches!(c, '*' | '>') || c.is_whitespace() || c.is_control();
    if prefix.contains(bad) {
        return Err("it has a wildcard ('*', '>'), whitespace or a control character");
    }
    Ok(())
}

/// Gets or creates `name` over `<prefix>.>`, and checks that an existing one captures it.
async fn ensure_stream(
    jetstream: &jetstream::Context,
    name: &str,
    prefix: &str,
) -> Result<(), NatsError> {
    let wanted = format!("{prefix}.>");
    let config = StreamConfig {
        name: name.to_owned(),
        subjects: vec![wanted.clone()],
        storage: StorageType::File,
        ..StreamConfig::default()
    };
    let stream = jetstream
        .get_or_create_stream(config)
        .await
        .map_err(|err| NatsError::Stream {
            stream: name.to_owned(),
            subjects: wanted.clone(),
            hint: stream_hint(&err.kind()),
            cause: err.to_string(),
        })?;
    let info = stream.cached_info();
    if !info.config.subjects.iter().any(|s| captures(s, prefix)) {
        return Err(NatsError::StreamSubjects {
            stream: name.to_owned(),
            subjects: info.config.subjects.clone(),
            wanted,
        });
    }
    tracing::info!(stream = name, subjects = ?info.config.subjects, duplicate_window = ?info.config.duplicate_window, "NATS sink publishing to JetStream stream");
    Ok(())
}

fn stream_hint(kind: &CreateStreamErrorKind) -> &'static str {
    match kind {
        CreateStreamErrorKind::EmptyStreamName | CreateStreamErrorKind::InvalidStreamName => {
            "a stream name is letters, digits, '-' or '_' (no dots, spaces or wildcards)"
        }
        CreateStreamErrorKind::JetStream(err)
            if err.error_code() == ErrorCode::STREAM_SUBJECT_OVERLAP =>
        {
            "another stream already captures these subjects: set stream to that stream's name, or remove stream \
             from the sink config to publish into it"
        }
        CreateStreamErrorKind::JetStreamUnavailable | CreateStreamErrorKind::TimedOut => {
            "is JetStream enabled on the server (nats-server -js)?"
        }
        _ => "check the server log and the account's JetStream limits",
    }
}

/// Whether the stream subject `filter` takes every subject under `<prefix>.>` (`>`, `*.>`, the prefix's
/// own `>` or a shorter one's).
fn captures(filter: &str, prefix: &str) -> bool {
    let mut wanted = prefix.split('.').chain(std::iter::once(">"));
    for token in filter.split('.') {
        match (token, wanted.next()) {
            (">", Some(_)) => return true,
            (_, Some(">") | None) => return false,
            ("*", Some(_)) => {}
            (token, Some(want)) if token == want => {}
            _ => return false,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_is_prefix_object_kind() {
        assert_eq!(
            subject("hookline", Some("page"), "message"),
            "hookline.page.message"
        );
        assert_eq!(
            subject("acme.meta", Some("instagram"), "reaction"),
            "acme.meta.instagram.reaction"
        );
    }

    #[test]
    fn a_missing_or_empty_object_or_kind_is_unknown() {
        assert_eq!(subject("h", None, "message"), "h.unknown.message");
        assert_eq!(subject("h", Some(""), ""), "h.unknown.unknown");
    }

    #[test]
    fn separators_wildcards_whitespace_and_controls_become_underscores() {
        assert_eq!(subject("h", Some("pa.ge"), "a*b>c"), "h.pa_ge.a_b_c");
        assert_eq!(subject("h", Some("x y\tz"), "k\n\u{7}"), "h.x_y_z.k__");
        assert_eq!(subject("h", Some("."), ">"), "h._._");
        // Anything else, non-ASCII included, is a valid token and is kept.
        assert_eq!(
            subject("h", Some("whatsapp_business"), "réaction-2"),
            "h.whatsapp_business.réaction-2"
        );
    }

    #[test]
    fn every_subject_is_the_prefix_and_two_valid_tokens() {
        for object in ["", ".", "..", "a.b.c", "*", ">", " ", "ok"] {
            for kind in ["", ".", "x.y", "> *", "message"] {
                let s = subject("p", Some(object), kind);
                let tokens: Vec<&str> = s.split('.').collect();
                assert_eq!(tokens.len(), 3, "{s}");
                assert!(
                    tokens
                        .iter()
                        .all(|t| !t.is_empty() && *t != "*" && *t != ">"),
                    "{s}"
                );
            }
        }
    }

    #[test]
    fn prefixes_with_empty_tokens_or_wildcards_are_refused() {
        assert!(check_prefix("hookline").is_ok());
        assert!(check_prefix("acme.meta").is_ok());
        for bad in ["", ".a", "a.", "a..b", "a.*", "a.>", "a b", "a\tb"] {
            assert!(check_prefix(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_stream_captures_the_prefix_only_with_a_covering_full_wildcard() {
        assert!(captures("hookline.>", "hookline"));
        assert!(captures(">", "hookline"));
        assert!(captures("*.>", "hookline"));
        assert!(captures("acme.>", "acme.meta"));
        assert!(captures("acme.*.>", "acme.meta"));
        assert!(!captures("hookline", "hookline"));
        assert!(!captures("hookline.*", "hookline"));
        assert!(!captures("hookline.page.>", "hookline"));
        assert!(!captures("other.>", "hookline"));
        assert!(!captures("acme.>", "acmex"));
    }
}
