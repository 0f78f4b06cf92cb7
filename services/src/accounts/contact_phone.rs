//! A staff member's own contact phone, for staff notices that cannot wait for the inbox
//! (money left the paying account that Gongyou did not send). Optional, and never a way to
//! sign in: staff act only in password sessions.
//!
//! Setting a number sends a code to it (the sign-in codes' store, limits and budget, under
//! a scope of its own bound to the staff member); the number becomes the contact phone only
//! when that code comes back, and a phone verified before keeps receiving notices until
//! then. Stored sealed (`key_id:ciphertext`, bound to `staff:<id>:contact_phone`) with its
//! masked form; the number itself is never logged or answered.

use std::net::IpAddr;

use gongyou_db::{staff as staff_db, write_tx};
use gongyou_domain::phone::Phone;
use serde::Serialize;
use utoipa::ToSchema;

use super::sms_codes::{self, Scope, CODE_TTL, RESEND_AFTER};
use super::views::ContactPhoneView;
use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::Context;

/// A code was sent to the number given; it becomes the contact phone once verified.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactPhonePending {
    /// The number waiting for its code, masked, e.g. `138****5678`.
    #[schema(example = "138****5678")]
    pub pending: String,
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// Seconds before another code may be asked for this phone.
    pub resend_after: u64,
    /// Dev mode only: the code itself. Never present in production.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev_code: Option<String>,
}

/// The contact phone just verified.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactPhoneVerified {
    pub contact_phone: ContactPhoneView,
}

/// What a sealed contact phone is bound to: its staff member and the field (the verified
/// and the waiting number share it, so verifying moves the ciphertext as it is).
fn aad(staff_id: &str) -> String {
    format!("staff:{staff_id}:contact_phone")
}

/// Seals a staff member's contact phone for storage.
fn seal(ctx: &Context, staff_id: &str, phone: &Phone) -> ServiceResult<String> {
    ctx.crypto
        .seal_text(phone.as_str(), &aad(staff_id))
        .map_err(ServiceError::internal)
}

/// Opens a staff member's stored contact phone (verified or waiting).
pub fn unseal(ctx: &Context, staff_id: &str, stored: &str) -> ServiceResult<Phone> {
    let text = ctx
        .crypto
        .unseal_text(stored, &aad(staff_id))
        .map_err(ServiceError::internal)?;
    Phone::parse(&text).map_err(|_| {
        ServiceError::internal(anyhow::anyhow!(
            "a stored staff contact phone is not a phone number"
        ))
    })
}

fn staff_gone() -> ServiceError {
    ServiceError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
}

fn not_pending() -> ServiceError {
    ServiceError::conflict(
        "staff.contact_phone_not_pending",
        "没有待验证的手机号，请先提交联系手机号",
    )
}

/// Sends a code to `phone` and records it as the staff member's number waiting for it.
/// `ip` is the client's address (for the hourly limit per network).
pub async fn set(
    ctx: &Context,
    actor: &Actor,
    phone: Phone,
    ip: Option<IpAddr>,
) -> ServiceResult<ContactPhonePending> {
    let staff_id = actor.staff_id()?;
    let dev_code = sms_codes::issue_for(
        ctx,
        &phone,
        Scope::StaffContactPhone {
            staff_id: &staff_id,
        },
        ip,
    )
    .await?;
    let sealed = seal(ctx, &staff_id, &phone)?;
    let now = ctx.now();
    let id = staff_id.clone();
    let found = ctx
        .db
        .run(move |conn| staff_db::set_pending_contact_phone(conn, &id, &sealed, now.naive_utc()))
        .await?;
    if !found {
        return Err(staff_gone());
    }
    tracing::info!(staff = %staff_id, "staff contact phone set, waiting for its code");
    Ok(ContactPhonePending {
        pending: phone.masked(),
        expires_in: CODE_TTL.as_secs(),
        resend_after: RESEND_AFTER.as_secs(),
        dev_code,
    })
}

/// Checks the code sent to the waiting number, which then becomes the contact phone.
/// A wrong, expired or used code fails as a sign-in code does (`auth.code_invalid`, and
/// `auth.code_exhausted` after 5 wrong tries).
pub async fn verify(
    ctx: &Context,
    actor: &Actor,
    code: &str,
) -> ServiceResult<ContactPhoneVerified> {
    let staff_id = actor.staff_id()?;
    let id = staff_id.clone();
    let stored = ctx
        .db
        .run(move |conn| staff_db::contact_phone(conn, &id))
        .await?
        .ok_or_else(staff_gone)?;
    let pending = stored.contact_phone_pending_enc.ok_or_else(not_pending)?;
    let phone = unseal(ctx, &staff_id, &pending)?;
    sms_codes::verify_for(
        ctx,
        &phone,
        Scope::StaffContactPhone {
            staff_id: &staff_id,
        },
        code,
    )
    .await?;
    let now = ctx.now().naive_utc();
    let masked = phone.masked();
    let id = staff_id.clone();
    let verified = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Option<ContactPhoneView>> {
                if !staff_db::confirm_contact_phone(conn, &id, &pending, &masked, now)? {
                    return Ok(None);
                }
                // As stored, so the answer is what `GET /api/v1/me` shows.
                Ok(staff_db::contact_phone(conn, &id)?
                    .as_ref()
                    .and_then(ContactPhoneView::of))
            })
        })
        .await?;
    let Some(contact_phone) = verified else {
        // Another number was set (or the phone removed) after the code was sent.
        return Err(ServiceError::conflict(
            "staff.contact_phone_changed",
            "待验证的手机号已更改，请使用发送到新号码的验证码",
        ));
    };
    tracing::info!(staff = %staff_id, "staff contact phone verified");
    Ok(ContactPhoneVerified { contact_phone })
}

/// Removes the contact phone, verified and waiting alike: staff notices go to the inbox only.
pub async fn remove(ctx: &Context, actor: &Actor) -> ServiceResult<()> {
    let staff_id = actor.staff_id()?;
    let now = ctx.now();
    let id = staff_id.clone();
    ctx.db
        .run(move |conn| staff_db::clear_contact_phone(conn, &id, now.naive_utc()))
        .await?;
    tracing::info!(staff = %staff_id, "staff contact phone removed");
    Ok(())
}
