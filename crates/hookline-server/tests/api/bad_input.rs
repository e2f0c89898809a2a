//! The bad input matrix: hostile or broken requests against a running server, each with the status it
//! gets and what (if anything) it leaves in the store, and a good signed delivery afterwards to show the
//! server still answers. `docs/bad-input.md` is the same matrix as a table; keep the two in sync.

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use hookline_meta::signature::{sign, sign_sha1};
use hookline_store::Outcome;

use crate::helpers::{ADMIN_TOKEN, SECRET, TOKEN, TestApp, message, with_admin};

/// How many events and deliveries the store holds.
async fn stored(app: &TestApp) -> (usize, usize) {
    (app.events().await.len(), app.deliveries().await.len())
}

/// A good signed delivery still gets its 200 and is stored.
async fn still_answers(app: &TestApp, case: &str) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let mid = format!("m.after.{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let (_, before) = stored(app).await;
    let response = app.post_signed(&message(&mid)).await;
    assert_eq!(response.status(), 200, "good delivery after {case}");
    assert_eq!(
        stored(app).await.1,
        before + 1,
        "good delivery after {case}"
    );
}

/// Asserts nothing new was stored since `before`.
async fn nothing_stored(app: &TestApp, before: (usize, usize), case: &str) {
    assert_eq!(stored(app).await, before, "{case}: something was stored");
}

/// A signed POST to `/webhook` with exactly the headers given (no default Content-Type).
async fn post_with(app: &TestApp, body: &[u8], headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = app.client.post(app.url("/webhook")).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap()
}

/// Writes `request` verbatim on a fresh connection (no client normalising the path or the framing) and
/// returns the status and the whole response.
async fn raw(app: &TestApp, request: Vec<u8>) -> (u16, String) {
    let addr = app.base.trim_start_matches("http://").to_string();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(&request).unwrap();
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, text)
    })
    .await
    .unwrap()
}

/// A raw HTTP/1.1 request with `Connection: close`; `body` gets a Content-Length.
fn http(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {target} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n");
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        out.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

/// `body` as a chunked request body, cut into chunks of `size` bytes.
fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in body.chunks(size) {
        out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A one-message delivery whose message carries `extra` (raw JSON bytes) as its `extra` member.
fn message_with(extra: &[u8]) -> Vec<u8> {
    let mut body = br#"{"object":"page","entry":[{"id":"100","time":1700000000000,"messaging":[{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":1700000000000,"message":{"mid":"m.extra","text":"hello","extra":"#.to_vec();
    body.extend_from_slice(extra);
    body.extend_from_slice(b"}}]}]}");
    body
}

/// A valid delivery (no events) of exactly `len` bytes.
fn body_of_len(len: usize) -> Vec<u8> {
    let head = br#"{"object":"page","entry":[],"pad":""#;
    let tail = br#""}"#;
    let mut body = head.to_vec();
    body.resize(len - tail.len(), b'x');
    body.extend_from_slice(tail);
    assert_eq!(body.len(), len);
    body
}

#[tokio::test]
async fn malformed_json_with_a_valid_signature_is_quarantined_with_no_events() {
    let app = TestApp::spawn().await;
    let good = message("m.truncated");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("truncated mid-object", good[..good.len() / 2].to_vec()),
        ("truncated by one byte", good[..good.len() - 1].to_vec()),
        ("empty body", Vec::new()),
        ("lone brace", b"{".to_vec()),
        ("not json", b"hello=world".to_vec()),
        ("trailing garbage", [&good[..], b"}x"].concat()),
        ("two documents", [&good[..], &good[..]].concat()),
        ("single quotes", b"{'object':'page','entry':[]}".to_vec()),
        (
            "trailing comma",
            br#"{"object":"page","entry":[],}"#.to_vec(),
        ),
        ("nul bytes", b"\0\0\0\0".to_vec()),
        (
            "invalid UTF-8 in a string",
            message_with(b"\"caf\xc3\x28 \xff\xfe\""),
        ),
    ];
    for (case, body) in cases {
        let (events, deliveries) = stored(&app).await;
        let response = app.post_signed(&body).await;
        assert_eq!(response.status(), 200, "{case}");
        assert_eq!(response.text().await.unwrap(), "EVENT_RECEIVED", "{case}");
        let stored_now = app.deliveries().await;
        assert_eq!(stored_now.len(), deliveries + 1, "{case}");
        let delivery = stored_now.iter().max_by_key(|d| d.id).unwrap();
        assert_eq!(delivery.outcome, Outcome::Quarantined, "{case}");
        assert_eq!(delivery.body.as_deref(), Some(&body[..]), "{case}");
        assert_eq!(app.events().await.len(), events, "{case}: events stored");
    }
    still_answers(&app, "malformed json").await;
}

#[tokio::test]
async fn bodies_at_the_size_limit_are_taken_and_one_byte_over_is_413() {
    const LIMIT: usize = 64 * 1024;
    let app = TestApp::spawn_with(|c| c.max_body_bytes = LIMIT).await;

    let at = body_of_len(LIMIT);
    let response = app.post_signed(&at).await;
    assert_eq!(response.status(), 200, "exactly at the limit");
    let deliveries = app.deliveries().await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].body_len, LIMIT as i64);

    let over = body_of_len(LIMIT + 1);
    let before = stored(&app).await;
    let response = app.post_signed(&over).await;
    assert_eq!(response.status(), 413, "one byte over");
    nothing_stored(&app, before, "one byte over").await;

    // Without a Content-Length the cap still applies to the streamed bytes.
    let signature = sign(SECRET.as_bytes(), &over);
    let request = [
        http(
            "POST",
            "/webhook",
            &[
                ("content-type", "application/json"),
                ("x-hub-signature-256", &signature),
                ("transfer-encoding", "chunked"),
            ],
            b"",
        ),
        chunked(&over, 4096),
    ]
    .concat();
    let (status, _) = raw(&app, request).await;
    assert_eq!(status, 413, "one byte over, chunked");
    nothing_stored(&app, before, "one byte over, chunked").await;
    still_answers(&app, "size limit").await;
}

