//! The subscription watchdog against a local Graph stand-in: it restores a subscription Meta dropped (and
//! fields that went missing), and survives Graph errors, trying again every interval; `/metrics`,
//! `/readyz` and `GET /api/v1/meta/status` show what it saw, and its log lines never carry the token.
//!
//! These tests run on the default current-thread runtime, so the server, its watchdog and the mock all
//! log through the subscriber the test sets for its thread.

use std::time::{Duration, Instant};

use hookline_graph::mock::{MockGraph, Route};
use hookline_graph::{DEFAULT_FIELDS, INSTAGRAM_FIELDS};
use hookline_server::config::AccountConfig;
use serde_json::Value;

use crate::helpers::{ADMIN_TOKEN, Log, TestApp, json};

const PAGE: &str = "1001";
const INSTAGRAM: &str = "17841400000000042";
const TOKEN: &str = "EAAwatchdogPageToken123";
const INSTAGRAM_TOKEN: &str = "IGAAwatchdogToken456";
/// Short, so several rounds pass within a test; the deadlines below are generous.
const INTERVAL: Duration = Duration::from_millis(150);
const DEADLINE: Duration = Duration::from_secs(20);

async fn watched(graph: &MockGraph, accounts: Vec<AccountConfig>) -> TestApp {
    let url = graph.url();
    TestApp::spawn_with(move |c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.graph_url = url;
        c.watchdog_interval = INTERVAL;
        c.accounts = accounts;
    })
    .await
}

async fn status(app: &TestApp) -> Value {
    let response = app.get_as("/api/v1/meta/status", ADMIN_TOKEN).await;
    assert_eq!(response.status(), 200);
    json(response).await
}

