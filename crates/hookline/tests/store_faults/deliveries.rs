//! Signed deliveries with mids no other delivery has, posting them, and the ledger of what every post was
//! answered: the record the store's contents are checked against.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::rng::Rng;

pub const SECRET: &str = "store-faults-secret";

/// A Messenger delivery of one message per entry; each mid is a distinct event.
#[derive(Debug)]
pub struct Delivery {
    pub mids: Vec<String>,
    pub body: Vec<u8>,
}

impl Delivery {
    /// `entries` messages tagged `tag`, each with a text of `text_len` bytes (larger deliveries fill a
    /// disk sooner).
    pub fn new(tag: &str, entries: usize, sender: u64, text_len: usize) -> Arc<Delivery> {
        let time = 1_767_610_000_000_i64;
        let text = "x".repeat(text_len.max(1));
        let mids: Vec<String> = (0..entries.max(1))
            .map(|i| format!("m.{tag}.{i}"))
            .collect();
        let body =
            crate::support::message_delivery(&mids, &sender.to_string(), time, &text).into_bytes();
        Arc::new(Delivery { mids, body })
    }

    /// A delivery of 1 to 3 messages, chosen by `rng`.
    pub fn random(tag: &str, rng: &mut Rng, text_len: usize) -> Arc<Delivery> {
        let entries = 1 + rng.below(3) as usize;
        Delivery::new(tag, entries, 1000 + rng.below(50), text_len)
    }

    pub fn key(&self) -> &str {
        &self.mids[0]
    }
}

/// An HTTP client for the fault tests: no proxy, and a timeout well past any deadline of the server's,
/// so a slow answer is measured rather than cut off by the client.
pub fn client(deadline: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(deadline + Duration::from_secs(30))
        .build()
        .unwrap()
}

/// What one post was answered, and how long the answer took.
#[derive(Debug)]
pub struct Posted {
    pub answer: Answer,
    pub elapsed: Duration,
}

#[derive(Debug)]
pub enum Answer {
    Status {
        code: u16,
        retry_after: Option<String>,
    },
    /// No status line: the connection failed or was cut (the server was killed).
    Failed(String),
}

/// POSTs `delivery` to `url` with the headers Meta sends.
pub async fn post(client: &reqwest::Client, url: &str, delivery: &Delivery) -> Posted {
    let started = Instant::now();
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header(
            "x-hub-signature-256",
            hookline_meta::signature::sign(SECRET.as_bytes(), &delivery.body),
        )
        .header("user-agent", "facebookexternalua")
        .body(delivery.body.clone())
        .send()
        .await;
    let answer = match sent {
        Ok(response) => {
            let code = response.status().as_u16();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
            // The status line is the acknowledgement; reading the rest lets the connection be reused.
            let _ = response.bytes().await;
            Answer::Status { code, retry_after }
        }
        Err(err) => Answer::Failed(err.to_string()),
    };
    Posted {
        answer,
        elapsed: started.elapsed(),
    }
}

/// Every delivery posted in a test, and how its posts were answered.
#[derive(Debug, Default)]
pub struct Ledger {
    entries: HashMap<String, Entry>,
    /// Deliveries answered 200 at least once, in that order (to pick re-posts from).
    acked: Vec<Arc<Delivery>>,
    pub posts: usize,
    pub acked_posts: usize,
    /// 200s for a delivery that had been answered 200 before.
    pub acked_reposts: usize,
    /// First 200s for a delivery whose earlier posts were cut off or refused.
    pub acked_retries: usize,
    pub refused: usize,
    /// Posts whose connection failed while that was expected (the server was being killed).
    pub cut_off: usize,
    /// Answers other than 200 and 503-with-`Retry-After`, and failures that were not expected.
    pub unexpected: Vec<String>,
    pub slowest: Duration,
}

#[derive(Debug)]
pub struct Entry {
    pub delivery: Arc<Delivery>,
    pub posts: usize,
    pub acked_posts: usize,
}

impl Ledger {
    pub fn shared() -> Arc<Mutex<Ledger>> {
        Arc::default()
    }

