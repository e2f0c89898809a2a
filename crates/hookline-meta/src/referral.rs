//! Referrals: how a user reached the conversation (m.me / ig.me links, ads, the chat plugin, products).
//! The same object appears as a `referral` event, inside a `message` and inside a `postback`.

use serde::{Deserialize, Serialize};

use crate::id::Id;
use crate::scalar::{flag, string_enum};
use crate::text::Text;

string_enum!(
    /// Where the referral came from. Meta's docs disagree on ig.me spellings (`SHORTLINK`, `SHORTLINKS`,
    /// placeholders), so unknown values are kept as sent.
    ReferralSource {
        /// An m.me or ig.me link.
        Shortlink = "SHORTLINK",
        /// A click-to-Messenger / click-to-Direct ad.
        Ads = "ADS",
        /// The (discontinued) customer chat plugin on a website.
        CustomerChatPlugin = "CUSTOMER_CHAT_PLUGIN",
    }
);

/// A referral object.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct Referral<'a> {
    /// The `ref` parameter of the link or ad.
    #[serde(rename = "ref", borrow, skip_serializing_if = "Option::is_none")]
    pub ref_param: Option<Text<'a>>,
    /// `SHORTLINK`, `ADS`, `CUSTOMER_CHAT_PLUGIN`, or anything newer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ReferralSource>,
    /// `OPEN_THREAD`, or `LEAD_COMPLETE` / `LEAD_INCOMPLETE` in lead-ads flows.
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    pub referral_type: Option<Text<'a>>,
    /// The ad id for `ADS` referrals.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub ad_id: Option<Id<'a>>,
    /// What the ad showed.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub ads_context_data: Option<AdsContext<'a>>,
    /// The web page that hosted the chat plugin.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub referer_uri: Option<Text<'a>>,
    /// A chat-plugin guest session (guest mode was removed in 2024; old threads keep the flag).
    #[serde(
        default,
        deserialize_with = "flag",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub is_guest_user: bool,
    /// A Shops product the user asked about.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub product: Option<ReferralProduct<'a>>,
}

/// `ads_context_data` of an ad referral. Every key is optional.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct AdsContext<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub ad_title: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub photo_url: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub video_url: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub post_id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub product_id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub flow_id: Option<Id<'a>>,
}

/// The product of a Shops product referral.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ReferralProduct<'a> {
    #[serde(borrow)]
    pub id: Option<Id<'a>>,
}

/// A `referral` event. Lead-ads flows put a `lead` object beside the referral.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReferralEvent<'a> {
    #[serde(flatten)]
    pub referral: Referral<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lead: Option<Lead<'a>>,
}

/// The answers of a Messenger lead-ads form.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Lead<'a> {
    #[serde(borrow, default)]
    pub data: Vec<LeadAnswer<'a>>,
}

/// One question and answer of a lead form.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct LeadAnswer<'a> {
    #[serde(borrow)]
    pub question: Option<Text<'a>>,
    #[serde(borrow)]
    pub answer: Option<Text<'a>>,
}
