//! The body envelope: `object`, `entry[]` and the arrays inside each entry, down to one raw JSON value per
//! event.
//!
//! Two paths produce the same [`RawEntry`] list. The fast path reads a well-formed body in one pass with
//! typed visitors and captures each event as a borrowed `&RawValue`. If anything in the envelope has an
//! unexpected type (an entry that is not an object, `messaging` that is not an array, a duplicate key, an id
//! that is an object...), the fast path gives up and the slow path re-reads the body member by member,
//! tolerating every such shape, so that nothing in a valid JSON body is lost or fails the delivery.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::event::{Channel, Event, EventKind, Unknown};
use crate::id::Id;
use crate::json::{array_items, lenient, member, object_fields, type_name};
use crate::raw::RawJson;
use crate::text::Text;
use crate::timestamp::Timestamp;

/// What the envelope yields before events are decoded.
#[derive(Debug, Default)]
pub(crate) struct Envelope<'a> {
    pub object: Option<Text<'a>>,
    pub entries: Vec<RawEntry<'a>>,
    /// A bare `{"field", "value"}` body: the whole body is one change-or-messaging item.
    pub bare: Option<&'a RawValue>,
    /// Events for parts of the body that are not shaped like a delivery at all.
    pub anomalies: Vec<Anomaly<'a>>,
}

/// One entry: its id, time and arrays of raw events.
#[derive(Debug, Default)]
pub(crate) struct RawEntry<'a> {
    pub id: Option<Id<'a>>,
    pub time: Option<Timestamp<'a>>,
    pub hop_context: Option<RawJson<'a>>,
    pub arrays: Vec<(Channel<'a>, Vec<&'a RawValue>)>,
    pub anomalies: Vec<Anomaly<'a>>,
}

/// A piece of the body that cannot be an event of a known array, reported as an `unknown` event.
#[derive(Debug)]
pub(crate) struct Anomaly<'a> {
    pub channel: Channel<'a>,
    pub field: Option<String>,
    pub reason: String,
    pub raw: &'a RawValue,
}

impl<'a> Anomaly<'a> {
    pub(crate) fn into_event(
        self,
        object: Option<Text<'a>>,
        entry: Option<&RawEntry<'a>>,
    ) -> Event<'a> {
        Event {
            object,
            entry_id: entry.and_then(|e| e.id.clone()),
            channel: self.channel,
            sender: None,
            sender_user_ref: None,
            recipient: None,
            timestamp: entry.and_then(|e| e.time.clone()),
            kind: EventKind::Unknown(Unknown {
                field: self.field,
                reason: self.reason,
            }),
            hop_context: None,
            raw: self.raw.into(),
        }
    }
}

/// Reads the envelope of a syntactically valid JSON text.
pub(crate) fn read(text: &str) -> Result<Envelope<'_>, serde_json::Error> {
    // A derived struct also accepts a JSON array (as a tuple), so only objects may take the fast path.
    if !text.trim_start().starts_with('{') {
        return slow(text);
    }
    match serde_json::from_str::<Fast<'_>>(text) {
        Ok(Fast {
            object,
            entry: Some(entries),
            ..
        }) => Ok(Envelope {
            object,
            entries,
            ..Envelope::default()
        }),
        // No entry array: bare bodies and oddities need the whole body's raw JSON, so take the slow path.
        Ok(_) => slow(text),
        Err(err) if err.is_data() => slow(text),
        Err(err) => Err(err),
    }
}

#[derive(Deserialize)]
struct Fast<'a> {
    #[serde(borrow)]
    object: Option<Text<'a>>,
    #[serde(borrow)]
    entry: Option<Vec<RawEntry<'a>>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawEntry<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntryVisitor)
    }
}

struct EntryVisitor;

impl<'de> Visitor<'de> for EntryVisitor {
    type Value = RawEntry<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an entry object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entry = RawEntry::default();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            match key.as_str() {
                // A repeated id or time is ambiguous: the slow path decides (the first one wins).
                "id" if entry.id.is_some() => return Err(de::Error::duplicate_field("id")),
                "time" if entry.time.is_some() => return Err(de::Error::duplicate_field("time")),
                "id" => entry.id = map.next_value()?,
                "time" => entry.time = map.next_value()?,
                "hop_context" => entry.hop_context = map.next_value()?,
                name => {
                    if let Some(channel) = known_channel(name) {
                        let items: Option<Vec<&'de RawValue>> = map.next_value()?;
                        entry.arrays.push((channel, items.unwrap_or_default()));
                    } else {
                        let raw: &'de RawValue = map.next_value()?;
                        if let Some(items) = array_items(raw) {
                            entry.arrays.push((Channel::Other(key), items));
                        }
                    }
                }
            }
        }
        Ok(entry)
    }
}

