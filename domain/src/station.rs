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

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc, Weekday};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most spans one day may have.
pub const MAX_SPANS_PER_DAY: usize = 6;
/// The most dated exceptions one station may have.
pub const MAX_EXCEPTIONS: usize = 400;

const MINUTES_PER_DAY: u16 = 24 * 60;
/// The longest user-supplied string echoed back in an error.
const ECHO_LIMIT: usize = 32;

/// What kind of station it is.
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

/// What a station offers. The discriminant is the bit index in [`AmenitySet`], which is
/// stored: never renumber, only append.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Amenity {
    DrinkingWater = 0,
    HotWater = 1,
    PhoneCharging = 2,
    EbikeCharging = 3,
    BatterySwap = 4,
    Microwave = 5,
    Fridge = 6,
    AirConditioning = 7,
    Heating = 8,
    Restroom = 9,
    Wifi = 10,
    FirstAidKit = 11,
    Medicines = 12,
    Seating = 13,
    Books = 14,
    RepairTools = 15,
    LegalAid = 16,
    Shower = 17,
    Lockers = 18,
}

impl Amenity {
    /// Every amenity, in bit order.
    pub const ALL: [Amenity; 19] = [
        Self::DrinkingWater,
        Self::HotWater,
        Self::PhoneCharging,
        Self::EbikeCharging,
        Self::BatterySwap,
        Self::Microwave,
        Self::Fridge,
        Self::AirConditioning,
        Self::Heating,
        Self::Restroom,
        Self::Wifi,
        Self::FirstAidKit,
        Self::Medicines,
        Self::Seating,
        Self::Books,
        Self::RepairTools,
        Self::LegalAid,
        Self::Shower,
        Self::Lockers,
    ];

    /// The wire and database form, as serde writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DrinkingWater => "drinking_water",
            Self::HotWater => "hot_water",
            Self::PhoneCharging => "phone_charging",
            Self::EbikeCharging => "ebike_charging",
            Self::BatterySwap => "battery_swap",
            Self::Microwave => "microwave",
            Self::Fridge => "fridge",
            Self::AirConditioning => "air_conditioning",
            Self::Heating => "heating",
            Self::Restroom => "restroom",
            Self::Wifi => "wifi",
            Self::FirstAidKit => "first_aid_kit",
            Self::Medicines => "medicines",
            Self::Seating => "seating",
            Self::Books => "books",
            Self::RepairTools => "repair_tools",
            Self::LegalAid => "legal_aid",
            Self::Shower => "shower",
            Self::Lockers => "lockers",
        }
    }

    /// The inverse of [`Amenity::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    pub fn label_zh(self) -> &'static str {
        match self {
            Self::DrinkingWater => "饮用水",
            Self::HotWater => "热水",
            Self::PhoneCharging => "手机充电",
            Self::EbikeCharging => "电动车充电",
            Self::BatterySwap => "换电",
            Self::Microwave => "微波炉",
            Self::Fridge => "冰箱",
            Self::AirConditioning => "空调",
            Self::Heating => "暖气",
            Self::Restroom => "卫生间",
            Self::Wifi => "无线网络",
            Self::FirstAidKit => "急救箱",
            Self::Medicines => "常用药品",
            Self::Seating => "休息座椅",
            Self::Books => "图书",
            Self::RepairTools => "维修工具",
            Self::LegalAid => "法律援助",
            Self::Shower => "淋浴",
            Self::Lockers => "储物柜",
        }
    }

    /// This amenity's bit in [`AmenitySet::bits`]: `1 << index in ALL`.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of amenities, held as a bitmask (see [`Amenity::bit`]). JSON: an array of codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct AmenitySet(u32);

/// The bits of every known amenity.
const KNOWN_AMENITY_BITS: u32 = (1 << Amenity::ALL.len()) - 1;

impl AmenitySet {
    pub const EMPTY: AmenitySet = AmenitySet(0);

    /// The set from stored bits; bits of no known amenity are dropped.
    pub fn from_bits(bits: u32) -> Self {
        Self(bits & KNOWN_AMENITY_BITS)
    }

    /// The stored form.
    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn insert(&mut self, amenity: Amenity) {
        self.0 |= amenity.bit();
    }

    pub fn remove(&mut self, amenity: Amenity) {
        self.0 &= !amenity.bit();
    }

    pub fn contains(self, amenity: Amenity) -> bool {
        self.0 & amenity.bit() != 0
    }

    /// Whether every amenity of `other` is in this set (a search filter: "has all of").
    pub fn contains_all(self, other: AmenitySet) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The amenities in the set, in [`Amenity::ALL`] order.
    pub fn iter(self) -> impl Iterator<Item = Amenity> {
        Amenity::ALL.into_iter().filter(move |a| self.contains(*a))
    }

    /// Parses a comma-separated query value such as `drinking_water,phone_charging`.
    /// Items are trimmed; an empty item (including an empty string) or an unknown code is
    /// an error. Repeated codes are accepted.
    pub fn parse_list(s: &str) -> Result<Self, StationError> {
        let mut set = Self::EMPTY;
        for item in s.split(',') {
            let item = item.trim();
            if item.is_empty() {
                return Err(StationError::EmptyAmenity);
            }
            let amenity = Amenity::parse(item)
                .ok_or_else(|| StationError::UnknownAmenity { code: clip(item) })?;
            set.insert(amenity);
        }
        Ok(set)
    }
}

impl FromIterator<Amenity> for AmenitySet {
    fn from_iter<I: IntoIterator<Item = Amenity>>(iter: I) -> Self {
        let mut set = Self::EMPTY;
        set.extend(iter);
        set
    }
}

impl Extend<Amenity> for AmenitySet {
    fn extend<I: IntoIterator<Item = Amenity>>(&mut self, iter: I) {
        for amenity in iter {
            self.insert(amenity);
        }
    }
}

impl Serialize for AmenitySet {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for AmenitySet {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let codes = Vec::<Amenity>::deserialize(deserializer)?;
        Ok(codes.into_iter().collect())
    }
}

/// Whether a station is operating at all (its hours apply only when it is).
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

/// One opening span in local (Beijing) time: the half-open interval `[open, close)`,
/// ending at `close` on the next day when `close < open` (overnight). `open == close` is
/// never a span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Span {
    /// Minutes after midnight, 0..=1439.
    open: u16,
    /// Minutes after midnight, 1..=1440.
    close: u16,
}

impl Span {
    /// `00:00`–`24:00`.
    pub const ALL_DAY: Span = Span {
        open: 0,
        close: MINUTES_PER_DAY,
    };

    /// A span from minutes after midnight: `open` in 0..=1439, `close` in 1..=1440, and
    /// `open != close`.
    pub fn new(open: u16, close: u16) -> Option<Self> {
        (open < MINUTES_PER_DAY && (1..=MINUTES_PER_DAY).contains(&close) && open != close)
            .then_some(Self { open, close })
    }

