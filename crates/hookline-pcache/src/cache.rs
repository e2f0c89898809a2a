//! The `sqlite3_pcache_methods2` wrapper: every method forwards to SQLite's default (`pcache1`), with the
//! temporary swap key mapped to 0 on the way in.
#![allow(unsafe_code)]

use std::ffi::{c_int, c_uint, c_void};
use std::mem::MaybeUninit;
use std::sync::OnceLock;

use rusqlite::ffi;

use crate::Installed;

/// SQLite's `PENDING_BYTE`: the byte at 1 GiB whose page is never used, and whose number
/// `balance_nonroot` borrows to swap two pages.
const PENDING_BYTE: c_uint = 0x4000_0000;

/// For the tests: swaps whose temporary key was kept out of `pcache1`, and the largest key handed to
/// `pcache1` by [`fetch`] or [`rekey`].
#[cfg(test)]
static SWAPS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
#[cfg(test)]
static LARGEST_KEY: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// SQLite's default page cache methods, read before the wrapper replaced them.
struct Default(ffi::sqlite3_pcache_methods2);

// SAFETY: the methods are plain C function pointers and `pArg` (null for `pcache1`), set once before
// SQLite is initialized and only read afterwards; SQLite itself calls them from any thread.
unsafe impl Send for Default {}
unsafe impl Sync for Default {}

static DEFAULT: OnceLock<Default> = OnceLock::new();

/// One cache: `pcache1`'s, the methods that serve it, and the key its pages are swapped through.
struct Cache {
    inner: *mut ffi::sqlite3_pcache,
    methods: &'static ffi::sqlite3_pcache_methods2,
    temp_key: c_uint,
}

impl Cache {
    /// `key` as `pcache1` should see it.
    fn map(&self, key: c_uint) -> c_uint {
        if key == self.temp_key { 0 } else { key }
    }
}

/// Makes the wrapper SQLite's page cache, once per process. Call it before the first connection is opened:
/// SQLite takes its configuration only before it is initialized.
pub fn install() -> Installed {
    static OUTCOME: OnceLock<Installed> = OnceLock::new();
    *OUTCOME.get_or_init(|| {
        // SAFETY: sqlite3_config with these two options takes a pointer to a sqlite3_pcache_methods2,
        // which it fills (GETPCACHE2) or copies (PCACHE2). Both fail with SQLITE_MISUSE, changing nothing,
        // once SQLite is initialized.
        unsafe {
            let mut default = MaybeUninit::<ffi::sqlite3_pcache_methods2>::zeroed();
            if ffi::sqlite3_config(ffi::SQLITE_CONFIG_GETPCACHE2, default.as_mut_ptr())
                != ffi::SQLITE_OK
            {
                return Installed::TooLate;
            }
            let default = default.assume_init();
            if default.xCreate.is_none() {
                return Installed::TooLate;
            }
            let _ = DEFAULT.set(Default(default));
            let methods = ffi::sqlite3_pcache_methods2 {
                iVersion: 1,
                pArg: std::ptr::null_mut(),
                xInit: Some(init),
                xShutdown: Some(shutdown),
                xCreate: Some(create),
                xCachesize: Some(cache_size),
                xPagecount: Some(page_count),
                xFetch: Some(fetch),
                xUnpin: Some(unpin),
                xRekey: Some(rekey),
                xTruncate: Some(truncate),
                xDestroy: Some(destroy),
                xShrink: Some(shrink),
            };
            if ffi::sqlite3_config(ffi::SQLITE_CONFIG_PCACHE2, &methods) != ffi::SQLITE_OK {
                return Installed::TooLate;
            }
            Installed::Now
        }
    })
}

fn default() -> &'static ffi::sqlite3_pcache_methods2 {
    // Installed before SQLite could call any method below.
    &DEFAULT
        .get()
        .expect("the default page cache is read first")
        .0
}

/// The wrapper behind a `sqlite3_pcache` pointer made by [`create`].
///
/// # Safety
/// `p` must come from [`create`] and not be destroyed yet.
unsafe fn cache<'a>(p: *mut ffi::sqlite3_pcache) -> &'a Cache {
    // SAFETY: per the contract, `p` is a live Box<Cache>.
    unsafe { &*(p as *const Cache) }
}

// Every function below is called by SQLite with the pointers it was given by `create` (or, for init and
// shutdown, none), per the sqlite3_pcache_methods2 contract; each forwards to the default method with
// the same arguments, only the cache pointer and the swap key translated.

unsafe extern "C" fn init(_arg: *mut c_void) -> c_int {
    let d = default();
    match d.xInit {
        // SAFETY: the default's own xInit with its own pArg.
        Some(f) => unsafe { f(d.pArg) },
        None => ffi::SQLITE_OK,
    }
}

unsafe extern "C" fn shutdown(_arg: *mut c_void) {
    let d = default();
    if let Some(f) = d.xShutdown {
        // SAFETY: as in `init`.
        unsafe { f(d.pArg) }
    }
}

unsafe extern "C" fn create(
    page_size: c_int,
    extra: c_int,
    purgeable: c_int,
) -> *mut ffi::sqlite3_pcache {
    let methods = default();
    let Some(xcreate) = methods.xCreate else {
        return std::ptr::null_mut();
    };
    // SAFETY: forwarded as given.
    let inner = unsafe { xcreate(page_size, extra, purgeable) };
    if inner.is_null() {
        return inner;
    }
    let temp_key = match c_uint::try_from(page_size) {
        Ok(size) if size > 0 => PENDING_BYTE / size + 1,
        // Not a page size SQLite uses; 0 maps to itself, so nothing is remapped.
        _ => 0,
    };
    Box::into_raw(Box::new(Cache {
        inner,
        methods,
        temp_key,
    }))
    .cast()
}

