//! What conversations are read as: the items of the admin API's conversation routes (CONTRACTS.md
//! section 6, with extra keys).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// The person on the other side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Counterpart {
    /// `{"id": PSID or IGSID}`
    Id(String),
    /// `{"user_ref": ...}`: a chat-plugin guest or a checkbox opt-in.
    UserRef(String),
}

/// `"in"` from the user, `"out"` from the business.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    In,
    Out,
}

/// An item of `GET /api/v1/conversations`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Conversation {
    /// Opaque and stable: see [`super::conversation_id`].
    pub id: String,
    /// The conversation key stored with each event (`page:PAGE_ID:PSID`).
    pub key: String,
    pub object: String,
    /// The Page or Instagram account.
    pub account_id: String,
    pub counterpart: Counterpart,
    /// The time of its latest event, epoch ms.
    pub last_event_ms: Option<i64>,
    /// The app that owns the thread under the handover protocol, per the latest thread-control event;
    /// null when the thread was never handed over.
    pub owner_app_id: Option<String>,
    /// True when its latest event came through `standby` (another app owns the thread).
    pub standby: bool,
    pub last_message: Option<Preview>,
    /// Messages from the user newer than the business's latest message (an echo, or a send that did
    /// not fail).
    pub unread: i64,
    /// Messages in and out; a send and its echo are one.
    pub message_count: i64,
    /// The latest attribution (ad, link, plugin, product), with its time.
    pub referral: Option<Value>,
}

/// The latest message of a conversation, for lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Preview {
    pub mid: Option<String>,
    pub direction: Direction,
    pub text: Option<String>,
    pub timestamp_ms: Option<i64>,
    pub attachment_types: Vec<String>,
    pub deleted: bool,
    /// The send (`hl_...`) it is, or whose echo it is; null for messages hookline did not send.
    #[serde(default)]
    pub send_id: Option<String>,
}

/// An item of `GET /api/v1/conversations/{id}/messages`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Message {
    /// Meta's id of the message; null (empty here) for a send the Send API has not answered yet.
    #[serde(serialize_with = "empty_as_null")]
    #[schema(value_type = Option<String>)]
    pub mid: String,
    pub direction: Direction,
    pub timestamp_ms: Option<i64>,
    /// The current text (the latest edit's); null when deleted or when there is none.
    pub text: Option<String>,
    pub attachments: Vec<Attachment>,
    /// For outbound messages: `sent`, `delivered` or `read`, or for a send whose echo has not arrived
    /// also `pending` (the Send API has not answered) or `failed`; null for inbound ones.
    pub status: Option<&'static str>,
    /// The reactions standing now, one per person.
    pub reactions: Vec<Reaction>,
    pub edit_count: u32,
    pub edits: Vec<Edit>,
    /// Deleted (unsent) by its author: content removed, the message kept as a tombstone.
    pub deleted: bool,
    /// For outbound messages: who sent it (`this_app`, `page_inbox`, `instagram_inbox`, `other_app`,
    /// `unknown`); `this_app` for every send and its echo, whatever app ids are configured.
    pub echo_source: Option<&'static str>,
    pub app_id: Option<String>,
    pub quick_reply: Option<Value>,
    pub reply_to: Option<Value>,
    pub referral: Option<Value>,
    /// Received through `standby`: another app owned the thread.
    pub standby: bool,
    /// The dedup key of the event that carried the message (the same in every store, unlike event ids);
    /// null (empty here) for a send whose echo has not arrived.
    #[serde(serialize_with = "empty_as_null")]
    #[schema(value_type = Option<String>)]
    pub dedup_key: String,
    /// The send (`hl_...`) it is, or whose echo it is: an echo names its send by the `metadata` the send
    /// gave the Send API, or by its `mid`. Null for messages hookline did not send.
    pub send_id: Option<String>,
    /// Why the send failed (for `status` `failed`).
    pub send_error: Option<String>,
}

/// An empty text as `null`: the message of a send has no mid nor event until Meta answers.
fn empty_as_null<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    if text.is_empty() {
        serializer.serialize_none()
    } else {
        serializer.serialize_str(text)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Attachment {
    #[serde(rename = "type")]
    pub kind: String,
    pub url: Option<String>,
    pub title: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct Reaction {
    /// Who reacted (the sender's id or user_ref).
    pub by: String,
    pub reaction: Option<String>,
    pub emoji: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Edit {
    pub num_edit: Option<u32>,
    pub text: Option<String>,
    pub timestamp_ms: Option<i64>,
}

/// An item of `GET /api/v1/conversations/{id}/timeline`: every event of the conversation.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct TimelineItem {
    /// The stored event's id in this store (for `GET /api/v1/events/{id}`).
    pub event_id: i64,
    pub dedup_key: String,
    pub kind: String,
    pub timestamp_ms: Option<i64>,
    pub standby: bool,
    /// For `message` and `message_echo`: the message as it stands now.
    pub message: Option<Message>,
    /// A readable line for the other kinds (a postback's title, a handover, a referral, ...).
    pub note: Option<String>,
    /// The event's typed detail, as `hookline parse` prints it.
    pub detail: Value,
}

/// An item of `GET /api/v1/accounts`.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct Account {
    pub account_id: String,
    pub object: String,
    pub conversations: i64,
    pub last_event_ms: Option<i64>,
    /// The latest policy-enforcement action on the account (`warning`, `block`, `unblock`) with its
    /// reason and time.
    pub policy: Option<Value>,
}
