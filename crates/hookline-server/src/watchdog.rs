//! The subscription watchdog: Meta unsubscribes an app from a Page after its webhook deliveries have
//! failed for about an hour, and says so only by email. With `[[account]]` sections configured, `serve`
//! checks each account once at start and then every `watchdog_interval_secs`, and subscribes it again
//! when the app is gone or wanted fields are missing.
//!
//! - [`check`]: one look at an account (subscribed fields, missing fields, missing permissions), and
//!   the subscribe call that repairs it; `hookline meta` uses the same functions.
//! - [`WatchdogState`]: the last check of every account, read by `/readyz`, the admin API and the
//!   inspector.
//!
//! A round checks the accounts one after another: each check is two Graph reads, so even a few hundred
//! accounts stay far below Graph's hourly call limits at the default five minutes. A round that fails
//! is simply tried again next interval; tokens are read from their source on every round, so a rotated
//! `token_file` is picked up without a restart. Nothing here logs a token: Graph errors never quote one.

pub mod check;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookline_graph::GraphClient;
use serde::Serialize;
use tokio::time::MissedTickBehavior;
use utoipa::ToSchema;

use crate::config::{Account, AccountConfig, Config};
use crate::metrics::Metrics;
use check::AccountStatus;

/// How the last check of an account ended; also the `outcome` label of
/// `hookline_meta_subscription_checks_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Not checked yet.
    Pending,
    /// Subscribed to every wanted field, and the token has the permissions it needs.
    Ok,
    /// The subscription was gone or lacked fields, and was restored.
    Resubscribed,
    /// Subscribed, but the token lacks permissions (replies or the next repair may fail).
    MissingPermissions,
    /// Graph could not be read or the repair failed; tried again next interval.
    Error,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Pending => "pending",
            Outcome::Ok => "ok",
            Outcome::Resubscribed => "resubscribed",
            Outcome::MissingPermissions => "missing_permissions",
            Outcome::Error => "error",
        }
    }
}

/// The last check of one account, as `/readyz`, `GET /api/v1/meta/status` and the inspector show it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct AccountReport {
    /// The Page or Instagram account id.
    pub account: String,
    /// `page` or `instagram`.
    pub kind: String,
    pub outcome: Outcome,
    /// Checks so far.
    pub checks: u64,
    /// When the last check ended, RFC 3339 UTC; null before the first.
    pub checked_at: Option<String>,
    pub checked_at_ms: Option<i64>,
    /// The fields this app is subscribed to (after any repair).
    pub subscribed_fields: Vec<String>,
    /// Wanted fields still missing.
    pub missing_fields: Vec<String>,
    /// Permissions the token lacks; null when not checked (Instagram Login tokens).
    pub missing_permissions: Option<Vec<String>>,
    /// What went wrong, with what to do.
    pub error: Option<String>,
    /// Times the watchdog restored the subscription since start.
    pub resubscriptions: u64,
    /// When it last did, RFC 3339 UTC.
    pub resubscribed_at: Option<String>,
}

impl AccountReport {
    fn pending(section: &AccountConfig, index: usize) -> Self {
        let (kind, account) = match section.kind_and_id() {
            Some((kind, id)) => (kind.as_str().to_owned(), id.to_owned()),
            // validate() refuses such sections; the label keeps a report readable anyway.
            None => ("unknown".to_owned(), section.label(index)),
        };
        AccountReport {
            account,
            kind,
            outcome: Outcome::Pending,
            checks: 0,
            checked_at: None,
            checked_at_ms: None,
            subscribed_fields: Vec::new(),
            missing_fields: Vec::new(),
            missing_permissions: None,
            error: None,
            resubscriptions: 0,
            resubscribed_at: None,
        }
    }

    /// One line for `/readyz`: `meta page 1001: ok, checked 2026-...Z`.
    pub fn summary(&self) -> String {
        let mut line = format!(
            "meta {} {}: {}",
            self.kind,
            self.account,
            self.outcome.as_str()
        );
        if !self.missing_fields.is_empty() {
            line.push_str(&format!(
                ", missing fields {}",
                self.missing_fields.join(",")
            ));
        }
        if let Some(missing) = self.missing_permissions.as_ref().filter(|m| !m.is_empty()) {
            line.push_str(&format!(", missing permissions {}", missing.join(",")));
        }
        if let Some(at) = &self.checked_at {
            line.push_str(&format!(", checked {at}"));
        }
        if self.resubscriptions > 0 {
            line.push_str(&format!(", {} resubscription(s)", self.resubscriptions));
        }
        if let Some(error) = &self.error {
            line.push_str(&format!(": {error}"));
        }
        // One line per account, whatever Meta's message holds.
        line.replace(['\n', '\r'], " ")
    }
}

/// The watchdog as the handlers see it: whether it runs, how often, and the last check per account.
#[derive(Debug)]
pub struct WatchdogState {
    pub enabled: bool,
    pub interval: Duration,
    reports: Mutex<Vec<AccountReport>>,
}

impl WatchdogState {
    pub(crate) fn new(config: &Config) -> Self {
        let enabled = config.watchdog && !config.accounts.is_empty();
        let reports = if enabled {
            config
                .accounts
                .iter()
                .enumerate()
                .map(|(index, section)| AccountReport::pending(section, index))
                .collect()
        } else {
            Vec::new()
        };
        WatchdogState {
            enabled,
            interval: config.watchdog_interval,
            reports: Mutex::new(reports),
        }
    }

    /// The last check of every watched account, in config order.
    pub fn reports(&self) -> Vec<AccountReport> {
        self.lock().clone()
    }

