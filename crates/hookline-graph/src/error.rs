//! What can go wrong with a Graph call, as values a caller can match, each with a message that says
//! what was wrong and what to do.
//!
//! Graph errors arrive as `{"error": {"message", "type", "code", "error_subcode", "fbtrace_id",
//! "is_transient", "error_user_title", "error_user_msg"}}` (Graph API "Handling Errors"). The body is
//! kept whole in [`MetaError`]; the `classify` module decides which [`GraphError`] variant it is.

use std::fmt;
use std::time::Duration;

use crate::request::InvalidRequest;

/// Graph's error object, as Meta sent it (with the caller's token, should Meta echo it, replaced by
/// `***`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetaError {
    /// The HTTP status of the answer.
    pub status: u16,
    /// `code`: the error family (190 token, 200-299 permission, 4/17/32/613 rate limits, ...).
    pub code: i64,
    /// `error_subcode`, which narrows the family (2018278: outside the messaging window, ...).
    pub subcode: Option<i64>,
    /// `type`, usually `OAuthException`.
    pub kind: Option<String>,
    /// `message`: Meta's own description, in English.
    pub message: String,
    /// `error_user_title`, when Meta provides one.
    pub user_title: Option<String>,
    /// `error_user_msg`, when Meta provides one.
    pub user_message: Option<String>,
    /// `fbtrace_id`: quote it when asking Meta for support; it expires soon.
    pub fbtrace_id: Option<String>,
    /// `is_transient`: Meta's hint that the same request may succeed later.
    pub is_transient: bool,
}

impl MetaError {
    /// `190/463` or `190`.
    pub fn code_text(&self) -> String {
        match self.subcode {
            Some(sub) => format!("{}/{sub}", self.code),
            None => self.code.to_string(),
        }
    }
}

impl fmt::Display for MetaError {
    /// `Graph error 190/463, OAuthException: "<message>"; fbtrace_id <id>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Graph error {}", self.code_text())?;
        if let Some(kind) = &self.kind {
            write!(f, ", {kind}")?;
        }
        write!(f, ": {:?}", self.message)?;
        if let Some(user) = &self.user_message {
            write!(f, " ({user:?})")?;
        }
        if let Some(trace) = &self.fbtrace_id {
            write!(f, "; fbtrace_id {trace}")?;
        }
        Ok(())
    }
}

/// A failed Graph call. See the crate README for the table of which Graph codes land where.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GraphError {
    /// 190 (and 102, 104): the token is invalid, expired, revoked or missing.
    InvalidToken { meta: Box<MetaError> },
    /// 10, 3 and 200-299: a permission is not granted, was revoked, or is not approved for the app.
    /// `permission` is the permission Meta's message names, when it names one.
    MissingPermission {
        permission: Option<String>,
        meta: Box<MetaError>,
    },
    /// 4 (app), 17 (user), 32 (Page), 613 (custom), 341 (application limit) and 80000-80014 (business
    /// use case limits; 80006 is Messenger, 80002 Instagram). `retry_after` is when Meta says access
    /// returns (`X-Business-Use-Case-Usage` `estimated_time_to_regain_access`, or `Retry-After`).
    RateLimited {
        code: i64,
        retry_after: Option<Duration>,
        meta: Box<MetaError>,
    },
    /// 10 with subcode 2018278, 2018065 or 2018108 (or Meta's "outside of allowed window" message):
    /// the person's last message is more than 24 hours old.
    OutsideMessagingWindow { meta: Box<MetaError> },
    /// 551, or subcode 1545041: "This person isn't available right now."
    UserUnavailable { meta: Box<MetaError> },
    /// 100 with subcode 2018001: "No matching user found" for this recipient id.
    UnknownRecipient { meta: Box<MetaError> },
    /// 100: a parameter of the request was rejected.
    InvalidParameter { meta: Box<MetaError> },
    /// `is_transient`, 2 ("Please retry your request later"), 1200 ("Temporary send message
    /// failure"), or 1 outside a send: a temporary failure on Meta's side.
    Transient { meta: Box<MetaError> },
    /// Any other Graph error; `meta` has its code, subcode, message and fbtrace_id.
    Other { meta: Box<MetaError> },
    /// The request was refused here, before anything was sent.
    InvalidRequest(#[from] InvalidRequest),
    /// A non-2xx answer without a Graph error object (an HTML page from a proxy, say).
    Http { status: u16, body: String },
    /// No answer arrived. `connect` is true when the connection could not even be opened.
    Transport { connect: bool, detail: String },
    /// A send whose fate is unknown: it timed out or broke after the request left, or Graph answered
    /// in a way that does not rule out delivery. Never retried, to never deliver a message twice.
    SendOutcomeUnknown {
        detail: String,
        meta: Option<Box<MetaError>>,
    },
    /// A 2xx answer this client cannot read.
    UnexpectedResponse { status: u16, detail: String },
}

