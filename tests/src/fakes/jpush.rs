//! A fake of JPush's REST API v3 (极光推送):
//!
//! - Every request needs HTTP Basic `APP_KEY:MASTER_SECRET` (else 401, code 1004
//!   "Authen failed").
//! - `GET /v3/push/cid?count=N[&type=push]` hands out unique cids `cid-<n>` (count 1..=1000,
//!   default 1; else 400, code 1003).
//! - `POST /v3/push` needs a cid this fake issued (else 400, code 1003) and a
//!   `audience.registration_id` list (else 400, code 1002). Pushes are counted by cid: a
//!   repeated cid is not pushed again and answers the first push's `msg_id`, as JPush
//!   documents. An audience made only of ids passed to [`FakeJpush::invalidate_registration`]
//!   answers 400, code 1011 "cannot find user by this audience"; invalid ids mixed with
//!   valid ones are ignored and the push succeeds. Notified devices are counted
//!   ([`FakeJpush::delivered_count`], [`FakeJpush::devices_reached`]).
//!   [`FakeJpush::fail_next`] queues one-off failures of the next pushes (a 429 carries
//!   `X-Rate-Limit-Reset: 1`).
//!
//! Like JPush, errors are `{"error": {"code", "message"}}` with a 4xx/5xx status, and every
//! answer carries the `X-Rate-Limit-*` headers. The handler parses the body before taking a
//! short lock on one map, and the server does not record requests, so benchmarks can drive
//! it hard.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::lock;

pub const APP_KEY: &str = "jpush-test-key";
pub const MASTER_SECRET: &str = "jpush-test-secret";
/// `Basic base64("jpush-test-key:jpush-test-secret")`.
const AUTHORIZATION: &str = "Basic anB1c2gtdGVzdC1rZXk6anB1c2gtdGVzdC1zZWNyZXQ=";
const MAX_BATCH: usize = 1000;
const RATE_LIMIT: &str = "600";
const RATE_WINDOW_SECS: &str = "60";

struct Push {
    cid: String,
    registration_ids: Vec<String>,
    alert: String,
    msg_id: String,
}

#[derive(Default)]
struct State {
    /// cids `cid-1` ..= `cid-<issued>` have been handed out.
    issued: u64,
    /// Successful pushes in order, and where each cid's push is.
    pushes: Vec<Push>,
    by_cid: HashMap<String, usize>,
    invalid: HashSet<String>,
    fail_next: VecDeque<(u16, i64)>,
    next_msg_id: u64,
    duplicates: usize,
    requests: usize,
    /// Registration ids notified, summed over pushes (invalid ones left out), and the
    /// distinct ones: equal when no device was notified twice.
    delivered: usize,
    reached: HashSet<String>,
}

impl State {
    fn issued(&self, cid: &str) -> bool {
        cid.strip_prefix("cid-")
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n >= 1 && n <= self.issued)
    }
}

/// The fake JPush. Point the application's JPush base URL at [`FakeJpush::base_url`], with
/// app key [`APP_KEY`] and master secret [`MASTER_SECRET`].
pub struct FakeJpush {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

#[derive(Clone, Copy)]
enum Endpoint {
    Cid,
    Push,
}

struct Handler {
    state: Arc<Mutex<State>>,
    endpoint: Endpoint,
}

impl FakeJpush {
    pub const APP_KEY: &'static str = APP_KEY;
    pub const MASTER_SECRET: &'static str = MASTER_SECRET;

    pub async fn start() -> Self {
        // Not recording requests: a benchmark would otherwise keep every one in memory.
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let state = Arc::new(Mutex::new(State::default()));
        for (verb, route, endpoint) in [
            ("GET", "/v3/push/cid", Endpoint::Cid),
            ("POST", "/v3/push", Endpoint::Push),
        ] {
            Mock::given(method(verb))
                .and(path(route))
                .respond_with(Handler {
                    state: state.clone(),
                    endpoint,
                })
                .mount(&server)
                .await;
        }
        Self { server, state }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.server.uri()
    }

    /// The device behind `id` is gone: pushes whose audience holds only such ids answer 1011.
    pub fn invalidate_registration(&self, id: &str) {
        lock(&self.state).invalid.insert(id.to_owned());
    }

