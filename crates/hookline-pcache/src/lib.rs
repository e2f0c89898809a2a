//! SQLite's default page cache behind a wrapper that keeps B-tree page swaps from making every commit scan
//! the whole cache. See the README for the why; [`install`] once, before SQLite is first used.
//!
//! `balance_nonroot` swaps two pages of a B-tree through a temporary page number, the page of the locking
//! byte (`PENDING_BYTE / page_size + 1`, page 262,145 with 4 KiB pages). `pcache1` keeps the largest key it
//! has held until the next truncation, and every write transaction ends by truncating the cache to the
//! database's size; with the largest key that far past the end it scans every hash slot instead of the
//! few past the end. The wrapper gives the temporary number key 0 inside `pcache1` (no page is numbered
//! 0), so the largest key stays within the database and the truncation is a no-op.

mod cache;

pub use cache::install;

/// What [`install`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Installed {
    /// The wrapper is SQLite's page cache from now on.
    Now,
    /// SQLite was already initialized when `install` first ran (a connection was opened before it), so
    /// its configuration is fixed and the default cache stays: correct, only slower on commit.
    TooLate,
}
