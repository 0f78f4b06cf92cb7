//! A campaign's WeChat subscribe messages, in batches (ADR 021). Each batch covers the
//! same key range of the campaign's inbox rows as a push batch. On its first claim the
//! recipients holding a credit for the template are frozen into the row and their credits
//! taken, in one transaction; the sender then records its progress through the frozen list
//! every few dozen messages (with the messages to retry handed to per-recipient deliveries),
//! so a dispatcher that takes over a lapsed claim resumes where the last one recorded.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamp};

use crate::notifications::{Delivery, FAILED, SENDING, SENT};
use crate::schema::{campaign_subscribe_batches as b, notification_deliveries as deliveries};
use crate::{write_tx, DbConnection, DbError};

#[derive(Debug, Clone, Queryable, Selectable, QueryableByName)]
#[diesel(table_name = b)]
pub struct SubscribeBatch {
    pub campaign_id: String,
    pub first_notification_id: String,
    pub last_notification_id: String,
    pub template_id: String,
    pub status: String,
    pub recipients: i32,
    pub progress: i32,
    pub sent: i32,
    pub skipped: i32,
    pub retried: i32,
    pub dead: i32,
    pub attempts: i32,
    pub takeovers: i32,
    pub next_attempt_at: NaiveDateTime,
    pub claimed_by: Option<String>,
    pub claimed_until: Option<NaiveDateTime>,
    pub frozen: Option<String>,
    pub provider_response: Option<String>,
    pub sent_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
}

/// One recipient of a frozen batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub notification_id: String,
    pub user_id: String,
    pub openid: String,
}

/// The frozen list as stored: `notification id,user id,openid` joined by `;`.
pub fn encode(recipients: &[Recipient]) -> String {
    recipients
        .iter()
        .map(|r| format!("{},{},{}", r.notification_id, r.user_id, r.openid))
        .collect::<Vec<_>>()
        .join(";")
}

/// The frozen list back; None when it is not in the stored form.
pub fn decode(frozen: &str) -> Option<Vec<Recipient>> {
    if frozen.is_empty() {
        return Some(Vec::new());
    }
    frozen
        .split(';')
        .map(|entry| {
            let mut parts = entry.split(',');
            let r = Recipient {
                notification_id: parts.next()?.to_owned(),
                user_id: parts.next()?.to_owned(),
                openid: parts.next()?.to_owned(),
            };
            parts.next().is_none().then_some(r)
        })
        .collect()
}

/// A value the frozen list can hold (openids are letters, digits, `-` and `_`).
fn storable(value: &str) -> bool {
    !value.is_empty() && !value.contains([',', ';'])
}

/// Writes the subscribe batches over the campaign's inbox rows with ids in `(after, upto]`,
/// one per [`crate::campaigns::PUSH_BATCH`] consecutive rows, for `template_id`.
pub fn insert_batches(
    conn: &mut DbConnection,
    campaign_id: &str,
    after: &str,
    upto: &str,
    template_id: &str,
    now: NaiveDateTime,
) -> Result<(), DbError> {
    let sql = "INSERT INTO campaign_subscribe_batches (campaign_id, first_notification_id, last_notification_id,
             template_id, status, recipients, progress, sent, skipped, retried, dead, attempts, takeovers,
             next_attempt_at, claimed_by, claimed_until, frozen, provider_response, sent_at, updated_at)
         SELECT $1, MIN(x.id), MAX(x.id), $2, 'pending', 0, 0, 0, 0, 0, 0, 0, 0, $3, NULL, NULL, NULL, NULL, NULL, $3
         FROM (SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) / $4 AS g
               FROM notifications WHERE id > $5 AND id <= $6) AS x
         GROUP BY x.g";
    let q = diesel::sql_query(sql)
        .bind::<Text, _>(campaign_id)
        .bind::<Text, _>(template_id)
        .bind::<Timestamp, _>(now)
        .bind::<diesel::sql_types::BigInt, _>(crate::campaigns::PUSH_BATCH)
        .bind::<Text, _>(after)
        .bind::<Text, _>(upto);
    match conn {
        DbConnection::Pg(pg) => q.execute(pg)?,
        DbConnection::Sqlite(lite) => q.execute(lite)?,
    };
    Ok(())
}

