//! [`ReplyError`]: every way a reply fails, each saying what was wrong and what to do.

use hookline_graph::GraphError;
use hookline_store::{SendId, StoreError, StoredSend};

/// A reply that was not sent, or whose outcome could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// The conversation id names no conversation.
    #[error(
        "no conversation with id {0:?}; list conversations with GET /api/v1/conversations (or pass \
         a conversation key such as page:PAGE_ID:PSID to hookline send)"
    )]
    NoConversation(String),
    /// The reply cannot be sent as given (nothing was recorded nor sent).
    #[error("{0}")]
    Invalid(String),
    /// This server has no usable account (and token) for the conversation's Page or Instagram account.
    #[error("cannot reply in conversation {conversation}: {reason}")]
    NoAccount {
        conversation: String,
        reason: String,
    },
    /// The Send API refused the message, or its outcome is unknown; the send is recorded `failed`.
    #[error("{}", refusal(send, error))]
    Refused {
        send: Box<StoredSend>,
        error: GraphError,
    },
    /// The store could not record the send; nothing was sent.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The Send API answered but the answer could not be recorded: the send stays `pending` until its
    /// echo arrives, which names it by its metadata.
    #[error(
        "send {send_id} went to the Send API ({}), but recording its outcome failed: {source}; its echo \
         will still be linked to it, so do not send it again",
        match message_id { Some(mid) => format!("message id {mid}"), None => "refused".to_owned() }
    )]
    Unrecorded {
        send_id: SendId,
        message_id: Option<String>,
        source: StoreError,
    },
}

fn refusal(send: &StoredSend, error: &GraphError) -> String {
    match error {
        GraphError::SendOutcomeUnknown { .. } => format!(
            "send {} may or may not have reached the person: {error}. If Meta delivered it, its echo \
             will show it in the conversation; look there before sending it again",
            send.id
        ),
        _ => format!("send {} was not delivered: {error}", send.id),
    }
}

impl ReplyError {
    /// The send this error is about, when one was recorded.
    pub fn send_id(&self) -> Option<&SendId> {
        match self {
            ReplyError::Refused { send, .. } => Some(&send.id),
            ReplyError::Unrecorded { send_id, .. } => Some(send_id),
            _ => None,
        }
    }
}
