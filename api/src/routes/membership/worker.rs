//! The member's side: apply, follow the application, the e-card, transfer, withdraw, export.
//! Card verification (station managers and admins) is here too: it reads the card.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use gongyou_db::membership::{self as db, Application, Membership, Transfer};
use gongyou_db::{accounts, orgs, write_tx, DbError};
use gongyou_domain::id_number::{IdNumber, IdNumberError, Sex};
use gongyou_domain::membership::{
    card_number, check_age, mask_name, parse_platform_worker_id, parse_real_name, AgeError,
    Occupation, Platform, MAX_AGE, MIN_AGE,
};
use gongyou_domain::org::{OrgPath, OrgType};
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    application_view, membership_view, record, route, transfer_view, Actor, ApplicationView,
    MembershipView, TransferView,
};
use crate::auth::tokens::TokenType;
use crate::auth::{Caller, Subject};
use crate::error::{ApiError, ApiResult, Problem};
use crate::idempotency::idempotent;
use crate::membership_card::{self, Scanned};
use crate::state::AppState;
use gongyou_domain::notification::Category;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Consents {
    /// Consent to processing of personal information.
    pub personal_information: bool,
    /// Separate consent to processing of sensitive personal information (the ID number).
    pub sensitive_personal_information: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct NewApplication {
    pub real_name: String,
    /// Resident ID number (18 characters, x or X).
    pub id_number: String,
    #[schema(value_type = String, example = "delivery_rider")]
    pub occupation: Occupation,
    #[schema(value_type = String, example = "meituan")]
    pub platform: Platform,
    pub platform_worker_id: String,
    /// GB/T 2260 code of where the worker works.
    pub region_code: String,
    pub consents: Consents,
}

fn id_number_error(e: IdNumberError) -> ApiError {
    match e {
        IdNumberError::Format => {
            ApiError::unprocessable("membership.id_number_format", "身份证号码须为 18 位")
        }
        IdNumberError::Region => {
            ApiError::unprocessable("membership.id_number_region", "身份证号码的地区代码不正确")
        }
        IdNumberError::BirthDate => ApiError::unprocessable(
            "membership.id_number_birth_date",
            "身份证号码中的出生日期不正确",
        ),
        IdNumberError::CheckChar => ApiError::unprocessable(
            "membership.id_number_check_char",
            "身份证号码校验位不正确，请核对",
        ),
    }
}

struct Checked {
    real_name: String,
    id_number: IdNumber,
    region: RegionCode,
    platform_worker_id: String,
}

fn check(body: &NewApplication, today: NaiveDate) -> ApiResult<Checked> {
    let mut missing = Vec::new();
    if !body.consents.personal_information {
        missing.push("personal_information");
    }
    if !body.consents.sensitive_personal_information {
        missing.push("sensitive_personal_information");
    }
    if !missing.is_empty() {
        return Err(ApiError::unprocessable(
            "membership.consent_required",
            "请阅读并同意个人信息及敏感个人信息处理规则",
        )
        .with_errors(serde_json::json!({ "consents": missing })));
    }
    let real_name = parse_real_name(&body.real_name).ok_or_else(|| {
        ApiError::unprocessable("membership.invalid_name", "请填写 2 至 30 个字的真实姓名")
    })?;
    let id_number = IdNumber::parse(&body.id_number, today).map_err(id_number_error)?;
    let region = RegionCode::parse(&body.region_code)
        .map_err(|_| ApiError::unprocessable("membership.region_unknown", "工作地区代码不存在"))?;
    let platform_worker_id =
        parse_platform_worker_id(&body.platform_worker_id).ok_or_else(|| {
            ApiError::unprocessable("membership.invalid_platform_worker_id", "请填写平台工号")
        })?;
    check_age(id_number.age_on(today)).map_err(|e| {
        let detail = match e {
            AgeError::TooYoung => format!("入会年龄须满 {MIN_AGE} 周岁"),
            AgeError::TooOld => format!("入会年龄须在 {MAX_AGE} 周岁以下"),
        };
        ApiError::unprocessable("membership.age_not_eligible", detail)
    })?;
    Ok(Checked {
        real_name,
        id_number,
        region,
        platform_worker_id,
    })
}

fn sex_str(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "male",
        Sex::Female => "female",
    }
}

