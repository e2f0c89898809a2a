//! Dedup keys: one string per distinct event, the same for every redelivery of it.
//!
//! Keys are stored, so this derivation is a contract: changing it makes old and new deliveries of one event
//! look different. Any change must come with a new version prefix.
//!
//! # Derivation (version `v1`)
//!
//! The key is `v1:` followed by the first 16 bytes (32 lowercase hex digits) of the SHA-256 of a sequence
//! of parts, each written as its byte length (8 bytes, little-endian) followed by its UTF-8 bytes. The parts
//! are `"v1"`, the body's `object` (or empty), `entry[].id` (or empty), the kind name, then by kind:
//!
//! | kind | parts |
//! |---|---|
//! | `message`, `message_echo`, `message_deleted` | mid |
//! | `postback` | mid (v11+) |
//! | `message_edit` | mid, `num_edit` (or the new text when `num_edit` is absent) |
//! | `reaction` | mid, the reacting user, action, reaction name (or emoji), time |
//! | `delivery` | the user, watermark (or the mids, joined by spaces, when there is no watermark) |
//! | `read` | the user, watermark (Messenger) or mid (Instagram) |
//! | `pass_thread_control`, `take_thread_control` | the user, time, new owner app id |
//! | `request_thread_control` | the user, time, requested owner app id |
//! | `call` | call id, call event |
//! | `change` `comments` / `live_comments` | field, comment id |
//! | `change` `mentions` | field, media id, comment id |
//! | any other `change` | field, the canonical JSON of the value, time |
//! | everything else, and any of the above missing its id | the channel, the canonical JSON of the event |
//!
//! "The user" is `sender.id`, or `ref:` + `user_ref` when there is no id. "Time" is the normalised epoch-ms
//! time as decimal text (the raw value when it could not be normalised). Canonical JSON is the value with
//! no whitespace, object members sorted by their names' UTF-16 code units (a stable sort: repeated names
//! keep their order), strings in Meta's wire escaping (`\uXXXX` lowercase, `\/`), and numbers and literals
//! exactly as written; below 32 levels of nesting a value is kept in wire form as it stands. It is computed on
//! the text, so a body and its re-encoded wire form get the same keys. Reaction times are included because
//! react, unreact and react again on one message are three
//! events; message ids alone are not, because a message, its reactions, its edits and its deletion share one.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::change::ChangeValue;
use crate::event::{Event, EventKind};
use crate::json::{array_items, object_fields};
use crate::text::Text;
use crate::timestamp::{RawTime, Timestamp};
use crate::wire;

/// The version prefix of keys derived by this code.
pub const DEDUP_VERSION: &str = "v1";

/// A dedup key (`v1:` + 32 hex digits).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct DedupKey(String);

impl DedupKey {
    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DedupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Event<'_> {
    /// The event's dedup key; see the [module docs](crate::dedup) for the derivation.
    pub fn dedup_key(&self) -> DedupKey {
        let mut key = Key::new();
        key.part(DEDUP_VERSION);
        key.part(self.object.as_deref().unwrap_or(""));
        key.part(self.entry_id.as_ref().map_or("", |id| id.as_str()));
        key.part(self.kind_name());
        match self.natural_parts() {
            Some(parts) => parts.iter().for_each(|p| key.part(p)),
            None => {
                key.part(self.channel.as_str());
                key.canonical(self.raw.get());
            }
        }
        key.finish()
    }

    /// The kind's natural identity; `None` when the event lacks it and must be keyed by its content.
    fn natural_parts(&self) -> Option<Vec<Cow<'_, str>>> {
        let time = || time_text(self.timestamp.as_ref());
        let parts = match &self.kind {
            EventKind::Message(m) => vec![text(&m.mid)?],
            EventKind::MessageEcho(e) => vec![text(&e.message.mid)?],
            EventKind::MessageDeleted { mid } => vec![text(mid)?],
            EventKind::Postback(p) => vec![text(&p.mid)?],
            EventKind::MessageEdit(e) => {
                let edit = e.num_edit.map(|n| Cow::Owned(n.to_string()));
                vec![text(&e.mid)?, edit.or_else(|| text(&e.text))?]
            }
            EventKind::Reaction(r) => {
                let named = r
                    .reaction
                    .as_ref()
                    .map(|n| n.as_str())
                    .or(r.emoji.as_deref());
                let action = r.action.as_ref()?.as_str();
                let named = Cow::Borrowed(named.unwrap_or(""));
                vec![
                    text(&r.mid)?,
                    self.user()?,
                    Cow::Borrowed(action),
                    named,
                    time(),
                ]
            }
            EventKind::Delivery(d) => {
                let mark = match &d.watermark {
                    Some(watermark) => time_text(Some(watermark)),
                    None => Cow::Owned(
                        d.mids
                            .iter()
                            .map(Text::as_str)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                };
                vec![self.user()?, Some(mark).filter(|m| !m.is_empty())?]
            }
            EventKind::Read(r) => {
                let mark = r.watermark.as_ref().map(|w| time_text(Some(w)));
                vec![self.user()?, mark.or_else(|| text(&r.mid))?]
            }
            EventKind::PassThreadControl(t) | EventKind::TakeThreadControl(t) => {
                let owner = Cow::Borrowed(t.new_owner_app_id.as_ref()?.as_str());
                vec![self.user()?, time(), owner]
            }
            EventKind::RequestThreadControl(r) => {
                let owner = Cow::Borrowed(r.requested_owner_app_id.as_ref()?.as_str());
                vec![self.user()?, time(), owner]
            }
            EventKind::Call(c) => vec![text(&c.id)?, Cow::Borrowed(c.event.as_ref()?.as_str())],
            EventKind::Change(change) => {
                let field = Cow::Borrowed(change.field.as_deref().unwrap_or(""));
                match &change.value {
                    ChangeValue::Comment(c) => vec![field, id(&c.id)?],
                    ChangeValue::Mention(m) => {
                        let comment = id(&m.comment_id).unwrap_or_default();
                        vec![field, id(&m.media_id)?, comment]
                    }
                    _ => {
                        let value = change
                            .raw_value
                            .map_or(String::new(), |v| canonical(v.get()));
                        vec![field, Cow::Owned(value), time()]
                    }
                }
            }
            _ => return None,
        };
        Some(parts)
    }

