//! Campaigns: a notice fanned out to an org subtree's active members in batches, each batch
//! one `INSERT … SELECT` for the inbox rows and one for their push batches, with the cursor
//! moved in the same transaction (a restarted fan-out resumes, never repeats).
//! Notification ids are `<campaign id>-<membership id>`: unique per recipient, still
//! time-ordered among other notifications (the campaign id is a UUIDv7), and a campaign's
//! rows are consecutive in the primary key, so a push batch is a key range (ADR 010).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text, Timestamp};

use crate::schema::{campaign_push_batches, campaigns, orgs};
use crate::{write_tx, DbConnection, DbError};

pub const FANNING_OUT: &str = "fanning_out";
/// Inbox rows per push batch: JPush takes at most 1,000 registration ids per request.
pub const PUSH_BATCH: i64 = 1000;
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
    /// The notification category of its inbox rows and pushes: `notice` for admins'
    /// campaigns, `plan_enrolled` for a roster import's (whose id is the import's).
    pub category: String,
}

/// Campaigns of one category whose audience org lies in these subtrees, newest first (ids
/// are UUIDv7), before the cursor.
pub fn list(
    conn: &mut DbConnection,
    within: &[String],
    category: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Campaign>, DbError> {
    if within.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = campaigns::table
        .inner_join(orgs::table.on(orgs::id.eq(campaigns::org_id)))
        .filter(campaigns::category.eq(category))
        .select(Campaign::as_select())
        .into_boxed();
    query = crate::within_subtrees!(query, &within);
    if let Some(before) = before {
        query = query.filter(campaigns::id.lt(before));
    }
    Ok(query.order(campaigns::id.desc()).limit(limit).load(conn)?)
}

pub fn insert(conn: &mut DbConnection, c: &Campaign) -> Result<(), DbError> {
    diesel::insert_into(campaigns::table)
        .values(c)
        .execute(conn)?;
    Ok(())
}

/// Inserts the campaign unless one with its id exists (a roster import's, written by its
/// first batch that enrolls anyone).
pub fn insert_if_missing(conn: &mut DbConnection, c: &Campaign) -> Result<(), DbError> {
    let q = diesel::insert_into(campaigns::table)
        .values(c)
        .on_conflict_do_nothing();
    match conn {
        DbConnection::Pg(pg) => q.execute(pg)?,
        DbConnection::Sqlite(lite) => q.execute(lite)?,
    };
    Ok(())
}

/// Counts `n` more recipients written outside the fan-out (a roster import's batches).
pub fn add_recipients(conn: &mut DbConnection, id: &str, n: i64) -> Result<(), DbError> {
    diesel::update(campaigns::table.find(id))
        .set(campaigns::recipients.eq(campaigns::recipients + n))
        .execute(conn)?;
    Ok(())
}

/// Marks a campaign sent (every recipient written; pushes go on in their batches).
pub fn mark_sent(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> Result<(), DbError> {
    diesel::update(
        campaigns::table
            .find(id)
            .filter(campaigns::status.eq(FANNING_OUT)),
    )
    .set((campaigns::status.eq(SENT), campaigns::completed_at.eq(now)))
    .execute(conn)?;
    Ok(())
}

/// Writes the push batches over the campaign's inbox rows with ids in `(after, upto]`: up
/// to [`PUSH_BATCH`] consecutive rows each (a primary-key range of `notifications`).
pub fn insert_push_batches(
    conn: &mut DbConnection,
    campaign_id: &str,
    after: &str,
    upto: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    let sql = "INSERT INTO campaign_push_batches (campaign_id, first_notification_id, last_notification_id,
             recipients, addressed, status, attempts, resends, next_attempt_at, claimed_by, claimed_until, requests,
             provider_response, sent_at, updated_at)
         SELECT $1, MIN(x.id), MAX(x.id), COUNT(*), 0, 'pending', 0, 0, $2, NULL, NULL, NULL, NULL, NULL, $2
         FROM (SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / $3 AS g
               FROM notifications WHERE id > $4 AND id <= $5) AS x
         GROUP BY x.g";
    let push = diesel::sql_query(sql)
        .bind::<Text, _>(campaign_id)
        .bind::<Timestamp, _>(now)
        .bind::<BigInt, _>(PUSH_BATCH)
        .bind::<Text, _>(after)
        .bind::<Text, _>(upto);
    match conn {
        DbConnection::Pg(pg) => push.execute(pg)?,
        DbConnection::Sqlite(lite) => push.execute(lite)?,
    };
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

/// Writes the next batch of up to `batch` recipients (with their push batches, and their
/// subscribe batches for `subscribe_template` when WeChat can deliver the campaign's
/// category); returns how many were written (0 when the audience is exhausted, and the
/// campaign is then marked sent).
pub fn fan_out_batch(
    conn: &mut DbConnection,
    campaign_id: &str,
    batch: i64,
    subscribe_template: Option<&str>,
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
        // The push (and subscribe) batches over the rows just written.
        let (after, upto) = (format!("{}-{cursor}", c.id), format!("{}-{last}", c.id));
        insert_push_batches(conn, &c.id, &after, &upto, now)?;
        if let Some(template) = subscribe_template {
            crate::subscribe_batches::insert_batches(conn, &c.id, &after, &upto, template, now)?;
        }
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
    recipients: i64,
    #[diesel(sql_type = BigInt)]
    addressed: i64,
}

/// A campaign's push deliveries by status, counted per recipient: a sent batch's addressed
/// recipients are `sent` and the others (no device, push switched off) `skipped`.
pub fn delivery_counts(
    conn: &mut DbConnection,
    campaign_id: &str,
) -> Result<Vec<(String, i64)>, DbError> {
    let sql = "SELECT status, CAST(SUM(recipients) AS BIGINT) AS recipients, CAST(SUM(addressed) AS BIGINT) AS addressed
               FROM campaign_push_batches WHERE campaign_id = $1 GROUP BY status";
    let rows: Vec<StatusCount> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(sql)
            .bind::<Text, _>(campaign_id)
            .load(pg)?,
        DbConnection::Sqlite(lite) => diesel::sql_query(sql)
            .bind::<Text, _>(campaign_id)
            .load(lite)?,
    };
    let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
    for r in rows {
        if r.status == SENT {
            *counts.entry(SENT.into()).or_default() += r.addressed;
            *counts.entry("skipped".into()).or_default() += r.recipients - r.addressed;
        } else {
            *counts.entry(r.status).or_default() += r.recipients;
        }
    }
    Ok(counts.into_iter().filter(|(_, n)| *n > 0).collect())
}

// Push batches

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = campaign_push_batches)]
pub struct PushBatch {
    pub campaign_id: String,
    pub first_notification_id: String,
    pub last_notification_id: String,
    pub recipients: i64,
    pub addressed: i64,
    pub status: String,
    pub attempts: i32,
    pub resends: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub requests: Option<String>,
    pub provider_response: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

const CLAIM: &str = "
UPDATE campaign_push_batches SET
    resends = resends + CASE WHEN status = 'sending' THEN 1 ELSE 0 END,
    status = 'sending', claimed_by = $1, claimed_until = $2, attempts = attempts + 1, updated_at = $3
WHERE (campaign_id, first_notification_id) IN (
    SELECT campaign_id, first_notification_id FROM campaign_push_batches
    WHERE (status IN ('pending', 'failed') AND next_attempt_at <= $3) OR (status = 'sending' AND claimed_until < $3)
    ORDER BY next_attempt_at
    LIMIT $4";

/// Claims up to `limit` due push batches in one statement (PostgreSQL: skipping rows another
/// dispatcher holds). A batch whose claim lapsed while `sending` is claimed again and counted
/// as a possible resend (its frozen requests go out again with the same cids).
pub fn claim_push_batches(
    conn: &mut DbConnection,
    worker: &str,
    limit: i64,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Vec<PushBatch>, DbError> {
    claim_batches(conn, CLAIM, worker, limit, lease_until, now)
}

/// Runs a batch claim (`claim`: an `UPDATE … WHERE key IN (SELECT … LIMIT $4` left open for
/// the row lock) in one statement, returning the claimed rows: `FOR UPDATE SKIP LOCKED` on
/// PostgreSQL; on SQLite inside a write transaction (one writer at a time).
pub(crate) fn claim_batches<T>(
    conn: &mut DbConnection,
    claim: &str,
    worker: &str,
    limit: i64,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Vec<T>, DbError>
where
    T: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    Ok(match conn {
        DbConnection::Pg(pg) => {
            diesel::sql_query(format!("{claim} FOR UPDATE SKIP LOCKED) RETURNING *"))
                .bind::<Text, _>(worker)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(pg)?
        }
        DbConnection::Sqlite(_) => write_tx(conn, |conn| {
            let DbConnection::Sqlite(lite) = conn else {
                return Ok::<_, DbError>(Vec::new());
            };
            Ok(diesel::sql_query(format!("{claim}) RETURNING *"))
                .bind::<Text, _>(worker)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<BigInt, _>(limit)
                .load(lite)?)
        })?,
    })
}

#[derive(QueryableByName)]
struct Target {
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = Text)]
    registration_id: String,
}

/// A batch's push audience: (user, registration id) of each recipient's devices, in
/// registration-id order, leaving out users who switched `category` off on the push channel
/// (unless `critical`).
pub fn batch_audience(
    conn: &mut DbConnection,
    batch: &PushBatch,
    category: &str,
    critical: bool,
) -> Result<Vec<(String, String)>, DbError> {
    let sql = "SELECT n.user_id AS user_id, d.registration_id AS registration_id
               FROM notifications n JOIN devices d ON d.user_id = n.user_id
               WHERE n.id >= $1 AND n.id <= $2
                 AND ($3 OR NOT EXISTS (SELECT 1 FROM notification_preferences p
                      WHERE p.user_id = n.user_id AND p.category = $4 AND p.channel = 'push' AND NOT p.enabled))
               ORDER BY d.registration_id";
    let q = diesel::sql_query(sql)
        .bind::<Text, _>(&batch.first_notification_id)
        .bind::<Text, _>(&batch.last_notification_id)
        .bind::<diesel::sql_types::Bool, _>(critical)
        .bind::<Text, _>(category);
    let rows: Vec<Target> = match conn {
        DbConnection::Pg(pg) => q.load(pg)?,
        DbConnection::Sqlite(lite) => q.load(lite)?,
    };
    Ok(rows
        .into_iter()
        .map(|t| (t.user_id, t.registration_id))
        .collect())
}

/// Freezes a claimed batch's requests (and how many recipients they address) before the
/// first send. False when the claim was lost meanwhile.
pub fn freeze_requests(
    conn: &mut DbConnection,
    batch: &PushBatch,
    worker: &str,
    requests: &str,
    addressed: i64,
) -> Result<bool, DbError> {
    let n = diesel::update(
        campaign_push_batches::table
            .find((&batch.campaign_id, &batch.first_notification_id))
            .filter(campaign_push_batches::claimed_by.eq(worker))
            .filter(campaign_push_batches::status.eq("sending")),
    )
    .set((
        campaign_push_batches::requests.eq(requests),
        campaign_push_batches::addressed.eq(addressed),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// The outcome of one attempt at a push batch.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    pub campaign_id: String,
    pub first_notification_id: String,
    pub status: &'static str,
    pub response: String,
    pub next_attempt_at: Option<NaiveDateTime>,
}

/// Records outcomes (only for batches still claimed by `worker`), in one transaction.
pub fn record_push_batches(
    conn: &mut DbConnection,
    worker: &str,
    outcomes: &[BatchOutcome],
    now: NaiveDateTime,
) -> Result<(), DbError> {
    use campaign_push_batches as b;
    write_tx(conn, |conn| {
        for o in outcomes {
            diesel::update(
                b::table
                    .find((&o.campaign_id, &o.first_notification_id))
                    .filter(b::claimed_by.eq(worker))
                    .filter(b::status.eq("sending")),
            )
            .set((
                b::status.eq(o.status),
                b::provider_response.eq(&o.response),
                b::next_attempt_at.eq(o.next_attempt_at.unwrap_or(now)),
                b::claimed_by.eq(None::<String>),
                b::claimed_until.eq(None::<NaiveDateTime>),
                b::sent_at.eq((o.status == SENT).then_some(now)),
                b::updated_at.eq(now),
            ))
            .execute(conn)?;
        }
        Ok(())
    })
}

/// Forgets the device registration ids frozen in push batches that are done (sent, dead or
/// skipped) since before `before`: they were kept only so that a resend reaches the same
/// devices. Returns how many batches were cleared.
pub fn clear_done_requests(
    conn: &mut DbConnection,
    before: NaiveDateTime,
) -> Result<usize, DbError> {
    use campaign_push_batches as b;
    Ok(diesel::update(
        b::table
            .filter(b::status.eq_any([
                SENT,
                crate::notifications::DEAD,
                crate::notifications::SKIPPED,
            ]))
            .filter(b::updated_at.lt(before))
            .filter(b::requests.is_not_null()),
    )
    .set(b::requests.eq(None::<String>))
    .execute(conn)?)
}
