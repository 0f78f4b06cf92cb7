//! Every error is problem+json with a stable code, a fitting status and a zh-CN detail.

use actix_web::{web, HttpResponse};
use gongyou_api::error::ApiError;
use gongyou_services::ServiceError;
use gongyou_tests::{spawn_app, spawn_app_with};
use serde::Deserialize;

async fn problem(response: reqwest::Response) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "status {status}"
    );
    assert!(response.headers().contains_key("x-request-id"));
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(
        body["type"],
        format!("urn:gongyou:problem:{}", body["code"].as_str().unwrap())
    );
    (status, body)
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = spawn_app().await;
    let (status, body) = problem(app.get("/api/v1/nothing-here").await).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["detail"], "请求的资源不存在");
}

#[derive(Deserialize, serde::Serialize)]
struct Echo {
    name: String,
    count: u32,
}

async fn echo(body: web::Json<Echo>) -> HttpResponse {
    HttpResponse::Created().json(body.into_inner())
}

async fn fail() -> Result<HttpResponse, ApiError> {
    Err(ServiceError::internal(anyhow::anyhow!(
        "connection to 10.1.2.3 refused while loading secret_table"
    ))
    .into())
}

async fn rule() -> Result<HttpResponse, ApiError> {
    Err(ServiceError::rule("member.under_age", "未满 16 周岁，暂不能入会").into())
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/echo", web::post().to(echo))
        .route("/fail", web::get().to(fail))
        .route("/rule", web::get().to(rule));
}

#[tokio::test]
async fn bodies_that_do_not_parse_are_400_and_oversized_ones_413() {
    let app =
        spawn_app_with([("GONGYOU_BODY_LIMIT_BYTES".to_owned(), "2048".to_owned())].into()).await;
    let base = app.serve_extra(routes);
    let post = |body: String, content_type: &'static str| {
        app.client
            .post(format!("{base}/echo"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let ok = post(r#"{"name":"李师傅","count":2}"#.into(), "application/json")
        .await
        .unwrap();
    assert_eq!(ok.status(), 201);

    let (status, body) =
        problem(post("{\"name\":".into(), "application/json").await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "request.malformed_json")
    );

    let (status, body) = problem(
        post(r#"{"name":"x","count":"two"}"#.into(), "application/json")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (400, "request.invalid_body")
    );
    assert!(
        body["errors"]["body"].as_str().unwrap().contains("count")
            || body["errors"]["body"].as_str().unwrap().contains("string")
    );

    let (status, body) = problem(
        post(r#"{"name":"x","count":1}"#.into(), "text/plain")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (415, "request.unsupported_media_type")
    );

    let big = format!(r#"{{"name":"{}","count":1}}"#, "x".repeat(4096));
    let (status, body) = problem(post(big, "application/json").await.unwrap()).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (413, "request.body_too_large")
    );
}

#[tokio::test]
async fn server_errors_say_nothing_of_their_cause() {
    let app = spawn_app().await;
    let base = app.serve_extra(routes);
    let response = app.client.get(format!("{base}/fail")).send().await.unwrap();
    let text_check = response.headers().clone();
    let (status, body) = problem(response).await;
    assert_eq!(status, 500);
    assert_eq!(body["code"], "internal");
    let text = body.to_string();
    assert!(
        !text.contains("10.1.2.3") && !text.contains("secret_table"),
        "{text}"
    );
    assert!(text_check.contains_key("x-request-id"));
}

#[tokio::test]
async fn rule_violations_are_422_with_their_own_code() {
    let app = spawn_app().await;
    let base = app.serve_extra(routes);
    let (status, body) =
        problem(app.client.get(format!("{base}/rule")).send().await.unwrap()).await;
    assert_eq!(status, 422);
    assert_eq!(body["code"], "member.under_age");
    assert_eq!(body["detail"], "未满 16 周岁，暂不能入会");
}

/// A method a path does not serve is 405 with `Allow` (ADR 013); an unknown path is 404.
#[tokio::test]
async fn a_method_a_path_does_not_serve_is_405_with_allow() {
    let app = spawn_app().await;
    let response = app.client.post(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.headers()["allow"], "GET");
    let (status, body) = problem(response).await;
    assert_eq!(
        (status, body["code"].as_str().unwrap()),
        (405, "request.method_not_allowed")
    );
    for (method, path, allow) in [
        (reqwest::Method::TRACE, "/api/v1/me", "DELETE, GET"),
        (reqwest::Method::DELETE, "/api/v1/orgs/x", "GET, PATCH"),
        // `/stations/nearby` governs itself (as in OpenAPI), though the router would hand a
        // PATCH of it to `PATCH /stations/{id}`.
        (reqwest::Method::PUT, "/api/v1/stations/nearby", "GET"),
        (reqwest::Method::PATCH, "/api/v1/stations/nearby", "GET"),
        (
            reqwest::Method::PUT,
            "/api/v1/stations/some-id",
            "GET, PATCH",
        ),
        (reqwest::Method::GET, "/api/v1/auth/refresh", "POST"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
    }
    // A path that is not served at all stays 404.
    let response = app
        .client
        .post(app.url("/nothing/here"))
        .send()
        .await
        .unwrap();
    let (status, body) = problem(response).await;
    assert_eq!((status, body["code"].as_str().unwrap()), (404, "not_found"));
}

#[tokio::test]
async fn a_panic_inside_a_transaction_does_not_hold_the_database() {
    let app = spawn_app().await;
    let now = app.clock_now().naive_utc();
    // Code that panics halfway through a write transaction (a bug): its connection must
    // not go back to the pool with the transaction, and the write lock, still open.
    let panicked = app
        .state
        .db
        .run(move |conn| {
            gongyou_db::write_tx(conn, |conn| -> Result<(), gongyou_db::DbError> {
                let mut user = gongyou_db::accounts::User::new("panicky".into(), now);
                user.phone = Some("13600000071".into());
                gongyou_db::accounts::insert_user(conn, &user)?;
                panic!("a bug, mid-transaction");
            })
        })
        .await;
    assert!(matches!(panicked, Err(gongyou_db::DbError::Join(_))));
    // The connection handed back last is the first one handed out again: hold it, so the
    // requests below use the others. Had the panicked one been kept, this is it, still
    // inside its transaction and holding SQLite's write lock (or PostgreSQL's row lock on
    // the phone) against every other connection.
    let held = app.state.db.conn().unwrap();
    // The half-done write was rolled back, and writes go on at once: the same phone signs
    // up.
    let started = std::time::Instant::now();
    for i in 0..4 {
        let worker = app.sign_in_worker(&format!("1360000007{}", i + 1)).await;
        assert_eq!(app.get_as(&worker, "/api/v1/me").await.status(), 200);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "writes waited for a lock: {:?}",
        started.elapsed()
    );
    drop(held);
}
