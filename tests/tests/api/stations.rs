//! Rest stations: creating and editing them (scope, managers, ETag), opening hours at fixed
//! instants, search against a brute-force reference, WGS-84 input, replicas seeing edits,
//! movable stations, photos, check-ins, statistics and reports.

use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;
use gongyou_db::stations::Station;
use gongyou_domain::geo::{self, Datum, LatLng};
use gongyou_domain::station::{open_now, AmenitySet, OpeningHours, StationStatus, StationType};
use gongyou_tests::session::{Session, DEMO_PASSWORD};
use gongyou_tests::{spawn_app_with, TestApp};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// 天府广场, 成都 (GCJ-02).
const CENTRE: (f64, f64) = (30.657, 104.066);

fn shanghai(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    Shanghai
        .with_ymd_and_hms(y, m, d, h, min, 0)
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn daily(open: &str, close: &str) -> Value {
    let span = json!([{"open": open, "close": close}]);
    json!({"weekly": {"mon": span, "tue": span, "wed": span, "thu": span, "fri": span, "sat": span, "sun": span}})
}

fn new_station(org_id: &str, name: &str, kind: &str, lat: f64, lng: f64, hours: Value) -> Value {
    json!({
        "org_id": org_id, "type": kind, "name": name, "address": "四川省成都市锦江区春熙路 1 号",
        "region_code": "510104", "lat": lat, "lng": lng,
        "amenities": ["drinking_water", "phone_charging", "seating"],
        "hours": hours, "contact_phone": "028-86612345", "capacity": 12
    })
}

struct Fixture {
    app: TestApp,
    admin: Session,
    manager: Session,
    chengdu: String,
}

async fn fixture() -> Fixture {
    fixture_with(Default::default()).await
}

async fn fixture_with(overrides: gongyou_tests::EnvOverrides) -> Fixture {
    let app = spawn_app_with(overrides).await;
    app.seed().await;
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let manager = app.sign_in_staff("demo-manager", DEMO_PASSWORD).await;
    let chengdu = app.org_id("成都市总工会").await;
    Fixture {
        app,
        admin,
        manager,
        chengdu,
    }
}

async fn create(f: &Fixture, body: &Value) -> Value {
    let r = f
        .app
        .post_json_as(&f.admin, "/api/v1/admin/stations", body)
        .await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    serde_json::from_str(&text).unwrap()
}

/// A station of 成都's union, created by the 四川 admin.
async fn station(
    f: &Fixture,
    name: &str,
    kind: &str,
    (lat, lng): (f64, f64),
    hours: Value,
) -> Value {
    create(f, &new_station(&f.chengdu, name, kind, lat, lng, hours)).await
}

async fn manage(f: &Fixture, station: &str, staff_ids: &[&str]) {
    let r = f
        .app
        .client
        .put(
            f.app
                .url(&format!("/api/v1/admin/stations/{station}/managers")),
        )
        .header("Authorization", f.admin.bearer())
        .json(&json!({ "staff_ids": staff_ids }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

fn staff_id(s: &Session) -> String {
    s.user["id"].as_str().unwrap().to_owned()
}

/// A manager of another station (a staff member with no role but that station).
async fn other_stations_manager(f: &Fixture) -> Session {
    let id = f
        .app
        .create_staff(&f.admin, "other-station-mgr", &f.chengdu, &[])
        .await;
    let theirs = station(
        f,
        "别人的驿站",
        "fixed",
        (CENTRE.0 + 0.01, CENTRE.1),
        daily("08:00", "20:00"),
    )
    .await;
    manage(f, theirs["id"].as_str().unwrap(), &[&id]).await;
    f.app
        .sign_in_staff("other-station-mgr", DEMO_PASSWORD)
        .await
}

async fn patch(
    app: &TestApp,
    who: &Session,
    station: &str,
    if_match: Option<&str>,
    body: &Value,
) -> reqwest::Response {
    let mut r = app
        .client
        .patch(app.url(&format!("/api/v1/stations/{station}")))
        .header("Authorization", who.bearer())
        .json(body);
    if let Some(tag) = if_match {
        r = r.header("If-Match", tag);
    }
    r.send().await.unwrap()
}

async fn nearby(app: &TestApp, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/stations/nearby?{query}")).await;
    let status = r.status();
    let text = r.text().await.unwrap();
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn opening_hours_decide_open_now_at_fixed_instants() {
    let f = fixture().await;
    // Wednesday nights 20:00–02:00, Thursdays 08:00–12:00; 2026-10-01 (a Thursday, National
    // Day) closed: the Wednesday night shift still runs into it.
    let hours = json!({
        "weekly": {"wed": [{"open": "20:00", "close": "02:00"}], "thu": [{"open": "08:00", "close": "12:00"}]},
        "exceptions": [{"date": "2026-10-01", "spans": []}]
    });
    let s = station(&f, "锦江区夜班驿站", "fixed", (CENTRE.0, CENTRE.1), hours).await;
    let path = format!("/api/v1/stations/{}", s["id"].as_str().unwrap());
    let at = |t: DateTime<Utc>| {
        f.app.clock.set(t);
        async {
            let v: Value = f.app.get(&path).await.json().await.unwrap();
            (v["open_now"].as_bool().unwrap(), v["today_hours"].clone())
        }
    };
    assert!(!at(shanghai(2026, 9, 30, 19, 59)).await.0);
    let (open, today) = at(shanghai(2026, 9, 30, 21, 0)).await;
    assert!(open);
    assert_eq!(today, json!([{"open": "20:00", "close": "02:00"}]));
    let (open, today) = at(shanghai(2026, 10, 1, 1, 30)).await;
    assert!(
        open,
        "the night shift that began the evening before runs to its end"
    );
    assert_eq!(today, json!([]), "the holiday has no spans of its own");
    assert!(!at(shanghai(2026, 10, 1, 2, 0)).await.0, "closes at 02:00");
    assert!(!at(shanghai(2026, 10, 1, 9, 0)).await.0, "holiday");
    let (open, today) = at(shanghai(2026, 10, 8, 9, 0)).await;
    assert!(open, "an ordinary Thursday");
    assert_eq!(today, json!([{"open": "08:00", "close": "12:00"}]));
    assert!(!at(shanghai(2026, 10, 9, 9, 0)).await.0, "Friday: closed");

    // Temporarily closed until 10:00 on that Thursday.
    f.app.clock.set(shanghai(2026, 10, 8, 8, 30));
    let current: Value = f.app.get(&path).await.json().await.unwrap();
    let tag = format!("\"v{}\"", current["version"]);
    let r = patch(
        &f.app,
        &f.admin,
        s["id"].as_str().unwrap(),
        Some(&tag),
        &json!({"status": "temporarily_closed", "reopens_at": shanghai(2026, 10, 8, 10, 0)}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(!at(shanghai(2026, 10, 8, 9, 0)).await.0);
    assert!(at(shanghai(2026, 10, 8, 10, 30)).await.0, "reopened");
    let r = patch(
        &f.app,
        &f.admin,
        s["id"].as_str().unwrap(),
        Some(&format!(
            "\"v{}\"",
            current["version"].as_i64().unwrap() + 1
        )),
        &json!({"status": "closed"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert!(!at(shanghai(2026, 10, 8, 10, 30)).await.0, "closed");
}

/// A station as stored (for the reference).
async fn stored(app: &TestApp, id: &str) -> Station {
    let id = id.to_owned();
    app.state
        .db
        .run(move |conn| gongyou_db::stations::get(conn, &id))
        .await
        .unwrap()
        .unwrap()
}

/// The search caches each station's open/closed state for a window of minutes in the
/// index's leaves. Its answers equal the reference's at the minute each span opens and
/// closes (and a second either side), through overnight spans and a dated exception, at
/// a reopening time with seconds, whichever order the instants come in, and after an
/// edit of a station whose state was cached.
#[tokio::test]
async fn open_now_is_exact_at_every_boundary_through_the_cache() {
    let f =
        fixture_with([("GONGYOU_SEARCH_RATE_PER_MINUTE".to_owned(), "0".to_owned())].into()).await;
    // 20 km north of the centre, away from the demo's stations.
    let spot = (CENTRE.0 + 0.2, CENTRE.1);
    // Wednesday 2026-12-02 has an exception for two of them.
    let hours = [
        ("日间驿站", daily("08:00", "20:00")),
        ("夜班驿站", daily("20:00", "02:00")),
        (
            "例外驿站",
            json!({
                "weekly": {"wed": [{"open": "09:00", "close": "17:30"}], "thu": [{"open": "09:00", "close": "17:30"}]},
                "exceptions": [{"date": "2026-12-02", "spans": [{"open": "12:00", "close": "13:00"}, {"open": "22:00", "close": "01:30"}]}]
            }),
        ),
        (
            "节前夜班驿站",
            json!({
                "weekly": {"tue": [{"open": "22:00", "close": "03:00"}], "wed": [{"open": "10:00", "close": "11:00"}]},
                "exceptions": [{"date": "2026-12-02", "spans": []}]
            }),
        ),
        ("全天驿站", daily("00:00", "24:00")),
        ("暂停驿站", daily("08:00", "20:00")),
    ];
    let mut ids = Vec::new();
    for (i, (name, h)) in hours.iter().enumerate() {
        let s = station(
            &f,
            name,
            "fixed",
            (spot.0 + 0.001 * i as f64, spot.1),
            h.clone(),
        )
        .await;
        ids.push(s["id"].as_str().unwrap().to_owned());
    }
    // Temporarily closed until 10:00:30 on the Wednesday.
    let paused = ids[5].clone();
    let r = patch(
        &f.app,
        &f.admin,
        &paused,
        Some("\"v1\""),
        &json!({"status": "temporarily_closed", "reopens_at": "2026-12-02T10:00:30+08:00"}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    let at = LatLng {
        lat: spot.0,
        lng: spot.1,
    };
    let check = |stations: Vec<Station>, now: DateTime<Utc>| {
        let app = &f.app;
        async move {
            app.clock.set(now);
            let expect = |open: bool| {
                reference(
                    &stations,
                    &Search {
                        at,
                        radius: 3000.0,
                        limit: 100,
                        amenities: AmenitySet::default(),
                        kind: None,
                        open,
                        now,
                    },
                )
            };
            for open in [true, false] {
                let got = nearby(
                    app,
                    &format!(
                        "lat={}&lng={}&radius_m=3000&limit=100&open_now={open}",
                        at.lat, at.lng
                    ),
                )
                .await;
                let items = got["items"].as_array().unwrap();
                let got_ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
                let expected = expect(open);
                let expected_ids: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
                assert_eq!(got_ids, expected_ids, "open_now={open} at {now}");
                // Each item's own open_now agrees with the reference too.
                let open_ids: Vec<String> = expect(true).into_iter().map(|(id, _)| id).collect();
                for item in items {
                    let id = item["id"].as_str().unwrap();
                    assert_eq!(
                        item["open_now"].as_bool().unwrap(),
                        open_ids.iter().any(|o| o == id),
                        "{id} at {now}"
                    );
                }
                // The map box walks the same leaves.
                let boxed: Value = app
                    .get(&format!(
                        "/api/v1/stations?bbox={:.6},{:.6},{:.6},{:.6}&limit=1000&open_now={open}",
                        at.lng - 0.01,
                        at.lat - 0.01,
                        at.lng + 0.01,
                        at.lat + 0.02
                    ))
                    .await
                    .json()
                    .await
                    .unwrap();
                let mut boxed_ids: Vec<&str> = boxed["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["id"].as_str().unwrap())
                    .collect();
                boxed_ids.sort_unstable();
                let mut sorted_expected = expected_ids.clone();
                sorted_expected.sort_unstable();
                assert_eq!(boxed_ids, sorted_expected, "box, open_now={open} at {now}");
            }
        }
    };
    let mut stations = Vec::new();
    for id in &ids {
        stations.push(stored(&f.app, id).await);
    }

    // Every boundary of the six stations from Tuesday evening to Thursday morning, the
    // reopening, and the weekly times the exceptions replace, each at -61 s, -1 s, 0,
    // +29 s, +30 s, +31 s and +60 s.
    let minute = |d: u32, h: u32, m: u32| shanghai(2026, 12, d, h, m);
    let boundaries = [
        minute(1, 20, 0),
        minute(1, 22, 0),
        minute(2, 0, 0),
        minute(2, 2, 0),
        minute(2, 3, 0),
        minute(2, 8, 0),
        // The weekly 09:00, 11:00 and 17:30 the exceptions replace on that Wednesday.
        minute(2, 9, 0),
        minute(2, 10, 0),
        minute(2, 11, 0),
        minute(2, 12, 0),
        minute(2, 13, 0),
        minute(2, 17, 30),
        minute(2, 20, 0),
        minute(2, 22, 0),
        minute(3, 0, 0),
        minute(3, 1, 30),
        minute(3, 2, 0),
        minute(3, 9, 0),
    ];
    let mut instants: Vec<DateTime<Utc>> = boundaries
        .iter()
        .flat_map(|b| [-61, -1, 0, 29, 30, 31, 60].map(|s| *b + chrono::Duration::seconds(s)))
        .collect();
    // Forward (each window cached, then passed), backward (a cached window met from its
    // end), then in a shuffled order.
    for now in &instants {
        check(stations.clone(), *now).await;
    }
    for now in instants.iter().rev() {
        check(stations.clone(), *now).await;
    }
    instants.shuffle(&mut rand::rngs::StdRng::seed_from_u64(18));
    for now in &instants {
        check(stations.clone(), *now).await;
    }

    // An edit of a station whose open state is cached: the cache goes with the old entry.
    let noon = minute(2, 12, 30);
    check(stations.clone(), noon).await;
    let day = ids[0].clone();
    let r = patch(
        &f.app,
        &f.admin,
        &day,
        Some("\"v1\""),
        &json!({"hours": daily("13:00", "20:00")}),
    )
    .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    stations[0] = stored(&f.app, &day).await;
    check(stations.clone(), noon).await;
    let open_at_noon = nearby(
        &f.app,
        &format!(
            "lat={}&lng={}&radius_m=3000&limit=100&open_now=true",
            at.lat, at.lng
        ),
    )
    .await;
    assert!(
        !open_at_noon["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == day.as_str()),
        "closed at 12:30 after the edit"
    );
    check(stations.clone(), minute(2, 13, 0)).await;
}

/// Random stations around 成都, written straight to the database, then read into the index.
async fn random_stations(app: &TestApp, org_id: &str, n: usize, seed: u64) -> Vec<Station> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let hours = [
        daily("00:00", "24:00"),
        daily("08:00", "20:00"),
        daily("20:00", "02:00"),
        json!({"weekly": {"mon": [{"open": "09:00", "close": "17:30"}], "sat": [{"open": "10:00", "close": "16:00"}]}}),
    ];
    let kinds = ["fixed", "movable", "workers_home", "partner_shop"];
    let codes = [
        "drinking_water",
        "hot_water",
        "phone_charging",
        "ebike_charging",
        "microwave",
        "restroom",
    ];
    let now = app.clock_now();
    let stations: Vec<Station> = (0..n)
        .map(|i| {
            let amenities: Vec<&str> = codes
                .iter()
                .filter(|_| rng.random_bool(0.5))
                .copied()
                .collect();
            let (status, reopens_at) = match rng.random_range(0..10) {
                0 => ("closed", None),
                1 => (
                    "temporarily_closed",
                    Some((now + chrono::Duration::hours(1)).naive_utc()),
                ),
                2 => (
                    "temporarily_closed",
                    Some((now - chrono::Duration::hours(1)).naive_utc()),
                ),
                _ => ("open", None),
            };
            let hours_json = &hours[rng.random_range(0..hours.len())];
            let parsed = OpeningHours::from_json(hours_json).unwrap();
            Station {
                id: gongyou_domain::id::new_id(),
                org_id: org_id.to_owned(),
                kind: kinds[rng.random_range(0..kinds.len())].to_owned(),
                name: format!("测试驿站{i}"),
                address: "成都".into(),
                region_code: "510104".into(),
                lat: CENTRE.0 + rng.random_range(-0.15..0.15),
                lng: CENTRE.1 + rng.random_range(-0.15..0.15),
                amenities: amenities.join(","),
                hours: serde_json::to_string(&parsed).unwrap(),
                status: status.into(),
                reopens_at,
                notice: None,
                contact_phone: None,
                capacity: None,
                version: 1,
                created_by: "test".into(),
                created_at: now.naive_utc(),
                updated_at: now.naive_utc(),
                code_epoch: 0,
            }
        })
        .collect();
    let rows = stations.clone();
    app.state
        .db
        .run(move |conn| gongyou_db::stations::insert_many(conn, &rows))
        .await
        .unwrap();
    app.state
        .stations
        .catch_up(&app.state.db, app.clock_now())
        .await
        .unwrap();
    stations
}

/// What a search should answer, by brute force over every station.
/// A search, as the reference sees it.
struct Search<'a> {
    at: LatLng,
    radius: f64,
    limit: usize,
    amenities: AmenitySet,
    kind: Option<&'a str>,
    open: bool,
    now: DateTime<Utc>,
}

fn reference(stations: &[Station], q: &Search<'_>) -> Vec<(String, f64)> {
    let Search {
        at,
        radius,
        limit,
        amenities,
        kind,
        open,
        now,
    } = *q;
    let mut hits: Vec<(String, f64)> = stations
        .iter()
        .filter(|s| {
            // A station without amenities stores an empty list.
            AmenitySet::parse_list(&s.amenities)
                .unwrap_or_default()
                .contains_all(amenities)
        })
        .filter(|s| kind.is_none_or(|k| s.kind == k))
        .filter(|s| {
            !open || {
                let hours =
                    OpeningHours::from_json(&serde_json::from_str(&s.hours).unwrap()).unwrap();
                open_now(
                    StationStatus::parse(&s.status).unwrap(),
                    s.reopens_at.map(|t| t.and_utc()),
                    &hours,
                    now,
                )
            }
        })
        .map(|s| {
            (
                s.id.clone(),
                geo::haversine_m(
                    at,
                    LatLng {
                        lat: s.lat,
                        lng: s.lng,
                    },
                ),
            )
        })
        .filter(|(_, d)| *d <= radius)
        .collect();
    hits.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    hits.truncate(limit);
    hits
}

#[tokio::test]
async fn search_matches_a_brute_force_reference_on_random_data() {
    // Hundreds of searches from one address: this checks answers, not the search limit.
    let f =
        fixture_with([("GONGYOU_SEARCH_RATE_PER_MINUTE".to_owned(), "0".to_owned())].into()).await;
    let stations = random_stations(&f.app, &f.chengdu, 600, 42).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let sets = [
        "",
        "drinking_water",
        "drinking_water,phone_charging",
        "ebike_charging,microwave,restroom",
    ];
    for round in 0..60 {
        // Noon, then 23:00 (overnight spans open, day spans closed).
        let now = if round % 2 == 0 {
            shanghai(2026, 7, 15, 14, 0)
        } else {
            shanghai(2026, 7, 15, 23, 0)
        };
        f.app.clock.set(now);
        let at = LatLng {
            lat: CENTRE.0 + rng.random_range(-0.12..0.12),
            lng: CENTRE.1 + rng.random_range(-0.12..0.12),
        };
        let radius = [500.0, 3000.0, 8000.0, 20000.0][rng.random_range(0..4)];
        let limit = [1usize, 5, 20, 100][rng.random_range(0..4)];
        let amenities = sets[rng.random_range(0..sets.len())];
        let kind = [None, Some("fixed"), Some("movable")][rng.random_range(0..3)];
        let open = rng.random_bool(0.5);
        let mut query = format!(
            "lat={}&lng={}&radius_m={radius}&limit={limit}&open_now={open}",
            at.lat, at.lng
        );
        if !amenities.is_empty() {
            query.push_str(&format!("&amenities={amenities}"));
        }
        if let Some(kind) = kind {
            query.push_str(&format!("&type={kind}"));
        }
        let got = nearby(&f.app, &query).await;
        let wanted = if amenities.is_empty() {
            AmenitySet::default()
        } else {
            AmenitySet::parse_list(amenities).unwrap()
        };
        let expected = reference(
            &stations,
            &Search {
                at,
                radius,
                limit,
                amenities: wanted,
                kind,
                open,
                now,
            },
        );
        let items = got["items"].as_array().unwrap();
        let ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
        let expected_ids: Vec<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, expected_ids, "round {round}: {query}");
        for (item, (_, d)) in items.iter().zip(&expected) {
            assert!((item["distance_m"].as_f64().unwrap() - d).abs() <= 1.0);
            if open {
                assert_eq!(item["open_now"], true);
            }
        }
    }

    // The map view's box agrees with a brute-force containment check.
    let (min, max) = ((30.60, 104.00), (30.70, 104.10));
    let got: Value = f
        .app
        .get(&format!(
            "/api/v1/stations?bbox={},{},{},{}&limit=1000",
            min.1, min.0, max.1, max.0
        ))
        .await
        .json()
        .await
        .unwrap();
    let mut ids: Vec<String> = got["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    let mut expected: Vec<String> = stations
        .iter()
        .filter(|s| s.lat >= min.0 && s.lat <= max.0 && s.lng >= min.1 && s.lng <= max.1)
        .map(|s| s.id.clone())
        .collect();
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(got["truncated"], false);
    let capped: Value = f
        .app
        .get(&format!(
            "/api/v1/stations?bbox={},{},{},{}&limit=3",
            min.1, min.0, max.1, max.0
        ))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(capped["items"].as_array().unwrap().len(), 3);
    assert_eq!(capped["truncated"], true);
}

#[tokio::test]
async fn bad_search_input_is_a_clear_400() {
    let f = fixture().await;
    for (query, code) in [
        ("lat=91&lng=104", "geo.invalid_coordinates"),
        ("lat=30.6&lng=181", "geo.invalid_coordinates"),
        ("lat=30.6&lng=104&radius_m=50001", "station.invalid_radius"),
        ("lat=30.6&lng=104&radius_m=0", "station.invalid_radius"),
        ("lat=30.6&lng=104&limit=101", "station.invalid_limit"),
        ("lat=30.6&lng=104&coord=bd09", "geo.invalid_coord"),
        (
            "lat=30.6&lng=104&amenities=sauna",
            "station.amenity_unknown",
        ),
        ("lat=30.6&lng=104&type=tent", "station.invalid_type"),
    ] {
        let r = f.app.get(&format!("/api/v1/stations/nearby?{query}")).await;
        assert_eq!(r.status(), 400, "{query}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["code"], code, "{query}");
        assert!(!body["detail"].as_str().unwrap().is_empty());
    }
    let r = f.app.get("/api/v1/stations/nearby?lat=abc&lng=104").await;
    assert_eq!(r.status(), 400);
    let r = f
        .app
        .get("/api/v1/stations?bbox=104.1,30.6,104.0,30.7")
        .await;
    assert_eq!(
        r.status(),
        422,
        "well-formed, but the minimum is above the maximum"
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "station.bbox_empty");
    let r = f.app.get("/api/v1/stations?bbox=104.1,30.6,104.0").await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["code"], "station.invalid_bbox");
}

#[tokio::test]
async fn a_search_box_is_bounded_and_searches_are_limited_per_network() {
    let app = spawn_app_with(
        [
            ("GONGYOU_TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()),
            ("GONGYOU_SEARCH_RATE_PER_MINUTE".to_owned(), "5".to_owned()),
        ]
        .into(),
    )
    .await;
    let search = |ip: &'static str, query: &'static str| {
        let app = &app;
        async move {
            app.client
                .get(app.url(&format!("/api/v1/stations{query}")))
                .header("X-Forwarded-For", ip)
                .send()
                .await
                .unwrap()
        }
    };
    // The whole country in one box would walk every station: refused, whatever the limit.
    let country = search("203.0.113.1", "?bbox=73,3,136,54&limit=1000").await;
    assert_eq!(country.status(), 422);
    let body: Value = country.json().await.unwrap();
    assert_eq!(body["code"], "station.bbox_too_large");
    // A city-sized box (2° across at most) is fine.
    let city = search("203.0.113.1", "?bbox=103.0,30.0,105.0,31.5").await;
    assert_eq!(city.status(), 200);
    // Five searches a minute per network (the two above count)…
    for _ in 0..3 {
        let r = search("203.0.113.1", "/nearby?lat=30.6&lng=104.0").await;
        assert_eq!(r.status(), 200);
    }
    let limited = search("203.0.113.1", "/nearby?lat=30.6&lng=104.0").await;
    assert_eq!(limited.status(), 429);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&retry), "{retry}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["code"], "station.search_rate_limited");
    // …another network is not affected, and the first is served again once the rate allows.
    let other = search("2001:db8:9::1", "/nearby?lat=30.6&lng=104.0").await;
    assert_eq!(other.status(), 200);
    app.clock.advance(chrono::Duration::seconds(12));
    let again = search("203.0.113.1", "/nearby?lat=30.6&lng=104.0").await;
    assert_eq!(again.status(), 200);
}

#[tokio::test]
async fn wgs84_input_is_converted_to_gcj02() {
    let f = fixture().await;
    // A station registered from a GPS (WGS-84) reading.
    let gps = LatLng {
        lat: 30.6598,
        lng: 104.0633,
    };
    let mut body = new_station(
        &f.chengdu,
        "GPS 定位驿站",
        "fixed",
        gps.lat,
        gps.lng,
        daily("00:00", "24:00"),
    );
    body["coord"] = json!("wgs84");
    let s = create(&f, &body).await;
    let gcj = geo::to_gcj02(gps, Datum::Wgs84);
    assert!((s["lat"].as_f64().unwrap() - gcj.lat).abs() < 1e-9);
    assert!((s["lng"].as_f64().unwrap() - gcj.lng).abs() < 1e-9);
    assert!(
        geo::haversine_m(gps, gcj) > 100.0,
        "GCJ-02 is offset by hundreds of metres in China"
    );
    // A rider's GPS fix at the same spot finds it right there…
    let by_gps = nearby(
        &f.app,
        &format!("lat={}&lng={}&coord=wgs84&radius_m=50", gps.lat, gps.lng),
    )
    .await;
    assert_eq!(by_gps["items"][0]["id"], s["id"]);
    assert!(by_gps["items"][0]["distance_m"].as_f64().unwrap() <= 1.0);
    // …and the same numbers read as GCJ-02 are hundreds of metres off.
    let as_gcj = nearby(
        &f.app,
        &format!("lat={}&lng={}&radius_m=50", gps.lat, gps.lng),
    )
    .await;
    assert_eq!(as_gcj["items"], json!([]));
}

#[tokio::test]
async fn edits_need_the_current_etag_and_the_right_people() {
    let f = fixture().await;
    let a = station(
        &f,
        "春熙路驿站",
        "fixed",
        (CENTRE.0, CENTRE.1),
        daily("08:00", "20:00"),
    )
    .await;
    let b = station(
        &f,
        "太古里驿站",
        "fixed",
        (CENTRE.0 + 0.01, CENTRE.1),
        daily("08:00", "20:00"),
    )
    .await;
    let id = a["id"].as_str().unwrap();
    // A second manager, of station b only.
    let root = f.app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    f.app.create_staff(&root, "mgr-b", &f.chengdu, &[]).await;
    let other = f.app.sign_in_staff("mgr-b", DEMO_PASSWORD).await;
    manage(&f, id, &[&staff_id(&f.manager)]).await;
    manage(&f, b["id"].as_str().unwrap(), &[&staff_id(&other)]).await;

    let r = f.app.get(&format!("/api/v1/stations/{id}")).await;
    let tag = r.headers()["etag"].to_str().unwrap().to_owned();
    let public: Value = r.json().await.unwrap();
    assert_eq!(
        public["station_code"],
        Value::Null,
        "the QR code is for managers"
    );
    assert_eq!(public["managers"], Value::Null);

    let edit = json!({"amenities": ["drinking_water", "hot_water"], "notice": "今日提供绿豆汤"});
    let r = patch(&f.app, &f.manager, id, None, &edit).await;
    assert_eq!(r.status(), 428);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "station.if_match_required"
    );
    let r = patch(&f.app, &f.manager, id, Some(&tag), &edit).await;
    assert_eq!(r.status(), 200);
    let new_tag = r.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(new_tag, tag);
    let edited: Value = r.json().await.unwrap();
    assert_eq!(edited["amenities"], json!(["drinking_water", "hot_water"]));
    assert_eq!(edited["notice"], "今日提供绿豆汤");
    // A second manager editing from the same, now stale, read.
    let r = patch(&f.app, &f.admin, id, Some(&tag), &json!({"capacity": 30})).await;
    assert_eq!(r.status(), 412);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "station.version_mismatch"
    );
    // Clearing a field with null; leaving others alone.
    let r = patch(
        &f.app,
        &f.admin,
        id,
        Some(&new_tag),
        &json!({"notice": null}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let cleared: Value = r.json().await.unwrap();
    assert_eq!(cleared["notice"], Value::Null);
    assert_eq!(cleared["capacity"], 12);

    // `If-Match: *` matches whatever version is current.
    let r = patch(&f.app, &f.manager, id, Some("*"), &json!({"capacity": 14})).await;
    assert_eq!(r.status(), 200);
    let cleared: Value = r.json().await.unwrap();
    assert_eq!(cleared["capacity"], 14);
    // The manager of another station, a worker and an admin elsewhere may not.
    let current = format!("\"v{}\"", cleared["version"]);
    let r = patch(&f.app, &other, id, Some(&current), &json!({"capacity": 1})).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "station.not_yours"
    );
    let worker = f.app.sign_in_worker("13700000001").await;
    assert_eq!(
        patch(&f.app, &worker, id, Some(&current), &json!({"capacity": 1}))
            .await
            .status(),
        403
    );
    let shenzhen = f.app.org_id("深圳市总工会").await;
    f.app
        .create_staff(&root, "sz-admin", &shenzhen, &[("union_admin", &shenzhen)])
        .await;
    let sz = f.app.sign_in_staff("sz-admin", DEMO_PASSWORD).await;
    assert_eq!(
        patch(&f.app, &sz, id, Some(&current), &json!({"capacity": 1}))
            .await
            .status(),
        403
    );
    let r = f
        .app
        .post_json_as(
            &sz,
            "/api/v1/admin/stations",
            &new_station(
                &f.chengdu,
                "越权驿站",
                "fixed",
                CENTRE.0,
                CENTRE.1,
                daily("08:00", "20:00"),
            ),
        )
        .await;
    assert_eq!(r.status(), 403, "not in the 深圳 admin's subtree");
    assert_eq!(
        f.app
            .post_json_as(
                &f.manager,
                "/api/v1/admin/stations",
                &new_station(
                    &f.chengdu,
                    "越权驿站",
                    "fixed",
                    CENTRE.0,
                    CENTRE.1,
                    daily("08:00", "20:00")
                )
            )
            .await
            .status(),
        403,
        "managers do not create stations"
    );
    // Bad edits change nothing: 400 for what the schema refuses, 422 for a rule it
    // cannot state.
    for (body, status, code) in [
        (
            json!({"hours": {"weekly": {"mon": [{"open": "25:00", "close": "26:00"}]}}}),
            400,
            "station.hours_invalid_time",
        ),
        (
            json!({"amenities": ["sauna"]}),
            400,
            "station.amenity_unknown",
        ),
        (
            json!({"contact_phone": "12345"}),
            400,
            "station.invalid_phone",
        ),
        (
            json!({"reopens_at": "2026-10-01 00:00:00Z"}),
            400,
            "station.invalid_reopens_at",
        ),
        (
            json!({"status": "open", "reopens_at": "2026-10-01T00:00:00Z"}),
            422,
            "station.reopens_at_not_closed",
        ),
        (
            json!({"status": "temporarily_closed", "reopens_at": "2026-02-30T00:00:00Z"}),
            422,
            "station.invalid_reopens_at",
        ),
        (
            json!({"hours": {"weekly": {"mon": [
                {"open": "08:00", "close": "12:00"}, {"open": "11:00", "close": "13:00"}]}}}),
            422,
            "station.hours_overlap",
        ),
        (json!({"capacity": 12.5}), 400, "request.invalid_body"),
        (json!({"lng": 104.07}), 422, "geo.coordinates_unpaired"),
    ] {
        let r = patch(&f.app, &f.manager, id, Some(&current), &body).await;
        assert_eq!(r.status(), status, "{body}");
        assert_eq!(r.json::<Value>().await.unwrap()["code"], code, "{body}");
    }
    // A whole number is an integer however it is written, as JSON Schema says.
    let r = patch(
        &f.app,
        &f.manager,
        id,
        Some(&current),
        &json!({"capacity": 12.0}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().await.unwrap()["capacity"], 12);

    // The manager's own view: their stations, with the QR code.
    let mine: Value = f
        .app
        .get_as(&f.manager, "/api/v1/me/stations")
        .await
        .json()
        .await
        .unwrap();
    let mine = mine["items"].as_array().unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["id"], id);
    // `/me` says so (a console shows the station pages by it); the admin manages none.
    let me: Value = f
        .app
        .get_as(&f.manager, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["managed_stations"], 1);
    let admin: Value = f
        .app
        .get_as(&f.admin, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(admin["managed_stations"], 0);
    assert!(mine[0]["station_code"]
        .as_str()
        .unwrap()
        .starts_with("GYS1."));
    // Managers come from within the assigning admin's subtree.
    let r = f
        .app
        .client
        .put(f.app.url(&format!("/api/v1/admin/stations/{id}/managers")))
        .header("Authorization", f.admin.bearer())
        .json(&json!({ "staff_ids": [staff_id(&sz)] }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "station.manager_out_of_scope"
    );
    // A 成都 admin keeps a manager the 四川 admin assigned from 四川's own staff, but may not
    // add one from outside 成都.
    let sichuan = f.app.org_id("四川省总工会").await;
    f.app.create_staff(&root, "sc-keeper", &sichuan, &[]).await;
    let keeper = f.app.sign_in_staff("sc-keeper", DEMO_PASSWORD).await;
    manage(&f, id, &[&staff_id(&f.manager), &staff_id(&keeper)]).await;
    f.app
        .create_staff(
            &root,
            "cd-admin",
            &f.chengdu,
            &[("union_admin", &f.chengdu)],
        )
        .await;
    let cd = f.app.sign_in_staff("cd-admin", DEMO_PASSWORD).await;
    let put = |ids: Vec<String>| {
        f.app
            .client
            .put(f.app.url(&format!("/api/v1/admin/stations/{id}/managers")))
            .header("Authorization", cd.bearer())
            .json(&json!({ "staff_ids": ids }))
            .send()
    };
    let r = put(vec![staff_id(&keeper), staff_id(&other)])
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "kept from above, added from within");
    let r = put(vec![staff_id(&keeper), staff_id(&sz)]).await.unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test]
async fn an_edit_through_one_replica_is_found_on_another_within_two_seconds() {
    let f = fixture().await;
    let other = f.app.replica().await;
    let s = station(
        &f,
        "双活驿站",
        "fixed",
        (CENTRE.0, CENTRE.1),
        daily("00:00", "24:00"),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let query = format!(
        "lat={}&lng={}&radius_m=100&amenities=hot_water",
        CENTRE.0, CENTRE.1
    );
    // Created on one replica: the other finds it without hot water yet.
    let anywhere = format!("lat={}&lng={}&radius_m=100", CENTRE.0, CENTRE.1);
    found_within_two_seconds(&other, &anywhere, id, "the new station").await;
    assert_eq!(nearby(&other, &query).await["items"], json!([]));
    let tag = format!("\"v{}\"", s["version"]);
    let r = patch(
        &f.app,
        &f.admin,
        id,
        Some(&tag),
        &json!({"amenities": ["hot_water"]}),
    )
    .await;
    assert_eq!(r.status(), 200);
    found_within_two_seconds(&other, &query, id, "the edit").await;
}

/// Polls `app`'s search until `id` is among the results; fails after 2 s.
async fn found_within_two_seconds(app: &TestApp, query: &str, id: &str, what: &str) {
    let started = Instant::now();
    loop {
        let found = nearby(app, query).await;
        if found["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == id)
        {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{what} did not reach the replica in 2 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_movable_station_moves_and_keeps_its_track() {
    let f = fixture().await;
    let s = station(
        &f,
        "流动服务车",
        "movable",
        (CENTRE.0, CENTRE.1),
        daily("11:00", "21:00"),
    )
    .await;
    let fixed = station(
        &f,
        "固定驿站",
        "fixed",
        (CENTRE.0, CENTRE.1),
        daily("11:00", "21:00"),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    manage(&f, id, &[&staff_id(&f.manager)]).await;
    let to = (30.60, 104.10);
    let put = |who: &Session, station: &str| {
        f.app
            .client
            .put(f.app.url(&format!("/api/v1/stations/{station}/location")))
            .header("Authorization", who.bearer())
            .json(&json!({"lat": to.0, "lng": to.1}))
            .send()
    };
    let r = put(&f.manager, fixed["id"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "not their station");
    let r = put(&f.admin, fixed["id"].as_str().unwrap()).await.unwrap();
    assert_eq!(r.status(), 422, "a fixed station does not move this way");
    f.app.clock.advance(chrono::Duration::minutes(10));
    let r = put(&f.manager, id).await.unwrap();
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(
        (
            moved["lat"].as_f64().unwrap(),
            moved["lng"].as_f64().unwrap()
        ),
        to
    );
    let track = moved["recent_locations"].as_array().unwrap();
    assert_eq!(track.len(), 2);
    assert_eq!(track[0]["lat"], to.0);
    assert_eq!(track[1]["lat"], CENTRE.0);
    let found = nearby(
        &f.app,
        &format!("lat={}&lng={}&radius_m=200&type=movable", to.0, to.1),
    )
    .await;
    assert_eq!(found["items"][0]["id"], id);
    let public: Value = f
        .app
        .get(&format!("/api/v1/stations/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        public["recent_locations"],
        json!([]),
        "the track is for its managers"
    );
    let old = nearby(
        &f.app,
        &format!(
            "lat={}&lng={}&radius_m=200&type=movable",
            CENTRE.0, CENTRE.1
        ),
    )
    .await;
    assert_eq!(old["items"], json!([]));
}

async fn check_in(app: &TestApp, who: &Session, station: &str, code: &str) -> reqwest::Response {
    app.post_json_as(
        who,
        &format!("/api/v1/stations/{station}/check-ins"),
        &json!({"station_code": code}),
    )
    .await
}

/// What a phone writes into a photo's metadata: where it was taken.
const WHERE_TAKEN: &[u8] = b"GPSLatitude 30.657 GPSLongitude 104.066";

/// A real 64 × 48 picture.
fn pixels() -> image::RgbImage {
    image::ImageBuffer::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    })
}

fn encoded(format: image::ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb8(pixels())
        .write_to(&mut out, format)
        .unwrap();
    out.into_inner()
}

/// A JPEG carrying the position in an EXIF (APP1) and a Photoshop/IPTC (APP13) segment.
fn jpeg_with_metadata() -> Vec<u8> {
    let segment = |marker: u8, payload: &[u8]| {
        let len = (payload.len() + 2) as u16;
        let mut s = vec![0xFF, marker, (len >> 8) as u8, len as u8];
        s.extend_from_slice(payload);
        s
    };
    let jpeg = encoded(image::ImageFormat::Jpeg);
    [
        jpeg[..2].to_vec(),
        segment(0xE1, &[b"Exif\0\0".as_slice(), WHERE_TAKEN].concat()),
        segment(0xED, &[b"Photoshop 3.0\0".as_slice(), WHERE_TAKEN].concat()),
        jpeg[2..].to_vec(),
    ]
    .concat()
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG carrying the position in an eXIf and a tEXt chunk.
fn png_with_metadata() -> Vec<u8> {
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&crc32(&c[4..]).to_be_bytes());
        c
    };
    let png = encoded(image::ImageFormat::Png);
    let iend = png.len() - 12;
    [
        png[..iend].to_vec(),
        chunk(b"eXIf", WHERE_TAKEN),
        chunk(b"tEXt", &[b"Location\0".as_slice(), WHERE_TAKEN].concat()),
        png[iend..].to_vec(),
    ]
    .concat()
}

/// A WebP (extended format) carrying the position in an EXIF chunk.
fn webp_with_metadata() -> Vec<u8> {
    let webp = encoded(image::ImageFormat::WebP);
    let image_chunk = &webp[12..]; // the VP8L chunk after "RIFF" size "WEBP"
    let chunk = |kind: &[u8; 4], data: &[u8]| {
        let mut c = kind.to_vec();
        c.extend_from_slice(&(data.len() as u32).to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    };
    // VP8X: flags (EXIF present), 3 reserved bytes, canvas width − 1 and height − 1 (24-bit).
    let mut vp8x = vec![0x08, 0, 0, 0];
    vp8x.extend_from_slice(&63u32.to_le_bytes()[..3]);
    vp8x.extend_from_slice(&47u32.to_le_bytes()[..3]);
    let body = [
        b"WEBP".to_vec(),
        chunk(b"VP8X", &vp8x),
        image_chunk.to_vec(),
        chunk(b"EXIF", WHERE_TAKEN),
    ]
    .concat();
    [
        b"RIFF".to_vec(),
        (body.len() as u32).to_le_bytes().to_vec(),
        body,
    ]
    .concat()
}

fn multipart(bytes: &[u8], content_type: &str) -> (String, Vec<u8>) {
    let boundary = "gongyou-test-boundary";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[tokio::test]
async fn managers_upload_photos_that_anyone_can_see() {
    let f = fixture().await;
    let s = station(
        &f,
        "有照片的驿站",
        "fixed",
        (CENTRE.0, CENTRE.1),
        daily("08:00", "20:00"),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    manage(&f, id, &[&staff_id(&f.manager)]).await;
    let upload = |who: &Session, bytes: &[u8], ct: &str| {
        let (content_type, body) = multipart(bytes, ct);
        f.app
            .client
            .post(f.app.url(&format!("/api/v1/stations/{id}/photos")))
            .header("Authorization", who.bearer())
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    // Whatever the format and wherever the metadata hides, what is served has none of it,
    // and is the same picture.
    let mut photo = Value::Null;
    for (bytes, content_type, format) in [
        (png_with_metadata(), "image/png", image::ImageFormat::Png),
        (webp_with_metadata(), "image/webp", image::ImageFormat::WebP),
        (jpeg_with_metadata(), "image/jpeg", image::ImageFormat::Jpeg),
    ] {
        assert!(
            image::load_from_memory_with_format(&bytes, format).is_ok(),
            "{content_type}: the fixture is a readable image"
        );
        let r = upload(&f.manager, &bytes, content_type).await.unwrap();
        assert_eq!(r.status(), 201, "{content_type}");
        photo = r.json().await.unwrap();
        assert_eq!(photo["content_type"], content_type);
        let r = f.app.get(photo["url"].as_str().unwrap()).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], content_type);
        assert_eq!(r.headers()["x-content-type-options"], "nosniff");
        let served = r.bytes().await.unwrap().to_vec();
        assert!(
            !served.windows(WHERE_TAKEN.len()).any(|w| w == WHERE_TAKEN),
            "{content_type}: the position was served"
        );
        let picture = image::load_from_memory_with_format(&served, format)
            .unwrap()
            .to_rgb8();
        assert_eq!(picture.dimensions(), (64, 48));
        let (expected, got) = (pixels().get_pixel(40, 30).0, picture.get_pixel(40, 30).0);
        for (e, g) in expected.iter().zip(got) {
            assert!(
                e.abs_diff(g) <= 12,
                "{content_type}: {expected:?} vs {got:?}"
            );
        }
    }
    let station: Value = f
        .app
        .get(&format!("/api/v1/stations/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let listed = station["photos"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().any(|p| p["id"] == photo["id"]));

    let r = upload(&f.manager, b"#!/bin/sh\necho not an image", "image/jpeg")
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "station.photo_type"
    );
    let worker = f.app.sign_in_worker("13700000002").await;
    assert_eq!(
        upload(&worker, &jpeg_with_metadata(), "image/jpeg")
            .await
            .unwrap()
            .status(),
        403
    );
    // One part, `file`, as the contract says: a second file or another part is refused, and
    // nothing is added.
    let (content_type, body) = multipart(&jpeg_with_metadata(), "image/jpeg");
    let extra =
        b"--gongyou-test-boundary\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhi\r\n";
    let twice = [
        &body[..body.len() - b"--gongyou-test-boundary--\r\n".len()],
        &body[..],
    ]
    .concat();
    for body in [[&extra[..], &body[..]].concat(), twice] {
        let r = f
            .app
            .client
            .post(f.app.url(&format!("/api/v1/stations/{id}/photos")))
            .header("Authorization", f.manager.bearer())
            .header("Content-Type", &content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.json::<Value>().await.unwrap()["code"],
            "station.photo_missing"
        );
    }
    let big = vec![0xFF_u8; 6 * 1024 * 1024];
    let r = upload(&f.manager, &big, "image/jpeg").await.unwrap();
    assert_eq!(r.status(), 413);
    let station: Value = f
        .app
        .get(&format!("/api/v1/stations/{id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(station["photos"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn check_ins_count_once_an_hour_and_feed_the_stats() {
    let f = fixture().await;
    let s = station(
        &f,
        "打卡驿站",
        "fixed",
        (CENTRE.0, CENTRE.1),
        daily("00:00", "24:00"),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    manage(&f, id, &[&staff_id(&f.manager)]).await;
    let managed: Value = f
        .app
        .get_as(&f.manager, &format!("/api/v1/stations/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let code = managed["station_code"].as_str().unwrap().to_owned();
    let other = station(
        &f,
        "另一个驿站",
        "fixed",
        (CENTRE.0, CENTRE.1),
        daily("00:00", "24:00"),
    )
    .await;

    // Signed in now, their tokens outlive the earlier days the clock is set to.
    let rider = f.app.sign_in_worker("13700000003").await;
    let second = f.app.sign_in_worker("13700000004").await;
    let (member, _) = f
        .app
        .new_member(
            "13700000005",
            &gongyou_tests::session::id_number("510104", "19900315", "123"),
        )
        .await;
    f.app.clock.set(shanghai(2026, 7, 15, 9, 0));

    let first = check_in(&f.app, &rider, id, &code).await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    f.app.clock.advance(chrono::Duration::minutes(59));
    let again = check_in(&f.app, &rider, id, &code).await;
    assert_eq!(again.status(), 200);
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["repeat"], true);
    f.app.clock.advance(chrono::Duration::minutes(2));
    assert_eq!(
        check_in(&f.app, &rider, id, &code).await.status(),
        201,
        "a new hour, a new visit"
    );
    assert_eq!(check_in(&f.app, &second, id, &code).await.status(), 201);
    // Another station's code, or a forged one, does not check in here.
    let r = check_in(&f.app, &rider, other["id"].as_str().unwrap(), &code).await;
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.json::<Value>().await.unwrap()["code"],
        "station.code_invalid"
    );
    assert_eq!(check_in(&f.app, &rider, id, "GYS1.x.y").await.status(), 422);
    assert_eq!(
        check_in(&f.app, &f.manager, id, &code).await.status(),
        403,
        "workers check in"
    );

    // The next day, a member card verified at the station counts as a visit.
    f.app.clock.set(shanghai(2026, 7, 16, 10, 0));

    let card: Value = f
        .app
        .get_as(&member, "/api/v1/me/membership/card")
        .await
        .json()
        .await
        .unwrap();
    let verified = f
        .app
        .post_json_as(
            &f.manager,
            "/api/v1/membership/card-verifications",
            &json!({"qr": card["qr"], "station_id": id}),
        )
        .await;
    assert_eq!(verified.status(), 200);
    assert_eq!(verified.json::<Value>().await.unwrap()["result"], "valid");
    // Not at a station they manage.
    let r = f
        .app
        .post_json_as(
            &f.manager,
            "/api/v1/membership/card-verifications",
            &json!({"qr": card["qr"], "station_id": other["id"]}),
        )
        .await;
    assert_eq!(r.status(), 403);

    let stats: Value = f
        .app
        .get_as(
            &f.manager,
            &format!("/api/v1/stations/{id}/stats?from=2026-07-14&to=2026-07-16"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        stats["days"],
        json!([
            {"date": "2026-07-14", "visits": 0, "visitors": 0},
            {"date": "2026-07-15", "visits": 3, "visitors": 2},
            {"date": "2026-07-16", "visits": 1, "visitors": 1},
        ])
    );
    assert_eq!(stats["total_visits"], 4);
    assert_eq!(stats["distinct_visitors"], 3);
    let r = f
        .app
        .get_as(
            &f.manager,
            &format!("/api/v1/stations/{}/stats", other["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(r.status(), 403, "not their station");
    let r = f
        .app
        .get_as(
            &f.manager,
            &format!("/api/v1/stations/{id}/stats?from=2026-07-16&to=2026-07-14"),
        )
        .await;
    assert_eq!(r.status(), 422);
    // Not a date of the contract's pattern: 400; a range the rules refuse, or a day that does
    // not exist: 422.
    for (range, status) in [
        ("to=-262144-01-01", 400),
        ("from=%2B262142-12-31&to=%2B262142-12-31", 400),
        ("to=2026-02-30", 422),
        ("from=1999-12-31&to=2000-01-05", 422),
        ("from=2025-01-01&to=2026-07-16", 422),
    ] {
        let r = f
            .app
            .get_as(&f.manager, &format!("/api/v1/stations/{id}/stats?{range}"))
            .await;
        assert_eq!(r.status(), status, "{range}");
    }
    // Visits are stored without the user id.
    let user_id = rider.user["id"].as_str().unwrap().to_owned();
    let stored = f
        .app
        .state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use gongyou_db::schema::station_visits as v;
            v::table
                .filter(v::visitor.eq(&user_id))
                .count()
                .get_result::<i64>(conn)
                .map_err(gongyou_db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[tokio::test]
async fn reports_reach_the_managers_who_resolve_them() {
    let f = fixture().await;
    let s = station(
        &f,
        "反馈驿站",
        "fixed",
        (CENTRE.0, CENTRE.1),
        daily("08:00", "20:00"),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    manage(&f, id, &[&staff_id(&f.manager)]).await;
    let rider = f.app.sign_in_worker("13700000006").await;
    let path = format!("/api/v1/stations/{id}/reports");
    let r = f
        .app
        .post_json_as(
            &rider,
            &path,
            &json!({"kind": "amenity_missing", "note": "充电桩坏了"}),
        )
        .await;
    assert_eq!(r.status(), 201);
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["status"], "open");
    for (body, status) in [
        (json!({"kind": "other"}), 422),
        (json!({"kind": "ufo"}), 400),
        (json!({"kind": "other", "note": "x".repeat(501)}), 400),
    ] {
        assert_eq!(
            f.app.post_json_as(&rider, &path, &body).await.status(),
            status,
            "{body}"
        );
    }
    assert_eq!(
        f.app
            .post_json_as(&f.manager, &path, &json!({"kind": "wrong_location"}))
            .await
            .status(),
        403,
        "workers report"
    );
    // The manager's inbox has it.
    let inbox: Value = f
        .app
        .get_as(&f.manager, "/api/v1/me/notifications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["items"][0]["category"], "station_report_received");
    // The notice names the station and the problem; the worker's own words stay on the
    // report (where erasure can reach them), not in every manager's inbox.
    assert_eq!(inbox["items"][0]["body"], "反馈驿站：设施缺失或损坏");
    assert!(!inbox.to_string().contains("充电桩坏了"));
    let list: Value = f
        .app
        .get_as(&f.manager, &format!("{path}?status=open"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["id"], report["id"]);
    // Workers and other stations' managers neither see nor resolve them.
    assert_eq!(f.app.get_as(&rider, &path).await.status(), 403);
    let resolve = format!("{path}/{}/resolve", report["id"].as_str().unwrap());
    let other = other_stations_manager(&f).await;
    assert_eq!(f.app.get_as(&other, &path).await.status(), 403);
    assert_eq!(
        f.app
            .post_json_as(&other, &resolve, &json!({"resolution": "不是我的"}))
            .await
            .status(),
        403
    );
    // A body that does not parse is refused, and the report stays open.
    for bad in [json!({"resolution": 5}), json!("已处理")] {
        let r = f.app.post_json_as(&f.manager, &resolve, &bad).await;
        assert_eq!(r.status(), 400, "{bad}");
    }
    let r = f
        .app
        .post_json_as(&f.manager, &resolve, &json!({"resolution": "已更换充电桩"}))
        .await;
    assert_eq!(r.status(), 200);
    let resolved: Value = r.json().await.unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolution"], "已更换充电桩");
    assert_eq!(
        f.app
            .post_json_as(&f.manager, &resolve, &json!({}))
            .await
            .status(),
        409
    );
    let open: Value = f
        .app
        .get_as(&f.manager, &format!("{path}?status=open"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open["items"], json!([]));
    // Flooding one station is limited.
    for _ in 0..4 {
        assert_eq!(
            f.app
                .post_json_as(&rider, &path, &json!({"kind": "closed_when_open"}))
                .await
                .status(),
            201
        );
    }
    assert_eq!(
        f.app
            .post_json_as(&rider, &path, &json!({"kind": "closed_when_open"}))
            .await
            .status(),
        429
    );
    let _ = StationType::Fixed;
}

#[tokio::test]
async fn one_worker_cannot_fan_reports_out_across_many_stations() {
    let f = fixture().await;
    let rider = f.app.sign_in_worker("13700000016").await;
    let mut stations = Vec::new();
    for i in 0..12 {
        let s = station(
            &f,
            &format!("反馈驿站{i}"),
            "fixed",
            (CENTRE.0, CENTRE.1),
            daily("00:00", "24:00"),
        )
        .await;
        manage(&f, s["id"].as_str().unwrap(), &[&staff_id(&f.manager)]).await;
        stations.push(s["id"].as_str().unwrap().to_owned());
    }
    let report = |id: &str| {
        let path = format!("/api/v1/stations/{id}/reports");
        let (app, rider) = (&f.app, &rider);
        async move {
            app.post_json_as(rider, &path, &json!({"kind": "unsafe_or_dirty"}))
                .await
        }
    };
    // Ten a day in all, one per station: well under each station's own limit.
    for id in &stations[..10] {
        assert_eq!(report(id).await.status(), 201);
    }
    let refused = report(&stations[10]).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "station.too_many_reports");
    // The managers heard of ten reports, not more.
    let inbox: Value = f
        .app
        .get_as(&f.manager, "/api/v1/me/notifications?limit=50")
        .await
        .json()
        .await
        .unwrap();
    let heard = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["category"] == "station_report_received")
        .count();
    assert_eq!(heard, 10);
    // Another worker is not limited by this one; and a day later the rider may report again.
    let other = f.app.sign_in_worker("13700000017").await;
    let path = format!("/api/v1/stations/{}/reports", stations[11]);
    assert_eq!(
        f.app
            .post_json_as(&other, &path, &json!({"kind": "unsafe_or_dirty"}))
            .await
            .status(),
        201
    );
    f.app.clock.advance(chrono::Duration::hours(24));
    let rider = f.app.sign_in_worker("13700000016").await;
    assert_eq!(
        f.app
            .post_json_as(&rider, &path, &json!({"kind": "unsafe_or_dirty"}))
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn a_rotated_station_code_no_longer_checks_in() {
    let f = fixture().await;
    let s = station(
        &f,
        "换码驿站",
        "fixed",
        (CENTRE.0, CENTRE.1),
        daily("00:00", "24:00"),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    manage(&f, id, &[&staff_id(&f.manager)]).await;
    let code_of = |view: &Value| view["station_code"].as_str().unwrap().to_owned();
    let shown: Value = f
        .app
        .get_as(&f.manager, &format!("/api/v1/stations/{id}"))
        .await
        .json()
        .await
        .unwrap();
    let old = code_of(&shown);
    let rider = f.app.sign_in_worker("13700000018").await;
    assert_eq!(check_in(&f.app, &rider, id, &old).await.status(), 201);

    // Workers and other stations' managers cannot rotate it.
    let rotate = format!("/api/v1/stations/{id}/code-rotations");
    let other = other_stations_manager(&f).await;
    for who in [&rider, &other] {
        assert_eq!(
            f.app.post_json_as(who, &rotate, &json!({})).await.status(),
            403
        );
    }
    let rotated = f.app.post_json_as(&f.manager, &rotate, &json!({})).await;
    assert_eq!(rotated.status(), 200);
    assert!(rotated.headers().contains_key("etag"));
    let rotated: Value = rotated.json().await.unwrap();
    let new = code_of(&rotated);
    assert_ne!(new, old);
    assert_eq!(rotated["version"], shown["version"].as_i64().unwrap() + 1);

    // The old poster no longer works; the new one does.
    let second = f.app.sign_in_worker("13700000019").await;
    let refused = check_in(&f.app, &second, id, &old).await;
    assert_eq!(refused.status(), 422);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "station.code_invalid");
    assert_eq!(check_in(&f.app, &second, id, &new).await.status(), 201);
    // Rotating again retires the second code too.
    let third: Value = f
        .app
        .post_json_as(&f.manager, &rotate, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_ne!(code_of(&third), new);
    let fourth = f.app.sign_in_worker("13700000020").await;
    assert_eq!(check_in(&f.app, &fourth, id, &new).await.status(), 422);
    assert_eq!(
        check_in(&f.app, &fourth, id, &code_of(&third))
            .await
            .status(),
        201
    );
}

#[tokio::test]
#[ignore = "needs an S3-compatible endpoint (GONGYOU_TEST_S3_URL): .ci/run starts one and runs it with --include-ignored"]
async fn photos_can_live_in_an_s3_compatible_bucket() {
    let s3 = std::env::var("GONGYOU_TEST_S3_URL").expect(
        "GONGYOU_TEST_S3_URL is not set: this test stores photos in an S3-compatible bucket",
    );
    let bucket = format!("gongyou-test-{}", uuid::Uuid::now_v7().simple());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let made = http.put(format!("{s3}/{bucket}")).send().await.unwrap();
    assert!(made.status().is_success(), "bucket: {}", made.status());
    let f = fixture_with(
        [
            ("GONGYOU_S3_BUCKET", bucket.as_str()),
            ("GONGYOU_S3_ENDPOINT", s3.as_str()),
            ("GONGYOU_S3_REGION", "us-east-1"),
            ("GONGYOU_S3_ACCESS_KEY_ID", "gongyou-test"),
            ("GONGYOU_S3_SECRET_ACCESS_KEY", "gongyou-test-secret"),
            ("GONGYOU_S3_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect(),
    )
    .await;
    let s = station(
        &f,
        "云端照片驿站",
        "fixed",
        (CENTRE.0, CENTRE.1),
        daily("08:00", "20:00"),
    )
    .await;
    let id = s["id"].as_str().unwrap();
    let (content_type, body) = multipart(&jpeg_with_metadata(), "image/jpeg");
    let r = f
        .app
        .client
        .post(f.app.url(&format!("/api/v1/stations/{id}/photos")))
        .header("Authorization", f.admin.bearer())
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let photo: Value = r.json().await.unwrap();
    let served = f.app.get(photo["url"].as_str().unwrap()).await;
    assert_eq!(served.status(), 200);
    let stored = served.bytes().await.unwrap().to_vec();
    assert_eq!(stored.len() as i64, photo["bytes"].as_i64().unwrap());
    assert_eq!(
        image::load_from_memory(&stored)
            .unwrap()
            .to_rgb8()
            .dimensions(),
        (64, 48)
    );
    // It is in the bucket (listed by key and size), not in the data directory.
    let listing = http
        .get(format!("{s3}/{bucket}?list-type=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let key = format!("stations/{id}/{}", photo["id"].as_str().unwrap());
    assert!(listing.contains(&format!("<Key>{key}</Key>")), "{listing}");
    assert!(
        listing.contains(&format!("<Size>{}</Size>", stored.len())),
        "{listing}"
    );
    assert!(!f.app.data_dir.path().join("files").join(&key).exists());
}
