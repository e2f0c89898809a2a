//! When the next delivery attempt is due.
//!
//! A schedule is a list of delays, one per attempt: the first is the wait before the first attempt (zero by
//! default, i.e. at once), each later one the wait after a failed attempt. When the list is used up the event
//! is dead-lettered. The default is close to Svix's: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.

use std::time::Duration;

/// How far a delay may stray from its step either way, so retries from one outage do not arrive together.
const JITTER: f64 = 0.2;

/// The most a downstream `Retry-After` can push an attempt back; a larger value is taken as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// The delays before each attempt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    steps: Vec<Duration>,
}

/// A schedule entry that is not usable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("a retry schedule needs at least one entry")]
    Empty,
    #[error(
        "retry schedule entry {index} ({entry:?}) is not a duration like \"5s\" or \"2h\": {reason}"
    )]
    BadEntry {
        index: usize,
        entry: String,
        reason: String,
    },
}

impl Default for RetrySchedule {
    fn default() -> Self {
        const MIN: u64 = 60;
        const HOUR: u64 = 60 * MIN;
        let secs = [
            0,
            5,
            5 * MIN,
            30 * MIN,
            2 * HOUR,
            5 * HOUR,
            10 * HOUR,
            10 * HOUR,
        ];
        RetrySchedule {
            steps: secs.into_iter().map(Duration::from_secs).collect(),
        }
    }
}

impl RetrySchedule {
    /// A schedule of these delays; `None` when there are none.
    pub fn new(steps: Vec<Duration>) -> Option<Self> {
        (!steps.is_empty()).then_some(RetrySchedule { steps })
    }

    /// Parses humantime strings (`["0s", "5s", "5m", "30m", "2h"]`); an error names the bad entry.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, ScheduleError> {
        let steps = entries
            .iter()
            .enumerate()
            .map(|(index, entry)| {
                let entry = entry.as_ref();
                humantime::parse_duration(entry.trim()).map_err(|err| ScheduleError::BadEntry {
                    index,
                    entry: entry.to_owned(),
                    reason: err.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        RetrySchedule::new(steps).ok_or(ScheduleError::Empty)
    }

    /// The delays, without jitter.
    pub fn steps(&self) -> &[Duration] {
        &self.steps
    }

    /// How many attempts are made before an event is dead-lettered.
    pub fn max_attempts(&self) -> u32 {
        u32::try_from(self.steps.len()).unwrap_or(u32::MAX)
    }

    /// The wait before the next attempt, given how many attempts were already made (0 for a new event).
    /// `None` means the attempts are used up: dead-letter the event.
    ///
    /// The step is jittered by up to ±20%. A `Retry-After` from the last response is a floor (capped at
    /// [`MAX_RETRY_AFTER`]): the attempt is never earlier than the downstream asked.
    pub fn next_delay(
        &self,
        attempts_made: u32,
        retry_after: Option<Duration>,
        rng: &mut fastrand::Rng,
    ) -> Option<Duration> {
        let step = *self.steps.get(usize::try_from(attempts_made).ok()?)?;
        let jittered = step.mul_f64(1.0 - JITTER + 2.0 * JITTER * rng.f64());
        let floor = retry_after.map_or(Duration::ZERO, |r| r.min(MAX_RETRY_AFTER));
        Some(jittered.max(floor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn default_is_immediately_then_svix_like_steps_then_dead() {
        let expected = [0, 5, 300, 1800, 7200, 18_000, 36_000, 36_000].map(secs);
        assert_eq!(RetrySchedule::default().steps(), expected);
        assert_eq!(RetrySchedule::default().max_attempts(), 8);
        let parsed =
            RetrySchedule::parse(&["0s", "5s", "5m", "30m", "2h", "5h", "10h", "10h"]).unwrap();
        assert_eq!(parsed, RetrySchedule::default());
    }

    #[test]
    fn every_default_delay_stays_within_twenty_percent_of_its_step() {
        let schedule = RetrySchedule::default();
        let mut rng = fastrand::Rng::with_seed(7);
        for (attempt, step) in schedule.steps().iter().enumerate() {
            for _ in 0..200 {
                let delay = schedule.next_delay(attempt as u32, None, &mut rng).unwrap();
                assert!(delay >= step.mul_f64(0.8), "{delay:?} < 80% of {step:?}");
                assert!(delay <= step.mul_f64(1.2), "{delay:?} > 120% of {step:?}");
            }
        }
        assert_eq!(schedule.next_delay(0, None, &mut rng), Some(Duration::ZERO));
    }

    #[test]
    fn jitter_actually_spreads_and_is_deterministic_under_a_seed() {
        let schedule = RetrySchedule::default();
        let run = |seed| {
            let mut rng = fastrand::Rng::with_seed(seed);
            (0..20)
                .map(|_| schedule.next_delay(3, None, &mut rng).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        let delays = run(42);
        assert!(delays.iter().any(|d| *d != secs(1800)));
        let spread = *delays.iter().max().unwrap() - *delays.iter().min().unwrap();
        assert!(spread > secs(60), "spread {spread:?}");
    }

    #[test]
    fn retry_after_is_a_floor_capped_at_a_day() {
        let schedule = RetrySchedule::default();
        let mut rng = fastrand::Rng::with_seed(1);
        assert_eq!(
            schedule.next_delay(1, Some(secs(120)), &mut rng),
            Some(secs(120))
        );
        let short = schedule.next_delay(3, Some(secs(1)), &mut rng).unwrap();
        assert!(
            short >= secs(1440),
            "a small Retry-After must not pull the attempt forward"
        );
        let huge = schedule.next_delay(1, Some(secs(10 * 24 * 3600)), &mut rng);
        assert_eq!(huge, Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn attempts_beyond_the_schedule_are_dead_letters() {
        let schedule = RetrySchedule::parse(&["0s", "1s"]).unwrap();
        let mut rng = fastrand::Rng::with_seed(3);
        assert!(schedule.next_delay(1, None, &mut rng).is_some());
        assert_eq!(schedule.next_delay(2, None, &mut rng), None);
        assert_eq!(schedule.next_delay(2, Some(secs(5)), &mut rng), None);
        assert_eq!(RetrySchedule::default().next_delay(8, None, &mut rng), None);
        assert_eq!(
            RetrySchedule::default().next_delay(u32::MAX, None, &mut rng),
            None
        );
    }

    #[test]
    fn parse_errors_name_the_bad_entry() {
        let err = RetrySchedule::parse(&["0s", "5 parsecs", "1h"]).unwrap_err();
        assert!(
            matches!(&err, ScheduleError::BadEntry { index: 1, entry, .. } if entry == "5 parsecs")
        );
        assert!(err.to_string().contains("entry 1 (\"5 parsecs\")"), "{err}");
        assert_eq!(
            RetrySchedule::parse::<&str>(&[]).unwrap_err(),
            ScheduleError::Empty
        );
    }
}
