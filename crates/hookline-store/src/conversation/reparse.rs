//! A stored event back into a typed [`Event`].
//!
//! The store keeps each event's raw JSON as it arrived (a span of its delivery's body). To read it typed
//! again it is put back into a one-event delivery of its object, entry and array and parsed by
//! `hookline-meta`, so the projection sees exactly what the ingest path saw: the same kind, payload and
//! echo classification, with no second decoder to drift from the first.

use hookline_meta::{Event, ParseOptions, parse_with};

use crate::model::StoredEvent;

/// Calls `with` on the typed form of `event` (which must have been read with its raw JSON). `None` when
/// the event has no raw JSON or came from an array that carries no typed events.
pub fn with_event<T>(
    event: &StoredEvent,
    options: &ParseOptions,
    with: impl FnOnce(&Event<'_>) -> T,
) -> Option<T> {
    let body = envelope(event)?;
    let events = parse_with(body.as_bytes(), options).ok()?;
    events.first().map(with)
}

/// Whether events that came in `channel` (the array they were found in, or `body`) can be read back
/// typed. Events of other arrays are kept, but carry no typed event to read back.
pub fn readable(channel: &str) -> bool {
    matches!(
        channel,
        "messaging" | "standby" | "changes" | "calls" | "body"
    )
}

/// A one-event delivery holding the event's raw JSON where it was found, for callers that parse it
/// themselves (to hold the typed event across an `await`). `None` without raw JSON or for an array that
/// carries no typed events.
pub fn envelope(event: &StoredEvent) -> Option<String> {
    let raw = event.raw.as_deref()?;
    let array = match event.channel.as_str() {
        // A bare `{"field","value"}` body is its own delivery.
        "body" => return Some(raw.to_owned()),
        channel if readable(channel) => channel,
        _ => return None,
    };
    let object = serde_json::to_string(&event.object).ok()?;
    let entry_id = serde_json::to_string(&event.entry_id).ok()?;
    Some(format!(
        r#"{{"object":{object},"entry":[{{"id":{entry_id},"{array}":[{raw}]}}]}}"#
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::StoredEvent;

    pub(crate) fn stored(channel: &str, raw: &str) -> StoredEvent {
        StoredEvent {
            id: 1,
            delivery_id: 1,
            received_at_ms: 0,
            dedup_key: "v1:0".into(),
            object: Some("page".into()),
            entry_id: Some("100".into()),
            channel: channel.into(),
            kind: String::new(),
            field: None,
            sender: None,
            user_ref: None,
            recipient: None,
            timestamp_ms: None,
            mid: None,
            conversation_key: None,
            duplicates: 0,
            raw: Some(raw.into()),
        }
    }

    #[test]
    fn a_standby_echo_is_read_back_with_its_kind_array_and_source() {
        let raw = r#"{"sender":{"id":"100"},"recipient":{"id":"7"},"timestamp":5,"message":{"is_echo":true,"app_id":263902037430900,"mid":"m.1","text":"hi"}}"#;
        let (kind, standby, key) =
            with_event(&stored("standby", raw), &ParseOptions::default(), |e| {
                (
                    e.kind_name(),
                    e.is_standby(),
                    e.conversation().map(|c| c.to_string()),
                )
            })
            .unwrap();
        assert_eq!((kind, standby), ("message_echo", true));
        assert_eq!(key.as_deref(), Some("page:100:7"));
    }

    #[test]
    fn events_of_unknown_arrays_or_without_raw_json_are_not_read() {
        let options = ParseOptions::default();
        assert!(with_event(&stored("entry", "{}"), &options, |_| ()).is_none());
        let mut event = stored("messaging", "{}");
        event.raw = None;
        assert!(with_event(&event, &options, |_| ()).is_none());
    }
}