/// Polls the admin route until `done` holds for the report of `account`; returns that report.
async fn wait_for(
    app: &TestApp,
    account: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let start = Instant::now();
    loop {
        let status = status(app).await;
        let report = status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["account"] == account)
            .cloned()
            .unwrap_or_else(|| panic!("no report for {account}: {status}"));
        if done(&report) {
            return report;
        }
        assert!(
            start.elapsed() < DEADLINE,
            "waited {DEADLINE:?} for {what}; last report: {report}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Polls until `done` holds for the mock's state.
async fn wait_for_graph(what: &str, done: impl Fn() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < DEADLINE, "waited {DEADLINE:?} for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn metrics(app: &TestApp) -> String {
    app.get("/metrics").await.text().await.unwrap()
}

fn checks(report: &Value) -> u64 {
    report["checks"].as_u64().unwrap()
}

#[tokio::test]
async fn the_watchdog_resubscribes_an_account_meta_dropped() {
    let (log, _guard) = Log::capture();
    let graph = MockGraph::start().await;
    graph.set_subscribed_fields(PAGE, DEFAULT_FIELDS);
    let app = watched(
        &graph,
        vec![
            AccountConfig::page(PAGE, TOKEN),
            AccountConfig::instagram(INSTAGRAM, INSTAGRAM_TOKEN),
        ],
    )
    .await;

    // The first round runs at start: the Page is fine, the Instagram account was never subscribed.
    let page = wait_for(&app, PAGE, "the first check", |r| checks(r) >= 1).await;
    assert_eq!(page["outcome"], "ok", "{page}");
    assert_eq!(page["resubscriptions"], 0);
    assert_eq!(page["missing_permissions"], serde_json::json!([]));
    let instagram = wait_for(&app, INSTAGRAM, "the Instagram repair", |r| {
        r["resubscriptions"] == 1
    })
    .await;
    assert_eq!(instagram["kind"], "instagram");
    assert_eq!(instagram["missing_permissions"], Value::Null);
    assert_eq!(
        graph.subscribed_fields(INSTAGRAM).unwrap(),
        INSTAGRAM_FIELDS.to_vec()
    );
    let page_subscribes = |graph: &MockGraph| {
        graph
            .requests_for(Route::Subscribe)
            .into_iter()
            .filter(|r| r.account_id.as_deref() == Some(PAGE))
            .collect::<Vec<_>>()
    };
    assert!(
        page_subscribes(&graph).is_empty(),
        "the Page needed no repair"
    );

    // Meta drops the Page's subscription; the next round restores it.
    graph.drop_subscription(PAGE);
    wait_for_graph("the Page's subscription to come back", || {
        graph.subscribed_fields(PAGE).is_some()
    })
    .await;
    let subscribes = page_subscribes(&graph);
    assert_eq!(subscribes.len(), 1, "{subscribes:?}");
    assert_eq!(subscribes[0].path, "/v26.0/1001/subscribed_apps");
    assert_eq!(subscribes[0].bearer(), Some(TOKEN));
    assert_eq!(
        subscribes[0].form_value("subscribed_fields"),
        Some(DEFAULT_FIELDS.join(",").as_str())
    );
    assert_eq!(
        graph.subscribed_fields(PAGE).unwrap(),
        DEFAULT_FIELDS.to_vec()
    );

    let page = wait_for(&app, PAGE, "the repair in the report", |r| {
        r["resubscriptions"] == 1
    })
    .await;
    assert!(page["resubscribed_at"].as_str().unwrap().ends_with('Z'));
    let text = metrics(&app).await;
    assert!(
        text.contains("hookline_meta_resubscriptions_total{account=\"1001\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(
            "hookline_meta_subscription_checks_total{account=\"1001\",outcome=\"resubscribed\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("hookline_meta_subscription_ok{account=\"1001\"} 1"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "hookline_meta_resubscriptions_total{{account=\"{INSTAGRAM}\"}} 1"
        )),
        "{text}"
    );

    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body = ready.text().await.unwrap();
    assert!(body.starts_with("ready\n"), "{body}");
    let line = body
        .lines()
        .find(|l| l.starts_with("meta page 1001: "))
        .unwrap_or_else(|| panic!("{body}"));
    assert!(
        line.contains("1 resubscription(s)") && line.contains("checked 20"),
        "{line}"
    );
    assert!(
        body.contains(&format!("meta instagram {INSTAGRAM}: ")),
        "{body}"
    );

    let log = log.text();
    assert!(
        log.contains("page 1001 was not subscribed") && log.contains("subscribed it again"),
        "{log}"
    );
    assert!(
        !log.contains(TOKEN) && !log.contains(INSTAGRAM_TOKEN),
        "{log}"
    );
}

#[tokio::test]
async fn missing_fields_are_added_back_and_fields_added_by_hand_are_kept() {
    let graph = MockGraph::start().await;
    graph.set_subscribed_fields(PAGE, &["messages", "messaging_game_plays"]);
    let mut account = AccountConfig::page(PAGE, TOKEN);
    account.fields = Some(vec!["messages".into(), "message_echoes".into()]);
    let app = watched(&graph, vec![account]).await;

    let report = wait_for(&app, PAGE, "the repair", |r| r["resubscriptions"] == 1).await;
    assert_eq!(report["missing_fields"], serde_json::json!([]));
    assert_eq!(
        graph.subscribed_fields(PAGE).unwrap(),
        ["messages", "message_echoes", "messaging_game_plays"]
    );
    // Complete now: later rounds leave it alone.
    wait_for(&app, PAGE, "a clean round after the repair", |r| {
        r["outcome"] == "ok"
    })
    .await;
    assert_eq!(graph.requests_for(Route::Subscribe).len(), 1);
}

#[tokio::test]
async fn a_graph_error_is_logged_counted_and_tried_again_next_interval() {
    let (log, _guard) = Log::capture();
    let graph = MockGraph::start().await;
    graph.set_subscribed_fields(PAGE, DEFAULT_FIELDS);
    // Graph answers every call with error 190, as for a revoked token.
    graph.accept_only_tokens(&["EAAsomeOtherToken"]);
    let app = watched(&graph, vec![AccountConfig::page(PAGE, TOKEN)]).await;

    let report = wait_for(&app, PAGE, "two failed checks", |r| checks(r) >= 2).await;
    assert_eq!(report["outcome"], "error", "{report}");
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("Invalid OAuth access token"), "{error}");
    assert!(
        error.contains("generate a new Page access token"),
        "{error}"
    );
    let text = metrics(&app).await;
    let failed = text
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "hookline_meta_subscription_checks_total{account=\"1001\",outcome=\"error\"} ",
            )
        })
        .unwrap_or_else(|| panic!("{text}"));
    assert!(failed.parse::<u64>().unwrap() >= 2, "{text}");
    assert!(
        text.contains("hookline_meta_subscription_ok{account=\"1001\"} 0"),
        "{text}"
    );
    assert!(graph.requests_for(Route::Subscribe).is_empty());

    // Readiness still follows the store alone; the body says what the watchdog saw.
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body = ready.text().await.unwrap();
    assert!(body.contains("meta page 1001: error"), "{body}");
    assert!(body.contains("Invalid OAuth access token"), "{body}");

    // Once the token is accepted again, the next round is clean.
    graph.accept_only_tokens(&[TOKEN]);
    let report = wait_for(&app, PAGE, "a clean check", |r| r["outcome"] == "ok").await;
    assert_eq!(report["error"], Value::Null);
    assert!(
        metrics(&app)
            .await
            .contains("hookline_meta_subscription_ok{account=\"1001\"} 1")
    );

    let log = log.text();
    assert!(
        log.contains("subscription check failed, trying again in 150ms"),
        "{log}"
    );
    assert!(log.contains("Invalid OAuth access token"), "{log}");
    assert!(!log.contains(TOKEN), "{log}");
}

