//! [`GraphClient`]: the Graph calls hookline makes, each with the exact path Meta documents.
//!
//! | call | request | Meta's reference |
//! |---|---|---|
//! | [`subscribe`](GraphClient::subscribe) | `POST /{v}/{page-id}/subscribed_apps`, form `subscribed_fields=a,b` | Page Subscribed Apps, "Creating"; answer `{"success": true}` |
//! | [`subscribed_apps`](GraphClient::subscribed_apps) | `GET /{v}/{page-id}/subscribed_apps` | Page Subscribed Apps, "Reading" |
//! | [`unsubscribe`](GraphClient::unsubscribe) | `DELETE /{v}/{page-id}/subscribed_apps` | Page Subscribed Apps, "Deleting" |
//! | [`permissions`](GraphClient::permissions) | `GET /{v}/me/permissions` | User permissions |
//! | [`send`](GraphClient::send) | `POST /{v}/{page-id}/messages`, JSON | Send API reference |
//! | [`instagram_subscribe`](GraphClient::instagram_subscribe) | `POST graph.instagram.com/{v}/{ig-user-id}/subscribed_apps` | Instagram Platform, "Setup Webhooks Subscriptions" |
//! | [`instagram_subscribed_apps`](GraphClient::instagram_subscribed_apps) | `GET graph.instagram.com/{v}/{ig-user-id}/subscribed_apps` | same |
//! | [`instagram_send`](GraphClient::instagram_send) | `POST graph.instagram.com/{v}/{ig-user-id}/messages`, JSON | Instagram Platform, "Send Messages" |
//!
//! An Instagram account connected through Facebook Login (Messenger API for Instagram) is reached
//! through its linked Page: subscribe the Page, and send to the IGSID with [`GraphClient::send`] and the
//! Page id (check the Instagram text limit with [`SendRequest::check_instagram`] first).

use reqwest::{Client, Method, redirect};
use serde::de::DeserializeOwned;

use crate::classify::CallKind;
use crate::config::{ConfigError, GraphConfig};
use crate::error::GraphError;
use crate::request::{check_id, join_fields};
use crate::send::{SendRequest, SendResponse};
use crate::subscription::{DataList, Permission, Permissions, SubscribedApp, Success};
use crate::token::Token;
use crate::transport::{Body, Call, run};

const AGENT: &str = concat!("hookline-graph/", env!("CARGO_PKG_VERSION"));

/// Which Graph host a call goes to.
#[derive(Clone, Copy, Debug)]
enum Host {
    /// `graph.facebook.com`: Pages, the Send API, Facebook-Login Instagram.
    Facebook,
    /// `graph.instagram.com`: the Instagram API with Instagram Login.
    Instagram,
}

/// A Graph API client. Cheap to clone; clones share one connection pool.
#[derive(Clone, Debug)]
pub struct GraphClient {
    http: Client,
    config: GraphConfig,
    base: String,
    instagram_base: String,
}

impl GraphClient {
    /// Checks `config` and sets up the HTTP client. Redirects are not followed, so the token is never
    /// sent to a host other than the configured one.
    pub fn new(config: GraphConfig) -> Result<Self, ConfigError> {
        let (base, instagram_base) = config.validate()?;
        let http = Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .redirect(redirect::Policy::none())
            .user_agent(AGENT)
            .build()
            .map_err(|err| ConfigError::Client(err.to_string()))?;
        Ok(GraphClient {
            http,
            base: base.as_str().trim_end_matches('/').to_owned(),
            instagram_base: instagram_base.as_str().trim_end_matches('/').to_owned(),
            config,
        })
    }

    /// The configuration this client was made with.
    pub fn config(&self) -> &GraphConfig {
        &self.config
    }

    /// Subscribes this app to `fields` of the Page's webhooks; Graph replaces the app's previous field
    /// list with `fields`. Setting the same list twice is harmless, so failures are retried.
    pub async fn subscribe<S: AsRef<str>>(
        &self,
        page_id: &str,
        token: &Token,
        fields: &[S],
    ) -> Result<(), GraphError> {
        check_id("Page id", page_id)?;
        self.set_fields(Host::Facebook, page_id, token, fields)
            .await
    }

    /// The apps subscribed to the Page's webhooks, with their fields.
    pub async fn subscribed_apps(
        &self,
        page_id: &str,
        token: &Token,
    ) -> Result<Vec<SubscribedApp>, GraphError> {
        check_id("Page id", page_id)?;
        self.read_subscriptions(Host::Facebook, page_id, token)
            .await
    }

    /// Removes this app's subscription to the Page's webhooks.
    pub async fn unsubscribe(&self, page_id: &str, token: &Token) -> Result<(), GraphError> {
        check_id("Page id", page_id)?;
        let path = format!("/{page_id}/subscribed_apps");
        let call = self.call(
            Method::DELETE,
            Host::Facebook,
            &path,
            Body::None,
            token,
            CallKind::Idempotent,
        );
        self.expect_success(call).await
    }

