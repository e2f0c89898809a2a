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
