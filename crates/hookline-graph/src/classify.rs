//! From a Graph answer to a [`GraphError`]: reading Meta's error object and choosing the variant.
//!
//! Sources for the mapping: Graph API "Handling Errors" (codes 1, 2, 3, 4, 10, 17, 102, 190, 200-299,
//! 341), Graph API "Rate Limits" (4, 17, 32, 613 and the business use case codes 80000-80014),
//! Messenger Platform "Common Error Codes" and the Send API error codes (551, 1200, 100/2018001,
//! 10/2018065, 10/2018108, 10/2018278, 1545041), Page Messages reference (551, 613, 190, 200).

use std::time::Duration;

use reqwest::header::{HeaderMap, RETRY_AFTER};
use serde_json::Value;

use crate::error::{GraphError, MetaError};

/// Whether the call could deliver a message, which changes what an ambiguous failure means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// Reads, and writes that set state (subscribing twice subscribes once).
    Idempotent,
    /// A Send API call: done twice, the person gets two messages.
    Send,
}

/// Subcodes of code 10 that mean "outside the 24-hour window" in the Send API error codes.
const OUTSIDE_WINDOW_SUBCODES: [i64; 3] = [2018065, 2018108, 2018278];

/// Reads `{"error": {...}}` from a body, replacing `secret` wherever Meta's text quotes it (Graph's
/// "Malformed access token ..." messages echo the token).
pub(crate) fn parse_meta_error(status: u16, body: &[u8], secret: &str) -> Option<MetaError> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let error = value.get("error")?.as_object()?;
    let text = |key: &str| {
        error
            .get(key)
            .and_then(Value::as_str)
            .map(|s| redact(s, secret))
    };
    let number = |key: &str| {
        error.get(key).and_then(|v| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        })
    };
    Some(MetaError {
        status,
        code: number("code").unwrap_or(0),
        subcode: number("error_subcode"),
        kind: text("type"),
        message: text("message").unwrap_or_default(),
        user_title: text("error_user_title"),
        user_message: text("error_user_msg"),
        fbtrace_id: text("fbtrace_id"),
        is_transient: error
            .get("is_transient")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(secret, "***")
    }
}

/// Chooses the variant for Meta's error object. Order matters: rate-limit answers often carry
/// `is_transient: true`, and code 10 covers both the messaging window and missing permissions.
pub(crate) fn classify(meta: MetaError, headers: &HeaderMap, call: CallKind) -> GraphError {
    let code = meta.code;
    let subcode = meta.subcode;
    if matches!(code, 190 | 102 | 104) {
        return GraphError::InvalidToken {
            meta: Box::new(meta),
        };
    }
    if is_rate_limit(code) {
        return GraphError::RateLimited {
            code,
            retry_after: retry_after(headers),
            meta: Box::new(meta),
        };
    }
    if code == 10
        && (subcode.is_some_and(|s| OUTSIDE_WINDOW_SUBCODES.contains(&s))
            || meta.message.contains("outside of allowed window"))
    {
        return GraphError::OutsideMessagingWindow {
            meta: Box::new(meta),
        };
    }
    if code == 551 || subcode == Some(1545041) {
        return GraphError::UserUnavailable {
            meta: Box::new(meta),
        };
    }
    if code == 100 && subcode == Some(2018001) {
        return GraphError::UnknownRecipient {
            meta: Box::new(meta),
        };
    }
    if matches!(code, 3 | 10 | 200..=299) {
        let permission = named_permission(&meta.message);
        return GraphError::MissingPermission {
            permission,
            meta: Box::new(meta),
        };
    }
    if code == 100 {
        return GraphError::InvalidParameter {
            meta: Box::new(meta),
        };
    }
    // "The messages are all sent successfully, but the endpoint returns an error" (Messenger
    // "Common Error Codes", 1/1357046): after a send, an unknown error does not mean "not sent".
    if code == 1 && call == CallKind::Send {
        return GraphError::SendOutcomeUnknown {
            detail: "Graph answered with an unknown error, which it also does after messages that went out".into(),
            meta: Some(Box::new(meta)),
        };
    }
    if meta.is_transient || matches!(code, 1 | 2 | 1200) {
        return GraphError::Transient {
            meta: Box::new(meta),
        };
    }
    GraphError::Other {
        meta: Box::new(meta),
    }
}

fn is_rate_limit(code: i64) -> bool {
    matches!(code, 4 | 17 | 32 | 341 | 613 | 80000..=80014)
}

