//! One keep-alive HTTP/1.1 connection with one request in flight: write the request in one go, read
//! until the response is complete, reconnect when the server closes.
//!
//! The socket is driven with `try_write`/`try_read` and readiness, rather than `AsyncRead`/`AsyncWrite`,
//! so that each step is one system call and the buffers are reused from request to request.

use std::io::{self, ErrorKind};
use std::net::SocketAddr;

use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::response::{Parse, ParseError, Response, ResponseParser};
use crate::stats::Outcome;

/// Read buffer to start with: a response head of nginx or hookline is under 200 bytes.
const READ_BUFFER: usize = 16 * 1024;
/// A response longer than this is refused rather than buffered (the engine keeps whole responses).
const MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// Why a request got no response.
#[derive(Debug)]
pub enum Failure {
    Connect(io::Error),
    Io,
    Parse,
}

impl Failure {
    pub fn outcome(&self) -> Outcome {
        match self {
            Failure::Connect(_) => Outcome::Connect,
            Failure::Io => Outcome::Io,
            Failure::Parse => Outcome::Parse,
        }
    }
}

#[derive(Debug)]
pub struct Connection {
    stream: Option<TcpStream>,
    /// The address that accepted the last connection: reconnects try it first.
    addr: SocketAddr,
    buf: Vec<u8>,
    parser: ResponseParser,
    /// Connections opened so far.
    pub opened: u64,
}

impl Connection {
    pub fn new(addr: SocketAddr) -> Connection {
        Connection {
            stream: None,
            addr,
            buf: vec![0; READ_BUFFER],
            parser: ResponseParser::default(),
            opened: 0,
        }
    }

    /// Connects to the first of `addrs` that accepts, starting with the last one that did.
    pub async fn connect(&mut self, addrs: &[SocketAddr]) -> Result<(), Failure> {
        self.stream = None;
        let mut last = None;
        for &addr in std::iter::once(&self.addr).chain(addrs.iter().filter(|&&a| a != self.addr)) {
            match TcpStream::connect(addr).await {
                Ok(stream) => {
                    // The request leaves in one write and the response is awaited: nothing to coalesce.
                    stream.set_nodelay(true).map_err(Failure::Connect)?;
                    self.stream = Some(stream);
                    self.addr = addr;
                    self.opened += 1;
                    return Ok(());
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Failure::Connect(
            last.unwrap_or_else(|| ErrorKind::NotFound.into()),
        ))
    }

    /// Sends `request` and reads its response, connecting first if needed. On failure the connection is
    /// dropped: its state is unknown.
    pub async fn exchange(
        &mut self,
        addrs: &[SocketAddr],
        request: &[u8],
    ) -> Result<Response, Failure> {
        if self.stream.is_none() {
            self.connect(addrs).await?;
        }
        let result = self.send_and_receive(request).await;
        if !matches!(result, Ok(Response { close: false, .. })) {
            self.stream = None;
        }
        result
    }

    /// Drops the connection (after a timeout, the response may still come).
    pub fn close(&mut self) {
        self.stream = None;
    }

    async fn send_and_receive(&mut self, request: &[u8]) -> Result<Response, Failure> {
        let stream = self.stream.as_ref().expect("connected");
        write_all(stream, request).await.map_err(|_| Failure::Io)?;
        self.parser.reset();
        let mut filled = 0;
        loop {
            if filled == self.buf.len() {
                if self.buf.len() >= MAX_RESPONSE {
                    return Err(Failure::Parse);
                }
                self.buf.resize(self.buf.len() * 2, 0);
            }
            match stream.try_read(&mut self.buf[filled..]) {
                Ok(0) => {
                    return self
                        .parser
                        .finish_at_eof(&self.buf[..filled])
                        .map_err(parse_failure);
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    stream.readable().await.map_err(|_| Failure::Io)?;
                    continue;
                }
                Err(_) => return Err(Failure::Io),
            }
            if let Parse::Complete(mut response) = self
                .parser
                .parse(&self.buf[..filled])
                .map_err(parse_failure)?
            {
                // Bytes beyond the response were not asked for: start afresh rather than guess.
                response.close |= response.len < filled;
                if !response.close {
                    clear_read_readiness(stream);
                }
                return Ok(response);
            }
        }
    }
}

fn parse_failure(e: ParseError) -> Failure {
    match e {
        ParseError::Truncated => Failure::Io,
        _ => Failure::Parse,
    }
}

async fn write_all(stream: &TcpStream, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        match stream.try_write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::WouldBlock => stream.writable().await?,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Forgets that the socket was readable, without a system call.
///
/// A complete response leaves tokio believing the socket is still readable (no read has returned
/// `WouldBlock` yet), so the next response would start with a `recv` that is bound to find nothing.
/// Nothing more arrives on this connection until the next request is sent, so readiness is cleared here
/// the way a `WouldBlock` would clear it; a later arrival raises it again.
fn clear_read_readiness(stream: &TcpStream) {
    let _ = stream.try_io(Interest::READABLE, || {
        Err::<(), _>(ErrorKind::WouldBlock.into())
    });
}
