//! A borrowed piece of the body's JSON, exactly as received.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// Raw JSON borrowed from the body. Compares by its text; serialises as the JSON it holds.
#[derive(Clone, Copy)]
pub struct RawJson<'a>(&'a RawValue);

impl<'a> RawJson<'a> {
    /// The JSON text, byte for byte as it appeared in the body.
    pub fn get(&self) -> &'a str {
        self.0.get()
    }

    /// The underlying serde_json value.
    pub fn as_raw_value(&self) -> &'a RawValue {
        self.0
    }

    /// True for the JSON literal `null`.
    pub fn is_null(&self) -> bool {
        self.0.get() == "null"
    }
}

impl<'a> From<&'a RawValue> for RawJson<'a> {
    fn from(raw: &'a RawValue) -> Self {
        RawJson(raw)
    }
}

impl PartialEq for RawJson<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.get() == other.0.get()
    }
}

impl Eq for RawJson<'_> {}

impl fmt::Debug for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.get())
    }
}

/// Writes the JSON as received when it is on one line (Meta's bodies always are), and compacted otherwise,
/// so that a pretty-printed input never breaks one-record-per-line output.
impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.get();
        if !text.contains(['\n', '\r']) {
            return self.0.serialize(serializer);
        }
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => value.serialize(serializer),
            Err(_) => self.0.serialize(serializer),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(deserializer).map(RawJson)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_multi_line_json_on_one_line() {
        let raw: RawJson<'_> = serde_json::from_str("{\n  \"a\": [1,\n 2]\n}").unwrap();
        assert_eq!(serde_json::to_string(&raw).unwrap(), r#"{"a":[1,2]}"#);
        let compact: RawJson<'_> = serde_json::from_str(r#"{"b" : 1}"#).unwrap();
        assert_eq!(serde_json::to_string(&compact).unwrap(), r#"{"b" : 1}"#);
    }
}
