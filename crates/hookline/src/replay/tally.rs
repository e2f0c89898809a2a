//! What the POSTs of a replay came back with, and the summary printed at the end.

use std::collections::BTreeMap;
use std::fmt::Write;

use reqwest::StatusCode;

/// Failures listed in the summary; the rest are only counted.
const LISTED: usize = 10;
/// How much of a refusal's body is shown: enough for a receiver's one-line reason.
const REASON_CHARS: usize = 160;
/// POSTs in a row without any answer after which a replay gives up rather than time out on every one.
pub const UNREACHABLE_AFTER: usize = 10;

/// The answer to one POST.
#[derive(Debug)]
pub struct Sent {
    delivery_id: i64,
    answer: Answer,
}

#[derive(Debug)]
enum Answer {
    Status(StatusCode, String),
    /// No HTTP answer: connection refused, timeout, ...
    Error(String),
}

impl Sent {
    pub fn answered(delivery_id: i64, status: StatusCode, body: &str) -> Sent {
        let reason = if status.is_success() {
            String::new()
        } else {
            one_line(body)
        };
        Sent {
            delivery_id,
            answer: Answer::Status(status, reason),
        }
    }

    pub fn failed(delivery_id: i64, err: reqwest::Error) -> Sent {
        // reqwest's own message is generic ("error sending request"); the cause is in its sources. The
        // URL is the same for every POST, and the summary names it once.
        let err = err.without_url();
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            let _ = write!(message, ": {cause}");
            source = cause.source();
        }
        Sent {
            delivery_id,
            answer: Answer::Error(message),
        }
    }

    fn accepted(&self) -> bool {
        matches!(self.answer, Answer::Status(status, _) if status.is_success())
    }
}

