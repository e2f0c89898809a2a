//! Events about the business account or the user's link to it: policy enforcement and account linking.

use serde::{Deserialize, Serialize};

use crate::scalar::string_enum;
use crate::text::Text;

string_enum!(
    /// What Meta did to the app on this Page.
    PolicyAction {
        Warning = "warning",
        Block = "block",
        Unblock = "unblock",
    }
);

/// `policy_enforcement` (legacy key `policy-enforcement`): there is no sender.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct PolicyEnforcement<'a> {
    pub action: Option<PolicyAction>,
    /// Absent on `unblock`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub reason: Option<Text<'a>>,
}

string_enum!(
    /// Account linking outcome.
    LinkStatus {
        Linked = "linked",
        Unlinked = "unlinked",
    }
);

/// `account_linking`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct AccountLinking<'a> {
    pub status: Option<LinkStatus>,
    /// Only when linked.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub authorization_code: Option<Text<'a>>,
}
