//! What a template holds: its entry, the event inside it, which ids are the account's and the user's, where
//! its text is, and the time every other time in it is relative to.

use serde_json::{Map, Value};

use crate::catalog::Kind;
use crate::timefield;

/// The arrays of an entry that hold events.
const CHANNELS: [&str; 4] = ["messaging", "standby", "changes", "calls"];

/// The parts of a one-event template body that building a delivery needs.
#[derive(Debug, Clone)]
pub(crate) struct Shape {
    /// The body without its entries (`object`, and anything else at the top level).
    pub root: Map<String, Value>,
    /// The one entry, holding the one event.
    pub entry: Map<String, Value>,
    /// The entry array the event is in (`messaging`, `standby`, `changes`, `calls`).
    pub channel: &'static str,
    /// `entry.id`: the Page or Instagram account.
    pub account: String,
    /// The user the event is from or to, if it names one.
    pub user: Option<User>,
    /// The dot path of the event's text, relative to the event.
    pub text: Option<&'static [&'static str]>,
    /// The latest of `entry.time` and the event's own time, in ms: the template's "now".
    pub anchor_ms: i64,
}

/// How a template names its user.
#[derive(Debug, Clone)]
pub(crate) enum User {
    /// A PSID / IGSID (`sender.id`, `recipient.id` of echoes, `from` of calls, `from.id` of comments).
    Id(String),
    /// A plugin visitor reference (`sender.user_ref`, or a checkbox opt-in's `optin.user_ref`).
    Ref(String),
}

impl User {
    pub fn as_str(&self) -> &str {
        match self {
            User::Id(id) | User::Ref(id) => id,
        }
    }
}

const TEXT_PATHS: [&[&str]; 3] = [
    &["message", "text"],
    &["message_edit", "text"],
    &["value", "text"],
];

impl Shape {
    /// Reads a catalog template. Templates are checked by the tests, so a malformed one is a bug here.
    pub fn of(kind: &Kind) -> Shape {
        let Ok(Value::Object(mut root)) = serde_json::from_str::<Value>(kind.template) else {
            panic!("template of `{}` is not a JSON object", kind.name);
        };
        let entry = match root.remove("entry") {
            Some(Value::Array(mut entries)) if entries.len() == 1 => entries.remove(0),
            _ => panic!("template of `{}` must hold exactly one entry", kind.name),
        };
        let Value::Object(entry) = entry else {
            panic!("template of `{}`: the entry is not an object", kind.name);
        };
        let channel = CHANNELS
            .into_iter()
            .find(|name| {
                entry
                    .get(*name)
                    .and_then(Value::as_array)
                    .is_some_and(|a| a.len() == 1)
            })
            .unwrap_or_else(|| panic!("template of `{}` must hold exactly one event", kind.name));
        let account = string(entry.get("id")).expect("every template entry has an id");
        let event = &entry[channel][0];
        let user = user(event, &account);
        let text = TEXT_PATHS
            .into_iter()
            .find(|path| lookup(event, path).is_some_and(Value::is_string));
        let anchor_ms = [entry.get("time"), event.get("timestamp")]
            .into_iter()
            .flatten()
            .filter_map(timefield::ms)
            .max()
            .expect("every template has a time");
        Shape {
            root,
            entry,
            channel,
            account,
            user,
            text,
            anchor_ms,
        }
    }

    /// The event inside the entry.
    pub fn event<'e>(entry: &'e mut Map<String, Value>, channel: &str) -> &'e mut Value {
        &mut entry[channel][0]
    }
}

/// The user of an event: whichever side of it is not the account.
fn user(event: &Value, account: &str) -> Option<User> {
    let id = |party: &str| string(event.get(party).and_then(|p| p.get("id")));
    let user_ref = |at: &str| string(event.get(at).and_then(|p| p.get("user_ref")));
    if let Some(sender) = id("sender") {
        return Some(User::Id(if sender == account {
            id("recipient")?
        } else {
            sender
        }));
    }
    if let Some(from) = string(event.get("from")) {
        return Some(User::Id(if from == account {
            string(event.get("to"))?
        } else {
            from
        }));
    }
    if let Some(from) = string(
        event
            .get("value")
            .and_then(|v| v.get("from"))
            .and_then(|f| f.get("id")),
    ) {
        return Some(User::Id(from));
    }
    user_ref("sender")
        .or_else(|| user_ref("optin"))
        .map(User::Ref)
}

/// A string, or a number as its decimal text.
pub(crate) fn string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn lookup<'v>(value: &'v Value, path: &[&str]) -> Option<&'v Value> {
    path.iter().try_fold(value, |at, key| at.get(key))
}
