//! [`HandlerSink`]: a stored event read back typed and handed to the handler method of its kind.

use std::any::Any;
use std::fmt;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use hookline_meta::{EventKind, ParseOptions, parse_with};
use hookline_store::StoredEvent;
use hookline_store::conversation::reparse::envelope;

use super::{Context, Handler, HandlerResult, Handover};
use crate::sink::{BoxFuture, Outcome, Sink};

/// A [`Handler`] as a [`Sink`]: run it with an outbox worker like any other sink.
pub struct HandlerSink<H: Handler> {
    handler: H,
    options: ParseOptions,
}

impl<H: Handler> HandlerSink<H> {
    pub fn new(handler: H) -> Self {
        HandlerSink {
            handler,
            options: ParseOptions::default(),
        }
    }

    /// The options events are read with; they must be those of ingest (the server's `app_id`s), so that
    /// echoes of your own app are classified `this_app` here too.
    pub fn parse_options(mut self, options: ParseOptions) -> Self {
        self.options = options;
        self
    }

    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// Reads the event typed and calls the handler method of its kind; `on_unknown(None)` when it cannot
    /// be read typed.
    async fn dispatch(&self, ctx: &Context) -> HandlerResult {
        let Some(body) = envelope(ctx.stored()) else {
            return self.handler.on_unknown(ctx, None).await;
        };
        // The events borrow from `body`, which lives in this future until the handler is done.
        let events = parse_with(body.as_bytes(), &self.options).unwrap_or_default();
        match events.first() {
            Some(typed) => route(&self.handler, ctx, &typed.kind).await,
            None => self.handler.on_unknown(ctx, None).await,
        }
    }
}

impl<H: Handler> fmt::Debug for HandlerSink<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerSink")
            .field("handler", &std::any::type_name::<H>())
            .field("options", &self.options)
            .finish()
    }
}

impl<H: Handler> Sink for HandlerSink<H> {
    fn deliver<'a>(&'a self, event: &'a StoredEvent) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            let ctx = Context::from_stored(event);
            // A panicking handler must not take the worker (and every other event of the sink) with it.
            match AssertUnwindSafe(self.dispatch(&ctx)).catch_unwind().await {
                Ok(Ok(())) => Outcome::Delivered,
                Ok(Err(err)) => err.into_outcome(),
                Err(panic) => {
                    let reason = format!("the handler panicked: {}", panic_message(&*panic));
                    tracing::error!(event = ctx.id(), kind = ctx.kind(), %reason, "handler panicked");
                    Outcome::Dead { reason }
                }
            }
        })
    }
}

/// Calls the method of the event's kind. Echoes go to `on_echo` only.
async fn route<H: Handler>(handler: &H, ctx: &Context, kind: &EventKind<'_>) -> HandlerResult {
    match kind {
        EventKind::Message(message) => handler.on_message(ctx, message).await,
        EventKind::MessageEcho(echo) => handler.on_echo(ctx, echo).await,
        EventKind::MessageEdit(edit) => handler.on_message_edit(ctx, edit).await,
        EventKind::MessageDeleted { mid } => handler.on_message_deleted(ctx, mid.as_deref()).await,
        EventKind::Postback(postback) => handler.on_postback(ctx, postback).await,
        EventKind::Reaction(reaction) => handler.on_reaction(ctx, reaction).await,
        EventKind::Read(read) => handler.on_read(ctx, read).await,
        EventKind::Delivery(delivery) => handler.on_delivery(ctx, delivery).await,
        EventKind::Referral(referral) => handler.on_referral(ctx, referral).await,
        EventKind::Optin(optin) => handler.on_optin(ctx, optin).await,
        EventKind::PassThreadControl(control) => {
            handler.on_handover(ctx, Handover::Pass(control)).await
        }
        EventKind::TakeThreadControl(control) => {
            handler.on_handover(ctx, Handover::Take(control)).await
        }
        EventKind::RequestThreadControl(request) => {
            handler.on_handover(ctx, Handover::Request(request)).await
        }
        EventKind::Change(change) => handler.on_change(ctx, change).await,
        other => handler.on_unknown(ctx, Some(other)).await,
    }
}

/// The message of a panic (`panic!` gives a `&str` or a `String`).
fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_message_is_read_from_str_and_string_payloads() {
        let from_str: Box<dyn Any + Send> = Box::new("boom");
        let from_string: Box<dyn Any + Send> = Box::new(format!("boom {}", 2));
        let other: Box<dyn Any + Send> = Box::new(42_u8);
        assert_eq!(panic_message(&*from_str), "boom");
        assert_eq!(panic_message(&*from_string), "boom 2");
        assert_eq!(panic_message(&*other), "(a panic without a message)");
    }
}
