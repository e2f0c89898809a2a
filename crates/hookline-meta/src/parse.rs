//! From body bytes to events: the envelope, then each raw event by the array it came from.

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::call::Call;
use crate::change::{Change, ChangeValue};
use crate::envelope::{self, RawEntry};
use crate::error::ParseError;
use crate::event::{Channel, Event, EventKind, Unknown};
use crate::id::Id;
use crate::json::lenient;
use crate::messaging;
use crate::raw::RawJson;
use crate::signature::VerifiedBody;
use crate::text::Text;
use crate::timestamp::Timestamp;

/// Settings that change how events are classified (not what is extracted).
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    /// The app ids this deployment sends with: their echoes are classified `this_app`.
    pub own_app_ids: Vec<String>,
}

/// Parses a webhook POST body into its events, in body order.
///
/// Never fails on valid JSON: parts that are not understood become [`EventKind::Unknown`] events (or unknown
/// attachments) that keep their raw JSON, and the rest of the batch is unaffected. Only bytes that are not
/// JSON (or not UTF-8) are an error, which says where.
pub fn parse(body: &[u8]) -> Result<Vec<Event<'_>>, ParseError> {
    parse_with(body, &ParseOptions::default())
}

/// [`parse`] with options.
pub fn parse_with<'a>(
    body: &'a [u8],
    options: &ParseOptions,
) -> Result<Vec<Event<'a>>, ParseError> {
    let text =
        std::str::from_utf8(body).map_err(|err| ParseError::not_utf8(body, err.valid_up_to()))?;
    let envelope = envelope::read(text).map_err(ParseError::from_json)?;
    let object = envelope.object;
    let mut events =
        Vec::with_capacity(envelope.entries.iter().map(RawEntry::len).sum::<usize>() + 1);
    for anomaly in envelope.anomalies {
        events.push(anomaly.into_event(object.clone(), None));
    }
    if let Some(body) = envelope.bare {
        let context = Context {
            object: object.clone(),
            ..Context::default()
        };
        events.push(change_event(&context, Channel::Body, body, options));
    }
    for mut entry in envelope.entries {
        for anomaly in std::mem::take(&mut entry.anomalies) {
            events.push(anomaly.into_event(object.clone(), Some(&entry)));
        }
        let context = Context {
            object: object.clone(),
            entry_id: entry.id,
            entry_time: entry.time,
            hop_context: entry.hop_context,
        };
        for (channel, items) in entry.arrays {
            for raw in items {
                events.push(item_event(&context, channel.clone(), raw, options));
            }
        }
    }
    Ok(events)
}

/// Parses a body whose signature has been checked. This is the only way the server turns bytes into events:
/// it cannot get a [`VerifiedBody`] without verifying.
pub fn parse_verified<'a, B: AsRef<[u8]>>(
    body: &'a VerifiedBody<B>,
    options: &ParseOptions,
) -> Result<Vec<Event<'a>>, ParseError> {
    parse_with(body.bytes(), options)
}

impl RawEntry<'_> {
    fn len(&self) -> usize {
        self.arrays
            .iter()
            .map(|(_, items)| items.len())
            .sum::<usize>()
            + self.anomalies.len()
    }
}

/// What an entry contributes to each of its events.
#[derive(Default)]
struct Context<'a> {
    object: Option<Text<'a>>,
    entry_id: Option<Id<'a>>,
    entry_time: Option<Timestamp<'a>>,
    hop_context: Option<RawJson<'a>>,
}

