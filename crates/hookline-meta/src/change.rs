//! Feed-style `changes[]` items: Instagram comments, live comments, mentions, story insights, and anything
//! else Meta sends in that form (marketing message receipts, Page feed fields).

use serde::{Deserialize, Serialize};

use crate::id::Id;
use crate::raw::RawJson;
use crate::text::Text;

/// A change that is not a messaging event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Change<'a> {
    /// The subscription field (`comments`, `mentions`, ...).
    pub field: Option<Text<'a>>,
    /// The typed value, where the field is one hookline knows, else the value as received.
    #[serde(flatten)]
    pub value: ChangeValue<'a>,
    /// The value exactly as received.
    #[serde(skip_serializing)]
    pub raw_value: Option<RawJson<'a>>,
}

/// The typed value of a change.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeValue<'a> {
    /// `comments` and `live_comments`.
    Comment(Box<Comment<'a>>),
    /// `mentions`: the account was mentioned in a caption or a comment.
    Mention(Mention<'a>),
    StoryInsights(StoryInsights<'a>),
    /// A field hookline has no type for (or a value of an unexpected shape), as received.
    #[serde(rename = "value")]
    Other(Option<RawJson<'a>>),
}

/// A comment on the account's media.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Comment<'a> {
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<Id<'a>>,
    #[serde(borrow)]
    pub text: Option<Text<'a>>,
    #[serde(borrow)]
    pub from: Option<CommentAuthor<'a>>,
    #[serde(borrow)]
    pub media: Option<CommentMedia<'a>>,
}

/// Who wrote a comment.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct CommentAuthor<'a> {
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
    #[serde(borrow)]
    pub username: Option<Text<'a>>,
}

/// The media a comment is on; ads carry `ad_id`, `ad_title` and `original_media_id`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct CommentMedia<'a> {
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub media_product_type: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub ad_title: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub original_media_id: Option<Id<'a>>,
}

/// A mention of the account.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Mention<'a> {
    #[serde(borrow)]
    pub media_id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<Id<'a>>,
}

/// Story metrics sent when a story expires.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct StoryInsights<'a> {
    #[serde(borrow)]
    pub media_id: Option<Id<'a>>,
    pub exits: Option<i64>,
    pub replies: Option<i64>,
    pub reach: Option<i64>,
    pub taps_forward: Option<i64>,
    pub taps_back: Option<i64>,
    pub impressions: Option<i64>,
}

impl<'a> ChangeValue<'a> {
    /// Types a value by its field; a value of an unexpected shape is `Other` (its JSON is kept).
    pub(crate) fn decode(field: Option<&str>, raw: Option<&'a str>) -> Self {
        let Some(raw) = raw else {
            return ChangeValue::Other(None);
        };
        let typed = match field {
            Some("comments" | "live_comments") => {
                serde_json::from_str(raw).map(ChangeValue::Comment).ok()
            }
            Some("mentions") => serde_json::from_str(raw).map(ChangeValue::Mention).ok(),
            Some("story_insights") => serde_json::from_str(raw)
                .map(ChangeValue::StoryInsights)
                .ok(),
            _ => None,
        };
        typed.unwrap_or(ChangeValue::Other(Some(RawJson::new(raw))))
    }
}
