//! Which processes have the database file open, so that a restarted instance need not wait out the
//! leases of the one that died (see [`crate::outbox`]).
//!
//! SQLite is one instance on one machine: a lease found in the file belongs to this process or to
//! another process with the file open, or else to one that is gone. Every store holds a shared lock on a
//! file beside the database (`<database>-hookline.lock`) for as long as it is open; the kernel drops it
//! when a process dies. A store that can take the lock exclusively at open is alone, so every lease and
//! claim in the file is a dead process's, and it clears them: after a crash the sinks resume at once,
//! not a lease later. A store that cannot create or lock the file clears nothing (leases then run out).

use std::fs::{File, OpenOptions};
use std::path::Path;

use rusqlite::Connection;

/// This store's share of the lock, held until it is dropped.
#[derive(Debug)]
pub(crate) struct Presence {
    _file: Option<File>,
}

impl Presence {
    /// Takes a share of the lock, and clears the leases and claims in the database (through `conn`, the
    /// writer's connection) when no other store has it open.
    pub(crate) fn enter(database: &Path, conn: &Connection) -> Presence {
        let (presence, alone) = Presence::lock(database);
        if alone {
            match forget_leases(conn) {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    cleared = n,
                    "cleared the sink leases and claims of a process that is gone"
                ),
                Err(err) => tracing::warn!(
                    error = %err,
                    "cannot clear the sink leases of a process that is gone; they run out instead"
                ),
            }
        }
        presence
    }

    /// Takes a share of the lock; true as well when no other store has the database open.
    fn lock(database: &Path) -> (Presence, bool) {
        let mut name = database.as_os_str().to_owned();
        name.push("-hookline.lock");
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&name);
        let Ok(file) = file else {
            return (Presence { _file: None }, false);
        };
        // The exclusive lock is held only for this check; converting it to a shared one may let
        // another store opening now see itself alone too, which is harmless: this one holds no lease yet.
        let alone = file.try_lock().is_ok();
        if file.lock_shared().is_err() {
            return (Presence { _file: None }, false);
        }
        (Presence { _file: Some(file) }, alone)
    }
}

/// Clears every lease and claim (their processes are gone); how many.
fn forget_leases(conn: &Connection) -> rusqlite::Result<usize> {
    let leases = conn.execute(
        "UPDATE sink_cursors SET lease_owner = NULL, lease_until_ms = NULL
         WHERE lease_owner IS NOT NULL",
        [],
    )?;
    let claims = conn.execute(
        "UPDATE sink_attempts SET claimed_by = NULL, claimed_until_ms = NULL
         WHERE claimed_by IS NOT NULL",
        [],
    )?;
    Ok(leases + claims)
}
