//! WeChat Pay for tests: the providers crate's fake ([`FakeWechatPay`], a real HTTP server
//! that signs, encrypts and calls back like the documented API) started on the test's clock,
//! and the `GONGYOU_WECHATPAY_*` settings that point the application at it.

use std::collections::HashMap;
use std::sync::Arc;

use gongyou_domain::clock::ManualClock;
use gongyou_providers::wechatpay::fake::{FakeConfig, FakeWechatPay};
use gongyou_providers::wechatpay::WechatPaySettings;
use secrecy::ExposeSecret;

/// Where the app is told callbacks go; the fake is redirected to the real port once the app
/// runs ([`FakeWechatPay::deliver_callbacks_to`]).
pub const NOTIFY_PLACEHOLDER: &str = "https://gongyou.invalid/api/v1/webhooks/wechatpay";

/// A fake WeChat Pay whose bills and callbacks run on `clock`.
pub async fn start(clock: &ManualClock) -> FakeWechatPay {
    FakeWechatPay::start(FakeConfig {
        clock: Some(Arc::new(clock.clone())),
        ..FakeConfig::default()
    })
    .await
    .expect("fake wechat pay starts")
}

/// The settings that make the application pay through `fake`.
pub fn env(fake: &FakeWechatPay) -> HashMap<String, String> {
    settings_env(&fake.settings_for_client(NOTIFY_PLACEHOLDER))
}

/// `GONGYOU_WECHATPAY_*` for `s` (keys inline as PEM).
pub fn settings_env(s: &WechatPaySettings) -> HashMap<String, String> {
    let keys: Vec<String> = s
        .wechatpay_keys
        .iter()
        .map(|(id, pem)| format!("{id}={pem}"))
        .collect();
    let infos: Vec<String> = s
        .scene_report_infos
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    [
        ("GONGYOU_WECHATPAY_BASE_URL", s.base_url.clone()),
        ("GONGYOU_WECHATPAY_MCH_ID", s.mch_id.clone()),
        ("GONGYOU_WECHATPAY_APPID", s.appid.clone()),
        ("GONGYOU_WECHATPAY_SERIAL_NO", s.merchant_serial_no.clone()),
        (
            "GONGYOU_WECHATPAY_PRIVATE_KEY",
            s.merchant_private_key_pem.expose_secret().to_owned(),
        ),
        (
            "GONGYOU_WECHATPAY_APIV3_KEY",
            s.apiv3_key.expose_secret().to_owned(),
        ),
        ("GONGYOU_WECHATPAY_KEYS", keys.join(";")),
        ("GONGYOU_WECHATPAY_SCENE_ID", s.transfer_scene_id.clone()),
        ("GONGYOU_WECHATPAY_SCENE_INFOS", infos.join("|")),
        ("GONGYOU_WECHATPAY_NOTIFY_URL", s.notify_url.clone()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}
