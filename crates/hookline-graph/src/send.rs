//! A Send API request, checked against Meta's documented limits before it leaves the process.
//!
//! Limits, with where Meta states them:
//! - text: "Must be UTF-8 and less than 2000 characters" (Send API reference, `message.text`); for
//!   Instagram "Message text must be UTF-8 and be a 1000 bytes or less" (Instagram messaging, "Send a
//!   Message").
//! - quick replies: "A maximum of 13 quick replies are supported"; `title` "20 character limit",
//!   required for `text` quick replies unless an `image_url` is set; `payload` "1000 character limit",
//!   "May be set to an empty string if image_url is set" (Messenger "Quick replies").
//! - metadata: "Must be less than 1000 characters" (Send API reference, `message.metadata`), and it comes
//!   back in the `message_echoes` webhook.
//! - `text` or `attachment` must be set, not both (Send API reference, `message`).

use reqwest::Url;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::request::InvalidRequest;

/// Most characters of Messenger text; Meta's reference phrases it as "less than 2000".
pub const MAX_TEXT_CHARS: usize = 2000;
/// Most UTF-8 bytes of Instagram text.
pub const MAX_INSTAGRAM_TEXT_BYTES: usize = 1000;
/// Most quick replies on one message.
pub const MAX_QUICK_REPLIES: usize = 13;
/// Most characters of a quick reply title.
pub const MAX_QUICK_REPLY_TITLE_CHARS: usize = 20;
/// Most characters of a quick reply payload.
pub const MAX_QUICK_REPLY_PAYLOAD_CHARS: usize = 1000;
/// Most characters of `metadata`.
pub const MAX_METADATA_CHARS: usize = 1000;

/// Who receives the message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipient {
    /// A PSID (Messenger) or IGSID (Instagram) from a webhook event of the same account.
    Id(String),
    /// A `user_ref` from the checkbox or chat plugin; Graph's answer then has no `recipient_id`.
    UserRef(String),
    /// A comment to answer privately (private replies).
    CommentId(String),
}

/// Why the message is being sent (`messaging_type`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MessagingType {
    /// In answer to a message the person sent within the last 24 hours.
    #[default]
    Response,
    /// Proactive, inside the 24-hour window.
    Update,
    /// Outside the 24-hour window, allowed for the use the tag names.
    MessageTag(MessageTag),
}

/// A message tag. Meta retired `CONFIRMED_EVENT_UPDATE`, `ACCOUNT_UPDATE` and `POST_PURCHASE_UPDATE`
/// (requests carrying them receive error 100 from April 27, 2026, per the Send API reference), so they
/// have no constructor here; [`MessageTag::new`] takes any other tag Meta documents.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageTag(String);

impl MessageTag {
    /// `HUMAN_AGENT`: a person answering, up to 7 days after the user's message.
    pub fn human_agent() -> Self {
        MessageTag("HUMAN_AGENT".into())
    }

    /// `CUSTOMER_FEEDBACK`: a feedback survey within 7 days of the user's last message.
    pub fn customer_feedback() -> Self {
        MessageTag("CUSTOMER_FEEDBACK".into())
    }

    /// Any tag, spelled as Meta spells it (uppercase letters and underscores).
    pub fn new(tag: impl Into<String>) -> Result<Self, InvalidRequest> {
        let tag = tag.into();
        if tag.is_empty() || !tag.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') {
            return Err(InvalidRequest::BadTag { tag });
        }
        Ok(MessageTag(tag))
    }

    /// The tag as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the message carries: text or one attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Content {
    Text(String),
    Attachment(Attachment),
}

/// The media kinds the Send API takes by URL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachmentKind {
    Image,
    Video,
    Audio,
    File,
}

impl AttachmentKind {
    fn as_str(self) -> &'static str {
        match self {
            AttachmentKind::Image => "image",
            AttachmentKind::Video => "video",
            AttachmentKind::Audio => "audio",
            AttachmentKind::File => "file",
        }
    }
}

/// Media sent by URL (Meta downloads it) or by the id of an attachment uploaded earlier.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attachment {
    pub kind: AttachmentKind,
    pub source: AttachmentSource,
}

