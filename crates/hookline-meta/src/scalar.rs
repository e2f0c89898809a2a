//! Small lenient value types shared by the event payloads: flags and closed sets of strings.

use std::fmt;

use serde::Deserializer;
use serde::de::{self, Visitor};

/// Reads a boolean flag that Meta (or a proxy in front of it) may send as `true`, `"true"` or `1`.
/// An absent or `null` flag is false; anything else is not understood.
pub(crate) fn flag<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    deserializer.deserialize_any(FlagVisitor)
}

struct FlagVisitor;

impl Visitor<'_> for FlagVisitor {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a boolean")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
        match v {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(E::invalid_value(de::Unexpected::Unsigned(v), &self)),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v {
            "true" | "1" => Ok(true),
            "false" | "0" | "" => Ok(false),
            _ => Err(E::invalid_value(de::Unexpected::Str(v), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// Defines an enum over the strings Meta documents for a field, plus `Other(String)` that keeps any value
/// Meta adds later: a new reaction name or referral source must never make an event unreadable.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this version of hookline does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The value as Meta spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(text) => text,
                }
            }

            /// Maps Meta's spelling onto a variant; unknown spellings become `Other`.
            pub fn from_wire(text: &str) -> Self {
                match text {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct V;
                impl ::serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: ::serde::de::Error>(self, v: &str) -> Result<$name, E> {
                        Ok($name::from_wire(v))
                    }
                }
                deserializer.deserialize_str(V)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use string_enum;

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Flagged {
        #[serde(default, deserialize_with = "super::flag")]
        on: bool,
    }

    fn on(json: &str) -> Option<bool> {
        serde_json::from_str::<Flagged>(json).ok().map(|f| f.on)
    }

    #[test]
    fn flags_accept_booleans_strings_and_bits() {
        assert_eq!(on(r#"{"on":true}"#), Some(true));
        assert_eq!(on(r#"{"on":"true"}"#), Some(true));
        assert_eq!(on(r#"{"on":1}"#), Some(true));
        assert_eq!(on(r#"{"on":false}"#), Some(false));
        assert_eq!(on(r#"{"on":null}"#), Some(false));
        assert_eq!(on(r#"{}"#), Some(false));
    }

    #[test]
    fn flags_reject_other_values() {
        assert_eq!(on(r#"{"on":"maybe"}"#), None);
        assert_eq!(on(r#"{"on":7}"#), None);
    }

    super::string_enum!(Colour { Red = "red", Blue = "blue" });

    #[test]
    fn string_enums_keep_unknown_values() {
        let c: Colour = serde_json::from_str("\"green\"").unwrap();
        assert_eq!(c, Colour::Other("green".into()));
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"green\"");
        let c: Colour = serde_json::from_str("\"red\"").unwrap();
        assert_eq!(c, Colour::Red);
    }
}
