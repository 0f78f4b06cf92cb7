//! Campaigns: a notice fanned out to an org subtree's active members in batches, each batch
//! one `INSERT … SELECT` for the inbox rows and one for the push deliveries, with the
//! cursor moved in the same transaction (a restarted fan-out resumes, never repeats).
//! Notification ids are `<campaign id>-<membership id>`: unique per recipient, and still
//! time-ordered among other notifications (the campaign id is a UUIDv7).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use crate::schema::campaigns;
use crate::{write_tx, DbConnection, DbError};

pub const FANNING_OUT: &str = "fanning_out";
pub const SENT: &str = "sent";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaigns)]
pub struct Campaign {
    pub id: String,
    pub org_id: String,
    pub occupation: Option<String>,
    pub title: String,
    pub body: String,
    pub status: String,
    pub recipients: i64,
    pub cursor: Option<String>,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub completed_at: Option<NaiveDateTime>,
}

pub fn insert(conn: &mut DbConnection, c: &Campaign) -> Result<(), DbError> {
    diesel::insert_into(campaigns::table)
        .values(c)
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Campaign>, DbError> {
    Ok(campaigns::table
        .find(id)
        .select(Campaign::as_select())
        .first(conn)
        .optional()?)
}

#[derive(QueryableByName)]
struct Boundary {
    #[diesel(sql_type = Text)]
    id: String,
}

/// The audience: active memberships under the org's path (parameter `$p`), optionally of one
/// occupation (`$p+1`), after the cursor (`$p+2`). Placeholders are numbered in the order
/// they first appear: SQLite numbers `$n` parameters by first appearance.
fn audience(p: usize) -> String {
    format!(
        "FROM memberships m JOIN orgs o ON o.id = m.org_id
         WHERE m.status = 'active' AND o.path LIKE ${p} AND (${o} IS NULL OR m.occupation = ${o}) AND m.id > ${c}",
        o = p + 1,
        c = p + 2
    )
}

/// Writes the next batch of up to `batch` recipients; returns how many were written (0 when
/// the audience is exhausted, and the campaign is then marked sent).
pub fn fan_out_batch(
    conn: &mut DbConnection,
    campaign_id: &str,
    batch: i64,
    now: NaiveDateTime,
) -> Result<i64, DbError> {
    write_tx(conn, |conn| {
        let Some(c) = get(conn, campaign_id)? else {
            return Ok(0);
        };
        if c.status != FANNING_OUT {
            return Ok(0);
        }
        let path: String = crate::schema::orgs::table
            .find(&c.org_id)
            .select(crate::schema::orgs::path)
            .first(conn)?;
        let like = format!("{path}%");
        let cursor = c.cursor.clone().unwrap_or_default();
        // The last membership id of this batch.
        let boundary_sql = format!(
            "SELECT m.id AS id {} ORDER BY m.id LIMIT 1 OFFSET $4",
            audience(1)
        );
        let find = |conn: &mut DbConnection, offset: i64| -> Result<Option<String>, DbError> {
            let q = diesel::sql_query(&boundary_sql)
                .bind::<Text, _>(&like)
                .bind::<Nullable<Text>, _>(&c.occupation)
                .bind::<Text, _>(&cursor)
                .bind::<BigInt, _>(offset);
            let row: Option<Boundary> = match conn {
                DbConnection::Pg(pg) => q.get_result(pg).optional()?,
                DbConnection::Sqlite(lite) => q.get_result(lite).optional()?,
            };
            Ok(row.map(|r| r.id))
        };
        let last = match find(conn, batch - 1)? {
            Some(id) => id,
            // Fewer than a full batch left: up to the very last one.
            None => match last_of_audience(conn, &like, &c.occupation, &cursor)? {
                Some(id) => id,
                None => {
                    diesel::update(campaigns::table.find(&c.id))
                        .set((campaigns::status.eq(SENT), campaigns::completed_at.eq(now)))
                        .execute(conn)?;
                    return Ok(0);
                }
            },
        };
        let notifications_sql = format!(
            "INSERT INTO notifications (id, user_id, category, title, body, data, read_at, created_at)
             SELECT $1 || '-' || m.id, m.user_id, 'notice', $2, $3, $4, NULL, $5 {} AND m.id <= $9",
            audience(6)
        );
        let deliveries_sql = format!(
            "INSERT INTO notification_deliveries (id, notification_id, user_id, channel, status, attempts, resends,
                 next_attempt_at, claimed_by, claimed_until, provider_ref, provider_response, sent_at, updated_at, campaign_id)
             SELECT $1 || '-' || m.id || '-push', $1 || '-' || m.id, m.user_id, 'push', 'pending', 0, 0,
                 $2, NULL, NULL, NULL, NULL, NULL, $2, $1 {} AND m.id <= $6",
            audience(3)
        );
        let data = format!("{{\"campaign_id\":\"{}\"}}", c.id);
        let inbox = diesel::sql_query(notifications_sql)
            .bind::<Text, _>(&c.id)
            .bind::<Text, _>(&c.title)
            .bind::<Text, _>(&c.body)
            .bind::<Text, _>(&data)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(&like)
            .bind::<Nullable<Text>, _>(&c.occupation)
            .bind::<Text, _>(&cursor)
            .bind::<Text, _>(&last);
        let written = match conn {
            DbConnection::Pg(pg) => inbox.execute(pg)?,
            DbConnection::Sqlite(lite) => inbox.execute(lite)?,
        };
        let push = diesel::sql_query(deliveries_sql)
            .bind::<Text, _>(&c.id)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(&like)
            .bind::<Nullable<Text>, _>(&c.occupation)
            .bind::<Text, _>(&cursor)
            .bind::<Text, _>(&last);
        match conn {
            DbConnection::Pg(pg) => push.execute(pg)?,
            DbConnection::Sqlite(lite) => push.execute(lite)?,
        };
        let written = i64::try_from(written).unwrap_or(i64::MAX);
        diesel::update(campaigns::table.find(&c.id))
            .set((
                campaigns::cursor.eq(&last),
                campaigns::recipients.eq(campaigns::recipients + written),
            ))
            .execute(conn)?;
        Ok(written)
    })
}

fn last_of_audience(
    conn: &mut DbConnection,
    like: &str,
    occupation: &Option<String>,
    cursor: &str,
) -> Result<Option<String>, DbError> {
    let sql = format!("SELECT MAX(m.id) AS id {}", audience(1));
    #[derive(QueryableByName)]
    struct Max {
        #[diesel(sql_type = Nullable<Text>)]
        id: Option<String>,
    }
    let q = diesel::sql_query(sql)
        .bind::<Text, _>(like)
        .bind::<Nullable<Text>, _>(occupation)
        .bind::<Text, _>(cursor);
    let row: Max = match conn {
        DbConnection::Pg(pg) => q.get_result(pg)?,
        DbConnection::Sqlite(lite) => q.get_result(lite)?,
    };
    Ok(row.id)
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Deliveries of a campaign by status.
pub fn delivery_counts(
    conn: &mut DbConnection,
    campaign_id: &str,
) -> Result<Vec<(String, i64)>, DbError> {
    let sql = "SELECT status, CAST(COUNT(*) AS BIGINT) AS n FROM notification_deliveries WHERE campaign_id = $1 GROUP BY status";
    let rows: Vec<StatusCount> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(sql)
            .bind::<Text, _>(campaign_id)
            .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql)
            .bind::<Text, _>(campaign_id)
            .load(lite)?,
    };
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}