fn known_channel(name: &str) -> Option<Channel<'static>> {
    match name {
        "messaging" => Some(Channel::Messaging),
        "standby" => Some(Channel::Standby),
        "changes" => Some(Channel::Changes),
        "calls" => Some(Channel::Calls),
        _ => None,
    }
}

/// The tolerant path: every member is read as raw JSON first and typed only where its shape allows.
fn slow(text: &str) -> Result<Envelope<'_>, serde_json::Error> {
    let body: &RawValue = serde_json::from_str(text)?;
    let mut envelope = Envelope::default();
    let Some(fields) = object_fields(body) else {
        envelope.anomalies.push(Anomaly {
            channel: Channel::Body,
            field: None,
            reason: format!(
                "the body is {}, not an object with `object` and `entry`",
                type_name(body)
            ),
            raw: body,
        });
        return Ok(envelope);
    };
    envelope.object = lenient(member(&fields, "object"));
    let mut saw_entry = false;
    for (key, raw) in &fields {
        if key.as_str() != "entry" {
            continue;
        }
        saw_entry = true;
        match array_items(raw) {
            Some(items) => envelope.entries.extend(items.into_iter().map(slow_entry)),
            None if raw.get() == "null" => {}
            None => envelope.anomalies.push(Anomaly {
                channel: Channel::Body,
                field: Some("entry".into()),
                reason: format!("`entry` is {}, not an array", type_name(raw)),
                raw,
            }),
        }
    }
    if !saw_entry {
        no_entry(&fields, body, &mut envelope);
    }
    Ok(envelope)
}

/// A body without `entry`: a dashboard `{"field","value"}` sample, or something that is no delivery.
fn no_entry<'a>(
    fields: &[(Text<'a>, &'a RawValue)],
    body: &'a RawValue,
    envelope: &mut Envelope<'a>,
) {
    if member(fields, "field").is_some() && member(fields, "value").is_some() {
        envelope.bare = Some(body);
        return;
    }
    let field = fields
        .iter()
        .map(|(name, _)| name.as_str())
        .find(|name| *name != "object")
        .map(str::to_owned);
    envelope.anomalies.push(Anomaly {
        channel: Channel::Body,
        field,
        reason: "the body has no `entry` array and is not a `{\"field\", \"value\"}` sample".into(),
        raw: body,
    });
}

fn slow_entry(raw: &RawValue) -> RawEntry<'_> {
    let mut entry = RawEntry::default();
    let Some(fields) = object_fields(raw) else {
        entry.anomalies.push(Anomaly {
            channel: Channel::Other(Text::new("entry")),
            field: None,
            reason: format!("an entry is {}, not an object", type_name(raw)),
            raw,
        });
        return entry;
    };
    for (key, value) in fields {
        match key.as_str() {
            // The first well-formed id and time win; a duplicate or malformed one is ignored.
            "id" => entry.id = entry.id.take().or_else(|| lenient(Some(value))),
            "time" => entry.time = entry.time.take().or_else(|| lenient(Some(value))),
            "hop_context" => entry.hop_context = entry.hop_context.or(Some(value.into())),
            name => slow_array(&mut entry, key.clone(), known_channel(name), value),
        }
    }
    entry
}

fn slow_array<'a>(
    entry: &mut RawEntry<'a>,
    key: Text<'a>,
    known: Option<Channel<'a>>,
    value: &'a RawValue,
) {
    match (array_items(value), known) {
        (Some(items), Some(channel)) => entry.arrays.push((channel, items)),
        (Some(items), None) => entry.arrays.push((Channel::Other(key), items)),
        (None, Some(channel)) if value.get() != "null" => entry.anomalies.push(Anomaly {
            channel,
            field: Some(key.as_str().to_owned()),
            reason: format!("`{}` is {}, not an array", key.as_str(), type_name(value)),
            raw: value,
        }),
        // Scalars and objects beside the arrays are entry metadata (`uid`, ...), not events.
        _ => {}
    }
}
