//! The signed-in caller: `GET /api/v1/me`, binding a phone through WeChat.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use gongyou_db::{accounts, orgs, staff as staff_db, write_tx, DbConnection, DbError};
use gongyou_domain::phone::Phone;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::caller::{invalidate_subject, Subject};
use crate::auth::sessions::{self, Method, TokenResponse};
use crate::auth::sms_codes::{self, Purpose};
use crate::auth::tokens::SubjectKind;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult, Problem};
use crate::routes::auth::wechat_client;
use crate::state::AppState;

/// The caller: a worker account or a staff account.
#[derive(Debug, Serialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Me {
    Worker(WorkerView),
    Staff(StaffMe),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerView {
    pub id: String,
    /// Masked, e.g. `138****5678`; null until a phone is bound.
    pub phone: Option<String>,
    pub wechat_bound: bool,
    /// `active` or `suspended`.
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    /// `station_manager`, `claims_reviewer`, `finance_approver` or `union_admin`.
    pub role: String,
    /// The org whose subtree the role covers.
    pub org_id: String,
    pub org_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StaffMe {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub org: OrgRef,
    pub roles: Vec<RoleView>,
}

pub fn worker_view(user: &accounts::User) -> WorkerView {
    WorkerView {
        id: user.id.clone(),
        phone: user
            .phone
            .as_deref()
            .and_then(|p| Phone::parse(p).ok())
            .map(|p| p.masked()),
        wechat_bound: user.wechat_openid.is_some() || user.wechat_unionid.is_some(),
        status: user.status.clone(),
        created_at: user.created_at.and_utc(),
    }
}

/// The staff member's own view (roles with org names).
pub fn staff_me(conn: &mut DbConnection, member: &staff_db::Staff) -> Result<StaffMe, DbError> {
    let org = orgs::get(conn, &member.org_id)?;
    let roles = staff_db::grants(conn, &member.id)?
        .into_iter()
        .map(|g| RoleView {
            role: g.role,
            org_id: g.org_id,
            org_name: g.org_name,
        })
        .collect();
    Ok(StaffMe {
        id: member.id.clone(),
        username: member.username.clone(),
        display_name: member.display_name.clone(),
        org: OrgRef {
            id: member.org_id.clone(),
            name: org.map(|o| o.name).unwrap_or_default(),
        },
        roles,
    })
}

/// The signed-in caller.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Me),
        (status = 401, description = "Not signed in, or the session ended", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, caller: Caller) -> ApiResult<web::Json<Me>> {
    let subject = caller.subject().clone();
    let me = state
        .db
        .run(move |conn| -> Result<Option<Me>, DbError> {
            Ok(match subject {
                Subject::User { id, .. } => {
                    accounts::user(conn, &id)?.map(|u| Me::Worker(worker_view(&u)))
                }
                Subject::Staff { id, .. } => match staff_db::get(conn, &id)? {
                    Some(member) => Some(Me::Staff(staff_me(conn, &member)?)),
                    None => None,
                },
            })
        })
        .await?
        .ok_or_else(|| {
            ApiError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
        })?;
    Ok(web::Json(me))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
pub struct WechatPhoneRequest {
    /// The `code` from the mini-program's `getPhoneNumber` button.
    pub code: String,
    /// When the phone already has an account (the answer was 409
    /// `auth.phone_verification_required`): an SMS code sent to that phone with purpose
    /// `bind_phone`. A recycled number must not hand its account over on WeChat's word alone.
    pub sms_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhoneBound {
    /// True when the phone already had an account and this WeChat account was merged into
    /// it: the old session has ended, use `session`.
    pub merged: bool,
    pub user: WorkerView,
    /// The new session of the merged account (only when `merged`).
    pub session: Option<TokenResponse>,
}

enum Binding {
    Bound(accounts::User),
    Merged {
        into: accounts::User,
        from: String,
        session_id: String,
        refresh: String,
    },
}

/// Binds the phone WeChat vouches for to the signed-in worker. When that phone already has
/// an account, this WeChat account is merged into it: one person, one account.
#[utoipa::path(
    tag = "auth",
    security(("bearer" = [])),
    request_body = WechatPhoneRequest,
    responses(
        (status = 200, body = PhoneBound),
        (status = 401, description = "`wechat.code_invalid`: the code is invalid or used", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`auth.code_invalid` / `auth.code_exhausted`: the `sms_code` for merging", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`auth.phone_verification_required` (the phone has an account: send `sms_code`), `auth.phone_already_bound` (another phone is bound) or `auth.wechat_conflict` (the phone's account has another WeChat)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`auth.phone_not_mainland`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`wechat.rate_limited`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`wechat.not_configured` or `wechat.busy`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/phone/wechat")]
pub async fn bind_phone_wechat(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<WechatPhoneRequest>,
) -> ApiResult<HttpResponse> {
    let user_id = caller.user_id()?.to_owned();
    let wechat = wechat_client(&state)?;
    let phone_info = wechat
        .phone_number(body.code.trim())
        .await
        .map_err(crate::routes::auth::wechat_error)?;
    let phone = Phone::parse(&phone_info.pure_phone_number)
        .ok()
        .filter(|_| phone_info.country_code == "86")
        .ok_or_else(|| {
            ApiError::unprocessable("auth.phone_not_mainland", "仅支持中国大陆手机号")
        })?;
    // Merging into the phone's existing account needs proof of holding the phone now.
    let lookup = phone.as_str().to_owned();
    let owner = state
        .db
        .run(move |conn| accounts::user_by_phone(conn, &lookup))
        .await?;
    let verified = match owner.filter(|o| o.id != user_id) {
        None => false,
        Some(_) => match body.sms_code.as_deref() {
            None => {
                return Err(ApiError::conflict(
                    "auth.phone_verification_required",
                    "该手机号已有账号，请输入发送到该手机号的验证码以合并账号",
                )
                .with_errors(serde_json::json!({ "phone": phone.masked() })))
            }
            Some(code) => {
                sms_codes::verify(&state, &phone, Purpose::BindPhone, code).await?;
                true
            }
        },
    };
    let now = state.clock.now();
    let binding = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<Binding> {
                let me = accounts::user(conn, &user_id)?
                    .ok_or_else(|| ApiError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录"))?;
                if let Some(existing) = &me.phone {
                    if existing == phone.as_str() {
                        return Ok(Binding::Bound(me));
                    }
                    return Err(ApiError::conflict("auth.phone_already_bound", "账号已绑定其他手机号"));
                }
                let Some(owner) = accounts::user_by_phone(conn, phone.as_str())? else {
                    accounts::set_phone(conn, &me.id, phone.as_str(), now.naive_utc())?;
                    let me = accounts::user(conn, &me.id)?.unwrap_or(me);
                    return Ok(Binding::Bound(me));
                };
                if !verified {
                    // The phone got an account between the check and now.
                    return Err(ApiError::conflict(
                        "auth.phone_verification_required",
                        "该手机号已有账号，请输入发送到该手机号的验证码以合并账号",
                    ));
                }
                let conflicting = |mine: &Option<String>, theirs: &Option<String>| {
                    matches!((mine, theirs), (Some(a), Some(b)) if a != b)
                };
                if conflicting(&me.wechat_openid, &owner.wechat_openid)
                    || conflicting(&me.wechat_unionid, &owner.wechat_unionid)
                {
                    return Err(ApiError::conflict("auth.wechat_conflict", "该手机号已绑定其他微信账号"));
                }
                let openid = owner.wechat_openid.clone().or(me.wechat_openid.clone());
                let unionid = owner.wechat_unionid.clone().or(me.wechat_unionid.clone());
                // Free the identities before giving them to the surviving account.
                accounts::mark_merged(conn, &me.id, &owner.id, now.naive_utc())?;
                accounts::set_wechat(conn, &owner.id, openid.as_deref(), unionid.as_deref(), now.naive_utc())?;
                accounts::revoke_sessions_of(conn, "user", &me.id, "merged", now.naive_utc())?;
                let (session_id, refresh) = sessions::start(conn, SubjectKind::User, &owner.id, Method::Wechat, now)?;
                let into = accounts::user(conn, &owner.id)?.unwrap_or(owner);
                Ok(Binding::Merged { into, from: me.id, session_id, refresh })
            })
        })
        .await?;
    let response = match binding {
        Binding::Bound(user) => {
            invalidate_subject(&state, SubjectKind::User, &user.id).await?;
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
            invalidate_subject(&state, SubjectKind::User, &from).await?;
            tracing::info!(from = %from, into = %into.id, "accounts merged on phone binding");
            let session = sessions::response(
                &state.tokens,
                SubjectKind::User,
                &into.id,
                &session_id,
                refresh,
                Me::Worker(worker_view(&into)),
                now,
            );
            PhoneBound {
                merged: true,
                user: worker_view(&into),
                session: Some(session),
            }
        }
    };
    Ok(HttpResponse::Ok().json(response))
}