impl<'a> Context<'a> {
    fn event(&self, channel: Channel<'a>, kind: EventKind<'a>, raw: &'a RawValue) -> Event<'a> {
        Event {
            object: self.object.clone(),
            entry_id: self.entry_id.clone(),
            channel,
            sender: None,
            sender_user_ref: None,
            recipient: None,
            timestamp: self.entry_time.clone(),
            kind,
            hop_context: self.hop_context,
            raw: raw.into(),
        }
    }
}

fn item_event<'a>(
    context: &Context<'a>,
    channel: Channel<'a>,
    raw: &'a RawValue,
    options: &ParseOptions,
) -> Event<'a> {
    match channel {
        Channel::Messaging | Channel::Standby => {
            messaging_event(context, channel, raw, raw, options)
        }
        Channel::Changes | Channel::Body => change_event(context, channel, raw, options),
        Channel::Calls => call_event(context, raw),
        Channel::Other(ref name) => {
            let kind = EventKind::Unknown(Unknown {
                field: Some(name.as_str().to_owned()),
                reason: format!("`{}` is not an entry array hookline knows", name.as_str()),
            });
            context.event(channel, kind, raw)
        }
    }
}

/// A messaging event read from `value`; `raw` is what the event keeps (the item it arrived as).
fn messaging_event<'a>(
    context: &Context<'a>,
    channel: Channel<'a>,
    value: &'a RawValue,
    raw: &'a RawValue,
    options: &ParseOptions,
) -> Event<'a> {
    let decoded = messaging::decode(value, &options.own_app_ids);
    let kind = decoded.kind.unwrap_or_else(|| {
        EventKind::Unknown(Unknown {
            field: None,
            reason: "the event carries no kind key (message, postback, read, ...)".into(),
        })
    });
    let mut event = context.event(channel, kind, raw);
    event.sender = decoded.sender;
    event.sender_user_ref = decoded.sender_user_ref;
    event.recipient = decoded.recipient;
    event.timestamp = decoded.timestamp.or(event.timestamp);
    event.hop_context = decoded.hop_context.or(event.hop_context);
    event
}

/// A `changes[]` item, or a bare `{"field","value"}` body.
#[derive(Deserialize)]
struct ChangeWire<'a> {
    #[serde(borrow)]
    field: Option<&'a RawValue>,
    #[serde(borrow)]
    value: Option<&'a RawValue>,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
}

/// The time a change value may carry itself (marketing receipts do; comments do not).
#[derive(Deserialize)]
struct ValueTimes<'a> {
    #[serde(borrow)]
    timestamp: Option<&'a RawValue>,
    #[serde(borrow)]
    time: Option<&'a RawValue>,
}

fn change_event<'a>(
    context: &Context<'a>,
    channel: Channel<'a>,
    raw: &'a RawValue,
    options: &ParseOptions,
) -> Event<'a> {
    let Ok(wire) = serde_json::from_str::<ChangeWire<'a>>(raw.get()) else {
        let kind = EventKind::Unknown(Unknown {
            field: None,
            reason: "a `changes` item is not an object with `field` and `value`".into(),
        });
        return context.event(channel, kind, raw);
    };
    if let Some(value) = wire
        .value
        .filter(|value| messaging::is_messaging_shaped(value))
    {
        return messaging_event(context, channel, value, raw, options);
    }
    let field: Option<Text<'a>> = lenient(wire.field);
    let times: Option<ValueTimes<'a>> = wire.value.and_then(|v| serde_json::from_str(v.get()).ok());
    let own_time = times
        .and_then(|t| lenient(t.timestamp).or_else(|| lenient(t.time)))
        .or_else(|| lenient(wire.time));
    let change = Change {
        value: ChangeValue::decode(field.as_deref(), wire.value),
        field,
        raw_value: wire.value.map(RawJson::from),
    };
    let mut event = context.event(channel, EventKind::Change(change), raw);
    event.timestamp = own_time.or(event.timestamp);
    event
}

fn call_event<'a>(context: &Context<'a>, raw: &'a RawValue) -> Event<'a> {
    match serde_json::from_str::<Call<'a>>(raw.get()) {
        Ok(call) => {
            let mut event = context.event(Channel::Calls, EventKind::Call(call.clone()), raw);
            event.sender = call.from;
            event.recipient = call.to;
            event.timestamp = call.timestamp.or(event.timestamp);
            event
        }
        Err(err) => {
            let kind = EventKind::Unknown(Unknown {
                field: Some("calls".into()),
                reason: format!("a `calls` item could not be read: {err}"),
            });
            context.event(Channel::Calls, kind, raw)
        }
    }
}
