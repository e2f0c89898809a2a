//! Verification of Meta's `X-Hub-Signature-256` (and legacy `X-Hub-Signature`)
//! delivery signatures.
//!
//! Meta signs the exact bytes it sends. The body on the wire is already in
//! Meta's escaped form (`\u00e4`, `\/`, ...), so the HMAC must be computed over
//! the raw request bytes before any JSON parsing, charset conversion or
//! decompression; re-serialising the JSON first breaks the signature.
//!
//! ```
//! use hookline_meta::secret::Secret;
//! use hookline_meta::signature::{SignatureHeaders, Verifier, sign};
//!
//! let verifier = Verifier::new(vec![Secret::new("app-secret")]);
//! let body: &[u8] = br#"{"object":"page","entry":[]}"#;
//! let header = sign(b"app-secret", body); // what Meta would send
//! let headers = SignatureHeaders { sha256: Some(header.as_bytes()), sha1: None };
//!
//! let verified = verifier.verify(&headers, body).expect("signed by Meta");
//! assert_eq!(verified.bytes(), body); // only now parse the JSON
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use sha2::Sha256;
use thiserror::Error;

use crate::secret::Secret;

/// Name of the header carrying the HMAC-SHA256 signature.
pub const HEADER_SHA256: &str = "X-Hub-Signature-256";
/// Name of the legacy header carrying the HMAC-SHA1 signature.
pub const HEADER_SHA1: &str = "X-Hub-Signature";

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// The longest digest we handle (SHA-256).
const MAX_DIGEST_LEN: usize = 32;

/// The hash function behind a signature header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// HMAC-SHA256 in `X-Hub-Signature-256: sha256=<hex>`.
    Sha256,
    /// Legacy HMAC-SHA1 in `X-Hub-Signature: sha1=<hex>`.
    Sha1,
}

impl Algorithm {
    /// The HTTP header that carries this algorithm's signature.
    pub fn header_name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => HEADER_SHA256,
            Algorithm::Sha1 => HEADER_SHA1,
        }
    }

    /// The lowercase prefix in front of the hex digits, `=` included.
    pub fn prefix(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256=",
            Algorithm::Sha1 => "sha1=",
        }
    }

    /// Length of the raw digest in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 32,
            Algorithm::Sha1 => 20,
        }
    }

    /// Number of hex digits a well-formed header carries.
    pub fn hex_len(self) -> usize {
        self.digest_len() * 2
    }
}

/// A digest decoded from a signature header.
///
/// `Debug` shows only the algorithm and length: the bytes are what the sender
/// claims, and printing them next to a computed value would make logs a
/// forgery aid.
#[derive(Clone, Copy)]
pub struct Digest {
    algorithm: Algorithm,
    bytes: [u8; MAX_DIGEST_LEN],
}

impl Digest {
    /// The algorithm named by the header's prefix.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The decoded digest bytes (32 for SHA-256, 20 for SHA-1).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.algorithm.digest_len()]
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Digest")
            .field("algorithm", &self.algorithm)
            .field("len", &self.algorithm.digest_len())
            .finish_non_exhaustive()
    }
}

/// Why a signature header could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum MalformedReason {
    /// The value is empty or only whitespace.
    #[error("the value is empty")]
    Empty,
    /// The value does not start with the algorithm prefix.
    #[error("the value does not start with `{expected}`")]
    MissingPrefix {
        /// The prefix that was expected, e.g. `sha256=`.
        expected: &'static str,
    },
    /// A character after the prefix is not a hex digit.
    #[error("the character at offset {offset} after the prefix is not a hex digit")]
    NotHex {
        /// Zero-based offset of the first offending byte after the prefix.
        offset: usize,
    },
    /// The hex part has the wrong number of digits (odd lengths land here too).
    #[error("got {got} hex digits, expected {expected}")]
    WrongLength {
        /// Number of hex digits found.
        got: usize,
        /// Number of hex digits the algorithm needs (64 or 40).
        expected: usize,
    },
    /// The value contains bytes outside ASCII, so it cannot be hex at all.
    #[error("the value contains non-ASCII bytes")]
    NotAscii,
}

