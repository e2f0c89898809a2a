//! Time for the outbox worker: the wall clock in production, a clock the test moves by hand in tests.
//!
//! Attempt rows carry `next_attempt_at_ms` in epoch milliseconds, so the worker needs wall time, and a test
//! of a schedule that spans hours needs to jump. [`ManualClock`] stands still until
//! [`ManualClock::advance`] moves it, and wakes every sleeper whose time has come.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

use crate::sink::BoxFuture;

/// Now, and waiting until a time.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// Epoch milliseconds.
    fn now_ms(&self) -> i64;
    /// Resolves once [`Clock::now_ms`] has reached `at_ms`.
    fn sleep_until(&self, at_ms: i64) -> BoxFuture<'static, ()>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    fn sleep_until(&self, at_ms: i64) -> BoxFuture<'static, ()> {
        let wait = u64::try_from(at_ms.saturating_sub(self.now_ms())).unwrap_or(0);
        Box::pin(tokio::time::sleep(Duration::from_millis(wait)))
    }
}

/// A clock that only moves when told to.
#[derive(Clone, Debug)]
pub struct ManualClock {
    now: Arc<watch::Sender<i64>>,
}

impl ManualClock {
    /// A clock standing at `start_ms`.
    pub fn new(start_ms: i64) -> Self {
        ManualClock {
            now: Arc::new(watch::Sender::new(start_ms)),
        }
    }

    /// Moves the clock forward, waking every sleeper whose time has come.
    pub fn advance(&self, by: Duration) {
        let by = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.now.send_modify(|now| *now = now.saturating_add(by));
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        *self.now.borrow()
    }

    fn sleep_until(&self, at_ms: i64) -> BoxFuture<'static, ()> {
        let mut now = self.now.subscribe();
        Box::pin(async move {
            // Err: the clock is gone, so nobody can move it: sleep forever, as time would stand still.
            if now.wait_for(|now| *now >= at_ms).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_sleeper_wakes_only_once_the_clock_reaches_its_time() {
        let clock = ManualClock::new(1_000);
        let mut sleep = clock.sleep_until(6_000);
        let pending = futures_util::FutureExt::now_or_never(&mut sleep);
        assert!(pending.is_none());
        clock.advance(Duration::from_millis(4_999));
        assert!(futures_util::FutureExt::now_or_never(&mut sleep).is_none());
        clock.advance(Duration::from_millis(1));
        assert!(futures_util::FutureExt::now_or_never(&mut sleep).is_some());
        assert_eq!(clock.now_ms(), 6_000);
    }
}
