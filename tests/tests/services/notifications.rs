//! Notification use-cases: the outbox wakes each dispatcher once however often it is
//! written to, and a campaign's fan-out resumes without writing anyone twice.

use gongyou_db::jobs as store;
use gongyou_db::write_tx;
use gongyou_domain::notification::Category;
use gongyou_services::membership::{self, NewApplication};
use gongyou_services::notifications::campaigns::{self, FanOut, NewCampaign};
use gongyou_services::notifications::outbox::{notify, DISPATCH_SHARDS};
use gongyou_tests::services::TestServices;
use gongyou_tests::session::{application, id_number};
use serde_json::json;

async fn dispatchers_waiting(s: &TestServices) -> usize {
    s.ctx
        .db
        .run(|conn| store::list(conn, None, None, 100))
        .await
        .unwrap()
        .iter()
        .filter(|j| j.name == "notifications.dispatch" && j.status == "queued")
        .count()
}

#[tokio::test]
async fn notifying_wakes_each_dispatcher_once() {
    let s = TestServices::start().await;
    let rider = s.user("13100000501").await;
    let user = rider.user_id().unwrap().to_owned();
    let now = s.ctx.now();
    for _ in 0..3 {
        let user = user.clone();
        s.ctx
            .db
            .run(move |conn| {
                write_tx(conn, |conn| {
                    notify(
                        conn,
                        &user,
                        Category::Notice,
                        json!({"title": "高温预警", "text": "注意防暑"}),
                        now,
                    )
                })
            })
            .await
            .unwrap();
    }
    assert_eq!(dispatchers_waiting(&s).await, DISPATCH_SHARDS);
    s.drain_jobs().await;
    assert_eq!(
        dispatchers_waiting(&s).await,
        0,
        "each ran and found the work"
    );
}

#[tokio::test]
async fn a_fan_out_writes_each_member_once_however_often_it_runs() {
    let s = TestServices::start().await;
    let admin = s.staff("demo-sichuan-admin").await;
    for (n, region) in [(1, "510104"), (2, "510105"), (3, "510107")] {
        let rider = s.user(&format!("1310000060{n}")).await;
        let form: NewApplication = serde_json::from_value(application(
            &id_number(region, "19920606", &format!("08{n}")),
            region,
        ))
        .unwrap();
        let applied = membership::apply(&s.ctx, &rider, form).await.unwrap();
        membership::approve(&s.ctx, &admin, applied.id)
            .await
            .unwrap();
    }
    let campaign = campaigns::create(
        &s.ctx,
        &admin,
        NewCampaign {
            org_id: s.org_id("四川省总工会").await,
            occupation: None,
            title: "高温预警".into(),
            body: "今天最高气温 38 度，请注意防暑。".into(),
        },
    )
    .await
    .unwrap();
    let job = FanOut {
        campaign_id: campaign.id.clone(),
    };
    assert_eq!(campaigns::fan_out(&s.ctx, &job).await.unwrap(), 3);
    assert_eq!(
        campaigns::fan_out(&s.ctx, &job).await.unwrap(),
        0,
        "resumed at its end"
    );
    let after = campaigns::get(&s.ctx, &admin, campaign.id).await.unwrap();
    assert_eq!((after.status.as_str(), after.recipients), ("sent", 3));
}
