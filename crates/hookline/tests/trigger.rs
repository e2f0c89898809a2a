//! `hookline trigger` run as the real binary: `--list`, `--print` round-trips through `hookline parse` for
//! every kind, and deliveries to a running `hookline serve` that are stored, refused for a wrong secret,
//! or cannot connect.

use std::fs::File;
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use hookline_meta::{Secret, SignatureHeaders, Verifier};
use hookline_trigger::catalog;

const BIN: &str = env!("CARGO_BIN_EXE_hookline");
const SECRET: &str = "trigger-cli-secret";

/// The binary, without any `HOOKLINE_*` setting from the environment the tests run in.
fn hookline() -> Command {
    let mut command = Command::new(BIN);
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HOOKLINE_") {
            command.env_remove(name);
        }
    }
    command.stdin(Stdio::null());
    command
}

fn run(args: &[&str]) -> Output {
    hookline().args(args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn parse(body: &[u8]) -> Vec<serde_json::Value> {
    let mut child = hookline()
        .arg("parse")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(body).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success());
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

#[test]
fn list_names_every_kind_with_its_object_and_description() {
    // With the receiver's settings in the environment, as `serve` users have them.
    let output = hookline()
        .args(["trigger", "--list"])
        .env("HOOKLINE_APP_SECRET", SECRET)
        .env("HOOKLINE_APP_ID", "42")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let list = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), catalog().len());
    for (line, kind) in lines.iter().zip(catalog()) {
        let mut columns = line.split_whitespace();
        assert_eq!(columns.next(), Some(kind.name));
        assert_eq!(columns.next(), Some(kind.object));
        assert!(line.ends_with(kind.description), "{line}");
    }
    // Aligned: every description starts in the same column.
    let column = |line: &str, kind: &hookline_trigger::Kind| line.rfind(kind.description).unwrap();
    let first = column(lines[0], &catalog()[0]);
    assert!(
        lines
            .iter()
            .zip(catalog())
            .all(|(l, k)| column(l, k) == first)
    );
}

#[test]
fn every_kind_prints_a_body_that_verifies_and_parses_to_its_kind() {
    let verifier = Verifier::new(vec![Secret::new(SECRET)]);
    for kind in catalog() {
        let output = run(&["trigger", kind.name, "--print", "--secret", SECRET]);
        assert!(
            output.status.success(),
            "{}: {}",
            kind.name,
            stderr(&output)
        );
        let header = stderr(&output);
        let body = output.stdout;
        let signature = header
            .trim_end()
            .strip_prefix("X-Hub-Signature-256: ")
            .unwrap_or_else(|| panic!("{}: no signature line in {header:?}", kind.name));
        let headers = SignatureHeaders {
            sha256: Some(signature.as_bytes()),
            sha1: None,
        };
        assert!(
            verifier.verify(&headers, &body[..]).is_ok(),
            "{}",
            kind.name
        );
        assert_eq!(
            hookline_meta::wire::reencode(&body).unwrap(),
            body,
            "{}",
            kind.name
        );
        let events = parse(&body);
        assert_eq!(events.len(), 1, "{}", kind.name);
        assert_eq!(events[0]["kind"], kind.kind, "{}", kind.name);
        assert_eq!(events[0]["object"], kind.object, "{}", kind.name);
    }
}

