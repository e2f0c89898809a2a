//! The JSON form of one event, as `hookline parse` prints it (CONTRACTS.md section 1) and as stored events
//! are listed. The first eleven keys are the contract and always present; `timestamp_raw` and `detail` (the
//! typed payload) follow, and `hop_context` / `raw` when present or asked for.

use crate::raw::RawJson;
use serde::Serialize;

use crate::dedup::DedupKey;
use crate::event::{Event, EventKind};
use crate::timestamp::RawTime;

/// One event as a flat JSON object.
#[derive(Debug, Serialize)]
pub struct Record<'e, 'a> {
    pub object: Option<&'e str>,
    pub entry_id: Option<&'e str>,
    pub channel: &'e str,
    pub kind: &'static str,
    pub field: Option<&'e str>,
    pub sender: Option<&'e str>,
    pub sender_user_ref: Option<&'e str>,
    pub recipient: Option<&'e str>,
    pub timestamp_ms: Option<i64>,
    pub mid: Option<&'e str>,
    pub dedup_key: DedupKey,
    /// The time exactly as sent (number or string), or null.
    pub timestamp_raw: Option<&'e RawTime<'a>>,
    /// The typed payload of the kind: text, attachments, payloads, echo source, ...
    pub detail: &'e EventKind<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop_context: Option<RawJson<'a>>,
    /// The event's raw JSON, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<RawJson<'a>>,
}

impl<'a> Event<'a> {
    /// The event's record, without its raw JSON.
    pub fn record(&self) -> Record<'_, 'a> {
        Record {
            object: self.object.as_deref(),
            entry_id: self.entry_id.as_ref().map(|id| id.as_str()),
            channel: self.channel.as_str(),
            kind: self.kind_name(),
            field: self.field(),
            sender: self.sender.as_ref().map(|id| id.as_str()),
            sender_user_ref: self.sender_user_ref.as_deref(),
            recipient: self.recipient.as_ref().map(|id| id.as_str()),
            timestamp_ms: self.timestamp_ms(),
            mid: self.mid(),
            dedup_key: self.dedup_key(),
            timestamp_raw: self.timestamp.as_ref().map(|t| t.raw()),
            detail: &self.kind,
            hop_context: self.hop_context,
            raw: None,
        }
    }

    /// The event's record with its raw JSON under `raw`.
    pub fn record_with_raw(&self) -> Record<'_, 'a> {
        Record {
            raw: Some(self.raw),
            ..self.record()
        }
    }
}
