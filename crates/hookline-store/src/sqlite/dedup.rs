//! Finding an event's earlier copy by its dedup key, without a random index write on every commit.
//!
//! Dedup keys are hashes, so a unique index on them puts each new event on a random leaf page: every group
//! commit wrote one index page per event (most of the pages it wrote) and every checkpoint copied them
//! back. Measured on the acknowledgement path, that index cost a third of the writer's time (BENCHMARKS.md).
//!
//! So the index is kept in two parts, like the first level of an LSM tree:
//! - `dedup_keys` (key → event id, a `WITHOUT ROWID` table) holds the keys of every event up to
//!   `dedup_state.merged_through`;
//! - [`Dedup::recent`] holds, in memory, the keys of the events after it. It is derived from the `events`
//!   table, which every commit makes durable, so it needs no persistence of its own: before a writer's
//!   first append it is read back from the events after `merged_through`. A store that never appends (a
//!   command that only reads) never reads it back nor merges.
//!
//! A lookup checks memory, then probes `dedup_keys` (a read). Once enough keys wait in memory (the store
//! URL's `dedup_memory_keys`, [`DEFAULT_DEDUP_MEMORY_KEYS`] unless it says otherwise), the
//! writer moves them into `dedup_keys` in key order, [`CHUNK`] keys per transaction between group commits.
//! A merge of many keys dirties each leaf page at most once, where inserting them one group at a time
//! dirtied a page per key; while the table's leaves are fewer than a merge's keys, that is several keys per
//! page written. The last chunk's transaction moves `merged_through`; a crash before it only means that the
//! keys merged so far are merged again (`INSERT OR IGNORE`).
//!
//! This relies on one appending process per database file, as the writer's id assignment already does.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use crate::url::DEFAULT_DEDUP_MEMORY_KEYS;

/// Keys merged per transaction, at most: small enough that a group commit queued behind one waits little.
pub(crate) const CHUNK: usize = 512;

const FIND: &str = "SELECT event_id FROM dedup_keys WHERE key = ?1";
const MERGE: &str = "INSERT OR IGNORE INTO dedup_keys (key, event_id) VALUES (?1, ?2)";

#[derive(Default)]
pub(crate) struct Dedup {
    /// Whether `recent` has been read back from the file.
    loaded: bool,
    /// The keys of committed events after `merged_through` (and, inside a write transaction, of the
    /// events it has added so far).
    recent: HashMap<Box<str>, i64>,
    merge: Option<Merge>,
    pub merge_at: usize,
    pub chunk: usize,
}

/// A merge under way: the keys in memory when it started, sorted.
struct Merge {
    through: i64,
    keys: Vec<(Box<str>, i64)>,
    done: usize,
}

impl Dedup {
    /// Nothing read back yet; [`Dedup::load`] does before the first lookup.
    pub(crate) fn new() -> Self {
        let mut dedup = Dedup::default();
        dedup.set_memory_keys(DEFAULT_DEDUP_MEMORY_KEYS);
        dedup
    }

    /// Reads back the keys not yet merged, once.
    pub(crate) fn load(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        if self.loaded {
            return Ok(());
        }
        let merged_through: i64 = conn.query_row(
            "SELECT merged_through FROM dedup_state WHERE id = 1",
            [],
            |row| row.get(0),
        )?;
        let mut stmt = conn.prepare("SELECT dedup_key, id FROM events WHERE id > ?1")?;
        let recent = stmt
            .query_map([merged_through], |row| {
                Ok((row.get::<_, String>(0)?.into_boxed_str(), row.get(1)?))
            })?
            .collect::<rusqlite::Result<HashMap<_, _>>>()?;
        self.recent = recent;
        self.loaded = true;
        Ok(())
    }

    /// The id of the stored event with this key. [`Dedup::load`] must have run.
    pub(crate) fn find(&self, conn: &Connection, key: &str) -> rusqlite::Result<Option<i64>> {
        if let Some(id) = self.recent.get(key) {
            return Ok(Some(*id));
        }
        conn.prepare_cached(FIND)?
            .query_row([key], |row| row.get(0))
            .optional()
    }

    /// Records the key of an event the current transaction has added.
    pub(crate) fn add(&mut self, key: &str, id: i64) {
        self.recent.insert(key.into(), id);
    }

