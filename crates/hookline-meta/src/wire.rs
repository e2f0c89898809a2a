//! Meta's wire form of a JSON body: compact, ASCII only, every non-ASCII character as a lowercase `\uXXXX`
//! escape (UTF-16 surrogate pairs above U+FFFF) and every `/` as `\/`.
//!
//! Meta signs exactly these bytes, so a test delivery must be encoded this way before it is signed, and a
//! receiver must never re-encode what it received: `JSON.stringify` or `serde_json::to_vec` of the same value
//! gives different bytes and a signature that does not match.

use serde::Serialize;
use serde::de::IgnoredAny;

use crate::error::ParseError;

/// Encodes a value in Meta's wire form. Object keys keep their order.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Serialising JSON data into memory does not fail, and its output is valid JSON for the transcoder.
    let json = serde_json::to_string(value).expect("serialising JSON into memory does not fail");
    wire_strings(&json)
}

/// Re-encodes JSON text (pretty-printed, raw UTF-8, ...) in Meta's wire form. The text is transcoded token
/// by token, not through a JSON value: numbers are kept digit for digit and repeated keys stay repeated, so
/// the result parses to exactly the events the input does.
pub fn reencode(json: &[u8]) -> Result<Vec<u8>, ParseError> {
    let text =
        std::str::from_utf8(json).map_err(|err| ParseError::not_utf8(json, err.valid_up_to()))?;
    serde_json::from_str::<IgnoredAny>(text).map_err(ParseError::from_json)?;
    Ok(wire_strings(text))
}

/// Valid JSON text without whitespace between tokens and with every string in wire form.
fn wire_strings(json: &str) -> Vec<u8> {
    transcode(json, write_wire_literal)
}

/// Writes a JSON string literal (quotes included) in wire form. Decoding goes through UTF-16 units, so an
/// escaped half of a surrogate pair (valid JSON, but no UTF-8 form) is kept as the escape it was.
pub(crate) fn write_wire_literal(literal: &str, out: &mut Vec<u8>) {
    let inner = literal
        .get(1..literal.len().saturating_sub(1))
        .unwrap_or_default();
    // Most strings are printable ASCII with nothing to escape: their wire form is the literal itself.
    if inner
        .bytes()
        .all(|b| matches!(b, 0x20..=0x7f) && !matches!(b, b'"' | b'\\' | b'/'))
    {
        out.push(b'"');
        out.extend_from_slice(inner.as_bytes());
        out.push(b'"');
        return;
    }
    write_wire_units(&string_units(inner), out);
}

/// The UTF-16 code units of the inside of a valid JSON string literal, escapes decoded.
pub(crate) fn string_units(inner: &str) -> Vec<u16> {
    let mut units = Vec::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(ch) = chars.next() {
        if ch != '\\' {
            units.extend_from_slice(ch.encode_utf16(&mut [0; 2]));
            continue;
        }
        let unit = match chars.next() {
            Some('u') => {
                let hex: String = chars.by_ref().take(4).collect();
                u16::from_str_radix(&hex, 16).unwrap_or(0xfffd)
            }
            Some('n') => 0x0a,
            Some('r') => 0x0d,
            Some('t') => 0x09,
            Some('b') => 0x08,
            Some('f') => 0x0c,
            Some(other) => other as u16,
            None => break,
        };
        units.push(unit);
    }
    units
}

/// Writes UTF-16 units as a wire-form string literal.
fn write_wire_units(units: &[u16], out: &mut Vec<u8>) {
    out.push(b'"');
    for &unit in units {
        match unit {
            0x22 => out.extend_from_slice(b"\\\""),
            0x5c => out.extend_from_slice(b"\\\\"),
            0x2f => out.extend_from_slice(b"\\/"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0d => out.extend_from_slice(b"\\r"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x20..=0x7f => out.push(unit as u8),
            _ => out.extend_from_slice(format!("\\u{unit:04x}").as_bytes()),
        }
    }
    out.push(b'"');
}

/// The same JSON without whitespace outside strings; strings are kept as written.
pub(crate) fn compact(json: &str) -> String {
    let bytes = transcode(json, |literal, out| {
        out.extend_from_slice(literal.as_bytes())
    });
    String::from_utf8(bytes).expect("transcoding keeps UTF-8")
}

/// Copies valid JSON text, dropping whitespace between tokens and handing every string literal (quotes
/// included) to `string`.
fn transcode(text: &str, mut string: impl FnMut(&str, &mut Vec<u8>)) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b' ' | b'\n' | b'\r' | b'\t' => at += 1,
            b'"' => {
                let end = string_end(bytes, at);
                string(&text[at..end], &mut out);
                at = end;
            }
            byte => {
                out.push(byte);
                at += 1;
            }
        }
    }
    out
}

/// The index just past the string literal starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut at = start + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return at + 1,
            _ => at += 1,
        }
    }
    bytes.len()
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
        assert_eq!(
            wire("{\"c\":\"a\\nb\\u001f\\u00E4\\\"\"}"),
            r#"{"c":"a\nb\u001f\u00e4\""}"#
        );
    }

    #[test]
    fn keeps_key_order_repeated_keys_and_numbers_digit_for_digit() {
        let json = r#"{"z":1, "a":17918195224117851,"m":29.0,"a":1e400,"f":0.1000000000000000055511151231257827}"#;
        assert_eq!(wire(json), json.replace(", ", ","));
    }

    #[test]
    fn agrees_with_encoding_a_value() {
        let json = r#"{"k":"\u200a\u06d4/ \" \\ \t é 😀","n":[1,-2.5,null,true]}"#;
        let value: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(reencode(json.as_bytes()).unwrap(), encode(&value));
        assert!(encode(&value).is_ascii());
    }

    #[test]
    fn compact_drops_only_whitespace_between_tokens() {
        assert_eq!(
            compact("{\n  \"a b\" : [1, \"x\\\" y\"]\n}"),
            r#"{"a b":[1,"x\" y"]}"#
        );
    }

    #[test]
    fn invalid_json_is_an_error() {
        assert!(reencode(b"{\"a\":}").is_err());
    }

    #[test]
    fn lone_surrogate_escapes_are_kept() {
        assert_eq!(
            wire(r#"{"a":"\uD800\u0041\/é"}"#),
            r#"{"a":"\ud800A\/\u00e9"}"#
        );
    }
}
