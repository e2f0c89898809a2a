//! The handler API: every kind reaches its method (echoes never reach `on_message`, standby is marked),
//! and what a handler returns is judged like any sink's answer by the outbox worker: retried on the
//! schedule, dead-lettered when rejected, and a panic costs one event, not the worker.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookline_meta::EventKind;
use hookline_meta::change::Change;
use hookline_meta::message::{Echo, Message, MessageEdit};
use hookline_meta::postback::{Optin, Postback};
use hookline_meta::reaction::Reaction;
use hookline_meta::receipt::{Delivery, Read};
use hookline_meta::referral::ReferralEvent;
use hookline_sinks::handler::{
    Context, Handler, HandlerError, HandlerResult, HandlerSink, Handover,
};
use hookline_sinks::{ManualClock, Outcome, RetrySchedule, Sink, Worker, WorkerOptions};
use hookline_store::EventStore;
use hookline_store::outbox::{Attempt, AttemptState, SinkStart};
use tokio::sync::watch;

mod support;
use support::{
    START_MS, eventually, fixture, settle, status, store, store_body, stored_events, wait_until,
};

/// One handler call: the method, the event's kind, whether it was marked standby, and a detail of the
/// typed payload (to show the handler got the right one).
#[derive(Clone, Debug, PartialEq)]
struct Call {
    method: &'static str,
    kind: String,
    standby: bool,
    detail: String,
}

/// What the recorder answers for the events whose mid (or kind) is named.
#[derive(Clone, Copy, Debug)]
enum Answer {
    RetryOnce,
    Reject,
    Panic,
}

#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<Call>>,
    script: Vec<(String, Answer)>,
}

