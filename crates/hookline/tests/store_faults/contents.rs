//! What a store holds, read directly (rusqlite for SQLite, `psql` for PostgreSQL) rather than through
//! hookline, and its check against the ledger of answers: nothing acknowledged is missing, nothing is
//! stored twice, and nothing is half stored.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::deliveries::{Ledger, thousands};
use crate::support::PostgresSchema;

/// Where a test's server stores.
#[derive(Clone, Copy)]
pub enum Store<'a> {
    Sqlite(&'a std::path::Path),
    Postgres(&'a PostgresSchema),
}

impl Store<'_> {
    pub fn name(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    pub fn read(&self) -> Contents {
        match self {
            Store::Sqlite(path) => read_sqlite(path.to_path_buf()),
            Store::Postgres(pg) => read_postgres(pg),
        }
    }
}

/// The rows that matter here.
#[derive(Debug, Default)]
pub struct Contents {
    /// mid -> the number of events that carry it.
    pub mids: HashMap<String, usize>,
    pub events: usize,
    pub distinct_keys: usize,
    /// The events' duplicate counts, summed: redeliveries recognised.
    pub duplicates: usize,
    pub deliveries: usize,
}

fn read_sqlite(path: PathBuf) -> Contents {
    // Read-only: also works on a full disk, and cannot disturb the server's writer.
    let conn = Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|err| panic!("opening {} to check it: {err}", path.display()));
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut contents = Contents::default();
    let mut statement = conn.prepare("SELECT mid FROM events").unwrap();
    let rows = statement
        .query_map([], |row| row.get::<_, Option<String>>(0))
        .unwrap();
    for mid in rows {
        let mid = mid.unwrap().unwrap_or_default();
        *contents.mids.entry(mid).or_default() += 1;
    }
    let (events, distinct_keys, duplicates): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT dedup_key), coalesce(sum(duplicates), 0) FROM events",
            [],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .unwrap();
    let deliveries: i64 = conn
        .query_row("SELECT count(*) FROM deliveries", [], |row| row.get(0))
        .unwrap();
    contents.events = events as usize;
    contents.distinct_keys = distinct_keys as usize;
    contents.duplicates = duplicates as usize;
    contents.deliveries = deliveries as usize;
    contents
}

fn read_postgres(pg: &PostgresSchema) -> Contents {
    let schema = &pg.schema;
    let mut contents = Contents::default();
    let mids = pg.psql(&format!("SELECT coalesce(mid, '') FROM {schema}.events"));
    for mid in mids.lines().filter(|line| !line.is_empty()) {
        *contents.mids.entry(mid.to_owned()).or_default() += 1;
    }
    let counts = pg.psql(&format!(
        "SELECT count(*), count(DISTINCT dedup_key), coalesce(sum(duplicates), 0), \
         (SELECT count(*) FROM {schema}.deliveries) FROM {schema}.events"
    ));
    let numbers: Vec<usize> = counts
        .split('|')
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|err| panic!("psql answered {counts:?}: {err}"))
        })
        .collect();
    assert_eq!(numbers.len(), 4, "psql answered {counts:?}");
    contents.events = numbers[0];
    contents.distinct_keys = numbers[1];
    contents.duplicates = numbers[2];
    contents.deliveries = numbers[3];
    contents
}

/// SQLite's own check of the file: `ok`, or what is wrong.
pub fn integrity_check(path: &std::path::Path) -> String {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let mut statement = conn.prepare("PRAGMA integrity_check").unwrap();
    let rows: Vec<String> = statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.join("\n")
}

/// How the store's contents compare with the ledger.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Deliveries answered 200 at least once.
    pub acked: usize,
    /// Acknowledged deliveries with events missing.
    pub lost: Vec<String>,
    pub lost_events: usize,
    /// Mids carried by more than one event.
    pub stored_twice: Vec<String>,
    /// Deliveries never acknowledged with some but not all of their events stored.
    pub torn: Vec<String>,
    /// Deliveries never acknowledged that are stored whole (committed, then the answer was lost).
    pub unacked_stored: Vec<String>,
    /// Stored mids that no posted delivery carries.
    pub strangers: Vec<String>,
    /// Counts that contradict the ledger (delivery rows, duplicate counts, keys).
    pub counts: Vec<String>,
    pub events: usize,
    pub deliveries: usize,
}

