//! Free text from a payload (message text, payloads, titles, URLs), borrowed from the body.
//!
//! Meta's wire form escapes every `/` and every non-ASCII character, so most URLs and most non-English
//! texts contain escapes. Unescaping them all while parsing would copy and allocate for strings nobody may
//! read, so a string with escapes is kept as its JSON and decoded once, on first use. A string without
//! escapes is simply a slice of the body. Numbers and booleans are accepted as their JSON text, because a
//! payload of `42` carries the same information as `"42"` and losing the event over it would help nobody.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::OnceLock;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::value::RawValue;

/// A string from the body.
#[derive(Clone)]
pub struct Text<'a>(Repr<'a>);

#[derive(Clone)]
enum Repr<'a> {
    Plain(Cow<'a, str>),
    /// A JSON string literal with escapes (quotes included), and its decoded form once asked for. Boxed:
    /// escaped strings are the minority, and an inline cache would double the size of every text.
    Escaped(Box<(&'a str, OnceLock<String>)>),
}

impl<'a> Text<'a> {
    /// Wraps a string.
    pub fn new(text: impl Into<Cow<'a, str>>) -> Self {
        Text(Repr::Plain(text.into()))
    }

    /// The text, unescaped.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Plain(text) => text,
            Repr::Escaped(escaped) => escaped.1.get_or_init(|| unescape(escaped.0)),
        }
    }

    /// Reads the JSON text of a string, number or boolean; `None` for objects, arrays and null.
    fn from_json(json: &'a str) -> Option<Self> {
        match json.as_bytes().first()? {
            b'"' => {
                let inner = &json[1..json.len() - 1];
                Some(Text(if memchr::memchr(b'\\', inner.as_bytes()).is_some() {
                    Repr::Escaped(Box::new((json, OnceLock::new())))
                } else {
                    Repr::Plain(Cow::Borrowed(inner))
                }))
            }
            b'{' | b'[' | b'n' => None,
            _ => Some(Text(Repr::Plain(Cow::Borrowed(json)))),
        }
    }
}

/// Decodes a JSON string literal. Valid JSON may still escape half of a UTF-16 surrogate pair, which has
/// no UTF-8 form: such an escape becomes U+FFFD, as a lossy UTF-16 decoder would make it.
fn unescape(json: &str) -> String {
    if let Ok(text) = serde_json::from_str(json) {
        return text;
    }
    let inner = json
        .get(1..json.len().saturating_sub(1))
        .unwrap_or_default();
    String::from_utf16_lossy(&crate::wire::string_units(inner))
}

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text<'_> {}

impl PartialOrd for Text<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Text<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The name `Text` asks for itself by. Deserializers other than the crate's own event reader do not know it
/// and hand over the value as it is ([`TextVisitor::visit_newtype_struct`]); the reader hands over a string
/// it has already scanned, so the string is not scanned again for escapes.
pub(crate) const TEXT_TOKEN: &str = "$hookline::Text";

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_newtype_struct(TEXT_TOKEN, TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    /// Any value: its JSON text, read as [`Text::from_json`] reads it.
    fn visit_newtype_struct<D: Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Self::Value, D::Error> {
        let raw = <&'de RawValue>::deserialize(deserializer)?;
        Text::from_json(raw.get()).ok_or_else(|| {
            de::Error::custom(format_args!(
                "expected a string, found {}",
                crate::json::type_name(raw.get())
            ))
        })
    }

    /// A string without escapes, already unquoted (the reader's shortcut).
    fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Repr::Plain(Cow::Borrowed(text))))
    }
}

/// An object key. Keys are short and almost never escaped, so they are decoded at once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Key<'a>(Cow<'a, str>);

impl<'a> Key<'a> {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'a> From<Key<'a>> for Text<'a> {
    fn from(key: Key<'a>) -> Self {
        Text::new(key.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Key<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Key(Cow::Owned(v.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(json: &str) -> Text<'_> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn borrows_unescaped_strings_and_unescapes_the_rest_on_use() {
        let plain = text(r#""hello""#);
        assert!(matches!(plain.0, Repr::Plain(Cow::Borrowed("hello"))));
        let escaped = text(r#""https:\/\/x.example\/\u00e4 \ud83d\ude00""#);
        assert!(matches!(&escaped.0, Repr::Escaped(boxed) if boxed.1.get().is_none()));
        assert_eq!(escaped.as_str(), "https://x.example/ä 😀");
        assert_eq!(escaped, Text::new("https://x.example/ä 😀"));
    }

    #[test]
    fn unpaired_surrogate_escapes_become_replacement_characters() {
        assert_eq!(text(r#""a\ud800b\/""#).as_str(), "a\u{fffd}b/");
        assert_eq!(text(r#""\udc00\ud83d\ude00""#).as_str(), "\u{fffd}😀");
    }

    #[test]
    fn scalars_become_their_json_text() {
        assert_eq!(text("42").as_str(), "42");
        assert_eq!(text("29.0").as_str(), "29.0");
        assert_eq!(text("true").as_str(), "true");
        assert!(serde_json::from_str::<Text<'_>>("[1]").is_err());
        assert!(serde_json::from_str::<Text<'_>>("{}").is_err());
        assert!(
            serde_json::from_str::<Option<Text<'_>>>("null")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn serialises_the_unescaped_text() {
        assert_eq!(
            serde_json::to_string(&text(r#""a\/b""#)).unwrap(),
            r#""a/b""#
        );
    }
}
