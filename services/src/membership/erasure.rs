//! Erasure (PIPL art. 47) and withdrawing an application. Erasure removes every record of
//! the person through the personal-data registry ([`gongyou_db::personal`]): all their
//! applications (pending, rejected, approved), all their memberships, the free text of
//! their history and transfers, their inbox, devices, report notes and stored responses —
//! and closes the account, since its phone and WeChat ids are personal data too.

use chrono::NaiveDateTime;
use gongyou_db::membership as db;
use gongyou_db::{write_tx, DbConnection, DbError};
use gongyou_domain::status::{ApplicationStatus, MembershipStatus, TransferStatus};
use gongyou_domain::time::china_date;

use super::views::{application_view, ApplicationView};
use super::{record, status_changed, By};
use crate::accounts::principal::{invalidate_subject, require_step_up};
use crate::accounts::tokens::SubjectKind;
use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::Context;

fn application_not_found() -> ServiceError {
    ServiceError::not_found("membership.application_not_found", "申请不存在")
}

/// Withdraws the caller's own pending application (the applicant changed their mind, or
/// applied with a mistake): it is not reviewed, and a new one may be made.
pub async fn withdraw_application(
    ctx: &Context,
    actor: &Actor,
    id: String,
) -> ServiceResult<ApplicationView> {
    let user_id = actor.user_id()?.to_owned();
    let now = ctx.now();
    let crypto = ctx.crypto.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ApplicationView> {
                let app = db::application(conn, &id)?
                    .filter(|a| a.user_id == user_id)
                    .ok_or_else(application_not_found)?;
                if app.status != ApplicationStatus::Pending {
                    return Err(ServiceError::conflict(
                        "membership.application_decided",
                        "该申请已处理，无法撤回",
                    ));
                }
                let t = now.naive_utc();
                if !db::decide_application(
                    conn,
                    &app.id,
                    ApplicationStatus::Withdrawn,
                    &user_id,
                    None,
                    None,
                    t,
                )? {
                    return Err(status_changed());
                }
                record(
                    conn,
                    None,
                    Some(&app.id),
                    "application_withdrawn",
                    By::User(&user_id),
                    None,
                    t,
                )?;
                let app = db::application(conn, &app.id)?.ok_or_else(application_not_found)?;
                Ok(application_view(
                    conn,
                    &crypto,
                    &app,
                    china_date(now),
                    false,
                )?)
            })
        })
        .await
}

/// Ends what is still running for the person (a pending application is withdrawn, a pending
/// transfer cancelled, a live membership withdrawn), then erases every record of them and
/// closes the account (inside the caller's transaction).
/// [`erase`], refused (409 `membership.claims_open`, with the reason) while a claim of the
/// person is open: a claim in review or approved and unpaid needs its documents and payee.
pub(crate) fn erase_unless_claims_open(
    conn: &mut DbConnection,
    user_id: &str,
    t: NaiveDateTime,
) -> crate::error::ServiceResult<()> {
    let payouts = gongyou_db::payouts::open_of_claimant(conn, user_id)?;
    if payouts > 0 {
        return Err(crate::error::ServiceError::conflict(
            "membership.payouts_open",
            format!("您有 {payouts} 笔理赔款尚未支付完成，支付完成后才能删除个人信息"),
        ));
    }
    let open = gongyou_db::claims::open_of_claimant(conn, user_id)?;
    if open > 0 {
        return Err(crate::error::ServiceError::conflict(
            "membership.claims_open",
            format!(
                "您有 {open} 件理赔申请尚未办结（审核中或待支付），办结或撤回后才能删除个人信息"
            ),
        ));
    }
    erase(conn, user_id, t)?;
    Ok(())
}

pub(crate) fn erase(
    conn: &mut DbConnection,
    user_id: &str,
    t: NaiveDateTime,
) -> Result<(), DbError> {
    if let Some(app) = db::pending_application_of_user(conn, user_id)? {
        db::decide_application(
            conn,
            &app.id,
            ApplicationStatus::Withdrawn,
            user_id,
            None,
            None,
            t,
        )?;
        record(
            conn,
            None,
            Some(&app.id),
            "application_withdrawn",
            By::User(user_id),
            None,
            t,
        )?;
    }
    if let Some(m) = db::live_membership_of_user(conn, user_id)? {
        if let Some(pending) = db::pending_transfer_of(conn, &m.id)? {
            db::decide_transfer(
                conn,
                &pending.id,
                TransferStatus::Cancelled,
                user_id,
                Some("withdrawn"),
                t,
            )?;
        }
        if let Ok(to) = m.status.transition(MembershipStatus::Withdrawn) {
            db::set_membership_status(conn, &m.id, m.status, to, Some(t), t)?;
            record(
                conn,
                Some(&m.id),
                None,
                "withdrawn",
                By::User(user_id),
                None,
                t,
            )?;
        }
    }
    let touched = gongyou_db::personal::erase_person(conn, user_id, t)?;
    tracing::info!(user = %user_id, rows = touched, "personal data erased");
    // The history keeps that it happened (not what was erased).
    let memberships = db::memberships_of_user(conn, user_id)?;
    let applications = db::applications_of_user(conn, user_id)?;
    match (memberships.last(), applications.last()) {
        (Some(m), _) => record(
            conn,
            Some(&m.id),
            None,
            "personal_data_erased",
            By::User(user_id),
            None,
            t,
        ),
        (None, Some(a)) => record(
            conn,
            None,
            Some(&a.id),
            "personal_data_erased",
            By::User(user_id),
            None,
            t,
        ),
        (None, None) => Ok(()),
    }
}

/// Closes the caller's account and erases their personal data (`DELETE /api/v1/me`), after
/// a fresh SMS step-up: whatever is running is ended first (see [`erase`]). Irreversible;
/// every session ends.
pub async fn close_account(ctx: &Context, actor: &Actor, step_up: &str) -> ServiceResult<()> {
    let user_id = actor.user_id()?.to_owned();
    require_step_up(ctx, actor, step_up)?;
    let now = ctx.now();
    let id = user_id.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| {
                erase_unless_claims_open(conn, &id, now.naive_utc())
            })
        })
        .await?;
    invalidate_subject(ctx, SubjectKind::User, &user_id).await?;
    Ok(())
}
