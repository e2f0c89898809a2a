//! What the HTTP sink sends verifies with an independent Standard Webhooks implementation: the
//! `standardwebhooks` package from PyPI, run by `tests/verify_standardwebhooks.py`.
//!
//! Forwarded events built from fixtures (one with non-ASCII text and JSON escapes, one over 1 MiB) are POSTed
//! to a wiremock consumer with two secrets; the headers and exact body bytes that arrived are written to a
//! directory, and the script verifies each request, checks that the signature is the one the package
//! computes, and that a tampered body and the wrong secret are rejected.
//!
//! The interpreter is `HOOKLINE_TEST_PYTHON` (default `python3`; give an absolute path, since tests run in
//! the crate's directory). Without it or without the package the test says why and passes, unless
//! `HOOKLINE_REQUIRE_SERVICES=1` (set by `.ci/run`, which installs the package in `target/py`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::SystemTime;

use hookline_meta::ParseOptions;
use hookline_sinks::Outcome;
use hookline_sinks::http::{HttpSink, Timeouts};
use hookline_sinks::payload::{ForwardedEvent, webhook_id};
use hookline_sinks::signature::SigningSecret;
use hookline_store::StoredEvent;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;
use support::{SECRET, fixture, header, stored_event};

/// Another key (`hookline-test-key-01`, padded base64), as in tests/vectors/vector3.txt.
const OTHER_SECRET: &str = "whsec_aG9va2xpbmUtdGVzdC1rZXktMDE=";

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/verify_standardwebhooks.py"
);
const INSTALL: &str = "python3 -m venv target/py && target/py/bin/pip install standardwebhooks, \
     then set HOOKLINE_TEST_PYTHON=$PWD/target/py/bin/python";

/// The Python interpreter with `standardwebhooks`, or `None` after saying why the test is skipped; panics
/// instead when `HOOKLINE_REQUIRE_SERVICES=1`.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("HOOKLINE_TEST_PYTHON")
        .map_or_else(|| PathBuf::from("python3"), PathBuf::from);
    let unavailable = match Command::new(&python).arg(SCRIPT).arg("--probe").output() {
        Ok(out) if out.status.success() => {
            println!(
                "verifying with {} ({})",
                String::from_utf8_lossy(&out.stdout).trim(),
                python.display()
            );
            return Some(python);
        }
        Ok(out) => format!(
            "{} cannot import standardwebhooks ({}): {}",
            python.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(err) => format!("cannot run {}: {err}", python.display()),
    };
    let reason = format!("{unavailable}; install it with: {INSTALL}");
    if std::env::var("HOOKLINE_REQUIRE_SERVICES").as_deref() == Ok("1") {
        panic!(
            "cannot verify with standardwebhooks: {reason}; HOOKLINE_REQUIRE_SERVICES=1 requires it"
        );
    }
    println!("standardwebhooks test skipped: {reason}");
    None
}

/// The first event of the fixture `name`, with its message text replaced by `text`, stored as ingest
/// stores it.
fn stored(name: &str, text: Option<&str>) -> StoredEvent {
    let mut delivery: Value = serde_json::from_slice(&fixture(name)).unwrap();
    if let Some(text) = text {
        let entry = &mut delivery["entry"][0];
        let channel = if entry.get("messaging").is_some() {
            "messaging"
        } else {
            "standby"
        };
        entry[channel][0]["message"]["text"] = json!(text);
    }
    stored_event(&serde_json::to_vec(&delivery).unwrap())
}

/// One POST to make: a name for the output, the body, its webhook-id, and which secret signs it.
struct Sent {
    name: &'static str,
    body: Vec<u8>,
    webhook_id: String,
    secret: &'static str,
}

fn forwarded(name: &'static str, event: &StoredEvent, secret: &'static str) -> Sent {
    Sent {
        name,
        body: ForwardedEvent::from_stored(event, &ParseOptions::default()).to_bytes(),
        webhook_id: webhook_id(&event.dedup_key),
        secret,
    }
}