#[tokio::test]
async fn ten_thousand_deep_nesting_is_answered_without_overflowing_the_stack() {
    const DEPTH: usize = 10_000;
    let app = TestApp::spawn().await;
    let arrays = [
        br#"{"object":"page","entry":"#.to_vec(),
        "[".repeat(DEPTH).into_bytes(),
        "]".repeat(DEPTH).into_bytes(),
        b"}".to_vec(),
    ]
    .concat();
    let objects = message_with(
        &[
            r#"{"a":"#.repeat(DEPTH).into_bytes(),
            b"1".to_vec(),
            "}".repeat(DEPTH).into_bytes(),
        ]
        .concat(),
    );
    let unclosed = message_with(&"[".repeat(DEPTH).into_bytes());
    let cases = [
        ("deep arrays as entry", arrays, Outcome::Accepted, 1),
        ("deep objects in a message", objects, Outcome::Accepted, 1),
        ("deep unclosed arrays", unclosed, Outcome::Quarantined, 0),
    ];
    for (case, body, outcome, events) in cases {
        let before = stored(&app).await;
        let response = app.post_signed(&body).await;
        assert_eq!(response.status(), 200, "{case}");
        let deliveries = app.deliveries().await;
        assert_eq!(deliveries.len(), before.1 + 1, "{case}");
        let delivery = deliveries.iter().max_by_key(|d| d.id).unwrap();
        assert_eq!(delivery.outcome, outcome, "{case}");
        assert_eq!(delivery.body.as_deref(), Some(&body[..]), "{case}");
        assert_eq!(app.events().await.len(), before.0 + events, "{case}");
    }
    still_answers(&app, "deep nesting").await;
}

#[tokio::test]
async fn a_five_megabyte_string_under_a_larger_limit_is_one_event_with_its_raw_json() {
    let app = TestApp::spawn_with(|c| c.max_body_bytes = 16 * 1024 * 1024).await;
    let huge = "y".repeat(5 * 1024 * 1024);
    let body = message_with(format!("\"{huge}\"").as_bytes());
    let response = app.post_signed(&body).await;
    assert_eq!(response.status(), 200);
    let events = app.events().await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].mid.as_deref(), Some("m.extra"));
    assert!(events[0].raw.as_deref().unwrap().contains(&huge));
    assert_eq!(app.deliveries().await[0].body.as_deref(), Some(&body[..]));
    still_answers(&app, "huge string").await;
}

