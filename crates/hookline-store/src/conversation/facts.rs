//! What the conversation projection takes from an event's typed form.
//!
//! Worked out where the event is already typed: on ingest, from the event the server has just parsed
//! (carried with it as [`crate::NewEvent::facts`] until the projection applies it), or for an event read
//! back from the store by parsing its raw JSON again ([`Facts::read`]). Both ways give the same facts for
//! the same event, so a summary does not depend on which way its events came.

use hookline_meta::{Event, EventKind, ParseOptions};
use serde_json::Value;

use super::reparse::with_event;
use super::sends::echo_keys;
use crate::model::StoredEvent;

/// The parts of one event the conversation and account summaries merge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Facts {
    /// Whether it came through `standby`.
    pub standby: bool,
    pub kind: FactKind,
    /// The referral it carries: a `referral` event's, or one inside a message or postback.
    pub referral: Option<Value>,
    /// An echo's mid and metadata, which tie it to one of hookline's sends.
    pub echo: Option<(String, Option<String>)>,
}

/// What kind of change an event makes to its conversation or account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FactKind {
    /// A message in (`outbound` false) or an echo out.
    Message {
        outbound: bool,
        text: Option<String>,
        attachment_types: Vec<String>,
    },
    /// Its author deleted the message with this mid.
    Deleted {
        mid: String,
    },
    /// A thread-control event naming the new owner (or none).
    Owner(Option<String>),
    /// A policy enforcement notice on the account, as JSON.
    Policy(Value),
    Other,
}

impl Facts {
    /// The facts of a typed event.
    pub fn of(event: &Event<'_>) -> Facts {
        let kind = match &event.kind {
            EventKind::Message(_) | EventKind::MessageEcho(_) => {
                let message = event.kind.message();
                FactKind::Message {
                    outbound: matches!(event.kind, EventKind::MessageEcho(_)),
                    text: message.and_then(|m| m.text.as_ref()).map(|t| t.to_string()),
                    attachment_types: message
                        .map(|m| {
                            m.attachments
                                .iter()
                                .map(|a| a.type_name().to_owned())
                                .collect()
                        })
                        .unwrap_or_default(),
                }
            }
            EventKind::MessageDeleted { mid: Some(mid) } => FactKind::Deleted {
                mid: mid.to_string(),
            },
            EventKind::PassThreadControl(control) | EventKind::TakeThreadControl(control) => {
                FactKind::Owner(control.new_owner_app_id.as_ref().map(|id| id.to_string()))
            }
            EventKind::PolicyEnforcement(policy) => {
                FactKind::Policy(serde_json::to_value(policy).unwrap_or(Value::Null))
            }
            _ => FactKind::Other,
        };
        Facts {
            standby: event.is_standby(),
            kind,
            referral: referral_of(event),
            echo: echo_keys(event),
        }
    }

    /// The facts of a stored event, from its raw JSON (which it must have been read with). `None` when
    /// it has no typed form (see [`with_event`]): the projection then leaves it out.
    pub fn read(stored: &StoredEvent, options: &ParseOptions) -> Option<Facts> {
        with_event(stored, options, Facts::of)
    }
}

/// The referral an event carries: a `referral` event's, or one inside a message or postback.
pub(crate) fn referral_of(event: &Event<'_>) -> Option<Value> {
    let referral = match &event.kind {
        EventKind::Referral(referral) => &referral.referral,
        EventKind::Message(message) => message.referral.as_deref()?,
        EventKind::Postback(postback) => postback.referral.as_deref()?,
        _ => return None,
    };
    serde_json::to_value(referral).ok()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::NewEvent;

    #[test]
    fn facts_worked_out_on_ingest_equal_facts_read_back_for_every_fixture_event() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hookline-meta/tests/fixtures");
        let mut checked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let body = std::fs::read(&path).unwrap();
            for event in hookline_meta::parse(&body).unwrap() {
                let new = NewEvent::from_event(&event, &body);
                let raw: &str = event.raw.into();
                let stored = StoredEvent {
                    id: 1,
                    delivery_id: 1,
                    received_at_ms: 0,
                    dedup_key: new.dedup_key.clone(),
                    object: new.object.clone(),
                    entry_id: new.entry_id.clone(),
                    channel: new.channel.clone(),
                    kind: new.kind.to_owned(),
                    field: new.field.clone(),
                    sender: new.sender.clone(),
                    user_ref: new.user_ref.clone(),
                    recipient: new.recipient.clone(),
                    timestamp_ms: new.timestamp_ms,
                    mid: new.mid.clone(),
                    conversation_key: new.conversation_key.clone(),
                    duplicates: 0,
                    raw: Some(raw.to_owned()),
                };
                let read = Facts::read(&stored, &ParseOptions::default());
                assert_eq!(new.facts, read, "{} ({})", path.display(), new.kind);
                checked += usize::from(read.is_some());
            }
        }
        assert!(checked > 100, "only {checked} events had facts");
    }
}