fn bodies() -> Vec<Sent> {
    let plain = stored("ig01_message_text", None);
    let non_ascii = stored(
        "ig01_message_text",
        Some("Grüße aus Köln! 你好 👋 ¿está el azul? \"quoted\" back\\slash\nnew line\ttab"),
    );
    let standby = stored("m48_standby_message", None);
    let large = stored(
        "ig01_message_text",
        Some(&"Is the blue one in stock? ¿Y el rojo? 青いのはありますか 🌊\n".repeat(16_384)),
    );
    let sent = vec![
        forwarded("ig01-message", &plain, SECRET),
        forwarded("ig01-non-ascii", &non_ascii, SECRET),
        forwarded("m48-standby", &standby, SECRET),
        forwarded("ig01-large", &large, SECRET),
        forwarded("ig01-message-other-key", &plain, OTHER_SECRET),
        forwarded("ig01-non-ascii-other-key", &non_ascii, OTHER_SECRET),
    ];
    let non_ascii_body = &sent[1].body;
    assert!(
        !non_ascii_body.is_ascii()
            && std::str::from_utf8(non_ascii_body)
                .unwrap()
                .contains("你好"),
        "the forwarded body keeps non-ASCII text as UTF-8"
    );
    assert!(sent[3].body.len() > 1 << 20, "{} bytes", sent[3].body.len());
    sent
}

/// A fresh directory under cargo's scratch directory for integration tests.
fn scratch_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("standardwebhooks-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[tokio::test]
async fn the_python_standardwebhooks_package_verifies_what_the_sink_sends() {
    let Some(python) = python() else {
        return;
    };

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    let sink = |secret: &str| {
        HttpSink::new(
            &format!("{}/hooks", server.uri()),
            SigningSecret::parse(secret).unwrap(),
            Timeouts::default(),
        )
        .unwrap()
    };
    let (spec_sink, other_sink) = (sink(SECRET), sink(OTHER_SECRET));

    let sent = bodies();
    for one in &sent {
        let sink = if one.secret == SECRET {
            &spec_sink
        } else {
            &other_sink
        };
        let outcome = sink
            .post(one.body.clone(), &one.webhook_id, SystemTime::now())
            .await;
        assert_eq!(outcome, Outcome::Delivered, "{}", one.name);
    }

    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), sent.len());
    let dir = scratch_dir();
    let mut manifest = Vec::new();
    for (i, (one, request)) in sent.iter().zip(&received).enumerate() {
        assert!(
            request.body == one.body,
            "{}: the body arrived changed",
            one.name
        );
        assert_eq!(
            header(request, "webhook-id"),
            one.webhook_id,
            "{}",
            one.name
        );
        let file = format!("{i:02}.body");
        std::fs::write(dir.join(&file), &request.body).unwrap();
        manifest.push(json!({
            "name": one.name,
            "body": file,
            "headers": {
                "webhook-id": header(request, "webhook-id"),
                "webhook-timestamp": header(request, "webhook-timestamp"),
                "webhook-signature": header(request, "webhook-signature"),
            },
            "secret": one.secret,
            "wrong_secret": if one.secret == SECRET { OTHER_SECRET } else { SECRET },
        }));
    }
    std::fs::write(
        dir.join("manifest.json"),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();

    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(&python)
        .arg(SCRIPT)
        .arg(&dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&stdout);
    let stderr = String::from_utf8_lossy(&stderr);
    println!("{stdout}");
    assert!(
        status.success(),
        "{SCRIPT} {} failed ({status}):\n{stdout}\n{stderr}",
        dir.display()
    );
    assert!(!stdout.contains("FAIL"), "{stdout}");
    for one in &sent {
        for check in [
            "verifies (",
            "signature is the one standardwebhooks computes",
            "tampered body rejected: No matching signature found",
            "wrong secret rejected: No matching signature found",
        ] {
            let line = format!("ok   {}: {check}", one.name);
            assert!(
                stdout.lines().any(|l| l.starts_with(&line)),
                "no {line:?} in:\n{stdout}"
            );
        }
    }
    let n = sent.len();
    let summary =
        format!(": {n} requests verified, {n} tampered bodies and {n} wrong secrets rejected");
    assert!(
        stdout
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("standardwebhooks ") && l.ends_with(&summary)),
        "no summary {summary:?} in:\n{stdout}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
