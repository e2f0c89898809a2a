//! Property tests for signature verification, header parsing and the
//! subscription handshake.

use hookline_meta::handshake::{Handshake, HandshakeOutcome};
use hookline_meta::secret::Secret;
use hookline_meta::signature::{
    Algorithm, SignatureHeaders, Verifier, parse_header, sign, sign_sha1,
};
use proptest::prelude::*;
use proptest::sample::Index;

const TOKEN: &str = "verify-tok";

/// Non-empty, because the verifier deliberately ignores empty secrets.
fn secret() -> impl Strategy<Value = String> {
    "\\PC{1,64}"
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..2048)
}

fn verifier(secret: &str) -> Verifier {
    Verifier::new(vec![Secret::new(secret)])
}

fn sha256_header(value: &[u8]) -> SignatureHeaders<'_> {
    SignatureHeaders {
        sha256: Some(value),
        sha1: None,
    }
}

fn sha1_header(value: &[u8]) -> SignatureHeaders<'_> {
    SignatureHeaders {
        sha256: None,
        sha1: Some(value),
    }
}

/// Replaces the hex digit at `pos` with one of a different value.
fn change_hex_digit(signature: &str, pos: usize, delta: u8, uppercase: bool) -> String {
    let mut bytes = signature.as_bytes().to_vec();
    let current = (bytes[pos] as char).to_digit(16).expect("hex digit") as u8;
    let replacement = char::from_digit(u32::from((current + delta) % 16), 16).expect("digit");
    bytes[pos] = if uppercase {
        replacement.to_ascii_uppercase() as u8
    } else {
        replacement as u8
    };
    String::from_utf8(bytes).expect("ascii")
}

fn is_valid_challenge(challenge: &str) -> bool {
    (1..=256).contains(&challenge.len())
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Any value, in several encodings.
fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9._-]{0,300}",
        "[A-Za-z0-9._%+&=-]{0,40}",
        "\\PC{0,40}",
        "\\PC{0,40}".prop_map(|v| encode(&v)),
    ]
}

/// Query strings holding a (usually valid) mode and token, a challenge, and
/// noise: repeated or percent-encoded names, arbitrary pairs and separators,
/// all in random order. Built this way so that accepted answers occur often.
fn handshake_query() -> impl Strategy<Value = String> {
    let mode = prop_oneof![3 => Just("subscribe".to_owned()), 1 => query_value()];
    let token = prop_oneof![3 => Just(TOKEN.to_owned()), 1 => query_value()];
    let challenge = prop_oneof![3 => "[A-Za-z0-9._-]{1,256}", 1 => query_value()];
    let noise = prop_oneof![
        query_value().prop_map(|v| format!("hub.challenge={v}")),
        query_value().prop_map(|v| format!("hub%2Echallenge={v}")),
        query_value().prop_map(|v| format!("hub.mode={v}")),
        ("\\PC{0,12}", query_value()).prop_map(|(n, v)| format!("{n}={v}")),
    ];
    let pairs = (
        mode.prop_map(|v| format!("hub.mode={v}")),
        token.prop_map(|v| format!("hub.verify_token={v}")),
        challenge.prop_map(|v| format!("hub.challenge={v}")),
        proptest::collection::vec(noise, 0..3),
    )
        .prop_map(|(mode, token, challenge, mut noise)| {
            noise.extend([mode, token, challenge]);
            noise
        })
        .prop_shuffle();
    let separator = prop_oneof![8 => Just("&"), 1 => Just("&&"), 1 => Just(";")];
    (pairs, separator).prop_map(|(pairs, separator)| pairs.join(separator))
}

fn check_outcome(outcome: &HandshakeOutcome) -> Result<(), TestCaseError> {
    match outcome {
        HandshakeOutcome::Accept { challenge } => {
            prop_assert_eq!(outcome.status(), 200);
            prop_assert!(is_valid_challenge(challenge), "{:?}", challenge);
        }
        HandshakeOutcome::Forbidden(_) => prop_assert_eq!(outcome.status(), 403),
        HandshakeOutcome::BadRequest(_) => prop_assert_eq!(outcome.status(), 400),
    }
    Ok(())
}

