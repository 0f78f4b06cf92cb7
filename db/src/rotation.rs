//! Storage side of a data-key rotation (`gongyou rotate-data-key`): every column holding a
//! value encrypted under the data key or a blind index derived from it ([`TARGETS`], checked
//! against [`crate::personal::REGISTRY`] by a test), read in batches keyset by primary key,
//! updated row by row with the old value as a guard, and the walk's checkpoint per key and
//! table (`data_key_rotation_progress`).
//!
//! Sealed files' keys (`stored_files`) are rotated by their own rewrap, which selects only
//! keys under another key id; the station visitors' hash (`station_visits.visitor`) is an
//! HMAC of ids the table does not keep (ADR 011), so it cannot be recomputed: visits before
//! a rotation count as other visitors than the same people's visits after it.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

use gongyou_domain::status::JobStatus;

use crate::jobs::JobRow;
use crate::schema::{data_key_rotation_progress as progress, jobs};
use crate::{DbConnection, DbError};

/// How a table keeps its encrypted values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `id_number_enc` (ciphertext), `id_number_key_id` and `id_number_index` (the blind
    /// index), rotated together. Erased rows (key id `erased`) are left alone.
    IdNumber,
    /// Nullable columns each holding `{prefix}key_id:ciphertext`; a value not starting with
    /// the prefix is not encrypted (stored before encryption) and left alone.
    Sealed {
        prefix: &'static str,
        columns: &'static [&'static str],
    },
}

/// A table holding values under the data key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub table: &'static str,
    /// The primary key: one column, or two (the walk orders by both).
    pub keys: &'static [&'static str],
    pub form: Form,
}

/// The column names of the ID number form.
pub const ID_NUMBER_COLUMNS: [&str; 3] = ["id_number_enc", "id_number_key_id", "id_number_index"];

/// Every table with values under the data key, walked in this order.
pub const TARGETS: &[Target] = &[
    Target {
        table: "memberships",
        keys: &["id"],
        form: Form::IdNumber,
    },
    Target {
        table: "membership_applications",
        keys: &["id"],
        form: Form::IdNumber,
    },
    Target {
        table: "claim_details",
        keys: &["claim_id"],
        form: Form::Sealed {
            prefix: "",
            columns: &[
                "hospital_enc",
                "diagnosis_enc",
                "payee_holder_enc",
                "payee_account_enc",
            ],
        },
    },
    Target {
        table: "payout_payee_requests",
        keys: &["id"],
        form: Form::Sealed {
            prefix: "",
            columns: &["holder_enc", "account_enc"],
        },
    },
    Target {
        table: "payout_attempts",
        keys: &["id"],
        form: Form::Sealed {
            prefix: "",
            columns: &["user_name_enc"],
        },
    },
    Target {
        table: "staff",
        keys: &["id"],
        form: Form::Sealed {
            prefix: "",
            columns: &["contact_phone_enc", "contact_phone_pending_enc"],
        },
    },
    Target {
        table: "idempotency_keys",
        keys: &["caller", "idem_key"],
        form: Form::Sealed {
            prefix: "enc1:",
            columns: &["response_body"],
        },
    },
];

/// Length of a key id (hex of 8 bytes).
const KEY_ID_LEN: usize = 16;

/// One row to rotate: its primary key (`k2` empty for a one-column key) and its values (for
/// [`Form::IdNumber`]: ciphertext, key id, index; for [`Form::Sealed`]: the columns in
/// order, up to four).
#[derive(Debug, Clone, QueryableByName)]
pub struct RotRow {
    #[diesel(sql_type = Text)]
    pub k1: String,
    #[diesel(sql_type = Text)]
    pub k2: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub v1: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub v2: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub v3: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub v4: Option<String>,
}

impl RotRow {
    /// The `i`-th value (0-based).
    pub fn value(&self, i: usize) -> Option<&str> {
        match i {
            0 => self.v1.as_deref(),
            1 => self.v2.as_deref(),
            2 => self.v3.as_deref(),
            3 => self.v4.as_deref(),
            _ => None,
        }
    }

    /// The checkpoint of this row: its key columns joined by a newline (no key holds one).
    pub fn checkpoint(&self) -> String {
        if self.k2.is_empty() {
            self.k1.clone()
        } else {
            format!("{}\n{}", self.k1, self.k2)
        }
    }
}

/// `$n` on PostgreSQL, `?n` on SQLite (numbered, so a parameter may repeat).
fn ph(conn: &DbConnection) -> &'static str {
    match conn {
        DbConnection::Pg(_) => "$",
        DbConnection::Sqlite(_) => "?",
    }
}

fn key_exprs(target: &Target) -> (&'static str, &'static str) {
    (
        target.keys.first().copied().unwrap_or("id"),
        target.keys.get(1).copied().unwrap_or("''"),
    )
}

