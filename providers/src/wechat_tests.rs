//! Tests of `wechat`.
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
    ResponseTemplate::new(200).set_body_json(
        serde_json::json!({"errcode": 0, "errmsg": "ok", "msgid": 2_908_517_396_084_883_457_u64}),
    )
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
async fn subscribe_messages_go_the_same_through_reqwest_behind_a_proxy() {
    // Behind a proxy (HTTPS_PROXY and the like) the lean client stands aside.
    type Check = fn(&Result<(), WechatError>) -> bool;
    let cases: [(ResponseTemplate, Check); 3] = [
        (wechat_error(0, "ok"), |r| r.is_ok()),
        (wechat_error(43101, "refused"), |r| {
            matches!(r, Err(WechatError::NotSubscribed))
        }),
        (
            ResponseTemplate::new(502),
            |r| matches!(r, Err(WechatError::Transport(m)) if m == "HTTP 502"),
        ),
    ];
    for (answer, expected) in cases {
        let mut s = setup().await;
        s.client.lean = None;
        mount_tokens(&s.server, Tokens::default()).await;
        mount_subscribe(&s.server, "tok-1", answer).await;
        let result = s
            .client
            .send_subscribe_message("o-1", "tmpl", None, &subscribe_data())
            .await;
        assert!(expected(&result), "{result:?}");
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

#[tokio::test]
async fn an_oversized_answer_is_a_transport_error_not_a_memory_hog() {
    let s = setup().await;
    // Refused by its declared length, before a byte of it is read.
    mount_login(
        &s.server,
        ResponseTemplate::new(200).set_body_raw(
            format!(
                r#"{{"openid":"o-3","pad":"{}"}}"#,
                "x".repeat(crate::MAX_ANSWER_BYTES)
            )
            .into_bytes(),
            "application/json",
        ),
    )
    .await;
    let error = s.client.code2session("the-code").await;
    assert!(
        matches!(&error, Err(WechatError::Transport(m)) if m.contains("larger than")),
        "{error:?}"
    );
}
