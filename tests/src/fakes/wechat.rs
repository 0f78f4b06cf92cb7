//! A fake of WeChat's mini-program server APIs:
//!
//! - `GET /sns/jscode2session` — login codes registered with [`FakeWechat::add_login_code`]
//!   work once (then 40163); unknown codes are 40029; [`FakeWechat::fail_next_login`]
//!   injects an error (45011, -1, …).
//! - `POST /cgi-bin/stable_token` — checks appid (40013) and secret (40125); issues
//!   `tok-<n>` for 7200 s; in normal mode returns the current token while it is valid (a new
//!   one in its last 5 minutes), with `force_refresh` issues a new one and invalidates the
//!   old (at most 20 forced refreshes, then 45009).
//! - `POST /wxa/business/getuserphonenumber?access_token=…` — needs a current token (else
//!   40001, or 42001 for an expired one) and a code registered with
//!   [`FakeWechat::add_phone_code`] (single use: 40163 after; unknown 40029).
//!
//! Like WeChat, every error is HTTP 200 with `{"errcode", "errmsg"}`.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::lock;

const TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
const NORMAL_MODE_RENEWAL: Duration = Duration::from_secs(300);
const FORCE_REFRESH_DAILY_LIMIT: usize = 20;

struct LoginCode {
    openid: String,
    unionid: Option<String>,
    used: bool,
}

struct PhoneCode {
    phone: String,
    used: bool,
}

#[derive(Default)]
struct State {
    login_codes: HashMap<String, LoginCode>,
    fail_next_login: Option<i64>,
    phone_codes: HashMap<String, PhoneCode>,
    issued: usize,
    /// The token stable_token hands out in normal mode, and when it expires.
    current: Option<(String, Instant)>,
    /// Every token that works, with its expiry.
    valid: HashMap<String, Instant>,
    /// Tokens that were valid once (42001 rather than 40001).
    expired: HashSet<String>,
    stable_token_calls: usize,
    force_refresh_calls: usize,
    login_calls: usize,
    phone_number_calls: usize,
}

impl State {
    fn issue(&mut self) -> (String, Instant) {
        self.issued += 1;
        let token = format!("tok-{}", self.issued);
        let expires = Instant::now() + TOKEN_LIFETIME;
        self.valid.insert(token.clone(), expires);
        self.current = Some((token.clone(), expires));
        (token, expires)
    }

    /// Whether `token` works now; expired tokens move to `expired`.
    fn check_token(&mut self, token: &str) -> Result<(), (i64, &'static str)> {
        match self.valid.get(token) {
            Some(expires) if *expires > Instant::now() => Ok(()),
            Some(_) => {
                self.valid.remove(token);
                self.expired.insert(token.to_owned());
                Err((42001, "access_token expired"))
            }
            None if self.expired.contains(token) => Err((42001, "access_token expired")),
            None => Err((
                40001,
                "invalid credential, access_token is invalid or not latest",
            )),
        }
    }
}

/// The fake WeChat. Point the application's WeChat base URL at [`FakeWechat::base_url`],
/// with appid [`FakeWechat::APPID`] and secret [`FakeWechat::SECRET`].
pub struct FakeWechat {
    server: MockServer,
    state: Arc<Mutex<State>>,
}

#[derive(Clone, Copy)]
enum Endpoint {
    Login,
    StableToken,
    PhoneNumber,
}

struct Handler {
    state: Arc<Mutex<State>>,
    endpoint: Endpoint,
}

impl FakeWechat {
    pub const APPID: &'static str = "wx-test-app";
    pub const SECRET: &'static str = "wx-test-secret";

