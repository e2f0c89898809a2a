//! The readable line of an event: time, object, kind, sender → recipient, mid or field, and a message's
//! text, with the kind coloured on a terminal.

use serde_json::Value;

/// Longest message text shown; the rest is cut.
const TEXT_CHARS: usize = 60;
/// Mids are long (80+ characters); the start tells them apart.
const MID_CHARS: usize = 24;

/// `event` (the JSON of `hookline events list --json`, with `raw` when read) as one line.
pub fn render(event: &Value, colour: bool) -> String {
    let text = |key: &str| event[key].as_str().unwrap_or("-");
    let time = match event["timestamp_ms"].as_i64() {
        Some(ms) => crate::store::rfc3339(ms),
        None => text("received_at").to_owned(),
    };
    let kind = text("kind");
    let who = event["sender"]
        .as_str()
        .or(event["sender_user_ref"].as_str())
        .unwrap_or("-");
    let about = event["mid"]
        .as_str()
        .map(|mid| cut(mid, MID_CHARS))
        .or_else(|| event["field"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let mut line = format!(
        "{}  {:<9}  {}  {who} → {}  {about}",
        paint(&time, DIM, colour),
        text("object"),
        paint(&format!("{kind:<22}"), colour_of(kind), colour),
        text("recipient"),
    );
    if let Some(said) = said(&event["raw"]) {
        line.push_str(&format!("  \"{}\"", cut(&said, TEXT_CHARS)));
    }
    line.trim_end().to_owned()
}

/// What the event says, from its raw JSON: a message's or an edit's text, a postback's title, a
/// reaction's emoji, else the type of a message's first attachment.
fn said(raw: &Value) -> Option<String> {
    // A messaging event that came in a `changes` item is under `value`.
    let raw = if raw["value"].is_object() && raw["field"].is_string() {
        &raw["value"]
    } else {
        raw
    };
    let message = &raw["message"];
    let text = message["text"]
        .as_str()
        .or(raw["message_edit"]["text"].as_str())
        .or(raw["postback"]["title"].as_str())
        .or(raw["reaction"]["emoji"].as_str())
        .or(raw["reaction"]["reaction"].as_str());
    if let Some(text) = text {
        return Some(printable(text));
    }
    let attachment = message["attachments"][0]["type"].as_str()?;
    Some(format!("[{attachment}]"))
}

/// `text` on one line, with control characters escaped: a user's message must not be able to send
/// escape sequences to the terminal.
fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, word) in text.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        for c in word.chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
    }
    out
}

fn cut(text: &str, chars: usize) -> String {
    match text.char_indices().nth(chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

const DIM: &str = "2";

/// An SGR colour per family of kinds: what users say green, the business's echoes blue, changes to a
/// message yellow, reactions magenta, receipts dim, prompts cyan, handover bright blue, unknown red.
fn colour_of(kind: &str) -> &'static str {
    match kind {
        "message" => "32",
        "message_echo" => "34",
        "message_edit" | "message_deleted" => "33",
        "reaction" => "35",
        "delivery" | "read" => DIM,
        "postback" | "optin" | "referral" => "36",
        "pass_thread_control" | "take_thread_control" | "request_thread_control" | "app_roles" => {
            "94"
        }
        "unknown" => "31",
        _ => "1",
    }
}

fn paint(text: &str, sgr: &str, colour: bool) -> String {
    if colour {
        format!("\x1b[{sgr}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(text: &str) -> Value {
        json!({
            "object": "page", "kind": "message", "sender": "7", "recipient": "100",
            "timestamp_ms": 1_767_610_000_123_i64, "mid": "m_0123456789abcdefghijklmnopqrstuvwxyz",
            "field": null, "received_at": "2026-01-05T10:46:41.000Z",
            "raw": {"sender": {"id": "7"}, "message": {"mid": "m_0", "text": text}},
        })
    }

    #[test]
    fn a_message_line_has_time_object_kind_parties_mid_and_text() {
        let line = render(&message("hello\nthere"), false);
        assert_eq!(
            line,
            "2026-01-05T10:46:40.123Z  page       message                 7 → 100  \
             m_0123456789abcdefghijkl…  \"hello there\""
        );
    }

    #[test]
    fn long_texts_are_cut_and_colour_is_plain_ansi() {
        let line = render(&message(&"é".repeat(200)), true);
        assert!(
            line.contains(&format!("\"{}…\"", "é".repeat(TEXT_CHARS))),
            "{line}"
        );
        assert!(line.contains("\x1b[32mmessage"), "{line}");
        assert!(line.starts_with("\x1b[2m2026"), "{line}");
    }

    #[test]
    fn changes_show_their_field_and_events_without_raw_have_no_text() {
        let change = json!({
            "object": "instagram", "kind": "change", "field": "comments", "sender": null,
            "sender_user_ref": null, "recipient": null, "timestamp_ms": null, "mid": null,
            "received_at": "2026-01-05T10:46:41.000Z",
        });
        assert_eq!(
            render(&change, false),
            "2026-01-05T10:46:41.000Z  instagram  change                  - → -  comments"
        );
    }

    #[test]
    fn what_an_event_says_comes_from_wherever_its_kind_keeps_it() {
        let said = |raw: Value| super::said(&raw);
        assert_eq!(
            said(json!({"reaction": {"reaction": "love", "emoji": "❤️"}})).as_deref(),
            Some("❤️")
        );
        assert_eq!(
            said(json!({"postback": {"title": "Get started"}})).as_deref(),
            Some("Get started")
        );
        assert_eq!(
            said(json!({"message": {"attachments": [{"type": "image"}]}})).as_deref(),
            Some("[image]")
        );
        let in_changes =
            json!({"field": "messages", "value": {"message": {"text": "via changes"}}});
        assert_eq!(said(in_changes).as_deref(), Some("via changes"));
        assert_eq!(said(json!({"read": {"watermark": 1}})), None);
    }

    #[test]
    fn control_characters_in_a_text_are_escaped_not_sent_to_the_terminal() {
        let line = render(&message("red \u{1b}[31malert\u{7}"), false);
        assert!(line.ends_with(r#""red \u{1b}[31malert\u{7}""#), "{line}");
    }
}
