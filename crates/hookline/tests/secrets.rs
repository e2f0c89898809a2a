//! No secret ever leaves the process: a real `hookline serve`, with every kind of secret set from a config
//! file and the environment, is exercised on every surface (good and bad deliveries, handshakes, the admin
//! API, `/metrics`, a sink delivery, the inspector), and `hookline check` and a `serve` that fails on its
//! config run with the same secrets; then the debug-level server log, every answer and the CLI outputs are
//! searched for each secret's value, and for the digest the server computes for a badly signed delivery.
//! Two `[[account]]` tokens are among them: the subscription watchdog uses both against a mock Graph
//! (re-subscribing one account, failing on the other), and `hookline meta` runs with them.
#![cfg(unix)]

mod support;

use std::time::{Duration, Instant};

use hookline_graph::mock::MockGraph;
use support::{Sandbox, Server, client, hookline_command};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_SECRET: &str = "app-secret-5f1c2a9e7b";
const VERIFY_TOKEN: &str = "verify-token-8d3e41c07a";
const ADMIN_TOKEN: &str = "admin-token-2b9f6e0d14";
/// The base64 key of `SINK_SECRET`, which is what signs (and what must not leak either).
const SINK_KEY: &str = "QmFkU2lua0tleUZvclRlc3RzMTIzNDU2";
const SINK_SECRET: &str = "whsec_QmFkU2lua0tleUZvclRlc3RzMTIzNDU2";
/// The Page account's token, from the environment (`token_env`).
const PAGE_TOKEN: &str = "EAApageToken7c1d9e3f5a";
/// The Instagram account's token, from a file (`token_file`); the mock refuses it.
const INSTAGRAM_TOKEN: &str = "IGAAinstagramToken4e8b2a6c";
const PAGE_ID: &str = "100";
const INSTAGRAM_ID: &str = "17841400000000077";

const BODY: &str = r#"{"object":"page","entry":[{"id":"100","time":1700000000000,"messaging":[{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":1700000000000,"message":{"mid":"m.secret","text":"hello"}}]}]}"#;

