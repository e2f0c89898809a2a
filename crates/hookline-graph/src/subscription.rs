//! What Graph says about an account's webhook subscriptions and a token's permissions.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// One app subscribed to a Page's (or Instagram account's) webhooks, from
/// `GET /{page-id}/subscribed_apps`: `{"data": [{"category", "link", "name", "id", "subscribed_fields"}]}`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct SubscribedApp {
    /// The app id; Instagram-Login answers may call it `app_id`.
    #[serde(alias = "app_id", deserialize_with = "string_or_number")]
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub link: Option<String>,
    #[serde(default)]
    pub subscribed_fields: Vec<String>,
}

impl SubscribedApp {
    /// The fields of `wanted` this app is not subscribed to, in `wanted`'s order.
    pub fn missing_fields<'a>(&self, wanted: &[&'a str]) -> Vec<&'a str> {
        wanted
            .iter()
            .copied()
            .filter(|f| !self.subscribed_fields.iter().any(|s| s == f))
            .collect()
    }
}

/// A permission's state for the token's user, from `GET /me/permissions`:
/// `{"data": [{"permission": "pages_messaging", "status": "granted"}]}` (User permissions reference:
/// "a list of granted and declined permissions").
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct Permission {
    pub permission: String,
    pub status: PermissionStatus,
}

/// `granted`, `declined` or `expired`; any other status is kept as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PermissionStatus {
    Granted,
    Declined,
    Expired,
    Other(String),
}

impl<'de> Deserialize<'de> for PermissionStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let status = String::deserialize(deserializer)?;
        Ok(match status.as_str() {
            "granted" => PermissionStatus::Granted,
            "declined" => PermissionStatus::Declined,
            "expired" => PermissionStatus::Expired,
            _ => PermissionStatus::Other(status),
        })
    }
}

/// All permissions Graph reported for a token.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Permissions(pub Vec<Permission>);

impl Permissions {
    /// Whether `permission` is granted.
    pub fn is_granted(&self, permission: &str) -> bool {
        self.0
            .iter()
            .any(|p| p.permission == permission && p.status == PermissionStatus::Granted)
    }

    /// The names of granted permissions.
    pub fn granted(&self) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(|p| p.status == PermissionStatus::Granted)
            .map(|p| p.permission.as_str())
    }

    /// The permissions of `required` that are not granted (declined, expired or never asked for), such
    /// as [`PAGE_PERMISSIONS`](crate::PAGE_PERMISSIONS) a status check wants.
    pub fn missing<'a>(&self, required: &[&'a str]) -> Vec<&'a str> {
        required
            .iter()
            .copied()
            .filter(|p| !self.is_granted(p))
            .collect()
    }
}

/// Graph's list envelope `{"data": [...], "paging": {...}}`.
#[derive(Deserialize)]
pub(crate) struct DataList<T> {
    pub data: Vec<T>,
}

/// `{"success": true}`. The Graph subscriptions guide shows `"success": "true"` too, so both count.
#[derive(Deserialize)]
pub(crate) struct Success {
    pub success: Value,
}

impl Success {
    pub fn is_true(&self) -> bool {
        self.success == Value::Bool(true) || self.success == Value::String("true".into())
    }
}

/// Ids may come as JSON numbers; they are kept as decimal strings without going through `f64`.
fn string_or_number<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    match Value::deserialize(deserializer)? {
        Value::String(s) => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(serde::de::Error::custom(format!(
            "expected an id string or number, got {other}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_subscribed_apps_answer() {
        let body = r#"{"data":[{"category":"Business","link":"https://hookline.example/","name":"hookline","id":"1234567890123456","subscribed_fields":["messages","message_echoes"]}],"paging":{"cursors":{"before":"a","after":"b"}}}"#;
        let list: DataList<SubscribedApp> = serde_json::from_str(body).unwrap();
        let app = &list.data[0];
        assert_eq!(app.id, "1234567890123456");
        assert_eq!(app.name.as_deref(), Some("hookline"));
        assert_eq!(
            app.missing_fields(&["messages", "standby", "message_echoes"]),
            vec!["standby"]
        );
    }

    #[test]
    fn numeric_app_ids_keep_every_digit() {
        let app: SubscribedApp =
            serde_json::from_str(r#"{"app_id":17841405309211844,"subscribed_fields":[]}"#).unwrap();
        assert_eq!(app.id, "17841405309211844");
    }

    #[test]
    fn permissions_report_what_is_missing() {
        let body = r#"{"data":[{"permission":"pages_messaging","status":"granted"},{"permission":"pages_manage_metadata","status":"declined"},{"permission":"pages_show_list","status":"expired"},{"permission":"public_profile","status":"pending_review"}]}"#;
        let list: DataList<Permission> = serde_json::from_str(body).unwrap();
        let permissions = Permissions(list.data);
        assert_eq!(
            permissions.granted().collect::<Vec<_>>(),
            vec!["pages_messaging"]
        );
        assert_eq!(
            permissions.missing(crate::PAGE_PERMISSIONS),
            vec!["pages_manage_metadata", "pages_show_list"]
        );
        assert_eq!(
            permissions.0[3].status,
            PermissionStatus::Other("pending_review".into())
        );
    }

    #[test]
    fn success_accepts_true_and_the_string_true_only() {
        for (body, ok) in [
            (r#"{"success":true}"#, true),
            (r#"{"success":"true"}"#, true),
            (r#"{"success":false}"#, false),
        ] {
            let success: Success = serde_json::from_str(body).unwrap();
            assert_eq!(success.is_true(), ok, "{body}");
        }
    }
}
