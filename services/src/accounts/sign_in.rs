//! Signing in and out: SMS codes, worker sessions (SMS, WeChat), staff sessions (password),
//! refresh-token rotation, step-up proofs, and the caller's own view.

use std::net::IpAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use gongyou_db::{accounts, staff as staff_db, write_tx, DbError};
use gongyou_domain::phone::Phone;
use gongyou_domain::staff::Username;
use gongyou_providers::wechat::{WechatClient, WechatError};

use super::password;
use super::principal::invalidate;
use super::sessions::{self, Method};
use super::sms_codes::{self, Purpose, CODE_TTL, RESEND_AFTER};
use super::tokens::{hash_token, SubjectKind, REFRESH_GRACE, REFRESH_TTL, STEP_UP_TTL};
use super::views::{staff_me, worker_view, Me, SmsCodeSent, StepUpProof, TokenResponse};
use crate::actor::{Actor, Subject};
use crate::error::{ServiceError, ServiceResult};
use crate::Context;

/// Sends a one-time code to `phone`; `ip` is the client's address (for its hourly limit).
pub async fn send_code(
    ctx: &Context,
    phone: &Phone,
    purpose: Purpose,
    ip: Option<IpAddr>,
) -> ServiceResult<SmsCodeSent> {
    let dev_code = sms_codes::issue(ctx, phone, purpose, ip).await?;
    Ok(SmsCodeSent {
        expires_in: CODE_TTL.as_secs(),
        resend_after: RESEND_AFTER.as_secs(),
        dev_code,
    })
}

/// The tokens of a worker's new session, with their view.
pub(super) fn user_session(
    ctx: &Context,
    user: &accounts::User,
    session_id: &str,
    refresh_token: String,
    now: DateTime<Utc>,
) -> TokenResponse {
    sessions::response(
        &ctx.tokens,
        SubjectKind::User,
        &user.id,
        session_id,
        refresh_token,
        Me::worker(worker_view(user)),
        now,
    )
}

/// Signs a worker in with an SMS code, creating the account on first sign-in.
pub async fn with_sms(ctx: &Context, phone: Phone, code: &str) -> ServiceResult<TokenResponse> {
    sms_codes::verify(ctx, &phone, Purpose::SignIn, code).await?;
    let now = ctx.now();
    let (user, session_id, refresh_token) = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<_> {
                let user = match accounts::user_by_phone(conn, phone.as_str())? {
                    Some(user) => user,
                    None => {
                        let mut user =
                            accounts::User::new(gongyou_domain::id::new_id(), now.naive_utc());
                        user.phone = Some(phone.as_str().to_owned());
                        accounts::insert_user(conn, &user)?;
                        tracing::info!(user = %user.id, phone = %phone.masked(), "worker account created");
                        user
                    }
                };
                refuse_inactive_user(&user)?;
                let (sid, refresh_token) =
                    sessions::start(conn, SubjectKind::User, &user.id, Method::Sms, now)?;
                Ok((user, sid, refresh_token))
            })
        })
        .await?;
    Ok(user_session(ctx, &user, &session_id, refresh_token, now))
}

fn refuse_inactive_user(user: &accounts::User) -> ServiceResult<()> {
    if user.status == accounts::USER_ACTIVE {
        Ok(())
    } else {
        Err(ServiceError::forbidden(
            "auth.account_suspended",
            "账号已停用，请联系工会",
        ))
    }
}

/// The WeChat client, or 503 when WeChat is not configured.
pub fn wechat_client(ctx: &Context) -> ServiceResult<&WechatClient> {
    ctx.providers.wechat.as_ref().ok_or_else(|| {
        ServiceError::unavailable(
            "wechat.not_configured",
            anyhow::anyhow!("GONGYOU_WECHAT_APPID is not set"),
        )
        .with_detail("微信登录未开通")
    })
}

