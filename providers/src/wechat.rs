//! WeChat mini-program server APIs: `jscode2session` (login), `getuserphonenumber` (the
//! phone number a user agreed to share), `message/subscribe/send` (one-time subscribe
//! messages) and the server access token (`stable_token`).
//!
//! The access token is shared by every replica through the key/value store: cached under
//! `wechat:access_token:<appid>` until five minutes before WeChat expires it, and refreshed
//! by one caller at a time under the lock `wechat:token_lock:<appid>` while the others poll
//! the cache. When WeChat rejects a token (40001/42001) it is refreshed once, under the same
//! lock, in normal mode first: `force_refresh` is limited to 20 calls a day, 30 s apart, and
//! invalidates the token other replicas are using.
//!
//! WeChat answers HTTP 200 with `{"errcode", "errmsg"}` on errors; errcode 0 or none is
//! success. Nothing here logs the secret, a token, a code or a phone number.

use std::time::Duration;

use gongyou_db::kv::{Kv, KvError};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::{transport_message, PROVIDER_TIMEOUT};

/// Refresh the cached token when less than this remains of its life.
const REFRESH_MARGIN_SECS: u64 = 300;
/// How long a refresh lock lives if its holder dies.
const LOCK_TTL: Duration = Duration::from_secs(10);
/// How long a caller waits for another caller's refresh before fetching on its own.
const WAIT_FOR_REFRESH: Duration = Duration::from_secs(3);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The mini-program's credentials and where WeChat is.
#[derive(Clone)]
pub struct WechatSettings {
    pub appid: String,
    pub secret: SecretString,
    /// `https://api.weixin.qq.com` in production.
    pub base_url: String,
}

impl WechatSettings {
    pub const DEFAULT_BASE_URL: &'static str = "https://api.weixin.qq.com";
}

impl std::fmt::Debug for WechatSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatSettings")
            .field("appid", &self.appid)
            .field("secret", &"[redacted]")
            .field("base_url", &self.base_url)
            .finish()
    }
}

/// Who logged in (`session_key` is deliberately not kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatSession {
    pub openid: String,
    pub unionid: Option<String>,
}

/// The phone number a user chose to share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WechatPhone {
    /// `"86"` for mainland numbers.
    pub country_code: String,
    /// Without the country code, e.g. `"13800000000"`.
    pub pure_phone_number: String,
}

/// Why WeChat did not answer what was asked.
#[derive(Debug, thiserror::Error)]
pub enum WechatError {
    /// 40029 (invalid code), 40163 (code already used).
    #[error("wechat code invalid or used")]
    InvalidCode,
    /// 45011 (API minute quota), 45009 (daily quota).
    #[error("wechat rate limited")]
    RateLimited,
    /// -1 (system busy, try again).
    #[error("wechat busy")]
    Busy,
    /// Subscribe messages only: 43101, the user holds no subscription credit for the
    /// template (never accepted, or already used up) or refused it. Do not retry; wait for
    /// the user to subscribe again.
    #[error("wechat user has not subscribed to the message")]
    NotSubscribed,
    /// Subscribe messages only: 40003 (invalid openid), 40037 (invalid template id), 47003
    /// (a data value breaks its field's rule; `errmsg` names the field) and 41030 (invalid
    /// page). Permanent: the same message will be refused again.
    #[error("wechat refused an argument, error {errcode}: {errmsg}")]
    InvalidArgument { errcode: i64, errmsg: String },
    #[error("wechat error {errcode}: {errmsg}")]
    Api { errcode: i64, errmsg: String },
    /// Network errors, timeouts, 5xx, unreadable answers, and the token cache being down.
    #[error("wechat unreachable: {0}")]
    Transport(String),
}

impl WechatError {
    fn from_code(errcode: i64, errmsg: String) -> Self {
        match errcode {
            40029 | 40163 => WechatError::InvalidCode,
            45011 | 45009 => WechatError::RateLimited,
            -1 => WechatError::Busy,
            _ => WechatError::Api { errcode, errmsg },
        }
    }

