//! Binding the phone WeChat vouches for to a worker account; when that phone already has an
//! account, the WeChat account is merged into it (one person, one account) — but only with
//! a fresh SMS code to that phone, so a recycled number does not hand its account over on
//! WeChat's word alone.

use gongyou_db::{accounts, write_tx};
use gongyou_domain::phone::Phone;

use super::principal::invalidate_subject;
use super::sessions::{self, Method};
use super::sign_in::{is_wechat_code, user_session, wechat_client, wechat_error};
use super::sms_codes::{self, Purpose};
use super::tokens::SubjectKind;
use super::views::{worker_view, PhoneBound};
use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::Context;

enum Binding {
    Bound(accounts::User),
    Merged {
        into: accounts::User,
        from: String,
        session_id: String,
        refresh: String,
    },
}

fn verification_required() -> ServiceError {
    ServiceError::conflict(
        "auth.phone_verification_required",
        "该手机号已有账号，请输入发送到该手机号的验证码以合并账号",
    )
}

/// Binds the phone of `code` (from the mini-program's `getPhoneNumber`) to the signed-in
/// worker; `sms_code` (purpose `bind_phone`) proves holding it when it already has an
/// account, which this WeChat account is then merged into.
pub async fn bind_phone_wechat(
    ctx: &Context,
    actor: &Actor,
    code: &str,
    sms_code: Option<&str>,
) -> ServiceResult<PhoneBound> {
    let user_id = actor.user_id()?.to_owned();
    if !is_wechat_code(code) {
        return Err(ServiceError::invalid(
            "request.invalid_body",
            "缺少微信授权码",
        ));
    }
    let wechat = wechat_client(ctx)?;
    let phone_info = wechat.phone_number(code).await.map_err(wechat_error)?;
    let phone = Phone::parse(&phone_info.pure_phone_number)
        .ok()
        .filter(|_| phone_info.country_code == "86")
        .ok_or_else(|| ServiceError::rule("auth.phone_not_mainland", "仅支持中国大陆手机号"))?;
    // Merging into the phone's existing account needs proof of holding the phone now.
    let lookup = phone.as_str().to_owned();
    let owner = ctx
        .db
        .run(move |conn| accounts::user_by_phone(conn, &lookup))
        .await?;
    let verified = match owner.filter(|o| o.id != user_id) {
        None => false,
        Some(_) => match sms_code {
            None => {
                return Err(verification_required()
                    .with_errors(serde_json::json!({ "phone": phone.masked() })))
            }
            Some(code) => {
                sms_codes::verify(ctx, &phone, Purpose::BindPhone, code).await?;
                true
            }
        },
    };
    let now = ctx.now();
    let binding = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Binding> {
                let me = accounts::user(conn, &user_id)?.ok_or_else(|| {
                    ServiceError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
                })?;
                if let Some(existing) = &me.phone {
                    if existing == phone.as_str() {
                        return Ok(Binding::Bound(me));
                    }
                    return Err(ServiceError::conflict(
                        "auth.phone_already_bound",
                        "账号已绑定其他手机号",
                    ));
                }
                let Some(owner) = accounts::user_by_phone(conn, phone.as_str())? else {
                    accounts::set_phone(conn, &me.id, phone.as_str(), now.naive_utc())?;
                    let me = accounts::user(conn, &me.id)?.unwrap_or(me);
                    return Ok(Binding::Bound(me));
                };
                if !verified {
                    // The phone got an account between the check and now.
                    return Err(verification_required());
                }
                let conflicting = |mine: &Option<String>, theirs: &Option<String>| {
                    matches!((mine, theirs), (Some(a), Some(b)) if a != b)
                };
                if conflicting(&me.wechat_openid, &owner.wechat_openid)
                    || conflicting(&me.wechat_unionid, &owner.wechat_unionid)
                {
                    return Err(ServiceError::conflict(
                        "auth.wechat_conflict",
                        "该手机号已绑定其他微信账号",
                    ));
                }
                let openid = owner.wechat_openid.clone().or(me.wechat_openid.clone());
                let unionid = owner.wechat_unionid.clone().or(me.wechat_unionid.clone());
                // Free the identities before giving them to the surviving account.
                accounts::mark_merged(conn, &me.id, &owner.id, now.naive_utc())?;
                accounts::set_wechat(
                    conn,
                    &owner.id,
                    openid.as_deref(),
                    unionid.as_deref(),
                    now.naive_utc(),
                )?;
                accounts::revoke_sessions_of(conn, "user", &me.id, "merged", now.naive_utc())?;
                let (session_id, refresh) =
                    sessions::start(conn, SubjectKind::User, &owner.id, Method::Wechat, now)?;
                let into = accounts::user(conn, &owner.id)?.unwrap_or(owner);
                Ok(Binding::Merged {
                    into,
                    from: me.id,
                    session_id,
                    refresh,
                })
            })
        })
        .await?;
    Ok(match binding {
        Binding::Bound(user) => {
            invalidate_subject(ctx, SubjectKind::User, &user.id).await?;
            PhoneBound {
                merged: false,
                user: worker_view(&user),
                session: None,
            }
        }
        Binding::Merged {
            into,
            from,
            session_id,
            refresh,
        } => {
            invalidate_subject(ctx, SubjectKind::User, &from).await?;
            tracing::info!(from = %from, into = %into.id, "accounts merged on phone binding");
            let session = user_session(ctx, &into, &session_id, refresh, now);
            PhoneBound {
                merged: true,
                user: worker_view(&into),
                session: Some(session),
            }
        }
    })
}
