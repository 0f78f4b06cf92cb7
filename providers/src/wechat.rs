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

use super::lean_http::LeanHttp;
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

/// Sends subscribe messages with one access token (see [`WechatClient::subscribe_sender`]).
pub struct SubscribeSender {
    client: WechatClient,
    /// The access token, and the send URL carrying it (parsed once, not per message).
    token: std::sync::Mutex<(String, SendUrl)>,
}

impl SubscribeSender {
    fn new(client: WechatClient, token: String) -> Result<Self, WechatError> {
        let url = client.subscribe_url(&token)?;
        Ok(Self {
            client,
            token: std::sync::Mutex::new((token, url)),
        })
    }

    fn token(&self) -> (String, SendUrl) {
        self.token
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Sends one message, as [`WechatClient::send_subscribe_message`] does.
    pub async fn send(
        &self,
        openid: &str,
        template_id: &str,
        page: Option<&str>,
        data: &[(String, String)],
    ) -> Result<(), WechatError> {
        let body = subscribe_body(openid, template_id, page, data)?;
        let (token, url) = self.token();
        // Bytes: the copy kept for a resend after a token refresh shares the buffer.
        let result = match self.client.subscribe_with(url, body.clone()).await {
            Err(e) if e.is_token_rejected() => {
                tracing::info!("wechat rejected the access token; refreshing it once");
                let fresh = self.client.refresh(Some(&token)).await?;
                let url = self.client.subscribe_url(&fresh)?;
                *self
                    .token
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner) = (fresh, url.clone());
                self.client.subscribe_with(url, body).await
            }
            other => other,
        };
        result.map_err(WechatError::for_subscribe)
    }
}

/// The client of WeChat's server APIs for one mini-program.
#[derive(Clone)]
pub struct WechatClient {
    settings: WechatSettings,
    http: reqwest::Client,
    /// For subscribe messages, one request each (ADR 022); None behind a proxy.
    lean: Option<LeanHttp>,
    kv: Kv,
}

/// The subscribe/send URL with a token, for reqwest and for the lean client.
#[derive(Clone)]
struct SendUrl {
    url: reqwest::Url,
    uri: Option<hyper::http::Uri>,
}

/// subscribe/send's answer: errcode/errmsg only (no flattened body to buffer).
#[derive(Deserialize)]
struct SendAnswer {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
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

#[derive(Deserialize)]
struct TokenBody {
    access_token: Option<String>,
    expires_in: Option<u64>,
}

impl WechatClient {
    pub fn new(settings: WechatSettings, http: reqwest::Client, kv: Kv) -> Self {
        Self {
            settings,
            http,
            lean: LeanHttp::from_env(),
            kv,
        }
    }

    /// The mini-program's app id (openids are per app).
    pub fn appid(&self) -> &str {
        &self.settings.appid
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
        self.subscribe_sender()
            .await?
            .send(openid, template_id, page, data)
            .await
    }

    /// A sender of many subscribe messages: it reads the access token once and shares it
    /// between its messages (which may be sent concurrently); when WeChat rejects it, the
    /// message that learned so refreshes it (once, through the shared cache) for all.
    pub async fn subscribe_sender(&self) -> Result<SubscribeSender, WechatError> {
        SubscribeSender::new(self.clone(), self.access_token().await?)
    }

    /// The subscribe/send URL with `token`.
    fn subscribe_url(&self, token: &str) -> Result<SendUrl, WechatError> {
        let url = reqwest::Url::parse_with_params(
            &self.url("/cgi-bin/message/subscribe/send"),
            &[("access_token", token)],
        )
        .map_err(|e| WechatError::Transport(format!("subscribe/send URL: {e}")))?;
        let uri = self
            .lean
            .as_ref()
            .and_then(|_| url.as_str().parse::<hyper::http::Uri>().ok());
        Ok(SendUrl { url, uri })
    }