    /// Whether trying again later may succeed: rate limits, WeChat being busy and
    /// transport errors.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            WechatError::RateLimited | WechatError::Busy | WechatError::Transport(_)
        )
    }

    /// The subscribe-message meaning of an error (see [`WechatError::NotSubscribed`] and
    /// [`WechatError::InvalidArgument`]); other APIs keep [`WechatError::Api`] for these codes.
    fn for_subscribe(self) -> Self {
        match self {
            WechatError::Api { errcode: 43101, .. } => WechatError::NotSubscribed,
            WechatError::Api {
                errcode: errcode @ (40003 | 40037 | 47003 | 41030),
                errmsg,
            } => WechatError::InvalidArgument { errcode, errmsg },
            other => other,
        }
    }

    /// Whether WeChat refused the access token (invalid or expired).
    fn is_token_rejected(&self) -> bool {
        matches!(
            self,
            WechatError::Api {
                errcode: 40001 | 42001,
                ..
            }
        )
    }
}

impl From<KvError> for WechatError {
    fn from(e: KvError) -> Self {
        WechatError::Transport(format!("access token cache: {e}"))
    }
}

/// The client of WeChat's server APIs for one mini-program.
#[derive(Clone)]
pub struct WechatClient {
    settings: WechatSettings,
    http: reqwest::Client,
    kv: Kv,
}

impl std::fmt::Debug for WechatClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatClient")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Every WeChat answer: errcode/errmsg next to the fields of success.
#[derive(Deserialize)]
struct Answer<T> {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    #[serde(flatten)]
    body: T,
}

#[derive(Deserialize)]
struct SessionBody {
    openid: Option<String>,
    unionid: Option<String>,
}

#[derive(Deserialize)]
struct PhoneBody {
    phone_info: Option<PhoneInfo>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PhoneInfo {
    pure_phone_number: String,
    country_code: String,
}

/// An answer with nothing needed beyond errcode/errmsg.
#[derive(Deserialize)]
struct EmptyBody {}

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

impl WechatClient {
    pub fn new(settings: WechatSettings, http: reqwest::Client, kv: Kv) -> Self {
        Self { settings, http, kv }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.settings.base_url.trim_end_matches('/'))
    }

    fn token_key(&self) -> String {
        format!("wechat:access_token:{}", self.settings.appid)
    }

    fn lock_key(&self) -> String {
        format!("wechat:token_lock:{}", self.settings.appid)
    }

    /// Exchanges a `wx.login` code for the user's openid (and unionid when the
    /// mini-program is bound to an open platform account).
    pub async fn code2session(&self, js_code: &str) -> Result<WechatSession, WechatError> {
        let request = self.http.get(self.url("/sns/jscode2session")).query(&[
            ("appid", self.settings.appid.as_str()),
            ("secret", self.settings.secret.expose_secret()),
            ("js_code", js_code),
            ("grant_type", "authorization_code"),
        ]);
        let body: SessionBody = self.call(request, "jscode2session").await?;
        match body.openid.filter(|o| !o.is_empty()) {
            Some(openid) => Ok(WechatSession {
                openid,
                unionid: body.unionid.filter(|u| !u.is_empty()),
            }),
            None => Err(WechatError::Transport(
                "jscode2session answered without an openid".into(),
            )),
        }
    }

    /// The phone number behind a `getPhoneNumber` button code. When WeChat rejects the
    /// access token (40001, 42001) the token is refreshed once and the call retried once.
    pub async fn phone_number(&self, code: &str) -> Result<WechatPhone, WechatError> {
        let token = self.access_token().await?;
        match self.phone_number_with(&token, code).await {
            Err(e) if e.is_token_rejected() => {
                tracing::info!("wechat rejected the access token; refreshing it once");
                let token = self.refresh(Some(&token)).await?;
                self.phone_number_with(&token, code).await
            }
            other => other,
        }
    }

    async fn phone_number_with(&self, token: &str, code: &str) -> Result<WechatPhone, WechatError> {
        let request = self
            .http
            .post(self.url("/wxa/business/getuserphonenumber"))
            .query(&[("access_token", token)])
            .json(&serde_json::json!({ "code": code }));
        let body: PhoneBody = self.call(request, "getuserphonenumber").await?;
        match body.phone_info {
            Some(info) => Ok(WechatPhone {
                country_code: info.country_code,
                pure_phone_number: info.pure_phone_number,
            }),
            None => Err(WechatError::Transport(
                "getuserphonenumber answered without phone_info".into(),
            )),
        }
    }

