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
}
