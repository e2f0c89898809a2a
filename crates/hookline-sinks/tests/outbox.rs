//! The outbox worker against wiremock receivers: the retry schedule on a clock the test moves,
//! `Retry-After`, dead letters and their retry, per-conversation order under retries, and a dead sink
//! next to a healthy one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookline_sinks::signature::SigningSecret;
use hookline_sinks::{
    Clock, HttpSink, ManualClock, RetrySchedule, SystemClock, Timeouts, Worker, WorkerOptions,
};
use hookline_store::outbox::{AttemptState, DeadSelection, SinkStart, SinkStatus};
use hookline_store::{EventQuery, EventStore};
use tokio::sync::watch;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

mod support;
use support::{
    SECRET, START_MS, attempts, eventually, message, settle, status, store, store_events,
    wait_until,
};

fn http(server: &MockServer) -> Arc<HttpSink> {
    let secret = SigningSecret::parse(SECRET).unwrap();
    let timeouts = Timeouts {
        connect: Duration::from_secs(5),
        total: Duration::from_secs(30),
    };
    Arc::new(HttpSink::new(&server.uri(), secret, timeouts).unwrap())
}

fn options(schedule: RetrySchedule, fifo: bool) -> WorkerOptions {
    WorkerOptions {
        schedule,
        fifo,
        start: SinkStart::Beginning,
        ..WorkerOptions::default()
    }
}

/// Starts a worker; dropping the returned sender stops it.
fn spawn(
    name: &str,
    sink: Arc<HttpSink>,
    options: WorkerOptions,
    store: &Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
) -> watch::Sender<bool> {
    let (stop, stopped) = watch::channel(false);
    let worker = Worker::new(name, sink, options, store.clone(), clock);
    tokio::spawn(worker.run(stopped));
    stop
}

/// Answers `status` for the first `failures` requests of each `webhook-id` in `failing`, 200 otherwise,
/// and records every request's id and answer in order.
#[derive(Clone, Default)]
struct Scripted {
    failing: HashMap<String, usize>,
    status: u16,
    retry_after: Option<&'static str>,
    seen: Arc<Mutex<Vec<(String, u16)>>>,
}

impl Scripted {
    fn log(&self) -> Vec<(String, u16)> {
        self.seen.lock().unwrap().clone()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }
}

impl Respond for Scripted {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let id = request
            .headers
            .get("webhook-id")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let mut seen = self.seen.lock().unwrap();
        let earlier = seen.iter().filter(|(seen_id, _)| *seen_id == id).count();
        let fail = self.failing.get(&id).is_some_and(|n| earlier < *n);
        let status = if fail { self.status } else { 200 };
        seen.push((id, status));
        let mut response = ResponseTemplate::new(status);
        if let (true, Some(after)) = (fail, self.retry_after) {
            response = response.insert_header("retry-after", after);
        }
        response
    }
}

async fn mock(script: &Scripted) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(script.clone())
        .mount(&server)
        .await;
    server
}

/// A receiver answering as `script` says, and a worker named `name` (default schedule) POSTing to it on a
/// clock the test moves. Dropping the receiver or the stop switch ends the sink.
async fn run_scripted(
    name: &str,
    script: &Scripted,
    fifo: bool,
    store: &Arc<dyn EventStore>,
) -> (MockServer, ManualClock, watch::Sender<bool>) {
    let server = mock(script).await;
    let clock = ManualClock::new(START_MS);
    let stop = spawn(
        name,
        http(&server),
        options(RetrySchedule::default(), fifo),
        store,
        Arc::new(clock.clone()),
    );
    (server, clock, stop)
}

