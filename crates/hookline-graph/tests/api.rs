//! The client's calls against the mock: exact paths, methods, fields and parameters (asserted on the
//! recorded requests), the mock's state and scripting, and the retry rules for sends.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookline_graph::mock::{MOCK_APP_ID, MockFailure, MockGraph, Route};
use hookline_graph::{
    DEFAULT_FIELDS, GraphClient, GraphConfig, GraphError, INSTAGRAM_FIELDS, InvalidRequest,
    Message, MessageTag, MessagingType, PAGE_PERMISSIONS, PermissionStatus, QuickReply, Recipient,
    RetryPolicy, SendRequest,
};
use serde_json::json;

mod support;
use support::{IG_ACCOUNT, PAGE, PSID, TOKEN, token};

#[tokio::test]
async fn subscribe_posts_the_fields_as_a_form_to_the_page_edge() {
    let graph = MockGraph::start().await;
    graph
        .client()
        .subscribe(PAGE, &token(), DEFAULT_FIELDS)
        .await
        .unwrap();

    let requests = graph.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, format!("/v26.0/{PAGE}/subscribed_apps"));
    assert_eq!(
        request.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        request.form_value("subscribed_fields"),
        Some(
            "messages,message_echoes,message_deliveries,message_reads,messaging_postbacks,messaging_optins,\
             messaging_referrals,messaging_handovers,standby,message_reactions,message_edits,\
             messaging_policy_enforcement,messaging_account_linking,messaging_feedback,response_feedback"
        )
    );
    assert_eq!(request.bearer(), Some(TOKEN));
    assert!(request.query.is_empty(), "{:?}", request.query);
    assert_eq!(
        request.form.len(),
        1,
        "only subscribed_fields, no access_token: {:?}",
        request.form
    );
    assert!(
        request
            .user_agent
            .as_deref()
            .is_some_and(|ua| ua.starts_with("hookline-graph/"))
    );
    assert_eq!(graph.subscribed_fields(PAGE).unwrap(), DEFAULT_FIELDS);
}

#[tokio::test]
async fn status_sees_a_dropped_subscription_and_a_resubscribe_restores_it() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    client
        .subscribe(PAGE, &token(), &["messages", "standby"])
        .await
        .unwrap();

    let apps = client.subscribed_apps(PAGE, &token()).await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].id, MOCK_APP_ID);
    assert_eq!(apps[0].subscribed_fields, ["messages", "standby"]);
    assert_eq!(
        apps[0].missing_fields(&["messages", "message_reads"]),
        ["message_reads"]
    );

    graph.drop_subscription(PAGE);
    assert!(
        client
            .subscribed_apps(PAGE, &token())
            .await
            .unwrap()
            .is_empty()
    );
    client
        .subscribe(PAGE, &token(), &["messages"])
        .await
        .unwrap();
    assert_eq!(
        client.subscribed_apps(PAGE, &token()).await.unwrap()[0].subscribed_fields,
        ["messages"]
    );

    let reads = graph.requests_for(Route::SubscribedApps);
    assert_eq!(reads.len(), 3);
    assert!(
        reads
            .iter()
            .all(|r| r.method == "GET" && r.path == format!("/v26.0/{PAGE}/subscribed_apps"))
    );
}

#[tokio::test]
async fn unsubscribe_deletes_the_page_subscription() {
    let graph = MockGraph::start().await;
    graph.set_subscribed_fields(PAGE, &["messages"]);
    graph.client().unsubscribe(PAGE, &token()).await.unwrap();
    assert_eq!(graph.subscribed_fields(PAGE), None);
    let request = &graph.requests()[0];
    assert_eq!(
        (request.method.as_str(), request.route),
        ("DELETE", Some(Route::Unsubscribe))
    );
    assert_eq!(request.path, format!("/v26.0/{PAGE}/subscribed_apps"));
}

