//! Finding where a response ends in the bytes read so far: the head with `httparse`, then a body framed
//! by `Content-Length`, chunked encoding, or the connection's close. Free of I/O, so split reads are
//! tested by feeding bytes.
//!
//! Only the status and the framing matter to a load generator: body bytes are skipped, not kept.

use std::mem::MaybeUninit;

use thiserror::Error;

/// Headers beyond this many make the response malformed for us (nginx sends 4, hookline 3).
const MAX_HEADERS: usize = 64;

/// A complete response at the start of the buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// The server will not take another request on this connection.
    pub close: bool,
    /// Bytes of the buffer it used, interim `1xx` responses included.
    pub len: usize,
}

/// Progress of [`ResponseParser::parse`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parse {
    /// More bytes are needed.
    Partial,
    Complete(Response),
}

/// A response that cannot be framed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum ParseError {
    #[error("malformed response head: {0}")]
    Head(httparse::Error),
    #[error("invalid Content-Length")]
    ContentLength,
    #[error("malformed chunked body")]
    Chunk,
    #[error("the server switched protocols")]
    Upgrade,
    #[error("the connection closed before the response was complete")]
    Truncated,
}

/// Parses one response; [`reset`](ResponseParser::reset) before the next.
#[derive(Clone, Copy, Debug, Default)]
pub struct ResponseParser {
    /// Where the current (non-interim) head starts.
    start: usize,
    body: Option<Body>,
}

#[derive(Clone, Copy, Debug)]
struct Body {
    status: u16,
    close: bool,
    framing: Framing,
}

#[derive(Clone, Copy, Debug)]
enum Framing {
    /// The response ends at this offset.
    Length(usize),
    /// The next chunk-size line starts at this offset.
    Chunked(usize),
    /// No length given: the body runs until the server closes.
    UntilClose,
}

impl ResponseParser {
    pub fn reset(&mut self) {
        *self = ResponseParser::default();
    }

    /// Looks at `buf`, everything read since the request was sent; call again with more bytes on
    /// [`Parse::Partial`].
    pub fn parse(&mut self, buf: &[u8]) -> Result<Parse, ParseError> {
        let body = match self.body {
            Some(body) => body,
            None => match self.parse_head(buf)? {
                Some(body) => body,
                None => return Ok(Parse::Partial),
            },
        };
        let end = match body.framing {
            Framing::Length(end) => (buf.len() >= end).then_some(end),
            Framing::Chunked(next) => self.parse_chunks(buf, next)?,
            Framing::UntilClose => None,
        };
        Ok(match end {
            Some(len) => Parse::Complete(Response {
                status: body.status,
                close: body.close,
                len,
            }),
            None => Parse::Partial,
        })
    }

    /// The server closed the connection after `buf`: completes a body framed by the close.
    pub fn finish_at_eof(&mut self, buf: &[u8]) -> Result<Response, ParseError> {
        match self.body {
            Some(Body {
                status,
                framing: Framing::UntilClose,
                ..
            }) => Ok(Response {
                status,
                close: true,
                len: buf.len(),
            }),
            _ => Err(ParseError::Truncated),
        }
    }

    /// Parses the head at `self.start`, skipping interim responses; `None` until it is complete.
    fn parse_head(&mut self, buf: &[u8]) -> Result<Option<Body>, ParseError> {
        loop {
            // Uninitialised: filling 64 empty headers cost more than parsing a short response head.
            let mut headers = [MaybeUninit::<httparse::Header>::uninit(); MAX_HEADERS];
            let mut head = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(&mut head, &buf[self.start..], &mut headers)
                .map_err(ParseError::Head)?;
            let len = match parsed {
                httparse::Status::Complete(len) => len,
                httparse::Status::Partial => return Ok(None),
            };
            let status = head.code.expect("a complete head has a status");
            let body_start = self.start + len;
            match status {
                101 => return Err(ParseError::Upgrade),
                100..=199 => {
                    self.start = body_start; // 100 Continue and the like: the real response follows
                    continue;
                }
                _ => {}
            }
            let body = framing(&head, status, body_start)?;
            self.body = Some(body);
            return Ok(Some(body));
        }
    }

    /// Walks chunks from `next`; the end of the response once the last chunk and trailers are in.
    fn parse_chunks(&mut self, buf: &[u8], mut next: usize) -> Result<Option<usize>, ParseError> {
        let end = loop {
            let (line, size) = match httparse::parse_chunk_size(&buf[next..]) {
                Ok(httparse::Status::Complete(found)) => found,
                Ok(httparse::Status::Partial) => break None,
                Err(_) => return Err(ParseError::Chunk),
            };
            let data = next + line;
            if size == 0 {
                break trailers_end(buf, data);
            }
            let size = usize::try_from(size).map_err(|_| ParseError::Chunk)?;
            let data_end = data.checked_add(size).ok_or(ParseError::Chunk)?;
            if buf.len() < data_end + 2 {
                break None;
            }
            if &buf[data_end..data_end + 2] != b"\r\n" {
                return Err(ParseError::Chunk);
            }
            next = data_end + 2;
        };
        if let Some(body) = &mut self.body {
            body.framing = Framing::Chunked(next); // resume here when more bytes come
        }
        Ok(end)
    }
}

/// The end of the trailer section starting at `at`: an empty line, or trailer fields up to one. The
/// fields are skipped unread; only where they end matters.
fn trailers_end(buf: &[u8], at: usize) -> Option<usize> {
    let rest = &buf[at..];
    if rest.starts_with(b"\r\n") {
        return Some(at + 2);
    }
    rest.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|pos| at + pos + 4)
}

/// How the body of a response to a `POST` is delimited (RFC 9112, section 6.3).
fn framing(head: &httparse::Response, status: u16, body_start: usize) -> Result<Body, ParseError> {
    let mut close = head.version == Some(0); // HTTP/1.0 closes unless it says keep-alive
    let mut length = None;
    let mut chunked = None;
    for header in head.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value).map_err(|_| ParseError::ContentLength)?;
            let value: usize = value
                .trim()
                .parse()
                .map_err(|_| ParseError::ContentLength)?;
            if length.is_some_and(|l| l != value) {
                return Err(ParseError::ContentLength);
            }
            length = Some(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = Some(last_token_is(header.value, b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            if has_token(header.value, b"close") {
                close = true;
            } else if has_token(header.value, b"keep-alive") {
                close = false;
            }
        }
    }
    let framing = match (status, chunked, length) {
        (204 | 304, _, _) => Framing::Length(body_start),
        (_, Some(true), _) => Framing::Chunked(body_start),
        (_, Some(false), _) => Framing::UntilClose,
        (_, None, Some(len)) => Framing::Length(body_start + len),
        (_, None, None) => Framing::UntilClose,
    };
    if matches!(framing, Framing::UntilClose) {
        close = true;
    }
    Ok(Body {
        status,
        close,
        framing,
    })
}

fn tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value.split(|&b| b == b',').map(<[u8]>::trim_ascii)
}

fn has_token(value: &[u8], token: &[u8]) -> bool {
    tokens(value).any(|t| t.eq_ignore_ascii_case(token))
}

fn last_token_is(value: &[u8], token: &[u8]) -> bool {
    tokens(value)
        .last()
        .is_some_and(|t| t.eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests;
