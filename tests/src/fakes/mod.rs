//! Stateful fakes of the outside services the application calls, served over HTTP (by
//! wiremock; WeChat's by actix-web, since wiremock keeps a copy of every request and the
//! subscribe-message benchmark sends millions) so the real application can be pointed at
//! them: JPush (`jpush`), Tencent Cloud SMS (`sms`), WeChat's mini-program server APIs
//! (`wechat`) and WeChat Pay (`wechatpay`). They answer like the documented APIs,
//! errors included, and record what they were asked.

pub mod jpush;
pub mod sms;
pub mod wechat;
pub mod wechatpay;

use std::sync::{Mutex, MutexGuard};

/// Locks `mutex`, carrying on after a panic elsewhere (a fake's state stays usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
