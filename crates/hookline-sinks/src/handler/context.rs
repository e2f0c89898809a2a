//! What a handler is told about an event besides its typed payload.

use hookline_store::StoredEvent;

/// The event's metadata as stored at ingest, read through accessors. It wraps the stored event, so new
/// columns need no copying here; build it with [`Context::from_stored`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Context {
    event: StoredEvent,
}

impl Context {
    /// The context of a stored event (read with its raw JSON, as the outbox reads events).
    pub fn from_stored(event: &StoredEvent) -> Context {
        Context {
            event: event.clone(),
        }
    }

    /// The event as stored, for reading it typed again.
    pub(crate) fn stored(&self) -> &StoredEvent {
        &self.event
    }

    /// The store's event id (ascending in store order).
    pub fn id(&self) -> i64 {
        self.event.id
    }

    /// The event's stable dedup key: the same on every attempt, replay and redelivery, so side effects
    /// can be made idempotent on it.
    pub fn dedup_key(&self) -> &str {
        &self.event.dedup_key
    }

    /// When hookline received the event, epoch ms.
    pub fn received_at_ms(&self) -> i64 {
        self.event.received_at_ms
    }

    /// The body's `object`: `page` (Messenger) or `instagram`.
    pub fn object(&self) -> Option<&str> {
        self.event.object.as_deref()
    }

    /// The entry id: the Page or Instagram account the event is for.
    pub fn entry_id(&self) -> Option<&str> {
        self.event.entry_id.as_deref()
    }

    /// The array the event came from: `messaging`, `standby`, `changes`, ...
    pub fn channel(&self) -> &str {
        &self.event.channel
    }

    /// The kind's name (`message`, `message_echo`, `reaction`, ...).
    pub fn kind(&self) -> &str {
        &self.event.kind
    }

    /// For `change`: the change's field; for `unknown`: the key that was not recognised.
    pub fn field(&self) -> Option<&str> {
        self.event.field.as_deref()
    }

    /// `sender.id`: the user's PSID / IGSID (for echoes, the business account).
    pub fn sender(&self) -> Option<&str> {
        self.event.sender.as_deref()
    }

    /// `sender.user_ref` (chat plugin) or a checkbox opt-in's `user_ref`, when there is no sender id.
    pub fn sender_user_ref(&self) -> Option<&str> {
        self.event.user_ref.as_deref()
    }

    /// `recipient.id` (for echoes, the user).
    pub fn recipient(&self) -> Option<&str> {
        self.event.recipient.as_deref()
    }

    /// The event's own time, epoch ms.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.event.timestamp_ms
    }

    /// The message the event is about (message, echo, reaction, Instagram read, postback).
    pub fn mid(&self) -> Option<&str> {
        self.event.mid.as_deref()
    }

    /// The conversation (`page:<page>:<user>` or `instagram:<account>:<user>`), to reply into.
    pub fn conversation_key(&self) -> Option<&str> {
        self.event.conversation_key.as_deref()
    }

    /// From the `standby` array: another app owns the thread, so never reply.
    pub fn standby(&self) -> bool {
        self.event.channel == "standby"
    }

    /// The event's JSON exactly as Meta sent it (empty when the event was read without it).
    pub fn raw(&self) -> &str {
        self.event.raw.as_deref().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(channel: &str, raw: Option<&str>) -> StoredEvent {
        StoredEvent {
            id: 3,
            delivery_id: 1,
            received_at_ms: 0,
            dedup_key: "v1:0".into(),
            object: Some("page".into()),
            entry_id: Some("100".into()),
            channel: channel.into(),
            kind: "message".into(),
            field: None,
            sender: None,
            user_ref: Some("ref-1".into()),
            recipient: Some("100".into()),
            timestamp_ms: Some(1),
            mid: Some("m.1".into()),
            conversation_key: None,
            duplicates: 0,
            raw: raw.map(str::to_owned),
        }
    }

    #[test]
    fn standby_is_read_from_the_channel() {
        assert!(Context::from_stored(&event("standby", None)).standby());
        assert!(!Context::from_stored(&event("messaging", None)).standby());
    }

    #[test]
    fn the_sender_user_ref_is_the_stored_user_ref_and_raw_is_empty_when_not_read() {
        let ctx = Context::from_stored(&event("messaging", None));
        assert_eq!(ctx.sender(), None);
        assert_eq!(ctx.sender_user_ref(), Some("ref-1"));
        assert_eq!(ctx.raw(), "");
        let with_raw = Context::from_stored(&event("messaging", Some("{}")));
        assert_eq!(with_raw.raw(), "{}");
    }
}
