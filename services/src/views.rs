//! Small response views shared by several use-cases.

use gongyou_db::{orgs, DbConnection, DbError};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct OrgRef {
    pub id: String,
    pub name: String,
}

/// The org's id and name (an empty name if it is gone).
pub fn org_ref(conn: &mut DbConnection, id: &str) -> Result<OrgRef, DbError> {
    let name = orgs::get(conn, id)?.map(|o| o.name).unwrap_or_default();
    Ok(OrgRef {
        id: id.to_owned(),
        name,
    })
}
