//! From body bytes to events: the envelope, then each raw event by the array it came from.

use serde::Deserialize;

use crate::call::Call;
use crate::change::{Change, ChangeValue};
use crate::envelope::{self, Envelope};
use crate::error::ParseError;
use crate::event::{Channel, Event, EventKind, Unknown};
use crate::id::Id;
use crate::json::{is_valid, lenient};
use crate::messaging::{self, Decoded};
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
    if let Some(envelope) = envelope::scan(text)
        && let Ok(events) = events(envelope, options)
    {
        return Ok(events);
    }
    let envelope = envelope::read(text).map_err(ParseError::from_json)?;
    // The slow path hands out validated JSON only, so `NotJson` cannot happen here.
    events(envelope, options).map_err(|NotJson| not_json(text))
}

/// Parses a body whose signature has been checked. This is the only way the server turns bytes into events:
/// it cannot get a [`VerifiedBody`] without verifying.
pub fn parse_verified<'a, B: AsRef<[u8]>>(
    body: &'a VerifiedBody<B>,
    options: &ParseOptions,
) -> Result<Vec<Event<'a>>, ParseError> {
    parse_with(body.bytes(), options)
}

/// A raw event turned out not to be valid JSON.
#[derive(Debug)]
pub(crate) struct NotJson;

fn not_json(text: &str) -> ParseError {
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Err(err) => ParseError::from_json(err),
        Ok(_) => ParseError::InvalidJson {
            line: 1,
            column: 1,
            message: "the body could not be read as one JSON value".into(),
        },
    }
}

fn events<'a>(envelope: Envelope<'a>, options: &ParseOptions) -> Result<Vec<Event<'a>>, NotJson> {
    let object = envelope.object;
    let anomalies = envelope
        .entries
        .iter()
        .map(|e| e.anomalies.len())
        .sum::<usize>();
    let mut events =
        Vec::with_capacity(envelope.items.len() + anomalies + envelope.anomalies.len() + 1);
    let body_context = Context {
        object: object.clone(),
        ..Context::default()
    };
    for anomaly in envelope.anomalies {
        events.push(body_context.event(anomaly.channel.clone(), anomaly.kind(), anomaly.raw));
    }
    if let Some(body) = envelope.bare {
        events.push(change_event(&body_context, Channel::Body, body, options)?);
    }
    let mut items = envelope.items.into_iter();
    for (index, entry) in envelope.entries.into_iter().enumerate() {
        let context = Context {
            object: object.clone(),
            entry_id: entry.id,
            entry_time: entry.time,
            hop_context: entry.hop_context,
        };
        for anomaly in entry.anomalies {
            events.push(context.event(anomaly.channel.clone(), anomaly.kind(), anomaly.raw));
        }
        // An entry's items are next to each other. Counting them first, by reference, spares a copy of each
        // item into and out of a peek slot.
        let count = items
            .as_slice()
            .iter()
            .take_while(|item| item.entry == index)
            .count();
        for item in items.by_ref().take(count) {
            let event = match item.read {
                // The scanner has read it already (see `envelope::Item::read`).
                Some(wire) => {
                    let decoded = wire.finish(&options.own_app_ids);
                    messaging_event(&context, item.channel, decoded, item.raw)
                }
                None => item_event(&context, item.channel, item.raw, options)?,
            };
            events.push(event);
        }
    }
    Ok(events)
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
    fn event(&self, channel: Channel<'a>, kind: EventKind<'a>, raw: &'a str) -> Event<'a> {
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
            raw: RawJson::new(raw),
        }
    }
}

/// An item the scanner has not read: all but messaging and standby events it could read.
fn item_event<'a>(
    context: &Context<'a>,
    channel: Channel<'a>,
    raw: &'a str,
    options: &ParseOptions,
) -> Result<Event<'a>, NotJson> {
    match channel {
        Channel::Messaging | Channel::Standby => {
            let decoded = messaging::decode(raw, &options.own_app_ids)?;
            Ok(messaging_event(context, channel, decoded, raw))
        }
        Channel::Changes | Channel::Body => change_event(context, channel, raw, options),
        Channel::Calls => call_event(context, raw),
        Channel::Other(ref name) => {
            let kind = EventKind::Unknown(Unknown {
                field: Some(name.as_str().to_owned()),
                reason: format!("`{}` is not an entry array hookline knows", name.as_str()),
            });
            Ok(context.event(channel, kind, raw))
        }
    }
}

