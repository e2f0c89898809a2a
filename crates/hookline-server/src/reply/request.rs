//! [`Reply`]: a message to send into a conversation, as the admin API and `hookline send` take it, and
//! its translation into a Send API [`Message`]. Meta's own limits (text length, quick reply count and
//! sizes) are checked by [`hookline_graph::SendRequest::new`]; what is checked here is what only this
//! shape can get wrong (text and attachment together, an unknown type or messaging type).

use hookline_graph::{Attachment, AttachmentKind, Message, MessageTag, MessagingType, QuickReply};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A reply: text or one attachment by URL, optional quick replies, and why it is sent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// The text (UTF-8, under 2,000 characters; 1,000 bytes on Instagram). Give this or `attachment`.
    #[serde(default)]
    pub text: Option<String>,
    /// Media Meta downloads from a public URL. Give this or `text`.
    #[serde(default)]
    pub attachment: Option<ReplyAttachment>,
    /// Buttons shown above the person's composer (at most 13).
    #[serde(default)]
    pub quick_replies: Vec<ReplyQuickReply>,
    /// `RESPONSE` (the default: an answer within 24 hours of the person's message), `UPDATE`, or
    /// `MESSAGE_TAG` with `tag`.
    #[serde(default)]
    pub messaging_type: Option<String>,
    /// A message tag such as `HUMAN_AGENT` (implies `MESSAGE_TAG`).
    #[serde(default)]
    pub tag: Option<String>,
}

/// An attachment by URL.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyAttachment {
    /// `image`, `video`, `audio` or `file`.
    #[serde(rename = "type")]
    pub kind: String,
    /// A public `https://` (or `http://`) URL Meta can download.
    pub url: String,
}

/// A quick reply button.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyQuickReply {
    /// `text` (the default), `user_phone_number` or `user_email`.
    #[serde(default)]
    pub content_type: Option<String>,
    /// The button's text (20 characters at most), for `text`.
    #[serde(default)]
    pub title: Option<String>,
    /// What comes back in the person's message when tapped; the title when left out.
    #[serde(default)]
    pub payload: Option<String>,
    /// An icon for the button.
    #[serde(default)]
    pub image_url: Option<String>,
}

impl Reply {
    /// A text reply.
    pub fn text(text: impl Into<String>) -> Self {
        Reply {
            text: Some(text.into()),
            ..Reply::default()
        }
    }

    /// A reply with an attachment of `kind` (`image`, `video`, `audio`, `file`) by URL.
    pub fn attachment(kind: impl Into<String>, url: impl Into<String>) -> Self {
        Reply {
            attachment: Some(ReplyAttachment {
                kind: kind.into(),
                url: url.into(),
            }),
            ..Reply::default()
        }
    }

    /// Adds a text quick reply; `payload` is the title when `None`.
    pub fn quick_reply(mut self, title: impl Into<String>, payload: Option<String>) -> Self {
        self.quick_replies.push(ReplyQuickReply {
            content_type: None,
            title: Some(title.into()),
            payload,
            image_url: None,
        });
        self
    }

    /// The Send API message and messaging type, or what is wrong with the reply.
    pub fn to_message(&self) -> Result<(Message, MessagingType), String> {
        let mut message = match (&self.text, &self.attachment) {
            (Some(_), Some(_)) => {
                return Err(
                    "give text or attachment, not both: Meta sends one of them per \
                            message, so send the text and the attachment as two replies"
                        .to_owned(),
                );
            }
            (None, None) => {
                return Err(
                    "the reply is empty: give \"text\", or \"attachment\" with a type and a url"
                        .to_owned(),
                );
            }
            (Some(text), None) => Message::text(text.as_str()),
            (None, Some(attachment)) => Message::attachment(attachment.to_attachment()?),
        };
        for (index, quick) in self.quick_replies.iter().enumerate() {
            message = message.quick_reply(quick.to_quick_reply(index + 1)?);
        }
        Ok((message, self.kind()?))
    }

    fn kind(&self) -> Result<MessagingType, String> {
        let tag = self.tag.as_deref().filter(|t| !t.is_empty());
        let kind = self.messaging_type.as_deref().filter(|t| !t.is_empty());
        match (kind, tag) {
            (None | Some("RESPONSE"), None) => Ok(MessagingType::Response),
            (Some("UPDATE"), None) => Ok(MessagingType::Update),
            (None | Some("MESSAGE_TAG"), Some(tag)) => MessageTag::new(tag)
                .map(MessagingType::MessageTag)
                .map_err(|err| err.to_string()),
            (Some("MESSAGE_TAG"), None) => Err("messaging_type MESSAGE_TAG needs a tag, such as \
                                                HUMAN_AGENT (a person answering within 7 days)"
                .to_owned()),
            (Some(kind @ ("RESPONSE" | "UPDATE")), Some(tag)) => Err(format!(
                "tag {tag:?} goes with messaging_type MESSAGE_TAG, not {kind}: drop the tag, or \
                 set messaging_type to MESSAGE_TAG"
            )),
            (Some(other), _) => Err(format!(
                "messaging_type {other:?} is not one Meta knows; use RESPONSE (an answer within 24 \
                 hours), UPDATE, or MESSAGE_TAG with a tag"
            )),
        }
    }
}

impl ReplyAttachment {
    fn to_attachment(&self) -> Result<Attachment, String> {
        let kind = match self.kind.as_str() {
            "image" => AttachmentKind::Image,
            "video" => AttachmentKind::Video,
            "audio" => AttachmentKind::Audio,
            "file" => AttachmentKind::File,
            other => {
                return Err(format!(
                    "attachment type {other:?} cannot be sent by URL; use image, video, audio or file"
                ));
            }
        };
        check_url("attachment url", &self.url)?;
        Ok(Attachment::url(kind, self.url.as_str()))
    }
}