#[tokio::test]
async fn permissions_reads_me_permissions_and_names_what_is_missing() {
    let graph = MockGraph::start().await;
    let granted = graph.client().permissions(&token()).await.unwrap();
    assert!(granted.missing(PAGE_PERMISSIONS).is_empty());

    graph.set_permissions(&[
        ("pages_messaging", "declined"),
        ("pages_show_list", "granted"),
        ("pages_manage_metadata", "expired"),
    ]);
    let permissions = graph.client().permissions(&token()).await.unwrap();
    assert_eq!(
        permissions.missing(PAGE_PERMISSIONS),
        ["pages_manage_metadata", "pages_messaging"]
    );
    assert_eq!(permissions.0[0].status, PermissionStatus::Declined);
    let request = &graph.requests()[1];
    assert_eq!(
        (request.method.as_str(), request.path.as_str()),
        ("GET", "/v26.0/me/permissions")
    );
    assert_eq!(request.bearer(), Some(TOKEN));
}

#[tokio::test]
async fn send_posts_the_json_body_and_returns_the_generated_ids() {
    let graph = MockGraph::start().await;
    let request = SendRequest::new(
        Recipient::Id(PSID.into()),
        Message::text("Pick a colour")
            .quick_reply(QuickReply::text("Red", "COLOUR_RED"))
            .metadata("hookline:reply:7"),
    )
    .unwrap()
    .messaging_type(MessagingType::MessageTag(MessageTag::human_agent()));
    let answer = graph.client().send(PAGE, &token(), &request).await.unwrap();

    let recorded = &graph.requests_for(Route::Send)[0];
    assert_eq!(recorded.path, format!("/v26.0/{PAGE}/messages"));
    assert_eq!(recorded.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        recorded.json.as_ref().unwrap(),
        &json!({
            "recipient": {"id": PSID},
            "messaging_type": "MESSAGE_TAG",
            "tag": "HUMAN_AGENT",
            "message": {
                "text": "Pick a colour",
                "quick_replies": [{"content_type": "text", "title": "Red", "payload": "COLOUR_RED"}],
                "metadata": "hookline:reply:7"
            }
        })
    );
    let sent = graph.sent_messages();
    assert_eq!(answer.message_id, sent[0].message_id);
    assert_eq!(answer.recipient_id.as_deref(), Some(PSID));
    assert_eq!(sent[0].metadata.as_deref(), Some("hookline:reply:7"));
    assert_eq!(sent[0].account_id, PAGE);

    let second = graph.client().send(PAGE, &token(), &request).await.unwrap();
    assert_ne!(second.message_id, answer.message_id);
}

#[tokio::test]
async fn a_user_ref_send_is_answered_without_recipient_id() {
    let graph = MockGraph::start().await;
    let request =
        SendRequest::new(Recipient::UserRef("ref-1".into()), Message::text("hi")).unwrap();
    let answer = graph.client().send(PAGE, &token(), &request).await.unwrap();
    assert_eq!(answer.recipient_id, None);
}

/// `http://127.0.0.1:PORT` for a port nothing listens on.
fn closed_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    url
}

/// A client whose Facebook host is a closed port, so only Instagram-host calls can succeed.
fn instagram_only(graph: &MockGraph) -> GraphClient {
    let mut config = graph.config();
    config.base_url = closed_port();
    GraphClient::new(config).unwrap()
}

