//! Delivery and read receipts.

use serde::{Deserialize, Serialize};

use crate::text::Text;
use crate::timestamp::Timestamp;

/// `delivery`: messages up to the watermark reached the user's device.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Delivery<'a> {
    /// Mids delivered (may be absent: the watermark is what counts).
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub mids: Vec<Text<'a>>,
    /// Everything sent before this time was delivered.
    #[serde(borrow)]
    pub watermark: Option<Timestamp<'a>>,
}

/// `read`: Messenger sends a watermark (everything before it was read); Instagram (`messaging_seen`) sends
/// the `mid` of the message that was seen and no watermark.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Read<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub watermark: Option<Timestamp<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub mid: Option<Text<'a>>,
}