    pub async fn start() -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State::default()));
        for (verb, route, endpoint) in [
            ("GET", "/sns/jscode2session", Endpoint::Login),
            ("POST", "/cgi-bin/stable_token", Endpoint::StableToken),
            (
                "POST",
                "/wxa/business/getuserphonenumber",
                Endpoint::PhoneNumber,
            ),
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

    /// A `wx.login` code, valid once, for `openid` (and `unionid`).
    pub fn add_login_code(&self, code: &str, openid: &str, unionid: Option<&str>) {
        lock(&self.state).login_codes.insert(
            code.to_owned(),
            LoginCode {
                openid: openid.to_owned(),
                unionid: unionid.map(str::to_owned),
                used: false,
            },
        );
    }

    /// The next jscode2session call answers `errcode` (e.g. 45011, -1) and consumes no code.
    pub fn fail_next_login(&self, errcode: i64) {
        lock(&self.state).fail_next_login = Some(errcode);
    }

    /// A `getPhoneNumber` code, valid once, for the mainland number `phone`
    /// (`13800000000`).
    pub fn add_phone_code(&self, code: &str, phone: &str) {
        lock(&self.state).phone_codes.insert(
            code.to_owned(),
            PhoneCode {
                phone: phone.trim_start_matches("+86").to_owned(),
                used: false,
            },
        );
    }

    /// Every access token issued so far stops working (42001); stable_token in normal mode
    /// issues a new one.
    pub fn expire_access_tokens(&self) {
        let mut state = lock(&self.state);
        let tokens: Vec<String> = state.valid.drain().map(|(token, _)| token).collect();
        state.expired.extend(tokens);
        state.current = None;
    }

    /// Calls to stable_token (any mode, errors included).
    pub fn stable_token_calls(&self) -> usize {
        lock(&self.state).stable_token_calls
    }

    /// Calls to stable_token with `force_refresh: true`.
    pub fn force_refresh_calls(&self) -> usize {
        lock(&self.state).force_refresh_calls
    }

    /// Calls to jscode2session.
    pub fn login_calls(&self) -> usize {
        lock(&self.state).login_calls
    }

    /// Calls to getuserphonenumber.
    pub fn phone_number_calls(&self) -> usize {
        lock(&self.state).phone_number_calls
    }
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn fail(errcode: i64, errmsg: &str) -> ResponseTemplate {
    ok(json!({"errcode": errcode, "errmsg": errmsg}))
}

fn default_errmsg(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system error",
        45011 => "api minute-quota reach limit  mustslower  retry next minute",
        40029 => "invalid code",
        40163 => "code been used",
        40226 => "invalid code: high risk user",
        _ => "fake error",
    }
}

fn query(request: &Request) -> HashMap<String, String> {
    request
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

impl Respond for Handler {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let mut state = lock(&self.state);
        match self.endpoint {
            Endpoint::Login => login(&mut state, request),
            Endpoint::StableToken => stable_token(&mut state, request),
            Endpoint::PhoneNumber => phone_number(&mut state, request),
        }
    }
}

fn login(state: &mut State, request: &Request) -> ResponseTemplate {
    state.login_calls += 1;
    let q = query(request);
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if get("appid") != FakeWechat::APPID {
        return fail(40013, "invalid appid");
    }
    if get("secret") != FakeWechat::SECRET {
        return fail(40125, "invalid appsecret");
    }
    if get("grant_type") != "authorization_code" {
        return fail(40002, "invalid grant_type");
    }
    if let Some(errcode) = state.fail_next_login.take() {
        return fail(errcode, default_errmsg(errcode));
    }
    let js_code = get("js_code");
    if js_code.is_empty() {
        return fail(41008, "missing code");
    }
    match state.login_codes.get_mut(js_code) {
        None => fail(40029, "invalid code"),
        Some(login) if login.used => fail(40163, "code been used"),
        Some(login) => {
            login.used = true;
            let mut body = json!({
                "session_key": format!("sk-{}", uuid::Uuid::now_v7().simple()),
                "openid": login.openid,
            });
            if let Some(unionid) = &login.unionid {
                body["unionid"] = json!(unionid);
            }
            // WeChat serves this one as text/plain.
            ResponseTemplate::new(200).set_body_raw(body.to_string().into_bytes(), "text/plain")
        }
    }
}

fn stable_token(state: &mut State, request: &Request) -> ResponseTemplate {
    state.stable_token_calls += 1;
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return fail(47001, "data format error");
    };
    let force = body["force_refresh"].as_bool().unwrap_or(false);
    if force {
        state.force_refresh_calls += 1;
    }
    if body["grant_type"] != "client_credential" {
        return fail(40002, "invalid grant_type");
    }
    if body["appid"] != FakeWechat::APPID {
        return fail(40013, "invalid appid");
    }
    if body["secret"] != FakeWechat::SECRET {
        return fail(40125, "invalid appsecret");
    }
    let now = Instant::now();
    let (token, expires) = if force {
        if state.force_refresh_calls > FORCE_REFRESH_DAILY_LIMIT {
            return fail(45009, "reach max api daily quota limit");
        }
        if let Some((old, _)) = state.current.take() {
            state.valid.remove(&old);
            state.expired.insert(old);
        }
        state.issue()
    } else {
        match state.current.clone() {
            Some((token, expires))
                if state.valid.contains_key(&token) && expires > now + NORMAL_MODE_RENEWAL =>
            {
                (token, expires)
            }
            // None yet, invalidated, or in its last minutes: a new one (the old one keeps
            // working until it expires).
            _ => state.issue(),
        }
    };
    let expires_in = expires.saturating_duration_since(now).as_secs();
    ok(json!({"access_token": token, "expires_in": expires_in}))
}

