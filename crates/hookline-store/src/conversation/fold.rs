//! A conversation's messages and timeline, folded from its events when read.
//!
//! Events are sorted by `(timestamp, dedup key)` and each is turned into a [`Fact`]; the facts then
//! build the state in that order. The set of events decides the result: arrival order and redeliveries
//! (already one row per dedup key in the store, and skipped here again) change nothing.
//!
//! - A message's content comes from its `message` or `message_echo` event; reactions, edits, deletions
//!   and receipts that arrive before it still apply once it is there.
//! - Reactions: per message and person, the latest reaction event decides (react sets, unreact removes).
//! - Edits: kept in `num_edit` order; the text is the latest edit's.
//! - Outbound status: `read` when a read watermark reaches the message's time, or an Instagram read names
//!   it or a later message; `delivered` likewise with delivery watermarks and mids; else `sent`.
//! - Sends ([`fold_with_sends`]): an echo whose `metadata` is a send's id, or whose mid is a send's
//!   `message_id`, is that send (`this_app`, with its `send_id`); a send without such an echo is a
//!   message of its own at its creation time, `pending` or `failed` until Meta answered, then with the
//!   status its receipts give. Reactions, deletions and receipts naming its `message_id` apply to it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use hookline_meta::message::Message as MetaMessage;
use hookline_meta::{Event, EventKind, ParseOptions};
use serde_json::Value;

use super::facts::referral_of;
use super::reparse::with_event;
use super::sends;
use super::summary::position;
use super::view::{Attachment, Direction, Edit, Message, Reaction, TimelineItem};
use crate::model::StoredEvent;
use crate::send::StoredSend;

/// A conversation's messages and its timeline, both in `(timestamp, dedup key)` order, each item with
/// that position for paging.
#[derive(Debug, Default)]
pub struct Folded {
    pub messages: Vec<(Position, Message)>,
    pub timeline: Vec<(Position, TimelineItem)>,
}

/// Where an item sorts: its event's time (none first) and dedup key.
pub type Position = (i64, String);

/// What one event contributes.
enum Fact {
    /// A message or an echo, with the echo's `metadata` (which names a send of hookline's).
    Message(Box<Message>, Option<String>),
    Deleted(String),
    Edit(String, Edit),
    Reaction {
        mid: String,
        by: String,
        now: Option<Reaction>,
    },
    Delivered {
        watermark: Option<i64>,
        mids: Vec<String>,
    },
    Read {
        watermark: Option<i64>,
        mid: Option<String>,
    },
    Other,
}

/// Folds a conversation's events (read with their raw JSON) into its messages and timeline.
pub fn fold(events: &[StoredEvent], options: &ParseOptions) -> Folded {
    fold_with_sends(events, &[], options)
}

/// Folds a conversation's events (read with their raw JSON) and its sends
/// ([`crate::EventStore::conversation_sends`]) into its messages and timeline: each send is one
/// message, joined to its echo when that has arrived (see the module's notes).
pub fn fold_with_sends(
    events: &[StoredEvent],
    sends: &[StoredSend],
    options: &ParseOptions,
) -> Folded {
    let mut sorted: Vec<&StoredEvent> = events.iter().collect();
    sorted.sort_by(|a, b| position(a).cmp(&position(b)));
    let mut seen = HashSet::new();
    sorted.retain(|e| seen.insert(e.dedup_key.as_str()));

    let mut state = State::default();
    let mut entries = Vec::with_capacity(sorted.len());
    for stored in sorted {
        let Some((fact, note, detail, standby)) = with_event(stored, options, |event| {
            let detail = serde_json::to_value(&event.kind).unwrap_or(Value::Null);
            (fact(stored, event), note(event), detail, event.is_standby())
        }) else {
            continue;
        };
        state.apply(&fact);
        let message_mid = match &fact {
            Fact::Message(message, _) => Some(message.mid.clone()),
            _ => None,
        };
        entries.push((stored, message_mid, note, detail, standby));
    }
    state.join(sends);

    let messages = state.messages();
    // Sends not answered yet have no mid, and no event to be the message of.
    let by_mid: BTreeMap<&str, &Message> = messages
        .iter()
        .filter(|(_, m)| !m.mid.is_empty())
        .map(|(_, m)| (m.mid.as_str(), m))
        .collect();
    let timeline = entries
        .into_iter()
        .map(|(stored, mid, note, detail, standby)| {
            let (at, key) = position(stored);
            let message = mid.and_then(|mid| by_mid.get(mid.as_str()).map(|m| (*m).clone()));
            let item = TimelineItem {
                event_id: stored.id,
                dedup_key: stored.dedup_key.clone(),
                kind: stored.kind.clone(),
                timestamp_ms: stored.timestamp_ms,
                standby,
                note: if message.is_some() { None } else { note },
                message,
                detail,
            };
            ((at, key.to_owned()), item)
        })
        .collect();
    Folded { messages, timeline }
}