    /// Sends a one-time subscribe message. `data` maps template keywords (e.g. "thing1",
    /// "amount2", "time3", "phrase4") to values already fitted to WeChat's limits (see
    /// [`super::subscribe_fields::fit`]).
    ///
    /// `POST /cgi-bin/message/subscribe/send` to the formal version of the mini-program, in
    /// `zh_CN`; `page` (e.g. `pages/jobs/detail?id=1`) is where tapping the card leads, none
    /// when `None`. Each message uses up one credit the user granted by accepting the
    /// template in `wx.requestSubscribeMessage`. When WeChat rejects the access token
    /// (40001, 42001) the token is refreshed once and the message sent once more.
    ///
    /// Errors: [`WechatError::NotSubscribed`] (43101) and [`WechatError::InvalidArgument`]
    /// are permanent; [`WechatError::is_retryable`] tells the others apart.
    pub async fn send_subscribe_message(
        &self,
        openid: &str,
        template_id: &str,
        page: Option<&str>,
        data: &[(String, String)],
    ) -> Result<(), WechatError> {
        let body = subscribe_body(openid, template_id, page, data);
        let token = self.access_token().await?;
        let result = match self.subscribe_with(&token, &body).await {
            Err(e) if e.is_token_rejected() => {
                tracing::info!("wechat rejected the access token; refreshing it once");
                let token = self.refresh(Some(&token)).await?;
                self.subscribe_with(&token, &body).await
            }
            other => other,
        };
        result.map_err(WechatError::for_subscribe)
    }

    async fn subscribe_with(
        &self,
        token: &str,
        body: &serde_json::Value,
    ) -> Result<(), WechatError> {
        let request = self
            .http
            .post(self.url("/cgi-bin/message/subscribe/send"))
            .query(&[("access_token", token)])
            .json(body);
        let _: EmptyBody = self.call(request, "subscribe/send").await?;
        Ok(())
    }

    /// The server access token, from the shared cache or freshly fetched (see the module
    /// documentation).
    pub async fn access_token(&self) -> Result<String, WechatError> {
        if let Some(token) = self.kv.get(&self.token_key()).await? {
            return Ok(token);
        }
        self.refresh(None).await
    }

    /// Gets a new token into the cache, one caller at a time. `rejected` is the token WeChat
    /// just refused, if that is why we are here: a cached token other than it is good.
    async fn refresh(&self, rejected: Option<&str>) -> Result<String, WechatError> {
        let lock_key = self.lock_key();
        let lock_id = format!("{:032x}", rand::random::<u128>());
        let deadline = tokio::time::Instant::now() + WAIT_FOR_REFRESH;
        loop {
            if self.kv.set_if_absent(&lock_key, &lock_id, LOCK_TTL).await? {
                let result = self.refresh_locked(rejected).await;
                self.unlock(&lock_key, &lock_id).await;
                return result;
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL_INTERVAL).await;
            if let Some(token) = self.fresh_cached(rejected).await? {
                return Ok(token);
            }
        }
        // Whoever holds the lock is taking too long: fetch in normal mode, which never
        // invalidates anybody's token.
        tracing::warn!("wechat access token refresh is slow; fetching without the lock");
        let (token, expires_in) = self.stable_token(false).await?;
        if rejected == Some(token.as_str()) {
            return Err(WechatError::Busy);
        }
        self.store(&token, expires_in).await?;
        Ok(token)
    }

    /// The cached token, unless it is the rejected one.
    async fn fresh_cached(&self, rejected: Option<&str>) -> Result<Option<String>, WechatError> {
        Ok(self
            .kv
            .get(&self.token_key())
            .await?
            .filter(|token| Some(token.as_str()) != rejected))
    }

    async fn refresh_locked(&self, rejected: Option<&str>) -> Result<String, WechatError> {
        // Someone may have refreshed between our cache miss and our lock.
        if let Some(token) = self.fresh_cached(rejected).await? {
            return Ok(token);
        }
        let (mut token, mut expires_in) = self.stable_token(false).await?;
        if rejected == Some(token.as_str()) {
            tracing::warn!("wechat returned the rejected access token again; forcing a refresh");
            (token, expires_in) = self.stable_token(true).await?;
        }
        self.store(&token, expires_in).await?;
        Ok(token)
    }

    async fn store(&self, token: &str, expires_in: u64) -> Result<(), WechatError> {
        let ttl = expires_in
            .saturating_sub(REFRESH_MARGIN_SECS)
            .max(expires_in / 2)
            .max(1);
        self.kv
            .set(&self.token_key(), token, Duration::from_secs(ttl))
            .await?;
        Ok(())
    }

