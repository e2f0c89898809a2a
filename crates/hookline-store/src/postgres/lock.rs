//! The advisory locks that let several hookline instances share one database.
//!
//! PostgreSQL advisory locks are per database, so each key pairs what the lock is for with a hash of the
//! schema: stores in different schemas of one database never wait on each other, and a hash collision
//! only costs some waiting, never correctness.

use sha2::{Digest, Sha256};

/// Held while migrating, so instances starting together apply each migration once.
const MIGRATE: i32 = 0x686c_0001;
/// Held by every append transaction until its commit, so event ids grow in commit order.
const APPEND: i32 = 0x686c_0002;
/// Held for a whole session by the one instance that runs the conversation projection.
const PROJECT: i32 = 0x686c_0003;

/// The advisory lock keys of one schema, as the `(int4, int4)` pairs `pg_advisory_*lock` take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Locks {
    schema: i32,
}

impl Locks {
    pub(crate) fn for_schema(schema: &str) -> Self {
        let digest = Sha256::digest(schema.as_bytes());
        Self {
            schema: i32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]),
        }
    }

    pub(crate) fn migrate(self) -> (i32, i32) {
        (MIGRATE, self.schema)
    }

    pub(crate) fn append(self) -> (i32, i32) {
        (APPEND, self.schema)
    }

    pub(crate) fn project(self) -> (i32, i32) {
        (PROJECT, self.schema)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_schema_has_its_own_keys_and_each_purpose_its_own_lock() {
        let a = Locks::for_schema("tenant_a");
        let b = Locks::for_schema("tenant_b");
        assert_eq!(a, Locks::for_schema("tenant_a"));
        assert_ne!(a.append(), b.append());
        assert_ne!(a.append(), a.migrate());
        assert_ne!(a.append(), a.project());
        assert_eq!(a.append().1, a.project().1);
    }
}
