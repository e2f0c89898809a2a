//! The SQLite schema and its migrations, applied in order at start-up and tracked in `PRAGMA user_version`.
//!
//! Design for a fast append path and the queries later readers need:
//! - `deliveries` keeps every POST whole (raw body, the headers that matter, outcome). Its `id` grows with
//!   commit order, so "by time" and "after a cursor" are range scans of the primary key.
//! - `events` holds each distinct event once. It has no index besides the primary key: its dedup keys
//!   are found through `dedup_keys` and the writer's memory (`dedup.rs`), which spares the append path a
//!   random index page per event. Secondary indexes were measured on the
//!   acknowledgement path (`../shared/bench`, 64 connections): `(kind, id)` alone cost 13 µs of server CPU
//!   per delivery and `(kind, id)` plus `(conversation_key, timestamp_ms)` 20 µs (of 70), because each
//!   dirties pages in other places of the file in every group commit. Events are therefore read in
//!   commit order (`id`, a cursor) with filters; per-conversation views are built off this path. The raw
//!   JSON of an event is a span of its delivery's body (`raw_start`, `raw_len`) rather than a second copy.
//! - `redeliveries` links each later delivery to the stored events it repeated.
//! - No foreign-key constraints: the single writer keeps `delivery_id` consistent, and a deferred
//!   constraint would make SQLite scan `events` for children on every delivery insert (the bundled
//!   SQLite enforces foreign keys by default), which made appends slower as the store grew.

use rusqlite::Connection;

use crate::StoreError;

/// Migrations in order; the database's `user_version` is the number already applied.
pub(crate) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    received_at_ms  INTEGER NOT NULL,
    app             TEXT,
    secret_index    INTEGER,
    signature       TEXT,
    api_version     TEXT,
    user_agent      TEXT,
    outcome         TEXT NOT NULL CHECK (outcome IN ('accepted', 'quarantined')),
    error           TEXT,
    event_count     INTEGER NOT NULL,
    new_event_count INTEGER NOT NULL,
    body            BLOB NOT NULL
);

CREATE TABLE events (
    id               INTEGER PRIMARY KEY,
    dedup_key        TEXT NOT NULL,
    delivery_id      INTEGER NOT NULL,
    received_at_ms   INTEGER NOT NULL,
    object           TEXT,
    entry_id         TEXT,
    channel          TEXT NOT NULL,
    kind             TEXT NOT NULL,
    field            TEXT,
    sender           TEXT,
    user_ref         TEXT,
    recipient        TEXT,
    timestamp_ms     INTEGER,
    mid              TEXT,
    conversation_key TEXT,
    duplicates       INTEGER NOT NULL DEFAULT 0,
    raw_start        INTEGER,
    raw_len          INTEGER,
    raw              TEXT
);
CREATE UNIQUE INDEX events_dedup_key ON events (dedup_key);

CREATE TABLE redeliveries (
    event_id    INTEGER NOT NULL,
    delivery_id INTEGER NOT NULL,
    PRIMARY KEY (event_id, delivery_id)
) WITHOUT ROWID;

-- One row, rewritten by a readiness probe after a failed commit to prove the store takes writes again.
CREATE TABLE heartbeat (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    at_ms INTEGER NOT NULL
);
"#,
    r#"
-- The conversation projection (crate::conversation), kept up to date off the acknowledgement path.
-- Where the projection has got to in the event log.
CREATE TABLE projection_state (
    id            INTEGER PRIMARY KEY CHECK (id = 1),
    last_event_id INTEGER NOT NULL
);
INSERT INTO projection_state (id, last_event_id) VALUES (1, 0);

-- Each conversation's summary (conversation::summary::Summary as JSON), with the columns lists filter on.
CREATE TABLE conversations (
    key           TEXT PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    object        TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    last_event_ms INTEGER NOT NULL,
    owner_app_id  TEXT,
    state         TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX conversations_recent ON conversations (last_event_ms, id);

-- The events of each conversation: its timeline, and the counts of messages in and out.
CREATE TABLE conversation_events (
    conversation_key TEXT NOT NULL,
    event_id         INTEGER NOT NULL,
    timestamp_ms     INTEGER,
    kind             TEXT NOT NULL,
    PRIMARY KEY (conversation_key, event_id)
) WITHOUT ROWID;

-- Each Page or Instagram account's summary (conversation::summary::AccountSummary as JSON).
CREATE TABLE accounts (
    object     TEXT NOT NULL,
    account_id TEXT NOT NULL,
    state      TEXT NOT NULL,
    PRIMARY KEY (object, account_id)
) WITHOUT ROWID;
"#,
    r#"
-- The outbox (crate::outbox): each sink's cursor over the event log, and the events it still owes.
CREATE TABLE sink_cursors (
    sink          TEXT PRIMARY KEY,
    last_event_id INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
) WITHOUT ROWID;

-- Events a sink did not take on the first try: pending retries and dead letters. Small by design (only
-- failures and held-back events live here), so its indexes cost the append path nothing.
CREATE TABLE sink_attempts (
    id                 INTEGER PRIMARY KEY,
    sink               TEXT NOT NULL,
    event_id           INTEGER NOT NULL,
    conversation_key   TEXT,
    timestamp_ms       INTEGER,
    attempts           INTEGER NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('pending', 'dead')),
    next_attempt_at_ms INTEGER,
    last_error         TEXT,
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    UNIQUE (sink, event_id)
);
CREATE INDEX sink_attempts_due ON sink_attempts (sink, state, next_attempt_at_ms);
CREATE INDEX sink_attempts_conversation ON sink_attempts (sink, conversation_key, state, timestamp_ms, event_id);
"#,
    r#"
