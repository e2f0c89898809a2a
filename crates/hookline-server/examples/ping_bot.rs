//! A bot that answers "ping": hookline's server with an in-process [`Handler`] as a sink.
//!
//! ```text
//! HOOKLINE_APP_SECRET=dev-secret cargo run -p hookline-server --example ping_bot
//! cargo run -p hookline -- trigger message --text ping --secret dev-secret --to http://127.0.0.1:8080/webhook
//! ```
//!
//! Every message saying "ping" is answered with a reply intent: the Send API request the bot would make,
//! logged instead of sent (sending needs a Page access token, which a demo does not have). Echoes never
//! reach `on_message`, so the bot cannot answer its own "pong"; standby messages (another app owns the
//! thread) are watched, not answered. The handler runs as an outbox sink named `ping_bot`: ingest never
//! waits for it, and a failed reply would be retried on the sink's schedule.
//!
//! Settings: `HOOKLINE_APP_SECRET` (default `dev-secret`), `HOOKLINE_LISTEN` (default `127.0.0.1:8080`),
//! `HOOKLINE_DATABASE` (default `sqlite://ping_bot.db`).

use std::sync::Arc;

use hookline_meta::message::Message;
use hookline_server::{Config, Server};
use hookline_sinks::WorkerOptions;
use hookline_sinks::handler::{Context, Handler, HandlerResult, HandlerSink};
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Answers "ping" with "pong". Reply intents go to `intents`, where `main` logs them.
struct PingBot {
    intents: mpsc::UnboundedSender<Value>,
}

impl Handler for PingBot {
    async fn on_message(&self, ctx: &Context, message: &Message<'_>) -> HandlerResult {
        if let Some(reply) = reply_to(ctx, message) {
            // The receiver only goes away at shutdown, when there is no one left to tell.
            let _ = self.intents.send(reply);
        }
        Ok(())
    }
}

/// The Send API request answering `message`, or `None` when it does not say "ping" or is not ours to
/// answer.
fn reply_to(ctx: &Context, message: &Message<'_>) -> Option<Value> {
    if ctx.standby() {
        return None;
    }
    let text = message.text.as_deref()?;
    if !text.trim().eq_ignore_ascii_case("ping") {
        return None;
    }
    // A chat-plugin guest has no PSID yet, only a user_ref to answer.
    let recipient = match (ctx.sender(), ctx.sender_user_ref()) {
        (Some(id), _) => json!({ "id": id }),
        (None, Some(user_ref)) => json!({ "user_ref": user_ref }),
        (None, None) => return None,
    };
    Some(json!({
        "recipient": recipient,
        "messaging_type": "RESPONSE",
        "message": { "text": "pong" },
    }))
}

/// The server with the bot as its `ping_bot` sink.
async fn bot_server(
    config: &Config,
    listener: tokio::net::TcpListener,
) -> anyhow::Result<(Server, mpsc::UnboundedReceiver<Value>)> {
    let (intents, replies) = mpsc::unbounded_channel();
    let bot = HandlerSink::new(PingBot { intents }).parse_options(config.parse_options());
    let server = Server::bind(config, listener).await?.with_sink(
        "ping_bot",
        Arc::new(bot),
        WorkerOptions::default(),
    );
    Ok((server, replies))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let env =
        |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.to_owned());
    let mut config = Config::with_secret(&env("HOOKLINE_APP_SECRET", "dev-secret"));
    config.listen = env("HOOKLINE_LISTEN", "127.0.0.1:8080");
    config.database = env("HOOKLINE_DATABASE", "sqlite://ping_bot.db");
    config.validate()?;

    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    let (server, mut replies) = bot_server(&config, listener).await?;
    tokio::spawn(async move {
        while let Some(reply) = replies.recv().await {
            tracing::info!(%reply, "reply intent: POST /me/messages");
        }
    });
    server
        .run(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hookline_meta::signature::sign;

    use super::*;

    fn body(channel: &str, sender: &str, text: &str) -> String {
        format!(
            r#"{{"object":"page","entry":[{{"id":"100","time":1,"{channel}":[{{"sender":{{"id":"{sender}"}},"recipient":{{"id":"100"}},"timestamp":1767610000000,"message":{{"mid":"m.{sender}.{text}","text":"{text}"}}}}]}}]}}"#
        )
    }

    /// An echo of the bot's own "pong": what Meta sends back after a reply.
    fn echo() -> String {
        r#"{"object":"page","entry":[{"id":"100","time":1,"messaging":[{"sender":{"id":"100"},"recipient":{"id":"7"},"timestamp":1767610000001,"message":{"is_echo":true,"mid":"m.pong","text":"ping"}}]}]}"#.to_owned()
    }

    #[tokio::test]
    async fn answers_ping_only_for_user_messages_it_may_answer() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config::with_secret("dev-secret");
        config.database = format!("sqlite://{}", dir.path().join("bot.db").display());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (server, mut replies) = bot_server(&config, listener).await.unwrap();
        let url = format!("http://{}/webhook", server.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.run(async {
            let _ = stopped.await;
        }));

        let client = reqwest::Client::new();
        for body in [
            body("messaging", "6", "hello"),
            echo(),
            body("standby", "8", "ping"),
            body("messaging", "7", " PING "),
        ] {
            let response = client
                .post(&url)
                .header("x-hub-signature-256", sign(b"dev-secret", body.as_bytes()))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 200);
        }

        let reply = tokio::time::timeout(Duration::from_secs(10), replies.recv())
            .await
            .expect("a reply within 10 s")
            .unwrap();
        assert_eq!(
            reply,
            json!({"recipient": {"id": "7"}, "messaging_type": "RESPONSE", "message": {"text": "pong"}})
        );
        // The greeting, the echo and the standby "ping" got no answer.
        stop.send(()).unwrap();
        serving.await.unwrap().unwrap();
        assert!(replies.try_recv().is_err(), "one reply only");
    }
}
