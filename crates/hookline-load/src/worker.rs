//! A load thread: its own single-threaded tokio runtime driving its share of the connections, like a
//! wrk thread. Connections on a thread share its [`Stats`] without locks; threads share only the
//! [`Plan`]'s counter and the progress counters.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::task::LocalSet;

use crate::body::BodySource;
use crate::connection::{Connection, Failure};
use crate::cpu;
use crate::error::LoadError;
use crate::request::RequestWriter;
use crate::schedule::{Job, Plan, Schedule};
use crate::stats::{Outcome, Progress, Stats};
use crate::timer::{Pacer, Watchdog};

/// After a failed connect, a connection waits this long before its next request, so that a receiver
/// that went away mid-run does not turn the generator into a busy loop of refused connects.
const CONNECT_BACKOFF: Duration = Duration::from_millis(10);

/// What every thread and connection of a run reads.
pub struct Shared {
    pub url: String,
    pub addrs: Vec<SocketAddr>,
    pub plan: Plan,
    pub writer: RequestWriter,
    pub bodies: Arc<dyn BodySource>,
    pub timeout: Duration,
    pub progress: Progress,
    /// Some request of the run has had a response: from then on, connect failures are counted, not fatal.
    answered: AtomicBool,
    fatal: Mutex<Option<LoadError>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("url", &self.url)
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub fn new(
        url: String,
        addrs: Vec<SocketAddr>,
        plan: Plan,
        writer: RequestWriter,
        bodies: Arc<dyn BodySource>,
        timeout: Duration,
        threads: usize,
    ) -> Shared {
        Shared {
            url,
            addrs,
            plan,
            writer,
            bodies,
            timeout,
            progress: Progress::new(threads),
            answered: AtomicBool::new(false),
            fatal: Mutex::new(None),
        }
    }

    /// The error that stopped the run, if one did.
    pub fn take_fatal(&self) -> Option<LoadError> {
        self.fatal.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// A connect failure before anything answered stops the run with an error naming the URL.
    fn connect_failed(&self, failure: Failure) {
        let Failure::Connect(source) = failure else {
            return;
        };
        if self.answered.load(Ordering::Relaxed) {
            return;
        }
        let mut fatal = self.fatal.lock().unwrap_or_else(|e| e.into_inner());
        fatal.get_or_insert(LoadError::Connect {
            url: self.url.clone(),
            addr: self.addrs[0],
            source,
        });
        self.plan.stop();
    }

    fn note_answer(&self) {
        if !self.answered.load(Ordering::Relaxed) {
            self.answered.store(true, Ordering::Relaxed);
        }
    }
}

/// What a load thread tells the thread that waits for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Its connections are open (or failed): it now waits at the [`Gate`].
    Ready,
    /// It has finished.
    Done,
}

/// Holds the load threads until every connection of every thread is open, so that the run's clock
/// starts with all of them in place.
#[derive(Debug, Default)]
pub struct Gate {
    open: Mutex<bool>,
    opened: Condvar,
}

impl Gate {
    pub fn open(&self) {
        *self.open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        self.opened.notify_all();
    }

    fn wait(&self) {
        let open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let _open = self
            .opened
            .wait_while(open, |open| !*open)
            .unwrap_or_else(|e| e.into_inner());
    }
}

/// Runs thread `index` with `connections` connections; returns its stats and when it finished.
/// Signals [`Signal::Ready`] once its connections are open, then waits for the gate.
pub fn run_thread(
    shared: Arc<Shared>,
    index: usize,
    connections: usize,
    gate: Arc<Gate>,
    signals: Sender<Signal>,
) -> Result<(Stats, Instant), LoadError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(e) => {
            shared.plan.stop();
            let _ = signals.send(Signal::Ready);
            return Err(LoadError::Start(e));
        }
    };
    let stats = Rc::new(RefCell::new(Stats::new()));
    LocalSet::new().block_on(&runtime, async {
        let opened = open_connections(&shared, connections).await;
        let _ = signals.send(Signal::Ready);
        gate.wait(); // blocks this thread's loop, which has nothing else to do yet
        let cpu_at_start = cpu::thread_cpu_ns();
        let mut driving = Vec::with_capacity(opened.len());
        for connection in opened {
            let (shared, stats) = (shared.clone(), stats.clone());
            driving.push(tokio::task::spawn_local(drive(
                shared, index, connection, stats,
            )));
        }
        for task in driving {
            let _ = task.await;
        }
        let cpu = cpu_at_start
            .zip(cpu::thread_cpu_ns())
            .map(|(a, b)| b.saturating_sub(a));
        stats.borrow_mut().cpu_ns = cpu;
    });
    let finished = Instant::now();
    let stats = Rc::try_unwrap(stats).map_err(|_| LoadError::Panicked)?;
    Ok((stats.into_inner(), finished))
}

