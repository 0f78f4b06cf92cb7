//! Rest stations (驿站) for gig workers: their kinds, amenities and status, and their
//! opening hours in Beijing time (Asia/Shanghai).
//!
//! # Opening hours
//!
//! Hours are a weekly schedule plus dated exceptions (holidays, special days), stored and
//! sent as JSON:
//!
//! ```json
//! {
//!   "weekly": {"mon": [{"open": "08:00", "close": "22:00"}], "tue": [],
//!              "wed": [{"open": "20:00", "close": "02:00"}], "thu": [{"open": "02:00", "close": "24:00"}]},
//!   "exceptions": [{"date": "2026-10-01", "spans": []},
//!                  {"date": "2026-10-02", "spans": [{"open": "10:00", "close": "16:00"}]}]
//! }
//! ```
//!
//! - Times are strictly `HH:MM` with two digits each (`"8:00"` is rejected). `open` is
//!   `00:00`–`23:59`, `close` is `00:01`–`24:00`.
//! - A span is the half-open interval `[open, close)`: open at `open`, closed again at
//!   `close` exactly. `close < open` runs past midnight and ends at `close` on the next
//!   calendar day. `open == close` is rejected (a whole day is written `00:00`–`24:00`),
//!   so a single span lasts less than 24 hours unless it is the whole day.
//! - An empty list, or a missing weekday key, is a closed day. Unknown keys are rejected.
//! - At most [`MAX_SPANS_PER_DAY`] spans a day, at most [`MAX_EXCEPTIONS`] exceptions,
//!   no date twice.
//! - No two spans may overlap in time, ever: not within a day, and not an overnight span
//!   of one day with the early spans of the next (under the weekly rules, and around every
//!   exception date). Spans may touch (`20:00`–`02:00` then `02:00`–`10:00` next day).
//!
//! **The rule.** An exception on day D replaces the weekly rules for the spans *starting*
//! on D. A span that started on D-1 runs to its end under D-1's rules (D-1's exception if
//! it has one, else its weekday's), even when D has an exception: a holiday closure on D
//! does not cut short the night shift that began at 20:00 on D-1.
//!
//! Evaluation uses Beijing wall-clock time (Asia/Shanghai has had no daylight saving since
//! 1991, so wall-clock and elapsed time agree for any instant that matters).

mod amenity;
mod hours;
pub mod index;
#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc, Weekday};
use serde::{Deserialize, Serialize};

pub use amenity::{Amenity, AmenitySet};
use hours::{clip, weekday_key, weekday_label_zh};
pub use hours::{ExceptionSpec, HoursSpec, OpeningHours, Span, SpanSpec, Steady, WeeklySpec};

/// The most spans one day may have.
pub const MAX_SPANS_PER_DAY: usize = 6;
/// The most dated exceptions one station may have.
pub const MAX_EXCEPTIONS: usize = 400;

const MINUTES_PER_DAY: u16 = 24 * 60;
/// The longest user-supplied string echoed back in an error.
const ECHO_LIMIT: usize = 32;

/// What kind of station it is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationType {
    /// A fixed rest station (驿站).
    Fixed,
    /// A station on wheels that moves between sites (流动驿站).
    Movable,
    /// A union "workers' home" (职工之家).
    WorkersHome,
    /// A shop that lets workers rest and recharge (合作商户).
    PartnerShop,
}

impl StationType {
    pub const ALL: [StationType; 4] = [
        Self::Fixed,
        Self::Movable,
        Self::WorkersHome,
        Self::PartnerShop,
    ];

    /// The wire and database form, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fixed => "fixed",
            Self::Movable => "movable",
            Self::WorkersHome => "workers_home",
            Self::PartnerShop => "partner_shop",
        }
    }

    /// The inverse of [`StationType::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Fixed => "驿站",
            Self::Movable => "流动驿站",
            Self::WorkersHome => "职工之家",
            Self::PartnerShop => "合作商户",
        }
    }
}

/// Whether a station is operating at all (its hours apply only when it is).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StationStatus {
    Open,
    /// Closed for now (renovation, an outbreak); may carry a reopening time.
    TemporarilyClosed,
    /// Closed for good.
    Closed,
}

