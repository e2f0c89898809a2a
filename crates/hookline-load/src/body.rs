//! Where request bodies come from: the [`BodySource`] trait and two simple sources.

/// Produces request bodies.
///
/// [`render`](BodySource::render) appends request `seq`'s body to `out` and returns how many webhook events
/// the body holds (counted into the report's events per second). The engine clears `out` before each
/// call and reuses it, so a source that writes into it allocates nothing once the buffer has grown.
///
/// `seq` numbers the requests of a run from 0 without gaps, across all connections; a source makes ids
/// unique from it. `now_ms` is the wall clock in Unix milliseconds when the request is prepared, for
/// `time`/`timestamp` fields. Called from several threads at once.
pub trait BodySource: Send + Sync + 'static {
    fn render(&self, seq: u64, now_ms: u64, out: &mut Vec<u8>) -> u32;
}

/// Closures are sources: `|seq, now_ms, out| { ...; 1 }`.
impl<F> BodySource for F
where
    F: Fn(u64, u64, &mut Vec<u8>) -> u32 + Send + Sync + 'static,
{
    fn render(&self, seq: u64, now_ms: u64, out: &mut Vec<u8>) -> u32 {
        self(seq, now_ms, out)
    }
}

/// The same body on every request: for receivers that do not deduplicate, and for the engine's own
/// ceiling. A deduplicating receiver (hookline) treats all but the first as redeliveries.
#[derive(Clone, Debug)]
pub struct FixedBody {
    body: Vec<u8>,
    events: u32,
}

impl FixedBody {
    pub fn new(body: impl Into<Vec<u8>>, events: u32) -> FixedBody {
        FixedBody {
            body: body.into(),
            events,
        }
    }
}

impl BodySource for FixedBody {
    fn render(&self, _seq: u64, _now_ms: u64, out: &mut Vec<u8>) -> u32 {
        out.extend_from_slice(&self.body);
        self.events
    }
}
