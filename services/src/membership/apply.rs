//! Applying to join: the worker's form checked completely (consents, name, ID number, age,
//! region, platform id), routed to a union, and queued for auto-approval where the union
//! allows it. The same answer whether or not the ID number is already held by another
//! account (that goes to an identity-conflict review).

use chrono::NaiveDate;
use gongyou_db::jobs::Job;
use gongyou_db::membership::{self as db, Application};
use gongyou_db::{accounts, orgs, write_tx, DbError};
use gongyou_domain::id_number::{IdNumber, IdNumberError, Sex};
use gongyou_domain::membership::{
    check_age, parse_platform_worker_id, parse_real_name, AgeError, Occupation, Platform, MAX_AGE,
    MIN_AGE,
};
use gongyou_domain::org::OrgPath;
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;
use gongyou_domain::status::{ApplicationStatus, MembershipStatus};
use gongyou_domain::time::china_date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::review::AutoApprove;
use super::views::{
    application_view, membership_view, transfer_view, ApplicationView, MyMembership,
};
use super::{application_not_found, record, route, By};
use crate::actor::{Actor, Subject};
use crate::error::{ServiceError, ServiceResult};
use crate::text::RealName;
use crate::Context;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct Consents {
    /// Consent to processing of personal information: must be `true`.
    #[schema(schema_with = crate::schema::must_be_true)]
    pub personal_information: bool,
    /// Separate consent to processing of sensitive personal information (the ID number):
    /// must be `true`.
    #[schema(schema_with = crate::schema::must_be_true)]
    pub sensitive_personal_information: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct NewApplication {
    #[schema(value_type = RealName, inline)]
    pub real_name: String,
    /// Resident ID number (GB 11643: 18 characters, the last a digit, x or X; its region,
    /// birth date and check character are checked too, 422 when one is wrong).
    #[schema(pattern = "^[0-9]{17}[0-9Xx]$")]
    pub id_number: String,
    pub occupation: Occupation,
    pub platform: Platform,
    /// The worker's id at the platform: 1–64 visible ASCII characters.
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub platform_worker_id: String,
    /// GB/T 2260 code of where the worker works.
    #[schema(value_type = RegionCode)]
    pub region_code: String,
    /// When the worker started on the platform (optional): plans with a minimum platform
    /// tenure need it. A real date, not in the future, not before 1990-01-01 (422
    /// `membership.invalid_platform_start`).
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub platform_started_on: Option<String>,
    pub consents: Consents,
}

/// A platform start date: a real date, not after `today`, not before 1990.
pub fn parse_platform_start(s: &str, today: NaiveDate) -> ServiceResult<NaiveDate> {
    let bad = || {
        ServiceError::rule(
            "membership.invalid_platform_start",
            "平台入职日期须为 1990-01-01 至今天之间的真实日期",
        )
    };
    let day = gongyou_domain::time::parse_date(s).map_err(|_| bad())?;
    let earliest = NaiveDate::from_ymd_opt(1990, 1, 1).ok_or_else(bad)?;
    if day < earliest || day > today {
        return Err(bad());
    }
    Ok(day)
}

fn id_number_error(e: IdNumberError) -> ServiceError {
    match e {
        IdNumberError::Format => {
            ServiceError::rule("membership.id_number_format", "身份证号码须为 18 位")
        }
        IdNumberError::Region => {
            ServiceError::rule("membership.id_number_region", "身份证号码的地区代码不正确")
        }
        IdNumberError::BirthDate => ServiceError::rule(
            "membership.id_number_birth_date",
            "身份证号码中的出生日期不正确",
        ),
        IdNumberError::CheckChar => ServiceError::rule(
            "membership.id_number_check_char",
            "身份证号码校验位不正确，请核对",
        ),
    }
}

/// An application form that passed every check.
struct Checked {
    real_name: String,
    id_number: IdNumber,
    region: RegionCode,
    platform_worker_id: String,
    platform_started_on: Option<NaiveDate>,
}

fn check(body: &NewApplication, today: NaiveDate) -> ServiceResult<Checked> {
    let mut missing = Vec::new();
    if !body.consents.personal_information {
        missing.push("personal_information");
    }
    if !body.consents.sensitive_personal_information {
        missing.push("sensitive_personal_information");
    }
    if !missing.is_empty() {
        return Err(ServiceError::rule(
            "membership.consent_required",
            "请阅读并同意个人信息及敏感个人信息处理规则",
        )
        .with_errors(serde_json::json!({ "consents": missing })));
    }
    let real_name = parse_real_name(&body.real_name).ok_or_else(|| {
        ServiceError::rule("membership.invalid_name", "请填写 2 至 30 个字的真实姓名")
    })?;
    let id_number = IdNumber::parse(&body.id_number, today).map_err(id_number_error)?;
    let region = RegionCode::parse(&body.region_code)
        .map_err(|_| ServiceError::rule("membership.region_unknown", "工作地区代码不存在"))?;
    let platform_worker_id =
        parse_platform_worker_id(&body.platform_worker_id).ok_or_else(|| {
            ServiceError::rule("membership.invalid_platform_worker_id", "请填写平台工号")
        })?;
    check_age(id_number.age_on(today)).map_err(|e| {
        let detail = match e {
            AgeError::TooYoung => format!("入会年龄须满 {MIN_AGE} 周岁"),
            AgeError::TooOld => format!("入会年龄须在 {MAX_AGE} 周岁以下"),
        };
        ServiceError::rule("membership.age_not_eligible", detail)
    })?;
    let platform_started_on = body
        .platform_started_on
        .as_deref()
        .map(|s| parse_platform_start(s, today))
        .transpose()?;
    Ok(Checked {
        real_name,
        id_number,
        region,
        platform_worker_id,
        platform_started_on,
    })
}

fn sex_str(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "male",
        Sex::Female => "female",
    }
}

