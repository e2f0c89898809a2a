//! A TCP proxy to put between a store and its PostgreSQL server, so tests can make the database
//! unreachable and bring it back without stopping the server other tests share. Included by path from
//! the tests of other crates (`#[path = ...] mod proxy;`).

#![allow(dead_code)] // each test binary uses its own part

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A TCP proxy in front of the database. `cut` drops its connections and closes new ones at once,
/// as a database restart or a network failure would; `sever` makes its connections dead without
/// telling the client, which finds out only when it next sends something (a path that died
/// silently, or a failover), while new connections go through.
pub struct Proxy {
    pub port: u16,
    open: Arc<AtomicBool>,
    /// Raised by each `sever`: links made before it are dead.
    severed: tokio::sync::watch::Sender<u64>,
    links: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let severed = tokio::sync::watch::Sender::new(0);
        let links: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let accept = tokio::spawn({
            let (open, links, severed) = (open.clone(), links.clone(), severed.clone());
            async move {
                while let Ok((inbound, _)) = listener.accept().await {
                    if !open.load(Ordering::SeqCst) {
                        continue;
                    }
                    let link = tokio::spawn(link(inbound, target.clone(), severed.subscribe()));
                    links.lock().unwrap().push(link);
                }
            }
        });
        Proxy {
            port,
            open,
            severed,
            links,
            accept,
        }
    }

    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().unwrap().drain(..) {
            link.abort();
        }
    }

    pub fn sever(&self) {
        self.severed.send_modify(|generation| *generation += 1);
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

async fn link(
    mut inbound: TcpStream,
    target: String,
    mut severed: tokio::sync::watch::Receiver<u64>,
) {
    let born = *severed.borrow_and_update();
    let Ok(mut outbound) = TcpStream::connect(&target).await else {
        return;
    };
    // Biased to the sever, so that nothing the client sends after `sever` is passed on.
    let cut_off = tokio::select! {
        biased;
        _ = severed.wait_for(|generation| *generation > born) => true,
        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => false,
    };
    if cut_off {
        drop(outbound);
        let mut byte = [0_u8; 1];
        let _ = tokio::io::AsyncReadExt::read(&mut inbound, &mut byte).await;
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// The database's `host:port` and the URL with `127.0.0.1:port` in its place.
pub fn proxied(url: &str, port: u16) -> (String, String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (user, host) = match authority.rsplit_once('@') {
        Some((user, host)) => (format!("{user}@"), host),
        None => (String::new(), authority),
    };
    let host = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    (host, format!("{scheme}://{user}127.0.0.1:{port}{path}"))
}
