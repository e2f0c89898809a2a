//! The in-process handler API: typed events delivered to your own Rust code, for services that embed
//! hookline instead of receiving its forwarded HTTP events.
//!
//! Implement [`Handler`] (every method has a default that does nothing), wrap it in a [`HandlerSink`] and
//! run it like any other sink, e.g. with the server's `with_sink`:
//!
//! ```no_run
//! use hookline_meta::message::Message;
//! use hookline_sinks::handler::{Context, Handler, HandlerError, HandlerSink};
//!
//! struct Greeter;
//!
//! impl Handler for Greeter {
//!     async fn on_message(&self, ctx: &Context, message: &Message<'_>) -> Result<(), HandlerError> {
//!         if ctx.standby() {
//!             return Ok(()); // another app owns this thread: watch, never answer
//!         }
//!         let text = message.text.as_deref().unwrap_or("");
//!         println!("{:?} said {text:?} in {:?}", ctx.sender(), ctx.conversation_key());
//!         Ok(())
//!     }
//! }
//!
//! let sink = HandlerSink::new(Greeter);
//! ```
//!
//! **It runs as a sink.** A [`HandlerSink`] is driven by an outbox worker ([`crate::outbox`]) with its own
//! cursor, filter and retry schedule, so nothing about it is special: ingest never waits for your code, and
//! what your code returns is judged like an HTTP consumer's answer. `Ok` is delivered;
//! [`HandlerError::retry`] is attempted again on the sink's schedule (and dead-lettered once the schedule is
//! used up); [`HandlerError::reject`] is dead-lettered at once; a panic is caught and dead-lettered with its
//! message, and the worker carries on. Delivery is **at least once**: an event attempted but not yet
//! recorded when the process stopped is attempted again after a restart, and a retry calls you again for
//! the same event. Make side effects idempotent on [`Context::dedup_key`], which is the same on every
//! attempt, replay and redelivery by Meta.
//!
//! **Echoes are not messages.** What the business account itself sent (by this app, a person in the Page or
//! Instagram inbox, or another app) comes back as a `message_echo`, and reaches [`Handler::on_echo`] only,
//! never [`Handler::on_message`]: a bot that answered echoes would answer itself. Echoes are left out by the
//! sink's default filter; set `include_echoes` to get them. Give [`HandlerSink::parse_options`] your app
//! ids so that your own echoes are classified [`EchoSource::ThisApp`](hookline_meta::message::EchoSource).
//!
//! **Standby.** Events from the `standby` array belong to threads another app owns (handover protocol).
//! They are delivered only when the sink's filter lets them through (`include_standby`, off by default),
//! through the same methods, with [`Context::standby`] true: observe them, do not reply to them.
//!
//! - [`Handler`]: the typed methods; [`Handover`]: the thread-control payloads of [`Handler::on_handover`].
//! - [`Context`]: what is known about the event besides its payload (ids, sender, conversation, raw JSON).
//! - [`HandlerError`]: retry or reject; [`HandlerSink`]: the [`Sink`](crate::Sink) that reads stored events
//!   back typed and calls the handler.

mod context;
mod error;
mod sink;

use std::future::Future;

use hookline_meta::EventKind;
use hookline_meta::change::Change;
use hookline_meta::handover::{RequestThreadControl, ThreadControl};
use hookline_meta::message::{Echo, Message, MessageEdit};
use hookline_meta::postback::{Optin, Postback};
use hookline_meta::reaction::Reaction;
use hookline_meta::receipt::{Delivery, Read};
use hookline_meta::referral::ReferralEvent;

pub use context::Context;
pub use error::{HandlerError, HandlerResult};
pub use sink::HandlerSink;

/// Your code, called once per event (at least once: see the [module docs](self)). Every method defaults
/// to doing nothing and returning `Ok`, so implement only the kinds you care about. Implementations may
/// write `async fn`.
pub trait Handler: Send + Sync + 'static {
    /// A message from a user (text, attachments, quick replies, replies, referrals). Never an echo.
    fn on_message(
        &self,
        ctx: &Context,
        message: &Message<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, message);
        async { Ok(()) }
    }

    /// A message the business account sent (`message_echo`); [`Echo::source`] says who sent it.
    fn on_echo(
        &self,
        ctx: &Context,
        echo: &Echo<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, echo);
        async { Ok(()) }
    }

    /// The user edited a message they sent.
    fn on_message_edit(
        &self,
        ctx: &Context,
        edit: &MessageEdit<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, edit);
        async { Ok(()) }
    }

    /// Instagram: the user unsent the message with this mid.
    fn on_message_deleted(
        &self,
        ctx: &Context,
        mid: Option<&str>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, mid);
        async { Ok(()) }
    }

    /// The user tapped a postback button (Get Started, persistent menu, ice breaker, template button).
    fn on_postback(
        &self,
        ctx: &Context,
        postback: &Postback<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, postback);
        async { Ok(()) }
    }

    /// The user reacted to a message, or took a reaction back.
    fn on_reaction(
        &self,
        ctx: &Context,
        reaction: &Reaction<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, reaction);
        async { Ok(()) }
    }

    /// The user read the conversation up to a watermark (Messenger) or saw a message (Instagram).
    fn on_read(
        &self,
        ctx: &Context,
        read: &Read<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, read);
        async { Ok(()) }
    }

    /// Messages reached the user's device (Messenger).
    fn on_delivery(
        &self,
        ctx: &Context,
        delivery: &Delivery<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, delivery);
        async { Ok(()) }
    }

    /// The user came through an m.me / ig.me link, an ad or the chat plugin into an existing thread.
    fn on_referral(
        &self,
        ctx: &Context,
        referral: &ReferralEvent<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, referral);
        async { Ok(()) }
    }

    /// An opt-in: Send-to-Messenger or checkbox plugin, notification messages, one-time notification.
    fn on_optin(
        &self,
        ctx: &Context,
        optin: &Optin<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, optin);
        async { Ok(()) }
    }

    /// Thread control was passed, taken or requested (handover protocol).
    fn on_handover(
        &self,
        ctx: &Context,
        handover: Handover<'_, '_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, handover);
        async { Ok(()) }
    }

    /// A feed-style change that is not a messaging event (Instagram comments, mentions, story insights).
    fn on_change(
        &self,
        ctx: &Context,
        change: &Change<'_>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, change);
        async { Ok(()) }
    }

    /// Every other kind (`app_roles`, `policy_enforcement`, `account_linking`, feedback, calls, and
    /// `unknown` itself), with its typed payload; `None` when the event could not be read typed again
    /// (an array hookline has no typed events for). [`Context::kind`] names the kind and
    /// [`Context::raw`] has all of the event.
    fn on_unknown(
        &self,
        ctx: &Context,
        kind: Option<&EventKind<'_>>,
    ) -> impl Future<Output = HandlerResult> + Send {
        let _ = (ctx, kind);
        async { Ok(()) }
    }
}

/// The payload of [`Handler::on_handover`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Handover<'e, 'a> {
    /// `pass_thread_control`: the owner passed the thread to another app.
    Pass(&'e ThreadControl<'a>),
    /// `take_thread_control`: the primary receiver took the thread back.
    Take(&'e ThreadControl<'a>),
    /// `request_thread_control`: a secondary app asks the owner for the thread.
    Request(&'e RequestThreadControl<'a>),
}

impl Handover<'_, '_> {
    /// The kind's name (`pass_thread_control`, ...).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Handover::Pass(_) => "pass_thread_control",
            Handover::Take(_) => "take_thread_control",
            Handover::Request(_) => "request_thread_control",
        }
    }
}
