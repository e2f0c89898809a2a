//! The JSON event that is forwarded (format version 1, documented in the crate README).
//!
//! The keys of CONTRACTS.md section 1 come first, in the same order as `hookline parse` and the admin API,
//! then the store's id and receive time, the conversation, and the typed detail and raw JSON. Consumers
//! switch on `version`; keys may be added within a version, never removed or changed in meaning.

use hookline_meta::ParseOptions;
use hookline_store::StoredEvent;
use hookline_store::conversation::reparse;
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// The version of the forwarded format; bumped only for a change a consumer could trip over.
pub const PAYLOAD_VERSION: u32 = 1;

/// One forwarded event, version 1.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ForwardedEvent {
    pub version: u32,
    pub object: Option<String>,
    pub entry_id: Option<String>,
    pub channel: String,
    pub kind: String,
    pub field: Option<String>,
    pub sender: Option<String>,
    pub sender_user_ref: Option<String>,
    pub recipient: Option<String>,
    pub timestamp_ms: Option<i64>,
    pub mid: Option<String>,
    pub dedup_key: String,
    /// The store's event id.
    pub id: i64,
    /// RFC 3339 UTC with milliseconds.
    pub received_at: String,
    pub conversation_key: Option<String>,
    /// Whether it came from the `standby` array (another app owns the thread).
    pub standby: bool,
    /// The typed payload as `hookline-meta` reads it; `null` when it could not be read again.
    pub detail: Value,
    /// The event's JSON as received; `null` when the event was read without it.
    pub raw: Value,
}

impl ForwardedEvent {
    /// The forwarded form of `event`, which should have been read with its raw JSON (else `detail` and
    /// `raw` are `null`). `options` must be those of ingest, so echoes are classified the same way.
    pub fn from_stored(event: &StoredEvent, options: &ParseOptions) -> Self {
        let detail = reparse::with_event(event, options, |typed| {
            serde_json::to_value(&typed.kind).unwrap_or(Value::Null)
        });
        ForwardedEvent {
            version: PAYLOAD_VERSION,
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
            dedup_key: event.dedup_key.clone(),
            id: event.id,
            received_at: event.received_at(),
            conversation_key: event.conversation_key.clone(),
            standby: event.channel == "standby",
            detail: detail.unwrap_or(Value::Null),
            raw: event.raw_json().unwrap_or(Value::Null),
        }
    }

    /// The request body: compact JSON.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a ForwardedEvent always serialises")
    }
}

/// The `webhook-id` of an event: `evt_` + the 32 hex digits of a `v1:` dedup key, so it is the same on
/// every retry and replay and consumers can dedup on it. Keys of another shape are hashed to the same form.
pub fn webhook_id(dedup_key: &str) -> String {
    if let Some(hex) = dedup_key.strip_prefix("v1:")
        && hex.len() == 32
        && hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return format!("evt_{hex}");
    }
    let digest = Sha256::digest(dedup_key.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("evt_{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_id_is_the_hex_of_a_v1_dedup_key() {
        assert_eq!(
            webhook_id("v1:0123456789abcdef0123456789abcdef"),
            "evt_0123456789abcdef0123456789abcdef"
        );
    }

    #[test]
    fn webhook_id_of_another_key_shape_is_stable_and_distinct() {
        let a = webhook_id("v2:something");
        assert_eq!(a, webhook_id("v2:something"));
        assert_ne!(a, webhook_id("v2:something-else"));
        assert!(a.starts_with("evt_") && a.len() == 36, "{a}");
        // Upper-case hex is not the v1 form, so it is hashed rather than passed through.
        assert_ne!(
            webhook_id("v1:0123456789ABCDEF0123456789ABCDEF"),
            "evt_0123456789ABCDEF0123456789ABCDEF"
        );
    }

    #[test]
    fn received_at_is_rfc3339_with_milliseconds() {
        assert_eq!(
            hookline_store::rfc3339(1_767_610_000_123),
            "2026-01-05T10:46:40.123Z"
        );
    }
}
