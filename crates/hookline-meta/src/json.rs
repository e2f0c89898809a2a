//! Lenient views of raw JSON used on the slow path, where a body's structure is not what Meta documents.

use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

use crate::text::Text;

/// The members of a JSON object in order, duplicates included; `None` when `raw` is not an object.
pub(crate) fn object_fields<'a>(raw: &'a RawValue) -> Option<Vec<(Text<'a>, &'a RawValue)>> {
    if !raw.get().starts_with('{') {
        return None;
    }
    serde_json::from_str::<Fields<'a>>(raw.get())
        .ok()
        .map(|f| f.0)
}

/// The items of a JSON array; `None` when `raw` is not an array.
pub(crate) fn array_items<'a>(raw: &'a RawValue) -> Option<Vec<&'a RawValue>> {
    if !raw.get().starts_with('[') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

/// The first member named `key`, if `raw` is an object that has one.
pub(crate) fn member<'a>(fields: &[(Text<'a>, &'a RawValue)], key: &str) -> Option<&'a RawValue> {
    fields
        .iter()
        .find(|(name, _)| name.as_str() == key)
        .map(|(_, raw)| *raw)
}

/// Reads `raw` as `T`, treating `null` and values of the wrong shape as absent.
pub(crate) fn lenient<'a, T: Deserialize<'a>>(raw: Option<&'a RawValue>) -> Option<T> {
    raw.and_then(|raw| serde_json::from_str::<Option<T>>(raw.get()).ok().flatten())
}

/// The JSON type of a raw value, for messages about unexpected shapes.
pub(crate) fn type_name(raw: &RawValue) -> &'static str {
    match raw.get().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

struct Fields<'a>(Vec<(Text<'a>, &'a RawValue)>);

impl<'de: 'a, 'a> Deserialize<'de> for Fields<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(FieldsVisitor)
    }
}

struct FieldsVisitor;

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Fields<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields = Vec::new();
        while let Some(key) = map.next_key::<Text<'de>>()? {
            fields.push((key, map.next_value::<&'de RawValue>()?));
        }
        Ok(Fields(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> &RawValue {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn object_fields_keep_duplicates_in_order() {
        let body = raw(r#"{"a":1,"b":[2],"a":3}"#);
        let fields = object_fields(body).unwrap();
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "b", "a"]);
        assert_eq!(member(&fields, "a").unwrap().get(), "1");
    }

    #[test]
    fn non_objects_and_non_arrays_are_none() {
        assert!(object_fields(raw("[1]")).is_none());
        assert!(array_items(raw("{}")).is_none());
        assert_eq!(array_items(raw("[1, {}]")).unwrap().len(), 2);
    }

    #[test]
    fn lenient_reads_treat_wrong_shapes_as_absent() {
        assert_eq!(lenient::<i64>(Some(raw("5"))), Some(5));
        assert_eq!(lenient::<i64>(Some(raw("\"x\""))), None);
        assert_eq!(lenient::<i64>(Some(raw("null"))), None);
    }
}
