//! Queries of membership: applications, memberships, transfers, history, routing, settings,
//! card sequences, and the log of staff reads of unmasked personal data.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use gongyou_domain::status::{ApplicationStatus, MembershipStatus, TransferStatus};

use crate::schema::{
    membership_applications as apps, membership_events as events, membership_routes as routes,
    membership_transfers as transfers, memberships as members, org_membership_settings as settings,
    orgs, pii_access_log, users,
};
use crate::{DbConnection, DbError};

/// Occupation value of a route that applies to every occupation.
pub const ANY_OCCUPATION: &str = "any";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = apps)]
pub struct Application {
    pub id: String,
    pub user_id: String,
    pub org_id: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: ApplicationStatus,
    pub identity_conflict: bool,
    pub real_name: String,
    pub id_number_enc: String,
    pub id_number_key_id: String,
    pub id_number_index: String,
    pub birth_date: String,
    pub sex: String,
    pub occupation: String,
    pub platform: String,
    pub platform_worker_id: String,
    pub region_code: String,
    pub phone: String,
    pub consent_pi_at: NaiveDateTime,
    pub consent_sensitive_at: NaiveDateTime,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_reason: Option<String>,
    pub membership_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// When the applicant started on the platform ('YYYY-MM-DD'), if they said.
    pub platform_started_on: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = members)]
pub struct Membership {
    pub id: String,
    pub user_id: String,
    pub org_id: String,
    pub application_id: String,
    pub card_number: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: MembershipStatus,
    pub joined_on: String,
    pub real_name: String,
    pub id_number_enc: String,
    pub id_number_key_id: String,
    pub id_number_index: String,
    pub birth_date: String,
    pub sex: String,
    pub occupation: String,
    pub platform: String,
    pub platform_worker_id: String,
    pub region_code: String,
    pub ended_at: Option<NaiveDateTime>,
    pub anonymized_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// When the member started on the platform ('YYYY-MM-DD'): from the application or a
    /// platform roster; unknown is None (plans' tenure rule is then unmet, never guessed).
    pub platform_started_on: Option<String>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = events)]
pub struct Event {
    pub id: String,
    pub membership_id: Option<String>,
    pub application_id: Option<String>,
    pub kind: String,
    pub actor_kind: String,
    pub actor_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = transfers)]
pub struct Transfer {
    pub id: String,
    pub membership_id: String,
    pub from_org_id: String,
    pub to_org_id: String,
    #[diesel(deserialize_as = String, serialize_as = String)]
    pub status: TransferStatus,
    pub reason: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<NaiveDateTime>,
    pub decision_note: Option<String>,
    pub created_at: NaiveDateTime,
}

// Applications

pub fn insert_application(conn: &mut DbConnection, app: &Application) -> Result<(), DbError> {
    diesel::insert_into(apps::table)
        .values(app.clone())
        .execute(conn)?;
    Ok(())
}

pub fn application(conn: &mut DbConnection, id: &str) -> Result<Option<Application>, DbError> {
    Ok(apps::table
        .find(id)
        .select(Application::as_select())
        .first(conn)
        .optional()?)
}

pub fn pending_application_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<Application>, DbError> {
    Ok(apps::table
        .filter(
            apps::user_id
                .eq(user_id)
                .and(apps::status.eq(ApplicationStatus::Pending.as_str())),
        )
        .select(Application::as_select())
        .first(conn)
        .optional()?)
}

pub fn latest_application_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<Application>, DbError> {
    Ok(apps::table
        .filter(apps::user_id.eq(user_id))
        .order(apps::id.desc())
        .select(Application::as_select())
        .first(conn)
        .optional()?)
}

pub fn applications_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<Application>, DbError> {
    Ok(apps::table
        .filter(apps::user_id.eq(user_id))
        .order(apps::id)
        .select(Application::as_select())
        .load(conn)?)
}

/// Whether anyone other than `user_id` holds this identity in a live membership or a
/// pending application.
pub fn identity_held_by_other(
    conn: &mut DbConnection,
    index: &str,
    user_id: &str,
) -> Result<bool, DbError> {
    let member: i64 = members::table
        .filter(members::id_number_index.eq(index))
        .filter(members::status.ne(MembershipStatus::Withdrawn.as_str()))
        .filter(members::user_id.ne(user_id))
        .count()
        .get_result(conn)?;
    let applicant: i64 = apps::table
        .filter(apps::id_number_index.eq(index))
        .filter(apps::status.eq(ApplicationStatus::Pending.as_str()))
        .filter(apps::user_id.ne(user_id))
        .count()
        .get_result(conn)?;
    Ok(member + applicant > 0)
}

