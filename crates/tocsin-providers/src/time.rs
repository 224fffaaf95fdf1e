//! RFC 3339 timestamps to and from Unix milliseconds, through chrono (the
//! workspace's date library): providers send `2026-03-16T10:30:45.123Z`,
//! `...+02:00`, a lowercase `t`/`z` or a space between date and time.

/// Parses `2026-03-16T10:30:45.123Z` or `...+02:00` into milliseconds since the
/// epoch; `None` for anything that is not RFC 3339 with an offset.
pub fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis())
}

/// Formats Unix milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_rfc3339_ms(ms: i64) -> String {
    tocsin_model::format_rfc3339_ms(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_forms() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_ms("2026-03-16T10:30:45.123Z"), Some(1_773_657_045_123));
        assert_eq!(parse_rfc3339_ms("2026-03-16T12:30:45.123+02:00"), Some(1_773_657_045_123));
        assert_eq!(parse_rfc3339_ms("2026-03-16T10:30:45.1Z"), Some(1_773_657_045_100));
        assert_eq!(parse_rfc3339_ms("garbage"), None);
        assert_eq!(parse_rfc3339_ms("2026-13-16T10:30:45Z"), None);
        assert_eq!(parse_rfc3339_ms("2026-03-16T10:30:45"), None);
        assert_eq!(parse_rfc3339_ms("2026-03-16 10:30:45.123z"), Some(1_773_657_045_123));
        assert_eq!(parse_rfc3339_ms("2026-02-30T10:30:45Z"), None, "no 30th of February");
    }

    #[test]
    fn formats_and_round_trips() {
        assert_eq!(format_rfc3339_ms(1_773_657_045_123), "2026-03-16T10:30:45.123Z");
        for ms in [0, 1, 951_782_400_000, 4_102_444_799_999] {
            assert_eq!(parse_rfc3339_ms(&format_rfc3339_ms(ms)), Some(ms));
        }
    }
}
