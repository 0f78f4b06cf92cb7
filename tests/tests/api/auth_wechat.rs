//! WeChat mini-program sign-in and phone binding, against a fake that behaves like the
//! documented API (errors included).

use gongyou_tests::fakes::wechat::FakeWechat;
use gongyou_tests::session::Session;
use gongyou_tests::{spawn_app, spawn_app_with, TestApp};
use serde_json::{json, Value};

async fn app_with_wechat() -> (TestApp, FakeWechat) {
    let fake = FakeWechat::start().await;
    let app = spawn_app_with(fake.env(None)).await;
    (app, fake)
}

async fn wechat_sign_in(app: &TestApp, code: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/sessions/wechat", &json!({"code": code}))
        .await
}

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn a_mini_program_user_signs_in_and_comes_back_to_the_same_account() {
    let (app, fake) = app_with_wechat().await;
    fake.add_login_code("code-1", "openid-1", None);
    let first = wechat_sign_in(&app, "code-1").await;
    assert_eq!(first.status(), 200);
    let first = Session::from_json(&first.json().await.unwrap());
    assert_eq!(first.user["wechat_bound"], true);
    assert_eq!(first.user["phone"], Value::Null);

    fake.add_login_code("code-2", "openid-1", Some("union-1"));
    let again = Session::from_json(&wechat_sign_in(&app, "code-2").await.json().await.unwrap());
    assert_eq!(again.user["id"], first.user["id"]);
    // Known by unionid from now on (another app of the same WeChat platform account).
    fake.add_login_code("code-3", "openid-other-app", Some("union-1"));
    let via_union = Session::from_json(&wechat_sign_in(&app, "code-3").await.json().await.unwrap());
    assert_eq!(via_union.user["id"], first.user["id"]);
}

#[tokio::test]
async fn wechat_errors_become_clear_problems() {
    let (app, fake) = app_with_wechat().await;
    assert_eq!(
        code_of(wechat_sign_in(&app, "never-issued").await).await,
        (401, "wechat.code_invalid".into())
    );
    fake.add_login_code("once", "openid-2", None);
    assert_eq!(wechat_sign_in(&app, "once").await.status(), 200);
    assert_eq!(
        code_of(wechat_sign_in(&app, "once").await).await,
        (401, "wechat.code_invalid".into()),
        "40163"
    );

    fake.add_login_code("limited", "openid-3", None);
    fake.fail_next_login(45011);
    let limited = wechat_sign_in(&app, "limited").await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_eq!(code_of(limited).await, (429, "wechat.rate_limited".into()));
    fake.fail_next_login(-1);
    assert_eq!(
        code_of(wechat_sign_in(&app, "limited").await).await,
        (503, "wechat.busy".into())
    );
}

#[tokio::test]
async fn without_wechat_configuration_the_endpoints_say_so() {
    let app = spawn_app().await;
    assert_eq!(
        code_of(wechat_sign_in(&app, "x").await).await,
        (503, "wechat.not_configured".into())
    );
    let worker = app.sign_in_worker("13200000001").await;
    let bind = app
        .post_json_as(&worker, "/api/v1/me/phone/wechat", &json!({"code": "x"}))
        .await;
    assert_eq!(code_of(bind).await, (503, "wechat.not_configured".into()));
}

#[tokio::test]
async fn binding_a_new_phone_keeps_the_account() {
    let (app, fake) = app_with_wechat().await;
    fake.add_login_code("c", "openid-4", None);
    let user = Session::from_json(&wechat_sign_in(&app, "c").await.json().await.unwrap());
    fake.add_phone_code("p", "13200000002");
    let bound = app
        .post_json_as(&user, "/api/v1/me/phone/wechat", &json!({"code": "p"}))
        .await;
    assert_eq!(bound.status(), 200);
    let bound: Value = bound.json().await.unwrap();
    assert_eq!(bound["merged"], false);
    assert_eq!(bound["user"]["phone"], "132****0002");
    assert_eq!(bound["user"]["id"], user.user["id"]);
    let me: Value = app.get_as(&user, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["phone"], "132****0002");
    // Signing in by SMS now reaches the same account.
    let by_sms = app.sign_in_worker("13200000002").await;
    assert_eq!(by_sms.user["id"], user.user["id"]);
    // A bad phone code.
    assert_eq!(
        code_of(
            app.post_json_as(&user, "/api/v1/me/phone/wechat", &json!({"code": "nope"}))
                .await
        )
        .await,
        (401, "wechat.code_invalid".into())
    );
}

