//! Access tokens, refresh rotation with its grace window, reuse detection, sign-out.

use chrono::Duration;
use gongyou_tests::session::Session;
use gongyou_tests::{spawn_app, TestApp};
use serde_json::{json, Value};

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json("/api/v1/auth/refresh", &json!({"refresh_token": token}))
        .await
}

async fn code_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["code"].as_str().unwrap_or_default().to_owned())
}

#[tokio::test]
async fn sign_in_returns_the_documented_shape() {
    let app = spawn_app().await;
    let code = app.sms_code("13600000001", "sign_in").await;
    let response = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": "13600000001", "code": code}),
        )
        .await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert!(body["access_token"].as_str().unwrap().split('.').count() == 3);
    assert!(body["refresh_token"].as_str().unwrap().len() >= 43);
    assert_eq!(body["user"]["kind"], "worker");
}

#[tokio::test]
async fn access_tokens_last_fifteen_minutes() {
    let app = spawn_app().await;
    let worker = app.sign_in_worker("13600000002").await;
    app.clock.advance(Duration::minutes(14));
    assert_eq!(app.get_as(&worker, "/api/v1/me").await.status(), 200);
    app.clock.advance(Duration::minutes(1));
    assert_eq!(
        code_of(app.get_as(&worker, "/api/v1/me").await).await,
        (401, "auth.token_expired".into())
    );
    // Garbage and missing tokens.
    let forged = Session {
        access_token: "x.y.z".into(),
        ..worker.clone()
    };
    assert_eq!(
        code_of(app.get_as(&forged, "/api/v1/me").await).await,
        (401, "auth.token_invalid".into())
    );
    assert_eq!(
        code_of(app.get("/api/v1/me").await).await,
        (401, "auth.unauthenticated".into())
    );
}

#[tokio::test]
async fn refresh_rotates_and_the_successor_works() {
    let app = spawn_app().await;
    let worker = app.sign_in_worker("13600000003").await;
    app.clock.advance(Duration::minutes(20));
    let response = refresh(&app, &worker.refresh_token).await;
    assert_eq!(response.status(), 200);
    let next = Session::from_json(&response.json().await.unwrap());
    assert_ne!(next.refresh_token, worker.refresh_token);
    assert_eq!(next.user["id"], worker.user["id"]);
    assert_eq!(app.get_as(&next, "/api/v1/me").await.status(), 200);
    let third = refresh(&app, &next.refresh_token).await;
    assert_eq!(third.status(), 200);
}

