//! Storage of notifications: the inbox, deliveries per external channel (claimed and
//! recorded in batches), devices, preferences, and JPush ids fetched ahead.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};

use crate::schema::{
    devices, jpush_cids, notification_deliveries as deliveries, notification_preferences as prefs,
    notifications,
};
use crate::{write_tx, DbConnection, DbError};

pub const PENDING: &str = "pending";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
pub const DEAD: &str = "dead";
pub const SKIPPED: &str = "skipped";

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = notifications)]
pub struct Notification {
    pub id: String,
    pub user_id: String,
    pub category: String,
    pub title: String,
    pub body: String,
    pub data: String,
    pub read_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable, QueryableByName)]
#[diesel(table_name = deliveries)]
pub struct Delivery {
    pub id: String,
    pub notification_id: String,
    pub user_id: String,
    pub channel: String,
    pub status: String,
    pub attempts: i32,
    pub resends: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub provider_ref: Option<String>,
    pub provider_response: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// Writes a notification and a pending delivery per external channel (inside the caller's
/// transaction: the outbox).
pub fn insert(conn: &mut DbConnection, n: &Notification, channels: &[&str]) -> Result<(), DbError> {
    diesel::insert_into(notifications::table)
        .values(n)
        .execute(conn)?;
    for channel in channels {
        diesel::insert_into(deliveries::table)
            .values(&Delivery {
                id: format!("{}-{channel}", n.id),
                notification_id: n.id.clone(),
                user_id: n.user_id.clone(),
                channel: (*channel).to_owned(),
                status: PENDING.into(),
                attempts: 0,
                resends: 0,
                next_attempt_at: n.created_at,
                claimed_by: None,
                claimed_until: None,
                provider_ref: None,
                provider_response: None,
                sent_at: None,
                updated_at: n.created_at,
            })
            .execute(conn)?;
    }
    Ok(())
}

/// Many notifications, each with the same channels, in multi-row statements (batches).
pub fn insert_many(
    conn: &mut DbConnection,
    all: &[Notification],
    channels: &[&str],
) -> Result<(), DbError> {
    for chunk in all.chunks(500) {
        let q = diesel::insert_into(notifications::table).values(chunk);
        match conn {
            DbConnection::Pg(c) => q.execute(c)?,
            DbConnection::Sqlite(c) => q.execute(c)?,
        };
        let rows: Vec<Delivery> = chunk
            .iter()
            .flat_map(|n| {
                channels.iter().map(move |channel| Delivery {
                    id: format!("{}-{channel}", n.id),
                    notification_id: n.id.clone(),
                    user_id: n.user_id.clone(),
                    channel: (*channel).to_owned(),
                    status: PENDING.into(),
                    attempts: 0,
                    resends: 0,
                    next_attempt_at: n.created_at,
                    claimed_by: None,
                    claimed_until: None,
                    provider_ref: None,
                    provider_response: None,
                    sent_at: None,
                    updated_at: n.created_at,
                })
            })
            .collect();
        for part in rows.chunks(500) {
            let q = diesel::insert_into(deliveries::table).values(part);
            match conn {
                DbConnection::Pg(c) => q.execute(c)?,
                DbConnection::Sqlite(c) => q.execute(c)?,
            };
        }
    }
    Ok(())
}

pub fn inbox(
    conn: &mut DbConnection,
    user_id: &str,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<Notification>, DbError> {
    let mut q = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .select(Notification::as_select())
        .into_boxed();
    // Newest first: ids are time-ordered, the cursor is the last id seen.
    if let Some(after) = after {
        q = q.filter(notifications::id.lt(after));
    }
    Ok(q.order(notifications::id.desc()).limit(limit).load(conn)?)
}

pub fn mark_read(
    conn: &mut DbConnection,
    user_id: &str,
    id: &str,
    now: NaiveDateTime,
) -> Result<Option<Notification>, DbError> {
    diesel::update(
        notifications::table
            .filter(
                notifications::id
                    .eq(id)
                    .and(notifications::user_id.eq(user_id)),
            )
            .filter(notifications::read_at.is_null()),
    )
    .set(notifications::read_at.eq(now))
    .execute(conn)?;
    Ok(notifications::table
        .filter(
            notifications::id
                .eq(id)
                .and(notifications::user_id.eq(user_id)),
        )
        .select(Notification::as_select())
        .first(conn)
        .optional()?)
}

pub fn mark_all_read(
    conn: &mut DbConnection,
    user_id: &str,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(diesel::update(
        notifications::table.filter(
            notifications::user_id
                .eq(user_id)
                .and(notifications::read_at.is_null()),
        ),
    )
    .set(notifications::read_at.eq(now))
    .execute(conn)?)
}

pub fn unread_count(conn: &mut DbConnection, user_id: &str) -> Result<i64, DbError> {
    Ok(notifications::table
        .filter(
            notifications::user_id
                .eq(user_id)
                .and(notifications::read_at.is_null()),
        )
        .count()
        .get_result(conn)?)
}

// Devices

/// Registers (or refreshes) a device; a registration id moves to its newest user.
pub fn put_device(
    conn: &mut DbConnection,
    user_id: &str,
    registration_id: &str,
    platform: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    write_tx(conn, |conn| {
        diesel::delete(devices::table.filter(devices::registration_id.eq(registration_id)))
            .execute(conn)?;
        diesel::insert_into(devices::table)
            .values((
                devices::user_id.eq(user_id),
                devices::registration_id.eq(registration_id),
                devices::platform.eq(platform),
                devices::created_at.eq(now),
                devices::updated_at.eq(now),
            ))
            .execute(conn)?;
        Ok(())
    })
}

pub fn devices_of(conn: &mut DbConnection, user_id: &str) -> Result<Vec<String>, DbError> {
    Ok(devices::table
        .filter(devices::user_id.eq(user_id))
        .order(devices::registration_id)
        .select(devices::registration_id)
        .load(conn)?)
}

/// (user id, registration id) of many users.
pub fn devices_of_many(
    conn: &mut DbConnection,
    user_ids: &[String],
) -> Result<Vec<(String, String)>, DbError> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(500) {
        out.extend(
            devices::table
                .filter(devices::user_id.eq_any(chunk))
                .select((devices::user_id, devices::registration_id))
                .load::<(String, String)>(conn)?,
        );
    }
    Ok(out)
}

pub fn remove_devices(
    conn: &mut DbConnection,
    registration_ids: &[String],
) -> Result<usize, DbError> {
    Ok(
        diesel::delete(devices::table.filter(devices::registration_id.eq_any(registration_ids)))
            .execute(conn)?,
    )
}

// Preferences

/// (category, channel, enabled) a user has set.
pub fn preferences(
    conn: &mut DbConnection,
    user_id: &str,
) -> Result<Vec<(String, String, bool)>, DbError> {
    Ok(prefs::table
        .filter(prefs::user_id.eq(user_id))
        .select((prefs::category, prefs::channel, prefs::enabled))
        .load(conn)?)
}

/// Users among `user_ids` who switched `channel` off for `category`.
pub fn opted_out(
    conn: &mut DbConnection,
    user_ids: &[String],
    category: &str,
    channel: &str,
) -> Result<Vec<String>, DbError> {
    let mut out = Vec::new();
    for chunk in user_ids.chunks(500) {
        out.extend(
            prefs::table
                .filter(prefs::user_id.eq_any(chunk))
                .filter(
                    prefs::category
                        .eq(category)
                        .and(prefs::channel.eq(channel))
                        .and(prefs::enabled.eq(false)),
                )
                .select(prefs::user_id)
                .load::<String>(conn)?,
        );
    }
    Ok(out)
}

pub fn set_preference(
    conn: &mut DbConnection,
    user_id: &str,
    category: &str,
    channel: &str,
    enabled: bool,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(
        prefs::table.filter(
            prefs::user_id
                .eq(user_id)
                .and(prefs::category.eq(category))
                .and(prefs::channel.eq(channel)),
        ),
    )
    .execute(conn)?;
    diesel::insert_into(prefs::table)
        .values((
            prefs::user_id.eq(user_id),
            prefs::category.eq(category),
            prefs::channel.eq(channel),
            prefs::enabled.eq(enabled),
            prefs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

// Deliveries

const CLAIM_PG: &str = "
UPDATE notification_deliveries SET
    resends = resends + CASE WHEN status = 'sending' THEN 1 ELSE 0 END,
    status = 'sending', claimed_by = $1, claimed_until = $2, attempts = attempts + 1, updated_at = $3
WHERE id IN (
    SELECT id FROM notification_deliveries
    WHERE channel = $4
      AND ((status IN ('pending', 'failed') AND next_attempt_at <= $3) OR (status = 'sending' AND claimed_until < $3))
    ORDER BY next_attempt_at
    LIMIT $5
    FOR UPDATE SKIP LOCKED
)
RETURNING *";

const CLAIM_SQLITE: &str = "
UPDATE notification_deliveries SET
    resends = resends + CASE WHEN status = 'sending' THEN 1 ELSE 0 END,
    status = 'sending', claimed_by = $1, claimed_until = $2, attempts = attempts + 1, updated_at = $3
WHERE id IN (
    SELECT id FROM notification_deliveries
    WHERE channel = $4
      AND ((status IN ('pending', 'failed') AND next_attempt_at <= $3) OR (status = 'sending' AND claimed_until < $3))
    ORDER BY next_attempt_at
    LIMIT $5
)
RETURNING *";

/// Claims up to `limit` due deliveries of a channel, in one statement. A delivery whose
/// claim lapsed while `sending` (its worker died mid-send) is claimed again and counted as a
/// possible resend.
pub fn claim(
    conn: &mut DbConnection,
    channel: &str,
    worker: &str,
    limit: i64,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Vec<Delivery>, DbError> {
    Ok(match conn {
        DbConnection::Pg(pg) => diesel::sql_query(CLAIM_PG)
            .bind::<Text, _>(worker)
            .bind::<Timestamp, _>(lease_until)
            .bind::<Timestamp, _>(now)
            .bind::<Text, _>(channel)
            .bind::<BigInt, _>(limit)
            .load(pg)?,
        DbConnection::Sqlite(_) => write_tx(conn, |conn| {
            let DbConnection::Sqlite(lite) = conn else {
                return Ok::<_, DbError>(Vec::new());
            };
            Ok(diesel::sql_query(CLAIM_SQLITE)
                .bind::<Text, _>(worker)
                .bind::<Timestamp, _>(lease_until)
                .bind::<Timestamp, _>(now)
                .bind::<Text, _>(channel)
                .bind::<BigInt, _>(limit)
                .load(lite)?)
        })?,
    })
}

/// Notifications by id (title, body, category for many deliveries at once).
pub fn notifications_by_id(
    conn: &mut DbConnection,
    ids: &[String],
) -> Result<Vec<Notification>, DbError> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            notifications::table
                .filter(notifications::id.eq_any(chunk))
                .select(Notification::as_select())
                .load(conn)?,
        );
    }
    Ok(out)
}

/// Stores the provider idempotency ids given to claimed deliveries (before sending), in one
/// statement.
pub fn set_provider_refs(
    conn: &mut DbConnection,
    refs: &[(String, String)],
) -> Result<(), DbError> {
    for chunk in refs.chunks(1000) {
        let rows = (0..chunk.len())
            .map(|k| format!("(${}, ${})", 2 * k + 1, 2 * k + 2))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE notification_deliveries SET provider_ref = v.cid
             FROM (SELECT column1 AS id, column2 AS cid FROM (VALUES {rows}) AS x) AS v
             WHERE notification_deliveries.id = v.id"
        );
        macro_rules! run {
            ($c:expr, $backend:ty) => {{
                let mut q = diesel::sql_query(&sql).into_boxed::<$backend>();
                for (id, cid) in chunk {
                    q = q.bind::<Text, _>(id).bind::<Text, _>(cid);
                }
                q.execute($c)?;
            }};
        }
        match conn {
            DbConnection::Pg(c) => run!(c, diesel::pg::Pg),
            DbConnection::Sqlite(c) => run!(c, diesel::sqlite::Sqlite),
        }
    }
    Ok(())
}

/// The outcome of one delivery attempt.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub id: String,
    pub status: &'static str,
    pub response: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
}