const CLAIM: &str = "
UPDATE campaign_subscribe_batches SET
    takeovers = takeovers + CASE WHEN status = 'sending' THEN 1 ELSE 0 END,
    status = 'sending', claimed_by = $1, claimed_until = $2, attempts = attempts + 1, updated_at = $3
WHERE (campaign_id, first_notification_id) IN (
    SELECT campaign_id, first_notification_id FROM campaign_subscribe_batches
    WHERE (status IN ('pending', 'failed') AND next_attempt_at <= $3) OR (status = 'sending' AND claimed_until < $3)
    ORDER BY next_attempt_at
    LIMIT $4";

/// Claims up to `limit` due batches in one statement (PostgreSQL: skipping rows another
/// dispatcher holds). A batch whose claim lapsed while `sending` is taken over (counted in
/// `takeovers`): it resumes at its recorded progress.
pub fn claim(
    conn: &mut DbConnection,
    worker: &str,
    limit: i64,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<Vec<SubscribeBatch>, DbError> {
    crate::campaigns::claim_batches(conn, CLAIM, worker, limit, lease_until, now)
}

#[derive(QueryableByName)]
struct Credited {
    #[diesel(sql_type = Text)]
    user_id: String,
}

/// An inbox row of the batch whose user has an openid.
struct Row {
    notification_id: String,
    user_id: String,
    openid: String,
}

/// Takes one credit for `template_id` from each of `user_ids` who has one; returns who
/// did.
fn take_credits(
    conn: &mut DbConnection,
    template_id: &str,
    user_ids: &[String],
    now: NaiveDateTime,
) -> Result<HashSet<String>, DbError> {
    use crate::schema::wechat_subscription_credits as c;
    let mut taken = HashSet::new();
    for chunk in user_ids.chunks(1000) {
        match conn {
            // One statement, so a credit spent meanwhile by another transaction is not
            // counted as taken.
            DbConnection::Pg(pg) => {
                let rows: Vec<Credited> = diesel::sql_query(
                    "UPDATE wechat_subscription_credits SET credits = credits - 1, updated_at = $1
                     WHERE template_id = $2 AND credits > 0 AND user_id = ANY($3) RETURNING user_id",
                )
                .bind::<Timestamp, _>(now)
                .bind::<Text, _>(template_id)
                .bind::<diesel::sql_types::Array<Text>, _>(chunk)
                .load(pg)?;
                taken.extend(rows.into_iter().map(|r| r.user_id));
            }
            // SQLite runs one writer at a time: nothing changes between the two.
            DbConnection::Sqlite(_) => {
                let holders: Vec<String> = c::table
                    .filter(c::template_id.eq(template_id))
                    .filter(c::credits.gt(0))
                    .filter(c::user_id.eq_any(chunk))
                    .select(c::user_id)
                    .load(conn)?;
                diesel::update(
                    c::table
                        .filter(c::template_id.eq(template_id))
                        .filter(c::user_id.eq_any(&holders)),
                )
                .set((c::credits.eq(c::credits - 1), c::updated_at.eq(now)))
                .execute(conn)?;
                taken.extend(holders);
            }
        }
    }
    Ok(taken)
}

enum FreezeError {
    Db(DbError),
    /// The claim was lost: the freeze rolls back.
    Lost,
}

impl From<DbError> for FreezeError {
    fn from(e: DbError) -> Self {
        FreezeError::Db(e)
    }
}

/// Freezes a claimed batch's recipients, in one transaction: every recipient with a WeChat
/// openid and a credit for the batch's template who has not switched `category` off on
/// WeChat (unless `critical`) has one credit taken and is written to the batch, in
/// notification-id order. None (and nothing taken) when the claim was lost meanwhile.
pub fn freeze(
    conn: &mut DbConnection,
    batch: &SubscribeBatch,
    worker: &str,
    category: &str,
    critical: bool,
    now: NaiveDateTime,
) -> Result<Option<Vec<Recipient>>, DbError> {
    let result = write_tx(conn, |conn| -> Result<Vec<Recipient>, FreezeError> {
        // Key lookups only (a range of the inbox's primary key, then users and credits by
        // theirs): a join the planner turns into a scan of every user would cost each
        // batch as much as the whole membership. The planner also scans the whole credits
        // table for 1,000 users when it holds under ~100,000 rows (its cost model expects
        // random reads from disk): 23 ms a batch against 4.4 ms by the primary key, in the
        // subscribe benchmark. So this transaction does not scan tables.
        use crate::schema::{notifications as n, users as u};
        if let DbConnection::Pg(pg) = conn {
            diesel::sql_query("SET LOCAL enable_seqscan = off")
                .execute(pg)
                .map_err(DbError::from)?;
        }
        let rows: Vec<(String, String)> = n::table
            .filter(n::id.ge(&batch.first_notification_id))
            .filter(n::id.le(&batch.last_notification_id))
            .order(n::id)
            .select((n::id, n::user_id))
            .load(conn)
            .map_err(DbError::from)?;
        let users: Vec<String> = rows.iter().map(|(_, user)| user.clone()).collect();
        let mut openids: std::collections::HashMap<String, String> = Default::default();
        for chunk in users.chunks(1000) {
            openids.extend(
                u::table
                    .filter(u::id.eq_any(chunk))
                    .filter(u::wechat_openid.is_not_null())
                    .select((u::id, u::wechat_openid.assume_not_null()))
                    .load::<(String, String)>(conn)
                    .map_err(DbError::from)?,
            );
        }
        let opted_out: HashSet<String> = if critical {
            HashSet::new()
        } else {
            let linked: Vec<String> = openids.keys().cloned().collect();
            crate::notifications::opted_out(conn, &linked, category, "wechat")?
                .into_iter()
                .collect()
        };
        let wanted: Vec<String> = openids
            .keys()
            .filter(|user| !opted_out.contains(*user))
            .cloned()
            .collect();
        let mut credited = take_credits(conn, &batch.template_id, &wanted, now)?;
        let rows: Vec<Row> = rows
            .into_iter()
            .filter_map(|(notification_id, user_id)| {
                let openid = openids.get(&user_id)?.clone();
                Some(Row {
                    notification_id,
                    user_id,
                    openid,
                })
            })
            .collect();
        let mut recipients = Vec::new();
        let mut unusable = Vec::new();
        for row in rows {
            // One credit taken, one message: a user's first inbox row of the range.
            if !credited.remove(&row.user_id) {
                continue;
            }
            if storable(&row.notification_id) && storable(&row.user_id) && storable(&row.openid) {
                recipients.push(Recipient {
                    notification_id: row.notification_id,
                    user_id: row.user_id,
                    openid: row.openid,
                });
            } else {
                unusable.push(row.user_id);
            }
        }
        return_credits(conn, &batch.template_id, &unusable, now)?;
        let frozen = encode(&recipients);
        let kept = diesel::update(
            b::table
                .find((&batch.campaign_id, &batch.first_notification_id))
                .filter(b::claimed_by.eq(worker))
                .filter(b::status.eq(SENDING)),
        )
        .set((
            b::frozen.eq(&frozen),
            b::recipients.eq(i32::try_from(recipients.len()).unwrap_or(i32::MAX)),
            b::progress.eq(0),
        ))
        .execute(conn)
        .map_err(DbError::from)?;
        if kept != 1 {
            return Err(FreezeError::Lost);
        }
        Ok(recipients)
    });
    match result {
        Ok(recipients) => Ok(Some(recipients)),
        Err(FreezeError::Lost) => Ok(None),
        Err(FreezeError::Db(e)) => Err(e),
    }
}

/// Gives one credit for `template_id` back to each of `user_ids` (messages not delivered).
pub fn return_credits(
    conn: &mut DbConnection,
    template_id: &str,
    user_ids: &[String],
    now: NaiveDateTime,
) -> Result<(), DbError> {
    use crate::schema::wechat_subscription_credits as c;
    for chunk in user_ids.chunks(500) {
        diesel::update(
            c::table
                .filter(c::template_id.eq(template_id))
                .filter(c::user_id.eq_any(chunk)),
        )
        .set((c::credits.eq(c::credits + 1), c::updated_at.eq(now)))
        .execute(conn)?;
    }
    Ok(())
}

/// A message to retry on its own: written as a failed per-recipient delivery (the ordinary
/// dispatcher retries it with backoff and takes the credit again).
#[derive(Debug, Clone)]
pub struct Retry {
    pub notification_id: String,
    pub user_id: String,
    pub next_attempt_at: NaiveDateTime,
    pub response: String,
}

/// How the batch ends, when it does: `sent` (every recipient done), `failed` (paused until
/// `next_attempt_at`, resuming at its progress), `skipped` or `dead`.
#[derive(Debug, Clone)]
pub struct Finish {
    pub status: &'static str,
    pub response: String,
    pub next_attempt_at: NaiveDateTime,
}

/// What a sender records at a checkpoint: its progress through the frozen list (absolute)
/// and, for the recipients done since the last one, how each went.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub progress: i32,
    pub sent: i32,
    pub skipped: i32,
    pub dead: i32,
    pub retries: Vec<Retry>,
    /// Recipients whose credit goes back (retried ones, and those never sent to when the
    /// batch ends skipped or dead).
    pub return_credits: Vec<String>,
    pub finish: Option<Finish>,
}

/// Records a checkpoint in one transaction, only while `worker` still holds the batch
/// (which extends its lease to `lease_until`); false when the claim was lost, and nothing
/// is written.
pub fn checkpoint(
    conn: &mut DbConnection,
    batch: &SubscribeBatch,
    worker: &str,
    p: &Progress,
    lease_until: NaiveDateTime,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    write_tx(conn, |conn| {
        let key = b::table
            .find((&batch.campaign_id, &batch.first_notification_id))
            .filter(b::claimed_by.eq(worker))
            .filter(b::status.eq(SENDING));
        let retried = i32::try_from(p.retries.len()).unwrap_or(i32::MAX);
        let counts = (
            b::progress.eq(p.progress),
            b::sent.eq(b::sent + p.sent),
            b::skipped.eq(b::skipped + p.skipped),
            b::retried.eq(b::retried + retried),
            b::dead.eq(b::dead + p.dead),
            b::updated_at.eq(now),
        );
        let updated = match &p.finish {
            None => diesel::update(key)
                .set((counts, b::claimed_until.eq(lease_until)))
                .execute(conn)?,
            Some(f) => {
                let done = f.status != FAILED;
                diesel::update(key)
                    .set((
                        counts,
                        b::status.eq(f.status),
                        b::provider_response.eq(&f.response),
                        b::next_attempt_at.eq(f.next_attempt_at),
                        b::claimed_by.eq(None::<String>),
                        b::claimed_until.eq(None::<NaiveDateTime>),
                        b::sent_at.eq((f.status == SENT).then_some(now)),
                        // Done: the openids are not needed any more.
                        b::frozen.eq(if done { None } else { batch.frozen.clone() }),
                    ))
                    .execute(conn)?
            }
        };
        if updated != 1 {
            return Ok(false);
        }
        let rows: Vec<Delivery> = p
            .retries
            .iter()
            .map(|r| Delivery {
                id: format!("{}-wechat", r.notification_id),
                notification_id: r.notification_id.clone(),
                user_id: r.user_id.clone(),
                channel: "wechat".into(),
                status: FAILED.into(),
                attempts: 1,
                resends: 0,
                next_attempt_at: r.next_attempt_at,
                claimed_by: None,
                claimed_until: None,
                provider_ref: None,
                provider_response: Some(r.response.clone()),
                sent_at: None,
                updated_at: now,
            })
            .collect();
        // One statement a row: retries are the exception, and SQLite takes no multi-row
        // insert with a conflict clause.
        for row in &rows {
            let q = diesel::insert_into(deliveries::table)
                .values(row)
                .on_conflict_do_nothing();
            match conn {
                DbConnection::Pg(pg) => q.execute(pg)?,
                DbConnection::Sqlite(lite) => q.execute(lite)?,
            };
        }
        return_credits(conn, &batch.template_id, &p.return_credits, now)?;
        Ok(true)
    })
}

#[derive(QueryableByName)]
struct Totals {
    #[diesel(sql_type = Nullable<diesel::sql_types::BigInt>)]
    sent: Option<i64>,
    #[diesel(sql_type = Nullable<diesel::sql_types::BigInt>)]
    skipped: Option<i64>,
    #[diesel(sql_type = Nullable<diesel::sql_types::BigInt>)]
    dead: Option<i64>,
    #[diesel(sql_type = Nullable<diesel::sql_types::BigInt>)]
    pending: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    unfrozen: i64,
}

#[derive(QueryableByName)]
struct StatusCount {
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// A campaign's subscribe messages by status: `sent`, `skipped` (43101) and `dead` as the
/// batches recorded them, the retried ones by their own delivery's status, `pending` for
/// frozen recipients not yet reached, and `batches_waiting` for batches whose recipients
/// are not known yet (not claimed once).
pub fn message_counts(
    conn: &mut DbConnection,
    campaign_id: &str,
) -> Result<Vec<(String, i64)>, DbError> {
    let sql = "SELECT CAST(SUM(sent) AS BIGINT) AS sent, CAST(SUM(skipped) AS BIGINT) AS skipped,
               CAST(SUM(dead) AS BIGINT) AS dead,
               CAST(SUM(CASE WHEN frozen IS NULL THEN 0 ELSE recipients - progress END) AS BIGINT) AS pending,
               CAST(COALESCE(SUM(CASE WHEN frozen IS NULL AND status IN ('pending', 'sending', 'failed') THEN 1 ELSE 0 END), 0) AS BIGINT) AS unfrozen
               FROM campaign_subscribe_batches WHERE campaign_id = $1";
    let q = diesel::sql_query(sql).bind::<Text, _>(campaign_id);
    let t: Totals = match conn {
        DbConnection::Pg(pg) => q.get_result(pg)?,
        DbConnection::Sqlite(lite) => q.get_result(lite)?,
    };
    // Retried messages: the per-recipient deliveries `<campaign id>-…-wechat` (their ids
    // sort between the campaign id followed by `-` and by `-z`).
    let retried = "SELECT status, COUNT(*) AS n FROM notification_deliveries
                   WHERE id > $1 AND id < $2 AND channel = 'wechat' GROUP BY status";
    let q = diesel::sql_query(retried)
        .bind::<Text, _>(format!("{campaign_id}-"))
        .bind::<Text, _>(format!("{campaign_id}-z"));
    let rows: Vec<StatusCount> = match conn {
        DbConnection::Pg(pg) => q.load(pg)?,
        DbConnection::Sqlite(lite) => q.load(lite)?,
    };
    let mut counts: std::collections::BTreeMap<String, i64> = Default::default();
    for (status, n) in [
        ("sent", t.sent),
        ("skipped", t.skipped),
        ("dead", t.dead),
        ("pending", t.pending),
    ] {
        *counts.entry(status.into()).or_default() += n.unwrap_or(0);
    }
    for r in rows {
        let status = if r.status == SENDING || r.status == FAILED {
            "retrying".to_owned()
        } else {
            r.status
        };
        *counts.entry(status).or_default() += r.n;
    }
    if t.unfrozen > 0 {
        counts.insert("batches_waiting".into(), t.unfrozen);
    }
    Ok(counts.into_iter().filter(|(_, n)| *n > 0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_frozen_list_reads_back() {
        let list = vec![
            Recipient {
                notification_id: "c-1".into(),
                user_id: "u1".into(),
                openid: "o-A_1".into(),
            },
            Recipient {
                notification_id: "c-2".into(),
                user_id: "u2".into(),
                openid: "oB".into(),
            },
        ];
        assert_eq!(decode(&encode(&list)), Some(list));
        assert_eq!(decode(""), Some(Vec::new()));
        assert_eq!(decode("a,b"), None);
        assert_eq!(decode("a,b,c,d"), None);
        assert!(!storable("a;b") && !storable("a,b") && !storable(""));
    }
}
