//! `hookline send` run as the real binary against a local Graph stand-in
//! (`hookline_graph::mock::MockGraph`): what reaches the Send API, what the store records, and the
//! refusals.
//!
//! One `hookline serve` fills a store with a Messenger and an Instagram conversation, once for the
//! file; each test sends into a copy of that store in its own directory, so tests running in parallel
//! never see each other's sends. The mock serves on the test's runtime while the test thread waits for
//! the child process, hence the multi-threaded runtime.

mod support;

use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use hookline_graph::mock::{MockFailure, MockGraph, Route};
use serde_json::{Value, json};
use support::{Sandbox, Server, hookline_command};

const SECRET: &str = "send-cli-app-secret";
const ADMIN: &str = "send-cli-admin-token";
const PAGE_TOKEN: &str = "EAAsendCliPageToken0123";
const INSTAGRAM_TOKEN: &str = "IGAAsendCliInstagramToken0123";
/// The accounts and people of the fixtures `m01_message_text.json` and `ig01_message_text.json`.
const PAGE: &str = "104938475610293";
const PSID: &str = "7392015648120394";
const INSTAGRAM: &str = "17841412345678901";
const IGSID: &str = "6841123456789012";

/// A store as `hookline serve` left it, held in memory, and its Messenger conversation's id as the
/// admin API shows it.
struct Prepared {
    /// File names (`hookline.db`, and its `-wal` if one was left) with their bytes.
    files: Vec<(String, Vec<u8>)>,
    page_conversation: String,
}

static PREPARED: OnceLock<Prepared> = OnceLock::new();

/// The store, made on first use by whichever test comes first; the others wait for it.
fn prepared() -> &'static Prepared {
    PREPARED.get_or_init(|| {
        // A runtime of its own: the first test's runtime cannot be blocked on from inside.
        std::thread::spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(fill_store())
        })
        .join()
        .expect("preparing the store failed; see the panic above")
    })
}

async fn fill_store() -> Prepared {
    let sandbox = Sandbox::new();
    let database = sandbox.url();
    let server = Server::start(
        &sandbox,
        &[
            "--database",
            &database,
            "--app-secret",
            SECRET,
            "--admin-token",
            ADMIN,
        ],
    )
    .await;
    let client = support::client();
    for name in ["m01_message_text.json", "ig01_message_text.json"] {
        let body = support::fixture(name);
        let status = support::post_signed(&client, &server.url("/webhook"), SECRET, &body).await;
        assert_eq!(status, 200, "posting {name}");
    }
    let listed = wait_for_conversations(&client, &server, 2).await;
    server.stop().await;

    let key = format!("page:{PAGE}:{PSID}");
    let page_conversation = listed
        .iter()
        .find(|c| c["key"] == key.as_str())
        .and_then(|c| c["id"].as_str())
        .unwrap_or_else(|| panic!("no conversation {key} in {listed:?}"))
        .to_owned();
    let mut files = Vec::new();
    for name in ["hookline.db", "hookline.db-wal"] {
        if let Ok(bytes) = std::fs::read(sandbox.path().join(name)) {
            files.push((name.to_owned(), bytes));
        }
    }
    Prepared {
        files,
        page_conversation,
    }
}

