//! China's calendar and wall clock: Asia/Shanghai (UTC+8 all year; no daylight saving since
//! 1991). Joined dates, ages, "today", station hours and daily schedules all follow the
//! calendar members live by, not UTC; every conversion goes through here.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The zone of every date and wall-clock time Gongyou shows or reasons about.
pub const SHANGHAI: chrono_tz::Tz = chrono_tz::Asia::Shanghai;

/// Today's date in China at `now`.
pub fn china_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&SHANGHAI).date_naive()
}

/// The wall-clock time in China at `now`.
pub fn china_local(now: DateTime<Utc>) -> NaiveDateTime {
    now.with_timezone(&SHANGHAI).naive_local()
}

/// The instant of a wall-clock time in China (always exactly one: the zone has no gaps or
/// folds since 1991; an older ambiguous time takes its earlier reading).
pub fn from_china_local(local: NaiveDateTime) -> DateTime<Utc> {
    SHANGHAI.from_local_datetime(&local).earliest().map_or_else(
        || local.and_utc() - chrono::Duration::hours(8),
        |t| t.with_timezone(&Utc),
    )
}

/// The timestamps the API reads: RFC 3339 with an uppercase `T` and `Z` (or a `±HH:MM`
/// offset), seconds 00–59 and up to nine fraction digits — exactly what
/// [`TIMESTAMP_PATTERN`] says.
pub const TIMESTAMP_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$";

/// The dates the API reads: `YYYY-MM-DD`, exactly what [`DATE_PATTERN`] says.
pub const DATE_PATTERN: &str = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// Parses a date of [`DATE_PATTERN`]'s shape (`NoSuchTime` for `2026-02-30`).
pub fn parse_date(s: &str) -> Result<NaiveDate, TimestampError> {
    let b = s.as_bytes();
    let part = |r: std::ops::Range<usize>| {
        b.get(r.clone())
            .filter(|p| p.iter().all(u8::is_ascii_digit))
            .and_then(|_| s[r].parse::<u32>().ok())
    };
    let shape = b.len() == 10 && b[4] == b'-' && b[7] == b'-';
    let (Some(year), Some(month), Some(day)) = (part(0..4), part(5..7), part(8..10)) else {
        return Err(TimestampError::Malformed);
    };
    if !shape || !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return Err(TimestampError::Malformed);
    }
    let year = i32::try_from(year).map_err(|_| TimestampError::Malformed)?;
    NaiveDate::from_ymd_opt(year, month, day).ok_or(TimestampError::NoSuchTime)
}

/// Why a timestamp was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimestampError {
    /// Not of the pattern's shape.
    Malformed,
    /// Of the shape, but no such time (`2030-02-30`).
    NoSuchTime,
}

/// Parses a timestamp of [`TIMESTAMP_PATTERN`]'s shape.
pub fn parse_timestamp(s: &str) -> Result<DateTime<Utc>, TimestampError> {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|part| part.iter().all(u8::is_ascii_digit))
            .then(|| s[range].parse::<u32>().ok())
            .flatten()
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let shape = || -> Option<()> {
        digits(0..4)?;
        let (month, day) = (digits(5..7)?, digits(8..10)?);
        let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
        let separators = at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':');
        let ranges = (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour <= 23
            && minute <= 59
            && second <= 59;
        if !(separators && ranges) {
            return None;
        }
        let mut i = 19;
        if at(i, b'.') {
            let fraction = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if !(1..=9).contains(&fraction) {
                return None;
            }
            i += 1 + fraction;
        }
        match b.get(i..)? {
            b"Z" => Some(()),
            [sign, ..] if *sign == b'+' || *sign == b'-' => {
                let (oh, om) = (digits(i + 1..i + 3)?, digits(i + 4..i + 6)?);
                (b.len() == i + 6 && at(i + 3, b':') && oh <= 23 && om <= 59).then_some(())
            }
            _ => None,
        }
    };
    shape().ok_or(TimestampError::Malformed)?;
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| TimestampError::NoSuchTime)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_china_date_turns_at_beijing_midnight_not_utc() {
        let before = DateTime::parse_from_rfc3339("2026-07-14T15:59:59Z")
            .unwrap()
            .to_utc();
        let after = DateTime::parse_from_rfc3339("2026-07-14T16:00:00Z")
            .unwrap()
            .to_utc();
        assert_eq!(china_date(before).to_string(), "2026-07-14");
        assert_eq!(china_date(after).to_string(), "2026-07-15");
        assert_eq!(china_local(after).to_string(), "2026-07-15 00:00:00");
        assert_eq!(from_china_local(china_local(after)), after);
    }

    #[test]
    fn timestamps_are_read_as_the_pattern_says() {
        let ok = parse_timestamp("2026-10-08T09:00:00+08:00").unwrap();
        assert_eq!(ok.to_rfc3339(), "2026-10-08T01:00:00+00:00");
        assert!(parse_timestamp("2026-10-08T01:00:00.123456789Z").is_ok());
        assert_eq!(
            parse_timestamp("2030-02-30T00:00:00Z"),
            Err(TimestampError::NoSuchTime)
        );
        for malformed in [
            "",
            "2030-01-01t00:00:00z",
            "2030-01-01 00:00:00Z",
            "2030-01-01T00:00:60Z",
            "2030-01-01T00:00:00.1234567891Z",
            "+2030-01-01T00:00:00Z",
            "2030-01-01T00:00:00+0800",
            "2030-01-01T00:00:00+24:00",
            "2030-01-01T00:00Z",
            "2030-01-01T00:00:00.Z",
            "2030-13-01T00:00:00Z",
            "2030-01-01T00:00:00Z ",
            "2030-01-01T00:00:00+08:00:00",
        ] {
            assert_eq!(
                parse_timestamp(malformed),
                Err(TimestampError::Malformed),
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn dates_are_read_as_the_pattern_says() {
        assert_eq!(parse_date("2026-07-14").unwrap().to_string(), "2026-07-14");
        assert_eq!(parse_date("2026-02-30"), Err(TimestampError::NoSuchTime));
        for malformed in [
            "",
            "2026-7-14",
            "-262144-01-01",
            "+262142-12-31",
            "2026-13-01",
            "2026-07-14 ",
        ] {
            assert_eq!(
                parse_date(malformed),
                Err(TimestampError::Malformed),
                "{malformed:?}"
            );
        }
    }

    proptest::proptest! {
        /// Whatever the contract's pattern generates has the shape the parser reads.
        #[test]
        fn what_the_pattern_generates_is_never_malformed(
            s in proptest::string::string_regex(
                TIMESTAMP_PATTERN.trim_start_matches('^').trim_end_matches('$')
            ).unwrap()
        ) {
            proptest::prop_assert_ne!(parse_timestamp(&s), Err(TimestampError::Malformed), "{:?}", s);
        }
    }
}