impl GraphError {
    /// Whether trying the very same call again may succeed and is safe, which is what the client's own
    /// backoff retries:
    ///
    /// - [`Transient`](Self::Transient): Meta's docs say "wait and retry" for codes 1 and 2, "Please try
    ///   again later" for 1200, and set `is_transient` when a retry can help.
    /// - [`Http`](Self::Http) with a 5xx or 408 status, and [`Transport`](Self::Transport): the call did
    ///   not get a Graph answer. Sends never see these as retryable: an ambiguous send becomes
    ///   [`SendOutcomeUnknown`](Self::SendOutcomeUnknown), and only a refused connection stays
    ///   `Transport`.
    ///
    /// [`RateLimited`](Self::RateLimited) is not retryable here: Graph counts calls over an hour (app and
    /// user limits) or 24 hours (business use case limits), so a retry within seconds fails again and
    /// uses up more of the limit. It carries `retry_after` for a caller that schedules work for later.
    pub fn is_retryable(&self) -> bool {
        match self {
            GraphError::Transient { .. } | GraphError::Transport { .. } => true,
            GraphError::Http { status, .. } => *status >= 500 || *status == 408,
            _ => false,
        }
    }

    /// Meta's error object, when Graph answered with one.
    pub fn meta(&self) -> Option<&MetaError> {
        match self {
            GraphError::InvalidToken { meta }
            | GraphError::MissingPermission { meta, .. }
            | GraphError::RateLimited { meta, .. }
            | GraphError::OutsideMessagingWindow { meta }
            | GraphError::UserUnavailable { meta }
            | GraphError::UnknownRecipient { meta }
            | GraphError::InvalidParameter { meta }
            | GraphError::Transient { meta }
            | GraphError::Other { meta } => Some(meta.as_ref()),
            GraphError::SendOutcomeUnknown { meta, .. } => meta.as_deref(),
            _ => None,
        }
    }

    /// Graph's error code, when Graph answered with one.
    pub fn code(&self) -> Option<i64> {
        self.meta().map(|m| m.code)
    }

    /// The `fbtrace_id` to quote to Meta support.
    pub fn fbtrace_id(&self) -> Option<&str> {
        self.meta().and_then(|m| m.fbtrace_id.as_deref())
    }

    /// How long Meta asked to wait, for rate limits.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            GraphError::RateLimited { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphError::InvalidToken { meta } => write!(
                f,
                "the access token is invalid, expired or revoked ({meta}): generate a new Page access token \
                 (or Instagram User access token) for this account and use it instead"
            ),
            GraphError::MissingPermission { permission, meta } => {
                let which = permission
                    .as_deref()
                    .map_or_else(String::new, |p| format!(" ({p})"));
                write!(
                    f,
                    "the access token lacks a permission this call needs{which} ({meta}): log in again granting \
                     it, make sure the app has it approved (Advanced Access to serve other people's accounts), \
                     and use the new token"
                )
            }
            GraphError::RateLimited {
                code,
                retry_after,
                meta,
            } => {
                let wait = retry_after.map_or_else(
                    || "until usage drops below the limit".to_owned(),
                    |d| format!("about {} minute(s)", d.as_secs().div_ceil(60).max(1)),
                );
                write!(
                    f,
                    "Graph is rate-limiting {} ({meta}): pause these calls for {wait}, then call less often",
                    rate_limit_scope(*code)
                )
            }
            GraphError::OutsideMessagingWindow { meta } => write!(
                f,
                "Meta refused the message because the person's last message is more than 24 hours old ({meta}): \
                 reply after they write again, or, if a human agent is answering, send with messaging_type \
                 MESSAGE_TAG and tag HUMAN_AGENT (allowed up to 7 days after their message)"
            ),
            GraphError::UserUnavailable { meta } => write!(
                f,
                "the recipient cannot receive messages from this account right now ({meta}): they may have \
                 blocked it or turned its messages off; do not retry, wait until they write again"
            ),
            GraphError::UnknownRecipient { meta } => write!(
                f,
                "Graph knows no person with this recipient id for this account ({meta}): use the sender id \
                 (PSID or IGSID) from a webhook event of this same Page or Instagram account, since ids are \
                 scoped to one account"
            ),
            GraphError::InvalidParameter { meta } => write!(
                f,
                "Graph rejected a parameter of the request ({meta}): correct the parameter Meta's message names"
            ),
            GraphError::Transient { meta } => write!(
                f,
                "Graph reported a temporary failure ({meta}): try again later; if it persists, check the Meta \
                 developer platform status page"
            ),
            GraphError::Other { meta } => write!(
                f,
                "Graph refused the call ({meta}): see Meta's message, and look the code up in Meta's Graph API \
                 error reference"
            ),
            GraphError::InvalidRequest(err) => err.fmt(f),
            GraphError::Http { status, body } => {
                let quoted = if body.is_empty() {
                    String::new()
                } else {
                    format!(": {body:?}")
                };
                let advice = if *status >= 500 {
                    "Graph or a proxy in front of it is failing; try again later"
                } else {
                    "check that the Graph URL points at a Graph API"
                };
                write!(
                    f,
                    "Graph answered HTTP {status} without a Graph error object{quoted}: {advice}"
                )
            }
            GraphError::Transport {
                connect: true,
                detail,
            } => write!(
                f,
                "could not connect to Graph ({detail}): check the network and the Graph URL"
            ),
            GraphError::Transport {
                connect: false,
                detail,
            } => write!(
                f,
                "the Graph call failed before an answer arrived ({detail}): try again"
            ),
            GraphError::SendOutcomeUnknown { detail, meta } => {
                let meta = meta.as_ref().map_or_else(String::new, |m| format!("; {m}"));
                write!(
                    f,
                    "the message may or may not have been delivered ({detail}{meta}): do not resend blindly; \
                     wait for the message_echoes webhook carrying this message's metadata, and resend only if \
                     none arrives"
                )
            }
            GraphError::UnexpectedResponse { status, detail } => write!(
                f,
                "Graph answered HTTP {status} with something this client cannot read ({detail}): check that \
                 the Graph URL and version point at a Graph API"
            ),
        }
    }
}

