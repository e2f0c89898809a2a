//! Lowering a thread's CPU priority, so forwarding yields to acknowledging deliveries.

/// Raises the calling thread's `nice` value by `nice` (Linux: priority is per thread). A failure only
/// costs the preference, so it is logged, not returned.
#[cfg(target_os = "linux")]
pub fn lower_current_thread(nice: i32) {
    use rustix::process::{getpriority_process, setpriority_process};
    use rustix::thread::gettid;
    if nice <= 0 {
        return;
    }
    let tid = gettid();
    let current = getpriority_process(Some(tid)).unwrap_or(0);
    if let Err(err) = setpriority_process(Some(tid), (current + nice).min(19)) {
        tracing::debug!(%err, "could not lower the fan-out thread's priority");
    }
}

/// Thread priorities are left alone outside Linux.
#[cfg(not(target_os = "linux"))]
pub fn lower_current_thread(_nice: i32) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn the_calling_thread_gets_the_higher_nice_value_and_others_keep_theirs() {
        let before = rustix::process::getpriority_process(None).unwrap();
        let lowered = std::thread::spawn(|| {
            lower_current_thread(5);
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap()
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (before + 5).min(19));
        let this_thread =
            rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_eq!(this_thread, before);
    }
}
