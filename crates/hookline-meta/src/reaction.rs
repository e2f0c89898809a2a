//! Message reactions.

use serde::{Deserialize, Serialize};

use crate::scalar::string_enum;
use crate::text::Text;

string_enum!(
    /// Whether the reaction was added or removed.
    ReactionAction {
        React = "react",
        Unreact = "unreact",
    }
);

string_enum!(
    /// The named reaction; `other` when the emoji maps to none of the named ones.
    ReactionName {
        Smile = "smile",
        Angry = "angry",
        Sad = "sad",
        Wow = "wow",
        Love = "love",
        Like = "like",
        Dislike = "dislike",
        OtherEmoji = "other",
    }
);

/// `reaction`: `mid` is the reacted-to message, not unique per event. Instagram omits `reaction` and
/// `emoji` on `unreact`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Reaction<'a> {
    #[serde(borrow)]
    pub mid: Option<Text<'a>>,
    pub action: Option<ReactionAction>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reaction: Option<ReactionName>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<Text<'a>>,
}
