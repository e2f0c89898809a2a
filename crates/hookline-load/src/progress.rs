//! The progress bar on stderr: requests so far, the current rate, elapsed time and ETA. Drawn by the
//! thread that waits for the load threads, never by them.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the bar is redrawn; also the window of the current rate.
pub const TICK: Duration = Duration::from_millis(250);

#[derive(Debug)]
pub struct Bar {
    bar: ProgressBar,
    /// `true`: the bar counts requests; `false`: it counts milliseconds of the duration.
    by_requests: bool,
    start: Instant,
    last: (Instant, u64),
}

impl Bar {
    /// A bar to `requests` when the run has a count, else over `duration`.
    pub fn new(requests: Option<u64>, duration: Option<Duration>, start: Instant) -> Bar {
        let (len, template) = match requests {
            Some(n) => (
                n,
                "{elapsed_precise} [{bar:30}] {pos}/{len} requests, {msg}, ETA {eta}",
            ),
            None => (
                duration.map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                "{elapsed_precise} [{bar:30}] {msg}, ETA {eta}",
            ),
        };
        let style = ProgressStyle::with_template(template)
            .expect("a valid template")
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr())
            .with_style(style);
        Bar {
            bar,
            by_requests: requests.is_some(),
            start,
            last: (start, 0),
        }
    }

    /// Redraws with `done` requests finished so far.
    pub fn update(&mut self, done: u64) {
        let now = Instant::now();
        let (then, before) = self.last;
        let secs = (now - then).as_secs_f64();
        let rate = if secs > 0.0 {
            (done - before) as f64 / secs
        } else {
            0.0
        };
        self.last = (now, done);
        if self.by_requests {
            self.bar.set_position(done);
            self.bar.set_message(format!("{rate:.0} req/s"));
        } else {
            let elapsed = u64::try_from((now - self.start).as_millis()).unwrap_or(u64::MAX);
            self.bar
                .set_position(elapsed.min(self.bar.length().unwrap_or(0)));
            self.bar
                .set_message(format!("{done} requests, {rate:.0} req/s"));
        }
    }

    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
