//! The durable outbox: what each sink has been given and what it still owes.
//!
//! Every sink has a **cursor** over the event log: the id of the last event it has dealt with. An event
//! is dealt with once it was delivered, or once its failure was recorded as an **attempt** row: a pending
//! retry with its `next_attempt_at_ms`, or a dead letter. The cursor and the rows an attempt produced are
//! written in one transaction ([`OutboxWrite`]), so after a crash a sink starts again from the last
//! saved cursor: an event can reach a sink twice (at-least-once, with the same idempotency key), never
//! zero times.
//!
//! Several instances may run the same sink on one database. Two kinds of claim, each with a lease that
//! runs out when an instance dies, keep them from delivering the same attempt twice:
//! - the **sink's lease** ([`SinkClaim`]): only its owner reads fresh events after the cursor and moves
//!   the cursor ([`OutboxWrite::owner`]; a save by an instance that lost the lease fails with
//!   [`crate::StoreError::LeaseLost`] and writes nothing);
//! - **row claims** ([`RowClaim`]): a due attempt row is handed to one instance at a time, and only that
//!   instance's [`AttemptChange`]s apply to it.
//!
//! Leases are compared with the callers' clocks (`now_ms`), so instances sharing a database need clocks
//! that agree to well within a lease.
//!
//! The store keeps the state; when and how to deliver is `hookline-sinks`' business.

/// Where a sink's cursor starts the first time it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SinkStart {
    /// Only events stored from now on (the default: a new consumer is not flooded with history;
    /// `hookline replay --to-sink` backfills on purpose).
    #[default]
    End,
    /// Every stored event.
    Beginning,
}

/// The state of an attempt row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AttemptState {
    /// Due again at `next_attempt_at_ms`.
    Pending,
    /// The schedule is used up or the sink refused the event: a dead letter, kept until retried or dropped.
    Dead,
}

impl AttemptState {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptState::Pending => "pending",
            AttemptState::Dead => "dead",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(AttemptState::Pending),
            "dead" => Some(AttemptState::Dead),
            _ => None,
        }
    }
}

/// An event that was not delivered on its first try (or that waits behind an earlier event of its
/// conversation).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAttempt {
    pub event_id: i64,
    /// Copied from the event, for per-conversation order.
    pub conversation_key: Option<String>,
    pub timestamp_ms: Option<i64>,
    /// Attempts made so far (0 when it has not been tried yet).
    pub attempts: u32,
    pub state: AttemptState,
    /// When it is due; `None` for a dead letter.
    pub next_attempt_at_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// What came of retrying a stored attempt row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptChange {
    /// Delivered: the row is removed.
    Delivered { id: i64 },
    /// Failed again and is due at `next_attempt_at_ms`.
    Retry {
        id: i64,
        attempts: u32,
        next_attempt_at_ms: i64,
        error: String,
    },
    /// Failed for good: now a dead letter.
    Dead {
        id: i64,
        attempts: u32,
        error: String,
    },
}

/// One sink's progress, written in one transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxWrite {
    pub sink: String,
    /// The new cursor, when fresh events were dealt with.
    pub cursor: Option<i64>,
    /// Rows to add. An event that already has a row for this sink has it replaced (a replay re-queues a
    /// dead letter or a pending row).
    pub new: Vec<NewAttempt>,
    pub changes: Vec<AttemptChange>,
    pub now_ms: i64,
    /// The instance saving, when it runs the sink under a lease ([`SinkClaim`]): the cursor is then
    /// written only while `owner` holds the sink's lease (else nothing is written and the save fails with
    /// [`crate::StoreError::LeaseLost`]), and each change applies only to a row claimed by `owner` or by
    /// nobody (another instance has the others). `None` (the CLI, tests): written as given.
    pub owner: Option<String>,
}

/// A request for a sink's lease: taken or renewed until `until_ms` when the sink's lease is free, has run
/// out (`lease_until_ms <= now_ms`) or is already `owner`'s.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkClaim {
    pub sink: String,
    pub owner: String,
    pub now_ms: i64,
    pub until_ms: i64,
}

/// Due rows to claim for `owner` until `until_ms` (see [`DueQuery::claim`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowClaim {
    pub owner: String,
    pub now_ms: i64,
    pub until_ms: i64,
}

/// A stored attempt row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    pub id: i64,
    pub sink: String,
    pub event_id: i64,
    pub conversation_key: Option<String>,
    pub timestamp_ms: Option<i64>,
    pub attempts: u32,
    pub state: AttemptState,
    pub next_attempt_at_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_at_ms: i64,
    pub updated_at_ms: i64,
}

/// The pending rows of a sink that may be attempted, earliest due first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DueQuery {
    pub sink: String,
    /// Only the first pending row of each conversation (by event time, then id): a conversation's
    /// events reach the sink one at a time, in order.
    pub fifo: bool,
    pub limit: usize,
    /// Claim what is handed out. The rows due at `now_ms` (`next_attempt_at_ms <= now_ms`) that no other
    /// owner has a live claim on are claimed for `claim.owner` in the same transaction and come first;
    /// then, up to `limit`, rows not due yet, unclaimed (for the caller to know when to look again). A
    /// row under another owner's live claim is never returned. `None`: every pending row, unclaimed.
    pub claim: Option<RowClaim>,
}

/// Which attempt rows to list (dead letters for `hookline dlq list`), by id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttemptQuery {
    pub sink: Option<String>,
    pub state: Option<AttemptState>,
    pub after_id: Option<i64>,
    pub limit: usize,
}

/// Which dead letters a `dlq retry` or `dlq drop` acts on: those of `sink` (every sink when `None`),
/// only the listed ids when any are given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeadSelection {
    pub sink: Option<String>,
    pub ids: Vec<i64>,
}

/// A sink's position and backlog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SinkStatus {
    pub sink: String,
    /// The last event the sink has dealt with.
    pub cursor: i64,
    /// The last stored event.
    pub head: i64,
    /// Events waiting for another attempt.
    pub pending: u64,
    pub dead: u64,
    /// When the earliest pending attempt is due.
    pub next_attempt_at_ms: Option<i64>,
    pub updated_at_ms: i64,
    /// The instance holding the sink's lease (or that held it last, when `lease_until_ms` has passed).
    pub owner: Option<String>,
    pub lease_until_ms: Option<i64>,
}

impl SinkStatus {
    /// Stored events the sink has not looked at yet.
    pub fn lag(&self) -> i64 {
        (self.head - self.cursor).max(0)
    }
}
