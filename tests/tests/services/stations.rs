//! Station use-cases: optimistic edits by version, managers only from the admin's subtree,
//! and a committed change applied to this process's search index at once.

use std::sync::Arc;

use gongyou_services::staff::{self, NewStaff};
use gongyou_services::stations::search::StationSearch;
use gongyou_services::stations::{self, ManagersBody, NewStation, StationPatch};
use gongyou_services::Kind;
use gongyou_tests::services::TestServices;
use serde_json::json;

fn new_station(org_id: &str) -> NewStation {
    serde_json::from_value(json!({
        "org_id": org_id,
        "type": "fixed",
        "name": "春熙路驿站",
        "address": "成都市锦江区春熙路 1 号",
        "region_code": "510104",
        "lat": 30.6574,
        "lng": 104.0806,
        "amenities": ["drinking_water"],
        "hours": {"weekly": {"mon": [{"open": "00:00", "close": "24:00"}]}},
    }))
    .unwrap()
}

#[tokio::test]
async fn a_change_is_searchable_at_once_and_a_stale_edit_is_refused() {
    let s = TestServices::start().await;
    let search = Arc::new(StationSearch::build(Vec::new(), None));
    let ctx = s.ctx.clone().with_station_search(search.clone());
    let admin = s.staff("demo-sichuan-admin").await;
    let jinjiang = s.org_id("锦江区总工会").await;

    let created = stations::create(&ctx, &admin, new_station(&jinjiang))
        .await
        .unwrap();
    assert_eq!(
        search.len(),
        1,
        "applied to this process's index without a catch-up"
    );
    assert_eq!(created.version, 1);

    let rename =
        |name: &str| -> StationPatch { serde_json::from_value(json!({ "name": name })).unwrap() };
    let edited = stations::update(
        &ctx,
        &admin,
        created.id.clone(),
        Some(1),
        rename("春熙路驿站（新）"),
    )
    .await
    .unwrap();
    assert_eq!(
        (edited.version, edited.name.as_str()),
        (2, "春熙路驿站（新）")
    );
    let stale = stations::update(
        &ctx,
        &admin,
        created.id.clone(),
        Some(1),
        rename("旧版本的修改"),
    )
    .await
    .unwrap_err();
    assert_eq!(
        (stale.kind(), stale.code()),
        (Kind::Stale, "station.version_mismatch")
    );
    let any = stations::update(&ctx, &admin, created.id.clone(), None, rename("任意版本"))
        .await
        .unwrap();
    assert_eq!(
        any.version, 3,
        "no expected version: whatever the current one is"
    );
}

#[tokio::test]
async fn managers_come_only_from_within_the_admins_subtree() {
    let s = TestServices::start().await;
    let sichuan = s.staff("demo-sichuan-admin").await;
    let national = s.staff("demo-admin").await;
    let station = stations::create(
        &s.ctx,
        &sichuan,
        new_station(&s.org_id("锦江区总工会").await),
    )
    .await
    .unwrap();
    let shenzhen_staff = staff::create(
        &s.ctx,
        &national,
        serde_json::from_value::<NewStaff>(json!({
            "username": "sz-helper",
            "display_name": "深圳帮手",
            "password": "shenzhen-2026-pass",
            "org_id": s.org_id("深圳市总工会").await,
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let out_of_scope = stations::set_managers(
        &s.ctx,
        &sichuan,
        station.id.clone(),
        ManagersBody {
            staff_ids: vec![shenzhen_staff.id.clone()],
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        (out_of_scope.kind(), out_of_scope.code()),
        (Kind::Rule, "station.manager_out_of_scope")
    );
    let from_above = stations::set_managers(
        &s.ctx,
        &national,
        station.id.clone(),
        ManagersBody {
            staff_ids: vec![shenzhen_staff.id.clone()],
        },
    )
    .await
    .unwrap();
    assert_eq!(from_above.managers.unwrap().len(), 1);
    // Assigned from above, the manager stays when the Sichuan admin keeps the list.
    let kept = stations::set_managers(
        &s.ctx,
        &sichuan,
        station.id,
        ManagersBody {
            staff_ids: vec![shenzhen_staff.id],
        },
    )
    .await
    .unwrap();
    assert_eq!(kept.managers.unwrap().len(), 1);
}

/// The search caches open windows in local minutes since 1970 (Beijing time). Before 1970
/// nothing can be cached, and far in the future a window does not fit its word and is not
/// stored: either way each answer (asked twice, so a second one could read a cache) is the
/// hours' own.
#[test]
fn open_now_is_exact_where_nothing_can_be_cached() {
    use chrono::{TimeZone, Utc};
    use gongyou_db::stations::SearchRow;
    use gongyou_domain::geo::LatLng;
    use gongyou_domain::station::{open_now_local, AmenitySet, OpeningHours, StationStatus};
    use gongyou_domain::time::china_local;
    use gongyou_services::stations::search::{Filters, When};

    let daily = |open: &str, close: &str| {
        let span = json!([{"open": open, "close": close}]);
        json!({"weekly": {"mon": span, "tue": span, "wed": span, "thu": span, "fri": span, "sat": span, "sun": span}})
            .to_string()
    };
    let hours = [daily("08:00", "20:00"), daily("20:00", "02:00")];
    let rows: Vec<SearchRow> = hours
        .iter()
        .enumerate()
        .map(|(i, h)| SearchRow {
            id: format!("s{i}"),
            kind: "fixed".into(),
            name: format!("驿站{i}"),
            address: "成都".into(),
            lat: 30.657 + 0.001 * i as f64,
            lng: 104.066,
            amenities: String::new(),
            hours: h.clone(),
            status: "open".into(),
            reopens_at: None,
            version: 1,
        })
        .collect();
    let search = StationSearch::build(rows, None);
    assert_eq!(search.len(), 2);
    let at = LatLng {
        lat: 30.657,
        lng: 104.066,
    };
    let open = Filters {
        amenities: AmenitySet::default(),
        kind: None,
        open_now: true,
    };
    let beijing = |y, mo, d, h, mi| {
        chrono::FixedOffset::east_opt(8 * 3600)
            .unwrap()
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    for now in [
        beijing(1969, 12, 31, 23, 59),
        beijing(1969, 12, 31, 12, 0),
        beijing(1970, 1, 1, 0, 0),
        beijing(1970, 1, 1, 8, 0),
        beijing(6060, 6, 1, 1, 59),
        beijing(6060, 6, 1, 9, 0),
        beijing(6060, 6, 1, 21, 0),
    ] {
        let expected: Vec<String> = hours
            .iter()
            .enumerate()
            .filter(|(_, h)| {
                let parsed = OpeningHours::from_json(&serde_json::from_str(h).unwrap()).unwrap();
                open_now_local(StationStatus::Open, None, &parsed, now, china_local(now))
            })
            .map(|(i, _)| format!("s{i}"))
            .collect();
        for _ in 0..2 {
            let got = search.nearby(at, 3000.0, 10, open, When::new(now), |hits| {
                let mut ids: Vec<String> = hits.iter().map(|h| h.id.to_owned()).collect();
                ids.sort();
                ids
            });
            assert_eq!(got, expected, "at {now}");
        }
    }
}