#[test]
fn print_without_a_secret_prints_only_the_body() {
    let output = run(&["trigger", "message", "--print", "--batch", "3"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(output.stderr.is_empty(), "{}", stderr(&output));
    assert_eq!(parse(&output.stdout).len(), 3);
}

#[test]
fn the_secret_is_read_from_the_first_of_hookline_app_secret() {
    let output = hookline()
        .args(["trigger", "message", "--print"])
        .env("HOOKLINE_APP_SECRET", format!("{SECRET},an-older-secret"))
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = hookline_meta::signature::sign(SECRET.as_bytes(), &output.stdout);
    assert_eq!(
        stderr(&output).trim_end(),
        format!("X-Hub-Signature-256: {expected}")
    );
}

#[test]
fn app_id_makes_echoes_this_apps() {
    let output = hookline()
        .args(["trigger", "echo", "--print"])
        .env("HOOKLINE_APP_ID", "42424242")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let body: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        body["entry"][0]["messaging"][0]["message"]["app_id"],
        42424242
    );
}

#[test]
fn sending_without_a_secret_says_how_to_pass_one() {
    let output = run(&["trigger", "message"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("--secret") && err.contains("HOOKLINE_APP_SECRET"),
        "{err}"
    );
}

#[test]
fn an_unknown_kind_suggests_close_names_and_the_list() {
    let output = run(&["trigger", "mesage.imgae", "--print"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("`message.image`"), "{err}");
    assert!(err.contains("hookline trigger --list"), "{err}");
}

#[test]
fn a_receiver_that_is_not_there_is_named_with_a_hint() {
    // Port 1 (tcpmux) has no listener on any machine this runs on. A port picked as free could be taken
    // by another test's server before the trigger connects, which then answers 200.
    let url = "http://127.0.0.1:1/webhook".to_owned();
    let output = run(&["trigger", "message", "--secret", SECRET, "--to", &url]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains(&format!("cannot connect to {url}")), "{err}");
    assert!(err.contains("hookline serve"), "{err}");
}

#[test]
fn a_triggered_message_is_stored_by_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let database = server.database();
    let output = run(&[
        "trigger",
        "message",
        "--secret",
        SECRET,
        "--to",
        &server.url(),
        "--text",
        "stored?",
    ]);
    assert!(
        output.status.success(),
        "{}\n{}",
        stderr(&output),
        server.log()
    );
    let printed = String::from_utf8(output.stdout).unwrap();
    assert!(
        printed.starts_with(&format!("POST {} -> 200 OK", server.url())),
        "{printed}"
    );
    let event_line = printed.lines().nth(1).unwrap();
    let columns: Vec<&str> = event_line.split_whitespace().collect();
    assert_eq!(columns[0], "message", "{printed}");
    let (mid, key) = (columns[1], columns[2]);
    assert!(mid.starts_with("m_") && key.starts_with("v1:"), "{printed}");

    let stored = stored_events(&database, 1);
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(stored[0]["kind"], "message");
    assert_eq!(stored[0]["mid"], mid);
    assert_eq!(stored[0]["dedup_key"], key);

    // A second trigger is a distinct event, and a batch stores each of its events.
    let again = run(&[
        "trigger",
        "read",
        "--batch",
        "3",
        "--secret",
        SECRET,
        "--to",
        &server.url(),
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(stored_events(&database, 4).len(), 4);
}

/// The stored events, read until there are `expected` of them or a few seconds have passed.
fn stored_events(database: &str, expected: usize) -> Vec<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let listed = run(&["events", "list", "--json", "--database", database]);
        assert!(listed.status.success(), "{}", stderr(&listed));
        let stored: Vec<serde_json::Value> = String::from_utf8(listed.stdout)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        if stored.len() >= expected || Instant::now() > deadline {
            return stored;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_wrong_secret_exits_1_with_the_401_hint() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path());
    let output = run(&[
        "trigger",
        "message",
        "--secret",
        "not-the-secret",
        "--to",
        &server.url(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", server.log());
    let err = stderr(&output);
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("HOOKLINE_APP_SECRET"), "{err}");
    assert!(output.stdout.is_empty());
}

// ---------------------------------------------------------------------------------------------------------
// `hookline serve` as a child process.
// ---------------------------------------------------------------------------------------------------------

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A running `hookline serve` on a free port with its own SQLite file; killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
    dir: std::path::PathBuf,
}

impl Server {
    fn start(dir: &Path) -> Server {
        for _ in 0..5 {
            // Another process may take the port before the server binds it: then try another.
            let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let log = File::create(dir.join("server.log")).unwrap();
            let child = hookline()
                .args([
                    "serve",
                    "--app-secret",
                    SECRET,
                    "--listen",
                    &addr.to_string(),
                ])
                .args([
                    "--database",
                    &format!("sqlite://{}", dir.join("hookline.db").display()),
                ])
                .current_dir(dir)
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut server = Server {
                child,
                addr,
                dir: dir.to_owned(),
            };
            if server.wait_ready() {
                return server;
            }
        }
        panic!("could not start hookline serve on a free port in 5 attempts");
    }

    /// Waits until this child says it listens and its port accepts connections; false if it exited because
    /// the port was taken.
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let log = self.log();
                assert!(
                    log.contains("cannot listen"),
                    "hookline serve exited with {status}:\n{log}"
                );
                return false;
            }
            if self.log().contains("hookline is listening") && TcpStream::connect(self.addr).is_ok()
            {
                return true;
            }
            assert!(
                Instant::now() < deadline,
                "hookline serve did not start:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("http://{}/webhook", self.addr)
    }

    fn database(&self) -> String {
        format!("sqlite://{}", self.dir.join("hookline.db").display())
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