/// Where Meta gets the media from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttachmentSource {
    /// `is_reusable: true` asks Meta for an `attachment_id` to send the same media again.
    Url { url: String, is_reusable: bool },
    /// An `attachment_id` from an earlier reusable send or the Attachment Upload API.
    Saved { attachment_id: String },
}

impl Attachment {
    /// Media Meta downloads from `url`.
    pub fn url(kind: AttachmentKind, url: impl Into<String>) -> Self {
        Attachment {
            kind,
            source: AttachmentSource::Url {
                url: url.into(),
                is_reusable: false,
            },
        }
    }

    /// Media uploaded before, by its `attachment_id`.
    pub fn saved(kind: AttachmentKind, attachment_id: impl Into<String>) -> Self {
        Attachment {
            kind,
            source: AttachmentSource::Saved {
                attachment_id: attachment_id.into(),
            },
        }
    }

    /// Asks Meta to keep the media for reuse.
    pub fn reusable(mut self) -> Self {
        if let AttachmentSource::Url { is_reusable, .. } = &mut self.source {
            *is_reusable = true;
        }
        self
    }
}

/// A button above the composer; tapping it sends its title (and payload) back as a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QuickReply {
    Text {
        title: String,
        payload: String,
        image_url: Option<String>,
    },
    /// Offers the phone number of the person's account.
    UserPhoneNumber,
    /// Offers the email address of the person's account.
    UserEmail,
}

impl QuickReply {
    /// A text button.
    pub fn text(title: impl Into<String>, payload: impl Into<String>) -> Self {
        QuickReply::Text {
            title: title.into(),
            payload: payload.into(),
            image_url: None,
        }
    }

    /// Adds an icon to a text button.
    pub fn with_image(self, url: impl Into<String>) -> Self {
        match self {
            QuickReply::Text { title, payload, .. } => QuickReply::Text {
                title,
                payload,
                image_url: Some(url.into()),
            },
            other => other,
        }
    }
}

/// The `message` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub content: Content,
    pub quick_replies: Vec<QuickReply>,
    /// Comes back in the `message_echoes` webhook: put an id here to recognise the echo of this send.
    pub metadata: Option<String>,
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<String>) -> Self {
        Message::with(Content::Text(text.into()))
    }

    /// A media message.
    pub fn attachment(attachment: Attachment) -> Self {
        Message::with(Content::Attachment(attachment))
    }

    fn with(content: Content) -> Self {
        Message {
            content,
            quick_replies: Vec::new(),
            metadata: None,
        }
    }

    /// Adds a quick reply button.
    pub fn quick_reply(mut self, reply: QuickReply) -> Self {
        self.quick_replies.push(reply);
        self
    }

    /// Sets `metadata`.
    pub fn metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }
}

/// A checked Send API request. It can only be made by [`SendRequest::new`], which applies Meta's
/// Messenger limits.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendRequest {
    recipient: Recipient,
    message: Message,
    messaging_type: MessagingType,
}

impl SendRequest {
    /// Checks `message` for `recipient`; the messaging type is `RESPONSE` until changed.
    pub fn new(recipient: Recipient, message: Message) -> Result<Self, InvalidRequest> {
        check_recipient(&recipient)?;
        check_message(&message)?;
        Ok(SendRequest {
            recipient,
            message,
            messaging_type: MessagingType::Response,
        })
    }

    /// A text reply to the person with this PSID or IGSID.
    pub fn text(
        recipient_id: impl Into<String>,
        text: impl Into<String>,
    ) -> Result<Self, InvalidRequest> {
        SendRequest::new(Recipient::Id(recipient_id.into()), Message::text(text))
    }

    /// Sets `messaging_type` (and `tag`).
    pub fn messaging_type(mut self, messaging_type: MessagingType) -> Self {
        self.messaging_type = messaging_type;
        self
    }

