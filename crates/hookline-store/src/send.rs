//! Outgoing messages: what hookline asked Meta's Send API to deliver, and what came of it.
//!
//! A send is recorded before its Graph call (`pending`), then marked `sent` with the `message_id` Meta
//! answered, or `failed` with the error. Every call carries the send's id as its `metadata`, which Meta
//! copies into the echo (`message.is_echo`) it delivers for the message; the echo is joined to its send
//! by that id, or else by its `mid` (the `message_id`). The echo may arrive before the call returns, so
//! the join is made when a conversation is read (`conversation/sends.rs`), never when either side
//! is written: in whatever order the send, its outcome and its echo arrive, the conversation shows one
//! message.
//!
//! A send is marked once: marking it again with the same outcome changes nothing (a retried store call),
//! any other change is refused with [`StoreError::SendConflict`].

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::conversation::conversation_id;
use crate::conversation::view::Counterpart;
use crate::error::StoreError;

/// Crockford's base32, as ULIDs spell it: no I, L, O or U, so an id read aloud or retyped stays one id.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters after the prefix: 48 bits of milliseconds and 80 random bits, 5 bits a character.
const ID_CHARS: usize = 26;

/// A send's id: `hl_` and 26 characters of a ULID (the creation time in ms, then 80 random bits), so
/// ids sort by creation time and fit easily in the Send API's `metadata` (1,000 characters at most).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, example = "hl_01JQ3Z8Y2N6V4W5X7A9B0C1D2E")]
pub struct SendId(String);

impl SendId {
    pub const PREFIX: &'static str = "hl_";

    /// A new id, made of the clock's time and random bits.
    pub fn generate() -> SendId {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        SendId::from_parts(now_ms, fastrand::u128(..))
    }

    /// The id of time `ms` (epoch ms, its low 48 bits) and the low 80 bits of `random`.
    pub fn from_parts(ms: i64, random: u128) -> SendId {
        let value = ((ms as u128 & ((1 << 48) - 1)) << 80) | (random & ((1 << 80) - 1));
        let mut id = String::with_capacity(Self::PREFIX.len() + ID_CHARS);
        id.push_str(Self::PREFIX);
        for index in (0..ID_CHARS).rev() {
            id.push(CROCKFORD[((value >> (5 * index)) & 31) as usize] as char);
        }
        SendId(id)
    }

    /// An id as [`SendId::generate`] makes them (for one read from a request or a path).
    pub fn parse(text: &str) -> Result<SendId, SendIdError> {
        let refuse = || SendIdError(text.to_owned());
        let rest = text.strip_prefix(Self::PREFIX).ok_or_else(refuse)?;
        let valid = rest.len() == ID_CHARS
            // 26 characters hold 130 bits; a ULID has 128, so the first is at most 7.
            && rest.as_bytes()[0] <= b'7'
            && rest.bytes().all(|b| CROCKFORD.contains(&b));
        if valid {
            Ok(SendId(text.to_owned()))
        } else {
            Err(refuse())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// An id read back from a store, which only ever stored parsed or generated ones.
    pub(crate) fn stored(id: String) -> SendId {
        SendId(id)
    }
}

impl fmt::Display for SendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A text that is not a send id.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a send id: send ids are \"hl_\" and 26 characters of Crockford base32 (0-9 and A-Z \
     without I, L, O, U), as hookline generates them; use the id create_send was given"
)]
pub struct SendIdError(pub String);

/// Where a send stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SendStatus {
    /// Recorded; the Send API has not answered yet.
    Pending,
    /// The Send API accepted it and answered its `message_id`.
    Sent,
    /// The Send API refused it, or the call failed.
    Failed,
}

impl SendStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SendStatus::Pending => "pending",
            SendStatus::Sent => "sent",
            SendStatus::Failed => "failed",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(SendStatus::Pending),
            "sent" => Some(SendStatus::Sent),
            "failed" => Some(SendStatus::Failed),
            _ => None,
        }
    }
}