#[derive(Default)]
struct State {
    /// Messages by mid (a send Meta has not answered by its id), with where they sort.
    messages: BTreeMap<String, (Position, Message)>,
    /// Every echo's metadata, by mid: what names a send.
    echoes: BTreeMap<String, Option<String>>,
    deleted: BTreeSet<String>,
    edits: BTreeMap<String, Vec<Edit>>,
    /// The standing reaction per (mid, person); later events replace earlier ones.
    reactions: BTreeMap<(String, String), Option<Reaction>>,
    delivered_watermark: Option<i64>,
    delivered_mids: BTreeSet<String>,
    read_watermark: Option<i64>,
    read_mids: BTreeSet<String>,
}

impl State {
    fn apply(&mut self, fact: &Fact) {
        match fact {
            Fact::Message(message, metadata) => {
                if message.direction == Direction::Out {
                    self.echoes.insert(message.mid.clone(), metadata.clone());
                }
                let at = (message.timestamp_ms.unwrap_or(i64::MIN), String::new());
                self.messages
                    .entry(message.mid.clone())
                    .or_insert_with(|| (at, (**message).clone()));
            }
            Fact::Deleted(mid) => {
                self.deleted.insert(mid.clone());
            }
            Fact::Edit(mid, edit) => self
                .edits
                .entry(mid.clone())
                .or_default()
                .push(edit.clone()),
            Fact::Reaction { mid, by, now } => {
                self.reactions
                    .insert((mid.clone(), by.clone()), now.clone());
            }
            Fact::Delivered { watermark, mids } => {
                self.delivered_watermark = self.delivered_watermark.max(*watermark);
                self.delivered_mids.extend(mids.iter().cloned());
            }
            Fact::Read { watermark, mid } => {
                self.read_watermark = self.read_watermark.max(*watermark);
                self.read_mids.extend(mid.iter().cloned());
            }
            Fact::Other => {}
        }
    }

    /// Joins the sends to their echoes: an echo names its send by metadata (first) or mid, and a send
    /// named by any echo is shown as that echo; the others are added as messages of their own. Every
    /// echo counts, not only the message kept for its mid, as the backends' SQL counts them.
    fn join(&mut self, sends: &[StoredSend]) {
        let by_id: HashMap<&str, &StoredSend> = sends.iter().map(|s| (s.id.as_str(), s)).collect();
        let by_message_id: HashMap<&str, &StoredSend> = sends
            .iter()
            .filter_map(|s| Some((s.message_id.as_deref()?, s)))
            .collect();
        let mut echoed: HashSet<&str> = HashSet::new();
        for (mid, metadata) in &self.echoes {
            let named = metadata.as_deref().and_then(|m| by_id.get(m).copied());
            let answered = by_message_id.get(mid.as_str()).copied();
            echoed.extend(named.iter().chain(answered.iter()).map(|s| s.id.as_str()));
            let Some(send) = named.or(answered) else {
                continue;
            };
            if let Some((_, message)) = self.messages.get_mut(mid)
                && message.direction == Direction::Out
            {
                message.send_id = Some(send.id.to_string());
                message.echo_source = Some("this_app");
            }
        }
        let mut waiting: Vec<&StoredSend> = sends
            .iter()
            .filter(|s| !echoed.contains(s.id.as_str()))
            .collect();
        // In id order, so that which one keeps a contested key (only bad data has any) is always the same.
        waiting.sort_by(|a, b| a.id.cmp(&b.id));
        for send in waiting {
            let key = send
                .message_id
                .clone()
                .unwrap_or_else(|| send.id.to_string());
            let at = (send.created_at_ms, String::new());
            self.messages
                .entry(key)
                .or_insert_with(|| (at, sends::message(send)));
        }
    }