/// WeChat's errors as ours.
pub fn wechat_error(e: WechatError) -> ServiceError {
    match e {
        WechatError::InvalidCode => {
            ServiceError::unauthenticated("wechat.code_invalid", "微信授权码无效或已使用，请重试")
        }
        WechatError::RateLimited => {
            ServiceError::rate_limited("wechat.rate_limited", Duration::from_secs(60))
                .with_detail("微信接口调用过于频繁，请稍后再试")
        }
        WechatError::Busy => {
            ServiceError::unavailable("wechat.busy", e).with_detail("微信系统繁忙，请稍后重试")
        }
        other => ServiceError::unavailable("wechat.unavailable", other)
            .with_detail("微信服务暂时不可用，请稍后重试"),
    }
}

/// A code from the mini-program (`wx.login`, `getPhoneNumber`): 1–128 visible ASCII
/// characters.
pub(super) fn is_wechat_code(code: &str) -> bool {
    (1..=128).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_graphic())
}

/// Signs a worker in from the WeChat mini-program (`wx.login` code), creating the account
/// on first sign-in.
pub async fn with_wechat(ctx: &Context, code: &str) -> ServiceResult<TokenResponse> {
    if !is_wechat_code(code) {
        return Err(ServiceError::invalid(
            "request.invalid_body",
            "缺少微信授权码",
        ));
    }
    let wechat = wechat_client(ctx)?;
    let identity = wechat.code2session(code).await.map_err(wechat_error)?;
    let now = ctx.now();
    let (user, session_id, refresh_token) = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<_> {
                let found =
                    accounts::user_by_wechat(conn, &identity.openid, identity.unionid.as_deref())?;
                let user = match found {
                    Some(user) => {
                        if user.wechat_unionid.is_none() && identity.unionid.is_some()
                            || user.wechat_openid.is_none()
                        {
                            let openid = user
                                .wechat_openid
                                .clone()
                                .unwrap_or(identity.openid.clone());
                            let unionid = user.wechat_unionid.clone().or(identity.unionid.clone());
                            accounts::set_wechat(
                                conn,
                                &user.id,
                                Some(&openid),
                                unionid.as_deref(),
                                now.naive_utc(),
                            )?;
                        }
                        user
                    }
                    None => {
                        let mut user =
                            accounts::User::new(gongyou_domain::id::new_id(), now.naive_utc());
                        user.wechat_openid = Some(identity.openid.clone());
                        user.wechat_unionid = identity.unionid.clone();
                        accounts::insert_user(conn, &user)?;
                        tracing::info!(user = %user.id, "worker account created from WeChat");
                        user
                    }
                };
                refuse_inactive_user(&user)?;
                let (sid, refresh_token) =
                    sessions::start(conn, SubjectKind::User, &user.id, Method::Wechat, now)?;
                let user = accounts::user(conn, &user.id)?.unwrap_or(user);
                Ok((user, sid, refresh_token))
            })
        })
        .await?;
    Ok(user_session(ctx, &user, &session_id, refresh_token, now))
}

const LOCK_WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_ACCOUNT_FAILURES: u64 = 5;
const MAX_IP_FAILURES: u64 = 20;

