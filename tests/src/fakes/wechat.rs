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
//! - `POST /cgi-bin/message/subscribe/send?access_token=…` — needs a current token (as
//!   above); then, in order: [`FakeWechat::fail_next_subscribe`] injects an error (45009,
//!   -1, …); an empty `touser` is 40003; a template not registered with
//!   [`FakeWechat::add_template`] is 40037; missing or empty `data`, a value that is not
//!   `{"value": "<non-empty string>"}`, a `thing*` value over 20 characters or a `phrase*`
//!   value that is not 1–5 Chinese characters is 47003 (naming the field, like WeChat); a
//!   user without a credit for the template (see [`FakeWechat::subscribe`]) is 43101. A
//!   delivered message uses up one credit and is recorded
//!   ([`FakeWechat::subscribe_messages`]).
//!
//! Like WeChat, every error is HTTP 200 with `{"errcode", "errmsg"}`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};

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

/// A delivered subscribe message: openid, template id, and the data as (keyword, value)
/// sorted by keyword.
pub type SubscribeMessage = (String, String, Vec<(String, String)>);

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
    /// Subscribe-message templates the mini-program has.
    templates: HashSet<String>,
    /// Credits and deliveries by openid (looked up by `&str`: a message costs the fake the
    /// same whichever openid it is for, no key allocated and no table of every delivery).
    subscribers: HashMap<String, Subscriber>,
    subscribe_messages: Vec<SubscribeMessage>,
    /// Whether to keep every message in `subscribe_messages` (not under load).
    keep_messages: bool,
    /// The (template id, `thing1` value) of delivered messages, numbered in order of first
    /// delivery, and the numbers by template id and value.
    messages: Vec<(String, String)>,
    message_numbers: HashMap<String, HashMap<String, u32>>,
    delivered_total: usize,
    /// Per `thing1` value: distinct (openid, template) reached, and deliveries beyond the
    /// first to one of them.
    by_thing1: HashMap<String, (usize, usize)>,
    /// Error codes to answer the next subscribe/send calls with, in order.
    fail_next_subscribe: VecDeque<i64>,
    subscribe_calls: usize,
    /// How long a subscribe/send answer takes after the message is delivered.
    subscribe_delay: Duration,
}

/// One openid's side of subscribe messages.
#[derive(Default)]
struct Subscriber {
    /// Credits left by template id.
    credits: HashMap<String, u32>,
    /// Deliveries by message number (see `State::messages`).
    delivered: Vec<(u32, u32)>,
}

impl State {
    /// The number of the message (`template_id`, `thing1`), given on its first delivery.
    fn message_number(&mut self, template_id: &str, thing1: &str) -> u32 {
        if let Some(n) = self
            .message_numbers
            .get(template_id)
            .and_then(|m| m.get(thing1))
        {
            return *n;
        }
        let n = u32::try_from(self.messages.len()).expect("fewer than 2^32 messages");
        self.messages
            .push((template_id.to_owned(), thing1.to_owned()));
        self.message_numbers
            .entry(template_id.to_owned())
            .or_default()
            .insert(thing1.to_owned(), n);
        n
    }

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
///
/// Served by actix-web rather than wiremock: wiremock keeps a copy of every request a mock
/// matched, which a benchmark sending millions of messages cannot afford.
pub struct FakeWechat {
    base_url: String,
    handle: actix_web::dev::ServerHandle,
    state: Arc<Mutex<State>>,
}

impl Drop for FakeWechat {
    fn drop(&mut self) {
        // Sends the stop command now; nothing waits for it.
        drop(self.handle.stop(false));
    }
}

impl FakeWechat {
    pub const APPID: &'static str = "wx-test-app";
    pub const SECRET: &'static str = "wx-test-secret";

    pub async fn start() -> Self {
        Self::start_keeping(true).await
    }

    /// For benchmarks: delivered messages are only counted ([`FakeWechat::delivered_counts`]),
    /// not kept.
    pub async fn start_for_load() -> Self {
        Self::start_keeping(false).await
    }

