//! What a caller can change about a delivery: the account and user ids, the text, any field, and how many
//! events go in one POST.

use crate::error::TriggerError;
use crate::mark::MARKER;
use crate::set::Set;

/// The most entries Meta puts in one POST.
pub const MAX_BATCH: usize = 1000;

/// The largest user population: user ids vary in their last 12 digits.
pub const MAX_USERS: u64 = 1_000_000_000_000;

/// Overrides for a delivery; the default keeps the template's own values and sends one event.
#[derive(Debug, Clone, Default)]
pub struct Params {
    /// The Page or Instagram account id: replaces the template's wherever it appears (`entry.id`,
    /// `recipient.id`, the sender of echoes, ids and URLs that embed it).
    pub page: Option<String>,
    /// The user id (PSID / IGSID; for plugin kinds the `user_ref`): replaces the template's user wherever
    /// it appears, as sender or, for echoes and other events the account sends, as recipient.
    pub user: Option<String>,
    /// The message text (or the echo's, edit's or comment's text). An error for kinds without one.
    pub text: Option<String>,
    /// `path=value` overrides, applied in order after the ids and text: relative ones to each event, then
    /// absolute ones to the body. The path is a dot path with numeric array indices, relative to the event
    /// (`message.attachments.0.payload.url`) unless it starts with `entry` or `object`; the value is JSON
    /// when it parses as JSON, else a string. Missing object members are created; a path through a scalar
    /// or past the end of an array is an error.
    pub sets: Vec<String>,
    /// Events in the POST, one `entry` each; 0 and 1 both mean one.
    pub batch: usize,
    /// For load templates ([`Template::new`](crate::Template::new)): the users events come from, as a
    /// population of this many ids that event `i` takes in turn (`i` modulo the count). `None` keeps one
    /// user for kinds keyed by content (every message from the object's default user) and a new user for
    /// every event of kinds keyed by their user (receipts, handovers, opt-ins, ...). Ignored when
    /// [`user`](Params::user) is set and for kinds without a user.
    pub users: Option<u64>,
}

impl Params {
    /// How many events (entries) the body holds.
    pub(crate) fn events(&self) -> Result<usize, TriggerError> {
        match self.batch {
            0 | 1 => Ok(1),
            n if n > MAX_BATCH => Err(TriggerError::BatchTooLarge { batch: n }),
            n => Ok(n),
        }
    }

    /// The user population, checked: at least one, and no more than the varying digits of an id can tell
    /// apart (`10^12`).
    pub(crate) fn users(&self) -> Result<Option<u64>, TriggerError> {
        match self.users {
            Some(users) if users == 0 || users > MAX_USERS => Err(TriggerError::BadUsers { users }),
            users => Ok(users),
        }
    }

    /// The `--set` overrides, parsed.
    pub(crate) fn sets(&self) -> Result<Vec<Set>, TriggerError> {
        let sets: Vec<Set> = self
            .sets
            .iter()
            .map(|s| Set::parse(s))
            .collect::<Result<_, _>>()?;
        for (set, raw) in sets.iter().zip(&self.sets) {
            if set.value().to_string().contains(MARKER) || raw.contains(MARKER) {
                return Err(TriggerError::Reserved {
                    what: format!("--set `{raw}`"),
                });
            }
        }
        Ok(sets)
    }

    /// The text, checked for the reserved marker.
    pub(crate) fn text(&self) -> Result<Option<&str>, TriggerError> {
        match self.text.as_deref() {
            Some(text) if text.contains(MARKER) => Err(TriggerError::Reserved {
                what: "--text".to_owned(),
            }),
            text => Ok(text),
        }
    }
}

/// Checks an account or user id: digits only, as Meta's ids are.
pub(crate) fn check_id(flag: &'static str, value: &str) -> Result<String, TriggerError> {
    let value = value.trim();
    if !value.is_empty() && value.len() <= 24 && value.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(value.to_owned());
    }
    Err(TriggerError::BadId {
        flag,
        value: value.to_owned(),
        expected: "an id is a string of up to 24 digits, e.g. 104938475610293 (Page) or 7392015648120394 (PSID)",
    })
}

/// Checks a plugin `user_ref`: letters, digits, `-` and `_`.
pub(crate) fn check_user_ref(value: &str) -> Result<String, TriggerError> {
    let value = value.trim();
    let allowed = |b: u8| b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
    if !value.is_empty() && value.len() <= 128 && value.bytes().all(allowed) {
        return Ok(value.to_owned());
    }
    Err(TriggerError::BadId {
        flag: "user",
        value: value.to_owned(),
        expected: "this kind names its user by a plugin user_ref: letters, digits, `-` and `_`, e.g. cp_5a1f0c9e2d7b",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_zero_and_one_mean_one_event_and_the_maximum_is_metas() {
        let with = |batch| {
            Params {
                batch,
                ..Params::default()
            }
            .events()
        };
        assert_eq!(with(0).unwrap(), 1);
        assert_eq!(with(1).unwrap(), 1);
        assert_eq!(with(MAX_BATCH).unwrap(), MAX_BATCH);
        assert!(matches!(
            with(MAX_BATCH + 1),
            Err(TriggerError::BatchTooLarge { .. })
        ));
    }

    #[test]
    fn a_user_population_is_at_least_one_and_fits_the_digits() {
        let with = |users| {
            Params {
                users,
                ..Params::default()
            }
            .users()
        };
        assert_eq!(with(None).unwrap(), None);
        assert_eq!(with(Some(1)).unwrap(), Some(1));
        assert_eq!(with(Some(MAX_USERS)).unwrap(), Some(MAX_USERS));
        for bad in [0, MAX_USERS + 1] {
            let err = with(Some(bad)).unwrap_err().to_string();
            assert!(err.starts_with(&format!("--users {bad}")), "{err}");
        }
    }

    #[test]
    fn ids_must_be_digits() {
        assert_eq!(check_id("page", " 123 ").unwrap(), "123");
        for bad in ["", "12a", "-1", "1.5"] {
            let err = check_id("page", bad).unwrap_err().to_string();
            assert!(err.starts_with("--page"), "{err}");
        }
        assert!(check_user_ref("cp_abc-1").is_ok());
        assert!(check_user_ref("a b").is_err());
    }
}
