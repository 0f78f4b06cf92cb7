//! Idempotency keys: replay, conflict, in-flight, expiry — on the real database.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Duration;
use gongyou_api::error::ApiResult;
use gongyou_api::idempotency::idempotent;
use gongyou_api::state::AppState;
use gongyou_services::{Actor, ServiceError, Subject};
use gongyou_tests::{spawn_app, TestApp};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

/// Handler runs per test caller (tests run in parallel in one process).
static CALLS: LazyLock<Mutex<HashMap<String, usize>>> = LazyLock::new(Default::default);
/// Gates that hold a "slow" request until its test opens them.
static GATES: LazyLock<Mutex<HashMap<String, Arc<Notify>>>> = LazyLock::new(Default::default);

fn calls(caller: &str) -> usize {
    CALLS.lock().unwrap().get(caller).copied().unwrap_or(0)
}

fn gate(caller: &str) -> Arc<Notify> {
    GATES
        .lock()
        .unwrap()
        .entry(caller.to_owned())
        .or_default()
        .clone()
}

#[derive(Deserialize, Serialize)]
struct NewThing {
    name: String,
    #[serde(default)]
    note: Option<String>,
}

async fn create_thing(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<NewThing>,
) -> ApiResult<HttpResponse> {
    let caller = req
        .headers()
        .get("x-test-caller")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let body = body.into_inner();
    let name = body.name.clone();
    let actor = Actor {
        session_id: "test".into(),
        subject: Subject::User {
            id: caller.clone(),
            phone: None,
        },
    };
    idempotent(&state, &req, &actor, &body, || async move {
        let n = {
            let mut calls = CALLS.lock().unwrap();
            let n = calls.entry(caller.clone()).or_default();
            *n += 1;
            *n
        };
        match name.as_str() {
            "boom" => return Err(ServiceError::internal(anyhow::anyhow!("boom")).into()),
            "" => return Err(ServiceError::rule("thing.name_required", "名称不能为空").into()),
            "slow" => gate(&caller).notified().await,
            _ => {}
        }
        Ok(HttpResponse::Created()
            .insert_header(("Location", format!("/things/{n}")))
            .json(serde_json::json!({ "id": n, "name": name })))
    })
    .await
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/things", web::post().to(create_thing));
}

struct Client<'a> {
    app: &'a TestApp,
    base: String,
    caller: String,
}

impl Client<'_> {
    async fn post(&self, key: Option<&str>, body: &str) -> reqwest::Response {
        let mut request = self
            .app
            .client
            .post(format!("{}/things", self.base))
            .header("content-type", "application/json")
            .header("x-test-caller", &self.caller)
            .body(body.to_owned());
        if let Some(key) = key {
            request = request.header("Idempotency-Key", key);
        }
        request.send().await.unwrap()
    }
}

fn client(app: &TestApp) -> Client<'_> {
    Client {
        app,
        base: app.serve_extra(routes),
        caller: uuid::Uuid::now_v7().to_string(),
    }
}

