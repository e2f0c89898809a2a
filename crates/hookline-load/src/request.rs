//! The bytes of one request: a head built once per run, then per request the signature, the length and
//! the body, all in one buffer so a request leaves in one `write`.

use std::io::Write;

use crate::error::LoadError;
use crate::signature::Signer;
use crate::target::Target;

/// The user agent Meta's webhook deliveries carry.
pub const USER_AGENT: &str = "facebookexternalua";

/// Writes complete `POST` requests for one target.
#[derive(Debug)]
pub struct RequestWriter {
    /// Request line and every fixed header, each ending in CRLF.
    head: Vec<u8>,
    signer: Option<Signer>,
}

/// Headers the engine owns: framing and the target are decided by the request itself.
const RESERVED: [&str; 4] = ["host", "content-length", "transfer-encoding", "connection"];

impl RequestWriter {
    /// `headers` are sent on every request; a `User-Agent` or `Content-Type` among them replaces the
    /// default one.
    pub fn new(
        target: &Target,
        headers: &[(String, String)],
        secret: Option<&[u8]>,
    ) -> Result<RequestWriter, LoadError> {
        for (name, value) in headers {
            check_header(name, value, secret.is_some())?;
        }
        let has = |wanted: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(wanted));
        let mut head = Vec::with_capacity(256);
        write!(
            head,
            "POST {} HTTP/1.1\r\nHost: {}\r\n",
            target.path, target.host_header
        )
        .expect("writing to a Vec");
        if !has("user-agent") {
            write!(head, "User-Agent: {USER_AGENT}\r\n").expect("writing to a Vec");
        }
        if !has("content-type") {
            head.extend_from_slice(b"Content-Type: application/json\r\n");
        }
        for (name, value) in headers {
            write!(head, "{name}: {value}\r\n").expect("writing to a Vec");
        }
        Ok(RequestWriter {
            head,
            signer: secret.map(Signer::new),
        })
    }

    /// Replaces `out` with the request carrying `body`.
    pub fn write(&self, body: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.head);
        if let Some(signer) = &self.signer {
            out.extend_from_slice(b"X-Hub-Signature-256: ");
            signer.append_header_value(body, out);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"Content-Length: ");
        append_decimal(body.len(), out);
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
    }
}

/// `n` in decimal, without `fmt` (measured at ~2% of the engine's user time through `write!`).
fn append_decimal(mut n: usize, out: &mut Vec<u8>) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
}

fn check_header(name: &str, value: &str, signing: bool) -> Result<(), LoadError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(LoadError::Config("a header name is not an HTTP token"));
    }
    if value.bytes().any(|b| b == b'\r' || b == b'\n') {
        return Err(LoadError::Config("a header value holds a line break"));
    }
    if RESERVED.iter().any(|r| name.eq_ignore_ascii_case(r)) {
        return Err(LoadError::Config(
            "Host, Content-Length, Transfer-Encoding and Connection are set by the engine",
        ));
    }
    if signing && name.eq_ignore_ascii_case("x-hub-signature-256") {
        return Err(LoadError::Config(
            "X-Hub-Signature-256 is both given and computed from the secret",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(headers: &[(&str, &str)], secret: Option<&[u8]>) -> Result<RequestWriter, LoadError> {
        let target = Target::parse("http://127.0.0.1:8080/webhook").unwrap();
        let headers: Vec<_> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        RequestWriter::new(&target, &headers, secret)
    }

    #[test]
    fn a_signed_request_carries_meta_s_headers_and_the_exact_body() {
        let mut out = Vec::new();
        writer(&[], Some(b"load-secret"))
            .unwrap()
            .write(br#"{"object":"page","entry":[]}"#, &mut out);
        // signature: printf '%s' '{"object":"page","entry":[]}' | openssl dgst -sha256 -hmac load-secret
        let expected = "POST /webhook HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: facebookexternalua\r\n\
            Content-Type: application/json\r\nX-Hub-Signature-256: \
            sha256=bf3fd1a856689a5aa129a4a7f0537e2812628a8dea2ccd3ed65a8e33f736fb29\r\n\
            Content-Length: 28\r\n\r\n{\"object\":\"page\",\"entry\":[]}";
        assert_eq!(String::from_utf8(out).unwrap(), expected);
    }

    #[test]
    fn an_unsigned_request_has_no_signature_header_and_keeps_extra_headers() {
        let mut out = b"left over".to_vec();
        writer(&[("User-Agent", "probe"), ("X-Trace", "1")], None)
            .unwrap()
            .write(b"{}", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("POST /webhook HTTP/1.1\r\n"), "{text}");
        assert!(!text.contains("X-Hub-Signature-256") && !text.contains("facebookexternalua"));
        assert!(
            text.contains("\r\nUser-Agent: probe\r\nX-Trace: 1\r\n"),
            "{text}"
        );
        assert!(text.ends_with("Content-Length: 2\r\n\r\n{}"), "{text}");
    }

    #[test]
    fn lengths_are_written_in_decimal() {
        for n in [0, 7, 10, 439, 65_536, usize::MAX] {
            let mut out = Vec::new();
            append_decimal(n, &mut out);
            assert_eq!(out, n.to_string().into_bytes());
        }
    }

    #[test]
    fn headers_the_engine_owns_or_that_break_framing_are_refused() {
        assert!(writer(&[("Content-Length", "5")], None).is_err());
        assert!(writer(&[("X-A", "a\r\nX-B: b")], None).is_err());
        assert!(writer(&[("Bad Name", "a")], None).is_err());
        assert!(writer(&[("X-Hub-Signature-256", "sha256=00")], Some(b"s")).is_err());
        assert!(writer(&[("X-Hub-Signature-256", "sha256=00")], None).is_ok());
    }
}
