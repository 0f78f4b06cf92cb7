//! Signing in and out: SMS codes, worker sessions (SMS, WeChat), staff sessions (password),
//! refresh-token rotation, step-up proofs.

use std::time::Duration;

use actix_web::{delete, post, web, HttpRequest, HttpResponse};
use gongyou_db::{accounts, staff as staff_db, write_tx, DbError};
use gongyou_domain::phone::Phone;
use gongyou_domain::staff::Username;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::caller::{invalidate, Subject};
use crate::auth::client_ip::client_ip;
use crate::auth::sessions::{self, Method, TokenResponse};
use crate::auth::sms_codes::{self, Purpose, CODE_TTL, RESEND_AFTER};
use crate::auth::tokens::{hash_token, SubjectKind, REFRESH_GRACE, REFRESH_TTL, STEP_UP_TTL};
use crate::auth::{password, Caller};
use crate::error::{ApiError, ApiResult, Problem};
use crate::providers::wechat::{WechatClient, WechatError};
use crate::routes::me::{staff_me, worker_view, Me};
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
pub struct SmsCodeRequest {
    /// Mainland mobile number, 11 digits, `+86` accepted.
    #[schema(value_type = String, example = "13800138000")]
    pub phone: Phone,
    pub purpose: Purpose,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SmsCodeSent {
    /// Seconds the code stays valid.
    pub expires_in: u64,
    /// Seconds before another code may be asked for this phone.
    pub resend_after: u64,
    /// Dev mode only: the code itself. Never present in production.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev_code: Option<String>,
}

/// Sends a one-time code by SMS (6 digits, 5 minutes, single use, 5 tries).
#[utoipa::path(
    tag = "auth",
    request_body = SmsCodeRequest,
    responses(
        (status = 202, description = "Sent", body = SmsCodeSent),
        (status = 400, description = "`request.invalid_body`: not a mainland mobile number, unknown purpose", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`sms.rejected`: the provider refused the number", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`auth.sms_rate_limited` (1/min and 10/day per phone, 20/hour per IP) or `sms.provider_rate_limited`; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`sms.delivery_failed` or `sms.not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/sms-codes")]
pub async fn send_sms_code(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<SmsCodeRequest>,
) -> ApiResult<HttpResponse> {
    let ip = client_ip(&req, &state.config.trusted_proxies);
    let dev_code = sms_codes::issue(&state, &body.phone, body.purpose, ip).await?;
    Ok(HttpResponse::Accepted().json(SmsCodeSent {
        expires_in: CODE_TTL.as_secs(),
        resend_after: RESEND_AFTER.as_secs(),
        dev_code,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SmsSignIn {
    #[schema(value_type = String, example = "13800138000")]
    pub phone: Phone,
    /// The 6-digit code.
    pub code: String,
}

/// Signs a worker in with an SMS code, creating the account on first sign-in.
#[utoipa::path(
    tag = "auth",
    request_body = SmsSignIn,
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "Malformed body or phone", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`auth.code_invalid` (wrong, expired or used) or `auth.code_exhausted` (5 wrong tries)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.account_suspended`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/sessions/sms")]
pub async fn sign_in_sms(
    state: web::Data<AppState>,
    body: web::Json<SmsSignIn>,
) -> ApiResult<HttpResponse> {
    let SmsSignIn { phone, code } = body.into_inner();
    sms_codes::verify(&state, &phone, Purpose::SignIn, &code).await?;
    let now = state.clock.now();
    let (user, session_id, refresh_token) = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<_> {
                let user = match accounts::user_by_phone(conn, phone.as_str())? {
                    Some(user) => user,
                    None => {
                        let mut user = accounts::User::new(gongyou_domain::id::new_id(), now.naive_utc());
                        user.phone = Some(phone.as_str().to_owned());
                        accounts::insert_user(conn, &user)?;
                        tracing::info!(user = %user.id, phone = %phone.masked(), "worker account created");
                        user
                    }
                };
                refuse_inactive_user(&user)?;
                let (sid, refresh_token) = sessions::start(conn, SubjectKind::User, &user.id, Method::Sms, now)?;
                Ok((user, sid, refresh_token))
            })
        })
        .await?;
    let me = Me::Worker(worker_view(&user));
    Ok(HttpResponse::Ok().json(sessions::response(
        &state.tokens,
        SubjectKind::User,
        &user.id,
        &session_id,
        refresh_token,
        me,
        now,
    )))
}

fn refuse_inactive_user(user: &accounts::User) -> ApiResult<()> {
    if user.status == accounts::USER_ACTIVE {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "auth.account_suspended",
            "账号已停用，请联系工会",
        ))
    }
}

/// The WeChat client, or 503 when WeChat is not configured.
pub fn wechat_client(state: &AppState) -> ApiResult<&WechatClient> {
    state.wechat.as_ref().ok_or_else(|| {
        ApiError::unavailable(
            "wechat.not_configured",
            anyhow::anyhow!("GONGYOU_WECHAT_APPID is not set"),
        )
        .with_detail("微信登录未开通")
    })
}

/// WeChat's errors as problems.
pub fn wechat_error(e: WechatError) -> ApiError {
    match e {
        WechatError::InvalidCode => {
            ApiError::unauthenticated("wechat.code_invalid", "微信授权码无效或已使用，请重试")
        }
        WechatError::RateLimited => {
            ApiError::too_many_requests("wechat.rate_limited", Duration::from_secs(60))
                .with_detail("微信接口调用过于频繁，请稍后再试")
        }
        WechatError::Busy => {
            ApiError::unavailable("wechat.busy", e).with_detail("微信系统繁忙，请稍后重试")
        }
        other => ApiError::unavailable("wechat.unavailable", other)
            .with_detail("微信服务暂时不可用，请稍后重试"),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WechatSignIn {
    /// The code from `wx.login()`.
    pub code: String,
}

/// Signs a worker in from the WeChat mini-program (`wx.login` code), creating the account
/// on first sign-in. Bind a phone with `POST /api/v1/me/phone/wechat` before joining.
#[utoipa::path(
    tag = "auth",
    request_body = WechatSignIn,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "`wechat.code_invalid` (40029, 40163)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.account_suspended`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`wechat.rate_limited` (45011)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`wechat.busy` (-1), `wechat.unavailable` or `wechat.not_configured`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/sessions/wechat")]
pub async fn sign_in_wechat(
    state: web::Data<AppState>,
    body: web::Json<WechatSignIn>,
) -> ApiResult<HttpResponse> {
    let wechat = wechat_client(&state)?;
    let code = body.code.trim();
    if code.is_empty() || code.len() > 128 {
        return Err(ApiError::bad_request(
            "request.invalid_body",
            "缺少微信授权码",
        ));
    }
    let identity = wechat.code2session(code).await.map_err(wechat_error)?;
    let now = state.clock.now();
    let (user, session_id, refresh_token) = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<_> {
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
    let me = Me::Worker(worker_view(&user));
    Ok(HttpResponse::Ok().json(sessions::response(
        &state.tokens,
        SubjectKind::User,
        &user.id,
        &session_id,
        refresh_token,
        me,
        now,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordSignIn {
    pub username: String,
    pub password: String,
}

const LOCK_WINDOW: Duration = Duration::from_secs(15 * 60);
const MAX_ACCOUNT_FAILURES: u64 = 5;
const MAX_IP_FAILURES: u64 = 20;

/// Signs staff in with username and password. Five failures lock the username for up to
/// 15 minutes; twenty from one address lock that address.
#[utoipa::path(
    tag = "auth",
    request_body = PasswordSignIn,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "`auth.invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.account_disabled`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`auth.account_locked` or `auth.too_many_attempts`; see `Retry-After`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/sessions/password")]
pub async fn sign_in_password(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<PasswordSignIn>,
) -> ApiResult<HttpResponse> {
    let PasswordSignIn {
        username,
        password: given,
    } = body.into_inner();
    let username = Username::parse(&username)
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|| username.trim().to_ascii_lowercase());
    let now = state.clock.now();
    let ip_key =
        client_ip(&req, &state.config.trusted_proxies).map(|ip| format!("login:fail:ip:{ip}"));
    let user_key = format!("login:fail:user:{username}");
    let locked = |ends: chrono::DateTime<chrono::Utc>, code: &'static str, detail: &'static str| {
        let wait = (ends - now).to_std().unwrap_or(Duration::from_secs(1));
        ApiError::too_many_requests(code, wait).with_detail(detail)
    };
    if let Some(ip_key) = &ip_key {
        let (failures, ends) = state.kv.count_in_window(ip_key, LOCK_WINDOW).await?;
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
    let (attempts, ends) = state.kv.incr_in_window(&user_key, LOCK_WINDOW).await?;
    if attempts > MAX_ACCOUNT_FAILURES {
        return Err(locked(
            ends,
            "auth.account_locked",
            "密码错误次数过多，账号已暂时锁定，请稍后再试",
        ));
    }

    let lookup = username.clone();
    let member = state
        .db
        .run(move |conn| staff_db::by_username(conn, &lookup))
        .await?;
    let ok = password::verify(given, member.as_ref().map(|m| m.password_hash.clone())).await?;
    let Some(member) = member.filter(|_| ok) else {
        if let Some(ip_key) = &ip_key {
            state.kv.incr_in_window(ip_key, LOCK_WINDOW).await?;
        }
        // A password typed into the username field must not reach the log.
        match Username::parse(&username) {
            Some(valid) => tracing::info!(username = %valid.as_str(), "staff sign-in failed"),
            None => tracing::info!("staff sign-in failed (malformed username)"),
        }
        return Err(ApiError::unauthenticated(
            "auth.invalid_credentials",
            "用户名或密码错误",
        ));
    };
    state.kv.clear_window(&user_key, LOCK_WINDOW).await?;
    if member.status != staff_db::STAFF_ACTIVE {
        return Err(ApiError::forbidden("auth.account_disabled", "账号已停用"));
    }
    let (me, session_id, refresh_token) = state
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
    Ok(HttpResponse::Ok().json(sessions::response(
        &state.tokens,
        SubjectKind::Staff,
        &id,
        &session_id,
        refresh_token,
        Me::Staff(me),
        now,
    )))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
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
#[utoipa::path(
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "`auth.refresh_invalid` (unknown, expired, session ended) or `auth.refresh_reused` (the session is ended for safety)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: web::Json<RefreshRequest>,
) -> ApiResult<HttpResponse> {
    let presented = body.into_inner().refresh_token;
    let successor = state.tokens.successor(&presented);
    let now = state.clock.now();
    let rotation = state
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
        Rotation::Invalid => Err(ApiError::unauthenticated(
            "auth.refresh_invalid",
            "登录已失效，请重新登录",
        )),
        Rotation::Reused { session_id } => {
            invalidate(&state, &[session_id]).await;
            tracing::warn!("a rotated refresh token was presented again; session ended");
            Err(ApiError::unauthenticated(
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
            let id = subject_id.clone();
            let me = state
                .db
                .run(move |conn| -> Result<Option<Me>, DbError> {
                    Ok(match kind {
                        SubjectKind::User => {
                            accounts::user(conn, &id)?.map(|u| Me::Worker(worker_view(&u)))
                        }
                        SubjectKind::Staff => match staff_db::get(conn, &id)? {
                            Some(m) => Some(Me::Staff(staff_me(conn, &m)?)),
                            None => None,
                        },
                    })
                })
                .await?
                .ok_or_else(|| {
                    ApiError::unauthenticated("auth.refresh_invalid", "登录已失效，请重新登录")
                })?;
            Ok(HttpResponse::Ok().json(sessions::response(
                &state.tokens,
                kind,
                &subject_id,
                &session_id,
                successor,
                me,
                now,
            )))
        }
    }
}

/// Signs out: the session and its refresh tokens stop working at once.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/auth/sessions/current")]
pub async fn sign_out(state: web::Data<AppState>, caller: Caller) -> ApiResult<HttpResponse> {
    let session_id = caller.session_id().to_owned();
    let now = state.clock.now();
    let sid = session_id.clone();
    state
        .db
        .run(move |conn| accounts::revoke_session(conn, &sid, "signed_out", now.naive_utc()))
        .await?;
    invalidate(&state, &[session_id]).await;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
pub struct StepUpRequest {
    /// A code sent to the account's phone with purpose `step_up`.
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct StepUpProof {
    /// Send as `X-Step-Up-Token` with the sensitive request.
    pub step_up_token: String,
    pub expires_in: i64,
}

/// Proves a fresh SMS code for a sensitive action (payee change, data export, …).
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = StepUpRequest,
    responses(
        (status = 200, body = StepUpProof),
        (status = 401, description = "`auth.code_invalid` or `auth.code_exhausted`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`auth.phone_required`: bind a phone first", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/step-up")]
pub async fn step_up(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<StepUpRequest>,
) -> ApiResult<HttpResponse> {
    let user_id = caller.user_id()?.to_owned();
    let Subject::User { phone, .. } = caller.subject() else {
        return Err(ApiError::forbidden(
            "auth.workers_only",
            "此操作仅限职工本人账号",
        ));
    };
    let phone = phone
        .as_deref()
        .and_then(|p| Phone::parse(p).ok())
        .ok_or_else(|| ApiError::conflict("auth.phone_required", "请先绑定手机号"))?;
    sms_codes::verify(&state, &phone, Purpose::StepUp, &body.code).await?;
    let now = state.clock.now();
    Ok(HttpResponse::Ok().json(StepUpProof {
        step_up_token: state.tokens.step_up_token(
            SubjectKind::User,
            &user_id,
            caller.session_id(),
            now,
        ),
        expires_in: STEP_UP_TTL.num_seconds(),
    }))
}
