//! WAL checkpoints on a thread of their own.
//!
//! The connection that commits copies the WAL back into the database file every 1000 pages (SQLite's
//! automatic checkpoint), fsyncing the database file while the deliveries of that commit wait for their
//! acknowledgement. This thread runs passive checkpoints on its own connection every few milliseconds,
//! alongside the writer's commits, so that when the writer's automatic checkpoint comes, nearly every
//! frame is already copied and synced and it has little left to do. The writer's checkpoint is still
//! needed: only a checkpoint that sees no concurrent appends can finish the whole WAL, which lets the
//! next transaction start the WAL over from the beginning and keeps it small.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use rusqlite::Connection;

/// How often to look for WAL frames to copy back while deliveries arrive.
const BUSY_INTERVAL: Duration = Duration::from_millis(20);
/// How often to look when the last checkpoint found nothing to do.
const IDLE_INTERVAL: Duration = Duration::from_millis(250);

pub(crate) struct Checkpointer {
    pub path: PathBuf,
    pub busy_timeout: Duration,
}

impl Checkpointer {
    /// Runs until `stop` is dropped.
    pub(crate) fn run(self, stop: Receiver<()>) {
        let conn = match self.open() {
            Ok(conn) => conn,
            Err(err) => {
                tracing::error!(error = %err, "cannot open the checkpoint connection; the WAL will grow until restart");
                return;
            }
        };
        let mut interval = IDLE_INTERVAL;
        loop {
            match stop.recv_timeout(interval) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
            interval = match passive_checkpoint(&conn) {
                Ok(0) => IDLE_INTERVAL,
                Ok(_) => BUSY_INTERVAL,
                Err(err) => {
                    tracing::warn!(error = %err, "WAL checkpoint failed; retrying");
                    IDLE_INTERVAL
                }
            };
        }
    }

    fn open(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open(&self.path)?;
        conn.busy_timeout(self.busy_timeout)?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(conn)
    }
}

/// Copies committed WAL frames into the database file; returns how many frames the WAL held.
fn passive_checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}