    async fn start_keeping(keep_messages: bool) -> Self {
        let state = Arc::new(Mutex::new(State {
            keep_messages,
            ..State::default()
        }));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind the fake WeChat");
        let port = listener.local_addr().expect("local address").port();
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(handle))
        })
        .listen(listener)
        .expect("listen")
        .disable_signals()
        // One thread, like the wiremock servers of the other fakes: a load generator and
        // the dispatchers meet the same single-threaded endpoint.
        .workers(1)
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            handle,
            state,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    /// The settings that point the application at this fake, with subscribe-message
    /// `templates` (`category:template,…`) when given.
    pub fn env(&self, templates: Option<&str>) -> HashMap<String, String> {
        let mut env: HashMap<String, String> = [
            ("GONGYOU_WECHAT_APPID", Self::APPID.to_owned()),
            ("GONGYOU_WECHAT_SECRET", Self::SECRET.to_owned()),
            ("GONGYOU_WECHAT_BASE_URL", self.base_url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        if let Some(templates) = templates {
            env.insert("GONGYOU_WECHAT_TEMPLATES".into(), templates.to_owned());
        }
        env
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

    /// A subscribe-message template of the mini-program (others are 40037).
    pub fn add_template(&self, template_id: &str) {
        lock(&self.state).templates.insert(template_id.to_owned());
    }

    /// `openid` accepted `template_id` `credits` times in `wx.requestSubscribeMessage`:
    /// adds that many credits (each delivered message uses one; none left is 43101).
    pub fn subscribe(&self, openid: &str, template_id: &str, credits: u32) {
        let mut state = lock(&self.state);
        let held = state
            .subscribers
            .entry(openid.to_owned())
            .or_default()
            .credits
            .entry(template_id.to_owned())
            .or_default();
        *held = held.saturating_add(credits);
    }

    /// The credits `openid` has left for `template_id`.
    pub fn subscribe_credits(&self, openid: &str, template_id: &str) -> u32 {
        lock(&self.state)
            .subscribers
            .get(openid)
            .and_then(|s| s.credits.get(template_id))
            .copied()
            .unwrap_or(0)
    }

    /// Every delivered subscribe message, in order: openid, template id, and the data as
    /// (keyword, value) sorted by keyword.
    pub fn subscribe_messages(&self) -> Vec<SubscribeMessage> {
        lock(&self.state).subscribe_messages.clone()
    }

    /// The next subscribe/send call (after the token check) answers `errcode` (e.g. 45009
    /// rate limit, -1 busy) and delivers nothing; several calls queue up, in order.
    pub fn fail_next_subscribe(&self, errcode: i64) {
        lock(&self.state).fail_next_subscribe.push_back(errcode);
    }

    /// From now on, subscribe/send delivers the message and then takes `delay` to answer
    /// (zero: at once). A sender killed meanwhile has delivered messages it never heard of.
    pub fn slow_subscribes(&self, delay: Duration) {
        lock(&self.state).subscribe_delay = delay;
    }

    /// Calls to subscribe/send (errors included).
    pub fn subscribe_calls(&self) -> usize {
        lock(&self.state).subscribe_calls
    }

    /// Delivered messages, in all.
    pub fn delivered_total(&self) -> usize {
        lock(&self.state).delivered_total
    }

    /// Delivered messages counted by (openid, template id, `thing1` value): a count above
    /// one is a message delivered twice.
    pub fn delivered_counts(&self) -> HashMap<(String, String, String), u32> {
        let state = lock(&self.state);
        let mut counts = HashMap::new();
        for (openid, subscriber) in &state.subscribers {
            for (number, n) in &subscriber.delivered {
                let (template_id, thing1) = &state.messages[*number as usize];
                counts.insert((openid.clone(), template_id.clone(), thing1.clone()), *n);
            }
        }
        counts
    }

    /// For messages whose `thing1` is `value`: how many (openid, template) were reached, and
    /// how many deliveries repeated one.
    pub fn reached_by_thing1(&self, value: &str) -> (usize, usize) {
        lock(&self.state)
            .by_thing1
            .get(value)
            .copied()
            .unwrap_or_default()
    }
}

/// An answer: like WeChat, always HTTP 200.
struct Answer {
    body: Value,
    /// Served as `text/plain` (jscode2session), not JSON.
    text: bool,
}

fn ok(body: Value) -> Answer {
    Answer { body, text: false }
}

fn fail(errcode: i64, errmsg: &str) -> Answer {
    ok(json!({"errcode": errcode, "errmsg": errmsg}))
}

fn default_errmsg(errcode: i64) -> &'static str {
    match errcode {
        -1 => "system error",
        45011 => "api minute-quota reach limit  mustslower  retry next minute",
        45009 => "reach max api daily quota limit",
        43101 => "user refuse to accept the msg",
        40003 => "invalid openid",
        40037 => "invalid template_id",
        40029 => "invalid code",
        40163 => "code been used",
        40226 => "invalid code: high risk user",
        _ => "fake error",
    }
}

fn query(request: &HttpRequest) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://fake/?{}", request.query_string()))
        .map(|url| url.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

async fn handle(
    state: web::Data<Arc<Mutex<State>>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let q = query(&request);
    let answer = match (request.method().as_str(), request.path()) {
        ("GET", "/sns/jscode2session") => login(&mut lock(&state), &q),
        ("POST", "/cgi-bin/stable_token") => stable_token(&mut lock(&state), &body),
        ("POST", "/wxa/business/getuserphonenumber") => phone_number(&mut lock(&state), &q, &body),
        ("POST", "/cgi-bin/message/subscribe/send") => {
            // The body is read before the lock is taken, so load is not serialised on it.
            let parsed = serde_json::from_slice::<Value>(&body).ok();
            let (answer, delay) = {
                let mut state = lock(&state);
                (subscribe(&mut state, &q, parsed), state.subscribe_delay)
            };
            if !delay.is_zero() {
                tokio::time::sleep(delay).await;
            }
            answer
        }
        _ => return HttpResponse::NotFound().finish(),
    };
    HttpResponse::Ok()
        .content_type(if answer.text {
            "text/plain"
        } else {
            "application/json"
        })
        .body(answer.body.to_string())
}

fn login(state: &mut State, q: &HashMap<String, String>) -> Answer {
    state.login_calls += 1;
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
            Answer { body, text: true }
        }
    }
}

