//! What the tests that run the real binary share: `hookline serve` as a child process on a free port, a
//! test directory that keeps itself (and prints the servers' log) when the test fails, and running the
//! other subcommands.
//!
//! Each test binary uses a part of this, so the rest is dead code there.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_hookline");
/// How long a server gets to bind and answer `/healthz`.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// The binary, without any `HOOKLINE_*` setting or proxy from the environment the tests run in.
pub fn hookline_command() -> Command {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        let name_text = name.to_string_lossy();
        if name_text.starts_with("HOOKLINE_") || name_text.to_ascii_lowercase().ends_with("_proxy")
        {
            command.env_remove(name);
        }
    }
    command
}

/// Runs `hookline ARGS` to completion, with nothing on standard input.
pub fn hookline(args: &[&str]) -> Output {
    hookline_command()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The JSON lines of a successful output.
pub fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    assert!(
        output.status.success(),
        "hookline failed with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

/// Runs a reading subcommand on `database` and parses its JSON lines.
pub fn hookline_json(args: &[&str], database: &str) -> Vec<serde_json::Value> {
    let mut all = args.to_vec();
    all.extend(["--database", database]);
    json_lines(&hookline(&all))
}

/// A fixture of `hookline-meta`, as its file's bytes.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../hookline-meta/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// POSTs `body` to `url` signed with `secret`, with the headers Meta sends; returns the status.
pub async fn post_signed(client: &reqwest::Client, url: &str, secret: &str, body: &[u8]) -> u16 {
    client
        .post(url)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            hookline_meta::signature::sign(secret.as_bytes(), body),
        )
        .header("facebook-api-version", "v25.0")
        .header("user-agent", "facebookexternalua")
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A test's directory: its databases and the log of every server started in it.
pub struct Sandbox {
    dir: Option<tempfile::TempDir>,
    log: PathBuf,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::Builder::new()
            .prefix("hookline-test-")
            .tempdir()
            .unwrap();
        let log = dir.path().join("server.log");
        Sandbox {
            dir: Some(dir),
            log,
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.as_ref().unwrap().path()
    }

    /// The default database file, `hookline.db`.
    pub fn db(&self) -> PathBuf {
        self.path().join("hookline.db")
    }

    /// The store URL of the default database.
    pub fn url(&self) -> String {
        format!("sqlite://{}", self.db().display())
    }

    /// The store URL of a database named `name` in the test directory.
    pub fn store_url(&self, name: &str) -> String {
        format!("sqlite://{}", self.path().join(name).display())
    }

    /// The log file every server started in this sandbox writes to.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn log_since(&self, offset: u64) -> String {
        let log = std::fs::read(&self.log).unwrap_or_default();
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(log.len());
        String::from_utf8_lossy(&log[start..]).into_owned()
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log_since(0);
            let kept = self.dir.take().map(tempfile::TempDir::keep);
            eprintln!(
                "---- server log ({}) ----\n{log}---- end of server log; test directory kept: {} ----",
                self.log.display(),
                kept.map_or_else(String::new, |p| p.display().to_string()),
            );
        }
    }
}

