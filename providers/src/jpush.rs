//! JPush (极光推送) REST API v3: the push notifications sent to members' phones.
//!
//! - `GET /v3/push/cid?count=N&type=push` hands out push ids ("cid", `{appkey}-{uuid}`),
//!   each valid for one day. Getting them shares the rate limit of `POST /v3/push`.
//! - `POST /v3/push` sends one notification to up to 1000 registration ids.
//!
//! Both authenticate with HTTP Basic (`app_key:master_secret`). JPush answers errors with
//! a 4xx/5xx status and `{"error": {"code", "message"}}` (200 is always success); every
//! answer carries `X-Rate-Limit-Limit`, `X-Rate-Limit-Remaining` and `X-Rate-Limit-Reset`
//! (seconds until the one-minute window resets), and a rate-limited call is HTTP 429 with
//! code 2002.
//!
//! **Repeated cids.** JPush documents the cid ("获取推送唯一标识", Push API v3 advanced
//! features) as the guard against duplicate pushes when the caller retries: after a push
//! with a cid, another push with the same cid *returns the result of the first successful
//! push directly and does not push again*. So a repeated cid answers HTTP 200 with the
//! original `msg_id`, and this client needs nothing special for it: the 200 is read as
//! success like any other. Retrying with the same cid after a timeout, a 5xx or an
//! unreadable answer is therefore safe, and it is what callers should do. What the docs do
//! not say: what a push with an expired (older than a day) or never-issued cid answers —
//! presumably 400 with code 1003 (invalid parameter), which arrives here as
//! [`JpushError::Rejected`]; keep cids for less than a day. And since only a *successful*
//! push is remembered, a cid whose push failed (1011, 5xx, ...) does not stop a later push.
//!
//! Nothing here logs the master secret; registration ids are logged shortened.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{transport_message, PROVIDER_TIMEOUT};

/// How many registration ids one push may target, and how many cids one call may fetch.
pub const MAX_BATCH: usize = 1000;
/// How long JPush keeps a notification for a device that is offline (its default, 1 day).
const TIME_TO_LIVE_SECS: u64 = 86_400;
/// The wait when a rate-limited answer does not say how long the window lasts.
const DEFAULT_RETRY_AFTER_SECS: u64 = 60;

/// The JPush error codes this client tells apart.
const CODE_INTERNAL_ERROR: i64 = 1000;
const CODE_INVALID_PARAMETER: i64 = 1003;
const CODE_NO_AUDIENCE: i64 = 1011;
const CODE_SERVICE_TIMEOUT: i64 = 1030;
const CODE_RATE_LIMITED: i64 = 2002;

/// The JPush application's credentials and where JPush is.
#[derive(Clone)]
pub struct JpushSettings {
    pub app_key: String,
    pub master_secret: SecretString,
    /// [`JpushSettings::DEFAULT_BASE_URL`] in production.
    pub base_url: String,
}

impl JpushSettings {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.jpush.cn";
}

impl std::fmt::Debug for JpushSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JpushSettings")
            .field("app_key", &self.app_key)
            .field("master_secret", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// One notification, shown the same way on Android and iOS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushMessage {
    pub title: String,
    pub alert: String,
    /// Handed to the app with the notification, e.g.
    /// `{"notification_id": "...", "category": "..."}`.
    pub extras: Map<String, Value>,
}

/// Why a push (or a cid fetch) did not go through, by what the caller should do next.
#[derive(Debug, thiserror::Error)]
pub enum JpushError {
    /// None of the registration ids exists any more (JPush 1011 "cannot find user by this
    /// audience"): drop them, do not retry. Also answered, without asking JPush, for an
    /// empty list of registration ids.
    #[error("no valid registration id")]
    InvalidAudience,
    /// 429 / rate limited (code 2002): retry after the given seconds (from
    /// `X-Rate-Limit-Reset`, default 60).
    #[error("rate limited")]
    RateLimited { retry_after_secs: u64 },
    /// Permanent refusal (bad request, auth failure, …): do not retry. `code` is JPush's
    /// error code (e.g. 1003, 1004, 2003), or 0 when the answer carried none.
    #[error("jpush refused: {code} {message}")]
    Rejected { code: i64, message: String },
    /// 5xx, timeouts, transport, unreadable answers: retry (with the same cid).
    #[error("jpush unavailable: {0}")]
    Unavailable(String),
}

/// The client of JPush's push API for one application.
#[derive(Clone)]
pub struct JpushClient {
    settings: JpushSettings,
    http: reqwest::Client,
    timeout: Duration,
}

