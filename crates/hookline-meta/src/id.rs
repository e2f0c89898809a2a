//! Ids as Meta sends them: JSON strings or JSON integers, always kept as decimal text.
//!
//! Meta is inconsistent: `app_id`, `sticker_id`, `post.id`, handover app ids and product ids arrive as numbers
//! in some payloads and as strings in others, and some exceed 2^53. Going through `f64` would silently
//! change their last digits, so integers are formatted straight from `u64`/`i64`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// An identifier (PSID, IGSID, Page id, app id, mid-like ids in numbers) normalised to its decimal string.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct Id<'a>(Cow<'a, str>);

impl<'a> Id<'a> {
    /// Wraps an id given as text.
    pub fn new(text: impl Into<Cow<'a, str>>) -> Self {
        Id(text.into())
    }

    /// The id as text; integers appear in their full decimal form.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Copies the id so it no longer borrows from the body.
    pub fn into_owned(self) -> Id<'static> {
        Id(Cow::Owned(self.0.into_owned()))
    }
}

impl fmt::Debug for Id<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Id<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Id<'_> {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Id<'_> {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Id<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IdVisitor)
    }
}

struct IdVisitor;

impl<'de> Visitor<'de> for IdVisitor {
    type Value = Id<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an id as a string or an integer")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Id(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Id(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Id(Cow::Owned(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Id(Cow::Owned(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Id(Cow::Owned(v.to_string())))
    }

    // serde_json only calls this for numbers with a fraction or beyond u64: neither can be an id
    // without losing digits, so the event is reported as not understood instead of guessed at.
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Err(E::custom(format_args!(
            "id {v} is not an integer that fits in 64 bits; Meta ids are decimal strings or integers"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(json: &str) -> Result<String, serde_json::Error> {
        serde_json::from_str::<Id<'_>>(json).map(|id| id.as_str().to_owned())
    }

    #[test]
    fn numbers_and_strings_become_the_same_text() {
        assert_eq!(id("1517776481860111").unwrap(), "1517776481860111");
        assert_eq!(id("\"1517776481860111\"").unwrap(), "1517776481860111");
    }

    #[test]
    fn keeps_every_digit_above_two_to_the_fifty_third() {
        // 17918195224117851 is not representable as f64 (it would print ...850).
        assert_eq!(id("17918195224117851").unwrap(), "17918195224117851");
        assert_eq!(id("18446744073709551615").unwrap(), "18446744073709551615");
    }

    #[test]
    fn borrows_plain_strings_from_the_body() {
        let parsed: Id<'_> = serde_json::from_str("\"104938475610293\"").unwrap();
        assert!(matches!(parsed.0, Cow::Borrowed(_)));
    }

    #[test]
    fn rejects_fractions_and_numbers_beyond_u64() {
        assert!(id("12.5").is_err());
        assert!(id("18446744073709551616").is_err());
        assert!(id("{}").is_err());
    }
}