    /// Every message as it stands after all facts, in order.
    fn messages(mut self) -> Vec<(Position, Message)> {
        // An Instagram read names the latest message seen; everything up to its time was seen too.
        let read_upto = self
            .read_mids
            .iter()
            .filter_map(|mid| self.messages.get(mid)?.1.timestamp_ms)
            .max()
            .max(self.read_watermark);
        let mut out: Vec<(Position, Message)> = Vec::with_capacity(self.messages.len());
        for (mid, (_, mut message)) in std::mem::take(&mut self.messages) {
            let mut edits = self.edits.remove(&mid).unwrap_or_default();
            edits.sort_by_key(|e| (e.num_edit, e.timestamp_ms));
            if let Some(latest) = edits.last() {
                message.text = latest.text.clone();
            }
            message.edit_count = edits
                .iter()
                .filter_map(|e| e.num_edit)
                .max()
                .unwrap_or(0)
                .max(edits.len() as u32);
            message.edits = edits;
            message.reactions = self
                .reactions
                .range((mid.clone(), String::new())..)
                .take_while(|((m, _), _)| m == &mid)
                .filter_map(|(_, reaction)| reaction.clone())
                .collect();
            if self.deleted.contains(&mid) {
                message.deleted = true;
                message.text = None;
                message.attachments.clear();
                message.edits.clear();
            }
            // A send's `pending` or `failed` stands: no receipt is about a message Meta has not taken.
            if message.direction == Direction::Out && message.status.is_none() {
                message.status = Some(self.status(&message, read_upto));
            }
            let at = (message.timestamp_ms.unwrap_or(i64::MIN), mid);
            out.push((at, message));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn status(&self, message: &Message, read_upto: Option<i64>) -> &'static str {
        let reached = |watermark: Option<i64>| matches!((watermark, message.timestamp_ms), (Some(w), Some(t)) if w >= t);
        if self.read_mids.contains(&message.mid) || reached(read_upto) {
            "read"
        } else if self.delivered_mids.contains(&message.mid) || reached(self.delivered_watermark) {
            "delivered"
        } else {
            "sent"
        }
    }
}

fn fact(stored: &StoredEvent, event: &Event<'_>) -> Fact {
    let text = |t: Option<&hookline_meta::text::Text<'_>>| t.map(|t| t.to_string());
    let by = || {
        event
            .sender
            .as_ref()
            .map(|id| id.to_string())
            .or_else(|| event.sender_user_ref.as_ref().map(|r| r.to_string()))
            .unwrap_or_default()
    };
    match &event.kind {
        EventKind::Message(message) => message_fact(stored, event, message, None),
        EventKind::MessageEcho(echo) => message_fact(stored, event, &echo.message, Some(echo)),
        EventKind::MessageDeleted { mid: Some(mid) } => Fact::Deleted(mid.to_string()),
        EventKind::MessageEdit(edit) => match &edit.mid {
            Some(mid) => Fact::Edit(
                mid.to_string(),
                Edit {
                    num_edit: edit.num_edit,
                    text: text(edit.text.as_ref()),
                    timestamp_ms: stored.timestamp_ms,
                },
            ),
            None => Fact::Other,
        },
        EventKind::Reaction(reaction) => match &reaction.mid {
            Some(mid) => {
                let unreact = reaction
                    .action
                    .as_ref()
                    .is_some_and(|a| a.as_str() == "unreact");
                Fact::Reaction {
                    mid: mid.to_string(),
                    by: by(),
                    now: (!unreact).then(|| Reaction {
                        by: by(),
                        reaction: reaction.reaction.as_ref().map(|r| r.as_str().to_owned()),
                        emoji: text(reaction.emoji.as_ref()),
                    }),
                }
            }
            None => Fact::Other,
        },
        EventKind::Delivery(delivery) => Fact::Delivered {
            watermark: delivery.watermark.as_ref().and_then(|w| w.ms()),
            mids: delivery.mids.iter().map(|m| m.to_string()).collect(),
        },
        EventKind::Read(read) => Fact::Read {
            watermark: read.watermark.as_ref().and_then(|w| w.ms()),
            mid: text(read.mid.as_ref()),
        },
        _ => Fact::Other,
    }
}

fn message_fact(
    stored: &StoredEvent,
    event: &Event<'_>,
    message: &MetaMessage<'_>,
    echo: Option<&hookline_meta::message::Echo<'_>>,
) -> Fact {
    let Some(mid) = message.mid.as_ref() else {
        return Fact::Other;
    };
    let metadata = echo
        .and_then(|e| e.metadata.as_ref())
        .map(|m| m.to_string());
    let attachments = message
        .attachments
        .iter()
        .map(|a| Attachment {
            kind: a.type_name().to_owned(),
            url: a.url().map(str::to_owned),
            title: serde_json::to_value(a)
                .ok()
                .and_then(|v| v.get("title").and_then(Value::as_str).map(str::to_owned)),
        })
        .collect();
    Fact::Message(
        Box::new(Message {
            mid: mid.to_string(),
            direction: if echo.is_some() {
                Direction::Out
            } else {
                Direction::In
            },
            timestamp_ms: stored.timestamp_ms,
            text: message.text.as_ref().map(|t| t.to_string()),
            attachments,
            status: None,
            reactions: Vec::new(),
            edit_count: 0,
            edits: Vec::new(),
            deleted: false,
            echo_source: echo.map(|e| e.source.as_str()),
            app_id: echo
                .and_then(|e| e.app_id.as_ref())
                .map(|id| id.to_string()),
            quick_reply: message.quick_reply.as_ref().map(json),
            reply_to: message.reply_to.as_ref().map(json),
            referral: referral_of(event),
            standby: event.is_standby(),
            dedup_key: stored.dedup_key.clone(),
            send_id: None,
            send_error: None,
        }),
        metadata,
    )
}

fn json<T: serde::Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// A readable line for an event that is not a message.
fn note(event: &Event<'_>) -> Option<String> {
    let text = |t: &Option<hookline_meta::text::Text<'_>>| t.as_deref().unwrap_or("").to_owned();
    let id = |i: &Option<hookline_meta::id::Id<'_>>| {
        i.as_ref().map_or_else(|| "?".to_owned(), |i| i.to_string())
    };
    Some(match &event.kind {
        EventKind::Message(_) | EventKind::MessageEcho(_) => return None,
        EventKind::Postback(p) => match &p.payload {
            Some(payload) => format!("Tapped “{}” (payload {payload})", text(&p.title)),
            None => format!("Tapped “{}”", text(&p.title)),
        },
        EventKind::Referral(r) => {
            referral_note(&serde_json::to_value(&r.referral).unwrap_or_default())
        }
        EventKind::Optin(o) => format!(
            "Opted in{}",
            o.optin_type
                .as_ref()
                .map(|t| format!(" ({})", t.as_str()))
                .unwrap_or_default()
        ),
        EventKind::PassThreadControl(c) => format!(
            "Thread passed from app {} to app {}",
            id(&c.previous_owner_app_id),
            id(&c.new_owner_app_id)
        ),
        EventKind::TakeThreadControl(c) => format!(
            "Thread taken by app {} from app {}",
            id(&c.new_owner_app_id),
            id(&c.previous_owner_app_id)
        ),
        EventKind::RequestThreadControl(r) => {
            format!("App {} asked for the thread", id(&r.requested_owner_app_id))
        }
        EventKind::Reaction(r) => match (&r.action, &r.emoji) {
            (Some(a), _) if a.as_str() == "unreact" => "Removed a reaction".to_owned(),
            (_, Some(emoji)) => format!("Reacted {emoji}"),
            _ => "Reacted".to_owned(),
        },
        EventKind::MessageEdit(e) => match e.num_edit {
            Some(n) => format!("Edited a message (edit {n})"),
            None => "Edited a message".to_owned(),
        },
        EventKind::MessageDeleted { .. } => "Deleted a message".to_owned(),
        EventKind::Delivery(_) => "Delivered".to_owned(),
        EventKind::Read(_) => "Seen".to_owned(),
        EventKind::AccountLinking(a) => format!(
            "Account {}",
            a.status.as_ref().map_or("linking", |s| s.as_str())
        ),
        EventKind::Unknown(u) => format!(
            "An event hookline does not know ({})",
            u.field.as_deref().unwrap_or("no kind key")
        ),
        other => other.name().replace('_', " "),
    })
}

