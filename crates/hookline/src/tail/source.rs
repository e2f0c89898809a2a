//! Where `tail` reads events: the store, or a running server's `GET /api/v1/events`. Both hand out the
//! JSON of `hookline events list --json`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use hookline_server::api::event_json;
use hookline_store::{EventQuery, EventStore};
use serde_json::Value;

use crate::store::{StoreArgs, open_existing};

/// Events asked for per read (the admin API's largest page).
pub const PAGE: usize = 500;

/// Which events, and whether with their raw JSON.
#[derive(Debug, Clone)]
pub struct Filter {
    pub kind: Option<String>,
    pub conversation: Option<String>,
    pub with_raw: bool,
}

pub enum Source {
    Store {
        store: Arc<dyn EventStore>,
        filter: Filter,
    },
    Api(Api),
}

impl Source {
    pub fn store(args: &StoreArgs, filter: Filter) -> anyhow::Result<Source> {
        Ok(Source::Store {
            store: open_existing(args)?,
            filter,
        })
    }

    pub fn api(url: &str, token: Option<&str>, filter: Filter) -> anyhow::Result<Source> {
        Api::new(url, token, filter).map(Source::Api)
    }

    /// The id of the newest matching event, where following starts; `None` for none yet.
    pub async fn newest_id(&self) -> anyhow::Result<Option<i64>> {
        let newest = match self {
            Source::Store { store, filter } => {
                let query = EventQuery {
                    newest_first: true,
                    limit: 1,
                    with_raw: false,
                    ..filter.query(None)
                };
                let events = store.list_events(query).await?;
                events.first().map(|e| e.id)
            }
            Source::Api(api) => {
                let page = api
                    .get(&[("order", "desc".into()), ("limit", "1".into())])
                    .await?;
                page.first().and_then(|e| e["id"].as_i64())
            }
        };
        Ok(newest)
    }

    /// Up to [`PAGE`] matching events after `after`, oldest first. When the server cannot be reached
    /// and `keep_going`, says so once on standard error and answers `None`, to be asked again later.
    pub async fn events_after(
        &self,
        after: Option<i64>,
        keep_going: bool,
    ) -> anyhow::Result<Option<Vec<Value>>> {
        match self {
            Source::Store { store, filter } => {
                let events = store
                    .list_events(filter.query(after))
                    .await
                    .context("while reading events")?;
                Ok(Some(events.iter().map(event_json).collect()))
            }
            Source::Api(api) => {
                let mut params = vec![("limit", PAGE.to_string())];
                if let Some(after) = after {
                    params.push(("after", after.to_string()));
                }
                api.poll(&params, keep_going).await
            }
        }
    }

    pub async fn close(&self) {
        if let Source::Store { store, .. } = self {
            store.close().await;
        }
    }
}

impl Filter {
    fn query(&self, after_id: Option<i64>) -> EventQuery {
        EventQuery {
            kind: self.kind.clone(),
            conversation_key: self.conversation.clone(),
            after_id,
            limit: PAGE,
            with_raw: self.with_raw,
            ..EventQuery::default()
        }
    }
}

/// A server's admin API.
pub struct Api {
    client: reqwest::Client,
    events: reqwest::Url,
    token: String,
    filter: Filter,
    /// Whether the server is unreachable since the last poll (to say so once, and when it is back).
    lost: AtomicBool,
}

impl Api {
    fn new(url: &str, token: Option<&str>, filter: Filter) -> anyhow::Result<Api> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            anyhow::bail!(
                "--url needs the server's admin token: pass --admin-token or set HOOKLINE_ADMIN_TOKEN"
            );
        };
        // Under a path prefix too (a proxy's /hookline/): the API is below whatever the URL names.
        let events = format!("{}/api/v1/events", url.trim_end_matches('/'));
        let events = reqwest::Url::parse(&events)
            .with_context(|| format!("--url {url:?} is not a URL like http://127.0.0.1:8080"))?;
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("while setting up the HTTP client")?;
        Ok(Api {
            client,
            events,
            token: token.to_owned(),
            filter,
            lost: AtomicBool::new(false),
        })
    }

    /// One page; an unreachable server is an error.
    async fn get(&self, params: &[(&str, String)]) -> anyhow::Result<Vec<Value>> {
        self.request(params).await?
    }

    /// One page; an unreachable server is `None` (said once) when `keep_going`.
    async fn poll(
        &self,
        params: &[(&str, String)],
        keep_going: bool,
    ) -> anyhow::Result<Option<Vec<Value>>> {
        match self.request(params).await? {
            Ok(items) => {
                if self.lost.swap(false, Ordering::Relaxed) {
                    eprintln!("hookline tail: {} answers again", self.events);
                }
                Ok(Some(items))
            }
            Err(unreachable) if keep_going => {
                if !self.lost.swap(true, Ordering::Relaxed) {
                    eprintln!("hookline tail: {unreachable:#}; retrying");
                }
                Ok(None)
            }
            Err(unreachable) => Err(unreachable),
        }
    }

    /// The items of one page. The outer error is a refusal (final); the inner one a server that did
    /// not answer, or answered 5xx (it may come back).
    async fn request(
        &self,
        params: &[(&str, String)],
    ) -> anyhow::Result<Result<Vec<Value>, anyhow::Error>> {
        let mut request = self
            .client
            .get(self.events.clone())
            .bearer_auth(&self.token)
            .query(params);
        if let Some(kind) = &self.filter.kind {
            request = request.query(&[("kind", kind)]);
        }
        if let Some(conversation) = &self.filter.conversation {
            request = request.query(&[("conversation", conversation)]);
        }
        if self.filter.with_raw {
            request = request.query(&[("raw", "true")]);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => {
                let err = anyhow::Error::new(err).context(format!("cannot reach {}", self.events));
                return Ok(Err(err));
            }
        };
        let status = response.status();
        let mut body: Value = response.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let reason = body["error"].as_str().unwrap_or("no reason given");
            let refused = format!("{} answered {status}: {reason}", self.events);
            if status.is_server_error() {
                return Ok(Err(anyhow::anyhow!(refused)));
            }
            if status == reqwest::StatusCode::UNAUTHORIZED {
                anyhow::bail!("{refused}; check --admin-token or HOOKLINE_ADMIN_TOKEN");
            }
            anyhow::bail!(refused);
        }
        match body.get_mut("items").map(Value::take) {
            Some(Value::Array(items)) => Ok(Ok(items)),
            _ => anyhow::bail!(
                "{} did not answer with a page of events; is this a hookline server?",
                self.events
            ),
        }
    }
}