    async fn unlock(&self, lock_key: &str, lock_id: &str) {
        // Only our own lock: it may have expired and been taken by someone else.
        let ours = matches!(self.kv.get(lock_key).await, Ok(Some(id)) if id == lock_id);
        if ours {
            if let Err(e) = self.kv.delete(lock_key).await {
                tracing::warn!(error = %e, "could not release the wechat token lock");
            }
        }
    }

    /// `POST /cgi-bin/stable_token`; returns the token and its remaining life in seconds.
    async fn stable_token(&self, force_refresh: bool) -> Result<(String, u64), WechatError> {
        let request = self
            .http
            .post(self.url("/cgi-bin/stable_token"))
            .json(&serde_json::json!({
                "grant_type": "client_credential",
                "appid": self.settings.appid,
                "secret": self.settings.secret.expose_secret(),
                "force_refresh": force_refresh,
            }));
        let body: TokenBody = self.call(request, "stable_token").await?;
        match body.access_token.filter(|t| !t.is_empty()) {
            Some(token) => Ok((token, body.expires_in.unwrap_or(7200))),
            None => Err(WechatError::Transport(
                "stable_token answered without an access_token".into(),
            )),
        }
    }

    /// Sends `request` and reads WeChat's answer, mapping its errcode.
    async fn call<T: serde::de::DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
        api: &'static str,
    ) -> Result<T, WechatError> {
        let response = request
            .timeout(PROVIDER_TIMEOUT)
            .send()
            .await
            .map_err(|e| {
                let message = transport_message(e);
                tracing::warn!(api, error = %message, "wechat unreachable");
                WechatError::Transport(message)
            })?;
        let status = response.status();
        if !status.is_success() {
            tracing::warn!(
                api,
                status = status.as_u16(),
                "wechat answered an HTTP error"
            );
            return Err(WechatError::Transport(format!("HTTP {}", status.as_u16())));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| WechatError::Transport(transport_message(e)))?;
        let answer: Answer<T> = serde_json::from_slice(&bytes)
            .map_err(|_| WechatError::Transport(format!("{api}: unreadable answer")))?;
        if answer.errcode != 0 {
            tracing::warn!(api, errcode = answer.errcode, errmsg = %answer.errmsg, "wechat refused");
            return Err(WechatError::from_code(answer.errcode, answer.errmsg));
        }
        Ok(answer.body)
    }
}

