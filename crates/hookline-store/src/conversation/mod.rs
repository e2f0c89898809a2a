//! Conversations: the state of every thread, projected from the event log.
//!
//! A conversation is a business account (Page or Instagram account) and the person on the other side
//! (a PSID / IGSID, or a `user_ref`), keyed as [`hookline_meta::conversation::Conversation`] prints it.
//! Meta delivers events late, twice and out of order, so every piece of state here is a function of the
//! *set* of a conversation's events, never of the order they arrived in:
//!
//! - [`summary`]: what the conversation list shows (last activity, thread owner, last message, latest
//!   attribution). Each field is a register that keeps the value of the event with the greatest
//!   `(timestamp, dedup key)`, or a maximum, or a set union: merges that give the same result in any order
//!   and with any repetition. A projector applies each stored event once, after commit, off the
//!   acknowledgement path.
//! - [`fold`]: a conversation's messages and timeline, computed when read from its events sorted by
//!   `(timestamp, dedup key)`: reactions (latest per person), edits with their history, deletions as
//!   tombstones, receipts turned into per-message status.
//! - `sends`: hookline's own sends ([`crate::send`]) joined to their echoes when read, so a send and
//!   its echo are one message whichever arrived first (see [`fold::fold_with_sends`]).
//! - [`facts`]: what the summaries take from an event's typed form, worked out once where it is typed.
//! - [`reparse`]: a stored event's raw JSON back into a typed [`hookline_meta::Event`].
//! - [`view`]: the shapes both are read as (CONTRACTS.md section 6, extended).

pub mod facts;
pub mod fold;
pub mod reparse;
pub(crate) mod sends;
pub mod summary;
pub mod view;

use sha2::{Digest, Sha256};

/// The opaque, stable id of a conversation in the API: `c_` and 32 hex digits of a SHA-256 of its key,
/// so ids are the same in every store that saw the conversation and carry no `:` to escape in a URL.
pub fn conversation_id(key: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(key.as_bytes());
    let mut id = String::with_capacity(34);
    id.push_str("c_");
    for byte in &digest[..16] {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    id
}

/// Which conversations to list: newest activity first, after `before` (the `(last_event_ms, id)` of the
/// last row of the previous page).
#[derive(Clone, Debug, Default)]
pub struct ConversationQuery {
    pub account: Option<String>,
    /// Only conversations with activity at or after this time, epoch ms.
    pub updated_since_ms: Option<i64>,
    pub owner_app_id: Option<String>,
    pub before: Option<(i64, String)>,
    pub limit: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_ids_are_stable_and_url_safe() {
        let id = conversation_id("page:104938475610293:7392015648120394");
        assert_eq!(id.len(), 34);
        // The first 16 bytes of the key's SHA-256 in lowercase hex (computed with Python's hashlib).
        assert_eq!(id, "c_185edf016e08d4467d5c76d1d4723c27");
        assert!(id.starts_with("c_"));
        assert!(id[2..].bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(id, conversation_id("page:104938475610293:7392015648120394"));
        assert_ne!(id, conversation_id("page:104938475610293:7392015648120395"));
    }
}
