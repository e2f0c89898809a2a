//! Every delivery `trigger` can build: one entry per event kind, attachment type and notable variant, each
//! backed by a one-event template copied from the shared fixtures (`templates/`; `x_*` files are derived
//! from a fixture where none had the variant).

/// One catalog entry: a named kind of delivery and the template it is built from.
#[derive(Debug)]
pub struct Kind {
    /// The name `hookline trigger` takes: `message`, `message.image`, `echo.page_inbox`, `standby.read`, ...
    pub name: &'static str,
    /// The body's `object`: `page` (Messenger) or `instagram`.
    pub object: &'static str,
    /// The CONTRACTS.md section 1 `kind` that `hookline parse` gives for it.
    pub kind: &'static str,
    /// One line for `hookline trigger --list`.
    pub description: &'static str,
    /// The template: a pretty-printed body holding exactly one event.
    pub(crate) template: &'static str,
}

impl Kind {
    /// The template the kind's deliveries are built from: a pretty-printed body holding exactly one event,
    /// with the fixtures' ids and times.
    pub fn template(&self) -> &'static str {
        self.template
    }
}

/// Every entry, Messenger first, in the order `--list` shows them.
pub fn catalog() -> &'static [Kind] {
    CATALOG
}

const PAGE: &str = "page";
const IG: &str = "instagram";

macro_rules! kind {
    ($name:literal, $object:expr, $kind:literal, $file:literal, $description:literal) => {
        Kind {
            name: $name,
            object: $object,
            kind: $kind,
            description: $description,
            template: include_str!(concat!("../templates/", $file)),
        }
    };
}