    /// Who receives the message.
    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }

    /// The checked message.
    pub fn message(&self) -> &Message {
        &self.message
    }

    /// The `messaging_type` (and tag) it is sent with.
    pub fn kind(&self) -> &MessagingType {
        &self.messaging_type
    }

    /// The stricter Instagram text limit, for a message to an IGSID.
    pub fn check_instagram(&self) -> Result<(), InvalidRequest> {
        if let Content::Text(text) = &self.message.content
            && text.len() > MAX_INSTAGRAM_TEXT_BYTES
        {
            return Err(InvalidRequest::InstagramTextTooLong { bytes: text.len() });
        }
        Ok(())
    }

    /// The JSON body of the request.
    pub fn to_json(&self) -> Value {
        let mut body = Map::new();
        body.insert("recipient".into(), recipient_json(&self.recipient));
        let (kind, tag) = match &self.messaging_type {
            MessagingType::Response => ("RESPONSE", None),
            MessagingType::Update => ("UPDATE", None),
            MessagingType::MessageTag(tag) => ("MESSAGE_TAG", Some(tag.as_str())),
        };
        body.insert("messaging_type".into(), kind.into());
        if let Some(tag) = tag {
            body.insert("tag".into(), tag.into());
        }
        body.insert("message".into(), message_json(&self.message));
        Value::Object(body)
    }
}

/// Graph's answer to a send: `{"recipient_id": "...", "message_id": "..."}`. `recipient_id` is absent
/// for sends to a `user_ref` (Send API reference).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SendResponse {
    #[serde(default)]
    pub recipient_id: Option<String>,
    pub message_id: String,
}

fn recipient_json(recipient: &Recipient) -> Value {
    match recipient {
        Recipient::Id(id) => json!({ "id": id }),
        Recipient::UserRef(r) => json!({ "user_ref": r }),
        Recipient::CommentId(c) => json!({ "comment_id": c }),
    }
}

fn message_json(message: &Message) -> Value {
    let mut body = Map::new();
    match &message.content {
        Content::Text(text) => {
            body.insert("text".into(), text.as_str().into());
        }
        Content::Attachment(attachment) => {
            let payload = match &attachment.source {
                AttachmentSource::Url { url, is_reusable } => {
                    json!({ "url": url, "is_reusable": is_reusable })
                }
                AttachmentSource::Saved { attachment_id } => {
                    json!({ "attachment_id": attachment_id })
                }
            };
            body.insert(
                "attachment".into(),
                json!({ "type": attachment.kind.as_str(), "payload": payload }),
            );
        }
    }
    if !message.quick_replies.is_empty() {
        let replies = message.quick_replies.iter().map(quick_reply_json).collect();
        body.insert("quick_replies".into(), Value::Array(replies));
    }
    if let Some(metadata) = &message.metadata {
        body.insert("metadata".into(), metadata.as_str().into());
    }
    Value::Object(body)
}

fn quick_reply_json(reply: &QuickReply) -> Value {
    match reply {
        QuickReply::Text {
            title,
            payload,
            image_url,
        } => {
            let mut item = json!({ "content_type": "text", "title": title, "payload": payload });
            if let Some(url) = image_url {
                item["image_url"] = url.as_str().into();
            }
            item
        }
        QuickReply::UserPhoneNumber => json!({ "content_type": "user_phone_number" }),
        QuickReply::UserEmail => json!({ "content_type": "user_email" }),
    }
}

fn check_recipient(recipient: &Recipient) -> Result<(), InvalidRequest> {
    let (what, value) = match recipient {
        Recipient::Id(v) => ("id", v),
        Recipient::UserRef(v) => ("user_ref", v),
        Recipient::CommentId(v) => ("comment_id", v),
    };
    if value.trim().is_empty() {
        return Err(InvalidRequest::EmptyRecipient { what });
    }
    Ok(())
}

fn check_message(message: &Message) -> Result<(), InvalidRequest> {
    match &message.content {
        Content::Text(text) => {
            let chars = text.chars().count();
            if text.trim().is_empty() {
                return Err(InvalidRequest::EmptyText);
            }
            if chars > MAX_TEXT_CHARS {
                return Err(InvalidRequest::TextTooLong { chars });
            }
        }
        Content::Attachment(attachment) => check_attachment(attachment)?,
    }
    if message.quick_replies.len() > MAX_QUICK_REPLIES {
        return Err(InvalidRequest::TooManyQuickReplies {
            count: message.quick_replies.len(),
        });
    }
    for (index, reply) in message.quick_replies.iter().enumerate() {
        check_quick_reply(index + 1, reply)?;
    }
    if let Some(metadata) = &message.metadata {
        let chars = metadata.chars().count();
        if chars > MAX_METADATA_CHARS {
            return Err(InvalidRequest::MetadataTooLong { chars });
        }
    }
    Ok(())
}

