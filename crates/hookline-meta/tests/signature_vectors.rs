//! Signature test vectors whose expected digests were computed independently
//! with `openssl dgst -sha256 -hmac <secret>` (and `-sha1`); see
//! `tests/vectors/make_vectors.sh`, which regenerates the bodies and prints the
//! digests so they can be re-checked. Nothing here derives an expected value
//! from this crate's own code.

use hookline_meta::secret::Secret;
use hookline_meta::signature::{
    Algorithm, SignatureError, SignatureHeaders, Verifier, sign, sign_sha1,
};

const SECRET: &str = "meta-app-secret-0123456789abcdef";
/// Same bytes as `SECRET_UTF8` in make_vectors.sh.
const SECRET_UTF8: &str = "sécret-ключ-🔑";

const WIRE: &[u8] = include_bytes!("vectors/wire.json");
const RESERIALISED: &[u8] = include_bytes!("vectors/reserialised.json");
const LARGE: &[u8] = include_bytes!("vectors/large.json");
const EMPTY: &[u8] = include_bytes!("vectors/empty.bin");
const UTF8_SECRET_BODY: &[u8] = include_bytes!("vectors/utf8_secret.json");

// Output of make_vectors.sh (openssl 3.0.19), cross-checked with Python's hmac.
const WIRE_SHA256: &str = "c744eed5b10b6cfb8910656ba51b5037945fb18653e1263de119fc2afadb45e4";
const WIRE_SHA1: &str = "ebb71440bf27a9a69a95fa9e1a36d52d939b6f7d";
const RESERIALISED_SHA256: &str =
    "4b185e2af8a89a7190ef7cc2802f8d63224c71a37b4c2570d49987d3251be94d";
const RESERIALISED_SHA1: &str = "45e77368c3114b911173b9287256d1560c3df4bc";
const LARGE_SHA256: &str = "9b052f8debc90e0d9579f77923eb85f2dcde68979626e9abd9b1ba1d19969b04";
const LARGE_SHA1: &str = "9315a5a58a17a2dbb76dd8ea0a299a294719b7ce";
const EMPTY_SHA256: &str = "a09169e7be794bb808a76d140b31609ed512679da7be5aa54358dfbfb30126c0";
const EMPTY_SHA1: &str = "0b059a648ac9cdcc3b3c39fb393e3ae72a0ef0b3";
const UTF8_SECRET_SHA256: &str = "4692f02b0e08eb5b4c79d63657fc91a2fe2c7dbbaf9ba24071560d7d162bd5b3";
const UTF8_SECRET_SHA1: &str = "fa5f747ec417c56a1a5dc14cdc3d8ab53e2ad342";

struct Vector {
    name: &'static str,
    secret: &'static str,
    body: &'static [u8],
    sha256: &'static str,
    sha1: &'static str,
}

const VECTORS: [Vector; 5] = [
    Vector {
        name: "wire",
        secret: SECRET,
        body: WIRE,
        sha256: WIRE_SHA256,
        sha1: WIRE_SHA1,
    },
    Vector {
        name: "reserialised",
        secret: SECRET,
        body: RESERIALISED,
        sha256: RESERIALISED_SHA256,
        sha1: RESERIALISED_SHA1,
    },
    Vector {
        name: "large",
        secret: SECRET,
        body: LARGE,
        sha256: LARGE_SHA256,
        sha1: LARGE_SHA1,
    },
    Vector {
        name: "empty",
        secret: SECRET,
        body: EMPTY,
        sha256: EMPTY_SHA256,
        sha1: EMPTY_SHA1,
    },
    Vector {
        name: "utf8_secret",
        secret: SECRET_UTF8,
        body: UTF8_SECRET_BODY,
        sha256: UTF8_SECRET_SHA256,
        sha1: UTF8_SECRET_SHA1,
    },
];

fn verifier(secret: &str) -> Verifier {
    Verifier::new(vec![Secret::new(secret)])
}

fn sha256_header(value: &str) -> SignatureHeaders<'_> {
    SignatureHeaders {
        sha256: Some(value.as_bytes()),
        sha1: None,
    }
}

