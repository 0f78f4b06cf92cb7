//! The e-card: a QR token signed for five minutes, and its verification by station managers
//! and union admins (a valid card scanned at a station counts as a visit there).

use gongyou_db::membership::{self as db, Membership};
use gongyou_db::write_tx;
use gongyou_domain::membership::mask_name;
use gongyou_domain::staff::Role;
use gongyou_domain::status::MembershipStatus;
use serde::Deserialize;
use utoipa::ToSchema;

use super::views::{Card, CardVerification};
use super::{not_active, record, By};
use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::membership_card::{self, Scanned};
use crate::stations::visits::{record_visit, SOURCE_CARD};
use crate::views::{org_ref, OrgRef};
use crate::Context;

/// The worker's e-card with a fresh QR token (an active membership only).
pub async fn my_card(ctx: &Context, actor: &Actor) -> ServiceResult<Card> {
    let user_id = actor.user_id()?.to_owned();
    let (membership, org) = ctx
        .db
        .run(move |conn| -> ServiceResult<(Membership, OrgRef)> {
            let m = db::live_membership_of_user(conn, &user_id)?
                .filter(|m| m.status == MembershipStatus::Active)
                .ok_or_else(not_active)?;
            let org = org_ref(conn, &m.org_id)?;
            Ok((m, org))
        })
        .await?;
    let (qr, expires) = membership_card::issue(
        &ctx.tokens,
        &membership.id,
        &membership.card_number,
        ctx.now(),
    );
    Ok(Card {
        card_number: membership.card_number,
        name: mask_name(&membership.real_name),
        org,
        joined_on: membership.joined_on,
        qr,
        qr_expires_at: expires,
    })
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CardVerificationRequest {
    /// The scanned QR content.
    pub qr: String,
    /// The station it was scanned at (the caller must manage or administer it): a valid card
    /// counts as a visit there.
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub station_id: Option<String>,
}

fn unknown(result: &str) -> CardVerification {
    CardVerification {
        result: result.into(),
        name: None,
        card_number: None,
        org: None,
    }
}

/// Verifies a scanned e-card (station managers and union admins): `valid`, `expired`,
/// `forged` or `not_active`. When the token is genuine, the member's masked name, card
/// number and union come with it if the card is scanned at a station the caller runs, or
/// the caller is a union admin over the member's union; otherwise the result alone.
pub async fn verify_card(
    ctx: &Context,
    actor: &Actor,
    body: CardVerificationRequest,
) -> ServiceResult<CardVerification> {
    let (staff_id, roles) = actor.staff()?;
    let staff_id = staff_id.to_owned();
    // Union admins, and station managers (assigned on stations, not granted on orgs).
    let admin = roles.iter().any(|r| r.role == Role::UnionAdmin);
    let manager = {
        let staff_id = staff_id.clone();
        !admin
            && ctx
                .db
                .run(move |conn| gongyou_db::stations::manages_any(conn, &staff_id))
                .await?
    };
    if !admin && !manager {
        return Err(ServiceError::forbidden(
            "auth.role_required",
            "仅驿站管理员和工会管理员可以核验会员卡",
        ));
    }
    if body
        .station_id
        .as_deref()
        .is_some_and(|s| s.is_empty() || s.len() > 64 || !s.bytes().all(|b| b.is_ascii_graphic()))
    {
        return Err(ServiceError::invalid(
            "request.invalid_body",
            "station_id 须为 1 至 64 个可见 ASCII 字符",
        ));
    }
    let now = ctx.now();
    let (membership_id, expired) = match membership_card::scan(&ctx.tokens, &body.qr, now) {
        Scanned::Forged => {
            tracing::warn!(staff = %staff_id, "a forged membership card was scanned");
            return Ok(unknown("forged"));
        }
        Scanned::Expired { membership_id } => (membership_id, true),
        Scanned::Valid { membership_id, .. } => (membership_id, false),
    };
    let (crypto, actor) = (ctx.crypto.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<CardVerification> {
                // At a station: only its managers and admins, and a valid card counts as a
                // visit there.
                let station = match body.station_id.as_deref() {
                    Some(id) => Some(crate::stations::managed(conn, &actor, id)?.0),
                    None => None,
                };
                let Some(m) = db::membership(conn, &membership_id)? else {
                    return Ok(unknown("not_active"));
                };
                let result = if expired {
                    "expired"
                } else if m.status == MembershipStatus::Active {
                    "valid"
                } else {
                    "not_active"
                };
                if let (Some(station), "valid") = (&station, result) {
                    record_visit(conn, &crypto, &station.id, &m.user_id, SOURCE_CARD, now)?;
                }
                // The result only: which station would say where a named member was
                // (visits keep a keyed hash instead, ADR 011).
                record(
                    conn,
                    Some(&m.id),
                    None,
                    "card_verified",
                    By::Staff(&staff_id),
                    Some(result),
                    now.naive_utc(),
                )?;
                // Who the card belongs to is shown to the verifier at a station they run
                // (the member is there, showing it) or to an admin over the member's union;
                // anyone else learns the result only.
                let member_org = gongyou_db::orgs::get(conn, &m.org_id)?
                    .map(|o| gongyou_domain::org::OrgPath::from_stored(o.path));
                let in_scope = member_org.is_some_and(|path| actor.holds(Role::UnionAdmin, &path));
                if station.is_none() && !in_scope {
                    return Ok(unknown(result));
                }
                Ok(CardVerification {
                    result: result.into(),
                    name: Some(mask_name(&m.real_name)),
                    card_number: Some(m.card_number.clone()),
                    org: Some(org_ref(conn, &m.org_id)?),
                })
            })
        })
        .await
}
