//! One look at an account on Meta's side: which fields this app is subscribed to, which of the wanted
//! ones are missing, and which permissions the token lacks. `hookline meta status` and the watchdog
//! share it, so both report the same thing the same way.

use hookline_graph::{GraphClient, GraphError, SubscribedApp};
use serde::Serialize;

use crate::config::{Account, AccountKind};

/// What Graph said about one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AccountStatus {
    /// The Page or Instagram account id.
    pub account: String,
    pub kind: AccountKind,
    /// Whether this app is among the account's subscribed apps.
    pub subscribed: bool,
    /// The fields this app is subscribed to, as Graph lists them.
    pub subscribed_fields: Vec<String>,
    /// The wanted fields this app is not subscribed to.
    pub missing_fields: Vec<String>,
    /// The permissions the token lacks; `None` when they cannot be checked (Instagram Login).
    pub missing_permissions: Option<Vec<String>>,
    /// Why Graph could not be read, with what to do; the other fields are then empty.
    pub error: Option<String>,
}

impl AccountStatus {
    /// Nothing missing and nothing failed.
    pub fn is_ok(&self) -> bool {
        self.error.is_none()
            && self.subscription_ok()
            && self.missing_permissions.as_ref().is_none_or(Vec::is_empty)
    }

    /// Subscribed to every wanted field (as far as Graph could be read).
    pub fn subscription_ok(&self) -> bool {
        self.error.is_none() && self.subscribed && self.missing_fields.is_empty()
    }

    fn failed(account: &Account, error: &GraphError) -> Self {
        AccountStatus {
            account: account.id.clone(),
            kind: account.kind,
            subscribed: false,
            subscribed_fields: Vec::new(),
            missing_fields: Vec::new(),
            missing_permissions: None,
            error: Some(error.to_string()),
        }
    }
}

/// Reads the account's subscription and the token's permissions. `app_ids` names this app (the
/// `app_id` setting); when it is empty every app subscribed to the account counts as this one, since
/// a Page rarely has more than the one app whose token reads it.
pub async fn check(client: &GraphClient, account: &Account, app_ids: &[String]) -> AccountStatus {
    let apps = match account.kind {
        AccountKind::Page => client.subscribed_apps(&account.id, &account.token).await,
        AccountKind::Instagram => {
            client
                .instagram_subscribed_apps(&account.id, &account.token)
                .await
        }
    };
    let apps = match apps {
        Ok(apps) => apps,
        Err(err) => return AccountStatus::failed(account, &err),
    };
    let ours: Vec<&SubscribedApp> = apps
        .iter()
        .filter(|app| app_ids.is_empty() || app_ids.contains(&app.id))
        .collect();
    let mut subscribed_fields: Vec<String> = Vec::new();
    for field in ours.iter().flat_map(|app| &app.subscribed_fields) {
        if !subscribed_fields.contains(field) {
            subscribed_fields.push(field.clone());
        }
    }
    let missing_fields = account
        .fields
        .iter()
        .filter(|f| !subscribed_fields.contains(f))
        .cloned()
        .collect();
    let required = account.kind.required_permissions();
    let missing_permissions = if required.is_empty() {
        None
    } else {
        match client.permissions(&account.token).await {
            Ok(granted) => Some(
                granted
                    .missing(required)
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
            ),
            Err(err) => return AccountStatus::failed(account, &err),
        }
    };
    AccountStatus {
        account: account.id.clone(),
        kind: account.kind,
        subscribed: !ours.is_empty(),
        subscribed_fields,
        missing_fields,
        missing_permissions,
        error: None,
    }
}

/// Subscribes the account to its wanted fields plus those it is already subscribed to: Graph replaces
/// the whole list, and fields someone added by hand should survive a repair.
pub async fn resubscribe(
    client: &GraphClient,
    account: &Account,
    status: &AccountStatus,
) -> Result<Vec<String>, GraphError> {
    let mut fields = account.fields.clone();
    for field in &status.subscribed_fields {
        if !fields.contains(field) {
            fields.push(field.clone());
        }
    }
    subscribe(client, account, &fields).await?;
    Ok(fields)
}

