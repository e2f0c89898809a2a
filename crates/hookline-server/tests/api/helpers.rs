//! `TestApp`: a running server, a client, and reads of what it stored.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use hookline_meta::signature::{sign, sign_sha1};
use hookline_server::{Config, Server};
use hookline_store::{DeliveryQuery, EventQuery, EventStore, StoredDelivery, StoredEvent};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const SECRET: &str = "test-app-secret";
pub const TOKEN: &str = "test-verify-token";
pub const ADMIN_TOKEN: &str = "test-admin-token";

pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub store: Arc<dyn EventStore>,
    pub db_path: PathBuf,
    shutdown: Option<oneshot::Sender<()>>,
    serving: Option<JoinHandle<anyhow::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// A server whose config `adjust` may change; the database is a fresh file unless `adjust` sets one.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().unwrap();
        let db_path = dir.path().join("hookline.db");
        let mut config = Config::with_secret(SECRET);
        config.verify_token = vec![TOKEN.into()];
        config.database = format!("sqlite://{}", db_path.display());
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = Server::bind(&config, listener).await.unwrap();
        let base = format!("http://{}", server.local_addr().unwrap());
        let store = server.store();
        let (shutdown, stop) = oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stop.await;
        }));
        TestApp {
            base,
            client: reqwest::Client::new(),
            store,
            db_path,
            shutdown: Some(shutdown),
            serving: Some(serving),
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// POSTs `body` to `path` with the given headers.
    pub async fn post(
        &self,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// POSTs `body` to `/webhook` signed with the test secret, as Meta would.
    pub async fn post_signed(&self, body: &[u8]) -> reqwest::Response {
        let signature = sign(SECRET.as_bytes(), body);
        self.post(
            "/webhook",
            body,
            &[
                ("x-hub-signature-256", &signature),
                ("x-hub-signature", &sign_sha1(SECRET.as_bytes(), body)),
                ("facebook-api-version", "v25.0"),
                ("user-agent", "facebookexternalua"),
            ],
        )
        .await
    }

    /// A signed POST to `/webhook` as a task of its own, for concurrent deliveries; yields the status.
    pub fn spawn_signed(&self, body: Vec<u8>) -> JoinHandle<u16> {
        let request = self
            .client
            .post(self.url("/webhook"))
            .header("x-hub-signature-256", sign(SECRET.as_bytes(), &body))
            .body(body);
        tokio::spawn(async move { request.send().await.map_or(0, |r| r.status().as_u16()) })
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }

    /// A GET with `Authorization: Bearer <token>`.
    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    pub async fn events(&self) -> Vec<StoredEvent> {
        let query = EventQuery {
            limit: 100_000,
            with_raw: true,
            ..EventQuery::default()
        };
        self.store.list_events(query).await.unwrap()
    }

    pub async fn deliveries(&self) -> Vec<StoredDelivery> {
        let query = DeliveryQuery {
            limit: 100_000,
            with_body: true,
            ..DeliveryQuery::default()
        };
        self.store.list_deliveries(query).await.unwrap()
    }

    /// Waits until the conversation projection has applied every committed event.
    pub async fn projected(&self) {
        let committed = *self.store.committed_events().borrow();
        let mut projected = self.store.projected_events();
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            projected.wait_for(|p| *p >= committed),
        )
        .await
        .expect("the projection catches up")
        .unwrap();
    }

    /// Stops the server as SIGTERM would and waits for it to finish.
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.serving.take().unwrap().await.unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// A server with the admin token [`ADMIN_TOKEN`].
pub async fn with_admin() -> TestApp {
    TestApp::spawn_with(|c| c.admin_token = Some(ADMIN_TOKEN.into())).await
}

pub async fn json(response: reqwest::Response) -> serde_json::Value {
    response.json().await.unwrap()
}

/// The `id` of every item of a list page.
pub fn ids(page: &serde_json::Value) -> Vec<i64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_i64().unwrap())
        .collect()
}

/// Follows `next_cursor` from `first` (a path, with or without a query) to the end; returns the pages.
pub async fn walk(app: &TestApp, first: &str) -> Vec<serde_json::Value> {
    let separator = if first.contains('?') { '&' } else { '?' };
    let mut pages = vec![json(app.get_as(first, ADMIN_TOKEN).await).await];
    while let Some(cursor) = pages.last().unwrap()["next_cursor"].as_str() {
        let next = format!("{first}{separator}cursor={cursor}");
        pages.push(json(app.get_as(&next, ADMIN_TOKEN).await).await);
        assert!(pages.len() < 1000, "the cursor never reaches the end");
    }
    pages
}

/// A delivery of a message from `sender` and its read receipt: two events of two kinds.
pub fn message_and_read(sender: u32, n: u32) -> Vec<u8> {
    format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1700000000000,"messaging":[{{"sender":{{"id":"{sender}"}},"recipient":{{"id":"100"}},"timestamp":1700000000000,"message":{{"mid":"m.{sender}.{n}","text":"hello {n}"}}}},{{"sender":{{"id":"{sender}"}},"recipient":{{"id":"100"}},"timestamp":1700000000001,"read":{{"watermark":{}}}}}]}}]}}"#,
        1_700_000_000_000u64 + u64::from(n)
    )
    .into_bytes()
}

/// The fixtures of `hookline-meta` (Meta's examples and hookline's own edge cases), by file name.
pub fn fixtures() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hookline-meta/tests/fixtures");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("extra")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    assert!(files.len() > 100, "fixtures missing");
    files
}

/// One fixture of `hookline-meta` by file name, in Meta's wire form.
pub fn wire_fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hookline-meta/tests/fixtures")
        .join(name);
    wire(&std::fs::read(path).unwrap())
}

/// A body in Meta's wire form (compact, `\uXXXX`, `\/`).
pub fn wire(body: &[u8]) -> Vec<u8> {
    hookline_meta::wire::reencode(body).unwrap()
}

/// A one-message Messenger delivery with the given mid.
pub fn message(mid: &str) -> Vec<u8> {
    format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1700000000000,"messaging":[{{"sender":{{"id":"7"}},"recipient":{{"id":"100"}},"timestamp":1700000000000,"message":{{"mid":"{mid}","text":"hello"}}}}]}}]}}"#
    )
    .into_bytes()
}

/// Everything the server logs while the guard lives, at debug level.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    pub fn capture() -> (Log, tracing::subscriber::DefaultGuard) {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (log, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}