/// The SQL condition "this value is encrypted under a key other than `{p}1`".
fn stale_condition(target: &Target, p: &str) -> String {
    match target.form {
        Form::IdNumber => {
            format!("(id_number_key_id <> {p}1 AND id_number_key_id <> 'erased')")
        }
        Form::Sealed { prefix, columns } => {
            let parts: Vec<String> = columns
                .iter()
                .map(|c| {
                    format!("({c} LIKE '{prefix}%' AND {c} NOT LIKE '{prefix}' || {p}1 || ':%')")
                })
                .collect();
            format!("({})", parts.join(" OR "))
        }
    }
}

/// Up to `limit` rows after the checkpoint `after` (empty: from the start), in primary key
/// order, that hold a value under a key other than `current_key_id`. Run it inside the
/// batch's write transaction.
pub fn stale_rows(
    conn: &mut DbConnection,
    target: &Target,
    current_key_id: &str,
    after: &str,
    limit: i64,
) -> Result<Vec<RotRow>, DbError> {
    let p = ph(conn);
    let (k1, k2) = key_exprs(target);
    let values: Vec<String> = match target.form {
        Form::IdNumber => ID_NUMBER_COLUMNS.iter().map(|c| (*c).to_owned()).collect(),
        Form::Sealed { columns, .. } => columns.iter().map(|c| (*c).to_owned()).collect(),
    };
    let mut select = Vec::with_capacity(4);
    for i in 0..4 {
        let column = values
            .get(i)
            .cloned()
            .unwrap_or_else(|| "CAST(NULL AS TEXT)".to_owned());
        select.push(format!("{column} AS v{}", i + 1));
    }
    let sql = format!(
        "SELECT {k1} AS k1, {k2} AS k2, {select} FROM {table} \
         WHERE ({k1} > {p}2 OR ({k1} = {p}2 AND {k2} > {p}3)) AND {stale} \
         ORDER BY {order} LIMIT {p}4",
        select = select.join(", "),
        table = target.table,
        // By the output names: PostgreSQL refuses a constant (`''`) in ORDER BY.
        order = if target.keys.len() > 1 {
            "k1, k2"
        } else {
            "k1"
        },
        stale = stale_condition(target, p),
    );
    let (a1, a2) = after.split_once('\n').unwrap_or((after, ""));
    let q = diesel::sql_query(sql)
        .bind::<Text, _>(current_key_id)
        .bind::<Text, _>(a1)
        .bind::<Text, _>(a2)
        .bind::<BigInt, _>(limit);
    Ok(match conn {
        DbConnection::Pg(c) => q.load(c)?,
        DbConnection::Sqlite(c) => q.load(c)?,
    })
}

/// Replaces an ID number's ciphertext, key id and blind index, if the ciphertext is still
/// `old_enc` (an erasure or an edit in between wins). True when the row changed.
pub fn set_id_number(
    conn: &mut DbConnection,
    table: &str,
    id: &str,
    old_enc: &str,
    enc: &str,
    key_id: &str,
    index: &str,
) -> Result<bool, DbError> {
    let p = ph(conn);
    let sql = format!(
        "UPDATE {table} SET id_number_enc = {p}1, id_number_key_id = {p}2, \
         id_number_index = {p}3 WHERE id = {p}4 AND id_number_enc = {p}5"
    );
    let q = diesel::sql_query(sql)
        .bind::<Text, _>(enc)
        .bind::<Text, _>(key_id)
        .bind::<Text, _>(index)
        .bind::<Text, _>(id)
        .bind::<Text, _>(old_enc);
    let n = match conn {
        DbConnection::Pg(c) => q.execute(c)?,
        DbConnection::Sqlite(c) => q.execute(c)?,
    };
    Ok(n == 1)
}

/// Replaces a sealed column's value if it is still `old` (a change in between wins). True
/// when the row changed.
pub fn set_sealed(
    conn: &mut DbConnection,
    target: &Target,
    column: &str,
    row: &RotRow,
    old: &str,
    new: &str,
) -> Result<bool, DbError> {
    let p = ph(conn);
    let (k1, k2) = key_exprs(target);
    let sql = format!(
        "UPDATE {table} SET {column} = {p}1 WHERE {k1} = {p}2 AND {k2} = {p}3 AND {column} = {p}4",
        table = target.table,
    );
    let q = diesel::sql_query(sql)
        .bind::<Text, _>(new)
        .bind::<Text, _>(&row.k1)
        .bind::<Text, _>(&row.k2)
        .bind::<Text, _>(old);
    let n = match conn {
        DbConnection::Pg(c) => q.execute(c)?,
        DbConnection::Sqlite(c) => q.execute(c)?,
    };
    Ok(n == 1)
}

/// How many values of one column are under one key id.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct KeyCount {
    #[diesel(sql_type = Text)]
    pub key_id: String,
    #[diesel(sql_type = BigInt)]
    pub n: i64,
}

