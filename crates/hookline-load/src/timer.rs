//! Per-connection timers that live as long as the connection's loop, instead of one timer per request.
//!
//! Registering and dropping a tokio timer for every request's timeout cost ~700 instructions, about a
//! sixth of the engine's own work per request (callgrind, against nginx). A [`Watchdog`] keeps one timer
//! and moves it only when a request would outlive it; a [`Pacer`] reuses one timer for the open loop's
//! waits.

use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::time::Sleep;

/// Bounds requests by a timeout with one long-lived timer.
///
/// The timer is set an eighth of the timeout beyond a request's own deadline, so it is moved once per
/// that span rather than per request; a request therefore times out between 1 and 1.125 timeouts after
/// it left.
#[derive(Debug)]
pub struct Watchdog {
    timeout: Duration,
    sleep: Pin<Box<Sleep>>,
}

impl Watchdog {
    /// Must be called inside a tokio runtime with time enabled.
    pub fn new(timeout: Duration) -> Watchdog {
        Watchdog {
            timeout,
            sleep: Box::pin(tokio::time::sleep(timeout)),
        }
    }

    /// Runs `work`, which started at `sent`; `None` if the timeout passed first.
    pub async fn guard<T>(&mut self, sent: Instant, work: impl Future<Output = T>) -> Option<T> {
        let deadline = sent + self.timeout;
        if self.sleep.deadline().into_std() < deadline {
            self.sleep
                .as_mut()
                .reset((deadline + self.timeout / 8).into());
        }
        let mut work = pin!(work);
        poll_fn(|cx| {
            if let Poll::Ready(done) = work.as_mut().poll(cx) {
                return Poll::Ready(Some(done));
            }
            self.sleep.as_mut().poll(cx).map(|()| None)
        })
        .await
    }
}

/// Waits until an instant with one reused timer.
#[derive(Debug)]
pub struct Pacer {
    sleep: Pin<Box<Sleep>>,
}

impl Pacer {
    /// Must be called inside a tokio runtime with time enabled.
    pub fn new() -> Pacer {
        Pacer {
            sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
        }
    }

    /// Returns at `at` (rounded up to the timer's millisecond), at once if it has passed.
    pub async fn until(&mut self, at: Instant) {
        if at > Instant::now() {
            self.sleep.as_mut().reset(at.into());
            self.sleep.as_mut().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap()
    }

    #[test]
    fn work_that_finishes_in_time_is_returned_and_stalled_work_times_out() {
        runtime().block_on(async {
            let mut watchdog = Watchdog::new(Duration::from_millis(50));
            assert_eq!(watchdog.guard(Instant::now(), async { 7 }).await, Some(7));
            let sent = Instant::now();
            let stalled = watchdog.guard(sent, std::future::pending::<()>()).await;
            assert_eq!(stalled, None);
            assert!(sent.elapsed() >= Duration::from_millis(50));
        });
    }

    #[test]
    fn a_watchdog_that_fired_guards_the_next_request_afresh() {
        runtime().block_on(async {
            let mut watchdog = Watchdog::new(Duration::from_millis(20));
            assert_eq!(
                watchdog
                    .guard(Instant::now(), std::future::pending::<()>())
                    .await,
                None
            );
            let quick = async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                "answered"
            };
            assert_eq!(
                watchdog.guard(Instant::now(), quick).await,
                Some("answered")
            );
        });
    }

    #[test]
    fn a_pacer_waits_until_the_instant_and_not_for_one_past() {
        runtime().block_on(async {
            let mut pacer = Pacer::new();
            let at = Instant::now() + Duration::from_millis(20);
            pacer.until(at).await;
            assert!(Instant::now() >= at);
            let before = Instant::now();
            pacer.until(before - Duration::from_millis(5)).await;
            assert!(before.elapsed() < Duration::from_millis(20));
        });
    }
}
