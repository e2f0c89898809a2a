//! What a handler is told about an event besides its typed payload.

use hookline_store::StoredEvent;

/// The event's metadata, owned, as stored at ingest. Fields may be added, so it is built with
/// [`Context::from_stored`] rather than by hand.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Context {
    /// The store's event id (ascending in store order).
    pub id: i64,
    /// The event's stable dedup key: the same on every attempt, replay and redelivery, so side effects
    /// can be made idempotent on it.
    pub dedup_key: String,
    /// When hookline received the event, epoch ms.
    pub received_at_ms: i64,
    /// The body's `object`: `page` (Messenger) or `instagram`.
    pub object: Option<String>,
    /// The entry id: the Page or Instagram account the event is for.
    pub entry_id: Option<String>,
    /// The array the event came from: `messaging`, `standby`, `changes`, ...
    pub channel: String,
    /// The kind's name (`message`, `message_echo`, `reaction`, ...).
    pub kind: String,
    /// For `change`: the change's field; for `unknown`: the key that was not recognised.
    pub field: Option<String>,
    /// `sender.id`: the user's PSID / IGSID (for echoes, the business account).
    pub sender: Option<String>,
    /// `sender.user_ref` (chat plugin) or a checkbox opt-in's `user_ref`, when there is no sender id.
    pub sender_user_ref: Option<String>,
    /// `recipient.id` (for echoes, the user).
    pub recipient: Option<String>,
    /// The event's own time, epoch ms.
    pub timestamp_ms: Option<i64>,
    /// The message the event is about (message, echo, reaction, Instagram read, postback).
    pub mid: Option<String>,
    /// The conversation (`page:<page>:<user>` or `instagram:<account>:<user>`), to reply into.
    pub conversation_key: Option<String>,
    /// From the `standby` array: another app owns the thread, so never reply.
    pub standby: bool,
    raw: String,
}

impl Context {
    /// The context of a stored event (read with its raw JSON, as the outbox reads events).
    pub fn from_stored(event: &StoredEvent) -> Context {
        Context {
            id: event.id,
            dedup_key: event.dedup_key.clone(),
            received_at_ms: event.received_at_ms,
            object: event.object.clone(),
            entry_id: event.entry_id.clone(),
            channel: event.channel.clone(),
            kind: event.kind.clone(),
            field: event.field.clone(),
            sender: event.sender.clone(),
            sender_user_ref: event.user_ref.clone(),
            recipient: event.recipient.clone(),
            timestamp_ms: event.timestamp_ms,
            mid: event.mid.clone(),
            conversation_key: event.conversation_key.clone(),
            standby: event.channel == "standby",
            raw: event.raw.clone().unwrap_or_default(),
        }
    }

    /// The event's JSON exactly as Meta sent it (empty when the event was read without it).
    pub fn raw(&self) -> &str {
        &self.raw
    }
}