    async fn subscribe_with(&self, url: SendUrl, body: bytes::Bytes) -> Result<(), WechatError> {
        const API: &str = "subscribe/send";
        let bytes = match (&self.lean, &url.uri) {
            (Some(lean), Some(uri)) => {
                let (status, bytes) = lean
                    .post_json(uri, body)
                    .await
                    .map_err(|message| transport_failure(API, message))?;
                if !(200..300).contains(&status) {
                    return Err(http_error(API, status));
                }
                bytes
            }
            _ => {
                let request = self
                    .http
                    .post(url.url)
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body);
                self.exchange(request, API).await?
            }
        };
        let answer: SendAnswer = serde_json::from_slice(&bytes)
            .map_err(|_| WechatError::Transport(format!("{API}: unreadable answer")))?;
        refused(API, answer.errcode, answer.errmsg)
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
        let bytes = self.exchange(request, api).await?;
        let answer: Answer<T> = serde_json::from_slice(&bytes)
            .map_err(|_| WechatError::Transport(format!("{api}: unreadable answer")))?;
        refused(api, answer.errcode, answer.errmsg)?;
        Ok(answer.body)
    }

    /// Sends `request` through reqwest; the answer's body when its status is a success.
    async fn exchange(
        &self,
        request: reqwest::RequestBuilder,
        api: &'static str,
    ) -> Result<bytes::Bytes, WechatError> {
        let response = request
            .timeout(PROVIDER_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport_failure(api, transport_message(e)))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(http_error(api, status));
        }
        let bytes = crate::read_capped(response, crate::MAX_ANSWER_BYTES)
            .await
            .map_err(WechatError::Transport)?;
        Ok(bytes::Bytes::from(bytes))
    }
}

/// WeChat could not be reached (logged without the URL: it may carry a token).
fn transport_failure(api: &'static str, message: String) -> WechatError {
    tracing::warn!(api, error = %message, "wechat unreachable");
    WechatError::Transport(message)
}

fn http_error(api: &'static str, status: u16) -> WechatError {
    tracing::warn!(api, status, "wechat answered an HTTP error");
    WechatError::Transport(format!("HTTP {status}"))
}

/// Ok for errcode 0; otherwise WeChat's refusal, logged.
fn refused(api: &'static str, errcode: i64, errmsg: String) -> Result<(), WechatError> {
    if errcode == 0 {
        return Ok(());
    }
    tracing::warn!(api, errcode, errmsg = %errmsg, "wechat refused");
    Err(WechatError::from_code(errcode, errmsg))
}

/// The JSON body of `message/subscribe/send`.
/// A subscribe message's JSON body, serialised from borrowed parts (no value tree).
#[derive(serde::Serialize)]
struct SubscribeBody<'a> {
    touser: &'a str,
    template_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    page: Option<&'a str>,
    data: Fields<'a>,
    miniprogram_state: &'static str,
    lang: &'static str,
}

/// `{"thing1": {"value": …}, …}`.
struct Fields<'a>(&'a [(String, String)]);

impl serde::Serialize for Fields<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        #[derive(serde::Serialize)]
        struct Value<'a> {
            value: &'a str,
        }
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (keyword, value) in self.0 {
            map.serialize_entry(keyword, &Value { value })?;
        }
        map.end()
    }
}

fn subscribe_body(
    openid: &str,
    template_id: &str,
    page: Option<&str>,
    data: &[(String, String)],
) -> Result<bytes::Bytes, WechatError> {
    serde_json::to_vec(&SubscribeBody {
        touser: openid,
        template_id,
        page: page.filter(|p| !p.is_empty()),
        data: Fields(data),
        miniprogram_state: "formal",
        lang: "zh_CN",
    })
    .map(bytes::Bytes::from)
    .map_err(|e| WechatError::Transport(format!("subscribe/send body: {e}")))
}

#[cfg(test)]
#[path = "wechat_tests.rs"]
mod tests;
