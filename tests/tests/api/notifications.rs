//! Notifications: the outbox written with the change, the inbox, app push through a fake
//! JPush (errors, 429, invalid registrations, crash between send and record), preferences.

use chrono::Duration;
use gongyou_db::notifications as store;
use gongyou_jobs::Worker;
use gongyou_tests::fakes::jpush::FakeJpush;
use gongyou_tests::session::{application, id_number, Session, DEMO_PASSWORD};
use gongyou_tests::{spawn_app, spawn_app_with, TestApp};
use serde_json::{json, Value};

async fn app_with_push() -> (TestApp, FakeJpush) {
    let fake = FakeJpush::start().await;
    let app = spawn_app_with(
        [
            (
                "GONGYOU_JPUSH_APP_KEY".to_owned(),
                FakeJpush::APP_KEY.to_owned(),
            ),
            (
                "GONGYOU_JPUSH_MASTER_SECRET".to_owned(),
                FakeJpush::MASTER_SECRET.to_owned(),
            ),
            ("GONGYOU_JPUSH_BASE_URL".to_owned(), fake.base_url()),
        ]
        .into(),
    )
    .await;
    app.seed().await;
    (app, fake)
}

fn worker(app: &TestApp) -> Worker {
    app.job_worker()
}

/// A worker with a device, and the admin who approves them.
async fn applicant(app: &TestApp, phone: &str, device: Option<&str>) -> (Session, Session, String) {
    let worker = app.sign_in_worker(phone).await;
    if let Some(device) = device {
        let r = app
            .client
            .put(app.url("/api/v1/me/devices"))
            .header("Authorization", worker.bearer())
            .json(&json!({"registration_id": device, "platform": "android"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    let n: u32 = phone[7..].parse().unwrap();
    let id = id_number(
        "510104",
        &format!("1990{:02}{:02}", 1 + n % 12, 1 + n % 28),
        &format!("{:03}", n % 1000),
    );
    let app_body: Value = app
        .apply(&worker, &application(&id, "510104"))
        .await
        .json()
        .await
        .unwrap();
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    (worker, admin, app_body["id"].as_str().unwrap().to_owned())
}

async fn approve(app: &TestApp, admin: &Session, application_id: &str) -> Value {
    let r = app
        .post_json_as(
            admin,
            &format!("/api/v1/admin/membership/applications/{application_id}/approve"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status(), 200);
    r.json().await.unwrap()
}

async fn push_deliveries(app: &TestApp, user: &Session) -> Vec<store::Delivery> {
    deliveries_on(app, user, "push").await
}

async fn all_deliveries(app: &TestApp, user: &Session) -> Vec<store::Delivery> {
    let user_id = user.user["id"].as_str().unwrap().to_owned();
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use gongyou_db::schema::notification_deliveries as d;
            d::table
                .filter(d::user_id.eq(&user_id))
                .select(store::Delivery::as_select())
                .load(conn)
                .map_err(gongyou_db::DbError::from)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn an_approval_lands_in_the_inbox_and_on_the_phone() {
    let (app, fake) = app_with_push().await;
    let (member, admin, application_id) = applicant(&app, "13400000101", Some("reg-0101")).await;
    let membership = approve(&app, &admin, &application_id).await;

    // The inbox has it at once (written with the approval).
    let inbox: Value = app
        .get_as(&member, "/api/v1/me/notifications")
        .await
        .json()
        .await
        .unwrap();
    let note = inbox["items"][0].clone();
    assert_eq!(note["category"], "membership_approved");
    assert_eq!(note["title"], "入会申请已通过");
    assert!(note["body"]
        .as_str()
        .unwrap()
        .contains(membership["card_number"].as_str().unwrap()));
    assert_eq!(note["read"], false);
    let count: Value = app
        .get_as(&member, "/api/v1/me/notifications/unread-count")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count["unread"], 1);

    // The phone gets it once the dispatcher runs.
    assert_eq!(fake.push_count(), 0);
    worker(&app).drain().await.unwrap();
    let pushes = fake.pushes();
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0].1, vec!["reg-0101".to_owned()]);
    assert!(pushes[0]
        .2
        .contains(membership["card_number"].as_str().unwrap()));
    let deliveries = push_deliveries(&app, &member).await;
    assert_eq!(deliveries[0].status, "sent");
    assert_eq!(
        deliveries[0].provider_ref.as_deref(),
        Some(pushes[0].0.as_str())
    );

    // Reading.
    let other = app.sign_in_worker("13400000199").await;
    let path = format!(
        "/api/v1/me/notifications/{}/read",
        note["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post_json_as(&other, &path, &json!({})).await.status(),
        404,
        "not theirs"
    );
    let read: Value = app
        .post_json_as(&member, &path, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["read"], true);
    let count: Value = app
        .get_as(&member, "/api/v1/me/notifications/unread-count")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(count["unread"], 0);
    let all: Value = app
        .post_json_as(&member, "/api/v1/me/notifications/read-all", &json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["marked"], 0);
}

#[tokio::test]
async fn without_a_device_or_with_push_switched_off_push_is_skipped() {
    let (app, fake) = app_with_push().await;
    let (no_device, admin, first) = applicant(&app, "13400000102", None).await;
    approve(&app, &admin, &first).await;
    let (quiet, _, second) = applicant(&app, "13400000103", Some("reg-0103")).await;
    let off = app
        .client
        .put(app.url("/api/v1/me/notification-preferences"))
        .header("Authorization", quiet.bearer())
        .json(&json!({"preferences": [{"category": "membership_approved", "channel": "push", "enabled": false}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(off.status(), 200);
    let prefs: Value = off.json().await.unwrap();
    let entry = prefs["preferences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["category"] == "membership_approved")
        .unwrap();
    assert_eq!(entry["enabled"], false);
    approve(&app, &admin, &second).await;
    worker(&app).drain().await.unwrap();
    assert_eq!(fake.push_count(), 0);
    assert_eq!(push_deliveries(&app, &no_device).await[0].status, "skipped");
    let quiet_delivery = &push_deliveries(&app, &quiet).await[0];
    assert_eq!(quiet_delivery.status, "skipped");
    assert_eq!(
        quiet_delivery.provider_response.as_deref(),
        Some("switched off by the user")
    );
    // The inbox still has both.
    let inbox: Value = app
        .get_as(&quiet, "/api/v1/me/notifications")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inbox["items"].as_array().unwrap().len(), 1);

    // Critical categories cannot be switched off, and reach the phone anyway.
    let critical = app
        .client
        .put(app.url("/api/v1/me/notification-preferences"))
        .header("Authorization", quiet.bearer())
        .json(&json!({"preferences": [{"category": "membership_suspended", "channel": "push", "enabled": false}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(critical.status(), 422);
}

#[tokio::test]
async fn provider_errors_are_retried_with_the_same_idempotency_id() {
    let (app, fake) = app_with_push().await;
    let (member, admin, application_id) = applicant(&app, "13400000104", Some("reg-0104")).await;
    approve(&app, &admin, &application_id).await;
    fake.fail_next(500, 1000);
    let w = worker(&app);
    w.drain().await.unwrap();
    let failed = push_deliveries(&app, &member).await.remove(0);
    assert_eq!(failed.status, "failed");
    let cid = failed.provider_ref.clone().unwrap();
    assert_eq!(fake.push_count(), 0);

    fake.fail_next(429, 2002);
    app.clock.advance(Duration::seconds(11));
    // The dispatcher job itself is done; the periodic safety net (or the next change) runs it.
    let now = app.clock_now();
    app.state
        .db
        .run(move |conn| gongyou_services::notifications::outbox::wake_dispatcher(conn, now))
        .await
        .unwrap();
    w.drain().await.unwrap();
    let limited = push_deliveries(&app, &member).await.remove(0);
    assert_eq!(limited.status, "failed");
    assert_eq!(limited.provider_response.as_deref(), Some("rate limited"));

    app.clock.advance(Duration::seconds(2));
    let now = app.clock_now();
    app.state
        .db
        .run(move |conn| gongyou_services::notifications::outbox::wake_dispatcher(conn, now))
        .await
        .unwrap();
    w.drain().await.unwrap();
    let sent = push_deliveries(&app, &member).await.remove(0);
    assert_eq!(sent.status, "sent");
    assert_eq!(
        sent.provider_ref.as_deref(),
        Some(cid.as_str()),
        "the same cid throughout"
    );
    assert_eq!(sent.attempts, 3);
    assert_eq!(fake.push_count(), 1);
}

#[tokio::test]
async fn invalid_registrations_are_dropped_not_retried() {
    let (app, fake) = app_with_push().await;
    let (member, admin, application_id) = applicant(&app, "13400000105", Some("reg-0105")).await;
    fake.invalidate_registration("reg-0105");
    approve(&app, &admin, &application_id).await;
    worker(&app).drain().await.unwrap();
    let delivery = push_deliveries(&app, &member).await.remove(0);
    assert_eq!(delivery.status, "skipped");
    let user_id = member.user["id"].as_str().unwrap().to_owned();
    let devices = app
        .state
        .db
        .run(move |conn| store::devices_of(conn, &user_id))
        .await
        .unwrap();
    assert!(devices.is_empty(), "the dead registration is forgotten");
}

#[tokio::test]
async fn a_crash_between_sending_and_recording_does_not_push_twice() {
    let (app, fake) = app_with_push().await;
    let (member, admin, application_id) = applicant(&app, "13400000106", Some("reg-0106")).await;
    approve(&app, &admin, &application_id).await;
    // A dispatcher claims the delivery, gives it a cid, pushes, and dies before recording.
    let (lease, now) = (
        (app.clock_now() + Duration::minutes(5)).naive_utc(),
        app.clock_now().naive_utc(),
    );
    let claimed = app
        .state
        .db
        .run(move |conn| store::claim(conn, "push", "dying", 10, lease, now))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let client = app.state.providers.jpush.clone().unwrap();
    let cid = client.fetch_cids(1).await.unwrap().remove(0);
    let refs = vec![(claimed[0].id.clone(), cid.clone())];
    app.state
        .db
        .run(move |conn| store::set_provider_refs(conn, &refs))
        .await
        .unwrap();
    let message = gongyou_providers::jpush::PushMessage {
        title: "t".into(),
        alert: "a".into(),
        extras: Default::default(),
    };
    client
        .push(&cid, &["reg-0106".to_owned()], &message)
        .await
        .unwrap();
    assert_eq!(fake.push_count(), 1);

    // Its claim lapses; another dispatcher finishes the job with the same cid.
    app.clock.advance(Duration::minutes(6));
    let now = app.clock_now();
    app.state
        .db
        .run(move |conn| gongyou_services::notifications::outbox::wake_dispatcher(conn, now))
        .await
        .unwrap();
    worker(&app).drain().await.unwrap();
    let delivery = push_deliveries(&app, &member).await.remove(0);
    assert_eq!(delivery.status, "sent");
    assert_eq!(delivery.resends, 1, "the possible resend is counted");
    assert_eq!(fake.push_count(), 1, "JPush pushed once");
    assert_eq!(fake.duplicate_cid_count(), 1);
}

#[tokio::test]
async fn a_campaign_reaches_its_audience_in_batches_and_only_it() {
    let fake = FakeJpush::start().await;
    let app = spawn_app_with(
        [
            (
                "GONGYOU_JPUSH_APP_KEY".to_owned(),
                FakeJpush::APP_KEY.to_owned(),
            ),
            (
                "GONGYOU_JPUSH_MASTER_SECRET".to_owned(),
                FakeJpush::MASTER_SECRET.to_owned(),
            ),
            ("GONGYOU_JPUSH_BASE_URL".to_owned(), fake.base_url()),
            ("GONGYOU_CAMPAIGN_BATCH".to_owned(), "2".to_owned()),
        ]
        .into(),
    )
    .await;
    app.seed().await;
    let mut riders = Vec::new();
    for i in 0..5 {
        let phone = format!("1350000{:04}", 200 + i);
        let (member, admin, application_id) =
            applicant(&app, &phone, Some(&format!("reg-{i}"))).await;
        approve(&app, &admin, &application_id).await;
        riders.push(member);
    }
    // Not in the audience, though each has a device: a driver in the same place (another
    // occupation), a rider in 深圳 (outside the subtree), a suspended and a withdrawn rider.
    let driver = app.sign_in_worker("13500000300").await;
    let mut form = application(&id_number("510104", "19850101", "777"), "510104");
    form["occupation"] = json!("ride_hailing_driver");
    let submitted: Value = app.apply(&driver, &form).await.json().await.unwrap();
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    approve(&app, &admin, submitted["id"].as_str().unwrap()).await;
    let device = |who: &Session, registration_id: &'static str| {
        let request = app
            .client
            .put(app.url("/api/v1/me/devices"))
            .header("Authorization", who.bearer())
            .json(&json!({"registration_id": registration_id, "platform": "android"}));
        async move { assert_eq!(request.send().await.unwrap().status(), 204) }
    };
    device(&driver, "reg-driver").await;
    let national = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let shenzhen = app.sign_in_worker("13500000301").await;
    device(&shenzhen, "reg-shenzhen").await;
    let submitted: Value = app
        .apply(
            &shenzhen,
            &application(&id_number("440305", "19880808", "888"), "440305"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(submitted["org"]["name"], "南山区外卖骑手工会");
    approve(&app, &national, submitted["id"].as_str().unwrap()).await;
    // A 成都 rider who is suspended, and one who left: riders of the subtree, but not active.
    let (_, _, suspended_application) = applicant(&app, "13500000302", Some("reg-suspended")).await;
    let suspended = approve(&app, &admin, &suspended_application).await;
    let r = app
        .post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/members/{}/suspend",
                suspended["id"].as_str().unwrap()
            ),
            &json!({"reason": "核查"}),
        )
        .await;
    assert_eq!(r.status(), 200);
    let (left, _, left_application) = applicant(&app, "13500000303", Some("reg-withdrawn")).await;
    approve(&app, &admin, &left_application).await;
    let r = app
        .post_json_as(&left, "/api/v1/me/membership/withdrawal", &json!({}))
        .await;
    assert_eq!(r.status(), 200);
    // One rider also uses a tablet; another switched notices off on the push channel.
    let r = app
        .client
        .put(app.url("/api/v1/me/devices"))
        .header("Authorization", riders[1].bearer())
        .json(&json!({"registration_id": "reg-1-tablet", "platform": "ios"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let r = app
        .client
        .put(app.url("/api/v1/me/notification-preferences"))
        .header("Authorization", riders[4].bearer())
        .json(
            &json!({"preferences": [{"category": "notice", "channel": "push", "enabled": false}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let w = worker(&app);
    w.drain().await.unwrap();
    let (pushes_before, delivered_before) = (fake.push_count(), fake.delivered_count());

    let chengdu = app.org_id("成都市总工会").await;
    let notice = json!({"org_id": chengdu, "occupation": "delivery_rider", "title": "高温预警", "body": "明日最高气温 39℃，请注意防暑，附近驿站提供免费凉茶。"});
    let created = app
        .post_json_as(&admin, "/api/v1/admin/campaigns", &notice)
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["status"], "fanning_out");
    // The first push request fails (JPush 503): its batch is retried later, with its cid.
    fake.fail_next(503, 1030);
    w.drain().await.unwrap();
    let path = format!(
        "/api/v1/admin/campaigns/{}",
        created["id"].as_str().unwrap()
    );
    let done: Value = app.get_as(&admin, &path).await.json().await.unwrap();
    assert_eq!(done["status"], "sent");
    assert_eq!(
        done["recipients"], 5,
        "batches of 2 cover all five riders once"
    );
    assert_eq!(
        done["deliveries"],
        json!({"sent": 2, "skipped": 1, "failed": 2}),
        "one batch of two waits for its retry; the rider who switched notices off is skipped"
    );
    app.clock.advance(Duration::minutes(1));
    let now = app.clock_now();
    app.state
        .db
        .run(move |conn| gongyou_services::notifications::outbox::wake_dispatcher(conn, now))
        .await
        .unwrap();
    w.drain().await.unwrap();
    let done: Value = app.get_as(&admin, &path).await.json().await.unwrap();
    assert_eq!(done["deliveries"], json!({"sent": 4, "skipped": 1}));
    // Three fan-out batches of at most two riders: one JPush request for each of the first
    // two, none for the third (its only rider switched notices off); the five devices of the
    // four riders who want pushes are each reached once.
    assert_eq!(fake.push_count() - pushes_before, 2);
    assert_eq!(fake.delivered_count() - delivered_before, 5);
    let mut audiences: Vec<String> = fake
        .pushes()
        .into_iter()
        .skip(pushes_before)
        .flat_map(|(_, ids, _)| ids)
        .collect();
    audiences.sort();
    assert_eq!(
        audiences,
        ["reg-0", "reg-1", "reg-1-tablet", "reg-2", "reg-3"],
        "every device once, the tablet too; not the rider who switched off, nor the driver, \
         the 深圳 rider, the suspended or the withdrawn one"
    );
    for outsider in [&shenzhen, &driver, &left] {
        let inbox: Value = app
            .get_as(outsider, "/api/v1/me/notifications")
            .await
            .json()
            .await
            .unwrap();
        assert!(
            !inbox.to_string().contains("高温预警"),
            "the notice reached an outsider: {inbox}"
        );
    }

    // A dispatcher that died mid-send: its claim lapses, the batch is claimed again and its
    // frozen requests go out again with the same cid, which JPush does not push twice.
    let second = app
        .post_json_as(&admin, "/api/v1/admin/campaigns", &notice)
        .await;
    assert_eq!(second.status(), 201);
    let second: Value = second.json().await.unwrap();
    w.drain().await.unwrap();
    let (pushes, duplicates) = (fake.push_count(), fake.duplicate_cid_count());
    let campaign = second["id"].as_str().unwrap().to_owned();
    let at = app.clock_now().naive_utc();
    let c = campaign.clone();
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use gongyou_db::schema::campaign_push_batches as b;
            diesel::update(b::table.filter(b::campaign_id.eq(&c)))
                .set((
                    b::status.eq("sending"),
                    b::claimed_by.eq("dead-worker"),
                    b::claimed_until.eq(at),
                ))
                .execute(conn)
                .map_err(gongyou_db::DbError::from)
        })
        .await
        .unwrap();
    app.clock.advance(Duration::seconds(1));
    let now = app.clock_now();
    app.state
        .db
        .run(move |conn| gongyou_services::notifications::outbox::wake_dispatcher(conn, now))
        .await
        .unwrap();
    w.drain().await.unwrap();
    assert_eq!(fake.push_count(), pushes, "no device notified twice");
    assert_eq!(
        fake.duplicate_cid_count() - duplicates,
        2,
        "both requests went out again (the third batch has nobody to push to)"
    );
    let again: Value = app
        .get_as(&admin, &format!("/api/v1/admin/campaigns/{campaign}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(again["deliveries"], json!({"sent": 4, "skipped": 1}));
    for rider in &riders {
        let inbox: Value = app
            .get_as(rider, "/api/v1/me/notifications")
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(inbox["items"][0]["title"], "高温预警");
        assert_eq!(inbox["items"][0]["category"], "notice");
    }
    let driver_inbox: Value = app
        .get_as(&driver, "/api/v1/me/notifications")
        .await
        .json()
        .await
        .unwrap();
    assert!(driver_inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["category"] != "notice"));

    // Scope: 深圳 neither sends to 成都 nor sees its campaigns; workers send nothing.
    let root = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let shenzhen = app.org_id("深圳市总工会").await;
    app.create_staff(&root, "sz-admin", &shenzhen, &[("union_admin", &shenzhen)])
        .await;
    let sz = app.sign_in_staff("sz-admin", DEMO_PASSWORD).await;
    assert_eq!(
        app.post_json_as(&sz, "/api/v1/admin/campaigns", &notice)
            .await
            .status(),
        403
    );
    assert_eq!(app.get_as(&sz, &path).await.status(), 404);
    assert_eq!(
        app.post_json_as(&riders[0], "/api/v1/admin/campaigns", &notice)
            .await
            .status(),
        403
    );
    let empty = json!({"org_id": chengdu, "title": "", "body": "x"});
    assert_eq!(
        app.post_json_as(&admin, "/api/v1/admin/campaigns", &empty)
            .await
            .status(),
        422
    );
}

async fn deliveries_on(app: &TestApp, user: &Session, channel: &str) -> Vec<store::Delivery> {
    all_deliveries(app, user)
        .await
        .into_iter()
        .filter(|d| d.channel == channel)
        .collect()
}

async fn redispatch(app: &TestApp, w: &Worker, after: Duration) {
    app.clock.advance(after);
    let now = app.clock_now();
    app.state
        .db
        .run(move |conn| gongyou_services::notifications::outbox::wake_dispatcher(conn, now))
        .await
        .unwrap();
    w.drain().await.unwrap();
}

#[tokio::test]
async fn wechat_messages_need_a_credit_and_spend_it() {
    use gongyou_tests::fakes::wechat::FakeWechat;
    let fake = FakeWechat::start().await;
    fake.add_template("tpl-suspended");
    fake.add_template("tpl-approved");
    let app = spawn_app_with(fake.env(Some(
        "membership_approved:tpl-approved,membership_suspended:tpl-suspended",
    )))
    .await;
    app.seed().await;
    fake.add_login_code("login", "openid-w", None);
    let member = Session::from_json(
        &app.post_json("/api/v1/auth/sessions/wechat", &json!({"code": "login"}))
            .await
            .json()
            .await
            .unwrap(),
    );
    fake.add_phone_code("phone", "13600000601");
    assert_eq!(
        app.post_json_as(
            &member,
            "/api/v1/me/phone/wechat",
            &json!({"code": "phone"})
        )
        .await
        .status(),
        200
    );
    let submitted: Value = app
        .apply(
            &member,
            &application(&id_number("510104", "19900601", "601"), "510104"),
        )
        .await
        .json()
        .await
        .unwrap();
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let membership = approve(&app, &admin, submitted["id"].as_str().unwrap()).await;
    let w = worker(&app);
    w.drain().await.unwrap();
    let approved = deliveries_on(&app, &member, "wechat").await;
    assert_eq!(
        approved[0].provider_response.as_deref(),
        Some("no subscription credit")
    );
    assert!(fake.subscribe_messages().is_empty());

    // The user accepts the suspension template once (in the mini-program).
    let credits: Value = app
        .post_json_as(&member, "/api/v1/me/wechat-subscriptions", &json!({"results": {"errMsg": "requestSubscribeMessage:ok", "tpl-suspended": "accept", "tpl-approved": "reject"}}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        credits["credits"],
        json!([{"template_id": "tpl-suspended", "credits": 1}])
    );
    fake.subscribe("openid-w", "tpl-suspended", 1);
    fake.fail_next_subscribe(-1);
    let path = format!(
        "/api/v1/admin/members/{}/suspend",
        membership["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post_json_as(&admin, &path, &json!({"reason": "核查"}))
            .await
            .status(),
        200
    );
    w.drain().await.unwrap();
    let busy = deliveries_on(&app, &member, "wechat")
        .await
        .into_iter()
        .find(|d| d.status != "skipped")
        .unwrap();
    assert_eq!(
        busy.status, "failed",
        "WeChat busy: retried, the credit given back"
    );
    redispatch(&app, &w, Duration::seconds(11)).await;
    let messages = fake.subscribe_messages();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0].0, "openid-w");
    assert_eq!(messages[0].1, "tpl-suspended");
    assert!(messages[0]
        .2
        .iter()
        .any(|(k, v)| k == "thing1" && v == "会籍已暂停"));
    assert!(messages[0]
        .2
        .iter()
        .all(|(k, v)| !k.starts_with("thing") || v.chars().count() <= 20));
    let credits: Value = app
        .post_json_as(
            &member,
            "/api/v1/me/wechat-subscriptions",
            &json!({"results": {}}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(credits["credits"][0]["credits"], 0, "spent");

    // We think we hold a credit, WeChat says 43101: recorded, not retried.
    app.post_json_as(
        &member,
        "/api/v1/me/wechat-subscriptions",
        &json!({"results": {"tpl-suspended": "accept"}}),
    )
    .await;
    let reinstate = format!(
        "/api/v1/admin/members/{}/reinstate",
        membership["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post_json_as(&admin, &reinstate, &json!({"reason": "核查完毕"}))
            .await
            .status(),
        200
    );
    assert_eq!(
        app.post_json_as(&admin, &path, &json!({"reason": "再次核查"}))
            .await
            .status(),
        200
    );
    w.drain().await.unwrap();
    let refused = deliveries_on(&app, &member, "wechat").await;
    assert!(refused
        .iter()
        .any(|d| d.provider_response.as_deref() == Some("43101: no longer subscribed")));
    assert_eq!(fake.subscribe_messages().len(), 1);
}

#[tokio::test]
async fn urgent_notices_go_by_sms_too() {
    use gongyou_tests::fakes::sms::FakeSms;
    let fake = FakeSms::start().await;
    let app = spawn_app_with(
        [
            ("GONGYOU_SMS_PROVIDER".to_owned(), "tencent".to_owned()),
            ("GONGYOU_SMS_BASE_URL".to_owned(), fake.base_url()),
            ("GONGYOU_SMS_ACCESS_KEY_ID".to_owned(), "AKID".to_owned()),
            (
                "GONGYOU_SMS_ACCESS_KEY_SECRET".to_owned(),
                "secret".to_owned(),
            ),
            ("GONGYOU_SMS_SIGN_NAME".to_owned(), "工友".to_owned()),
            ("GONGYOU_SMS_TEMPLATE_ID".to_owned(), "code-1".to_owned()),
            ("GONGYOU_SMS_SDK_APP_ID".to_owned(), "1400000001".to_owned()),
            (
                "GONGYOU_SMS_NOTICE_TEMPLATE_ID".to_owned(),
                "notice-1".to_owned(),
            ),
        ]
        .into(),
    )
    .await;
    app.seed().await;
    let (member, admin, application_id) = applicant(&app, "13400000701", None).await;
    let membership = approve(&app, &admin, &application_id).await;
    let w = worker(&app);
    w.drain().await.unwrap();
    assert!(
        deliveries_on(&app, &member, "sms").await.is_empty(),
        "an approval is not urgent"
    );

    fake.fail_next("LimitExceeded.PhoneNumberOneHourLimit");
    let path = format!(
        "/api/v1/admin/members/{}/suspend",
        membership["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post_json_as(&admin, &path, &json!({"reason": "核查"}))
            .await
            .status(),
        200
    );
    w.drain().await.unwrap();
    let limited = deliveries_on(&app, &member, "sms").await.remove(0);
    assert_eq!(
        (
            limited.status.as_str(),
            limited.provider_response.as_deref()
        ),
        ("failed", Some("rate limited"))
    );
    redispatch(&app, &w, Duration::seconds(61)).await;
    let notices: Vec<_> = fake
        .sent_with_template()
        .into_iter()
        .filter(|(_, t, _)| t == "notice-1")
        .collect();
    assert_eq!(notices.len(), 1);
    assert_eq!(notices[0].0, "+8613400000701");
    assert_eq!(notices[0].2[0], "会籍已暂停");
    assert_eq!(deliveries_on(&app, &member, "sms").await[0].status, "sent");

    // A permanent refusal is not retried.
    fake.fail_next("FailedOperation.TemplateIncorrectOrUnapproved");
    let reinstate = format!(
        "/api/v1/admin/members/{}/reinstate",
        membership["id"].as_str().unwrap()
    );
    app.post_json_as(&admin, &reinstate, &json!({"reason": "好了"}))
        .await;
    app.post_json_as(&admin, &path, &json!({"reason": "又核查"}))
        .await;
    w.drain().await.unwrap();
    let statuses: Vec<String> = deliveries_on(&app, &member, "sms")
        .await
        .into_iter()
        .map(|d| d.status)
        .collect();
    assert!(statuses.contains(&"dead".to_owned()), "{statuses:?}");
}

#[tokio::test]
async fn a_campaign_created_twice_with_one_idempotency_key_goes_out_once() {
    let app = spawn_app().await;
    app.seed().await;
    let (member, admin, application_id) = applicant(&app, "13500000401", None).await;
    approve(&app, &admin, &application_id).await;
    let chengdu = app.org_id("成都市总工会").await;
    let notice = json!({"org_id": chengdu, "title": "停电通知", "body": "春熙路驿站今晚停电。"});
    let send = || {
        app.client
            .post(app.url("/api/v1/admin/campaigns"))
            .header("Authorization", admin.bearer())
            .header("Idempotency-Key", "campaign-2026-12-06-power")
            .json(&notice)
            .send()
    };
    // A flaky network: the admin's console sends the same request twice.
    let first = send().await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = send().await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["id"], first["id"]);
    worker(&app).drain().await.unwrap();
    let inbox: Value = app
        .get_as(&member, "/api/v1/me/notifications")
        .await
        .json()
        .await
        .unwrap();
    let notices = inbox["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["title"] == "停电通知")
        .count();
    assert_eq!(notices, 1, "one campaign, one notice");
    // The same key with another notice is refused, not sent.
    let other = app
        .client
        .post(app.url("/api/v1/admin/campaigns"))
        .header("Authorization", admin.bearer())
        .header("Idempotency-Key", "campaign-2026-12-06-power")
        .json(&json!({"org_id": chengdu, "title": "另一条", "body": "别的内容"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 409);
}

#[tokio::test]
async fn a_worker_cannot_write_unbounded_rows() {
    let app = spawn_app_with(
        [(
            "GONGYOU_WECHAT_TEMPLATES".to_owned(),
            "membership_approved:tpl-approved".to_owned(),
        )]
        .into(),
    )
    .await;
    app.seed().await;
    let worker = app.sign_in_worker("13500000501").await;
    let rows = || {
        let db = app.state.db.clone();
        async move {
            db.run(|conn| {
                use diesel::prelude::*;
                use gongyou_db::schema::{
                    notification_preferences as p, wechat_subscription_credits as c,
                };
                let credits: i64 = c::table.count().get_result(conn)?;
                let prefs: i64 = p::table.count().get_result(conn)?;
                Ok::<_, gongyou_db::DbError>((credits, prefs))
            })
            .await
            .unwrap()
        }
    };
    // Template ids WeChat never issued to us earn nothing and store nothing…
    let made_up: serde_json::Map<String, Value> = (0..20)
        .map(|i| (format!("tpl-made-up-{i}"), json!("accept")))
        .collect();
    let r = app
        .post_json_as(
            &worker,
            "/api/v1/me/wechat-subscriptions",
            &json!({"results": made_up}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(rows().await.0, 0);
    // …and an answer listing more templates than a mini-program can ask for is refused.
    let too_many: serde_json::Map<String, Value> = (0..21)
        .map(|i| (format!("tpl-{i}"), json!("accept")))
        .collect();
    let r = app
        .post_json_as(
            &worker,
            "/api/v1/me/wechat-subscriptions",
            &json!({"results": too_many}),
        )
        .await;
    assert_eq!(r.status(), 400);
    let r = app
        .post_json_as(
            &worker,
            "/api/v1/me/wechat-subscriptions",
            &json!({"results": {"tpl-approved": "accept"}}),
        )
        .await;
    assert_eq!(r.status(), 200);
    assert_eq!(rows().await.0, 1, "a configured template earns its credit");

    // Preferences: one row per (category, channel) however often it is sent, 64 at most.
    let put = |body: Value| {
        app.client
            .put(app.url("/api/v1/me/notification-preferences"))
            .header("Authorization", worker.bearer())
            .json(&body)
            .send()
    };
    let same = json!({"category": "notice", "channel": "push", "enabled": false});
    let repeated: Vec<Value> = (0..64).map(|_| same.clone()).collect();
    assert_eq!(
        put(json!({"preferences": repeated}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(rows().await.1, 1);
    let over: Vec<Value> = (0..65).map(|_| same.clone()).collect();
    assert_eq!(
        put(json!({"preferences": over})).await.unwrap().status(),
        400
    );

    // An admin's routing table is bounded too.
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let union = app.org_id("锦江区新就业形态劳动者工会").await;
    let routes: Vec<Value> = (0..101)
        .map(|_| json!({"region_code": "510104", "occupation": "any"}))
        .collect();
    let r = app
        .client
        .put(app.url(&format!("/api/v1/admin/orgs/{union}/membership-settings")))
        .header("Authorization", admin.bearer())
        .json(&json!({"auto_approve": false, "routes": routes}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}

/// The user's credits for the notice template.
async fn notice_credits(app: &TestApp, who: &Session) -> i64 {
    let body: Value = app
        .post_json_as(
            who,
            "/api/v1/me/wechat-subscriptions",
            &json!({"results": {}}),
        )
        .await
        .json()
        .await
        .unwrap();
    body["credits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["template_id"] == "tpl-notice")
        .map_or(0, |c| c["credits"].as_i64().unwrap())
}

/// Links a WeChat account to the user (set-up: the login flow has its own tests).
async fn link_wechat(app: &TestApp, user: &Session, openid: &str) {
    let (id, openid) = (
        user.user["id"].as_str().unwrap().to_owned(),
        openid.to_owned(),
    );
    let now = app.clock_now().naive_utc();
    app.state
        .db
        .run(move |conn| gongyou_db::accounts::set_wechat(conn, &id, Some(&openid), None, now))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_campaign_reaches_wechat_credit_holders_once_and_resumes_after_a_crash() {
    use gongyou_db::subscribe_batches as batches;
    use gongyou_tests::fakes::wechat::FakeWechat;
    let fake = FakeWechat::start().await;
    fake.add_template("tpl-notice");
    let app = spawn_app_with(fake.env(Some("notice:tpl-notice"))).await;
    app.seed().await;
    // Six 成都 riders: 0–3 linked to WeChat and holding a notice credit (2 only in our
    // books: WeChat says 43101; 3 switched notices off on WeChat), 4 linked without a
    // credit, 5 not linked.
    let mut riders = Vec::new();
    for i in 0..6 {
        let (member, admin, application_id) =
            applicant(&app, &format!("1350000{:04}", 400 + i), None).await;
        approve(&app, &admin, &application_id).await;
        if i < 5 {
            link_wechat(&app, &member, &format!("openid-{i}")).await;
        }
        if i < 4 {
            let r = app
                .post_json_as(
                    &member,
                    "/api/v1/me/wechat-subscriptions",
                    &json!({"results": {"tpl-notice": "accept"}}),
                )
                .await;
            assert_eq!(r.status(), 200);
            if i != 2 {
                fake.subscribe(&format!("openid-{i}"), "tpl-notice", 1);
            }
        }
        riders.push(member);
    }
    let r = app
        .client
        .put(app.url("/api/v1/me/notification-preferences"))
        .header("Authorization", riders[3].bearer())
        .json(
            &json!({"preferences": [{"category": "notice", "channel": "wechat", "enabled": false}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let w = worker(&app);
    w.drain().await.unwrap();
    let calls_before = fake.subscribe_calls();

    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let chengdu = app.org_id("成都市总工会").await;
    let notice = json!({"org_id": chengdu, "occupation": "delivery_rider", "title": "高温预警", "body": "明日最高气温 39℃，请注意防暑，附近驿站提供免费凉茶。"});
    let created = app
        .post_json_as(&admin, "/api/v1/admin/campaigns", &notice)
        .await;
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let path = format!(
        "/api/v1/admin/campaigns/{}",
        created["id"].as_str().unwrap()
    );
    assert_eq!(
        created["subscribe_messages"],
        json!({}),
        "not fanned out yet"
    );
    // WeChat is busy for the first message: that one is retried on its own.
    fake.fail_next_subscribe(-1);
    w.drain().await.unwrap();
    let view: Value = app.get_as(&admin, &path).await.json().await.unwrap();
    let counts = view["subscribe_messages"].as_object().unwrap().clone();
    assert_eq!(
        counts.values().map(|n| n.as_i64().unwrap()).sum::<i64>(),
        3,
        "three credit holders who want WeChat notices: {counts:?}"
    );
    assert_eq!(counts["retrying"], 1, "{counts:?}");
    redispatch(&app, &w, Duration::seconds(11)).await;
    let view: Value = app.get_as(&admin, &path).await.json().await.unwrap();
    assert_eq!(
        view["subscribe_messages"],
        json!({"sent": 2, "skipped": 1}),
        "riders 0 and 1 reached; WeChat said 43101 for 2"
    );
    assert_eq!(
        fake.subscribe_calls() - calls_before,
        4,
        "three, and one retry"
    );
    let mut reached: Vec<String> = fake
        .subscribe_messages()
        .into_iter()
        .map(|(openid, template, data)| {
            assert_eq!(template, "tpl-notice");
            assert!(data.iter().any(|(k, v)| k == "thing1" && v == "高温预警"));
            openid
        })
        .collect();
    reached.sort();
    assert_eq!(reached, ["openid-0", "openid-1"], "each once");
    for (i, left) in [(0, 0), (1, 0), (2, 0), (3, 1)] {
        assert_eq!(
            notice_credits(&app, &riders[i]).await,
            left,
            "rider {i}'s credits"
        );
    }

    // A dispatcher froze the next campaign's batch, recorded one message done and died:
    // the batch is taken over after its lease and resumes after that message.
    for i in [0, 1] {
        app.post_json_as(
            &riders[i],
            "/api/v1/me/wechat-subscriptions",
            &json!({"results": {"tpl-notice": "accept"}}),
        )
        .await;
        fake.subscribe(&format!("openid-{i}"), "tpl-notice", 1);
    }
    let second: Value = app
        .post_json_as(&admin, "/api/v1/admin/campaigns", &notice)
        .await
        .json()
        .await
        .unwrap();
    let campaign = second["id"].as_str().unwrap().to_owned();
    let now = app.clock_now().naive_utc();
    let c = campaign.clone();
    let frozen = app
        .state
        .db
        .run(move |conn| {
            while gongyou_db::campaigns::fan_out_batch(conn, &c, 1000, Some("tpl-notice"), now)? > 0
            {
            }
            let claimed = batches::claim(conn, "dead-worker", 10, now, now)?;
            assert_eq!(claimed.len(), 1);
            let frozen = batches::freeze(conn, &claimed[0], "dead-worker", "notice", false, now)?
                .expect("claim held");
            let done = batches::Progress {
                progress: 1,
                sent: 1,
                ..Default::default()
            };
            assert!(batches::checkpoint(
                conn,
                &claimed[0],
                "dead-worker",
                &done,
                now,
                now
            )?);
            Ok::<_, gongyou_db::DbError>(frozen)
        })
        .await
        .unwrap();
    assert_eq!(
        frozen
            .iter()
            .map(|r| r.openid.as_str())
            .collect::<Vec<_>>()
            .len(),
        2,
        "riders 0 and 1 hold a credit again"
    );
    let calls = fake.subscribe_calls();
    redispatch(&app, &w, Duration::seconds(1)).await;
    let view: Value = app
        .get_as(&admin, &format!("/api/v1/admin/campaigns/{campaign}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["subscribe_messages"], json!({"sent": 2}));
    assert_eq!(
        fake.subscribe_calls() - calls,
        1,
        "only the message after the recorded progress went out"
    );
    let last = fake.subscribe_messages().pop().unwrap();
    assert_eq!(last.0, frozen[1].openid);
    let c = campaign.clone();
    let batch = app
        .state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use gongyou_db::schema::campaign_subscribe_batches as b;
            b::table
                .filter(b::campaign_id.eq(&c))
                .select(batches::SubscribeBatch::as_select())
                .first(conn)
                .map_err(gongyou_db::DbError::from)
        })
        .await
        .unwrap();
    assert_eq!(
        (
            batch.status.as_str(),
            batch.takeovers,
            batch.progress,
            batch.frozen
        ),
        ("sent", 1, 2, None),
        "taken over once, done, the openids forgotten"
    );
}

#[tokio::test]
async fn campaigns_are_listed_newest_first_within_the_admins_subtrees() {
    let app = spawn_app().await;
    app.seed().await;
    let root = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    let sichuan = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let chengdu = app.org_id("成都市总工会").await;
    let shenzhen = app.org_id("深圳市总工会").await;
    let send = |who: Session, org: String, title: &'static str| {
        let app = &app;
        async move {
            let notice = json!({"org_id": org, "title": title, "body": "请注意防暑。"});
            let r = app
                .post_json_as(&who, "/api/v1/admin/campaigns", &notice)
                .await;
            assert_eq!(r.status(), 201);
            r.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let a = send(root.clone(), chengdu.clone(), "成都一").await;
    let b = send(root.clone(), shenzhen.clone(), "深圳一").await;
    let c = send(sichuan.clone(), chengdu.clone(), "成都二").await;
    let list = |who: Session, query: String| {
        let app = &app;
        async move {
            let r = app
                .get_as(&who, &format!("/api/v1/admin/campaigns{query}"))
                .await;
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap_or_default())
        }
    };
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };

    // The national admin sees all three, newest first, with their progress.
    let (status, all) = list(root.clone(), String::new()).await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(ids(&all), [c.clone(), b.clone(), a.clone()]);
    assert_eq!(all["items"][0]["title"], "成都二");
    assert_eq!(all["items"][0]["org"]["name"], "成都市总工会");
    assert_eq!(all["items"][0]["status"], "fanning_out");
    assert!(all["next_cursor"].is_null());
    let (_, first) = list(root.clone(), "?limit=2".to_owned()).await;
    assert_eq!(ids(&first), [c.clone(), b.clone()]);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let (_, second) = list(root.clone(), format!("?limit=2&cursor={cursor}")).await;
    assert_eq!(ids(&second), std::slice::from_ref(&a));
    assert!(second["next_cursor"].is_null());

    // 四川 sees its subtree's, whoever sent them; 深圳 its own.
    let (_, mine) = list(sichuan, String::new()).await;
    assert_eq!(ids(&mine), [c, a]);
    app.create_staff(
        &root,
        "sz-campaigns",
        &shenzhen,
        &[("union_admin", &shenzhen)],
    )
    .await;
    let sz = app.sign_in_staff("sz-campaigns", DEMO_PASSWORD).await;
    let (_, theirs) = list(sz, String::new()).await;
    assert_eq!(ids(&theirs), [b]);

    // Not admins: 403; no token: 401; a bad limit: 400.
    let reviewer = app.sign_in_staff("demo-reviewer", DEMO_PASSWORD).await;
    assert_eq!(list(reviewer, String::new()).await.0, 403);
    let worker = app.sign_in_worker("13500000301").await;
    assert_eq!(list(worker, String::new()).await.0, 403);
    assert_eq!(app.get("/api/v1/admin/campaigns").await.status(), 401);
    let (status, problem) = list(root, "?limit=201".to_owned()).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("request.invalid_limit"))
    );
}
