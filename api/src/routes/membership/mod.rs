//! Union membership: applying, review, the e-card and its verification, transfers,
//! withdrawal with erasure, suspension, member search, data export. ID numbers are held
//! only encrypted and as a blind index; every response masks them; every staff read of
//! unmasked data is logged.

pub mod admin;
pub mod worker;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use gongyou_db::membership::{self as db, Application, Event, Membership, Transfer};
use gongyou_db::{orgs, DbConnection, DbError};
use gongyou_domain::id_number::IdNumber;
use gongyou_domain::membership::mask_name;
use gongyou_domain::org::OrgType;
use gongyou_domain::region::RegionCode;
use serde::Serialize;
use utoipa::ToSchema;

use crate::crypto::DataCrypto;
use crate::error::{ApiError, ApiResult};
use crate::routes::me::OrgRef;

/// Today's date in China (Asia/Shanghai, the zone station hours use too): joined dates,
/// ages and "not in the future" follow the calendar members live by, not UTC.
pub fn china_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&chrono_tz::Asia::Shanghai).date_naive()
}

/// Who did something, for the history.
pub enum Actor<'a> {
    User(&'a str),
    Staff(&'a str),
}

pub fn record(
    conn: &mut DbConnection,
    membership_id: Option<&str>,
    application_id: Option<&str>,
    kind: &str,
    actor: Actor<'_>,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    let (actor_kind, actor_id) = match actor {
        Actor::User(id) => ("user", Some(id.to_owned())),
        Actor::Staff(id) => ("staff", Some(id.to_owned())),
    };
    db::insert_event(
        conn,
        &Event {
            id: gongyou_domain::id::new_id(),
            membership_id: membership_id.map(str::to_owned),
            application_id: application_id.map(str::to_owned),
            kind: kind.to_owned(),
            actor_kind: actor_kind.to_owned(),
            actor_id,
            reason: reason.map(str::to_owned),
            created_at: now,
        },
    )
}

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

pub fn age_on(birth_date: &str, today: NaiveDate) -> Option<u32> {
    let birth = NaiveDate::parse_from_str(birth_date, "%Y-%m-%d").ok()?;
    today.years_since(birth)
}

fn org_ref(conn: &mut DbConnection, id: &str) -> Result<OrgRef, DbError> {
    let name = orgs::get(conn, id)?.map(|o| o.name).unwrap_or_default();
    Ok(OrgRef {
        id: id.to_owned(),
        name,
    })
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
        status: app.status.clone(),
        org: org_ref(conn, &app.org_id)?,
        real_name: app.real_name.clone(),
        id_number: masked_id_number(crypto, &app.id_number_key_id, &app.id_number_enc, today),
        age: age_on(&app.birth_date, today),
        sex: app.sex.clone(),
        occupation: app.occupation.clone(),
        platform: app.platform.clone(),
        platform_worker_id: app.platform_worker_id.clone(),
        region_code: app.region_code.clone(),
        phone: gongyou_domain::phone::Phone::parse(&app.phone)
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
}

pub fn membership_view(
    conn: &mut DbConnection,
    crypto: &DataCrypto,
    m: &Membership,
    today: NaiveDate,
) -> Result<MembershipView, DbError> {
    Ok(MembershipView {
        id: m.id.clone(),
        status: m.status.clone(),
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
        status: t.status.clone(),
        reason: t.reason.clone(),
        decision_note: t.decision_note.clone(),
        decided_at: t.decided_at.map(|x| x.and_utc()),
        created_at: t.created_at.and_utc(),
        member_name,
    })
}

/// The union for (region, occupation): a configured route (for the region or the nearest
/// region above it), else the nearest region with unions (grassroots union first, then the
/// sector federation, then the federation), else the root.
pub fn route(
    conn: &mut DbConnection,
    region: RegionCode,
    occupation: &str,
) -> ApiResult<orgs::Org> {
    let mut current = Some(region);
    while let Some(code) = current {
        if let Some(org_id) = db::route(conn, &code.to_string(), occupation)? {
            if let Some(org) = orgs::get(conn, &org_id)? {
                return Ok(org);
            }
        }
        current = code.region().parent;
    }
    let mut current = Some(region);
    while let Some(code) = current {
        let here = orgs::list(
            conn,
            &orgs::OrgFilter {
                region_code: Some(&code.to_string()),
                limit: 100,
                ..Default::default()
            },
        )?;
        // At the nearest region that has unions: a grassroots union, else the sector
        // federation for new forms of employment (made for these workers), else the federation.
        let of_type = |t: OrgType| here.iter().find(|o| o.org_type == t.as_str());
        let nearest = of_type(OrgType::GrassrootsUnion)
            .or_else(|| of_type(OrgType::SectorFederation))
            .or_else(|| of_type(OrgType::Federation));
        if let Some(org) = nearest {
            return Ok(org.clone());
        }
        current = code.region().parent;
    }
    orgs::root(conn)?.ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("no union hierarchy: run `gongyou seed`"))
    })
}
