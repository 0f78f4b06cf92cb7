//! No secret, code, password, token or full phone number reaches the logs. Its own test
//! binary, so the process-wide log capture holds this test's logs only. Runs in
//! production-like mode: codes go through the (fake) SMS gateway and are not echoed.

use std::io::Write;
use std::sync::{Arc, Mutex};

use gongyou_tests::fakes::sms::FakeSms;
use gongyou_tests::fakes::wechat::FakeWechat;
use gongyou_tests::session::{Session, DEMO_PASSWORD};
use gongyou_tests::spawn_app_with;
use serde_json::{json, Value};
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// Whether `needle` (digits) stands in `haystack` as a whole number.
fn contains_number(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

/// Every string (but the timestamp) and number in a JSON log line.
fn values(line: &Value, out: &mut Vec<String>) {
    match line {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(format!("={n}=")),
        Value::Array(items) => items.iter().for_each(|v| values(v, out)),
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| *k != "timestamp")
            .for_each(|(_, v)| values(v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn nothing_secret_is_logged() {
    let capture = Capture::default();
    gongyou_services::telemetry::init_with_writer(
        "trace",
        gongyou_services::config::LogFormat::Json,
        capture.clone(),
    );

    let sms = FakeSms::start().await;
    let wechat = FakeWechat::start().await;
    let env = [
        ("GONGYOU_SMS_DEV_ECHO", "false".to_owned()),
        ("GONGYOU_SMS_PROVIDER", "tencent".to_owned()),
        ("GONGYOU_SMS_BASE_URL", sms.base_url()),
        ("GONGYOU_SMS_ACCESS_KEY_ID", "AKID-test".to_owned()),
        (
            "GONGYOU_SMS_ACCESS_KEY_SECRET",
            "sms-key-secret-xyz".to_owned(),
        ),
        ("GONGYOU_SMS_SIGN_NAME", "工友".to_owned()),
        ("GONGYOU_SMS_TEMPLATE_ID", "100001".to_owned()),
        ("GONGYOU_SMS_SDK_APP_ID", "1400000001".to_owned()),
        ("GONGYOU_WECHAT_APPID", FakeWechat::APPID.to_owned()),
        ("GONGYOU_WECHAT_SECRET", FakeWechat::SECRET.to_owned()),
        ("GONGYOU_WECHAT_BASE_URL", wechat.base_url()),
        (
            "GONGYOU_TOKEN_SECRET",
            "token-secret-0123456789-abcdefghij".to_owned(),
        ),
    ];
    let app = spawn_app_with(
        env.iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect(),
    )
    .await;
    app.seed().await;

    let phone = "13912345678";
    let sent = app
        .post_json(
            "/api/v1/auth/sms-codes",
            &json!({"phone": phone, "purpose": "sign_in"}),
        )
        .await;
    assert_eq!(sent.status(), 202);
    let sent: Value = sent.json().await.unwrap();
    assert!(
        sent.get("dev_code").is_none(),
        "no echo in production-like mode"
    );
    let code = sms.last_code_for(phone).expect("the gateway got the code");
    let wrong = if code == "864209" { "864210" } else { "864209" };
    let refused = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": phone, "code": wrong}),
        )
        .await;
    assert_eq!(
        refused.status(),
        401,
        "a wrong code is refused (and logged)"
    );
    let signed_in = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": phone, "code": code}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);
    let worker = Session::from_json(&signed_in.json().await.unwrap());
    let refreshed: Value = app
        .post_json(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": worker.refresh_token}),
        )
        .await
        .json()
        .await
        .unwrap();
    let refreshed = Session::from_json(&refreshed);

    let wrong_password = "Wrong-Password-42";
    let refused = app
        .post_json(
            "/api/v1/auth/sessions/password",
            &json!({"username": "demo-admin", "password": wrong_password}),
        )
        .await;
    assert_eq!(
        refused.status(),
        401,
        "a wrong password is refused (and logged)"
    );
    // A password typed into the username field: refused, and not logged either.
    let typed_in_username = "MyPassw0rd-In-The-Wrong-Box";
    let refused = app
        .post_json(
            "/api/v1/auth/sessions/password",
            &json!({"username": typed_in_username, "password": "whatever-1"}),
        )
        .await;
    assert_eq!(refused.status(), 401);
    let staff = app.sign_in_staff("demo-admin", DEMO_PASSWORD).await;
    assert_eq!(
        app.get_as(&staff, "/api/v1/admin/staff").await.status(),
        200
    );

    wechat.add_login_code("wx-login-code-1", "openid-secretive", None);
    let by_wechat = app
        .post_json(
            "/api/v1/auth/sessions/wechat",
            &json!({"code": "wx-login-code-1"}),
        )
        .await;
    assert_eq!(by_wechat.status(), 200);
    let by_wechat = Session::from_json(&by_wechat.json().await.unwrap());
    let other_phone = "13887654321";
    wechat.add_phone_code("wx-phone-code-1", other_phone);
    let bound = app
        .post_json_as(
            &by_wechat,
            "/api/v1/me/phone/wechat",
            &json!({"code": "wx-phone-code-1"}),
        )
        .await;
    assert_eq!(bound.status(), 200);

    // A membership application with an ID number, approved, read by an admin.
    let id_number = gongyou_tests::session::id_number("510104", "19900307", "123");
    let applied = app
        .apply(
            &refreshed,
            &gongyou_tests::session::application(&id_number, "510104"),
        )
        .await;
    assert_eq!(applied.status(), 201);
    let applied: Value = applied.json().await.unwrap();
    let admin = app.sign_in_staff("demo-sichuan-admin", DEMO_PASSWORD).await;
    let approved: Value = app
        .post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/membership/applications/{}/approve",
                applied["id"].as_str().unwrap()
            ),
            &json!({}),
        )
        .await
        .json()
        .await
        .unwrap();
    let read = app
        .post_json_as(
            &admin,
            &format!(
                "/api/v1/admin/members/{}/identity-reads",
                approved["id"].as_str().unwrap()
            ),
            &json!({"purpose": "核实身份"}),
        )
        .await;
    assert_eq!(read.status(), 200);

    drop(app);
    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("139****5678"),
        "the capture works and phones appear masked"
    );
    assert!(text.contains("\"request_id\""), "request ids are logged");

    for secret in [
        phone,
        other_phone,
        DEMO_PASSWORD,
        wrong_password,
        &worker.access_token,
        &worker.refresh_token,
        &refreshed.access_token,
        &refreshed.refresh_token,
        &staff.access_token,
        &staff.refresh_token,
        &by_wechat.access_token,
        &by_wechat.refresh_token,
        &admin.access_token,
        &admin.refresh_token,
        code.as_str(),
        wrong,
        typed_in_username,
        &typed_in_username.to_lowercase(),
        "wx-login-code-1",
        "openid-secretive",
        "sms-key-secret-xyz",
        FakeWechat::SECRET,
        "token-secret-0123456789-abcdefghij",
        "wx-phone-code-1",
        &id_number,
        &id_number.to_lowercase(),
        &id_number[6..14],
    ] {
        assert!(!text.contains(secret), "{secret:?} appears in the logs");
    }
    let mut found = Vec::new();
    for line in text.lines() {
        let Ok(json) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        values(&json, &mut found);
    }
    for code in [code.as_str(), wrong] {
        for value in &found {
            assert!(
                !contains_number(value, code) && value != &format!("={code}="),
                "the SMS code appears in {value:?}"
            );
        }
    }
}