/// The permission a Graph message names, such as `pages_messaging` in
/// "(#200) Requires pages_messaging permission to manage the object".
fn named_permission(message: &str) -> Option<String> {
    const PREFIXES: [&str; 6] = [
        "pages_",
        "instagram_",
        "business_",
        "read_",
        "manage_",
        "publish_",
    ];
    message
        .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .find(|word| {
            PREFIXES
                .iter()
                .any(|p| word.len() > p.len() && word.starts_with(p))
        })
        .map(str::to_owned)
}

/// How long Meta asks to wait: the largest of `Retry-After` (seconds) and each
/// `estimated_time_to_regain_access` (minutes) in `X-Business-Use-Case-Usage`, whose value is
/// `{"<business id>": [{"type", "call_count", ..., "estimated_time_to_regain_access"}]}` (Graph API
/// "Rate Limits", headers).
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let usage = headers
        .get("x-business-use-case-usage")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| serde_json::from_str::<Value>(v).ok())
        .and_then(|v| {
            v.as_object()?
                .values()
                .filter_map(Value::as_array)
                .flatten()
                .filter_map(|entry| entry.get("estimated_time_to_regain_access")?.as_u64())
                .max()
        })
        .filter(|minutes| *minutes > 0)
        .map(|minutes| Duration::from_secs(minutes.saturating_mul(60)));
    header.max(usage)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn meta(code: i64, subcode: Option<i64>, message: &str, transient: bool) -> MetaError {
        MetaError {
            status: 400,
            code,
            subcode,
            kind: Some("OAuthException".into()),
            message: message.into(),
            user_title: None,
            user_message: None,
            fbtrace_id: None,
            is_transient: transient,
        }
    }

    fn class(code: i64, subcode: Option<i64>, message: &str) -> GraphError {
        classify(
            meta(code, subcode, message, false),
            &HeaderMap::new(),
            CallKind::Idempotent,
        )
    }

    #[test]
    fn rate_limits_win_over_is_transient() {
        let err = classify(
            meta(4, None, "(#4) Application request limit reached", true),
            &HeaderMap::new(),
            CallKind::Idempotent,
        );
        assert!(
            matches!(err, GraphError::RateLimited { code: 4, .. }),
            "{err:?}"
        );
    }

    #[test]
    fn code_10_is_the_window_only_with_a_window_subcode_or_message() {
        assert!(matches!(
            class(10, Some(2018278), "x"),
            GraphError::OutsideMessagingWindow { .. }
        ));
        assert!(matches!(
            class(10, Some(2018108), "x"),
            GraphError::OutsideMessagingWindow { .. }
        ));
        assert!(matches!(
            class(
                10,
                Some(2534022),
                "(#10) This message is sent outside of allowed window."
            ),
            GraphError::OutsideMessagingWindow { .. }
        ));
        assert!(matches!(
            class(
                10,
                None,
                "(#10) Application does not have permission for this action"
            ),
            GraphError::MissingPermission {
                permission: None,
                ..
            }
        ));
    }

    #[test]
    fn permission_errors_name_the_permission_when_meta_does() {
        let err = class(
            200,
            None,
            "(#200) Requires pages_messaging permission to manage the object",
        );
        match err {
            GraphError::MissingPermission { permission, .. } => {
                assert_eq!(permission.as_deref(), Some("pages_messaging"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn unknown_error_after_a_send_is_not_called_a_failure() {
        let err = classify(
            meta(1, None, "An unknown error occurred", false),
            &HeaderMap::new(),
            CallKind::Send,
        );
        assert!(
            matches!(err, GraphError::SendOutcomeUnknown { meta: Some(_), .. }),
            "{err:?}"
        );
        assert!(!err.is_retryable());
        assert!(matches!(
            class(1, None, "An unknown error occurred"),
            GraphError::Transient { .. }
        ));
    }

    #[test]
    fn parses_numbers_sent_as_strings_and_redacts_the_token() {
        let body = br#"{"error":{"message":"Malformed access token EAAsecret99","type":"OAuthException","code":"190","error_subcode":"467","fbtrace_id":"AbC"}}"#;
        let meta = parse_meta_error(400, body, "EAAsecret99").unwrap();
        assert_eq!((meta.code, meta.subcode), (190, Some(467)));
        assert_eq!(meta.message, "Malformed access token ***");
        assert_eq!(
            parse_meta_error(502, b"<html>Bad gateway</html>", "x"),
            None
        );
        assert_eq!(parse_meta_error(400, br#"{"error":"nope"}"#, "x"), None);
    }

    #[test]
    fn retry_after_takes_the_longest_wait_meta_names() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-business-use-case-usage",
            HeaderValue::from_static(
                r#"{"1122":[{"type":"messenger","call_count":100,"total_cputime":3,"total_time":4,"estimated_time_to_regain_access":15},{"type":"pages","call_count":20,"estimated_time_to_regain_access":0}]}"#,
            ),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(15 * 60)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3600"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(3600)));
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
