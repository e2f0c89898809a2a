//! Customer feedback templates, response feedback, Instant Games and `send_cart` orders.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Number;

use crate::id::Id;
use crate::text::Text;

/// `messaging_feedback`: answers to a customer feedback template. (Shape from older docs.)
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct MessagingFeedback<'a> {
    #[serde(borrow, default)]
    pub feedback_screens: Vec<FeedbackScreen<'a>>,
}

/// One screen of a feedback template.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct FeedbackScreen<'a> {
    pub screen_id: Option<Number>,
    /// Answers keyed by question id.
    #[serde(borrow, default)]
    pub questions: BTreeMap<String, FeedbackAnswer<'a>>,
}

/// An answer: `csat`, `nps` or `ces` with its score as a string, and an optional free-form follow-up.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct FeedbackAnswer<'a> {
    #[serde(rename = "type", borrow)]
    pub answer_type: Option<Text<'a>>,
    #[serde(borrow)]
    pub payload: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub follow_up: Option<FollowUp<'a>>,
}

/// A free-form follow-up answer.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct FollowUp<'a> {
    #[serde(rename = "type", borrow)]
    pub follow_up_type: Option<Text<'a>>,
    #[serde(borrow)]
    pub payload: Option<Text<'a>>,
}

/// `response_feedback`: thumbs up/down on a bot or AI reply.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ResponseFeedback<'a> {
    /// `Good response` or `Bad response`.
    #[serde(borrow)]
    pub feedback: Option<Text<'a>>,
    /// The reply that was rated.
    #[serde(borrow)]
    pub mid: Option<Text<'a>>,
}

/// `game_play`: an Instant Game round ended.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct GamePlay<'a> {
    #[serde(borrow)]
    pub game_id: Option<Id<'a>>,
    #[serde(borrow)]
    pub player_id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub locale: Option<Text<'a>>,
    /// `SOLO`, `THREAD` or `GROUP`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub context_type: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<Id<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<Number>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Text<'a>>,
}

/// `order` (field `send_cart`): the user sent their cart.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Order<'a> {
    #[serde(borrow, default)]
    pub products: Vec<OrderProduct<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub note: Option<Text<'a>>,
}

/// A cart line. Prices stay exact JSON numbers (no float rounding on the way through).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct OrderProduct<'a> {
    /// A JSON number in Meta's example.
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub retailer_id: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub name: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_price: Option<Number>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantity: Option<Number>,
}