    /// The user side of the event for keys: `sender.id`, else `ref:` + user_ref.
    fn user(&self) -> Option<Cow<'_, str>> {
        match (&self.sender, &self.sender_user_ref) {
            (Some(id), _) => Some(Cow::Borrowed(id.as_str())),
            (None, Some(user_ref)) => Some(Cow::Owned(format!("ref:{}", user_ref.as_str()))),
            (None, None) => None,
        }
    }
}

fn text<'t>(text: &'t Option<Text<'_>>) -> Option<Cow<'t, str>> {
    text.as_deref().map(Cow::Borrowed)
}

fn id<'t>(id: &'t Option<crate::id::Id<'_>>) -> Option<Cow<'t, str>> {
    id.as_ref().map(|id| Cow::Borrowed(id.as_str()))
}

fn time_text<'t>(time: Option<&'t Timestamp<'_>>) -> Cow<'t, str> {
    match time {
        Some(t) => match (t.ms(), t.raw()) {
            (Some(ms), _) => Cow::Owned(ms.to_string()),
            (None, RawTime::Text(text)) => Cow::Borrowed(text),
            (None, other) => Cow::Owned(other.to_string()),
        },
        None => Cow::Borrowed(""),
    }
}

/// Incremental SHA-256 over length-prefixed parts, so that no two part lists hash the same input.
struct Key(Sha256);

impl Key {
    fn new() -> Self {
        Key(Sha256::new())
    }

    fn part(&mut self, text: &str) {
        self.0.update((text.len() as u64).to_le_bytes());
        self.0.update(text.as_bytes());
    }

    fn canonical(&mut self, raw: &str) {
        self.part(&canonical(raw));
    }

    fn finish(self) -> DedupKey {
        let digest = self.0.finalize();
        let mut hex = [0u8; 32];
        hex::encode_to_slice(&digest[..16], &mut hex).expect("32 hex digits for 16 bytes");
        let mut key = String::with_capacity(DEDUP_VERSION.len() + 1 + hex.len());
        key.push_str(DEDUP_VERSION);
        key.push(':');
        key.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
        DedupKey(key)
    }
}

/// The canonical JSON text of a raw value: no whitespace, object members sorted by their names' UTF-16
/// units (a stable sort, so repeated names keep their order), strings in Meta's wire escaping, and numbers
/// and literals as written. It is computed on the text, never through `serde_json::Value`, so it is the same
/// for a body and its wire form and exists for any valid JSON (numbers beyond f64, lone surrogate escapes,
/// repeated keys, deep nesting).
fn canonical(raw: &str) -> String {
    let mut out = Vec::with_capacity(raw.len());
    write_canonical(raw, 0, &mut out);
    String::from_utf8(out).expect("canonical JSON is ASCII")
}

/// Below this depth, values are written in wire form as they stand (member order kept), which bounds the
/// recursion whatever the body's nesting.
const CANONICAL_DEPTH: usize = 32;

