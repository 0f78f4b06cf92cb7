//! The hand-written answers against serde's serialization of the contract's types.
#![allow(clippy::unwrap_used)]

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::stations::views::span_views;

/// The reference: the items as [`NearbyStation`] serializes them.
fn items<'a>(hits: &[Hit<'a, Entry>], when: When) -> Vec<NearbyStation<'a>> {
    hits.iter()
        .map(|hit| {
            let e = hit.payload;
            let raw = |json: &'a str| serde_json::from_str::<&'a RawValue>(json).unwrap();
            NearbyStation {
                id: hit.id,
                name: raw(e.name_json()),
                kind: e.kind.as_str(),
                address: raw(e.address_json()),
                lat: hit.at.lat,
                lng: hit.at.lng,
                distance_m: hit.distance_m.round().clamp(0.0, f64::from(u32::MAX)) as u32,
                amenities: &e.amenities_json,
                status: e.status.as_str(),
                open_now: e.open_at(when),
                today_hours: span_views(e.hours.spans_on(when.today())),
            }
        })
        .collect()
}

fn rows() -> Vec<SearchRow> {
    let span = |open: &str, close: &str| json!({"open": open, "close": close});
    let day = json!([span("08:00", "12:00"), span("13:30", "22:00")]);
    let night = json!([span("20:00", "02:00")]);
    let hours = [
        json!({"weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": day, "sun": day}}),
        json!({"weekly": {"mon": night, "wed": night, "fri": night, "sun": night},
               "exceptions": [{"date": "2026-12-02", "spans": [span("00:00", "24:00")]},
                              {"date": "2026-12-03", "spans": []}]}),
        json!({"weekly": {}}),
        json!({"weekly": {"mon": [span("00:00", "24:00")], "tue": [span("00:00", "24:00")],
               "wed": [span("00:00", "24:00")], "thu": [span("00:00", "24:00")],
               "fri": [span("00:00", "24:00")], "sat": [span("00:00", "24:00")],
               "sun": [span("00:00", "24:00")]}}),
    ];
    // Names and addresses that JSON must escape, and some it need not.
    let names = [
        "\"引号\" 驿站",
        "back\\slash / 斜杠",
        "换行\n制表\t回车\r",
        "控制\u{1}\u{1f}字符",
        "emoji 🛵 骑手之家",
        "</script><b>",
        "",
        "普通驿站",
    ];
    let kinds = ["fixed", "movable", "workers_home", "partner_shop"];
    let amenities = [
        "",
        "drinking_water",
        "drinking_water,phone_charging,restroom",
    ];
    let statuses = ["open", "temporarily_closed", "closed"];
    (0..48)
        .map(|i| SearchRow {
            id: format!("st-{i:03}\"x"),
            kind: kinds[i % kinds.len()].into(),
            name: names[i % names.len()].into(),
            address: format!("{}号 {}", i, names[(i + 3) % names.len()]),
            lat: 30.657 + 0.0007 * i as f64 - 0.01,
            lng: 104.066 - 0.0009 * (i % 7) as f64,
            amenities: amenities[i % amenities.len()].into(),
            hours: hours[i % hours.len()].to_string(),
            status: statuses[i / 16].into(),
            reopens_at: (i % 2 == 0).then(|| {
                Utc.with_ymd_and_hms(2026, 12, 2, 2, 0, 0)
                    .unwrap()
                    .naive_utc()
            }),
            version: 1,
        })
        .collect()
}

#[test]
fn written_answers_are_the_serialized_ones() {
    let rows = rows();
    let search = StationSearch::build(rows.clone(), None);
    assert_eq!(search.len(), 48);
    let at = LatLng {
        lat: 30.657,
        lng: 104.066,
    };
    let instants = [
        Utc.with_ymd_and_hms(2026, 12, 1, 20, 0, 0).unwrap(), // Wed 04:00 Beijing
        Utc.with_ymd_and_hms(2026, 12, 2, 6, 0, 0).unwrap(),  // Wed 14:00
        Utc.with_ymd_and_hms(2026, 12, 2, 16, 30, 0).unwrap(), // Thu 00:30 (exception)
        Utc.with_ymd_and_hms(2026, 12, 6, 12, 0, 0).unwrap(), // Sun 20:00
    ];
    let mut compared = 0;
    let mut open_and_closed = (0, 0);
    for now in instants {
        let when = When::new(now);
        for (amenities, open_now) in [("", false), ("", true), ("drinking_water", false)] {
            let wanted = Wanted {
                amenities: Some(amenities),
                kind: None,
                open_now: Some(open_now),
            };
            let filters = filters(&wanted).unwrap();
            let near = Near {
                lat: at.lat,
                lng: at.lng,
                radius_m: Some(5000),
                limit: Some(100),
                ..Near::default()
            };
            let written = nearby(&search, &near, &wanted, now).unwrap();
            let serialized = search.nearby(at, 5000.0, 100, filters, when, |hits| {
                for i in items(hits, when) {
                    if i.open_now {
                        open_and_closed.0 += 1;
                    } else {
                        open_and_closed.1 += 1;
                    }
                }
                serde_json::to_vec(&NearbyStations {
                    items: items(hits, when),
                })
                .unwrap()
            });
            assert_eq!(
                String::from_utf8(written.clone()).unwrap(),
                String::from_utf8(serialized).unwrap()
            );
            // And it is JSON, each item with its own station's id, name and address as
            // stored (the reference above reads the same stored text, so it cannot tell).
            let value: serde_json::Value = serde_json::from_slice(&written).unwrap();
            for item in value["items"].as_array().unwrap() {
                let row = rows.iter().find(|r| item["id"] == r.id.as_str()).unwrap();
                assert_eq!(item["name"], row.name.as_str());
                assert_eq!(item["address"], row.address.as_str());
                compared += 1;
            }

            let bbox = "104.0,30.6,104.1,30.7";
            for limit in [3, 1000] {
                let written = within_box(&search, bbox, Some(limit), &wanted, now).unwrap();
                let (min, max) = parse_bbox(bbox).unwrap();
                let serialized = search.within_bbox(min, max, limit, filters, when, |hits, t| {
                    serde_json::to_vec(&BoxStations {
                        items: items(hits, when),
                        truncated: t,
                    })
                    .unwrap()
                });
                assert_eq!(
                    String::from_utf8(written).unwrap(),
                    String::from_utf8(serialized).unwrap()
                );
            }
        }
    }
    // Every kind of station was written, open and closed, with and without hours today.
    assert!(compared > 300, "{compared}");
    assert!(
        open_and_closed.0 > 20 && open_and_closed.1 > 20,
        "{open_and_closed:?}"
    );
}