    /// The next push (after the authentication check, before anything else) answers HTTP
    /// `status` with error `code`, e.g. `(500, 1000)`, `(503, 1030)` or `(429, 2002)` (with
    /// `X-Rate-Limit-Reset: 1`). Calls queue up, one failure per push. Cid fetches are not
    /// affected.
    pub fn fail_next(&self, status: u16, code: i64) {
        lock(&self.state).fail_next.push_back((status, code));
    }

    /// Every push, once per cid, in order: (cid, registration ids, alert).
    pub fn pushes(&self) -> Vec<(String, Vec<String>, String)> {
        lock(&self.state)
            .pushes
            .iter()
            .map(|p| (p.cid.clone(), p.registration_ids.clone(), p.alert.clone()))
            .collect()
    }

    /// How many distinct cids were pushed.
    pub fn push_count(&self) -> usize {
        lock(&self.state).pushes.len()
    }

    /// How many pushes repeated a cid already pushed (answered without pushing again).
    pub fn duplicate_cid_count(&self) -> usize {
        lock(&self.state).duplicates
    }

    /// Devices notified, summed over pushes (one push notifies every valid registration id of
    /// its audience).
    pub fn delivered_count(&self) -> usize {
        lock(&self.state).delivered
    }

    /// Distinct devices notified; equal to [`Self::delivered_count`] when none was notified
    /// twice.
    pub fn devices_reached(&self) -> usize {
        lock(&self.state).reached.len()
    }

    /// How many requests reached the fake, on both endpoints, accepted or not.
    pub fn requests(&self) -> usize {
        lock(&self.state).requests
    }
}

/// The parts of a push object the fake looks at.
#[derive(Deserialize)]
struct PushBody {
    cid: Option<String>,
    audience: Option<Audience>,
    notification: Option<Notification>,
}

#[derive(Deserialize)]
struct Audience {
    registration_id: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct Notification {
    alert: Option<String>,
    android: Option<AndroidNotification>,
}

#[derive(Deserialize)]
struct AndroidNotification {
    alert: Option<String>,
}

fn with_rate_headers(response: ResponseTemplate, remaining: &str, reset: &str) -> ResponseTemplate {
    response
        .insert_header("X-Rate-Limit-Limit", RATE_LIMIT)
        .insert_header("X-Rate-Limit-Remaining", remaining)
        .insert_header("X-Rate-Limit-Reset", reset)
}

fn ok(body: serde_json::Value) -> ResponseTemplate {
    with_rate_headers(
        ResponseTemplate::new(200).set_body_json(body),
        "599",
        RATE_WINDOW_SECS,
    )
}

fn fail(status: u16, code: i64, message: &str) -> ResponseTemplate {
    let response = ResponseTemplate::new(status)
        .set_body_json(json!({"error": {"code": code, "message": message}}));
    if status == 429 {
        with_rate_headers(response, "0", "1")
    } else {
        with_rate_headers(response, "599", RATE_WINDOW_SECS)
    }
}

fn default_message(code: i64) -> &'static str {
    match code {
        1000 => "Server Internal error",
        1002 => "Missing parameter",
        1003 => "Parameter value is invalid",
        1004 => "Authen failed",
        1011 => "cannot find user by this audience",
        1030 => "Internal service timeout",
        2002 => "Rate limit exceeded",
        2003 => "The appKey is restricted",
        _ => "fake error",
    }
}

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorized = request
            .headers
            .get("authorization")
            .is_some_and(|value| value.as_bytes() == AUTHORIZATION.as_bytes());
        match self.endpoint {
            Endpoint::Cid => {
                let count = request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "count")
                    .map(|(_, v)| v.parse::<usize>().ok());
                let kind_ok = request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "type")
                    .is_none_or(|(_, v)| v == "push" || v == "schedule");
                let mut state = lock(&self.state);
                state.requests += 1;
                if !authorized {
                    return fail(401, 1004, default_message(1004));
                }
                match count.unwrap_or(Some(1)) {
                    Some(n @ 1..=MAX_BATCH) if kind_ok => {
                        let first = state.issued + 1;
                        state.issued += n as u64;
                        let cids: Vec<String> =
                            (first..=state.issued).map(|i| format!("cid-{i}")).collect();
                        ok(json!({ "cidlist": cids }))
                    }
                    _ => fail(400, 1003, default_message(1003)),
                }
            }
            Endpoint::Push => {
                let body = serde_json::from_slice::<PushBody>(&request.body);
                let mut state = lock(&self.state);
                state.requests += 1;
                if !authorized {
                    return fail(401, 1004, default_message(1004));
                }
                if let Some((status, code)) = state.fail_next.pop_front() {
                    return fail(status, code, default_message(code));
                }
                let Ok(body) = body else {
                    return fail(400, 1003, "Invalid json");
                };
                push(&mut state, body)
            }
        }
    }
}