/// Per column of `target` (for [`Form::IdNumber`]: `id_number_enc` only, its index goes
/// with it), the encrypted values counted by key id.
pub fn key_counts(
    conn: &mut DbConnection,
    target: &Target,
) -> Result<Vec<(&'static str, Vec<KeyCount>)>, DbError> {
    let mut out = Vec::new();
    let queries: Vec<(&'static str, String)> = match target.form {
        Form::IdNumber => vec![(
            "id_number_enc",
            format!(
                "SELECT id_number_key_id AS key_id, COUNT(*) AS n FROM {} \
                 WHERE id_number_key_id <> 'erased' GROUP BY id_number_key_id",
                target.table
            ),
        )],
        Form::Sealed { prefix, columns } => columns
            .iter()
            .map(|c| {
                let expr = format!("SUBSTR({c}, {}, {KEY_ID_LEN})", prefix.len() + 1);
                (
                    *c,
                    format!(
                        "SELECT {expr} AS key_id, COUNT(*) AS n FROM {} \
                         WHERE {c} LIKE '{prefix}%' GROUP BY {expr}",
                        target.table
                    ),
                )
            })
            .collect(),
    };
    for (column, sql) in queries {
        let q = diesel::sql_query(sql);
        let counts: Vec<KeyCount> = match conn {
            DbConnection::Pg(c) => q.load(c)?,
            DbConnection::Sqlite(c) => q.load(c)?,
        };
        out.push((column, counts));
    }
    Ok(out)
}

/// Sealed files' wrapped keys counted by key id.
pub fn file_key_counts(conn: &mut DbConnection) -> Result<Vec<KeyCount>, DbError> {
    let q = diesel::sql_query(
        "SELECT key_id, COUNT(*) AS n FROM stored_files WHERE wrapped_key IS NOT NULL \
         GROUP BY key_id",
    );
    Ok(match conn {
        DbConnection::Pg(c) => q.load(c)?,
        DbConnection::Sqlite(c) => q.load(c)?,
    })
}

/// A table's checkpoint in the rotation to `key_id`.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = progress)]
pub struct Progress {
    pub key_id: String,
    pub target: String,
    /// The last row handled ([`RotRow::checkpoint`]); empty before the first batch.
    pub last_key: String,
    pub done: bool,
    pub reencrypted: i64,
    pub reindexed: i64,
    pub failed: i64,
    pub updated_at: NaiveDateTime,
}

pub fn progress_of(
    conn: &mut DbConnection,
    key_id: &str,
    target: &str,
) -> Result<Option<Progress>, DbError> {
    Ok(progress::table
        .filter(progress::key_id.eq(key_id))
        .filter(progress::target.eq(target))
        .select(Progress::as_select())
        .first(conn)
        .optional()?)
}

/// Every table's checkpoint in the rotation to `key_id`.
pub fn all_progress(conn: &mut DbConnection, key_id: &str) -> Result<Vec<Progress>, DbError> {
    Ok(progress::table
        .filter(progress::key_id.eq(key_id))
        .order(progress::target)
        .select(Progress::as_select())
        .load(conn)?)
}

/// Saves a checkpoint (inside the batch's transaction).
pub fn save_progress(conn: &mut DbConnection, p: &Progress) -> Result<(), DbError> {
    diesel::delete(
        progress::table
            .filter(progress::key_id.eq(&p.key_id))
            .filter(progress::target.eq(&p.target)),
    )
    .execute(conn)?;
    diesel::insert_into(progress::table)
        .values(p)
        .execute(conn)?;
    Ok(())
}

/// The rotation job queued, running or failed (waiting for a retry), if any.
pub fn live_job(conn: &mut DbConnection, dedup_key: &str) -> Result<Option<JobRow>, DbError> {
    let live: Vec<&str> = JobStatus::ALL
        .iter()
        .filter(|s| s.is_live())
        .map(|s| s.as_str())
        .collect();
    Ok(jobs::table
        .filter(jobs::dedup_key.eq(dedup_key))
        .filter(jobs::status.eq_any(live))
        .order(jobs::created_at.desc())
        .select(JobRow::as_select())
        .first(conn)
        .optional()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::personal::REGISTRY;

    /// Every column named here exists in the registry, and every `_enc` column of the
    /// registry is named here (or is a sealed file's key, rotated by its own rewrap).
    #[test]
    fn targets_cover_every_encrypted_column() {
        let mut named: Vec<(&str, &str)> = Vec::new();
        for t in TARGETS {
            let columns: Vec<&str> = match t.form {
                Form::IdNumber => ID_NUMBER_COLUMNS.to_vec(),
                Form::Sealed { columns, .. } => columns.to_vec(),
            };
            assert!(columns.len() <= 4, "{}", t.table);
            for c in columns {
                named.push((t.table, c));
            }
        }
        for entry in REGISTRY {
            let all = entry
                .personal
                .iter()
                .map(|(c, _)| *c)
                .chain(entry.plain.iter().copied());
            for c in all {
                if c.ends_with("_enc") || c.ends_with("_index") {
                    assert!(
                        named.contains(&(entry.table, c)),
                        "{}.{c} is not rotated",
                        entry.table
                    );
                }
            }
        }
        for (table, column) in &named {
            let entry = REGISTRY.iter().find(|e| e.table == *table);
            let Some(entry) = entry else {
                panic!("{table} is not in the registry");
            };
            let known =
                entry.personal.iter().any(|(c, _)| c == column) || entry.plain.contains(column);
            assert!(known, "{table}.{column} is not in the registry");
        }
    }
}