impl std::fmt::Debug for JpushClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JpushClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct CidAnswer {
    #[serde(default)]
    cidlist: Vec<String>,
}

#[derive(Deserialize)]
struct PushAnswer {
    /// A string in successful answers (`"msg_id": "1828256757"`), a number in some others.
    msg_id: Option<Value>,
}

#[derive(Deserialize)]
struct ErrorAnswer {
    error: Option<ErrorBody>,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: i64,
    #[serde(default)]
    message: String,
}

impl JpushClient {
    pub fn new(settings: JpushSettings, http: reqwest::Client) -> Self {
        Self {
            settings,
            http,
            timeout: PROVIDER_TIMEOUT,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        // reqwest marks the Authorization header sensitive (kept out of Debug output).
        request.timeout(self.timeout).basic_auth(
            &self.settings.app_key,
            Some(self.settings.master_secret.expose_secret()),
        )
    }

    /// `GET /v3/push/cid?count=N&type=push` → the "cidlist", each cid good for one push
    /// within a day. `count` is brought into 1..=1000; non-VIP applications get at most 10
    /// whatever they ask, so expect fewer than asked.
    pub async fn fetch_cids(&self, count: u32) -> Result<Vec<String>, JpushError> {
        let count = count.clamp(1, MAX_BATCH as u32);
        let request = self
            .http
            .get(self.url("/v3/push/cid"))
            .query(&[("count", count.to_string().as_str()), ("type", "push")]);
        let result = self
            .call::<CidAnswer>(self.authorized(request), "cid")
            .await;
        match result {
            Ok(answer) if answer.cidlist.is_empty() => Err(JpushError::Unavailable(
                "cid answered without a cidlist".into(),
            )),
            Ok(answer) => {
                tracing::debug!(
                    asked = count,
                    got = answer.cidlist.len(),
                    "jpush cids fetched"
                );
                Ok(answer.cidlist)
            }
            Err(e) => {
                log_failure("cid", None, 0, &e);
                Err(e)
            }
        }
    }

    /// `POST /v3/push`: `message` to every device of `registration_ids` (at most 1000),
    /// under `cid` (from [`JpushClient::fetch_cids`]); returns JPush's `msg_id`.
    ///
    /// A cid makes the push idempotent at JPush: resending the same cid does not push
    /// twice, it answers the first successful push's result, i.e. the same `msg_id` (see the
    /// module documentation). Retry [`JpushError::Unavailable`] and
    /// [`JpushError::RateLimited`] with the same cid.
    pub async fn push(
        &self,
        cid: &str,
        registration_ids: &[String],
        message: &PushMessage,
    ) -> Result<String, JpushError> {
        let devices = registration_ids.len();
        let first = registration_ids.first().map(|id| short_id(id));
        if registration_ids.is_empty() {
            return Err(JpushError::InvalidAudience);
        }
        if devices > MAX_BATCH {
            return Err(JpushError::Rejected {
                code: CODE_INVALID_PARAMETER,
                message: format!("at most {MAX_BATCH} registration ids per push, got {devices}"),
            });
        }
        let request =
            self.http
                .post(self.url("/v3/push"))
                .json(&push_body(cid, registration_ids, message));
        let result = self
            .call::<PushAnswer>(self.authorized(request), "push")
            .await
            .and_then(|answer| match answer.msg_id {
                Some(Value::String(id)) if !id.is_empty() => Ok(id),
                Some(Value::Number(id)) => Ok(id.to_string()),
                _ => Err(JpushError::Unavailable(
                    "push answered without a msg_id".into(),
                )),
            });
        match &result {
            Ok(msg_id) => tracing::info!(
                cid,
                msg_id = %msg_id,
                devices,
                first = first.as_deref().unwrap_or(""),
                "jpush notification pushed"
            ),
            Err(e) => log_failure("push", first.as_deref(), devices, e),
        }
        result
    }

    /// Sends `request` and reads JPush's answer: the JSON body of a 2xx, the error otherwise.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        api: &'static str,
    ) -> Result<T, JpushError> {
        let response = request
            .send()
            .await
            .map_err(|e| JpushError::Unavailable(transport_message(e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        if let (Some(limit), Some(remaining)) = (
            header_u64(&headers, "X-Rate-Limit-Limit"),
            header_u64(&headers, "X-Rate-Limit-Remaining"),
        ) {
            tracing::debug!(api, limit, remaining, "jpush rate limit");
        }
        let bytes = crate::read_capped(response, crate::MAX_ANSWER_BYTES)
            .await
            .map_err(JpushError::Unavailable)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|_| {
                JpushError::Unavailable(format!(
                    "{api}: unreadable answer (HTTP {})",
                    status.as_u16()
                ))
            });
        }
        let error = serde_json::from_slice::<ErrorAnswer>(&bytes)
            .ok()
            .and_then(|answer| answer.error);
        Err(classify(
            status.as_u16(),
            error,
            header_u64(&headers, "X-Rate-Limit-Reset"),
        ))
    }
}

/// The push object: the same alert on every platform, the title and extras on both.
fn push_body(cid: &str, registration_ids: &[String], message: &PushMessage) -> Value {
    json!({
        "cid": cid,
        "platform": "all",
        "audience": { "registration_id": registration_ids },
        "notification": {
            "alert": message.alert,
            "android": {
                "alert": message.alert,
                "title": message.title,
                "extras": message.extras,
            },
            "ios": {
                "alert": { "title": message.title, "body": message.alert },
                "extras": message.extras,
                "sound": "default",
            },
        },
        "options": { "time_to_live": TIME_TO_LIVE_SECS },
    })
}

/// The longest wait a rate-limited answer is taken to ask for.
const MAX_RETRY_AFTER_SECS: u64 = 300;

/// What a non-2xx answer means for the caller.
fn classify(status: u16, error: Option<ErrorBody>, reset_secs: Option<u64>) -> JpushError {
    let code = error.as_ref().map(|e| e.code);
    if code == Some(CODE_NO_AUDIENCE) {
        JpushError::InvalidAudience
    } else if status == 429 || code == Some(CODE_RATE_LIMITED) {
        JpushError::RateLimited {
            // JPush's window is a minute: a reset beyond that is not believed.
            retry_after_secs: reset_secs
                .unwrap_or(DEFAULT_RETRY_AFTER_SECS)
                .clamp(1, MAX_RETRY_AFTER_SECS),
        }
    } else if status >= 500
        || status == 408
        || matches!(code, Some(CODE_INTERNAL_ERROR | CODE_SERVICE_TIMEOUT))
    {
        JpushError::Unavailable(match error {
            Some(e) => format!("HTTP {status}, code {} {}", e.code, e.message),
            None => format!("HTTP {status}"),
        })
    } else {
        match error {
            Some(e) => JpushError::Rejected {
                code: e.code,
                message: e.message,
            },
            None => JpushError::Rejected {
                code: 0,
                message: format!("HTTP {status}"),
            },
        }
    }
}

fn header_u64(headers: &reqwest::header::HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// A registration id as it may be logged: its first 6 characters.
fn short_id(id: &str) -> String {
    let head: String = id.chars().take(6).collect();
    if head.len() < id.len() {
        format!("{head}…")
    } else {
        head
    }
}

fn log_failure(api: &'static str, first: Option<&str>, devices: usize, error: &JpushError) {
    let first = first.unwrap_or("");
    match error {
        JpushError::InvalidAudience => {
            tracing::info!(
                api,
                devices,
                first,
                "jpush found none of the registration ids"
            )
        }
        JpushError::RateLimited { retry_after_secs } => {
            tracing::warn!(api, devices, first, retry_after_secs, "jpush rate limited")
        }
        JpushError::Rejected { code, message } => {
            tracing::warn!(api, devices, first, code, message = %message, "jpush refused")
        }
        JpushError::Unavailable(reason) => {
            tracing::warn!(api, devices, first, reason = %reason, "jpush unavailable")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    /// `base64("app-key:master-secret")`.
    const AUTH: &str = "Basic YXBwLWtleTptYXN0ZXItc2VjcmV0";

    async fn setup() -> (MockServer, JpushClient) {
        let server = MockServer::start().await;
        let client = JpushClient::new(
            JpushSettings {
                app_key: "app-key".into(),
                master_secret: SecretString::from("master-secret"),
                base_url: format!("{}/", server.uri()),
            },
            reqwest::Client::builder().no_proxy().build().unwrap(),
        );
        (server, client)
    }

    fn message() -> PushMessage {
        let mut extras = Map::new();
        extras.insert("notification_id".into(), json!("n-1"));
        extras.insert("category".into(), json!("announcement"));
        PushMessage {
            title: "工会通知".into(),
            alert: "明天上午九点开会".into(),
            extras,
        }
    }

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    async fn answer_push_with(server: &MockServer, response: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/v3/push"))
            .respond_with(response)
            .mount(server)
            .await;
    }

    #[tokio::test]
    async fn fetches_cids() {
        let (server, client) = setup().await;
        Mock::given(method("GET"))
            .and(path("/v3/push/cid"))
            .and(query_param("count", "3"))
            .and(query_param("type", "push"))
            .and(header("authorization", AUTH))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "cidlist": ["app-key-1", "app-key-2", "app-key-3"]
            })))
            .expect(1)
            .mount(&server)
            .await;
        let cids = client.fetch_cids(3).await.unwrap();
        assert_eq!(cids, ["app-key-1", "app-key-2", "app-key-3"]);
    }