/// What one odd but well-formed body becomes: the kind, mid, sender and timestamp of its one event.
type Expected = (
    &'static str,
    Option<&'static str>,
    Option<&'static str>,
    Option<i64>,
);

#[tokio::test]
async fn duplicate_keys_big_numbers_and_lone_surrogates_are_acknowledged_and_kept() {
    let app = TestApp::spawn().await;
    let beyond = "184467440737095516160000";
    let envelope = |messaging: &str, time: &str| {
        format!(r#"{{"object":"page","entry":[{{"id":"100","time":{time},"messaging":[{messaging}]}}]}}"#)
            .into_bytes()
    };
    let ts = "1700000000000";
    let cases: Vec<(&str, Vec<u8>, Option<Expected>)> = vec![
        (
            // serde refuses a struct with a repeated field, so the message is kept as `unknown` with its raw.
            "duplicate mid",
            envelope(
                r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":1700000000000,"message":{"mid":"m.first","mid":"m.second","text":"hi"}}"#,
                ts,
            ),
            Some(("unknown", None, Some("7"), Some(1_700_000_000_000))),
        ),
        (
            "duplicate object",
            br#"{"object":"page","object":"instagram","entry":[]}"#.to_vec(),
            None,
        ),
        (
            "sender id beyond u64, as a number",
            envelope(
                &format!(
                    r#"{{"sender":{{"id":{beyond}}},"recipient":{{"id":"100"}},"timestamp":1700000000000,"message":{{"mid":"m.bigid","text":"hi"}}}}"#
                ),
                ts,
            ),
            Some(("unknown", None, None, Some(1_700_000_000_000))),
        ),
        (
            "timestamps beyond u64",
            envelope(
                &format!(
                    r#"{{"sender":{{"id":"7"}},"recipient":{{"id":"100"}},"timestamp":{beyond},"message":{{"mid":"m.bigts","text":"hi"}}}}"#
                ),
                beyond,
            ),
            Some(("message", Some("m.bigts"), Some("7"), None)),
        ),
        (
            "timestamps as 1e400",
            envelope(
                r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":-1e400,"message":{"mid":"m.expts","text":"hi"}}"#,
                "1e400",
            ),
            Some(("unknown", None, Some("7"), None)),
        ),
        (
            "lone surrogate escape in an unread member",
            message_with(br#""\ud800""#),
            Some((
                "message",
                Some("m.extra"),
                Some("7"),
                Some(1_700_000_000_000),
            )),
        ),
    ];
    for (case, body, expected) in cases {
        let before = stored(&app).await;
        let response = app.post_signed(&body).await;
        assert_eq!(response.status(), 200, "{case}");
        let deliveries = app.deliveries().await;
        assert_eq!(deliveries.len(), before.1 + 1, "{case}");
        let delivery = deliveries.iter().max_by_key(|d| d.id).unwrap();
        assert_eq!(delivery.outcome, Outcome::Accepted, "{case}");
        let events: Vec<_> = app
            .events()
            .await
            .into_iter()
            .filter(|e| e.delivery_id == delivery.id)
            .collect();
        let got = events.first().map(|e| {
            (
                e.kind.as_str(),
                e.mid.as_deref(),
                e.sender.as_deref(),
                e.timestamp_ms,
            )
        });
        assert_eq!(got, expected, "{case}");
        assert!(events.len() <= 1, "{case}");
        if let Some(event) = events.first() {
            assert!(event.raw.is_some(), "{case}: raw JSON kept");
        }
    }
    still_answers(&app, "duplicate keys and big numbers").await;
}

#[tokio::test]
async fn content_type_and_transfer_encoding_do_not_matter_to_a_signed_body() {
    let app = TestApp::spawn().await;
    let body = message("m.ctype");
    let signature = sign(SECRET.as_bytes(), &body);
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("text/plain", vec![("content-type", "text/plain")]),
        ("no content type", vec![]),
        (
            "form encoded",
            vec![("content-type", "application/x-www-form-urlencoded")],
        ),
        (
            "json with charset",
            vec![("content-type", "application/json; charset=utf-8")],
        ),
    ];
    for (case, mut headers) in cases {
        headers.push(("x-hub-signature-256", &signature));
        let (_, deliveries) = stored(&app).await;
        let response = post_with(&app, &body, &headers).await;
        assert_eq!(response.status(), 200, "{case}");
        assert_eq!(stored(&app).await.1, deliveries + 1, "{case}");
    }
    assert_eq!(app.events().await.len(), 1, "one message, deduplicated");

    // Chunked: the signature is over the de-chunked bytes, which is what the handler sees.
    let body = message("m.chunked");
    let signature = sign(SECRET.as_bytes(), &body);
    let request = [
        http(
            "POST",
            "/webhook",
            &[
                ("content-type", "application/json"),
                ("x-hub-signature-256", &signature),
                ("transfer-encoding", "chunked"),
            ],
            b"",
        ),
        chunked(&body, 7),
    ]
    .concat();
    let (status, _) = raw(&app, request.clone()).await;
    assert_eq!(status, 200, "chunked");
    let events = app.events().await;
    assert!(events.iter().any(|e| e.mid.as_deref() == Some("m.chunked")));
    let delivery = app
        .deliveries()
        .await
        .into_iter()
        .max_by_key(|d| d.id)
        .unwrap();
    assert_eq!(delivery.body.as_deref(), Some(&body[..]));
    still_answers(&app, "content types").await;
}

/// A gzip member holding `data` in one stored (uncompressed) deflate block; enough for a test.
fn gzip(data: &[u8]) -> Vec<u8> {
    let len = u16::try_from(data.len()).unwrap();
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255, 1];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[tokio::test]
async fn a_gzip_body_is_not_decoded_and_is_quarantined_or_refused_by_its_signature() {
    let app = TestApp::spawn().await;
    let json = message("m.gzip");
    let compressed = gzip(&json);
    let headers = |signature: &str| {
        vec![
            ("content-type".to_string(), "application/json".to_string()),
            ("content-encoding".to_string(), "gzip".to_string()),
            ("x-hub-signature-256".to_string(), signature.to_string()),
        ]
    };
    let send = |signature: String| {
        let mut request = app
            .client
            .post(app.url("/webhook"))
            .body(compressed.clone());
        for (name, value) in headers(&signature) {
            request = request.header(name, value);
        }
        request.send()
    };

    // Signed over the bytes on the wire (the compressed ones): verified, but not JSON, so quarantined
    // with the compressed bytes kept as received. hookline never decodes Content-Encoding.
    let response = send(sign(SECRET.as_bytes(), &compressed)).await.unwrap();
    assert_eq!(response.status(), 200, "signed over the compressed bytes");
    let deliveries = app.deliveries().await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0].outcome, Outcome::Quarantined);
    assert_eq!(deliveries[0].body.as_deref(), Some(&compressed[..]));
    assert!(app.events().await.is_empty());

    // Signed over the JSON before compression: the raw bytes do not match, so 401 and nothing stored.
    let before = stored(&app).await;
    let response = send(sign(SECRET.as_bytes(), &json)).await.unwrap();
    assert_eq!(response.status(), 401, "signed over the decompressed bytes");
    nothing_stored(&app, before, "signed over the decompressed bytes").await;
    still_answers(&app, "gzip").await;
}