/// Whose limit a rate-limit code is about (Graph API "Rate Limits" and "Handling Errors").
fn rate_limit_scope(code: i64) -> &'static str {
    match code {
        4 => "this app (application-level limit, code 4)",
        17 => "this user (user-level limit, code 17)",
        32 => "this Page (Page-level limit, code 32)",
        613 => "these calls (custom limit, code 613)",
        341 => "this app (application limit reached, code 341)",
        80006 => "messages of this Page (Messenger business use case limit, code 80006)",
        80002 => "this Instagram account (Instagram business use case limit, code 80002)",
        80001 => "this Page (Pages business use case limit, code 80001)",
        _ => "these calls (business use case limit)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(code: i64, subcode: Option<i64>) -> MetaError {
        MetaError {
            status: 400,
            code,
            subcode,
            kind: Some("OAuthException".into()),
            message: "Invalid OAuth access token.".into(),
            user_title: None,
            user_message: None,
            fbtrace_id: Some("BLBz/WZt8dN".into()),
            is_transient: false,
        }
    }

    #[test]
    fn meta_display_keeps_code_subcode_message_and_trace() {
        assert_eq!(
            meta(190, Some(1234567)).to_string(),
            "Graph error 190/1234567, OAuthException: \"Invalid OAuth access token.\"; fbtrace_id BLBz/WZt8dN"
        );
    }

    #[test]
    fn every_message_says_what_to_do() {
        let errors = [
            GraphError::InvalidToken {
                meta: Box::new(meta(190, None)),
            },
            GraphError::RateLimited {
                code: 613,
                retry_after: Some(Duration::from_secs(90)),
                meta: Box::new(meta(613, None)),
            },
            GraphError::Http {
                status: 502,
                body: "<html>".into(),
            },
            GraphError::SendOutcomeUnknown {
                detail: "timed out".into(),
                meta: None,
            },
        ];
        let advice = [
            "generate a new",
            "pause these calls for about 2 minute(s)",
            "try again later",
            "do not resend blindly",
        ];
        for (err, advice) in errors.iter().zip(advice) {
            assert!(err.to_string().contains(advice), "{err}");
        }
    }

    #[test]
    fn only_temporary_failures_are_retryable() {
        let retryable = [
            GraphError::Transient {
                meta: Box::new(meta(2, None)),
            },
            GraphError::Http {
                status: 503,
                body: String::new(),
            },
            GraphError::Transport {
                connect: true,
                detail: String::new(),
            },
        ];
        assert!(retryable.iter().all(GraphError::is_retryable));
        let final_ = [
            GraphError::InvalidToken {
                meta: Box::new(meta(190, None)),
            },
            GraphError::RateLimited {
                code: 4,
                retry_after: None,
                meta: Box::new(meta(4, None)),
            },
            GraphError::UserUnavailable {
                meta: Box::new(meta(551, None)),
            },
            GraphError::Http {
                status: 404,
                body: String::new(),
            },
            GraphError::SendOutcomeUnknown {
                detail: String::new(),
                meta: None,
            },
        ];
        assert!(final_.iter().all(|e| !e.is_retryable()));
    }
}
