//! One Graph call on the wire: the attempt, how its answer is read, and the bounded retries around it.
//!
//! The token travels only as `Authorization: Bearer`, never as the `access_token` parameter: a query
//! string ends up in proxy and access logs and in HTTP client error messages that quote the URL, and a
//! form body is easy to log whole. Graph accepts both (Meta's Instagram Platform examples send
//! `Authorization: Bearer`); CONTRACTS.md section 7 allows either.

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Client, Method};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::classify::{CallKind, classify, parse_meta_error};
use crate::config::RetryPolicy;
use crate::error::GraphError;
use crate::token::Token;

/// How much of an unreadable answer an error quotes.
const QUOTE: usize = 200;

/// The body of a call.
#[derive(Debug)]
pub(crate) enum Body {
    None,
    Form(String),
    Json(Vec<u8>),
}

/// Everything one call needs, ready to be sent as many times as the retry policy allows.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub method: Method,
    /// The full URL; it carries ids only, never the token.
    pub url: String,
    /// `METHOD /version/path`, for error messages.
    pub label: String,
    pub body: Body,
    pub token: &'a Token,
    pub kind: CallKind,
}

/// Runs `call` until it succeeds, fails for good, or uses up `policy`'s attempts.
pub(crate) async fn run<T: DeserializeOwned>(
    http: &Client,
    policy: &RetryPolicy,
    call: &Call<'_>,
) -> Result<T, GraphError> {
    let mut rng = fastrand::Rng::new();
    let mut attempt = 1;
    loop {
        match attempt_once(http, call).await {
            Err(err) if err.is_retryable() && attempt < policy.max_attempts => {
                tokio::time::sleep(policy.delay(attempt, &mut rng)).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

async fn attempt_once<T: DeserializeOwned>(
    http: &Client,
    call: &Call<'_>,
) -> Result<T, GraphError> {
    let mut request = http
        .request(call.method.clone(), &call.url)
        .bearer_auth(call.token.expose())
        .header(ACCEPT, "application/json");
    request = match &call.body {
        Body::None => request,
        Body::Form(form) => request
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(form.clone()),
        Body::Json(json) => request
            .header(CONTENT_TYPE, "application/json")
            .body(json.clone()),
    };
    let response = request
        .send()
        .await
        .map_err(|err| transport_error(&err, call))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .bytes()
        .await
        .map_err(|err| transport_error(&err, call))?;
    read_answer(status, &headers, &body, call)
}

/// Turns an answer into `T` or the error it carries.
fn read_answer<T: DeserializeOwned>(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    call: &Call<'_>,
) -> Result<T, GraphError> {
    let secret = call.token.expose();
    if let Some(meta) = parse_meta_error(status, body, secret) {
        return Err(classify(meta, headers, call.kind));
    }
    if !(200..300).contains(&status) {
        if call.kind == CallKind::Send && status >= 500 {
            // A gateway error may come after Graph accepted the message.
            return Err(GraphError::SendOutcomeUnknown {
                detail: format!("{}: HTTP {status} without a Graph error object", call.label),
                meta: None,
            });
        }
        return Err(GraphError::Http {
            status,
            body: quote(body, secret),
        });
    }
    serde_json::from_slice::<T>(body).map_err(|err| {
        let shown = serde_json::from_slice::<Value>(body).map_or_else(
            |_| quote(body, secret),
            |v| quote(v.to_string().as_bytes(), secret),
        );
        GraphError::UnexpectedResponse {
            status,
            detail: format!("{}: {err}; the answer was {shown:?}", call.label),
        }
    })
}

/// A failure before an answer was read. For a send, anything but a refused connection may have
/// delivered the message.
fn transport_error(err: &reqwest::Error, call: &Call<'_>) -> GraphError {
    let what = if err.is_timeout() {
        "timed out".to_owned()
    } else {
        cause_chain(err)
    };
    let detail = format!("{}: {what}", call.label);
    if err.is_connect() {
        GraphError::Transport {
            connect: true,
            detail,
        }
    } else if call.kind == CallKind::Send {
        GraphError::SendOutcomeUnknown { detail, meta: None }
    } else {
        GraphError::Transport {
            connect: false,
            detail,
        }
    }
}

/// The error's causes, which hold the useful part (refused, reset, TLS), without the URL reqwest adds.
fn cause_chain(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.is_empty() {
        "the request failed".to_owned()
    } else {
        text
    }
}

/// The first bytes of a body, cut at a character boundary, with the token masked.
fn quote(body: &[u8], secret: &str) -> String {
    let text = String::from_utf8_lossy(body);
    let mut end = text.len().min(QUOTE);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let cut = &text[..end];
    if secret.is_empty() {
        cut.to_owned()
    } else {
        cut.replace(secret, "***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::send::SendResponse;

    fn call(kind: CallKind, token: &Token) -> Call<'_> {
        Call {
            method: Method::POST,
            url: "http://127.0.0.1:9/v26.0/1/messages".into(),
            label: "POST /v26.0/1/messages".into(),
            body: Body::None,
            token,
            kind,
        }
    }

    #[test]
    fn a_gateway_error_after_a_send_is_an_unknown_outcome() {
        let token = Token::new("T").unwrap();
        let err = read_answer::<SendResponse>(
            502,
            &HeaderMap::new(),
            b"<html>",
            &call(CallKind::Send, &token),
        )
        .unwrap_err();
        assert!(
            matches!(err, GraphError::SendOutcomeUnknown { meta: None, .. }),
            "{err:?}"
        );
        let err = read_answer::<SendResponse>(
            502,
            &HeaderMap::new(),
            b"<html>",
            &call(CallKind::Idempotent, &token),
        )
        .unwrap_err();
        assert!(
            matches!(err, GraphError::Http { status: 502, .. }),
            "{err:?}"
        );
        assert!(err.is_retryable());
    }

    #[test]
    fn an_error_object_in_a_200_is_still_an_error() {
        let token = Token::new("T").unwrap();
        let body = br#"{"error":{"message":"(#100) Invalid parameter","type":"OAuthException","code":100}}"#;
        let err = read_answer::<SendResponse>(
            200,
            &HeaderMap::new(),
            body,
            &call(CallKind::Send, &token),
        )
        .unwrap_err();
        assert!(
            matches!(err, GraphError::InvalidParameter { .. }),
            "{err:?}"
        );
    }

    #[test]
    fn unreadable_success_quotes_the_answer_without_the_token() {
        let token = Token::new("EAAsecret").unwrap();
        let err = read_answer::<SendResponse>(
            200,
            &HeaderMap::new(),
            br#"{"echo":"EAAsecret"}"#,
            &call(CallKind::Send, &token),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(
            err,
            GraphError::UnexpectedResponse { status: 200, .. }
        ));
        assert!(
            text.contains("message_id") && !text.contains("EAAsecret"),
            "{text}"
        );
    }

    #[test]
    fn quotes_are_cut_at_a_character_boundary() {
        let body = "é".repeat(150);
        let quoted = quote(body.as_bytes(), "");
        assert_eq!(quoted.len(), 200);
        assert!(body.starts_with(&quoted));
    }
}