impl ReplyQuickReply {
    /// `index` counts from 1, as the messages say.
    fn to_quick_reply(&self, index: usize) -> Result<QuickReply, String> {
        let content_type = self.content_type.as_deref().unwrap_or("text");
        let plain = self.title.is_none() && self.payload.is_none() && self.image_url.is_none();
        match content_type {
            "text" => {
                let title = self.title.clone().unwrap_or_default();
                let payload = self.payload.clone().unwrap_or_else(|| title.clone());
                let reply = QuickReply::text(title, payload);
                match &self.image_url {
                    Some(url) => {
                        check_url(&format!("quick reply {index} image_url"), url)?;
                        Ok(reply.with_image(url.as_str()))
                    }
                    None => Ok(reply),
                }
            }
            "user_phone_number" if plain => Ok(QuickReply::UserPhoneNumber),
            "user_email" if plain => Ok(QuickReply::UserEmail),
            "user_phone_number" | "user_email" => Err(format!(
                "quick reply {index} is {content_type}, which Meta fills in itself: leave out its \
                 title, payload and image_url"
            )),
            other => Err(format!(
                "quick reply {index} has content_type {other:?}; use text, user_phone_number or \
                 user_email"
            )),
        }
    }
}

/// Meta downloads media itself, so the URL must be an absolute web address it can reach.
fn check_url(what: &str, url: &str) -> Result<(), String> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !url.chars().any(char::is_whitespace) => Ok(()),
        _ => Err(format!(
            "{what} {url:?} is not a web address; give a public https:// URL Meta can download"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookline_graph::Content;

    #[test]
    fn text_with_quick_replies_becomes_a_response_message() {
        let reply = Reply::text("Which size?")
            .quick_reply("Small", Some("SIZE_S".into()))
            .quick_reply("Large", None);
        let (message, kind) = reply.to_message().unwrap();
        assert_eq!(message.content, Content::Text("Which size?".into()));
        assert_eq!(
            message.quick_replies,
            vec![
                QuickReply::text("Small", "SIZE_S"),
                QuickReply::text("Large", "Large")
            ]
        );
        assert_eq!(kind, MessagingType::Response);
    }

    #[test]
    fn attachments_go_by_url_with_a_known_type() {
        let (message, _) = Reply::attachment("image", "https://cdn.example.com/a.png")
            .to_message()
            .unwrap();
        assert_eq!(
            message.content,
            Content::Attachment(Attachment::url(
                AttachmentKind::Image,
                "https://cdn.example.com/a.png"
            ))
        );
        let err = Reply::attachment("sticker", "https://x.example/a")
            .to_message()
            .unwrap_err();
        assert!(err.contains("image, video, audio or file"), "{err}");
        let err = Reply::attachment("image", "file:///etc/passwd")
            .to_message()
            .unwrap_err();
        assert!(err.contains("https://"), "{err}");
    }

    #[test]
    fn text_and_attachment_together_or_neither_are_refused() {
        let mut both = Reply::text("hi");
        both.attachment = Reply::attachment("image", "https://x.example/a").attachment;
        assert!(both.to_message().unwrap_err().contains("not both"));
        assert!(Reply::default().to_message().unwrap_err().contains("empty"));
    }

    #[test]
    fn messaging_types_and_tags() {
        let tagged = Reply {
            tag: Some("HUMAN_AGENT".into()),
            ..Reply::text("hi")
        };
        assert_eq!(
            tagged.to_message().unwrap().1,
            MessagingType::MessageTag(MessageTag::human_agent())
        );
        let update = Reply {
            messaging_type: Some("UPDATE".into()),
            ..Reply::text("hi")
        };
        assert_eq!(update.to_message().unwrap().1, MessagingType::Update);
        for (kind, tag, expected) in [
            (Some("MESSAGE_TAG"), None, "needs a tag"),
            (Some("RESPONSE"), Some("HUMAN_AGENT"), "goes with"),
            (Some("response"), None, "not one Meta knows"),
            (None, Some("human agent"), "tag"),
        ] {
            let reply = Reply {
                messaging_type: kind.map(str::to_owned),
                tag: tag.map(str::to_owned),
                ..Reply::text("hi")
            };
            let err = reply.to_message().unwrap_err();
            assert!(err.contains(expected), "{kind:?} {tag:?}: {err}");
        }
    }

    #[test]
    fn quick_replies_that_meta_fills_in_take_no_title() {
        let email = ReplyQuickReply {
            content_type: Some("user_email".into()),
            ..ReplyQuickReply::default()
        };
        assert_eq!(email.to_quick_reply(1).unwrap(), QuickReply::UserEmail);
        let titled = ReplyQuickReply {
            content_type: Some("user_email".into()),
            title: Some("Email".into()),
            ..ReplyQuickReply::default()
        };
        assert!(
            titled
                .to_quick_reply(2)
                .unwrap_err()
                .contains("quick reply 2")
        );
        let unknown = ReplyQuickReply {
            content_type: Some("location".into()),
            ..ReplyQuickReply::default()
        };
        assert!(unknown.to_quick_reply(1).unwrap_err().contains("location"));
    }

    #[test]
    fn the_json_shape_refuses_unknown_keys() {
        let reply: Reply = serde_json::from_str(
            r#"{"text":"hi","quick_replies":[{"title":"Yes","payload":"Y"}],"tag":"HUMAN_AGENT"}"#,
        )
        .unwrap();
        assert_eq!(reply.quick_replies.len(), 1);
        let err = serde_json::from_str::<Reply>(r#"{"txt":"hi"}"#).unwrap_err();
        assert!(err.to_string().contains("txt"), "{err}");
    }
}
