//! Which events a sink gets (CONTRACTS.md section 5).
//!
//! Every list is "any of these"; an empty list lets everything through. Standby events (threads another
//! app owns) and echoes (what the business itself sent) are left out unless asked for, because most
//! consumers would otherwise answer them: asking means `include_standby` / `include_echoes`, or naming
//! the `standby` channel / the `message_echo` kind in the lists.

use hookline_store::StoredEvent;

/// A sink's event filter.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filter {
    /// Event kinds (`message`, `postback`, ...).
    pub kinds: Vec<String>,
    /// Webhook objects (`page`, `instagram`).
    pub objects: Vec<String>,
    /// Page or Instagram account ids (the entry id).
    pub accounts: Vec<String>,
    /// Arrays events come from (`messaging`, `standby`, `changes`, ...).
    pub channels: Vec<String>,
    pub include_standby: bool,
    pub include_echoes: bool,
}

impl Filter {
    pub fn matches(&self, event: &StoredEvent) -> bool {
        let any = |list: &[String], value: Option<&str>| {
            list.is_empty() || value.is_some_and(|v| list.iter().any(|item| item == v))
        };
        if event.channel == "standby"
            && !self.include_standby
            && !self.channels.iter().any(|c| c == "standby")
        {
            return false;
        }
        if event.kind == "message_echo"
            && !self.include_echoes
            && !self.kinds.iter().any(|k| k == "message_echo")
        {
            return false;
        }
        any(&self.kinds, Some(&event.kind))
            && any(&self.objects, event.object.as_deref())
            && any(&self.accounts, event.entry_id.as_deref())
            && any(&self.channels, Some(&event.channel))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(object: &str, entry: &str, channel: &str, kind: &str) -> StoredEvent {
        StoredEvent {
            id: 1,
            delivery_id: 1,
            received_at_ms: 0,
            dedup_key: "v1:0".into(),
            object: Some(object.into()),
            entry_id: Some(entry.into()),
            channel: channel.into(),
            kind: kind.into(),
            field: None,
            sender: None,
            user_ref: None,
            recipient: None,
            timestamp_ms: None,
            mid: None,
            conversation_key: None,
            duplicates: 0,
            raw: None,
        }
    }

    #[test]
    fn the_default_takes_everything_but_standby_and_echoes() {
        let filter = Filter::default();
        assert!(filter.matches(&event("page", "1", "messaging", "message")));
        assert!(filter.matches(&event("instagram", "2", "changes", "change")));
        assert!(!filter.matches(&event("page", "1", "standby", "message")));
        assert!(!filter.matches(&event("page", "1", "messaging", "message_echo")));
    }

    #[test]
    fn standby_and_echoes_come_through_when_asked_for() {
        let asked = Filter {
            include_standby: true,
            include_echoes: true,
            ..Filter::default()
        };
        assert!(asked.matches(&event("page", "1", "standby", "message")));
        assert!(asked.matches(&event("page", "1", "messaging", "message_echo")));
        let named = Filter {
            kinds: vec!["message_echo".into()],
            channels: vec!["standby".into(), "messaging".into()],
            ..Filter::default()
        };
        assert!(named.matches(&event("page", "1", "messaging", "message_echo")));
        assert!(named.matches(&event("page", "1", "standby", "message_echo")));
        assert!(!named.matches(&event("page", "1", "messaging", "message")));
    }

    #[test]
    fn every_list_must_match() {
        let filter = Filter {
            kinds: vec!["message".into(), "postback".into()],
            objects: vec!["instagram".into()],
            accounts: vec!["17841".into()],
            ..Filter::default()
        };
        assert!(filter.matches(&event("instagram", "17841", "messaging", "postback")));
        assert!(!filter.matches(&event("page", "17841", "messaging", "postback")));
        assert!(!filter.matches(&event("instagram", "999", "messaging", "message")));
        assert!(!filter.matches(&event("instagram", "17841", "messaging", "reaction")));
    }
}