#[tokio::test]
async fn a_repeat_replays_the_first_response() {
    let app = spawn_app().await;
    let c = client(&app);
    let first = c.post(Some("key-1"), r#"{"name":"水杯"}"#).await;
    assert_eq!(first.status(), 201);
    assert_eq!(first.headers()["location"], "/things/1");
    assert!(!first.headers().contains_key("idempotent-replayed"));
    let first_body = first.text().await.unwrap();

    // Same content, other spacing and key order: the same request.
    let again = c
        .post(Some("key-1"), r#"{ "note": null,  "name": "水杯" }"#)
        .await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["location"], "/things/1");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["content-type"], "application/json");
    assert_eq!(again.text().await.unwrap(), first_body);
    assert_eq!(calls(&c.caller), 1);
    // What was kept to replay is encrypted at rest: a response may repeat what a person
    // submitted (an application's name).
    let stored: Vec<String> = app
        .state
        .db
        .run(|conn| {
            use diesel::prelude::*;
            use gongyou_db::schema::idempotency_keys::dsl::*;
            idempotency_keys
                .select(response_body)
                .load::<Option<String>>(conn)
                .map(|rows| rows.into_iter().flatten().collect())
                .map_err(gongyou_db::DbError::from)
        })
        .await
        .unwrap();
    assert!(!stored.is_empty());
    for body in &stored {
        assert!(
            body.starts_with("enc1:") && !body.contains("水杯"),
            "{body}"
        );
    }

    // Without a key, nothing is deduplicated; another key is another request.
    assert_eq!(c.post(None, r#"{"name":"水杯"}"#).await.status(), 201);
    assert_eq!(
        c.post(Some("key-2"), r#"{"name":"水杯"}"#).await.status(),
        201
    );
    assert_eq!(calls(&c.caller), 3);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_a_conflict() {
    let app = spawn_app().await;
    let c = client(&app);
    assert_eq!(c.post(Some("k"), r#"{"name":"a"}"#).await.status(), 201);
    let clash = c.post(Some("k"), r#"{"name":"b"}"#).await;
    assert_eq!(clash.status(), 409);
    assert_eq!(clash.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = clash.json().await.unwrap();
    assert_eq!(body["code"], "idempotency.key_reused");
    assert_eq!(calls(&c.caller), 1);
}

#[tokio::test]
async fn keys_belong_to_their_caller() {
    let app = spawn_app().await;
    let alice = client(&app);
    let bob = Client {
        app: &app,
        base: alice.base.clone(),
        caller: uuid::Uuid::now_v7().to_string(),
    };
    assert_eq!(
        alice.post(Some("shared"), r#"{"name":"a"}"#).await.status(),
        201
    );
    let other = bob.post(Some("shared"), r#"{"name":"b"}"#).await;
    assert_eq!(other.status(), 201);
    assert!(!other.headers().contains_key("idempotent-replayed"));
}

#[tokio::test]
async fn a_repeat_while_the_first_is_running_is_a_conflict() {
    let app = spawn_app().await;
    let c = client(&app);
    let slow = r#"{"name":"slow"}"#;
    let first = {
        let request = c
            .app
            .client
            .post(format!("{}/things", c.base))
            .header("content-type", "application/json")
            .header("x-test-caller", &c.caller)
            .header("Idempotency-Key", "busy")
            .body(slow);
        tokio::spawn(request.send())
    };
    while calls(&c.caller) == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let during = c.post(Some("busy"), slow).await;
    assert_eq!(during.status(), 409);
    let body: serde_json::Value = during.json().await.unwrap();
    assert_eq!(body["code"], "idempotency.in_flight");

    gate(&c.caller).notify_one();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), 201);
    let after = c.post(Some("busy"), slow).await;
    assert_eq!(after.status(), 201);
    assert_eq!(after.headers()["idempotent-replayed"], "true");
    assert_eq!(calls(&c.caller), 1);
}

#[tokio::test]
async fn keys_expire_after_24_hours() {
    let app = spawn_app().await;
    let c = client(&app);
    assert_eq!(c.post(Some("day"), r#"{"name":"a"}"#).await.status(), 201);
    app.clock
        .advance(Duration::hours(23) + Duration::minutes(59));
    let replay = c.post(Some("day"), r#"{"name":"a"}"#).await;
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    assert_eq!(calls(&c.caller), 1);

    app.clock.advance(Duration::minutes(2));
    // Expired: the housekeeping job purges it, and the key can be used afresh.
    let (purged, _) = gongyou_jobs::purge(&app.state.db, &app.state.clock)
        .await
        .unwrap();
    assert_eq!(purged, 1);
    let fresh = c.post(Some("day"), r#"{"name":"b"}"#).await;
    assert_eq!(fresh.status(), 201);
    assert!(!fresh.headers().contains_key("idempotent-replayed"));
    assert_eq!(calls(&c.caller), 2);

    // An expired key that housekeeping has not reached yet is also reusable.
    app.clock.advance(Duration::hours(25));
    let reused = c.post(Some("day"), r#"{"name":"c"}"#).await;
    assert_eq!(reused.status(), 201);
    assert_eq!(calls(&c.caller), 3);
}

#[tokio::test]
async fn client_errors_are_stored_but_server_errors_free_the_key() {
    let app = spawn_app().await;
    let c = client(&app);
    let rejected = c.post(Some("bad"), r#"{"name":""}"#).await;
    assert_eq!(rejected.status(), 422);
    let replayed = c.post(Some("bad"), r#"{"name":""}"#).await;
    assert_eq!(replayed.status(), 422);
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(
        replayed.headers()["content-type"],
        "application/problem+json"
    );
    assert_eq!(calls(&c.caller), 1);

    assert_eq!(
        c.post(Some("boom"), r#"{"name":"boom"}"#).await.status(),
        500
    );
    assert_eq!(
        c.post(Some("boom"), r#"{"name":"boom"}"#).await.status(),
        500
    );
    assert_eq!(calls(&c.caller), 3, "a 5xx is retried, not replayed");
}

#[tokio::test]
async fn malformed_keys_are_refused() {
    let app = spawn_app().await;
    let c = client(&app);
    let long = "k".repeat(256);
    let response = c.post(Some(&long), r#"{"name":"a"}"#).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["code"], "idempotency.invalid_key");
    assert_eq!(calls(&c.caller), 0);
}
