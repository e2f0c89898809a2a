//! Standard Webhooks signatures: `v1,` + base64 HMAC-SHA256 of `{id}.{timestamp}.{body}`.
//!
//! Consumers verify with any Standard Webhooks library; [`verify`] is here for tests and for people who
//! embed hookline as a library.

use std::fmt;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "whsec_";

/// A Standard Webhooks secret: the key is the base64-decoded part after `whsec_`.
#[derive(Clone)]
pub struct SigningSecret {
    key: Vec<u8>,
}

/// Why a secret could not be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("a signing secret must start with \"whsec_\" followed by a base64 key")]
    MissingPrefix,
    #[error("the part of the signing secret after \"whsec_\" is not valid base64: {0}")]
    BadBase64(String),
    #[error("the signing secret's key is empty")]
    EmptyKey,
}

impl SigningSecret {
    /// Parses `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text
            .trim()
            .strip_prefix(PREFIX)
            .ok_or(SecretError::MissingPrefix)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|err| SecretError::BadBase64(err.to_string()))?;
        if key.is_empty() {
            return Err(SecretError::EmptyKey);
        }
        Ok(SigningSecret { key })
    }

    fn mac(&self, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> HmacSha256 {
        let mut mac =
            HmacSha256::new_from_slice(&self.key).expect("HMAC accepts keys of any length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp_secs.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningSecret(whsec_***, {} bytes)", self.key.len())
    }
}

/// The `webhook-signature` header value for one message: `v1,<base64>`.
pub fn sign(secret: &SigningSecret, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let tag = secret
        .mac(msg_id, timestamp_secs, body)
        .finalize()
        .into_bytes();
    format!("v1,{}", STANDARD.encode(tag))
}

/// Why a signed message was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the webhook-timestamp header is not a whole number of seconds")]
    BadTimestamp,
    #[error("the webhook-timestamp is {0} s away from now, outside the tolerance")]
    OutsideTolerance(u64),
    #[error("no v1 signature in the webhook-signature header matches")]
    NoMatch,
}

