//! The `message` key: user messages, echoes, Instagram deletions and unsupported messages, plus `message_edit`.

use serde::{Deserialize, Serialize};

use crate::attachment::Attachment;
use crate::id::Id;
use crate::raw::RawJson;
use crate::referral::Referral;
use crate::scalar::flag;
use crate::text::Text;

/// A message as typed content. Used for inbound messages and for echoes alike; see [`Echo`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Message<'a> {
    /// The message id (opaque: `m_…`, `mid.<ts>:<hex>`, Instagram base64).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mid: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quick_reply: Option<QuickReply<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<ReplyTo<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<Attachment<'a>>,
    /// An ad, ig.me or product referral that started this message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub referral: Option<Box<Referral<'a>>>,
    /// Bot commands chosen from the composer menu.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<Command<'a>>,
    /// Built-in NLP results: their schema varies, so they are kept as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nlp: Option<RawJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nlpv2: Option<RawJson<'a>>,
    /// Instagram: a message type the API cannot show (the user sees it in the app).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub is_unsupported: bool,
}

/// A tapped quick reply.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct QuickReply<'a> {
    /// The developer-defined payload (often JSON inside a string).
    #[serde(borrow)]
    pub payload: Option<Text<'a>>,
}

/// What a message replies to: another message, or (Instagram) a story.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ReplyTo<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub mid: Option<Text<'a>>,
    #[serde(
        default,
        deserialize_with = "flag",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub is_self_reply: bool,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub story: Option<StoryRef<'a>>,
}

/// An Instagram story a message replies to.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct StoryRef<'a> {
    #[serde(borrow)]
    pub url: Option<Text<'a>>,
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
}

/// A bot command.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Command<'a> {
    #[serde(borrow)]
    pub name: Option<Text<'a>>,
}

/// Where an echo (a message the business account sent) came from, judged by its `app_id`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EchoSource {
    /// One of the app ids configured as this deployment's own.
    ThisApp,
    /// A person using the Page inbox / Business Suite (app 263902037430900).
    PageInbox,
    /// A person using the Instagram inbox (app 1217981644879628).
    InstagramInbox,
    /// Another app that sent on the account's behalf.
    OtherApp,
    /// No `app_id` (Instagram echoes never carry one).
    Unknown,
}

/// The Page inbox / Business Suite app id carried by echoes of messages people sent by hand (v12.0+).
pub const PAGE_INBOX_APP_ID: &str = "263902037430900";
/// The Instagram inbox app id.
pub const INSTAGRAM_INBOX_APP_ID: &str = "1217981644879628";

impl EchoSource {
    /// Classifies an echo's `app_id` against the app ids this deployment sends with.
    pub fn classify(app_id: Option<&str>, own_app_ids: &[String]) -> EchoSource {
        match app_id {
            None => EchoSource::Unknown,
            Some(id) if own_app_ids.iter().any(|own| own == id) => EchoSource::ThisApp,
            Some(PAGE_INBOX_APP_ID) => EchoSource::PageInbox,
            Some(INSTAGRAM_INBOX_APP_ID) => EchoSource::InstagramInbox,
            Some(_) => EchoSource::OtherApp,
        }
    }

    /// The label used in output (`this_app`, `page_inbox`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            EchoSource::ThisApp => "this_app",
            EchoSource::PageInbox => "page_inbox",
            EchoSource::InstagramInbox => "instagram_inbox",
            EchoSource::OtherApp => "other_app",
            EchoSource::Unknown => "unknown",
        }
    }
}

/// A message the business account sent (`is_echo: true`): sender and recipient are reversed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Echo<'a> {
    /// The app that sent it (a JSON number in Messenger echoes; absent on Instagram).
    pub app_id: Option<Id<'a>>,
    /// Whatever string the sender passed as `metadata` to the Send API.
    pub metadata: Option<Text<'a>>,
    /// Who sent it, judged by `app_id`.
    pub source: EchoSource,
    #[serde(flatten)]
    pub message: Message<'a>,
}

/// `message_edit`: the user edited a message they sent.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct MessageEdit<'a> {
    /// The mid of the original message.
    #[serde(borrow)]
    pub mid: Option<Text<'a>>,
    /// The new text.
    #[serde(borrow)]
    pub text: Option<Text<'a>>,
    /// How many times it has been edited (Meta allows a few).
    pub num_edit: Option<u32>,
}

/// The `message` object with every key the variants need, read in one pass.
#[derive(Deserialize)]
pub(crate) struct MessageWire<'a> {
    #[serde(borrow)]
    mid: Option<Text<'a>>,
    #[serde(borrow)]
    text: Option<Text<'a>>,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) is_echo: bool,
    #[serde(default, deserialize_with = "flag")]
    pub(crate) is_deleted: bool,
    #[serde(default, deserialize_with = "flag")]
    is_unsupported: bool,
    #[serde(borrow)]
    app_id: Option<Id<'a>>,
    #[serde(borrow)]
    metadata: Option<Text<'a>>,
    #[serde(borrow)]
    quick_reply: Option<QuickReply<'a>>,
    #[serde(borrow)]
    reply_to: Option<ReplyTo<'a>>,
    #[serde(borrow)]
    attachments: Option<Vec<Attachment<'a>>>,
    #[serde(borrow)]
    referral: Option<Box<Referral<'a>>>,
    #[serde(borrow)]
    commands: Option<Vec<Command<'a>>>,
    #[serde(borrow)]
    nlp: Option<RawJson<'a>>,
    #[serde(borrow)]
    nlpv2: Option<RawJson<'a>>,
}

impl<'a> MessageWire<'a> {
    pub(crate) fn mid(&self) -> Option<&Text<'a>> {
        self.mid.as_ref()
    }

    /// Splits off the echo-only keys.
    pub(crate) fn into_parts(self) -> (Message<'a>, Option<Id<'a>>, Option<Text<'a>>) {
        let message = Message {
            mid: self.mid,
            text: self.text,
            quick_reply: self.quick_reply,
            reply_to: self.reply_to,
            attachments: self.attachments.unwrap_or_default(),
            referral: self.referral,
            commands: self.commands.unwrap_or_default(),
            nlp: self.nlp,
            nlpv2: self.nlpv2,
            is_unsupported: self.is_unsupported,
        };
        (message, self.app_id, self.metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echo_sources_follow_the_app_id() {
        let own = vec!["1517776481860111".to_owned()];
        assert_eq!(
            EchoSource::classify(Some("1517776481860111"), &own),
            EchoSource::ThisApp
        );
        assert_eq!(
            EchoSource::classify(Some(PAGE_INBOX_APP_ID), &own),
            EchoSource::PageInbox
        );
        assert_eq!(
            EchoSource::classify(Some(INSTAGRAM_INBOX_APP_ID), &own),
            EchoSource::InstagramInbox
        );
        assert_eq!(EchoSource::classify(Some("42"), &own), EchoSource::OtherApp);
        assert_eq!(EchoSource::classify(None, &own), EchoSource::Unknown);
    }

    #[test]
    fn an_own_app_id_wins_over_the_inbox_ids() {
        // A deployment that lists the Page inbox as its own app still gets `this_app`.
        let own = vec![PAGE_INBOX_APP_ID.to_owned()];
        assert_eq!(
            EchoSource::classify(Some(PAGE_INBOX_APP_ID), &own),
            EchoSource::ThisApp
        );
    }
}
