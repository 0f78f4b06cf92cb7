//! Union membership: applying (routed to a grassroots union, auto-approved by a job where
//! the union allows it), review, the e-card and its verification, transfers, withdrawal with
//! erasure, suspension, member search, identity reads, data export, routing settings. ID
//! numbers are held only encrypted and as a blind index; every view masks them; every staff
//! read of unmasked data is logged. Status moves follow the state machines of
//! [`gongyou_domain::status`].

mod apply;
mod card;
mod erasure;
mod export;
mod lifecycle;
mod members;
mod review;
mod settings;
mod transfers;
pub mod views;

pub use apply::{application, apply, mine, Consents, NewApplication};
pub use card::{my_card, verify_card, CardVerificationRequest};
pub use erasure::{close_account, withdraw_application};
pub use export::data_export;
pub use lifecycle::{reinstate, suspend, withdraw, WithdrawalRequest};
pub use members::{member, read_identity, search};
pub use review::{applications, approve, auto_approve, reject, AutoApproval, AutoApprove};
pub use settings::{put_settings, settings, MembershipSettings, Route};
pub use transfers::{decide_transfer, request_transfer, transfers, TransferRequest};

use chrono::{NaiveDate, NaiveDateTime};
use gongyou_db::membership::{self as db, Event};
use gongyou_db::{orgs, DbConnection, DbError};
use gongyou_domain::membership::card_number;
use gongyou_domain::org::{OrgPath, OrgType};
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;

use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::text::{DecisionReason, OptionalNote};

/// Who did something, for the history.
#[derive(Debug, Clone, Copy)]
pub enum By<'a> {
    User(&'a str),
    Staff(&'a str),
    /// A rule run by the system (auto-approval), named.
    System(&'a str),
}

impl By<'_> {
    fn kind_and_id(self) -> (&'static str, String) {
        match self {
            By::User(id) => ("user", id.to_owned()),
            By::Staff(id) | By::System(id) => ("staff", id.to_owned()),
        }
    }
}

/// Appends to the membership history (in the caller's transaction).
pub(crate) fn record(
    conn: &mut DbConnection,
    membership_id: Option<&str>,
    application_id: Option<&str>,
    kind: &str,
    by: By<'_>,
    reason: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    let (actor_kind, actor_id) = by.kind_and_id();
    db::insert_event(
        conn,
        &Event {
            id: gongyou_domain::id::new_id(),
            membership_id: membership_id.map(str::to_owned),
            application_id: application_id.map(str::to_owned),
            kind: kind.to_owned(),
            actor_kind: actor_kind.to_owned(),
            actor_id: Some(actor_id),
            reason: reason.map(str::to_owned),
            created_at: now,
        },
    )
}

/// The union for (region, occupation): a configured route (for the region or the nearest
/// region above it), else the nearest region with unions (grassroots union first, then the
/// sector federation, then the federation), else the root.
pub(crate) fn route(
    conn: &mut DbConnection,
    region: RegionCode,
    occupation: &str,
) -> ServiceResult<orgs::Org> {
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
        ServiceError::internal(anyhow::anyhow!("no union hierarchy: run `gongyou seed`"))
    })
}

/// The next card number of an org: its region code (000000 for the national org), an
/// eight-digit sequence and a check digit.
pub(crate) fn new_card_number(conn: &mut DbConnection, org: &orgs::Org) -> ServiceResult<String> {
    let region = org.region_code.clone().unwrap_or_else(|| "000000".into());
    let sequence = db::next_card_sequence(conn, &region)?;
    card_number(&region, sequence).ok_or_else(|| {
        ServiceError::internal(anyhow::anyhow!("card sequence exhausted for {}", org.id))
    })
}

/// Requires union_admin over `org_id`; `hidden` when outside (or when there is no such org).
pub(crate) fn require_org(
    conn: &mut DbConnection,
    actor: &Actor,
    org_id: &str,
    hidden: fn() -> ServiceError,
) -> ServiceResult<orgs::Org> {
    let org = orgs::get(conn, org_id)?.ok_or_else(hidden)?;
    authz::require(
        actor,
        Role::UnionAdmin,
        &OrgPath::from_stored(org.path.clone()),
        hidden,
    )?;
    Ok(org)
}

/// A reason a staff member gives for a decision (shown to the worker): 1–200 characters.
pub(crate) fn checked_reason(reason: &str) -> ServiceResult<String> {
    DecisionReason::RULE
        .check(reason)
        .ok_or_else(|| ServiceError::rule("membership.reason_required", "请填写原因（200 字以内）"))
}

/// An optional reason or note: blank is none; at most 200 characters, no control
/// characters but line breaks.
pub(crate) fn checked_note(text: Option<&str>) -> ServiceResult<Option<String>> {
    OptionalNote::RULE.check_optional(text).map_err(|()| {
        ServiceError::rule(
            "membership.invalid_note",
            "说明不能超过 200 个字，且不能含控制字符",
        )
    })
}

pub(crate) fn application_not_found() -> ServiceError {
    ServiceError::not_found("membership.application_not_found", "入会申请不存在")
}

pub(crate) fn member_not_found() -> ServiceError {
    ServiceError::not_found("membership.member_not_found", "会员不存在")
}

pub(crate) fn transfer_not_found() -> ServiceError {
    ServiceError::not_found("membership.transfer_not_found", "转会申请不存在")
}

pub(crate) fn not_active() -> ServiceError {
    ServiceError::conflict(
        "membership.not_active",
        "会籍未生效或已暂停，无法出示会员卡",
    )
}

/// A membership that changed between reading and writing it.
pub(crate) fn status_changed() -> ServiceError {
    ServiceError::conflict(
        "membership.wrong_status",
        "会籍状态刚刚发生变化，请刷新后重试",
    )
}

/// `YYYY-MM-DD` birth date → age in whole years on `today`.
pub(crate) fn age_on(birth_date: &str, today: NaiveDate) -> Option<u32> {
    let birth = NaiveDate::parse_from_str(birth_date, "%Y-%m-%d").ok()?;
    today.years_since(birth)
}