#[tokio::test]
async fn binding_a_phone_that_has_an_account_merges_the_two() {
    let (app, fake) = app_with_wechat().await;
    let by_sms = app.sign_in_worker("13200000003").await;
    fake.add_login_code("c", "openid-5", Some("union-5"));
    let by_wechat = Session::from_json(&wechat_sign_in(&app, "c").await.json().await.unwrap());
    assert_ne!(by_wechat.user["id"], by_sms.user["id"]);

    // WeChat's word alone does not hand over an existing account (numbers are recycled).
    fake.add_phone_code("p0", "13200000003");
    let unverified = app
        .post_json_as(
            &by_wechat,
            "/api/v1/me/phone/wechat",
            &json!({"code": "p0"}),
        )
        .await;
    assert_eq!(
        code_of(unverified).await,
        (409, "auth.phone_verification_required".into())
    );
    app.clock.advance(chrono::Duration::seconds(61));
    let sms = app.sms_code("13200000003", "bind_phone").await;
    fake.add_phone_code("p1", "13200000003");
    let wrong = app
        .post_json_as(
            &by_wechat,
            "/api/v1/me/phone/wechat",
            &json!({"code": "p1", "sms_code": if sms == "000000" { "111111" } else { "000000" }}),
        )
        .await;
    assert_eq!(wrong.status(), 401);
    fake.add_phone_code("p", "13200000003");
    let merged = app
        .post_json_as(
            &by_wechat,
            "/api/v1/me/phone/wechat",
            &json!({"code": "p", "sms_code": sms}),
        )
        .await;
    assert_eq!(merged.status(), 200);
    let merged: Value = merged.json().await.unwrap();
    assert_eq!(merged["merged"], true);
    assert_eq!(
        merged["user"]["id"], by_sms.user["id"],
        "the phone's account survives"
    );
    assert_eq!(merged["user"]["wechat_bound"], true);
    let session = Session::from_json(&merged["session"]);

    // The WeChat-only account's session has ended; the new one is the merged account's.
    assert_eq!(app.get_as(&by_wechat, "/api/v1/me").await.status(), 401);
    let me: Value = app
        .get_as(&session, "/api/v1/me")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["id"], by_sms.user["id"]);
    // WeChat sign-in now reaches the merged account; so does SMS.
    fake.add_login_code("c2", "openid-5", Some("union-5"));
    let again = Session::from_json(&wechat_sign_in(&app, "c2").await.json().await.unwrap());
    assert_eq!(again.user["id"], by_sms.user["id"]);
    assert_eq!(app.get_as(&by_sms, "/api/v1/me").await.status(), 200);
}

#[tokio::test]
async fn the_server_token_is_cached_and_refreshed_once_when_rejected() {
    let (app, fake) = app_with_wechat().await;
    fake.add_login_code("c", "openid-6", None);
    let user = Session::from_json(&wechat_sign_in(&app, "c").await.json().await.unwrap());
    fake.add_phone_code("p1", "13200000004");
    assert_eq!(
        app.post_json_as(&user, "/api/v1/me/phone/wechat", &json!({"code": "p1"}))
            .await
            .status(),
        200
    );
    fake.add_phone_code("p2", "13200000004");
    assert_eq!(
        app.post_json_as(&user, "/api/v1/me/phone/wechat", &json!({"code": "p2"}))
            .await
            .status(),
        200
    );
    assert_eq!(fake.stable_token_calls(), 1, "cached between calls");

    fake.expire_access_tokens();
    fake.add_phone_code("p3", "13200000004");
    assert_eq!(
        app.post_json_as(&user, "/api/v1/me/phone/wechat", &json!({"code": "p3"}))
            .await
            .status(),
        200
    );
    assert!(
        fake.stable_token_calls() <= 3,
        "refreshed once (normal mode, then forced if needed)"
    );
    assert!(fake.force_refresh_calls() <= 1);
}
