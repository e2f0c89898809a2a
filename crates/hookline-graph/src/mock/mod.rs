//! A local stand-in for Graph, for tests of this crate and of the crates that call Graph through it.
//!
//! [`MockGraph::start`] listens on `127.0.0.1:0` and answers the calls of [`GraphClient`]: the Page and
//! Instagram `subscribed_apps` edges, `/me/permissions` and the Send API, on any `vX.Y` version. It
//! records every request, keeps each account's subscribed fields (so a test can drop a subscription and
//! watch it come back), answers sends with generated message ids, can answer the next calls with a
//! scripted [`MockFailure`], and can run a hook before it answers a send.
//!
//! ```no_run
//! # async fn demo() {
//! use hookline_graph::mock::{MockFailure, MockGraph, Route};
//! use hookline_graph::{DEFAULT_FIELDS, SendRequest, Token};
//!
//! let graph = MockGraph::start().await;
//! let client = graph.client(); // or pass `graph.url()` as --graph-url to a binary
//! let token = Token::new("EAAtest").unwrap();
//! client.subscribe("1001", &token, DEFAULT_FIELDS).await.unwrap();
//! assert_eq!(graph.subscribed_fields("1001").unwrap().len(), DEFAULT_FIELDS.len());
//!
//! graph.on_send(|sent| async move {
//!     // deliver the echo webhook here, before the send's answer returns
//!     let _ = sent.message_id;
//! });
//! graph.fail_next_on(Route::Send, 1, MockFailure::outside_window());
//! let err = client.send("1001", &token, &SendRequest::text("2002", "hi").unwrap()).await.unwrap_err();
//! assert_eq!(err.code(), Some(10));
//! assert_eq!(graph.requests_for(Route::Send).len(), 1);
//! # }
//! ```
//!
//! The server runs on the test's tokio runtime. A test that blocks its thread (waiting on a child
//! process with `std::process::Command`, say) should use `#[tokio::test(flavor = "multi_thread")]` so the
//! mock keeps answering.

mod failure;
mod server;

use std::collections::{BTreeMap, VecDeque};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;

use crate::config::{GraphConfig, RetryPolicy};
use crate::{GraphClient, PAGE_PERMISSIONS};

pub use failure::{MOCK_TRACE_ID, MockFailure};

/// The app id the mock reports as subscribed.
pub const MOCK_APP_ID: &str = "1234567890123456";
/// The app name the mock reports as subscribed.
pub const MOCK_APP_NAME: &str = "hookline";

/// The Graph calls the mock knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// `POST /{v}/{id}/subscribed_apps`
    Subscribe,
    /// `GET /{v}/{id}/subscribed_apps`
    SubscribedApps,
    /// `DELETE /{v}/{id}/subscribed_apps`
    Unsubscribe,
    /// `GET /{v}/me/permissions`
    Permissions,
    /// `POST /{v}/{id}/messages`
    Send,
}

/// One request as the mock received it, token included (the mock is for tests only).
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedRequest {
    pub method: String,
    /// The path, version included: `/v26.0/1001/subscribed_apps`.
    pub path: String,
    /// The route it matched, if any.
    pub route: Option<Route>,
    /// The first path segment: `v26.0`.
    pub version: Option<String>,
    /// The account id of the path (`1001`, `me`).
    pub account_id: Option<String>,
    pub query: Vec<(String, String)>,
    /// The pairs of an `application/x-www-form-urlencoded` body.
    pub form: Vec<(String, String)>,
    /// A JSON body.
    pub json: Option<Value>,
    pub content_type: Option<String>,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    pub user_agent: Option<String>,
}

impl RecordedRequest {
    /// The token of an `Authorization: Bearer` header.
    pub fn bearer(&self) -> Option<&str> {
        self.authorization.as_deref()?.strip_prefix("Bearer ")
    }

    /// The token however it was sent: bearer header, or `access_token` in the query or the form.
    pub fn token(&self) -> Option<&str> {
        self.bearer()
            .or_else(|| self.query_value("access_token"))
            .or_else(|| self.form_value("access_token"))
    }

    /// A query parameter.
    pub fn query_value(&self, key: &str) -> Option<&str> {
        pair(&self.query, key)
    }

    /// A form field.
    pub fn form_value(&self, key: &str) -> Option<&str> {
        pair(&self.form, key)
    }
}

fn pair<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A send the mock accepted, as handed to the [`MockGraph::on_send`] hook.
#[derive(Clone, Debug, PartialEq)]
pub struct SentMessage {
    /// The Page or Instagram account id of the path.
    pub account_id: String,
    /// `recipient.id`, when the recipient was given by id.
    pub recipient_id: Option<String>,
    /// `message.text`.
    pub text: Option<String>,
    /// `message.metadata`.
    pub metadata: Option<String>,
    /// The id the mock answers with.
    pub message_id: String,
    /// The whole JSON body.
    pub body: Value,
}

type SendHook = Arc<dyn Fn(SentMessage) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// What the mock remembers.
#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    subscriptions: BTreeMap<String, Vec<String>>,
    permissions: Vec<(String, String)>,
    accepted_tokens: Option<Vec<String>>,
    failures: VecDeque<Scripted>,
    sent: Vec<SentMessage>,
    next_message: u64,
    send_hook: Option<SendHook>,
}