/// Checks the three Standard Webhooks headers against `body`.
///
/// `signatures` may hold several space-separated `v1,<base64>` values (key rotation); one match is enough.
/// Each candidate is compared in constant time.
pub fn verify(
    secret: &SigningSecret,
    msg_id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now_secs: i64,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::BadTimestamp)?;
    let skew = now_secs.abs_diff(ts);
    if skew > tolerance.as_secs() {
        return Err(VerifyError::OutsideTolerance(skew));
    }
    let matched = signatures.split_whitespace().any(|candidate| {
        let Some(encoded) = candidate.strip_prefix("v1,") else {
            return false;
        };
        let Ok(tag) = STANDARD.decode(encoded) else {
            return false;
        };
        secret.mac(msg_id, ts, body).verify_slice(&tag).is_ok()
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const TOLERANCE: Duration = Duration::from_secs(300);

    fn spec_secret() -> SigningSecret {
        SigningSecret::parse(SPEC_SECRET).unwrap()
    }

    #[test]
    fn signs_the_standard_webhooks_spec_example() {
        let sig = sign(
            &spec_secret(),
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    // Computed with openssl, see tests/vectors/openssl.sh.
    #[test]
    fn signs_a_forwarded_event_as_openssl_does() {
        let sig = sign(
            &spec_secret(),
            "evt_0123456789abcdef0123456789abcdef",
            1_767_610_100,
            br#"{"version":1,"kind":"message"}"#,
        );
        assert_eq!(sig, include_str!("../tests/vectors/vector2.txt").trim());
    }

    #[test]
    fn signs_with_another_key_as_openssl_does() {
        let secret = SigningSecret::parse("whsec_aG9va2xpbmUtdGVzdC1rZXktMDE=").unwrap();
        let sig = sign(&secret, "msg_2", 1_700_000_000, "héllo\n".as_bytes());
        assert_eq!(sig, include_str!("../tests/vectors/vector3.txt").trim());
    }

    #[test]
    fn parse_names_what_is_wrong_with_a_secret() {
        assert_eq!(
            SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            SecretError::MissingPrefix
        );
        assert!(matches!(
            SigningSecret::parse("whsec_not*base64").unwrap_err(),
            SecretError::BadBase64(_)
        ));
        assert_eq!(
            SigningSecret::parse("whsec_").unwrap_err(),
            SecretError::EmptyKey
        );
    }

    #[test]
    fn debug_never_shows_the_key() {
        let shown = format!("{:?}", spec_secret());
        assert!(!shown.contains("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"));
        let key_bytes = format!("{:?}", spec_secret().key);
        assert!(!shown.contains(&key_bytes));
    }

    #[test]
    fn verify_accepts_any_of_several_signatures() {
        let body = br#"{"test": 2432232314}"#;
        let header = "v1,Zm9vYmFy v2,abc v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ok = verify(
            &spec_secret(),
            id,
            "1614265330",
            header,
            body,
            1_614_265_330,
            TOLERANCE,
        );
        assert_eq!(ok, Ok(()));
        let wrong_only = verify(
            &spec_secret(),
            id,
            "1614265330",
            "v1,Zm9vYmFy",
            body,
            1_614_265_330,
            TOLERANCE,
        );
        assert_eq!(wrong_only, Err(VerifyError::NoMatch));
    }

    #[test]
    fn verify_rejects_timestamps_outside_the_tolerance() {
        let body = br#"{"test": 2432232314}"#;
        let sig = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let late = verify(
            &spec_secret(),
            id,
            "1614265330",
            sig,
            body,
            1_614_265_330 + 301,
            TOLERANCE,
        );
        assert_eq!(late, Err(VerifyError::OutsideTolerance(301)));
        let early = verify(
            &spec_secret(),
            id,
            "1614265330",
            sig,
            body,
            1_614_265_330 - 400,
            TOLERANCE,
        );
        assert_eq!(early, Err(VerifyError::OutsideTolerance(400)));
        let edge = verify(
            &spec_secret(),
            id,
            "1614265330",
            sig,
            body,
            1_614_265_330 + 300,
            TOLERANCE,
        );
        assert_eq!(edge, Ok(()));
        let junk = verify(
            &spec_secret(),
            id,
            "soon",
            sig,
            body,
            1_614_265_330,
            TOLERANCE,
        );
        assert_eq!(junk, Err(VerifyError::BadTimestamp));
    }

    proptest! {
        #[test]
        fn sign_then_verify_holds_and_any_changed_byte_fails(
            key in proptest::collection::vec(any::<u8>(), 1..64),
            id in "[a-zA-Z0-9_]{1,40}",
            ts in 0i64..4_000_000_000,
            body in proptest::collection::vec(any::<u8>(), 0..256),
            flip in any::<usize>(),
            bit in 0u8..8,
        ) {
            let secret = SigningSecret::parse(&format!("whsec_{}", STANDARD.encode(&key))).unwrap();
            let sig = sign(&secret, &id, ts, &body);
            let tol = Duration::from_secs(300);
            prop_assert_eq!(verify(&secret, &id, &ts.to_string(), &sig, &body, ts, tol), Ok(()));

            if !body.is_empty() {
                let mut changed = body.clone();
                changed[flip % body.len()] ^= 1 << bit;
                prop_assert_eq!(verify(&secret, &id, &ts.to_string(), &sig, &changed, ts, tol), Err(VerifyError::NoMatch));
            }
            let mut other_id = id.clone().into_bytes();
            let at = flip % other_id.len();
            other_id[at] = if other_id[at] == b'x' { b'y' } else { b'x' };
            let other_id = String::from_utf8(other_id).unwrap();
            prop_assert_eq!(verify(&secret, &other_id, &ts.to_string(), &sig, &body, ts, tol), Err(VerifyError::NoMatch));
            let other_ts = ts + 1;
            prop_assert_eq!(verify(&secret, &id, &other_ts.to_string(), &sig, &body, other_ts, tol), Err(VerifyError::NoMatch));
        }
    }
}
