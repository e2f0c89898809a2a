//! Sends ([`crate::send`]) in a conversation: joined to their echoes when the conversation is read.
//!
//! An echo belongs to a send when its `metadata` is the send's id, or its `mid` is the send's
//! `message_id`. A send with such an echo in its conversation is shown as that echo (linked to the send,
//! `this_app`); a send without one is shown as a message of its own, built from its request, at its
//! creation time. Both sides are sets (the conversation's echoes, its sends as they stand), and the join
//! is a function of the two, so the order in which echoes, sends and outcomes arrived changes nothing.
//! The backends' SQL for the conversation list (counts, last message) uses the same rule, over the
//! `mid` and `metadata` the projection keeps for each echo in `conversation_events`.
//!
//! Only echoes of the send's own conversation count: Meta keys both by the same account and person.
//! A send adds to its conversation's messages, count, unread count and last message, but not to its
//! `last_event_ms` (the time of its latest event, which its echo moves): the list's order and paging
//! stay on the projected column. A conversation without any event is not listed, sends or not.

use hookline_meta::{Event, EventKind};
use serde_json::Value;

use super::summary::Summary;
use super::view::{Attachment, Direction, Message, Preview};
use crate::send::{SendStatus, StoredSend};

/// An echo's `mid` and `metadata`, as the projection records them to match it with a send; `None` for
/// events that are not echoes with a mid (those are no messages, so they match nothing).
pub(crate) fn echo_keys(event: &Event<'_>) -> Option<(String, Option<String>)> {
    let EventKind::MessageEcho(echo) = &event.kind else {
        return None;
    };
    let mid = echo.message.mid.as_ref()?.to_string();
    Some((mid, echo.metadata.as_ref().map(|m| m.to_string())))
}

/// A send whose echo has not arrived, as a message of its conversation.
pub(crate) fn message(send: &StoredSend) -> Message {
    let body = send.request.get("message");
    Message {
        mid: send.message_id.clone().unwrap_or_default(),
        direction: Direction::Out,
        timestamp_ms: Some(send.created_at_ms),
        text: text(body),
        attachments: attachments(body),
        // A sent one's status comes from receipts, as an echo's does.
        status: match send.status {
            SendStatus::Pending => Some("pending"),
            SendStatus::Failed => Some("failed"),
            SendStatus::Sent => None,
        },
        reactions: Vec::new(),
        edit_count: 0,
        edits: Vec::new(),
        deleted: false,
        echo_source: Some("this_app"),
        app_id: None,
        quick_reply: None,
        reply_to: None,
        referral: None,
        standby: false,
        dedup_key: String::new(),
        send_id: Some(send.id.to_string()),
        send_error: send.error.clone(),
    }
}

/// What a conversation's sends add to its list item, as a backend reads them with SQL.
#[derive(Clone, Debug, Default)]
pub(crate) struct InList {
    /// Sends without an echo: each is a message of its own.
    pub unechoed: i64,
    /// The creation time of the latest send that did not fail.
    pub latest_ms: Option<i64>,
    /// The latest send without an echo, by (creation time, id).
    pub latest_unechoed: Option<StoredSend>,
    /// The send whose echo the projected last message is.
    pub echo_send: Option<String>,
}

/// The conversation's last message for lists: the projected one (its `send_id` set to the send it is
/// an echo of), or the latest send without an echo when that is later. Later means a greater
/// `(time, key)`, as the projection orders events: the send's creation time and id against the event's
/// time and dedup key.
pub(crate) fn preview(summary: &Summary, sends: &InList) -> Option<Preview> {
    let projected = summary.preview().map(|mut preview| {
        preview.send_id = sends.echo_send.clone();
        preview
    });
    let Some(send) = &sends.latest_unechoed else {
        return projected;
    };
    let later = summary
        .last_message
        .as_ref()
        .is_none_or(|last| (send.created_at_ms, send.id.as_str()) > (last.at, last.key.as_str()));
    if !later {
        return projected;
    }
    let body = send.request.get("message");
    let deleted = send
        .message_id
        .as_ref()
        .is_some_and(|mid| summary.deleted.contains(mid));
    Some(Preview {
        mid: send.message_id.clone(),
        direction: Direction::Out,
        text: if deleted { None } else { text(body) },
        timestamp_ms: Some(send.created_at_ms),
        attachment_types: attachments(body).into_iter().map(|a| a.kind).collect(),
        deleted,
        send_id: Some(send.id.to_string()),
    })
}