pub fn check(contents: &Contents, ledger: &Ledger) -> Verdict {
    let mut verdict = Verdict {
        events: contents.events,
        deliveries: contents.deliveries,
        ..Verdict::default()
    };
    let (mut fewest_duplicates, mut most_duplicates) = (0, 0);
    for entry in ledger.entries() {
        let mids = &entry.delivery.mids;
        let stored = mids
            .iter()
            .filter(|m| contents.mids.contains_key(*m))
            .count();
        if entry.acked_posts > 0 {
            verdict.acked += 1;
            fewest_duplicates += (entry.acked_posts - 1) * mids.len();
            if stored < mids.len() {
                verdict.lost_events += mids.len() - stored;
                verdict.lost.push(format!(
                    "{} (answered 200 {} times): {stored} of its {} events stored",
                    mids[0],
                    entry.acked_posts,
                    mids.len()
                ));
            }
        } else if stored == mids.len() {
            verdict.unacked_stored.push(mids[0].clone());
        } else if stored > 0 {
            verdict.torn.push(format!(
                "{} (never answered 200): {stored} of its {} events stored",
                mids[0],
                mids.len()
            ));
        }
        if stored > 0 {
            most_duplicates += (entry.posts - 1) * mids.len();
        }
    }
    for (mid, count) in &contents.mids {
        if *count > 1 {
            verdict.stored_twice.push(format!("{mid}: {count} events"));
        }
    }
    let posted: HashSet<&str> = ledger
        .entries()
        .flat_map(|e| e.delivery.mids.iter().map(String::as_str))
        .collect();
    verdict.strangers = contents
        .mids
        .keys()
        .filter(|m| !posted.contains(m.as_str()))
        .cloned()
        .collect();
    check_counts(
        contents,
        ledger,
        fewest_duplicates,
        most_duplicates,
        &mut verdict,
    );
    verdict
}

fn check_counts(
    contents: &Contents,
    ledger: &Ledger,
    fewest_duplicates: usize,
    most_duplicates: usize,
    verdict: &mut Verdict,
) {
    let counts = &mut verdict.counts;
    if contents.events != contents.distinct_keys {
        counts.push(format!(
            "{} events but {} distinct dedup keys",
            contents.events, contents.distinct_keys
        ));
    }
    let with_mid: usize = contents.mids.values().sum();
    if with_mid != contents.events {
        counts.push(format!(
            "{} events, of which {with_mid} carry a mid (every event posted here has one)",
            contents.events
        ));
    }
    // Every 200 is a committed delivery row; no post makes more than one.
    if contents.deliveries < ledger.acked_posts || contents.deliveries > ledger.posts {
        counts.push(format!(
            "{} delivery rows; expected between {} (posts answered 200) and {} (posts made)",
            contents.deliveries, ledger.acked_posts, ledger.posts
        ));
    }
    // Each committed redelivery of a stored event counts one duplicate on it.
    if contents.duplicates < fewest_duplicates || contents.duplicates > most_duplicates {
        counts.push(format!(
            "duplicate counts sum to {}; expected between {fewest_duplicates} (repeated 200s) and \
             {most_duplicates} (repeated posts of stored deliveries)",
            contents.duplicates
        ));
    }
}

impl Verdict {
    /// Fails, with examples, unless nothing acknowledged is lost, nothing is stored twice, nothing is
    /// half stored, and the counts agree.
    pub fn assert_clean(&self, what: &str) {
        let mut problems = Vec::new();
        let mut list = |name: &str, items: &[String]| {
            if !items.is_empty() {
                problems.push(format!(
                    "{} {name}, e.g.:\n  {}",
                    items.len(),
                    items[..items.len().min(5)].join("\n  ")
                ));
            }
        };
        list(
            "acknowledged deliveries not stored whole (expected 0 lost)",
            &self.lost,
        );
        list(
            "mids stored more than once (expected each exactly once)",
            &self.stored_twice,
        );
        list(
            "unacknowledged deliveries half stored (expected all or nothing)",
            &self.torn,
        );
        list(
            "stored mids that were never posted (expected none)",
            &self.strangers,
        );
        list("counts that contradict the answers", &self.counts);
        assert!(
            problems.is_empty(),
            "{what}: {} deliveries acknowledged, {} events and {} delivery rows stored; {}",
            thousands(self.acked),
            thousands(self.events),
            thousands(self.deliveries),
            problems.join("\n")
        );
    }
}
