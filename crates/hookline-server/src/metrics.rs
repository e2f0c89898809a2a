//! Prometheus metrics, kept per server instance (no global registry, so several servers in one process,
//! as in tests, count separately) and rendered in the text exposition format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hookline_store::{CommitObserver, CommitStats};

/// Every metric the server exports.
#[derive(Debug)]
pub struct Metrics {
    /// Deliveries by outcome: accepted, duplicate, quarantined, bad_signature, too_large, unavailable.
    deliveries: Family,
    /// New events by object and kind.
    events: Family,
    /// Events that were redeliveries of stored ones.
    duplicates: AtomicU64,
    /// Signature failures by reason (missing, malformed, mismatch, sha1_not_enabled, ...).
    signature_failures: Family,
    /// POST /webhook latency, from the full body to the answer.
    latency: Histogram,
    /// Deliveries per group commit.
    commit_batch: Histogram,
    commit_seconds: Histogram,
    commit_failures: AtomicU64,
    /// Per sink: attempts by outcome and the saved cursor.
    sinks: Mutex<BTreeMap<String, SinkCounters>>,
    /// Per `[[account]]`: the subscription watchdog's checks.
    meta: Mutex<BTreeMap<String, MetaCounters>>,
    /// Replies through the Send API by object and outcome (sent, failed, unknown).
    sends: Family,
}

#[derive(Debug, Default)]
struct MetaCounters {
    /// Checks by outcome (`ok`, `resubscribed`, `missing_permissions`, `error`).
    checks: BTreeMap<&'static str, u64>,
    resubscriptions: u64,
    /// Whether the last check found (or left) the subscription complete.
    subscribed: bool,
}

#[derive(Debug, Default)]
struct SinkCounters {
    delivered: u64,
    retry: u64,
    dead: u64,
    cursor: i64,
}

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

impl Default for Metrics {
    fn default() -> Self {
        Self {
            deliveries: Family::default(),
            events: Family::default(),
            duplicates: AtomicU64::new(0),
            signature_failures: Family::default(),
            latency: Histogram::new(LATENCY_BUCKETS),
            commit_batch: Histogram::new(BATCH_BUCKETS),
            commit_seconds: Histogram::new(LATENCY_BUCKETS),
            commit_failures: AtomicU64::new(0),
            sinks: Mutex::default(),
            meta: Mutex::default(),
            sends: Family::default(),
        }
    }
}

impl Metrics {
    pub fn delivery(&self, outcome: &'static str) {
        self.deliveries.add(&[outcome], 1);
    }

    /// Counts committed events by (object, kind), as labelled by [`object_label`].
    pub fn events(&self, labels: &[(&'static str, &'static str)]) {
        let mut counts: BTreeMap<(&'static str, &'static str), u64> = BTreeMap::new();
        for label in labels {
            *counts.entry(*label).or_default() += 1;
        }
        for ((object, kind), n) in counts {
            self.events.add(&[object, kind], n);
        }
    }

