//! When periodic jobs run: every fixed interval, or daily at a time in Asia/Shanghai.

use std::time::Duration;

use chrono::{DateTime, Duration as Span, NaiveTime, Utc};
use gongyou_domain::time::{china_local, from_china_local};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schedule {
    /// Periods of this length, counted from the Unix epoch.
    Every(Duration),
    /// Once a day at this Beijing time.
    DailyAt { hour: u32, minute: u32 },
}

impl Schedule {
    /// The start of the period `now` falls in.
    pub fn period_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        match *self {
            Schedule::Every(every) => {
                let ms = i64::try_from(every.as_millis()).unwrap_or(i64::MAX).max(1);
                let start = now.timestamp_millis().div_euclid(ms) * ms;
                DateTime::from_timestamp_millis(start).unwrap_or(now)
            }
            Schedule::DailyAt { hour, minute } => {
                let at =
                    NaiveTime::from_hms_opt(hour.min(23), minute.min(59), 0).unwrap_or_default();
                let today = from_china_local(china_local(now).date().and_time(at));
                if today <= now {
                    today
                } else {
                    today - Span::days(1)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn fixed_periods() {
        let s = Schedule::Every(Duration::from_secs(600));
        assert_eq!(
            s.period_start(at("2026-07-15T14:07:30+08:00")),
            at("2026-07-15T14:00:00+08:00")
        );
        assert_eq!(
            s.period_start(at("2026-07-15T14:10:00+08:00")),
            at("2026-07-15T14:10:00+08:00")
        );
    }

    #[test]
    fn daily_at_beijing_time() {
        let s = Schedule::DailyAt {
            hour: 2,
            minute: 30,
        };
        // 01:00 Beijing is before today's 02:30: the period began yesterday.
        assert_eq!(
            s.period_start(at("2026-07-15T01:00:00+08:00")),
            at("2026-07-14T02:30:00+08:00")
        );
        assert_eq!(
            s.period_start(at("2026-07-15T02:30:00+08:00")),
            at("2026-07-15T02:30:00+08:00")
        );
        assert_eq!(
            s.period_start(at("2026-07-15T23:59:00+08:00")),
            at("2026-07-15T02:30:00+08:00")
        );
    }
}
