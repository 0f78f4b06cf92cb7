//! A staff member's contact phone: set (a code goes to it), verified with that code, shown
//! masked, removed; sealed at rest; staff only; and where staff notices that go by SMS
//! (money left the paying account that Gongyou did not send) reach it — verified phones
//! only.

use chrono::Duration;
use gongyou_db::notifications as store;
use gongyou_domain::notification::Category;
use gongyou_services::notifications::outbox::{notify_staff, StaffChannels};
use gongyou_tests::fakes::sms::FakeSms;
use gongyou_tests::session::{Session, DEMO_PASSWORD};
use gongyou_tests::{spawn_app_with, TestApp};
use reqwest::Response;
use serde_json::{json, Value};

const NOTICE_TEMPLATE: &str = "notice-1";

/// An app whose SMS gateway is the local fake; with the notice template unless `notices`
/// is false.
async fn app_with_sms(notices: bool) -> (TestApp, FakeSms) {
    let fake = FakeSms::start().await;
    let mut env: gongyou_tests::EnvOverrides = [
        ("GONGYOU_SMS_PROVIDER", "tencent".to_owned()),
        ("GONGYOU_SMS_BASE_URL", fake.base_url()),
        ("GONGYOU_SMS_ACCESS_KEY_ID", "AKID".to_owned()),
        ("GONGYOU_SMS_ACCESS_KEY_SECRET", "secret".to_owned()),
        ("GONGYOU_SMS_SIGN_NAME", "工友".to_owned()),
        ("GONGYOU_SMS_TEMPLATE_ID", "code-1".to_owned()),
        ("GONGYOU_SMS_SDK_APP_ID", "1400000001".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if notices {
        env.insert(
            "GONGYOU_SMS_NOTICE_TEMPLATE_ID".to_owned(),
            NOTICE_TEMPLATE.to_owned(),
        );
    }
    let app = spawn_app_with(env).await;
    app.seed().await;
    (app, fake)
}

async fn json_of(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn put_phone(app: &TestApp, who: &Session, phone: &str) -> (u16, Value) {
    json_of(
        app.client
            .put(app.url("/api/v1/me/contact-phone"))
            .header("Authorization", who.bearer())
            .json(&json!({ "phone": phone }))
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn verify(app: &TestApp, who: &Session, code: &str) -> (u16, Value) {
    json_of(
        app.post_json_as(
            who,
            "/api/v1/me/contact-phone/verify",
            &json!({ "code": code }),
        )
        .await,
    )
    .await
}

async fn delete_phone(app: &TestApp, who: &Session) -> (u16, Value) {
    json_of(
        app.client
            .delete(app.url("/api/v1/me/contact-phone"))
            .header("Authorization", who.bearer())
            .send()
            .await
            .unwrap(),
    )
    .await
}

async fn me(app: &TestApp, who: &Session) -> Value {
    let (status, body) = json_of(app.get_as(who, "/api/v1/me").await).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The code the fake gateway last delivered to `phone` (11 digits).
fn code_sent_to(fake: &FakeSms, phone: &str) -> String {
    fake.last_code_for(phone).expect("a code was sent")
}

/// A code that is not `code`.
fn other_than(code: &str) -> String {
    if code == "000000" { "111111" } else { "000000" }.to_owned()
}

/// The staff member's contact-phone columns as stored.
async fn stored(app: &TestApp, staff_id: &str) -> gongyou_db::staff::ContactPhone {
    let id = staff_id.to_owned();
    app.state
        .db
        .run(move |conn| gongyou_db::staff::contact_phone(conn, &id))
        .await
        .unwrap()
        .expect("the staff member")
}

fn id_of(session: &Session) -> String {
    session.user["id"].as_str().unwrap().to_owned()
}

/// Sets and verifies `phone` as the staff member's contact phone.
async fn verified_phone(app: &TestApp, fake: &FakeSms, who: &Session, phone: &str) {
    assert_eq!(put_phone(app, who, phone).await.0, 202);
    let (status, body) = verify(app, who, &code_sent_to(fake, phone)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn a_staff_member_sets_verifies_sees_and_removes_a_contact_phone() {
    let (app, fake) = app_with_sms(true).await;
    let finance = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    assert_eq!(finance.user["contact_phone"], Value::Null);
    let phone = "13800138501";

    let (status, pending) = put_phone(&app, &finance, phone).await;
    assert_eq!(status, 202, "{pending}");
    assert_eq!(pending["pending"], "138****8501");
    assert_eq!(pending["expires_in"], 300);
    let code = code_sent_to(&fake, phone);
    assert_eq!(code.len(), 6);
    // Not the contact phone yet: a number waiting for its code is not shown.
    assert_eq!(me(&app, &finance).await["contact_phone"], Value::Null);
    // Sealed at rest: neither the number nor its digits in clear.
    let row = stored(&app, &id_of(&finance)).await;
    let sealed = row.contact_phone_pending_enc.clone().expect("pending");
    assert!(
        !sealed.contains(phone) && !sealed.contains("8501"),
        "{sealed}"
    );
    assert_eq!(row.contact_phone_enc, None);

    // A wrong code fails as a sign-in code does.
    let (status, problem) = verify(&app, &finance, &other_than(&code)).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("auth.code_invalid"))
    );
    assert_eq!(me(&app, &finance).await["contact_phone"], Value::Null);

    let (status, verified) = verify(&app, &finance, &code).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(verified["contact_phone"]["masked"], "138****8501");
    assert!(verified["contact_phone"]["verified_at"].is_string());
    let shown = me(&app, &finance).await;
    assert_eq!(shown["kind"], "staff");
    assert_eq!(shown["contact_phone"], verified["contact_phone"]);
    let row = stored(&app, &id_of(&finance)).await;
    assert_eq!(row.contact_phone_masked.as_deref(), Some("138****8501"));
    assert!(row.contact_phone_verified_at.is_some());
    assert_eq!(row.contact_phone_pending_enc, None);
    let sealed = row.contact_phone_enc.expect("sealed");
    assert!(!sealed.contains(phone), "{sealed}");
    // It opens to the number, bound to this staff member.
    let opened = gongyou_services::accounts::contact_phone::unseal(
        &app.state.services,
        &id_of(&finance),
        &sealed,
    )
    .unwrap();
    assert_eq!(opened.as_str(), phone);
    assert!(gongyou_services::accounts::contact_phone::unseal(
        &app.state.services,
        "another-staff-id",
        &sealed
    )
    .is_err());
    // A code works once; nothing waits any more.
    let (status, problem) = verify(&app, &finance, &code).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (409, Some("staff.contact_phone_not_pending"))
    );
    // Signing in again shows it too.
    let again = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    assert_eq!(again.user["contact_phone"]["masked"], "138****8501");

    // A new number waits while the verified one stays.
    app.clock.advance(Duration::seconds(61));
    assert_eq!(put_phone(&app, &finance, "13900139502").await.0, 202);
    assert_eq!(
        me(&app, &finance).await["contact_phone"]["masked"],
        "138****8501"
    );
    let (status, verified) = verify(&app, &finance, &code_sent_to(&fake, "13900139502")).await;
    assert_eq!(status, 200, "{verified}");
    assert_eq!(
        me(&app, &finance).await["contact_phone"]["masked"],
        "139****9502"
    );

    let (status, _) = delete_phone(&app, &finance).await;
    assert_eq!(status, 204);
    assert_eq!(me(&app, &finance).await["contact_phone"], Value::Null);
    let row = stored(&app, &id_of(&finance)).await;
    assert_eq!(
        (
            row.contact_phone_enc,
            row.contact_phone_masked,
            row.contact_phone_verified_at
        ),
        (None, None, None)
    );
    // Removing what is not there is no error.
    assert_eq!(delete_phone(&app, &finance).await.0, 204);
    // Nothing waits for a code after removal.
    assert_eq!(
        verify(&app, &finance, "123456").await.1["code"],
        "staff.contact_phone_not_pending"
    );
}

#[tokio::test]
async fn contact_phone_codes_and_sign_in_codes_never_stand_in_for_each_other() {
    let (app, fake) = app_with_sms(true).await;
    let finance = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    let approver = app.sign_in_staff("demo-approver", DEMO_PASSWORD).await;
    let phone = "13800138511";
    assert_eq!(put_phone(&app, &finance, phone).await.0, 202);
    let contact_code = code_sent_to(&fake, phone);

    // The sign-in code limits hold per phone, whatever the code is for.
    let (status, problem) = json_of(
        app.post_json(
            "/api/v1/auth/sms-codes",
            &json!({"phone": phone, "purpose": "sign_in"}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (429, Some("auth.sms_rate_limited"))
    );
    let (status, problem) = put_phone(&app, &approver, phone).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (429, Some("auth.sms_rate_limited"))
    );

    // The contact-phone code does not sign anyone in.
    let (status, problem) = json_of(
        app.post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": phone, "code": contact_code}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("auth.code_invalid"))
    );

    // A sign-in code to the same number does not verify the contact phone.
    app.clock.advance(Duration::seconds(61));
    let sign_in_code = app.sms_code(phone, "sign_in").await;
    if sign_in_code != contact_code {
        let (status, problem) = verify(&app, &finance, &sign_in_code).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (401, Some("auth.code_invalid"))
        );
    }

    // Another staff member waiting on the same number cannot use this member's code.
    app.clock.advance(Duration::seconds(61));
    assert_eq!(put_phone(&app, &approver, phone).await.0, 202);
    let approvers_code = code_sent_to(&fake, phone);
    if approvers_code != contact_code {
        let (status, problem) = verify(&app, &approver, &contact_code).await;
        assert_eq!(
            (status, problem["code"].as_str()),
            (401, Some("auth.code_invalid"))
        );
    }

    // Each code still does what it was sent for.
    assert_eq!(verify(&app, &finance, &contact_code).await.0, 200);
    assert_eq!(verify(&app, &approver, &approvers_code).await.0, 200);
    let signed_in = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": phone, "code": sign_in_code}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);
}

#[tokio::test]
async fn five_wrong_codes_use_the_code_up() {
    let (app, fake) = app_with_sms(true).await;
    let finance = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    let phone = "13800138521";
    assert_eq!(put_phone(&app, &finance, phone).await.0, 202);
    let code = code_sent_to(&fake, phone);
    let wrong = other_than(&code);
    for _ in 0..4 {
        assert_eq!(
            verify(&app, &finance, &wrong).await.1["code"],
            "auth.code_invalid"
        );
    }
    assert_eq!(
        verify(&app, &finance, &wrong).await.1["code"],
        "auth.code_exhausted"
    );
    let (status, problem) = verify(&app, &finance, &code).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("auth.code_invalid"))
    );
    assert_eq!(me(&app, &finance).await["contact_phone"], Value::Null);

    // An expired code fails the same way.
    app.clock.advance(Duration::seconds(61));
    assert_eq!(put_phone(&app, &finance, phone).await.0, 202);
    let code = code_sent_to(&fake, phone);
    app.clock.advance(Duration::seconds(301));
    let (status, problem) = verify(&app, &finance, &code).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (401, Some("auth.code_invalid"))
    );
}

#[tokio::test]
async fn only_staff_have_a_contact_phone() {
    let (app, fake) = app_with_sms(true).await;
    let worker = app.sign_in_worker("13800138531").await;
    let sent_before = fake.sent().len();
    for (status, problem) in [
        put_phone(&app, &worker, "13800138532").await,
        verify(&app, &worker, "123456").await,
        delete_phone(&app, &worker).await,
    ] {
        assert_eq!(
            (status, problem["code"].as_str()),
            (403, Some("auth.staff_only"))
        );
    }
    assert_eq!(fake.sent().len(), sent_before, "no code for a worker");
    let shown = me(&app, &worker).await;
    assert_eq!(shown["kind"], "worker");
    assert!(shown.get("contact_phone").is_none(), "{shown}");

    // Not signed in at all.
    let anonymous = app
        .client
        .put(app.url("/api/v1/me/contact-phone"))
        .json(&json!({"phone": "13800138533"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // Only mainland mobile numbers.
    let finance = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    for bad in ["12345", "+1 415 555 0100", "1380013850a", ""] {
        let (status, problem) = put_phone(&app, &finance, bad).await;
        assert_eq!(status, 400, "{bad}: {problem}");
    }
    assert_eq!(fake.sent().len(), sent_before);
}

async fn sms_deliveries(app: &TestApp, recipient: &str) -> Vec<store::Delivery> {
    let recipient = recipient.to_owned();
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use gongyou_db::schema::notification_deliveries as d;
            d::table
                .filter(d::user_id.eq(&recipient))
                .filter(d::channel.eq("sms"))
                .select(store::Delivery::as_select())
                .load(conn)
                .map_err(gongyou_db::DbError::from)
        })
        .await
        .unwrap()
}

/// Writes a staff notice through the outbox (in a transaction, as reconciliation does).
async fn notify(app: &TestApp, staff_id: &str, category: Category) {
    let channels = StaffChannels::of(&app.state.services);
    let now = app.clock_now();
    let id = staff_id.to_owned();
    app.state
        .db
        .run(move |conn| {
            gongyou_db::write_tx(conn, |conn| {
                notify_staff(
                    conn,
                    channels,
                    &id,
                    category,
                    json!({"date": "2026-12-05", "channel": "微信支付", "count": "1", "amount": "5000.00"}),
                    now,
                )
            })
        })
        .await
        .unwrap();
}

/// The notices (not codes) the fake gateway delivered: (phone as sent, parameters).
fn notices(fake: &FakeSms) -> Vec<(String, Vec<String>)> {
    fake.sent_with_template()
        .into_iter()
        .filter(|(_, template, _)| template == NOTICE_TEMPLATE)
        .map(|(phone, _, params)| (phone, params))
        .collect()
}

async fn inbox_titles(app: &TestApp, who: &Session) -> Vec<String> {
    let (status, body) = json_of(app.get_as(who, "/api/v1/me/notifications").await).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn unexpected_money_reaches_a_verified_contact_phone_by_sms_and_only_that() {
    let (app, fake) = app_with_sms(true).await;
    let finance = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    let approver = app.sign_in_staff("demo-approver", DEMO_PASSWORD).await;
    verified_phone(&app, &fake, &finance, "13800138541").await;
    // The approver's number waits for its code: not verified.
    assert_eq!(put_phone(&app, &approver, "13800138542").await.0, 202);
    let worker = app.job_worker();

    notify(
        &app,
        &id_of(&finance),
        Category::ReconciliationUnexpectedMoney,
    )
    .await;
    notify(
        &app,
        &id_of(&approver),
        Category::ReconciliationUnexpectedMoney,
    )
    .await;
    // Not every staff notice goes by SMS.
    notify(&app, &id_of(&finance), Category::ReconciliationExceptions).await;
    worker.drain().await.unwrap();

    let sent = notices(&fake);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].0, "+8613800138541");
    assert_eq!(sent[0].1[0], "发现非本系统发起的资金支出");
    assert!(sent[0].1[1].contains("5000.00"), "{:?}", sent[0].1);
    let delivered = sms_deliveries(&app, &id_of(&finance)).await;
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].status, "sent");
    assert!(
        sms_deliveries(&app, &id_of(&approver)).await.is_empty(),
        "an unverified number gets no SMS"
    );
    // Both have the notices in their inbox.
    assert!(inbox_titles(&app, &approver)
        .await
        .contains(&"发现非本系统发起的资金支出".to_owned()));
    assert_eq!(inbox_titles(&app, &finance).await.len(), 2);

    // Once verified, the approver is told by SMS too.
    let (status, _) = verify(&app, &approver, &code_sent_to(&fake, "13800138542")).await;
    assert_eq!(status, 200);
    notify(
        &app,
        &id_of(&approver),
        Category::ReconciliationUnexpectedMoney,
    )
    .await;
    worker.drain().await.unwrap();
    let sent = notices(&fake);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1].0, "+8613800138542");

    // A phone removed before the dispatcher runs is not written to.
    notify(
        &app,
        &id_of(&finance),
        Category::ReconciliationUnexpectedMoney,
    )
    .await;
    assert_eq!(delete_phone(&app, &finance).await.0, 204);
    worker.drain().await.unwrap();
    assert_eq!(notices(&fake).len(), 2);
    let skipped: Vec<_> = sms_deliveries(&app, &id_of(&finance))
        .await
        .into_iter()
        .filter(|d| d.status == "skipped")
        .collect();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].provider_response.as_deref(), Some("no phone"));
    // And once removed, no SMS delivery is written at all.
    notify(
        &app,
        &id_of(&finance),
        Category::ReconciliationUnexpectedMoney,
    )
    .await;
    assert_eq!(sms_deliveries(&app, &id_of(&finance)).await.len(), 2);
}

#[tokio::test]
async fn without_the_notice_template_staff_notices_stay_in_the_inbox() {
    let (app, fake) = app_with_sms(false).await;
    let finance = app.sign_in_staff("demo-finance", DEMO_PASSWORD).await;
    verified_phone(&app, &fake, &finance, "13800138551").await;
    notify(
        &app,
        &id_of(&finance),
        Category::ReconciliationUnexpectedMoney,
    )
    .await;
    app.job_worker().drain().await.unwrap();
    assert!(sms_deliveries(&app, &id_of(&finance)).await.is_empty());
    assert_eq!(fake.sent().len(), 1, "only the verification code");
    assert_eq!(inbox_titles(&app, &finance).await.len(), 1);
}