/// Why a delivery was not accepted.
///
/// No variant carries the expected digest or any secret, so the `Display` and
/// `Debug` output of every variant is safe to log and to return to a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SignatureError {
    /// Neither signature header is present.
    #[error(
        "the request has no X-Hub-Signature-256 header; Meta signs every delivery with it — check \
         that the request comes from Meta, or sign test requests with `hookline sign`"
    )]
    Missing,
    /// A signature header is present but cannot be parsed.
    #[error(
        "the {header} header is malformed: {reason}; Meta sends `{}` computed over the raw \
         body — check that no proxy rewrites the header, or sign test requests with \
         `hookline sign`",
        expected_form(header)
    )]
    Malformed {
        /// Which header was malformed.
        header: &'static str,
        /// What exactly is wrong with it.
        reason: MalformedReason,
    },
    /// The header is well formed but matches the body under no secret.
    #[error(
        "{header} does not match the body under any of the {secrets_tried} configured app \
         secret(s); check the app secret (App Dashboard → Settings → Basic) and that nothing \
         re-encodes the body before it reaches hookline"
    )]
    Mismatch {
        /// Which header was checked.
        header: &'static str,
        /// How many (non-empty) secrets were tried.
        secrets_tried: usize,
    },
    /// Only the legacy SHA-1 header is present and SHA-1 is not accepted.
    #[error(
        "the request carries only the legacy X-Hub-Signature (SHA-1) header, but SHA-1 \
         verification is off; Meta signs current deliveries with X-Hub-Signature-256 — check \
         where the request comes from, or enable SHA-1 with `Verifier::allow_legacy_sha1(true)` \
         if you must accept such senders"
    )]
    Sha1NotEnabled,
    /// No usable (non-empty) app secret is configured.
    #[error(
        "no app secret is configured, so no delivery can be verified; set HOOKLINE_APP_SECRET to \
         the app secret from App Dashboard → Settings → Basic"
    )]
    NoSecrets,
}

impl SignatureError {
    /// The header the error is about, if any.
    pub fn header_name(&self) -> Option<&'static str> {
        match self {
            SignatureError::Missing => Some(HEADER_SHA256),
            SignatureError::Malformed { header, .. } | SignatureError::Mismatch { header, .. } => {
                Some(header)
            }
            SignatureError::Sha1NotEnabled => Some(HEADER_SHA1),
            SignatureError::NoSecrets => None,
        }
    }

    /// A short, stable label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            SignatureError::Missing => "missing",
            SignatureError::Malformed { .. } => "malformed",
            SignatureError::Mismatch { .. } => "mismatch",
            SignatureError::Sha1NotEnabled => "sha1_not_enabled",
            SignatureError::NoSecrets => "no_secrets",
        }
    }
}

/// The format hint for a malformed-header message.
fn expected_form(header: &str) -> &'static str {
    if header == HEADER_SHA1 {
        "sha1=<40 hex digits>"
    } else {
        "sha256=<64 hex digits>"
    }
}

/// Decodes a raw signature header value such as `sha256=<hex>`.
///
/// Surrounding ASCII whitespace is ignored, the prefix is matched
/// case-insensitively and the hex digits are decoded case-insensitively.
pub fn parse_header(value: &[u8], alg: Algorithm) -> Result<Digest, SignatureError> {
    parse_value(value, alg).map_err(|reason| SignatureError::Malformed {
        header: alg.header_name(),
        reason,
    })
}

fn parse_value(value: &[u8], alg: Algorithm) -> Result<Digest, MalformedReason> {
    if !value.is_ascii() {
        return Err(MalformedReason::NotAscii);
    }
    let value = value.trim_ascii();
    if value.is_empty() {
        return Err(MalformedReason::Empty);
    }
    let hex_digits =
        strip_prefix_ignore_case(value, alg.prefix()).ok_or(MalformedReason::MissingPrefix {
            expected: alg.prefix(),
        })?;
    decode_digest(hex_digits, alg)
}

fn strip_prefix_ignore_case<'v>(value: &'v [u8], prefix: &str) -> Option<&'v [u8]> {
    let (head, rest) = value.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix.as_bytes()).then_some(rest)
}

fn decode_digest(hex_digits: &[u8], alg: Algorithm) -> Result<Digest, MalformedReason> {
    // Reporting a bad character before a bad length tells the sender about the
    // more fundamental problem first.
    if let Some(offset) = hex_digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(MalformedReason::NotHex { offset });
    }
    if hex_digits.len() != alg.hex_len() {
        return Err(MalformedReason::WrongLength {
            got: hex_digits.len(),
            expected: alg.hex_len(),
        });
    }
    let mut bytes = [0u8; MAX_DIGEST_LEN];
    // Cannot fail after the checks above; mapped anyway so no input can panic.
    hex::decode_to_slice(hex_digits, &mut bytes[..alg.digest_len()])
        .map_err(|_| MalformedReason::NotHex { offset: 0 })?;
    Ok(Digest {
        algorithm: alg,
        bytes,
    })
}

