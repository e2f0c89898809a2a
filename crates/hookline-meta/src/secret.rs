//! A holder for secret strings (app secrets, verify tokens) that cannot leak
//! through logging.

use std::fmt;

use subtle::{Choice, ConstantTimeEq};

/// A secret string: an app secret that signs deliveries, or a verify token for
/// the subscription handshake.
///
/// `Debug` prints `Secret(***)` and `Display` prints `***`, so a secret that
/// ends up in a log line, a panic message or a `{:?}` of a config struct shows
/// nothing. Read the value only through [`Secret::expose`] or
/// [`Secret::as_bytes`], which makes every real use easy to find.
///
/// There is deliberately no `PartialEq`: comparing secrets with `==` would be
/// variable-time. Use [`Secret::ct_eq`].
///
/// The value is not wiped from memory on drop.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value` exactly as given; nothing is trimmed, because a
    /// whitespace difference is a different secret to Meta as well.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret in clear text. Every call site is a place where the secret
    /// could leak, so keep them few.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The secret's UTF-8 bytes, e.g. as an HMAC key.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// Whether the secret is the empty string. An empty app secret or verify
    /// token is public knowledge, so the verifiers in this crate ignore it.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Compares the secret with `other` in time independent of the contents.
    ///
    /// The *length* is not hidden: inputs of different length return `false`
    /// at once. That is acceptable here because an attacker learning the
    /// length of a verify token or app secret does not help guess its bytes
    /// (Meta app secrets have a fixed, publicly known length anyway).
    pub fn ct_eq(&self, other: &[u8]) -> bool {
        self.ct_eq_choice(other).into()
    }

    /// Like [`Secret::ct_eq`] but keeps the result as a [`Choice`], so callers
    /// can combine several comparisons without a data-dependent branch.
    pub(crate) fn ct_eq_choice(&self, other: &[u8]) -> Choice {
        self.as_bytes().ct_eq(other)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?}"), "Secret(***)");
        assert_eq!(format!("{secret:#?}"), "Secret(***)");
    }

    #[test]
    fn display_never_shows_the_value() {
        assert_eq!(Secret::new("hunter2").to_string(), "***");
    }

    #[test]
    fn debug_of_a_containing_struct_stays_redacted() {
        #[derive(Debug)]
        #[allow(dead_code)] // only read through Debug
        struct Config {
            app_secret: Secret,
        }
        let config = Config {
            app_secret: Secret::new("hunter2"),
        };
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn expose_and_as_bytes_return_the_exact_value() {
        let secret = Secret::new(" spaced ");
        assert_eq!(secret.expose(), " spaced ");
        assert_eq!(secret.as_bytes(), b" spaced ");
    }

    #[test]
    fn ct_eq_accepts_the_same_bytes() {
        assert!(Secret::new("token").ct_eq(b"token"));
    }

    #[test]
    fn ct_eq_rejects_different_bytes_of_the_same_length() {
        assert!(!Secret::new("token").ct_eq(b"tokeN"));
    }

    #[test]
    fn ct_eq_rejects_a_prefix_and_an_extension() {
        let secret = Secret::new("token");
        assert!(!secret.ct_eq(b"toke"));
        assert!(!secret.ct_eq(b"token2"));
        assert!(!secret.ct_eq(b""));
    }

    #[test]
    fn from_str_and_from_string_wrap_the_value() {
        assert_eq!(Secret::from("a").expose(), "a");
        assert_eq!(Secret::from(String::from("b")).expose(), "b");
    }

    #[test]
    fn clone_keeps_the_value() {
        let secret = Secret::new("ключ");
        assert_eq!(secret.clone().expose(), "ключ");
    }

    #[test]
    fn is_empty_reports_the_empty_string() {
        assert!(Secret::new("").is_empty());
        assert!(!Secret::new("x").is_empty());
    }
}