fn phone_number(state: &mut State, request: &Request) -> ResponseTemplate {
    state.phone_number_calls += 1;
    let q = query(request);
    let Some(token) = q.get("access_token").filter(|t| !t.is_empty()) else {
        return fail(41001, "access_token missing");
    };
    if let Err((errcode, errmsg)) = state.check_token(token) {
        return fail(errcode, errmsg);
    }
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return fail(47001, "data format error");
    };
    let Some(code) = body["code"].as_str().filter(|c| !c.is_empty()) else {
        return fail(41008, "missing code");
    };
    match state.phone_codes.get_mut(code) {
        None => fail(40029, "invalid code"),
        Some(entry) if entry.used => fail(40163, "code been used"),
        Some(entry) => {
            entry.used = true;
            let timestamp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            ok(json!({
                "errcode": 0,
                "errmsg": "ok",
                "phone_info": {
                    "phoneNumber": entry.phone,
                    "purePhoneNumber": entry.phone,
                    "countryCode": "86",
                    "watermark": {"timestamp": timestamp, "appid": FakeWechat::APPID},
                },
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    async fn login(fake: &FakeWechat, code: &str) -> Value {
        client()
            .get(format!("{}/sns/jscode2session", fake.base_url()))
            .query(&[
                ("appid", FakeWechat::APPID),
                ("secret", FakeWechat::SECRET),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn token(fake: &FakeWechat, force: bool) -> Value {
        client()
            .post(format!("{}/cgi-bin/stable_token", fake.base_url()))
            .json(
                &json!({"grant_type": "client_credential", "appid": FakeWechat::APPID,
                "secret": FakeWechat::SECRET, "force_refresh": force}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn phone(fake: &FakeWechat, token: &str, code: &str) -> Value {
        client()
            .post(format!(
                "{}/wxa/business/getuserphonenumber",
                fake.base_url()
            ))
            .query(&[("access_token", token)])
            .json(&json!({"code": code}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn login_codes_work_once() {
        let fake = FakeWechat::start().await;
        fake.add_login_code("c1", "o-1", Some("u-1"));
        fake.fail_next_login(45011);
        assert_eq!(login(&fake, "c1").await["errcode"], 45011);
        let first = login(&fake, "c1").await;
        assert_eq!(first["openid"], "o-1");
        assert_eq!(first["unionid"], "u-1");
        assert_eq!(login(&fake, "c1").await["errcode"], 40163);
        assert_eq!(login(&fake, "nope").await["errcode"], 40029);
        assert_eq!(fake.login_calls(), 4);
    }

    #[tokio::test]
    async fn tokens_and_phone_numbers() {
        let fake = FakeWechat::start().await;
        fake.add_phone_code("p1", "13800000000");
        fake.add_phone_code("p2", "13900000000");
        let t1 = token(&fake, false).await;
        assert_eq!(t1["access_token"], "tok-1");
        assert!(t1["expires_in"].as_u64().unwrap() > 7000);
        assert_eq!(token(&fake, false).await["access_token"], "tok-1");
        assert_eq!(phone(&fake, "bogus", "p1").await["errcode"], 40001);
        let answer = phone(&fake, "tok-1", "p1").await;
        assert_eq!(answer["errcode"], 0);
        assert_eq!(answer["phone_info"]["purePhoneNumber"], "13800000000");
        assert_eq!(answer["phone_info"]["countryCode"], "86");
        assert_eq!(
            answer["phone_info"]["watermark"]["appid"],
            FakeWechat::APPID
        );
        assert_eq!(phone(&fake, "tok-1", "p1").await["errcode"], 40163);

        fake.expire_access_tokens();
        assert_eq!(phone(&fake, "tok-1", "p2").await["errcode"], 42001);
        assert_eq!(token(&fake, false).await["access_token"], "tok-2");
        assert_eq!(token(&fake, true).await["access_token"], "tok-3");
        assert_eq!(phone(&fake, "tok-2", "p2").await["errcode"], 42001);
        assert_eq!(
            phone(&fake, "tok-3", "p2").await["phone_info"]["purePhoneNumber"],
            "13900000000"
        );
        assert_eq!(fake.stable_token_calls(), 4);
        assert_eq!(fake.force_refresh_calls(), 1);
    }

    #[tokio::test]
    async fn stable_token_checks_credentials() {
        let fake = FakeWechat::start().await;
        let wrong_secret: Value = client()
            .post(format!("{}/cgi-bin/stable_token", fake.base_url()))
            .json(
                &json!({"grant_type": "client_credential", "appid": FakeWechat::APPID,
                "secret": "nope"}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(wrong_secret["errcode"], 40125);
        let wrong_app: Value = client()
            .post(format!("{}/cgi-bin/stable_token", fake.base_url()))
            .json(
                &json!({"grant_type": "client_credential", "appid": "wx-other",
                "secret": FakeWechat::SECRET}),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(wrong_app["errcode"], 40013);
    }
}
