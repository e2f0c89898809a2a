//! What one thread counted, merged into the report at the end. Each thread writes only its own, so the
//! hot path takes no lock; [`Progress`] is the one thing read while the run goes on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::report::Errors;

/// The longest latency the histogram holds (one hour); longer ones are clamped to it.
const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Counts of one thread.
#[derive(Debug)]
pub struct Stats {
    /// Latency of answered requests in microseconds, 3 significant digits.
    pub latency: Histogram<u64>,
    /// Responses by status code (`httparse` accepts any three digits).
    pub statuses: Box<[u64; 1000]>,
    pub errors: Errors,
    /// Events carried by requests answered with a 2xx.
    pub events: u64,
    pub reconnects: u64,
    /// When the last request left, for the achieved sending rate.
    pub last_sent: Option<Instant>,
    /// CPU time the thread spent from the start to its end, when the platform tells.
    pub cpu_ns: Option<u64>,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    Connect,
    Timeout,
    Io,
    Parse,
}

impl Stats {
    pub fn new() -> Stats {
        Stats {
            latency: Histogram::new_with_bounds(1, MAX_LATENCY_US, 3).expect("valid bounds"),
            statuses: Box::new([0; 1000]),
            errors: Errors::default(),
            events: 0,
            reconnects: 0,
            last_sent: None,
            cpu_ns: None,
        }
    }

    /// Counts one attempt; `latency` matters only for answered ones.
    pub fn record(&mut self, outcome: Outcome, latency: Duration, events: u32) {
        match outcome {
            Outcome::Status(status) => {
                self.statuses[usize::from(status).min(999)] += 1;
                let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
                self.latency.saturating_record(micros);
                if (200..300).contains(&status) {
                    self.events += u64::from(events);
                }
            }
            Outcome::Connect => self.errors.connect += 1,
            Outcome::Timeout => self.errors.timeout += 1,
            Outcome::Io => self.errors.io += 1,
            Outcome::Parse => self.errors.parse += 1,
        }
    }

    pub fn merge(&mut self, other: &Stats) {
        self.latency
            .add(&other.latency)
            .expect("histograms of the same bounds");
        for (mine, theirs) in self.statuses.iter_mut().zip(other.statuses.iter()) {
            *mine += theirs;
        }
        self.errors.add(&other.errors);
        self.events += other.events;
        self.reconnects += other.reconnects;
        self.last_sent = self.last_sent.max(other.last_sent);
        self.cpu_ns = match (self.cpu_ns, other.cpu_ns) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
    }

    /// Answered requests.
    pub fn responses(&self) -> u64 {
        self.statuses.iter().sum()
    }
}

impl Default for Stats {
    fn default() -> Stats {
        Stats::new()
    }
}

/// Requests finished so far, one counter per thread on its own cache line so that threads do not
/// contend; the progress bar sums them.
#[derive(Debug)]
pub struct Progress {
    slots: Box<[Slot]>,
}

#[derive(Debug, Default)]
#[repr(align(128))] // two cache lines: adjacent-line prefetch would otherwise pair neighbours
struct Slot(AtomicU64);

impl Progress {
    pub fn new(threads: usize) -> Progress {
        Progress {
            slots: (0..threads).map(|_| Slot::default()).collect(),
        }
    }

    pub fn add(&self, thread: usize, n: u64) {
        self.slots[thread].0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn total(&self) -> u64 {
        self.slots.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_stats_add_up_counts_and_latencies() {
        let mut a = Stats::new();
        a.record(Outcome::Status(200), Duration::from_micros(100), 3);
        a.record(Outcome::Timeout, Duration::ZERO, 3);
        let mut b = Stats::new();
        b.record(Outcome::Status(500), Duration::from_millis(5), 3);
        b.record(Outcome::Connect, Duration::ZERO, 1);
        a.merge(&b);
        assert_eq!((a.statuses[200], a.statuses[500], a.responses()), (1, 1, 2));
        assert_eq!((a.errors.timeout, a.errors.connect, a.events), (1, 1, 3));
        assert_eq!(a.latency.len(), 2);
        assert!(a.latency.equivalent(a.latency.max(), 5_000));
    }
}