#[tokio::test]
async fn instagram_login_calls_go_to_the_instagram_host_with_the_account_in_the_path() {
    let graph = MockGraph::start().await;
    let client = instagram_only(&graph);
    client
        .instagram_subscribe(IG_ACCOUNT, &token(), INSTAGRAM_FIELDS)
        .await
        .unwrap();
    let apps = client
        .instagram_subscribed_apps(IG_ACCOUNT, &token())
        .await
        .unwrap();
    assert_eq!(apps[0].subscribed_fields, INSTAGRAM_FIELDS);
    let answer = client
        .instagram_send(
            IG_ACCOUNT,
            &token(),
            &SendRequest::text("1122334455", "hey").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(answer.recipient_id.as_deref(), Some("1122334455"));

    let paths: Vec<_> = graph
        .requests()
        .into_iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert_eq!(
        paths,
        [
            format!("POST /v26.0/{IG_ACCOUNT}/subscribed_apps"),
            format!("GET /v26.0/{IG_ACCOUNT}/subscribed_apps"),
            format!("POST /v26.0/{IG_ACCOUNT}/messages"),
        ]
    );
    assert_eq!(
        graph.requests()[0].form_value("subscribed_fields"),
        Some(
            "messages,message_reactions,messaging_postbacks,messaging_seen,messaging_referral,messaging_optins,messaging_handover,standby"
        )
    );
    let err = client
        .subscribe(PAGE, &token(), &["messages"])
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Transport { connect: true, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn instagram_text_over_1000_bytes_is_refused_before_sending() {
    let graph = MockGraph::start().await;
    let request = SendRequest::text("1122334455", "ü".repeat(600)).unwrap();
    let err = graph
        .client()
        .instagram_send(IG_ACCOUNT, &token(), &request)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        GraphError::InvalidRequest(InvalidRequest::InstagramTextTooLong { bytes: 1200 })
    ));
    assert!(graph.requests().is_empty());
}

#[tokio::test]
async fn the_configured_version_prefixes_every_path() {
    let graph = MockGraph::start().await;
    let client = GraphClient::new(graph.config().version("v25.0")).unwrap();
    client.permissions(&token()).await.unwrap();
    assert_eq!(graph.requests()[0].version.as_deref(), Some("v25.0"));
}

#[tokio::test]
async fn requests_that_could_change_the_path_or_carry_no_fields_are_never_sent() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    let err = client
        .subscribe("123/subscribed_apps?x=", &token(), DEFAULT_FIELDS)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            GraphError::InvalidRequest(InvalidRequest::BadId { .. })
        ),
        "{err:?}"
    );
    let err = client
        .subscribe::<&str>(PAGE, &token(), &[])
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        GraphError::InvalidRequest(InvalidRequest::NoFields)
    ));
    let err = client
        .subscribe(PAGE, &token(), &["messages", "bad field"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"bad field\""), "{err}");
    assert!(graph.requests().is_empty());
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let graph = MockGraph::start().await;
    graph.fail_next(2, MockFailure::transient());
    graph
        .client()
        .subscribe(PAGE, &token(), &["messages"])
        .await
        .unwrap();
    assert_eq!(graph.requests_for(Route::Subscribe).len(), 3);
    assert_eq!(graph.subscribed_fields(PAGE).unwrap(), ["messages"]);
}