/// `POST .../{id}/subscribed_apps` on the account's host.
pub async fn subscribe<S: AsRef<str>>(
    client: &GraphClient,
    account: &Account,
    fields: &[S],
) -> Result<(), GraphError> {
    match account.kind {
        AccountKind::Page => client.subscribe(&account.id, &account.token, fields).await,
        AccountKind::Instagram => {
            client
                .instagram_subscribe(&account.id, &account.token, fields)
                .await
        }
    }
}

/// The `hookline meta subscribe` command that repairs `account`'s subscription, never with its token:
/// `config` is the config file it was read from (the command then takes the token from there), else
/// the token is expected in `HOOKLINE_META_TOKEN`.
pub fn subscribe_command(account: &Account, config: Option<&str>) -> String {
    let mut command = String::from("hookline meta subscribe");
    if let Some(config) = config {
        command.push_str(&format!(" --config {}", shell_word(config)));
    }
    command.push_str(&format!(" {} {}", account.kind.flag(), account.id));
    if account.fields != account.kind.default_fields() {
        command.push_str(&format!(" --fields {}", account.fields.join(",")));
    }
    if config.is_none() {
        command.push_str(" --token \"$HOOKLINE_META_TOKEN\"");
    }
    command
}

/// What to do about each problem of `status`, one sentence each.
pub fn fixes(status: &AccountStatus, account: &Account, config: Option<&str>) -> Vec<String> {
    let mut fixes = Vec::new();
    if let Some(error) = &status.error {
        fixes.push(error.clone());
        return fixes;
    }
    if !status.subscription_ok() {
        fixes.push(format!("run `{}`", subscribe_command(account, config)));
    }
    if let Some(missing) = status
        .missing_permissions
        .as_ref()
        .filter(|m| !m.is_empty())
    {
        fixes.push(format!(
            "the token lacks {}: generate a new {} access token that grants {} (Graph API Explorer, or \
             your Facebook Login flow), and use it instead",
            missing.join(", "),
            match account.kind {
                AccountKind::Page => "Page",
                AccountKind::Instagram => "Instagram",
            },
            if missing.len() == 1 { "it" } else { "them" },
        ));
    }
    fixes
}

/// `path`, quoted for a POSIX shell when it holds anything but plain path characters.
fn shell_word(path: &str) -> String {
    let plain = path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+:=@%,".contains(&b));
    if plain && !path.is_empty() {
        path.to_owned()
    } else {
        format!("'{}'", path.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookline_graph::Token;

    fn account(kind: AccountKind, fields: &[&str]) -> Account {
        Account {
            kind,
            id: "1001".into(),
            token: Token::new("EAAsecret").unwrap(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
        }
    }

    #[test]
    fn the_fix_command_names_the_account_and_custom_fields_but_never_the_token() {
        let default = account(AccountKind::Page, hookline_graph::DEFAULT_FIELDS);
        assert_eq!(
            subscribe_command(&default, None),
            "hookline meta subscribe --page 1001 --token \"$HOOKLINE_META_TOKEN\""
        );
        let custom = account(AccountKind::Instagram, &["messages", "standby"]);
        assert_eq!(
            subscribe_command(&custom, Some("/etc/hook line.toml")),
            "hookline meta subscribe --config '/etc/hook line.toml' --instagram 1001 --fields messages,standby"
        );
        assert!(!subscribe_command(&custom, None).contains("EAAsecret"));
    }

    #[test]
    fn fixes_name_what_is_missing() {
        let page = account(AccountKind::Page, &["messages"]);
        let status = AccountStatus {
            account: "1001".into(),
            kind: AccountKind::Page,
            subscribed: true,
            subscribed_fields: vec![],
            missing_fields: vec!["messages".into()],
            missing_permissions: Some(vec!["pages_messaging".into()]),
            error: None,
        };
        assert!(!status.is_ok());
        let fixes = fixes(&status, &page, Some("h.toml"));
        assert_eq!(fixes.len(), 2, "{fixes:?}");
        assert!(fixes[0].contains("hookline meta subscribe --config h.toml --page 1001"));
        assert!(fixes[1].contains("pages_messaging") && fixes[1].contains("Page access token"));
    }
}