fn sha1_header(value: &str) -> SignatureHeaders<'_> {
    SignatureHeaders {
        sha256: None,
        sha1: Some(value.as_bytes()),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn verifier_accepts_every_openssl_sha256_digest() {
    for v in &VECTORS {
        let header = format!("sha256={}", v.sha256);
        let verified = verifier(v.secret)
            .verify(&sha256_header(&header), v.body)
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(verified.bytes(), v.body, "{}", v.name);
        assert_eq!(verified.algorithm(), Algorithm::Sha256, "{}", v.name);
    }
}

#[test]
fn verifier_accepts_every_openssl_sha256_digest_in_uppercase() {
    for v in &VECTORS {
        let header = format!("SHA256={}", v.sha256.to_ascii_uppercase());
        assert!(
            verifier(v.secret)
                .verify(&sha256_header(&header), v.body)
                .is_ok(),
            "{}",
            v.name
        );
    }
}

#[test]
fn verifier_accepts_every_openssl_sha1_digest_when_sha1_is_enabled() {
    for v in &VECTORS {
        let header = format!("sha1={}", v.sha1);
        let verified = verifier(v.secret)
            .allow_legacy_sha1(true)
            .verify(&sha1_header(&header), v.body)
            .unwrap_or_else(|e| panic!("{}: {e}", v.name));
        assert_eq!(verified.algorithm(), Algorithm::Sha1, "{}", v.name);
    }
}

#[test]
fn sign_reproduces_every_openssl_sha256_digest() {
    for v in &VECTORS {
        assert_eq!(
            sign(v.secret.as_bytes(), v.body),
            format!("sha256={}", v.sha256),
            "{}",
            v.name
        );
    }
}

#[test]
fn sign_sha1_reproduces_every_openssl_sha1_digest() {
    for v in &VECTORS {
        assert_eq!(
            sign_sha1(v.secret.as_bytes(), v.body),
            format!("sha1={}", v.sha1),
            "{}",
            v.name
        );
    }
}

#[test]
fn the_wire_body_is_in_metas_escaped_form() {
    assert!(contains(WIRE, br"\ud83d\ude00"));
    assert!(contains(WIRE, br"\u00e4\u00f6\u00e5"));
    assert!(contains(WIRE, br"https:\/\/example.com\/x"));
    assert!(WIRE.is_ascii());
}

#[test]
fn the_reserialised_body_has_raw_utf8_and_plain_slashes() {
    assert!(contains(RESERIALISED, "😀 äöå".as_bytes()));
    assert!(contains(RESERIALISED, b"https://example.com/x"));
    assert!(!contains(RESERIALISED, br"\u"));
    assert!(!contains(RESERIALISED, br"\/"));
}

#[test]
fn reserialising_the_json_changes_the_digest() {
    assert_ne!(WIRE_SHA256, RESERIALISED_SHA256);
    assert_ne!(WIRE_SHA1, RESERIALISED_SHA1);
}

#[test]
fn the_wire_signature_does_not_verify_the_reserialised_body() {
    let header = format!("sha256={WIRE_SHA256}");
    let err = verifier(SECRET)
        .verify(&sha256_header(&header), RESERIALISED)
        .unwrap_err();
    assert_eq!(
        err,
        SignatureError::Mismatch {
            header: "X-Hub-Signature-256",
            secrets_tried: 1
        }
    );
}

#[test]
fn the_wire_sha1_signature_does_not_verify_the_reserialised_body() {
    let header = format!("sha1={WIRE_SHA1}");
    let err = verifier(SECRET)
        .allow_legacy_sha1(true)
        .verify(&sha1_header(&header), RESERIALISED)
        .unwrap_err();
    assert_eq!(err.kind(), "mismatch");
}

#[test]
fn the_large_body_is_over_300_kb_of_escapes() {
    assert!(LARGE.len() > 300_000, "{} bytes", LARGE.len());
    assert!(contains(LARGE, br"\u200a\u06d4"));
    assert!(LARGE.is_ascii());
}

#[test]
fn the_empty_body_is_empty() {
    assert!(EMPTY.is_empty());
}

#[test]
fn the_utf8_secret_is_not_ascii() {
    assert!(!SECRET_UTF8.is_ascii());
}

#[test]
fn a_digest_under_another_secret_is_rejected() {
    let header = format!("sha256={UTF8_SECRET_SHA256}");
    assert!(
        verifier(SECRET)
            .verify(&sha256_header(&header), UTF8_SECRET_BODY)
            .is_err()
    );
}

#[test]
fn the_matching_secret_is_found_among_several() {
    let header = format!("sha256={UTF8_SECRET_SHA256}");
    let verified = Verifier::new(vec![Secret::new(SECRET), Secret::new(SECRET_UTF8)])
        .verify(&sha256_header(&header), UTF8_SECRET_BODY)
        .expect("second secret matches");
    assert_eq!(verified.matched_secret(), 1);
}
