//! CPU time of the calling thread, so the report can tell how much of the machine the generator itself
//! used: the sign that it, not the receiver, may be the limit.

/// Nanoseconds the calling thread has run (user and system), from Linux's `/proc/thread-self/schedstat`;
/// `None` where that file does not exist.
pub fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_ascii_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn a_busy_thread_s_cpu_time_grows() {
        let before = thread_cpu_ns().unwrap();
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        assert!(thread_cpu_ns().unwrap() > before);
    }
}