/// Approves inside the caller's transaction: creates the membership with its card number.
pub(crate) fn approve_in_tx(
    conn: &mut gongyou_db::DbConnection,
    app: &Application,
    actor: Actor<'_>,
    now: DateTime<Utc>,
) -> ApiResult<Membership> {
    if db::live_membership_of_user(conn, &app.user_id)?.is_some() {
        return Err(ApiError::conflict(
            "membership.already_member",
            "该职工已是会员",
        ));
    }
    if db::live_membership_with_identity(conn, &app.id_number_index)?.is_some() {
        return Err(ApiError::conflict(
            "membership.identity_in_use",
            "该身份证号码已有有效会籍，请先核实",
        ));
    }
    let org = orgs::get(conn, &app.org_id)?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("routed org missing")))?;
    let card = new_card_number(conn, &org)?;
    let membership = Membership {
        id: gongyou_domain::id::new_id(),
        user_id: app.user_id.clone(),
        org_id: org.id.clone(),
        application_id: app.id.clone(),
        card_number: card,
        status: db::MEMBER_ACTIVE.into(),
        joined_on: super::china_date(now).to_string(),
        real_name: app.real_name.clone(),
        id_number_enc: app.id_number_enc.clone(),
        id_number_key_id: app.id_number_key_id.clone(),
        id_number_index: app.id_number_index.clone(),
        birth_date: app.birth_date.clone(),
        sex: app.sex.clone(),
        occupation: app.occupation.clone(),
        platform: app.platform.clone(),
        platform_worker_id: app.platform_worker_id.clone(),
        region_code: app.region_code.clone(),
        ended_at: None,
        anonymized_at: None,
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
    };
    db::insert_membership(conn, &membership)?;
    let by = match &actor {
        Actor::Staff(id) | Actor::User(id) => (*id).to_owned(),
    };
    if !db::decide_application(
        conn,
        &app.id,
        db::APP_APPROVED,
        &by,
        None,
        Some(&membership.id),
        now.naive_utc(),
    )? {
        return Err(ApiError::conflict(
            "membership.application_decided",
            "该申请已处理",
        ));
    }
    record(
        conn,
        Some(&membership.id),
        Some(&app.id),
        "approved",
        actor,
        None,
        now.naive_utc(),
    )?;
    crate::notify::notify(
        conn,
        &membership.user_id,
        Category::MembershipApproved,
        serde_json::json!({"org": org.name, "card_number": membership.card_number}),
        now,
    )?;
    Ok(membership)
}

/// The next card number of an org: its region code (000000 for the national org), an
/// eight-digit sequence and a check digit.
pub(super) fn new_card_number(
    conn: &mut gongyou_db::DbConnection,
    org: &orgs::Org,
) -> ApiResult<String> {
    let region = org.region_code.clone().unwrap_or_else(|| "000000".into());
    let sequence = db::next_card_sequence(conn, &region)?;
    card_number(&region, sequence).ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("card sequence exhausted for {}", org.id))
    })
}

