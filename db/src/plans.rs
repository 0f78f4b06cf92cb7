//! Storage of protection plans: plans by code, their versions (a published version is never
//! updated), benefit items per version, and enrollments (one per account per plan code).

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{enrollments, plan_benefits, plan_versions, plans};
use crate::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = plans)]
pub struct Plan {
    pub code: String,
    pub sponsor_org_id: String,
    pub current_version: Option<i32>,
    pub latest_version: i32,
    pub next_certificate: i64,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = plan_versions, treat_none_as_null = true)]
pub struct PlanVersion {
    pub plan_code: String,
    pub version: i32,
    pub status: String,
    pub name: String,
    pub description: String,
    pub enrollment_opens_on: String,
    pub enrollment_closes_on: String,
    pub coverage_starts_on: String,
    pub coverage_ends_on: String,
    /// Comma-separated occupation codes; empty: any.
    pub occupations: String,
    /// Comma-separated region codes; empty: any.
    pub region_codes: String,
    pub min_age: Option<i32>,
    pub max_age: Option<i32>,
    pub min_platform_tenure_months: Option<i32>,
    pub min_membership_days: Option<i32>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub published_by: Option<String>,
    pub published_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = plan_benefits)]
pub struct BenefitRow {
    pub plan_code: String,
    pub version: i32,
    pub position: i32,
    pub code: String,
    pub name: String,
    pub kind: String,
    pub amount_fen: Option<i64>,
    pub max_days: Option<i32>,
    pub percent_bp: Option<i32>,
    pub per_claim_cap_fen: Option<i64>,
    pub yearly_cap_fen: Option<i64>,
    pub illness_waiting_days: i32,
    pub accident_waiting_days: i32,
    /// Comma-separated document kinds.
    pub documents: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = enrollments)]
pub struct Enrollment {
    pub id: String,
    pub plan_code: String,
    pub plan_version: i32,
    pub user_id: String,
    pub membership_id: String,
    pub certificate_no: String,
    pub effective_from: String,
    pub effective_to: String,
    /// `app` or `roster`.
    pub source: String,
    pub roster_import_id: Option<String>,
    pub enrolled_at: NaiveDateTime,
}

pub fn insert_plan(conn: &mut DbConnection, p: &Plan) -> Result<(), DbError> {
    diesel::insert_into(plans::table).values(p).execute(conn)?;
    Ok(())
}

pub fn plan(conn: &mut DbConnection, code: &str) -> Result<Option<Plan>, DbError> {
    Ok(plans::table
        .find(code)
        .select(Plan::as_select())
        .first(conn)
        .optional()?)
}

/// Every plan that has a current (published or closed) version, for workers' lists.
pub fn plans_with_current(conn: &mut DbConnection) -> Result<Vec<Plan>, DbError> {
    Ok(plans::table
        .filter(plans::current_version.is_not_null())
        .order(plans::code.asc())
        .select(Plan::as_select())
        .load(conn)?)
}

/// Every plan (they are few: a union runs a handful).
pub fn all_plans(conn: &mut DbConnection) -> Result<Vec<Plan>, DbError> {
    Ok(plans::table
        .order(plans::code.asc())
        .select(Plan::as_select())
        .load(conn)?)
}