#[rustfmt::skip]
static CATALOG: &[Kind] = &[
    // Messenger: what users send.
    kind!("message", PAGE, "message", "m01_message_text.json", "a text message from a user"),
    kind!("message.quick_reply", PAGE, "message", "m02_message_quick_reply.json", "a tapped quick reply (text and payload)"),
    kind!("message.reply_to", PAGE, "message", "m03_message_reply_to.json", "an inline reply to an earlier message"),
    kind!("message.image", PAGE, "message", "m04_message_attachment_image.json", "an image attachment"),
    kind!("message.audio", PAGE, "message", "m05_message_attachment_audio.json", "an audio attachment (voice clip)"),
    kind!("message.video", PAGE, "message", "m06_message_attachment_video.json", "a video attachment"),
    kind!("message.file", PAGE, "message", "m07_message_attachment_file.json", "a file attachment (PDF)"),
    kind!("message.sticker", PAGE, "message", "m08_message_attachment_sticker.json", "a sticker (the 2026 `sticker` attachment type)"),
    kind!("message.location", PAGE, "message", "m09_message_attachment_location_legacy.json", "a shared location (legacy `coordinates` shape)"),
    kind!("message.fallback", PAGE, "message", "m10_message_attachment_fallback.json", "a shared link (`fallback` attachment, text repeats the link)"),
    kind!("message.reel", PAGE, "message", "m11_message_attachment_reel.json", "a shared Facebook reel"),
    kind!("message.ig_reel", PAGE, "message", "m12_message_attachment_ig_reel.json", "a shared Instagram reel"),
    kind!("message.post", PAGE, "message", "m13_message_attachment_post.json", "a shared Facebook post"),
    kind!("message.ig_post", PAGE, "message", "m14_message_attachment_ig_post.json", "a shared Instagram post"),
    kind!("message.appointment_booking", PAGE, "message", "m15_message_attachment_appointment_booking.json", "an appointment booking (start/end in seconds)"),
    kind!("message.product_template", PAGE, "message", "m16_message_product_template_share.json", "a catalog product the user shares (product template)"),
    kind!("message.product_referral", PAGE, "message", "m17_message_shops_product_referral.json", "a message from a Shops product page (`referral.product`)"),
    kind!("message.ad_referral", PAGE, "message", "m18_message_ads_referral.json", "a first message from a click-to-Messenger ad"),
    kind!("message.commands", PAGE, "message", "m19_message_commands.json", "a message with a bot command from the composer menu"),
    kind!("message.nlp", PAGE, "message", "m20_message_nlp.json", "a message with built-in NLP results"),
    // Messenger: echoes of what the Page sent.
    kind!("echo", PAGE, "message_echo", "m21_echo_text.json", "a text the Page sent through an app (app_id 1517776481860111; `this_app` with --app-id)"),
    kind!("echo.page_inbox", PAGE, "message_echo", "x_echo_page_inbox.json", "a text a person sent from the Page inbox (app 263902037430900)"),
    kind!("echo.other_app", PAGE, "message_echo", "x_echo_other_app.json", "a text another app sent for the Page (app 2203418761230987)"),
    kind!("echo.image", PAGE, "message_echo", "m22_echo_attachment_image.json", "an image the Page sent"),
    kind!("echo.button_template", PAGE, "message_echo", "m23_echo_template_button.json", "a button template the Page sent"),
    kind!("echo.generic_template", PAGE, "message_echo", "m24_echo_template_generic.json", "a generic (carousel) template the Page sent"),
    kind!("echo.media_template", PAGE, "message_echo", "m25_echo_template_media.json", "a media template the Page sent (numeric attachment_id)"),
    kind!("echo.product_template", PAGE, "message_echo", "m26_echo_template_product.json", "a product template the Page sent (no template_type)"),
    kind!("echo.fallback", PAGE, "message_echo", "m27_echo_fallback_legacy.json", "a legacy fallback echo (payload null, title/url on the attachment)"),
    kind!("echo.reply_to", PAGE, "message_echo", "m28_echo_reply_to.json", "an inline reply the Page sent"),
    kind!("echo.appointment_booking", PAGE, "message_echo", "m29_echo_appointment_booking.json", "an appointment booking request the Page sent"),
    // Messenger: receipts, postbacks, opt-ins, referrals.
    kind!("delivery", PAGE, "delivery", "m30_delivery.json", "the user's device received the Page's messages (mids + watermark)"),
    kind!("read", PAGE, "read", "m31_read.json", "the user read the Page's messages up to a watermark"),
    kind!("postback", PAGE, "postback", "m32_postback.json", "a tapped postback button"),
    kind!("postback.get_started", PAGE, "postback", "m33_postback_get_started_shortlink_referral.json", "Get Started tapped after an m.me link (with referral)"),
    kind!("optin", PAGE, "optin", "m34_optin_send_to_messenger.json", "a Send to Messenger plugin opt-in"),
    kind!("optin.checkbox", PAGE, "optin", "m35_optin_checkbox_plugin_user_ref.json", "a checkbox plugin opt-in (no sender; optin.user_ref)"),
    kind!("optin.notification_messages", PAGE, "optin", "m36_optin_notification_messages.json", "a marketing / recurring notification opt-in with its token"),
    kind!("optin.notification_messages_stop", PAGE, "optin", "m37_optin_notification_messages_stop.json", "the user stopped marketing / recurring notifications"),
    kind!("optin.notification_messages_shortlink", PAGE, "optin", "m66_optin_notification_messages_via_shortlink.json", "a notification opt-in through an m.me link (ref, source, topic)"),
    kind!("optin.one_time_notif", PAGE, "optin", "m38_optin_one_time_notif_req_legacy.json", "a legacy one-time notification opt-in"),
    kind!("referral", PAGE, "referral", "m39_referral_shortlink.json", "an existing thread opened from an m.me link"),
    kind!("referral.ads", PAGE, "referral", "m40_referral_ads.json", "an existing thread opened from a click-to-Messenger ad"),
    kind!("referral.chat_plugin", PAGE, "referral", "m41_referral_chat_plugin_user_ref.json", "a chat plugin visitor (sender.user_ref, no PSID)"),
    kind!("referral.chat_plugin_guest", PAGE, "referral", "m42_referral_chat_plugin_guest.json", "a chat plugin guest visitor (discontinued 2024)"),
    kind!("referral.lead_complete", PAGE, "referral", "m43_referral_lead_ads_complete.json", "a lead ads form completed in Messenger (timestamp in seconds)"),
    // Messenger: handover protocol and standby.
    kind!("pass_thread_control", PAGE, "pass_thread_control", "m44_handover_pass_thread_control.json", "another app passed the thread to this app"),
    kind!("take_thread_control", PAGE, "take_thread_control", "m45_handover_take_thread_control.json", "the Page inbox took the thread from this app"),
    kind!("request_thread_control", PAGE, "request_thread_control", "m46_handover_request_thread_control.json", "another app asks this app for the thread"),
    kind!("app_roles", PAGE, "app_roles", "m47_handover_app_roles.json", "this app's handover role on the Page changed (no sender)"),
    kind!("standby.message", PAGE, "message", "m48_standby_message.json", "a user message in a thread another app controls"),
    kind!("standby.postback", PAGE, "postback", "m49_standby_postback_no_payload.json", "a postback in a thread another app controls (no payload)"),
    kind!("standby.read", PAGE, "read", "m50a_standby_read.json", "a read receipt in a thread another app controls"),
    kind!("standby.delivery", PAGE, "delivery", "m50b_standby_delivery.json", "a delivery receipt in a thread another app controls"),
    // Messenger: everything else.
    kind!("reaction", PAGE, "reaction", "m56_reaction_react.json", "the user reacted to a message"),
    kind!("reaction.unreact", PAGE, "reaction", "m57_reaction_unreact.json", "the user removed a reaction"),
    kind!("message_edit", PAGE, "message_edit", "m58_message_edit.json", "the user edited a message"),
    kind!("policy_enforcement", PAGE, "policy_enforcement", "m51_policy_enforcement_warning.json", "a policy warning for the Page (no sender)"),
    kind!("policy_enforcement.block", PAGE, "policy_enforcement", "m52_policy_enforcement_block.json", "the app was blocked from messaging for the Page"),
    kind!("policy_enforcement.unblock", PAGE, "policy_enforcement", "m53_policy_enforcement_unblock.json", "the block was lifted (no reason)"),
    kind!("account_linking", PAGE, "account_linking", "m54_account_linking_linked.json", "the user linked their account (authorization code)"),
    kind!("account_linking.unlinked", PAGE, "account_linking", "m55_account_linking_unlinked.json", "the user unlinked their account"),
    kind!("game_play", PAGE, "game_play", "m59_game_play.json", "the user played an Instant Game round"),
    kind!("messaging_feedback", PAGE, "messaging_feedback", "m60_messaging_feedback.json", "a customer feedback (CSAT) form answer"),
    kind!("response_feedback", PAGE, "response_feedback", "m61_response_feedback.json", "the user rated a reply of the Page"),
    kind!("order", PAGE, "order", "m62_send_cart.json", "the user sent a cart (`send_cart` field)"),
    kind!("call", PAGE, "call", "m63_calls_connect.json", "a Messenger call connected (entry.calls, seconds)"),
    kind!("call.terminate", PAGE, "call", "m67_calls_terminate.json", "a Messenger call ended"),
    kind!("call_permission_reply", PAGE, "call_permission_reply", "m64_call_permission_reply.json", "the user answered a call permission request"),
    kind!("unknown", PAGE, "unknown", "x_unknown_messaging_key.json", "an event whose key hookline does not know (kept as raw JSON)"),
    // Instagram messaging.
    kind!("instagram.message", IG, "message", "ig01_message_text.json", "a text message on Instagram"),
    kind!("instagram.image", IG, "message", "ig02_message_image_multi.json", "two images in one Instagram message"),
    kind!("instagram.audio", IG, "message", "ig03_message_audio.json", "an Instagram voice message"),
    kind!("instagram.video", IG, "message", "ig04_message_video.json", "an Instagram video"),
    kind!("instagram.file", IG, "message", "ig05_message_file.json", "an Instagram file"),
    kind!("instagram.share", IG, "message", "ig06_message_share.json", "a shared Instagram post (URL only)"),
    kind!("instagram.story_mention", IG, "message", "ig07_message_story_mention.json", "the user mentioned the account in their story"),
    kind!("instagram.ig_reel", IG, "message", "ig08_message_ig_reel.json", "a shared reel (`ig_reel`)"),
    kind!("instagram.reel", IG, "message", "ig09_message_reel.json", "a shared reel (`reel`)"),
    kind!("instagram.ephemeral", IG, "message", "ig10_message_ephemeral.json", "view-once media (no payload)"),
    kind!("instagram.unsupported", IG, "message", "ig11_message_unsupported.json", "a message type the API cannot show"),
    kind!("instagram.deleted", IG, "message_deleted", "ig12_message_deleted.json", "the user unsent a message"),
    kind!("instagram.echo", IG, "message_echo", "ig13_message_echo.json", "a text the account sent (no app_id on Instagram)"),
    kind!("instagram.quick_reply", IG, "message", "ig14_message_quick_reply.json", "a tapped quick reply on Instagram"),
    kind!("instagram.reply_to", IG, "message", "ig15_message_reply_to_mid.json", "a reply to an earlier Instagram message"),
    kind!("instagram.story_reply", IG, "message", "ig16_message_reply_to_story.json", "a reply to the account's story"),
    kind!("instagram.product_referral", IG, "message", "ig17_message_referral_product.json", "a message about a tagged product"),
    kind!("instagram.ad_referral", IG, "message", "ig18_message_referral_ads.json", "a first message from a click-to-Direct ad"),
    kind!("instagram.igme_referral", IG, "message", "ig19_message_igme_referral_new_thread.json", "a first message through an ig.me link"),
    kind!("instagram.reaction", IG, "reaction", "ig20_reaction_react.json", "the user reacted to a message"),
    kind!("instagram.unreact", IG, "reaction", "ig21_reaction_unreact.json", "the user removed a reaction (no reaction name)"),
    kind!("instagram.postback", IG, "postback", "ig22_postback_icebreaker.json", "a tapped ice breaker"),
    kind!("instagram.postback_referral", IG, "postback", "ig23_postback_igme_referral.json", "an ice breaker tapped after an ig.me link"),
    kind!("instagram.referral", IG, "referral", "ig24_referral_igme.json", "an existing thread opened from an ig.me link"),
    kind!("instagram.seen", IG, "read", "ig25_seen.json", "the user saw a message (read.mid, no watermark)"),
    kind!("instagram.pass_thread_control", IG, "pass_thread_control", "ig26_handover_pass_thread_control.json", "the thread was passed to the Instagram inbox"),
    kind!("instagram.take_thread_control", IG, "take_thread_control", "ig27_handover_take_thread_control.json", "another app took the thread"),
    kind!("instagram.request_thread_control", IG, "request_thread_control", "ig28_handover_request_thread_control.json", "another app asks for the thread"),
    kind!("instagram.standby", IG, "message", "ig29_standby_message.json", "a message in a thread another app controls"),
    kind!("instagram.message_edit", IG, "message_edit", "ig30_message_edit.json", "the user edited a message"),
    kind!("instagram.optin", IG, "optin", "ig31_optin_notification_messages.json", "a marketing message opt-in on Instagram"),
    kind!("instagram.policy_enforcement", IG, "policy_enforcement", "ig32_policy_enforcement.json", "a policy warning for the account (no sender)"),
    // Instagram feed-style changes (entry.time in seconds).
    kind!("instagram.comments", IG, "change", "ig33_comments.json", "a comment on the account's post (`comments` change)"),
    kind!("instagram.ad_comment_reply", IG, "change", "ig34_comments_reply_on_ad.json", "a reply to a comment on an ad"),
    kind!("instagram.live_comments", IG, "change", "ig35_live_comments.json", "a comment on a live video"),
    kind!("instagram.mention", IG, "change", "ig36_mentions_media.json", "the account was mentioned in a post caption"),
    kind!("instagram.comment_mention", IG, "change", "ig37_mentions_comment.json", "the account was mentioned in a comment"),
    kind!("instagram.story_insights", IG, "change", "ig38_story_insights.json", "the metrics of an expired story"),
];

