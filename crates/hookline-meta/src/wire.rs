//! Meta's wire form of a JSON body: compact, ASCII only, every non-ASCII character as a lowercase `\uXXXX`
//! escape (UTF-16 surrogate pairs above U+FFFF) and every `/` as `\/`.
//!
//! Meta signs exactly these bytes, so a test delivery must be encoded this way before it is signed, and a
//! receiver must never re-encode what it received: `JSON.stringify` or `serde_json::to_vec` of the same value
//! gives different bytes and a signature that does not match.

use std::io;

use serde::Serialize;
use serde_json::Value;
use serde_json::ser::{Formatter, Serializer};

use crate::error::ParseError;

/// Encodes a value in Meta's wire form. Object keys keep their order.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut serializer = Serializer::with_formatter(&mut out, WireFormatter);
    // Serialising into a Vec cannot fail for JSON data (maps have string keys by construction of `Value`).
    value
        .serialize(&mut serializer)
        .expect("serialising JSON into memory does not fail");
    out
}

/// Re-encodes any JSON text (pretty-printed, raw UTF-8, ...) in Meta's wire form.
pub fn reencode(json: &[u8]) -> Result<Vec<u8>, ParseError> {
    let text =
        std::str::from_utf8(json).map_err(|err| ParseError::not_utf8(json, err.valid_up_to()))?;
    let value: Value = serde_json::from_str(text).map_err(ParseError::from_json)?;
    Ok(encode(&value))
}

/// serde_json's compact output with Meta's string escaping on top. serde_json already escapes `"`, `\` and
/// control characters the way Meta does (`\n`, `\u001f`, lowercase hex).
#[derive(Clone, Copy, Debug)]
struct WireFormatter;

impl Formatter for WireFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let bytes = fragment.as_bytes();
        let mut start = 0;
        for (at, ch) in fragment.char_indices() {
            if ch.is_ascii() && ch != '/' {
                continue;
            }
            writer.write_all(&bytes[start..at])?;
            if ch == '/' {
                writer.write_all(b"\\/")?;
            } else {
                let mut units = [0u16; 2];
                for unit in ch.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
            start = at + ch.len_utf8();
        }
        writer.write_all(&bytes[start..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(json: &str) -> String {
        String::from_utf8(reencode(json.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn escapes_like_meta() {
        assert_eq!(wire(r#"{ "t": "äöå" }"#), r#"{"t":"\u00e4\u00f6\u00e5"}"#);
        assert_eq!(
            wire(r#"{"u":"https://x.example/a"}"#),
            r#"{"u":"https:\/\/x.example\/a"}"#
        );
        assert_eq!(wire(r#"{"e":"😀"}"#), r#"{"e":"\ud83d\ude00"}"#);
        assert_eq!(wire("{\"c\":\"a\\nb\\u001f\"}"), r#"{"c":"a\nb\u001f"}"#);
    }

    #[test]
    fn keeps_key_order_and_exact_numbers() {
        assert_eq!(
            wire(r#"{"z":1,"a":17918195224117851,"m":29.0}"#),
            r#"{"z":1,"a":17918195224117851,"m":29.0}"#
        );
    }

    #[test]
    fn is_plain_ascii() {
        let out = reencode("{\"k\":\"\u{200a}\u{6d4}/\"}".as_bytes()).unwrap();
        assert!(out.is_ascii());
        assert_eq!(out, br#"{"k":"\u200a\u06d4\/"}"#);
    }
}