pub fn set_versions(
    conn: &mut DbConnection,
    code: &str,
    current: Option<i32>,
    latest: i32,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(plans::table.find(code))
        .set((
            plans::current_version.eq(current),
            plans::latest_version.eq(latest),
            plans::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes `n` certificate serials of a plan; returns the first.
pub fn take_certificates(conn: &mut DbConnection, code: &str, n: i64) -> Result<i64, DbError> {
    diesel::update(plans::table.find(code))
        .set(plans::next_certificate.eq(plans::next_certificate + n))
        .execute(conn)?;
    let next: i64 = plans::table
        .find(code)
        .select(plans::next_certificate)
        .first(conn)?;
    Ok(next - n)
}

pub fn insert_version(conn: &mut DbConnection, v: &PlanVersion) -> Result<(), DbError> {
    diesel::insert_into(plan_versions::table)
        .values(v)
        .execute(conn)?;
    Ok(())
}

pub fn version(
    conn: &mut DbConnection,
    code: &str,
    version: i32,
) -> Result<Option<PlanVersion>, DbError> {
    Ok(plan_versions::table
        .find((code, version))
        .select(PlanVersion::as_select())
        .first(conn)
        .optional()?)
}

pub fn versions(conn: &mut DbConnection, code: &str) -> Result<Vec<PlanVersion>, DbError> {
    Ok(plan_versions::table
        .filter(plan_versions::plan_code.eq(code))
        .order(plan_versions::version.asc())
        .select(PlanVersion::as_select())
        .load(conn)?)
}

/// Rewrites a draft version's terms (the caller checked it is a draft).
pub fn update_version(conn: &mut DbConnection, v: &PlanVersion) -> Result<(), DbError> {
    diesel::update(plan_versions::table.find((&v.plan_code, v.version)))
        .set(v)
        .execute(conn)?;
    Ok(())
}

/// Moves a version from one status to another; false when it was not in `from`.
pub fn set_version_status(
    conn: &mut DbConnection,
    code: &str,
    version: i32,
    from: &str,
    to: &str,
    published_by: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let target = plan_versions::table
        .filter(plan_versions::plan_code.eq(code))
        .filter(plan_versions::version.eq(version))
        .filter(plan_versions::status.eq(from));
    let n = match published_by {
        Some(by) => diesel::update(target)
            .set((
                plan_versions::status.eq(to),
                plan_versions::published_by.eq(by),
                plan_versions::published_at.eq(now),
                plan_versions::updated_at.eq(now),
            ))
            .execute(conn)?,
        None => diesel::update(target)
            .set((
                plan_versions::status.eq(to),
                plan_versions::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

pub fn benefits(
    conn: &mut DbConnection,
    code: &str,
    version: i32,
) -> Result<Vec<BenefitRow>, DbError> {
    Ok(plan_benefits::table
        .filter(plan_benefits::plan_code.eq(code))
        .filter(plan_benefits::version.eq(version))
        .order(plan_benefits::position.asc())
        .select(BenefitRow::as_select())
        .load(conn)?)
}

pub fn replace_benefits(
    conn: &mut DbConnection,
    code: &str,
    version: i32,
    rows: &[BenefitRow],
) -> Result<(), DbError> {
    diesel::delete(
        plan_benefits::table
            .filter(plan_benefits::plan_code.eq(code))
            .filter(plan_benefits::version.eq(version)),
    )
    .execute(conn)?;
    for row in rows {
        diesel::insert_into(plan_benefits::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(())
}

pub fn insert_enrollment(conn: &mut DbConnection, e: &Enrollment) -> Result<(), DbError> {
    diesel::insert_into(enrollments::table)
        .values(e)
        .execute(conn)?;
    Ok(())
}

pub fn enrollment_of(
    conn: &mut DbConnection,
    plan_code: &str,
    user_id: &str,
) -> Result<Option<Enrollment>, DbError> {
    Ok(enrollments::table
        .filter(enrollments::plan_code.eq(plan_code))
        .filter(enrollments::user_id.eq(user_id))
        .select(Enrollment::as_select())
        .first(conn)
        .optional()?)
}

/// An account's enrollments, newest first.
pub fn enrollments_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<Enrollment>, DbError> {
    Ok(enrollments::table
        .filter(enrollments::user_id.eq(user_id))
        .order((enrollments::enrolled_at.desc(), enrollments::id.desc()))
        .select(Enrollment::as_select())
        .load(conn)?)
}

/// How many enrollments a plan has (all versions): its certificates taken. Every
/// certificate is taken ([`take_certificates`]) in the transaction that inserts its
/// enrollment, and enrollments are never deleted, so this is exact without a scan.
pub fn enrollment_count(conn: &mut DbConnection, plan_code: &str) -> Result<i64, DbError> {
    let next: Option<i64> = plans::table
        .find(plan_code)
        .select(plans::next_certificate)
        .first(conn)
        .optional()?;
    Ok(next.map_or(0, |n| n - 1))
}

pub fn enrollment(conn: &mut DbConnection, id: &str) -> Result<Option<Enrollment>, DbError> {
    Ok(enrollments::table
        .find(id)
        .select(Enrollment::as_select())
        .first(conn)
        .optional()?)
}
