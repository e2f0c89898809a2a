//! `[[account]]` sections: the Pages and Instagram accounts hookline looks after on Meta's side (their
//! webhook subscriptions, and the tokens replies go out with), each with exactly one token source.
//!
//! A token is read from its source when it is asked for ([`AccountConfig::resolve`]), so a `token_file`
//! that a secret manager rotates is picked up on the next use; validation resolves every account once,
//! so a missing variable or unreadable file stops start-up instead of the first call.

use std::path::PathBuf;

use hookline_graph::{
    DEFAULT_FIELDS, INSTAGRAM_FIELDS, OPTIONAL_FIELDS, PAGE_PERMISSIONS, Token, TokenError,
};
use hookline_meta::Secret;
use serde::{Deserialize, Deserializer};

/// Which Graph edge an account is managed through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    /// A Facebook Page (Messenger, and Instagram through Facebook Login): `graph.facebook.com/{page-id}`.
    Page,
    /// An Instagram professional account with Instagram Login: `graph.instagram.com/{ig-user-id}`.
    Instagram,
}

/// `message_edit` appears for Instagram Login only in a changelog entry, so it is not subscribed by
/// default, but hookline parses its events and accepts it when named.
const INSTAGRAM_EXTRA_FIELDS: &[&str] = &["message_edit"];

impl AccountKind {
    /// The fields subscribed when an account names none: every messaging field hookline understands
    /// that needs no product of its own.
    pub fn default_fields(self) -> &'static [&'static str] {
        match self {
            AccountKind::Page => DEFAULT_FIELDS,
            AccountKind::Instagram => INSTAGRAM_FIELDS,
        }
    }

    /// Every field name accepted for this kind of account.
    pub fn known_fields(self) -> Vec<&'static str> {
        let extra = match self {
            AccountKind::Page => OPTIONAL_FIELDS,
            AccountKind::Instagram => INSTAGRAM_EXTRA_FIELDS,
        };
        self.default_fields().iter().chain(extra).copied().collect()
    }

    /// The permissions whose absence a status check reports. Instagram-Login tokens are not checked:
    /// `/me/permissions` belongs to graph.facebook.com, which does not take them, and graph.instagram.com
    /// has no permissions edge; a missing permission shows there as the subscription call's error.
    pub fn required_permissions(self) -> &'static [&'static str] {
        match self {
            AccountKind::Page => PAGE_PERMISSIONS,
            AccountKind::Instagram => &[],
        }
    }

    /// `page` or `instagram`.
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Page => "page",
            AccountKind::Instagram => "instagram",
        }
    }

    /// The `hookline meta` flag that names an account of this kind.
    pub fn flag(self) -> &'static str {
        match self {
            AccountKind::Page => "--page",
            AccountKind::Instagram => "--instagram",
        }
    }

    /// Refuses names hookline does not know, naming the ones it does: a typo would otherwise make Graph
    /// refuse the whole subscription, or subscribe to events hookline cannot read.
    pub fn check_fields<S: AsRef<str>>(self, fields: &[S]) -> Result<(), String> {
        if fields.is_empty() {
            return Err(format!(
                "no webhook fields are given; leave fields out to subscribe to every messaging field \
                 hookline understands ({})",
                self.default_fields().join(", ")
            ));
        }
        let known = self.known_fields();
        let unknown: Vec<&str> = fields
            .iter()
            .map(AsRef::as_ref)
            .filter(|f| !known.contains(f))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        Err(format!(
            "unknown webhook field(s) {} for {} account; the known ones are: {}",
            unknown.join(", "),
            match self {
                AccountKind::Page => "a Page",
                AccountKind::Instagram => "an Instagram",
            },
            known.join(", ")
        ))
    }
}

/// One `[[account]]` section as written. Build an [`Account`] with [`AccountConfig::resolve`].
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The Page id (numeric; `entry.id` of its webhooks).
    #[serde(default, deserialize_with = "optional_id")]
    pub page_id: Option<String>,
    /// The Instagram professional account id (Instagram Login).
    #[serde(default, deserialize_with = "optional_id")]
    pub instagram_id: Option<String>,
    /// The access token itself (prefer `token_env` or `token_file`, which keep it out of the file).
    #[serde(default, deserialize_with = "optional_secret")]
    pub token: Option<Secret>,
    /// The environment variable holding the token.
    pub token_env: Option<String>,
    /// A file holding the token (a trailing newline is dropped).
    pub token_file: Option<PathBuf>,
    /// The webhook fields to keep subscribed; absent: [`AccountKind::default_fields`].
    #[serde(default, deserialize_with = "optional_list")]
    pub fields: Option<Vec<String>>,
}

