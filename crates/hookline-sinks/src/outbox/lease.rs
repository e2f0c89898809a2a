//! Sharing a sink with the workers of other instances on the same database (see
//! [`hookline_store::outbox`] for the leases and claims the store keeps).
//!
//! Only the worker holding the sink's lease reads fresh events and moves the cursor; every worker
//! attempts due rows, each row claimed by one of them at a time. A lease and a claim last `lease` (30 s
//! by default) and are renewed every third of it while a pass runs, so a slow sink keeps them; when an
//! instance dies they run out and another instance takes over, from the saved cursor.

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hookline_store::outbox::{RowClaim, SinkClaim};
use hookline_store::{EventStore, StoreError};

use crate::clock::Clock;

/// This process's name in leases and claims: `<hostname>-<pid>-<4 random hex digits>` (the digits tell
/// apart two processes that reuse a pid, as containers do).
pub fn default_owner() -> String {
    static OWNER: OnceLock<String> = OnceLock::new();
    OWNER
        .get_or_init(|| {
            let host = std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|name| name.trim().to_owned())
                .filter(|name| !name.is_empty())
                .or_else(|| {
                    std::env::var("HOSTNAME")
                        .ok()
                        .filter(|n| !n.trim().is_empty())
                })
                .unwrap_or_else(|| "hookline".to_owned());
            format!(
                "{}-{}-{:04x}",
                host.trim(),
                std::process::id(),
                fastrand::u16(..)
            )
        })
        .clone()
}

/// One worker's leases on one sink.
#[derive(Clone, Debug)]
pub(crate) struct Lease {
    pub store: Arc<dyn EventStore>,
    pub clock: Arc<dyn Clock>,
    pub sink: String,
    pub owner: String,
    pub lease: Duration,
}

impl Lease {
    fn lease_ms(&self) -> i64 {
        i64::try_from(self.lease.as_millis())
            .unwrap_or(i64::MAX)
            .max(1)
    }

    /// When a lease or claim taken at `now_ms` runs out.
    pub fn until(&self, now_ms: i64) -> i64 {
        now_ms.saturating_add(self.lease_ms())
    }

    /// Whether a lease that lasts until `until_ms` must be renewed before a pass starting at `now_ms`:
    /// once a third of it has gone, as [`Lease::keep`] would renew it.
    pub fn needs_renewal(&self, until_ms: i64, now_ms: i64) -> bool {
        until_ms.saturating_sub(now_ms) < self.lease_ms() - self.lease_ms() / 3
    }

    /// Takes or renews the sink's lease: the stored cursor, or `None` while another instance holds it.
    pub async fn claim(&self, now_ms: i64) -> Result<Option<i64>, StoreError> {
        self.store
            .claim_sink(SinkClaim {
                sink: self.sink.clone(),
                owner: self.owner.clone(),
                now_ms,
                until_ms: self.until(now_ms),
            })
            .await
    }

    /// The claim a due pass starting at `now_ms` makes on its rows.
    pub fn row_claim(&self, now_ms: i64) -> RowClaim {
        RowClaim {
            owner: self.owner.clone(),
            now_ms,
            until_ms: self.until(now_ms),
        }
    }

    /// Renews, every third of a lease, the sink's lease (when `sink`, i.e. the pass holds it) and the
    /// claims on rows; runs beside a pass until the pass ends and drops it.
    pub async fn keep(&self, mut sink: bool) -> Infallible {
        let every = (self.lease_ms() / 3).max(1);
        let mut at = self.clock.now_ms().saturating_add(every);
        loop {
            self.clock.sleep_until(at).await;
            let now = self.clock.now_ms();
            if sink {
                match self.claim(now).await {
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        tracing::info!(sink = %self.sink, owner = %self.owner, "another instance took the sink over during a slow pass; it delivers the sink's new events from now on");
                        sink = false;
                    }
                    Err(err) => {
                        tracing::warn!(sink = %self.sink, error = %err, "cannot renew the sink's lease; trying again")
                    }
                }
            }
            let renewed = self
                .store
                .renew_row_claims(self.sink.clone(), self.owner.clone(), self.until(now))
                .await;
            if let Err(err) = renewed {
                tracing::warn!(sink = %self.sink, error = %err, "cannot renew the claims on due attempts; trying again");
            }
            at = now.saturating_add(every);
        }
    }

    /// Gives the sink's lease and row claims up, so another instance takes over at once.
    pub async fn release(&self) {
        let released = self
            .store
            .release_sink(self.sink.clone(), self.owner.clone())
            .await;
        match released {
            Ok(()) | Err(StoreError::Closed) => {}
            Err(err) => {
                tracing::warn!(sink = %self.sink, error = %err, "cannot release the sink's lease; another instance takes over once it runs out")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_owner_names_the_host_and_the_process_and_stays_the_same() {
        let owner = default_owner();
        let pid = format!("-{}-", std::process::id());
        assert!(owner.contains(&pid), "{owner}");
        let suffix = owner.rsplit('-').next().unwrap();
        assert_eq!(suffix.len(), 4, "{owner}");
        assert!(suffix.chars().all(|c| c.is_ascii_hexdigit()), "{owner}");
        assert!(!owner.starts_with('-'), "{owner}");
        assert_eq!(default_owner(), owner);
    }
}