/// The JSON body of `message/subscribe/send`.
fn subscribe_body(
    openid: &str,
    template_id: &str,
    page: Option<&str>,
    data: &[(String, String)],
) -> serde_json::Value {
    let data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(keyword, value)| (keyword.clone(), serde_json::json!({ "value": value })))
        .collect();
    let mut body = serde_json::json!({
        "touser": openid,
        "template_id": template_id,
        "data": data,
        "miniprogram_state": "formal",
        "lang": "zh_CN",
    });
    if let Some(page) = page.filter(|p| !p.is_empty()) {
        body["page"] = serde_json::Value::String(page.to_owned());
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use gongyou_domain::clock::ManualClock;
    use wiremock::matchers::{body_partial_json, method, path, query_param};
    use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

    struct Setup {
        server: MockServer,
        clock: ManualClock,
        client: WechatClient,
    }

    async fn setup() -> Setup {
        let server = MockServer::start().await;
        let clock = ManualClock::starting_now();
        let kv = Kv::new(None, "t:", Arc::new(clock.clone())).unwrap();
        let client = WechatClient::new(
            WechatSettings {
                appid: "wx-app".into(),
                secret: SecretString::from("wx-secret"),
                base_url: server.uri(),
            },
            reqwest::Client::builder().no_proxy().build().unwrap(),
            kv,
        );
        Setup {
            server,
            clock,
            client,
        }
    }

    /// stable_token issuing `tok-1`, `tok-2`, … on each call, counting them.
    #[derive(Clone, Default)]
    struct Tokens {
        calls: Arc<AtomicUsize>,
        forced: Arc<AtomicUsize>,
        /// Normal mode answers the current token again (as WeChat does) when set.
        sticky: bool,
        delay: Duration,
    }

    impl Respond for Tokens {
        fn respond(&self, request: &Request) -> ResponseTemplate {
            let body: serde_json::Value = request.body_json().unwrap();
            let forced = body["force_refresh"].as_bool().unwrap_or(false);
            if forced {
                self.forced.fetch_add(1, Ordering::SeqCst);
            }
            let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
            let token = if self.sticky && !forced {
                "tok-1".to_owned()
            } else {
                format!("tok-{n}")
            };
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": token, "expires_in": 7200}))
                .set_delay(self.delay)
        }
    }

    async fn mount_tokens(server: &MockServer, tokens: Tokens) {
        Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .and(body_partial_json(serde_json::json!({
                "grant_type": "client_credential", "appid": "wx-app", "secret": "wx-secret"})))
            .respond_with(tokens)
            .mount(server)
            .await;
    }

    fn wechat_error(errcode: i64, errmsg: &str) -> ResponseTemplate {
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"errcode": errcode, "errmsg": errmsg}))
    }

    async fn mount_login(server: &MockServer, answer: ResponseTemplate) {
        Mock::given(method("GET"))
            .and(path("/sns/jscode2session"))
            .and(query_param("appid", "wx-app"))
            .and(query_param("secret", "wx-secret"))
            .and(query_param("js_code", "the-code"))
            .and(query_param("grant_type", "authorization_code"))
            .respond_with(answer)
            .mount(server)
            .await;
    }

    #[tokio::test]
    async fn code2session_returns_the_openid_and_unionid() {
        let s = setup().await;
        mount_login(
            &s.server,
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "openid": "o-1", "session_key": "sk", "unionid": "u-1"})),
        )
        .await;
        assert_eq!(
            s.client.code2session("the-code").await.unwrap(),
            WechatSession {
                openid: "o-1".into(),
                unionid: Some("u-1".into())
            }
        );
    }

    #[tokio::test]
    async fn code2session_without_unionid() {
        let s = setup().await;
        // WeChat answers text/plain here; the body is still JSON.
        mount_login(
            &s.server,
            ResponseTemplate::new(200).set_body_raw(
                r#"{"session_key":"sk","openid":"o-2"}"#.as_bytes(),
                "text/plain",
            ),
        )
        .await;
        assert_eq!(
            s.client.code2session("the-code").await.unwrap(),
            WechatSession {
                openid: "o-2".into(),
                unionid: None
            }
        );
    }

    #[tokio::test]
    async fn code2session_maps_error_codes() {
        type Check = fn(&WechatError) -> bool;
        let cases: [(i64, Check); 5] = [
            (40029, |e| matches!(e, WechatError::InvalidCode)),
            (40163, |e| matches!(e, WechatError::InvalidCode)),
            (45011, |e| matches!(e, WechatError::RateLimited)),
            (-1, |e| matches!(e, WechatError::Busy)),
            (
                40226,
                |e| matches!(e, WechatError::Api { errcode: 40226, errmsg } if errmsg == "code blocked"),
            ),
        ];
        for (errcode, expected) in cases {
            let s = setup().await;
            let message = if errcode == 40226 {
                "code blocked"
            } else {
                "nope"
            };
            mount_login(&s.server, wechat_error(errcode, message)).await;
            let e = s.client.code2session("the-code").await.unwrap_err();
            assert!(expected(&e), "{errcode}: {e:?}");
        }
    }

    #[tokio::test]
    async fn transport_errors_hide_the_secret() {
        let s = setup().await;
        mount_login(&s.server, ResponseTemplate::new(502)).await;
        let e = s.client.code2session("the-code").await.unwrap_err();
        assert!(
            matches!(&e, WechatError::Transport(m) if m == "HTTP 502"),
            "{e:?}"
        );

        let uri = s.server.uri();
        drop(s.server);
        let kv = Kv::new(None, "t:", Arc::new(ManualClock::starting_now())).unwrap();
        let client = WechatClient::new(
            WechatSettings {
                appid: "wx-app".into(),
                secret: SecretString::from("wx-secret"),
                base_url: uri,
            },
            reqwest::Client::builder().no_proxy().build().unwrap(),
            kv,
        );
        let e = client.code2session("the-code").await.unwrap_err();
        assert!(matches!(&e, WechatError::Transport(_)), "{e:?}");
        assert!(!e.to_string().contains("wx-secret"), "{e}");
        assert!(!format!("{client:?}").contains("wx-secret"));
    }

    async fn mount_phone(server: &MockServer, token: &str, answer: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/wxa/business/getuserphonenumber"))
            .and(query_param("access_token", token))
            .and(body_partial_json(serde_json::json!({"code": "phone-code"})))
            .respond_with(answer)
            .mount(server)
            .await;
    }

    fn phone_ok() -> ResponseTemplate {
        ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "errcode": 0, "errmsg": "ok",
            "phone_info": {"phoneNumber": "13800000000", "purePhoneNumber": "13800000000",
                "countryCode": "86", "watermark": {"timestamp": 1637744274, "appid": "wx-app"}}}))
    }

    #[tokio::test]
    async fn phone_number_uses_the_access_token() {
        let s = setup().await;
        let tokens = Tokens::default();
        mount_tokens(&s.server, tokens.clone()).await;
        mount_phone(&s.server, "tok-1", phone_ok()).await;
        let phone = s.client.phone_number("phone-code").await.unwrap();
        assert_eq!(
            phone,
            WechatPhone {
                country_code: "86".into(),
                pure_phone_number: "13800000000".into()
            }
        );
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn phone_number_maps_invalid_codes() {
        let s = setup().await;
        mount_tokens(&s.server, Tokens::default()).await;
        mount_phone(&s.server, "tok-1", wechat_error(40029, "invalid code")).await;
        assert!(matches!(
            s.client.phone_number("phone-code").await,
            Err(WechatError::InvalidCode)
        ));
    }

    #[tokio::test]
    async fn the_token_is_cached_until_five_minutes_before_it_expires() {
        let s = setup().await;
        let tokens = Tokens::default();
        mount_tokens(&s.server, tokens.clone()).await;
        assert_eq!(s.client.access_token().await.unwrap(), "tok-1");
        assert_eq!(s.client.access_token().await.unwrap(), "tok-1");
        s.clock.advance(chrono::Duration::seconds(7200 - 301));
        assert_eq!(s.client.access_token().await.unwrap(), "tok-1");
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
        s.clock.advance(chrono::Duration::seconds(2));
        assert_eq!(s.client.access_token().await.unwrap(), "tok-2");
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 2);
        assert_eq!(tokens.forced.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_rejected_token_is_refreshed_once_and_the_call_retried() {
        let s = setup().await;
        let tokens = Tokens::default();
        mount_tokens(&s.server, tokens.clone()).await;
        mount_phone(
            &s.server,
            "tok-1",
            wechat_error(40001, "invalid credential"),
        )
        .await;
        mount_phone(&s.server, "tok-2", phone_ok()).await;
        assert_eq!(s.client.access_token().await.unwrap(), "tok-1");
        let phone = s.client.phone_number("phone-code").await.unwrap();
        assert_eq!(phone.pure_phone_number, "13800000000");
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 2);
        assert_eq!(tokens.forced.load(Ordering::SeqCst), 0);
        // The new token is cached.
        assert_eq!(s.client.access_token().await.unwrap(), "tok-2");
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_expired_token_that_wechat_still_hands_out_is_force_refreshed() {
        let s = setup().await;
        let tokens = Tokens {
            sticky: true,
            ..Tokens::default()
        };
        mount_tokens(&s.server, tokens.clone()).await;
        mount_phone(
            &s.server,
            "tok-1",
            wechat_error(42001, "access_token expired"),
        )
        .await;
        mount_phone(&s.server, "tok-3", phone_ok()).await;
        let phone = s.client.phone_number("phone-code").await.unwrap();
        assert_eq!(phone.pure_phone_number, "13800000000");
        // tok-1, then normal mode (tok-1 again), then forced (tok-3 by call count).
        assert_eq!(tokens.forced.load(Ordering::SeqCst), 1);
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_token_rejected_twice_is_not_refreshed_again() {
        let s = setup().await;
        let tokens = Tokens::default();
        mount_tokens(&s.server, tokens.clone()).await;
        Mock::given(method("POST"))
            .and(path("/wxa/business/getuserphonenumber"))
            .respond_with(wechat_error(40001, "invalid credential"))
            .mount(&s.server)
            .await;
        let e = s.client.phone_number("phone-code").await.unwrap_err();
        assert!(
            matches!(e, WechatError::Api { errcode: 40001, .. }),
            "{e:?}"
        );
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_refresh_someone_else_did_is_reused() {
        let s = setup().await;
        let tokens = Tokens::default();
        mount_tokens(&s.server, tokens.clone()).await;
        assert_eq!(s.client.access_token().await.unwrap(), "tok-1");
        // Another replica already replaced the rejected token.
        s.client
            .kv
            .set(&s.client.token_key(), "tok-other", Duration::from_secs(60))
            .await
            .unwrap();
        assert_eq!(s.client.refresh(Some("tok-1")).await.unwrap(), "tok-other");
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn concurrent_callers_fetch_the_token_once() {
        let s = setup().await;
        let tokens = Tokens {
            delay: Duration::from_millis(200),
            ..Tokens::default()
        };
        mount_tokens(&s.server, tokens.clone()).await;
        let handles: Vec<_> = (0..5)
            .map(|_| {
                let client = s.client.clone();
                tokio::spawn(async move { client.access_token().await })
            })
            .collect();
        for handle in handles {
            assert_eq!(handle.await.unwrap().unwrap(), "tok-1");
        }
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
        // The lock is released.
        assert_eq!(s.client.kv.get(&s.client.lock_key()).await.unwrap(), None);
    }

    #[tokio::test]
    async fn stable_token_errors_are_reported() {
        let s = setup().await;
        Mock::given(method("POST"))
            .and(path("/cgi-bin/stable_token"))
            .respond_with(wechat_error(40125, "invalid appsecret"))
            .mount(&s.server)
            .await;
        let e = s.client.access_token().await.unwrap_err();
        assert!(
            matches!(e, WechatError::Api { errcode: 40125, .. }),
            "{e:?}"
        );
        assert_eq!(s.client.kv.get(&s.client.lock_key()).await.unwrap(), None);
    }

    // ---- subscribe messages

    fn subscribe_data() -> Vec<(String, String)> {
        vec![
            ("thing1".to_owned(), "水电安装".to_owned()),
            ("amount2".to_owned(), "350元".to_owned()),
            ("time3".to_owned(), "2026年07月15日 14:00".to_owned()),
            ("phrase4".to_owned(), "已录用".to_owned()),
        ]
    }

    async fn mount_subscribe(server: &MockServer, token: &str, answer: ResponseTemplate) {
        Mock::given(method("POST"))
            .and(path("/cgi-bin/message/subscribe/send"))
            .and(query_param("access_token", token))
            .respond_with(answer)
            .mount(server)
            .await;
    }

    fn subscribe_ok() -> ResponseTemplate {
        ResponseTemplate::new(200)
            .set_body_json(serde_json::json!({"errcode": 0, "errmsg": "ok", "msgid": 2_908_517_396_084_883_457_u64}))
    }

    async fn subscribe_bodies(server: &MockServer) -> Vec<serde_json::Value> {
        server
            .received_requests()
            .await
            .unwrap()
            .iter()
            .filter(|r| r.url.path() == "/cgi-bin/message/subscribe/send")
            .map(|r| serde_json::from_slice(&r.body).unwrap())
            .collect()
    }

    #[tokio::test]
    async fn subscribe_messages_are_sent_with_the_access_token() {
        let s = setup().await;
        let tokens = Tokens::default();
        mount_tokens(&s.server, tokens.clone()).await;
        mount_subscribe(&s.server, "tok-1", subscribe_ok()).await;
        s.client
            .send_subscribe_message(
                "o-1",
                "tmpl-hired",
                Some("pages/jobs/detail?id=7"),
                &subscribe_data(),
            )
            .await
            .unwrap();
        let bodies = subscribe_bodies(&s.server).await;
        assert_eq!(
            bodies,
            vec![serde_json::json!({
                "touser": "o-1",
                "template_id": "tmpl-hired",
                "page": "pages/jobs/detail?id=7",
                "data": {
                    "thing1": {"value": "水电安装"},
                    "amount2": {"value": "350元"},
                    "time3": {"value": "2026年07月15日 14:00"},
                    "phrase4": {"value": "已录用"},
                },
                "miniprogram_state": "formal",
                "lang": "zh_CN",
            })]
        );
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn subscribe_messages_without_a_page_leave_it_out() {
        let s = setup().await;
        mount_tokens(&s.server, Tokens::default()).await;
        mount_subscribe(&s.server, "tok-1", subscribe_ok()).await;
        for page in [None, Some("")] {
            s.client
                .send_subscribe_message("o-1", "tmpl", page, &[])
                .await
                .unwrap();
        }
        for body in subscribe_bodies(&s.server).await {
            assert!(body.get("page").is_none(), "{body}");
            assert_eq!(body["data"], serde_json::json!({}));
        }
    }

    #[tokio::test]
    async fn subscribe_messages_refresh_a_rejected_token_once() {
        let s = setup().await;
        let tokens = Tokens::default();
        mount_tokens(&s.server, tokens.clone()).await;
        mount_subscribe(
            &s.server,
            "tok-1",
            wechat_error(42001, "access_token expired"),
        )
        .await;
        mount_subscribe(&s.server, "tok-2", subscribe_ok()).await;
        s.client
            .send_subscribe_message("o-1", "tmpl", None, &subscribe_data())
            .await
            .unwrap();
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 2);
        assert_eq!(tokens.forced.load(Ordering::SeqCst), 0);
        assert_eq!(subscribe_bodies(&s.server).await.len(), 2);

        // Rejected again: reported, not refreshed a second time.
        let s = setup().await;
        let tokens = Tokens::default();
        mount_tokens(&s.server, tokens.clone()).await;
        Mock::given(method("POST"))
            .and(path("/cgi-bin/message/subscribe/send"))
            .respond_with(wechat_error(40001, "invalid credential"))
            .mount(&s.server)
            .await;
        let e = s
            .client
            .send_subscribe_message("o-1", "tmpl", None, &subscribe_data())
            .await
            .unwrap_err();
        assert!(
            matches!(e, WechatError::Api { errcode: 40001, .. }),
            "{e:?}"
        );
        assert_eq!(tokens.calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn subscribe_errors_are_mapped() {
        type Check = fn(&WechatError) -> bool;
        let cases: [(i64, &str, Check); 8] = [
            (43101, "user refuse to accept the msg", |e| {
                matches!(e, WechatError::NotSubscribed)
            }),
            (40003, "invalid openid", |e| {
                matches!(e, WechatError::InvalidArgument { errcode: 40003, .. })
            }),
            (40037, "invalid template_id", |e| {
                matches!(e, WechatError::InvalidArgument { errcode: 40037, .. })
            }),
            (47003, "argument invalid! data.thing1.value invalid", |e| {
                matches!(e, WechatError::InvalidArgument { errcode: 47003, errmsg }
                    if errmsg == "argument invalid! data.thing1.value invalid")
            }),
            (41030, "invalid page", |e| {
                matches!(e, WechatError::InvalidArgument { errcode: 41030, .. })
            }),
            (45009, "reach max api daily quota limit", |e| {
                matches!(e, WechatError::RateLimited)
            }),
            (-1, "system error", |e| matches!(e, WechatError::Busy)),
            (40164, "invalid ip", |e| {
                matches!(e, WechatError::Api { errcode: 40164, .. })
            }),
        ];
        for (errcode, errmsg, expected) in cases {
            let s = setup().await;
            mount_tokens(&s.server, Tokens::default()).await;
            mount_subscribe(&s.server, "tok-1", wechat_error(errcode, errmsg)).await;
            let e = s
                .client
                .send_subscribe_message("o-1", "tmpl", None, &subscribe_data())
                .await
                .unwrap_err();
            assert!(expected(&e), "{errcode}: {e:?}");
            let retryable = matches!(errcode, 45009 | -1);
            assert_eq!(e.is_retryable(), retryable, "{errcode}: {e:?}");
            // Sent once: nothing here retries.
            assert_eq!(subscribe_bodies(&s.server).await.len(), 1);
        }
    }

    #[tokio::test]
    async fn subscribe_transport_errors_are_retryable() {
        let s = setup().await;
        mount_tokens(&s.server, Tokens::default()).await;
        mount_subscribe(&s.server, "tok-1", ResponseTemplate::new(503)).await;
        let e = s
            .client
            .send_subscribe_message("o-1", "tmpl", None, &subscribe_data())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, WechatError::Transport(m) if m == "HTTP 503"),
            "{e:?}"
        );
        assert!(e.is_retryable());
    }

    #[test]
    fn other_apis_keep_the_generic_error_for_subscribe_codes() {
        assert!(matches!(
            WechatError::from_code(47003, "x".into()),
            WechatError::Api { errcode: 47003, .. }
        ));
        assert!(!WechatError::NotSubscribed.is_retryable());
        assert!(!WechatError::InvalidCode.is_retryable());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let settings = WechatSettings {
            appid: "wx".into(),
            secret: SecretString::from("very-secret"),
            base_url: WechatSettings::DEFAULT_BASE_URL.into(),
        };
        assert!(!format!("{settings:?}").contains("very-secret"));
    }
}