fn write_canonical(raw: &str, depth: usize, out: &mut Vec<u8>) {
    let members = match raw.as_bytes().first() {
        Some(b'{') if depth < CANONICAL_DEPTH => object_fields(raw),
        Some(b'[') if depth < CANONICAL_DEPTH => {
            if let Some(items) = array_items(raw) {
                out.push(b'[');
                for (i, item) in items.into_iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_canonical(item, depth + 1, out);
                }
                out.push(b']');
                return;
            }
            None
        }
        Some(b'"') => {
            wire::write_wire_literal(raw, out);
            return;
        }
        // A number or literal from a parsed value has no whitespace around it: it is its own wire form.
        Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            out.extend_from_slice(raw.as_bytes());
            return;
        }
        _ => None,
    };
    let Some(members) = members else {
        // A scalar, a value nested too deep, or an object whose names serde_json cannot decode.
        out.extend_from_slice(
            &wire::reencode(raw.as_bytes()).unwrap_or_else(|_| raw.as_bytes().to_vec()),
        );
        return;
    };
    let mut members = members;
    members.sort_by(|a, b| a.0.as_str().encode_utf16().cmp(b.0.as_str().encode_utf16()));
    out.push(b'{');
    for (i, (name, value)) in members.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        wire::write_wire_literal(
            &serde_json::to_string(name.as_str()).unwrap_or_default(),
            out,
        );
        out.push(b':');
        write_canonical(value, depth + 1, out);
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(body: &str) -> Vec<String> {
        crate::parse(body.as_bytes())
            .unwrap()
            .iter()
            .map(|e| e.dedup_key().to_string())
            .collect()
    }

    fn page(events: &str) -> String {
        format!(
            r#"{{"object":"page","entry":[{{"id":"1","time":1767610000000,"messaging":[{events}]}}]}}"#
        )
    }

    const USER: &str = r#""sender":{"id":"7"},"recipient":{"id":"1"}"#;

    #[test]
    fn keys_have_the_documented_form() {
        let key = &keys(&page(&format!(
            r#"{{{USER},"timestamp":1,"message":{{"mid":"m1"}}}}"#
        )))[0];
        assert!(key.starts_with("v1:"));
        assert_eq!(key.len(), 35);
        assert!(
            key[3..]
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
    }

    #[test]
    fn the_derivation_does_not_change() {
        // Pinned: a different value here means stored keys would no longer match redeliveries.
        let key = &keys(&page(&format!(
            r#"{{{USER},"timestamp":1,"message":{{"mid":"m1"}}}}"#
        )))[0];
        let mut expected = Sha256::new();
        for part in ["v1", "page", "1", "message", "m1"] {
            expected.update((part.len() as u64).to_le_bytes());
            expected.update(part.as_bytes());
        }
        assert_eq!(
            key,
            &format!("v1:{}", hex::encode(&expected.finalize()[..16]))
        );
    }

    #[test]
    fn one_mid_carries_distinct_events() {
        let body = page(&format!(
            r#"{{{USER},"timestamp":1,"message":{{"mid":"m1","text":"hi"}}}},
               {{{USER},"timestamp":2,"reaction":{{"mid":"m1","action":"react","reaction":"love"}}}},
               {{{USER},"timestamp":3,"reaction":{{"mid":"m1","action":"unreact"}}}},
               {{{USER},"timestamp":4,"reaction":{{"mid":"m1","action":"react","reaction":"love"}}}},
               {{{USER},"timestamp":5,"message_edit":{{"mid":"m1","text":"hey","num_edit":1}}}},
               {{{USER},"timestamp":6,"message_edit":{{"mid":"m1","text":"hey!","num_edit":2}}}},
               {{{USER},"timestamp":7,"message":{{"mid":"m1","is_deleted":true}}}},
               {{{USER},"timestamp":8,"read":{{"mid":"m1"}}}},
               {{"sender":{{"id":"1"}},"recipient":{{"id":"7"}},"timestamp":9,"message":{{"mid":"m1","is_echo":true}}}}"#
        ));
        let keys = keys(&body);
        let distinct: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(keys.len(), 9);
        assert_eq!(distinct.len(), 9, "{keys:#?}");
    }

    #[test]
    fn redeliveries_match_whatever_the_formatting_or_batch() {
        let alone = page(&format!(
            r#"{{{USER},"timestamp":1,"optin":{{"ref":"x"}}}}"#
        ));
        let pretty = format!(
            "{{\"object\":\"page\",\"entry\":[{{\"time\":1767610099999,\"id\":\"1\",\"messaging\":[\
             {{\"optin\" : {{ \"ref\" : \"x\" }}, \"timestamp\":1, {USER}}}]}}]}}"
        );
        assert_eq!(keys(&alone), keys(&pretty));
    }

    #[test]
    fn message_keys_ignore_content_but_not_the_account() {
        let a = page(&format!(
            r#"{{{USER},"timestamp":1,"message":{{"mid":"m1","text":"a"}}}}"#
        ));
        let b = page(&format!(
            r#"{{{USER},"timestamp":2,"message":{{"mid":"m1","text":"b"}}}}"#
        ));
        assert_eq!(keys(&a), keys(&b));
        let other_page = a.replace(r#""id":"1","time""#, r#""id":"2","time""#);
        assert_ne!(keys(&a), keys(&other_page));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let out =
            canonical("{\"b\": [{\"z\":1e400, \"a\":\"\\u00e4/\"}],\n \"a\": null, \"a\": 2}");
        assert_eq!(out, r#"{"a":null,"a":2,"b":[{"a":"\u00e4\/","z":1e400}]}"#);
    }

    #[test]
    fn canonical_json_is_the_same_for_a_body_and_its_wire_form() {
        let body =
            "{\"é\": \"ü/\\ud800\", \"$serde_json::private::RawValue\": [1.50, {\"b\":1,\"a\":2}]}";
        let wire_form = String::from_utf8(crate::wire::reencode(body.as_bytes()).unwrap()).unwrap();
        assert_eq!(canonical(body), canonical(&wire_form));
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(canonical(&deep).starts_with("[[["));
    }
}