#[tokio::test]
async fn a_gateway_error_is_retried_for_reads_but_not_for_sends() {
    let graph = MockGraph::start().await;
    graph.fail_next(1, MockFailure::server_error(502));
    graph
        .client()
        .subscribed_apps(PAGE, &token())
        .await
        .unwrap();
    assert_eq!(graph.requests().len(), 2);

    graph.clear_requests();
    graph.fail_next(1, MockFailure::server_error(502));
    let err = graph
        .client()
        .send(PAGE, &token(), &SendRequest::text(PSID, "hi").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::SendOutcomeUnknown { meta: None, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("HTTP 502"), "{err}");
    assert_eq!(graph.requests().len(), 1);
    assert!(graph.sent_messages().is_empty());
}

#[tokio::test]
async fn a_send_without_an_answer_is_reported_as_unknown_and_not_resent() {
    let graph = MockGraph::start().await;
    let mut config = graph.config();
    config.timeout = Duration::from_millis(300);
    let client = GraphClient::new(config).unwrap();

    graph.fail_next(1, MockFailure::NoAnswer);
    let err = client
        .send(PAGE, &token(), &SendRequest::text(PSID, "hi").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::SendOutcomeUnknown { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("timed out"), "{err}");
    assert_eq!(graph.requests().len(), 1);

    graph.clear_requests();
    graph.fail_next(1, MockFailure::NoAnswer);
    client
        .subscribe(PAGE, &token(), &["messages"])
        .await
        .unwrap();
    assert_eq!(
        graph.requests().len(),
        2,
        "a subscribe that timed out is retried"
    );
}

#[tokio::test]
async fn a_refused_connection_is_retryable_even_for_sends() {
    let mut config = GraphConfig::with_base_url(closed_port());
    config.retry = RetryPolicy::none();
    let client = GraphClient::new(config).unwrap();
    let err = client
        .send(PAGE, &token(), &SendRequest::text(PSID, "hi").unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Transport { connect: true, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(!err.to_string().contains(TOKEN));
}

#[tokio::test]
async fn scripted_failures_apply_to_their_route_only_and_run_out() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    graph.fail_next_on(Route::Send, 1, MockFailure::outside_window());
    client
        .subscribe(PAGE, &token(), &["messages"])
        .await
        .unwrap();
    let request = SendRequest::text(PSID, "hi").unwrap();
    let err = client.send(PAGE, &token(), &request).await.unwrap_err();
    assert!(
        matches!(err, GraphError::OutsideMessagingWindow { .. }),
        "{err:?}"
    );
    client.send(PAGE, &token(), &request).await.unwrap();
    assert_eq!(graph.sent_messages().len(), 1);
}

#[tokio::test]
async fn tokens_the_mock_does_not_accept_are_invalid_tokens() {
    let graph = MockGraph::start().await;
    graph.accept_only_tokens(&["EAAother"]);
    let err = graph
        .client()
        .subscribed_apps(PAGE, &token())
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::InvalidToken { .. }), "{err:?}");
    assert_eq!(graph.requests().len(), 1);
}

#[tokio::test]
async fn the_send_hook_runs_before_the_send_is_answered() {
    let graph = MockGraph::start().await;
    let order = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&order);
    graph.on_send(move |sent| {
        let seen = Arc::clone(&seen);
        async move {
            tokio::task::yield_now().await;
            seen.lock()
                .unwrap()
                .push(format!("echo {}", sent.message_id));
        }
    });
    let answer = graph
        .client()
        .send(PAGE, &token(), &SendRequest::text(PSID, "hi").unwrap())
        .await
        .unwrap();
    order
        .lock()
        .unwrap()
        .push(format!("answer {}", answer.message_id));
    let mid = &answer.message_id;
    assert_eq!(
        *order.lock().unwrap(),
        [format!("echo {mid}"), format!("answer {mid}")]
    );
}

#[tokio::test]
async fn a_success_that_is_not_true_is_an_unexpected_answer() {
    let graph = MockGraph::start().await;
    graph.fail_next(
        1,
        MockFailure::Graph {
            status: 200,
            body: json!({"success": false}),
            headers: Vec::new(),
        },
    );
    let err = graph
        .client()
        .unsubscribe(PAGE, &token())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::UnexpectedResponse { status: 200, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("\"success\" was false"), "{err}");
}

#[tokio::test]
async fn the_token_never_appears_in_a_url() {
    let graph = MockGraph::start().await;
    let client = graph.client();
    client
        .subscribe(PAGE, &token(), DEFAULT_FIELDS)
        .await
        .unwrap();
    client.subscribed_apps(PAGE, &token()).await.unwrap();
    client.permissions(&token()).await.unwrap();
    client
        .send(PAGE, &token(), &SendRequest::text(PSID, "hi").unwrap())
        .await
        .unwrap();
    for request in graph.requests() {
        assert!(
            !request.path.contains(TOKEN) && request.query.is_empty(),
            "{}",
            request.path
        );
        assert_eq!(request.token(), Some(TOKEN));
    }
    assert!(!format!("{client:?}").contains(TOKEN));
}
