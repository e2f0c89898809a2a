//! `GET /api/v1/meta/status`: the subscription watchdog's last check of every `[[account]]`, for
//! monitoring and for the inspector's status panel.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::error::ErrorBody;
use crate::state::AppState;
use crate::watchdog::AccountReport;

/// The watchdog and what it last saw.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MetaStatus {
    /// Whether the watchdog runs: `[[account]]` sections are configured and `watchdog` is not false.
    watchdog: bool,
    /// Seconds between two checks of an account.
    interval_secs: f64,
    /// One per watched account, in config order; empty when the watchdog is off.
    accounts: Vec<AccountReport>,
}

/// The webhook subscription of each configured Page and Instagram account, as last checked.
#[utoipa::path(
    get,
    path = "/api/v1/meta/status",
    tag = "subscriptions",
    responses(
        (status = 200, description = "The watchdog's last check of every account", body = MetaStatus),
        (status = 401, description = "No admin token or a wrong one", body = ErrorBody),
    ),
)]
pub(crate) async fn status(State(state): State<AppState>) -> Json<MetaStatus> {
    let watchdog = &state.watchdog;
    Json(MetaStatus {
        watchdog: watchdog.enabled,
        interval_secs: watchdog.interval.as_secs_f64(),
        accounts: watchdog.reports(),
    })
}