#[tokio::test]
async fn missing_permissions_are_reported_without_touching_the_subscription() {
    let graph = MockGraph::start().await;
    graph.set_subscribed_fields(PAGE, DEFAULT_FIELDS);
    graph.set_permissions(&[
        ("pages_manage_metadata", "granted"),
        ("pages_messaging", "expired"),
        ("pages_show_list", "granted"),
    ]);
    let app = watched(&graph, vec![AccountConfig::page(PAGE, TOKEN)]).await;
    let report = wait_for(&app, PAGE, "the first check", |r| checks(r) >= 1).await;
    assert_eq!(report["outcome"], "missing_permissions");
    assert_eq!(
        report["missing_permissions"],
        serde_json::json!(["pages_messaging"])
    );
    assert!(graph.requests_for(Route::Subscribe).is_empty());
    let text = metrics(&app).await;
    assert!(
        text.contains("hookline_meta_subscription_ok{account=\"1001\"} 1"),
        "{text}"
    );
}

#[tokio::test]
async fn without_accounts_the_watchdog_is_off_and_readyz_says_only_ready() {
    let graph = MockGraph::start().await;
    let app = watched(&graph, Vec::new()).await;
    let off = status(&app).await;
    assert_eq!(off["watchdog"], false);
    assert_eq!(off["accounts"], serde_json::json!([]));
    assert_eq!(app.get("/readyz").await.text().await.unwrap(), "ready\n");
    // Accounts with `watchdog = false` are for replies only: no Graph call is made.
    let quiet = TestApp::spawn_with(|c| {
        c.admin_token = Some(ADMIN_TOKEN.into());
        c.graph_url = graph.url();
        c.watchdog = false;
        c.watchdog_interval = INTERVAL;
        c.accounts = vec![AccountConfig::page(PAGE, TOKEN)];
    })
    .await;
    assert_eq!(status(&quiet).await["watchdog"], false);
    tokio::time::sleep(INTERVAL * 3).await;
    assert!(graph.requests().is_empty(), "{:?}", graph.requests());
    // The route needs the admin token like every other.
    assert_eq!(app.get("/api/v1/meta/status").await.status(), 401);
}

#[tokio::test]
async fn the_inspector_panel_reads_the_status_with_the_session_cookie() {
    let graph = MockGraph::start().await;
    graph.set_subscribed_fields(PAGE, DEFAULT_FIELDS);
    let app = watched(&graph, vec![AccountConfig::page(PAGE, TOKEN)]).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={ADMIN_TOKEN}"))
        .send()
        .await
        .unwrap();
    let cookie = signed_in.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let get = |path: &str, cookie: Option<&str>| {
        let mut request = client.get(app.url(path));
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };

    assert_eq!(get("/assets/meta.js", None).await.unwrap().status(), 401);
    let page = get("/", Some(&cookie)).await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"id="meta-status""#), "{page}");
    assert!(page.contains(r#"src="/assets/meta.js""#), "{page}");
    let script = get("/assets/meta.js", Some(&cookie)).await.unwrap();
    assert_eq!(script.status(), 200);
    assert!(script.text().await.unwrap().contains("/api/v1/meta/status"));

    wait_for(&app, PAGE, "the first check", |r| checks(r) >= 1).await;
    let fed = get("/api/v1/meta/status", Some(&cookie)).await.unwrap();
    assert_eq!(fed.status(), 200);
    let fed: Value = fed.json().await.unwrap();
    assert_eq!(fed["watchdog"], true);
    assert_eq!(fed["accounts"][0]["account"], PAGE);
    assert_eq!(fed["accounts"][0]["outcome"], "ok");
}
