//! Unit tests of stations: types, amenities, opening hours (with a brute-force reference).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::amenity::KNOWN_AMENITY_BITS;
use super::hours::*;
use super::*;
use crate::time::SHANGHAI;
use chrono::{Datelike, Duration, TimeZone, Timelike};
use proptest::prelude::*;
use serde_json::json;

/// A Beijing wall-clock instant, as UTC.
fn bj(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    SHANGHAI
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
    assert!(serde_json::from_value::<Span>(json!({"open": "20:00", "close": "20:00"})).is_err());
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
    let h = OpeningHours::weekly_same(&[span("08:00", "12:00"), span("13:00", "24:00")]).unwrap();
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
    let today = crate::time::china_date(at);
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
                SHANGHAI
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
            // The window a search caches: the same answer at its first and last minute
            // and in its middle, as the reference finds them.
            let local = crate::time::china_local(at);
            let steady = h.steady_at(local);
            prop_assert_eq!(steady.open, count == 1);
            let of_day = (local.hour() * 60 + local.minute()) as u16;
            prop_assert!(steady.from <= of_day && of_day < steady.until && steady.until <= 1440, "{:?} at {}", steady, local);
            let midnight = at - Duration::minutes(i64::from(of_day)) - Duration::seconds(i64::from(local.second()));
            let middle = (steady.from + steady.until) / 2;
            for m in [steady.from, middle, steady.until - 1] {
                let t = midnight + Duration::minutes(i64::from(m));
                prop_assert_eq!(reference_cover_count(&spec, t) == 1, steady.open, "minute {} of {:?} at {}", m, steady, local);
            }
            // And every minute of it (is_open_local agrees with the reference above).
            let day = local.date().and_hms_opt(0, 0, 0).unwrap();
            for m in steady.from..steady.until {
                prop_assert_eq!(h.is_open_local(day + Duration::minutes(i64::from(m))), steady.open, "minute {} of {:?}", m, steady);
            }
        }
        if h.always_open() {
            for minute in (0..21 * 1440).step_by(7) {
                prop_assert!(h.is_open_at(window + Duration::minutes(minute)));
            }
        }
    }
}