impl Recorder {
    fn scripted(script: &[(&str, Answer)]) -> Self {
        Recorder {
            calls: Mutex::default(),
            script: script.iter().map(|(m, a)| ((*m).to_owned(), *a)).collect(),
        }
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn record(
        &self,
        method: &'static str,
        ctx: &Context,
        detail: impl Into<String>,
    ) -> HandlerResult {
        let mut calls = self.calls.lock().unwrap();
        let key = ctx.mid().unwrap_or(ctx.kind()).to_owned();
        let earlier = calls
            .iter()
            .filter(|c| c.detail == key || c.kind == key)
            .count();
        calls.push(Call {
            method,
            kind: ctx.kind().to_owned(),
            standby: ctx.standby(),
            detail: detail.into(),
        });
        drop(calls);
        match self.script.iter().find(|(m, _)| *m == key).map(|(_, a)| *a) {
            Some(Answer::RetryOnce) if earlier == 0 => Err(HandlerError::retry("the CRM is down")),
            Some(Answer::Reject) => Err(HandlerError::reject("not for this bot")),
            Some(Answer::Panic) => panic!("the handler fell over"),
            _ => Ok(()),
        }
    }
}

impl Handler for Recorder {
    async fn on_message(&self, ctx: &Context, message: &Message<'_>) -> HandlerResult {
        let detail = message.mid.as_deref().unwrap_or_default().to_owned();
        self.record("on_message", ctx, detail)
    }
    async fn on_echo(&self, ctx: &Context, echo: &Echo<'_>) -> HandlerResult {
        let detail = echo.message.mid.as_deref().unwrap_or_default().to_owned();
        self.record("on_echo", ctx, detail)
    }
    async fn on_message_edit(&self, ctx: &Context, edit: &MessageEdit<'_>) -> HandlerResult {
        self.record("on_message_edit", ctx, format!("{:?}", edit.text))
    }
    async fn on_message_deleted(&self, ctx: &Context, mid: Option<&str>) -> HandlerResult {
        self.record("on_message_deleted", ctx, mid.unwrap_or_default())
    }
    async fn on_postback(&self, ctx: &Context, postback: &Postback<'_>) -> HandlerResult {
        let detail = postback.payload.as_deref().unwrap_or_default().to_owned();
        self.record("on_postback", ctx, detail)
    }
    async fn on_reaction(&self, ctx: &Context, reaction: &Reaction<'_>) -> HandlerResult {
        self.record("on_reaction", ctx, format!("{:?}", reaction.action))
    }
    async fn on_read(&self, ctx: &Context, _read: &Read<'_>) -> HandlerResult {
        self.record("on_read", ctx, "")
    }
    async fn on_delivery(&self, ctx: &Context, _delivery: &Delivery<'_>) -> HandlerResult {
        self.record("on_delivery", ctx, "")
    }
    async fn on_referral(&self, ctx: &Context, _referral: &ReferralEvent<'_>) -> HandlerResult {
        self.record("on_referral", ctx, "")
    }
    async fn on_optin(&self, ctx: &Context, _optin: &Optin<'_>) -> HandlerResult {
        self.record("on_optin", ctx, "")
    }
    async fn on_handover(&self, ctx: &Context, handover: Handover<'_, '_>) -> HandlerResult {
        self.record("on_handover", ctx, handover.kind_name())
    }
    async fn on_change(&self, ctx: &Context, change: &Change<'_>) -> HandlerResult {
        self.record("on_change", ctx, format!("{:?}", change.field))
    }
    async fn on_unknown(&self, ctx: &Context, kind: Option<&EventKind<'_>>) -> HandlerResult {
        self.record(
            "on_unknown",
            ctx,
            if kind.is_some() { "typed" } else { "untyped" },
        )
    }
}

#[tokio::test]
async fn each_kind_reaches_its_method_echoes_never_reach_on_message_and_standby_is_marked() {
    // (fixture, the method its one event must reach)
    let cases = [
        ("m01_message_text", "on_message"),
        ("m21_echo_text", "on_echo"),
        ("m58_message_edit", "on_message_edit"),
        ("ig12_message_deleted", "on_message_deleted"),
        ("m32_postback", "on_postback"),
        ("m56_reaction_react", "on_reaction"),
        ("m31_read", "on_read"),
        ("m30_delivery", "on_delivery"),
        ("m39_referral_shortlink", "on_referral"),
        ("m34_optin_send_to_messenger", "on_optin"),
        ("m44_handover_pass_thread_control", "on_handover"),
        ("ig33_comments", "on_change"),
        ("m51_policy_enforcement_warning", "on_unknown"),
        ("m48_standby_message", "on_message"),
    ];
    let s = store();
    for (name, _) in cases {
        store_body(&s.store, fixture(name)).await;
    }
    let events = stored_events(&s.store).await;
    assert_eq!(events.len(), cases.len(), "one event per fixture");

    let sink = HandlerSink::new(Recorder::default());
    for event in &events {
        assert_eq!(sink.deliver(event).await, Outcome::Delivered);
    }
    let calls = sink.handler().calls();
    let methods: Vec<_> = calls.iter().map(|c| c.method).collect();
    let expected: Vec<_> = cases.iter().map(|(_, method)| *method).collect();
    assert_eq!(methods, expected);

    assert!(
        calls
            .iter()
            .all(|c| c.method != "on_message" || c.kind == "message"),
        "only messages reach on_message: {calls:#?}"
    );
    let standby: Vec<_> = calls.iter().filter(|c| c.standby).collect();
    assert_eq!(standby.len(), 1, "only the standby event is marked");
    assert_eq!(standby[0].method, "on_message");
    // The typed payload is the event's own: the echo's mid, the postback's payload.
    assert_eq!(calls[1].detail, events[1].mid.clone().unwrap());
    assert_eq!(calls[4].detail, "CARE_HELP");
    assert_eq!(calls[10].detail, "pass_thread_control");
    assert_eq!(
        calls[12].detail, "typed",
        "on_unknown gets the typed payload"
    );
}

/// A Messenger text message from `user` to Page 100.
fn message(user: &str, mid: &str, timestamp: i64) -> String {
    format!(
        r#"{{"object":"page","entry":[{{"id":"100","time":1,"messaging":[{{"sender":{{"id":"{user}"}},"recipient":{{"id":"100"}},"timestamp":{timestamp},"message":{{"mid":"{mid}","text":"hi"}}}}]}}]}}"#
    )
}

fn spawn(
    sink: Arc<HandlerSink<Recorder>>,
    store: &Arc<dyn EventStore>,
    clock: &ManualClock,
) -> watch::Sender<bool> {
    let (stop, stopped) = watch::channel(false);
    let options = WorkerOptions {
        start: SinkStart::Beginning,
        ..WorkerOptions::default()
    };
    let worker = Worker::new("bot", sink, options, store.clone(), Arc::new(clock.clone()));
    tokio::spawn(worker.run(stopped));
    stop
}

/// The bot's attempt rows in `state`.
async fn attempts(store: &Arc<dyn EventStore>, state: AttemptState) -> Vec<Attempt> {
    support::attempts(store, "bot", Some(state)).await
}

#[tokio::test]
async fn a_handler_error_is_retried_on_the_sinks_schedule() {
    let s = store();
    store_body(&s.store, message("7", "m.retry", 1_000)).await;
    let sink = Arc::new(HandlerSink::new(Recorder::scripted(&[(
        "m.retry",
        Answer::RetryOnce,
    )])));
    let clock = ManualClock::new(START_MS);
    let _stop = spawn(sink.clone(), &s.store, &clock);
    let pending_rows = || attempts(&s.store, AttemptState::Pending);

    eventually("the first call", || sink.handler().calls().len() == 1).await;
    let pending = wait_until(pending_rows, |rows| rows.len() == 1).await;
    assert_eq!(pending.len(), 1, "one pending attempt: {pending:?}");
    assert_eq!(pending[0].last_error.as_deref(), Some("the CRM is down"));

    // Not called again before the schedule's second step (5 s, jittered by at most 20%) ...
    clock.advance(Duration::from_secs(3));
    settle().await;
    assert_eq!(sink.handler().calls().len(), 1);
    // ... and called again, successfully, after it.
    clock.advance(Duration::from_secs(4));
    eventually("the retry", || sink.handler().calls().len() == 2).await;
    let pending = wait_until(pending_rows, Vec::is_empty).await;
    assert!(pending.is_empty(), "no pending attempt: {pending:?}");
    let status = status(&s.store, "bot").await;
    assert_eq!((status.pending, status.dead, status.lag()), (0, 0, 0));
    assert_eq!(RetrySchedule::default().steps()[1], Duration::from_secs(5));
}

#[tokio::test]
async fn a_rejected_event_and_a_panic_are_dead_letters_and_the_worker_carries_on() {
    let s = store();
    store_body(&s.store, message("7", "m.reject", 1_000)).await;
    store_body(&s.store, message("8", "m.panic", 2_000)).await;
    store_body(&s.store, message("9", "m.fine", 3_000)).await;
    let sink = Arc::new(HandlerSink::new(Recorder::scripted(&[
        ("m.reject", Answer::Reject),
        ("m.panic", Answer::Panic),
    ])));
    let clock = ManualClock::new(START_MS);
    let _stop = spawn(sink.clone(), &s.store, &clock);

    eventually("all three events handled", || {
        sink.handler().calls().len() == 3
    })
    .await;
    let dead = wait_until(
        || attempts(&s.store, AttemptState::Dead),
        |dead| dead.len() == 2,
    )
    .await;
    let errors: Vec<_> = dead.iter().map(|a| a.last_error.clone().unwrap()).collect();
    assert_eq!(dead.len(), 2, "{errors:?}");
    assert!(
        errors.iter().any(|e| e.contains("not for this bot")),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("the handler panicked: the handler fell over")),
        "{errors:?}"
    );
    assert!(
        dead.iter().all(|a| a.attempts == 1),
        "dead at once: {dead:?}"
    );
    assert!(attempts(&s.store, AttemptState::Pending).await.is_empty());
    let status = status(&s.store, "bot").await;
    assert_eq!(status.lag(), 0, "the worker went on past the panic");
}
