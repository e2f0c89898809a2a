//! The normalised event: where it came from, who sent it to whom, when, and its typed kind.

use serde::Serialize;

use crate::account::{AccountLinking, PolicyEnforcement};
use crate::call::{Call, CallPermissionReply};
use crate::change::Change;
use crate::feedback::{GamePlay, MessagingFeedback, Order, ResponseFeedback};
use crate::handover::{AppRoles, RequestThreadControl, ThreadControl};
use crate::id::Id;
use crate::message::{Echo, Message, MessageEdit};
use crate::postback::{Optin, Postback};
use crate::raw::RawJson;
use crate::reaction::Reaction;
use crate::receipt::{Delivery, Read};
use crate::referral::ReferralEvent;
use crate::text::Text;
use crate::timestamp::Timestamp;

/// One event of a delivery. Borrows from the body it was parsed from.
#[derive(Clone, Debug, PartialEq)]
pub struct Event<'a> {
    /// The body's `object` (`page`, `instagram`, or anything else as given).
    pub object: Option<Text<'a>>,
    /// `entry[].id`: the Page or Instagram account the event is for.
    pub entry_id: Option<Id<'a>>,
    /// The array the event came from.
    pub channel: Channel<'a>,
    /// `sender.id` (for calls: `from`).
    pub sender: Option<Id<'a>>,
    /// `sender.user_ref` (chat plugin), or a checkbox opt-in's `optin.user_ref`.
    pub sender_user_ref: Option<Text<'a>>,
    /// `recipient.id` (for calls: `to`).
    pub recipient: Option<Id<'a>>,
    /// The event's own time, else its entry's `time`.
    pub timestamp: Option<Timestamp<'a>>,
    /// What happened.
    pub kind: EventKind<'a>,
    /// Lead-ads `hop_context` (event-level, else entry-level), kept as JSON.
    pub hop_context: Option<RawJson<'a>>,
    /// The event exactly as received (for `changes` items the whole `{field, value}` item).
    pub raw: RawJson<'a>,
}

/// The array an event was read from.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Channel<'a> {
    /// `entry[].messaging[]`: threads this app controls (or all threads, without handover).
    Messaging,
    /// `entry[].standby[]`: threads another app controls. Observations, not prompts.
    Standby,
    /// `entry[].changes[]`: feed-style fields.
    Changes,
    /// `entry[].calls[]`: Messenger calling.
    Calls,
    /// A bare `{"field", "value"}` body (dashboard samples), or a body with no entries at all.
    Body,
    /// Any other array (an entry-level array hookline does not know, or `entry` itself for a malformed entry).
    Other(Text<'a>),
}

impl Channel<'_> {
    /// The name used in output.
    pub fn as_str(&self) -> &str {
        match self {
            Channel::Messaging => "messaging",
            Channel::Standby => "standby",
            Channel::Changes => "changes",
            Channel::Calls => "calls",
            Channel::Body => "body",
            Channel::Other(name) => name.as_str(),
        }
    }
}

