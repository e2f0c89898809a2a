//! The handover protocol: which app owns a thread, and `app_roles`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::id::Id;
use crate::text::Text;

/// `pass_thread_control` and `take_thread_control`: thread ownership moved between apps.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct ThreadControl<'a> {
    /// `null` when the thread was idle.
    #[serde(borrow)]
    pub previous_owner_app_id: Option<Id<'a>>,
    #[serde(borrow)]
    pub new_owner_app_id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Text<'a>>,
}

/// `request_thread_control`: a secondary app asks the owner for the thread.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct RequestThreadControl<'a> {
    /// A JSON number in Meta's example.
    #[serde(borrow)]
    pub requested_owner_app_id: Option<Id<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Text<'a>>,
}

/// `app_roles`: the handover roles of apps on the Page, keyed by app id (`primary_receiver`, ...).
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(transparent)]
pub struct AppRoles(pub BTreeMap<String, Vec<String>>);
