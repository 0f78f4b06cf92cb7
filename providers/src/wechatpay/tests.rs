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
