//! Messenger calling: `entry[].calls[]` items and `call_permission_reply`.

use serde::{Deserialize, Serialize};

use crate::id::Id;
use crate::scalar::string_enum;
use crate::text::Text;
use crate::timestamp::Timestamp;

string_enum!(
    /// The call event.
    CallEvent {
        Connect = "connect",
        Terminate = "terminate",
    }
);

/// An item of `entry[].calls[]`. Times are in seconds. Extra keys on `terminate` (duration, status) are not
/// documented; they stay in the event's raw JSON.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct Call<'a> {
    /// The call id (`c_…`).
    #[serde(borrow)]
    pub id: Option<Text<'a>>,
    /// The callee (the Page for user-initiated calls).
    #[serde(borrow)]
    pub to: Option<Id<'a>>,
    /// The caller.
    #[serde(borrow)]
    pub from: Option<Id<'a>>,
    pub event: Option<CallEvent>,
    #[serde(borrow, skip_serializing)]
    pub timestamp: Option<Timestamp<'a>>,
    /// `business_initiated` or `user_initiated`.
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub call_direction: Option<Text<'a>>,
}

/// `call_permission_reply`: the user answered a request to be called.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct CallPermissionReply<'a> {
    /// `approve` or `reject`.
    #[serde(borrow)]
    pub response: Option<Text<'a>>,
    #[serde(borrow, skip_serializing_if = "Option::is_none")]
    pub expiration_timestamp: Option<Timestamp<'a>>,
}