/// Records a batch of outcomes in one statement (only for deliveries still claimed by
/// `worker`).
pub fn record(
    conn: &mut DbConnection,
    worker: &str,
    outcomes: &[Outcome],
    now: NaiveDateTime,
) -> Result<(), DbError> {
    for chunk in outcomes.chunks(500) {
        let rows = (0..chunk.len())
            .map(|k| {
                let b = 6 * k;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    b + 5,
                    b + 6
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "UPDATE notification_deliveries SET status = v.status, provider_response = v.response,
                 next_attempt_at = v.next, claimed_by = NULL, claimed_until = NULL,
                 sent_at = CASE WHEN v.status = 'sent' THEN v.at ELSE NULL END, updated_at = v.at
             FROM (SELECT column1 AS id, column2 AS status, column3 AS response, column4 AS next, column5 AS at,
                          column6 AS worker FROM (VALUES {rows}) AS x) AS v
             WHERE notification_deliveries.id = v.id AND notification_deliveries.claimed_by = v.worker
               AND notification_deliveries.status = 'sending'"
        );
        macro_rules! run {
            ($c:expr, $backend:ty) => {{
                let mut q = diesel::sql_query(&sql).into_boxed::<$backend>();
                for o in chunk {
                    q = q
                        .bind::<Text, _>(&o.id)
                        .bind::<Text, _>(o.status)
                        .bind::<diesel::sql_types::Nullable<Text>, _>(&o.response)
                        .bind::<Timestamp, _>(o.next_attempt_at.unwrap_or(now))
                        .bind::<Timestamp, _>(now)
                        .bind::<Text, _>(worker);
                }
                q.execute($c)?;
            }};
        }
        match conn {
            DbConnection::Pg(c) => run!(c, diesel::pg::Pg),
            DbConnection::Sqlite(c) => run!(c, diesel::sqlite::Sqlite),
        }
    }
    Ok(())
}

// JPush ids fetched ahead

pub fn add_cids(
    conn: &mut DbConnection,
    cids: &[String],
    now: NaiveDateTime,
) -> Result<(), DbError> {
    write_tx(conn, |conn| {
        for cid in cids {
            diesel::insert_into(jpush_cids::table)
                .values((jpush_cids::cid.eq(cid), jpush_cids::fetched_at.eq(now)))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// Drops pooled ids fetched before `before` (JPush keeps a cid valid for one day).
pub fn discard_cids_before(
    conn: &mut DbConnection,
    before: NaiveDateTime,
) -> Result<usize, DbError> {
    Ok(
        diesel::delete(jpush_cids::table.filter(jpush_cids::fetched_at.lt(before)))
            .execute(conn)?,
    )
}

#[derive(QueryableByName)]
struct Cid {
    #[diesel(sql_type = Text)]
    cid: String,
}

/// Takes up to `n` ids from the pool, each handed to exactly one taker (PostgreSQL: skip
/// locked rows, so concurrent dispatchers never share an id).
pub fn take_cids(conn: &mut DbConnection, n: i64) -> Result<Vec<String>, DbError> {
    let rows: Vec<Cid> = match conn {
        DbConnection::Pg(pg) => diesel::sql_query(
            "DELETE FROM jpush_cids WHERE cid IN (SELECT cid FROM jpush_cids ORDER BY cid LIMIT $1 FOR UPDATE SKIP LOCKED) RETURNING cid",
        )
        .bind::<BigInt, _>(n)
        .load(pg)?,
        DbConnection::Sqlite(_) => write_tx(conn, |conn| {
            let DbConnection::Sqlite(lite) = conn else {
                return Ok::<_, DbError>(Vec::new());
            };
            Ok(diesel::sql_query(
                "DELETE FROM jpush_cids WHERE cid IN (SELECT cid FROM jpush_cids ORDER BY cid LIMIT $1) RETURNING cid",
            )
            .bind::<BigInt, _>(n)
            .load(lite)?)
        })?,
    };
    Ok(rows.into_iter().map(|r| r.cid).collect())
}

// WeChat subscribe-message credits

/// Adds one credit per accepted template.
pub fn add_credits(
    conn: &mut DbConnection,
    user_id: &str,
    template_ids: &[String],
    now: NaiveDateTime,
) -> Result<(), DbError> {
    use crate::schema::wechat_subscription_credits as c;
    write_tx(conn, |conn| {
        for template in template_ids {
            let updated = diesel::update(c::table.find((user_id, template)))
                .set((c::credits.eq(c::credits + 1), c::updated_at.eq(now)))
                .execute(conn)?;
            if updated == 0 {
                diesel::insert_into(c::table)
                    .values((
                        c::user_id.eq(user_id),
                        c::template_id.eq(template),
                        c::credits.eq(1),
                        c::updated_at.eq(now),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(())
    })
}

/// (template id, credits) of a user.
pub fn credits(conn: &mut DbConnection, user_id: &str) -> Result<Vec<(String, i32)>, DbError> {
    use crate::schema::wechat_subscription_credits as c;
    Ok(c::table
        .filter(c::user_id.eq(user_id))
        .order(c::template_id)
        .select((c::template_id, c::credits))
        .load(conn)?)
}

/// Takes one credit; false when there is none.
pub fn take_credit(
    conn: &mut DbConnection,
    user_id: &str,
    template_id: &str,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    use crate::schema::wechat_subscription_credits as c;
    Ok(diesel::update(
        c::table
            .find((user_id, template_id))
            .filter(c::credits.gt(0)),
    )
    .set((c::credits.eq(c::credits - 1), c::updated_at.eq(now)))
    .execute(conn)?
        == 1)
}

/// Gives a credit back (the message was not delivered and will be retried).
pub fn return_credit(
    conn: &mut DbConnection,
    user_id: &str,
    template_id: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    add_credits(conn, user_id, &[template_id.to_owned()], now)
}

/// How a user can be reached: (user id, phone, WeChat openid).
pub type Contact = (String, Option<String>, Option<String>);

/// The contacts of many users.
pub fn contacts(conn: &mut DbConnection, user_ids: &[String]) -> Result<Vec<Contact>, DbError> {
    use crate::schema::users as u;
    let mut out = Vec::new();
    for chunk in user_ids.chunks(500) {
        out.extend(
            u::table
                .filter(u::id.eq_any(chunk))
                .select((u::id, u::phone, u::wechat_openid))
                .load::<(String, Option<String>, Option<String>)>(conn)?,
        );
    }
    Ok(out)
}