#[tokio::test]
async fn bad_signature_headers_are_401_and_store_nothing() {
    let app = TestApp::spawn().await;
    let body = message("m.badsig");
    let good = sign(SECRET.as_bytes(), &body);
    let hex = &good["sha256=".len()..];
    let wrong = sign(b"not-the-secret", &body);
    let short = format!("sha256={}", &hex[..63]);
    let long = format!("sha256={hex}0");
    let longer = format!("sha256={hex}00");
    let non_hex = format!("sha256={}g", &hex[..63]);
    let no_prefix = hex.to_string();
    let sha1_in_256 = sign_sha1(SECRET.as_bytes(), &body);
    let spaced = format!("sha256 = {hex}");
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("missing", vec![]),
        ("empty", vec![("x-hub-signature-256", "")]),
        ("prefix only", vec![("x-hub-signature-256", "sha256=")]),
        ("non-hex", vec![("x-hub-signature-256", &non_hex)]),
        ("63 digits", vec![("x-hub-signature-256", &short)]),
        ("65 digits", vec![("x-hub-signature-256", &long)]),
        ("66 digits", vec![("x-hub-signature-256", &longer)]),
        ("no prefix", vec![("x-hub-signature-256", &no_prefix)]),
        ("space around =", vec![("x-hub-signature-256", &spaced)]),
        (
            "sha1 value in the 256 header",
            vec![("x-hub-signature-256", &sha1_in_256)],
        ),
        ("sha1 only", vec![("x-hub-signature", &sha1_in_256)]),
        (
            "right then wrong",
            vec![
                ("x-hub-signature-256", &good),
                ("x-hub-signature-256", &wrong),
            ],
        ),
        (
            "wrong then right",
            vec![
                ("x-hub-signature-256", &wrong),
                ("x-hub-signature-256", &good),
            ],
        ),
        (
            "right twice",
            vec![
                ("x-hub-signature-256", &good),
                ("x-hub-signature-256", &good),
            ],
        ),
    ];
    for (case, headers) in cases {
        let before = stored(&app).await;
        let response = app.post("/webhook", &body, &headers).await;
        assert_eq!(response.status(), 401, "{case}");
        let text = response.text().await.unwrap();
        assert!(!text.contains(hex), "{case} leaks the digest");
        nothing_stored(&app, before, case).await;
    }

    // The spec decodes the hex case-insensitively, so uppercase digits (and prefix) are the same digest.
    for (case, value) in [
        (
            "uppercase hex",
            format!("sha256={}", hex.to_ascii_uppercase()),
        ),
        ("uppercase prefix", format!("SHA256={hex}")),
    ] {
        let before = stored(&app).await;
        let response = app
            .post("/webhook", &body, &[("x-hub-signature-256", &value)])
            .await;
        assert_eq!(response.status(), 200, "{case}");
        assert_eq!(stored(&app).await.1, before.1 + 1, "{case}");
    }
    still_answers(&app, "signature headers").await;
}