/// The time the business last wrote, for the unread count: the projected echoes' and the latest
/// send's that did not fail (a failed send never reached the person).
pub(crate) fn last_outbound_ms(summary: &Summary, sends: &InList) -> Option<i64> {
    summary.last_outbound_ms.max(sends.latest_ms)
}

fn text(body: Option<&Value>) -> Option<String> {
    body?.get("text")?.as_str().map(str::to_owned)
}

/// The Send API's `attachment` (one) or `attachments` (several), each `{type, payload: {url}}`.
fn attachments(body: Option<&Value>) -> Vec<Attachment> {
    let Some(body) = body else {
        return Vec::new();
    };
    let one = body.get("attachment").into_iter();
    let several = body
        .get("attachments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    one.chain(several)
        .map(|attachment| Attachment {
            kind: attachment
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_owned(),
            url: attachment
                .pointer("/payload/url")
                .and_then(Value::as_str)
                .map(str::to_owned),
            title: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conversation::view::Counterpart;
    use crate::send::{NewSend, SendId, SendOutcome};
    use serde_json::json;

    fn stored(request: Value, at: i64) -> StoredSend {
        StoredSend::pending(&NewSend {
            id: SendId::from_parts(at, 1),
            object: "page".into(),
            account_id: "100".into(),
            recipient: Counterpart::Id("7".into()),
            request,
            created_at_ms: at,
        })
    }

    #[test]
    fn a_send_shows_its_request_s_text_and_attachments_until_its_echo_arrives() {
        let send = stored(
            json!({"messaging_type": "RESPONSE", "message": {
                "text": "Your receipt",
                "attachment": {"type": "file", "payload": {"url": "https://example.com/r.pdf"}}
            }}),
            10,
        );
        let shown = message(&send);
        assert_eq!(
            (shown.mid.as_str(), shown.status, shown.echo_source),
            ("", Some("pending"), Some("this_app"))
        );
        assert_eq!(shown.text.as_deref(), Some("Your receipt"));
        assert_eq!(shown.attachments[0].kind, "file");
        assert_eq!(
            shown.attachments[0].url.as_deref(),
            Some("https://example.com/r.pdf")
        );
        let json = serde_json::to_value(&shown).unwrap();
        assert!(
            json["mid"].is_null() && json["dedup_key"].is_null(),
            "{json}"
        );
        assert_eq!(json["send_id"], send.id.as_str());

        let sent = SendOutcome::Sent {
            message_id: "m_9".into(),
        }
        .applied(send, 20);
        let shown = message(&sent);
        assert_eq!((shown.mid.as_str(), shown.status), ("m_9", None));
        assert_eq!(serde_json::to_value(&shown).unwrap()["mid"], "m_9");
    }

    #[test]
    fn a_later_send_without_echo_is_the_last_message() {
        let summary = Summary {
            last_message: Some(super::super::summary::Register {
                at: 50,
                key: "v1:a".into(),
                value: Preview {
                    mid: Some("m.1".into()),
                    direction: Direction::In,
                    text: Some("hi".into()),
                    timestamp_ms: Some(50),
                    attachment_types: Vec::new(),
                    deleted: false,
                    send_id: None,
                },
            }),
            ..Summary::default()
        };
        let earlier = stored(json!({"message": {"text": "old"}}), 40);
        let later = stored(json!({"message": {"text": "new"}}), 60);
        let with = |send: Option<&StoredSend>| InList {
            unechoed: 1,
            latest_ms: send.map(|s| s.created_at_ms),
            latest_unechoed: send.cloned(),
            echo_send: None,
        };
        let shown = |send| preview(&summary, &with(send)).unwrap().text.unwrap();
        assert_eq!(shown(Some(&earlier)), "hi");
        assert_eq!(shown(Some(&later)), "new");
        assert_eq!(shown(None), "hi");
        let new = preview(&summary, &with(Some(&later))).unwrap();
        assert_eq!(new.send_id.as_deref(), Some(later.id.as_str()));
    }
}
