//! The per-conversation and per-account state a projector keeps up to date, one event at a time.
//!
//! Every field merges in a way that does not depend on order or repetition: a [`Register`] keeps the
//! value of the event with the greatest `(timestamp, dedup key)` (a total order, so two stores agree on
//! ties), times are maxima, deleted mids a set. Absorbing the same events in any order, any number of
//! times, gives equal summaries; `summaries_do_not_depend_on_order_or_repetition` checks it.

use std::collections::BTreeSet;

use hookline_meta::Event;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::facts::{FactKind, Facts};
use super::view::{Counterpart, Direction, Preview};
use crate::model::StoredEvent;

/// The value of the latest event (by `(at, key)`) that set it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Register<T> {
    pub at: i64,
    pub key: String,
    pub value: T,
}

/// Sets `register` to `value` if `(at, key)` is later than what it holds.
fn set<T>(register: &mut Option<Register<T>>, at: i64, key: &str, value: impl FnOnce() -> T) {
    let later = match register {
        None => true,
        Some(held) => (at, key) > (held.at, held.key.as_str()),
    };
    if later {
        *register = Some(Register {
            at,
            key: key.to_owned(),
            value: value(),
        });
    }
}

/// Where an event sorts: its time (events without one first), then its dedup key.
pub fn position(event: &StoredEvent) -> (i64, &str) {
    (event.timestamp_ms.unwrap_or(i64::MIN), &event.dedup_key)
}

/// A conversation's projected state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub last_event_ms: Option<i64>,
    /// The latest thread-control event's new owner (`None` inside when it named none).
    pub owner: Option<Register<Option<String>>>,
    /// Whether the latest event came through `standby`.
    pub standby: Option<Register<bool>>,
    pub last_message: Option<Register<Preview>>,
    pub last_outbound_ms: Option<i64>,
    pub referral: Option<Register<Value>>,
    /// Mids deleted by their author, so a deleted last message shows as deleted whichever came first.
    pub deleted: BTreeSet<String>,
}

impl Summary {
    /// Merges one of the conversation's events.
    pub fn absorb(&mut self, stored: &StoredEvent, event: &Event<'_>) {
        self.merge(stored, &Facts::of(event));
    }

    /// Merges one of the conversation's events, by its [`Facts`].
    pub fn merge(&mut self, stored: &StoredEvent, facts: &Facts) {
        let (at, key) = position(stored);
        if let Some(ms) = stored.timestamp_ms {
            self.last_event_ms = self.last_event_ms.max(Some(ms));
        }
        set(&mut self.standby, at, key, || facts.standby);
        match &facts.kind {
            FactKind::Message {
                outbound,
                text,
                attachment_types,
            } => {
                if *outbound && stored.timestamp_ms.is_some() {
                    self.last_outbound_ms = self.last_outbound_ms.max(stored.timestamp_ms);
                }
                set(&mut self.last_message, at, key, || Preview {
                    mid: stored.mid.clone(),
                    direction: if *outbound {
                        Direction::Out
                    } else {
                        Direction::In
                    },
                    text: text.clone(),
                    timestamp_ms: stored.timestamp_ms,
                    attachment_types: attachment_types.clone(),
                    deleted: false,
                    // Which send an echo is, is known only when read, against the sends of that time.
                    send_id: None,
                });
            }
            FactKind::Deleted { mid } => {
                self.deleted.insert(mid.clone());
            }
            FactKind::Owner(owner) => set(&mut self.owner, at, key, || owner.clone()),
            FactKind::Policy(_) | FactKind::Other => {}
        }
        if let Some(referral) = &facts.referral {
            set(&mut self.referral, at, key, || {
                let mut referral = referral.clone();
                referral["timestamp_ms"] = json!(stored.timestamp_ms);
                referral
            });
        }
    }

    /// The last message as listed: marked deleted if its author deleted it.
    pub fn preview(&self) -> Option<Preview> {
        let mut preview = self.last_message.as_ref()?.value.clone();
        if preview
            .mid
            .as_ref()
            .is_some_and(|mid| self.deleted.contains(mid))
        {
            preview.deleted = true;
            preview.text = None;
        }
        Some(preview)
    }
}

