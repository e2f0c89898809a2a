//! A small seeded generator (SplitMix64): the kill moments and the clients' choices come from one seed,
//! printed with each test's figures, so a failing run can be replayed with `HOOKLINE_FAULT_SEED`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The seed of `HOOKLINE_FAULT_SEED` (decimal or 0x-hex), else one taken from the clock.
    pub fn seed() -> u64 {
        match std::env::var("HOOKLINE_FAULT_SEED") {
            Ok(text) if !text.trim().is_empty() => {
                let text = text.trim();
                let parsed = match text.strip_prefix("0x") {
                    Some(hex) => u64::from_str_radix(hex, 16),
                    None => text.parse(),
                };
                parsed.unwrap_or_else(|err| {
                    panic!(
                        "HOOKLINE_FAULT_SEED={text:?} is not a number (decimal or 0x-hex): {err}"
                    )
                })
            }
            _ => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64),
        }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability 1 in `n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    pub fn millis(&mut self, range: std::ops::Range<u64>) -> Duration {
        Duration::from_millis(range.start + self.below(range.end - range.start))
    }

    /// A generator of its own for a client, drawn from this one.
    pub fn fork(&mut self) -> Rng {
        Rng(self.next_u64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_numbers() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        let first: Vec<u64> = (0..5).map(|_| a.below(1000)).collect();
        let second: Vec<u64> = (0..5).map(|_| b.below(1000)).collect();
        assert_eq!(first, second);
        assert!(
            first.iter().any(|n| *n != first[0]),
            "not constant: {first:?}"
        );
    }
}
