//! Event times normalised to epoch milliseconds, with the value Meta sent kept beside them.
//!
//! Most times are milliseconds, but calls, Instagram `changes` entries, lead-ads referrals and appointment
//! bookings use seconds, and dashboard test payloads send strings. Like nyaruka/courier, values below 1e12 are
//! read as seconds (1e12 ms is 2001-09-09, so no real millisecond time is that small).

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

const SECONDS_BELOW: i64 = 1_000_000_000_000;

/// A point in time as Meta sent it, and the same time in epoch milliseconds when it could be read.
#[derive(Clone, Debug, PartialEq)]
pub struct Timestamp<'a> {
    ms: Option<i64>,
    raw: RawTime<'a>,
}

/// The JSON value a timestamp arrived as.
#[derive(Clone, Debug, PartialEq)]
pub enum RawTime<'a> {
    /// A JSON integer.
    Int(i64),
    /// A JSON number with a fraction (or an integer beyond i64).
    Float(f64),
    /// A JSON string.
    Text(Cow<'a, str>),
}

impl<'a> Timestamp<'a> {
    /// Reads an integer time: seconds below 1e12, else milliseconds.
    pub fn from_int(value: i64) -> Self {
        Timestamp {
            ms: int_to_ms(value),
            raw: RawTime::Int(value),
        }
    }

    /// Reads a time sent as a string: a decimal number in seconds or milliseconds, else unreadable.
    pub fn from_text(text: impl Into<Cow<'a, str>>) -> Self {
        let text = text.into();
        let trimmed = text.trim();
        let ms = match trimmed.parse::<i64>() {
            Ok(value) => int_to_ms(value),
            Err(_) => trimmed.parse::<f64>().ok().and_then(float_to_ms),
        };
        Timestamp {
            ms,
            raw: RawTime::Text(text),
        }
    }

    fn from_float(value: f64) -> Self {
        Timestamp {
            ms: float_to_ms(value),
            raw: RawTime::Float(value),
        }
    }

    /// Epoch milliseconds, or `None` when the value is not a time (e.g. `"soon"`).
    pub fn ms(&self) -> Option<i64> {
        self.ms
    }

    /// The value as it was received.
    pub fn raw(&self) -> &RawTime<'a> {
        &self.raw
    }

    /// Copies the timestamp so it no longer borrows from the body.
    pub fn into_owned(self) -> Timestamp<'static> {
        let raw = match self.raw {
            RawTime::Int(v) => RawTime::Int(v),
            RawTime::Float(v) => RawTime::Float(v),
            RawTime::Text(t) => RawTime::Text(Cow::Owned(t.into_owned())),
        };
        Timestamp { ms: self.ms, raw }
    }
}

fn int_to_ms(value: i64) -> Option<i64> {
    // `unsigned_abs`: `abs` of i64::MIN overflows.
    if value.unsigned_abs() < SECONDS_BELOW as u64 {
        value.checked_mul(1000)
    } else {
        Some(value)
    }
}

fn float_to_ms(value: f64) -> Option<i64> {
    if !value.is_finite() {
        return None;
    }
    let ms = if value.abs() < SECONDS_BELOW as f64 {
        value * 1000.0
    } else {
        value
    };
    // i64 covers ±292 million years in ms; anything outside is not a time.
    (ms.abs() < 9.0e18).then(|| ms.round() as i64)
}

impl fmt::Display for RawTime<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RawTime::Int(v) => write!(f, "{v}"),
            RawTime::Float(v) => write!(f, "{v}"),
            RawTime::Text(t) => f.write_str(t),
        }
    }
}

impl Serialize for RawTime<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RawTime::Int(v) => serializer.serialize_i64(*v),
            RawTime::Float(v) => serializer.serialize_f64(*v),
            RawTime::Text(t) => serializer.serialize_str(t),
        }
    }
}

/// Serialises as epoch milliseconds (null when unreadable): the one form consumers should compute with.
impl Serialize for Timestamp<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.ms.serialize(serializer)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Timestamp<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Timestamp<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a time as a number or a numeric string")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Timestamp::from_int(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(match i64::try_from(v) {
            Ok(v) => Timestamp::from_int(v),
            Err(_) => Timestamp::from_float(v as f64),
        })
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Timestamp::from_float(v))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Timestamp::from_text(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Timestamp::from_text(Cow::Owned(v.to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(json: &str) -> Option<i64> {
        serde_json::from_str::<Timestamp<'_>>(json).unwrap().ms()
    }

    #[test]
    fn milliseconds_pass_through() {
        assert_eq!(ms("1767610000311"), Some(1_767_610_000_311));
    }

    #[test]
    fn seconds_below_1e12_become_milliseconds() {
        assert_eq!(ms("1767610100"), Some(1_767_610_100_000));
        assert_eq!(ms("999999999999"), Some(999_999_999_999_000));
        assert_eq!(ms("1000000000000"), Some(1_000_000_000_000));
    }

    #[test]
    fn numeric_strings_are_read_like_numbers() {
        assert_eq!(ms("\"1527459824\""), Some(1_527_459_824_000));
        assert_eq!(ms("\" 1767610000311 \""), Some(1_767_610_000_311));
        assert_eq!(ms("\"1767610100.25\""), Some(1_767_610_100_250));
    }

    #[test]
    fn unreadable_text_keeps_its_raw_value_and_has_no_time() {
        let t: Timestamp<'_> = serde_json::from_str("\"soon\"").unwrap();
        assert_eq!(t.ms(), None);
        assert_eq!(t.raw().to_string(), "soon");
    }

    #[test]
    fn fractional_seconds_round_to_the_millisecond() {
        assert_eq!(ms("1767610100.5"), Some(1_767_610_100_500));
    }

    #[test]
    fn absurd_values_do_not_overflow() {
        assert_eq!(ms("9223372036854775807"), Some(i64::MAX));
        assert_eq!(ms("18446744073709551615"), None);
        assert_eq!(ms("1e300"), None);
    }

    #[test]
    fn the_most_negative_integer_is_read_as_milliseconds_without_overflow() {
        assert_eq!(ms("-9223372036854775808"), Some(i64::MIN));
        assert_eq!(ms("\"-9223372036854775808\""), Some(i64::MIN));
        assert_eq!(ms("-999999999999"), Some(-999_999_999_999_000));
    }

    #[test]
    fn objects_are_not_times() {
        assert!(serde_json::from_str::<Timestamp<'_>>("{}").is_err());
    }
}
