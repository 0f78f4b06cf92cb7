//! Queries of the union hierarchy.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::schema::orgs;
use crate::{DbConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orgs)]
pub struct Org {
    pub id: String,
    pub parent_id: Option<String>,
    pub path: String,
    pub name: String,
    pub org_type: String,
    pub region_code: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Org>, DbError> {
    Ok(orgs::table
        .find(id)
        .select(Org::as_select())
        .first(conn)
        .optional()?)
}

pub fn root(conn: &mut DbConnection) -> Result<Option<Org>, DbError> {
    Ok(orgs::table
        .filter(orgs::parent_id.is_null())
        .select(Org::as_select())
        .order(orgs::id)
        .first(conn)
        .optional()?)
}

pub fn child_named(
    conn: &mut DbConnection,
    parent_id: &str,
    name: &str,
) -> Result<Option<Org>, DbError> {
    Ok(orgs::table
        .filter(orgs::parent_id.eq(parent_id).and(orgs::name.eq(name)))
        .select(Org::as_select())
        .first(conn)
        .optional()?)
}

pub fn insert(conn: &mut DbConnection, org: &Org) -> Result<(), DbError> {
    diesel::insert_into(orgs::table).values(org).execute(conn)?;
    Ok(())
}

/// Changes an org's own fields (never its place in the tree).
pub fn update(
    conn: &mut DbConnection,
    id: &str,
    name: Option<&str>,
    org_type: Option<&str>,
    region_code: Option<Option<&str>>,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    #[derive(AsChangeset)]
    #[diesel(table_name = orgs)]
    struct Changes<'a> {
        name: Option<&'a str>,
        org_type: Option<&'a str>,
        region_code: Option<Option<&'a str>>,
        updated_at: NaiveDateTime,
    }
    diesel::update(orgs::table.find(id))
        .set(Changes {
            name,
            org_type,
            region_code,
            updated_at: now,
        })
        .execute(conn)?;
    Ok(())
}

/// Filters of an org listing.
#[derive(Debug, Default)]
pub struct OrgFilter<'a> {
    pub parent_id: Option<&'a str>,
    /// Only orgs at or under this path.
    pub within: Option<&'a str>,
    pub region_code: Option<&'a str>,
    /// Ids after this one (cursor).
    pub after: Option<&'a str>,
    pub limit: i64,
}

pub fn list(conn: &mut DbConnection, filter: &OrgFilter<'_>) -> Result<Vec<Org>, DbError> {
    let mut query = orgs::table.select(Org::as_select()).into_boxed();
    if let Some(parent) = filter.parent_id {
        query = query.filter(orgs::parent_id.eq(parent));
    }
    if let Some(within) = filter.within {
        query = query.filter(orgs::path.like(format!("{within}%")));
    }
    if let Some(region) = filter.region_code {
        query = query.filter(orgs::region_code.eq(region));
    }
    if let Some(after) = filter.after {
        query = query.filter(orgs::id.gt(after));
    }
    Ok(query.order(orgs::id).limit(filter.limit).load(conn)?)
}
