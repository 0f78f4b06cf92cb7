//! The client against the fake WeChat Pay server, over real HTTP on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use gongyou_db::kv::Kv;
use gongyou_domain::clock::SystemClock;
use gongyou_domain::payout::{after_failure, AfterFailure, TransferState};
use secrecy::SecretString;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::fake::{
    CallbackMode, FakeSigner, NotificationTweak, FAKE_PLATFORM_SERIAL, FAKE_PUBLIC_KEY_ID,
};
use super::*;

const NOWHERE: &str = "http://127.0.0.1:9/notify";

fn kv() -> Kv {
    Kv::new(None, "t:", Arc::new(SystemClock)).unwrap()
}

fn number() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn client(settings: WechatPaySettings) -> WechatPayClient {
    WechatPayClient::new(settings, crate::http_client().unwrap(), kv()).unwrap()
}

async fn fake() -> FakeWechatPay {
    FakeWechatPay::start(FakeConfig {
        callback_retry_delay: Duration::from_millis(50),
        ..FakeConfig::default()
    })
    .await
    .unwrap()
}

async fn setup() -> (FakeWechatPay, WechatPayClient) {
    let fake = fake().await;
    let client = client(fake.settings_for_client(NOWHERE));
    (fake, client)
}

fn transfer(out_bill_no: &str, amount_fen: i64) -> TransferRequest {
    TransferRequest {
        out_bill_no: out_bill_no.to_owned(),
        openid: "o-MYE42l80oelYMDE34nYD456Xoy".into(),
        amount_fen,
        remark: "工会互助金".into(),
        user_name: None,
    }
}

/// A notify_url that answers 204 and keeps what it received.
async fn receiver() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&server)
        .await;
    server
}

async fn wait_for_requests(server: &MockServer, count: usize) -> Vec<wiremock::Request> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let received = server.received_requests().await.unwrap_or_default();
        if received.len() >= count || Instant::now() > deadline {
            return received;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn headers_of(request: &wiremock::Request) -> NotificationHeaders {
    NotificationHeaders::from_lookup(|name| {
        request
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    })
}

#[tokio::test]
async fn create_query_confirm_and_cancel() {
    let (fake, client) = setup().await;
    let no = number();
    let bill = client.create_transfer(&transfer(&no, 1_234)).await.unwrap();
    assert_eq!(bill.out_bill_no, no);
    assert_eq!(bill.state, TransferState::WaitUserConfirm);
    assert!(bill.package_info.is_some());
    let transfer_bill_no = bill.transfer_bill_no.clone().unwrap();
    assert!(bill.create_time.is_some());

    let held = fake.bill(&no).unwrap();
    assert_eq!(held.amount_fen, 1_234);
    assert_eq!(held.remark, "工会互助金");
    assert_eq!(held.appid, client.appid());
    assert_eq!(held.transfer_scene_id, "1000");
    assert_eq!(held.report_infos.len(), 2);
    assert_eq!(held.user_name, None);

    let by_out = client.query_by_out_bill_no(&no).await.unwrap();
    assert_eq!(by_out.state, TransferState::WaitUserConfirm);
    assert_eq!(by_out.amount_fen, Some(1_234));
    assert_eq!(
        by_out.transfer_bill_no.as_deref(),
        Some(transfer_bill_no.as_str())
    );
    assert_eq!(
        by_out.openid.as_deref(),
        Some("o-MYE42l80oelYMDE34nYD456Xoy")
    );

    assert!(fake.confirm(&no));
    let by_number = client
        .query_by_transfer_bill_no(&transfer_bill_no)
        .await
        .unwrap();
    assert_eq!(by_number.state, TransferState::Success);
    assert_eq!(by_number.out_bill_no, no);
    assert_eq!(fake.total_paid_fen(), 1_234);

    // A paid bill cannot be cancelled; a waiting one can.
    let refused = client.cancel(&no).await.unwrap_err();
    assert!(
        matches!(refused, WechatPayError::Refused { status: 400, .. }),
        "{refused:?}"
    );
    let other = number();
    client
        .create_transfer(&transfer(&other, 500))
        .await
        .unwrap();
    let cancelled = client.cancel(&other).await.unwrap();
    assert_eq!(cancelled.state, TransferState::Canceling);
    let after = client.query_by_out_bill_no(&other).await.unwrap();
    assert_eq!(after.state, TransferState::Cancelled);
    assert_eq!(fake.total_paid_fen(), 1_234);

    // No such bill.
    let missing = client.query_by_out_bill_no(&number()).await.unwrap_err();
    assert!(matches!(missing, WechatPayError::NotFound), "{missing:?}");
    let missing = client
        .query_by_transfer_bill_no("1330000000000000000")
        .await
        .unwrap_err();
    assert!(matches!(missing, WechatPayError::NotFound), "{missing:?}");
    // A number that would change the path is refused before sending.
    let bad = client
        .query_by_out_bill_no("../../v3/other")
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Some("PARAM_ERROR"));
}

