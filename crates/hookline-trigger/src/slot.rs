//! Fixed-width places in an encoded body that [`Template::render`](crate::Template::render) rewrites, and
//! what it writes there.
//!
//! Every fill is a bijection of the event's sequence index onto its width, so two indices never write the
//! same text: 11 base-62 characters cover all of `u64`; 12 decimal digits cover 10^12 indices.

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fill {
    /// The last [`TOKEN_LEN`] characters of a message or call id.
    Token,
    /// The last `width` digits of a decimal id (up to [`DIGITS_MAX`]).
    Digits { width: u8 },
    /// The last `width` digits of one of `users` user ids, taken in turn: index `i` and `i + users` write
    /// the same digits, distinct indices below `users` distinct ones (`users` is at most `10^width`).
    Pool { width: u8, users: u64 },
    /// A time `delta_ms` from "now", in milliseconds (13 digits) or seconds (10 digits).
    Time { delta_ms: i64, seconds: bool },
}

/// Characters of a token that depend on the index.
pub(crate) const TOKEN_LEN: usize = 11;
/// The most digits of an id that depend on the index.
pub(crate) const DIGITS_MAX: usize = 12;

/// One rewritable place, possibly at several offsets (an id that appears more than once in an event).
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    /// The event (entry) of the body it belongs to, from 0.
    pub event: u32,
    pub fill: Fill,
    /// Byte offsets of the first rewritten byte of each occurrence.
    pub at: Vec<u32>,
}

impl Fill {
    /// How many bytes the fill writes.
    pub fn width(self) -> usize {
        match self {
            Fill::Token => TOKEN_LEN,
            Fill::Digits { width } | Fill::Pool { width, .. } => usize::from(width),
            Fill::Time { seconds: true, .. } => 10,
            Fill::Time { seconds: false, .. } => 13,
        }
    }

    /// Writes the fill for sequence index `index` at time `now_ms` into `out` (exactly `width()` bytes).
    pub fn write(self, index: u64, now_ms: u64, out: &mut [u8]) {
        match self {
            Fill::Token => token(index, out),
            Fill::Digits { width } => {
                let modulus = 10u64.pow(u32::from(width));
                decimal(permute_decimal(index, modulus), out);
            }
            Fill::Pool { width, users } => {
                let modulus = 10u64.pow(u32::from(width));
                decimal(permute_decimal(index % users.max(1), modulus), out);
            }
            Fill::Time { delta_ms, seconds } => {
                let ms = i64::try_from(now_ms)
                    .unwrap_or(i64::MAX)
                    .saturating_add(delta_ms);
                let value = if seconds { ms.div_euclid(1000) } else { ms };
                // Keep the width whatever the clock says, so the body's length never changes.
                let low = 10i64.pow(out.len() as u32 - 1);
                let high = low * 10 - 1;
                decimal(value.clamp(low, high) as u64, out);
            }
        }
    }
}

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// 11 base-62 characters of a scrambled `index`: ids look random, yet distinct indices give distinct text.
fn token(index: u64, out: &mut [u8]) {
    let mut n = scramble(index);
    for byte in out.iter_mut().rev() {
        *byte = BASE62[(n % 62) as usize];
        n /= 62;
    }
}

/// The SplitMix64 finaliser: a bijection on `u64` (xor-shifts and odd multipliers are invertible).
fn scramble(index: u64) -> u64 {
    let mut z = index.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// An affine bijection on `0..modulus` (a power of ten): the multiplier ends in 3, so it is coprime to 10.
fn permute_decimal(index: u64, modulus: u64) -> u64 {
    const A: u128 = 736_481_237_453;
    const B: u128 = 281_474_976_710_655;
    let m = u128::from(modulus);
    ((u128::from(index % modulus) * A + B) % m) as u64
}

/// Writes `n` as zero-padded decimal filling `out`.
fn decimal(mut n: u64, out: &mut [u8]) {
    for byte in out.iter_mut().rev() {
        *byte = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn text(fill: Fill, index: u64, now: u64) -> String {
        let mut out = vec![0; fill.width()];
        fill.write(index, now, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn tokens_of_distinct_indices_differ() {
        let seen: HashSet<String> = (0..10_000).map(|i| text(Fill::Token, i, 0)).collect();
        assert_eq!(seen.len(), 10_000);
        assert!(
            text(Fill::Token, u64::MAX, 0)
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        );
    }

    #[test]
    fn digits_of_distinct_indices_differ_within_their_range() {
        let fill = Fill::Digits { width: 3 };
        let seen: HashSet<String> = (0..1000).map(|i| text(fill, i, 0)).collect();
        assert_eq!(seen.len(), 1000);
        assert_eq!(text(Fill::Digits { width: 12 }, 5, 0).len(), 12);
    }

    #[test]
    fn a_pool_repeats_its_users_in_turn_and_keeps_them_distinct() {
        let fill = Fill::Pool {
            width: 12,
            users: 1000,
        };
        let first: HashSet<String> = (0..1000).map(|i| text(fill, i, 0)).collect();
        assert_eq!(first.len(), 1000);
        for i in [0, 7, 999] {
            assert_eq!(text(fill, i, 0), text(fill, i + 1000, 0));
            assert_eq!(text(fill, i, 0), text(fill, i + 5 * 1000, 0));
        }
        assert_ne!(text(fill, 0, 0), text(fill, 1, 0));
    }

    #[test]
    fn times_keep_their_unit_and_offset() {
        let now = 1_767_610_000_311;
        let ms = Fill::Time {
            delta_ms: -811,
            seconds: false,
        };
        assert_eq!(text(ms, 0, now), "1767609999500");
        let seconds = Fill::Time {
            delta_ms: 2 * 86_400_000,
            seconds: true,
        };
        assert_eq!(text(seconds, 0, now), "1767782800");
    }

    #[test]
    fn times_out_of_the_width_are_clamped_not_widened() {
        let ms = Fill::Time {
            delta_ms: 0,
            seconds: false,
        };
        assert_eq!(text(ms, 0, 5), "1000000000000");
        assert_eq!(text(ms, 0, u64::MAX), "9999999999999");
    }
}