impl StationStatus {
    pub const ALL: [StationStatus; 3] = [Self::Open, Self::TemporarilyClosed, Self::Closed];

    /// The wire and database form, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::TemporarilyClosed => "temporarily_closed",
            Self::Closed => "closed",
        }
    }

    /// The inverse of [`StationStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::Open => "正常开放",
            Self::TemporarilyClosed => "暂停开放",
            Self::Closed => "已关闭",
        }
    }
}

/// [`open_now`] with the wall-clock time in Asia/Shanghai already converted (`local` is
/// `at` in Asia/Shanghai).
pub fn open_now_local(
    status: StationStatus,
    reopens_at: Option<DateTime<Utc>>,
    hours: &OpeningHours,
    at: DateTime<Utc>,
    local: NaiveDateTime,
) -> bool {
    match status {
        StationStatus::Closed => false,
        StationStatus::TemporarilyClosed => match reopens_at {
            Some(reopens) if at >= reopens => hours.is_open_local(local),
            _ => false,
        },
        StationStatus::Open => hours.is_open_local(local),
    }
}

/// Whether a station is open at `at`: `Closed` never is; `TemporarilyClosed` is not until
/// `reopens_at` (when set and reached, the hours decide); `Open` follows its hours.
pub fn open_now(
    status: StationStatus,
    reopens_at: Option<DateTime<Utc>>,
    hours: &OpeningHours,
    at: DateTime<Utc>,
) -> bool {
    match status {
        StationStatus::Closed => false,
        StationStatus::TemporarilyClosed => match reopens_at {
            Some(reopens) if at >= reopens => hours.is_open_at(at),
            _ => false,
        },
        StationStatus::Open => hours.is_open_at(at),
    }
}

/// The day an error is about: a weekday of the weekly rules, or an exception's date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRef {
    Weekday(Weekday),
    Date(NaiveDate),
}

impl DayRef {
    pub fn label_zh(self) -> String {
        match self {
            Self::Weekday(w) => weekday_label_zh(w).to_owned(),
            Self::Date(d) => d.format("%Y-%m-%d").to_string(),
        }
    }
}

impl fmt::Display for DayRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Weekday(w) => f.write_str(weekday_key(*w)),
            Self::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
        }
    }
}

/// Which end of a span a bad time was given for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    Open,
    Close,
}

impl fmt::Display for TimeField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Open => "open",
            Self::Close => "close",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StationError {
    #[error("opening hours are not in the expected JSON shape: {reason}")]
    HoursMalformed { reason: String },
    #[error("{day}: {field} time {value:?} is not HH:MM within range")]
    InvalidTime {
        day: DayRef,
        field: TimeField,
        value: String,
    },
    #[error("{day}: a span opens and closes at {at}; a whole day is 00:00-24:00")]
    EmptySpan { day: DayRef, at: String },
    #[error("{day}: {count} spans, at most {} a day", MAX_SPANS_PER_DAY)]
    TooManySpans { day: DayRef, count: usize },
    #[error("{first_day} {first} overlaps {second_day} {second}")]
    Overlap {
        first_day: DayRef,
        first: Span,
        second_day: DayRef,
        second: Span,
    },
    #[error("exception date {value:?} is not a YYYY-MM-DD date")]
    InvalidDate { value: String },
    #[error("{count} exception dates, at most {}", MAX_EXCEPTIONS)]
    TooManyExceptions { count: usize },
    #[error("exception date {date} is given more than once")]
    DuplicateException { date: NaiveDate },
    #[error("empty item in the amenity list")]
    EmptyAmenity,
    #[error("unknown amenity {code:?}")]
    UnknownAmenity { code: String },
}

impl StationError {
    /// Whether this breaks a rule JSON Schema cannot state (spans that overlap or are empty,
    /// a date that does not exist, a date given twice), as opposed to a shape the contract's
    /// schema already refuses (times have exact patterns): answered 422 rather than 400.
    pub fn is_rule(&self) -> bool {
        matches!(
            self,
            Self::EmptySpan { .. }
                | Self::Overlap { .. }
                | Self::InvalidDate { .. }
                | Self::DuplicateException { .. }
        )
    }

