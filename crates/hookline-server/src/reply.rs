//! Replies: messages sent into a conversation through Meta's Send API, recorded so that their echoes
//! are known as this app's own.
//!
//! [`Replier::send`] records the send `pending` under a new id ([`SendId`]) before the Graph call, and
//! puts that id in the message's `metadata`, which Meta copies into the echo it delivers. Then it calls
//! the Send API with the token of the conversation's `[[account]]` and marks the send `sent` with the
//! `message_id` Meta answered, or `failed` with the error. An echo that arrives before the call returns
//! already names the recorded send, and one without metadata is matched by its `mid`; the join is made
//! when a conversation is read (`hookline_store::conversation::fold::fold_with_sends`), so the
//! conversation shows one message, `echo_source: this_app`, whichever arrives first.
//!
//! A send is never retried after its request may have left (see [`hookline_graph::GraphClient::send`]):
//! a message the person might have received is marked `failed` with a note that its outcome is
//! unknown, and its echo, if Meta delivered it, shows it as sent.
//!
//! - `request`: [`Reply`], the shape the admin API and `hookline send` take.
//! - `error`: [`ReplyError`].

mod error;
mod request;

use std::fmt;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hookline_graph::{
    GraphClient, GraphError, Message, MessagingType, Recipient, SendRequest, SendResponse,
};
use hookline_store::conversation::view::{Conversation, Counterpart};
use hookline_store::{EventStore, NewSend, SendId, StoredSend};
use serde_json::Value;

pub use error::ReplyError;
pub use request::{Reply, ReplyAttachment, ReplyQuickReply};

use crate::config::{Account, AccountKind, Config};
use crate::metrics::Metrics;

/// Where a [`Replier`] finds the account (and its token) of a conversation's Page or Instagram account.
pub trait AccountSource: Send + Sync {
    /// The account with this Page or Instagram id, or why there is none.
    fn account(&self, id: &str) -> Result<Account, String>;
}

/// The config file's `[[account]]` sections; a `token_file` is read again on every send, so a rotated
/// token is used without a restart.
impl AccountSource for Config {
    fn account(&self, id: &str) -> Result<Account, String> {
        Config::account(self, id).map_err(|err| err.to_string())
    }
}

/// Accounts with their tokens already read.
impl AccountSource for Vec<Account> {
    fn account(&self, id: &str) -> Result<Account, String> {
        self.iter().find(|a| a.id == id).cloned().ok_or_else(|| {
            format!(
                "no account with page_id or instagram_id {id} was given; add one with its token"
            )
        })
    }
}

/// Sends replies into conversations of a store.
#[derive(Clone)]
pub struct Replier {
    store: Arc<dyn EventStore>,
    graph: GraphClient,
    accounts: Arc<dyn AccountSource>,
    metrics: Option<Arc<Metrics>>,
}

impl fmt::Debug for Replier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replier")
            .field("graph", &self.graph.config().base_url)
            .finish_non_exhaustive()
    }
}

impl Replier {
    pub fn new(
        store: Arc<dyn EventStore>,
        graph: GraphClient,
        accounts: Arc<dyn AccountSource>,
    ) -> Self {
        Replier {
            store,
            graph,
            accounts,
            metrics: None,
        }
    }

    /// A replier with the config's Graph settings and `[[account]]` sections.
    pub fn from_config(
        config: &Config,
        store: Arc<dyn EventStore>,
    ) -> Result<Self, crate::ConfigError> {
        Ok(Replier::new(
            store,
            config.graph_client()?,
            Arc::new(config.clone()),
        ))
    }

    /// Counts sends in `hookline_sends_total`.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Sends `reply` into the conversation with this id and answers the send as recorded (`sent`,
    /// with Meta's `message_id`).
    pub async fn send(
        &self,
        conversation_id: &str,
        reply: &Reply,
    ) -> Result<StoredSend, ReplyError> {
        let (message, kind) = reply.to_message().map_err(ReplyError::Invalid)?;
        let conversation = self
            .store
            .get_conversation(conversation_id.to_owned())
            .await?
            .ok_or_else(|| ReplyError::NoConversation(conversation_id.to_owned()))?;
        self.send_message(&conversation, message, kind).await
    }

