//! What is written to a store and what is read back.

use bytes::Bytes;
use hookline_meta::Event;

use crate::conversation::facts::Facts;
use crate::conversation::reparse;

/// One POST as received, with what was extracted from it.
#[derive(Clone, Debug)]
pub struct NewDelivery {
    /// When the request was received, epoch ms.
    pub received_at_ms: i64,
    /// The per-app route it arrived on (`POST /webhook/{app}`), `None` for `/webhook`.
    pub app: Option<String>,
    /// Index of the configured secret that verified the signature (rotation, several apps).
    pub secret_index: Option<u32>,
    /// The signature header value as received (`sha256=...`): a MAC of the body, not a secret.
    pub signature: Option<String>,
    /// `Facebook-API-Version`, e.g. `v25.0`.
    pub api_version: Option<String>,
    pub user_agent: Option<String>,
    /// The exact raw bytes of the body.
    pub body: Bytes,
    pub content: Content,
}

/// What the body turned out to hold.
#[derive(Clone, Debug)]
pub enum Content {
    /// Valid JSON, with every event extracted from it (possibly none).
    Events(Vec<NewEvent>),
    /// Correctly signed but not JSON: kept whole for inspection, with the parser's message.
    Quarantined { reason: String },
}

/// Whether a delivery was accepted or quarantined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Outcome {
    Accepted,
    Quarantined,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Quarantined => "quarantined",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "accepted" => Some(Outcome::Accepted),
            "quarantined" => Some(Outcome::Quarantined),
            _ => None,
        }
    }
}

/// Where an event's raw JSON lies within its delivery's body, so it is stored once, not twice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawSpan {
    pub start: usize,
    pub len: usize,
}

/// One event's stored columns (CONTRACTS.md section 1 keys plus its conversation and raw JSON).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    pub dedup_key: String,
    pub object: Option<String>,
    pub entry_id: Option<String>,
    pub channel: String,
    pub kind: &'static str,
    pub field: Option<String>,
    pub sender: Option<String>,
    pub user_ref: Option<String>,
    pub recipient: Option<String>,
    pub timestamp_ms: Option<i64>,
    pub mid: Option<String>,
    pub conversation_key: Option<String>,
    /// The event's JSON as a span of the body; `raw` holds it instead when it is not a slice of the body.
    pub raw_span: Option<RawSpan>,
    pub raw: Option<String>,
    /// What the conversation projection takes from the typed event, worked out here so that applying a
    /// new event does not parse it again. `None` for events the projection would not read back typed.
    pub facts: Option<Facts>,
}

impl NewEvent {
    /// The stored columns of `event`, parsed from `body`.
    pub fn from_event(event: &Event<'_>, body: &[u8]) -> Self {
        let raw: &str = event.raw.into();
        let raw_span = span_within(body, raw.as_bytes());
        NewEvent {
            dedup_key: event.dedup_key().as_str().to_owned(),
            object: event.object.as_deref().map(str::to_owned),
            entry_id: event.entry_id.as_ref().map(|id| id.as_str().to_owned()),
            channel: event.channel.as_str().to_owned(),
            kind: event.kind_name(),
            field: event.field().map(str::to_owned),
            sender: event.sender.as_ref().map(|id| id.as_str().to_owned()),
            user_ref: event.sender_user_ref.as_deref().map(str::to_owned),
            recipient: event.recipient.as_ref().map(|id| id.as_str().to_owned()),
            timestamp_ms: event.timestamp_ms(),
            mid: event.mid().map(str::to_owned),
            conversation_key: event.conversation().map(|c| c.to_string()),
            raw: raw_span.is_none().then(|| raw.to_owned()),
            raw_span,
            facts: reparse::readable(event.channel.as_str()).then(|| Facts::of(event)),
        }
    }
}

/// The position of `part` inside `whole`, if `part` is a slice of it.
fn span_within(whole: &[u8], part: &[u8]) -> Option<RawSpan> {
    let base = whole.as_ptr() as usize;
    let at = part.as_ptr() as usize;
    let start = at.checked_sub(base)?;
    (start + part.len() <= whole.len()).then_some(RawSpan {
        start,
        len: part.len(),
    })
}

/// What a committed delivery added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    pub delivery_id: i64,
    /// Events in the delivery.
    pub events: usize,
    /// Of those, events not seen before.
    pub new_events: usize,
    pub outcome: Outcome,
}

impl Appended {
    /// Events that were redeliveries of stored ones.
    pub fn duplicates(&self) -> usize {
        self.events - self.new_events
    }
}