/// The raw values of the two signature headers of one request.
#[derive(Debug, Clone, Copy, Default)]
pub struct SignatureHeaders<'h> {
    /// Value of `X-Hub-Signature-256`, if present.
    pub sha256: Option<&'h [u8]>,
    /// Value of the legacy `X-Hub-Signature`, if present.
    pub sha1: Option<&'h [u8]>,
}

/// Which secret and algorithm verified a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MatchedSecret {
    index: usize,
    algorithm: Algorithm,
}

/// A request body whose signature has been checked.
///
/// The only way to obtain one is [`Verifier::verify`]: the fields are private
/// and there is no other constructor. The server's store and parse path accept
/// only `VerifiedBody`, so an unverified body cannot be turned into events by
/// mistake — the type system enforces "verify before parse".
///
/// The guarantee covers the bytes `B::as_ref()` returns; use an immutable byte
/// container (`Vec<u8>`, `bytes::Bytes`, `&[u8]`) whose `as_ref` always
/// returns the same bytes.
#[derive(Clone)]
pub struct VerifiedBody<B> {
    body: B,
    matched: MatchedSecret,
}

impl<B: AsRef<[u8]>> VerifiedBody<B> {
    /// The verified bytes, exactly as received.
    pub fn bytes(&self) -> &[u8] {
        self.body.as_ref()
    }
}

impl<B> VerifiedBody<B> {
    /// Gives the body back, dropping the proof of verification.
    pub fn into_inner(self) -> B {
        self.body
    }

    /// Index into the [`Verifier`]'s secret list of the secret that matched,
    /// e.g. to tell which app sent the delivery or whether an old secret is
    /// still in use.
    pub fn matched_secret(&self) -> usize {
        self.matched.index
    }

    /// The algorithm whose header verified the body.
    pub fn algorithm(&self) -> Algorithm {
        self.matched.algorithm
    }
}

impl<B: AsRef<[u8]>> fmt::Debug for VerifiedBody<B> {
    // Bodies can be megabytes; the length is what a log line needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedBody")
            .field("len", &self.bytes().len())
            .field("matched_secret", &self.matched.index)
            .field("algorithm", &self.matched.algorithm)
            .finish()
    }
}

/// Checks delivery signatures against a list of app secrets.
///
/// The list supports rotation (current and previous secret) and several apps
/// posting to one URL. Empty secrets are ignored, because an HMAC keyed with
/// the empty string can be computed by anyone; indices reported by
/// [`VerifiedBody::matched_secret`] still refer to the list as given.
#[derive(Clone)]
pub struct Verifier {
    secrets: Vec<Secret>,
    /// One keyed HMAC-SHA256 state per secret (`None` for empty secrets).
    /// Cloning a keyed state skips hashing the padded key on every request.
    sha256_keys: Vec<Option<HmacSha256>>,
    allow_sha1: bool,
}

impl Verifier {
    /// A verifier that accepts `X-Hub-Signature-256` under any of `secrets`.
    /// SHA-1 is off; see [`Verifier::allow_legacy_sha1`].
    pub fn new(secrets: Vec<Secret>) -> Self {
        let sha256_keys = secrets
            .iter()
            .map(|secret| (!secret.is_empty()).then(|| keyed::<HmacSha256>(secret)))
            .collect();
        Self {
            secrets,
            sha256_keys,
            allow_sha1: false,
        }
    }

    /// Whether to check the legacy `X-Hub-Signature: sha1=...` header when a
    /// request has no `X-Hub-Signature-256`. Off by default: SHA-1 is weaker
    /// and Meta sends the SHA-256 header on every current delivery.
    #[must_use]
    pub fn allow_legacy_sha1(mut self, allow: bool) -> Self {
        self.allow_sha1 = allow;
        self
    }

    /// Number of non-empty secrets that are tried.
    pub fn usable_secrets(&self) -> usize {
        self.sha256_keys.iter().flatten().count()
    }