    /// Sends a Send API message into `conversation`; its `metadata` is replaced by the send's id.
    pub async fn send_message(
        &self,
        conversation: &Conversation,
        message: Message,
        kind: MessagingType,
    ) -> Result<StoredSend, ReplyError> {
        let account = self.account_for(conversation)?;
        let id = SendId::generate();
        let recipient = match &conversation.counterpart {
            Counterpart::Id(id) => Recipient::Id(id.clone()),
            Counterpart::UserRef(user_ref) => Recipient::UserRef(user_ref.clone()),
        };
        let request = SendRequest::new(recipient, message.metadata(id.as_str()))
            .map_err(|err| ReplyError::Invalid(err.to_string()))?
            .messaging_type(kind);
        if account.kind == AccountKind::Instagram {
            request
                .check_instagram()
                .map_err(|err| ReplyError::Invalid(err.to_string()))?;
        }
        let mut body = request.to_json();
        if let Value::Object(fields) = &mut body {
            fields.remove("recipient");
        }
        let new = NewSend {
            id: id.clone(),
            object: conversation.object.clone(),
            account_id: conversation.account_id.clone(),
            recipient: conversation.counterpart.clone(),
            request: body,
            created_at_ms: now_ms(),
        };
        // Recorded before the call: an echo that overtakes the call's answer already names this send.
        self.store.create_send(new).await?;
        let answer = self.call(&account, &request).await;
        self.record(&conversation.object, id, answer).await
    }

    fn account_for(&self, conversation: &Conversation) -> Result<Account, ReplyError> {
        let refuse = |reason: String| ReplyError::NoAccount {
            conversation: conversation.id.clone(),
            reason,
        };
        let account = self
            .accounts
            .account(&conversation.account_id)
            .map_err(refuse)?;
        let expected = match conversation.object.as_str() {
            "page" => AccountKind::Page,
            "instagram" => AccountKind::Instagram,
            other => {
                return Err(refuse(format!(
                    "its object is {other:?}, and only Messenger (page) and Instagram conversations \
                     take messages"
                )));
            }
        };
        if account.kind != expected {
            return Err(refuse(format!(
                "it is {} conversation but {} is configured as {} account; configure it with {}",
                article(expected),
                account.id,
                article(account.kind),
                match expected {
                    AccountKind::Page => "page_id",
                    AccountKind::Instagram => "instagram_id",
                }
            )));
        }
        Ok(account)
    }

    async fn call(
        &self,
        account: &Account,
        request: &SendRequest,
    ) -> Result<SendResponse, GraphError> {
        match account.kind {
            AccountKind::Page => self.graph.send(&account.id, &account.token, request).await,
            AccountKind::Instagram => {
                self.graph
                    .instagram_send(&account.id, &account.token, request)
                    .await
            }
        }
    }

    async fn record(
        &self,
        object: &str,
        id: SendId,
        answer: Result<SendResponse, GraphError>,
    ) -> Result<StoredSend, ReplyError> {
        match answer {
            Ok(response) => {
                let message_id = response.message_id;
                self.count(object, "sent");
                let marked = self
                    .store
                    .mark_send_sent(id.clone(), message_id.clone(), now_ms())
                    .await;
                match marked {
                    Ok(send) => {
                        tracing::info!(send_id = %send.id, %message_id, conversation = %send.conversation_key, "reply sent");
                        Ok(send)
                    }
                    Err(source) => Err(ReplyError::Unrecorded {
                        send_id: id,
                        message_id: Some(message_id),
                        source,
                    }),
                }
            }
            Err(error) => {
                let outcome = match error {
                    GraphError::SendOutcomeUnknown { .. } => "unknown",
                    _ => "failed",
                };
                self.count(object, outcome);
                let text = match outcome {
                    "unknown" => format!("outcome unknown: {error}"),
                    _ => error.to_string(),
                };
                match self
                    .store
                    .mark_send_failed(id.clone(), text, now_ms())
                    .await
                {
                    Ok(send) => {
                        tracing::warn!(send_id = %send.id, conversation = %send.conversation_key, "reply not sent: {error}");
                        Err(ReplyError::Refused {
                            send: Box::new(send),
                            error,
                        })
                    }
                    Err(source) => Err(ReplyError::Unrecorded {
                        send_id: id,
                        message_id: None,
                        source,
                    }),
                }
            }
        }
    }

    fn count(&self, object: &str, outcome: &'static str) {
        if let Some(metrics) = &self.metrics {
            metrics.send(object, outcome);
        }
    }
}

fn article(kind: AccountKind) -> &'static str {
    match kind {
        AccountKind::Page => "a Page (Messenger)",
        AccountKind::Instagram => "an Instagram",
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
