//! `wire::encode` of any JSON value.
//!
//! When the input is JSON (a `serde_json::Value`), its wire form
//! - is ASCII only,
//! - has no unescaped `/` and only lowercase `\uXXXX` escapes,
//! - is compact (no whitespace outside strings),
//! - parses back (serde_json) to a value equal to the input's,
//! - and is a fixed point: `wire::reencode` of the wire form gives the same bytes.

#![no_main]

use hookline_meta::wire;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let out = wire::encode(&value);
    let text = String::from_utf8_lossy(&out);

    assert!(out.is_ascii(), "wire form is not ASCII: {text:?}");

    // Scan: outside strings no whitespace; inside strings every `\` starts an escape, `/` only as `\/`,
    // `\u` followed by four lowercase hex digits.
    let mut in_string = false;
    let mut i = 0;
    while i < out.len() {
        let b = out[i];
        if in_string {
            match b {
                b'"' => in_string = false,
                b'\\' => {
                    let esc = out.get(i + 1).copied();
                    if esc == Some(b'u') {
                        let hex = out.get(i + 2..i + 6).unwrap_or(&[]);
                        assert!(
                            hex.len() == 4
                                && hex.iter().all(|h| h.is_ascii_digit() || (b'a'..=b'f').contains(h)),
                            "bad \\u escape at {i}: {text:?}"
                        );
                        i += 4;
                    }
                    i += 1;
                }
                b'/' => panic!("unescaped `/` at {i}: {text:?}"),
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b' ' | b'\t' | b'\n' | b'\r' => panic!("whitespace outside strings at {i}: {text:?}"),
                _ => {}
            }
        }
        i += 1;
    }

    let back: Value = serde_json::from_slice(&out).expect("the wire form is JSON");
    assert_eq!(back, value, "the wire form reads back differently: {text:?}");

    let again = wire::reencode(&out).expect("the wire form re-encodes");
    assert_eq!(again, out, "the wire form is not a fixed point: {text:?}");
});
