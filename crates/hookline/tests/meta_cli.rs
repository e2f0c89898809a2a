//! `hookline meta subscribe|status` run as the real binary against a local Graph stand-in
//! (`hookline_graph::mock::MockGraph`): the exact requests, Graph errors, and the status report.
//!
//! The mock serves on the test's runtime while the test thread waits for the child process, hence the
//! multi-threaded runtime.

mod support;

use std::process::Output;

use hookline_graph::mock::{MockFailure, MockGraph, Route};
use hookline_graph::{DEFAULT_FIELDS, INSTAGRAM_FIELDS};
use support::{Sandbox, hookline_command};

const TOKEN: &str = "EAAmetaCliToken0123456789";
const OTHER_TOKEN: &str = "EAAsecondAccountToken987";
const PAGE: &str = "1001";
const INSTAGRAM: &str = "17841400000000042";

/// `hookline meta ARGS` with `HOOKLINE_META_TOKEN` (when given) and extra variables.
fn meta(args: &[&str], token: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut command = hookline_command();
    command.arg("meta").args(args).envs(env.iter().copied());
    if let Some(token) = token {
        command.env("HOOKLINE_META_TOKEN", token);
    }
    command.stdin(std::process::Stdio::null()).output().unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_no_token(output: &Output, token: &str) {
    let (stdout, stderr) = text(output);
    assert!(
        !stdout.contains(token) && !stderr.contains(token),
        "the token was printed:\n{stdout}\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_posts_every_default_field_with_the_token_as_bearer() {
    let graph = MockGraph::start().await;
    let url = graph.url();
    let output = meta(
        &["subscribe", "--page", PAGE, "--graph-url", &url],
        Some(TOKEN),
        &[],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("subscribed page 1001"), "{stdout}");
    assert_no_token(&output, TOKEN);

    let requests = graph.requests_for(Route::Subscribe);
    assert_eq!(requests.len(), 1, "{requests:?}");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v26.0/1001/subscribed_apps");
    assert_eq!(
        request.form_value("subscribed_fields"),
        Some(DEFAULT_FIELDS.join(",").as_str())
    );
    assert_eq!(request.bearer(), Some(TOKEN));
    // The token travels only in the header, never in a URL that proxies and logs keep.
    assert_eq!(request.query_value("access_token"), None);
    assert_eq!(request.form_value("access_token"), None);
    assert_eq!(
        graph.subscribed_fields(PAGE).unwrap(),
        DEFAULT_FIELDS.to_vec()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribe_takes_fields_a_version_and_the_token_flag_from_the_command_line() {
    let graph = MockGraph::start().await;
    let url = graph.url();
    let output = meta(
        &[
            "subscribe",
            "--page",
            PAGE,
            "--token",
            OTHER_TOKEN,
            "--fields",
            "messages,standby",
            "--graph-url",
            &url,
            "--graph-version",
            "v25.0",
        ],
        None,
        &[],
    );
    assert!(output.status.success(), "{:?}", text(&output));
    let request = &graph.requests_for(Route::Subscribe)[0];
    assert_eq!(request.path, "/v25.0/1001/subscribed_apps");
    assert_eq!(
        request.form_value("subscribed_fields"),
        Some("messages,standby")
    );
    assert_eq!(request.bearer(), Some(OTHER_TOKEN));

    // The environment names the Graph host and version as well.
    let output = meta(
        &["subscribe", "--instagram", INSTAGRAM],
        Some(TOKEN),
        &[
            ("HOOKLINE_GRAPH_URL", &url),
            ("HOOKLINE_GRAPH_VERSION", "v24.0"),
        ],
    );
    assert!(output.status.success(), "{:?}", text(&output));
    let request = &graph.requests_for(Route::Subscribe)[1];
    assert_eq!(request.path, format!("/v24.0/{INSTAGRAM}/subscribed_apps"));
    assert_eq!(
        request.form_value("subscribed_fields"),
        Some(INSTAGRAM_FIELDS.join(",").as_str())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_graph_error_exits_non_zero_with_metas_message_and_never_the_token() {
    let graph = MockGraph::start().await;
    let url = graph.url();
    graph.fail_next_on(Route::Subscribe, 1, MockFailure::invalid_token());
    let output = meta(
        &["subscribe", "--page", PAGE, "--graph-url", &url],
        Some(TOKEN),
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let (_, stderr) = text(&output);
    assert!(stderr.contains("Session has expired"), "{stderr}");
    assert!(stderr.contains("190/463"), "{stderr}");
    assert!(
        stderr.contains("generate a new Page access token"),
        "{stderr}"
    );
    assert!(stderr.contains("subscribing page 1001 failed"), "{stderr}");
    assert_no_token(&output, TOKEN);
    assert_eq!(graph.subscribed_fields(PAGE), None);

    // A token Graph does not accept at all.
    graph.accept_only_tokens(&[OTHER_TOKEN]);
    let output = meta(
        &["subscribe", "--page", PAGE, "--graph-url", &url],
        Some(TOKEN),
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).1.contains("Invalid OAuth access token"));
    assert_no_token(&output, TOKEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_fields_and_missing_tokens_are_refused_before_any_call() {
    let graph = MockGraph::start().await;
    let url = graph.url();
    let output = meta(
        &[
            "subscribe",
            "--page",
            PAGE,
            "--fields",
            "messages,mesages",
            "--graph-url",
            &url,
        ],
        Some(TOKEN),
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    let (_, stderr) = text(&output);
    assert!(
        stderr.contains("unknown webhook field(s) mesages"),
        "{stderr}"
    );
    assert!(stderr.contains("message_echoes"), "{stderr}");

    let output = meta(
        &["subscribe", "--page", PAGE, "--graph-url", &url],
        None,
        &[],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output).1.contains("HOOKLINE_META_TOKEN"));
    assert!(graph.requests().is_empty(), "{:?}", graph.requests());
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_subscribed_and_missing_fields_and_permissions_as_a_table() {
    let graph = MockGraph::start().await;
    let url = graph.url();
    graph.set_subscribed_fields(PAGE, &["messages", "message_echoes"]);
    graph.set_permissions(&[
        ("pages_manage_metadata", "granted"),
        ("pages_messaging", "declined"),
        ("pages_show_list", "granted"),
    ]);
    let output = meta(
        &["status", "--page", PAGE, "--graph-url", &url],
        Some(TOKEN),
        &[],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let header = stdout.lines().next().unwrap();
    assert!(header.starts_with("ACCOUNT") && header.contains("MISSING PERMISSIONS"));
    let row = stdout.lines().nth(1).unwrap();
    assert!(
        row.starts_with("1001") && row.contains("incomplete"),
        "{row}"
    );
    assert!(
        row.contains("2 fields") && row.contains("13 fields"),
        "{row}"
    );
    assert!(row.trim_end().ends_with("pages_messaging"), "{row}");
    assert!(
        stdout.contains("\n  subscribed fields  messages,message_echoes\n"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\n  missing fields     message_deliveries,message_reads,"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "\n  fix                run `hookline meta subscribe --page 1001 --token \"$HOOKLINE_META_TOKEN\"`"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("lacks pages_messaging"), "{stdout}");
    assert!(
        stderr.contains("1 of 1 account(s) need attention"),
        "{stderr}"
    );
    assert_no_token(&output, TOKEN);
    for request in graph.requests() {
        assert_eq!(request.bearer(), Some(TOKEN), "{request:?}");
    }

    // Once everything is there the status is clean and exits 0.
    graph.set_subscribed_fields(PAGE, DEFAULT_FIELDS);
    graph.set_permissions(&[
        ("pages_manage_metadata", "granted"),
        ("pages_messaging", "granted"),
        ("pages_show_list", "granted"),
    ]);
    let output = meta(
        &["status", "--page", PAGE, "--graph-url", &url],
        Some(TOKEN),
        &[],
    );
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let row = stdout.lines().nth(1).unwrap();
    assert!(row.contains(" ok ") && row.contains("15 fields"), "{row}");
    assert!(!stdout.contains("fix"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_of_the_configured_accounts_as_json_names_the_fix_commands() {
    let graph = MockGraph::start().await;
    let url = graph.url();
    let sandbox = Sandbox::new();
    let token_file = sandbox.path().join("instagram-token");
    std::fs::write(&token_file, format!("{OTHER_TOKEN}\n")).unwrap();
    let config = sandbox.path().join("hookline.toml");
    std::fs::write(
        &config,
        format!(
            "graph_url = \"{url}\"\n\
             [[account]]\npage_id = \"{PAGE}\"\ntoken_env = \"META_CLI_PAGE_TOKEN\"\nfields = [\"messages\", \"standby\"]\n\
             [[account]]\ninstagram_id = \"{INSTAGRAM}\"\ntoken_file = \"{}\"\n",
            token_file.display()
        ),
    )
    .unwrap();
    let config = config.display().to_string();
    let env = [("META_CLI_PAGE_TOKEN", TOKEN)];
    graph.set_subscribed_fields(PAGE, &["messages", "standby", "message_reads"]);
    // Meta dropped the Instagram account's subscription.

    let output = meta(&["status", "--config", &config, "--json"], None, &env);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["ok"], false);
    let page = &report["accounts"][0];
    assert_eq!(page["account"], PAGE);
    assert_eq!(page["kind"], "page");
    assert_eq!(page["ok"], true);
    assert_eq!(
        page["subscribed_fields"],
        serde_json::json!(["messages", "standby", "message_reads"])
    );
    assert_eq!(page["missing_fields"], serde_json::json!([]));
    assert_eq!(page["missing_permissions"], serde_json::json!([]));
    let instagram = &report["accounts"][1];
    assert_eq!(instagram["kind"], "instagram");
    assert_eq!(instagram["ok"], false);
    assert_eq!(instagram["subscribed"], false);
    assert_eq!(
        instagram["missing_fields"],
        serde_json::json!(INSTAGRAM_FIELDS)
    );
    // Instagram Login tokens have no permissions edge to read.
    assert_eq!(instagram["missing_permissions"], serde_json::Value::Null);
    let fix = format!("run `hookline meta subscribe --config {config} --instagram {INSTAGRAM}`");
    assert_eq!(instagram["fixes"], serde_json::json!([fix]));
    assert_no_token(&output, TOKEN);
    assert_no_token(&output, OTHER_TOKEN);
    let reads = graph.requests_for(Route::SubscribedApps);
    assert_eq!(reads[0].bearer(), Some(TOKEN));
    assert_eq!(reads[1].bearer(), Some(OTHER_TOKEN));

    // The fix command, as printed, takes the token and fields from the config file.
    let output = meta(
        &["subscribe", "--config", &config, "--instagram", INSTAGRAM],
        None,
        &env,
    );
    assert!(output.status.success(), "{:?}", text(&output));
    let request = graph.requests_for(Route::Subscribe).pop().unwrap();
    assert_eq!(request.bearer(), Some(OTHER_TOKEN));
    assert_eq!(
        graph.subscribed_fields(INSTAGRAM).unwrap(),
        INSTAGRAM_FIELDS.to_vec()
    );
    let output = meta(&["status", "--config", &config], None, &env);
    assert!(output.status.success(), "{:?}", text(&output));
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_a_graph_error_with_what_to_do() {
    let graph = MockGraph::start().await;
    let url = graph.url();
    graph.fail_next(1, MockFailure::invalid_token());
    let output = meta(
        &["status", "--page", PAGE, "--graph-url", &url, "--json"],
        Some(TOKEN),
        &[],
    );
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let error = report["accounts"][0]["error"].as_str().unwrap();
    assert!(error.contains("Session has expired"), "{error}");
    assert!(
        error.contains("generate a new Page access token"),
        "{error}"
    );
    assert!(stderr.contains("Session has expired"), "{stderr}");
    assert_no_token(&output, TOKEN);
}