/// A decoded messaging event; `raw` is what the event keeps (the item it arrived as).
fn messaging_event<'a>(
    context: &Context<'a>,
    channel: Channel<'a>,
    decoded: Decoded<'a>,
    raw: &'a str,
) -> Event<'a> {
    let kind = decoded.kind.unwrap_or_else(|| {
        EventKind::Unknown(Unknown {
            field: None,
            reason: "the event carries no kind key (message, postback, read, ...)".into(),
        })
    });
    // Built in one go rather than from `Context::event` and then overwritten: an event is large, and every
    // extra step is a copy of it.
    Event {
        object: context.object.clone(),
        entry_id: context.entry_id.clone(),
        channel,
        sender: decoded.sender,
        sender_user_ref: decoded.sender_user_ref,
        recipient: decoded.recipient,
        timestamp: decoded.timestamp.or_else(|| context.entry_time.clone()),
        kind,
        hop_context: decoded.hop_context.or(context.hop_context),
        raw: RawJson::new(raw),
    }
}

/// A `changes[]` item, or a bare `{"field","value"}` body.
#[derive(Deserialize)]
struct ChangeWire<'a> {
    #[serde(borrow)]
    field: Option<RawJson<'a>>,
    #[serde(borrow)]
    value: Option<RawJson<'a>>,
    #[serde(borrow)]
    time: Option<RawJson<'a>>,
}

/// The time a change value may carry itself (marketing receipts do; comments do not).
#[derive(Deserialize)]
struct ValueTimes<'a> {
    #[serde(borrow)]
    timestamp: Option<RawJson<'a>>,
    #[serde(borrow)]
    time: Option<RawJson<'a>>,
}

fn change_event<'a>(
    context: &Context<'a>,
    channel: Channel<'a>,
    raw: &'a str,
    options: &ParseOptions,
) -> Result<Event<'a>, NotJson> {
    let wire = match serde_json::from_str::<ChangeWire<'a>>(raw) {
        Ok(wire) => wire,
        Err(_) if !is_valid(raw) => return Err(NotJson),
        Err(_) => {
            let kind = EventKind::Unknown(Unknown {
                field: None,
                reason: "a `changes` item is not an object with `field` and `value`".into(),
            });
            return Ok(context.event(channel, kind, raw));
        }
    };
    let value = wire.value.map(|v| v.get());
    if let Some(value) = value.filter(|value| messaging::is_messaging_shaped(value)) {
        let decoded = messaging::decode(value, &options.own_app_ids)?;
        return Ok(messaging_event(context, channel, decoded, raw));
    }
    let field: Option<Text<'a>> = lenient(wire.field);
    let times: Option<ValueTimes<'a>> = value.and_then(|v| serde_json::from_str(v).ok());
    let own_time = times
        .and_then(|t| lenient(t.timestamp).or_else(|| lenient(t.time)))
        .or_else(|| lenient(wire.time));
    let change = Change {
        value: ChangeValue::decode(field.as_deref(), value),
        field,
        raw_value: wire.value,
    };
    let mut event = context.event(channel, EventKind::Change(Box::new(change)), raw);
    event.timestamp = own_time.or(event.timestamp);
    Ok(event)
}

fn call_event<'a>(context: &Context<'a>, raw: &'a str) -> Result<Event<'a>, NotJson> {
    match serde_json::from_str::<Call<'a>>(raw) {
        Ok(call) => {
            let (from, to, timestamp) =
                (call.from.clone(), call.to.clone(), call.timestamp.clone());
            let mut event = context.event(Channel::Calls, EventKind::Call(call), raw);
            event.sender = from;
            event.recipient = to;
            event.timestamp = timestamp.or(event.timestamp);
            Ok(event)
        }
        Err(_) if !is_valid(raw) => Err(NotJson),
        Err(err) => {
            let kind = EventKind::Unknown(Unknown {
                field: Some("calls".into()),
                reason: format!("a `calls` item could not be read: {err}"),
            });
            Ok(context.event(Channel::Calls, kind, raw))
        }
    }
}
