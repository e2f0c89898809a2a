//! Points in time given on the command line: an RFC 3339 time, or a duration meaning that long ago.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// What every time flag accepts, for error messages.
const FORMS: &str = "give an RFC 3339 time (2026-01-05T10:00:00Z, 2026-01-05T12:00:00+02:00, 2026-01-05) \
                     or a duration meaning that long ago (90s, 30m, 2h, 7days)";

/// Parses `text` into epoch milliseconds, with "ago" durations counted back from `now`.
pub fn parse_at(text: &str, now: SystemTime) -> Result<i64, String> {
    let text = text.trim();
    let starts_with_digit_run =
        |n: usize| text.len() >= n && text.as_bytes()[..n].iter().all(u8::is_ascii_digit);
    // A date has its year's four digits and a dash; a duration never has a dash.
    let result = if starts_with_digit_run(4) && text.as_bytes().get(4) == Some(&b'-') {
        rfc3339(text)
    } else {
        humantime::parse_duration(text)
            .ok()
            .and_then(|ago| now.checked_sub(ago))
            .and_then(|at| at.duration_since(UNIX_EPOCH).ok())
    };
    result
        .and_then(|since_epoch| i64::try_from(since_epoch.as_millis()).ok())
        .ok_or_else(|| format!("{text:?} is not a time: {FORMS}"))
}

/// Parses `text` with the current time as "now" (for clap).
pub fn parse_ago_or_rfc3339(text: &str) -> Result<i64, String> {
    parse_at(text, SystemTime::now())
}

/// An RFC 3339 time, a date (midnight UTC), or either without the zone (UTC); as time since the epoch.
fn rfc3339(text: &str) -> Option<Duration> {
    let (local, offset_secs) = split_offset(text)?;
    let local = if local.len() == 10 {
        format!("{local}T00:00:00Z")
    } else {
        local.to_owned()
    };
    let utc = humantime::parse_rfc3339_weak(&local).ok()?;
    let since_epoch = utc.duration_since(UNIX_EPOCH).ok()?;
    // 12:00+02:00 is 10:00 UTC: subtract the offset.
    let secs = i64::try_from(since_epoch.as_secs()).ok()? - offset_secs;
    Some(Duration::new(
        u64::try_from(secs).ok()?,
        since_epoch.subsec_nanos(),
    ))
}

/// Splits a trailing `+HH:MM` / `-HH:MM` zone off (humantime reads only `Z`); `Z` and no zone are UTC.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    let bytes = text.as_bytes();
    if bytes.len() > 16 {
        let at = bytes.len() - 6;
        let sign = match bytes[at] {
            b'+' => 1,
            b'-' => -1,
            _ => return Some((text, 0)),
        };
        let zone = &text[at + 1..];
        let (hours, minutes) = zone.split_once(':')?;
        let (hours, minutes) = (hours.parse::<i64>().ok()?, minutes.parse::<i64>().ok()?);
        return Some((&text[..at], sign * (hours * 3600 + minutes * 60)));
    }
    Some((text, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_5_10H: i64 = 1_767_607_200_000;

    fn at(text: &str) -> Result<i64, String> {
        parse_at(text, UNIX_EPOCH + Duration::from_millis(JAN_5_10H as u64))
    }

    #[test]
    fn rfc3339_times_with_any_zone_are_read_as_utc_milliseconds() {
        assert_eq!(at("2026-01-05T10:00:00Z"), Ok(JAN_5_10H));
        assert_eq!(at("2026-01-05T10:00:00.250Z"), Ok(JAN_5_10H + 250));
        assert_eq!(at("2026-01-05T12:00:00+02:00"), Ok(JAN_5_10H));
        assert_eq!(at("2026-01-05T07:30:00-02:30"), Ok(JAN_5_10H));
        assert_eq!(at("2026-01-05 10:00:00"), Ok(JAN_5_10H));
        assert_eq!(at("2026-01-05"), Ok(JAN_5_10H - 10 * 3_600_000));
    }

    #[test]
    fn durations_count_back_from_now() {
        assert_eq!(at("2h"), Ok(JAN_5_10H - 2 * 3_600_000));
        assert_eq!(at("90s"), Ok(JAN_5_10H - 90_000));
        assert_eq!(at("1day 2h"), Ok(JAN_5_10H - 26 * 3_600_000));
    }

    #[test]
    fn anything_else_is_refused_naming_both_forms() {
        for bad in [
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2h ago",
            "",
            "2026-01-05T10:00:00+2",
        ] {
            let err = at(bad).unwrap_err();
            assert!(
                err.contains("RFC 3339") && err.contains("2h"),
                "{bad}: {err}"
            );
        }
    }
}
