//! Every fixture body: the kinds it parses to, its `parse` output (snapshots), and the same body in Meta's
//! wire form, signed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use hookline_meta::attachment::Attachment;
use hookline_meta::signature::{SignatureHeaders, Verifier, sign};
use hookline_meta::{Event, ParseOptions, Secret, parse_with, wire};

/// The app id the fixtures use for "our" app.
const OUR_APP: &str = "1517776481860111";

fn options() -> ParseOptions {
    ParseOptions {
        own_app_ids: vec![OUR_APP.to_owned()],
    }
}

/// Fixture name → the kinds it must parse to, in body order.
const EXPECTED: &[(&str, &[&str])] = &[
    ("ig01_message_text", &["message"]),
    ("ig02_message_image_multi", &["message"]),
    ("ig03_message_audio", &["message"]),
    ("ig04_message_video", &["message"]),
    ("ig05_message_file", &["message"]),
    ("ig06_message_share", &["message"]),
    ("ig07_message_story_mention", &["message"]),
    ("ig08_message_ig_reel", &["message"]),
    ("ig09_message_reel", &["message"]),
    ("ig10_message_ephemeral", &["message"]),
    ("ig11_message_unsupported", &["message"]),
    ("ig12_message_deleted", &["message_deleted"]),
    ("ig13_message_echo", &["message_echo"]),
    ("ig14_message_quick_reply", &["message"]),
    ("ig15_message_reply_to_mid", &["message"]),
    ("ig16_message_reply_to_story", &["message"]),
    ("ig17_message_referral_product", &["message"]),
    ("ig18_message_referral_ads", &["message"]),
    ("ig19_message_igme_referral_new_thread", &["message"]),
    ("ig20_reaction_react", &["reaction"]),
    ("ig21_reaction_unreact", &["reaction"]),
    ("ig22_postback_icebreaker", &["postback"]),
    ("ig23_postback_igme_referral", &["postback"]),
    ("ig24_referral_igme", &["referral"]),
    ("ig25_seen", &["read"]),
    (
        "ig26_handover_pass_thread_control",
        &["pass_thread_control"],
    ),
    (
        "ig27_handover_take_thread_control",
        &["take_thread_control"],
    ),
    (
        "ig28_handover_request_thread_control",
        &["request_thread_control"],
    ),
    ("ig29_standby_message", &["message"]),
    ("ig30_message_edit", &["message_edit"]),
    ("ig31_optin_notification_messages", &["optin"]),
    ("ig32_policy_enforcement", &["policy_enforcement"]),
    ("ig33_comments", &["change"]),
    ("ig34_comments_reply_on_ad", &["change"]),
    ("ig35_live_comments", &["change"]),
    ("ig36_mentions_media", &["change"]),
    ("ig37_mentions_comment", &["change"]),
    ("ig38_story_insights", &["change"]),
    ("ig39_batch_multi", &["message", "read", "message_echo"]),
    ("m01_message_text", &["message"]),
    ("m02_message_quick_reply", &["message"]),
    ("m03_message_reply_to", &["message"]),
    ("m04_message_attachment_image", &["message"]),
    ("m05_message_attachment_audio", &["message"]),
    ("m06_message_attachment_video", &["message"]),
    ("m07_message_attachment_file", &["message"]),
    ("m08_message_attachment_sticker", &["message"]),
    ("m09_message_attachment_location_legacy", &["message"]),
    ("m10_message_attachment_fallback", &["message"]),
    ("m11_message_attachment_reel", &["message"]),
    ("m12_message_attachment_ig_reel", &["message"]),
    ("m13_message_attachment_post", &["message"]),
    ("m14_message_attachment_ig_post", &["message"]),
    ("m15_message_attachment_appointment_booking", &["message"]),
    ("m16_message_product_template_share", &["message"]),
    ("m17_message_shops_product_referral", &["message"]),
    ("m18_message_ads_referral", &["message"]),
    ("m19_message_commands", &["message"]),
    ("m20_message_nlp", &["message"]),
    ("m21_echo_text", &["message_echo"]),
    ("m22_echo_attachment_image", &["message_echo"]),
    ("m23_echo_template_button", &["message_echo"]),
    ("m24_echo_template_generic", &["message_echo"]),
    ("m25_echo_template_media", &["message_echo"]),
    ("m26_echo_template_product", &["message_echo"]),
    ("m27_echo_fallback_legacy", &["message_echo"]),
    ("m28_echo_reply_to", &["message_echo"]),
    ("m29_echo_appointment_booking", &["message_echo"]),
    ("m30_delivery", &["delivery"]),
    ("m31_read", &["read"]),
    ("m32_postback", &["postback"]),
    ("m33_postback_get_started_shortlink_referral", &["postback"]),
    ("m34_optin_send_to_messenger", &["optin"]),
    ("m35_optin_checkbox_plugin_user_ref", &["optin"]),
    ("m36_optin_notification_messages", &["optin"]),
    ("m37_optin_notification_messages_stop", &["optin"]),
    ("m38_optin_one_time_notif_req_legacy", &["optin"]),
    ("m39_referral_shortlink", &["referral"]),
    ("m40_referral_ads", &["referral"]),
    ("m41_referral_chat_plugin_user_ref", &["referral"]),
    ("m42_referral_chat_plugin_guest", &["referral"]),
    ("m43_referral_lead_ads_complete", &["referral"]),
    ("m44_handover_pass_thread_control", &["pass_thread_control"]),
    ("m45_handover_take_thread_control", &["take_thread_control"]),
    (
        "m46_handover_request_thread_control",
        &["request_thread_control"],
    ),
    ("m47_handover_app_roles", &["app_roles"]),
    ("m48_standby_message", &["message"]),
    ("m49_standby_postback_no_payload", &["postback"]),
    ("m50_standby_read_and_delivery", &["read", "delivery"]),
    ("m51_policy_enforcement_warning", &["policy_enforcement"]),
    ("m52_policy_enforcement_block", &["policy_enforcement"]),
    ("m53_policy_enforcement_unblock", &["policy_enforcement"]),
    ("m54_account_linking_linked", &["account_linking"]),
    ("m55_account_linking_unlinked", &["account_linking"]),
    ("m56_reaction_react", &["reaction"]),
    ("m57_reaction_unreact", &["reaction"]),
    ("m58_message_edit", &["message_edit"]),
    ("m59_game_play", &["game_play"]),
    ("m60_messaging_feedback", &["messaging_feedback"]),
    ("m61_response_feedback", &["response_feedback"]),
    ("m62_send_cart", &["order"]),
    ("m63_calls_connect", &["call"]),
    ("m64_call_permission_reply", &["call_permission_reply"]),
    (
        "m65_batch_multi_entry",
        &["message", "read", "postback", "message_echo"],
    ),
    ("m66_optin_notification_messages_via_shortlink", &["optin"]),
    ("m67_calls_terminate", &["call"]),
    // hookline's own edge cases (tests/fixtures/extra).
    ("x01_dashboard_test_instagram_changes", &["message"]),
    ("x02_dashboard_bare_postback", &["postback"]),
    ("x03_dashboard_bare_feed", &["change"]),
    ("x04_legacy_policy_enforcement_key", &["policy_enforcement"]),
    (
        "x05_unknown_kind_and_array_beside_known",
        &["message", "unknown", "message", "unknown"],
    ),
    ("x06_wrong_type_in_one_event", &["unknown", "read"]),
    (
        "x07_lead_summary_with_hop_context",
        &["pass_thread_control", "message"],
    ),
    ("x08_sticker_transition_and_like_heart", &["message"]),
    (
        "x09_instagram_like_heart_and_page_inbox_echo",
        &["message", "message_echo"],
    ),
    ("x10_marketing_message_delivery_change", &["change"]),
    ("x11_user_object_unrelated", &["unknown", "change"]),
];