/// The conversations the admin API lists, once there are `count`.
async fn wait_for_conversations(
    client: &reqwest::Client,
    server: &Server,
    count: usize,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page: Value = client
            .get(server.url("/api/v1/conversations"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().cloned().unwrap_or_default();
        if items.len() >= count {
            return items;
        }
        assert!(
            Instant::now() < deadline,
            "the conversations were not listed within 10s: {page}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A test's own copy of the prepared store; its URL.
fn store_copy(sandbox: &Sandbox) -> String {
    for (name, bytes) in &prepared().files {
        std::fs::write(sandbox.path().join(name), bytes).unwrap();
    }
    sandbox.url()
}

/// A config file sending through `graph` with these `[[account]]` sections; its path.
fn config(sandbox: &Sandbox, graph: &MockGraph, accounts: &str) -> String {
    let path = sandbox.path().join("hookline.toml");
    std::fs::write(
        &path,
        format!("graph_url = \"{}\"\n{accounts}", graph.url()),
    )
    .unwrap();
    path.display().to_string()
}

/// The Page's `[[account]]`, its token in `SEND_CLI_PAGE_TOKEN`.
fn page_account() -> String {
    format!("[[account]]\npage_id = \"{PAGE}\"\ntoken_env = \"SEND_CLI_PAGE_TOKEN\"\n")
}

/// `hookline send ARGS` with the Page's token in the environment.
fn send(args: &[&str]) -> Output {
    hookline_command()
        .arg("send")
        .args(args)
        .env("SEND_CLI_PAGE_TOKEN", PAGE_TOKEN)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The sends the store recorded, read with SQLite itself: `(id, status, message_id, error)`.
fn recorded(db: &Path) -> Vec<(String, String, Option<String>, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut query = conn
        .prepare("SELECT id, status, message_id, error FROM sends ORDER BY id")
        .unwrap();
    query
        .query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_goes_to_the_person_with_the_send_id_as_its_metadata() {
    let graph = MockGraph::start().await;
    let sandbox = Sandbox::new();
    let database = store_copy(&sandbox);
    let config = config(&sandbox, &graph, &page_account());
    let conversation = &prepared().page_conversation;

    let output = send(&[
        "--conversation",
        conversation,
        "--text",
        "We ship to Lisbon, yes.",
        "--config",
        &config,
        "--database",
        &database,
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let sent = graph.sent_messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let message = &sent[0];
    let send_id = message.metadata.clone().unwrap();
    assert!(send_id.starts_with("hl_"), "{send_id}");
    assert_eq!(
        stdout,
        format!(
            "sent {send_id} as message {} to page:{PAGE}:{PSID}\n",
            message.message_id
        )
    );
    assert_eq!(message.text.as_deref(), Some("We ship to Lisbon, yes."));
    assert_eq!(message.recipient_id.as_deref(), Some(PSID));
    assert_eq!(message.account_id, PAGE);
    assert_eq!(message.body["messaging_type"], "RESPONSE");
    let request = &graph.requests_for(Route::Send)[0];
    assert_eq!(request.path, format!("/v26.0/{PAGE}/messages"));
    assert_eq!(request.bearer(), Some(PAGE_TOKEN));
    assert!(!stdout.contains(PAGE_TOKEN) && !stderr.contains(PAGE_TOKEN));

    // --json prints the send as recorded; --update changes the messaging type.
    let output = send(&[
        "--conversation",
        conversation,
        "--text",
        "Your parcel left today.",
        "--update",
        "--json",
        "--config",
        &config,
        "--database",
        &database,
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    let printed: Value = serde_json::from_str(&stdout).unwrap();
    let second = graph.sent_messages().pop().unwrap();
    assert_eq!(printed["status"], "sent");
    assert_eq!(printed["message_id"], second.message_id.as_str());
    assert_eq!(printed["id"], second.metadata.as_deref().unwrap());
    assert_eq!(printed["conversation_id"], conversation.as_str());
    assert_eq!(printed["request"]["messaging_type"], "UPDATE");
    assert_eq!(second.body["messaging_type"], "UPDATE");

    let in_store = recorded(&sandbox.db());
    assert_eq!(in_store.len(), 2, "{in_store:?}");
    assert!(in_store.contains(&(
        send_id,
        "sent".to_owned(),
        Some(message.message_id.clone()),
        None
    )));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_attachment_goes_by_url_with_its_quick_replies_and_tag() {
    let graph = MockGraph::start().await;
    let sandbox = Sandbox::new();
    let database = store_copy(&sandbox);
    let config = config(&sandbox, &graph, &page_account());

    let output = send(&[
        "--conversation",
        &prepared().page_conversation,
        "--attachment-url",
        "https://cdn.example.com/parcel.mp4",
        "--attachment-type",
        "video",
        "--quick-reply",
        "Track it=TRACK",
        "--quick-reply",
        "Thanks",
        "--tag",
        "HUMAN_AGENT",
        "--config",
        &config,
        "--database",
        &database,
    ]);
    let (stdout, stderr) = text(&output);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let sent = graph.sent_messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let body = &sent[0].body;
    assert_eq!(body["messaging_type"], "MESSAGE_TAG");
    assert_eq!(body["tag"], "HUMAN_AGENT");
    let message = &body["message"];
    assert_eq!(message["attachment"]["type"], "video");
    assert_eq!(
        message["attachment"]["payload"]["url"],
        "https://cdn.example.com/parcel.mp4"
    );
    assert_eq!(message.get("text"), None);
    assert_eq!(
        message["quick_replies"],
        json!([
            {"content_type": "text", "title": "Track it", "payload": "TRACK"},
            {"content_type": "text", "title": "Thanks", "payload": "Thanks"},
        ])
    );
    assert_eq!(message["metadata"], sent[0].metadata.as_deref().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_outside_the_window_exits_1_naming_the_window_and_the_send() {
    let graph = MockGraph::start().await;
    let sandbox = Sandbox::new();
    let database = store_copy(&sandbox);
    let config = config(&sandbox, &graph, &page_account());
    graph.fail_next_on(Route::Send, 1, MockFailure::outside_window());

    let output = send(&[
        "--conversation",
        &prepared().page_conversation,
        "--text",
        "Still there?",
        "--config",
        &config,
        "--database",
        &database,
    ]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(stdout, "");
    assert!(graph.sent_messages().is_empty());
    let requests = graph.requests_for(Route::Send);
    assert_eq!(requests.len(), 1, "a refused send is not retried");
    let send_id = requests[0].json.as_ref().unwrap()["message"]["metadata"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(stderr.starts_with("hookline: "), "{stderr}");
    assert!(
        stderr.contains(&format!("send {send_id} was not delivered")),
        "{stderr}"
    );
    assert!(stderr.contains("more than 24 hours old"), "{stderr}");
    assert!(stderr.contains("HUMAN_AGENT"), "{stderr}");

    let in_store = recorded(&sandbox.db());
    assert_eq!(in_store.len(), 1, "{in_store:?}");
    let (id, status, message_id, error) = &in_store[0];
    assert_eq!(
        (id, status.as_str(), message_id),
        (&send_id, "failed", &None)
    );
    assert!(error.as_deref().unwrap().contains("24 hours"), "{error:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_without_an_account_is_refused_before_any_call() {
    let graph = MockGraph::start().await;
    let sandbox = Sandbox::new();
    let database = store_copy(&sandbox);
    let other = "[[account]]\npage_id = \"1001\"\ntoken_env = \"SEND_CLI_PAGE_TOKEN\"\n";
    let config = config(&sandbox, &graph, other);
    let conversation = &prepared().page_conversation;

    let with_other_account = send(&[
        "--conversation",
        conversation,
        "--text",
        "hi",
        "--config",
        &config,
        "--database",
        &database,
    ]);
    let without_config = send(&[
        "--conversation",
        conversation,
        "--text",
        "hi",
        "--graph-url",
        &graph.url(),
        "--database",
        &database,
    ]);
    for (output, with_config) in [(with_other_account, true), (without_config, false)] {
        let (stdout, stderr) = text(&output);
        assert_eq!(
            stderr.contains("no --config was given"),
            !with_config,
            "{stderr}"
        );
        assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(
            stderr.contains(&format!(
                "no [[account]] with page_id or instagram_id {PAGE} is configured; add one"
            )),
            "{stderr}"
        );
        assert!(stderr.contains("token_env"), "{stderr}");
    }
    assert!(graph.requests().is_empty(), "{:?}", graph.requests());
    assert!(recorded(&sandbox.db()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_conversation_is_refused_and_nothing_reaches_graph() {
    let graph = MockGraph::start().await;
    let sandbox = Sandbox::new();
    let database = store_copy(&sandbox);
    let config = config(&sandbox, &graph, &page_account());

    let unknown_id = "c_00000000000000000000000000000000";
    let unknown_key = format!("page:{PAGE}:1234567890");
    for conversation in [unknown_id, &unknown_key] {
        let output = send(&[
            "--conversation",
            conversation,
            "--text",
            "hi",
            "--config",
            &config,
            "--database",
            &database,
        ]);
        let (stdout, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
        assert!(stderr.contains(conversation), "{stderr}");
        assert!(stderr.contains("GET /api/v1/conversations"), "{stderr}");
    }
    assert!(graph.requests().is_empty(), "{:?}", graph.requests());
    assert!(recorded(&sandbox.db()).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn conversation_keys_name_messenger_and_instagram_conversations() {
    let graph = MockGraph::start().await;
    let sandbox = Sandbox::new();
    let database = store_copy(&sandbox);
    let token_file = sandbox.path().join("instagram-token");
    std::fs::write(&token_file, format!("{INSTAGRAM_TOKEN}\n")).unwrap();
    let accounts = format!(
        "{}[[account]]\ninstagram_id = \"{INSTAGRAM}\"\ntoken_file = \"{}\"\n",
        page_account(),
        token_file.display()
    );
    let config = config(&sandbox, &graph, &accounts);

    for (key, account, recipient, token) in [
        (format!("page:{PAGE}:{PSID}"), PAGE, PSID, PAGE_TOKEN),
        (
            format!("instagram:{INSTAGRAM}:{IGSID}"),
            INSTAGRAM,
            IGSID,
            INSTAGRAM_TOKEN,
        ),
    ] {
        let output = send(&[
            "--conversation",
            &key,
            "--text",
            "Yes, in stock.",
            "--config",
            &config,
            "--database",
            &database,
        ]);
        let (stdout, stderr) = text(&output);
        assert!(output.status.success(), "{key}: {stdout}\n{stderr}");
        let sent = graph.sent_messages().pop().unwrap();
        assert!(stdout.ends_with(&format!(" to {key}\n")), "{stdout}");
        assert!(
            stdout.contains(sent.metadata.as_deref().unwrap()),
            "{stdout}"
        );
        assert_eq!(sent.account_id, account);
        assert_eq!(sent.recipient_id.as_deref(), Some(recipient));
        let request = graph.requests_for(Route::Send).pop().unwrap();
        assert_eq!(request.bearer(), Some(token), "{key}");
    }
    assert_eq!(recorded(&sandbox.db()).len(), 2);
}

#[test]
fn a_missing_store_is_an_error_naming_hookline_serve_and_is_not_created() {
    let sandbox = Sandbox::new();
    let missing = sandbox.path().join("none.db");
    let output = send(&[
        "--conversation",
        &format!("page:{PAGE}:{PSID}"),
        "--text",
        "hi",
        "--database",
        &format!("sqlite://{}", missing.display()),
    ]);
    let (stdout, stderr) = text(&output);
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stderr.contains("hookline serve"), "{stderr}");
    assert!(!missing.exists());
}

#[test]
fn text_and_attachment_together_or_neither_are_refused_by_the_command_line() {
    let conversation = format!("page:{PAGE}:{PSID}");
    let both = send(&[
        "--conversation",
        &conversation,
        "--text",
        "hi",
        "--attachment-url",
        "https://cdn.example.com/a.png",
    ]);
    let neither = send(&["--conversation", &conversation]);
    let type_alone = send(&[
        "--conversation",
        &conversation,
        "--text",
        "hi",
        "--attachment-type",
        "video",
    ]);
    for (output, expected) in [
        (both, "cannot be used with"),
        (neither, "<--text <TEXT>|--attachment-url <URL>>"),
        (type_alone, "cannot be used with '--attachment-type <TYPE>'"),
    ] {
        let (stdout, stderr) = text(&output);
        assert_eq!(output.status.code(), Some(2), "{stdout}\n{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
}