#[tokio::test]
async fn a_just_rotated_token_gets_the_same_successor_within_the_grace_window() {
    let app = spawn_app().await;
    let worker = app.sign_in_worker("13600000004").await;
    let first: Value = refresh(&app, &worker.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    app.clock.advance(Duration::seconds(25));
    let retry = refresh(&app, &worker.refresh_token).await;
    assert_eq!(retry.status(), 200, "a lost response is retried safely");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["refresh_token"], first["refresh_token"]);
    // The successor still works afterwards.
    assert_eq!(
        refresh(&app, first["refresh_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn reuse_after_the_grace_window_ends_the_whole_session() {
    let app = spawn_app().await;
    let worker = app.sign_in_worker("13600000005").await;
    let next = Session::from_json(
        &refresh(&app, &worker.refresh_token)
            .await
            .json()
            .await
            .unwrap(),
    );
    app.clock.advance(Duration::seconds(31));
    assert_eq!(
        code_of(refresh(&app, &worker.refresh_token).await).await,
        (401, "auth.refresh_reused".into())
    );
    // Everything of that session is dead: the successor and the access token.
    assert_eq!(
        code_of(refresh(&app, &next.refresh_token).await).await,
        (401, "auth.refresh_invalid".into())
    );
    assert_eq!(
        code_of(app.get_as(&next, "/api/v1/me").await).await,
        (401, "auth.session_revoked".into())
    );
    // Another session of the same person is untouched.
    app.clock.advance(Duration::seconds(61));
    let other = app.sign_in_worker("13600000005").await;
    assert_eq!(app.get_as(&other, "/api/v1/me").await.status(), 200);
}

#[tokio::test]
async fn refresh_tokens_expire_after_thirty_days() {
    let app = spawn_app().await;
    let worker = app.sign_in_worker("13600000006").await;
    app.clock.advance(Duration::days(30));
    assert_eq!(
        code_of(refresh(&app, &worker.refresh_token).await).await,
        (401, "auth.refresh_invalid".into())
    );
    assert_eq!(
        code_of(refresh(&app, "made-up").await).await,
        (401, "auth.refresh_invalid".into())
    );
}

#[tokio::test]
async fn signing_out_stops_the_session_at_once() {
    let app = spawn_app().await;
    let worker = app.sign_in_worker("13600000007").await;
    assert_eq!(app.get_as(&worker, "/api/v1/me").await.status(), 200);
    let out = app
        .client
        .delete(app.url("/api/v1/auth/sessions/current"))
        .header("Authorization", worker.bearer())
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    assert_eq!(
        code_of(app.get_as(&worker, "/api/v1/me").await).await,
        (401, "auth.session_revoked".into())
    );
    assert_eq!(
        code_of(refresh(&app, &worker.refresh_token).await).await,
        (401, "auth.refresh_invalid".into())
    );
}

/// Refreshes, returning the new session tokens (panics unless 200).
async fn refreshed(app: &TestApp, session: &Session) -> Session {
    let response = refresh(app, &session.refresh_token).await;
    assert_eq!(response.status(), 200);
    Session::from_json(&response.json().await.unwrap())
}

#[tokio::test]
async fn a_session_ends_at_its_absolute_lifetime_however_active() {
    let app = spawn_app().await;
    app.seed().await;
    // A worker who opens the app every few weeks keeps a session for 90 days, no more.
    let mut worker = app.sign_in_worker("13600000011").await;
    for _ in 0..4 {
        app.clock.advance(Duration::days(22));
        worker = refreshed(&app, &worker).await;
    }
    // Day 88: still signed in; the access token from then works until day 90.
    assert_eq!(app.get_as(&worker, "/api/v1/me").await.status(), 200);
    app.clock.advance(Duration::days(2));
    assert_eq!(
        code_of(app.get_as(&worker, "/api/v1/me").await).await,
        (401, "auth.token_expired".into())
    );
    assert_eq!(
        code_of(refresh(&app, &worker.refresh_token).await).await,
        (401, "auth.session_expired".into())
    );

    // Staff: a working day (12 hours), however busy.
    let mut admin = app
        .sign_in_staff("demo-admin", gongyou_tests::session::DEMO_PASSWORD)
        .await;
    for _ in 0..71 {
        app.clock.advance(Duration::minutes(10));
        admin = refreshed(&app, &admin).await;
    }
    // 11 h 50 min in: a fresh access token, used past the 12 hours, no longer works.
    assert_eq!(app.get_as(&admin, "/api/v1/me").await.status(), 200);
    app.clock.advance(Duration::minutes(11));
    assert_eq!(
        code_of(app.get_as(&admin, "/api/v1/me").await).await,
        (401, "auth.session_expired".into())
    );
    assert_eq!(
        code_of(refresh(&app, &admin.refresh_token).await).await,
        (401, "auth.session_expired".into())
    );
}

#[tokio::test]
async fn a_busy_database_is_503_and_a_made_up_refresh_token_does_not_wait_for_it() {
    let app = spawn_app().await;
    let worker = app.sign_in_worker("13600000012").await;
    let code = app.sms_code("13600000013", "sign_in").await;
    let lock = app.hold_write_lock();
    // A token we never issued is refused at once, without queueing for the write lock.
    let started = std::time::Instant::now();
    assert_eq!(
        code_of(refresh(&app, "made-up-token").await).await,
        (401, "auth.refresh_invalid".into())
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // Reading works; a sign-in, which writes, waits out the lock timeout and is told to
    // retry: 503 with Retry-After, not a 500.
    assert_eq!(app.get_as(&worker, "/api/v1/me").await.status(), 200);
    let started = std::time::Instant::now();
    let busy = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": "13600000013", "code": code}),
        )
        .await;
    assert!(started.elapsed() >= std::time::Duration::from_secs(4));
    assert_eq!(busy.status(), 503);
    assert!(busy.headers().contains_key("retry-after"));
    let body: Value = busy.json().await.unwrap();
    assert_eq!(body["code"], "service.database_busy");
    drop(lock);
    // The attempt spent its code (codes are single use); a new one signs in once the lock
    // is gone.
    let code = app.sms_code("13600000014", "sign_in").await;
    let signed_in = app
        .post_json(
            "/api/v1/auth/sessions/sms",
            &json!({"phone": "13600000014", "code": code}),
        )
        .await;
    assert_eq!(signed_in.status(), 200);
}