/// An account with its token read: what Graph calls for it need.
#[derive(Clone, Debug)]
pub struct Account {
    pub kind: AccountKind,
    /// The Page or Instagram account id.
    pub id: String,
    pub token: Token,
    /// The fields the account should be subscribed to.
    pub fields: Vec<String>,
}

impl Account {
    /// `page 1234` or `instagram 1784...`, for messages.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind.as_str(), self.id)
    }
}

impl AccountConfig {
    /// A Page account with an inline token, for tests and embedding.
    pub fn page(id: &str, token: &str) -> Self {
        AccountConfig {
            page_id: Some(id.to_owned()),
            token: Some(Secret::new(token)),
            ..AccountConfig::default()
        }
    }

    /// An Instagram (Instagram Login) account with an inline token, for tests and embedding.
    pub fn instagram(id: &str, token: &str) -> Self {
        AccountConfig {
            instagram_id: Some(id.to_owned()),
            token: Some(Secret::new(token)),
            ..AccountConfig::default()
        }
    }

    /// The account's kind and id, when exactly one of `page_id` and `instagram_id` is given.
    pub fn kind_and_id(&self) -> Option<(AccountKind, &str)> {
        match (&self.page_id, &self.instagram_id) {
            (Some(id), None) => Some((AccountKind::Page, id)),
            (None, Some(id)) => Some((AccountKind::Instagram, id)),
            _ => None,
        }
    }

    /// How messages name this section: `[[account]] page_id 1234` (or its position when it has no id).
    pub fn label(&self, index: usize) -> String {
        match self.kind_and_id() {
            Some((AccountKind::Page, id)) => format!("[[account]] page_id {id}"),
            Some((AccountKind::Instagram, id)) => format!("[[account]] instagram_id {id}"),
            None => format!("[[account]] number {}", index + 1),
        }
    }

    /// Checks the section and reads its token. Messages never quote the token.
    pub fn resolve(&self, index: usize) -> Result<Account, String> {
        let label = self.label(index);
        let (kind, id) = self.kind_and_id().ok_or_else(|| {
            format!(
                "{label} needs exactly one of page_id (a Facebook Page) and instagram_id (an Instagram \
                 account with Instagram Login)"
            )
        })?;
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "{label}: the id {id:?} is not a numeric id; copy the Page or Instagram account id from \
                 the App Dashboard or a webhook's entry.id"
            ));
        }
        let fields = match &self.fields {
            Some(fields) => fields.clone(),
            None => kind
                .default_fields()
                .iter()
                .map(|f| (*f).to_owned())
                .collect(),
        };
        kind.check_fields(&fields)
            .map_err(|err| format!("{label}: {err}"))?;
        let token = self.read_token(&label)?;
        Ok(Account {
            kind,
            id: id.to_owned(),
            token,
            fields,
        })
    }

    fn read_token(&self, label: &str) -> Result<Token, String> {
        let sources = usize::from(self.token.is_some())
            + usize::from(self.token_env.is_some())
            + usize::from(self.token_file.is_some());
        if sources != 1 {
            return Err(format!(
                "{label} needs exactly one token source, but {sources} are given: set token_env (the \
                 environment variable holding the access token), token_file (a file holding it) or token"
            ));
        }
        let raw = if let Some(token) = &self.token {
            token.expose().to_owned()
        } else if let Some(var) = &self.token_env {
            match std::env::var(var) {
                Ok(value) if !value.trim().is_empty() => value,
                _ => {
                    return Err(format!(
                        "{label}: token_env names {var}, but {var} is not set (or empty) in hookline's \
                         environment; export it with the account's access token, or use token_file"
                    ));
                }
            }
        } else if let Some(path) = &self.token_file {
            std::fs::read_to_string(path).map_err(|err| {
                format!(
                    "{label}: cannot read token_file {}: {err}; check the path and that hookline may read it",
                    path.display()
                )
            })?
        } else {
            unreachable!("exactly one source was counted above")
        };
        Token::new(raw).map_err(|err: TokenError| format!("{label}: {err}"))
    }
}

/// An id as a string, or a TOML integer (ids written without quotes).
fn optional_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Id {
        Text(String),
        Number(u64),
    }
    Ok(Option::<Id>::deserialize(d)?.map(|id| match id {
        Id::Text(text) => text.trim().to_owned(),
        Id::Number(n) => n.to_string(),
    }))
}

fn optional_secret<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Secret>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    Ok(value.filter(|s| !s.trim().is_empty()).map(Secret::new))
}

/// A list of strings, or one comma-separated string.
fn optional_list<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum List {
        One(String),
        Many(Vec<String>),
    }
    let items = match Option::<List>::deserialize(d)? {
        None => return Ok(None),
        Some(List::One(one)) => one.split(',').map(str::to_owned).collect(),
        Some(List::Many(many)) => many,
    };
    Ok(Some(
        items
            .into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
    ))
}
