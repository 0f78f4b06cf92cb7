//! SMS one-time codes and worker sign-in.

use chrono::Duration;
use gongyou_tests::{spawn_app, spawn_app_with};
use serde_json::{json, Value};

async fn problem(response: reqwest::Response) -> (u16, String, Option<u64>) {
    let status = response.status().as_u16();
    let retry = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    let body: Value = response.json().await.unwrap();
    (
        status,
        body["code"].as_str().unwrap_or_default().to_owned(),
        retry,
    )
}

#[tokio::test]
async fn a_worker_signs_in_with_a_code_and_keeps_one_account() {
    let app = spawn_app().await;
    let first = app.sign_in_worker("+86 138-0013-8000").await;
    assert_eq!(first.user["kind"], "worker");
    assert_eq!(first.user["phone"], "138****8000");
    assert_eq!(first.user["wechat_bound"], false);

    let me: Value = app.get_as(&first, "/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["id"], first.user["id"]);

    app.clock.advance(Duration::seconds(61));
    let again = app.sign_in_worker("13800138000").await;
    assert_eq!(
        again.user["id"], first.user["id"],
        "the same phone is the same account"
    );
    assert_ne!(again.refresh_token, first.refresh_token);
}

#[tokio::test]
async fn codes_expire_after_five_minutes() {
    let app = spawn_app().await;
    let code = app.sms_code("13800138001", "sign_in").await;
    app.clock.advance(Duration::seconds(301));
    let response = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": "13800138001", "code": code}),
        )
        .await;
    assert_eq!(
        problem(response).await,
        (401, "auth.code_invalid".into(), None)
    );
}

#[tokio::test]
async fn codes_work_once() {
    let app = spawn_app().await;
    let code = app.sms_code("13800138002", "sign_in").await;
    let body = json!({"phone": "13800138002", "code": code});
    assert_eq!(
        app.post_json("/api/v1/auth/sessions/sms", &body)
            .await
            .status(),
        200
    );
    let reused = app.post_json("/api/v1/auth/sessions/sms", &body).await;
    assert_eq!(
        problem(reused).await,
        (401, "auth.code_invalid".into(), None)
    );
}

#[tokio::test]
async fn five_wrong_tries_kill_the_code() {
    let app = spawn_app().await;
    let code = app.sms_code("13800138003", "sign_in").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for attempt in 1..=5 {
        let response = app
            .post_json(
                "/api/v1/auth/sessions/sms",
                &json!({"phone": "13800138003", "code": wrong}),
            )
            .await;
        let expected = if attempt == 5 {
            "auth.code_exhausted"
        } else {
            "auth.code_invalid"
        };
        assert_eq!(
            problem(response).await,
            (401, expected.into(), None),
            "attempt {attempt}"
        );
    }
    let right = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": "13800138003", "code": code}),
        )
        .await;
    assert_eq!(
        right.status(),
        401,
        "the right code no longer works after 5 wrong tries"
    );
}

#[tokio::test]
async fn a_code_works_only_for_its_purpose() {
    let app = spawn_app().await;
    let code = app.sms_code("13800138004", "step_up").await;
    let response = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": "13800138004", "code": code}),
        )
        .await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn one_code_a_minute_per_phone() {
    let app = spawn_app().await;
    app.sms_code("13800138005", "sign_in").await;
    let again = app
        .post_json(
            "/api/v1/auth/sms-codes",
            &json!({"phone": "13800138005", "purpose": "sign_in"}),
        )
        .await;
    assert_eq!(
        problem(again).await,
        (429, "auth.sms_rate_limited".into(), Some(60))
    );
    app.clock.advance(Duration::seconds(60));
    app.sms_code("13800138005", "sign_in").await;
}