fn referral_note(referral: &Value) -> String {
    let field = |name: &str| referral.get(name).and_then(Value::as_str);
    let mut line = format!("Arrived from {}", field("source").unwrap_or("a referral"));
    if let Some(ad) = referral.get("ad_id").and_then(|v| {
        v.as_str()
            .map(str::to_owned)
            .or_else(|| v.as_u64().map(|n| n.to_string()))
    }) {
        line.push_str(&format!(", ad {ad}"));
    }
    if let Some(reference) = field("ref") {
        line.push_str(&format!(", ref {reference}"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = r#""sender":{"id":"7"},"recipient":{"id":"100"}"#;
    const PAGE: &str = r#""sender":{"id":"100"},"recipient":{"id":"7"}"#;

    /// A stored event of the conversation page:100:7 from its raw JSON.
    fn ev(id: i64, kind: &str, ts: i64, raw: String) -> StoredEvent {
        StoredEvent {
            id,
            delivery_id: id,
            received_at_ms: 0,
            dedup_key: format!("v1:{id:03}"),
            object: Some("page".into()),
            entry_id: Some("100".into()),
            channel: "messaging".into(),
            kind: kind.into(),
            field: None,
            sender: None,
            user_ref: None,
            recipient: None,
            timestamp_ms: Some(ts),
            mid: None,
            conversation_key: Some("page:100:7".into()),
            duplicates: 0,
            raw: Some(raw),
        }
    }

    fn inbound(id: i64, ts: i64, mid: &str, text: &str) -> StoredEvent {
        ev(
            id,
            "message",
            ts,
            format!(r#"{{{USER},"timestamp":{ts},"message":{{"mid":"{mid}","text":"{text}"}}}}"#),
        )
    }

    fn echo(id: i64, ts: i64, mid: &str, app: &str) -> StoredEvent {
        ev(
            id,
            "message_echo",
            ts,
            format!(
                r#"{{{PAGE},"timestamp":{ts},"message":{{"mid":"{mid}","is_echo":true,"app_id":{app},"text":"reply"}}}}"#
            ),
        )
    }

    fn reaction(id: i64, ts: i64, by: &str, mid: &str, action: &str) -> StoredEvent {
        ev(
            id,
            "reaction",
            ts,
            format!(
                r#"{{"sender":{{"id":"{by}"}},"recipient":{{"id":"100"}},"timestamp":{ts},"reaction":{{"mid":"{mid}","action":"{action}","reaction":"love","emoji":"\u2764"}}}}"#
            ),
        )
    }

    fn messages(events: &[StoredEvent]) -> Vec<Message> {
        let options = ParseOptions {
            own_app_ids: vec!["555".into()],
        };
        fold(events, &options)
            .messages
            .into_iter()
            .map(|(_, m)| m)
            .collect()
    }

    #[test]
    fn messages_in_and_out_are_in_time_order_with_their_direction_and_source() {
        let got = messages(&[
            echo(2, 20, "m.2", "555"),
            inbound(1, 10, "m.1", "hi"),
            echo(3, 30, "m.3", "263902037430900"),
        ]);
        let summary: Vec<_> = got
            .iter()
            .map(|m| (m.mid.as_str(), m.direction, m.echo_source, m.status))
            .collect();
        assert_eq!(
            summary,
            [
                ("m.1", Direction::In, None, None),
                ("m.2", Direction::Out, Some("this_app"), Some("sent")),
                ("m.3", Direction::Out, Some("page_inbox"), Some("sent")),
            ]
        );
        assert_eq!(got[0].text.as_deref(), Some("hi"));
        assert_eq!(got[1].app_id.as_deref(), Some("555"));
    }

    #[test]
    fn the_latest_reaction_of_each_person_stands() {
        let got = messages(&[
            inbound(1, 10, "m.1", "hi"),
            reaction(2, 20, "100", "m.1", "react"),
            reaction(3, 30, "100", "m.1", "unreact"),
            reaction(4, 40, "100", "m.1", "react"),
            reaction(5, 25, "8", "m.1", "react"),
            reaction(6, 35, "8", "m.1", "unreact"),
        ]);
        let by: Vec<_> = got[0].reactions.iter().map(|r| r.by.as_str()).collect();
        assert_eq!(by, ["100"]);
        assert_eq!(got[0].reactions[0].emoji.as_deref(), Some("\u{2764}"));
    }

    #[test]
    fn edits_keep_their_history_and_the_latest_text_shows() {
        let edit = |id, ts, n, text: &str| {
            ev(
                id,
                "message_edit",
                ts,
                format!(
                    r#"{{{USER},"timestamp":{ts},"message_edit":{{"mid":"m.1","text":"{text}","num_edit":{n}}}}}"#
                ),
            )
        };
        let got = messages(&[
            edit(3, 30, 2, "third"),
            inbound(1, 10, "m.1", "first"),
            edit(2, 20, 1, "second"),
        ]);
        assert_eq!(got[0].text.as_deref(), Some("third"));
        assert_eq!(got[0].edit_count, 2);
        let texts: Vec<_> = got[0]
            .edits
            .iter()
            .map(|e| e.text.as_deref().unwrap())
            .collect();
        assert_eq!(texts, ["second", "third"]);
    }

    #[test]
    fn a_deleted_message_is_a_tombstone_whichever_arrives_first() {
        let deleted = ev(
            2,
            "message_deleted",
            20,
            format!(r#"{{{USER},"timestamp":20,"message":{{"mid":"m.1","is_deleted":true}}}}"#),
        );
        for events in [
            vec![inbound(1, 10, "m.1", "secret"), deleted.clone()],
            vec![deleted.clone(), inbound(1, 10, "m.1", "secret")],
        ] {
            let got = messages(&events);
            assert_eq!(got.len(), 1);
            assert!(got[0].deleted);
            assert_eq!(got[0].text, None);
        }
    }

    #[test]
    fn watermarks_and_read_mids_set_the_status_of_outbound_messages() {
        // Watermarks are real epoch ms: values below 1e12 would be read as seconds.
        const T: i64 = 1_700_000_000_000;
        let delivered = ev(
            10,
            "delivery",
            T + 45,
            format!(
                r#"{{{USER},"timestamp":{},"delivery":{{"watermark":{},"mids":["m.4"]}}}}"#,
                T + 45,
                T + 25
            ),
        );
        let read = ev(
            11,
            "read",
            T + 50,
            format!(
                r#"{{{USER},"timestamp":{},"read":{{"watermark":{}}}}}"#,
                T + 50,
                T + 15
            ),
        );
        let got = messages(&[
            echo(1, T + 10, "m.1", "555"),
            echo(2, T + 20, "m.2", "555"),
            echo(3, T + 30, "m.3", "555"),
            echo(4, T + 40, "m.4", "555"),
            read,
            delivered,
        ]);
        let status: Vec<_> = got.iter().map(|m| m.status.unwrap()).collect();
        assert_eq!(status, ["read", "delivered", "sent", "delivered"]);
    }

    #[test]
    fn an_instagram_read_of_a_message_marks_it_and_everything_before_it_read() {
        let seen = ev(
            9,
            "read",
            50,
            format!(r#"{{{USER},"timestamp":50,"read":{{"mid":"m.2"}}}}"#),
        );
        let got = messages(&[
            seen,
            echo(1, 10, "m.1", "555"),
            echo(2, 20, "m.2", "555"),
            echo(3, 30, "m.3", "555"),
        ]);
        let status: Vec<_> = got.iter().map(|m| m.status.unwrap()).collect();
        assert_eq!(status, ["read", "read", "sent"]);
    }

    #[test]
    fn the_timeline_has_every_event_with_notes_for_the_ones_that_are_not_messages() {
        let postback = ev(
            2,
            "postback",
            20,
            format!(
                r#"{{{USER},"timestamp":20,"postback":{{"title":"Get started","payload":"GET_STARTED"}}}}"#
            ),
        );
        let handover = ev(
            3,
            "pass_thread_control",
            30,
            format!(
                r#"{{{USER},"timestamp":30,"pass_thread_control":{{"new_owner_app_id":"123","previous_owner_app_id":"555"}}}}"#
            ),
        );
        let folded = fold(
            &[handover, inbound(1, 10, "m.1", "hi"), postback],
            &ParseOptions::default(),
        );
        let items: Vec<_> = folded
            .timeline
            .iter()
            .map(|(_, t)| (t.kind.as_str(), t.message.is_some(), t.note.clone()))
            .collect();
        assert_eq!(
            items,
            [
                ("message", true, None),
                (
                    "postback",
                    false,
                    Some("Tapped “Get started” (payload GET_STARTED)".to_owned())
                ),
                (
                    "pass_thread_control",
                    false,
                    Some("Thread passed from app 555 to app 123".to_owned())
                ),
            ]
        );
        assert_eq!(folded.timeline[1].1.detail["payload"], "GET_STARTED");
    }

    #[test]
    fn referrals_and_opt_ins_read_as_notes_and_a_message_keeps_its_reply_and_quick_reply() {
        let referral = ev(
            2,
            "referral",
            20,
            format!(
                r#"{{{USER},"timestamp":20,"referral":{{"ref":"spring","source":"ADS","type":"OPEN_THREAD","ad_id":"6045"}}}}"#
            ),
        );
        let optin = ev(
            3,
            "optin",
            30,
            format!(
                r#"{{{USER},"timestamp":30,"optin":{{"type":"notification_messages","payload":"drops"}}}}"#
            ),
        );
        let reply = ev(
            4,
            "message",
            40,
            format!(
                r#"{{{USER},"timestamp":40,"message":{{"mid":"m.2","text":"Red","quick_reply":{{"payload":"RED"}},"reply_to":{{"mid":"m.1"}}}}}}"#
            ),
        );
        let folded = fold(
            &[optin, reply, referral, inbound(1, 10, "m.1", "hi")],
            &ParseOptions::default(),
        );
        let notes: Vec<_> = folded
            .timeline
            .iter()
            .filter_map(|(_, t)| t.note.clone())
            .collect();
        assert_eq!(
            notes,
            [
                "Arrived from ADS, ad 6045, ref spring",
                "Opted in (notification_messages)"
            ]
        );
        let message = &folded.messages[1].1;
        assert_eq!(message.quick_reply.as_ref().unwrap()["payload"], "RED");
        assert_eq!(message.reply_to.as_ref().unwrap()["mid"], "m.1");
    }

    fn send(n: u128, at: i64, message_id: Option<&str>) -> StoredSend {
        use crate::send::{NewSend, SendId, SendStatus};
        let mut send = StoredSend::pending(&NewSend {
            id: SendId::from_parts(at, n),
            object: "page".into(),
            account_id: "100".into(),
            recipient: crate::conversation::view::Counterpart::Id("7".into()),
            request: serde_json::json!({"message": {"text": "sent by hookline"}}),
            created_at_ms: at,
        });
        if let Some(mid) = message_id {
            send.status = SendStatus::Sent;
            send.message_id = Some(mid.to_owned());
        }
        send
    }

    fn echo_naming(id: i64, ts: i64, mid: &str, metadata: &str) -> StoredEvent {
        ev(
            id,
            "message_echo",
            ts,
            format!(
                r#"{{{PAGE},"timestamp":{ts},"message":{{"mid":"{mid}","is_echo":true,"app_id":42,"metadata":"{metadata}","text":"reply"}}}}"#
            ),
        )
    }

    #[test]
    fn a_send_and_its_echo_are_one_message_however_the_echo_names_it() {
        let options = ParseOptions::default();
        let by_metadata = send(1, 5, None);
        let by_mid = send(2, 15, Some("m.3"));
        let waiting = send(3, 25, Some("m.9"));
        let events = [
            echo_naming(1, 10, "m.2", by_metadata.id.as_str()),
            echo(2, 20, "m.3", "42"),
            echo(3, 30, "m.4", "42"),
        ];
        let sends = [waiting.clone(), by_mid.clone(), by_metadata.clone()];
        let got: Vec<_> = fold_with_sends(&events, &sends, &options)
            .messages
            .into_iter()
            .map(|(_, m)| (m.mid, m.echo_source, m.send_id, m.timestamp_ms))
            .collect();
        let id = |s: &StoredSend| Some(s.id.to_string());
        assert_eq!(
            got,
            [
                ("m.2".into(), Some("this_app"), id(&by_metadata), Some(10)),
                ("m.3".into(), Some("this_app"), id(&by_mid), Some(20)),
                ("m.9".into(), Some("this_app"), id(&waiting), Some(25)),
                ("m.4".into(), Some("other_app"), None, Some(30)),
            ]
        );
        // Without the sends, the same events are what their app id says.
        let plain = fold(&events, &options);
        assert!(plain.messages.iter().all(|(_, m)| m.send_id.is_none()));
        assert_eq!(plain.messages[0].1.echo_source, Some("other_app"));
    }

    #[test]
    fn arrival_order_and_redeliveries_do_not_change_the_fold() {
        let events = vec![
            inbound(1, 10, "m.1", "hi"),
            echo(2, 20, "m.2", "555"),
            reaction(3, 30, "7", "m.2", "react"),
            reaction(4, 40, "7", "m.2", "unreact"),
            ev(
                5,
                "read",
                50,
                format!(r#"{{{USER},"timestamp":50,"read":{{"watermark":20}}}}"#),
            ),
        ];
        let expected = format!("{:?}", fold(&events, &ParseOptions::default()));
        let mut shuffled: Vec<_> = events.iter().rev().cloned().collect();
        shuffled.extend(events.iter().step_by(2).cloned());
        assert_eq!(
            format!("{:?}", fold(&shuffled, &ParseOptions::default())),
            expected
        );
    }
}
