//! The store under faults, with `hookline serve` run as the real binary: `kill -9` at random moments under
//! load (SQLite and PostgreSQL), a disk that fills up, a SQLite write lock held by another process, and a
//! PostgreSQL server that goes silent or refuses connections. In every case a 200 means stored (all of the
//! delivery's events, once), and everything else is a 503 with `Retry-After`, given within the server's
//! request deadline, while its memory stays bounded.
//!
//! Each test prints one line of figures (`kill9[sqlite]: ...`). docs/faults.md explains how to run the
//! long form and records the figures of one.
//!
//! - `deliveries`: signed deliveries with unique mids, posting them, and the ledger of every answer.
//! - `contents`: what a store holds (read with rusqlite or `psql`, not through hookline) and the checks
//!   against the ledger.
//! - `rng`: the seeded generator that picks the kill moments, printed so a failure can be replayed.
//! - `kill9`, `disk_full`, `unavailable`: the tests.
#![cfg(unix)]

mod support;

#[path = "store_faults/contents.rs"]
mod contents;
#[path = "store_faults/deliveries.rs"]
mod deliveries;
#[path = "store_faults/disk_full.rs"]
mod disk_full;
#[path = "store_faults/kill9.rs"]
mod kill9;
#[path = "../../hookline-store/tests/support/proxy.rs"]
mod proxy;
#[path = "store_faults/rng.rs"]
mod rng;
#[path = "store_faults/unavailable.rs"]
mod unavailable;

use support::{Sandbox, Server};

/// `hookline serve` on `database`, with the deliveries' secret and otherwise the defaults.
async fn serve(sandbox: &Sandbox, database: &str) -> Server {
    Server::start(
        sandbox,
        &["--app-secret", deliveries::SECRET, "--database", database],
    )
    .await
}