    /// A span from two strict `HH:MM` strings.
    pub fn parse(open: &str, close: &str) -> Option<Self> {
        Self::new(parse_hhmm(open)?, parse_hhmm(close)?)
    }

    /// Minutes after midnight the span opens, 0..=1439.
    pub fn open_minute(self) -> u16 {
        self.open
    }

    /// Minutes after midnight (of the next day when overnight) the span closes, 1..=1440.
    pub fn close_minute(self) -> u16 {
        self.close
    }

    /// Whether the span runs past midnight into the next day.
    pub fn is_overnight(self) -> bool {
        self.close < self.open
    }

    pub fn duration_minutes(self) -> u16 {
        if self.is_overnight() {
            MINUTES_PER_DAY - self.open + self.close
        } else {
            self.close - self.open
        }
    }

    /// `"08:00"`.
    pub fn open_hhmm(self) -> String {
        format_hhmm(self.open)
    }

    /// `"22:00"`, `"24:00"`.
    pub fn close_hhmm(self) -> String {
        format_hhmm(self.close)
    }

    /// Where the span ends on its own starting day, in minutes.
    fn same_day_end(self) -> u16 {
        if self.is_overnight() {
            MINUTES_PER_DAY
        } else {
            self.close
        }
    }

    /// Where the span ends measured from its starting day's midnight (past 1440 when
    /// overnight).
    fn absolute_end(self) -> u16 {
        if self.is_overnight() {
            MINUTES_PER_DAY + self.close
        } else {
            self.close
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}–{}", self.open_hhmm(), self.close_hhmm())
    }
}

impl From<Span> for SpanSpec {
    fn from(span: Span) -> Self {
        SpanSpec {
            open: span.open_hhmm(),
            close: span.close_hhmm(),
        }
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        SpanSpec::from(*self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spec = SpanSpec::deserialize(deserializer)?;
        Span::parse(&spec.open, &spec.close).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "not an opening span: {:?}-{:?}",
                clip(&spec.open),
                clip(&spec.close)
            ))
        })
    }
}

/// The unvalidated JSON form of [`OpeningHours`], as a request or the database holds it.
/// Turn it into [`OpeningHours`] with `try_from` to get a typed [`StationError`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursSpec {
    pub weekly: WeeklySpec,
    #[serde(default)]
    pub exceptions: Vec<ExceptionSpec>,
}

/// The weekly rules; a missing key is a closed day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklySpec {
    #[serde(default)]
    pub mon: Vec<SpanSpec>,
    #[serde(default)]
    pub tue: Vec<SpanSpec>,
    #[serde(default)]
    pub wed: Vec<SpanSpec>,
    #[serde(default)]
    pub thu: Vec<SpanSpec>,
    #[serde(default)]
    pub fri: Vec<SpanSpec>,
    #[serde(default)]
    pub sat: Vec<SpanSpec>,
    #[serde(default)]
    pub sun: Vec<SpanSpec>,
}

impl WeeklySpec {
    pub fn day(&self, weekday: Weekday) -> &Vec<SpanSpec> {
        match weekday {
            Weekday::Mon => &self.mon,
            Weekday::Tue => &self.tue,
            Weekday::Wed => &self.wed,
            Weekday::Thu => &self.thu,
            Weekday::Fri => &self.fri,
            Weekday::Sat => &self.sat,
            Weekday::Sun => &self.sun,
        }
    }

    pub fn day_mut(&mut self, weekday: Weekday) -> &mut Vec<SpanSpec> {
        match weekday {
            Weekday::Mon => &mut self.mon,
            Weekday::Tue => &mut self.tue,
            Weekday::Wed => &mut self.wed,
            Weekday::Thu => &mut self.thu,
            Weekday::Fri => &mut self.fri,
            Weekday::Sat => &mut self.sat,
            Weekday::Sun => &mut self.sun,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanSpec {
    pub open: String,
    pub close: String,
}

/// A dated exception; `spans: []` closes the day.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionSpec {
    pub date: String,
    pub spans: Vec<SpanSpec>,
}

/// The spans starting on one day, sorted by opening time, in a fixed inline array so a
/// lookup touches one cache line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DayRules {
    spans: [Span; MAX_SPANS_PER_DAY],
    len: u8,
    /// Minutes into the next day this day's overnight span covers (`[0, tail_end)`);
    /// 0 when there is none. A day has at most one overnight span (two would overlap).
    tail_end: u16,
}

impl DayRules {
    const FILLER: Span = Span { open: 0, close: 0 };

    const CLOSED: DayRules = DayRules {
        spans: [Self::FILLER; MAX_SPANS_PER_DAY],
        len: 0,
        tail_end: 0,
    };

    const ALL_DAY: DayRules = DayRules {
        spans: [
            Span::ALL_DAY,
            Self::FILLER,
            Self::FILLER,
            Self::FILLER,
            Self::FILLER,
            Self::FILLER,
        ],
        len: 1,
        tail_end: 0,
    };

    /// Sorts, checks the count and same-day overlaps.
    fn build(day: DayRef, mut spans: Vec<Span>) -> Result<Self, StationError> {
        if spans.len() > MAX_SPANS_PER_DAY {
            return Err(StationError::TooManySpans {
                day,
                count: spans.len(),
            });
        }
        spans.sort_by_key(|s| (s.open, s.close));
        let mut rules = Self::CLOSED;
        let mut previous: Option<Span> = None;
        for (slot, span) in rules.spans.iter_mut().zip(&spans) {
            if let Some(prev) = previous {
                // Sorted by start, so checking neighbours finds every overlap.
                if prev.absolute_end() > span.open {
                    return Err(StationError::Overlap {
                        first_day: day,
                        first: prev,
                        second_day: day,
                        second: *span,
                    });
                }
            }
            *slot = *span;
            previous = Some(*span);
            if span.is_overnight() {
                rules.tail_end = span.close;
            }
        }
        rules.len = spans.len() as u8;
        Ok(rules)
    }

    fn spans(&self) -> &[Span] {
        &self.spans[..usize::from(self.len)]
    }

    fn overnight(&self) -> Option<Span> {
        self.spans().last().copied().filter(|s| s.is_overnight())
    }

    /// Whether a span starting this day covers `minute` of this day.
    fn covers(&self, minute: u16) -> bool {
        for span in self.spans() {
            if span.open > minute {
                return false;
            }
            if minute < span.same_day_end() {
                return true;
            }
        }
        false
    }

    /// Whether this day is open every minute, given the previous day's overnight tail.
    fn covers_whole_day(&self, prev_tail_end: u16) -> bool {
        let mut until = prev_tail_end;
        for span in self.spans() {
            if span.open > until {
                return false;
            }
            until = until.max(span.same_day_end());
        }
        until >= MINUTES_PER_DAY
    }
}

/// Validated opening hours (see the module docs for the format and the rules).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "HoursSpec", into = "HoursSpec")]
pub struct OpeningHours {
    /// Indexed by days from Monday.
    weekly: [DayRules; 7],
    /// Sorted, distinct; binary-searched.
    exception_dates: Vec<NaiveDate>,
    /// Parallel to `exception_dates`.
    exception_rules: Vec<DayRules>,
    /// Precomputed: open every minute of every day.
    always_open: bool,
}

impl OpeningHours {
    /// Open 24 hours every day.
    pub fn always() -> Self {
        Self {
            weekly: [DayRules::ALL_DAY; 7],
            exception_dates: Vec::new(),
            exception_rules: Vec::new(),
            always_open: true,
        }
    }

