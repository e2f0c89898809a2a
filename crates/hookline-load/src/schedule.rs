//! Which request comes next and when it is due.
//!
//! Every connection on every thread takes request numbers from one counter, so numbers have no gaps and
//! a run of N requests makes exactly N attempts whatever the number of connections.
//!
//! **Closed loop** (no rate): a connection sends its next request as soon as the previous one is answered.
//! Latency runs from the moment a request is written.
//!
//! **Open loop** (a rate R): request `i` is *intended* at `start + i / R`, whether or not the receiver kept
//! up. A connection takes the next number, waits until that request is due, and sends it. Latency runs
//! from the intended time, so when every connection was busy and a request left late, the wait counts:
//! the receiver is charged for the requests it held back (no coordinated omission). The timer ticks in
//! milliseconds, so a connection wakes up to [`TIMER_SLACK`] early and sends at once; such a request's
//! latency runs from when it left, which keeps the timer's rounding out of the figures. Requests therefore
//! leave in millisecond bursts at high rates, as with wrk2 and oha.
//!
//! A duration ends the run at that time in both loops. An open loop that fell behind stops there too,
//! leaving requests that were due unsent rather than running on to catch up; the report's sent rate
//! shows the shortfall.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How early a connection may wake for a request: the granularity of tokio's timer.
pub const TIMER_SLACK: Duration = Duration::from_millis(1);

/// Open-loop arithmetic: when request `i` is intended, relative to the start.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    rate: f64,
}

impl Schedule {
    /// `rate` in requests per second, finite and above zero.
    pub fn new(rate: f64) -> Schedule {
        debug_assert!(rate.is_finite() && rate > 0.0);
        Schedule { rate }
    }

    /// `i / rate`, from the start of the run.
    pub fn intended(&self, seq: u64) -> Duration {
        Duration::from_secs_f64(seq as f64 / self.rate)
    }

    /// When to wake for a request intended at `intended`.
    pub fn wake_at(intended: Instant) -> Instant {
        intended.checked_sub(TIMER_SLACK).unwrap_or(intended)
    }

    /// Where a request's latency starts: its intended time, or when it left if that was earlier.
    pub fn latency_origin(intended: Instant, sent: Instant) -> Instant {
        intended.min(sent)
    }
}

/// One request to make.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    pub seq: u64,
    /// Its intended time in the open loop; `None` in the closed loop (send now).
    pub due: Option<Instant>,
}

/// The run's shared counter and stop conditions.
#[derive(Debug)]
pub struct Plan {
    next: AtomicU64,
    stopped: AtomicBool,
    limit: u64,
    duration: Option<Duration>,
    schedule: Option<Schedule>,
    start: OnceLock<Instant>,
}

impl Plan {
    /// Stops after `requests` (when given) or once `duration` has passed (when given), whichever is first.
    pub fn new(requests: Option<u64>, duration: Option<Duration>, rate: Option<f64>) -> Plan {
        Plan {
            next: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            limit: requests.unwrap_or(u64::MAX),
            duration,
            schedule: rate.map(Schedule::new),
            start: OnceLock::new(),
        }
    }

    /// The start of the run: fixed by the first caller, the same for all.
    pub fn start(&self) -> Instant {
        *self.start.get_or_init(Instant::now)
    }

    /// The next request, or `None` when the run is over for this connection.
    pub fn next(&self, now: Instant) -> Option<Job> {
        if self.stopped.load(Ordering::Relaxed) {
            return None;
        }
        let start = self.start();
        // The clock is checked before a number is taken, so taken numbers have no gaps.
        if self.duration.is_some_and(|d| now >= start + d) {
            return None;
        }
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        if seq >= self.limit {
            return None;
        }
        let Some(schedule) = self.schedule else {
            return Some(Job { seq, due: None });
        };
        let offset = schedule.intended(seq);
        if self.duration.is_some_and(|d| offset >= d) {
            return None;
        }
        Some(Job {
            seq,
            due: Some(start + offset),
        })
    }

    /// Ends the run early: no connection takes another request.
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_i_is_intended_i_over_rate_after_the_start() {
        let s = Schedule::new(100_000.0);
        assert_eq!(s.intended(0), Duration::ZERO);
        assert_eq!(s.intended(1), Duration::from_micros(10));
        assert_eq!(s.intended(250_000), Duration::from_millis(2_500));
        assert_eq!(Schedule::new(0.5).intended(3), Duration::from_secs(6));
    }

    #[test]
    fn an_open_loop_run_sends_rate_times_duration_requests() {
        for (rate, secs, expected) in [(10.0, 1, 10), (3.0, 1, 3), (2_500.0, 2, 5_000), (0.5, 3, 2)]
        {
            let plan = Plan::new(None, Some(Duration::from_secs(secs)), Some(rate));
            let now = plan.start();
            let sent = std::iter::from_fn(|| plan.next(now)).count();
            assert_eq!(sent, expected, "rate {rate} for {secs}s");
        }
    }

    #[test]
    fn open_loop_jobs_are_due_on_the_schedule_from_the_shared_start() {
        let plan = Plan::new(Some(3), None, Some(1_000.0));
        let start = plan.start();
        let dues: Vec<_> = std::iter::from_fn(|| plan.next(start))
            .map(|j| j.due.unwrap() - start)
            .collect();
        assert_eq!(dues, [0, 1, 2].map(Duration::from_millis));
    }

    #[test]
    fn a_late_request_counts_from_its_intended_time_and_an_early_one_from_when_it_left() {
        let intended = Instant::now() + Duration::from_secs(1);
        let late = intended + Duration::from_millis(30);
        let early = intended - Duration::from_micros(400);
        assert_eq!(Schedule::latency_origin(intended, late), intended);
        assert_eq!(Schedule::latency_origin(intended, early), early);
        assert_eq!(intended - Schedule::wake_at(intended), TIMER_SLACK);
    }

    #[test]
    fn a_request_limit_hands_out_exactly_that_many_numbers_without_gaps() {
        let plan = Plan::new(Some(5), Some(Duration::from_secs(60)), None);
        let now = plan.start();
        let seqs: Vec<_> = std::iter::from_fn(|| plan.next(now))
            .map(|j| j.seq)
            .collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4]);
        assert_eq!(plan.next(now), None);
    }

    #[test]
    fn a_closed_loop_stops_taking_requests_when_its_time_is_up() {
        let plan = Plan::new(None, Some(Duration::from_secs(1)), None);
        let start = plan.start();
        assert!(plan.next(start + Duration::from_millis(999)).is_some());
        assert_eq!(plan.next(start + Duration::from_secs(1)), None);
    }

    #[test]
    fn an_open_loop_that_fell_behind_stops_at_the_end_of_its_duration() {
        let plan = Plan::new(None, Some(Duration::from_secs(1)), Some(10.0));
        let start = plan.start();
        let job = plan.next(start + Duration::from_millis(999)).unwrap();
        assert_eq!(
            job.due,
            Some(start),
            "request 0 is late but still due before the end"
        );
        assert_eq!(
            plan.next(start + Duration::from_secs(1)),
            None,
            "9 requests left unsent"
        );
    }

    #[test]
    fn a_stopped_plan_hands_out_nothing() {
        let plan = Plan::new(None, None, None);
        assert!(plan.next(plan.start()).is_some());
        plan.stop();
        assert_eq!(plan.next(plan.start()), None);
    }
}