/// Other names accepted for an entry: the CONTRACTS.md kinds that have no entry of their own name, the
/// implicit default of a family, and a few obvious spellings.
pub(crate) static ALIASES: &[(&str, &str)] = &[
    ("message_echo", "echo"),
    ("message_deleted", "instagram.deleted"),
    ("change", "instagram.comments"),
    ("send_cart", "order"),
    ("message.text", "message"),
    ("echo.text", "echo"),
    ("echo.this_app", "echo"),
    ("postback.button", "postback"),
    ("optin.send_to_messenger", "optin"),
    ("referral.shortlink", "referral"),
    ("policy_enforcement.warning", "policy_enforcement"),
    ("account_linking.linked", "account_linking"),
    ("reaction.react", "reaction"),
    ("call.connect", "call"),
    ("standby", "standby.message"),
    ("instagram", "instagram.message"),
    ("instagram.text", "instagram.message"),
    ("instagram.read", "instagram.seen"),
    ("instagram.edit", "instagram.message_edit"),
    ("instagram.message_echo", "instagram.echo"),
    ("instagram.message_deleted", "instagram.deleted"),
    ("instagram.comment", "instagram.comments"),
    ("instagram.mentions", "instagram.mention"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_is_one_event_of_its_object() {
        for kind in catalog() {
            let body: serde_json::Value = serde_json::from_str(kind.template()).unwrap();
            assert_eq!(body["object"], kind.object, "{}", kind.name);
            let entries = body["entry"].as_array().unwrap();
            assert_eq!(entries.len(), 1, "{}", kind.name);
            let events: usize = ["messaging", "standby", "changes", "calls"]
                .iter()
                .filter_map(|channel| entries[0].get(channel)?.as_array().map(Vec::len))
                .sum();
            assert_eq!(events, 1, "{}", kind.name);
        }
    }
}
