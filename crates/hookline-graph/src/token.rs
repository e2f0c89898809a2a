//! Access tokens, which are secrets: they print as `Token(***)` and leave the process only in the
//! `Authorization` header of a Graph request.

use std::fmt;
use std::str::FromStr;

/// A Page access token, Instagram User access token or other Graph token.
///
/// `Debug` and `Display` never show the value; [`Token::expose`] is the one way to read it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Takes a token as pasted or read from the environment; surrounding whitespace (a trailing
    /// newline from a file) is dropped.
    pub fn new(raw: impl Into<String>) -> Result<Self, TokenError> {
        let raw = raw.into();
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(TokenError::Empty);
        }
        // Header values cannot carry these, and a token never contains them.
        if trimmed.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(TokenError::Whitespace);
        }
        Ok(Token(trimmed.to_owned()))
    }

    /// The secret itself, for the request that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(***)")
    }
}

impl FromStr for Token {
    type Err = TokenError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Token::new(s)
    }
}

/// A token that cannot be sent. The messages never quote the token.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error(
        "the access token is empty; pass the Page (or Instagram) access token from the App Dashboard or Graph API Explorer"
    )]
    Empty,
    #[error(
        "the access token contains spaces or control characters, so it was pasted wrongly; copy it again as one unbroken string"
    )]
    Whitespace,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "EAAGm0PX4ZCpsBAsecretvalue";

    #[test]
    fn debug_and_display_hide_the_value() {
        let token = Token::new(SECRET).unwrap();
        assert_eq!(format!("{token:?}"), "Token(***)");
        assert_eq!(format!("{token}"), "Token(***)");
        assert_eq!(format!("{:?}", Some(&token)), "Some(Token(***))");
        assert_eq!(token.expose(), SECRET);
    }

    #[test]
    fn trims_a_trailing_newline() {
        assert_eq!(
            Token::new(format!("  {SECRET}\n")).unwrap().expose(),
            SECRET
        );
    }

    #[test]
    fn rejects_empty_and_broken_tokens_without_quoting_them() {
        assert_eq!(Token::new(" \n"), Err(TokenError::Empty));
        let err = "EAAG abc".parse::<Token>().unwrap_err();
        assert_eq!(err, TokenError::Whitespace);
        assert!(!err.to_string().contains("EAAG"));
    }
}
