//! Signature header parsing and verification on arbitrary header values.
//!
//! Input: the first byte selects the algorithm (even: SHA-256, odd: SHA-1), the rest is the header value.
//!
//! - `signature::parse_header` never panics, and accepts only `<prefix><hex>` of the right length (surrounding
//!   ASCII whitespace allowed, prefix and hex case-insensitive);
//! - `Verifier::verify` never panics and returns Ok exactly when the header is the body's signature under
//!   the secret `s` (`signature::sign` / `sign_sha1`), compared case-insensitively after trimming surrounding
//!   ASCII whitespace (what `parse_header` documents it tolerates);
//! - with both headers present, the SHA-256 header alone decides (no downgrade to SHA-1);
//! - SHA-1 is refused unless enabled.

#![no_main]

use hookline_meta::secret::Secret;
use hookline_meta::signature::{
    Algorithm, SignatureError, SignatureHeaders, Verifier, parse_header, sign, sign_sha1,
};
use libfuzzer_sys::fuzz_target;

const BODY: &[u8] = br#"{"object":"page","entry":[{"id":"1","time":1767610000000,"messaging":[]}]}"#;

fn matches(header: &[u8], expected: &str) -> bool {
    header.trim_ascii().eq_ignore_ascii_case(expected.as_bytes())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, header)) = data.split_first() else {
        return;
    };
    let alg = if selector % 2 == 0 {
        Algorithm::Sha256
    } else {
        Algorithm::Sha1
    };

    // parse_header: never panics; an Ok digest has the algorithm asked for and its length.
    if let Ok(digest) = parse_header(header, alg) {
        assert_eq!(digest.algorithm(), alg);
        assert_eq!(digest.as_bytes().len(), alg.digest_len());
        let trimmed = header.trim_ascii();
        assert!(trimmed.len() == alg.prefix().len() + alg.hex_len(), "accepted a wrong length");
        assert!(
            trimmed[..alg.prefix().len()].eq_ignore_ascii_case(alg.prefix().as_bytes()),
            "accepted a wrong prefix"
        );
    }
    // The other algorithm's parser on the same input must not panic either.
    let other = if alg == Algorithm::Sha256 { Algorithm::Sha1 } else { Algorithm::Sha256 };
    let _ = parse_header(header, other);

    let sha256 = sign(b"s", BODY);
    let sha1 = sign_sha1(b"s", BODY);
    let verifier = Verifier::new(vec![Secret::new("s")]);

    // As the X-Hub-Signature-256 header (with the same value also as X-Hub-Signature: it must not matter).
    let both = SignatureHeaders {
        sha256: Some(header),
        sha1: Some(header),
    };
    let result = verifier.verify(&both, BODY);
    assert_eq!(
        result.is_ok(),
        matches(header, &sha256),
        "verify(sha256) = {:?} for header {:?}",
        result.as_ref().err(),
        String::from_utf8_lossy(header)
    );
    if let Ok(verified) = &result {
        assert_eq!(verified.bytes(), BODY);
        assert_eq!(verified.algorithm(), Algorithm::Sha256);
        assert_eq!(verified.matched_secret(), 0);
    }
    // The allow-SHA-1 verifier decides the same way when a SHA-256 header is present.
    let legacy = verifier.clone().allow_legacy_sha1(true);
    assert_eq!(legacy.verify(&both, BODY).is_ok(), result.is_ok());

    // As the legacy X-Hub-Signature header alone.
    let only_sha1 = SignatureHeaders {
        sha256: None,
        sha1: Some(header),
    };
    assert_eq!(
        verifier.verify(&only_sha1, BODY).err(),
        Some(SignatureError::Sha1NotEnabled)
    );
    let result = legacy.verify(&only_sha1, BODY);
    assert_eq!(
        result.is_ok(),
        matches(header, &sha1),
        "verify(sha1) = {:?} for header {:?}",
        result.as_ref().err(),
        String::from_utf8_lossy(header)
    );
    if let Ok(verified) = &result {
        assert_eq!(verified.algorithm(), Algorithm::Sha1);
    }

    // Errors display without panicking.
    if let Err(err) = result {
        let _ = err.to_string();
        let _ = err.kind();
    }
});