    fn update(&self, index: usize, change: impl FnOnce(&mut AccountReport)) {
        if let Some(report) = self.lock().get_mut(index) {
            change(report);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<AccountReport>> {
        self.reports.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The watchdog's loop, built by `Server::bind` and started by `Server::run`.
#[derive(Debug)]
pub(crate) struct Watchdog {
    client: GraphClient,
    sections: Vec<AccountConfig>,
    app_ids: Vec<String>,
    state: Arc<WatchdogState>,
    metrics: Arc<Metrics>,
}

impl Watchdog {
    /// `None` when the watchdog is off (no accounts, or `watchdog = false`).
    pub(crate) fn new(
        config: &Config,
        state: Arc<WatchdogState>,
        metrics: Arc<Metrics>,
    ) -> anyhow::Result<Option<Watchdog>> {
        if !state.enabled {
            return Ok(None);
        }
        Ok(Some(Watchdog {
            client: config.graph_client()?,
            sections: config.accounts.clone(),
            app_ids: config.parse_options().own_app_ids,
            state,
            metrics,
        }))
    }

    /// Checks every account now, then every interval, until the task is aborted.
    pub(crate) async fn run(self) {
        tracing::info!(
            accounts = self.sections.len(),
            interval = %humantime::format_duration(self.state.interval),
            "the subscription watchdog checks the [[account]] subscriptions"
        );
        let mut ticks = tokio::time::interval(self.state.interval);
        // A round slower than the interval (Graph timing out) delays the next one instead of bunching.
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            for index in 0..self.sections.len() {
                self.check_one(index).await;
            }
        }
    }

    async fn check_one(&self, index: usize) {
        let section = &self.sections[index];
        let account = match section.resolve(index) {
            Ok(account) => account,
            Err(message) => {
                let id = self.state.reports()[index].account.clone();
                tracing::warn!(account = %id, "subscription check skipped: {message}");
                self.finish(index, &id, Outcome::Error, |r| r.error = Some(message));
                return;
            }
        };
        let mut status = check::check(&self.client, &account, &self.app_ids).await;
        let mut resubscribed = false;
        let outcome = if let Some(error) = &status.error {
            tracing::warn!(
                account = %account.id,
                kind = account.kind.as_str(),
                "subscription check failed, trying again in {}: {error}",
                humantime::format_duration(self.state.interval)
            );
            Outcome::Error
        } else if !status.subscription_ok() {
            resubscribed = self.repair(&account, &mut status).await;
            if !resubscribed {
                Outcome::Error
            } else if lacks_permissions(&status) {
                Outcome::MissingPermissions
            } else {
                Outcome::Resubscribed
            }
        } else if lacks_permissions(&status) {
            // Said once when it starts, not every interval.
            if self.state.reports()[index].outcome != Outcome::MissingPermissions {
                let fixes = check::fixes(&status, &account, None);
                tracing::warn!(account = %account.id, "{}", fixes.join("; "));
            }
            Outcome::MissingPermissions
        } else {
            Outcome::Ok
        };
        self.finish(index, &account.id, outcome, |report| {
            report.subscribed_fields = status.subscribed_fields;
            report.missing_fields = status.missing_fields;
            report.missing_permissions = status.missing_permissions;
            report.error = status.error;
            if resubscribed {
                report.resubscriptions += 1;
                report.resubscribed_at = report.checked_at.clone();
            }
        });
    }

    /// Subscribes the account again; on success `status` shows the restored subscription, on failure
    /// its `error` says why.
    async fn repair(&self, account: &Account, status: &mut AccountStatus) -> bool {
        let what = if status.subscribed {
            format!("lacked the fields {}", status.missing_fields.join(","))
        } else {
            "was not subscribed (Meta drops an app whose deliveries fail for an hour)".to_owned()
        };
        match check::resubscribe(&self.client, account, status).await {
            Ok(fields) => {
                tracing::warn!(
                    account = %account.id,
                    kind = account.kind.as_str(),
                    "{} {what}; subscribed it again to {}",
                    account.label(),
                    fields.join(",")
                );
                self.metrics.meta_resubscribed(&account.id);
                status.subscribed = true;
                status.subscribed_fields = fields;
                status.missing_fields.clear();
                true
            }
            Err(err) => {
                tracing::error!(
                    account = %account.id,
                    kind = account.kind.as_str(),
                    "{} {what}, and subscribing it again failed; trying again in {}: {err}",
                    account.label(),
                    humantime::format_duration(self.state.interval)
                );
                status.error = Some(format!("subscribing again failed: {err}"));
                false
            }
        }
    }

    /// Records the check in the state (the `change` runs after the common fields are set) and the
    /// metrics.
    fn finish(
        &self,
        index: usize,
        id: &str,
        outcome: Outcome,
        change: impl FnOnce(&mut AccountReport),
    ) {
        let now = now_ms();
        self.state.update(index, |report| {
            report.outcome = outcome;
            report.checks += 1;
            report.checked_at = Some(hookline_store::rfc3339(now));
            report.checked_at_ms = Some(now);
            report.error = None;
            change(report);
        });
        let subscribed = matches!(
            outcome,
            Outcome::Ok | Outcome::Resubscribed | Outcome::MissingPermissions
        );
        self.metrics.meta_checked(id, outcome.as_str(), subscribed);
    }
}

fn lacks_permissions(status: &AccountStatus) -> bool {
    status
        .missing_permissions
        .as_ref()
        .is_some_and(|m| !m.is_empty())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