/// A stored event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: i64,
    /// The first delivery that carried it.
    pub delivery_id: i64,
    pub received_at_ms: i64,
    pub dedup_key: String,
    pub object: Option<String>,
    pub entry_id: Option<String>,
    pub channel: String,
    pub kind: String,
    pub field: Option<String>,
    pub sender: Option<String>,
    pub user_ref: Option<String>,
    pub recipient: Option<String>,
    pub timestamp_ms: Option<i64>,
    pub mid: Option<String>,
    pub conversation_key: Option<String>,
    /// How many later deliveries carried it again.
    pub duplicates: i64,
    /// The event's raw JSON, when asked for.
    pub raw: Option<String>,
}

impl StoredEvent {
    /// The raw JSON as a JSON value, when it was read. It was valid JSON when stored; a string is the
    /// fallback should a row ever hold otherwise.
    pub fn raw_json(&self) -> Option<serde_json::Value> {
        self.raw.as_ref().map(|raw| {
            serde_json::from_str(raw).unwrap_or_else(|_| serde_json::Value::String(raw.clone()))
        })
    }

    /// When it was received, as every time in hookline's output: RFC 3339 UTC with milliseconds.
    pub fn received_at(&self) -> String {
        rfc3339(self.received_at_ms)
    }
}

/// Epoch ms as RFC 3339 UTC with milliseconds, as every time in hookline's output.
pub fn rfc3339(ms: i64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms.max(0) as u64);
    humantime::format_rfc3339_millis(time).to_string()
}

/// A recorded delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDelivery {
    pub id: i64,
    pub received_at_ms: i64,
    pub app: Option<String>,
    pub secret_index: Option<u32>,
    pub signature: Option<String>,
    pub api_version: Option<String>,
    pub user_agent: Option<String>,
    pub outcome: Outcome,
    /// Why it was quarantined.
    pub error: Option<String>,
    pub event_count: i64,
    /// Events it carried that were not stored before (0 for a pure redelivery).
    pub new_event_count: i64,
    pub body_len: i64,
    /// The raw body, when asked for.
    pub body: Option<Vec<u8>>,
}

/// Which events to list. Results are in id (commit) order, oldest first unless `newest_first`; the id
/// bounds apply in either order, so `after_id` pages forwards and `before_id` with `newest_first` pages
/// backwards.
#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    pub kind: Option<String>,
    pub conversation_key: Option<String>,
    /// Only events with a greater id.
    pub after_id: Option<i64>,
    /// Only events with a smaller id.
    pub before_id: Option<i64>,
    /// Only events whose own time (`timestamp_ms`) is at or after this, epoch ms.
    pub from_ms: Option<i64>,
    /// Only events whose own time is before this, epoch ms (exclusive).
    pub until_ms: Option<i64>,
    /// Highest id first (the latest events, or where a follower should start).
    pub newest_first: bool,
    pub limit: usize,
    pub with_raw: bool,
}

/// Which deliveries to list, in id (receive) order after `after_id` when given, or newest first below
/// `before_id` when `newest_first`.
#[derive(Clone, Debug, Default)]
pub struct DeliveryQuery {
    pub outcome: Option<Outcome>,
    pub after_id: Option<i64>,
    /// Only deliveries received at or after this time, epoch ms (inclusive).
    pub received_from_ms: Option<i64>,
    /// Only deliveries received before this time, epoch ms (exclusive), so that consecutive windows
    /// `[a, b)`, `[b, c)` never overlap.
    pub received_until_ms: Option<i64>,
    pub limit: usize,
    pub with_body: bool,
    /// Only deliveries with a smaller id (continuing a newest-first listing).
    pub before_id: Option<i64>,
    /// Highest id first.
    pub newest_first: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_s_raw_json_is_stored_as_a_span_of_its_body() {
        let body = br#"{"object":"page","entry":[{"id":"1","time":5,"messaging":[{"sender":{"id":"2"},"recipient":{"id":"1"},"timestamp":5,"message":{"mid":"m.1","text":"hi"}}]}]}"#;
        let events = hookline_meta::parse(body).unwrap();
        let stored = NewEvent::from_event(&events[0], body);
        let span = stored.raw_span.expect("a slice of the body");
        let raw = &body[span.start..span.start + span.len];
        assert!(raw.starts_with(br#"{"sender""#) && raw.ends_with(b"}}"));
        assert_eq!(stored.raw, None);
        assert_eq!(stored.kind, "message");
        assert_eq!(stored.mid.as_deref(), Some("m.1"));
        assert_eq!(stored.conversation_key.as_deref(), Some("page:1:2"));
    }

    #[test]
    fn a_slice_outside_the_body_has_no_span() {
        let body = b"abcdef";
        let other = b"abc".to_vec();
        assert_eq!(span_within(body, &other), None);
        assert_eq!(
            span_within(body, &body[2..4]),
            Some(RawSpan { start: 2, len: 2 })
        );
    }
}