/// Applies to join the union (workers with a bound phone, one live membership or pending
/// application at a time).
pub async fn apply(
    ctx: &Context,
    actor: &Actor,
    body: NewApplication,
) -> ServiceResult<ApplicationView> {
    let user_id = actor.user_id()?.to_owned();
    let now = ctx.now();
    let today = china_date(now);
    let checked = check(&body, today)?;
    let sealed = ctx
        .crypto
        .encrypt(checked.id_number.as_str(), "id_number")
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("encrypting an ID number: {e}")))?;
    let index = ctx
        .crypto
        .blind_index("id_number", checked.id_number.as_str());
    // During a data-key rotation, rows not re-indexed yet carry the previous key's index.
    let lookups = ctx
        .crypto
        .lookup_indexes("id_number", checked.id_number.as_str());
    let crypto = ctx.crypto.clone();
    let view = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ApplicationView> {
                let user = accounts::user(conn, &user_id)?.ok_or_else(|| {
                    ServiceError::unauthenticated("auth.token_invalid", "登录凭证无效，请重新登录")
                })?;
                let phone = user.phone.clone().ok_or_else(|| {
                    ServiceError::conflict("membership.phone_required", "请先绑定手机号")
                })?;
                if db::live_membership_of_user(conn, &user_id)?.is_some() {
                    return Err(ServiceError::conflict(
                        "membership.already_member",
                        "您已是工会会员",
                    ));
                }
                if db::pending_application_of_user(conn, &user_id)?.is_some() {
                    return Err(ServiceError::conflict(
                        "membership.application_pending",
                        "您已有一份入会申请正在审核",
                    ));
                }
                let mut conflict = false;
                for lookup in &lookups {
                    conflict = conflict || db::identity_held_by_other(conn, lookup, &user_id)?;
                }
                let org = route(conn, checked.region, body.occupation.as_str())?;
                let app = Application {
                    id: gongyou_domain::id::new_id(),
                    user_id: user_id.clone(),
                    org_id: org.id.clone(),
                    status: ApplicationStatus::Pending,
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
                    platform_started_on: checked.platform_started_on.map(|d| d.to_string()),
                };
                db::insert_application(conn, &app)?;
                record(
                    conn,
                    None,
                    Some(&app.id),
                    "application_submitted",
                    By::User(&user_id),
                    None,
                    now.naive_utc(),
                )?;
                // Auto-approval runs as a job, so every submission answers alike (pending),
                // conflict or not.
                if !conflict && db::auto_approve(conn, &org.id)? {
                    AutoApprove {
                        application_id: app.id.clone(),
                    }
                    .enqueue(conn, now.naive_utc())?;
                }
                let app = db::application(conn, &app.id)?.unwrap_or(app);
                Ok(application_view(conn, &crypto, &app, today, false)?)
            })
        })
        .await?;
    tracing::info!(application = %view.id, "membership application submitted");
    Ok(view)
}

/// One application: its applicant, or a union admin over the org it was routed to.
pub async fn application(
    ctx: &Context,
    actor: &Actor,
    id: String,
) -> ServiceResult<ApplicationView> {
    let today = china_date(ctx.now());
    let crypto = ctx.crypto.clone();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<ApplicationView> {
            let app = db::application(conn, &id)?.ok_or_else(application_not_found)?;
            let for_staff = match actor.subject() {
                Subject::User { id: user_id, .. } if *user_id == app.user_id => false,
                Subject::User { .. } => return Err(application_not_found()),
                Subject::Staff { .. } => {
                    let org = orgs::get(conn, &app.org_id)?.ok_or_else(application_not_found)?;
                    if !actor.holds(Role::UnionAdmin, &OrgPath::from_stored(org.path)) {
                        return Err(application_not_found());
                    }
                    true
                }
            };
            Ok(application_view(conn, &crypto, &app, today, for_staff)?)
        })
        .await
}

/// The worker's membership, latest application and pending transfer.
pub async fn mine(ctx: &Context, actor: &Actor) -> ServiceResult<MyMembership> {
    let user_id = actor.user_id()?.to_owned();
    let today = china_date(ctx.now());
    let crypto = ctx.crypto.clone();
    Ok(ctx
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
                (Some(m), _) if m.status != MembershipStatus::Withdrawn => m.status.to_string(),
                (_, Some(a))
                    if matches!(
                        a.status,
                        ApplicationStatus::Pending | ApplicationStatus::Rejected
                    ) =>
                {
                    a.status.to_string()
                }
                (Some(m), _) => m.status.to_string(),
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
        .await?)
}