/// An account's projected state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AccountSummary {
    pub last_event_ms: Option<i64>,
    pub policy: Option<Register<Value>>,
}

impl AccountSummary {
    /// Merges one event addressed to the account.
    pub fn absorb(&mut self, stored: &StoredEvent, event: &Event<'_>) {
        self.merge(stored, &Facts::of(event));
    }

    /// Merges one event addressed to the account, by its [`Facts`].
    pub fn merge(&mut self, stored: &StoredEvent, facts: &Facts) {
        let (at, key) = position(stored);
        if let Some(ms) = stored.timestamp_ms {
            self.last_event_ms = self.last_event_ms.max(Some(ms));
        }
        if let FactKind::Policy(policy) = &facts.kind {
            set(&mut self.policy, at, key, || {
                let mut value = policy.clone();
                if let Value::Object(map) = &mut value {
                    map.insert("timestamp_ms".into(), json!(stored.timestamp_ms));
                }
                value
            });
        }
    }
}

/// The counterpart of a conversation key (`object:account:id` or `object:account:ref:user_ref`).
pub fn counterpart_of(key: &str) -> Option<(String, String, Counterpart)> {
    let (object, rest) = key.split_once(':')?;
    let (account, rest) = rest.split_once(':')?;
    let counterpart = match rest.strip_prefix("ref:") {
        Some(user_ref) => Counterpart::UserRef(user_ref.to_owned()),
        None => Counterpart::Id(rest.to_owned()),
    };
    Some((object.to_owned(), account.to_owned(), counterpart))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::reparse::with_event;
    use hookline_meta::ParseOptions;

    fn event(id: i64, ts: i64, raw: &str) -> StoredEvent {
        StoredEvent {
            id,
            delivery_id: id,
            received_at_ms: 0,
            dedup_key: format!("v1:{id:02}"),
            object: Some("page".into()),
            entry_id: Some("100".into()),
            channel: "messaging".into(),
            kind: String::new(),
            field: None,
            sender: None,
            user_ref: None,
            recipient: None,
            timestamp_ms: Some(ts),
            mid: serde_json::from_str::<Value>(raw).ok().and_then(|v| {
                v.pointer("/message/mid")
                    .and_then(|m| m.as_str().map(str::to_owned))
            }),
            conversation_key: Some("page:100:7".into()),
            duplicates: 0,
            raw: Some(raw.into()),
        }
    }

    fn absorb_all(events: &[StoredEvent]) -> Summary {
        let mut summary = Summary::default();
        for stored in events {
            with_event(stored, &ParseOptions::default(), |e| {
                summary.absorb(stored, e)
            });
        }
        summary
    }

    fn sample() -> Vec<StoredEvent> {
        vec![
            event(
                1,
                10,
                r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":10,"message":{"mid":"m.1","text":"hi","referral":{"ref":"spring","source":"ADS","type":"OPEN_THREAD","ad_id":"55"}}}"#,
            ),
            event(
                2,
                20,
                r#"{"sender":{"id":"100"},"recipient":{"id":"7"},"timestamp":20,"message":{"mid":"m.2","is_echo":true,"app_id":263902037430900,"text":"hello"}}"#,
            ),
            event(
                3,
                30,
                r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":30,"message":{"mid":"m.3","text":"oops"}}"#,
            ),
            event(
                4,
                40,
                r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":40,"message":{"mid":"m.3","is_deleted":true}}"#,
            ),
            event(
                5,
                25,
                r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":25,"pass_thread_control":{"new_owner_app_id":"123","previous_owner_app_id":"456"}}"#,
            ),
        ]
    }

    #[test]
    fn a_summary_keeps_the_latest_message_owner_referral_and_deletions() {
        let summary = absorb_all(&sample());
        assert_eq!(summary.last_event_ms, Some(40));
        assert_eq!(summary.last_outbound_ms, Some(20));
        assert_eq!(
            summary.owner.as_ref().unwrap().value.as_deref(),
            Some("123")
        );
        let preview = summary.preview().unwrap();
        assert_eq!(preview.mid.as_deref(), Some("m.3"));
        assert!(preview.deleted && preview.text.is_none());
        let referral = &summary.referral.as_ref().unwrap().value;
        assert_eq!(
            (referral["ref"].as_str(), referral["timestamp_ms"].as_i64()),
            (Some("spring"), Some(10))
        );
    }

    #[test]
    fn summaries_do_not_depend_on_order_or_repetition() {
        let events = sample();
        let expected = absorb_all(&events);
        let mut reversed: Vec<_> = events.iter().rev().cloned().collect();
        reversed.extend(events.iter().cloned());
        assert_eq!(absorb_all(&reversed), expected);
        let mut rotated = events.clone();
        rotated.rotate_left(2);
        rotated.push(events[1].clone());
        assert_eq!(absorb_all(&rotated), expected);
    }

    #[test]
    fn ties_in_time_are_broken_by_dedup_key() {
        let a = event(
            1,
            10,
            r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":10,"message":{"mid":"m.a","text":"a"}}"#,
        );
        let b = event(
            2,
            10,
            r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":10,"message":{"mid":"m.b","text":"b"}}"#,
        );
        let one = absorb_all(&[a.clone(), b.clone()]);
        let other = absorb_all(&[b, a]);
        assert_eq!(one, other);
        assert_eq!(one.preview().unwrap().mid.as_deref(), Some("m.b"));
    }

    #[test]
    fn the_latest_thread_control_event_names_the_owner_and_standby_follows_the_latest_event() {
        let take = event(
            6,
            50,
            r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":50,"take_thread_control":{"new_owner_app_id":"999","previous_owner_app_id":"123"}}"#,
        );
        let mut standby = event(
            7,
            60,
            r#"{"sender":{"id":"7"},"recipient":{"id":"100"},"timestamp":60,"message":{"mid":"m.9","text":"anyone?"}}"#,
        );
        standby.channel = "standby".into();
        let mut events = sample();
        events.push(take);
        let summary = absorb_all(&events);
        assert_eq!(
            summary.owner.as_ref().unwrap().value.as_deref(),
            Some("999")
        );
        assert!(!summary.standby.as_ref().unwrap().value);
        events.push(standby);
        let summary = absorb_all(&events);
        assert!(summary.standby.as_ref().unwrap().value);
        assert_eq!(summary.preview().unwrap().text.as_deref(), Some("anyone?"));
    }

    #[test]
    fn an_account_keeps_its_latest_policy_enforcement() {
        let policy = |id, ts, action: &str| {
            event(
                id,
                ts,
                &format!(
                    r#"{{"recipient":{{"id":"100"}},"timestamp":{ts},"policy_enforcement":{{"action":"{action}","reason":"spam"}}}}"#
                ),
            )
        };
        let events = [
            policy(1, 20, "block"),
            policy(2, 10, "warning"),
            policy(3, 30, "unblock"),
        ];
        for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0]] {
            let mut account = AccountSummary::default();
            for i in order {
                let stored = &events[i];
                with_event(stored, &ParseOptions::default(), |e| {
                    account.absorb(stored, e)
                });
            }
            let policy = &account.policy.as_ref().unwrap().value;
            assert_eq!(
                (policy["action"].as_str(), policy["timestamp_ms"].as_i64()),
                (Some("unblock"), Some(30))
            );
            assert_eq!(account.last_event_ms, Some(30));
        }
    }

    #[test]
    fn keys_split_into_object_account_and_counterpart() {
        assert_eq!(
            counterpart_of("page:100:7"),
            Some(("page".into(), "100".into(), Counterpart::Id("7".into())))
        );
        assert_eq!(
            counterpart_of("page:100:ref:abc:d"),
            Some((
                "page".into(),
                "100".into(),
                Counterpart::UserRef("abc:d".into())
            ))
        );
    }
}
