//! What can go wrong while building a delivery. Every message says what was wrong and what to do instead.

/// An error from [`find`](crate::find), [`build`](crate::build) or [`Template::new`](crate::Template::new).
#[derive(Debug, thiserror::Error)]
pub enum TriggerError {
    /// No catalog entry or alias has this name.
    #[error("unknown kind `{name}`{}; run `hookline trigger --list` to see every kind", suggest(.close))]
    UnknownKind {
        name: String,
        /// Catalog names close to the one given, best first.
        close: Vec<&'static str>,
    },

    /// `--text` for a kind whose events carry no text.
    #[error(
        "`{kind}` has no text to replace; --text works for kinds with a message, echo, edit or comment text \
         (message, echo, message_edit, instagram.comments, ...), or set a field with --set PATH=VALUE"
    )]
    NoText { kind: &'static str },

    /// A `--set` argument without `=`, or with an empty path.
    #[error(
        "--set `{set}`: expected PATH=VALUE with a dot path, e.g. `message.text=hi` or `entry.0.time=1767610000000`"
    )]
    BadSet { set: String },

    /// A `--set` path that does not lead anywhere in the body.
    #[error("--set path `{path}`: {reason}")]
    BadPath { path: String, reason: String },

    /// A `--page` or `--user` value that is not an id.
    #[error("--{flag} `{value}`: {expected}")]
    BadId {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },

    /// More events than Meta puts in one POST.
    #[error("--batch {batch}: Meta batches at most {max} entries in one POST; ask for {max} or fewer", max = crate::MAX_BATCH)]
    BatchTooLarge { batch: usize },

    /// A user population of none, or of more users than the varying digits of an id tell apart.
    #[error(
        "--users {users}: give a population of 1 to {max} users (e.g. --users 10000)",
        max = crate::MAX_USERS
    )]
    BadUsers { users: u64 },

    /// A value given by the user contains the marker used to find patchable fields in the encoded body.
    #[error("{what} contains `{marker}`, which trigger reserves for its own use; leave it out", marker = crate::mark::MARKER)]
    Reserved { what: String },
}

fn suggest(close: &[&str]) -> String {
    match close {
        [] => String::new(),
        [one] => format!(" (did you mean `{one}`?)"),
        many => {
            let names: Vec<String> = many.iter().map(|name| format!("`{name}`")).collect();
            format!(" (did you mean one of {}?)", names.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_kind_names_close_matches_and_the_list_command() {
        let err = TriggerError::UnknownKind {
            name: "mesage".into(),
            close: vec!["message", "message_edit"],
        };
        let text = err.to_string();
        assert!(text.contains("`mesage`"), "{text}");
        assert!(text.contains("`message`, `message_edit`"), "{text}");
        assert!(text.contains("hookline trigger --list"), "{text}");
    }
}
