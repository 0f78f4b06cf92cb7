//! Storage of idempotency keys: the first response to a POST, kept per (caller, key).
//! The HTTP side of the mechanism lives in the API crate; this module only decides, inside
//! one write transaction, what a request carrying a key must do.

use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use diesel::prelude::*;

use crate::schema::idempotency_keys as ik;
use crate::{write_tx, DbConnection, DbError};

const IN_FLIGHT: &str = "in_flight";
const COMPLETED: &str = "completed";

/// A stored response, replayed on repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// Header name and value pairs worth replaying (content type, location, …).
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// What a request carrying an idempotency key must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Begin {
    /// First time (or the previous holder gave up): run the handler, then `complete`.
    Proceed,
    /// Same key, same request, finished: send the stored response again.
    Replay(StoredResponse),
    /// Same key, different request.
    Mismatch,
    /// Same key, the first request is still being handled.
    InFlight,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = ik)]
struct Row {
    request_hash: String,
    state: String,
    response_status: Option<i32>,
    response_headers: Option<String>,
    response_body: Option<String>,
    locked_until: NaiveDateTime,
    expires_at: NaiveDateTime,
}

/// How long keys live, and how long an unfinished first request keeps its claim.
#[derive(Debug, Clone, Copy)]
pub struct Lifetimes {
    pub retention: Duration,
    pub lock: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            retention: Duration::hours(24),
            lock: Duration::minutes(2),
        }
    }
}

/// Claims the key for this request, or says why not.
pub fn begin(
    conn: &mut DbConnection,
    caller: &str,
    key: &str,
    request_hash: &str,
    now: DateTime<Utc>,
    lifetimes: Lifetimes,
) -> Result<Begin, DbError> {
    let now_naive = now.naive_utc();
    let outcome = write_tx(conn, |conn| {
        let existing: Option<Row> = ik::table
            .filter(ik::caller.eq(caller).and(ik::idem_key.eq(key)))
            .select(Row::as_select())
            .first(conn)
            .optional()?;
        let claim = (
            ik::request_hash.eq(request_hash),
            ik::state.eq(IN_FLIGHT),
            ik::response_status.eq(None::<i32>),
            ik::response_headers.eq(None::<String>),
            ik::response_body.eq(None::<String>),
            ik::created_at.eq(now_naive),
            ik::locked_until.eq(now_naive + lifetimes.lock),
            ik::expires_at.eq(now_naive + lifetimes.retention),
        );
        let Some(row) = existing else {
            diesel::insert_into(ik::table)
                .values((ik::caller.eq(caller), ik::idem_key.eq(key), claim))
                .execute(conn)?;
            return Ok(Begin::Proceed);
        };
        let this_key = ik::table.filter(ik::caller.eq(caller).and(ik::idem_key.eq(key)));
        if row.expires_at <= now_naive {
            diesel::update(this_key).set(claim).execute(conn)?;
            return Ok(Begin::Proceed);
        }
        if row.request_hash != request_hash {
            return Ok(Begin::Mismatch);
        }
        if row.state == COMPLETED {
            let headers = row
                .response_headers
                .as_deref()
                .map(header_lines::decode_pairs)
                .unwrap_or_default();
            return Ok(Begin::Replay(StoredResponse {
                status: row
                    .response_status
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(200),
                headers,
                body: row.response_body.unwrap_or_default(),
            }));
        }
        if row.locked_until > now_naive {
            return Ok(Begin::InFlight);
        }
        // The first request's handler died without finishing: this one takes over.
        diesel::update(this_key).set(claim).execute(conn)?;
        Ok::<_, DbError>(Begin::Proceed)
    });
    match outcome {
        // Two first requests raced on PostgreSQL; the other one inserted first.
        Err(e) if e.is_unique_violation() => Ok(Begin::InFlight),
        other => other,
    }
}

/// Stores the response of the request that claimed the key.
pub fn complete(
    conn: &mut DbConnection,
    caller: &str,
    key: &str,
    response: &StoredResponse,
) -> Result<(), DbError> {
    diesel::update(ik::table.filter(ik::caller.eq(caller).and(ik::idem_key.eq(key))))
        .set((
            ik::state.eq(COMPLETED),
            ik::response_status.eq(i32::from(response.status)),
            ik::response_headers.eq(header_lines::encode_pairs(&response.headers)),
            ik::response_body.eq(&response.body),
        ))
        .execute(conn)?;
    Ok(())
}

/// Releases the key without storing anything (the request failed in a way worth retrying).
pub fn release(conn: &mut DbConnection, caller: &str, key: &str) -> Result<(), DbError> {
    diesel::delete(ik::table.filter(ik::caller.eq(caller).and(ik::idem_key.eq(key))))
        .execute(conn)?;
    Ok(())
}

/// Deletes expired keys; returns how many.
pub fn purge_expired(conn: &mut DbConnection, now: DateTime<Utc>) -> Result<usize, DbError> {
    Ok(diesel::delete(ik::table.filter(ik::expires_at.le(now.naive_utc()))).execute(conn)?)
}

/// Header pairs as text: one `name: value` per line (header values cannot contain newlines).
mod header_lines {
    pub fn encode_pairs(pairs: &[(String, String)]) -> String {
        pairs
            .iter()
            .map(|(n, v)| format!("{n}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub fn decode_pairs(text: &str) -> Vec<(String, String)> {
        text.lines()
            .filter_map(|line| line.split_once(": "))
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }
}
