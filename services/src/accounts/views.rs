//! What the accounts use-cases answer: the caller (`GET /api/v1/me`), sign-in tokens, codes
//! sent, step-up proofs, a bound phone.

use chrono::{DateTime, Utc};
use gongyou_db::{accounts, staff as staff_db, DbConnection, DbError};
use gongyou_domain::phone::Phone;
use serde::Serialize;
use utoipa::ToSchema;

use crate::views::{org_ref, OrgRef};

/// The caller: a worker account or a staff account, told apart by `kind`.
///
/// Shaped as a `oneOf` of two named schemas with a discriminator mapping, the form
/// generators (openapi-typescript, openapi-python-client) turn into a tagged union.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "kind", mapping(
    ("worker" = "#/components/schemas/MeWorker"),
    ("staff" = "#/components/schemas/MeStaff")
)))]
pub enum Me {
    Worker(MeWorker),
    Staff(MeStaff),
}

impl Me {
    pub fn worker(view: WorkerView) -> Self {
        Me::Worker(MeWorker {
            kind: WorkerKind::Worker,
            worker: view,
        })
    }

    pub fn staff(view: StaffMe) -> Self {
        Me::Staff(MeStaff {
            kind: StaffKind::Staff,
            staff: view,
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WorkerKind {
    Worker,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StaffKind {
    Staff,
}

/// A worker account as `GET /api/v1/me` answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeWorker {
    #[schema(inline)]
    pub kind: WorkerKind,
    #[serde(flatten)]
    pub worker: WorkerView,
}

/// A staff account as `GET /api/v1/me` answers it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeStaff {
    #[schema(inline)]
    pub kind: StaffKind,
    #[serde(flatten)]
    pub staff: StaffMe,
}

/// A worker account's status (a suspended account cannot sign in).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Suspended,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerView {
    pub id: String,
    /// Masked, e.g. `138****5678`; null until a phone is bound.
    pub phone: Option<String>,
    pub wechat_bound: bool,
    #[schema(value_type = AccountStatus)]
    pub status: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RoleView {
    #[schema(value_type = gongyou_domain::staff::Role)]
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
    /// How many rest stations the caller manages (`GET /api/v1/me/stations` lists them).
    /// Station managers are assigned per station, not granted a role on an org, so `roles`
    /// does not say it; a client shows the station pages when this is above 0.
    #[schema(minimum = 0)]
    pub managed_stations: i64,
    /// The verified contact phone that urgent staff notices go to by SMS (null when none
    /// is verified; a number waiting for its code is not shown).
    pub contact_phone: Option<ContactPhoneView>,
}

/// A staff member's verified contact phone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ContactPhoneView {
    /// Masked, e.g. `138****5678`.
    #[schema(example = "138****5678")]
    pub masked: String,
    pub verified_at: DateTime<Utc>,
}

impl ContactPhoneView {
    /// The verified phone of stored contact-phone columns, if there is one.
    pub fn of(stored: &staff_db::ContactPhone) -> Option<Self> {
        stored.verified().map(|(masked, at)| ContactPhoneView {
            masked: masked.to_owned(),
            verified_at: at.and_utc(),
        })
    }
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

/// A staff member's roles, with the names of the orgs they cover.
pub fn role_views(conn: &mut DbConnection, staff_id: &str) -> Result<Vec<RoleView>, DbError> {
    Ok(staff_db::grants(conn, staff_id)?
        .into_iter()
        .map(|g| RoleView {
            role: g.role,
            org_id: g.org_id,
            org_name: g.org_name,
        })
        .collect())
}

/// The staff member's own view (roles with org names, the verified contact phone).
pub fn staff_me(conn: &mut DbConnection, member: &staff_db::Staff) -> Result<StaffMe, DbError> {
    Ok(StaffMe {
        id: member.id.clone(),
        username: member.username.clone(),
        display_name: member.display_name.clone(),
        org: org_ref(conn, &member.org_id)?,
        roles: role_views(conn, &member.id)?,
        managed_stations: gongyou_db::stations::managed_count(conn, &member.id)?,
        contact_phone: staff_db::contact_phone(conn, &member.id)?
            .as_ref()
            .and_then(ContactPhoneView::of),
    })
}

/// Tokens of a new or refreshed session.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    /// JWT for `Authorization: Bearer …`, valid 15 minutes.
    pub access_token: String,
    /// Opaque; exchange at `POST /api/v1/auth/refresh` (30 days, rotated at each use).
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    pub user: Me,
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

#[derive(Serialize, ToSchema)]
pub struct StepUpProof {
    /// Send as `X-Step-Up-Token` with the sensitive request.
    pub step_up_token: String,
    pub expires_in: i64,
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
