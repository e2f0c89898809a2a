//! Free text from a payload (message text, payloads, titles, URLs), borrowed from the body when possible.
//!
//! serde's own `Cow<str>` never borrows inside an `Option`, and most payload strings are optional, so this
//! newtype does the borrowing itself. Strings with JSON escapes (`\/`, `\u00e4`) are unescaped into an owned
//! copy. Numbers and booleans are accepted as their JSON text, because a payload of `42` carries the same
//! information as `"42"` and losing the event over it would help nobody.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A string from the body.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Text<'a>(Cow<'a, str>);

impl<'a> Text<'a> {
    /// Wraps a string.
    pub fn new(text: impl Into<Cow<'a, str>>) -> Self {
        Text(text.into())
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = Text<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Text(Cow::Owned(v.to_string())))
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Text(Cow::Borrowed(if v { "true" } else { "false" })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrows_unescaped_strings_and_unescapes_the_rest() {
        let plain: Text<'_> = serde_json::from_str(r#""hello""#).unwrap();
        assert!(matches!(plain.0, Cow::Borrowed("hello")));
        let escaped: Text<'_> = serde_json::from_str(r#""https:\/\/x.example\/\u00e4""#).unwrap();
        assert_eq!(escaped.as_str(), "https://x.example/ä");
    }

    #[test]
    fn scalars_become_their_json_text() {
        assert_eq!(
            serde_json::from_str::<Text<'_>>("42").unwrap().as_str(),
            "42"
        );
        assert_eq!(
            serde_json::from_str::<Text<'_>>("true").unwrap().as_str(),
            "true"
        );
        assert!(serde_json::from_str::<Text<'_>>("[1]").is_err());
    }
}