fn one_line(body: &str) -> String {
    let line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(REASON_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

/// The outcome of a replay so far.
#[derive(Debug, Default)]
pub struct Tally {
    /// POSTs started.
    pub started: usize,
    /// Deliveries in the window left out by `--kind`.
    pub skipped: usize,
    by_status: BTreeMap<u16, usize>,
    errors: usize,
    /// POSTs without an answer since the last answer.
    errors_in_a_row: usize,
    /// The first failures, in the order they came back.
    failures: Vec<Sent>,
    failed: usize,
}

impl Tally {
    pub fn record(&mut self, sent: Sent) {
        match &sent.answer {
            Answer::Status(status, _) => {
                *self.by_status.entry(status.as_u16()).or_default() += 1;
                self.errors_in_a_row = 0;
            }
            Answer::Error(_) => {
                self.errors += 1;
                self.errors_in_a_row += 1;
            }
        }
        if !sent.accepted() {
            self.failed += 1;
            if self.failures.len() < LISTED {
                self.failures.push(sent);
            }
        }
    }

    pub fn all_accepted(&self) -> bool {
        self.failed == 0
    }

    /// Whether the receiver looks gone: the last [`UNREACHABLE_AFTER`] POSTs got no answer at all.
    pub fn receiver_unreachable(&self) -> bool {
        self.errors_in_a_row >= UNREACHABLE_AFTER
    }

    /// Answers by status, e.g. `18 × 200, 2 × 401, 1 without answer`.
    pub fn statuses(&self) -> String {
        let mut parts: Vec<String> = self
            .by_status
            .iter()
            .map(|(status, n)| format!("{n} × {status}"))
            .collect();
        if self.errors > 0 {
            parts.push(format!("{} without answer", self.errors));
        }
        parts.join(", ")
    }

    /// What was sent and how it was answered; the first failures with their delivery ids; a hint for
    /// the usual cause of 401s.
    pub fn summary(&self, to: &str, resigned: bool) -> String {
        let mut out = String::new();
        if self.started == 0 && self.skipped == 0 {
            let _ = writeln!(out, "no stored delivery matches; nothing was sent to {to}");
            return out;
        }
        let _ = write!(out, "sent {} deliveries to {to}", self.started);
        if self.started > 0 {
            let _ = write!(out, ": {}", self.statuses());
        }
        if self.skipped > 0 {
            let _ = write!(
                out,
                "; {} skipped (no event of the kinds asked for)",
                self.skipped
            );
        }
        out.push('\n');
        if self.failed > 0 {
            let shown = if self.failed > LISTED {
                " (the first ones)"
            } else {
                ""
            };
            let _ = writeln!(out, "{} not accepted{shown}:", self.failed);
            for sent in &self.failures {
                let _ = match &sent.answer {
                    Answer::Status(status, reason) => {
                        writeln!(out, "  delivery {}: {status} {reason}", sent.delivery_id)
                    }
                    Answer::Error(message) => {
                        writeln!(out, "  delivery {}: {message}", sent.delivery_id)
                    }
                };
            }
        }
        if self.receiver_unreachable() {
            let _ = writeln!(
                out,
                "stopped: {UNREACHABLE_AFTER} POSTs in a row got no answer; the later deliveries were not sent"
            );
        }
        if !resigned && self.by_status.contains_key(&401) {
            let _ = writeln!(
                out,
                "401 means the receiver checks signatures with another app secret: pass --secret with \
                 its secret to sign the bodies again"
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_statuses_and_lists_the_first_failures_by_delivery() {
        let mut tally = Tally::default();
        for id in 1..=14 {
            let status = if id % 7 == 0 { 500 } else { 401 };
            let status = if id <= 2 { 200 } else { status };
            let status = StatusCode::from_u16(status).unwrap();
            tally.record(Sent::answered(
                id,
                status,
                "invalid or missing\nsignature\n",
            ));
            tally.started += 1;
        }
        assert!(!tally.all_accepted());
        let summary = tally.summary("http://b/webhook", false);
        assert!(
            summary.starts_with(
                "sent 14 deliveries to http://b/webhook: 2 × 200, 10 × 401, 2 × 500\n"
            ),
            "{summary}"
        );
        assert!(
            summary.contains("12 not accepted (the first ones):"),
            "{summary}"
        );
        assert!(
            summary.contains("  delivery 3: 401 Unauthorized invalid or missing signature\n"),
            "{summary}"
        );
        assert_eq!(summary.matches("  delivery ").count(), LISTED);
        assert!(summary.contains("pass --secret"), "{summary}");
        assert!(!tally.summary("x", true).contains("pass --secret"));
    }

    #[test]
    fn all_2xx_is_success_and_skips_are_counted() {
        let mut tally = Tally {
            skipped: 3,
            ..Tally::default()
        };
        tally.record(Sent::answered(1, StatusCode::OK, "EVENT_RECEIVED"));
        tally.started = 1;
        assert!(tally.all_accepted());
        assert_eq!(
            tally.summary("u", false),
            "sent 1 deliveries to u: 1 × 200; 3 skipped (no event of the kinds asked for)\n"
        );
        assert!(
            Tally::default()
                .summary("u", false)
                .contains("nothing was sent")
        );
    }

    #[test]
    fn only_answers_in_a_row_missing_count_as_an_unreachable_receiver() {
        let mut tally = Tally::default();
        let gone = || Sent {
            delivery_id: 1,
            answer: Answer::Error("connection refused".into()),
        };
        for _ in 1..UNREACHABLE_AFTER {
            tally.record(gone());
        }
        tally.record(Sent::answered(2, StatusCode::SERVICE_UNAVAILABLE, ""));
        tally.record(gone());
        assert!(!tally.receiver_unreachable());
        for _ in 1..UNREACHABLE_AFTER {
            tally.record(gone());
        }
        assert!(tally.receiver_unreachable());
        tally.started = 2 * UNREACHABLE_AFTER;
        let summary = tally.summary("u", false);
        assert!(summary.contains("stopped: 10 POSTs in a row"), "{summary}");
    }

    #[test]
    fn long_refusals_are_cut_to_one_line() {
        let reason = one_line(&"word ".repeat(100));
        assert!(reason.ends_with('…') && !reason.contains('\n'));
        assert!(reason.chars().count() <= REASON_CHARS + 1);
    }
}