fn stable_token(state: &mut State, raw: &[u8]) -> Answer {
    state.stable_token_calls += 1;
    let Ok(body) = serde_json::from_slice::<Value>(raw) else {
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

fn phone_number(state: &mut State, q: &HashMap<String, String>, raw: &[u8]) -> Answer {
    state.phone_number_calls += 1;
    let Some(token) = q.get("access_token").filter(|t| !t.is_empty()) else {
        return fail(41001, "access_token missing");
    };
    if let Err((errcode, errmsg)) = state.check_token(token) {
        return fail(errcode, errmsg);
    }
    let Ok(body) = serde_json::from_slice::<Value>(raw) else {
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

const THING_MAX_CHARS: usize = 20;
const PHRASE_MAX_CHARS: usize = 5;

fn is_chinese(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}'
        | '\u{20000}'..='\u{323AF}')
}

/// Whether `value` obeys the rule of the field `keyword` (only `thing` and `phrase` are
/// checked).
fn value_fits(keyword: &str, value: &str) -> bool {
    let count = value.chars().count();
    match keyword.trim_end_matches(|c: char| c.is_ascii_digit()) {
        "thing" => count <= THING_MAX_CHARS,
        "phrase" => count <= PHRASE_MAX_CHARS && value.chars().all(is_chinese),
        _ => true,
    }
}

fn invalid_data(keyword: &str) -> Answer {
    fail(
        47003,
        &format!("argument invalid! data.{keyword}.value invalid"),
    )
}

fn subscribe(state: &mut State, q: &HashMap<String, String>, body: Option<Value>) -> Answer {
    state.subscribe_calls += 1;
    let Some(token) = q.get("access_token").filter(|t| !t.is_empty()) else {
        return fail(41001, "access_token missing");
    };
    if let Err((errcode, errmsg)) = state.check_token(token) {
        return fail(errcode, errmsg);
    }
    if let Some(errcode) = state.fail_next_subscribe.pop_front() {
        return fail(errcode, default_errmsg(errcode));
    }
    let Some(body) = body else {
        return fail(47001, "data format error");
    };
    let Some(openid) = body["touser"].as_str().filter(|o| !o.is_empty()) else {
        return fail(40003, default_errmsg(40003));
    };
    let Some(template_id) = body["template_id"]
        .as_str()
        .filter(|t| state.templates.contains(*t))
    else {
        return fail(40037, default_errmsg(40037));
    };
    let Some(fields) = body["data"].as_object().filter(|d| !d.is_empty()) else {
        return fail(47003, "argument invalid! data is empty");
    };
    let mut data = Vec::with_capacity(fields.len());
    for (keyword, field) in fields {
        match field["value"].as_str() {
            Some(value) if !value.is_empty() && value_fits(keyword, value) => {
                data.push((keyword.clone(), value.to_owned()));
            }
            _ => return invalid_data(keyword),
        }
    }
    data.sort();
    match state
        .subscribers
        .get_mut(openid)
        .and_then(|s| s.credits.get_mut(template_id))
    {
        Some(credits) if *credits > 0 => *credits -= 1,
        _ => return fail(43101, default_errmsg(43101)),
    }
    let thing1 = data
        .iter()
        .find(|(k, _)| k == "thing1")
        .map_or("", |(_, v)| v.as_str());
    let number = state.message_number(template_id, thing1);
    let Some(subscriber) = state.subscribers.get_mut(openid) else {
        return fail(43101, default_errmsg(43101));
    };
    let first = match subscriber.delivered.iter_mut().find(|(m, _)| *m == number) {
        Some((_, n)) => {
            *n += 1;
            false
        }
        None => {
            subscriber.delivered.push((number, 1));
            true
        }
    };
    if !state.by_thing1.contains_key(thing1) {
        state.by_thing1.insert(thing1.to_owned(), (0, 0));
    }
    let Some(tally) = state.by_thing1.get_mut(thing1) else {
        return fail(-1, "system error");
    };
    if first {
        tally.0 += 1;
    } else {
        tally.1 += 1;
    }
    state.delivered_total += 1;
    if state.keep_messages {
        state
            .subscribe_messages
            .push((openid.to_owned(), template_id.to_owned(), data));
    }
    ok(json!({"errcode": 0, "errmsg": "ok", "msgid": state.delivered_total}))
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

    async fn send_subscribe(fake: &FakeWechat, token: &str, body: Value) -> Value {
        client()
            .post(format!(
                "{}/cgi-bin/message/subscribe/send",
                fake.base_url()
            ))
            .query(&[("access_token", token)])
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    fn message(openid: &str, template: &str, data: Value) -> Value {
        json!({"touser": openid, "template_id": template, "page": "pages/index/index",
            "data": data, "miniprogram_state": "formal", "lang": "zh_CN"})
    }

    fn hired() -> Value {
        json!({"thing1": {"value": "水电安装"}, "amount2": {"value": "350元"},
            "time3": {"value": "2026年07月15日 14:00"}, "phrase4": {"value": "已录用"}})
    }

    #[tokio::test]
    async fn subscribe_messages_use_credits() {
        let fake = FakeWechat::start().await;
        fake.add_template("tmpl-hired");
        let token = token(&fake, false).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();

        // No credit yet.
        let refused = send_subscribe(&fake, &token, message("o-1", "tmpl-hired", hired())).await;
        assert_eq!(refused["errcode"], 43101);
        assert_eq!(refused["errmsg"], "user refuse to accept the msg");

        fake.subscribe("o-1", "tmpl-hired", 1);
        fake.subscribe("o-1", "tmpl-hired", 1);
        assert_eq!(fake.subscribe_credits("o-1", "tmpl-hired"), 2);
        for _ in 0..2 {
            let sent = send_subscribe(&fake, &token, message("o-1", "tmpl-hired", hired())).await;
            assert_eq!(sent["errcode"], 0);
            assert_eq!(sent["errmsg"], "ok");
        }
        assert_eq!(fake.subscribe_credits("o-1", "tmpl-hired"), 0);
        let used_up = send_subscribe(&fake, &token, message("o-1", "tmpl-hired", hired())).await;
        assert_eq!(used_up["errcode"], 43101);
        // Credits belong to one user.
        let other = send_subscribe(&fake, &token, message("o-2", "tmpl-hired", hired())).await;
        assert_eq!(other["errcode"], 43101);

        let messages = fake.subscribe_messages();
        assert_eq!(messages.len(), 2);
        assert_eq!(
            messages[0],
            (
                "o-1".to_owned(),
                "tmpl-hired".to_owned(),
                vec![
                    ("amount2".to_owned(), "350元".to_owned()),
                    ("phrase4".to_owned(), "已录用".to_owned()),
                    ("thing1".to_owned(), "水电安装".to_owned()),
                    ("time3".to_owned(), "2026年07月15日 14:00".to_owned()),
                ]
            )
        );
        assert_eq!(fake.subscribe_calls(), 5);
    }

    #[tokio::test]
    async fn subscribe_messages_are_checked() {
        let fake = FakeWechat::start().await;
        fake.add_template("tmpl");
        fake.subscribe("o-1", "tmpl", 10);
        let token = token(&fake, false).await["access_token"]
            .as_str()
            .unwrap()
            .to_owned();

        assert_eq!(
            send_subscribe(&fake, "bogus", message("o-1", "tmpl", hired())).await["errcode"],
            40001
        );
        assert_eq!(
            send_subscribe(&fake, &token, message("", "tmpl", hired())).await["errcode"],
            40003
        );
        assert_eq!(
            send_subscribe(&fake, &token, message("o-1", "nope", hired())).await["errcode"],
            40037
        );
        let twenty = "一二三四五六七八九十一二三四五六七八九十";
        let fits = send_subscribe(
            &fake,
            &token,
            message("o-1", "tmpl", json!({"thing1": {"value": twenty}})),
        )
        .await;
        assert_eq!(fits["errcode"], 0);
        let long = send_subscribe(
            &fake,
            &token,
            message(
                "o-1",
                "tmpl",
                json!({"thing1": {"value": format!("{twenty}多")}}),
            ),
        )
        .await;
        assert_eq!(long["errcode"], 47003);
        assert_eq!(
            long["errmsg"],
            "argument invalid! data.thing1.value invalid"
        );
        for data in [
            json!({"phrase4": {"value": "邀请金到账提醒"}}),
            json!({"phrase4": {"value": "OK"}}),
            json!({"thing1": {"value": ""}}),
            json!({"thing1": "水电"}),
            json!({}),
        ] {
            let answer = send_subscribe(&fake, &token, message("o-1", "tmpl", data.clone())).await;
            assert_eq!(answer["errcode"], 47003, "{data}");
        }

        fake.fail_next_subscribe(45009);
        fake.fail_next_subscribe(-1);
        assert_eq!(
            send_subscribe(&fake, &token, message("o-1", "tmpl", hired())).await["errcode"],
            45009
        );
        assert_eq!(
            send_subscribe(&fake, &token, message("o-1", "tmpl", hired())).await["errcode"],
            -1
        );
        assert_eq!(
            send_subscribe(&fake, &token, message("o-1", "tmpl", hired())).await["errcode"],
            0
        );
        // Refused messages use no credit: 10 - 2 delivered.
        assert_eq!(fake.subscribe_credits("o-1", "tmpl"), 8);
        assert_eq!(fake.subscribe_messages().len(), 2);

        fake.expire_access_tokens();
        assert_eq!(
            send_subscribe(&fake, &token, message("o-1", "tmpl", hired())).await["errcode"],
            42001
        );
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