/// A send to record before its Send API call.
#[derive(Clone, Debug, PartialEq)]
pub struct NewSend {
    /// Also the call's `metadata`, so that its echo names it.
    pub id: SendId,
    /// `page` (Messenger) or `instagram`.
    pub object: String,
    /// The Page or Instagram account that sends.
    pub account_id: String,
    /// The person it goes to: a PSID / IGSID, or a `user_ref`.
    pub recipient: Counterpart,
    /// What was asked to be sent: the Send API body without `recipient` (`messaging_type`, `message` with
    /// `text`, `attachment` or `attachments` by URL, `quick_replies`, a `tag`...). Conversations show the
    /// `message`'s text and attachments until the echo arrives.
    pub request: Value,
    /// When it was recorded, epoch ms: also the time a conversation shows it at until its echo arrives.
    pub created_at_ms: i64,
}

impl NewSend {
    /// A send into an existing conversation, at the caller's clock's `created_at_ms`, with a new id.
    pub fn to_conversation(
        conversation: &crate::conversation::view::Conversation,
        request: Value,
        created_at_ms: i64,
    ) -> NewSend {
        NewSend {
            id: SendId::generate(),
            object: conversation.object.clone(),
            account_id: conversation.account_id.clone(),
            recipient: conversation.counterpart.clone(),
            request,
            created_at_ms,
        }
    }

    /// The key of its conversation, as events of the same conversation carry it.
    pub fn conversation_key(&self) -> String {
        let counterpart = match &self.recipient {
            Counterpart::Id(id) => hookline_meta::conversation::Counterpart::Id(id),
            Counterpart::UserRef(user_ref) => {
                hookline_meta::conversation::Counterpart::UserRef(user_ref)
            }
        };
        hookline_meta::conversation::Conversation {
            object: &self.object,
            account: &self.account_id,
            counterpart,
        }
        .to_string()
    }

    /// Refuses a send whose conversation could not be read back or whose request is not a JSON object.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        let refuse = |reason: String| {
            Err(StoreError::InvalidSend {
                id: self.id.to_string(),
                reason,
            })
        };
        if !matches!(self.object.as_str(), "page" | "instagram") {
            return refuse(format!(
                "object is {:?}; use \"page\" for Messenger or \"instagram\" for Instagram",
                self.object
            ));
        }
        if self.account_id.is_empty() || self.account_id.contains(':') {
            return refuse(format!(
                "account id {:?} is not a Page or Instagram account id; use the account_id of the \
                 conversation",
                self.account_id
            ));
        }
        let recipient = match &self.recipient {
            Counterpart::Id(id) | Counterpart::UserRef(id) => id,
        };
        if recipient.is_empty() {
            return refuse(
                "the recipient is empty; use the counterpart of the conversation (a PSID, IGSID or \
                 user_ref)"
                    .to_owned(),
            );
        }
        if !self.request.is_object() {
            return refuse(
                "the request is not a JSON object; pass the Send API body without recipient, e.g. \
                 {\"messaging_type\":\"RESPONSE\",\"message\":{\"text\":\"...\"}}"
                    .to_owned(),
            );
        }
        Ok(())
    }
}

/// A recorded send, as it stands.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct StoredSend {
    pub id: SendId,
    /// The key of its conversation (`page:PAGE_ID:PSID`).
    pub conversation_key: String,
    /// The id of its conversation in the API (see [`crate::conversation::conversation_id`]).
    pub conversation_id: String,
    pub object: String,
    pub account_id: String,
    pub recipient: Counterpart,
    /// The Send API body without `recipient`, as recorded.
    pub request: Value,
    pub status: SendStatus,
    /// The id Meta gave the message (its `mid`), once sent.
    pub message_id: Option<String>,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was recorded, epoch ms.
    pub created_at_ms: i64,
    /// When it was last marked (its creation time until then), epoch ms.
    pub updated_at_ms: i64,
}

impl StoredSend {
    /// A send as first recorded.
    pub(crate) fn pending(send: &NewSend) -> StoredSend {
        let conversation_key = send.conversation_key();
        StoredSend {
            id: send.id.clone(),
            conversation_id: conversation_id(&conversation_key),
            conversation_key,
            object: send.object.clone(),
            account_id: send.account_id.clone(),
            recipient: send.recipient.clone(),
            request: send.request.clone(),
            status: SendStatus::Pending,
            message_id: None,
            error: None,
            created_at_ms: send.created_at_ms,
            updated_at_ms: send.created_at_ms,
        }
    }

