//! The store's own runtime.
//!
//! The store runs all its tasks (writer, projection, follower, every query) on a small runtime of its
//! own, as the SQLite store runs threads of its own: it then works whichever runtime the caller uses,
//! including a store opened in one runtime and used from another (the CLI does this) or after the
//! caller's runtime ends, and database I/O does not compete with request handling for worker threads.

use tokio::runtime::{Handle, Runtime};

/// Worker threads of the store's runtime: its work is mostly waiting on the database.
const RUNTIME_THREADS: usize = 2;

/// The store's own runtime; shut down without blocking when dropped, so a store may be dropped inside
/// an async context (dropping a `Runtime` there panics).
pub(crate) struct OwnRuntime {
    runtime: Option<Runtime>,
    handle: Handle,
}

impl OwnRuntime {
    pub(crate) fn start() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(RUNTIME_THREADS)
            .thread_name("hookline-postgres")
            .enable_all()
            .build()?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    pub(crate) fn handle(&self) -> Handle {
        self.handle.clone()
    }
}

impl std::fmt::Debug for OwnRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OwnRuntime")
            .field("threads", &RUNTIME_THREADS)
            .finish()
    }
}

impl Drop for OwnRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
