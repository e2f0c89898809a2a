//! The webhook fields hookline subscribes to and the permissions those calls need.

/// The Page fields hookline subscribes to by default: every messaging field whose events hookline
/// parses and that a Page with `pages_messaging` can subscribe to. Names as in the Page subscribed-fields
/// enum of Meta's Graph SDK and the Messenger "Webhooks" field table.
pub const DEFAULT_FIELDS: &[&str] = &[
    "messages",
    "message_echoes",
    "message_deliveries",
    "message_reads",
    "messaging_postbacks",
    "messaging_optins",
    "messaging_referrals",
    "messaging_handovers",
    "standby",
    "message_reactions",
    "message_edits",
    "messaging_policy_enforcement",
    "messaging_account_linking",
    "messaging_feedback",
    "response_feedback",
];

/// Page fields hookline also parses but does not subscribe to unless asked: each belongs to a product
/// the Page has to be set up for first (Instant Games, Shops carts, Messenger calling), and a field the
/// Page is not set up for can make Graph refuse the whole subscription.
pub const OPTIONAL_FIELDS: &[&str] = &[
    "messaging_game_plays",
    "send_cart",
    "calls",
    "call_permission_reply",
];

/// Fields for an Instagram professional account subscribed with the Instagram API with Instagram
/// Login (`POST graph.instagram.com/{version}/{ig-user-id}/subscribed_apps`). The Instagram messaging
/// webhooks reference names these; note the singular `messaging_referral` and `messaging_handover`.
/// `message_edit` is left out: it appears only in a changelog entry, and an unknown field makes Graph
/// refuse the whole request; pass it explicitly to try it.
///
/// With Facebook Login (Messenger API for Instagram) there is no Instagram subscription call: the
/// Instagram fields are chosen in the App Dashboard and the linked Page is subscribed with
/// [`DEFAULT_FIELDS`] ("Enable Page Subscriptions", Instagram messaging webhooks guide).
pub const INSTAGRAM_FIELDS: &[&str] = &[
    "messages",
    "message_reactions",
    "messaging_postbacks",
    "messaging_seen",
    "messaging_referral",
    "messaging_optins",
    "messaging_handover",
    "standby",
];

/// What a Page access token needs for hookline: `pages_manage_metadata` to manage the Page's
/// `subscribed_apps`, `pages_show_list` to read them (both per the Page Subscribed Apps reference), and
/// `pages_messaging` for the Send API (Send API reference, "Before You Start").
pub const PAGE_PERMISSIONS: &[&str] = &[
    "pages_manage_metadata",
    "pages_messaging",
    "pages_show_list",
];

/// What a token needs to receive and answer Instagram messages through the linked Page (Messenger API
/// for Instagram): "The instagram_basic, instagram_manage_messages, and pages_manage_metadata
/// permissions" (Webhooks for Instagram Messaging, Requirements).
pub const INSTAGRAM_PERMISSIONS: &[&str] = &[
    "instagram_basic",
    "instagram_manage_messages",
    "pages_manage_metadata",
];

/// What an Instagram User access token needs with Instagram Login: `instagram_business_basic` for every
/// webhook field and `instagram_business_manage_messages` for messaging (Instagram Platform "Send
/// Messages" and "Setup Webhooks Subscriptions").
pub const INSTAGRAM_LOGIN_PERMISSIONS: &[&str] = &[
    "instagram_business_basic",
    "instagram_business_manage_messages",
];

/// Why a field name cannot be sent.
pub(crate) fn field_problem(field: &str) -> Option<&'static str> {
    if field.is_empty() {
        Some("it is empty")
    } else if !field
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        Some("field names are lowercase letters, digits and underscores")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fields_cover_the_contracted_minimum() {
        for field in [
            "messages",
            "message_echoes",
            "message_deliveries",
            "message_reads",
            "messaging_postbacks",
            "messaging_optins",
            "messaging_referrals",
            "messaging_handovers",
            "standby",
            "message_reactions",
        ] {
            assert!(DEFAULT_FIELDS.contains(&field), "{field}");
        }
    }

    #[test]
    fn every_listed_field_is_well_formed_and_listed_once() {
        for list in [DEFAULT_FIELDS, OPTIONAL_FIELDS, INSTAGRAM_FIELDS] {
            let mut seen = std::collections::HashSet::new();
            for field in list {
                assert_eq!(field_problem(field), None, "{field}");
                assert!(seen.insert(field), "{field} twice");
            }
        }
        assert!(DEFAULT_FIELDS.iter().all(|f| !OPTIONAL_FIELDS.contains(f)));
    }

    #[test]
    fn field_problems_are_named() {
        assert_eq!(field_problem(""), Some("it is empty"));
        assert!(field_problem("Messages").is_some());
        assert!(field_problem("messages,standby").is_some());
        assert!(field_problem("message reads").is_some());
    }
}
