//! Staff accounts and their role grants.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::{orgs, role_grants, staff};
use crate::{DbConnection, DbError};

pub const STAFF_ACTIVE: &str = "active";
pub const STAFF_DISABLED: &str = "disabled";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = staff)]
pub struct Staff {
    pub id: String,
    pub username: String,
    pub display_name: String,
    pub password_hash: String,
    pub org_id: String,
    pub status: String,
    pub created_by: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A grant with the path and name of its org.
#[derive(Debug, Clone, PartialEq, Eq, Queryable)]
pub struct Grant {
    pub role: String,
    pub org_id: String,
    pub org_path: String,
    pub org_name: String,
}

pub fn by_username(conn: &mut DbConnection, username: &str) -> Result<Option<Staff>, DbError> {
    Ok(staff::table
        .filter(staff::username.eq(username))
        .select(Staff::as_select())
        .first(conn)
        .optional()?)
}

/// The display names of those of these staff ids that exist.
pub fn names(conn: &mut DbConnection, ids: &[String]) -> Result<Vec<(String, String)>, DbError> {
    Ok(staff::table
        .filter(staff::id.eq_any(ids))
        .select((staff::id, staff::display_name))
        .order(staff::id)
        .load(conn)?)
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Staff>, DbError> {
    Ok(staff::table
        .find(id)
        .select(Staff::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, member: &Staff) -> Result<(), DbError> {
    diesel::insert_into(staff::table)
        .values(member)
        .execute(conn)?;
    Ok(())
}

pub fn grants(conn: &mut DbConnection, staff_id: &str) -> Result<Vec<Grant>, DbError> {
    Ok(role_grants::table
        .inner_join(orgs::table)
        .filter(role_grants::staff_id.eq(staff_id))
        .select((
            role_grants::role,
            role_grants::org_id,
            orgs::path,
            orgs::name,
        ))
        .order((role_grants::role, orgs::path))
        .load(conn)?)
}

/// Replaces all of a staff member's grants with `new` (role, org id).
pub fn replace_grants(
    conn: &mut DbConnection,
    staff_id: &str,
    new: &[(String, String)],
    granted_by: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(role_grants::table.filter(role_grants::staff_id.eq(staff_id))).execute(conn)?;
    for (role, org_id) in new {
        diesel::insert_into(role_grants::table)
            .values((
                role_grants::staff_id.eq(staff_id),
                role_grants::role.eq(role),
                role_grants::org_id.eq(org_id),
                role_grants::granted_by.eq(granted_by),
                role_grants::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn update(
    conn: &mut DbConnection,
    id: &str,
    display_name: Option<&str>,
    status: Option<&str>,
    password_hash: Option<&str>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    #[derive(AsChangeset)]
    #[diesel(table_name = staff)]
    struct Changes<'a> {
        display_name: Option<&'a str>,
        status: Option<&'a str>,
        password_hash: Option<&'a str>,
        updated_at: NaiveDateTime,
    }
    diesel::update(staff::table.find(id))
        .set(Changes {
            display_name,
            status,
            password_hash,
            updated_at: now,
        })
        .execute(conn)?;
    Ok(())
}

/// Staff whose home org lies under one of `within` (paths), by id after `after`.
pub fn list(
    conn: &mut DbConnection,
    within: &[String],
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<(Staff, String)>, DbError> {
    if within.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = staff::table
        .inner_join(orgs::table)
        .select((Staff::as_select(), orgs::path))
        .into_boxed();
    query = crate::within_subtrees!(query, &within);
    if let Some(after) = after {
        query = query.filter(staff::id.gt(after));
    }
    Ok(query.order(staff::id).limit(limit).load(conn)?)
}

/// A staff member's contact phone as stored: sealed (`key_id:ciphertext`), its masked form,
/// when it was verified, and a number waiting for its code (sealed the same way).
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = staff)]
pub struct ContactPhone {
    pub contact_phone_enc: Option<String>,
    pub contact_phone_masked: Option<String>,
    pub contact_phone_verified_at: Option<NaiveDateTime>,
    pub contact_phone_pending_enc: Option<String>,
    pub contact_phone_pending_at: Option<NaiveDateTime>,
}

impl ContactPhone {
    /// The masked verified phone and when it was verified, if there is one.
    pub fn verified(&self) -> Option<(&str, NaiveDateTime)> {
        match (
            &self.contact_phone_enc,
            &self.contact_phone_masked,
            self.contact_phone_verified_at,
        ) {
            (Some(_), Some(masked), Some(at)) => Some((masked.as_str(), at)),
            _ => None,
        }
    }
}

/// The contact phone columns of a staff member (`None`: no such staff member).
pub fn contact_phone(conn: &mut DbConnection, id: &str) -> Result<Option<ContactPhone>, DbError> {
    Ok(staff::table
        .find(id)
        .select(ContactPhone::as_select())
        .first(conn)
        .optional()?)
}

/// Records `sealed` as the number waiting for its code (replacing any other waiting one);
/// the verified phone, if any, stays until the new one is verified. False when there is no
/// such staff member.
pub fn set_pending_contact_phone(
    conn: &mut DbConnection,
    id: &str,
    sealed: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(staff::table.find(id))
        .set((
            staff::contact_phone_pending_enc.eq(Some(sealed)),
            staff::contact_phone_pending_at.eq(Some(now)),
            staff::updated_at.eq(now),
        ))
        .execute(conn)?
        == 1)
}

/// Makes the waiting number the verified contact phone, provided it is still `pending`
/// (sealed as read before the code was checked): a number set meanwhile is not verified
/// by the code of the one before. False when it changed.
pub fn confirm_contact_phone(
    conn: &mut DbConnection,
    id: &str,
    pending: &str,
    masked: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    Ok(diesel::update(
        staff::table
            .find(id)
            .filter(staff::contact_phone_pending_enc.eq(pending)),
    )
    .set((
        staff::contact_phone_enc.eq(Some(pending)),
        staff::contact_phone_masked.eq(Some(masked)),
        staff::contact_phone_verified_at.eq(Some(now)),
        staff::contact_phone_pending_enc.eq(None::<String>),
        staff::contact_phone_pending_at.eq(None::<NaiveDateTime>),
        staff::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

/// Forgets the contact phone, verified and waiting alike.
pub fn clear_contact_phone(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(staff::table.find(id))
        .set((
            staff::contact_phone_enc.eq(None::<String>),
            staff::contact_phone_masked.eq(None::<String>),
            staff::contact_phone_verified_at.eq(None::<NaiveDateTime>),
            staff::contact_phone_pending_enc.eq(None::<String>),
            staff::contact_phone_pending_at.eq(None::<NaiveDateTime>),
            staff::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Whether the staff member has a verified contact phone.
pub fn has_verified_contact_phone(conn: &mut DbConnection, id: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        staff::table
            .find(id)
            .filter(staff::contact_phone_enc.is_not_null())
            .filter(staff::contact_phone_verified_at.is_not_null()),
    ))
    .get_result(conn)?)
}

/// The sealed verified contact phones of those of `ids` that are staff members with one:
/// (staff id, `key_id:ciphertext`).
pub fn verified_contact_phones(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<Vec<(String, String)>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(String, Option<String>)> = staff::table
            .filter(staff::id.eq_any(chunk))
            .filter(staff::contact_phone_verified_at.is_not_null())
            .select((staff::id, staff::contact_phone_enc))
            .load(conn)?;
        out.extend(rows.into_iter().filter_map(|(id, enc)| Some((id, enc?))));
    }
    Ok(out)
}