/// Filters of the admins' application list.
pub struct ApplicationFilter<'a> {
    pub within: &'a [String],
    pub status: Option<ApplicationStatus>,
    pub identity_conflict: Option<bool>,
    pub after: Option<&'a str>,
    pub limit: i64,
}

pub fn list_applications(
    conn: &mut DbConnection,
    f: &ApplicationFilter<'_>,
) -> Result<Vec<Application>, DbError> {
    if f.within.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = apps::table
        .inner_join(orgs::table)
        .select(Application::as_select())
        .into_boxed();
    query = crate::within_subtrees!(query, &f.within);
    if let Some(status) = f.status {
        query = query.filter(apps::status.eq(status.as_str()));
    }
    if let Some(conflict) = f.identity_conflict {
        query = query.filter(apps::identity_conflict.eq(conflict));
    }
    if let Some(after) = f.after {
        query = query.filter(apps::id.gt(after));
    }
    Ok(query.order(apps::id).limit(f.limit).load(conn)?)
}

/// Decides a pending application; false when it was no longer pending.
pub fn decide_application(
    conn: &mut DbConnection,
    id: &str,
    status: ApplicationStatus,
    by: &str,
    reason: Option<&str>,
    membership_id: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        apps::table
            .find(id)
            .filter(apps::status.eq(ApplicationStatus::Pending.as_str())),
    )
    .set((
        apps::status.eq(status.as_str()),
        apps::decided_by.eq(by),
        apps::decided_at.eq(now),
        apps::decision_reason.eq(reason),
        apps::membership_id.eq(membership_id),
        apps::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

// Memberships

pub fn insert_membership(conn: &mut DbConnection, m: &Membership) -> Result<(), DbError> {
    diesel::insert_into(members::table)
        .values(m.clone())
        .execute(conn)?;
    Ok(())
}

pub fn membership(conn: &mut DbConnection, id: &str) -> Result<Option<Membership>, DbError> {
    Ok(members::table
        .find(id)
        .select(Membership::as_select())
        .first(conn)
        .optional()?)
}

/// The member's live (active or suspended) membership.
pub fn live_membership_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Option<Membership>, DbError> {
    Ok(members::table
        .filter(
            members::user_id
                .eq(user_id)
                .and(members::status.ne(MembershipStatus::Withdrawn.as_str())),
        )
        .select(Membership::as_select())
        .first(conn)
        .optional()?)
}

pub fn memberships_of_user(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<Membership>, DbError> {
    Ok(members::table
        .filter(members::user_id.eq(user_id))
        .order(members::id)
        .select(Membership::as_select())
        .load(conn)?)
}

pub fn live_membership_with_identity(
    conn: &mut DbConnection,
    index: &str,
) -> Result<Option<Membership>, DbError> {
    Ok(members::table
        .filter(
            members::id_number_index
                .eq(index)
                .and(members::status.ne(MembershipStatus::Withdrawn.as_str())),
        )
        .select(Membership::as_select())
        .first(conn)
        .optional()?)
}

/// Moves a membership from status `from` to `to`; false when it was not in `from`.
pub fn set_membership_status(
    conn: &mut DbConnection,
    id: &str,
    from: MembershipStatus,
    to: MembershipStatus,
    ended_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        members::table
            .find(id)
            .filter(members::status.eq(from.as_str())),
    )
    .set((
        members::status.eq(to.as_str()),
        members::ended_at.eq(ended_at),
        members::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// The org that a (region, occupation) route currently points to.
pub fn route_owner(
    conn: &mut DbConnection,
    region_code: &str,
    occupation: &str,
) -> Result<Option<String>, DbError> {
    Ok(routes::table
        .filter(
            routes::region_code
                .eq(region_code)
                .and(routes::occupation.eq(occupation)),
        )
        .select(routes::org_id)
        .first(conn)
        .optional()?)
}

pub fn move_membership(
    conn: &mut DbConnection,
    id: &str,
    org_id: &str,
    card_number: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::update(members::table.find(id))
        .set((
            members::org_id.eq(org_id),
            members::card_number.eq(card_number),
            members::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// What an admin searches members by.
pub enum MemberQuery<'a> {
    All,
    CardNumber(&'a str),
    Phone(&'a str),
    IdIndex(&'a str),
    NamePrefix(&'a str),
}

pub fn search_members(
    conn: &mut DbConnection,
    within: &[String],
    query: &MemberQuery<'_>,
    status: Option<MembershipStatus>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Membership>, DbError> {
    if within.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = members::table
        .inner_join(orgs::table)
        .inner_join(users::table)
        .select(Membership::as_select())
        .into_boxed();
    q = crate::within_subtrees!(q, &within);
    q = match query {
        MemberQuery::All => q,
        MemberQuery::CardNumber(c) => q.filter(members::card_number.eq(*c)),
        MemberQuery::Phone(p) => q.filter(users::phone.eq(*p)),
        MemberQuery::IdIndex(i) => q.filter(members::id_number_index.eq(*i)),
        MemberQuery::NamePrefix(n) => {
            q.filter(members::real_name.like(format!("{}%", n.replace(['%', '_'], ""))))
        }
    };
    if let Some(status) = status {
        q = q.filter(members::status.eq(status.as_str()));
    }
    if let Some(after) = after {
        q = q.filter(members::id.gt(after));
    }
    Ok(q.order(members::id).limit(limit).load(conn)?)
}

// Card numbers

/// The next card sequence number of a region code, in one statement (safe under concurrency
/// on both backends).
pub fn next_card_sequence(conn: &mut DbConnection, region_code: &str) -> Result<u64, DbError> {
    #[derive(QueryableByName)]
    struct Next {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        last_value: i64,
    }
    const SQL: &str = "INSERT INTO card_sequences (region_code, last_value) VALUES ($1, 1) \
        ON CONFLICT (region_code) DO UPDATE SET last_value = card_sequences.last_value + 1 RETURNING last_value";
    let next: Next = match conn {
        DbConnection::Pg(c) => diesel::sql_query(SQL)
            .bind::<diesel::sql_types::Text, _>(region_code)
            .get_result(c)?,
        DbConnection::Sqlite(c) => diesel::sql_query(SQL)
            .bind::<diesel::sql_types::Text, _>(region_code)
            .get_result(c)?,
    };
    Ok(u64::try_from(next.last_value).unwrap_or(0))
}

// History

pub fn insert_event(conn: &mut DbConnection, event: &Event) -> Result<(), DbError> {
    diesel::insert_into(events::table)
        .values(event)
        .execute(conn)?;
    Ok(())
}

pub fn events_of(
    conn: &mut DbConnection,
    membership_id: &str,
    application_id: &str,
) -> Result<Vec<Event>, DbError> {
    Ok(events::table
        .filter(
            events::membership_id
                .eq(membership_id)
                .or(events::application_id.eq(application_id)),
        )
        .order(events::id)
        .select(Event::as_select())
        .load(conn)?)
}

// Transfers

pub fn insert_transfer(conn: &mut DbConnection, t: &Transfer) -> Result<(), DbError> {
    diesel::insert_into(transfers::table)
        .values(t.clone())
        .execute(conn)?;
    Ok(())
}

pub fn transfer(conn: &mut DbConnection, id: &str) -> Result<Option<Transfer>, DbError> {
    Ok(transfers::table
        .find(id)
        .select(Transfer::as_select())
        .first(conn)
        .optional()?)
}

pub fn pending_transfer_of(
    conn: &mut DbConnection,
    membership_id: &str,
) -> Result<Option<Transfer>, DbError> {
    Ok(transfers::table
        .filter(
            transfers::membership_id
                .eq(membership_id)
                .and(transfers::status.eq(TransferStatus::Pending.as_str())),
        )
        .select(Transfer::as_select())
        .first(conn)
        .optional()?)
}

pub fn transfers_of_user(conn: &mut DbConnection, user_id: &str) -> Result<Vec<Transfer>, DbError> {
    Ok(transfers::table
        .inner_join(members::table)
        .filter(members::user_id.eq(user_id))
        .order(transfers::id)
        .select(Transfer::as_select())
        .load(conn)?)
}

/// Transfers whose receiving org lies under one of `within`.
pub fn list_transfers(
    conn: &mut DbConnection,
    within: &[String],
    status: Option<TransferStatus>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Transfer>, DbError> {
    if within.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = transfers::table
        .inner_join(orgs::table.on(orgs::id.eq(transfers::to_org_id)))
        .select(Transfer::as_select())
        .into_boxed();
    q = crate::within_subtrees!(q, &within);
    if let Some(status) = status {
        q = q.filter(transfers::status.eq(status.as_str()));
    }
    if let Some(after) = after {
        q = q.filter(transfers::id.gt(after));
    }
    Ok(q.order(transfers::id).limit(limit).load(conn)?)
}

/// Decides a pending transfer; false when it was no longer pending.
pub fn decide_transfer(
    conn: &mut DbConnection,
    id: &str,
    status: TransferStatus,
    by: &str,
    note: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        transfers::table
            .find(id)
            .filter(transfers::status.eq(TransferStatus::Pending.as_str())),
    )
    .set((
        transfers::status.eq(status.as_str()),
        transfers::decided_by.eq(by),
        transfers::decided_at.eq(now),
        transfers::decision_note.eq(note),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

// Routing and settings

/// The org routed for (region, occupation): an exact route, else a route for any occupation.
pub fn route(
    conn: &mut DbConnection,
    region_code: &str,
    occupation: &str,
) -> Result<Option<String>, DbError> {
    let exact = routes::table
        .filter(
            routes::region_code
                .eq(region_code)
                .and(routes::occupation.eq(occupation)),
        )
        .select(routes::org_id)
        .first::<String>(conn)
        .optional()?;
    if exact.is_some() {
        return Ok(exact);
    }
    Ok(routes::table
        .filter(
            routes::region_code
                .eq(region_code)
                .and(routes::occupation.eq(ANY_OCCUPATION)),
        )
        .select(routes::org_id)
        .first::<String>(conn)
        .optional()?)
}

pub fn set_route(
    conn: &mut DbConnection,
    region_code: &str,
    occupation: &str,
    org_id: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(
        routes::table.filter(
            routes::region_code
                .eq(region_code)
                .and(routes::occupation.eq(occupation)),
        ),
    )
    .execute(conn)?;
    diesel::insert_into(routes::table)
        .values((
            routes::id.eq(gongyou_domain::id::new_id()),
            routes::region_code.eq(region_code),
            routes::occupation.eq(occupation),
            routes::org_id.eq(org_id),
            routes::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn routes_to(conn: &mut DbConnection, org_id: &str) -> Result<Vec<(String, String)>, DbError> {
    Ok(routes::table
        .filter(routes::org_id.eq(org_id))
        .order((routes::region_code, routes::occupation))
        .select((routes::region_code, routes::occupation))
        .load(conn)?)
}

pub fn clear_routes_to(conn: &mut DbConnection, org_id: &str) -> Result<(), DbError> {
    diesel::delete(routes::table.filter(routes::org_id.eq(org_id))).execute(conn)?;
    Ok(())
}

pub fn auto_approve(conn: &mut DbConnection, org_id: &str) -> Result<bool, DbError> {
    Ok(settings::table
        .find(org_id)
        .select(settings::auto_approve)
        .first(conn)
        .optional()?
        .unwrap_or(false))
}

pub fn set_auto_approve(
    conn: &mut DbConnection,
    org_id: &str,
    on: bool,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(settings::table.find(org_id)).execute(conn)?;
    diesel::insert_into(settings::table)
        .values((
            settings::org_id.eq(org_id),
            settings::auto_approve.eq(on),
            settings::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

// Personal data access log

pub fn log_pii_read(
    conn: &mut DbConnection,
    staff_id: &str,
    subject_kind: &str,
    subject_id: &str,
    purpose: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::insert_into(pii_access_log::table)
        .values((
            pii_access_log::id.eq(gongyou_domain::id::new_id()),
            pii_access_log::staff_id.eq(staff_id),
            pii_access_log::subject_kind.eq(subject_kind),
            pii_access_log::subject_id.eq(subject_id),
            pii_access_log::purpose.eq(purpose),
            pii_access_log::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// (staff id, purpose, when) of reads of a subject's unmasked data.
pub fn pii_reads_of(
    conn: &mut DbConnection,
    subject_kind: &str,
    subject_id: &str,
) -> Result<Vec<(String, String, NaiveDateTime)>, DbError> {
    Ok(pii_access_log::table
        .filter(
            pii_access_log::subject_kind
                .eq(subject_kind)
                .and(pii_access_log::subject_id.eq(subject_id)),
        )
        .order(pii_access_log::id)
        .select((
            pii_access_log::staff_id,
            pii_access_log::purpose,
            pii_access_log::created_at,
        ))
        .load(conn)?)
}