/// Signs staff in with username and password. Five failures lock the username for up to
/// 15 minutes; twenty from one address (`ip`, when known) lock that address.
pub async fn with_password(
    ctx: &Context,
    username: &str,
    given: String,
    ip: Option<IpAddr>,
) -> ServiceResult<TokenResponse> {
    let username = Username::parse(username)
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|| username.trim().to_ascii_lowercase());
    let now = ctx.now();
    let ip_key = ip.map(|ip| format!("login:fail:ip:{ip}"));
    let user_key = format!("login:fail:user:{username}");
    let locked = |ends: DateTime<Utc>, code: &'static str, detail: &'static str| {
        let wait = (ends - now).to_std().unwrap_or(Duration::from_secs(1));
        ServiceError::rate_limited(code, wait).with_detail(detail)
    };
    if let Some(ip_key) = &ip_key {
        let (failures, ends) = ctx.kv.count_in_window(ip_key, LOCK_WINDOW).await?;
        if failures >= MAX_IP_FAILURES {
            return Err(locked(
                ends,
                "auth.too_many_attempts",
                "登录失败次数过多，请稍后再试",
            ));
        }
    }
    // Counted before the password is checked, so parallel guesses cannot all slip under the
    // limit; a success clears the count.
    let (attempts, ends) = ctx.kv.incr_in_window(&user_key, LOCK_WINDOW).await?;
    if attempts > MAX_ACCOUNT_FAILURES {
        return Err(locked(
            ends,
            "auth.account_locked",
            "密码错误次数过多，账号已暂时锁定，请稍后再试",
        ));
    }

    let lookup = username.clone();
    let member = ctx
        .db
        .run(move |conn| staff_db::by_username(conn, &lookup))
        .await?;
    let ok = password::verify(given, member.as_ref().map(|m| m.password_hash.clone())).await?;
    let Some(member) = member.filter(|_| ok) else {
        if let Some(ip_key) = &ip_key {
            ctx.kv.incr_in_window(ip_key, LOCK_WINDOW).await?;
        }
        // A password typed into the username field must not reach the log.
        match Username::parse(&username) {
            Some(valid) => tracing::info!(username = %valid.as_str(), "staff sign-in failed"),
            None => tracing::info!("staff sign-in failed (malformed username)"),
        }
        return Err(ServiceError::unauthenticated(
            "auth.invalid_credentials",
            "用户名或密码错误",
        ));
    };
    ctx.kv.clear_window(&user_key, LOCK_WINDOW).await?;
    if member.status != staff_db::STAFF_ACTIVE {
        return Err(ServiceError::forbidden(
            "auth.account_disabled",
            "账号已停用",
        ));
    }
    let (me, session_id, refresh_token) = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> Result<_, DbError> {
                let (sid, refresh_token) =
                    sessions::start(conn, SubjectKind::Staff, &member.id, Method::Password, now)?;
                Ok((staff_me(conn, &member)?, sid, refresh_token))
            })
        })
        .await?;
    tracing::info!(staff = %me.id, "staff signed in");
    let id = me.id.clone();
    Ok(sessions::response(
        &ctx.tokens,
        SubjectKind::Staff,
        &id,
        &session_id,
        refresh_token,
        Me::staff(me),
        now,
    ))
}

enum Rotation {
    Rotated {
        kind: SubjectKind,
        subject_id: String,
        session_id: String,
        successor: String,
    },
    Reused {
        session_id: String,
    },
    Invalid,
}

/// Exchanges a refresh token for new tokens. Each refresh token works once: presented again
/// within 30 s it yields the same successor (flaky networks); later, it ends the session.
pub async fn refresh(ctx: &Context, presented: String) -> ServiceResult<TokenResponse> {
    let successor = ctx.tokens.successor(&presented);
    let now = ctx.now();
    let rotation = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> Result<Rotation, DbError> {
                let Some(token) = accounts::refresh(conn, &hash_token(&presented))? else {
                    return Ok(Rotation::Invalid);
                };
                let Some(session) = accounts::session(conn, &token.session_id)? else {
                    return Ok(Rotation::Invalid);
                };
                if session.revoked_at.is_some() || token.expires_at <= now.naive_utc() {
                    return Ok(Rotation::Invalid);
                }
                let kind = if session.subject_kind == "staff" {
                    SubjectKind::Staff
                } else {
                    SubjectKind::User
                };
                let rotated = Rotation::Rotated {
                    kind,
                    subject_id: session.subject_id.clone(),
                    session_id: session.id.clone(),
                    successor: successor.clone(),
                };
                let successor_row = accounts::refresh(conn, &hash_token(&successor))?;
                match token.rotated_at {
                    None => {
                        // A concurrent rotation of the same token may have marked it and
                        // inserted the (same, derived) successor first: both converge on it.
                        accounts::mark_rotated(conn, &token.token_hash, now.naive_utc())?;
                        if successor_row.is_none() {
                            let successor_token = accounts::RefreshToken {
                                token_hash: hash_token(&successor),
                                session_id: session.id.clone(),
                                created_at: now.naive_utc(),
                                expires_at: (now + REFRESH_TTL).naive_utc(),
                                rotated_at: None,
                            };
                            // A savepoint, so a lost race does not abort the transaction.
                            let inserted = write_tx(conn, |conn| {
                                accounts::insert_refresh(conn, &successor_token)
                            });
                            match inserted {
                                Err(e) if e.is_unique_violation() => {}
                                other => other?,
                            }
                        }
                        Ok(rotated)
                    }
                    // Presented again within the grace window, while its successor is unused.
                    Some(at)
                        if now.naive_utc() - at <= REFRESH_GRACE
                            && successor_row.is_some_and(|s| s.rotated_at.is_none()) =>
                    {
                        Ok(rotated)
                    }
                    Some(_) => {
                        accounts::revoke_session(
                            conn,
                            &session.id,
                            "refresh_reused",
                            now.naive_utc(),
                        )?;
                        Ok(Rotation::Reused {
                            session_id: session.id,
                        })
                    }
                }
            })
        })
        .await?;
    match rotation {
        Rotation::Invalid => Err(ServiceError::unauthenticated(
            "auth.refresh_invalid",
            "登录已失效，请重新登录",
        )),
        Rotation::Reused { session_id } => {
            invalidate(ctx, &[session_id]).await;
            tracing::warn!("a rotated refresh token was presented again; session ended");
            Err(ServiceError::unauthenticated(
                "auth.refresh_reused",
                "登录凭证已被使用，为安全起见请重新登录",
            ))
        }
        Rotation::Rotated {
            kind,
            subject_id,
            session_id,
            successor,
        } => {
            let me = me_of(ctx, kind, &subject_id).await?.ok_or_else(|| {
                ServiceError::unauthenticated("auth.refresh_invalid", "登录已失效，请重新登录")
            })?;
            Ok(sessions::response(
                &ctx.tokens,
                kind,
                &subject_id,
                &session_id,
                successor,
                me,
                now,
            ))
        }
    }
}