/// Opens `n` connections at once; a failure before anything answered is fatal to the run.
async fn open_connections(shared: &Arc<Shared>, n: usize) -> Vec<Connection> {
    let mut opening = Vec::with_capacity(n);
    for _ in 0..n {
        let shared = shared.clone();
        opening.push(tokio::task::spawn_local(async move {
            let mut connection = Connection::new(shared.addrs[0]);
            let connected = tokio::time::timeout(shared.timeout, connection.connect(&shared.addrs))
                .await
                .unwrap_or_else(|_| Err(Failure::Connect(std::io::ErrorKind::TimedOut.into())));
            match connected {
                Ok(()) => Some(connection),
                Err(failure) => {
                    shared.connect_failed(failure);
                    None
                }
            }
        }));
    }
    let mut opened = Vec::with_capacity(n);
    for task in opening {
        opened.extend(task.await.ok().flatten());
    }
    opened
}

/// One connection's loop: take a request, wait until it is due, send it, count the outcome.
async fn drive(
    shared: Arc<Shared>,
    thread: usize,
    mut connection: Connection,
    stats: Rc<RefCell<Stats>>,
) {
    let mut body = Vec::with_capacity(4096);
    let mut request = Vec::with_capacity(4096);
    let clock = Clock::new(shared.plan.start());
    let (mut watchdog, mut pacer) = (Watchdog::new(shared.timeout), Pacer::new());
    let mut now = Instant::now();
    while let Some(Job { seq, due }) = shared.plan.next(now) {
        body.clear();
        let events = shared.bodies.render(seq, clock.unix_ms(now), &mut body);
        shared.writer.write(&body, &mut request);
        if let Some(due) = due {
            pacer.until(Schedule::wake_at(due)).await;
        }
        let sent = Instant::now();
        let opened_before = connection.opened;
        let outcome = attempt(&shared, &mut connection, &request, &mut watchdog, sent).await;
        now = Instant::now();
        let origin = due.map_or(sent, |due| Schedule::latency_origin(due, sent));
        {
            let mut stats = stats.borrow_mut();
            stats.record(outcome, now - origin, events);
            stats.reconnects += connection.opened - opened_before;
            stats.last_sent = stats.last_sent.max(Some(sent));
        }
        shared.progress.add(thread, 1);
        if outcome == Outcome::Connect {
            tokio::time::sleep(CONNECT_BACKOFF).await;
            now = Instant::now();
        }
    }
}

/// Sends one request within the timeout and says how it ended.
async fn attempt(
    shared: &Shared,
    connection: &mut Connection,
    request: &[u8],
    watchdog: &mut Watchdog,
    sent: Instant,
) -> Outcome {
    let exchange = connection.exchange(&shared.addrs, request);
    match watchdog.guard(sent, exchange).await {
        Some(Ok(response)) => {
            shared.note_answer();
            Outcome::Status(response.status)
        }
        Some(Err(failure)) => {
            let outcome = failure.outcome();
            shared.connect_failed(failure);
            outcome
        }
        None => {
            connection.close(); // the response may still come: never read it as the next one's
            Outcome::Timeout
        }
    }
}

/// Wall-clock milliseconds for bodies, read once and advanced by the monotonic clock the loop reads
/// anyway (one clock read per request fewer).
#[derive(Clone, Copy, Debug)]
struct Clock {
    start: Instant,
    start_unix_ms: u64,
}

impl Clock {
    fn new(start: Instant) -> Clock {
        let since_start = Instant::now().saturating_duration_since(start);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .saturating_sub(since_start);
        Clock {
            start,
            start_unix_ms: u64::try_from(unix.as_millis()).unwrap_or(u64::MAX),
        }
    }

    fn unix_ms(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_millis();
        self.start_unix_ms
            .saturating_add(u64::try_from(elapsed).unwrap_or(u64::MAX))
    }
}
