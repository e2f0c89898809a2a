//! Decoding one messaging event (an item of `messaging[]` or `standby[]`, or a messaging-shaped `changes[]`
//! value) from its raw JSON.
//!
//! The kind is told by which key is present. The typed read is one pass over the event; if any part of it has
//! an unexpected type, the event becomes `unknown` (keeping its raw JSON) and a loose second read still fills
//! in sender, recipient and time, so the event can be grouped with its conversation.

use std::fmt;

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

use crate::event::{EventKind, Unknown};
use crate::id::Id;
use crate::json::{is_valid, lenient, member, object_fields};
use crate::message::{Echo, EchoSource, MessageWire};
use crate::parse::NotJson;
use crate::raw::RawJson;
use crate::reader::Reader;
use crate::referral::{Lead, Referral, ReferralEvent};
use crate::text::{Key, Text};
use crate::timestamp::Timestamp;

/// The keys that name a messaging event kind, in the order they are recognised.
pub(crate) const KIND_KEYS: &[&str] = &[
    "message",
    "message_edit",
    "reaction",
    "delivery",
    "read",
    "postback",
    "optin",
    "referral",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
    "policy_enforcement",
    "policy-enforcement",
    "account_linking",
    "game_play",
    "messaging_feedback",
    "response_feedback",
    "order",
    "send_cart",
    "call_permission_reply",
];

/// Keys that sit beside the kind key and are not kinds themselves.
const ENVELOPE_KEYS: &[&str] = &[
    "sender",
    "recipient",
    "timestamp",
    "hop_context",
    "lead",
    "seq",
    "tags",
];

/// The parts of a messaging event, before the entry's context is added.
#[derive(Debug, Default)]
pub(crate) struct Decoded<'a> {
    pub sender: Option<Id<'a>>,
    pub sender_user_ref: Option<Text<'a>>,
    pub recipient: Option<Id<'a>>,
    pub timestamp: Option<Timestamp<'a>>,
    pub hop_context: Option<RawJson<'a>>,
    pub kind: Option<EventKind<'a>>,
}

/// `sender` / `recipient`: `{id}` or, for chat-plugin users, `{user_ref}`.
#[derive(Debug, Deserialize)]
pub(crate) struct Party<'a> {
    #[serde(borrow)]
    id: Option<Id<'a>>,
    #[serde(borrow)]
    user_ref: Option<Text<'a>>,
}

/// Decodes a messaging event. Fails only when `raw` is not valid JSON; a valid event of an unexpected shape
/// is decoded loosely instead. `kind` is `None` when the event carries no kind key at all.
pub(crate) fn decode<'a>(raw: &'a str, own_app_ids: &[String]) -> Result<Decoded<'a>, NotJson> {
    match serde_json::from_str::<Box<Wire<'_>>>(raw) {
        Ok(wire) => Ok(wire.finish(own_app_ids)),
        Err(_) if !is_valid(raw) => Err(NotJson),
        Err(err) => Ok(loose(raw, &err)),
    }
}

/// Reads the messaging event at the start of `text`, which runs on past the event (the rest of the body), and
/// says how many bytes the event took. The typed read has to walk every byte of the event anyway, so letting
/// it find where the event ends spares the envelope scanner a pass of its own. `None` when the read fails for
/// any reason: the caller then finds the end itself and [`decode`]s the span, which tells bad JSON from an
/// event of an unexpected shape.
///
/// The fast [`Reader`] reads nearly every event; what it declines is read by serde_json, as before.
pub(crate) fn read_leading(text: &str) -> Option<(Box<Wire<'_>>, usize)> {
    let mut reader = Reader::new(text);
    if let Ok(wire) = Box::<Wire<'_>>::deserialize(&mut reader) {
        return Some((wire, reader.offset()));
    }
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Box<Wire<'_>>>();
    let wire = stream.next()?.ok()?;
    Some((wire, stream.byte_offset()))
}