fn push(state: &mut State, body: PushBody) -> ResponseTemplate {
    let Some(cid) = body.cid.filter(|cid| state.issued(cid)) else {
        return fail(400, 1003, "cid is invalid");
    };
    if let Some(&index) = state.by_cid.get(&cid) {
        // JPush answers a repeated cid with the first successful push's result.
        state.duplicates += 1;
        return ok(json!({"sendno": "0", "msg_id": state.pushes[index].msg_id}));
    }
    let Some(ids) = body
        .audience
        .and_then(|a| a.registration_id)
        .filter(|ids| !ids.is_empty())
    else {
        return fail(400, 1002, "Missing parameter: audience");
    };
    if ids.len() > MAX_BATCH {
        return fail(400, 1003, "registration_id: at most 1000");
    }
    state.next_msg_id += 1;
    let msg_id = (1_000_000_000 + state.next_msg_id).to_string();
    if ids.iter().all(|id| state.invalid.contains(id)) {
        return with_rate_headers(
            ResponseTemplate::new(400).set_body_json(json!({
                "msg_id": msg_id,
                "error": {"code": 1011, "message": default_message(1011)},
            })),
            "599",
            RATE_WINDOW_SECS,
        );
    }
    let alert = body
        .notification
        .and_then(|n| n.alert.or_else(|| n.android.and_then(|a| a.alert)))
        .unwrap_or_default();
    for id in &ids {
        if !state.invalid.contains(id) {
            state.delivered += 1;
            state.reached.insert(id.clone());
        }
    }
    state.by_cid.insert(cid.clone(), state.pushes.len());
    state.pushes.push(Push {
        cid,
        registration_ids: ids,
        alert,
        msg_id: msg_id.clone(),
    });
    ok(json!({"sendno": "0", "msg_id": msg_id}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gongyou_providers::jpush::{JpushClient, JpushError, JpushSettings, PushMessage};
    use serde_json::Value;

    fn http() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    async fn cids(fake: &FakeJpush, count: &str) -> (u16, Value) {
        let response = http()
            .get(format!("{}/v3/push/cid", fake.base_url()))
            .query(&[("count", count), ("type", "push")])
            .basic_auth(APP_KEY, Some(MASTER_SECRET))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    async fn push(fake: &FakeJpush, cid: &str, ids: &[&str], alert: &str) -> (u16, Value) {
        let response = http()
            .post(format!("{}/v3/push", fake.base_url()))
            .basic_auth(APP_KEY, Some(MASTER_SECRET))
            .json(&json!({
                "cid": cid,
                "platform": "all",
                "audience": {"registration_id": ids},
                "notification": {"alert": alert},
            }))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }

    #[tokio::test]
    async fn cids_are_unique_and_pushes_count_once_per_cid() {
        let fake = FakeJpush::start().await;
        let (status, first) = cids(&fake, "2").await;
        assert_eq!(status, 200);
        assert_eq!(first["cidlist"], json!(["cid-1", "cid-2"]));
        assert_eq!(cids(&fake, "1").await.1["cidlist"], json!(["cid-3"]));
        assert_eq!(cids(&fake, "0").await.1["error"]["code"], 1003);
        assert_eq!(cids(&fake, "1001").await.1["error"]["code"], 1003);

        let (status, answer) = push(&fake, "cid-1", &["reg-a"], "hello").await;
        assert_eq!(status, 200);
        let msg_id = answer["msg_id"].as_str().unwrap().to_owned();
        let (status, again) = push(&fake, "cid-1", &["reg-a"], "hello").await;
        assert_eq!(status, 200);
        assert_eq!(again["msg_id"], msg_id.as_str());
        let (_, other) = push(&fake, "cid-2", &["reg-b", "reg-c"], "bye").await;
        assert_ne!(other["msg_id"], msg_id.as_str());

        let (status, unknown) = push(&fake, "cid-99", &["reg-a"], "x").await;
        assert_eq!(status, 400);
        assert_eq!(unknown["error"]["code"], 1003);

        assert_eq!(fake.push_count(), 2);
        assert_eq!(fake.duplicate_cid_count(), 1);
        assert_eq!(
            fake.pushes(),
            vec![
                ("cid-1".into(), vec!["reg-a".into()], "hello".into()),
                (
                    "cid-2".into(),
                    vec!["reg-b".into(), "reg-c".into()],
                    "bye".into()
                ),
            ]
        );
        assert_eq!(fake.requests(), 8);
    }

    #[tokio::test]
    async fn wrong_credentials_are_refused() {
        let fake = FakeJpush::start().await;
        let response = http()
            .post(format!("{}/v3/push", fake.base_url()))
            .basic_auth(APP_KEY, Some("wrong"))
            .json(&json!({"cid": "cid-1"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"error": {"code": 1004, "message": "Authen failed"}})
        );
        let response = http()
            .get(format!("{}/v3/push/cid", fake.base_url()))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 401);
        assert_eq!(fake.requests(), 2);
    }

    #[tokio::test]
    async fn invalid_registrations_and_queued_failures() {
        let fake = FakeJpush::start().await;
        cids(&fake, "3").await;
        fake.invalidate_registration("gone");
        let (status, answer) = push(&fake, "cid-1", &["gone"], "x").await;
        assert_eq!(status, 400);
        assert_eq!(answer["error"]["code"], 1011);
        assert_eq!(
            answer["error"]["message"],
            "cannot find user by this audience"
        );
        assert_eq!(push(&fake, "cid-1", &["gone", "here"], "x").await.0, 200);

        fake.fail_next(500, 1000);
        fake.fail_next(429, 2002);
        assert_eq!(push(&fake, "cid-2", &["here"], "y").await.0, 500);
        let response = http()
            .post(format!("{}/v3/push", fake.base_url()))
            .basic_auth(APP_KEY, Some(MASTER_SECRET))
            .json(&json!({"cid": "cid-2", "audience": {"registration_id": ["here"]}}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["x-rate-limit-reset"], "1");
        assert_eq!(push(&fake, "cid-2", &["here"], "y").await.0, 200);
        assert_eq!(fake.push_count(), 2);
        assert_eq!(fake.duplicate_cid_count(), 0);
    }

    /// The real client against the fake: retries with the same cid push once.
    #[tokio::test]
    async fn the_client_talks_to_the_fake() {
        let fake = FakeJpush::start().await;
        let client = JpushClient::new(
            JpushSettings {
                app_key: FakeJpush::APP_KEY.into(),
                master_secret: MASTER_SECRET.into(),
                base_url: fake.base_url(),
            },
            http(),
        );
        let cids = client.fetch_cids(2).await.unwrap();
        assert_eq!(cids, ["cid-1", "cid-2"]);
        let message = PushMessage {
            title: "通知".into(),
            alert: "开会".into(),
            extras: serde_json::Map::new(),
        };
        let ids = vec!["reg-a".to_owned()];
        fake.fail_next(503, 1030);
        assert!(matches!(
            client.push(&cids[0], &ids, &message).await,
            Err(JpushError::Unavailable(_))
        ));
        let first = client.push(&cids[0], &ids, &message).await.unwrap();
        let again = client.push(&cids[0], &ids, &message).await.unwrap();
        assert_eq!(first, again);
        fake.fail_next(429, 2002);
        assert!(matches!(
            client.push(&cids[1], &ids, &message).await,
            Err(JpushError::RateLimited {
                retry_after_secs: 1
            })
        ));
        fake.invalidate_registration("reg-a");
        assert!(matches!(
            client.push(&cids[1], &ids, &message).await,
            Err(JpushError::InvalidAudience)
        ));
        assert!(matches!(
            client.push("cid-9", &ids, &message).await,
            Err(JpushError::Rejected { code: 1003, .. })
        ));
        assert_eq!(
            fake.pushes(),
            vec![("cid-1".into(), ids.clone(), "开会".into())]
        );
        assert_eq!(fake.duplicate_cid_count(), 1);
    }
}
