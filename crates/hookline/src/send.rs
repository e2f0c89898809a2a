//! `hookline send`: a reply into a stored conversation through Meta's Send API, made by
//! `hookline_server::reply::Replier`, the same code as `POST /api/v1/conversations/{id}/messages`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::ArgGroup;
use hookline_server::reply::{Replier, Reply, ReplyError};
use hookline_server::{Config, Overrides};
use hookline_store::StoredSend;
use hookline_store::conversation::conversation_id;

use crate::serve::GraphArgs;
use crate::store::{self, StoreArgs};

/// Send a message into a stored conversation through Meta's Send API.
///
/// The conversation must be in the store: someone wrote to the Page or Instagram account while
/// `hookline serve` was receiving. The message goes out with the token of that account's [[account]]
/// section in the config file (token_env or token_file).
///
/// The send is recorded in the store before the call, under an id (hl_...) that also travels as the
/// message's metadata, so its echo is shown as this app's own. It ends up `sent` with Meta's message id,
/// or `failed` with Meta's error; GET /api/v1/sends/{id} shows it. A failed send is never retried: read
/// the error before sending again.
///
/// Without --tag or --update the message is a RESPONSE, which Meta accepts within 24 hours of the
/// person's last message. Exits 0 once Meta accepted the message, 1 otherwise.
#[derive(Debug, clap::Args)]
#[command(group(ArgGroup::new("content").required(true).args(["text", "attachment_url"])))]
pub struct Args {
    /// The conversation: its id as GET /api/v1/conversations shows it (c_...), or its key
    /// (page:PAGE_ID:PSID for Messenger, instagram:IG_ID:IGSID for Instagram).
    #[arg(long, value_name = "ID")]
    conversation: String,

    /// The message's text (under 2,000 characters; 1,000 bytes on Instagram).
    #[arg(long)]
    text: Option<String>,

    /// Send media instead of text: a public https:// URL Meta downloads the file from.
    #[arg(long, value_name = "URL")]
    attachment_url: Option<String>,

    /// What the --attachment-url is [default: image].
    // No `default_value`: clap does not enforce `requires` on an argument that has one. And
    // `conflicts_with`, since a `requires` that conflicts with a given argument (--text) is dropped.
    #[arg(
        long,
        value_name = "TYPE",
        requires = "attachment_url",
        conflicts_with = "text",
        value_parser = ["image", "video", "audio", "file"]
    )]
    attachment_type: Option<String>,

    /// A quick reply button, repeatable (13 at most): its title (20 characters at most) and the payload
    /// that comes back in the person's message when tapped, the title when left out.
    #[arg(long, value_name = "TITLE[=PAYLOAD]", value_parser = quick_reply)]
    quick_reply: Vec<(String, Option<String>)>,

    /// Send with messaging_type MESSAGE_TAG and this tag, e.g. HUMAN_AGENT (a person answering up to 7
    /// days after the person's last message).
    #[arg(long, conflicts_with = "update")]
    tag: Option<String>,

    /// Send with messaging_type UPDATE instead of RESPONSE.
    #[arg(long)]
    update: bool,

    /// The config file `hookline serve` runs with: its [[account]] sections (with their tokens),
    /// database, graph_url and graph_version.
    #[arg(long, env = "HOOKLINE_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Store URL, as given to `hookline serve`: sqlite://PATH or postgres://USER@HOST:PORT/DB?schema=NAME
    /// [default: the config file's database, else sqlite://hookline.db].
    #[arg(long, env = "HOOKLINE_DATABASE", value_name = "URL")]
    database: Option<String>,

    #[command(flatten)]
    graph: GraphArgs,

    /// Print the send as one JSON object (id, status, message_id, conversation_key, request...).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let reply = args.reply();
    // Refused before the store is opened: a reply or conversation that cannot be right is a typing error
    // to fix first.
    reply.to_message().map_err(anyhow::Error::msg)?;
    let target = Target::parse(&args.conversation)?;
    let overrides = Overrides {
        database: args.database.clone(),
        graph_url: args.graph.graph_url.clone(),
        graph_version: args.graph.graph_version.clone(),
        ..Overrides::default()
    };
    let config = Config::extract(args.config.as_deref(), overrides)?;
    config.graph_client()?;

    let store = store::open_existing(&StoreArgs {
        database: config.database.clone(),
    })?;
    let runtime = store::runtime()?;
    let replier = Replier::from_config(&config, Arc::clone(&store));
    let sent = runtime.block_on(async {
        let sent = match replier {
            Ok(replier) => replier
                .send(&target.id, &reply)
                .await
                .map_err(|err| target.explain(err, args.config.is_some())),
            Err(err) => Err(err.into()),
        };
        store.close().await;
        sent
    })?;
    print(&sent, args.json)?;
    Ok(ExitCode::SUCCESS)
}

