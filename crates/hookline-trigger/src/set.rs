//! `--set PATH=VALUE`: overriding one field of the body.
//!
//! PATH is a dot path with numeric array indices. It is relative to the event object (`message.text`,
//! `message.attachments.0.payload.url`) unless its first part is `entry` or `object`, which make it
//! absolute from the body's root (`entry.0.time`). VALUE is read as JSON when it is valid JSON (`42`,
//! `true`, `{"a":1}`, `"42"` for the string) and taken as a plain string otherwise. Missing object members
//! are created along the way; a path through a string, number, `null` or past the end of an array is an
//! error naming the path.

use serde_json::{Map, Value};

use crate::error::TriggerError;

/// One parsed `--set`.
#[derive(Debug, Clone)]
pub(crate) struct Set {
    path: String,
    parts: Vec<String>,
    value: Value,
}

impl Set {
    pub fn parse(set: &str) -> Result<Set, TriggerError> {
        let bad = || TriggerError::BadSet {
            set: set.to_owned(),
        };
        let (path, raw) = set.split_once('=').ok_or_else(bad)?;
        let parts: Vec<String> = path.trim().split('.').map(str::to_owned).collect();
        if parts.iter().any(String::is_empty) {
            return Err(bad());
        }
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
        Ok(Set {
            path: path.trim().to_owned(),
            parts,
            value,
        })
    }

    /// Whether the path starts at the body's root rather than at the event.
    pub fn is_absolute(&self) -> bool {
        matches!(self.parts[0].as_str(), "entry" | "object")
    }

    /// The value as given, for checks on what the user typed.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// Sets the field under `root` (the event for relative paths, the body for absolute ones).
    pub fn apply(&self, root: &mut Value) -> Result<(), TriggerError> {
        put(root, &self.parts, self.value.clone()).map_err(|reason| TriggerError::BadPath {
            path: self.path.clone(),
            reason,
        })
    }
}

/// Puts `value` at `parts` under `root`, creating missing object members.
pub(crate) fn put<S: AsRef<str>>(
    root: &mut Value,
    parts: &[S],
    value: Value,
) -> Result<(), String> {
    let (last, parents) = parts.split_last().expect("a path has at least one part");
    let mut at = root;
    for (depth, part) in parents.iter().enumerate() {
        let here = || join(&parts[..depth]);
        at = match at {
            Value::Object(members) => members
                .entry(part.as_ref())
                .or_insert_with(|| Value::Object(Map::new())),
            Value::Array(items) => index(items, part.as_ref(), &here())?,
            other => return Err(not_a_container(other, &here(), part.as_ref())),
        };
    }
    let here = join(parents);
    match at {
        Value::Object(members) => {
            members.insert(last.as_ref().to_owned(), value);
        }
        Value::Array(items) => *index(items, last.as_ref(), &here)? = value,
        other => return Err(not_a_container(other, &here, last.as_ref())),
    }
    Ok(())
}

fn index<'v>(items: &'v mut [Value], part: &str, here: &str) -> Result<&'v mut Value, String> {
    let len = items.len();
    let i: usize = part.parse().map_err(|_| {
        format!(
            "`{here}` is an array, so `{part}` must be an index from 0 to {}",
            len.saturating_sub(1)
        )
    })?;
    items
        .get_mut(i)
        .ok_or_else(|| format!("index {i} is past the end of `{here}`, which has {len} item(s)"))
}

fn not_a_container(value: &Value, here: &str, part: &str) -> String {
    let what = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) | Value::Object(_) => "a container",
    };
    format!("`{here}` is {what}, so it has no `{part}`")
}

fn join<S: AsRef<str>>(parts: &[S]) -> String {
    if parts.is_empty() {
        return "(the root)".to_owned();
    }
    parts
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn apply(set: &str, mut value: Value) -> Result<Value, TriggerError> {
        Set::parse(set)?.apply(&mut value)?;
        Ok(value)
    }

    #[test]
    fn values_are_json_when_they_parse_and_strings_otherwise() {
        let v = apply("a=42", json!({})).unwrap();
        assert_eq!(v, json!({"a": 42}));
        let v = apply("a=\"42\"", json!({})).unwrap();
        assert_eq!(v, json!({"a": "42"}));
        let v = apply("a=hello world", json!({})).unwrap();
        assert_eq!(v, json!({"a": "hello world"}));
        let v = apply("a={\"b\":[1,null]}", json!({})).unwrap();
        assert_eq!(v, json!({"a": {"b": [1, null]}}));
        let v = apply("a=x=y", json!({})).unwrap();
        assert_eq!(v, json!({"a": "x=y"}));
    }

    #[test]
    fn paths_index_arrays_and_create_missing_members() {
        let body = json!({"m": {"attachments": [{"payload": {"url": "a"}}]}});
        let v = apply("m.attachments.0.payload.url=https://x.example/b", body).unwrap();
        assert_eq!(
            v["m"]["attachments"][0]["payload"]["url"],
            "https://x.example/b"
        );
        let v = apply("m.new.deep=1", json!({"m": {}})).unwrap();
        assert_eq!(v, json!({"m": {"new": {"deep": 1}}}));
        // A numeric part names a member when the value there is an object (app_roles is keyed by app id).
        let v = apply("roles.123=[\"primary_receiver\"]", json!({"roles": {}})).unwrap();
        assert_eq!(v["roles"]["123"], json!(["primary_receiver"]));
    }

    #[test]
    fn a_path_through_a_scalar_is_an_error_naming_the_path() {
        let err = apply("message.text.size=1", json!({"message": {"text": "hi"}})).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`message.text.size`"), "{text}");
        assert!(text.contains("`message.text` is a string"), "{text}");
    }

    #[test]
    fn an_index_past_the_end_or_not_a_number_is_an_error() {
        let body = json!({"a": [1]});
        let err = apply("a.1=2", body.clone()).unwrap_err().to_string();
        assert!(
            err.contains("index 1 is past the end of `a`, which has 1 item(s)"),
            "{err}"
        );
        let err = apply("a.first=2", body).unwrap_err().to_string();
        assert!(err.contains("must be an index"), "{err}");
    }

    #[test]
    fn a_set_without_equals_or_with_an_empty_part_is_rejected() {
        for bad in ["message.text", "=x", "a..b=1", ".a=1"] {
            assert!(
                matches!(Set::parse(bad), Err(TriggerError::BadSet { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn entry_and_object_paths_are_absolute() {
        assert!(Set::parse("entry.0.time=1").unwrap().is_absolute());
        assert!(Set::parse("object=instagram").unwrap().is_absolute());
        assert!(!Set::parse("message.text=x").unwrap().is_absolute());
    }
}