/// True when `raw` is an object with a `sender` or `recipient` and a messaging kind key: the test for
/// `changes[]` values and bare bodies that carry messaging events.
pub(crate) fn is_messaging_shaped(raw: &str) -> bool {
    let Some(fields) = object_fields(raw) else {
        return false;
    };
    let has = |key: &str| fields.iter().any(|(name, _)| name.as_str() == key);
    (has("sender") || has("recipient")) && KIND_KEYS.iter().any(|key| has(key))
}

/// A messaging event as read, before the options that classify it are applied ([`Wire::finish`]).
#[derive(Debug, Default)]
pub(crate) struct Wire<'a> {
    sender: Option<Party<'a>>,
    recipient: Option<Party<'a>>,
    timestamp: Option<Timestamp<'a>>,
    hop_context: Option<RawJson<'a>>,
    lead: Option<Lead<'a>>,
    kind: Option<EventKind<'a>>,
    first_unknown_key: Option<Text<'a>>,
}

impl<'a> Wire<'a> {
    #[inline]
    pub(crate) fn finish(mut self, own_app_ids: &[String]) -> Decoded<'a> {
        let (sender, mut sender_user_ref) = split_party(self.sender);
        // Adjusted where it lies: the kind is the bulk of the event, and each move of it is a copy.
        match &mut self.kind {
            Some(EventKind::MessageEcho(echo)) => {
                echo.source =
                    EchoSource::classify(echo.app_id.as_ref().map(Id::as_str), own_app_ids);
            }
            Some(EventKind::Optin(optin)) if sender_user_ref.is_none() => {
                sender_user_ref = optin.user_ref.clone();
            }
            Some(EventKind::Referral(referral)) => referral.lead = self.lead,
            _ => {}
        }
        let kind = self.kind.or_else(|| {
            self.first_unknown_key.map(|key| {
                let reason = format!("`{}` is not an event kind hookline knows", key.as_str());
                EventKind::Unknown(Unknown {
                    field: Some(key.as_str().to_owned()),
                    reason,
                })
            })
        });
        Decoded {
            sender,
            sender_user_ref,
            recipient: self.recipient.and_then(|p| p.id),
            timestamp: self.timestamp,
            hop_context: self.hop_context,
            kind,
        }
    }
}

fn split_party(party: Option<Party<'_>>) -> (Option<Id<'_>>, Option<Text<'_>>) {
    match party {
        Some(party) => (party.id, party.user_ref),
        None => (None, None),
    }
}

/// Read straight into a box: an event is large, and a `Wire` returned by value would be copied at each of
/// the few layers of serde_json it passes through on its way out.
impl<'de: 'a, 'a> Deserialize<'de> for Box<Wire<'a>> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(WireVisitor)
    }
}

struct WireVisitor;

impl<'de> Visitor<'de> for WireVisitor {
    type Value = Box<Wire<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a messaging event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut wire = Box::<Wire<'de>>::default();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            match key.as_str() {
                "sender" => wire.sender = map.next_value()?,
                "recipient" => wire.recipient = map.next_value()?,
                "timestamp" => wire.timestamp = map.next_value()?,
                "hop_context" => wire.hop_context = map.next_value()?,
                "lead" => wire.lead = map.next_value()?,
                // Only the first kind key counts; Meta sends exactly one per event.
                name if wire.kind.is_none() && KIND_KEYS.contains(&name) => {
                    wire.kind = kind_value(name, &mut map)?;
                }
                name => {
                    let known = KIND_KEYS.contains(&name) || ENVELOPE_KEYS.contains(&name);
                    if !known && wire.first_unknown_key.is_none() {
                        wire.first_unknown_key = Some(key.into());
                    }
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(wire)
    }
}

