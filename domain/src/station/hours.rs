//! Opening hours: spans, the weekly rules and dated exceptions, validated from their JSON
//! form and evaluated in Beijing wall-clock time (the module docs of [`super`] give the rules).

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc, Weekday};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    DayRef, StationError, TimeField, ECHO_LIMIT, MAX_EXCEPTIONS, MAX_SPANS_PER_DAY, MINUTES_PER_DAY,
};
use crate::time::china_local;

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
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HoursSpec {
    pub weekly: WeeklySpec,
    /// Dated exceptions, each date at most once.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 400))]
    pub exceptions: Vec<ExceptionSpec>,
}

/// The weekly rules; a missing key is a closed day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeeklySpec {
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 6))]
    pub mon: Vec<SpanSpec>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 6))]
    pub tue: Vec<SpanSpec>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 6))]
    pub wed: Vec<SpanSpec>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 6))]
    pub thu: Vec<SpanSpec>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 6))]
    pub fri: Vec<SpanSpec>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 6))]
    pub sat: Vec<SpanSpec>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 6))]
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

/// One span, `[open, close)` in Beijing time; `close` at or before `open` runs past midnight.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanSpec {
    /// `HH:MM`, `00:00`–`23:59`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(?:[01][0-9]|2[0-3]):[0-5][0-9]$")
    )]
    pub open: String,
    /// `HH:MM`, `00:01`–`24:00`, not equal to `open`.
    #[cfg_attr(
        feature = "openapi",
        schema(
            pattern = "^(?:00:0[1-9]|00:[1-5][0-9]|0[1-9]:[0-5][0-9]|1[0-9]:[0-5][0-9]|2[0-3]:[0-5][0-9]|24:00)$"
        )
    )]
    pub close: String,
}

/// A dated exception; `spans: []` closes the day.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionSpec {
    /// `YYYY-MM-DD`, a real date.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", format = Date))]
    pub date: String,
    #[cfg_attr(feature = "openapi", schema(max_items = 6))]
    pub spans: Vec<SpanSpec>,
}

/// The spans starting on one day, sorted by opening time, in a fixed inline array so a
/// lookup touches one cache line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct DayRules {
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

/// The open/closed state at a minute and how long it holds ([`OpeningHours::steady_at`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Steady {
    pub open: bool,
    /// Minutes after midnight, `from` ≤ the minute asked < `until` ≤ 1440.
    pub from: u16,
    pub until: u16,
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
        self.is_open_local(china_local(at))
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

    /// Whether the station is open at `local` (as [`Self::is_open_local`]) and the minutes
    /// of `local`'s day over which that stays so: `[from, until)`, with `from` ≤ `local`'s
    /// minute < `until` ≤ 1440. Every opening and closing minute of the day (the previous
    /// day's overnight tail, each span's start and same-day end) is a boundary, so the state
    /// cannot change between two of them; a search caches the answer for the window
    /// instead of evaluating the hours again (the window may stop short of the next real
    /// change, at midnight for instance, never past it).
    pub fn steady_at(&self, local: NaiveDateTime) -> Steady {
        let minute = (local.hour() * 60 + local.minute()) as u16;
        if self.always_open {
            return Steady {
                open: true,
                from: 0,
                until: MINUTES_PER_DAY,
            };
        }
        let date = local.date();
        let tail = date
            .pred_opt()
            .map_or(0, |previous| self.rules_for(previous).tail_end);
        let mut from = 0;
        let mut until = MINUTES_PER_DAY;
        let spans = self.rules_for(date).spans();
        let boundaries =
            std::iter::once(tail).chain(spans.iter().flat_map(|s| [s.open, s.same_day_end()]));
        for b in boundaries {
            if b <= minute {
                from = from.max(b);
            } else {
                until = until.min(b);
            }
        }
        Steady {
            open: self.is_open_local(local),
            from,
            until,
        }
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

pub(super) const WEEKDAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

pub(super) fn weekday_index(weekday: Weekday) -> usize {
    weekday.num_days_from_monday() as usize
}

pub(super) fn weekday_key(weekday: Weekday) -> &'static str {
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

pub(super) fn weekday_label_zh(weekday: Weekday) -> &'static str {
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

pub(super) fn check_carry(
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

pub(super) fn parse_spans(day: DayRef, specs: &[SpanSpec]) -> Result<Vec<Span>, StationError> {
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
pub(super) fn parse_hhmm(s: &str) -> Option<u16> {
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

pub(super) fn format_hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// Strict `YYYY-MM-DD`.
pub(super) fn parse_date(s: &str) -> Option<NaiveDate> {
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
pub(super) fn clip(s: &str) -> String {
    if s.chars().count() <= ECHO_LIMIT {
        s.to_owned()
    } else {
        let mut out: String = s.chars().take(ECHO_LIMIT).collect();
        out.push('…');
        out
    }
}