#[tokio::test]
async fn handshake_abuse_gets_the_contract_statuses_and_never_reflects_markup() {
    let app = TestApp::spawn().await;
    let ok = format!("hub.mode=subscribe&hub.verify_token={TOKEN}");
    let cases: Vec<(&str, String, u16)> = vec![
        (
            "256-char challenge",
            format!("{ok}&hub.challenge={}", "9".repeat(256)),
            200,
        ),
        (
            "257-char challenge",
            format!("{ok}&hub.challenge={}", "9".repeat(257)),
            400,
        ),
        (
            "60k-char challenge",
            format!("{ok}&hub.challenge={}", "9".repeat(60_000)),
            400,
        ),
        (
            "script challenge",
            format!("{ok}&hub.challenge=<script>alert(1)</script>"),
            400,
        ),
        (
            "encoded script challenge",
            format!("{ok}&hub.challenge=%3Cscript%3Ealert(1)%3C%2Fscript%3E"),
            400,
        ),
        (
            "html challenge",
            format!("{ok}&hub.challenge=%3Cb%3Ehi%3C%2Fb%3E"),
            400,
        ),
        (
            "challenge with a newline",
            format!("{ok}&hub.challenge=1%0D%0AX-Injected:%201"),
            400,
        ),
        ("empty challenge", format!("{ok}&hub.challenge="), 400),
        ("missing challenge", ok.clone(), 400),
        ("no query", String::new(), 403),
        (
            "missing mode",
            format!("hub.verify_token={TOKEN}&hub.challenge=1"),
            403,
        ),
        (
            "missing token",
            "hub.mode=subscribe&hub.challenge=1".to_string(),
            403,
        ),
        (
            "wrong token",
            "hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1".to_string(),
            403,
        ),
        (
            "wrong mode",
            format!("hub.mode=unsubscribe&hub.verify_token={TOKEN}&hub.challenge=1"),
            403,
        ),
        (
            "mode twice, same",
            format!("hub.mode=subscribe&{ok}&hub.challenge=1"),
            200,
        ),
        (
            "mode twice, differing",
            format!("{ok}&hub.mode=unsubscribe&hub.challenge=1"),
            400,
        ),
        (
            "token twice, right then wrong",
            format!("{ok}&hub.verify_token=nope&hub.challenge=1"),
            400,
        ),
        (
            "token twice, wrong then right",
            format!(
                "hub.mode=subscribe&hub.verify_token=nope&hub.verify_token={TOKEN}&hub.challenge=1"
            ),
            400,
        ),
        (
            "challenge twice, differing",
            format!("{ok}&hub.challenge=1&hub.challenge=2"),
            400,
        ),
    ];
    let before = stored(&app).await;
    for (case, query, status) in cases {
        let path = if query.is_empty() {
            "/webhook".to_string()
        } else {
            format!("/webhook?{query}")
        };
        let response = app.get(&path).await;
        assert_eq!(response.status(), status, "{case}");
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("text/plain"),
            "{case}: {content_type}"
        );
        let text = response.text().await.unwrap();
        assert!(!text.contains('<'), "{case} reflects markup: {text}");
        assert!(text.len() <= 512, "{case} reflects a long answer");
    }
    nothing_stored(&app, before, "handshakes").await;
    still_answers(&app, "handshake abuse").await;
}

