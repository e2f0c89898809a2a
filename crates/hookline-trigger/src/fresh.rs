//! Fresh message and call ids in the shapes Meta uses, the same length as the template's.
//!
//! Messenger mids are `m_` + base64url characters. Instagram mids are base64 of
//! `ig_message_item:1:IGMessageID:<account>:<...>` (mangled), so the account id is visible in them; a
//! fresh one keeps the fixtures' prefix and encodes the delivery's account. Anything else (call ids
//! `c_…`) keeps its first two characters. The last characters are then rewritten per event by the
//! template (see [`Fill::Token`](crate::slot::Fill::Token)).

use fastrand::Rng;

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// The constant start of every Instagram mid in the fixtures (and in captured deliveries).
const IG_MID_PREFIX: &str = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlE";

/// A fresh id shaped like `old`, for the account `account`.
pub(crate) fn id_like(old: &str, account: &str, rng: &mut Rng) -> String {
    let len = old.len();
    if let Some(rest) = old.strip_prefix(IG_MID_PREFIX) {
        let mut mid = String::from(IG_MID_PREFIX);
        mid.push_str(&whole_groups_base64(format!(":{account}:").as_bytes()));
        // Alphanumerics only: `+` and `/` never occur in these mids, and `/` would be escaped on the wire.
        fill(
            &mut mid,
            IG_MID_PREFIX.len() + rest.len(),
            rng,
            &BASE64[..62],
        );
        return mid;
    }
    let mut id: String = old.chars().take(2).collect();
    fill(&mut id, len, rng, BASE64URL);
    id
}

fn fill(id: &mut String, len: usize, rng: &mut Rng, alphabet: &[u8]) {
    while id.len() < len {
        id.push(char::from(alphabet[rng.usize(..alphabet.len())]));
    }
}

/// Standard base64 of the longest prefix of `bytes` that is a whole number of 3-byte groups, so that the
/// random characters after it read as a continuation of the same encoding.
fn whole_groups_base64(bytes: &[u8]) -> String {
    let whole = bytes.len() - bytes.len() % 3;
    let mut text = String::with_capacity(whole / 3 * 4);
    for group in bytes[..whole].chunks(3) {
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        for shift in [18, 12, 6, 0] {
            text.push(char::from(BASE64[(n >> shift & 63) as usize]));
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE_IG_MID: &str = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDEyMzQ1Njc4OTAxOj1EEdhcmJUAzQIBtPN7jo9osz2fhaeo8Il9SuGMrqFMHe53xAmc6tYpuD8O9x";

    #[test]
    fn messenger_mids_keep_prefix_length_and_alphabet() {
        let old = "m_xZ79FjbWI9x9ALF7a5yWNqpYbKdcQb6bLm9SGqypXVT7QNw_X7EnjYNObPiXwO6Jm3BgWfZxhNe_Zzfgz9y5VZ";
        let mid = id_like(old, "1", &mut Rng::with_seed(7));
        assert_eq!(mid.len(), old.len());
        assert!(mid.starts_with("m_"));
        assert!(mid[2..].bytes().all(|b| BASE64URL.contains(&b)));
        assert_ne!(mid, id_like(old, "1", &mut Rng::with_seed(8)));
    }

    #[test]
    fn instagram_mids_encode_the_account_like_the_fixtures() {
        let mid = id_like(FIXTURE_IG_MID, "17841412345678901", &mut Rng::with_seed(7));
        assert_eq!(mid.len(), FIXTURE_IG_MID.len());
        // The fixture's mid carries the same account encoding up to its random tail.
        assert_eq!(mid[..58], FIXTURE_IG_MID[..58]);
        assert!(mid.bytes().all(|b| b.is_ascii_alphanumeric()));
        let other = id_like(FIXTURE_IG_MID, "17841498765432109", &mut Rng::with_seed(7));
        assert_ne!(mid[..58], other[..58]);
    }

    #[test]
    fn call_ids_keep_their_prefix() {
        let id = id_like(
            "c_M5YPhGE5jm0L_PMQdScLlYJlR7tU_f0rgXiTQ",
            "1",
            &mut Rng::with_seed(1),
        );
        assert!(id.starts_with("c_"));
        assert_eq!(id.len(), 39);
    }
}