/// `hookline serve` as a child process; killed (SIGKILL) when dropped if still running.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `hookline serve ARGS --listen <a free port>` and waits until it has bound the port and
    /// answers `/healthz`.
    pub async fn start(sandbox: &Sandbox, args: &[&str]) -> Server {
        Server::start_with_env(sandbox, args, &[]).await
    }

    /// [`Server::start`] with these environment variables set (`HOOKLINE_*` settings, say).
    pub async fn start_with_env(sandbox: &Sandbox, args: &[&str], env: &[(&str, &str)]) -> Server {
        let probe = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        for attempt in 1..=5 {
            // Another test may take the port between here and the server's bind: then try another.
            let addr = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap();
            let mut log = OpenOptions::new()
                .create(true)
                .append(true)
                .open(&sandbox.log)
                .unwrap();
            writeln!(
                log,
                "==== hookline serve --listen {addr} {} (attempt {attempt}) ====",
                args.join(" ")
            )
            .unwrap();
            let offset = log.metadata().unwrap().len();
            let child = hookline_command()
                .arg("serve")
                .args(args)
                .args(["--listen", &addr.to_string()])
                .envs(env.iter().copied())
                .current_dir(sandbox.path())
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut server = Server { child, addr };
            let deadline = Instant::now() + START_DEADLINE;
            loop {
                if let Some(status) = server.child.try_wait().unwrap() {
                    let log = sandbox.log_since(offset);
                    if log.contains("cannot listen") {
                        break;
                    }
                    panic!("hookline serve exited with {status} before it was ready:\n{log}");
                }
                // The log line proves this child bound the port (not some other test's server).
                if sandbox.log_since(offset).contains("hookline is listening") {
                    let health = probe.get(server.url("/healthz")).send().await;
                    if health.is_ok_and(|r| r.status() == 200) {
                        return server;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "hookline serve did not answer /healthz within {START_DEADLINE:?}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        panic!("could not find a free port for hookline serve in 5 attempts");
    }

    /// The server's process id (for /proc readings such as its resident memory).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// SIGKILL (`kill -9`), and reaps the process.
    pub fn kill9(&mut self) -> ExitStatus {
        self.child.kill().unwrap();
        self.child.wait().unwrap()
    }

    pub fn sigterm(&self) {
        sigterm(&self.child);
    }

    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        wait_exit(&mut self.child, timeout).await
    }

    /// SIGTERM, and waits for a clean exit.
    pub async fn stop(mut self) {
        self.sigterm();
        let status = self.wait_exit(Duration::from_secs(15)).await;
        assert!(
            status.success(),
            "hookline serve exited with {status} after SIGTERM"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Sends SIGTERM to a child process.
pub fn sigterm(child: &Child) {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -TERM failed");
}

/// Waits up to `timeout` for a child process to exit.
pub async fn wait_exit(child: &mut Child, timeout: Duration) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "the process did not exit within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A schema of its own on the PostgreSQL server of `HOOKLINE_TEST_POSTGRES_URL`, dropped on drop.
pub struct PostgresSchema {
    pub server: String,
    pub schema: String,
}

impl PostgresSchema {
    /// `None` (after saying why) when no server is configured.
    pub fn new(test: &str) -> Option<PostgresSchema> {
        let server = match std::env::var("HOOKLINE_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => url.trim().to_owned(),
            _ if std::env::var("HOOKLINE_REQUIRE_SERVICES").as_deref() == Ok("1") => panic!(
                "HOOKLINE_REQUIRE_SERVICES=1 but HOOKLINE_TEST_POSTGRES_URL is not set: start \
                 PostgreSQL and set HOOKLINE_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test"
            ),
            _ => {
                eprintln!(
                    "skipping {test}: set HOOKLINE_TEST_POSTGRES_URL (e.g. \
                     postgres://postgres@127.0.0.1:5432/test) to run it"
                );
                return None;
            }
        };
        let random = {
            use std::hash::{BuildHasher, Hasher};
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        };
        Some(PostgresSchema {
            server,
            schema: format!("t_{random:016x}"),
        })
    }

    pub fn url(&self) -> String {
        let separator = if self.server.contains('?') { '&' } else { '?' };
        format!("{}{separator}schema={}", self.server, self.schema)
    }

    /// Runs `sql` with `psql` (not through hookline) and returns its unaligned output.
    pub fn psql(&self, sql: &str) -> String {
        self.try_psql(sql)
            .unwrap_or_else(|err| panic!("psql {sql:?}: {err}"))
    }

    pub fn try_psql(&self, sql: &str) -> Result<String, String> {
        // psql knows libpq's options, not hookline's own.
        let (base, query) = self.server.split_once('?').unwrap_or((&self.server, ""));
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !pair.starts_with("pool_size="))
            .collect();
        let conninfo = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let output = Command::new("psql")
            .args([
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
                &conninfo,
            ])
            .stdin(Stdio::null())
            .output()
            .map_err(|err| format!("cannot run psql (the PostgreSQL client): {err}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    pub fn exists(&self) -> bool {
        let sql = format!(
            "SELECT count(*) FROM pg_namespace WHERE nspname = '{}'",
            self.schema
        );
        self.psql(&sql) == "1"
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        if let Err(err) = self.try_psql(&sql) {
            eprintln!("could not drop test schema {}: {err}", self.schema);
        }
    }
}

/// What the sink received: per `webhook-id`, the dedup keys of the bodies sent with it, and how many.
pub async fn at_sink(sink: &wiremock::MockServer) -> (HashMap<String, HashSet<String>>, usize) {
    let requests = sink.received_requests().await.unwrap();
    let mut by_id: HashMap<String, HashSet<String>> = HashMap::new();
    for request in &requests {
        let id = request.headers["webhook-id"].to_str().unwrap().to_owned();
        let event: serde_json::Value = serde_json::from_slice(&request.body).unwrap();
        let key = event["dedup_key"].as_str().unwrap().to_owned();
        by_id.entry(id).or_default().insert(key);
    }
    (by_id, requests.len())
}

/// The rounds (or seeds) of a fault test: `HOOKLINE_FAULT_ITERATIONS` for a long run, else `short`.
pub fn fault_iterations(short: usize) -> usize {
    match std::env::var("HOOKLINE_FAULT_ITERATIONS") {
        Ok(text) if !text.trim().is_empty() => text.trim().parse().unwrap_or_else(|err| {
            panic!("HOOKLINE_FAULT_ITERATIONS={text:?} is not a number of iterations: {err}")
        }),
        _ => short,
    }
}

/// A Messenger delivery body with one entry per mid, each a text message from `sender` to Page `100`:
/// every mid is an event of its own, so a test can count what a delivery stored.
pub fn message_delivery(mids: &[String], sender: &str, time: i64, text: &str) -> String {
    let entry: Vec<serde_json::Value> = mids
        .iter()
        .map(|mid| {
            serde_json::json!({
                "id": "100",
                "time": time,
                "messaging": [{
                    "sender": {"id": sender},
                    "recipient": {"id": "100"},
                    "timestamp": time,
                    "message": {"mid": mid, "text": text},
                }],
            })
        })
        .collect();
    serde_json::json!({"object": "page", "entry": entry}).to_string()
}