async fn webhook_ids(store: &Arc<dyn EventStore>) -> Vec<String> {
    let events = store
        .list_events(EventQuery {
            limit: 100,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    events
        .iter()
        .map(|e| hookline_sinks::webhook_id(&e.dedup_key))
        .collect()
}

/// One stored message and a running `crm` sink (default schedule) whose receiver answers its first
/// `failures` attempts with `status` (and `retry_after`), on a clock the test moves. Bind `_server` and
/// `_stop` when taking it apart: dropping them stops the receiver and the worker.
struct OneEvent {
    s: support::Store,
    /// The event's webhook-id.
    id: String,
    script: Scripted,
    clock: ManualClock,
    _server: MockServer,
    _stop: watch::Sender<bool>,
}

impl OneEvent {
    async fn start(failures: usize, status: u16, retry_after: Option<&'static str>) -> OneEvent {
        let s = store();
        store_events(&s.store, &[message("7", "m.1", 1_000)]).await;
        let id = webhook_ids(&s.store).await.remove(0);
        let script = Scripted {
            failing: HashMap::from([(id.clone(), failures)]),
            status,
            retry_after,
            ..Scripted::default()
        };
        let (server, clock, stop) = run_scripted("crm", &script, false, &s.store).await;
        OneEvent {
            s,
            id,
            script,
            clock,
            _server: server,
            _stop: stop,
        }
    }
}

#[tokio::test]
async fn retries_follow_the_schedule_on_the_clock_then_the_event_is_dead_lettered() {
    let OneEvent {
        s,
        script,
        clock,
        _server,
        _stop,
        ..
    } = OneEvent::start(usize::MAX, 500, None).await;
    let schedule = RetrySchedule::default();

    eventually("the first attempt, made at once", || script.count() == 1).await;
    // Each later step is jittered by at most ±20%: nothing before 80% of it, an attempt by 120%.
    for (made, step) in schedule.steps().iter().enumerate().skip(1) {
        // The next attempt is scheduled from the clock's time when the failure is saved, which is
        // after the receiver saw the request: moving the clock before that would move the schedule too.
        wait_until(
            || attempts(&s.store, "crm", Some(AttemptState::Pending)),
            |pending| {
                pending
                    .first()
                    .is_some_and(|row| row.attempts as usize == made)
            },
        )
        .await;
        clock.advance(step.mul_f64(0.79));
        settle().await;
        assert_eq!(
            script.count(),
            made,
            "attempt {} came before 80% of {step:?}",
            made + 1
        );
        clock.advance(step.mul_f64(0.42));
        eventually(&format!("attempt {} by 120% of {step:?}", made + 1), || {
            script.count() == made + 1
        })
        .await;
    }
    assert_eq!(script.count(), 8);
    let dead = wait_until(
        || attempts(&s.store, "crm", Some(AttemptState::Dead)),
        |dead| !dead.is_empty(),
    )
    .await;
    assert_eq!(
        dead.len(),
        1,
        "the event is a dead letter after the last attempt"
    );
    assert_eq!(dead[0].attempts, 8);
    let error = dead[0].last_error.as_deref().unwrap();
    assert!(
        error.contains("500") && error.contains("last in the schedule"),
        "{error}"
    );
    // No ninth attempt, however long we wait.
    clock.advance(Duration::from_secs(7 * 24 * 3600));
    settle().await;
    assert_eq!(script.count(), 8);
}

#[tokio::test]
async fn retry_after_pushes_the_next_attempt_past_the_schedule() {
    let OneEvent {
        s,
        id,
        script,
        clock,
        _server,
        _stop,
    } = OneEvent::start(1, 503, Some("120")).await;
    eventually("the first attempt", || script.count() == 1).await;
    // Saved before the clock moves, so the retry is scheduled from the time of the attempt.
    wait_until(|| status(&s.store, "crm"), |st| st.pending == 1).await;
    // The schedule's 5 s step (at most 6 s with jitter) has passed, but the receiver asked for 120 s.
    clock.advance(Duration::from_secs(60));
    settle().await;
    assert_eq!(script.count(), 1, "retried before Retry-After");
    let pending = attempts(&s.store, "crm", None).await;
    assert!(pending[0].next_attempt_at_ms.unwrap() >= START_MS + 120_000);
    clock.advance(Duration::from_secs(61));
    eventually("the retry after 120 s", || script.count() == 2).await;
    assert_eq!(script.log()[1], (id, 200));
    let after = wait_until(|| status(&s.store, "crm"), |st| st.pending == 0).await;
    assert_eq!(after.pending, 0, "the row is removed once delivered");
}

#[tokio::test]
async fn a_client_error_is_dead_at_once_and_dlq_retry_delivers_it() {
    let OneEvent {
        s,
        id,
        script,
        clock,
        _server,
        _stop,
    } = OneEvent::start(1, 422, None).await;
    eventually("the first attempt", || script.count() == 1).await;
    let dead = wait_until(
        || async { status(&s.store, "crm").await.dead },
        |dead| *dead == 1,
    )
    .await;
    assert_eq!(dead, 1, "a 422 is a dead letter without retries");
    clock.advance(Duration::from_secs(3600));
    settle().await;
    assert_eq!(script.count(), 1);

    let retried = s
        .store
        .retry_dead(DeadSelection {
            sink: Some("crm".into()),
            ids: Vec::new(),
        })
        .await
        .unwrap();
    assert_eq!(retried, 1);
    // The idle worker looks for rows it was not told about once a second (of its clock).
    clock.advance(Duration::from_secs(1));
    eventually("the retried dead letter is delivered", || {
        script.count() == 2
    })
    .await;
    assert_eq!(script.log()[1], (id, 200));
    let after = wait_until(
        || status(&s.store, "crm"),
        |st| (st.pending, st.dead) == (0, 0),
    )
    .await;
    assert_eq!((after.pending, after.dead), (0, 0));
}

#[tokio::test]
async fn a_conversation_s_events_arrive_in_order_under_retries_without_blocking_others() {
    let s = store();
    // Conversation with user 7: stored out of order (m.2 before m.1); user 8's conversation alongside.
    store_events(
        &s.store,
        &[
            message("7", "m.2", 2_000),
            message("8", "n.1", 1_500),
            message("7", "m.1", 1_000),
        ],
    )
    .await;
    store_events(&s.store, &[message("7", "m.3", 3_000)]).await;
    let events = s
        .store
        .list_events(EventQuery {
            limit: 10,
            ..EventQuery::default()
        })
        .await
        .unwrap();
    let id_of = |mid: &str| {
        let event = events
            .iter()
            .find(|e| e.mid.as_deref() == Some(mid))
            .unwrap();
        hookline_sinks::webhook_id(&event.dedup_key)
    };
    let (m1, m2, m3, n1) = (id_of("m.1"), id_of("m.2"), id_of("m.3"), id_of("n.1"));
    let script = Scripted {
        failing: HashMap::from([(m1.clone(), 2)]),
        status: 500,
        ..Scripted::default()
    };
    let (_server, clock, _stop) = run_scripted("inbox", &script, true, &s.store).await;

    eventually("m.1's first attempt and n.1", || script.count() == 2).await;
    settle().await;
    let log = script.log();
    assert_eq!(log.len(), 2, "m.2 and m.3 must wait behind m.1: {log:?}");
    assert!(log.contains(&(m1.clone(), 500)) && log.contains(&(n1.clone(), 200)));

    // Each failure is saved (and its retry scheduled from the clock) before the clock moves on.
    let failed_times = |n: u32| {
        let store = s.store.clone();
        async move {
            wait_until(
                || attempts(&store, "inbox", Some(AttemptState::Pending)),
                |rows| rows.iter().any(|row| row.attempts == n),
            )
            .await
        }
    };
    failed_times(1).await;
    clock.advance(Duration::from_secs(6));
    eventually("m.1's second attempt", || script.count() == 3).await;
    settle().await;
    assert_eq!(script.count(), 3, "still waiting behind m.1");
    failed_times(2).await;
    clock.advance(Duration::from_secs(360));
    eventually("m.1, then m.2 and m.3", || script.count() == 6).await;

    let order: Vec<(String, u16)> = script
        .log()
        .into_iter()
        .filter(|(id, _)| *id != n1)
        .collect();
    assert_eq!(
        order,
        [
            (m1.clone(), 500),
            (m1.clone(), 500),
            (m1, 200),
            (m2, 200),
            (m3, 200)
        ]
    );
}

#[tokio::test]
async fn a_dead_sink_does_not_delay_a_healthy_one() {
    let s = store();
    for batch in 0..4 {
        let events: Vec<String> = (0..5)
            .map(|i| message(&format!("{batch}{i}"), &format!("m.{batch}.{i}"), 1_000 + i))
            .collect();
        store_events(&s.store, &events).await;
    }
    // The slow sink answers after a minute (its timeout is 30 s); the healthy one at once.
    let slow = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&slow)
        .await;
    let healthy = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&healthy)
        .await;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let _slow = spawn(
        "slow",
        http(&slow),
        options(RetrySchedule::default(), false),
        &s.store,
        clock.clone(),
    );
    let _healthy = spawn(
        "healthy",
        http(&healthy),
        options(RetrySchedule::default(), false),
        &s.store,
        clock,
    );
    let caught_up = |st: &SinkStatus| st.cursor == st.head && st.head == 20;
    let healthy_status = wait_until(|| status(&s.store, "healthy"), caught_up).await;
    assert!(
        caught_up(&healthy_status),
        "the healthy sink got every event: {healthy_status:?}"
    );
    assert_eq!(healthy_status.pending, 0);
    assert_eq!(healthy.received_requests().await.unwrap().len(), 20);
    // Meanwhile the slow sink is still on its first batch: nothing saved, every attempt in flight.
    let slow_status = status(&s.store, "slow").await;
    assert_eq!(slow_status.cursor, 0);
    assert_eq!(
        slow.received_requests().await.unwrap().len(),
        16,
        "16 attempts in flight at once"
    );
}
