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
