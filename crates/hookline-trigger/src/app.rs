//! The app the templates were sent by and to, and how to make a delivery name another app instead.
//!
//! The fixtures use `1517776481860111` as "our app": it sends the echoes of `echo` and friends, and owns
//! or receives threads in the handover events. A receiver classifies an echo as `this_app` only when its
//! `app_id` is one of its own, so `hookline trigger` swaps in the receiver's app id with `--set`s made here.

use serde_json::Value;

use crate::catalog::Kind;
use crate::shape::Shape;

/// The app id the templates use for the app receiving the deliveries.
pub const TEMPLATE_APP_ID: &str = "1517776481860111";

/// The `--set` overrides (`path=value`, relative to the event) that replace [`TEMPLATE_APP_ID`] with
/// `app_id` wherever the kind's event uses it: as a value (an echo's `app_id`, handover owner ids, keeping
/// number or string as the template has it) or as a member name (the roles of `app_roles`). Empty for
/// kinds that do not mention the app, or when `app_id` is not an id.
pub fn app_id_sets(kind: &Kind, app_id: &str) -> Vec<String> {
    let app_id = app_id.trim();
    if app_id.is_empty() || !app_id.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let mut shape = Shape::of(kind);
    let channel = shape.channel;
    let event = Shape::event(&mut shape.entry, channel);
    let mut sets = Vec::new();
    collect(event, &mut Vec::new(), app_id, &mut sets);
    sets
}

fn collect(value: &Value, path: &mut Vec<String>, app_id: &str, sets: &mut Vec<String>) {
    match value {
        Value::String(text) if text == TEMPLATE_APP_ID => {
            sets.push(format!("{}=\"{app_id}\"", path.join(".")))
        }
        Value::Number(number) if number.to_string() == TEMPLATE_APP_ID => {
            sets.push(format!("{}={app_id}", path.join(".")))
        }
        Value::Array(items) => items.iter().enumerate().for_each(|(i, item)| {
            path.push(i.to_string());
            collect(item, path, app_id, sets);
            path.pop();
        }),
        Value::Object(members) => {
            if members.contains_key(TEMPLATE_APP_ID) {
                // A member name cannot be set, so the object is set whole, renamed.
                let renamed: serde_json::Map<String, Value> = members
                    .iter()
                    .map(|(name, v)| {
                        (
                            if name == TEMPLATE_APP_ID {
                                app_id.to_owned()
                            } else {
                                name.clone()
                            },
                            v.clone(),
                        )
                    })
                    .collect();
                sets.push(format!("{}={}", path.join("."), Value::Object(renamed)));
                return;
            }
            for (name, member) in members {
                path.push(name.clone());
                collect(member, path, app_id, sets);
                path.pop();
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Params, build, find};

    fn sets(name: &str) -> Vec<String> {
        app_id_sets(find(name).unwrap(), "42424242")
    }

    fn event(name: &str, sets: Vec<String>) -> Value {
        let params = Params {
            sets,
            ..Params::default()
        };
        let body: Value =
            serde_json::from_slice(&build(find(name).unwrap(), &params).unwrap().body).unwrap();
        let entry = &body["entry"][0];
        entry.get("messaging").or(entry.get("standby")).unwrap()[0].clone()
    }

    #[test]
    fn an_echo_of_this_app_takes_the_given_app_id_as_a_number() {
        assert_eq!(sets("echo"), ["message.app_id=42424242"]);
        assert_eq!(event("echo", sets("echo"))["message"]["app_id"], 42424242);
    }

    #[test]
    fn handover_owner_ids_keep_their_string_type() {
        assert_eq!(
            sets("pass_thread_control"),
            ["pass_thread_control.new_owner_app_id=\"42424242\""]
        );
        let e = event("take_thread_control", sets("take_thread_control"));
        assert_eq!(
            e["take_thread_control"]["previous_owner_app_id"],
            "42424242"
        );
    }

    #[test]
    fn app_roles_are_renamed_to_the_given_app() {
        let e = event("app_roles", sets("app_roles"));
        assert_eq!(e["app_roles"]["42424242"][0], "primary_receiver");
        assert!(e["app_roles"].get(TEMPLATE_APP_ID).is_none());
    }

    #[test]
    fn kinds_that_do_not_mention_the_app_need_no_sets() {
        assert!(sets("message").is_empty());
        assert!(sets("echo.page_inbox").is_empty());
        assert!(app_id_sets(find("echo").unwrap(), "not-an-id").is_empty());
    }
}