    /// The permissions granted (or declined, or expired) for the token's user. `/me/permissions` is read
    /// rather than `/debug_token`, which would need the token in the query string.
    pub async fn permissions(&self, token: &Token) -> Result<Permissions, GraphError> {
        let call = self.call(
            Method::GET,
            Host::Facebook,
            "/me/permissions",
            Body::None,
            token,
            CallKind::Idempotent,
        );
        let list: DataList<Permission> = self.execute(&call).await?;
        Ok(Permissions(list.data))
    }

    /// Sends a message from the Page (or from the Instagram account linked to it, to an IGSID).
    ///
    /// Retried only where Meta guarantees nothing was delivered: the connection could not be opened,
    /// or Graph answered with an error it documents as "try again" (codes 2 and 1200, or
    /// `is_transient`). A timeout or broken connection after the request left, a 5xx without a Graph
    /// error, or an unknown error (code 1) becomes [`GraphError::SendOutcomeUnknown`] and is not
    /// retried: put an id in the message `metadata` and look for it in the `message_echoes` webhook.
    pub async fn send(
        &self,
        page_id: &str,
        token: &Token,
        request: &SendRequest,
    ) -> Result<SendResponse, GraphError> {
        check_id("Page id", page_id)?;
        self.deliver(Host::Facebook, page_id, token, request).await
    }

    /// Subscribes an Instagram professional account to `fields` with the Instagram API with Instagram
    /// Login; `ig_user_id` may be `me`.
    pub async fn instagram_subscribe<S: AsRef<str>>(
        &self,
        ig_user_id: &str,
        token: &Token,
        fields: &[S],
    ) -> Result<(), GraphError> {
        check_id("Instagram account id", ig_user_id)?;
        self.set_fields(Host::Instagram, ig_user_id, token, fields)
            .await
    }

    /// The apps subscribed to the Instagram account's webhooks (Instagram Login).
    pub async fn instagram_subscribed_apps(
        &self,
        ig_user_id: &str,
        token: &Token,
    ) -> Result<Vec<SubscribedApp>, GraphError> {
        check_id("Instagram account id", ig_user_id)?;
        self.read_subscriptions(Host::Instagram, ig_user_id, token)
            .await
    }

    /// Sends a message from an Instagram account connected with Instagram Login, under Instagram's text
    /// limit. Retried as [`GraphClient::send`] is.
    pub async fn instagram_send(
        &self,
        ig_user_id: &str,
        token: &Token,
        request: &SendRequest,
    ) -> Result<SendResponse, GraphError> {
        check_id("Instagram account id", ig_user_id)?;
        request.check_instagram()?;
        self.deliver(Host::Instagram, ig_user_id, token, request)
            .await
    }

    async fn set_fields<S: AsRef<str>>(
        &self,
        host: Host,
        id: &str,
        token: &Token,
        fields: &[S],
    ) -> Result<(), GraphError> {
        let joined = join_fields(fields)?;
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("subscribed_fields", &joined)
            .finish();
        let path = format!("/{id}/subscribed_apps");
        let call = self.call(
            Method::POST,
            host,
            &path,
            Body::Form(form),
            token,
            CallKind::Idempotent,
        );
        self.expect_success(call).await
    }

    async fn read_subscriptions(
        &self,
        host: Host,
        id: &str,
        token: &Token,
    ) -> Result<Vec<SubscribedApp>, GraphError> {
        let path = format!("/{id}/subscribed_apps");
        let call = self.call(
            Method::GET,
            host,
            &path,
            Body::None,
            token,
            CallKind::Idempotent,
        );
        let list: DataList<SubscribedApp> = self.execute(&call).await?;
        Ok(list.data)
    }

    async fn deliver(
        &self,
        host: Host,
        id: &str,
        token: &Token,
        request: &SendRequest,
    ) -> Result<SendResponse, GraphError> {
        let body = serde_json::to_vec(&request.to_json()).unwrap_or_default();
        let path = format!("/{id}/messages");
        let call = self.call(
            Method::POST,
            host,
            &path,
            Body::Json(body),
            token,
            CallKind::Send,
        );
        self.execute(&call).await
    }

    async fn expect_success(&self, call: Call<'_>) -> Result<(), GraphError> {
        let answer: Success = self.execute(&call).await?;
        if answer.is_true() {
            Ok(())
        } else {
            Err(GraphError::UnexpectedResponse {
                status: 200,
                detail: format!(
                    "{}: \"success\" was {} instead of true",
                    call.label, answer.success
                ),
            })
        }
    }

    async fn execute<T: DeserializeOwned>(&self, call: &Call<'_>) -> Result<T, GraphError> {
        run(&self.http, &self.config.retry, call).await
    }

    fn call<'a>(
        &self,
        method: Method,
        host: Host,
        path: &str,
        body: Body,
        token: &'a Token,
        kind: CallKind,
    ) -> Call<'a> {
        let base = match host {
            Host::Facebook => &self.base,
            Host::Instagram => &self.instagram_base,
        };
        let version = &self.config.version;
        Call {
            label: format!("{method} /{version}{path}"),
            url: format!("{base}/{version}{path}"),
            method,
            body,
            token,
            kind,
        }
    }
}