fn config_file(
    sandbox: &Sandbox,
    name: &str,
    sink_url: &str,
    sink_secret: &str,
    graph_url: &str,
) -> String {
    let path = sandbox.path().join(name);
    let token_file = sandbox.path().join("instagram-token");
    std::fs::write(&token_file, format!("{INSTAGRAM_TOKEN}\n")).unwrap();
    let text = format!(
        "app_secret = [\"{APP_SECRET}\"]\n\
         database = \"{}\"\n\
         graph_url = \"{graph_url}\"\n\
         watchdog_interval_secs = \"200ms\"\n\n\
         [[sink]]\nname = \"crm\"\ntype = \"http\"\nurl = \"{sink_url}\"\nsecret = \"{sink_secret}\"\n\n\
         [[account]]\npage_id = \"{PAGE_ID}\"\ntoken_env = \"HOOKLINE_TEST_PAGE_TOKEN\"\n\n\
         [[account]]\ninstagram_id = \"{INSTAGRAM_ID}\"\ntoken_file = \"{}\"\n",
        sandbox.url(),
        token_file.display()
    );
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

const ENV: [(&str, &str); 4] = [
    ("HOOKLINE_VERIFY_TOKEN", VERIFY_TOKEN),
    ("HOOKLINE_ADMIN_TOKEN", ADMIN_TOKEN),
    ("HOOKLINE_LOG", "debug"),
    ("HOOKLINE_TEST_PAGE_TOKEN", PAGE_TOKEN),
];

/// Runs `hookline ARGS` with [`ENV`] and returns its standard output and error together.
fn run_cli(args: &[&str]) -> (bool, String) {
    let output = hookline_command()
        .args(args)
        .envs(ENV)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// Everything an outsider or an operator could see: answers' statuses, headers and bodies.
#[derive(Default)]
struct Seen(String);

impl Seen {
    async fn record(&mut self, what: &str, response: reqwest::Response) -> u16 {
        let status = response.status().as_u16();
        self.0.push_str(&format!("== {what}: {status}\n"));
        for (name, value) in response.headers() {
            self.0.push_str(&format!(
                "{name}: {}\n",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        self.0.push_str(&response.text().await.unwrap());
        self.0.push('\n');
        status
    }
}

// Multi-threaded: the mock Graph answers `hookline meta` while this thread waits for it.
#[tokio::test(flavor = "multi_thread")]
async fn no_secret_appears_in_logs_answers_metrics_or_cli_output() {
    let sandbox = Sandbox::new();
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let graph = MockGraph::start().await;
    graph.accept_only_tokens(&[PAGE_TOKEN]);
    let graph_url = graph.url();
    let config = config_file(
        &sandbox,
        "hookline.toml",
        &receiver.uri(),
        SINK_SECRET,
        &graph_url,
    );
    let server = Server::start_with_env(&sandbox, &["--config", &config], &ENV).await;
    let http = client();
    let mut seen = Seen::default();
    let webhook = server.url("/webhook");

    // Deliveries: right signature, wrong signature, none, and a sha1 header that is not allowed.
    let good = hookline_meta::signature::sign(APP_SECRET.as_bytes(), BODY.as_bytes());
    let tampered = BODY.replace("hello", "hellO");
    let expected_for_tampered =
        hookline_meta::signature::sign(APP_SECRET.as_bytes(), tampered.as_bytes());
    let expected_hex = expected_for_tampered
        .trim_start_matches("sha256=")
        .to_owned();
    for (what, body, signature, status) in [
        ("good delivery", BODY, Some(good.as_str()), 200),
        (
            "tampered delivery",
            tampered.as_str(),
            Some(good.as_str()),
            401,
        ),
        ("bad hex", tampered.as_str(), Some("sha256=zz"), 401),
        ("unsigned", tampered.as_str(), None, 401),
    ] {
        let mut request = http.post(&webhook).body(body.to_owned());
        if let Some(signature) = signature {
            request = request.header("x-hub-signature-256", signature);
        }
        let answer = seen.record(what, request.send().await.unwrap()).await;
        assert_eq!(answer, status, "{what}");
    }

    // Handshakes, the admin API (bearer, inspector sign-in), health and metrics.
    let good_handshake =
        format!("/webhook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=c1");
    let wrong_handshake = "/webhook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=c2";
    for (what, path, token, status) in [
        ("handshake", good_handshake.as_str(), None, 200),
        ("wrong handshake", wrong_handshake, None, 403),
        ("events", "/api/v1/events", Some(ADMIN_TOKEN), 200),
        ("deliveries", "/api/v1/deliveries", Some(ADMIN_TOKEN), 200),
        (
            "events, wrong token",
            "/api/v1/events",
            Some("wrong-token"),
            401,
        ),
        ("events, no token", "/api/v1/events", None, 401),
        ("inspector", "/", None, 200),
        ("healthz", "/healthz", None, 200),
        ("readyz", "/readyz", None, 200),
    ] {
        let mut request = http.get(server.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let answer = seen.record(what, request.send().await.unwrap()).await;
        assert_eq!(answer, status, "{what}");
    }
    for (what, token) in [("sign-in", ADMIN_TOKEN), ("wrong sign-in", "wrong-token")] {
        let request = http
            .post(server.url("/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("token={token}"));
        seen.record(what, request.send().await.unwrap()).await;
    }

    // The sink forwards the delivered message, and the watchdog subscribes the Page (and fails on the
    // Instagram account, whose token the mock refuses); then the metrics count it all.
    let deadline = Instant::now() + Duration::from_secs(10);
    while receiver.received_requests().await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "the sink received nothing");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let status = http
            .get(server.url("/api/v1/meta/status"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap();
        let status: serde_json::Value = status.json().await.unwrap();
        let outcomes: Vec<&str> = status["accounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["outcome"].as_str().unwrap())
            .collect();
        if graph.subscribed_fields(PAGE_ID).is_some() && outcomes.contains(&"error") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the watchdog did not act: {status}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for (what, path) in [
        ("meta status", "/api/v1/meta/status"),
        ("readyz with the watchdog", "/readyz"),
    ] {
        let request = http.get(server.url(path)).bearer_auth(ADMIN_TOKEN);
        assert_eq!(seen.record(what, request.send().await.unwrap()).await, 200);
    }
    let metrics = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(seen.record("metrics", metrics).await, 200);
    let mut forwarded = String::new();
    for request in receiver.received_requests().await.unwrap() {
        forwarded.push_str(&format!("{:?}\n", request.headers));
        forwarded.push_str(&String::from_utf8_lossy(&request.body));
    }
    server.stop().await;

    // The CLI with the same secrets: a good check, a bad config, and a serve that fails on a bad sink.
    let mut cli = String::new();
    let (ok, out) = run_cli(&["check", "--config", &config]);
    assert!(ok, "{out}");
    cli.push_str(&out);
    let (ok, out) = run_cli(&["check", "--json", "--config", &config]);
    assert!(ok, "{out}");
    cli.push_str(&out);
    let bad_key = "whsec_not*base64*".to_owned() + SINK_KEY;
    let bad_sink = config_file(
        &sandbox,
        "bad-secret.toml",
        &receiver.uri(),
        &bad_key,
        &graph_url,
    );
    for args in [
        vec!["check", "--config", &bad_sink],
        vec!["serve", "--listen", "127.0.0.1:0", "--config", &bad_sink],
    ] {
        let (ok, out) = run_cli(&args);
        assert!(!ok, "{args:?} should fail:\n{out}");
        cli.push_str(&out);
    }
    let bad_url = config_file(
        &sandbox,
        "bad-url.toml",
        "not a url",
        SINK_SECRET,
        &graph_url,
    );
    let (ok, out) = run_cli(&["serve", "--listen", "127.0.0.1:0", "--config", &bad_url]);
    assert!(!ok, "serve with a bad sink url should fail:\n{out}");
    cli.push_str(&out);
    // `hookline meta` with the configured tokens: a status that finds the Instagram token refused, and
    // a subscribe with the Page's.
    let (ok, out) = run_cli(&["meta", "status", "--config", &config]);
    assert!(!ok && out.contains("Invalid OAuth access token"), "{out}");
    cli.push_str(&out);
    let (ok, out) = run_cli(&["meta", "status", "--json", "--config", &config]);
    assert!(!ok, "{out}");
    cli.push_str(&out);
    let (ok, out) = run_cli(&["meta", "subscribe", "--config", &config, "--page", PAGE_ID]);
    assert!(ok, "{out}");
    cli.push_str(&out);
    let bearers: Vec<_> = graph
        .requests()
        .iter()
        .filter_map(|r| r.bearer().map(str::to_owned))
        .collect();
    assert!(
        bearers.iter().any(|b| b == PAGE_TOKEN) && bearers.iter().any(|b| b == INSTAGRAM_TOKEN),
        "both account tokens were used: {bearers:?}"
    );

    let log = sandbox.log_since(0);
    assert!(
        log.contains("DEBUG"),
        "the server did not log at debug level:\n{log}"
    );
    assert!(
        log.contains("subscribed it again") && log.contains("subscription check failed"),
        "the watchdog's repair and failure are not in the log:\n{log}"
    );
    for (place, text) in [
        ("the server log", &log),
        ("the answers", &seen.0),
        ("the sink's requests", &forwarded),
        ("the CLI output", &cli),
    ] {
        for (name, secret) in [
            ("app secret", APP_SECRET),
            ("verify token", VERIFY_TOKEN),
            ("admin token", ADMIN_TOKEN),
            ("sink secret", SINK_SECRET),
            ("sink key", SINK_KEY),
            ("Page account token", PAGE_TOKEN),
            ("Instagram account token", INSTAGRAM_TOKEN),
            (
                "digest expected for the tampered body",
                expected_hex.as_str(),
            ),
        ] {
            assert!(
                !text.contains(secret),
                "the {name} appears in {place}:\n{text}"
            );
        }
    }
}