#[tokio::test]
async fn ten_codes_a_day_per_phone() {
    let app = spawn_app().await;
    for _ in 0..10 {
        app.sms_code("13800138006", "sign_in").await;
        app.clock.advance(Duration::seconds(61));
    }
    let eleventh = app
        .post_json(
            "/api/v1/auth/sms-codes",
            &json!({"phone": "13800138006", "purpose": "sign_in"}),
        )
        .await;
    let (status, code, retry) = problem(eleventh).await;
    assert_eq!((status, code.as_str()), (429, "auth.sms_rate_limited"));
    let retry = retry.unwrap();
    assert!(retry > 60 && retry <= 86_400, "{retry}");
}

#[tokio::test]
async fn twenty_codes_an_hour_per_client_address() {
    let app = spawn_app().await;
    for i in 0..20 {
        app.sms_code(&format!("1390000{i:04}"), "sign_in").await;
    }
    let response = app
        .post_json(
            "/api/v1/auth/sms-codes",
            &json!({"phone": "13900009999", "purpose": "sign_in"}),
        )
        .await;
    let (status, code, retry) = problem(response).await;
    assert_eq!((status, code.as_str()), (429, "auth.sms_rate_limited"));
    assert_eq!(retry, Some(180));
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
    let untrusted = spawn_app().await;
    for i in 0..20 {
        let r = untrusted
            .client
            .post(untrusted.url("/api/v1/auth/sms-codes"))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .json(&json!({"phone": format!("1370000{i:04}"), "purpose": "sign_in"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    let spoofed = untrusted
        .client
        .post(untrusted.url("/api/v1/auth/sms-codes"))
        .header("X-Forwarded-For", "203.0.113.250")
        .json(&json!({"phone": "13700009999", "purpose": "sign_in"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        spoofed.status(),
        429,
        "a client cannot dodge the limit with its own header"
    );

    let proxied =
        spawn_app_with([("GONGYOU_TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned())].into())
            .await;
    for i in 0..21 {
        let r = proxied
            .client
            .post(proxied.url("/api/v1/auth/sms-codes"))
            .header("X-Forwarded-For", format!("203.0.113.{i}"))
            .json(&json!({"phone": format!("1370000{i:04}"), "purpose": "sign_in"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            202,
            "each client behind the proxy has its own limit"
        );
    }
}

#[tokio::test]
async fn malformed_requests_are_400() {
    let app = spawn_app().await;
    for body in [
        json!({"phone": "12345", "purpose": "sign_in"}),
        json!({"phone": "23800138000", "purpose": "sign_in"}),
        json!({"phone": "13800138000", "purpose": "hack"}),
        json!({"phone": "13800138000"}),
    ] {
        let response = app.post_json("/api/v1/auth/sms-codes", &body).await;
        assert_eq!(response.status(), 400, "{body}");
    }
}

#[tokio::test]
async fn step_up_proves_a_fresh_code() {
    let app = spawn_app().await;
    let worker = app.sign_in_worker("13800138007").await;
    app.clock.advance(Duration::seconds(61));
    let code = app.sms_code("13800138007", "step_up").await;
    let response = app
        .post_json_as(&worker, "/api/v1/auth/step-up", &json!({"code": code}))
        .await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in"], 300);
    assert!(body["step_up_token"].as_str().unwrap().len() > 20);
    // A code is good once.
    let again = app
        .post_json_as(&worker, "/api/v1/auth/step-up", &json!({"code": code}))
        .await;
    assert_eq!(again.status(), 401);
}

/// An SMS gateway (Tencent's API, faked locally) for the gateway-failure tests.
async fn app_with_gateway(
    extra: &[(&str, &str)],
) -> (gongyou_tests::TestApp, gongyou_tests::fakes::sms::FakeSms) {
    use gongyou_tests::fakes::sms::FakeSms;
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
    for (k, v) in extra {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    (spawn_app_with(env).await, fake)
}

async fn request_code(app: &gongyou_tests::TestApp, phone: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/sms-codes",
        &json!({"phone": phone, "purpose": "sign_in"}),
    )
    .await
}

#[tokio::test]
async fn gateway_failures_are_told_apart_and_give_the_minute_back() {
    let (app, fake) = app_with_gateway(&[]).await;
    let phone = "13800138101";
    // The number cannot receive SMS: 422, and nothing is stored.
    fake.fail_next("FailedOperation.PhoneNumberInBlacklist");
    assert_eq!(
        problem(request_code(&app, phone).await).await,
        (422, "sms.rejected".into(), None)
    );
    // The provider's own rate limit: 429 with a wait.
    fake.fail_next("LimitExceeded.PhoneNumberThirtySecondLimit");
    assert_eq!(
        problem(request_code(&app, phone).await).await,
        (429, "sms.provider_rate_limited".into(), Some(60))
    );
    // The provider failing: 503, retry later.
    fake.fail_next("InternalError.Timeout");
    let (status, code, retry) = problem(request_code(&app, phone).await).await;
    assert_eq!((status, code.as_str()), (503, "sms.delivery_failed"));
    assert!(retry.is_some());
    // None of the failed sends used up the phone's one code a minute: the next one goes out
    // at once, and it signs in.
    let sent = request_code(&app, phone).await;
    assert_eq!(sent.status(), 202);
    let code = fake
        .last_code_for(phone)
        .expect("the code reached the gateway");
    let signed_in = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);
    // A sent code does use the minute.
    assert_eq!(
        problem(request_code(&app, phone).await).await,
        (429, "auth.sms_rate_limited".into(), Some(60))
    );
}

async fn code_from(app: &gongyou_tests::TestApp, ip: &str, phone: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/sms-codes"))
        .header("X-Forwarded-For", ip)
        .json(&json!({"phone": phone, "purpose": "sign_in"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn ipv6_clients_are_limited_by_their_64() {
    let app =
        spawn_app_with([("GONGYOU_TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned())].into())
            .await;
    // Every address of one /64 is one client: a fresh /128 per request buys nothing.
    for i in 0..20 {
        let ip = format!("2001:db8:5:7:{i:x}:{:x}::1", (i * 7919) % 0x1_0000);
        assert_eq!(
            code_from(&app, &ip, &format!("1360000{i:04}"))
                .await
                .status(),
            202
        );
    }
    let (status, code, _) =
        problem(code_from(&app, "2001:db8:5:7:ffff::9", "13600009999").await).await;
    assert_eq!((status, code.as_str()), (429, "auth.sms_rate_limited"));
    // The next /64 is another client.
    assert_eq!(
        code_from(&app, "2001:db8:5:8::1", "13600009999")
            .await
            .status(),
        202
    );
}

#[tokio::test]
async fn the_install_has_a_daily_sms_budget() {
    let app = spawn_app_with(
        [
            ("GONGYOU_TRUSTED_PROXIES".to_owned(), "127.0.0.1".to_owned()),
            ("GONGYOU_SMS_DAILY_BUDGET".to_owned(), "3".to_owned()),
        ]
        .into(),
    )
    .await;
    // Pin the clock to 20:00 UTC (04:00 in 北京), the hour pumping tends to run.
    let today = chrono::Utc::now().date_naive();
    app.clock
        .set(today.and_hms_opt(20, 0, 0).unwrap().and_utc() + Duration::days(1));
    // Three networks, three phones: each within its own limits; the install's budget is 3.
    for i in 0..3 {
        let sent = code_from(&app, &format!("198.51.100.{i}"), &format!("1350000000{i}")).await;
        assert_eq!(sent.status(), 202);
    }
    let (status, code, retry) = problem(code_from(&app, "198.51.100.9", "13500000009").await).await;
    assert_eq!((status, code.as_str()), (429, "sms.daily_budget_spent"));
    // Until the next UTC day: four hours.
    let retry = retry.unwrap();
    assert!((4 * 3600 - 2..=4 * 3600 + 1).contains(&retry), "{retry}");
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains("gongyou_sms_codes_today 4")
            && metrics.contains("gongyou_sms_daily_budget 3"),
        "{metrics}"
    );
    // A new day, a new budget.
    app.clock.advance(Duration::hours(4));
    let next_day = code_from(&app, "198.51.100.9", "13500000009").await;
    assert_eq!(next_day.status(), 202, "{}", next_day.text().await.unwrap());
}