    pub fn duplicates(&self, n: usize) {
        self.duplicates.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// One Send API call for a reply: `sent`, `failed`, or `unknown` (it may have been delivered).
    pub fn send(&self, object: &str, outcome: &'static str) {
        self.sends.add(&[object_label(Some(object)), outcome], 1);
    }

    pub fn signature_failure(&self, reason: &'static str) {
        self.signature_failures.add(&[reason], 1);
    }

    pub fn latency(&self, elapsed: Duration) {
        self.latency.observe(elapsed.as_secs_f64());
    }

    /// The text exposition format; the gauges are read from the store at scrape time.
    pub fn render(&self, gauges: StoreGauges) -> String {
        let StoreGauges {
            queue_depth,
            projection_lag,
            head,
        } = gauges;
        let mut out = String::with_capacity(4096);
        self.deliveries.render(
            &mut out,
            "hookline_deliveries_total",
            "Webhook deliveries by outcome.",
            &["outcome"],
        );
        self.events.render(
            &mut out,
            "hookline_events_total",
            "New (first-seen) events by object and kind.",
            &["object", "kind"],
        );
        counter(
            &mut out,
            "hookline_duplicate_events_total",
            "Events that were redeliveries of stored events.",
            &self.duplicates,
        );
        self.signature_failures.render(
            &mut out,
            "hookline_signature_failures_total",
            "Deliveries refused for their signature, by reason.",
            &["reason"],
        );
        self.latency.render(
            &mut out,
            "hookline_request_duration_seconds",
            "POST /webhook time from the full body to the answer.",
        );
        self.commit_batch.render(
            &mut out,
            "hookline_commit_batch_deliveries",
            "Deliveries per group commit.",
        );
        self.commit_seconds.render(
            &mut out,
            "hookline_commit_duration_seconds",
            "Time of one group commit, BEGIN to durable COMMIT.",
        );
        counter(
            &mut out,
            "hookline_commit_failures_total",
            "Group commits that failed (their deliveries were answered 503).",
            &self.commit_failures,
        );
        let _ = writeln!(
            out,
            "# HELP hookline_writer_queue_depth Deliveries waiting for the store's writer."
        );
        let _ = writeln!(out, "# TYPE hookline_writer_queue_depth gauge");
        let _ = writeln!(out, "hookline_writer_queue_depth {queue_depth}");
        let _ = writeln!(
            out,
            "# HELP hookline_projection_lag_events Committed events the conversation projection has not applied yet."
        );
        let _ = writeln!(out, "# TYPE hookline_projection_lag_events gauge");
        let _ = writeln!(out, "hookline_projection_lag_events {projection_lag}");
        self.render_sinks(&mut out, head);
        self.render_meta(&mut out);
        self.sends.render(
            &mut out,
            "hookline_sends_total",
            "Replies sent through the Send API, by object and outcome (sent, failed, unknown).",
            &["object", "outcome"],
        );
        out
    }

    /// One subscription check of the account `account` (its Page or Instagram id) by the watchdog;
    /// `subscribed`: whether the subscription is complete after it.
    pub fn meta_checked(&self, account: &str, outcome: &'static str, subscribed: bool) {
        let mut meta = self.meta.lock().unwrap_or_else(|e| e.into_inner());
        let counters = meta.entry(account.to_owned()).or_default();
        *counters.checks.entry(outcome).or_default() += 1;
        counters.subscribed = subscribed;
    }

    /// The watchdog subscribed `account` again.
    pub fn meta_resubscribed(&self, account: &str) {
        let mut meta = self.meta.lock().unwrap_or_else(|e| e.into_inner());
        meta.entry(account.to_owned()).or_default().resubscriptions += 1;
    }

    fn render_meta(&self, out: &mut String) {
        let meta = self.meta.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP hookline_meta_subscription_checks_total Webhook subscription checks per account, by outcome (ok, resubscribed, missing_permissions, error).\n\
             # TYPE hookline_meta_subscription_checks_total counter"
        );
        for (account, c) in meta.iter() {
            let account = label_value(account);
            for (outcome, n) in &c.checks {
                let _ = writeln!(
                    out,
                    "hookline_meta_subscription_checks_total{{account=\"{account}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP hookline_meta_resubscriptions_total Times the watchdog subscribed an account again after Meta dropped it or fields went missing.\n\
             # TYPE hookline_meta_resubscriptions_total counter"
        );
        for (account, c) in meta.iter() {
            let account = label_value(account);
            let n = c.resubscriptions;
            let _ = writeln!(
                out,
                "hookline_meta_resubscriptions_total{{account=\"{account}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP hookline_meta_subscription_ok 1 when the last check found (or left) the account subscribed to every wanted field.\n\
             # TYPE hookline_meta_subscription_ok gauge"
        );
        for (account, c) in meta.iter() {
            let account = label_value(account);
            let ok = u8::from(c.subscribed);
            let _ = writeln!(
                out,
                "hookline_meta_subscription_ok{{account=\"{account}\"}} {ok}"
            );
        }
    }

    fn render_sinks(&self, out: &mut String, head: i64) {
        let sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writeln!(
            out,
            "# HELP hookline_sink_attempts_total Delivery attempts per sink, by outcome (delivered, retry, dead).\n\
             # TYPE hookline_sink_attempts_total counter"
        );
        for (name, c) in sinks.iter() {
            for (outcome, n) in [
                ("delivered", c.delivered),
                ("retry", c.retry),
                ("dead", c.dead),
            ] {
                let _ = writeln!(
                    out,
                    "hookline_sink_attempts_total{{sink=\"{name}\",outcome=\"{outcome}\"}} {n}"
                );
            }
        }
        let _ = writeln!(
            out,
            "# HELP hookline_sink_lag_events Stored events a sink has not dealt with yet.\n\
             # TYPE hookline_sink_lag_events gauge"
        );
        for (name, c) in sinks.iter() {
            let lag = (head - c.cursor).max(0);
            let _ = writeln!(out, "hookline_sink_lag_events{{sink=\"{name}\"}} {lag}");
        }
    }
}

/// Sink names are checked at start-up (letters, digits, '-', '_'), so they are safe label values.
impl hookline_sinks::SinkObserver for Metrics {
    fn attempted(&self, sink: &str, outcome: &hookline_sinks::Outcome) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        let counters = sinks.entry(sink.to_owned()).or_default();
        match outcome {
            hookline_sinks::Outcome::Delivered => counters.delivered += 1,
            hookline_sinks::Outcome::Retry { .. } => counters.retry += 1,
            hookline_sinks::Outcome::Dead { .. } => counters.dead += 1,
        }
    }

    fn progressed(&self, sink: &str, cursor: i64) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        sinks.entry(sink.to_owned()).or_default().cursor = cursor;
    }
}

/// What `/metrics` reads from the store when scraped.
#[derive(Clone, Copy, Debug)]
pub struct StoreGauges {
    /// Deliveries waiting for the writer.
    pub queue_depth: usize,
    /// Committed events not yet applied to the conversation projection.
    pub projection_lag: i64,
    /// The last committed event (sink lag is measured from it).
    pub head: i64,
}

impl CommitObserver for Metrics {
    fn committed(&self, stats: CommitStats) {
        self.commit_batch.observe(stats.deliveries as f64);
        self.commit_seconds.observe(stats.elapsed.as_secs_f64());
        if !stats.ok {
            self.commit_failures.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// The `object` label: `page`, `instagram` or `other`, so a body cannot create label values at will.
pub fn object_label(object: Option<&str>) -> &'static str {
    match object {
        Some("page") => "page",
        Some("instagram") => "instagram",
        _ => "other",
    }
}

/// A label value escaped as the exposition format wants (account ids are digits, but the format must
/// hold whatever a future caller passes).
fn label_value(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn counter(out: &mut String, name: &str, help: &str, value: &AtomicU64) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    let _ = writeln!(out, "{name} {}", value.load(Ordering::Relaxed));
}

/// A counter with labels.
#[derive(Debug, Default)]
struct Family(Mutex<BTreeMap<Vec<&'static str>, u64>>);

impl Family {
    /// Label values are names from small fixed sets (outcomes, kinds, reasons, three objects).
    fn add(&self, labels: &[&'static str], n: u64) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match map.get_mut(labels) {
            Some(count) => *count += n,
            None => {
                map.insert(labels.to_vec(), n);
            }
        }
    }

    fn render(&self, out: &mut String, name: &str, help: &str, label_names: &[&str]) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        let map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for (values, count) in map.iter() {
            let labels: Vec<String> = label_names
                .iter()
                .zip(values)
                .map(|(k, v)| format!("{k}=\"{v}\""))
                .collect();
            let _ = writeln!(out, "{name}{{{}}} {count}", labels.join(","));
        }
    }
}

/// A histogram with fixed buckets; sums are kept in microunits to stay in atomics.
#[derive(Debug)]
struct Histogram {
    bounds: &'static [f64],
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            sum_micros: AtomicU64::new(0),
        }
    }