    /// Whether `send` is this one recorded again (a create retried after its answer was lost).
    pub(crate) fn recorded_as(&self, send: &NewSend) -> bool {
        self.conversation_key == send.conversation_key()
            && self.request == send.request
            && self.created_at_ms == send.created_at_ms
    }

    /// The answer to creating `send` when this one already holds its id.
    pub(crate) fn created_again(self, send: &NewSend) -> Result<StoredSend, StoreError> {
        if self.recorded_as(send) {
            Ok(self)
        } else {
            Err(StoreError::SendConflict {
                id: send.id.to_string(),
                reason: "exists already with another conversation, request or creation time; \
                         generate a new id (SendId::generate) for every send"
                    .to_owned(),
            })
        }
    }
}

/// What came of a send's Send API call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted, with the `message_id` Meta answered.
    Sent { message_id: String },
    /// Refused or failed, with the error.
    Failed { error: String },
}

impl SendOutcome {
    /// Refuses an outcome that cannot be recorded.
    pub(crate) fn check(&self, id: &SendId) -> Result<(), StoreError> {
        match self {
            SendOutcome::Sent { message_id } if message_id.is_empty() => {
                Err(StoreError::InvalidSend {
                    id: id.to_string(),
                    reason:
                        "the message id is empty; mark it sent with the message_id the Send API \
                             answered, or failed with the error if it answered none"
                            .to_owned(),
                })
            }
            _ => Ok(()),
        }
    }

    pub(crate) fn status(&self) -> SendStatus {
        match self {
            SendOutcome::Sent { .. } => SendStatus::Sent,
            SendOutcome::Failed { .. } => SendStatus::Failed,
        }
    }

    pub(crate) fn message_id(&self) -> Option<&str> {
        match self {
            SendOutcome::Sent { message_id } => Some(message_id),
            SendOutcome::Failed { .. } => None,
        }
    }

    pub(crate) fn error(&self) -> Option<&str> {
        match self {
            SendOutcome::Sent { .. } => None,
            SendOutcome::Failed { error } => Some(error),
        }
    }

    /// Whether `stored` must change to record this outcome: true for a pending send, false when it holds
    /// this outcome already; any other change is refused.
    pub(crate) fn changes(&self, stored: &StoredSend) -> Result<bool, StoreError> {
        let conflict = |reason: String| StoreError::SendConflict {
            id: stored.id.to_string(),
            reason,
        };
        match (stored.status, self) {
            (SendStatus::Pending, _) => Ok(true),
            (SendStatus::Sent, SendOutcome::Sent { message_id })
                if stored.message_id.as_deref() == Some(message_id.as_str()) =>
            {
                Ok(false)
            }
            (SendStatus::Failed, SendOutcome::Failed { error })
                if stored.error.as_deref() == Some(error.as_str()) =>
            {
                Ok(false)
            }
            (SendStatus::Sent, _) => Err(conflict(format!(
                "was marked sent with message id {:?} already; a send is marked once, with the Send \
                 API's answer to its one call (a new attempt is a new send with a new id)",
                stored.message_id.as_deref().unwrap_or("")
            ))),
            (SendStatus::Failed, _) => Err(conflict(format!(
                "was marked failed already ({:?}); a send is marked once, with the Send API's answer \
                 to its one call (a new attempt is a new send with a new id)",
                stored.error.as_deref().unwrap_or("")
            ))),
        }
    }

    /// `stored` with this outcome recorded at `at_ms` (the stores read it back from their tables).
    #[cfg(test)]
    pub(crate) fn applied(&self, mut stored: StoredSend, at_ms: i64) -> StoredSend {
        stored.status = self.status();
        stored.message_id = self.message_id().map(str::to_owned);
        stored.error = self.error().map(str::to_owned);
        stored.updated_at_ms = at_ms;
        stored
    }
}