    #[tokio::test]
    async fn cid_counts_are_bounded() {
        let (server, client) = setup().await;
        for count in ["1", "1000"] {
            Mock::given(method("GET"))
                .and(path("/v3/push/cid"))
                .and(query_param("count", count))
                .respond_with(ResponseTemplate::new(200).set_body_json(json!({"cidlist": [count]})))
                .mount(&server)
                .await;
        }
        assert_eq!(client.fetch_cids(0).await.unwrap(), ["1"]);
        assert_eq!(client.fetch_cids(5000).await.unwrap(), ["1000"]);
    }

    #[tokio::test]
    async fn pushes_with_basic_auth_and_the_documented_body() {
        let (server, client) = setup().await;
        Mock::given(method("POST"))
            .and(path("/v3/push"))
            .and(header("authorization", AUTH))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"sendno": "0", "msg_id": "54043195528325151"})),
            )
            .expect(1)
            .mount(&server)
            .await;
        let msg_id = client
            .push("cid-1", &ids(&["reg-a", "reg-b"]), &message())
            .await
            .unwrap();
        assert_eq!(msg_id, "54043195528325151");

        let requests = server.received_requests().await.unwrap();
        let body: Value = requests[0].body_json().unwrap();
        let extras = json!({"notification_id": "n-1", "category": "announcement"});
        assert_eq!(
            body,
            json!({
                "cid": "cid-1",
                "platform": "all",
                "audience": {"registration_id": ["reg-a", "reg-b"]},
                "notification": {
                    "alert": "明天上午九点开会",
                    "android": {"alert": "明天上午九点开会", "title": "工会通知", "extras": extras},
                    "ios": {
                        "alert": {"title": "工会通知", "body": "明天上午九点开会"},
                        "extras": extras,
                        "sound": "default",
                    },
                },
                "options": {"time_to_live": 86400},
            })
        );
    }

    #[tokio::test]
    async fn numeric_msg_ids_are_read() {
        let (server, client) = setup().await;
        answer_push_with(
            &server,
            ResponseTemplate::new(200)
                .set_body_json(json!({"sendno": "0", "msg_id": 1828256757u64})),
        )
        .await;
        let msg_id = client
            .push("cid-1", &ids(&["reg-a"]), &message())
            .await
            .unwrap();
        assert_eq!(msg_id, "1828256757");
    }

    #[tokio::test]
    async fn unknown_audience_is_invalid_audience() {
        let (server, client) = setup().await;
        answer_push_with(
            &server,
            ResponseTemplate::new(400).set_body_json(json!({
                "msg_id": 2081584083u64,
                "error": {"message": "cannot find user by this audience", "code": 1011}
            })),
        )
        .await;
        let error = client.push("cid-1", &ids(&["gone"]), &message()).await;
        assert!(
            matches!(error, Err(JpushError::InvalidAudience)),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn no_registration_ids_is_invalid_audience_without_asking() {
        let (server, client) = setup().await;
        let error = client.push("cid-1", &[], &message()).await;
        assert!(
            matches!(error, Err(JpushError::InvalidAudience)),
            "{error:?}"
        );
        let too_many: Vec<String> = (0..1001).map(|i| format!("reg-{i}")).collect();
        let error = client.push("cid-1", &too_many, &message()).await;
        assert!(
            matches!(error, Err(JpushError::Rejected { code: 1003, .. })),
            "{error:?}"
        );
        assert!(server.received_requests().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn rate_limits_say_when_to_retry() {
        let (server, client) = setup().await;
        answer_push_with(
            &server,
            ResponseTemplate::new(429)
                .insert_header("X-Rate-Limit-Limit", "600")
                .insert_header("X-Rate-Limit-Remaining", "0")
                .insert_header("X-Rate-Limit-Reset", "17")
                .set_body_json(json!({"error": {"code": 2002, "message": "Rate limit exceeded"}})),
        )
        .await;
        let error = client.push("cid-1", &ids(&["reg-a"]), &message()).await;
        assert!(
            matches!(
                error,
                Err(JpushError::RateLimited {
                    retry_after_secs: 17
                })
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_absurd_reset_is_not_believed() {
        let (server, client) = setup().await;
        answer_push_with(
            &server,
            ResponseTemplate::new(429).insert_header("X-Rate-Limit-Reset", u64::MAX.to_string()),
        )
        .await;
        let error = client.push("cid-1", &ids(&["reg-a"]), &message()).await;
        assert!(
            matches!(
                error,
                Err(JpushError::RateLimited {
                    retry_after_secs: 300
                })
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn an_oversized_answer_is_not_read_whole() {
        let (server, client) = setup().await;
        answer_push_with(
            &server,
            ResponseTemplate::new(200).set_body_string("x".repeat(crate::MAX_ANSWER_BYTES + 1)),
        )
        .await;
        let error = client.push("cid-1", &ids(&["reg-a"]), &message()).await;
        assert!(
            matches!(&error, Err(JpushError::Unavailable(m)) if m.contains("larger than")),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn rate_limits_without_a_reset_wait_a_minute() {
        let (server, client) = setup().await;
        answer_push_with(&server, ResponseTemplate::new(429)).await;
        let error = client.push("cid-1", &ids(&["reg-a"]), &message()).await;
        assert!(
            matches!(
                error,
                Err(JpushError::RateLimited {
                    retry_after_secs: 60
                })
            ),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn authentication_failures_are_rejected() {
        let (server, client) = setup().await;
        answer_push_with(
            &server,
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": {"code": 1004, "message": "Authen failed"}})),
        )
        .await;
        match client.push("cid-1", &ids(&["reg-a"]), &message()).await {
            Err(JpushError::Rejected { code, message }) => {
                assert_eq!(code, 1004);
                assert_eq!(message, "Authen failed");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn server_errors_are_unavailable() {
        let (server, client) = setup().await;
        answer_push_with(
            &server,
            ResponseTemplate::new(500).set_body_json(
                json!({"error": {"code": 1000, "message": "Server Internal error"}}),
            ),
        )
        .await;
        let error = client.push("cid-1", &ids(&["reg-a"]), &message()).await;
        assert!(
            matches!(error, Err(JpushError::Unavailable(_))),
            "{error:?}"
        );
    }

    #[tokio::test]
    async fn unreachable_jpush_is_unavailable() {
        let client = JpushClient::new(
            JpushSettings {
                app_key: "app-key".into(),
                master_secret: SecretString::from("master-secret"),
                base_url: "http://127.0.0.1:1".into(),
            },
            reqwest::Client::builder().no_proxy().build().unwrap(),
        );
        let error = client.push("cid-1", &ids(&["reg-a"]), &message()).await;
        assert!(
            matches!(error, Err(JpushError::Unavailable(_))),
            "{error:?}"
        );
    }

    #[test]
    fn classification() {
        let body = |code: i64| {
            Some(ErrorBody {
                code,
                message: "m".into(),
            })
        };
        assert!(matches!(
            classify(400, body(1011), None),
            JpushError::InvalidAudience
        ));
        assert!(matches!(
            classify(400, body(2002), Some(0)),
            JpushError::RateLimited {
                retry_after_secs: 1
            }
        ));
        assert!(matches!(
            classify(503, body(1030), None),
            JpushError::Unavailable(_)
        ));
        assert!(matches!(
            classify(502, None, None),
            JpushError::Unavailable(_)
        ));
        assert!(matches!(
            classify(403, body(2003), None),
            JpushError::Rejected { code: 2003, .. }
        ));
        assert!(matches!(
            classify(404, None, None),
            JpushError::Rejected { code: 0, .. }
        ));
    }

    #[test]
    fn secrets_and_ids_stay_out_of_logs() {
        let settings = JpushSettings {
            app_key: "app-key".into(),
            master_secret: SecretString::from("master-secret"),
            base_url: JpushSettings::DEFAULT_BASE_URL.into(),
        };
        let client = JpushClient::new(settings, reqwest::Client::new());
        let shown = format!("{client:?}");
        assert!(shown.contains("app-key"));
        assert!(!shown.contains("master-secret"));
        assert_eq!(short_id("1a0018970a5d1f7b2c3"), "1a0018…");
        assert_eq!(short_id("abc"), "abc");
    }
}
