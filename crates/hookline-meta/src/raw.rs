//! A borrowed piece of the body's JSON, exactly as received.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// Raw JSON borrowed from the body. Compares by its text; serialises as the JSON it holds.
///
/// Every `RawJson` handed out by the parser has been checked to be one valid JSON value.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RawJson<'a>(&'a str);

impl<'a> RawJson<'a> {
    /// Wraps text the caller knows to be one valid JSON value.
    pub(crate) fn new(json: &'a str) -> Self {
        RawJson(json)
    }

    /// The JSON text, byte for byte as it appeared in the body.
    pub fn get(&self) -> &'a str {
        self.0
    }

    /// True for the JSON literal `null`.
    pub fn is_null(&self) -> bool {
        self.0 == "null"
    }
}

impl<'a> From<&'a RawValue> for RawJson<'a> {
    fn from(raw: &'a RawValue) -> Self {
        RawJson(raw.get())
    }
}

impl<'a> From<RawJson<'a>> for &'a str {
    fn from(raw: RawJson<'a>) -> Self {
        raw.0
    }
}

impl fmt::Debug for RawJson<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// Writes the JSON as received when it is on one line (Meta's bodies always are), and compacted otherwise,
/// so that a pretty-printed input never breaks one-record-per-line output.
impl Serialize for RawJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let compacted;
        let json = if self.0.contains(['\n', '\r']) {
            // Token by token, not through `serde_json::Value`, which would refuse numbers beyond f64 and
            // lose repeated keys.
            compacted = crate::wire::compact(self.0);
            compacted.as_str()
        } else {
            self.0
        };
        let raw: &RawValue = serde_json::from_str(json).map_err(S::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&'de RawValue>::deserialize(deserializer).map(RawJson::from)
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
        let odd: RawJson<'_> =
            serde_json::from_str("{\"x\": 1e400,\n \"x\": \"\\ud800\"}").unwrap();
        assert_eq!(
            serde_json::to_string(&odd).unwrap(),
            r#"{"x":1e400,"x":"\ud800"}"#
        );
    }
}
