//! Which fields of a template are times, and in which unit.
//!
//! Meta mixes units: milliseconds almost everywhere, seconds in lead-ads referrals, calls, appointment
//! bookings, call-permission expiries and the entries of Instagram `changes`. A fresh delivery keeps each
//! field's unit, so a field is read as seconds exactly when its template value is (below 1e12, the rule
//! `hookline parse` uses too).

use serde_json::Value;

/// Names of members whose value is a time (number or numeric string).
const TIME_KEYS: [&str; 7] = [
    "time",
    "timestamp",
    "watermark",
    "start_time",
    "end_time",
    "expiration_timestamp",
    "token_expiry_timestamp",
];

/// Values below this are seconds.
const SECONDS_BELOW: u64 = 1_000_000_000_000;

/// Whether a member with this name holds a time.
pub(crate) fn is_time_key(name: &str) -> bool {
    TIME_KEYS.contains(&name)
}

/// A time as epoch milliseconds, if the value is a 10-digit (seconds) or 13-digit (ms) number or string.
pub(crate) fn ms(value: &Value) -> Option<i64> {
    let raw = digits(value)?;
    let seconds = raw.len() == 10;
    if !(seconds || raw.len() == 13) {
        return None;
    }
    let n: i64 = raw.parse().ok()?;
    Some(if seconds { n * 1000 } else { n })
}

/// Whether a time value is in seconds.
pub(crate) fn is_seconds(value: &Value) -> bool {
    digits(value).is_some_and(|raw| raw.parse::<u64>().is_ok_and(|n| n < SECONDS_BELOW))
}

fn digits(value: &Value) -> Option<String> {
    let raw = match value {
        Value::Number(n) => n.as_u64()?.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    raw.bytes().all(|b| b.is_ascii_digit()).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_seconds_and_milliseconds_as_ms() {
        assert_eq!(ms(&json!(1767610000311u64)), Some(1767610000311));
        assert_eq!(ms(&json!(1767610100)), Some(1767610100000));
        assert_eq!(ms(&json!("1768215000")), Some(1768215000000));
        assert_eq!(ms(&json!(42)), None);
        assert_eq!(ms(&json!("soon")), None);
    }

    #[test]
    fn tells_seconds_from_milliseconds() {
        assert!(is_seconds(&json!(1767610100)));
        assert!(!is_seconds(&json!(1767610100000u64)));
    }
}