/// The refusal of a message id that another send holds already.
pub(crate) fn message_id_taken(id: &SendId, message_id: &str, holder: &str) -> StoreError {
    StoreError::SendConflict {
        id: id.to_string(),
        reason: format!(
            "cannot take message id {message_id:?}: send {holder} holds it already, and a message is \
             the answer to one send; check which send this Send API answer belongs to"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generated_ids_parse_and_sort_by_creation_time() {
        let early = SendId::from_parts(1_700_000_000_000, u128::MAX);
        let late = SendId::from_parts(1_700_000_000_001, 0);
        assert!(early < late);
        assert_eq!(early.as_str().len(), 29);
        assert_eq!(SendId::parse(early.as_str()), Ok(early.clone()));
        let fresh = SendId::generate();
        assert_eq!(SendId::parse(fresh.as_str()), Ok(fresh.clone()));
        assert_ne!(fresh, SendId::generate());
    }

    #[test]
    fn an_id_encodes_its_time_as_a_ulid_does() {
        // The ULID specification's example time 1469918176385 is 01ARYZ6S41 in its first ten characters.
        let id = SendId::from_parts(1_469_918_176_385, 0);
        assert_eq!(id.as_str(), "hl_01ARYZ6S410000000000000000");
    }

    #[test]
    fn texts_that_are_not_send_ids_are_refused_with_what_they_should_be() {
        for text in [
            "",
            "hl_",
            "HL_01ARYZ6S410000000000000000",
            "hl_01aryz6s410000000000000000",
            "hl_01ARYZ6S41000000000000000",
            "hl_01ARYZ6S41000000000000000I",
            "hl_81ARYZ6S410000000000000000",
            "order:8841",
        ] {
            let err = SendId::parse(text).unwrap_err();
            assert!(err.to_string().contains("Crockford base32"), "{err}");
        }
    }

    fn send(request: Value) -> NewSend {
        NewSend {
            id: SendId::from_parts(1, 2),
            object: "page".into(),
            account_id: "100".into(),
            recipient: Counterpart::UserRef("guest:1".into()),
            request,
            created_at_ms: 5,
        }
    }

    #[test]
    fn a_send_s_conversation_key_is_the_one_its_events_carry() {
        let plugin = send(json!({}));
        assert_eq!(plugin.conversation_key(), "page:100:ref:guest:1");
        let mut direct = send(json!({}));
        direct.recipient = Counterpart::Id("7".into());
        assert_eq!(direct.conversation_key(), "page:100:7");
    }

    #[test]
    fn a_send_that_could_not_be_read_back_is_refused() {
        assert!(send(json!({"message": {"text": "hi"}})).check().is_ok());
        assert!(send(json!("hi")).check().is_err());
        let mut other = send(json!({}));
        other.object = "whatsapp_business_account".into();
        assert!(other.check().unwrap_err().to_string().contains("\"page\""));
        let mut colon = send(json!({}));
        colon.account_id = "1:2".into();
        assert!(colon.check().is_err());
    }

    #[test]
    fn a_send_is_marked_once_and_the_same_mark_again_changes_nothing() {
        let pending = StoredSend::pending(&send(json!({})));
        let sent = SendOutcome::Sent {
            message_id: "m_1".into(),
        };
        assert!(matches!(sent.changes(&pending), Ok(true)));
        let marked = sent.applied(pending.clone(), 9);
        assert_eq!(
            (
                marked.status,
                marked.message_id.as_deref(),
                marked.updated_at_ms
            ),
            (SendStatus::Sent, Some("m_1"), 9)
        );
        assert!(matches!(sent.changes(&marked), Ok(false)));
        let other = SendOutcome::Sent {
            message_id: "m_2".into(),
        };
        let refused = other.changes(&marked).unwrap_err().to_string();
        assert!(
            refused.contains("\"m_1\"") && refused.contains("new send"),
            "{refused}"
        );
        let failed = SendOutcome::Failed {
            error: "(#100) bad".into(),
        };
        assert!(failed.changes(&marked).is_err());
        let failed_send = failed.applied(pending, 9);
        assert!(matches!(failed.changes(&failed_send), Ok(false)));
        assert!(sent.changes(&failed_send).is_err());
    }
}
