//! The summary of a run: [`Report`], serialisable for `--json`, and [`Report::to_text`] for people.

use std::collections::BTreeMap;
use std::fmt::Write;

use serde::Serialize;

use crate::stats::Stats;

/// Below this share of the target rate, the report warns that the open loop fell behind.
const RATE_SHORTFALL: f64 = 0.97;

/// How requests were paced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Each connection sends as soon as its previous request was answered.
    Closed,
    /// Requests are due at a fixed rate; latency counts from when each was due.
    Open,
}

/// Requests that got no response, by cause.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Errors {
    /// The connection could not be opened.
    pub connect: u64,
    /// No complete response within the timeout.
    pub timeout: u64,
    /// The connection failed or closed before the response was complete.
    pub io: u64,
    /// The response could not be parsed as HTTP/1.1.
    pub parse: u64,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.connect + self.timeout + self.io + self.parse
    }

    pub(crate) fn add(&mut self, other: &Errors) {
        self.connect += other.connect;
        self.timeout += other.timeout;
        self.io += other.io;
        self.parse += other.parse;
    }
}

/// Latency of answered requests in microseconds (HdrHistogram, 3 significant digits).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    #[serde(rename = "p99.9")]
    pub p99_9: u64,
    pub max: u64,
    pub mean: f64,
}

/// The outcome of a run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub url: String,
    pub mode: Mode,
    pub connections: usize,
    pub threads: usize,
    /// The open loop's rate in requests per second.
    pub target_rate: Option<f64>,
    /// Requests attempted: `responses` plus errors.
    pub requests: u64,
    /// Requests answered with any status.
    pub responses: u64,
    /// Webhook events in requests answered with a 2xx.
    pub events: u64,
    /// From the start to the last response (or error).
    pub duration_s: f64,
    /// Responses per second over `duration_s`.
    pub rps: f64,
    pub events_per_s: f64,
    /// Requests sent per second between the start and the last send: what the open loop achieved.
    pub sent_rate: f64,
    /// Responses by status code, `"200" -> count`.
    pub status: BTreeMap<String, u64>,
    pub errors: Errors,
    /// Connections opened after the first ones (the server closed, or a request failed).
    pub reconnects: u64,
    pub latency_us: Latency,
    /// CPU time of the load threads over the run, user and system (Linux only). Next to `duration_s` and
    /// `threads` it shows whether the generator had room to spare.
    pub cpu_s: Option<f64>,
    /// `cpu_s` per attempted request, in microseconds.
    pub cpu_us_per_request: Option<f64>,
    pub warnings: Vec<String>,
}

/// What the report needs from the run besides the counts.
#[derive(Clone, Debug)]
pub(crate) struct RunInfo {
    pub url: String,
    pub connections: usize,
    pub threads: usize,
    pub target_rate: Option<f64>,
    pub duration_s: f64,
    /// Seconds from the start to the last send.
    pub sending_s: f64,
}

impl Report {
    pub(crate) fn new(info: RunInfo, stats: &Stats) -> Report {
        let responses = stats.responses();
        let requests = responses + stats.errors.total();
        let per_s = |n: u64| {
            if info.duration_s > 0.0 {
                n as f64 / info.duration_s
            } else {
                0.0
            }
        };
        // n requests sent over the span from the first send to the last are n - 1 intervals.
        let sent_rate = match requests {
            0 => 0.0,
            1 => per_s(1),
            n if info.sending_s > 0.0 => (n - 1) as f64 / info.sending_s,
            _ => f64::INFINITY,
        };
        let status = (0..stats.statuses.len())
            .filter(|&code| stats.statuses[code] > 0)
            .map(|code| (code.to_string(), stats.statuses[code]))
            .collect();
        let h = &stats.latency;
        let latency_us = match h.is_empty() {
            true => Latency::default(),
            false => Latency {
                p50: h.value_at_quantile(0.50),
                p90: h.value_at_quantile(0.90),
                p99: h.value_at_quantile(0.99),
                p99_9: h.value_at_quantile(0.999),
                max: h.max(),
                mean: h.mean(),
            },
        };
        let mut report = Report {
            url: info.url,
            mode: if info.target_rate.is_some() {
                Mode::Open
            } else {
                Mode::Closed
            },
            connections: info.connections,
            threads: info.threads,
            target_rate: info.target_rate,
            requests,
            responses,
            events: stats.events,
            duration_s: info.duration_s,
            rps: per_s(responses),
            events_per_s: per_s(stats.events),
            sent_rate,
            status,
            errors: stats.errors,
            reconnects: stats.reconnects,
            latency_us,
            cpu_s: stats.cpu_ns.map(|ns| ns as f64 / 1e9),
            cpu_us_per_request: stats
                .cpu_ns
                .filter(|_| requests > 0)
                .map(|ns| ns as f64 / 1e3 / requests as f64),
            warnings: Vec::new(),
        };
        report.warnings = report.find_warnings();
        report
    }