    /// Notes one post's answer; `failure_expected` when the server is being killed.
    pub fn record(&mut self, delivery: &Arc<Delivery>, posted: &Posted, failure_expected: bool) {
        self.posts += 1;
        self.slowest = self.slowest.max(posted.elapsed);
        let entry = self
            .entries
            .entry(delivery.key().to_owned())
            .or_insert_with(|| Entry {
                delivery: delivery.clone(),
                posts: 0,
                acked_posts: 0,
            });
        entry.posts += 1;
        match &posted.answer {
            Answer::Status { code: 200, .. } => {
                self.acked_posts += 1;
                if entry.acked_posts > 0 {
                    self.acked_reposts += 1;
                } else {
                    self.acked_retries += usize::from(entry.posts > 1);
                    self.acked.push(delivery.clone());
                }
                entry.acked_posts += 1;
            }
            Answer::Status {
                code: 503,
                retry_after: Some(seconds),
            } if seconds.parse::<u64>().is_ok_and(|s| s > 0) => self.refused += 1,
            Answer::Status { code, retry_after } => self.unexpected.push(format!(
                "{code} (Retry-After {retry_after:?}) for {} after {:?}",
                delivery.key(),
                posted.elapsed
            )),
            Answer::Failed(_) if failure_expected => self.cut_off += 1,
            Answer::Failed(error) => self.unexpected.push(format!(
                "no answer for {} after {:?}: {error}",
                delivery.key(),
                posted.elapsed
            )),
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// A delivery answered 200 before, to post again (as Meta does when it misses the answer).
    pub fn pick_acked(&self, rng: &mut Rng) -> Option<Arc<Delivery>> {
        if self.acked.is_empty() {
            return None;
        }
        Some(self.acked[rng.below(self.acked.len() as u64) as usize].clone())
    }

    /// Deliveries never answered 200: Meta would post them again.
    pub fn unacked(&self) -> Vec<Arc<Delivery>> {
        self.entries
            .values()
            .filter(|e| e.acked_posts == 0)
            .map(|e| e.delivery.clone())
            .collect()
    }

    /// Fails with the first answers that were neither 200 nor 503 with `Retry-After`.
    pub fn assert_only_200_and_503(&self, what: &str) {
        assert!(
            self.unexpected.is_empty(),
            "{what}: expected only 200s and 503s with Retry-After, but {} posts were answered otherwise, \
             e.g.:\n{}",
            self.unexpected.len(),
            self.unexpected[..self.unexpected.len().min(10)].join("\n")
        );
    }
}

/// Concurrent posters, as a group: each posts a delivery, waits for its answer and posts the next.
#[derive(Clone)]
pub struct Load {
    pub client: reqwest::Client,
    pub url: String,
    pub ledger: Arc<Mutex<Ledger>>,
    /// Deliveries to post again before any new one (those a kill cut off).
    pub retries: Arc<Mutex<Vec<Arc<Delivery>>>>,
    /// Set when the posters should stop (before the server is killed, when `stop_kills`).
    pub stop: Arc<AtomicBool>,
    /// Whether `stop` means the server is being killed, so that a failed connection is expected.
    pub stop_kills: bool,
    /// One post in this many repeats a delivery already answered 200.
    pub repost_one_in: u64,
    /// Bytes of text per message.
    pub text_len: usize,
}

impl Load {
    pub fn new(client: &reqwest::Client, url: String, ledger: &Arc<Mutex<Ledger>>) -> Load {
        Load {
            client: client.clone(),
            url,
            ledger: ledger.clone(),
            retries: Arc::default(),
            stop: Arc::default(),
            stop_kills: false,
            repost_one_in: 6,
            text_len: 16,
        }
    }

    /// `clients` posters, each with a generator of its own and mids tagged `tag.c<client>.<n>`.
    pub fn spawn(&self, clients: usize, tag: &str, rng: &mut Rng) -> Vec<JoinHandle<()>> {
        (0..clients)
            .map(|c| {
                let load = self.clone();
                let (rng, prefix) = (rng.fork(), format!("{tag}.c{c}"));
                tokio::spawn(load.run(rng, prefix))
            })
            .collect()
    }

    async fn run(self, mut rng: Rng, prefix: String) {
        let mut n = 0;
        while !self.stop.load(Ordering::SeqCst) {
            let retry = lock(&self.retries).pop();
            let repost = match retry {
                Some(delivery) => Some(delivery),
                None if rng.one_in(self.repost_one_in) => lock(&self.ledger).pick_acked(&mut rng),
                None => None,
            };
            let delivery = repost.unwrap_or_else(|| {
                n += 1;
                Delivery::random(&format!("{prefix}.{n}"), &mut rng, self.text_len)
            });
            let posted = post(&self.client, &self.url, &delivery).await;
            // Read after the answer: a failure that came while this is false came before the kill.
            let killing = self.stop_kills && self.stop.load(Ordering::SeqCst);
            lock(&self.ledger).record(&delivery, &posted, killing);
            if killing && matches!(posted.answer, Answer::Failed(_)) {
                return;
            }
        }
    }
}

/// Waits for every poster of `tasks`.
pub async fn join(tasks: Vec<JoinHandle<()>>) {
    for task in tasks {
        task.await.expect("a client task panicked");
    }
}

/// Posts each of `deliveries` once, from 8 tasks at once, and fails unless each is answered 200.
pub async fn post_all(
    client: &reqwest::Client,
    url: &str,
    deliveries: Vec<Arc<Delivery>>,
    ledger: &Arc<Mutex<Ledger>>,
) {
    let queue = Arc::new(Mutex::new(deliveries));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (client, url, queue, ledger) = (
                client.clone(),
                url.to_owned(),
                queue.clone(),
                ledger.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let Some(delivery) = lock(&queue).pop() else {
                        return;
                    };
                    let posted = post(&client, &url, &delivery).await;
                    lock(&ledger).record(&delivery, &posted, false);
                    assert!(
                        matches!(posted.answer, Answer::Status { code: 200, .. }),
                        "expected 200 for {} posted again to a working server, got {:?} after {:?}",
                        delivery.key(),
                        posted.answer,
                        posted.elapsed
                    );
                }
            })
        })
        .collect();
    join(tasks).await;
}

/// Waits until `ledger` satisfies `done`, failing (with `what` and what the ledger holds) after `limit`
/// or at the first answer that is neither 200 nor 503.
pub async fn wait_until(
    ledger: &Mutex<Ledger>,
    limit: Duration,
    what: &str,
    done: impl Fn(&Ledger) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        {
            let ledger = lock(ledger);
            if done(&ledger) {
                return;
            }
            ledger.assert_only_200_and_503(what);
            assert!(
                Instant::now() < deadline,
                "{what}: not reached within {limit:?}; {} posts, {} answered 200, {} refused with 503",
                ledger.posts,
                ledger.acked_posts,
                ledger.refused
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Locks `mutex` even if a panicking thread held it: the test has failed then, and its first message is
/// the one to read, not a cascade of poisoned locks.
pub fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `n` with thousands separators, for the figure lines.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
