//! Every class of Graph error, from a realistic answer served by the mock through the real client:
//! the variant it becomes, whether it was retried (counted on the mock), and that its message keeps
//! Meta's text and fbtrace_id but never the token.

use std::time::Duration;

use hookline_graph::mock::{MockFailure, MockGraph, Route};
use hookline_graph::{GraphError, SendRequest};

mod support;
use support::{PAGE, PSID, TOKEN, fixture, fixture_message_and_trace, token};

/// Serves `name` for every call, makes one `subscribed_apps` read, and returns the error with the
/// number of attempts the mock saw.
async fn read_with(name: &str) -> (GraphError, usize) {
    let graph = MockGraph::start().await;
    let failure = fixture(name);
    graph.fail_next(10, failure.clone());
    let err = graph
        .client()
        .subscribed_apps(PAGE, &token())
        .await
        .unwrap_err();
    check_message(&err, &failure);
    (err, graph.requests().len())
}

/// The same for a send.
async fn send_with(name: &str) -> (GraphError, usize) {
    let graph = MockGraph::start().await;
    let failure = fixture(name);
    graph.fail_next(10, failure.clone());
    let request = SendRequest::text(PSID, "Your order has shipped").unwrap();
    let err = graph
        .client()
        .send(PAGE, &token(), &request)
        .await
        .unwrap_err();
    check_message(&err, &failure);
    (err, graph.requests().len())
}

fn check_message(err: &GraphError, failure: &MockFailure) {
    let (message, trace) = fixture_message_and_trace(failure);
    let text = err.to_string();
    let escaped = format!("{message:?}");
    assert!(
        text.contains(&escaped[1..escaped.len() - 1]),
        "Meta's message missing: {text}"
    );
    assert!(text.contains(&trace), "fbtrace_id missing: {text}");
    assert_eq!(err.fbtrace_id(), Some(trace.as_str()));
    assert!(!text.contains(TOKEN) && !format!("{err:?}").contains(TOKEN));
}

#[tokio::test]
async fn expired_and_invalid_tokens_say_to_generate_a_new_one_and_are_not_retried() {
    for name in ["token_expired", "token_invalid"] {
        let (err, attempts) = read_with(name).await;
        assert!(
            matches!(err, GraphError::InvalidToken { .. }),
            "{name}: {err:?}"
        );
        assert!(
            err.to_string().contains("generate a new Page access token"),
            "{err}"
        );
        assert_eq!(attempts, 1, "{name}");
    }
}

#[tokio::test]
async fn permission_errors_name_the_permission_when_meta_does() {
    let (err, attempts) = read_with("permission_named").await;
    match &err {
        GraphError::MissingPermission { permission, meta } => {
            assert_eq!(permission.as_deref(), Some("pages_messaging"));
            assert_eq!((meta.code, meta.status), (200, 403));
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("(pages_messaging)"), "{err}");
    assert_eq!(attempts, 1);

    let (err, _) = read_with("permission_denied").await;
    assert!(
        matches!(
            err,
            GraphError::MissingPermission {
                permission: None,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limits_of_every_scope_are_not_retried_in_process() {
    for (name, code) in [
        ("rate_app", 4),
        ("rate_user", 17),
        ("rate_page", 32),
        ("rate_custom", 613),
    ] {
        let (err, attempts) = read_with(name).await;
        assert!(
            matches!(err, GraphError::RateLimited { code: c, retry_after: None, .. } if c == code),
            "{name}: {err:?}"
        );
        assert!(!err.is_retryable());
        assert_eq!(attempts, 1, "{name}");
    }
}

#[tokio::test]
async fn business_use_case_limits_carry_the_wait_meta_announces() {
    let (err, attempts) = send_with("rate_messenger_buc").await;
    assert!(
        matches!(err, GraphError::RateLimited { code: 80006, .. }),
        "{err:?}"
    );
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12 * 60)));
    assert!(err.to_string().contains("about 12 minute(s)"), "{err}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn the_messaging_window_says_how_to_reach_the_person_again() {
    let (err, attempts) = send_with("outside_window").await;
    assert!(
        matches!(err, GraphError::OutsideMessagingWindow { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("HUMAN_AGENT"), "{err}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn unavailable_and_unknown_recipients_are_final() {
    let (err, attempts) = send_with("user_unavailable").await;
    assert!(matches!(err, GraphError::UserUnavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("do not retry"), "{err}");
    assert_eq!(attempts, 1);

    let (err, attempts) = send_with("no_matching_user").await;
    assert!(
        matches!(err, GraphError::UnknownRecipient { .. }),
        "{err:?}"
    );
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn invalid_parameters_and_policy_blocks_are_final() {
    let (err, attempts) = read_with("invalid_parameter").await;
    assert!(
        matches!(err, GraphError::InvalidParameter { .. }),
        "{err:?}"
    );
    assert_eq!(attempts, 1);

    let (err, attempts) = read_with("policy_block").await;
    assert!(
        matches!(&err, GraphError::Other { meta } if meta.code == 368),
        "{err:?}"
    );
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn temporary_failures_are_retried_up_to_the_policy() {
    for name in [
        "unexpected_retry",
        "temporary_send_failure",
        "unknown_error",
    ] {
        let (err, attempts) = read_with(name).await;
        assert!(
            matches!(err, GraphError::Transient { .. }),
            "{name}: {err:?}"
        );
        assert_eq!(attempts, 3, "{name}");
    }
}

#[tokio::test]
async fn sends_retry_what_meta_says_to_retry() {
    for name in ["unexpected_retry", "temporary_send_failure"] {
        let (err, attempts) = send_with(name).await;
        assert!(
            matches!(err, GraphError::Transient { .. }),
            "{name}: {err:?}"
        );
        assert_eq!(attempts, 3, "{name}");
    }
}

#[tokio::test]
async fn an_unknown_error_after_a_send_is_not_retried() {
    let (err, attempts) = send_with("unknown_error").await;
    assert!(
        matches!(err, GraphError::SendOutcomeUnknown { meta: Some(_), .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("message_echoes"), "{err}");
    assert_eq!(attempts, 1);
}

#[tokio::test]
async fn a_token_meta_echoes_is_masked_everywhere() {
    let graph = MockGraph::start().await;
    graph.fail_next_on(
        Route::Permissions,
        1,
        MockFailure::graph(
            400,
            190,
            Some(467),
            &format!("Malformed access token {TOKEN}"),
        ),
    );
    let err = graph.client().permissions(&token()).await.unwrap_err();
    assert!(matches!(err, GraphError::InvalidToken { .. }), "{err:?}");
    assert!(
        err.to_string().contains("Malformed access token ***"),
        "{err}"
    );
    assert!(!err.to_string().contains(TOKEN) && !format!("{err:?}").contains(TOKEN));

    graph.fail_next(
        1,
        MockFailure::Http {
            status: 404,
            body: format!("no route for {TOKEN}"),
        },
    );
    let err = graph.client().permissions(&token()).await.unwrap_err();
    assert!(
        matches!(err, GraphError::Http { status: 404, .. }),
        "{err:?}"
    );
    assert!(
        !err.to_string().contains(TOKEN) && !format!("{err:?}").contains(TOKEN),
        "{err}"
    );
}
