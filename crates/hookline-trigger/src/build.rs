//! One-off deliveries: fresh ids and the current time on every call.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::catalog::Kind;
use crate::error::TriggerError;
use crate::params::Params;
use crate::template::{Mode, Template};

/// A delivery ready to sign and POST.
#[derive(Debug, Clone)]
pub struct Built {
    /// The body in Meta's wire form: the exact bytes to sign and send.
    pub body: Vec<u8>,
    /// Events in the body (one per entry).
    pub events: usize,
}

/// Builds a delivery of `kind`: the template with `params` applied, fresh mids (and call, comment and
/// media ids) and the current time, encoded in Meta's wire form.
///
/// Without `params.page` / `params.user` a delivery uses the template's account and the object's default
/// user, so consecutive deliveries of different kinds belong to one conversation. Two calls never give
/// the same dedup key: ids are random, and kinds keyed by the user and time alone (receipts, handovers,
/// opt-ins, ...) get a time past the one the previous call used, in the unit of the event (so a
/// seconds-timed kind called twice within a second is dated a second apart). With `params.batch` > 1
/// each entry is a distinct event with its own ids and, for those kinds, its own time.
pub fn build(kind: &'static Kind, params: &Params) -> Result<Built, TriggerError> {
    let template = Template::prepare(kind, params, Mode::Once)?;
    let events = template.events();
    let now = now_ms();
    let times: Vec<u64> = if template.content_keyed() {
        vec![now; events]
    } else {
        let step = if template.seconds() { 1000 } else { 1 };
        reserve(now, events, step)
    };
    let mut body = Vec::with_capacity(template.len());
    template.render_with(fastrand::u64(..), &mut body, |event| times[event]);
    Ok(Built { body, events })
}

/// The current time in epoch milliseconds.
pub(crate) fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// The last time handed out by [`reserve`] for millisecond-timed and for second-timed kinds, so that no
/// time is handed out twice in a process. Two clocks, because keys of different kinds never collide and a
/// second-timed kind should not push millisecond-timed ones into the future.
static LAST_MS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// `count` times `step` ms apart (1 or 1000), the last of them `now` unless an earlier reservation reached
/// that far: then they follow it, each in a later step than any time reserved before.
fn reserve(now: u64, count: usize, step: u64) -> Vec<u64> {
    let clock = &LAST_MS[usize::from(step > 1)];
    let span = step * (count as u64 - 1);
    let mut last = clock.load(Ordering::Relaxed);
    let end = loop {
        let first = now.saturating_sub(span).max((last / step + 1) * step);
        let end = first + span;
        match clock.compare_exchange_weak(last, end, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => break end,
            Err(seen) => last = seen,
        }
    };
    (0..count as u64)
        .rev()
        .map(|back| end - back * step)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_times_never_repeat_in_their_unit() {
        let now = now_ms();
        let a = reserve(now, 3, 1);
        let b = reserve(now, 3, 1);
        assert!(a.windows(2).all(|w| w[1] == w[0] + 1), "{a:?}");
        assert!(b[0] > a[2], "{a:?} {b:?}");
        let c = reserve(now, 2, 1000);
        let d = reserve(now, 1, 1000);
        assert_eq!(c[1] / 1000, c[0] / 1000 + 1, "{c:?}");
        assert!(d[0] / 1000 > c[1] / 1000, "{c:?} {d:?}");
    }
}
