//! What the membership use-cases answer. ID numbers are shown masked (decrypted only in
//! memory), ages instead of birth dates, phones masked.

use chrono::{DateTime, NaiveDate, Utc};
use gongyou_db::membership::{self as db, Application, Membership, Transfer};
use gongyou_db::{DbConnection, DbError};
use gongyou_domain::id_number::IdNumber;
use gongyou_domain::membership::mask_name;
use gongyou_domain::phone::Phone;
use serde::Serialize;
use utoipa::ToSchema;

use super::age_on;
use crate::crypto::DataCrypto;
use crate::views::{org_ref, OrgRef};

/// The masked form of a stored ID number (decrypted only in memory).
pub fn masked_id_number(
    crypto: &DataCrypto,
    key_id: &str,
    ciphertext: &str,
    today: NaiveDate,
) -> Option<String> {
    if ciphertext.is_empty() {
        return None;
    }
    let plain = crypto.decrypt(key_id, ciphertext, "id_number").ok()?;
    IdNumber::parse(&plain, today).ok().map(|id| id.masked())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    /// `pending`, `approved` or `rejected`.
    pub status: String,
    /// The grassroots union the application was routed to.
    pub org: OrgRef,
    pub real_name: String,
    /// Masked: `1101**********002X`.
    pub id_number: Option<String>,
    /// Derived from the ID number; the birth date itself is never shown.
    pub age: Option<u32>,
    pub sex: String,
    pub occupation: String,
    pub platform: String,
    pub platform_worker_id: String,
    pub region_code: String,
    /// Masked phone.
    pub phone: String,
    /// Staff only: the ID number is already held by another account (review it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity_conflict: Option<bool>,
    pub decision_reason: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub membership_id: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub fn application_view(
    conn: &mut DbConnection,
    crypto: &DataCrypto,
    app: &Application,
    today: NaiveDate,
    for_staff: bool,
) -> Result<ApplicationView, DbError> {
    Ok(ApplicationView {
        id: app.id.clone(),
        status: app.status.to_string(),
        org: org_ref(conn, &app.org_id)?,
        real_name: app.real_name.clone(),
        id_number: masked_id_number(crypto, &app.id_number_key_id, &app.id_number_enc, today),
        age: age_on(&app.birth_date, today),
        sex: app.sex.clone(),
        occupation: app.occupation.clone(),
        platform: app.platform.clone(),
        platform_worker_id: app.platform_worker_id.clone(),
        region_code: app.region_code.clone(),
        // Empty once erased.
        phone: Phone::parse(&app.phone)
            .map(|p| p.masked())
            .unwrap_or_default(),
        identity_conflict: for_staff.then_some(app.identity_conflict),
        decision_reason: app.decision_reason.clone(),
        decided_at: app.decided_at.map(|t| t.and_utc()),
        membership_id: app.membership_id.clone(),
        created_at: app.created_at.and_utc(),
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub id: String,
    /// `active`, `suspended` or `withdrawn`.
    pub status: String,
    pub org: OrgRef,
    pub card_number: String,
    pub real_name: String,
    /// Masked; null once erased.
    pub id_number: Option<String>,
    pub age: Option<u32>,
    pub sex: String,
    pub occupation: String,
    pub platform: String,
    pub region_code: String,
    /// `YYYY-MM-DD`.
    pub joined_on: String,
    pub ended_at: Option<DateTime<Utc>>,
    /// Whether personal data was erased at the member's request.
    pub erased: bool,
    /// On withdrawal, when the member holds protection-plan cover: that it stays in force
    /// until each cover ends (zh-CN, naming plan, certificate and end date).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub cover_kept: Option<String>,
}

pub fn membership_view(
    conn: &mut DbConnection,
    crypto: &DataCrypto,
    m: &Membership,
    today: NaiveDate,
) -> Result<MembershipView, DbError> {
    Ok(MembershipView {
        id: m.id.clone(),
        status: m.status.to_string(),
        org: org_ref(conn, &m.org_id)?,
        card_number: m.card_number.clone(),
        real_name: m.real_name.clone(),
        id_number: masked_id_number(crypto, &m.id_number_key_id, &m.id_number_enc, today),
        age: age_on(&m.birth_date, today),
        sex: m.sex.clone(),
        occupation: m.occupation.clone(),
        platform: m.platform.clone(),
        region_code: m.region_code.clone(),
        joined_on: m.joined_on.clone(),
        ended_at: m.ended_at.map(|t| t.and_utc()),
        erased: m.anonymized_at.is_some(),
        cover_kept: None,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TransferView {
    pub id: String,
    pub membership_id: String,
    pub from_org: OrgRef,
    pub to_org: OrgRef,
    /// `pending`, `approved`, `rejected` or `cancelled`.
    pub status: String,
    pub reason: Option<String>,
    pub decision_note: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Staff only: the member's masked name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member_name: Option<String>,
}

pub fn transfer_view(
    conn: &mut DbConnection,
    t: &Transfer,
    for_staff: bool,
) -> Result<TransferView, DbError> {
    let member_name = if for_staff {
        db::membership(conn, &t.membership_id)?.map(|m| mask_name(&m.real_name))
    } else {
        None
    };
    Ok(TransferView {
        id: t.id.clone(),
        membership_id: t.membership_id.clone(),
        from_org: org_ref(conn, &t.from_org_id)?,
        to_org: org_ref(conn, &t.to_org_id)?,
        status: t.status.to_string(),
        reason: t.reason.clone(),
        decision_note: t.decision_note.clone(),
        decided_at: t.decided_at.map(|x| x.and_utc()),
        created_at: t.created_at.and_utc(),
        member_name,
    })
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

#[derive(Debug, Serialize, ToSchema)]
pub struct Card {
    pub card_number: String,
    /// Masked, as shown on the card: `张*`.
    pub name: String,
    pub org: OrgRef,
    pub joined_on: String,
    /// The QR code's content: a signed token valid 5 minutes.
    pub qr: String,
    pub qr_expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardVerification {
    /// `valid`, `expired` (ask for a fresh code), `forged` or `not_active`.
    pub result: String,
    /// The member's masked name, when the token is genuine.
    pub name: Option<String>,
    pub card_number: Option<String>,
    pub org: Option<OrgRef>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub kind: String,
    /// `user` or `staff`.
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityRead {
    pub staff_id: String,
    pub purpose: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDetail {
    pub membership: MembershipView,
    /// Every change, with actor, time and reason.
    pub history: Vec<HistoryEntry>,
    /// Every staff read of the unmasked identity: who, when, why.
    pub identity_reads: Vec<IdentityRead>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Identity {
    pub real_name: String,
    /// Unmasked.
    pub id_number: String,
}
