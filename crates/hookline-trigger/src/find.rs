//! Looking a kind up by name, with aliases and suggestions for names that are close.

use crate::catalog::{ALIASES, Kind, catalog};
use crate::error::TriggerError;

/// The catalog entry called `name` (case-insensitive, `-` read as `_`), or named by an alias: the
/// CONTRACTS.md kinds without an entry of their own (`message_echo` → `echo`, `message_deleted` →
/// `instagram.deleted`, `change` → `instagram.comments`, ...) and a few obvious spellings.
pub fn find(name: &str) -> Result<&'static Kind, TriggerError> {
    let wanted = normalise(name);
    let target = ALIASES
        .iter()
        .find(|(alias, _)| *alias == wanted)
        .map_or(wanted.as_str(), |(_, target)| target);
    catalog()
        .iter()
        .find(|kind| kind.name == target)
        .ok_or_else(|| TriggerError::UnknownKind {
            name: name.to_owned(),
            close: close_names(&wanted),
        })
}

fn normalise(name: &str) -> String {
    name.trim().to_ascii_lowercase().replace('-', "_")
}

/// At most five names close to `wanted`: those whose last part is `wanted` (`image` → `message.image`,
/// `instagram.image`, ...), then those within a few typos of it, nearest first.
fn close_names(wanted: &str) -> Vec<&'static str> {
    let names = catalog()
        .iter()
        .map(|kind| kind.name)
        .chain(ALIASES.iter().map(|(alias, _)| *alias));
    let mut scored: Vec<(usize, &'static str)> = names
        .filter_map(|name| {
            let last = name.rsplit('.').next().unwrap_or(name);
            let score = if last == wanted || name.split('.').any(|part| part == wanted) {
                0
            } else {
                let typos = distance(wanted, name).min(distance(wanted, last) + 1);
                (typos <= 2.max(wanted.len() / 4)).then_some(typos)?
            };
            Some((score, name))
        })
        .collect();
    scored.sort();
    let mut close: Vec<&'static str> = Vec::new();
    for (_, name) in scored {
        if !close.contains(&name) {
            close.push(name);
        }
    }
    close.truncate(5);
    close
}

/// Levenshtein distance over bytes (names are ASCII).
fn distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, &ca) in a.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(diagonal + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_every_catalog_name() {
        for kind in catalog() {
            assert_eq!(find(kind.name).unwrap().name, kind.name);
        }
    }

    #[test]
    fn catalog_names_are_unique_and_aliases_point_at_entries() {
        let mut names: Vec<&str> = catalog().iter().map(|k| k.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), catalog().len());
        for (alias, target) in ALIASES {
            assert!(!names.contains(alias), "alias {alias} shadows an entry");
            assert!(names.contains(target), "alias {alias} -> missing {target}");
        }
    }

    #[test]
    fn every_contract_kind_name_is_accepted_and_gives_that_kind() {
        for kind in [
            "message",
            "message_echo",
            "message_deleted",
            "message_edit",
            "reaction",
            "delivery",
            "read",
            "postback",
            "optin",
            "referral",
            "pass_thread_control",
            "take_thread_control",
            "request_thread_control",
            "app_roles",
            "policy_enforcement",
            "account_linking",
            "game_play",
            "messaging_feedback",
            "response_feedback",
            "order",
            "call",
            "call_permission_reply",
            "change",
            "unknown",
        ] {
            assert_eq!(find(kind).unwrap().kind, kind);
        }
    }

    #[test]
    fn names_are_read_case_insensitively_with_dashes_as_underscores() {
        assert_eq!(find("Echo.Page-Inbox").unwrap().name, "echo.page_inbox");
        assert_eq!(find(" message_echo ").unwrap().name, "echo");
    }

    #[test]
    fn an_unknown_name_is_an_error_with_its_close_names() {
        let err = find("image").unwrap_err().to_string();
        assert!(err.contains("`message.image`"), "{err}");
    }

    #[test]
    fn an_unknown_name_suggests_names_ending_in_it() {
        let close = close_names("image");
        assert!(close.contains(&"message.image"), "{close:?}");
        assert!(close.contains(&"instagram.image"), "{close:?}");
    }

    #[test]
    fn a_typo_suggests_the_intended_name() {
        assert_eq!(close_names("mesage.imgae").first(), Some(&"message.image"));
    }

    #[test]
    fn nonsense_suggests_nothing() {
        assert!(close_names("zzzzzzzz").is_empty());
    }
}
