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
use super::principal::{self, invalidate};
use super::sessions::{self, Method};
use super::sms_codes::{self, Purpose, CODE_TTL, RESEND_AFTER};
use super::tokens::{hash_token, SubjectKind, REFRESH_GRACE, REFRESH_TTL, STEP_UP_TTL};
use super::views::{staff_me, worker_view, Me, SmsCodeSent, StepUpProof, TokenResponse};
use crate::actor::{Actor, Subject};
use crate::error::{ServiceError, ServiceResult};
use crate::network::ClientNetwork;
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
/// Each failure past `login_slow_after` holds the next attempts this much longer…
const SLOW_STEP: Duration = Duration::from_millis(250);
/// …up to this.
const SLOW_MAX: Duration = Duration::from_secs(3);

/// Signs staff in with username and password.
///
/// Guessing stays slow without letting a stranger lock the owner out (counted in 15-minute
/// windows, shared by all replicas through the key/value store):
/// - attempts per (username, client network): past `login_max_failures` that network is
///   refused for that username (429 `auth.account_locked`); the owner's network is not, and
///   a success there clears its count;
/// - wrong passwords per client network, whatever the username: past
///   `login_network_max_failures` the network is refused (429 `auth.too_many_attempts`);
/// - wrong passwords for the username from every network: past `login_slow_after`, each
///   attempt for it waits a little longer (250 ms a failure, at most 3 s) before the password
///   is checked — slowed, never refused, so a distributed guesser cannot lock anyone out.
pub async fn with_password(
    ctx: &Context,
    username: &str,
    given: String,
    ip: Option<IpAddr>,
) -> ServiceResult<TokenResponse> {
    let limits = &ctx.config.limits;
    // Usernames are case-insensitive at sign-in (they are stored lowercase).
    let typed = username.to_ascii_lowercase();
    let username = Username::parse(&typed)
        .map(|u| u.as_str().to_owned())
        .unwrap_or(typed);
    // Keys carry a keyed hash of what was typed, never the text: it may be a password.
    let user_tag = hex::encode(&ctx.tokens.mac(&["login", &username])[..16]);
    let network = ip.map_or_else(
        || "unknown".to_owned(),
        |ip| ClientNetwork::of(ip).to_string(),
    );
    let net_key = format!("login:fail:net:{network}");
    let pair_key = format!("login:fail:pair:{user_tag}:{network}");
    let user_key = format!("login:fail:user:{user_tag}");
    let now = ctx.now();
    let locked = |ends: DateTime<Utc>, code: &'static str, detail: &'static str| {
        let wait = (ends - now).to_std().unwrap_or(Duration::from_secs(1));
        ServiceError::rate_limited(code, wait).with_detail(detail)
    };
    let (network_failures, ends) = ctx.kv.count_in_window(&net_key, LOCK_WINDOW).await?;
    if network_failures >= u64::from(limits.login_network_max_failures) {
        return Err(locked(
            ends,
            "auth.too_many_attempts",
            "登录失败次数过多，请稍后再试",
        ));
    }
    // Counted before the password is checked, so parallel guesses cannot all slip under the
    // limit; a success clears the count.
    let (attempts, ends) = ctx.kv.incr_in_window(&pair_key, LOCK_WINDOW).await?;
    if attempts > u64::from(limits.login_max_failures) {
        return Err(locked(
            ends,
            "auth.account_locked",
            "密码错误次数过多，该账号已在此网络暂时锁定，请稍后再试",
        ));
    }
    let (user_failures, _) = ctx.kv.count_in_window(&user_key, LOCK_WINDOW).await?;
    let over = user_failures.saturating_sub(u64::from(limits.login_slow_after));
    if over > 0 {
        let steps = u32::try_from(over).unwrap_or(u32::MAX);
        tokio::time::sleep(SLOW_STEP.saturating_mul(steps).min(SLOW_MAX)).await;
    }

    let lookup = username.clone();
    let member = ctx
        .db
        .run(move |conn| staff_db::by_username(conn, &lookup))
        .await?;
    let ok = password::verify(given, member.as_ref().map(|m| m.password_hash.clone())).await?;
    let known = member.as_ref().map(|m| m.id.clone());
    let Some(member) = member.filter(|_| ok) else {
        ctx.kv.incr_in_window(&net_key, LOCK_WINDOW).await?;
        ctx.kv.incr_in_window(&user_key, LOCK_WINDOW).await?;
        // What was typed is not logged (a password typed into the username field would be);
        // the account, when there is one, is.
        match known {
            Some(id) => tracing::info!(staff = %id, "staff sign-in failed: wrong password"),
            None => tracing::info!("staff sign-in failed: no such username"),
        }
        return Err(ServiceError::unauthenticated(
            "auth.invalid_credentials",
            "用户名或密码错误",
        ));
    };
    ctx.kv.clear_window(&pair_key, LOCK_WINDOW).await?;
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
    Expired,
    Invalid,
}

/// Exchanges a refresh token for new tokens. Each refresh token works once: presented again
/// within 30 s it yields the same successor (flaky networks); later, it ends the session.
pub async fn refresh(ctx: &Context, presented: String) -> ServiceResult<TokenResponse> {
    let successor = ctx.tokens.successor(&presented);
    let now = ctx.now();
    let (user_max, staff_max) = (
        principal::max_session_age(ctx, SubjectKind::User),
        principal::max_session_age(ctx, SubjectKind::Staff),
    );
    let rotation = ctx
        .db
        .run(move |conn| {
            // A token we never issued is refused on a plain read: garbage must not take the
            // write lock (on SQLite, the whole database's).
            if accounts::refresh(conn, &hash_token(&presented))?.is_none() {
                return Ok(Rotation::Invalid);
            }
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
                let max_age = match kind {
                    SubjectKind::Staff => staff_max,
                    SubjectKind::User => user_max,
                };
                if now.naive_utc() >= session.created_at + max_age {
                    return Ok(Rotation::Expired);
                }
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
        Rotation::Expired => Err(principal::session_expired()),
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