    /// Checks `body` (the exact raw request bytes) against the signature
    /// headers and, on success, wraps it in a [`VerifiedBody`].
    ///
    /// If `X-Hub-Signature-256` is present it alone decides, even when it is
    /// wrong and a valid SHA-1 header is also present: falling back would let
    /// an attacker downgrade to the weaker algorithm.
    pub fn verify<B: AsRef<[u8]>>(
        &self,
        headers: &SignatureHeaders<'_>,
        body: B,
    ) -> Result<VerifiedBody<B>, SignatureError> {
        let secrets_tried = self.usable_secrets();
        if secrets_tried == 0 {
            return Err(SignatureError::NoSecrets);
        }
        let (algorithm, value) = self.select_header(headers)?;
        let digest = parse_header(value, algorithm)?;
        let index =
            self.matching_secret(&digest, body.as_ref())
                .ok_or(SignatureError::Mismatch {
                    header: algorithm.header_name(),
                    secrets_tried,
                })?;
        Ok(VerifiedBody {
            body,
            matched: MatchedSecret { index, algorithm },
        })
    }

    fn select_header<'h>(
        &self,
        headers: &SignatureHeaders<'h>,
    ) -> Result<(Algorithm, &'h [u8]), SignatureError> {
        match (headers.sha256, headers.sha1) {
            (Some(value), _) => Ok((Algorithm::Sha256, value)),
            (None, Some(value)) if self.allow_sha1 => Ok((Algorithm::Sha1, value)),
            (None, Some(_)) => Err(SignatureError::Sha1NotEnabled),
            (None, None) => Err(SignatureError::Missing),
        }
    }

    /// Index of the first secret under which `digest` matches `body`.
    fn matching_secret(&self, digest: &Digest, body: &[u8]) -> Option<usize> {
        match digest.algorithm() {
            Algorithm::Sha256 => self.sha256_keys.iter().position(|key| {
                key.as_ref()
                    .is_some_and(|key| mac_matches(key.clone(), body, digest))
            }),
            // SHA-1 is a rare legacy path, so its keys are not cached.
            Algorithm::Sha1 => self.secrets.iter().position(|secret| {
                !secret.is_empty() && mac_matches(keyed::<HmacSha1>(secret), body, digest)
            }),
        }
    }
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("secrets", &self.secrets)
            .field("allow_sha1", &self.allow_sha1)
            .finish_non_exhaustive()
    }
}

fn keyed<M: KeyInit>(secret: &Secret) -> M {
    new_mac(secret.as_bytes())
}

fn new_mac<M: KeyInit>(key: &[u8]) -> M {
    M::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// Constant-time comparison of the body's MAC with the claimed digest.
fn mac_matches<M: Mac>(mut mac: M, body: &[u8], digest: &Digest) -> bool {
    mac.update(body);
    mac.verify_slice(digest.as_bytes()).is_ok()
}

/// Signs `body` the way Meta does: `sha256=<lowercase hex HMAC-SHA256>`.
/// For the CLI (`hookline sign`) and test tools.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    format_signature::<HmacSha256>(Algorithm::Sha256, secret, body)
}

/// Signs `body` for the legacy header: `sha1=<lowercase hex HMAC-SHA1>`.
pub fn sign_sha1(secret: &[u8], body: &[u8]) -> String {
    format_signature::<HmacSha1>(Algorithm::Sha1, secret, body)
}