    /// A stable machine-readable code. Every opening-hours error starts `station.hours_`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::HoursMalformed { .. } => "station.hours_malformed",
            Self::InvalidTime { .. } => "station.hours_invalid_time",
            Self::EmptySpan { .. } => "station.hours_empty_span",
            Self::TooManySpans { .. } => "station.hours_too_many_spans",
            Self::Overlap { .. } => "station.hours_overlap",
            Self::InvalidDate { .. } => "station.hours_invalid_date",
            Self::TooManyExceptions { .. } => "station.hours_too_many_exceptions",
            Self::DuplicateException { .. } => "station.hours_duplicate_exception",
            Self::EmptyAmenity => "station.amenity_empty",
            Self::UnknownAmenity { .. } => "station.amenity_unknown",
        }
    }

    /// A zh-CN message for the user.
    pub fn detail(&self) -> String {
        const PREFIX: &str = "营业时间格式不正确";
        match self {
            Self::HoursMalformed { reason } => format!("{PREFIX}：{reason}"),
            Self::InvalidTime { day, field, value } => {
                let (name, range) = match field {
                    TimeField::Open => ("开始时间", "00:00–23:59"),
                    TimeField::Close => ("结束时间", "00:01–24:00"),
                };
                format!(
                    "{PREFIX}：{}的{name}“{value}”应为 {range} 之间的 HH:MM",
                    day.label_zh()
                )
            }
            Self::EmptySpan { day, at } => format!(
                "{PREFIX}：{}的时段开始与结束时间都是 {at}；全天营业请填写 00:00–24:00",
                day.label_zh()
            ),
            Self::TooManySpans { day, count } => format!(
                "{PREFIX}：{}有 {count} 个时段，每天最多 {MAX_SPANS_PER_DAY} 个",
                day.label_zh()
            ),
            Self::Overlap {
                first_day,
                first,
                second_day,
                second,
            } => {
                if first_day == second_day {
                    format!(
                        "{PREFIX}：{}的时段 {first} 与 {second} 重叠",
                        first_day.label_zh()
                    )
                } else {
                    format!(
                        "{PREFIX}：{}的跨夜时段 {first} 与{}的时段 {second} 重叠",
                        first_day.label_zh(),
                        second_day.label_zh()
                    )
                }
            }
            Self::InvalidDate { value } => {
                format!("{PREFIX}：特殊日期“{value}”应为 YYYY-MM-DD 格式的日期")
            }
            Self::TooManyExceptions { count } => {
                format!("{PREFIX}：特殊日期有 {count} 个，最多 {MAX_EXCEPTIONS} 个")
            }
            Self::DuplicateException { date } => {
                format!("{PREFIX}：特殊日期 {} 重复", date.format("%Y-%m-%d"))
            }
            Self::EmptyAmenity => "设施列表格式不正确：不能有空项".to_owned(),
            Self::UnknownAmenity { code } => format!("未知的设施类型：{code}"),
        }
    }
}

/// Whether a report still needs a manager.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportStatus {
    Open,
    Resolved,
}

impl ReportStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Resolved => "resolved",
        }
    }
}

/// What a worker can report about a station.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    ClosedWhenOpen,
    AmenityMissing,
    WrongLocation,
    UnsafeOrDirty,
    Other,
}

impl ReportKind {
    pub const ALL: [ReportKind; 5] = [
        ReportKind::ClosedWhenOpen,
        ReportKind::AmenityMissing,
        ReportKind::WrongLocation,
        ReportKind::UnsafeOrDirty,
        ReportKind::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::ClosedWhenOpen => "closed_when_open",
            ReportKind::AmenityMissing => "amenity_missing",
            ReportKind::WrongLocation => "wrong_location",
            ReportKind::UnsafeOrDirty => "unsafe_or_dirty",
            ReportKind::Other => "other",
        }
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            ReportKind::ClosedWhenOpen => "显示营业但实际关门",
            ReportKind::AmenityMissing => "设施缺失或损坏",
            ReportKind::WrongLocation => "位置不准确",
            ReportKind::UnsafeOrDirty => "卫生或安全问题",
            ReportKind::Other => "其他问题",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}