/// Reads the payload of a kind key; `null` counts as absent.
fn kind_value<'de, A: MapAccess<'de>>(
    name: &str,
    map: &mut A,
) -> Result<Option<EventKind<'de>>, A::Error> {
    Ok(match name {
        "message" => map
            .next_value::<Option<MessageWire<'de>>>()?
            .map(message_kind),
        "message_edit" => map.next_value::<Option<_>>()?.map(EventKind::MessageEdit),
        "reaction" => map.next_value::<Option<_>>()?.map(EventKind::Reaction),
        "delivery" => map.next_value::<Option<_>>()?.map(EventKind::Delivery),
        "read" => map.next_value::<Option<_>>()?.map(EventKind::Read),
        "postback" => map.next_value::<Option<_>>()?.map(EventKind::Postback),
        "optin" => map.next_value::<Option<_>>()?.map(EventKind::Optin),
        "referral" => map.next_value::<Option<Referral<'de>>>()?.map(|referral| {
            EventKind::Referral(Box::new(ReferralEvent {
                referral,
                lead: None,
            }))
        }),
        "pass_thread_control" => map
            .next_value::<Option<_>>()?
            .map(EventKind::PassThreadControl),
        "take_thread_control" => map
            .next_value::<Option<_>>()?
            .map(EventKind::TakeThreadControl),
        "request_thread_control" => map
            .next_value::<Option<_>>()?
            .map(EventKind::RequestThreadControl),
        "app_roles" => map.next_value::<Option<_>>()?.map(EventKind::AppRoles),
        "policy_enforcement" | "policy-enforcement" => map
            .next_value::<Option<_>>()?
            .map(EventKind::PolicyEnforcement),
        "account_linking" => map
            .next_value::<Option<_>>()?
            .map(EventKind::AccountLinking),
        "game_play" => map.next_value::<Option<_>>()?.map(EventKind::GamePlay),
        "messaging_feedback" => map
            .next_value::<Option<_>>()?
            .map(EventKind::MessagingFeedback),
        "response_feedback" => map
            .next_value::<Option<_>>()?
            .map(EventKind::ResponseFeedback),
        "order" | "send_cart" => map.next_value::<Option<_>>()?.map(EventKind::Order),
        "call_permission_reply" => map
            .next_value::<Option<_>>()?
            .map(EventKind::CallPermissionReply),
        _ => {
            map.next_value::<IgnoredAny>()?;
            None
        }
    })
}

/// `message` is a user message, an echo (`is_echo`), or an Instagram deletion (`is_deleted`). A deletion wins
/// over an echo flag: whatever was sent, it is gone.
fn message_kind(wire: MessageWire<'_>) -> EventKind<'_> {
    if wire.is_deleted {
        return EventKind::MessageDeleted {
            mid: wire.mid().cloned(),
        };
    }
    let is_echo = wire.is_echo;
    let (message, app_id, metadata) = wire.into_parts();
    if is_echo {
        EventKind::MessageEcho(Box::new(Echo {
            app_id,
            metadata,
            source: EchoSource::Unknown,
            message,
        }))
    } else {
        EventKind::Message(Box::new(message))
    }
}

/// The fallback read of an event whose typed read failed: as much of the envelope as can be read, and an
/// `unknown` kind naming the key that could not be read and why.
fn loose<'a>(raw: &'a str, err: &serde_json::Error) -> Decoded<'a> {
    let Some(fields) = object_fields(raw) else {
        return Decoded {
            kind: Some(EventKind::Unknown(Unknown {
                field: None,
                reason: "the event is not a JSON object".into(),
            })),
            ..Decoded::default()
        };
    };
    let sender: Option<Party<'a>> = lenient(member(&fields, "sender"));
    let (sender, sender_user_ref) = split_party(sender);
    let recipient: Option<Party<'a>> = lenient(member(&fields, "recipient"));
    let field = fields
        .iter()
        .map(|(name, _)| name.as_str())
        .find(|name| KIND_KEYS.contains(name))
        .or_else(|| {
            let mut names = fields.iter().map(|(name, _)| name.as_str());
            names.find(|name| !ENVELOPE_KEYS.contains(name))
        })
        .map(str::to_owned);
    let what = field
        .as_deref()
        .map_or_else(|| "the event".to_owned(), |f| format!("`{f}`"));
    Decoded {
        sender,
        sender_user_ref,
        recipient: recipient.and_then(|p| p.id),
        timestamp: lenient(member(&fields, "timestamp")),
        hop_context: member(&fields, "hop_context").map(RawJson::new),
        kind: Some(EventKind::Unknown(Unknown {
            field,
            reason: format!("{what} could not be read: {err}"),
        })),
    }
}