    fn find_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        if let Some(target) = self.target_rate
            && self.requests > 1
            && self.sent_rate < target * RATE_SHORTFALL
        {
            warnings.push(format!(
                "the open loop sent {:.0} req/s, {:.0}% below its target of {target:.0} req/s: all \
                 {} connections were busy (the receiver is slower than the rate) or this machine could \
                 not keep up; latencies include the time requests waited",
                self.sent_rate,
                (1.0 - self.sent_rate / target) * 100.0,
                self.connections,
            ));
        }
        if self.requests > 0 && self.responses == 0 {
            warnings.push("no request was answered".to_owned());
        }
        warnings
    }

    /// The report as one line of JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report serialises")
    }

    /// A readable multi-line summary.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mode = match self.target_rate {
            Some(rate) => format!("open loop at {rate:.0} req/s"),
            None => "closed loop".to_owned(),
        };
        let _ = writeln!(
            out,
            "{}: {mode}, {} connections on {} threads",
            self.url, self.connections, self.threads
        );
        let _ = writeln!(
            out,
            "  requests    {} in {:.2} s: {:.1} responses/s, {:.1} events/s (sent {:.1} req/s)",
            self.requests, self.duration_s, self.rps, self.events_per_s, self.sent_rate
        );
        let status: Vec<_> = self
            .status
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        let _ = writeln!(out, "  status      {}", or_none(&status.join(", ")));
        let e = &self.errors;
        let errors = [
            ("connect", e.connect),
            ("timeout", e.timeout),
            ("io", e.io),
            ("parse", e.parse),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{kind}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
        let _ = writeln!(out, "  errors      {}", or_none(&errors));
        let _ = writeln!(out, "  reconnects  {}", self.reconnects);
        let l = &self.latency_us;
        let ms = |us: u64| us as f64 / 1000.0;
        let _ = writeln!(
            out,
            "  latency ms  p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}{}",
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p99_9),
            ms(l.max),
            l.mean / 1000.0,
            if self.mode == Mode::Open {
                "  (from each request's intended time)"
            } else {
                ""
            },
        );
        if let (Some(cpu), Some(per)) = (self.cpu_s, self.cpu_us_per_request) {
            let busy = cpu / (self.duration_s * self.threads as f64).max(f64::MIN_POSITIVE) * 100.0;
            let _ = writeln!(
                out,
                "  load cpu    {cpu:.2} s, {per:.1} µs per request, {busy:.0}% of {} threads",
                self.threads
            );
        }
        for warning in &self.warnings {
            let _ = writeln!(out, "  warning: {warning}");
        }
        out
    }
}

fn or_none(s: &str) -> &str {
    if s.is_empty() { "none" } else { s }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::stats::Outcome;

    fn info(target_rate: Option<f64>, sending_s: f64) -> RunInfo {
        RunInfo {
            url: "http://127.0.0.1:1/webhook".into(),
            connections: 4,
            threads: 2,
            target_rate,
            duration_s: 2.0,
            sending_s,
        }
    }

    fn stats(answered: u64, timeouts: u64) -> Stats {
        let mut stats = Stats::new();
        for i in 0..answered {
            stats.record(Outcome::Status(200), Duration::from_micros(100 + i), 2);
        }
        for _ in 0..timeouts {
            stats.record(Outcome::Timeout, Duration::ZERO, 2);
        }
        stats
    }

    #[test]
    fn counts_rates_and_percentiles_come_from_the_merged_stats() {
        let report = Report::new(info(None, 2.0), &stats(1000, 1));
        assert_eq!(
            (report.requests, report.responses, report.events),
            (1001, 1000, 2000)
        );
        assert_eq!((report.rps, report.events_per_s), (500.0, 1000.0));
        assert_eq!(report.status, BTreeMap::from([("200".to_owned(), 1000)]));
        assert_eq!(report.errors.timeout, 1);
        assert_eq!(report.mode, Mode::Closed);
        assert!(
            (595..=605).contains(&report.latency_us.p50),
            "{:?}",
            report.latency_us
        );
        assert!(
            report.latency_us.p50 <= report.latency_us.p99
                && report.latency_us.p99 <= report.latency_us.max
        );
        assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    }

    #[test]
    fn an_open_loop_that_fell_short_of_its_rate_says_so() {
        // 1001 requests over 2 s is 500 req/s against a target of 1000
        let report = Report::new(info(Some(1000.0), 2.0), &stats(1001, 0));
        assert_eq!((report.mode, report.sent_rate), (Mode::Open, 500.0));
        assert!(
            report.warnings[0].contains("50% below its target"),
            "{:?}",
            report.warnings
        );
        let on_time = Report::new(info(Some(1000.0), 1.0), &stats(1001, 0));
        assert!(on_time.warnings.is_empty(), "{:?}", on_time.warnings);
    }

    #[test]
    fn the_json_summary_names_percentiles_and_statuses_as_documented() {
        let json: serde_json::Value =
            serde_json::from_str(&Report::new(info(Some(1000.0), 1.0), &stats(3, 0)).to_json())
                .unwrap();
        assert_eq!(json["mode"], "open");
        assert_eq!(json["status"]["200"], 3);
        assert!(json["latency_us"]["p99.9"].is_u64(), "{json}");
        assert_eq!(json["errors"]["timeout"], 0);
    }

    #[test]
    fn the_text_summary_shows_statuses_errors_and_latencies() {
        let text = Report::new(info(None, 2.0), &stats(10, 2)).to_text();
        assert!(
            text.contains("closed loop, 4 connections on 2 threads"),
            "{text}"
        );
        assert!(text.contains("status      200: 10"), "{text}");
        assert!(text.contains("errors      timeout: 2"), "{text}");
        assert!(text.contains("p99.9"), "{text}");
    }
}