    fn observe(&self, value: f64) {
        if let Some(i) = self.bounds.iter().position(|b| value <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((value * 1e6) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, bucket) in self.bounds.iter().zip(&self.buckets) {
            cumulative += bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_families_and_cumulative_histograms() {
        let m = Metrics::default();
        m.delivery("accepted");
        m.delivery("accepted");
        m.delivery("bad_signature");
        m.events(&[
            ("page", "message"),
            (object_label(Some("x")), "unknown"),
            ("page", "message"),
        ]);
        m.latency(Duration::from_micros(700));
        m.latency(Duration::from_millis(3));
        let text = m.render(StoreGauges {
            queue_depth: 7,
            projection_lag: 3,
            head: 0,
        });
        assert!(
            text.contains("hookline_deliveries_total{outcome=\"accepted\"} 2"),
            "{text}"
        );
        assert!(text.contains("hookline_deliveries_total{outcome=\"bad_signature\"} 1"));
        assert!(text.contains("hookline_events_total{object=\"page\",kind=\"message\"} 2"));
        assert!(text.contains("hookline_events_total{object=\"other\",kind=\"unknown\"} 1"));
        assert!(text.contains("hookline_request_duration_seconds_bucket{le=\"0.0005\"} 0"));
        assert!(text.contains("hookline_request_duration_seconds_bucket{le=\"0.001\"} 1"));
        assert!(text.contains("hookline_request_duration_seconds_bucket{le=\"0.005\"} 2"));
        assert!(text.contains("hookline_request_duration_seconds_count 2"));
        assert!(text.contains("hookline_writer_queue_depth 7"));
        assert!(text.contains("hookline_projection_lag_events 3"));
    }
}
