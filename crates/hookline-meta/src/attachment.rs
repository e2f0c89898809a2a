//! Message attachments, inbound (user → business) and in echoes (business → user), Messenger and Instagram.
//!
//! Each attachment is decoded on its own from its raw JSON: an attachment type hookline does not know, or one
//! whose payload has an unexpected shape, becomes [`Attachment::Unknown`] with its JSON kept, and the message
//! and its other attachments are unaffected.

use serde::de::Deserializer;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::id::Id;
use crate::raw::RawJson;
use crate::scalar::string_enum;
use crate::text::Text;
use crate::timestamp::Timestamp;

/// One attachment of a message.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Attachment<'a> {
    Image(Media<'a>),
    Audio(Media<'a>),
    Video(Media<'a>),
    File(Media<'a>),
    /// The `sticker` type of the 2026 transition; legacy stickers arrive as `Image` with a `sticker_id`.
    Sticker(Media<'a>),
    /// A link preview. v6.0+ puts `url`/`title` in the payload, older versions on the attachment itself;
    /// both are read into the same fields.
    Fallback(Media<'a>),
    Reel(Media<'a>),
    IgReel(Media<'a>),
    Post(Media<'a>),
    IgPost(Media<'a>),
    /// Instagram: a shared post (only the URL is provided).
    Share(Media<'a>),
    /// Instagram: the user mentioned the account in their story.
    StoryMention(Media<'a>),
    /// Instagram: view-once media; Meta sends no payload.
    Ephemeral,
    /// Instagram: the heart sent with the like button; no payload.
    LikeHeart,
    /// Legacy Messenger location share (removed from current docs).
    Location(Location),
    /// Templates: product shares inbound, any Send API template in echoes.
    Template(Template<'a>),
    AppointmentBooking(AppointmentBooking<'a>),
    /// A type hookline does not know, or a known type whose payload could not be read.
    #[serde(untagged)]
    Unknown(UnknownAttachment<'a>),
}

/// URL-style media (image, audio, video, file, sticker, fallback, reels, posts, shares, story mentions).
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Media<'a> {
    /// The CDN URL (temporary: download promptly if you keep media).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Text<'a>>,
    /// Stickers, including legacy `image` stickers: dedupe the 2026 double delivery on this.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sticker_id: Option<Id<'a>>,
    /// Reels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reel_video_id: Option<Id<'a>>,
    /// Posts (can exceed 2^53).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<Id<'a>>,
}

/// Coordinates of a legacy location attachment.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Location {
    pub lat: Option<f64>,
    pub long: Option<f64>,
}

string_enum!(
    /// `payload.template_type` of a template echo. Product templates have no `template_type` key; hookline
    /// reports them as `product`.
    TemplateType {
        Button = "button",
        Generic = "generic",
        Media = "media",
        Product = "product",
        Receipt = "receipt",
        Coupon = "coupon",
        CustomerFeedback = "customer_feedback",
    }
);

/// A template attachment. The common parts are typed; `payload` keeps the whole payload for the rest
/// (receipt lines, coupon codes, ...), since echoes mirror whatever the sender put in the Send API call.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Template<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template_type: Option<TemplateType>,
    /// Button templates: the text above the buttons.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<Text<'a>>,
    /// Generic, media and product elements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub elements: Vec<TemplateElement<'a>>,
    /// Button templates: the buttons.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button<'a>>,
    /// The payload exactly as received.
    #[serde(skip_serializing)]
    pub payload: Option<RawJson<'a>>,
}

/// An element of a generic, media or product template.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct TemplateElement<'a> {
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub retailer_id: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub title: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<Text<'a>>,
    /// Media templates: a JSON number in echoes.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub attachment_id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub url: Option<Text<'a>>,
    #[serde(borrow, default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button<'a>>,
    /// Generic templates: what tapping the element opens, as sent.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub default_action: Option<RawJson<'a>>,
}

/// A button as the Send API describes it (`web_url`, `postback`, `phone_number`, ...).
#[derive(Clone, Debug, Default, PartialEq, Deserialize, Serialize)]
pub struct Button<'a> {
    #[serde(rename = "type", borrow, skip_serializing_if = "Option::is_none")]
    pub button_type: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub title: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub url: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Text<'a>>,
}

/// An appointment booked in the thread. Start and end arrive in seconds and are normalised to ms.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AppointmentBooking<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<Text<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_time: Option<Timestamp<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_time: Option<Timestamp<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<Text<'a>>,
}

/// An attachment that was not understood, with its JSON.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnknownAttachment<'a> {
    /// The `type` it carried, if it had a readable one.
    #[serde(rename = "type")]
    pub attachment_type: Option<String>,
    /// Why it was not understood.
    pub reason: String,
    /// The attachment exactly as received.
    pub raw: RawJson<'a>,
}

impl<'a> Attachment<'a> {
    /// The type name as Meta spells it (`image`, `ig_reel`, ...), or the unknown type, or `unknown`.
    pub fn type_name(&self) -> &str {
        match self {
            Attachment::Image(_) => "image",
            Attachment::Audio(_) => "audio",
            Attachment::Video(_) => "video",
            Attachment::File(_) => "file",
            Attachment::Sticker(_) => "sticker",
            Attachment::Fallback(_) => "fallback",
            Attachment::Reel(_) => "reel",
            Attachment::IgReel(_) => "ig_reel",
            Attachment::Post(_) => "post",
            Attachment::IgPost(_) => "ig_post",
            Attachment::Share(_) => "share",
            Attachment::StoryMention(_) => "story_mention",
            Attachment::Ephemeral => "ephemeral",
            Attachment::LikeHeart => "like_heart",
            Attachment::Location(_) => "location",
            Attachment::Template(_) => "template",
            Attachment::AppointmentBooking(_) => "appointment_booking",
            Attachment::Unknown(u) => u.attachment_type.as_deref().unwrap_or("unknown"),
        }
    }

    /// The media URL, for the types that have one.
    pub fn url(&self) -> Option<&str> {
        match self {
            Attachment::Image(m)
            | Attachment::Audio(m)
            | Attachment::Video(m)
            | Attachment::File(m)
            | Attachment::Sticker(m)
            | Attachment::Fallback(m)
            | Attachment::Reel(m)
            | Attachment::IgReel(m)
            | Attachment::Post(m)
            | Attachment::IgPost(m)
            | Attachment::Share(m)
            | Attachment::StoryMention(m) => m.url.as_deref(),
            _ => None,
        }
    }

    /// Decodes one attachment from its JSON; never fails.
    pub fn from_raw(raw: &'a RawValue) -> Self {
        let raw = raw.get();
        match serde_json::from_str::<Wire<'a>>(raw) {
            Ok(wire) => wire.decode(raw),
            Err(err) => Attachment::Unknown(UnknownAttachment {
                attachment_type: None,
                reason: format!("attachment is not an object with a type: {err}"),
                raw: RawJson::new(raw),
            }),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Attachment<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = <&'de RawValue>::deserialize(deserializer)?;
        Ok(Attachment::from_raw(raw))
    }
}

/// The attachment object: `type`, `payload`, and the legacy top-level `title`/`url`.
#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    #[serde(borrow)]
    title: Option<Text<'a>>,
    #[serde(borrow)]
    url: Option<Text<'a>>,
}

/// Every payload key of the documented attachment types, read in one pass.
#[derive(Default, Deserialize)]
struct Payload<'a> {
    #[serde(borrow)]
    url: Option<Text<'a>>,
    #[serde(borrow)]
    title: Option<Text<'a>>,
    #[serde(borrow)]
    sticker_id: Option<Id<'a>>,
    #[serde(borrow)]
    reel_video_id: Option<Id<'a>>,
    #[serde(borrow)]
    id: Option<Id<'a>>,
    coordinates: Option<Location>,
    template_type: Option<TemplateType>,
    #[serde(borrow)]
    text: Option<Text<'a>>,
    #[serde(borrow)]
    elements: Option<Vec<TemplateElement<'a>>>,
    #[serde(borrow)]
    buttons: Option<Vec<Button<'a>>>,
    #[serde(borrow)]
    product: Option<ProductPayload<'a>>,
    #[serde(borrow)]
    booking_id: Option<Text<'a>>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
    #[serde(borrow)]
    start_time: Option<Timestamp<'a>>,
    #[serde(borrow)]
    end_time: Option<Timestamp<'a>>,
    #[serde(borrow)]
    timezone: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct ProductPayload<'a> {
    #[serde(borrow, default)]
    elements: Vec<TemplateElement<'a>>,
}

impl<'a> Wire<'a> {
    fn decode(self, raw: &'a str) -> Attachment<'a> {
        let payload = match self.payload {
            None => Payload::default(),
            Some(p) if p.get() == "null" => Payload::default(),
            Some(p) => match serde_json::from_str::<Payload<'a>>(p.get()) {
                Ok(payload) => payload,
                Err(err) => return self.unknown(raw, format!("payload not understood: {err}")),
            },
        };
        let title = payload.title.clone();
        let media = Media {
            url: payload.url.clone().or(self.url.clone()),
            title: title.or(self.title.clone()),
            sticker_id: payload.sticker_id.clone(),
            reel_video_id: payload.reel_video_id.clone(),
            id: payload.id.clone(),
        };
        match self.kind.as_str() {
            "image" => Attachment::Image(media),
            "audio" => Attachment::Audio(media),
            "video" => Attachment::Video(media),
            "file" => Attachment::File(media),
            "sticker" => Attachment::Sticker(media),
            "fallback" => Attachment::Fallback(media),
            "reel" => Attachment::Reel(media),
            "ig_reel" => Attachment::IgReel(media),
            "post" => Attachment::Post(media),
            "ig_post" => Attachment::IgPost(media),
            "share" => Attachment::Share(media),
            "story_mention" => Attachment::StoryMention(media),
            "ephemeral" => Attachment::Ephemeral,
            "like_heart" => Attachment::LikeHeart,
            "location" => match payload.coordinates {
                Some(at) => Attachment::Location(at),
                None => self.unknown(raw, "location without payload.coordinates".into()),
            },
            "template" => Attachment::Template(template(payload, self.payload)),
            "appointment_booking" => Attachment::AppointmentBooking(AppointmentBooking {
                booking_id: payload.booking_id,
                status: payload.status,
                start_time: payload.start_time,
                end_time: payload.end_time,
                timezone: payload.timezone,
            }),
            other => {
                let reason = format!("attachment type `{other}` is not one hookline knows");
                self.unknown(raw, reason)
            }
        }
    }

    fn unknown(&self, raw: &'a str, reason: String) -> Attachment<'a> {
        Attachment::Unknown(UnknownAttachment {
            attachment_type: Some(self.kind.as_str().to_owned()),
            reason,
            raw: RawJson::new(raw),
        })
    }
}

fn template<'a>(payload: Payload<'a>, raw: Option<&'a RawValue>) -> Template<'a> {
    let (template_type, elements) = match payload.product {
        // Product shares and product-template echoes carry `product.elements` and no `template_type`.
        Some(product) if payload.template_type.is_none() => {
            (Some(TemplateType::Product), product.elements)
        }
        _ => (payload.template_type, payload.elements.unwrap_or_default()),
    };
    Template {
        template_type,
        text: payload.text,
        elements,
        buttons: payload.buttons.unwrap_or_default(),
        payload: raw.map(RawJson::from),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str) -> Attachment<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn reads_media_urls_from_the_payload() {
        let a = decode(r#"{"type":"image","payload":{"url":"https:\/\/cdn.example\/a.jpg"}}"#);
        assert_eq!(a.type_name(), "image");
        assert_eq!(a.url(), Some("https://cdn.example/a.jpg"));
    }

    #[test]
    fn legacy_fallback_takes_title_and_url_from_the_attachment() {
        let a = decode(
            r#"{"title":"Legacy","url":"https://m.example/","type":"fallback","payload":null}"#,
        );
        let Attachment::Fallback(media) = a else {
            panic!("not a fallback")
        };
        assert_eq!(media.title.as_deref(), Some("Legacy"));
        assert_eq!(media.url.as_deref(), Some("https://m.example/"));
    }

    #[test]
    fn post_ids_keep_all_their_digits() {
        let a = decode(r#"{"type":"ig_post","payload":{"url":"u","id":17918195224117851}}"#);
        let Attachment::IgPost(media) = a else {
            panic!("not an ig_post")
        };
        assert_eq!(media.id.unwrap().as_str(), "17918195224117851");
    }

    #[test]
    fn product_payloads_without_template_type_are_product_templates() {
        let a = decode(
            r#"{"type":"template","payload":{"product":{"elements":[{"id":"7","title":"Tee"}]}}}"#,
        );
        let Attachment::Template(t) = a else {
            panic!("not a template")
        };
        assert_eq!(t.template_type, Some(TemplateType::Product));
        assert_eq!(t.elements[0].title.as_deref(), Some("Tee"));
    }

    #[test]
    fn unknown_types_keep_their_json() {
        let json = r#"{"type":"hologram","payload":{"url":"x"}}"#;
        let Attachment::Unknown(u) = decode(json) else {
            panic!("should be unknown")
        };
        assert_eq!(u.attachment_type.as_deref(), Some("hologram"));
        assert_eq!(u.raw.get(), json);
    }

    #[test]
    fn a_payload_of_the_wrong_shape_is_unknown_not_an_error() {
        let Attachment::Unknown(u) = decode(r#"{"type":"image","payload":"nope"}"#) else {
            panic!("should be unknown")
        };
        assert!(u.reason.contains("payload"), "{}", u.reason);
        let Attachment::Unknown(u) = decode(r#"[1,2]"#) else {
            panic!("should be unknown")
        };
        assert_eq!(u.attachment_type, None);
    }

    #[test]
    fn payloadless_instagram_types_are_known() {
        assert_eq!(decode(r#"{"type":"ephemeral"}"#), Attachment::Ephemeral);
        assert_eq!(decode(r#"{"type":"like_heart"}"#), Attachment::LikeHeart);
    }
}