/// Fixtures whose point is to hold something hookline does not understand.
const MEANT_TO_BE_UNKNOWN: &[&str] = &[
    "x05_unknown_kind_and_array_beside_known",
    "x06_wrong_type_in_one_event",
    "x11_user_object_unrelated",
];

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fixture_path(name: &str) -> PathBuf {
    let direct = fixture_dir().join(format!("{name}.json"));
    if direct.exists() {
        direct
    } else {
        fixture_dir().join("extra").join(format!("{name}.json"))
    }
}

fn read(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn all_fixture_names() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for dir in [fixture_dir(), fixture_dir().join("extra")] {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "json") {
                names.insert(path.file_stem().unwrap().to_string_lossy().into_owned());
            }
        }
    }
    names
}

fn kinds(events: &[Event<'_>]) -> Vec<&'static str> {
    events.iter().map(Event::kind_name).collect()
}

fn unknown_attachments(events: &[Event<'_>]) -> usize {
    events
        .iter()
        .filter_map(|event| event.kind.message())
        .flat_map(|message| &message.attachments)
        .filter(|a| matches!(a, Attachment::Unknown(_)))
        .count()
}

fn records(events: &[Event<'_>]) -> Vec<serde_json::Value> {
    events
        .iter()
        .map(|e| serde_json::to_value(e.record()).unwrap())
        .collect()
}

#[test]
fn every_fixture_is_in_the_table() {
    let table: BTreeSet<String> = EXPECTED
        .iter()
        .map(|(name, _)| (*name).to_owned())
        .collect();
    assert_eq!(all_fixture_names(), table);
}

#[test]
fn every_fixture_parses_to_its_kinds() {
    for (name, expected) in EXPECTED {
        let body = read(name);
        let events = parse_with(&body, &options()).unwrap();
        assert_eq!(kinds(&events), *expected, "{name}");
        if !MEANT_TO_BE_UNKNOWN.contains(name) {
            assert_eq!(
                unknown_attachments(&events),
                0,
                "{name} has an unknown attachment"
            );
        }
    }
}

#[test]
fn every_attachment_type_is_covered_by_a_fixture() {
    let mut seen = BTreeSet::new();
    for (name, _) in EXPECTED {
        let body = read(name);
        for event in parse_with(&body, &options()).unwrap() {
            let Some(message) = event.kind.message() else {
                continue;
            };
            let attachments = &message.attachments;
            seen.extend(attachments.iter().map(|a| a.type_name().to_owned()));
        }
    }
    for documented in [
        "image",
        "audio",
        "video",
        "file",
        "sticker",
        "fallback",
        "reel",
        "ig_reel",
        "post",
        "ig_post",
        "share",
        "story_mention",
        "ephemeral",
        "like_heart",
        "location",
        "template",
        "appointment_booking",
    ] {
        assert!(
            seen.contains(documented),
            "no fixture has a `{documented}` attachment"
        );
    }
}

#[test]
fn parse_output_matches_the_snapshots() {
    for (name, _) in EXPECTED {
        let body = read(name);
        let events = parse_with(&body, &options()).unwrap();
        insta::with_settings!({ snapshot_suffix => *name, prepend_module_to_snapshot => false }, {
            insta::assert_json_snapshot!("parse", records(&events));
        });
    }
}

#[test]
fn wire_form_parses_to_the_same_events() {
    for (name, _) in EXPECTED {
        let pretty = read(name);
        let wire = wire::reencode(&pretty).unwrap();
        assert!(wire.is_ascii(), "{name}");
        let from_pretty = records(&parse_with(&pretty, &options()).unwrap());
        let from_wire = records(&parse_with(&wire, &options()).unwrap());
        assert_eq!(from_pretty, from_wire, "{name}");
    }
}

#[test]
fn signed_wire_bodies_verify_and_reserialised_ones_do_not() {
    let secret = "fixture-app-secret";
    let verifier = Verifier::new(vec![Secret::new(secret)]);
    let mut changed_by_reserialising = 0;
    for (name, _) in EXPECTED {
        let wire = wire::reencode(&read(name)).unwrap();
        let header = sign(secret.as_bytes(), &wire);
        let headers = SignatureHeaders {
            sha256: Some(header.as_bytes()),
            sha1: None,
        };
        let verified = verifier
            .verify(&headers, wire.as_slice())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !parse_with(verified.bytes(), &options()).unwrap().is_empty(),
            "{name}"
        );

        // What a JSON library would send on: same value, different bytes (raw `/`, raw UTF-8).
        let value: serde_json::Value = serde_json::from_slice(&wire).unwrap();
        let reserialised = serde_json::to_vec(&value).unwrap();
        if reserialised != wire {
            changed_by_reserialising += 1;
            assert!(
                verifier.verify(&headers, reserialised.as_slice()).is_err(),
                "{name}"
            );
        }
    }
    // Fixtures with URLs or emoji, so a re-serialised body differs from the signed one.
    assert!(
        changed_by_reserialising >= 40,
        "only {changed_by_reserialising} fixtures changed"
    );
}