    /// The same spans every day of the week, no exceptions.
    pub fn weekly_same(spans: &[Span]) -> Result<Self, StationError> {
        Self::new(std::array::from_fn(|_| spans.to_vec()), Vec::new())
    }

    /// Hours from already-parsed spans: `weekly` indexed Monday first, `exceptions` in any
    /// order. Checks the limits, duplicates and overlaps.
    pub fn new(
        weekly: [Vec<Span>; 7],
        exceptions: Vec<(NaiveDate, Vec<Span>)>,
    ) -> Result<Self, StationError> {
        if exceptions.len() > MAX_EXCEPTIONS {
            return Err(StationError::TooManyExceptions {
                count: exceptions.len(),
            });
        }
        let mut week = [DayRules::CLOSED; 7];
        for ((rules, spans), weekday) in week.iter_mut().zip(weekly).zip(WEEKDAYS) {
            *rules = DayRules::build(DayRef::Weekday(weekday), spans)?;
        }
        let mut exceptions = exceptions;
        exceptions.sort_by_key(|(date, _)| *date);
        let mut exception_dates = Vec::with_capacity(exceptions.len());
        let mut exception_rules = Vec::with_capacity(exceptions.len());
        for (date, spans) in exceptions {
            if exception_dates.last() == Some(&date) {
                return Err(StationError::DuplicateException { date });
            }
            exception_rules.push(DayRules::build(DayRef::Date(date), spans)?);
            exception_dates.push(date);
        }
        let mut hours = Self {
            weekly: week,
            exception_dates,
            exception_rules,
            always_open: false,
        };
        hours.check_carry_overs()?;
        hours.always_open = hours.compute_always_open();
        Ok(hours)
    }

    /// Parses the stored or submitted JSON, with typed errors.
    pub fn from_json(value: &serde_json::Value) -> Result<Self, StationError> {
        let spec = HoursSpec::deserialize(value).map_err(|e| StationError::HoursMalformed {
            reason: e.to_string().chars().take(200).collect(),
        })?;
        Self::try_from(spec)
    }

    /// The JSON form, weekdays all present (closed days as `[]`), spans and exceptions
    /// sorted.
    pub fn to_spec(&self) -> HoursSpec {
        let to_specs =
            |rules: &DayRules| rules.spans().iter().map(|s| SpanSpec::from(*s)).collect();
        let mut weekly = WeeklySpec::default();
        for (weekday, rules) in WEEKDAYS.into_iter().zip(&self.weekly) {
            *weekly.day_mut(weekday) = to_specs(rules);
        }
        let exceptions = self
            .exception_dates
            .iter()
            .zip(&self.exception_rules)
            .map(|(date, rules)| ExceptionSpec {
                date: date.format("%Y-%m-%d").to_string(),
                spans: to_specs(rules),
            })
            .collect();
        HoursSpec { weekly, exceptions }
    }

    /// The weekly spans of a weekday, sorted by opening time.
    pub fn weekly(&self, weekday: Weekday) -> &[Span] {
        self.weekly[weekday_index(weekday)].spans()
    }

    /// The exceptions, sorted by date.
    pub fn exceptions(&self) -> impl Iterator<Item = (NaiveDate, &[Span])> {
        self.exception_dates
            .iter()
            .copied()
            .zip(self.exception_rules.iter().map(DayRules::spans))
    }

    /// The spans starting on `date` (its exception's, else its weekday's), sorted.
    pub fn spans_on(&self, date: NaiveDate) -> &[Span] {
        self.rules_for(date).spans()
    }

    /// "Today's hours" for display: the spans starting on `date`.
    pub fn hours_on(&self, date: NaiveDate) -> Vec<Span> {
        self.spans_on(date).to_vec()
    }

    /// The overnight span that started the day before `date` and runs into it, if any.
    pub fn overnight_into(&self, date: NaiveDate) -> Option<Span> {
        self.rules_for(date.pred_opt()?).overnight()
    }

    /// Whether the station is open every minute of every day.
    pub fn always_open(&self) -> bool {
        self.always_open
    }

    /// Whether `at` falls in a span (`[open, close)` in Beijing time). Two date lookups
    /// (binary search when there are exceptions) and at most a handful of comparisons.
    pub fn is_open_at(&self, at: DateTime<Utc>) -> bool {
        if self.always_open {
            return true;
        }
        self.is_open_local(at.with_timezone(&Shanghai).naive_local())
    }

    /// [`Self::is_open_at`] for a wall-clock time in Asia/Shanghai already converted (a
    /// search converts once, then asks hundreds of stations).
    pub fn is_open_local(&self, local: NaiveDateTime) -> bool {
        if self.always_open {
            return true;
        }
        let date = local.date();
        let minute = (local.hour() * 60 + local.minute()) as u16;
        if let Some(previous) = date.pred_opt() {
            if minute < self.rules_for(previous).tail_end {
                return true;
            }
        }
        self.rules_for(date).covers(minute)
    }

    fn rules_for(&self, date: NaiveDate) -> &DayRules {
        if !self.exception_dates.is_empty() {
            if let Ok(i) = self.exception_dates.binary_search(&date) {
                return &self.exception_rules[i];
            }
        }
        &self.weekly[weekday_index(date.weekday())]
    }

    /// Rejects an overnight span running into the next day's early spans: between
    /// consecutive weekdays, and around every exception date.
    fn check_carry_overs(&self) -> Result<(), StationError> {
        for (i, weekday) in WEEKDAYS.into_iter().enumerate() {
            let next = (i + 1) % 7;
            check_carry(
                DayRef::Weekday(weekday),
                &self.weekly[i],
                DayRef::Weekday(WEEKDAYS[next]),
                &self.weekly[next],
            )?;
        }
        for (date, rules) in self.exception_dates.iter().zip(&self.exception_rules) {
            if let Some(previous) = date.pred_opt() {
                check_carry(
                    DayRef::Date(previous),
                    self.rules_for(previous),
                    DayRef::Date(*date),
                    rules,
                )?;
            }
            if let Some(next) = date.succ_opt() {
                check_carry(
                    DayRef::Date(*date),
                    rules,
                    DayRef::Date(next),
                    self.rules_for(next),
                )?;
            }
        }
        Ok(())
    }