unsafe extern "C" fn cache_size(p: *mut ffi::sqlite3_pcache, pages: c_int) {
    // SAFETY: see the note above `init`.
    unsafe {
        let c = cache(p);
        if let Some(f) = c.methods.xCachesize {
            f(c.inner, pages)
        }
    }
}

unsafe extern "C" fn page_count(p: *mut ffi::sqlite3_pcache) -> c_int {
    // SAFETY: see the note above `init`.
    unsafe {
        let c = cache(p);
        c.methods.xPagecount.map_or(0, |f| f(c.inner))
    }
}

unsafe extern "C" fn fetch(
    p: *mut ffi::sqlite3_pcache,
    key: c_uint,
    create: c_int,
) -> *mut ffi::sqlite3_pcache_page {
    // SAFETY: see the note above `init`.
    unsafe {
        let c = cache(p);
        let key = c.map(key);
        #[cfg(test)]
        LARGEST_KEY.fetch_max(key, std::sync::atomic::Ordering::Relaxed);
        match c.methods.xFetch {
            Some(f) => f(c.inner, key, create),
            None => std::ptr::null_mut(),
        }
    }
}

unsafe extern "C" fn unpin(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    discard: c_int,
) {
    // SAFETY: see the note above `init`.
    unsafe {
        let c = cache(p);
        if let Some(f) = c.methods.xUnpin {
            f(c.inner, page, discard)
        }
    }
}

unsafe extern "C" fn rekey(
    p: *mut ffi::sqlite3_pcache,
    page: *mut ffi::sqlite3_pcache_page,
    old: c_uint,
    new: c_uint,
) {
    // SAFETY: see the note above `init`. The page sits at `c.map(old)` inside pcache1, because every key
    // pcache1 was given went through the same map.
    unsafe {
        let c = cache(p);
        #[cfg(test)]
        if new == c.temp_key {
            SWAPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let (old, new) = (c.map(old), c.map(new));
        #[cfg(test)]
        LARGEST_KEY.fetch_max(new, std::sync::atomic::Ordering::Relaxed);
        if let Some(f) = c.methods.xRekey {
            f(c.inner, page, old, new)
        }
    }
}

unsafe extern "C" fn truncate(p: *mut ffi::sqlite3_pcache, limit: c_uint) {
    // SAFETY: see the note above `init`. A page parked at the swap key lives only inside one
    // balance_nonroot call, never across a truncation, so `limit` needs no mapping.
    unsafe {
        let c = cache(p);
        if let Some(f) = c.methods.xTruncate {
            f(c.inner, limit)
        }
    }
}

unsafe extern "C" fn destroy(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: see the note above `init`; SQLite calls xDestroy once per cache, last.
    unsafe {
        let c = Box::from_raw(p.cast::<Cache>());
        if let Some(f) = c.methods.xDestroy {
            f(c.inner)
        }
    }
}

unsafe extern "C" fn shrink(p: *mut ffi::sqlite3_pcache) {
    // SAFETY: see the note above `init`.
    unsafe {
        let c = cache(p);
        if let Some(f) = c.methods.xShrink {
            f(c.inner)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use std::sync::atomic::Ordering;

    fn swaps() -> u64 {
        SWAPS.load(Ordering::Relaxed)
    }

    /// Random-keyed inserts into an index, as the dedup index gets: pages split in most transactions, and
    /// SQLite swaps new siblings into page-number order.
    fn random_inserts(conn: &mut Connection, transactions: usize, rows: usize) {
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..transactions {
            let tx = conn.transaction().unwrap();
            {
                let mut insert = tx
                    .prepare_cached("INSERT INTO t (k, v) VALUES (?1, ?2)")
                    .unwrap();
                for _ in 0..rows {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    insert
                        .execute(rusqlite::params![format!("{state:016x}"), "x".repeat(40)])
                        .unwrap();
                }
            }
            tx.commit().unwrap();
        }
    }

    #[test]
    fn page_swaps_never_hand_the_locking_page_number_to_the_cache_and_the_database_stays_intact() {
        assert_eq!(
            install(),
            Installed::Now,
            "the tests open no connection before this"
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("swap.db");
        let mut conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.pragma_update(None, "cache_size", -32 * 1024).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT); CREATE UNIQUE INDEX t_k ON t (k);")
            .unwrap();
        let before = swaps();
        random_inserts(&mut conn, 200, 100);

        assert!(
            swaps() > before,
            "the workload should make SQLite swap pages"
        );
        let pages: u32 = conn
            .query_row("PRAGMA page_count", [], |r| r.get(0))
            .unwrap();
        let largest = LARGEST_KEY.load(Ordering::Relaxed);
        assert!(
            largest <= pages,
            "pcache1 was handed key {largest}, past the database's {pages} pages"
        );

        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let (rows, distinct): (i64, i64) = conn
            .query_row("SELECT count(*), count(DISTINCT k) FROM t", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!((rows, distinct), (20_000, 20_000));
        drop(conn);

        // What was committed reads back the same through a fresh connection and cache.
        let conn = Connection::open(&path).unwrap();
        let found: i64 = conn
            .query_row(
                "SELECT count(*) FROM t INDEXED BY t_k WHERE k >= ''",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(found, 20_000);
    }

    #[test]
    fn installing_again_reports_the_first_outcome() {
        let first = install();
        assert_eq!(install(), first);
    }
}