/// Applies to join the union. The same response whether or not the ID number is already
/// held by another account (that goes to an identity-conflict review).
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    request_body = NewApplication,
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat-safe submission")),
    responses(
        (status = 201, body = ApplicationView),
        (status = 400, description = "Malformed body (`request.invalid_body`, `request.malformed_json`)", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.phone_required`, `membership.application_pending`, `membership.already_member`, `idempotency.key_reused`, `idempotency.in_flight`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.consent_required`, `membership.id_number_format`, `membership.id_number_region`, `membership.id_number_birth_date`, `membership.id_number_check_char`, `membership.age_not_eligible`, `membership.invalid_name`, `membership.region_unknown`, `membership.invalid_platform_worker_id`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/membership/applications")]
pub async fn apply(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<NewApplication>,
) -> ApiResult<HttpResponse> {
    let user_id = caller.user_id()?.to_owned();
    let body = body.into_inner();
    let st = state.clone();
    let owned = body.clone();
    idempotent(&state, &req, &user_id.clone(), &body, || async move {
        let body = owned;
        let now = st.clock.now();
        let today = super::china_date(now);
        let checked = check(&body, today)?;
        let sealed = st
            .crypto
            .encrypt(checked.id_number.as_str(), "id_number")
            .map_err(|e| ApiError::internal(anyhow::anyhow!("encrypting an ID number: {e}")))?;
        let index = st
            .crypto
            .blind_index("id_number", checked.id_number.as_str());
        let crypto = st.crypto.clone();
        let (view, application_id) = st
            .db
            .run(move |conn| {
                write_tx(conn, |conn| -> ApiResult<(ApplicationView, String)> {
                    let user = accounts::user(conn, &user_id)?.ok_or_else(|| {
                        ApiError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
                    })?;
                    let phone = user.phone.clone().ok_or_else(|| {
                        ApiError::conflict("membership.phone_required", "请先绑定手机号")
                    })?;
                    if db::live_membership_of_user(conn, &user_id)?.is_some() {
                        return Err(ApiError::conflict(
                            "membership.already_member",
                            "您已是工会会员",
                        ));
                    }
                    if db::pending_application_of_user(conn, &user_id)?.is_some() {
                        return Err(ApiError::conflict(
                            "membership.application_pending",
                            "您已有一份入会申请正在审核",
                        ));
                    }
                    let conflict = db::identity_held_by_other(conn, &index, &user_id)?;
                    let org = route(conn, checked.region, body.occupation.as_str())?;
                    let app = Application {
                        id: gongyou_domain::id::new_id(),
                        user_id: user_id.clone(),
                        org_id: org.id.clone(),
                        status: db::APP_PENDING.into(),
                        identity_conflict: conflict,
                        real_name: checked.real_name,
                        id_number_enc: sealed.ciphertext,
                        id_number_key_id: sealed.key_id,
                        id_number_index: index,
                        birth_date: checked.id_number.birth_date().to_string(),
                        sex: sex_str(checked.id_number.sex()).into(),
                        occupation: body.occupation.as_str().into(),
                        platform: body.platform.as_str().into(),
                        platform_worker_id: checked.platform_worker_id,
                        region_code: checked.region.to_string(),
                        phone,
                        consent_pi_at: now.naive_utc(),
                        consent_sensitive_at: now.naive_utc(),
                        decided_by: None,
                        decided_at: None,
                        decision_reason: None,
                        membership_id: None,
                        created_at: now.naive_utc(),
                        updated_at: now.naive_utc(),
                    };
                    db::insert_application(conn, &app)?;
                    record(
                        conn,
                        None,
                        Some(&app.id),
                        "application_submitted",
                        Actor::User(&user_id),
                        None,
                        now.naive_utc(),
                    )?;
                    // Auto-approval runs as a job, so every submission answers alike (pending),
                    // conflict or not.
                    if !conflict && db::auto_approve(conn, &org.id)? {
                        crate::background::enqueue_auto_approval(conn, &app.id, now)?;
                    }
                    let app = db::application(conn, &app.id)?.unwrap_or(app);
                    Ok((application_view(conn, &crypto, &app, today, false)?, app.id))
                })
            })
            .await?;
        tracing::info!(application = %application_id, "membership application submitted");
        Ok(HttpResponse::Created()
            .insert_header((
                "Location",
                format!("/api/v1/membership/applications/{application_id}"),
            ))
            .json(view))
    })
    .await
}

fn application_not_found() -> ApiError {
    ApiError::not_found("membership.application_not_found", "入会申请不存在")
}

/// One application: its applicant, or a union admin over the org it was routed to.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ApplicationView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`membership.application_not_found` (also: not yours)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/membership/applications/{id}")]
pub async fn get_application(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<web::Json<ApplicationView>> {
    let id = id.into_inner();
    let today = super::china_date(state.clock.now());
    let crypto = state.crypto.clone();
    let view = state
        .db
        .run(move |conn| -> ApiResult<ApplicationView> {
            let app = db::application(conn, &id)?.ok_or_else(application_not_found)?;
            let for_staff = match caller.subject() {
                Subject::User { id: user_id, .. } if *user_id == app.user_id => false,
                Subject::User { .. } => return Err(application_not_found()),
                Subject::Staff { .. } => {
                    let org = orgs::get(conn, &app.org_id)?.ok_or_else(application_not_found)?;
                    if !caller.holds(Role::UnionAdmin, &OrgPath::from_stored(org.path)) {
                        return Err(application_not_found());
                    }
                    true
                }
            };
            Ok(application_view(conn, &crypto, &app, today, for_staff)?)
        })
        .await?;
    Ok(web::Json(view))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyMembership {
    /// `none`, `pending` (application under review), `rejected` (latest application),
    /// `active`, `suspended` or `withdrawn`.
    pub status: String,
    pub membership: Option<MembershipView>,
    /// The latest application.
    pub application: Option<ApplicationView>,
    /// A transfer waiting for the receiving union.
    pub pending_transfer: Option<TransferView>,
}

/// The caller's membership and latest application.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MyMembership),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/membership")]
pub async fn my_membership(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<MyMembership>> {
    let user_id = caller.user_id()?.to_owned();
    let today = super::china_date(state.clock.now());
    let crypto = state.crypto.clone();
    let mine = state
        .db
        .run(move |conn| -> Result<MyMembership, DbError> {
            let membership = match db::live_membership_of_user(conn, &user_id)? {
                Some(m) => Some(m),
                None => db::memberships_of_user(conn, &user_id)?.pop(),
            };
            let application = db::latest_application_of_user(conn, &user_id)?;
            let pending_transfer = match &membership {
                Some(m) => db::pending_transfer_of(conn, &m.id)?,
                None => None,
            };
            let status = match (&membership, &application) {
                (Some(m), _) if m.status != db::MEMBER_WITHDRAWN => m.status.clone(),
                (_, Some(a)) if a.status == db::APP_PENDING || a.status == db::APP_REJECTED => {
                    a.status.clone()
                }
                (Some(m), _) => m.status.clone(),
                _ => "none".into(),
            };
            Ok(MyMembership {
                status,
                membership: membership
                    .map(|m| membership_view(conn, &crypto, &m, today))
                    .transpose()?,
                application: application
                    .map(|a| application_view(conn, &crypto, &a, today, false))
                    .transpose()?,
                pending_transfer: pending_transfer
                    .map(|t| transfer_view(conn, &t, false))
                    .transpose()?,
            })
        })
        .await?;
    Ok(web::Json(mine))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Card {
    pub card_number: String,
    /// Masked, as shown on the card: `张*`.
    pub name: String,
    pub org: crate::routes::me::OrgRef,
    pub joined_on: String,
    /// The QR code's content: a signed token valid 5 minutes.
    pub qr: String,
    pub qr_expires_at: DateTime<Utc>,
}

fn not_active() -> ApiError {
    ApiError::conflict(
        "membership.not_active",
        "会籍未生效或已暂停，无法出示会员卡",
    )
}

/// The e-card with a fresh QR token.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Card),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.not_active` (none, suspended or withdrawn)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/membership/card")]
pub async fn my_card(state: web::Data<AppState>, caller: Caller) -> ApiResult<web::Json<Card>> {
    let user_id = caller.user_id()?.to_owned();
    let (membership, org) = state
        .db
        .run(
            move |conn| -> ApiResult<(Membership, crate::routes::me::OrgRef)> {
                let m = db::live_membership_of_user(conn, &user_id)?
                    .filter(|m| m.status == db::MEMBER_ACTIVE)
                    .ok_or_else(not_active)?;
                let org = super::org_ref(conn, &m.org_id)?;
                Ok((m, org))
            },
        )
        .await?;
    let (qr, expires) = membership_card::issue(
        &state.tokens,
        &membership.id,
        &membership.card_number,
        state.clock.now(),
    );
    Ok(web::Json(Card {
        card_number: membership.card_number,
        name: mask_name(&membership.real_name),
        org,
        joined_on: membership.joined_on,
        qr,
        qr_expires_at: expires,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CardVerificationRequest {
    /// The scanned QR content.
    pub qr: String,
    /// The station it was scanned at (the caller must manage or administer it): a valid card
    /// counts as a visit there.
    pub station_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardVerification {
    /// `valid`, `expired` (ask for a fresh code), `forged` or `not_active`.
    pub result: String,
    /// The member's masked name, when the token is genuine.
    pub name: Option<String>,
    pub card_number: Option<String>,
    pub org: Option<crate::routes::me::OrgRef>,
}

/// Verifies a scanned e-card (station managers and union admins).
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    request_body = CardVerificationRequest,
    responses(
        (status = 200, body = CardVerification),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 400, description = "`request.invalid_body`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.staff_only`, `auth.role_required`, or `station.not_yours` (a station the caller does not manage)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`station.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/membership/card-verifications")]
pub async fn verify_card(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<CardVerificationRequest>,
) -> ApiResult<web::Json<CardVerification>> {
    let (staff_id, roles) = caller.staff()?;
    let staff_id = staff_id.to_owned();
    // Union admins, and station managers (assigned on stations, not granted on orgs).
    let admin = roles.iter().any(|r| r.role == Role::UnionAdmin);
    let manager = {
        let staff_id = staff_id.clone();
        !admin
            && state
                .db
                .run(move |conn| gongyou_db::stations::manages_any(conn, &staff_id))
                .await?
    };
    if !admin && !manager {
        return Err(ApiError::forbidden(
            "auth.role_required",
            "仅驿站管理员和工会管理员可以核验会员卡",
        ));
    }
    let body = body.into_inner();
    if body
        .station_id
        .as_deref()
        .is_some_and(|s| s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(ApiError::bad_request(
            "request.invalid_body",
            "station_id 须为 1 至 64 个可见 ASCII 字符",
        ));
    }
    let now = state.clock.now();
    let scanned = membership_card::scan(&state.tokens, &body.qr, now);
    let (membership_id, expired) = match scanned {
        Scanned::Forged => {
            tracing::warn!(staff = %staff_id, "a forged membership card was scanned");
            return Ok(web::Json(CardVerification {
                result: "forged".into(),
                name: None,
                card_number: None,
                org: None,
            }));
        }
        Scanned::Expired { membership_id } => (membership_id, true),
        Scanned::Valid { membership_id, .. } => (membership_id, false),
    };
    let st = state.clone();
    let verification = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<CardVerification> {
                // At a station: only its managers and admins, and a valid card counts as a
                // visit there.
                let station = match body.station_id.as_deref() {
                    Some(id) => Some(crate::routes::stations::managed(conn, &caller, id)?.0),
                    None => None,
                };
                let Some(m) = db::membership(conn, &membership_id)? else {
                    return Ok(CardVerification {
                        result: "not_active".into(),
                        name: None,
                        card_number: None,
                        org: None,
                    });
                };
                let result = if expired {
                    "expired"
                } else if m.status == db::MEMBER_ACTIVE {
                    "valid"
                } else {
                    "not_active"
                };
                if let (Some(station), "valid") = (&station, result) {
                    crate::routes::stations::visits::record_visit(
                        conn,
                        &st,
                        &station.id,
                        &m.user_id,
                        crate::routes::stations::visits::SOURCE_CARD,
                        now,
                    )?;
                }
                // The result only: which station would say where a named member was
                // (visits keep a keyed hash instead, ADR 011).
                record(
                    conn,
                    Some(&m.id),
                    None,
                    "card_verified",
                    Actor::Staff(&staff_id),
                    Some(result),
                    now.naive_utc(),
                )?;
                Ok(CardVerification {
                    result: result.into(),
                    name: Some(mask_name(&m.real_name)),
                    card_number: Some(m.card_number.clone()),
                    org: Some(super::org_ref(conn, &m.org_id)?),
                })
            })
        })
        .await?;
    Ok(web::Json(verification))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferRequest {
    /// The grassroots union to move to.
    pub to_org_id: String,
    pub reason: Option<String>,
}

/// Asks to move the membership to another grassroots union; its admins decide.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    request_body = TransferRequest,
    responses(
        (status = 201, body = TransferView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.not_active`, `membership.transfer_pending`, `membership.same_org`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`membership.transfer_target_invalid`: not a grassroots union", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/membership/transfers")]
pub async fn request_transfer(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<TransferRequest>,
) -> ApiResult<HttpResponse> {
    let user_id = caller.user_id()?.to_owned();
    let body = body.into_inner();
    let now = state.clock.now().naive_utc();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<TransferView> {
                let m = db::live_membership_of_user(conn, &user_id)?
                    .filter(|m| m.status == db::MEMBER_ACTIVE)
                    .ok_or_else(not_active)?;
                let target = orgs::get(conn, &body.to_org_id)?
                    .filter(|o| o.org_type == OrgType::GrassrootsUnion.as_str())
                    .ok_or_else(|| {
                        ApiError::unprocessable(
                            "membership.transfer_target_invalid",
                            "只能转入基层工会",
                        )
                    })?;
                if target.id == m.org_id {
                    return Err(ApiError::conflict("membership.same_org", "已在该工会"));
                }
                if db::pending_transfer_of(conn, &m.id)?.is_some() {
                    return Err(ApiError::conflict(
                        "membership.transfer_pending",
                        "已有一个转会申请在办理中",
                    ));
                }
                let reason = body
                    .reason
                    .as_deref()
                    .map(str::trim)
                    .filter(|r| !r.is_empty())
                    .map(|r| r.chars().take(200).collect::<String>());
                let transfer = Transfer {
                    id: gongyou_domain::id::new_id(),
                    membership_id: m.id.clone(),
                    from_org_id: m.org_id.clone(),
                    to_org_id: target.id,
                    status: db::TRANSFER_PENDING.into(),
                    reason: reason.clone(),
                    decided_by: None,
                    decided_at: None,
                    decision_note: None,
                    created_at: now,
                };
                db::insert_transfer(conn, &transfer)?;
                record(
                    conn,
                    Some(&m.id),
                    None,
                    "transfer_requested",
                    Actor::User(&user_id),
                    reason.as_deref(),
                    now,
                )?;
                Ok(transfer_view(conn, &transfer, false)?)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(view))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct WithdrawalRequest {
    pub reason: Option<String>,
    /// Also erase personal data (name, ID number, birth date, platform id) irreversibly;
    /// what finance records must keep (ids, union, dates, card number) stays.
    #[serde(default)]
    pub delete_personal_data: bool,
}

/// Leaves the union, optionally erasing personal data.
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    request_body = WithdrawalRequest,
    responses(
        (status = 200, body = MembershipView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.workers_only`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`membership.none`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/membership/withdrawal")]
pub async fn withdraw(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<WithdrawalRequest>,
) -> ApiResult<web::Json<MembershipView>> {
    let user_id = caller.user_id()?.to_owned();
    let body = body.into_inner();
    let now = state.clock.now();
    let crypto = state.crypto.clone();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<MembershipView> {
                let t = now.naive_utc();
                let Some(m) = db::live_membership_of_user(conn, &user_id)? else {
                    // Already withdrawn: erasure may still be asked for later.
                    let last = db::memberships_of_user(conn, &user_id)?.pop();
                    return match last {
                        Some(m) if body.delete_personal_data && m.anonymized_at.is_none() => {
                            erase(conn, &user_id, &m.id, t)?;
                            let m = db::membership(conn, &m.id)?.unwrap_or(m);
                            Ok(membership_view(conn, &crypto, &m, super::china_date(now))?)
                        }
                        _ => Err(ApiError::conflict("membership.none", "您当前没有会籍")),
                    };
                };
                if let Some(pending) = db::pending_transfer_of(conn, &m.id)? {
                    db::decide_transfer(
                        conn,
                        &pending.id,
                        "cancelled",
                        &user_id,
                        Some("withdrawn"),
                        t,
                    )?;
                }
                if !db::set_membership_status(
                    conn,
                    &m.id,
                    &m.status,
                    db::MEMBER_WITHDRAWN,
                    Some(t),
                    t,
                )? {
                    return Err(ApiError::conflict(
                        "membership.wrong_status",
                        "会籍状态刚刚发生变化，请刷新后重试",
                    ));
                }
                let reason = body
                    .reason
                    .as_deref()
                    .map(|r| r.chars().take(200).collect::<String>());
                record(
                    conn,
                    Some(&m.id),
                    None,
                    "withdrawn",
                    Actor::User(&user_id),
                    reason.as_deref(),
                    t,
                )?;
                if body.delete_personal_data {
                    erase(conn, &user_id, &m.id, t)?;
                }
                let m = db::membership(conn, &m.id)?.unwrap_or(m);
                Ok(membership_view(conn, &crypto, &m, super::china_date(now))?)
            })
        })
        .await?;
    Ok(web::Json(view))
}

/// Irreversibly erases a member's personal data: the membership's and every application's
/// personal fields, and stored responses (idempotency) that could still hold them.
fn erase(
    conn: &mut gongyou_db::DbConnection,
    user_id: &str,
    membership_id: &str,
    t: chrono::NaiveDateTime,
) -> Result<(), DbError> {
    db::anonymize_membership(conn, membership_id, t)?;
    db::anonymize_applications_of_user(conn, user_id, t)?;
    gongyou_db::idempotency::forget_caller(conn, user_id)?;
    record(
        conn,
        Some(membership_id),
        None,
        "personal_data_erased",
        Actor::User(user_id),
        None,
        t,
    )
}

/// All the caller's data, unmasked (it is theirs): after an SMS step-up
/// (`X-Step-Up-Token` from `POST /api/v1/auth/step-up`).
#[utoipa::path(
    tag = "membership",
    security(("bearer" = [])),
    params(("X-Step-Up-Token" = String, Header, description = "Proof of a fresh SMS code")),
    responses(
        (status = 200, description = "Account, applications, memberships, transfers and history as JSON", body = Object),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`auth.step_up_required`, `auth.workers_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/data-export")]
pub async fn data_export(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
) -> ApiResult<HttpResponse> {
    let user_id = caller.user_id()?.to_owned();
    let proof = req
        .headers()
        .get("x-step-up-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = state.clock.now();
    let valid = state
        .tokens
        .verify(proof, TokenType::StepUp, now)
        .is_ok_and(|c| c.sub == user_id && c.sid == caller.session_id());
    if !valid {
        return Err(ApiError::forbidden(
            "auth.step_up_required",
            "请先通过短信验证码验证身份",
        ));
    }
    let crypto = state.crypto.clone();
    let export = state
        .db
        .run(move |conn| -> Result<serde_json::Value, DbError> {
            let user = accounts::user(conn, &user_id)?;
            let reveal = |key_id: &str, enc: &str| {
                if enc.is_empty() {
                    None
                } else {
                    crypto.decrypt(key_id, enc, "id_number").ok()
                }
            };
            let applications: Vec<_> = db::applications_of_user(conn, &user_id)?
                .into_iter()
                .map(|a| {
                    serde_json::json!({
                        "id": a.id, "status": a.status, "org_id": a.org_id, "real_name": a.real_name,
                        "id_number": reveal(&a.id_number_key_id, &a.id_number_enc),
                        "birth_date": a.birth_date, "sex": a.sex, "occupation": a.occupation, "platform": a.platform,
                        "platform_worker_id": a.platform_worker_id, "region_code": a.region_code, "phone": a.phone,
                        "consented_at": a.consent_pi_at.and_utc(), "sensitive_consented_at": a.consent_sensitive_at.and_utc(),
                        "decision_reason": a.decision_reason, "created_at": a.created_at.and_utc(),
                    })
                })
                .collect();
            let mut history = Vec::new();
            let memberships: Vec<_> = db::memberships_of_user(conn, &user_id)?
                .into_iter()
                .map(|m| {
                    history.push((m.id.clone(), m.application_id.clone()));
                    serde_json::json!({
                        "id": m.id, "status": m.status, "org_id": m.org_id, "card_number": m.card_number,
                        "real_name": m.real_name, "id_number": reveal(&m.id_number_key_id, &m.id_number_enc),
                        "birth_date": m.birth_date, "sex": m.sex, "occupation": m.occupation, "platform": m.platform,
                        "platform_worker_id": m.platform_worker_id, "region_code": m.region_code,
                        "joined_on": m.joined_on, "ended_at": m.ended_at.map(|t| t.and_utc()),
                    })
                })
                .collect();
            let mut events = Vec::new();
            for (membership_id, application_id) in history {
                for e in db::events_of(conn, &membership_id, &application_id)? {
                    events.push(serde_json::json!({"kind": e.kind, "actor": e.actor_kind, "reason": e.reason, "at": e.created_at.and_utc()}));
                }
            }
            let transfers: Vec<_> = db::transfers_of_user(conn, &user_id)?
                .into_iter()
                .map(|t| serde_json::json!({"id": t.id, "from_org_id": t.from_org_id, "to_org_id": t.to_org_id, "status": t.status, "reason": t.reason, "created_at": t.created_at.and_utc()}))
                .collect();
            Ok(serde_json::json!({
                "exported_at": now,
                "account": user.map(|u| serde_json::json!({
                    "id": u.id, "phone": u.phone, "wechat_bound": u.wechat_openid.is_some(), "status": u.status,
                    "created_at": u.created_at.and_utc(),
                })),
                "applications": applications,
                "memberships": memberships,
                "transfers": transfers,
                "history": events,
            }))
        })
        .await?;
    tracing::info!("personal data exported by its owner");
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(export))
}