impl Args {
    fn reply(&self) -> Reply {
        let mut reply = match &self.attachment_url {
            Some(url) => {
                let kind = self.attachment_type.as_deref().unwrap_or("image");
                Reply::attachment(kind, url.as_str())
            }
            None => Reply::text(self.text.clone().unwrap_or_default()),
        };
        for (title, payload) in &self.quick_reply {
            reply = reply.quick_reply(title.as_str(), payload.clone());
        }
        reply.tag = self.tag.clone();
        if self.update {
            reply.messaging_type = Some("UPDATE".to_owned());
        }
        reply
    }
}

/// The conversation as named on the command line, and its API id.
struct Target {
    /// The key, when one was given rather than an id.
    key: Option<String>,
    id: String,
}

impl Target {
    fn parse(given: &str) -> anyhow::Result<Target> {
        let given = given.trim();
        if given.is_empty() {
            anyhow::bail!(
                "--conversation is empty; give a conversation id (c_...) from GET \
                 /api/v1/conversations, or a key such as page:PAGE_ID:PSID"
            );
        }
        // Keys always have a ':' (object:account:person) and ids never do.
        Ok(if given.contains(':') {
            Target {
                key: Some(given.to_owned()),
                id: conversation_id(given),
            }
        } else {
            Target {
                key: None,
                id: given.to_owned(),
            }
        })
    }

    /// The reply's error, naming the key when the conversation was given by one, the missing --config
    /// when there is no account for want of one, and always the send id when a send was recorded (the
    /// handle to look it up with).
    fn explain(&self, err: ReplyError, with_config: bool) -> anyhow::Error {
        if let (ReplyError::NoConversation(id), Some(key)) = (&err, &self.key) {
            return anyhow::anyhow!(
                "no conversation with key {key} (id {id}) is in the store; check the key's object \
                 (page or instagram), account id and person id against GET /api/v1/conversations, \
                 and --database"
            );
        }
        if matches!(err, ReplyError::NoAccount { .. }) && !with_config {
            return anyhow::anyhow!(
                "{err}; no --config was given (nor HOOKLINE_CONFIG), so there is no [[account]] at \
                 all: pass the config file `hookline serve` runs with"
            );
        }
        let unnamed = err
            .send_id()
            .filter(|send| !err.to_string().contains(send.as_str()))
            .map(|send| format!("send {send}"));
        match unnamed {
            Some(send) => anyhow::Error::new(err).context(send),
            None => anyhow::Error::new(err),
        }
    }
}

fn print(sent: &StoredSend, json: bool) -> anyhow::Result<()> {
    if json {
        let line = serde_json::to_string(sent).context("while writing the send as JSON")?;
        println!("{line}");
    } else {
        let message = sent
            .message_id
            .as_deref()
            .map(|mid| format!(" as message {mid}"))
            .unwrap_or_default();
        println!("sent {}{message} to {}", sent.id, sent.conversation_key);
    }
    Ok(())
}

/// `TITLE` or `TITLE=PAYLOAD`.
fn quick_reply(text: &str) -> Result<(String, Option<String>), String> {
    let (title, payload) = match text.split_once('=') {
        Some((title, payload)) => (title, Some(payload.to_owned())),
        None => (text, None),
    };
    if title.trim().is_empty() {
        return Err(format!(
            "{text:?} has no title; give TITLE or TITLE=PAYLOAD, e.g. --quick-reply Small=SIZE_S"
        ));
    }
    Ok((title.to_owned(), payload))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quick_reply_splits_at_the_first_equals_sign() {
        assert_eq!(quick_reply("Small").unwrap(), ("Small".into(), None));
        assert_eq!(
            quick_reply("Yes=A=B").unwrap(),
            ("Yes".into(), Some("A=B".into()))
        );
        assert!(quick_reply("=X").unwrap_err().contains("no title"));
    }

    #[test]
    fn a_key_becomes_its_conversation_id_and_an_id_stays_as_given() {
        let key = Target::parse(" page:1001:2002 ").unwrap();
        assert_eq!(key.id, conversation_id("page:1001:2002"));
        assert_eq!(key.key.as_deref(), Some("page:1001:2002"));
        let id = Target::parse("c_0123").unwrap();
        assert_eq!((id.id.as_str(), id.key), ("c_0123", None));
    }
}