/// "Answer the next `remaining` calls (to `route`, or to any route) with `failure`."
struct Scripted {
    route: Option<Route>,
    remaining: usize,
    failure: MockFailure,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A running mock Graph server; it stops when dropped.
pub struct MockGraph {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for MockGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockGraph")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for MockGraph {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MockGraph {
    /// Starts the server on a free loopback port. Every permission of
    /// [`PAGE_PERMISSIONS`] and [`INSTAGRAM_PERMISSIONS`](crate::INSTAGRAM_PERMISSIONS) starts granted,
    /// and every token is accepted.
    ///
    /// # Panics
    /// When no loopback port can be bound, which leaves a test nothing to run against.
    pub async fn start() -> MockGraph {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|err| {
                panic!("could not bind the mock Graph server on 127.0.0.1: {err}")
            });
        let addr = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("the mock Graph listener has no address: {err}"));
        let shared = Arc::new(Shared::default());
        {
            let mut state = shared.lock();
            let granted = PAGE_PERMISSIONS.iter().chain(crate::INSTAGRAM_PERMISSIONS);
            for permission in granted {
                if !state.permissions.iter().any(|(p, _)| p == permission) {
                    state
                        .permissions
                        .push(((*permission).to_owned(), "granted".to_owned()));
                }
            }
        }
        let task = tokio::spawn(server::serve(listener, Arc::clone(&shared)));
        MockGraph { addr, shared, task }
    }

    /// `http://127.0.0.1:PORT`, the value for `--graph-url`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A configuration pointing both Graph hosts at the mock, with millisecond retry delays so tests of
    /// retries do not wait.
    pub fn config(&self) -> GraphConfig {
        let mut config = GraphConfig::with_base_url(self.url());
        config.timeout = Duration::from_secs(5);
        config.retry = RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(4),
        };
        config
    }

    /// A client made from [`MockGraph::config`].
    ///
    /// # Panics
    /// Never for the mock's own configuration; a failure would be a bug here.
    pub fn client(&self) -> GraphClient {
        GraphClient::new(self.config())
            .unwrap_or_else(|err| panic!("the mock's own config was refused: {err}"))
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests that matched `route`.
    pub fn requests_for(&self, route: Route) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.route == Some(route))
            .collect()
    }

    /// Forgets the recorded requests (not the state).
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }

    /// The fields the app is subscribed to on `account_id`, or `None` when it is not subscribed.
    pub fn subscribed_fields(&self, account_id: &str) -> Option<Vec<String>> {
        self.shared.lock().subscriptions.get(account_id).cloned()
    }

    /// Subscribes the app to `fields` on `account_id`, as if done earlier.
    pub fn set_subscribed_fields(&self, account_id: &str, fields: &[&str]) {
        let fields = fields.iter().map(|f| (*f).to_owned()).collect();
        self.shared
            .lock()
            .subscriptions
            .insert(account_id.to_owned(), fields);
    }

    /// Removes the app's subscription on `account_id`, as Meta does when a Page admin removes the app
    /// or a token is invalidated.
    pub fn drop_subscription(&self, account_id: &str) {
        self.shared.lock().subscriptions.remove(account_id);
    }

    /// Replaces what `/me/permissions` reports: `(permission, status)` pairs such as
    /// `("pages_messaging", "declined")`.
    pub fn set_permissions(&self, permissions: &[(&str, &str)]) {
        self.shared.lock().permissions = permissions
            .iter()
            .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
            .collect();
    }

    /// Accepts only these tokens; any other gets Graph error 190.
    pub fn accept_only_tokens(&self, tokens: &[&str]) {
        self.shared.lock().accepted_tokens = Some(tokens.iter().map(|t| (*t).to_owned()).collect());
    }

    /// Answers the next `count` calls, whatever their route, with `failure`. Scripts queue up: the
    /// first unfinished one that matches a call answers it.
    pub fn fail_next(&self, count: usize, failure: MockFailure) {
        self.script(None, count, failure);
    }

    /// Answers the next `count` calls to `route` with `failure`.
    pub fn fail_next_on(&self, route: Route, count: usize, failure: MockFailure) {
        self.script(Some(route), count, failure);
    }

    fn script(&self, route: Option<Route>, remaining: usize, failure: MockFailure) {
        if remaining > 0 {
            self.shared.lock().failures.push_back(Scripted {
                route,
                remaining,
                failure,
            });
        }
    }

    /// Runs `hook` for every accepted send, after its message id is chosen and before the answer is
    /// returned: a test can deliver the echo webhook first, as Meta sometimes does.
    pub fn on_send<F, Fut>(&self, hook: F)
    where
        F: Fn(SentMessage) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let hook: SendHook = Arc::new(move |sent| Box::pin(hook(sent)));
        self.shared.lock().send_hook = Some(hook);
    }

    /// Removes the send hook.
    pub fn clear_send_hook(&self) {
        self.shared.lock().send_hook = None;
    }

    /// The sends answered with success, oldest first.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.shared.lock().sent.clone()
    }
}