/// The view of an account, if it still exists.
async fn me_of(ctx: &Context, kind: SubjectKind, id: &str) -> ServiceResult<Option<Me>> {
    let id = id.to_owned();
    Ok(ctx
        .db
        .run(move |conn| -> Result<Option<Me>, DbError> {
            Ok(match kind {
                SubjectKind::User => {
                    accounts::user(conn, &id)?.map(|u| Me::worker(worker_view(&u)))
                }
                SubjectKind::Staff => match staff_db::get(conn, &id)? {
                    Some(m) => Some(Me::staff(staff_me(conn, &m)?)),
                    None => None,
                },
            })
        })
        .await?)
}

/// The signed-in caller.
pub async fn me(ctx: &Context, actor: &Actor) -> ServiceResult<Me> {
    let (kind, id) = match actor.subject() {
        Subject::User { id, .. } => (SubjectKind::User, id),
        Subject::Staff { id, .. } => (SubjectKind::Staff, id),
    };
    me_of(ctx, kind, id).await?.ok_or_else(|| {
        ServiceError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
    })
}

/// Signs out: the session and its refresh tokens stop working at once.
pub async fn sign_out(ctx: &Context, actor: &Actor) -> ServiceResult<()> {
    let session_id = actor.session_id().to_owned();
    let now = ctx.now();
    let sid = session_id.clone();
    ctx.db
        .run(move |conn| accounts::revoke_session(conn, &sid, "signed_out", now.naive_utc()))
        .await?;
    invalidate(ctx, &[session_id]).await;
    Ok(())
}

/// Proves a fresh SMS code (purpose `step_up`) for a sensitive action (payee change, data
/// export, …).
pub async fn step_up(ctx: &Context, actor: &Actor, code: &str) -> ServiceResult<StepUpProof> {
    let user_id = actor.user_id()?.to_owned();
    let Subject::User { phone, .. } = actor.subject() else {
        return Err(ServiceError::forbidden(
            "auth.workers_only",
            "此操作仅限职工本人账号",
        ));
    };
    let phone = phone
        .as_deref()
        .and_then(|p| Phone::parse(p).ok())
        .ok_or_else(|| ServiceError::conflict("auth.phone_required", "请先绑定手机号"))?;
    sms_codes::verify(ctx, &phone, Purpose::StepUp, code).await?;
    let now = ctx.now();
    Ok(StepUpProof {
        step_up_token: ctx.tokens.step_up_token(
            SubjectKind::User,
            &user_id,
            actor.session_id(),
            now,
        ),
        expires_in: STEP_UP_TTL.num_seconds(),
    })
}