proptest! {
    #[test]
    fn sign_then_verify_holds_for_any_secret_and_body(secret in secret(), body in body()) {
        let signature = sign(secret.as_bytes(), &body);
        let verified = verifier(&secret)
            .verify(&sha256_header(signature.as_bytes()), &body[..])
            .expect("own signature verifies");
        prop_assert_eq!(verified.bytes(), &body[..]);
        prop_assert_eq!(verified.matched_secret(), 0);
    }

    #[test]
    fn sign_sha1_then_verify_holds_when_sha1_is_enabled(secret in secret(), body in body()) {
        let signature = sign_sha1(secret.as_bytes(), &body);
        let verified = verifier(&secret)
            .allow_legacy_sha1(true)
            .verify(&sha1_header(signature.as_bytes()), &body[..])
            .expect("own signature verifies");
        prop_assert_eq!(verified.algorithm(), Algorithm::Sha1);
    }

    #[test]
    fn flipping_any_bit_of_the_body_fails(
        secret in secret(),
        body in proptest::collection::vec(any::<u8>(), 1..2048),
        at in any::<Index>(),
        bit in 0u8..8,
    ) {
        let signature = sign(secret.as_bytes(), &body);
        let mut tampered = body.clone();
        tampered[at.index(body.len())] ^= 1 << bit;
        let result = verifier(&secret).verify(&sha256_header(signature.as_bytes()), tampered);
        prop_assert_eq!(result.map(|_| ()).unwrap_err().kind(), "mismatch");
    }

    #[test]
    fn changing_any_sha256_hex_digit_fails(
        secret in secret(),
        body in body(),
        digit in 0usize..64,
        delta in 1u8..16,
        uppercase in any::<bool>(),
    ) {
        let signature = sign(secret.as_bytes(), &body);
        let tampered = change_hex_digit(&signature, "sha256=".len() + digit, delta, uppercase);
        let result = verifier(&secret).verify(&sha256_header(tampered.as_bytes()), &body[..]);
        prop_assert_eq!(result.map(|_| ()).unwrap_err().kind(), "mismatch");
    }

    #[test]
    fn changing_any_sha1_hex_digit_fails(
        secret in secret(),
        body in body(),
        digit in 0usize..40,
        delta in 1u8..16,
        uppercase in any::<bool>(),
    ) {
        let signature = sign_sha1(secret.as_bytes(), &body);
        let tampered = change_hex_digit(&signature, "sha1=".len() + digit, delta, uppercase);
        let result = verifier(&secret)
            .allow_legacy_sha1(true)
            .verify(&sha1_header(tampered.as_bytes()), &body[..]);
        prop_assert_eq!(result.map(|_| ()).unwrap_err().kind(), "mismatch");
    }

    #[test]
    fn parse_header_never_panics_on_arbitrary_bytes(
        value in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        for alg in [Algorithm::Sha256, Algorithm::Sha1] {
            if let Ok(digest) = parse_header(&value, alg) {
                prop_assert_eq!(digest.as_bytes().len(), alg.digest_len());
            }
        }
    }

    #[test]
    fn parse_header_never_panics_on_prefixed_near_misses(
        value in "[ \t]{0,2}(?i:sha256=|sha1=|sha25=|sha256|)[0-9a-fA-Fg \t=]{0,80}[ \t]{0,2}",
    ) {
        for alg in [Algorithm::Sha256, Algorithm::Sha1] {
            if let Ok(digest) = parse_header(value.as_bytes(), alg) {
                let trimmed = value.trim_matches([' ', '\t']);
                prop_assert_eq!(trimmed.len(), alg.prefix().len() + alg.hex_len());
                prop_assert_eq!(digest.as_bytes().len(), alg.digest_len());
            }
        }
    }

    #[test]
    fn answer_never_panics_on_arbitrary_queries(query in "\\PC{0,300}") {
        let outcome = Handshake::new(vec![Secret::new(TOKEN)]).answer(&query);
        check_outcome(&outcome)?;
    }

    #[test]
    fn a_200_only_ever_carries_a_safe_challenge(query in handshake_query()) {
        let outcome = Handshake::new(vec![Secret::new(TOKEN)]).answer(&query);
        check_outcome(&outcome)?;
    }

    #[test]
    fn a_challenge_is_reflected_exactly_when_it_is_safe(challenge in "\\PC{0,300}|[A-Za-z0-9._-]{0,300}") {
        let query = format!(
            "hub.mode=subscribe&hub.verify_token={TOKEN}&hub.challenge={}",
            encode(&challenge)
        );
        let outcome = Handshake::new(vec![Secret::new(TOKEN)]).answer(&query);
        if is_valid_challenge(&challenge) {
            prop_assert_eq!(outcome, HandshakeOutcome::Accept { challenge });
        } else {
            prop_assert_eq!(outcome.status(), 400);
        }
    }

    #[test]
    fn a_wrong_token_is_forbidden_whatever_the_challenge(
        token in "\\PC{1,40}",
        challenge in "\\PC{0,300}",
    ) {
        prop_assume!(token != TOKEN);
        let query = format!(
            "hub.mode=subscribe&hub.verify_token={}&hub.challenge={}",
            encode(&token),
            encode(&challenge)
        );
        let outcome = Handshake::new(vec![Secret::new(TOKEN)]).answer(&query);
        prop_assert_eq!(outcome.status(), 403);
    }
}