#[tokio::test]
async fn the_admin_api_without_the_right_bearer_token_is_401() {
    let app = with_admin().await;
    let cases: Vec<(&str, Option<String>)> = vec![
        ("no authorization", None),
        ("wrong token", Some("Bearer wrong-token".into())),
        ("empty bearer", Some("Bearer ".into())),
        ("bearer misspelled", Some(format!("Baerer {ADMIN_TOKEN}"))),
        ("no scheme", Some(ADMIN_TOKEN.to_string())),
        ("no space", Some(format!("Bearer{ADMIN_TOKEN}"))),
        ("basic scheme", Some(format!("Basic {ADMIN_TOKEN}"))),
        (
            "token prefix",
            Some(format!("Bearer {}", &ADMIN_TOKEN[..5])),
        ),
        (
            "token with a suffix",
            Some(format!("Bearer {ADMIN_TOKEN}x")),
        ),
    ];
    for path in ["/api/v1/events", "/api/v1/deliveries", "/api/v1/quarantine"] {
        for (case, authorization) in &cases {
            let mut request = app.client.get(app.url(path));
            if let Some(value) = authorization {
                request = request.header("authorization", value);
            }
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 401, "{path}: {case}");
            let text = response.text().await.unwrap();
            assert!(
                !text.contains(ADMIN_TOKEN),
                "{path}: {case} leaks the token"
            );
        }
        assert_eq!(app.get_as(path, ADMIN_TOKEN).await.status(), 200, "{path}");
    }
    still_answers(&app, "admin api").await;
}

#[tokio::test]
async fn odd_and_traversing_webhook_paths_are_404_and_store_nothing() {
    let app = TestApp::spawn().await;
    let body = message("m.path");
    let signature = sign(SECRET.as_bytes(), &body);
    let long_app = format!("/webhook/{}", "a".repeat(4_000));
    let long_nested = format!("/webhook/{}", "a/".repeat(2_000));
    let cases: Vec<(&str, &str)> = vec![
        ("dot-dot to admin", "/webhook/../admin"),
        ("dot-dot to the api", "/webhook/../api/v1/events"),
        ("encoded dot-dot", "/webhook/%2e%2e/x"),
        ("encoded dot-dot alone", "/webhook/%2e%2e"),
        ("encoded slash", "/webhook/a%2fb"),
        ("unknown app", "/webhook/no-such-app"),
        ("trailing slash", "/webhook/"),
        ("double slash", "//webhook"),
        ("long app name", &long_app),
        ("long nested path", &long_nested),
    ];
    let before = stored(&app).await;
    for (case, path) in cases {
        let headers = [
            ("content-type", "application/json"),
            ("x-hub-signature-256", signature.as_str()),
        ];
        let (status, _) = raw(&app, http("POST", path, &headers, &body)).await;
        assert_eq!(status, 404, "POST {case}");
        let query = format!("{path}?hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge=1");
        let (status, _) = raw(&app, http("GET", &query, &[], b"")).await;
        assert_eq!(status, 404, "GET {case}");
    }
    nothing_stored(&app, before, "odd paths").await;
    still_answers(&app, "odd paths").await;
}