fn check_attachment(attachment: &Attachment) -> Result<(), InvalidRequest> {
    match &attachment.source {
        AttachmentSource::Url { url, .. } => check_url(url),
        AttachmentSource::Saved { attachment_id } if attachment_id.trim().is_empty() => {
            Err(InvalidRequest::EmptyAttachmentId)
        }
        AttachmentSource::Saved { .. } => Ok(()),
    }
}

fn check_url(url: &str) -> Result<(), InvalidRequest> {
    let bad = |reason: String| InvalidRequest::BadUrl {
        url: url.to_owned(),
        reason,
    };
    let parsed = Url::parse(url).map_err(|err| bad(err.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad(format!("the scheme is {:?}", parsed.scheme())));
    }
    Ok(())
}

fn check_quick_reply(index: usize, reply: &QuickReply) -> Result<(), InvalidRequest> {
    let QuickReply::Text {
        title,
        payload,
        image_url,
    } = reply
    else {
        return Ok(());
    };
    let chars = title.chars().count();
    if chars > MAX_QUICK_REPLY_TITLE_CHARS {
        return Err(InvalidRequest::QuickReplyTitleTooLong {
            index,
            title: title.clone(),
            chars,
        });
    }
    if title.is_empty() && image_url.is_none() {
        return Err(InvalidRequest::QuickReplyTitleEmpty { index });
    }
    let chars = payload.chars().count();
    if chars > MAX_QUICK_REPLY_PAYLOAD_CHARS {
        return Err(InvalidRequest::QuickReplyPayloadTooLong { index, chars });
    }
    if payload.is_empty() && image_url.is_none() {
        return Err(InvalidRequest::QuickReplyPayloadEmpty { index });
    }
    if let Some(url) = image_url {
        check_url(url)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(message: Message) -> Result<SendRequest, InvalidRequest> {
        SendRequest::new(Recipient::Id("6543210987654321".into()), message)
    }

    #[test]
    fn text_reply_serialises_as_the_send_api_expects() {
        let request = SendRequest::text("6543210987654321", "hello, world").unwrap();
        assert_eq!(
            serde_json::to_string(&request.to_json()).unwrap(),
            r#"{"recipient":{"id":"6543210987654321"},"messaging_type":"RESPONSE","message":{"text":"hello, world"}}"#
        );
    }

    #[test]
    fn tagged_media_with_quick_replies_and_metadata() {
        let message = Message::attachment(
            Attachment::url(AttachmentKind::Image, "https://cdn.example/cat.png").reusable(),
        )
        .quick_reply(QuickReply::text("Red", "PICK_RED").with_image("https://cdn.example/red.png"))
        .quick_reply(QuickReply::UserEmail)
        .metadata("hookline:out:42");
        let request = send(message)
            .unwrap()
            .messaging_type(MessagingType::MessageTag(MessageTag::human_agent()));
        assert_eq!(
            request.to_json(),
            json!({
                "recipient": {"id": "6543210987654321"},
                "messaging_type": "MESSAGE_TAG",
                "tag": "HUMAN_AGENT",
                "message": {
                    "attachment": {"type": "image", "payload": {"url": "https://cdn.example/cat.png", "is_reusable": true}},
                    "quick_replies": [
                        {"content_type": "text", "title": "Red", "payload": "PICK_RED", "image_url": "https://cdn.example/red.png"},
                        {"content_type": "user_email"}
                    ],
                    "metadata": "hookline:out:42"
                }
            })
        );
    }

    #[test]
    fn user_ref_and_saved_attachment_recipients() {
        let request = SendRequest::new(
            Recipient::UserRef("ref-1".into()),
            Message::attachment(Attachment::saved(AttachmentKind::File, "1857777774821032")),
        )
        .unwrap()
        .messaging_type(MessagingType::Update);
        let json = request.to_json();
        assert_eq!(json["recipient"], json!({"user_ref": "ref-1"}));
        assert_eq!(json["messaging_type"], "UPDATE");
        assert_eq!(
            json["message"]["attachment"]["payload"],
            json!({"attachment_id": "1857777774821032"})
        );
    }

    #[test]
    fn text_limit_counts_characters_not_bytes() {
        assert!(send(Message::text("é".repeat(MAX_TEXT_CHARS))).is_ok());
        let err = send(Message::text("a".repeat(MAX_TEXT_CHARS + 1))).unwrap_err();
        assert_eq!(err, InvalidRequest::TextTooLong { chars: 2001 });
        assert!(err.to_string().contains("split it"), "{err}");
        assert_eq!(
            send(Message::text("  ")).unwrap_err(),
            InvalidRequest::EmptyText
        );
    }

    #[test]
    fn instagram_limit_counts_bytes() {
        let request = send(Message::text("é".repeat(501))).unwrap();
        assert_eq!(
            request.check_instagram(),
            Err(InvalidRequest::InstagramTextTooLong { bytes: 1002 })
        );
        assert!(
            send(Message::text("a".repeat(1000)))
                .unwrap()
                .check_instagram()
                .is_ok()
        );
    }

    #[test]
    fn quick_reply_limits() {
        let many = (0..=MAX_QUICK_REPLIES).fold(Message::text("pick"), |m, i| {
            m.quick_reply(QuickReply::text(format!("{i}"), "P"))
        });
        assert_eq!(
            send(many).unwrap_err(),
            InvalidRequest::TooManyQuickReplies { count: 14 }
        );
        let thirteen = (0..MAX_QUICK_REPLIES).fold(Message::text("pick"), |m, i| {
            m.quick_reply(QuickReply::text(format!("{i}"), "P"))
        });
        assert!(send(thirteen).is_ok());

        let long_title = Message::text("pick").quick_reply(QuickReply::text("x".repeat(21), "P"));
        assert!(matches!(
            send(long_title).unwrap_err(),
            InvalidRequest::QuickReplyTitleTooLong {
                index: 1,
                chars: 21,
                ..
            }
        ));
        let long_payload =
            Message::text("pick").quick_reply(QuickReply::text("ok", "p".repeat(1001)));
        assert!(matches!(
            send(long_payload).unwrap_err(),
            InvalidRequest::QuickReplyPayloadTooLong {
                index: 1,
                chars: 1001
            }
        ));
        let no_payload = Message::text("pick")
            .quick_reply(QuickReply::UserPhoneNumber)
            .quick_reply(QuickReply::text("ok", ""));
        assert_eq!(
            send(no_payload).unwrap_err(),
            InvalidRequest::QuickReplyPayloadEmpty { index: 2 }
        );
        let icon_only = Message::text("pick")
            .quick_reply(QuickReply::text("", "").with_image("https://cdn.example/i.png"));
        assert!(send(icon_only).is_ok());
    }

    #[test]
    fn metadata_url_recipient_and_tag_checks() {
        let err = send(Message::text("hi").metadata("m".repeat(1001))).unwrap_err();
        assert_eq!(err, InvalidRequest::MetadataTooLong { chars: 1001 });
        let err = send(Message::attachment(Attachment::url(
            AttachmentKind::Video,
            "file:///etc/passwd",
        )))
        .unwrap_err();
        assert!(matches!(err, InvalidRequest::BadUrl { .. }), "{err}");
        let err = SendRequest::text(" ", "hi").unwrap_err();
        assert_eq!(err, InvalidRequest::EmptyRecipient { what: "id" });
        assert!(matches!(
            MessageTag::new("human_agent"),
            Err(InvalidRequest::BadTag { .. })
        ));
        assert_eq!(
            MessageTag::new("HUMAN_AGENT").unwrap(),
            MessageTag::human_agent()
        );
    }

    #[test]
    fn send_response_reads_with_and_without_recipient_id() {
        let with: SendResponse = serde_json::from_str(r#"{"recipient_id":"1254477777772919","message_id":"AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"}"#).unwrap();
        assert_eq!(with.recipient_id.as_deref(), Some("1254477777772919"));
        let without: SendResponse = serde_json::from_str(r#"{"message_id":"m_1"}"#).unwrap();
        assert_eq!(without.recipient_id, None);
    }
}
