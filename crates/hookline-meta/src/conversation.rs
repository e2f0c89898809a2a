//! Which conversation an event belongs to: the business account (Page or Instagram account) and the person
//! on the other side, identified by a scoped id or, for chat-plugin guests and checkbox opt-ins, a
//! `user_ref`.
//!
//! Echoes run backwards (the business is the sender), so the counterpart is whichever side is not the
//! account. The account is the entry's id, which Meta sets to the Page or Instagram account for both
//! directions; bodies without an entry (dashboard samples) fall back to the event's own business side.

use std::fmt;

use crate::event::{Event, EventKind};

/// The person on the other side of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Counterpart<'e> {
    /// A page-scoped (PSID) or Instagram-scoped (IGSID) user id.
    Id(&'e str),
    /// A `user_ref`: a chat-plugin guest or a checkbox opt-in, before a PSID is known.
    UserRef(&'e str),
}

/// The conversation of one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conversation<'e> {
    /// The body's `object` (`page`, `instagram`, ...), empty when absent.
    pub object: &'e str,
    /// The Page or Instagram account id.
    pub account: &'e str,
    pub counterpart: Counterpart<'e>,
}

impl fmt::Display for Conversation<'_> {
    /// The stable key stored with every event: `object:account:id` or `object:account:ref:user_ref`.
    /// Scoped ids are decimal, so the `ref:` prefix cannot collide with one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.counterpart {
            Counterpart::Id(id) => write!(f, "{}:{}:{}", self.object, self.account, id),
            Counterpart::UserRef(user_ref) => {
                write!(f, "{}:{}:ref:{}", self.object, self.account, user_ref)
            }
        }
    }
}

impl<'a> Event<'a> {
    /// The conversation the event belongs to, or `None` for events between no account and person (feed
    /// changes, app roles, events without sender and recipient).
    pub fn conversation(&self) -> Option<Conversation<'_>> {
        if matches!(self.kind, EventKind::Change(_)) {
            return None;
        }
        let sender = self.sender.as_ref().map(|id| id.as_str());
        let recipient = self.recipient.as_ref().map(|id| id.as_str());
        let outbound = matches!(self.kind, EventKind::MessageEcho(_));
        let own_side = if outbound { sender } else { recipient };
        let account = self.entry_id.as_ref().map(|id| id.as_str()).or(own_side)?;
        let counterpart = if sender == Some(account) || outbound {
            recipient.map(Counterpart::Id)
        } else {
            sender
                .map(Counterpart::Id)
                .or_else(|| self.sender_user_ref.as_deref().map(Counterpart::UserRef))
        }?;
        Some(Conversation {
            object: self.object.as_deref().unwrap_or(""),
            account,
            counterpart,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::parse;

    fn key(body: &str) -> Option<String> {
        let events = parse(body.as_bytes()).unwrap();
        events[0].conversation().map(|c| c.to_string())
    }

    #[test]
    fn an_inbound_message_and_its_echo_share_a_conversation() {
        let inbound = r#"{"object":"page","entry":[{"id":"10","time":1,"messaging":[
            {"sender":{"id":"77"},"recipient":{"id":"10"},"timestamp":1,"message":{"mid":"m1","text":"hi"}}]}]}"#;
        let echo = r#"{"object":"page","entry":[{"id":"10","time":1,"messaging":[
            {"sender":{"id":"10"},"recipient":{"id":"77"},"timestamp":2,
             "message":{"mid":"m2","is_echo":true,"app_id":5,"text":"hello"}}]}]}"#;
        assert_eq!(key(inbound).as_deref(), Some("page:10:77"));
        assert_eq!(key(echo).as_deref(), Some("page:10:77"));
    }

    #[test]
    fn a_chat_plugin_guest_is_keyed_by_user_ref() {
        let body = r#"{"object":"page","entry":[{"id":"10","time":1,"messaging":[
            {"sender":{"user_ref":"abc"},"recipient":{"id":"10"},"timestamp":1,"message":{"mid":"m1","text":"hi"}}]}]}"#;
        assert_eq!(key(body).as_deref(), Some("page:10:ref:abc"));
    }

    #[test]
    fn a_body_without_entry_falls_back_to_the_recipient() {
        let body = r#"{"field":"messages","value":{"sender":{"id":"77"},"recipient":{"id":"10"},
            "timestamp":"1","message":{"mid":"m1","text":"hi"}}}"#;
        assert_eq!(key(body).as_deref(), Some(":10:77"));
    }

    #[test]
    fn feed_changes_and_app_roles_have_no_conversation() {
        let change = r#"{"object":"instagram","entry":[{"id":"10","time":1,"changes":[
            {"field":"comments","value":{"id":"c1","text":"nice"}}]}]}"#;
        let roles = r#"{"object":"page","entry":[{"id":"10","time":1,"messaging":[
            {"recipient":{"id":"10"},"timestamp":1,"app_roles":{"123":["primary_receiver"]}}]}]}"#;
        assert_eq!(key(change), None);
        assert_eq!(key(roles), None);
    }
}
