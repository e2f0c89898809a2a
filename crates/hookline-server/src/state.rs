//! What every request handler shares: the routes' verifiers, the store, the metrics, the admin token and
//! the subscription watchdog's state.

use std::collections::HashMap;
use std::sync::Arc;

use axum::http::HeaderValue;
use hookline_meta::{Handshake, ParseOptions, Secret, Verifier};
use hookline_store::EventStore;
use tokio::sync::watch;

use crate::config::{AppConfig, Config};
use crate::metrics::Metrics;
use crate::reply::Replier;
use crate::watchdog::WatchdogState;

/// One webhook route: `/webhook` (`name: None`) or `/webhook/{name}` for a configured app.
#[derive(Debug)]
pub(crate) struct Route {
    pub name: Option<String>,
    pub verifier: Verifier,
    pub handshake: Handshake,
    pub parse: ParseOptions,
}

impl Route {
    fn new(
        name: Option<String>,
        secrets: &[Secret],
        tokens: &[Secret],
        app_ids: &[String],
        allow_sha1: bool,
    ) -> Self {
        Route {
            name,
            verifier: Verifier::new(secrets.to_vec()).allow_legacy_sha1(allow_sha1),
            handshake: Handshake::new(tokens.to_vec()),
            parse: ParseOptions {
                own_app_ids: app_ids.to_vec(),
            },
        }
    }
}

/// Cloned for every request by axum's `State` extractor, so it is one reference count, not one per field.
#[derive(Clone, Debug)]
pub(crate) struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// `/webhook`, when top-level secrets are configured.
    pub default: Option<Arc<Route>>,
    pub apps: Arc<HashMap<String, Arc<Route>>>,
    pub store: Arc<dyn EventStore>,
    pub metrics: Arc<Metrics>,
    pub retry_after: HeaderValue,
    /// The admin API's bearer token; without one every admin route answers 401.
    pub admin_token: Option<Arc<Secret>>,
    /// Becomes true when shutdown begins, so long-lived responses (the live stream) end instead of
    /// holding graceful shutdown open.
    pub shutdown: Arc<watch::Sender<bool>>,
    /// The subscription watchdog's last check per `[[account]]` (empty when it is off).
    pub watchdog: Arc<WatchdogState>,
    /// Sends replies for `POST /api/v1/conversations/{id}/messages`.
    pub replier: Replier,
}

impl AppState {
    pub(crate) fn new(
        config: &Config,
        store: Arc<dyn EventStore>,
        metrics: Arc<Metrics>,
        replier: Replier,
    ) -> Self {
        let default = config.app_secret.iter().any(|s| !s.is_empty()).then(|| {
            Arc::new(Route::new(
                None,
                &config.app_secret,
                &config.verify_token,
                &config.app_id,
                config.allow_sha1,
            ))
        });
        let apps = config
            .apps
            .iter()
            .map(|app: &AppConfig| {
                let route = Route::new(
                    Some(app.name.clone()),
                    &app.app_secret,
                    &app.verify_token,
                    &app.app_id,
                    config.allow_sha1,
                );
                (app.name.clone(), Arc::new(route))
            })
            .collect();
        AppState(Arc::new(Shared {
            default,
            apps: Arc::new(apps),
            store,
            metrics,
            retry_after: HeaderValue::from(config.retry_after_secs),
            admin_token: config.admin_token.clone().map(Arc::new),
            shutdown: Arc::new(watch::Sender::new(false)),
            watchdog: Arc::new(WatchdogState::new(config)),
            replier,
        }))
    }
}