-- Several instances on one database (crate::outbox): the instance holding a sink's lease, and the one
-- that claimed a due row, each until a time after which another may take over.
ALTER TABLE sink_cursors ADD COLUMN lease_owner TEXT;
ALTER TABLE sink_cursors ADD COLUMN lease_until_ms INTEGER;
ALTER TABLE sink_attempts ADD COLUMN claimed_by TEXT;
ALTER TABLE sink_attempts ADD COLUMN claimed_until_ms INTEGER;
"#,
    r#"
-- Messages hookline sends through Meta's Send API (crate::send): recorded before the call, then marked
-- with its outcome. The recipient is one of a scoped id and a user_ref.
CREATE TABLE sends (
    id                 TEXT PRIMARY KEY,
    conversation_key   TEXT NOT NULL,
    object             TEXT NOT NULL,
    account_id         TEXT NOT NULL,
    recipient_id       TEXT,
    recipient_user_ref TEXT,
    request            TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
    message_id         TEXT,
    error              TEXT,
    created_at_ms      INTEGER NOT NULL,
    updated_at_ms      INTEGER NOT NULL,
    CHECK ((recipient_id IS NULL) <> (recipient_user_ref IS NULL))
) WITHOUT ROWID;
CREATE INDEX sends_conversation ON sends (conversation_key, created_at_ms, id);
-- A message is the answer to one send.
CREATE UNIQUE INDEX sends_message_id ON sends (message_id);

-- An echo's mid and metadata, so that lists match sends to their echoes in SQL (conversation::sends).
-- Echoes projected before this migration have neither: they came before any send, so none is theirs.
ALTER TABLE conversation_events ADD COLUMN mid TEXT;
ALTER TABLE conversation_events ADD COLUMN metadata TEXT;
"#,
    r#"
-- Dedup keys move out of a unique index on `events` (sqlite::dedup): the keys of events up to
-- `merged_through` are here; the writer keeps the later ones in memory and merges them in key order.
CREATE TABLE dedup_keys (
    key      TEXT PRIMARY KEY,
    event_id INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO dedup_keys (key, event_id) SELECT dedup_key, id FROM events ORDER BY dedup_key;
DROP INDEX events_dedup_key;
CREATE TABLE dedup_state (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    merged_through INTEGER NOT NULL
);
INSERT INTO dedup_state (id, merged_through) SELECT 1, coalesce(max(id), 0) FROM events;
"#,
];

/// Why a database cannot be used with this code's schema.
#[derive(Debug)]
pub(crate) enum SchemaError {
    Db(rusqlite::Error),
    /// The database is ahead of this code (`found > expected`), or behind it with migrations off.
    Mismatch {
        found: u32,
        expected: u32,
    },
}

impl From<rusqlite::Error> for SchemaError {
    fn from(err: rusqlite::Error) -> Self {
        SchemaError::Db(err)
    }
}

impl SchemaError {
    /// The store's refusal to open the database at `location`.
    pub(crate) fn at(self, location: String) -> StoreError {
        match self {
            SchemaError::Db(err) => StoreError::Open {
                location,
                message: err.to_string(),
            },
            SchemaError::Mismatch { found, expected } => StoreError::Schema {
                location,
                found,
                expected,
            },
        }
    }
}

/// Applies the migrations the database does not have yet, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), SchemaError> {
    let applied = applied(conn)?;
    refuse_newer(applied)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
        tx.commit()?;
    }
    Ok(())
}

/// Checks, without changing anything, that the database has exactly the schema this code writes (for a
/// store opened with migrations off).
pub(crate) fn check(conn: &Connection) -> Result<(), SchemaError> {
    let applied = applied(conn)?;
    refuse_newer(applied)?;
    if applied < MIGRATIONS.len() {
        return Err(mismatch(applied));
    }
    Ok(())
}

/// The number of migrations the database has.
pub(crate) fn applied(conn: &Connection) -> rusqlite::Result<usize> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    Ok(usize::try_from(applied).unwrap_or(usize::MAX))
}

fn refuse_newer(applied: usize) -> Result<(), SchemaError> {
    if applied > MIGRATIONS.len() {
        return Err(mismatch(applied));
    }
    Ok(())
}

fn mismatch(applied: usize) -> SchemaError {
    SchemaError::Mismatch {
        found: u32::try_from(applied).unwrap_or(u32::MAX),
        expected: u32::try_from(MIGRATIONS.len()).unwrap_or(u32::MAX),
    }
}

/// The schema version this code writes.
pub(crate) fn current_version() -> usize {
    MIGRATIONS.len()
}
