//! Postbacks (buttons, Get Started, persistent menu, ice breakers) and opt-ins.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};

use crate::referral::{Referral, ReferralSource};
use crate::scalar::string_enum;
use crate::text::Text;
use crate::timestamp::Timestamp;

/// `postback`: the user tapped a postback button. `payload` is absent on standby postbacks.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Postback<'a> {
    /// Present since v11.0.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub mid: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub title: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Text<'a>>,
    /// Get Started from an m.me link or ad carries the referral here.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Box<Referral<'a>>>,
}

string_enum!(
    /// The opt-in variant.
    OptinType {
        /// Recurring notifications ("marketing messages"), discontinued Feb 10 2026.
        NotificationMessages = "notification_messages",
        /// Legacy One-Time Notification.
        OneTimeNotifReq = "one_time_notif_req",
    }
);

/// `notification_messages_status`, normalised: Meta writes `STOP NOTIFICATIONS`, integrators have seen
/// `STOP_NOTIFICATIONS`, so case, spaces and underscores are ignored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    Stop,
    Resume,
    #[serde(untagged)]
    Other(String),
}

impl<'de> Deserialize<'de> for NotificationStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Text::deserialize(deserializer)?;
        let folded: String = text
            .chars()
            .filter(|c| !matches!(c, ' ' | '_' | '-'))
            .map(|c| c.to_ascii_lowercase())
            .collect();
        Ok(match folded.as_str() {
            "stopnotifications" => NotificationStatus::Stop,
            "resumenotifications" => NotificationStatus::Resume,
            _ => NotificationStatus::Other(text.as_str().to_owned()),
        })
    }
}

/// `optin`: Send-to-Messenger / checkbox plugins (`ref`, `user_ref`), notification messages, one-time
/// notification requests.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct Optin<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub optin_type: Option<OptinType>,
    #[serde(rename = "ref", borrow, skip_serializing_if = "Option::is_none")]
    pub ref_param: Option<Text<'a>>,
    /// Checkbox plugin: the only identity of the user (there is no sender).
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub user_ref: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub title: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub notification_messages_token: Option<Text<'a>>,
    /// Removed in v16.0.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub notification_messages_frequency: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub notification_messages_timezone: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_messages_status: Option<NotificationStatus>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub notification_messages_topic: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub token_expiry_timestamp: Option<Timestamp<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub user_token_status: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub one_time_notif_token: Option<Text<'a>>,
    /// Opt-ins started from an m.me link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<ReferralSource>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stop_notifications_is_read_in_every_spelling() {
        for spelling in [
            "STOP NOTIFICATIONS",
            "STOP_NOTIFICATIONS",
            "stop notifications",
        ] {
            let json = format!("\"{spelling}\"");
            let status: NotificationStatus = serde_json::from_str(&json).unwrap();
            assert_eq!(status, NotificationStatus::Stop, "{spelling}");
        }
        let other: NotificationStatus = serde_json::from_str("\"PAUSE\"").unwrap();
        assert_eq!(other, NotificationStatus::Other("PAUSE".into()));
    }
}
