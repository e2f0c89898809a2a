//! Lenient views of raw JSON used on the slow path, where a body's structure is not what Meta documents.

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

use crate::text::{Key, Text};

/// The members of a JSON object in order, duplicates included; `None` when `raw` is not an object.
pub(crate) fn object_fields(raw: &str) -> Option<Vec<(Text<'_>, &str)>> {
    if !raw.starts_with('{') {
        return None;
    }
    serde_json::from_str::<Fields<'_>>(raw).ok().map(|f| f.0)
}

/// The items of a JSON array; `None` when `raw` is not an array.
pub(crate) fn array_items(raw: &str) -> Option<Vec<&str>> {
    if !raw.starts_with('[') {
        return None;
    }
    let items: Vec<&RawValue> = serde_json::from_str(raw).ok()?;
    Some(items.into_iter().map(RawValue::get).collect())
}

/// True when `raw` is exactly one valid JSON value.
pub(crate) fn is_valid(raw: &str) -> bool {
    serde_json::from_str::<IgnoredAny>(raw).is_ok()
}

/// The first member named `key`, if `raw` is an object that has one.
pub(crate) fn member<'a>(fields: &[(Text<'a>, &'a str)], key: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(name, _)| name.as_str() == key)
        .map(|(_, raw)| *raw)
}

/// Reads `raw` as `T`, treating `null` and values of the wrong shape as absent.
pub(crate) fn lenient<'a, T: Deserialize<'a>>(raw: Option<impl Into<&'a str>>) -> Option<T> {
    raw.and_then(|raw| serde_json::from_str::<Option<T>>(raw.into()).ok().flatten())
}

/// The JSON type of a raw value, for messages about unexpected shapes.
pub(crate) fn type_name(raw: &str) -> &'static str {
    match raw.as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

struct Fields<'a>(Vec<(Text<'a>, &'a str)>);

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
        while let Some(key) = map.next_key::<Key<'de>>()? {
            fields.push((key.into(), map.next_value::<&'de RawValue>()?.get()));
        }
        Ok(Fields(fields))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> &str {
        json
    }

    #[test]
    fn object_fields_keep_duplicates_in_order() {
        let body = raw(r#"{"a":1,"b":[2],"a":3}"#);
        let fields = object_fields(body).unwrap();
        let names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "b", "a"]);
        assert_eq!(member(&fields, "a").unwrap(), "1");
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
