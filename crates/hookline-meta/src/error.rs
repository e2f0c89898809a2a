//! The one way parsing fails: the bytes are not JSON.

use thiserror::Error;

/// A body that is not valid JSON (or not UTF-8). Line and column are 1-based.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error(
        "invalid JSON at line {line}, column {column}: {message}; a webhook body must be one JSON object \
         (hookline keeps bodies like this in quarantine)"
    )]
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error(
        "invalid UTF-8 at line {line}, column {column} (byte {offset}); Meta sends ASCII JSON with \\u escapes, \
         so the body was altered on the way or is not from Meta"
    )]
    NotUtf8 {
        line: usize,
        column: usize,
        offset: usize,
    },
}

impl ParseError {
    pub(crate) fn from_json(err: serde_json::Error) -> Self {
        // serde_json appends " at line L column C" to its Display; keep only the description.
        let full = err.to_string();
        let message = match full.rfind(" at line ") {
            Some(at) => full[..at].to_owned(),
            None => full,
        };
        ParseError::InvalidJson {
            line: err.line(),
            column: err.column(),
            message,
        }
    }

    pub(crate) fn not_utf8(body: &[u8], offset: usize) -> Self {
        let before = &body[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        ParseError::NotUtf8 {
            line,
            column: offset - line_start + 1,
            offset,
        }
    }

    /// 1-based line and column of the problem.
    pub fn position(&self) -> (usize, usize) {
        match self {
            ParseError::InvalidJson { line, column, .. }
            | ParseError::NotUtf8 { line, column, .. } => (*line, *column),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_json_reports_line_and_column() {
        let err = crate::parse(b"{\n  \"object\": \"page\",\n  \"entry\": [\n}").unwrap_err();
        assert_eq!(err.position(), (4, 1));
        let text = err.to_string();
        assert!(
            text.starts_with("invalid JSON at line 4, column 1"),
            "{text}"
        );
    }

    #[test]
    fn invalid_utf8_reports_where() {
        let err = crate::parse(b"{\"a\":\n\"\xff\"}").unwrap_err();
        assert_eq!(
            err,
            ParseError::NotUtf8 {
                line: 2,
                column: 2,
                offset: 7
            }
        );
    }

    #[test]
    fn empty_and_trailing_garbage_are_errors() {
        assert!(crate::parse(b"").is_err());
        assert!(crate::parse(b"{} x").is_err());
    }
}
