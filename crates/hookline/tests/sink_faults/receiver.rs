//! A downstream HTTP receiver whose behaviour the test switches at will: healthy, answering 500, holding
//! the request without ever answering, resetting the connection, or answering 200 slowly.
//!
//! It is raw TCP rather than a mock server so that it can fail below HTTP: a reset (`SO_LINGER` 0, then
//! close) and a connection that is accepted and read but never answered. Every request is recorded with
//! the mode that decided its answer.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How long a slow answer takes: well under the sink's `timeout` in the tests, so it is a delivery.
pub const SLOW: Duration = Duration::from_secs(2);
/// A request head larger than this is not one hookline sends.
const MAX_HEAD: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Mode {
    Healthy,
    Error500,
    Hang,
    Reset,
    Slow,
}

impl Mode {
    pub const ALL: [Mode; 5] = [
        Mode::Healthy,
        Mode::Error500,
        Mode::Hang,
        Mode::Reset,
        Mode::Slow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Healthy => "healthy",
            Mode::Error500 => "500",
            Mode::Hang => "no answer",
            Mode::Reset => "reset",
            Mode::Slow => "slow",
        }
    }

    /// Whether the receiver answers 200 in this mode: the request counts as received.
    pub fn accepts(self) -> bool {
        matches!(self, Mode::Healthy | Mode::Slow)
    }

    fn from_u8(value: u8) -> Mode {
        Mode::ALL[usize::from(value)]
    }
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Request {
    pub webhook_id: String,
    /// The `dedup_key` of the forwarded event in the body.
    pub dedup_key: String,
    pub mode: Mode,
}

#[derive(Clone, Debug)]
pub struct Receiver {
    pub addr: SocketAddr,
    mode: Arc<AtomicU8>,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Receiver {
    /// Listens on a free port of 127.0.0.1, healthy, until the test's runtime ends.
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let receiver = Receiver {
            addr: listener.local_addr().unwrap(),
            mode: Arc::new(AtomicU8::new(Mode::Healthy as u8)),
            seen: Arc::default(),
        };
        let accepting = receiver.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of file descriptors, say: let held connections close before trying again.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                tokio::spawn(accepting.clone().answer(stream));
            }
        });
        receiver
    }

    pub fn url(&self) -> String {
        format!("http://{}/events", self.addr)
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn mode(&self) -> Mode {
        Mode::from_u8(self.mode.load(Ordering::SeqCst))
    }

    pub fn requests(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    /// Requests seen so far in `mode`.
    pub fn count(&self, mode: Mode) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.mode == mode)
            .count()
    }

    /// Per dedup key, how many requests of each mode carried it.
    pub fn by_event(&self) -> BTreeMap<String, BTreeMap<Mode, usize>> {
        let mut out: BTreeMap<String, BTreeMap<Mode, usize>> = BTreeMap::new();
        for request in self.seen.lock().unwrap().iter() {
            *out.entry(request.dedup_key.clone())
                .or_default()
                .entry(request.mode)
                .or_default() += 1;
        }
        out
    }

    /// Reads one request and answers it as the current mode says; every answer closes the connection,
    /// so each attempt is a connection of its own.
    async fn answer(self, mut stream: TcpStream) {
        let Some((head, body)) = read_request(&mut stream).await else {
            return;
        };
        let mode = self.mode();
        let webhook_id = header(&head, "webhook-id").unwrap_or_default();
        let dedup_key = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|event| event["dedup_key"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.seen.lock().unwrap().push(Request {
            webhook_id,
            dedup_key,
            mode,
        });
        match mode {
            Mode::Healthy => respond(&mut stream, "200 OK", "ok").await,
            Mode::Error500 => {
                respond(
                    &mut stream,
                    "500 Internal Server Error",
                    "failing on purpose",
                )
                .await;
            }
            Mode::Slow => {
                tokio::time::sleep(SLOW).await;
                respond(&mut stream, "200 OK", "ok, slowly").await;
            }
            Mode::Hang => {
                // Read until the client gives up and closes, answering nothing.
                let mut sink = [0_u8; 1024];
                while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
            }
            Mode::Reset => {
                // Closing with a zero linger sends RST instead of FIN: the client sees a reset.
                let _ = stream.set_zero_linger();
                drop(stream);
            }
        }
    }
}

/// The request's head (as text) and body (by `content-length`), or `None` if the client went away.
async fn read_request(stream: &mut TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buffer = Vec::with_capacity(4096);
    let mut chunk = [0_u8; 4096];
    let head_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > MAX_HEAD {
            return None;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let length: usize = header(&head, "content-length")?.parse().ok()?;
    let mut body = buffer.split_off(head_end);
    while body.len() < length {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some((head, body))
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case(name)
            .then(|| value.trim().to_owned())
    })
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