/// What an event is, with its typed payload. Told apart by which key the event carries.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum EventKind<'a> {
    /// A message from the user.
    Message(Box<Message<'a>>),
    /// A message the business account sent (`is_echo`), by this app, an inbox or another app.
    MessageEcho(Box<Echo<'a>>),
    /// Instagram unsend: the message with this mid was deleted.
    MessageDeleted {
        mid: Option<Text<'a>>,
    },
    MessageEdit(MessageEdit<'a>),
    Reaction(Reaction<'a>),
    Delivery(Delivery<'a>),
    Read(Read<'a>),
    Postback(Postback<'a>),
    Optin(Box<Optin<'a>>),
    Referral(Box<ReferralEvent<'a>>),
    PassThreadControl(ThreadControl<'a>),
    TakeThreadControl(ThreadControl<'a>),
    RequestThreadControl(RequestThreadControl<'a>),
    AppRoles(AppRoles),
    PolicyEnforcement(PolicyEnforcement<'a>),
    AccountLinking(AccountLinking<'a>),
    GamePlay(Box<GamePlay<'a>>),
    MessagingFeedback(MessagingFeedback<'a>),
    ResponseFeedback(ResponseFeedback<'a>),
    Order(Order<'a>),
    Call(Call<'a>),
    CallPermissionReply(CallPermissionReply<'a>),
    /// A feed-style change that is not a messaging event.
    Change(Box<Change<'a>>),
    /// Anything not understood; the event's `raw` JSON has all of it.
    Unknown(Unknown),
}

/// Why an event was not understood.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unknown {
    /// The key or array name that was not recognised (or whose value could not be read).
    #[serde(skip_serializing)]
    pub field: Option<String>,
    /// A sentence saying what was not understood.
    pub reason: String,
}

impl<'a> EventKind<'a> {
    /// The message content of a `message` or `message_echo`.
    pub fn message(&self) -> Option<&Message<'a>> {
        match self {
            EventKind::Message(message) => Some(message),
            EventKind::MessageEcho(echo) => Some(&echo.message),
            _ => None,
        }
    }

    /// The kind's name as listed in CONTRACTS.md (`message`, `message_echo`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Message(_) => "message",
            EventKind::MessageEcho(_) => "message_echo",
            EventKind::MessageDeleted { .. } => "message_deleted",
            EventKind::MessageEdit(_) => "message_edit",
            EventKind::Reaction(_) => "reaction",
            EventKind::Delivery(_) => "delivery",
            EventKind::Read(_) => "read",
            EventKind::Postback(_) => "postback",
            EventKind::Optin(_) => "optin",
            EventKind::Referral(_) => "referral",
            EventKind::PassThreadControl(_) => "pass_thread_control",
            EventKind::TakeThreadControl(_) => "take_thread_control",
            EventKind::RequestThreadControl(_) => "request_thread_control",
            EventKind::AppRoles(_) => "app_roles",
            EventKind::PolicyEnforcement(_) => "policy_enforcement",
            EventKind::AccountLinking(_) => "account_linking",
            EventKind::GamePlay(_) => "game_play",
            EventKind::MessagingFeedback(_) => "messaging_feedback",
            EventKind::ResponseFeedback(_) => "response_feedback",
            EventKind::Order(_) => "order",
            EventKind::Call(_) => "call",
            EventKind::CallPermissionReply(_) => "call_permission_reply",
            EventKind::Change(_) => "change",
            EventKind::Unknown(_) => "unknown",
        }
    }
}

impl<'a> Event<'a> {
    /// The kind's name (`message`, `reaction`, ...).
    pub fn kind_name(&self) -> &'static str {
        self.kind.name()
    }

    /// For `change`: the change's field; for `unknown`: the key or array that was not recognised.
    pub fn field(&self) -> Option<&str> {
        match &self.kind {
            EventKind::Change(change) => change.field.as_deref(),
            EventKind::Unknown(unknown) => unknown.field.as_deref(),
            _ => None,
        }
    }

    /// Epoch milliseconds of the event, if it had a readable time.
    pub fn timestamp_ms(&self) -> Option<i64> {
        self.timestamp.as_ref().and_then(Timestamp::ms)
    }

    /// The message the event is about: the message/echo/deleted/edited mid, the reacted-to mid,
    /// Instagram `read.mid`, or `postback.mid`.
    pub fn mid(&self) -> Option<&str> {
        let mid = match &self.kind {
            EventKind::Message(m) => m.mid.as_ref(),
            EventKind::MessageEcho(e) => e.message.mid.as_ref(),
            EventKind::MessageDeleted { mid } => mid.as_ref(),
            EventKind::MessageEdit(e) => e.mid.as_ref(),
            EventKind::Reaction(r) => r.mid.as_ref(),
            EventKind::Read(r) => r.mid.as_ref(),
            EventKind::Postback(p) => p.mid.as_ref(),
            _ => None,
        };
        mid.map(Text::as_str)
    }

    /// True for events from `standby`: the thread belongs to another app, so never reply to them.
    pub fn is_standby(&self) -> bool {
        self.channel == Channel::Standby
    }
}