    fn compute_always_open(&self) -> bool {
        let weekly =
            (0..7).all(|i| self.weekly[i].covers_whole_day(self.weekly[(i + 6) % 7].tail_end));
        weekly
            && self
                .exception_dates
                .iter()
                .zip(&self.exception_rules)
                .all(|(date, rules)| {
                    let prev_tail = date.pred_opt().map_or(0, |p| self.rules_for(p).tail_end);
                    rules.covers_whole_day(prev_tail)
                        && date
                            .succ_opt()
                            .is_none_or(|n| self.rules_for(n).covers_whole_day(rules.tail_end))
                })
    }
}

impl TryFrom<HoursSpec> for OpeningHours {
    type Error = StationError;

    fn try_from(spec: HoursSpec) -> Result<Self, StationError> {
        if spec.exceptions.len() > MAX_EXCEPTIONS {
            return Err(StationError::TooManyExceptions {
                count: spec.exceptions.len(),
            });
        }
        let mut weekly: [Vec<Span>; 7] = Default::default();
        for (spans, weekday) in weekly.iter_mut().zip(WEEKDAYS) {
            *spans = parse_spans(DayRef::Weekday(weekday), spec.weekly.day(weekday))?;
        }
        let mut exceptions = Vec::with_capacity(spec.exceptions.len());
        for exception in &spec.exceptions {
            let date = parse_date(&exception.date).ok_or_else(|| StationError::InvalidDate {
                value: clip(&exception.date),
            })?;
            exceptions.push((date, parse_spans(DayRef::Date(date), &exception.spans)?));
        }
        Self::new(weekly, exceptions)
    }
}

impl From<OpeningHours> for HoursSpec {
    fn from(hours: OpeningHours) -> Self {
        hours.to_spec()
    }
}

const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

fn weekday_index(weekday: Weekday) -> usize {
    weekday.num_days_from_monday() as usize
}

fn weekday_key(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn weekday_label_zh(weekday: Weekday) -> &'static str {
    match weekday {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    }
}

fn check_carry(
    day: DayRef,
    rules: &DayRules,
    next_day: DayRef,
    next_rules: &DayRules,
) -> Result<(), StationError> {
    if let (Some(night), Some(first)) = (rules.overnight(), next_rules.spans().first()) {
        if first.open < night.close {
            return Err(StationError::Overlap {
                first_day: day,
                first: night,
                second_day: next_day,
                second: *first,
            });
        }
    }
    Ok(())
}

fn parse_spans(day: DayRef, specs: &[SpanSpec]) -> Result<Vec<Span>, StationError> {
    if specs.len() > MAX_SPANS_PER_DAY {
        return Err(StationError::TooManySpans {
            day,
            count: specs.len(),
        });
    }
    specs
        .iter()
        .map(|spec| {
            let invalid = |field, value: &str| StationError::InvalidTime {
                day,
                field,
                value: clip(value),
            };
            let open = parse_hhmm(&spec.open)
                .filter(|m| *m < MINUTES_PER_DAY)
                .ok_or_else(|| invalid(TimeField::Open, &spec.open))?;
            let close = parse_hhmm(&spec.close)
                .filter(|m| *m > 0)
                .ok_or_else(|| invalid(TimeField::Close, &spec.close))?;
            Span::new(open, close).ok_or_else(|| StationError::EmptySpan {
                day,
                at: format_hhmm(open),
            })
        })
        .collect()
}

/// Strict `HH:MM`, 00:00 through 24:00.
fn parse_hhmm(s: &str) -> Option<u16> {
    let b = s.as_bytes();
    if b.len() != 5 || b[2] != b':' {
        return None;
    }
    let digit = |i: usize| b[i].is_ascii_digit().then(|| u16::from(b[i] - b'0'));
    let hours = digit(0)? * 10 + digit(1)?;
    let minutes = digit(3)? * 10 + digit(4)?;
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= MINUTES_PER_DAY).then_some(total)
}

fn format_hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Strict `YYYY-MM-DD`.
fn parse_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    let year = s.get(0..4)?.parse().ok()?;
    let month = s.get(5..7)?.parse().ok()?;
    let day = s.get(8..10)?.parse().ok()?;
    NaiveDate::from_ymd_opt(year, month, day)
}

