//! Scripted bad answers: Graph errors as Meta words them, bare HTTP failures, and silence.

use serde_json::{Value, json};

/// The `fbtrace_id` the mock puts in its errors, so tests can check it is carried through.
pub const MOCK_TRACE_ID: &str = "AmockTrace-1";

/// An answer [`MockGraph`](super::MockGraph) gives instead of the real one.
#[derive(Clone, Debug, PartialEq)]
pub enum MockFailure {
    /// A Graph error: `body` is the whole JSON answer, usually `{"error": {...}}`.
    Graph {
        status: u16,
        body: Value,
        headers: Vec<(String, String)>,
    },
    /// A non-Graph answer, such as a proxy's HTML error page.
    Http { status: u16, body: String },
    /// No answer at all: the connection stays open until the client gives up.
    NoAnswer,
}

impl MockFailure {
    /// A Graph error object with `type: OAuthException` and the mock's fbtrace_id.
    pub fn graph(status: u16, code: i64, subcode: Option<i64>, message: &str) -> Self {
        let mut error = json!({
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": MOCK_TRACE_ID,
        });
        if let Some(subcode) = subcode {
            error["error_subcode"] = subcode.into();
        }
        MockFailure::Graph {
            status,
            body: json!({ "error": error }),
            headers: Vec::new(),
        }
    }

    /// 190/463: an expired token.
    pub fn invalid_token() -> Self {
        MockFailure::graph(
            400,
            190,
            Some(463),
            "Error validating access token: Session has expired on Tuesday, 10-Feb-26 10:00:00 PST. The current time is Tuesday, 10-Feb-26 11:00:00 PST.",
        )
    }

    /// 200: `permission` is not granted.
    pub fn missing_permission(permission: &str) -> Self {
        MockFailure::graph(
            403,
            200,
            None,
            &format!("(#200) Requires {permission} permission to manage the object"),
        )
    }

    /// A rate limit with `code` (4, 17, 32, 613, 80006, ...). With `regain_minutes`, the answer carries
    /// an `X-Business-Use-Case-Usage` header naming that wait.
    pub fn rate_limited(code: i64, regain_minutes: Option<u64>) -> Self {
        let failure = MockFailure::graph(
            400,
            code,
            None,
            &format!("(#{code}) Calls to this api have exceeded the rate limit."),
        );
        match regain_minutes {
            Some(minutes) => failure.with_header(
                "x-business-use-case-usage",
                &json!({ "1234567": [{ "type": "messenger", "call_count": 100, "total_cputime": 12, "total_time": 14, "estimated_time_to_regain_access": minutes }] })
                    .to_string(),
            ),
            None => failure,
        }
    }

    /// 10/2018278: the person's last message is more than 24 hours old.
    pub fn outside_window() -> Self {
        MockFailure::graph(
            400,
            10,
            Some(2018278),
            "(#10) This message is sent outside of allowed window. Learn more about the new policy here: https://developers.facebook.com/docs/messenger-platform/policy-overview",
        )
    }

    /// 551/1545041: "This person isn't available right now."
    pub fn user_unavailable() -> Self {
        MockFailure::graph(
            400,
            551,
            Some(1545041),
            "(#551) This person isn't available right now.",
        )
    }

    /// 2 with `is_transient`, over HTTP 500: a temporary failure Meta says to retry.
    pub fn transient() -> Self {
        let mut failure = MockFailure::graph(
            500,
            2,
            None,
            "An unexpected error has occurred. Please retry your request later.",
        );
        if let MockFailure::Graph { body, .. } = &mut failure {
            body["error"]["is_transient"] = true.into();
        }
        failure
    }

    /// An HTML error page with `status`, as a proxy in front of Graph would send.
    pub fn server_error(status: u16) -> Self {
        MockFailure::Http {
            status,
            body: format!("<html><body><h1>{status}</h1>upstream unavailable</body></html>"),
        }
    }

    /// Adds a response header to a Graph error.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        if let MockFailure::Graph { headers, .. } = &mut self {
            headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }
}