    /// Forgets the keys of events from `first` on: the transaction that added them did not commit.
    pub(crate) fn forget_from(&mut self, first: i64) {
        self.recent.retain(|_, id| *id < first);
    }

    /// Merges once `keys` wait, in transactions of at most [`CHUNK`] keys and at least four per merge.
    pub(crate) fn set_memory_keys(&mut self, keys: usize) {
        self.merge_at = keys.max(1);
        self.chunk = (self.merge_at / 4).clamp(1, CHUNK);
    }

    /// Whether a merge is under way or enough keys wait to start one.
    pub(crate) fn merge_due(&self) -> bool {
        self.loaded && (self.merge.is_some() || self.recent.len() >= self.merge_at)
    }

    /// Keys waiting in memory.
    pub(crate) fn waiting(&self) -> usize {
        self.recent.len()
    }

    /// Merges the next chunk of keys, in a transaction of its own. Call it between write transactions,
    /// when every key in memory belongs to a committed event.
    pub(crate) fn merge_step(&mut self, conn: &mut Connection) -> rusqlite::Result<()> {
        let recent = &self.recent;
        let merge = self.merge.get_or_insert_with(|| {
            let mut keys: Vec<(Box<str>, i64)> =
                recent.iter().map(|(key, id)| (key.clone(), *id)).collect();
            keys.sort_unstable();
            let through = keys.iter().map(|(_, id)| *id).max().unwrap_or(0);
            Merge {
                through,
                keys,
                done: 0,
            }
        });
        let end = (merge.done + self.chunk.max(1)).min(merge.keys.len());
        let last = end == merge.keys.len();
        let tx = Transaction::new(conn, TransactionBehavior::Immediate)?;
        {
            let mut insert = tx.prepare_cached(MERGE)?;
            for (key, id) in &merge.keys[merge.done..end] {
                insert.execute(params![&**key, id])?;
            }
        }
        if last {
            tx.execute(
                "UPDATE dedup_state SET merged_through = max(merged_through, ?1) WHERE id = 1",
                [merge.through],
            )?;
        }
        tx.commit()?;
        merge.done = end;
        if last && let Some(merge) = self.merge.take() {
            for (key, _) in &merge.keys {
                self.recent.remove(key);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::schema;

    fn store() -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        schema::migrate(&mut conn).unwrap();
        conn
    }

    fn loaded(conn: &Connection) -> Dedup {
        let mut dedup = Dedup::new();
        dedup.load(conn).unwrap();
        dedup
    }

    /// A loaded `Dedup` that merges once `merge_at` keys wait, `chunk` keys per transaction, after
    /// adding `events` (id, key) to the store and to it.
    fn merging(conn: &Connection, merge_at: usize, chunk: usize, events: &[(i64, &str)]) -> Dedup {
        let mut dedup = loaded(conn);
        dedup.merge_at = merge_at;
        dedup.chunk = chunk;
        for &(id, key) in events {
            add_event(conn, &mut dedup, id, key);
        }
        dedup
    }

    fn insert_event_row(conn: &Connection, id: i64, key: &str) {
        conn.execute(
            "INSERT INTO events (id, dedup_key, delivery_id, received_at_ms, channel, kind)
             VALUES (?1, ?2, 1, 0, 'messaging', 'message')",
            params![id, key],
        )
        .unwrap();
    }

    fn add_event(conn: &Connection, dedup: &mut Dedup, id: i64, key: &str) {
        insert_event_row(conn, id, key);
        dedup.add(key, id);
    }

    fn merged(conn: &Connection) -> (i64, Vec<(String, i64)>) {
        let through = conn
            .query_row("SELECT merged_through FROM dedup_state", [], |r| r.get(0))
            .unwrap();
        let mut stmt = conn
            .prepare("SELECT key, event_id FROM dedup_keys ORDER BY key")
            .unwrap();
        let keys = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        (through, keys)
    }

    #[test]
    fn keys_are_found_in_memory_then_in_the_table_once_merged() {
        let mut conn = store();
        let mut dedup = merging(&conn, 4, 3, &[(1, "v1:d"), (2, "v1:a"), (3, "v1:c")]);
        assert!(!dedup.merge_due(), "three keys wait, four start a merge");
        add_event(&conn, &mut dedup, 4, "v1:b");
        assert!(dedup.merge_due());
        assert_eq!(dedup.find(&conn, "v1:b").unwrap(), Some(4));

        dedup.merge_step(&mut conn).unwrap();
        let (through, keys) = merged(&conn);
        assert_eq!(through, 0, "moved only by the last chunk");
        let first: Vec<_> = keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(first, ["v1:a", "v1:b", "v1:c"], "merged in key order");
        assert!(dedup.merge_due(), "one chunk left");
        add_event(&conn, &mut dedup, 5, "v1:e");

        dedup.merge_step(&mut conn).unwrap();
        let (through, keys) = merged(&conn);
        assert_eq!(through, 4);
        assert_eq!(keys.len(), 4);
        assert!(!dedup.merge_due());
        assert_eq!(
            dedup.waiting(),
            1,
            "the key added during the merge waits for the next"
        );
        for (key, id) in [
            ("v1:a", 2),
            ("v1:b", 4),
            ("v1:c", 3),
            ("v1:d", 1),
            ("v1:e", 5),
        ] {
            assert_eq!(dedup.find(&conn, key).unwrap(), Some(id), "{key}");
        }
        assert_eq!(dedup.find(&conn, "v1:f").unwrap(), None);

        let reopened = loaded(&conn);
        assert_eq!(reopened.waiting(), 1, "only the unmerged key is read back");
        assert_eq!(reopened.find(&conn, "v1:e").unwrap(), Some(5));
        assert_eq!(reopened.find(&conn, "v1:a").unwrap(), Some(2));
    }

    #[test]
    fn a_merge_cut_short_is_merged_again_after_a_restart() {
        let mut conn = store();
        let mut dedup = merging(&conn, 2, 1, &[(1, "v1:b"), (2, "v1:a")]);
        dedup.merge_step(&mut conn).unwrap();
        assert_eq!(merged(&conn), (0, vec![("v1:a".into(), 2)]));
        drop(dedup); // as if the process died here

        let mut dedup = loaded(&conn);
        assert_eq!(dedup.waiting(), 2, "both keys read back from the events");
        dedup.merge_at = 2;
        while dedup.merge_due() {
            dedup.merge_step(&mut conn).unwrap();
        }
        assert_eq!(
            merged(&conn),
            (2, vec![("v1:a".into(), 2), ("v1:b".into(), 1)])
        );
        assert_eq!(dedup.waiting(), 0);
    }

    #[test]
    fn a_store_that_never_appends_reads_nothing_back_and_merges_nothing() {
        let conn = store();
        let writer = merging(&conn, 2, 1, &[(1, "v1:a"), (2, "v1:b")]);
        assert!(writer.merge_due());

        let mut reader = Dedup::new();
        reader.merge_at = 2;
        assert!(!reader.merge_due(), "nothing read back, nothing to merge");
        reader.load(&conn).unwrap();
        assert_eq!(reader.waiting(), 2);
        assert!(reader.merge_due());
    }

    #[test]
    fn keys_of_a_transaction_that_did_not_commit_are_forgotten() {
        let conn = store();
        let mut dedup = loaded(&conn);
        add_event(&conn, &mut dedup, 1, "v1:a");
        dedup.add("v1:b", 2);
        dedup.add("v1:c", 3);
        dedup.forget_from(2);
        assert_eq!(dedup.find(&conn, "v1:a").unwrap(), Some(1));
        assert_eq!(dedup.find(&conn, "v1:b").unwrap(), None);
        assert_eq!(dedup.find(&conn, "v1:c").unwrap(), None);
    }

    #[test]
    fn the_migration_moves_existing_keys_into_the_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "user_version", 0).unwrap();
        // The schema before the split: events with a unique index on their keys.
        let before = schema::MIGRATIONS.len() - 1;
        for sql in &schema::MIGRATIONS[..before] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", before as i64)
            .unwrap();
        for (id, key) in [(1, "v1:b"), (2, "v1:a")] {
            insert_event_row(&conn, id, key);
        }
        schema::migrate(&mut conn).unwrap();
        assert_eq!(
            merged(&conn),
            (2, vec![("v1:a".into(), 2), ("v1:b".into(), 1)])
        );
        let dedup = loaded(&conn);
        assert_eq!(dedup.waiting(), 0);
        assert_eq!(dedup.find(&conn, "v1:b").unwrap(), Some(1));
    }
}
