//! `Handshake::answer` on arbitrary query strings (UTF-8 inputs only).
//!
//! - never panics; the status matches the outcome;
//! - a 200 (`Accept`) carries a challenge of 1-256 characters of `[A-Za-z0-9._-]`;
//! - and only when the query (form-urlencoded, a leading `?` tolerated) really has `hub.mode=subscribe`,
//!   `hub.verify_token=tok` and `hub.challenge=<that challenge>`, with no conflicting repeat of any of them.

#![no_main]

use hookline_meta::secret::Secret;
use hookline_meta::{Handshake, HandshakeOutcome};
use libfuzzer_sys::fuzz_target;

fn values(query: &str, name: &str) -> Vec<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .collect()
}

/// The single value of a parameter (repeats allowed only when identical).
fn single(query: &str, name: &str) -> Option<String> {
    let all = values(query, name);
    let first = all.first()?.clone();
    all.iter().all(|v| *v == first).then_some(first)
}

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let handshake = Handshake::new(vec![Secret::new("tok")]);
    let outcome = handshake.answer(query);
    match &outcome {
        HandshakeOutcome::Accept { challenge } => {
            assert_eq!(outcome.status(), 200);
            assert!(outcome.error().is_none());
            let len = challenge.chars().count();
            assert!((1..=256).contains(&len), "challenge of {len} chars accepted");
            assert!(
                challenge
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
                "unsafe challenge accepted: {challenge:?}"
            );
            assert_eq!(single(query, "hub.mode").as_deref(), Some("subscribe"));
            assert_eq!(single(query, "hub.verify_token").as_deref(), Some("tok"));
            assert_eq!(single(query, "hub.challenge").as_deref(), Some(challenge.as_str()));
        }
        HandshakeOutcome::Forbidden(err) | HandshakeOutcome::BadRequest(err) => {
            assert!(matches!(outcome.status(), 400 | 403));
            assert_eq!(outcome.error(), Some(err));
            let _ = err.to_string();
            let _ = err.kind();
        }
    }
    // No token configured: never accepted.
    let closed = Handshake::new(vec![Secret::new("")]);
    assert!(!matches!(closed.answer(query), HandshakeOutcome::Accept { .. }));
});