/// A user-supplied string cut short enough to echo in an error.
fn clip(s: &str) -> String {
    if s.chars().count() <= ECHO_LIMIT {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(ECHO_LIMIT).collect();
        out.push('…');
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;
    use serde_json::json;

    /// A Beijing wall-clock instant, as UTC.
    fn bj(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .single()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn span(open: &str, close: &str) -> Span {
        Span::parse(open, close).unwrap()
    }

    fn hours(value: serde_json::Value) -> OpeningHours {
        OpeningHours::from_json(&value).unwrap()
    }

    fn error(value: serde_json::Value) -> StationError {
        OpeningHours::from_json(&value).unwrap_err()
    }

    // 2026-09-30 is a Wednesday, 2026-10-01 a Thursday.

    #[test]
    fn enums_round_trip() {
        for t in StationType::ALL {
            assert_eq!(StationType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert!(!t.label_zh().is_empty());
        }
        assert_eq!(StationType::WorkersHome.label_zh(), "职工之家");
        for s in StationStatus::ALL {
            assert_eq!(StationStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), json!(s.as_str()));
        }
        assert_eq!(StationStatus::parse("Open"), None);
        let mut bits = 0u32;
        for (i, a) in Amenity::ALL.into_iter().enumerate() {
            assert_eq!(Amenity::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), json!(a.as_str()));
            assert_eq!(a.bit(), 1 << i);
            assert!(!a.label_zh().is_empty());
            bits |= a.bit();
        }
        assert_eq!(bits, KNOWN_AMENITY_BITS);
        assert_eq!(Amenity::EbikeCharging.as_str(), "ebike_charging");
        assert_eq!(Amenity::Wifi.label_zh(), "无线网络");
    }

    #[test]
    fn amenity_sets() {
        let mut set = AmenitySet::from_iter([Amenity::Shower, Amenity::DrinkingWater]);
        set.insert(Amenity::PhoneCharging);
        assert!(set.contains(Amenity::Shower));
        assert!(!set.contains(Amenity::Books));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [
                Amenity::DrinkingWater,
                Amenity::PhoneCharging,
                Amenity::Shower
            ]
        );
        assert_eq!(set.len(), 3);
        let wanted = AmenitySet::parse_list("drinking_water,phone_charging").unwrap();
        assert!(set.contains_all(wanted));
        assert!(set.contains_all(AmenitySet::EMPTY));
        assert!(!wanted.contains_all(set));
        set.remove(Amenity::Shower);
        assert_eq!(set, wanted);
        assert_eq!(AmenitySet::from_bits(set.bits()), set);
        assert_eq!(AmenitySet::from_bits(u32::MAX).len(), Amenity::ALL.len());
        assert_eq!(AmenitySet::from_bits(1 << 31), AmenitySet::EMPTY);
        assert!(AmenitySet::default().is_empty());

        assert_eq!(
            AmenitySet::parse_list(" wifi , wifi")
                .unwrap()
                .iter()
                .collect::<Vec<_>>(),
            [Amenity::Wifi]
        );
        assert_eq!(AmenitySet::parse_list(""), Err(StationError::EmptyAmenity));
        assert_eq!(
            AmenitySet::parse_list("wifi,,books"),
            Err(StationError::EmptyAmenity)
        );
        let err = AmenitySet::parse_list("wifi,sauna").unwrap_err();
        assert_eq!(
            err,
            StationError::UnknownAmenity {
                code: "sauna".into()
            }
        );
        assert_eq!(err.code(), "station.amenity_unknown");
        assert_eq!(err.detail(), "未知的设施类型：sauna");

        let json = serde_json::to_value(wanted).unwrap();
        assert_eq!(json, json!(["drinking_water", "phone_charging"]));
        assert_eq!(serde_json::from_value::<AmenitySet>(json).unwrap(), wanted);
        assert!(serde_json::from_value::<AmenitySet>(json!(["wifi", "sauna"])).is_err());
        assert!(serde_json::from_value::<AmenitySet>(json!("wifi")).is_err());
    }

    #[test]
    fn spans_and_times() {
        assert_eq!(Span::parse("00:00", "24:00"), Some(Span::ALL_DAY));
        let night = span("20:00", "02:00");
        assert!(night.is_overnight());
        assert_eq!(night.duration_minutes(), 6 * 60);
        assert_eq!(night.to_string(), "20:00–02:00");
        assert_eq!(span("08:00", "24:00").close_hhmm(), "24:00");
        assert!(!span("08:00", "24:00").is_overnight());
        assert_eq!(Span::parse("08:00", "08:00"), None);
        assert_eq!(Span::parse("24:00", "02:00"), None);
        assert_eq!(Span::parse("20:00", "00:00"), None);
        for bad in [
            "8:00", "08:0", "25:00", "24:01", "12:60", "0800", "08-00", "０8:00", "", " 8:00",
        ] {
            assert_eq!(parse_hhmm(bad), None, "{bad}");
        }
        assert_eq!(
            serde_json::to_value(night).unwrap(),
            json!({"open": "20:00", "close": "02:00"})
        );
        assert_eq!(
            serde_json::from_value::<Span>(json!({"open": "20:00", "close": "02:00"})).unwrap(),
            night
        );
        assert!(
            serde_json::from_value::<Span>(json!({"open": "20:00", "close": "20:00"})).is_err()
        );
    }

    #[test]
    fn overnight_span_is_half_open() {
        let h = hours(json!({"weekly": {"wed": [{"open": "20:00", "close": "02:00"}]}}));
        assert!(!h.is_open_at(bj(2026, 9, 30, 19, 59, 59)));
        assert!(h.is_open_at(bj(2026, 9, 30, 20, 0, 0)));
        assert!(h.is_open_at(bj(2026, 9, 30, 23, 59, 59)));
        assert!(h.is_open_at(bj(2026, 10, 1, 0, 0, 0)));
        assert!(h.is_open_at(bj(2026, 10, 1, 1, 0, 0)));
        assert!(h.is_open_at(bj(2026, 10, 1, 1, 59, 59)));
        assert!(!h.is_open_at(bj(2026, 10, 1, 2, 0, 0)));
        assert!(!h.is_open_at(bj(2026, 10, 1, 20, 0, 0)));
        assert_eq!(h.spans_on(date(2026, 9, 30)), [span("20:00", "02:00")]);
        assert!(h.hours_on(date(2026, 10, 1)).is_empty());
        assert_eq!(
            h.overnight_into(date(2026, 10, 1)),
            Some(span("20:00", "02:00"))
        );
        assert_eq!(h.overnight_into(date(2026, 9, 30)), None);
        assert!(!h.always_open());
    }

    #[test]
    fn a_same_day_span_closes_at_its_close() {
        let h =
            OpeningHours::weekly_same(&[span("08:00", "12:00"), span("13:00", "24:00")]).unwrap();
        assert!(!h.is_open_at(bj(2026, 10, 5, 7, 59, 59)));
        assert!(h.is_open_at(bj(2026, 10, 5, 8, 0, 0)));
        assert!(!h.is_open_at(bj(2026, 10, 5, 12, 0, 0)));
        assert!(h.is_open_at(bj(2026, 10, 5, 23, 59, 59)));
        assert!(!h.is_open_at(bj(2026, 10, 6, 0, 0, 0)));
    }

    #[test]
    fn an_exception_does_not_cut_short_the_night_before() {
        // Wednesday nights 20:00–02:00 and Thursdays 08:00–18:00, but closed on 1 October
        // (a Thursday).
        let h = hours(json!({
            "weekly": {
                "wed": [{"open": "20:00", "close": "02:00"}],
                "thu": [{"open": "08:00", "close": "18:00"}]
            },
            "exceptions": [{"date": "2026-10-01", "spans": []}]
        }));
        assert!(h.is_open_at(bj(2026, 10, 1, 1, 0, 0)));
        assert!(!h.is_open_at(bj(2026, 10, 1, 2, 0, 0)));
        assert!(!h.is_open_at(bj(2026, 10, 1, 10, 0, 0)));
        assert!(h.spans_on(date(2026, 10, 1)).is_empty());
        // The following Thursday keeps its weekly hours.
        assert!(h.is_open_at(bj(2026, 10, 8, 10, 0, 0)));
    }

    #[test]
    fn an_exception_replaces_the_overnight_span_starting_that_day() {
        // Wednesday 30 September is closed: no 20:00–02:00 that night, so Thursday 01:00
        // is closed too.
        let h = hours(json!({
            "weekly": {"wed": [{"open": "20:00", "close": "02:00"}]},
            "exceptions": [{"date": "2026-09-30", "spans": []}]
        }));
        assert!(!h.is_open_at(bj(2026, 9, 30, 21, 0, 0)));
        assert!(!h.is_open_at(bj(2026, 10, 1, 1, 0, 0)));
        assert_eq!(h.overnight_into(date(2026, 10, 1)), None);
        assert!(h.is_open_at(bj(2026, 10, 8, 1, 0, 0)));
    }

    #[test]
    fn exception_special_hours() {
        let h = hours(json!({
            "weekly": {"fri": [{"open": "08:00", "close": "22:00"}]},
            "exceptions": [
                {"date": "2026-10-02", "spans": [{"open": "10:00", "close": "16:00"}]},
                {"date": "2026-10-03", "spans": [{"open": "22:00", "close": "03:00"}]}
            ]
        }));
        // Friday 2 October.
        assert!(!h.is_open_at(bj(2026, 10, 2, 9, 0, 0)));
        assert!(!h.is_open_at(bj(2026, 10, 2, 9, 59, 59)));
        assert!(h.is_open_at(bj(2026, 10, 2, 10, 0, 0)));
        assert!(!h.is_open_at(bj(2026, 10, 2, 16, 0, 0)));
        assert_eq!(h.hours_on(date(2026, 10, 2)), [span("10:00", "16:00")]);
        assert_eq!(h.hours_on(date(2026, 10, 9)), [span("08:00", "22:00")]);
        // Saturday 3 October's special overnight runs into Sunday, which is otherwise closed.
        assert!(h.is_open_at(bj(2026, 10, 4, 2, 59, 0)));
        assert!(!h.is_open_at(bj(2026, 10, 4, 3, 0, 0)));
        assert!(!h.is_open_at(bj(2026, 10, 11, 2, 0, 0)));
    }

    #[test]
    fn closed_days() {
        let h = hours(json!({"weekly": {"mon": [{"open": "08:00", "close": "22:00"}], "tue": []}}));
        assert!(h.is_open_at(bj(2026, 10, 5, 12, 0, 0)));
        for day in 6..=11 {
            assert!(!h.is_open_at(bj(2026, 10, day, 12, 0, 0)), "{day}");
        }
        let closed = hours(json!({"weekly": {}}));
        assert!(!closed.is_open_at(bj(2026, 10, 5, 12, 0, 0)));
        assert!(!closed.always_open());
    }

    #[test]
    fn always_open() {
        let h = OpeningHours::always();
        assert!(h.always_open());
        assert!(h.is_open_at(bj(2026, 10, 1, 0, 0, 0)));
        assert!(h.is_open_at(bj(2026, 10, 1, 23, 59, 59)));
        assert_eq!(OpeningHours::weekly_same(&[Span::ALL_DAY]).unwrap(), h);
        assert_eq!(hours(serde_json::to_value(&h).unwrap()), h);

        // Split spans that still cover every minute.
        assert!(
            OpeningHours::weekly_same(&[span("00:00", "12:00"), span("12:00", "24:00")])
                .unwrap()
                .always_open()
        );
        assert!(
            OpeningHours::weekly_same(&[span("06:00", "22:00"), span("22:00", "06:00")])
                .unwrap()
                .always_open()
        );
        assert!(
            !OpeningHours::weekly_same(&[span("06:00", "22:00"), span("22:00", "05:59")])
                .unwrap()
                .always_open()
        );

        // An exception that changes nothing keeps it; one that closes a minute does not.
        let all_day = json!([{"open": "00:00", "close": "24:00"}]);
        let week = json!({"mon": all_day, "tue": all_day, "wed": all_day, "thu": all_day,
                          "fri": all_day, "sat": all_day, "sun": all_day});
        assert!(hours(
            json!({"weekly": week, "exceptions": [{"date": "2026-10-01", "spans": all_day}]})
        )
        .always_open());
        let holiday =
            hours(json!({"weekly": week, "exceptions": [{"date": "2026-10-01", "spans": []}]}));
        assert!(!holiday.always_open());
        assert!(!holiday.is_open_at(bj(2026, 10, 1, 12, 0, 0)));
        assert!(holiday.is_open_at(bj(2026, 9, 30, 23, 59, 0)));
        assert!(holiday.is_open_at(bj(2026, 10, 2, 0, 0, 0)));
    }

    #[test]
    fn open_now_follows_the_status() {
        let h = OpeningHours::weekly_same(&[span("08:00", "22:00")]).unwrap();
        let noon = bj(2026, 10, 5, 12, 0, 0);
        let night = bj(2026, 10, 5, 23, 0, 0);
        assert!(open_now(StationStatus::Open, None, &h, noon));
        assert!(!open_now(StationStatus::Open, None, &h, night));
        assert!(!open_now(StationStatus::Closed, None, &h, noon));
        assert!(!open_now(
            StationStatus::Closed,
            Some(bj(2026, 1, 1, 0, 0, 0)),
            &h,
            noon
        ));
        assert!(!open_now(StationStatus::TemporarilyClosed, None, &h, noon));
        let reopens = bj(2026, 10, 5, 10, 0, 0);
        assert!(!open_now(
            StationStatus::TemporarilyClosed,
            Some(reopens),
            &h,
            reopens - Duration::seconds(1)
        ));
        assert!(open_now(
            StationStatus::TemporarilyClosed,
            Some(reopens),
            &h,
            reopens
        ));
        assert!(open_now(
            StationStatus::TemporarilyClosed,
            Some(reopens),
            &h,
            noon
        ));
        assert!(!open_now(
            StationStatus::TemporarilyClosed,
            Some(reopens),
            &h,
            night
        ));
    }

    #[test]
    fn bad_times_are_rejected() {
        let with = |open: &str, close: &str| {
            error(json!({"weekly": {"mon": [{"open": open, "close": close}]}}))
        };
        assert_eq!(
            with("25:00", "26:00"),
            StationError::InvalidTime {
                day: DayRef::Weekday(Weekday::Mon),
                field: TimeField::Open,
                value: "25:00".into()
            }
        );
        let err = with("8:00", "22:00");
        assert_eq!(err.code(), "station.hours_invalid_time");
        assert_eq!(
            err.detail(),
            "营业时间格式不正确：周一的开始时间“8:00”应为 00:00–23:59 之间的 HH:MM"
        );
        assert!(matches!(
            with("24:00", "02:00"),
            StationError::InvalidTime {
                field: TimeField::Open,
                ..
            }
        ));
        assert!(matches!(
            with("08:00", "00:00"),
            StationError::InvalidTime {
                field: TimeField::Close,
                ..
            }
        ));
        assert!(matches!(
            with("08:00", "24:30"),
            StationError::InvalidTime {
                field: TimeField::Close,
                ..
            }
        ));
        assert!(matches!(
            with("08:00", "12:60"),
            StationError::InvalidTime {
                field: TimeField::Close,
                ..
            }
        ));
        let long = "x".repeat(1000);
        match with(&long, "12:00") {
            StationError::InvalidTime { value, .. } => {
                assert!(value.chars().count() <= ECHO_LIMIT + 1)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            with("08:00", "08:00"),
            StationError::EmptySpan {
                day: DayRef::Weekday(Weekday::Mon),
                at: "08:00".into()
            }
        );
    }

    #[test]
    fn malformed_shapes_are_rejected() {
        for bad in [
            json!({"weekly": {"thur": []}}),
            json!({"weekly": {"mon": [{"open": "08:00"}]}}),
            json!({"weekly": {"mon": [{"open": "08:00", "close": "09:00", "note": "x"}]}}),
            json!({"exceptions": []}),
            json!({"weekly": {}, "extra": 1}),
            json!({"weekly": {}, "exceptions": [{"date": "2026-10-01"}]}),
            json!({"weekly": {"mon": {"open": "08:00", "close": "09:00"}}}),
            json!([]),
        ] {
            let err = error(bad.clone());
            assert_eq!(err.code(), "station.hours_malformed", "{bad}");
            assert!(err.detail().starts_with("营业时间格式不正确："));
        }
        // Through serde directly, the message survives.
        let err = serde_json::from_value::<OpeningHours>(
            json!({"weekly": {"mon": [{"open": "8:00", "close": "22:00"}]}}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("8:00"), "{err}");
    }

    #[test]
    fn overlaps_are_rejected() {
        let err = error(json!({"weekly": {"mon": [
            {"open": "08:00", "close": "12:00"}, {"open": "11:00", "close": "14:00"}
        ]}}));
        assert_eq!(
            err,
            StationError::Overlap {
                first_day: DayRef::Weekday(Weekday::Mon),
                first: span("08:00", "12:00"),
                second_day: DayRef::Weekday(Weekday::Mon),
                second: span("11:00", "14:00"),
            }
        );
        assert_eq!(err.code(), "station.hours_overlap");
        assert_eq!(
            err.detail(),
            "营业时间格式不正确：周一的时段 08:00–12:00 与 11:00–14:00 重叠"
        );
        // A span inside another, and the same span twice.
        assert!(matches!(
            error(
                json!({"weekly": {"mon": [{"open": "08:00", "close": "22:00"}, {"open": "09:00", "close": "10:00"}]}})
            ),
            StationError::Overlap { .. }
        ));
        assert!(matches!(
            error(
                json!({"weekly": {"mon": [{"open": "08:00", "close": "22:00"}, {"open": "08:00", "close": "22:00"}]}})
            ),
            StationError::Overlap { .. }
        ));
        // Two overnight spans, and an overnight span over a later one the same day.
        assert!(matches!(
            error(
                json!({"weekly": {"mon": [{"open": "20:00", "close": "01:00"}, {"open": "22:00", "close": "02:00"}]}})
            ),
            StationError::Overlap { .. }
        ));
        // Overnight into the next weekday's early span, including Sunday into Monday.
        let err = error(json!({"weekly": {
            "wed": [{"open": "20:00", "close": "02:00"}],
            "thu": [{"open": "00:00", "close": "24:00"}]
        }}));
        assert_eq!(
            err,
            StationError::Overlap {
                first_day: DayRef::Weekday(Weekday::Wed),
                first: span("20:00", "02:00"),
                second_day: DayRef::Weekday(Weekday::Thu),
                second: Span::ALL_DAY,
            }
        );
        assert_eq!(
            err.detail(),
            "营业时间格式不正确：周三的跨夜时段 20:00–02:00 与周四的时段 00:00–24:00 重叠"
        );
        assert!(matches!(
            error(json!({"weekly": {
                "sun": [{"open": "20:00", "close": "02:00"}],
                "mon": [{"open": "01:59", "close": "05:00"}]
            }})),
            StationError::Overlap {
                first_day: DayRef::Weekday(Weekday::Sun),
                ..
            }
        ));
        // Touching is fine.
        hours(json!({"weekly": {
            "mon": [{"open": "08:00", "close": "12:00"}, {"open": "12:00", "close": "02:00"}],
            "tue": [{"open": "02:00", "close": "24:00"}],
            "wed": [{"open": "00:00", "close": "24:00"}]
        }}));
        // Around exceptions: the night before into the exception, and the exception's
        // night into the following weekday.
        assert_eq!(
            error(json!({
                "weekly": {"wed": [{"open": "20:00", "close": "02:00"}]},
                "exceptions": [{"date": "2026-10-01", "spans": [{"open": "00:00", "close": "24:00"}]}]
            })),
            StationError::Overlap {
                first_day: DayRef::Date(date(2026, 9, 30)),
                first: span("20:00", "02:00"),
                second_day: DayRef::Date(date(2026, 10, 1)),
                second: Span::ALL_DAY,
            }
        );
        assert!(matches!(
            error(json!({
                "weekly": {"fri": [{"open": "01:00", "close": "05:00"}]},
                "exceptions": [{"date": "2026-10-01", "spans": [{"open": "22:00", "close": "03:00"}]}]
            })),
            StationError::Overlap { second_day: DayRef::Date(d), .. } if d == date(2026, 10, 2)
        ));
        // ... but not when the exception's night lands on a closed exception day.
        hours(json!({
            "weekly": {"fri": [{"open": "01:00", "close": "05:00"}]},
            "exceptions": [
                {"date": "2026-10-01", "spans": [{"open": "22:00", "close": "03:00"}]},
                {"date": "2026-10-02", "spans": [{"open": "03:00", "close": "05:00"}]}
            ]
        }));
    }

    #[test]
    fn limits_and_dates() {
        let seven: Vec<_> = (0..7)
            .map(|h| json!({"open": format!("{:02}:00", h * 2), "close": format!("{:02}:30", h * 2)}))
            .collect();
        assert_eq!(
            error(json!({"weekly": {"fri": seven}})),
            StationError::TooManySpans {
                day: DayRef::Weekday(Weekday::Fri),
                count: 7
            }
        );
        let six = &seven[..6];
        hours(json!({"weekly": {"fri": six}}));

        let dates = |n: u64| -> Vec<serde_json::Value> {
            (0..n)
                .map(|i| {
                    let d = date(2026, 1, 1) + chrono::Days::new(i);
                    json!({"date": d.format("%Y-%m-%d").to_string(), "spans": []})
                })
                .collect()
        };
        hours(json!({"weekly": {}, "exceptions": dates(400)}));
        let err = error(json!({"weekly": {}, "exceptions": dates(401)}));
        assert_eq!(err, StationError::TooManyExceptions { count: 401 });
        assert_eq!(err.code(), "station.hours_too_many_exceptions");

        let err = error(json!({"weekly": {}, "exceptions": [
            {"date": "2026-10-01", "spans": []},
            {"date": "2026-10-02", "spans": []},
            {"date": "2026-10-01", "spans": [{"open": "10:00", "close": "12:00"}]}
        ]}));
        assert_eq!(
            err,
            StationError::DuplicateException {
                date: date(2026, 10, 1)
            }
        );
        assert_eq!(err.detail(), "营业时间格式不正确：特殊日期 2026-10-01 重复");

        for bad in [
            "2026-13-01",
            "2026-1-1",
            "2026-02-30",
            "20261001",
            "2026/10/01",
            " 2026-10-01",
            "",
        ] {
            assert_eq!(
                error(json!({"weekly": {}, "exceptions": [{"date": bad, "spans": []}]})),
                StationError::InvalidDate { value: bad.into() },
                "{bad}"
            );
        }
        assert!(matches!(
            error(json!({"weekly": {}, "exceptions": [{"date": "2026-10-01", "spans": [{"open": "9:00", "close": "10:00"}]}]})),
            StationError::InvalidTime { day: DayRef::Date(d), .. } if d == date(2026, 10, 1)
        ));
    }

    #[test]
    fn json_round_trip() {
        let input = json!({
            "weekly": {
                "mon": [{"open": "13:00", "close": "22:00"}, {"open": "08:00", "close": "12:00"}],
                "wed": [{"open": "20:00", "close": "02:00"}],
                "thu": [{"open": "02:00", "close": "24:00"}],
                "sat": [{"open": "00:00", "close": "24:00"}]
            },
            "exceptions": [
                {"date": "2026-10-02", "spans": [{"open": "10:00", "close": "16:00"}]},
                {"date": "2026-10-01", "spans": []}
            ]
        });
        let h = hours(input);
        let output = serde_json::to_value(&h).unwrap();
        assert_eq!(
            output,
            json!({
                "weekly": {
                    "mon": [{"open": "08:00", "close": "12:00"}, {"open": "13:00", "close": "22:00"}],
                    "tue": [],
                    "wed": [{"open": "20:00", "close": "02:00"}],
                    "thu": [{"open": "02:00", "close": "24:00"}],
                    "fri": [],
                    "sat": [{"open": "00:00", "close": "24:00"}],
                    "sun": []
                },
                "exceptions": [
                    {"date": "2026-10-01", "spans": []},
                    {"date": "2026-10-02", "spans": [{"open": "10:00", "close": "16:00"}]}
                ]
            })
        );
        assert_eq!(
            serde_json::from_value::<OpeningHours>(output.clone()).unwrap(),
            h
        );
        assert_eq!(hours(output.clone()), h);
        let text = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<OpeningHours>(&text).unwrap(), h);
        assert_eq!(
            h.exceptions()
                .map(|(d, s)| (d, s.len()))
                .collect::<Vec<_>>(),
            [(date(2026, 10, 1), 0), (date(2026, 10, 2), 1)]
        );
        assert_eq!(
            h.weekly(Weekday::Mon),
            [span("08:00", "12:00"), span("13:00", "22:00")]
        );
        assert_eq!(HoursSpec::from(h.clone()), h.to_spec());
        assert_eq!(OpeningHours::try_from(h.to_spec()).unwrap(), h);
    }

    #[test]
    fn every_error_has_a_code_and_a_detail() {
        let day = DayRef::Weekday(Weekday::Tue);
        let errors = [
            StationError::HoursMalformed { reason: "x".into() },
            StationError::InvalidTime {
                day,
                field: TimeField::Close,
                value: "x".into(),
            },
            StationError::EmptySpan {
                day,
                at: "08:00".into(),
            },
            StationError::TooManySpans { day, count: 7 },
            StationError::Overlap {
                first_day: day,
                first: Span::ALL_DAY,
                second_day: day,
                second: Span::ALL_DAY,
            },
            StationError::InvalidDate { value: "x".into() },
            StationError::TooManyExceptions { count: 401 },
            StationError::DuplicateException {
                date: date(2026, 10, 1),
            },
            StationError::EmptyAmenity,
            StationError::UnknownAmenity { code: "x".into() },
        ];
        let mut codes: Vec<_> = errors.iter().map(StationError::code).collect();
        for e in &errors {
            assert!(e.code().starts_with("station."));
            assert!(!e.detail().is_empty());
            assert!(!e.to_string().is_empty());
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
        assert_eq!(errors[3].to_string(), "tue: 7 spans, at most 6 a day");
    }

    // ---- Property: the fast evaluation agrees with a naive one. ----

    fn minutes_of(s: &str) -> i64 {
        let (h, m) = s.split_once(':').unwrap();
        h.parse::<i64>().unwrap() * 60 + m.parse::<i64>().unwrap()
    }

    /// The spec's spans starting on `day`, found the slow way.
    fn spec_spans(spec: &HoursSpec, day: NaiveDate) -> Vec<SpanSpec> {
        let key = day.format("%Y-%m-%d").to_string();
        match spec.exceptions.iter().find(|e| e.date == key) {
            Some(e) => e.spans.clone(),
            None => spec.weekly.day(day.weekday()).clone(),
        }
    }

    /// How many spans cover `at`, by building absolute intervals for the spans starting
    /// on the local day before and the local day of `at`.
    fn reference_cover_count(spec: &HoursSpec, at: DateTime<Utc>) -> usize {
        let today = at.with_timezone(&Shanghai).date_naive();
        let mut count = 0;
        for day in [today.pred_opt().unwrap(), today] {
            let midnight = day.and_hms_opt(0, 0, 0).unwrap();
            for s in spec_spans(spec, day) {
                let open = minutes_of(&s.open);
                let mut close = minutes_of(&s.close);
                if close <= open {
                    close += 24 * 60;
                }
                let to_utc = |m: i64| {
                    Shanghai
                        .from_local_datetime(&(midnight + Duration::minutes(m)))
                        .single()
                        .unwrap()
                        .with_timezone(&Utc)
                };
                if to_utc(open) <= at && at < to_utc(close) {
                    count += 1;
                }
            }
        }
        count
    }

    fn minute_strategy() -> impl Strategy<Value = u16> {
        prop_oneof![(0u16..=48).prop_map(|h| h * 30), 0u16..=1440]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn is_open_at_matches_the_reference(
            candidates in proptest::collection::vec((0usize..11, minute_strategy(), minute_strategy()), 0..30),
            exception_offsets in proptest::collection::vec(0u64..24, 0..4),
            instants in proptest::collection::vec((0i64..(21 * 1440), prop_oneof![Just(0i64), 0i64..60]), 1..40),
        ) {
            // A three-week window from Monday 28 September 2026, exceptions around it.
            let start_day = date(2026, 9, 28);
            let mut offsets = exception_offsets;
            offsets.sort_unstable();
            offsets.dedup();
            let mut spec = HoursSpec::default();
            for offset in &offsets {
                let d = start_day - chrono::Days::new(1) + chrono::Days::new(*offset);
                spec.exceptions.push(ExceptionSpec { date: d.format("%Y-%m-%d").to_string(), spans: Vec::new() });
            }
            // Add candidate spans greedily, keeping those the validation accepts.
            for (slot, open, close) in candidates {
                let s = SpanSpec { open: format_hhmm(open), close: format_hhmm(close) };
                let list = if slot < 7 {
                    spec.weekly.day_mut(WEEKDAYS[slot])
                } else if let Some(e) = spec.exceptions.get_mut(slot - 7) {
                    &mut e.spans
                } else {
                    continue;
                };
                list.push(s);
                if OpeningHours::try_from(spec.clone()).is_err() {
                    let list = if slot < 7 {
                        spec.weekly.day_mut(WEEKDAYS[slot])
                    } else {
                        &mut spec.exceptions[slot - 7].spans
                    };
                    list.pop();
                }
            }
            let h = OpeningHours::try_from(spec.clone()).unwrap();
            let json = serde_json::to_value(&h).unwrap();
            prop_assert_eq!(&OpeningHours::from_json(&json).unwrap(), &h);

            let window = bj(2026, 9, 28, 0, 0, 0);
            for (minute, second) in instants {
                let at = window + Duration::minutes(minute) + Duration::seconds(second);
                let count = reference_cover_count(&spec, at);
                // Validated hours never have two spans at once.
                prop_assert!(count <= 1, "{} spans at {}", count, at);
                prop_assert_eq!(h.is_open_at(at), count == 1, "at {} in {:?}", at, spec);
            }
            if h.always_open() {
                for minute in (0..21 * 1440).step_by(7) {
                    prop_assert!(h.is_open_at(window + Duration::minutes(minute)));
                }
            }
        }
    }
}