fn format_signature<M: Mac + KeyInit>(alg: Algorithm, secret: &[u8], body: &[u8]) -> String {
    let mut mac = new_mac::<M>(secret);
    mac.update(body);
    format!(
        "{}{}",
        alg.prefix(),
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "app-secret";
    const BODY: &[u8] = br#"{"object":"page","entry":[]}"#;

    fn verifier(secrets: &[&str]) -> Verifier {
        Verifier::new(secrets.iter().copied().map(Secret::from).collect())
    }

    fn sha256_only(value: &str) -> SignatureHeaders<'_> {
        SignatureHeaders {
            sha256: Some(value.as_bytes()),
            sha1: None,
        }
    }

    fn sha1_only(value: &str) -> SignatureHeaders<'_> {
        SignatureHeaders {
            sha256: None,
            sha1: Some(value.as_bytes()),
        }
    }

    fn malformed_reason(value: &str, alg: Algorithm) -> MalformedReason {
        match parse_header(value.as_bytes(), alg) {
            Err(SignatureError::Malformed { reason, .. }) => reason,
            other => panic!("expected Malformed, got {other:?}"),
        }
    }

    fn hex64() -> String {
        "ab".repeat(32)
    }

    // ---- parse_header -------------------------------------------------

    #[test]
    fn parses_a_lowercase_sha256_header() {
        let digest = parse_header(format!("sha256={}", hex64()).as_bytes(), Algorithm::Sha256)
            .expect("well formed");
        assert_eq!(digest.algorithm(), Algorithm::Sha256);
        assert_eq!(digest.as_bytes(), &[0xab; 32]);
    }

    #[test]
    fn matches_the_prefix_case_insensitively() {
        for prefix in ["SHA256=", "Sha256=", "sHa256="] {
            let value = format!("{prefix}{}", hex64());
            assert!(parse_header(value.as_bytes(), Algorithm::Sha256).is_ok());
        }
        let sha1 = format!("SHA1={}", "cd".repeat(20));
        assert!(parse_header(sha1.as_bytes(), Algorithm::Sha1).is_ok());
    }

    #[test]
    fn accepts_uppercase_and_mixed_case_hex() {
        let value = format!("sha256={}", "aB".repeat(32));
        let digest = parse_header(value.as_bytes(), Algorithm::Sha256).expect("well formed");
        assert_eq!(digest.as_bytes(), &[0xab; 32]);
    }

    #[test]
    fn ignores_surrounding_ascii_whitespace() {
        let value = format!(" \t sha256={}\r\n ", hex64());
        assert!(parse_header(value.as_bytes(), Algorithm::Sha256).is_ok());
    }

    #[test]
    fn rejects_whitespace_inside_the_value() {
        let value = format!("sha256= {}", hex64());
        assert_eq!(
            malformed_reason(&value, Algorithm::Sha256),
            MalformedReason::NotHex { offset: 0 }
        );
    }

    #[test]
    fn rejects_an_empty_or_blank_header() {
        assert_eq!(
            malformed_reason("", Algorithm::Sha256),
            MalformedReason::Empty
        );
        assert_eq!(
            malformed_reason(" \t ", Algorithm::Sha256),
            MalformedReason::Empty
        );
    }

    #[test]
    fn rejects_a_missing_prefix_and_names_the_expected_one() {
        assert_eq!(
            malformed_reason(&hex64(), Algorithm::Sha256),
            MalformedReason::MissingPrefix {
                expected: "sha256="
            }
        );
        assert_eq!(
            malformed_reason(&"cd".repeat(20), Algorithm::Sha1),
            MalformedReason::MissingPrefix { expected: "sha1=" }
        );
    }

    #[test]
    fn rejects_the_other_algorithms_prefix() {
        let sha1_in_256 = format!("sha1={}", hex64());
        assert_eq!(
            malformed_reason(&sha1_in_256, Algorithm::Sha256),
            MalformedReason::MissingPrefix {
                expected: "sha256="
            }
        );
    }

    #[test]
    fn rejects_a_value_shorter_than_the_prefix() {
        assert_eq!(
            malformed_reason("sha", Algorithm::Sha256),
            MalformedReason::MissingPrefix {
                expected: "sha256="
            }
        );
    }

    #[test]
    fn rejects_non_hex_digits_and_reports_the_offset() {
        let value = format!("sha256=ab{}", "g".repeat(62));
        assert_eq!(
            malformed_reason(&value, Algorithm::Sha256),
            MalformedReason::NotHex { offset: 2 }
        );
    }

    #[test]
    fn rejects_an_odd_number_of_hex_digits() {
        let value = format!("sha256={}", "a".repeat(63));
        assert_eq!(
            malformed_reason(&value, Algorithm::Sha256),
            MalformedReason::WrongLength {
                got: 63,
                expected: 64
            }
        );
    }

    #[test]
    fn rejects_a_31_byte_digest() {
        let value = format!("sha256={}", "ab".repeat(31));
        assert_eq!(
            malformed_reason(&value, Algorithm::Sha256),
            MalformedReason::WrongLength {
                got: 62,
                expected: 64
            }
        );
    }

    #[test]
    fn rejects_a_33_byte_digest() {
        let value = format!("sha256={}", "ab".repeat(33));
        assert_eq!(
            malformed_reason(&value, Algorithm::Sha256),
            MalformedReason::WrongLength {
                got: 66,
                expected: 64
            }
        );
    }

    #[test]
    fn rejects_a_prefix_without_digits() {
        assert_eq!(
            malformed_reason("sha256=", Algorithm::Sha256),
            MalformedReason::WrongLength {
                got: 0,
                expected: 64
            }
        );
    }

    #[test]
    fn rejects_a_sha256_length_digest_in_the_sha1_header() {
        let value = format!("sha1={}", hex64());
        assert_eq!(
            malformed_reason(&value, Algorithm::Sha1),
            MalformedReason::WrongLength {
                got: 64,
                expected: 40
            }
        );
    }

    #[test]
    fn rejects_non_ascii_bytes() {
        let mut value = b"sha256=".to_vec();
        value.extend_from_slice("é".as_bytes());
        let err = parse_header(&value, Algorithm::Sha256).unwrap_err();
        assert_eq!(
            err,
            SignatureError::Malformed {
                header: HEADER_SHA256,
                reason: MalformedReason::NotAscii
            }
        );
        assert_eq!(
            parse_header(&[0xff, 0xfe], Algorithm::Sha256).unwrap_err(),
            SignatureError::Malformed {
                header: HEADER_SHA256,
                reason: MalformedReason::NotAscii
            }
        );
    }

    #[test]
    fn names_the_sha1_header_in_sha1_parse_errors() {
        let err = parse_header(b"", Algorithm::Sha1).unwrap_err();
        assert_eq!(err.header_name(), Some(HEADER_SHA1));
        assert!(err.to_string().contains("sha1=<40 hex digits>"));
    }

    #[test]
    fn digest_debug_shows_only_algorithm_and_length() {
        let digest = parse_header(format!("sha256={}", hex64()).as_bytes(), Algorithm::Sha256)
            .expect("well formed");
        let debug = format!("{digest:?}");
        assert!(debug.contains("32"), "{debug}");
        assert!(!debug.contains("ab") && !debug.contains("171"), "{debug}");
    }

    // ---- sign ---------------------------------------------------------

    #[test]
    fn sign_produces_a_lowercase_sha256_header_value() {
        let value = sign(SECRET.as_bytes(), BODY);
        assert!(value.starts_with("sha256="));
        assert_eq!(value.len(), "sha256=".len() + 64);
        assert_eq!(value, value.to_ascii_lowercase());
    }

    #[test]
    fn sign_sha1_produces_a_lowercase_sha1_header_value() {
        let value = sign_sha1(SECRET.as_bytes(), BODY);
        assert!(value.starts_with("sha1="));
        assert_eq!(value.len(), "sha1=".len() + 40);
        assert_eq!(value, value.to_ascii_lowercase());
    }

    #[test]
    fn sign_matches_the_rfc_4231_test_case_2() {
        // RFC 4231, test case 2: key "Jefe".
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn sign_sha1_matches_the_rfc_2202_test_case_2() {
        assert_eq!(
            sign_sha1(b"Jefe", b"what do ya want for nothing?"),
            "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    // ---- Verifier -------------------------------------------------------

    #[test]
    fn accepts_a_correct_sha256_signature() {
        let signature = sign(SECRET.as_bytes(), BODY);
        let verified = verifier(&[SECRET])
            .verify(&sha256_only(&signature), BODY)
            .expect("valid signature");
        assert_eq!(verified.bytes(), BODY);
        assert_eq!(verified.matched_secret(), 0);
        assert_eq!(verified.algorithm(), Algorithm::Sha256);
        assert_eq!(verified.into_inner(), BODY);
    }

    #[test]
    fn accepts_an_uppercase_signature() {
        let signature = sign(SECRET.as_bytes(), BODY).to_ascii_uppercase();
        assert!(
            verifier(&[SECRET])
                .verify(&sha256_only(&signature), BODY)
                .is_ok()
        );
    }

    #[test]
    fn rejects_a_signature_made_with_another_secret() {
        let signature = sign(b"other-secret", BODY);
        let err = verifier(&[SECRET])
            .verify(&sha256_only(&signature), BODY)
            .unwrap_err();
        assert_eq!(
            err,
            SignatureError::Mismatch {
                header: HEADER_SHA256,
                secrets_tried: 1
            }
        );
    }

    #[test]
    fn rejects_signature_over_reserialised_body() {
        let wire = br#"{"url":"https:\/\/example.com\/x"}"#;
        let reserialised = br#"{"url":"https://example.com/x"}"#;
        let signature = sign(SECRET.as_bytes(), wire);
        let err = verifier(&[SECRET])
            .verify(&sha256_only(&signature), &reserialised[..])
            .unwrap_err();
        assert_eq!(err.kind(), "mismatch");
    }

    #[test]
    fn reports_a_missing_signature() {
        let err = verifier(&[SECRET])
            .verify(&SignatureHeaders::default(), BODY)
            .unwrap_err();
        assert_eq!(err, SignatureError::Missing);
        assert_eq!(err.header_name(), Some(HEADER_SHA256));
    }

    #[test]
    fn reports_a_malformed_signature_instead_of_a_mismatch() {
        let err = verifier(&[SECRET])
            .verify(&sha256_only("sha256=nothex"), BODY)
            .unwrap_err();
        assert_eq!(err.kind(), "malformed");
    }

    #[test]
    fn refuses_sha1_when_it_is_not_enabled() {
        let signature = sign_sha1(SECRET.as_bytes(), BODY);
        let err = verifier(&[SECRET])
            .verify(&sha1_only(&signature), BODY)
            .unwrap_err();
        assert_eq!(err, SignatureError::Sha1NotEnabled);
        assert_eq!(err.header_name(), Some(HEADER_SHA1));
    }

    #[test]
    fn accepts_sha1_when_it_is_enabled() {
        let signature = sign_sha1(SECRET.as_bytes(), BODY);
        let verified = verifier(&[SECRET])
            .allow_legacy_sha1(true)
            .verify(&sha1_only(&signature), BODY)
            .expect("valid sha1 signature");
        assert_eq!(verified.algorithm(), Algorithm::Sha1);
    }

    #[test]
    fn rejects_a_wrong_sha1_signature_when_it_is_enabled() {
        let signature = sign_sha1(b"other", BODY);
        let err = verifier(&[SECRET])
            .allow_legacy_sha1(true)
            .verify(&sha1_only(&signature), BODY)
            .unwrap_err();
        assert_eq!(
            err,
            SignatureError::Mismatch {
                header: HEADER_SHA1,
                secrets_tried: 1
            }
        );
    }

    #[test]
    fn a_wrong_sha256_signature_does_not_fall_back_to_a_valid_sha1_one() {
        let wrong256 = sign(b"other", BODY);
        let good1 = sign_sha1(SECRET.as_bytes(), BODY);
        let headers = SignatureHeaders {
            sha256: Some(wrong256.as_bytes()),
            sha1: Some(good1.as_bytes()),
        };
        let err = verifier(&[SECRET])
            .allow_legacy_sha1(true)
            .verify(&headers, BODY)
            .unwrap_err();
        assert_eq!(err.header_name(), Some(HEADER_SHA256));
        assert_eq!(err.kind(), "mismatch");
    }

    #[test]
    fn a_malformed_sha256_header_does_not_fall_back_to_a_valid_sha1_one() {
        let good1 = sign_sha1(SECRET.as_bytes(), BODY);
        let headers = SignatureHeaders {
            sha256: Some(b""),
            sha1: Some(good1.as_bytes()),
        };
        let err = verifier(&[SECRET])
            .allow_legacy_sha1(true)
            .verify(&headers, BODY)
            .unwrap_err();
        assert_eq!(err.kind(), "malformed");
    }

    #[test]
    fn a_valid_sha256_signature_wins_over_a_wrong_sha1_one() {
        let good256 = sign(SECRET.as_bytes(), BODY);
        let headers = SignatureHeaders {
            sha256: Some(good256.as_bytes()),
            sha1: Some(b"sha1=garbage"),
        };
        let verified = verifier(&[SECRET])
            .verify(&headers, BODY)
            .expect("sha256 decides");
        assert_eq!(verified.algorithm(), Algorithm::Sha256);
    }

    #[test]
    fn a_rotated_second_secret_matches_and_is_reported() {
        let signature = sign(b"new-secret", BODY);
        let verified = verifier(&["old-secret", "new-secret"])
            .verify(&sha256_only(&signature), BODY)
            .expect("second secret matches");
        assert_eq!(verified.matched_secret(), 1);
    }

    #[test]
    fn a_rotated_second_secret_matches_for_sha1_too() {
        let signature = sign_sha1(b"new-secret", BODY);
        let verified = verifier(&["old-secret", "new-secret"])
            .allow_legacy_sha1(true)
            .verify(&sha1_only(&signature), BODY)
            .expect("second secret matches");
        assert_eq!(verified.matched_secret(), 1);
    }

    #[test]
    fn a_mismatch_counts_every_secret_tried() {
        let signature = sign(b"unknown", BODY);
        let err = verifier(&["a", "b", "c"])
            .verify(&sha256_only(&signature), BODY)
            .unwrap_err();
        assert_eq!(
            err,
            SignatureError::Mismatch {
                header: HEADER_SHA256,
                secrets_tried: 3
            }
        );
        assert!(err.to_string().contains("any of the 3 configured"));
    }

    #[test]
    fn refuses_to_verify_without_secrets() {
        let signature = sign(SECRET.as_bytes(), BODY);
        let err = verifier(&[])
            .verify(&sha256_only(&signature), BODY)
            .unwrap_err();
        assert_eq!(err, SignatureError::NoSecrets);
        assert_eq!(err.header_name(), None);
    }

    #[test]
    fn ignores_an_empty_secret_because_anyone_can_sign_with_it() {
        let signature = sign(b"", BODY);
        let only_empty = verifier(&[""]).verify(&sha256_only(&signature), BODY);
        assert_eq!(only_empty.unwrap_err(), SignatureError::NoSecrets);
        let with_real = verifier(&["", SECRET]).verify(&sha256_only(&signature), BODY);
        assert_eq!(
            with_real.unwrap_err(),
            SignatureError::Mismatch {
                header: HEADER_SHA256,
                secrets_tried: 1
            }
        );
    }

    #[test]
    fn matched_index_refers_to_the_list_as_given_even_after_an_empty_secret() {
        let signature = sign(SECRET.as_bytes(), BODY);
        let verified = verifier(&["", SECRET])
            .verify(&sha256_only(&signature), BODY)
            .expect("second secret matches");
        assert_eq!(verified.matched_secret(), 1);
    }

    #[test]
    fn verifies_owned_and_borrowed_bodies_alike() {
        let signature = sign(SECRET.as_bytes(), BODY);
        let owned = verifier(&[SECRET])
            .verify(&sha256_only(&signature), BODY.to_vec())
            .expect("valid");
        let body: Vec<u8> = owned.into_inner();
        assert_eq!(body, BODY);
    }

    #[test]
    fn verifier_debug_redacts_secrets() {
        let debug = format!("{:?}", verifier(&["hunter2"]));
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("***"), "{debug}");
    }

    #[test]
    fn verified_body_debug_shows_length_not_content() {
        let signature = sign(SECRET.as_bytes(), BODY);
        let verified = verifier(&[SECRET])
            .verify(&sha256_only(&signature), BODY)
            .expect("valid");
        let debug = format!("{verified:?}");
        assert!(debug.contains(&BODY.len().to_string()), "{debug}");
        assert!(!debug.contains("object"), "{debug}");
    }

    // ---- error messages -------------------------------------------------

    #[test]
    fn errors_never_contain_the_expected_digest_or_the_secret() {
        let secret = "s3cr3t-value";
        let expected = sign(secret.as_bytes(), BODY);
        let expected_hex = expected.trim_start_matches("sha256=");
        let wrong = sign(b"other", BODY);
        let errors = [
            verifier(&[secret])
                .verify(&sha256_only(&wrong), BODY)
                .unwrap_err(),
            verifier(&[secret])
                .verify(&sha256_only("sha256=zz"), BODY)
                .unwrap_err(),
            verifier(&[secret])
                .verify(&SignatureHeaders::default(), BODY)
                .unwrap_err(),
        ];
        for err in errors {
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains(secret), "{text}");
                assert!(!text.contains(expected_hex), "{text}");
            }
        }
    }

    #[test]
    fn every_error_message_says_what_to_do() {
        let errors = [
            SignatureError::Missing,
            SignatureError::Malformed {
                header: HEADER_SHA256,
                reason: MalformedReason::Empty,
            },
            SignatureError::Mismatch {
                header: HEADER_SHA256,
                secrets_tried: 2,
            },
            SignatureError::Sha1NotEnabled,
            SignatureError::NoSecrets,
        ];
        let hints = [
            "hookline sign",
            "hookline sign",
            "App Dashboard",
            "allow_legacy_sha1",
            "HOOKLINE_APP_SECRET",
        ];
        for (err, hint) in errors.iter().zip(hints) {
            assert!(err.to_string().contains(hint), "{err}");
        }
    }

    #[test]
    fn kinds_are_stable_metric_labels() {
        let kinds: Vec<_> = [
            SignatureError::Missing,
            SignatureError::Malformed {
                header: HEADER_SHA256,
                reason: MalformedReason::NotAscii,
            },
            SignatureError::Mismatch {
                header: HEADER_SHA256,
                secrets_tried: 1,
            },
            SignatureError::Sha1NotEnabled,
            SignatureError::NoSecrets,
        ]
        .iter()
        .map(SignatureError::kind)
        .collect();
        assert_eq!(
            kinds,
            [
                "missing",
                "malformed",
                "mismatch",
                "sha1_not_enabled",
                "no_secrets"
            ]
        );
    }

    #[test]
    fn wrong_length_message_gives_both_counts() {
        let err = parse_header(b"sha256=abc", Algorithm::Sha256).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("got 3 hex digits, expected 64"), "{text}");
    }
}
