//! `Responder`: a tiny blocking HTTP/1.1 receiver on port 0, a thread per connection, that answers every
//! request the same way and records what it received.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// How the responder answers.
#[derive(Clone, Copy, Debug)]
pub enum Answer {
    /// This status with a `Content-Length` body, keeping the connection.
    Status(u16),
    /// 200 with a chunked body.
    Chunked,
    /// 200 with `Connection: close`, then closes.
    Close,
    /// Reads the request and never answers.
    Silent,
}

/// What arrived, over all connections.
#[derive(Debug, Default)]
pub struct Received {
    pub requests: u64,
    /// Values of the `X-Hub-Signature-256` header that did not match the body (signed with [`SECRET`]).
    pub bad_signatures: u64,
    /// Bodies seen, to check that each request carried its own.
    pub bodies: HashSet<Vec<u8>>,
    pub user_agents: HashSet<String>,
}

pub const SECRET: &str = "responder-secret";

pub struct Responder {
    pub url: String,
    pub received: Arc<Mutex<Received>>,
}

impl Responder {
    pub fn start(answer: Answer) -> Responder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Received::default()));
        let shared = received.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                let received = shared.clone();
                std::thread::spawn(move || serve(stream, answer, &received));
            }
        });
        Responder { url, received }
    }

    pub fn received(&self) -> std::sync::MutexGuard<'_, Received> {
        self.received.lock().unwrap()
    }
}

fn serve(stream: TcpStream, answer: Answer, received: &Mutex<Received>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let Some((headers, body)) = read_request(&mut reader) else {
            return;
        };
        record(received, &headers, body);
        let reply: &[u8] = match answer {
            Answer::Status(200) => b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\n\r\nEVENT_RECEIVED",
            Answer::Status(500) => b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n\r\noops!",
            Answer::Status(status) => panic!("no canned answer for {status}"),
            Answer::Chunked => b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nEVENT\r\n9\r\n_RECEIVED\r\n0\r\n\r\n",
            Answer::Close => b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            Answer::Silent => continue,
        };
        if writer.write_all(reply).is_err() || matches!(answer, Answer::Close) {
            return;
        }
    }
}

/// Header names (lowercase) and values.
type Headers = Vec<(String, String)>;

/// Headers and body of the next request; `None` when the client closed.
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(Headers, Vec<u8>)> {
    let mut headers = Vec::new();
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
    assert!(line.starts_with("POST /webhook HTTP/1.1\r\n"), "{line:?}");
    loop {
        line.clear();
        reader.read_line(&mut line).ok().filter(|&n| n > 0)?;
        if line == "\r\n" {
            break;
        }
        let (name, value) = line.trim_end().split_once(": ").expect("a header line");
        headers.push((name.to_ascii_lowercase(), value.to_owned()));
    }
    let length: usize = header(&headers, "content-length")?.parse().unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some((headers, body))
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn record(received: &Mutex<Received>, headers: &[(String, String)], body: Vec<u8>) {
    let signature = header(headers, "x-hub-signature-256").unwrap_or_default();
    let good = signature == hookline_meta::signature::sign(SECRET.as_bytes(), &body);
    let mut received = received.lock().unwrap();
    received.requests += 1;
    received.bad_signatures += u64::from(!good);
    received.bodies.insert(body);
    received
        .user_agents
        .insert(header(headers, "user-agent").unwrap_or_default().to_owned());
}