#[tokio::test]
async fn the_same_number_returns_the_same_bill_and_different_parameters_are_refused() {
    let (fake, client) = setup().await;
    let no = number();
    let first = client.create_transfer(&transfer(&no, 2_000)).await.unwrap();
    let again = client.create_transfer(&transfer(&no, 2_000)).await.unwrap();
    assert_eq!(first.transfer_bill_no, again.transfer_bill_no);
    assert_eq!(fake.creates(&no), 2);
    assert_eq!(fake.bills().len(), 1);

    let changed = client
        .create_transfer(&transfer(&no, 2_001))
        .await
        .unwrap_err();
    match &changed {
        WechatPayError::Refused {
            status,
            code,
            message,
        } => {
            assert_eq!((*status, code.as_str()), (400, "INVALID_REQUEST"));
            assert_eq!(message, "单号已存在但信息不一致");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        after_failure(changed.http_status(), changed.code()),
        AfterFailure::Permanent
    );
    assert_eq!(fake.bills().len(), 1);
}

#[tokio::test]
async fn names_are_required_from_two_thousand_yuan_and_reach_wechat_pay_encrypted() {
    let (fake, client) = setup().await;
    let no = number();
    let refused = client
        .create_transfer(&transfer(&no, 200_000))
        .await
        .unwrap_err();
    assert_eq!(refused.http_status(), Some(400));
    assert_eq!(refused.code(), Some("PARAM_ERROR"));
    assert!(fake.bill(&no).is_none());

    let mut named = transfer(&no, 200_000);
    named.user_name = Some("张三".into());
    let bill = client.create_transfer(&named).await.unwrap();
    assert_eq!(bill.state, TransferState::WaitUserConfirm);
    assert_eq!(fake.bill(&no).unwrap().user_name.as_deref(), Some("张三"));
    assert_eq!(client.encrypting_key_id(), FAKE_PUBLIC_KEY_ID);
    // Sent again, the name encrypts differently but is the same name: the same bill.
    let again = client.create_transfer(&named).await.unwrap();
    assert_eq!(again.transfer_bill_no, bill.transfer_bill_no);
    // Another name under the same number is another request.
    named.user_name = Some("李四".into());
    let changed = client.create_transfer(&named).await.unwrap_err();
    assert_eq!(changed.code(), Some("INVALID_REQUEST"));
    // Nothing of the name or the whole openid in Debug.
    let shown = format!("{named:?} {bill:?}");
    assert!(
        !shown.contains("李四") && !shown.contains("o-MYE42l80oelYMDE34nYD456Xoy"),
        "{shown}"
    );
}

#[tokio::test]
async fn a_system_error_is_retried_under_the_same_number_and_a_limit_is_permanent() {
    let (fake, client) = setup().await;
    let no = number();
    fake.fail_next_create_with_system_error();
    let busy = client
        .create_transfer(&transfer(&no, 300))
        .await
        .unwrap_err();
    match &busy {
        WechatPayError::Retry { status, code, .. } => {
            assert_eq!((*status, code.as_str()), (500, "SYSTEM_ERROR"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        after_failure(busy.http_status(), busy.code()),
        AfterFailure::RetrySame
    );
    assert!(fake.bill(&no).is_none());
    client.create_transfer(&transfer(&no, 300)).await.unwrap();
    assert_eq!((fake.creates(&no), fake.bills().len()), (2, 1));

    fake.set_per_transfer_limit(Some(50_000));
    let over = client
        .create_transfer(&transfer(&number(), 50_001))
        .await
        .unwrap_err();
    assert!(
        matches!(over, WechatPayError::Refused { status: 403, .. }),
        "{over:?}"
    );
    assert_eq!(
        after_failure(over.http_status(), over.code()),
        AfterFailure::Permanent
    );
    client
        .create_transfer(&transfer(&number(), 50_000))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_create_that_times_out_after_acceptance_is_unknown_and_found_by_query() {
    let (fake, client) = setup().await;
    // Warm the connection pool: the dropped connection is then a reused one.
    client.query_by_out_bill_no(&number()).await.unwrap_err();
    let no = number();
    fake.timeout_next_create();
    let unknown = client
        .create_transfer(&transfer(&no, 700))
        .await
        .unwrap_err();
    assert!(matches!(unknown, WechatPayError::Unknown(_)), "{unknown:?}");
    assert_eq!(
        after_failure(unknown.http_status(), unknown.code()),
        AfterFailure::QueryFirst
    );
    assert_eq!(
        fake.creates(&no),
        1,
        "the client did not send it again by itself"
    );
    let found = client.query_by_out_bill_no(&no).await.unwrap();
    assert_eq!(found.state, TransferState::WaitUserConfirm);
    let again = client.create_transfer(&transfer(&no, 700)).await.unwrap();
    assert_eq!(again.transfer_bill_no, found.transfer_bill_no);
    assert_eq!(fake.bills().len(), 1);
}

#[tokio::test]
async fn answers_whose_signature_does_not_verify_are_never_trusted() {
    let (fake, client) = setup().await;
    let no = number();
    fake.corrupt_next_answer();
    let unknown = client
        .create_transfer(&transfer(&no, 900))
        .await
        .unwrap_err();
    assert!(matches!(unknown, WechatPayError::Unknown(_)), "{unknown:?}");
    // It was created, though: the query (signed properly) shows it.
    assert_eq!(
        client.query_by_out_bill_no(&no).await.unwrap().state,
        TransferState::WaitUserConfirm
    );
    fake.corrupt_next_answer();
    let unknown = client.query_by_out_bill_no(&no).await.unwrap_err();
    assert!(matches!(unknown, WechatPayError::Unknown(_)), "{unknown:?}");

    // Answers signed by the platform certificate verify when it is configured…
    fake.set_signer(FakeSigner::Certificate);
    assert_eq!(
        client.query_by_out_bill_no(&no).await.unwrap().out_bill_no,
        no
    );
    // …and not when only the public key is.
    let mut settings = fake.settings_for_client(NOWHERE);
    settings
        .wechatpay_keys
        .retain(|(id, _)| id == FAKE_PUBLIC_KEY_ID);
    let narrow = self::client(settings);
    let unknown = narrow.query_by_out_bill_no(&no).await.unwrap_err();
    assert!(matches!(unknown, WechatPayError::Unknown(_)), "{unknown:?}");
}

#[tokio::test]
async fn requests_signed_with_another_key_are_refused_by_the_fake() {
    let fake = fake().await;
    let mut settings = fake.settings_for_client(NOWHERE);
    settings.merchant_private_key_pem = SecretString::from(include_str!("vectors/test_key.pem"));
    let impostor = client(settings);
    let refused = impostor.query_by_out_bill_no(&number()).await.unwrap_err();
    match refused {
        WechatPayError::Refused { status, code, .. } => {
            assert_eq!((status, code.as_str()), (401, "SIGN_ERROR"))
        }
        other => panic!("{other:?}"),
    }
    let refused = impostor
        .create_transfer(&transfer(&number(), 100))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Some("SIGN_ERROR"));
    assert!(fake.bills().is_empty());
}

#[tokio::test]
async fn notifications_are_verified_and_every_forgery_refused() {
    let (fake, client) = setup().await;
    let no = number();
    client.create_transfer(&transfer(&no, 4_200)).await.unwrap();
    fake.set_callbacks(CallbackMode::Suppressed);
    assert!(fake.confirm(&no));
    let now = Utc::now();

    // Genuine: accepted once, then its nonce is spent.
    let (headers, body) = fake.signed_notification(&no).unwrap();
    let notice = client
        .verify_notification(&headers, &body, now)
        .await
        .unwrap();
    assert_eq!(notice.bill.out_bill_no, no);
    assert_eq!(notice.bill.state, TransferState::Success);
    assert_eq!(notice.bill.amount_fen, Some(4_200));
    assert_eq!(notice.mch_id, client.mch_id());
    assert!(!notice.notification_id.is_empty());
    assert_eq!(
        client.verify_notification(&headers, &body, now).await,
        Err(NotificationError::Replayed)
    );

    // A forged signature (a byte of the body changed) — and it does not burn the nonce.
    let (headers, body) = fake.signed_notification(&no).unwrap();
    let mut forged = body.clone();
    let at = forged.iter().position(|b| *b == b'F').unwrap();
    forged[at] = b'G';
    assert_eq!(
        client.verify_notification(&headers, &forged, now).await,
        Err(NotificationError::BadSignature)
    );
    client
        .verify_notification(&headers, &body, now)
        .await
        .unwrap();

    // Stale: more than 300 s either way.
    let (headers, body) = fake
        .signed_notification_with(
            &no,
            NotificationTweak {
                timestamp: Some(now - chrono::Duration::seconds(301)),
                ..NotificationTweak::default()
            },
        )
        .unwrap();
    assert_eq!(
        client.verify_notification(&headers, &body, now).await,
        Err(NotificationError::Stale)
    );
    // …but 299 s is fine.
    let (headers, body) = fake
        .signed_notification_with(
            &no,
            NotificationTweak {
                timestamp: Some(now + chrono::Duration::seconds(299)),
                ..NotificationTweak::default()
            },
        )
        .unwrap();
    client
        .verify_notification(&headers, &body, now)
        .await
        .unwrap();

    // A signature probe.
    let (mut headers, body) = fake.signed_notification(&no).unwrap();
    headers.signature = Some(format!("WECHATPAY/SIGNTEST/{}", headers.signature.unwrap()));
    assert_eq!(
        client.verify_notification(&headers, &body, now).await,
        Err(NotificationError::BadSignature)
    );
    // Another signature type.
    let (mut headers, body) = fake.signed_notification(&no).unwrap();
    headers.signature_type = Some("WECHATPAY2-SM2-WITH-SM3".into());
    assert_eq!(
        client.verify_notification(&headers, &body, now).await,
        Err(NotificationError::BadSignature)
    );
    // An unknown serial.
    let (mut headers, body) = fake.signed_notification(&no).unwrap();
    headers.serial = Some("PUB_KEY_ID_9999".into());
    assert_eq!(
        client.verify_notification(&headers, &body, now).await,
        Err(NotificationError::UnknownKey)
    );
    // A missing header.
    let (mut headers, body) = fake.signed_notification(&no).unwrap();
    headers.nonce = None;
    assert_eq!(
        client.verify_notification(&headers, &body, now).await,
        Err(NotificationError::Missing("Wechatpay-Nonce"))
    );
    // Another merchant's transfer, genuinely signed.
    let (headers, body) = fake
        .signed_notification_with(
            &no,
            NotificationTweak {
                mch_id: Some("1900000999".into()),
                ..NotificationTweak::default()
            },
        )
        .unwrap();
    assert_eq!(
        client.verify_notification(&headers, &body, now).await,
        Err(NotificationError::OtherMerchant)
    );
    // Another APIv3 key cannot open it.
    let mut settings = fake.settings_for_client(NOWHERE);
    settings.apiv3_key = SecretString::from("another32bytekey0123456789abcdef");
    let wrong_key = self::client(settings);
    let (headers, body) = fake.signed_notification(&no).unwrap();
    assert!(matches!(
        wrong_key.verify_notification(&headers, &body, now).await,
        Err(NotificationError::Malformed(_))
    ));

    // Both keys configured at once (a migration): each verifies.
    for signer in [FakeSigner::PublicKey, FakeSigner::Certificate] {
        let (headers, body) = fake
            .signed_notification_with(
                &no,
                NotificationTweak {
                    signer: Some(signer),
                    ..NotificationTweak::default()
                },
            )
            .unwrap();
        let expected = match signer {
            FakeSigner::PublicKey => FAKE_PUBLIC_KEY_ID,
            FakeSigner::Certificate => FAKE_PLATFORM_SERIAL,
        };
        assert_eq!(headers.serial.as_deref(), Some(expected));
        client
            .verify_notification(&headers, &body, now)
            .await
            .unwrap();
    }
    assert_eq!(NotificationError::Replayed.http_status(), 401);
    assert_eq!(
        NotificationError::Missing("Wechatpay-Nonce").to_string(),
        "missing header Wechatpay-Nonce"
    );
}

#[tokio::test]
async fn final_states_are_called_back_twice_when_told_and_redelivered_after_a_failure() {
    let fake = fake().await;
    let notify = MockServer::start().await;
    // The first delivery fails; the next ones are taken.
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500).set_body_string("{\"code\":\"FAIL\"}"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&notify)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(204))
        .with_priority(2)
        .mount(&notify)
        .await;
    let client = client(fake.settings_for_client(&format!("{}/notify", notify.uri())));

    let paid = number();
    client
        .create_transfer(&transfer(&paid, 1_000))
        .await
        .unwrap();
    assert!(fake.confirm(&paid));
    let received = wait_for_requests(&notify, 2).await;
    assert_eq!(received.len(), 2, "one failed delivery, one retry");
    let deliveries = fake.deliveries();
    assert_eq!(
        deliveries
            .iter()
            .map(|d| (d.attempt, d.status))
            .collect::<Vec<_>>(),
        [(1, Some(500)), (2, Some(204))]
    );
    // Each delivery has its own nonce; both verify.
    let now = Utc::now();
    let first = client
        .verify_notification(&headers_of(&received[0]), &received[0].body, now)
        .await
        .unwrap();
    let second = client
        .verify_notification(&headers_of(&received[1]), &received[1].body, now)
        .await
        .unwrap();
    assert_eq!(first.notification_id, second.notification_id);
    assert_eq!(second.bill.state, TransferState::Success);

    fake.set_callbacks(CallbackMode::Twice);
    let expired = number();
    client
        .create_transfer(&transfer(&expired, 1_000))
        .await
        .unwrap();
    assert!(fake.expire(&expired));
    let received = wait_for_requests(&notify, 4).await;
    assert_eq!(received.len(), 4);
    let notice = client
        .verify_notification(&headers_of(&received[3]), &received[3].body, now)
        .await
        .unwrap();
    assert_eq!(notice.bill.out_bill_no, expired);
    assert_eq!(notice.bill.state, TransferState::Fail);
    assert_eq!(notice.bill.fail_reason.as_deref(), Some("OVERDUE_CLOSE"));

    // Suppressed: nothing comes; only a query finds the end.
    fake.set_callbacks(CallbackMode::Suppressed);
    let failed = number();
    client
        .create_transfer(&transfer(&failed, 1_000))
        .await
        .unwrap();
    assert!(fake.fail_bill(&failed, "TRANSFER_RISK"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(notify.received_requests().await.unwrap().len(), 4);
    let found = client.query_by_out_bill_no(&failed).await.unwrap();
    assert_eq!(found.state, TransferState::Fail);
    assert_eq!(found.fail_reason.as_deref(), Some("TRANSFER_RISK"));
}

#[tokio::test]
async fn auto_confirm_pays_at_once_and_calls_back() {
    let fake = fake().await;
    let notify = receiver().await;
    let client = client(fake.settings_for_client(&format!("{}/notify", notify.uri())));
    fake.set_auto_confirm(true);
    let no = number();
    let created = client.create_transfer(&transfer(&no, 880)).await.unwrap();
    assert_eq!(created.state, TransferState::Accepted);
    assert_eq!(
        client.query_by_out_bill_no(&no).await.unwrap().state,
        TransferState::Success
    );
    let received = wait_for_requests(&notify, 1).await;
    let notice = client
        .verify_notification(&headers_of(&received[0]), &received[0].body, Utc::now())
        .await
        .unwrap();
    assert_eq!(notice.bill.state, TransferState::Success);
    assert_eq!(fake.total_paid_fen(), 880);
}

#[tokio::test]
async fn the_http_control_surface_drives_the_fake() {
    let (fake, client) = setup().await;
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/fake/{path}", fake.base_url());

    let status = http
        .post(control("next-create?fault=system-error"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    let no = number();
    let busy = client
        .create_transfer(&transfer(&no, 100))
        .await
        .unwrap_err();
    assert_eq!(busy.code(), Some("SYSTEM_ERROR"));
    client.create_transfer(&transfer(&no, 100)).await.unwrap();

    let confirm = http
        .post(control(&format!("bills/{no}/confirm")))
        .send()
        .await
        .unwrap();
    assert_eq!(confirm.status(), 200);
    let again = http
        .post(control(&format!("bills/{no}/confirm")))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409, "already paid");
    let creates: serde_json::Value = http
        .get(control(&format!("creates/{no}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(creates["creates"], 2);
    let stats: serde_json::Value = http
        .get(control("stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["bills"], 1);
    assert_eq!(stats["total_paid_fen"], 100);
    let bill: serde_json::Value = http
        .get(control(&format!("bills/{no}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(bill["state"], "SUCCESS");

    let limit = http
        .post(control("limit?fen=100"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(limit, 200);
    let over = client
        .create_transfer(&transfer(&number(), 101))
        .await
        .unwrap_err();
    assert_eq!(over.http_status(), Some(403));
    assert_eq!(
        http.post(control("callbacks?mode=sometimes"))
            .send()
            .await
            .unwrap()
            .status(),
        400
    );
    // The same settings a separate process would build.
    let elsewhere = FakeWechatPay::client_settings(fake.base_url(), NOWHERE, fake.config());
    let other = self::client(elsewhere);
    assert_eq!(
        other.query_by_out_bill_no(&no).await.unwrap().state,
        TransferState::Success
    );
}

#[tokio::test]
async fn creates_and_queries_wait_for_the_shared_rate_limit() {
    let fake = fake().await;
    let mut settings = fake.settings_for_client(NOWHERE);
    settings.requests_per_second = 10;
    let client = client(settings);
    let started = Instant::now();
    for _ in 0..15 {
        let missing = client.query_by_out_bill_no(&number()).await.unwrap_err();
        assert!(matches!(missing, WechatPayError::NotFound));
    }
    // Ten at once, then one every 100 ms.
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn settings_are_checked_at_load_and_never_shown() {
    let fake = fake().await;
    let settings = fake.settings_for_client(NOWHERE);
    let shown = format!("{settings:?}");
    assert!(
        !shown.contains("PRIVATE KEY") && !shown.contains(&fake.config().apiv3_key),
        "{shown}"
    );
    assert!(shown.contains(FAKE_PUBLIC_KEY_ID));

    let http = crate::http_client().unwrap();
    let mut bad = settings.clone();
    bad.merchant_private_key_pem =
        SecretString::from("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----");
    let err = WechatPayClient::new(bad, http.clone(), kv())
        .unwrap_err()
        .to_string();
    assert!(err.contains("merchant private key"), "{err}");
    let mut bad = settings.clone();
    bad.apiv3_key = SecretString::from("short");
    let err = WechatPayClient::new(bad, http.clone(), kv())
        .unwrap_err()
        .to_string();
    assert!(err.contains("32 bytes"), "{err}");
    let mut bad = settings.clone();
    bad.wechatpay_keys[1].0 = "0000AAAA".into();
    let err = WechatPayClient::new(bad, http.clone(), kv())
        .unwrap_err()
        .to_string();
    assert!(err.contains("0000AAAA") && err.contains("serial"), "{err}");
    let mut bad = settings.clone();
    bad.wechatpay_keys.clear();
    assert!(WechatPayClient::new(bad, http.clone(), kv()).is_err());
    // With only the certificate, it encrypts names (and verifies what it signs).
    fake.set_signer(FakeSigner::Certificate);
    let mut only_certificate = settings;
    only_certificate.wechatpay_keys.remove(0);
    let client = WechatPayClient::new(only_certificate, http, kv()).unwrap();
    assert_eq!(client.encrypting_key_id(), FAKE_PLATFORM_SERIAL);
    let mut named = transfer(&number(), 300_000);
    named.user_name = Some("王五".into());
    client.create_transfer(&named).await.unwrap();
    assert_eq!(
        fake.bill(&named.out_bill_no).unwrap().user_name.as_deref(),
        Some("王五")
    );
}

// ---- Fund-flow bills -------------------------------------------------------------------

use std::io::Write as _;

use bytes::Bytes;
use chrono::{NaiveDate, TimeZone};
use futures_util::StreamExt;
use gongyou_domain::clock::ManualClock;
use sha1::Digest;
use wiremock::matchers::path;

use super::fake::{FakeFlow, FakeLedgerLine, BILL_HEADER, BILL_SUMMARY_HEADER};

/// 10:00 on 3 March 2025 in Beijing.
fn bill_day_start() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 3, 2, 0, 0).unwrap()
}

fn bill_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 3, 3).unwrap()
}

/// A fake whose clock stands at [`bill_day_start`], and a client of it.
async fn bill_setup() -> (FakeWechatPay, WechatPayClient, ManualClock) {
    let clock = ManualClock::new(bill_day_start());
    let fake = FakeWechatPay::start(FakeConfig {
        callback_retry_delay: Duration::from_millis(50),
        clock: Some(Arc::new(clock.clone())),
        ..FakeConfig::default()
    })
    .await
    .unwrap();
    fake.set_callbacks(CallbackMode::Suppressed);
    let client = client(fake.settings_for_client(NOWHERE));
    (fake, client, clock)
}

/// Creates a transfer and has the rider confirm it a minute later: SUCCESS. Its
/// `(out_bill_no, transfer_bill_no)`.
async fn paid(
    fake: &FakeWechatPay,
    client: &WechatPayClient,
    clock: &ManualClock,
    fen: i64,
) -> (String, String) {
    let no = number();
    let bill = client.create_transfer(&transfer(&no, fen)).await.unwrap();
    clock.advance(chrono::Duration::minutes(1));
    assert!(fake.confirm(&no));
    (no, bill.transfer_bill_no.unwrap())
}

/// Reads a download to its end: the file and how many chunks it came in.
async fn read_all(download: &mut BillDownload) -> (Vec<u8>, Vec<usize>) {
    let mut file = Vec::new();
    let mut chunks = Vec::new();
    while let Some(chunk) = download.next_chunk().await.unwrap() {
        chunks.push(chunk.len());
        file.extend_from_slice(&chunk);
    }
    (file, chunks)
}

/// Locates, downloads and checks the bill of `date`.
async fn fetch_bill(client: &WechatPayClient, date: NaiveDate) -> Vec<u8> {
    let location = client.fund_flow_bill(date).await.unwrap();
    let mut download = client.download_bill(&location).await.unwrap();
    let (file, _) = read_all(&mut download).await;
    assert_eq!(download.uncompressed_bytes(), file.len() as u64);
    download.finish().unwrap();
    file
}

/// The bill's rows (header, lines, summary header, summary), split on commas (the fake's
/// cells in these tests hold none).
fn rows(file: &[u8]) -> Vec<Vec<String>> {
    let text = std::str::from_utf8(file).unwrap();
    let text = text.strip_prefix('\u{feff}').expect("a BOM first");
    assert!(text.ends_with("\r\n"));
    text.split("\r\n")
        .filter(|row| !row.is_empty())
        .map(|row| row.split(',').map(str::to_owned).collect())
        .collect()
}

/// The bill's lines (not the headers or the summary), each cell without its backtick.
fn lines(file: &[u8]) -> Vec<Vec<String>> {
    let rows = rows(file);
    assert_eq!(rows[0].join(","), BILL_HEADER);
    assert_eq!(rows[rows.len() - 2].join(","), BILL_SUMMARY_HEADER);
    rows[1..rows.len() - 2]
        .iter()
        .map(|row| {
            assert_eq!(row.len(), 11, "{row:?}");
            row.iter()
                .map(|cell| cell.strip_prefix('`').expect("a backtick").to_owned())
                .collect()
        })
        .collect()
}

fn summary(file: &[u8]) -> String {
    rows(file).last().unwrap().join(",")
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data).unwrap();
    encoder.finish().unwrap()
}

fn sha1_hex(data: &[u8]) -> String {
    hex::encode(sha1::Sha1::digest(data))
}

#[tokio::test]
async fn a_days_bill_is_located_downloaded_gunzipped_and_verified() {
    let (fake, client, clock) = bill_setup().await;
    let (first, first_bill) = paid(&fake, &client, &clock, 1_234).await;
    let (second, second_bill) = paid(&fake, &client, &clock, 5_678).await;
    // Neither a transfer waiting for the rider nor a failed one moved money.
    client
        .create_transfer(&transfer(&number(), 999))
        .await
        .unwrap();
    let failed = number();
    client
        .create_transfer(&transfer(&failed, 4_321))
        .await
        .unwrap();
    assert!(fake.fail_bill(&failed, "TRANSFER_RISK"));

    let location = client.fund_flow_bill(bill_day()).await.unwrap();
    assert_eq!(location.hash_type, "SHA1");
    assert!(location.download_url.starts_with(fake.base_url()));
    assert!(!format!("{location:?}").contains("token="), "{location:?}");
    let mut download = client.download_bill(&location).await.unwrap();
    let (file, _) = read_all(&mut download).await;
    download.finish().unwrap();
    assert_eq!(file, fake.statement(bill_day()));
    assert_eq!(location.hash_value, sha1_hex(&file));
    let served = fake.statement_downloads();
    assert_eq!(served.len(), 1);
    assert!(served[0].gzip, "asked and served as gzip");
    assert_eq!(served[0].account_type, "OPERATION");

    assert!(file.starts_with("\u{feff}".as_bytes()));
    let lines = lines(&file);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let expect =
        |line: &[String], time: &str, bill: &str, no: &str, amount: &str, balance: &str| {
            assert_eq!(line[0], time);
            assert_eq!(line[1], bill);
            assert_eq!(line[3], "商家转账");
            assert_eq!(line[5], "支出");
            assert_eq!(line[6], amount);
            assert_eq!(line[7], balance);
            assert_eq!(line[9], "工会互助金");
            assert_eq!(line[10], no);
        };
    expect(
        &lines[0],
        "2025-03-03 10:01:00",
        &first_bill,
        &first,
        "12.34",
        "999987.66",
    );
    expect(
        &lines[1],
        "2025-03-03 10:02:00",
        &second_bill,
        &second,
        "56.78",
        "999930.88",
    );
    assert_ne!(lines[0][2], lines[1][2], "one 资金流水单号 per line");
    assert_eq!(summary(&file), "`2.0,`0.0,`0.00,`2.0,`69.12");

    // Another day: an empty bill, with its summary.
    let empty = fetch_bill(&client, bill_day().pred_opt().unwrap()).await;
    assert!(self::lines(&empty).is_empty());
    assert_eq!(summary(&empty), "`0.0,`0.0,`0.00,`0.0,`0.00");
    // The day is Beijing's: a transfer paid at 23:30 on 3 March UTC is on the 4th.
    clock.set(Utc.with_ymd_and_hms(2025, 3, 3, 16, 30, 0).unwrap());
    let (late, _) = paid(&fake, &client, &clock, 100).await;
    let next_day = fetch_bill(&client, NaiveDate::from_ymd_opt(2025, 3, 4).unwrap()).await;
    let next_lines = self::lines(&next_day);
    assert_eq!(next_lines.len(), 1);
    assert_eq!(next_lines[0][10], late);
    assert_eq!(next_lines[0][0], "2025-03-04 00:31:00");
    assert_eq!(self::lines(&fetch_bill(&client, bill_day()).await).len(), 2);
}

#[tokio::test]
async fn a_large_bill_streams_in_small_chunks_and_as_a_stream() {
    let (fake, client, _clock) = bill_setup().await;
    for i in 0..20_000 {
        fake.inject_unexpected_line(bill_day(), 100 + i);
    }
    let expected = fake.statement(bill_day());
    assert!(expected.len() > 2_000_000);

    let location = client.fund_flow_bill(bill_day()).await.unwrap();
    let mut download = client.download_bill(&location).await.unwrap();
    let (file, chunks) = read_all(&mut download).await;
    download.finish().unwrap();
    assert_eq!(file.len(), expected.len());
    assert!(file == expected);
    assert!(chunks.len() > 20, "{} chunks", chunks.len());
    let largest = chunks.iter().copied().max().unwrap();
    assert!(largest <= 64 * 1024, "a chunk of {largest} bytes");
    assert!(fake.statement_downloads()[0].bytes < expected.len() / 3);

    let location = client.fund_flow_bill(bill_day()).await.unwrap();
    let stream = client.download_bill(&location).await.unwrap().into_stream();
    let items: Vec<Result<Bytes, WechatPayError>> = stream.collect().await;
    assert!(items.iter().all(Result::is_ok));
    let streamed: Vec<u8> = items.into_iter().flat_map(|c| c.unwrap()).collect();
    assert!(streamed == expected);
}

#[tokio::test]
async fn a_bill_not_ready_yet_is_not_ready() {
    let (fake, client, clock) = bill_setup().await;
    paid(&fake, &client, &clock, 1_000).await;
    fake.set_statement_not_ready(bill_day(), true);
    let not_ready = client.fund_flow_bill(bill_day()).await.unwrap_err();
    match &not_ready {
        WechatPayError::NotReady { status, code, .. } => {
            assert_eq!((*status, code.as_str()), (400, "NO_STATEMENT_EXIST"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(not_ready.http_status(), Some(400));
    assert_eq!(not_ready.code(), Some("NO_STATEMENT_EXIST"));
    // Other days are there.
    client
        .fund_flow_bill(bill_day().succ_opt().unwrap())
        .await
        .unwrap();
    fake.set_statement_not_ready(bill_day(), false);
    assert_eq!(lines(&fetch_bill(&client, bill_day()).await).len(), 1);
}

#[tokio::test]
async fn not_ready_answers_are_told_apart_from_other_errors() {
    let server = MockServer::start().await;
    let answer = |status: u16, body: &str| {
        ResponseTemplate::new(status).set_body_raw(body.to_owned().into_bytes(), "application/json")
    };
    let cases = [
        (
            "2025-03-01",
            answer(
                400,
                r#"{"code":"NO_STATEMENT_EXIST","message":"账单不存在"}"#,
            ),
        ),
        (
            "2025-03-02",
            answer(
                400,
                r#"{"code":"STATEMENT_CREATING","message":"账单生成中"}"#,
            ),
        ),
        (
            "2025-03-03",
            answer(404, r#"{"code":"RESOURCE_NOT_EXISTS","message":"x"}"#),
        ),
        ("2025-03-04", ResponseTemplate::new(404)),
        (
            "2025-03-05",
            answer(400, r#"{"code":"PARAM_ERROR","message":"日期错误"}"#),
        ),
        (
            "2025-03-06",
            answer(500, r#"{"code":"SYSTEM_ERROR","message":"繁忙"}"#),
        ),
        (
            "2025-03-07",
            answer(401, r#"{"code":"SIGN_ERROR","message":"签名错误"}"#),
        ),
    ];
    for (date, template) in cases {
        Mock::given(method("GET"))
            .and(path("/v3/bill/fundflowbill"))
            .and(wiremock::matchers::query_param("bill_date", date))
            .and(wiremock::matchers::query_param("account_type", "OPERATION"))
            .and(wiremock::matchers::query_param("tar_type", "GZIP"))
            .respond_with(template)
            .mount(&server)
            .await;
    }
    let fake = fake().await;
    let mut settings = fake.settings_for_client(NOWHERE);
    settings.base_url = server.uri();
    let client = client(settings);
    let day = |d: u32| NaiveDate::from_ymd_opt(2025, 3, d).unwrap();
    for d in 1..=4 {
        let e = client.fund_flow_bill(day(d)).await.unwrap_err();
        assert!(matches!(e, WechatPayError::NotReady { .. }), "{d}: {e:?}");
    }
    let e = client.fund_flow_bill(day(5)).await.unwrap_err();
    assert!(
        matches!(e, WechatPayError::Refused { status: 400, .. }),
        "{e:?}"
    );
    let e = client.fund_flow_bill(day(6)).await.unwrap_err();
    assert!(
        matches!(e, WechatPayError::Retry { status: 500, .. }),
        "{e:?}"
    );
    let e = client.fund_flow_bill(day(7)).await.unwrap_err();
    assert_eq!(e.code(), Some("SIGN_ERROR"));
    // A 404 to a transfer query still means "no such bill", not "not ready".
    let e = client.query_by_out_bill_no(&number()).await.unwrap_err();
    assert!(!matches!(e, WechatPayError::NotReady { .. }), "{e:?}");
}

#[tokio::test]
async fn a_bill_whose_hash_does_not_match_is_refused() {
    let (fake, client, clock) = bill_setup().await;
    paid(&fake, &client, &clock, 1_000).await;
    fake.corrupt_statement_hash(bill_day(), true);
    let location = client.fund_flow_bill(bill_day()).await.unwrap();
    let mut download = client.download_bill(&location).await.unwrap();
    let (file, _) = read_all(&mut download).await;
    assert_eq!(file, fake.statement(bill_day()), "the file itself is sound");
    match download.finish().unwrap_err() {
        WechatPayError::HashMismatch { expected, actual } => {
            assert_eq!(expected, location.hash_value);
            assert_eq!(actual, sha1_hex(&file));
        }
        other => panic!("{other:?}"),
    }
    // As a stream: it ends with the error.
    let items: Vec<_> = client
        .download_bill(&location)
        .await
        .unwrap()
        .into_stream()
        .collect()
        .await;
    assert!(matches!(
        items.last(),
        Some(Err(WechatPayError::HashMismatch { .. }))
    ));
    assert!(items[..items.len() - 1].iter().all(Result::is_ok));

    // Repaired: verified, the hash compared whatever its case.
    fake.corrupt_statement_hash(bill_day(), false);
    let mut location = client.fund_flow_bill(bill_day()).await.unwrap();
    location.hash_value = location.hash_value.to_ascii_uppercase();
    let mut download = client.download_bill(&location).await.unwrap();
    read_all(&mut download).await;
    download.finish().unwrap();
    // Not read to its end: no verdict.
    let download = client.download_bill(&location).await.unwrap();
    assert!(matches!(download.finish(), Err(WechatPayError::Unknown(_))));
    // A hash that is not a SHA-1 is refused before downloading.
    let served = fake.statement_downloads().len();
    for (hash_type, hash_value) in [("MD5", location.hash_value.as_str()), ("SHA1", "abc")] {
        let odd = BillLocation {
            hash_type: hash_type.into(),
            hash_value: hash_value.into(),
            ..location.clone()
        };
        let e = client.download_bill(&odd).await.unwrap_err();
        assert!(matches!(e, WechatPayError::Unknown(_)), "{e:?}");
    }
    assert_eq!(fake.statement_downloads().len(), served);
}

#[tokio::test]
async fn a_download_url_on_another_host_is_refused_before_sending() {
    let (fake, client, clock) = bill_setup().await;
    paid(&fake, &client, &clock, 1_000).await;
    let location = client.fund_flow_bill(bill_day()).await.unwrap();
    let elsewhere = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(fake.statement(bill_day())))
        .mount(&elsewhere)
        .await;
    let tail = location
        .download_url
        .strip_prefix(fake.base_url())
        .unwrap()
        .to_owned();
    let port = fake.addr().port();
    for url in [
        format!("{}{tail}", elsewhere.uri()),
        format!("http://localhost:{port}{tail}"),
        format!("https://127.0.0.1:{port}{tail}"),
        format!("http://user:pw@127.0.0.1:{port}{tail}"),
        format!("https://api.mch.weixin.qq.com{tail}"),
        tail.clone(),
    ] {
        let moved = BillLocation {
            download_url: url.clone(),
            ..location.clone()
        };
        let e = client.download_bill(&moved).await.unwrap_err();
        match &e {
            WechatPayError::Refused { status, code, .. } => {
                assert_eq!((*status, code.as_str()), (400, "PARAM_ERROR"), "{url}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    assert!(fake.statement_downloads().is_empty());
    // The genuine one downloads (a fragment is not sent).
    let mut genuine = location.clone();
    genuine.download_url.push_str("#part");
    let mut download = client.download_bill(&genuine).await.unwrap();
    read_all(&mut download).await;
    download.finish().unwrap();
}

#[tokio::test]
async fn bill_requests_are_signed_and_checked_by_the_fake() {
    let (fake, client, clock) = bill_setup().await;
    paid(&fake, &client, &clock, 1_000).await;
    let mut settings = fake.settings_for_client(NOWHERE);
    settings.merchant_private_key_pem = SecretString::from(include_str!("vectors/test_key.pem"));
    let impostor = self::client(settings);
    let e = impostor.fund_flow_bill(bill_day()).await.unwrap_err();
    assert_eq!((e.http_status(), e.code()), (Some(401), Some("SIGN_ERROR")));
    let location = client.fund_flow_bill(bill_day()).await.unwrap();
    let e = impostor.download_bill(&location).await.unwrap_err();
    assert_eq!((e.http_status(), e.code()), (Some(401), Some("SIGN_ERROR")));
    assert!(fake.statement_downloads().is_empty());
    // An unknown token (signed properly).
    let mut unknown = location.clone();
    unknown.download_url = format!("{}/v3/billdownload/file?token=nothing", fake.base_url());
    let e = client.download_bill(&unknown).await.unwrap_err();
    assert_eq!(e.http_status(), Some(404));
    // An answer to the location whose signature does not verify is not trusted.
    fake.corrupt_next_answer();
    let e = client.fund_flow_bill(bill_day()).await.unwrap_err();
    assert!(matches!(e, WechatPayError::Unknown(_)), "{e:?}");
}

#[tokio::test]
async fn plain_multi_member_and_damaged_downloads() {
    let server = MockServer::start().await;
    let content =
        format!("\u{feff}{BILL_HEADER}\r\n{BILL_SUMMARY_HEADER}\r\n`0.0,`0.0,`0.00,`0.0,`0.00\r\n")
            .into_bytes();
    let compressed = gzip(&content);
    let (front, back) = content.split_at(40);
    let mut two_members = gzip(front);
    two_members.extend_from_slice(&gzip(back));
    let mut trailing = compressed.clone();
    trailing.extend_from_slice(b"garbage!");
    let mut corrupted = compressed.clone();
    let middle = corrupted.len() / 2;
    corrupted[middle] ^= 0xff;
    let bodies: [(&str, Vec<u8>); 6] = [
        ("plain", content.clone()),
        ("two-members", two_members),
        ("truncated", compressed[..compressed.len() - 6].to_vec()),
        ("trailing", trailing),
        ("corrupted", corrupted),
        ("empty", Vec::new()),
    ];
    for (name, body) in bodies {
        Mock::given(method("GET"))
            .and(path(format!("/v3/billdownload/{name}")))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(body))
            .mount(&server)
            .await;
    }
    let fake = fake().await;
    let mut settings = fake.settings_for_client(NOWHERE);
    settings.base_url = server.uri();
    let client = client(settings);
    let location = |name: &str| BillLocation {
        download_url: format!("{}/v3/billdownload/{name}?token=t", server.uri()),
        hash_type: "SHA1".into(),
        hash_value: sha1_hex(&content),
    };
    for good in ["plain", "two-members"] {
        let mut download = client.download_bill(&location(good)).await.unwrap();
        let (file, _) = read_all(&mut download).await;
        assert_eq!(file, content, "{good}");
        download.finish().unwrap();
    }
    for bad in ["truncated", "trailing", "corrupted"] {
        let mut download = client.download_bill(&location(bad)).await.unwrap();
        let mut failed = None;
        loop {
            match download.next_chunk().await {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        assert!(
            matches!(failed, Some(WechatPayError::Unknown(_))),
            "{bad}: {failed:?}"
        );
        assert!(download.next_chunk().await.is_err(), "{bad}: stays failed");
        assert!(download.finish().is_err());
    }
    // An empty answer is an empty file: its hash is not the bill's.
    let mut download = client.download_bill(&location("empty")).await.unwrap();
    let (file, _) = read_all(&mut download).await;
    assert!(file.is_empty());
    assert!(matches!(
        download.finish(),
        Err(WechatPayError::HashMismatch { .. })
    ));
    // Our Authorization went along, signed over the path and query.
    let requests = server.received_requests().await.unwrap();
    assert!(requests
        .iter()
        .all(|r| r.headers.get("authorization").is_some()));
}

#[tokio::test]
async fn each_injection_shows_in_the_bill() {
    let (fake, client, clock) = bill_setup().await;
    let (changed, _) = paid(&fake, &client, &clock, 1_000).await;
    let (doubled, doubled_bill) = paid(&fake, &client, &clock, 2_000).await;
    let (dropped, _) = paid(&fake, &client, &clock, 3_000).await;
    let (refunded, refunded_bill) = paid(&fake, &client, &clock, 4_000).await;
    let before = fetch_bill(&client, bill_day()).await;
    assert_eq!(lines(&before).len(), 4);

    let unexpected = fake.inject_unexpected_line(bill_day(), 5_000);
    assert!(fake.change_line_amount(&changed, 1_001));
    assert!(fake.duplicate_line(&doubled));
    assert!(fake.drop_line(&dropped));
    clock.advance(chrono::Duration::minutes(1));
    assert!(fake.refund_line(&refunded, Some(1_500)));
    assert!(!fake.drop_line(&number()), "no such transfer");
    assert!(!fake.refund_line(&number(), None));

    let file = fetch_bill(&client, bill_day()).await;
    let lines = lines(&file);
    let of = |no: &str| -> Vec<&Vec<String>> { lines.iter().filter(|l| l[10] == no).collect() };
    // Money out we did not send.
    let odd = of(&unexpected.voucher_no);
    assert_eq!(odd.len(), 1);
    assert_eq!(odd[0][1], unexpected.business_no);
    assert_eq!((odd[0][5].as_str(), odd[0][6].as_str()), ("支出", "50.00"));
    assert_eq!(odd[0][0], "2025-03-03 12:00:00");
    // Another amount.
    assert_eq!(of(&changed)[0][6], "10.01");
    // Twice, with two flow numbers.
    let twice = of(&doubled);
    assert_eq!(twice.len(), 2);
    assert_eq!(twice[0][1], doubled_bill);
    assert_eq!(twice[1][1], doubled_bill);
    assert_ne!(twice[0][2], twice[1][2]);
    // Missing.
    assert!(of(&dropped).is_empty());
    // Paid, then some of it came back.
    let back = of(&refunded);
    assert_eq!(back.len(), 2);
    assert_eq!(
        (back[0][5].as_str(), back[0][6].as_str()),
        ("支出", "40.00")
    );
    assert_eq!(
        (back[1][5].as_str(), back[1][6].as_str()),
        ("收入", "15.00")
    );
    assert_eq!(back[1][1], refunded_bill);
    assert_eq!(back[1][4], "商家转账退回");
    // 1,000,000.00 − 10.01 − 20.00 − 20.00 − 40.00 − 50.00 (noon) + 15.00.
    assert_eq!(lines.last().unwrap()[7], "999874.99");
    assert_eq!(summary(&file), "`6.0,`1.0,`15.00,`5.0,`140.01");

    // Any other line, with a line break and a comma in its remark.
    fake.inject_line(FakeLedgerLine {
        time: bill_day_start(),
        business_no: "1330000000000000000000000000001".into(),
        flow_no: "1900000109202503039999999999".into(),
        business_name: "商家转账".into(),
        business_type: "商家转账".into(),
        flow: FakeFlow::Expense,
        amount_fen: 1,
        applicant: "system".into(),
        remark: "第一行\r\n第二行,完".into(),
        voucher_no: "ODD1".into(),
    });
    let text = String::from_utf8(fetch_bill(&client, bill_day()).await).unwrap();
    assert!(
        text.contains(",\"`第一行\\r\\n第二行,完\",`ODD1\r\n"),
        "{text}"
    );
    assert_eq!(
        fake.ledger().len(),
        7,
        "4 paid, 1 unexpected, 1 copy, 1 dropped, 1 refund, 1 injected"
    );
}

#[tokio::test]
async fn the_http_control_surface_drives_the_bills() {
    let (fake, client, clock) = bill_setup().await;
    let (no, _) = paid(&fake, &client, &clock, 1_000).await;
    let http = reqwest::Client::new();
    let control = |path: &str| format!("{}/fake/{path}", fake.base_url());
    let post = |path: String| {
        let http = http.clone();
        async move { http.post(path).send().await.unwrap() }
    };

    assert_eq!(
        post(control("statements/2025-03-03/not-ready"))
            .await
            .status(),
        200
    );
    let e = client.fund_flow_bill(bill_day()).await.unwrap_err();
    assert!(matches!(e, WechatPayError::NotReady { .. }), "{e:?}");
    assert_eq!(
        post(control("statements/2025-03-03/not-ready?on=false"))
            .await
            .status(),
        200
    );
    assert_eq!(
        post(control("statements/03-03-2025/not-ready"))
            .await
            .status(),
        400
    );

    let line: serde_json::Value = post(control("ledger/unexpected?date=2025-03-03&fen=777"))
        .await
        .json()
        .await
        .unwrap();
    let unexpected = line["voucher_no"].as_str().unwrap().to_owned();
    assert_eq!(
        post(control(&format!("ledger/{no}/amount?fen=999")))
            .await
            .status(),
        200
    );
    assert_eq!(
        post(control(&format!("ledger/{no}/duplicate")))
            .await
            .status(),
        200
    );
    assert_eq!(
        post(control(&format!("ledger/{no}/refund"))).await.status(),
        200
    );
    assert_eq!(
        post(control(&format!("ledger/{no}/amount"))).await.status(),
        400
    );
    assert_eq!(
        post(control(&format!("ledger/{}/drop", number())))
            .await
            .status(),
        409
    );

    let csv = http
        .get(control("statements/2025-03-03"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(csv.as_ref(), fake.statement(bill_day()).as_slice());
    let lines = lines(&fetch_bill(&client, bill_day()).await);
    assert!(lines.iter().any(|l| l[10] == unexpected && l[6] == "7.77"));
    let ours: Vec<_> = lines.iter().filter(|l| l[10] == no).collect();
    assert_eq!(ours.len(), 3, "paid twice, and a refund");
    assert!(ours.iter().all(|l| l[6] == "9.99"));
    assert_eq!(
        post(control(&format!("ledger/{no}/drop"))).await.status(),
        200
    );

    assert_eq!(
        post(control("statements/2025-03-03/corrupt-hash"))
            .await
            .status(),
        200
    );
    let location = client.fund_flow_bill(bill_day()).await.unwrap();
    let mut download = client.download_bill(&location).await.unwrap();
    read_all(&mut download).await;
    assert!(matches!(
        download.finish(),
        Err(WechatPayError::HashMismatch { .. })
    ));

    let ledger: serde_json::Value = http
        .get(control("ledger"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        ledger.as_array().unwrap().len(),
        3,
        "1 paid twice, one dropped; 1 unexpected; 1 refund"
    );
    let downloads: serde_json::Value = http
        .get(control("statement-downloads"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(downloads.as_array().unwrap().len(), 2);
    assert_eq!(downloads[0]["gzip"], true);
}
