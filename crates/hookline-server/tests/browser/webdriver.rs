//! Just enough of W3C WebDriver to drive chromedriver from a test: a session, navigation, clicks, typing,
//! scripts and screenshots, over the test's own HTTP client.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Debian's Chromium and its chromedriver, when both are installed.
pub struct Tools {
    chromium: PathBuf,
    chromedriver: PathBuf,
}

impl Tools {
    /// The tools, or `None` after saying why the test is skipped; panics instead when
    /// `HOOKLINE_REQUIRE_SERVICES=1`, so CI cannot pass without running the browser.
    pub fn find() -> Option<Tools> {
        let path = |var: &str, default: &str| {
            std::env::var_os(var).map_or_else(|| PathBuf::from(default), PathBuf::from)
        };
        let tools = Tools {
            chromium: path("HOOKLINE_CHROMIUM", "/usr/bin/chromium"),
            chromedriver: path("HOOKLINE_CHROMEDRIVER", "/usr/bin/chromedriver"),
        };
        let missing: Vec<String> = [&tools.chromium, &tools.chromedriver]
            .into_iter()
            .filter(|p| !p.exists())
            .map(|p| p.display().to_string())
            .collect();
        if missing.is_empty() {
            return Some(tools);
        }
        let reason = format!(
            "browser test skipped: {} not installed (apt-get install chromium chromium-driver)",
            missing.join(" and ")
        );
        if std::env::var("HOOKLINE_REQUIRE_SERVICES").as_deref() == Ok("1") {
            panic!("{reason}; HOOKLINE_REQUIRE_SERVICES=1 requires it");
        }
        println!("{reason}");
        None
    }
}

/// A chromedriver process and one browser session in it; both end when this is dropped.
pub struct Browser {
    http: reqwest::Client,
    session: String,
    driver: Child,
    /// Set once the session was ended, so `Drop` does not end it again.
    ended: bool,
    _profile: tempfile::TempDir,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// WebDriver's Enter key.
pub const ENTER: &str = "\u{E007}";
/// WebDriver's Shift key, held for the keys after it.
pub const SHIFT: &str = "\u{E008}";
/// WebDriver's Null key: lets go of the modifiers held.
pub const RELEASE: &str = "\u{E000}";

impl Browser {
    pub async fn start(tools: &Tools) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        wait_ready(&http, &root).await;
        // The flags this machine needs: no sandbox as root, and no background traffic to Google's hosts.
        let args = [
            "--headless=new".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,860".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": tools.chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let created = http
            .post(format!("{root}/session"))
            .json(&capabilities)
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        let id = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("chromedriver made no session: {created}"));
        Browser {
            http,
            session: format!("{root}/session/{id}"),
            driver,
            ended: false,
            _profile: profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.session));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {answer}"
        );
        answer["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .command(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_owned()
    }

    pub async fn click(&self, css: &str) {
        self.wait_for(css).await;
        let id = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Replaces the text of the input `css` with `text`.
    pub async fn type_into(&self, css: &str, text: &str) {
        self.wait_for(css).await;
        let id = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/clear"),
            Some(json!({})),
        )
        .await;
        self.send_keys(css, text).await;
    }

    /// Types `keys` into the element `css` after what it holds: text, and WebDriver's key codes such as
    /// [`ENTER`] (a modifier such as [`SHIFT`] stays down until [`RELEASE`] or the end of `keys`).
    pub async fn send_keys(&self, css: &str, keys: &str) {
        self.wait_for(css).await;
        let id = self.element(css).await;
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": keys })),
        )
        .await;
    }

    pub async fn exec(&self, script: &str, args: &[Value]) -> Value {
        self.command(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": args})),
        )
        .await
    }

    async fn text_of(&self, css: &str) -> Option<String> {
        let script =
            "const el = document.querySelector(arguments[0]); return el ? el.innerText : null;";
        self.exec(script, &[json!(css)])
            .await
            .as_str()
            .map(str::to_owned)
    }

    async fn wait_for(&self, css: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.text_of(css).await.is_none() {
            assert!(Instant::now() < deadline, "no element {css} appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the element `css` exists and its text contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            let text = self.text_of(css).await;
            if text.as_deref().is_some_and(|t| t.contains(needle)) {
                return;
            }
            if Instant::now() > deadline {
                panic!("{css} never showed {needle:?}; it shows {text:?}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until `script` (run with `args`) returns `expected`; on timeout, says what it returned last.
    pub async fn wait_value(&self, what: &str, script: &str, args: &[Value], expected: &Value) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let value = self.exec(script, args).await;
            if &value == expected {
                return;
            }
            if Instant::now() > deadline {
                panic!("{what}: expected {expected}, the page shows {value}");
            }
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
    }

    /// Waits until the page follows new events (the stream, or polling where there is none).
    pub async fn wait_live(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let state = self
                .exec("return document.getElementById('live').dataset.state", &[])
                .await;
            if state == "live" || state == "polling" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the page never went live: {state}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Asserts that the page was not reloaded since `window.__sameDocument` was set.
    pub async fn assert_same_document(&self) {
        let same = self
            .exec("return window.__sameDocument === true", &[])
            .await;
        assert_eq!(same, true, "the page reloaded; updates must arrive live");
    }

    /// The browser console's messages since the last call (chromedriver's log endpoint).
    pub async fn console(&self) -> Vec<String> {
        let entries = self
            .command(
                reqwest::Method::POST,
                "/se/log",
                Some(json!({ "type": "browser" })),
            )
            .await;
        entries
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|e| e["message"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub async fn screenshot(&self, path: &Path) {
        let encoded = self
            .command(reqwest::Method::GET, "/screenshot", None)
            .await;
        let png = base64_decode(encoded.as_str().unwrap());
        std::fs::write(path, png).unwrap();
        println!("screenshot: {}", path.display());
    }

    /// Ends the session and chromedriver (what `Drop` does, for a test that got this far).
    pub async fn quit(mut self) {
        let _ = self.http.delete(&self.session).send().await;
        self.ended = true;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A test that failed midway leaves nothing running: ending the session closes Chromium (killing
        // chromedriver alone would orphan it), then chromedriver goes.
        if !self.ended {
            end_session_blocking(&self.session);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// `DELETE` the session over a plain socket: `Drop` cannot await, and a panicking test may have no runtime.
fn end_session_blocking(session: &str) {
    use std::io::{Read, Write};
    let Some((host, path)) = session
        .strip_prefix("http://")
        .and_then(|rest| rest.split_once('/'))
    else {
        return;
    };
    let Ok(mut stream) = std::net::TcpStream::connect(host) else {
        return;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let request = format!("DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_ok() {
        let _ = stream.read_to_end(&mut Vec::new());
    }
}

async fn wait_ready(http: &reqwest::Client, root: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(response) = http.get(format!("{root}/status")).send().await {
            let status: Value = response.json().await.unwrap_or_default();
            if status["value"]["ready"] == true {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not start on {root}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Standard base64 (WebDriver's screenshots), without a dependency for one call.
fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut n = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            n |= u32::from(*d) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_padded_and_unpadded_text() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGk"), b"hi");
    assert_eq!(base64_decode("aGVsbG8gd29ybGQ="), b"hello world");
}
