//! Data-key rotation as a resumable job (`gongyou rotate-data-key`). Once every process runs
//! with the new secret as `GONGYOU_DATA_KEY` and the old one as `GONGYOU_DATA_KEY_PREVIOUS`,
//! the job walks every table holding values under the data key
//! ([`gongyou_db::rotation::TARGETS`]) in batches keyset by primary key, each batch one
//! write transaction that also saves the table's checkpoint, so a killed worker resumes
//! after the last committed batch. It re-encrypts every value not under the current key id,
//! recomputes the ID numbers' blind indexes under the current key (in the same update as
//! their ciphertext), then rewraps sealed files' keys ([`SealedFiles::rewrap_keys`]).
//!
//! A row's ID number index is always computed by the same key that encrypted its ID number
//! (apply does both with one [`DataCrypto`]; approval copies both; this job rewrites both in
//! one statement), so "key id is the current one" also means "index is current": the walk
//! selects only rows under another key id, and running it again changes nothing.
//!
//! Uniqueness (`memberships_live_person_idx`, unique on the index of live memberships) holds
//! at every step: a row's new index HMAC_new(x) could collide only with another live row's
//! HMAC_new(y) — then x = y, and HMAC_old(x) = HMAC_old(y) would already have collided before
//! the rotation — or with an old HMAC_old(y), a collision between two unrelated 256-bit MACs.
//!
//! During the walk, lookups by ID number use [`DataCrypto::lookup_indexes`] (the current and
//! the previous key's index) where a person is looked up.

use std::collections::BTreeMap;

use anyhow::Context as _;
use chrono::NaiveDateTime;
use gongyou_db::jobs::{Job, JobRow};
use gongyou_db::rotation::{self as db, Form, Progress, RotRow, Target, TARGETS};
use gongyou_db::{write_tx, DbConnection};
use serde::{Deserialize, Serialize};

use crate::crypto::DataCrypto;
use crate::error::{ServiceError, ServiceResult};
use crate::files::SealedFiles;
use crate::Context;

/// Rows per batch (one transaction each) unless the job says otherwise.
pub const DEFAULT_BATCH: i64 = 500;
/// Passes over the tables: a pass finding rows written under an old key after it went by
/// (a process still running with the old configuration) starts another, up to this many.
const MAX_PASSES: usize = 3;

/// The rotation job: one at a time (dedup key), resumable from its checkpoints.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct RotateDataKey {
    /// Rows per batch; [`DEFAULT_BATCH`] when absent.
    #[serde(default)]
    pub batch_size: Option<i64>,
}

impl Job for RotateDataKey {
    const NAME: &'static str = "rotate_data_key";
    const MAX_ATTEMPTS: i32 = 10;

    fn dedup_key(&self) -> Option<String> {
        Some(Self::NAME.into())
    }
}

/// How far one run goes.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub batch_size: i64,
    /// Stop after this many batches (tests of resumption); None: to the end.
    pub max_batches: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            batch_size: DEFAULT_BATCH,
            max_batches: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RotationReport {
    /// The key rotated to.
    pub key_id: String,
    /// Values re-encrypted under the current key (ID numbers and sealed columns).
    pub reencrypted: u64,
    /// Blind indexes recomputed under the current key.
    pub indexes_recomputed: u64,
    /// Values that could not be decrypted (unknown key id or tampered): left as they are.
    pub failed: u64,
    pub files_rewrapped: u64,
    pub files_failed: u64,
    /// Every table walked to its end (false when stopped by `max_batches`).
    pub finished: bool,
    /// Values still under another key at the end (undecryptable ones, or written by a
    /// process with the old configuration meanwhile).
    pub remaining: u64,
}

/// Runs the rotation to the current key from the checkpoints.
pub async fn run(ctx: &Context, opts: Options) -> ServiceResult<RotationReport> {
    let key_id = ctx.crypto.key_id().to_owned();
    let mut report = RotationReport {
        key_id: key_id.clone(),
        ..RotationReport::default()
    };
    let mut batches = 0usize;
    for pass in 0..MAX_PASSES {
        for target in TARGETS {
            loop {
                if opts.max_batches.is_some_and(|max| batches >= max) {
                    tracing::info!(report = ?report, "data-key rotation stopped after its batches");
                    return Ok(report);
                }
                let (crypto, now) = (ctx.crypto.clone(), ctx.now().naive_utc());
                let limit = opts.batch_size.max(1);
                let step = ctx
                    .db
                    .run(move |conn| batch(conn, &crypto, target, limit, now))
                    .await?;
                let Some(step) = step else { break };
                batches += 1;
                report.reencrypted += step.reencrypted;
                report.indexes_recomputed += step.reindexed;
                report.failed += step.failed;
                tracing::info!(
                    table = target.table,
                    reencrypted = step.reencrypted,
                    indexes_recomputed = step.reindexed,
                    failed = step.failed,
                    done = step.done,
                    "data-key rotation batch"
                );
                if step.done {
                    break;
                }
            }
        }
        let files = rewrap_files(&ctx.sealed_files).await?;
        report.files_rewrapped += files.0;
        report.files_failed += files.1;
        // Rows written under an old key after the walk passed them: walk those tables again.
        let status = status(ctx).await?;
        report.remaining = status.remaining();
        let stale: Vec<&'static str> = status
            .tables
            .iter()
            .filter(|t| t.remaining_decryptable > 0)
            .map(|t| t.table)
            .collect();
        if stale.is_empty() || pass + 1 == MAX_PASSES {
            break;
        }
        let key = key_id.clone();
        ctx.db
            .run(move |conn| -> ServiceResult<()> {
                write_tx(conn, |conn| -> ServiceResult<()> {
                    for table in &stale {
                        if let Some(mut p) = db::progress_of(conn, &key, table)? {
                            p.last_key.clear();
                            p.done = false;
                            db::save_progress(conn, &p)?;
                        }
                    }
                    Ok(())
                })
            })
            .await?;
    }
    report.finished = true;
    tracing::info!(
        key_id = %report.key_id,
        reencrypted = report.reencrypted,
        indexes_recomputed = report.indexes_recomputed,
        failed = report.failed,
        files_rewrapped = report.files_rewrapped,
        files_failed = report.files_failed,
        remaining = report.remaining,
        "data-key rotation finished"
    );
    Ok(report)
}

async fn rewrap_files(files: &SealedFiles) -> ServiceResult<(u64, u64)> {
    let r = files.rewrap_keys().await?;
    Ok((r.rewrapped as u64, r.failed as u64))
}

/// What one batch did; None when the table was already done.
struct Step {
    reencrypted: u64,
    reindexed: u64,
    failed: u64,
    done: bool,
}

/// One batch of one table, in one write transaction with its checkpoint.
fn batch(
    conn: &mut DbConnection,
    crypto: &DataCrypto,
    target: &'static Target,
    limit: i64,
    now: NaiveDateTime,
) -> ServiceResult<Option<Step>> {
    write_tx(conn, |conn| -> ServiceResult<Option<Step>> {
        let key_id = crypto.key_id();
        let mut progress = match db::progress_of(conn, key_id, target.table)? {
            Some(p) if p.done => return Ok(None),
            Some(p) => p,
            None => Progress {
                key_id: key_id.to_owned(),
                target: target.table.to_owned(),
                last_key: String::new(),
                done: false,
                reencrypted: 0,
                reindexed: 0,
                failed: 0,
                updated_at: now,
            },
        };
        let rows = db::stale_rows(conn, target, key_id, &progress.last_key, limit)?;
        let mut step = Step {
            reencrypted: 0,
            reindexed: 0,
            failed: 0,
            done: rows.len() < usize::try_from(limit).unwrap_or(usize::MAX),
        };
        for row in &rows {
            rotate_row(conn, crypto, target, row, &mut step)?;
        }
        if let Some(last) = rows.last() {
            progress.last_key = last.checkpoint();
        }
        progress.done = step.done;
        progress.reencrypted += i64::try_from(step.reencrypted).unwrap_or(i64::MAX);
        progress.reindexed += i64::try_from(step.reindexed).unwrap_or(i64::MAX);
        progress.failed += i64::try_from(step.failed).unwrap_or(i64::MAX);
        progress.updated_at = now;
        db::save_progress(conn, &progress)?;
        Ok(Some(step))
    })
}

fn rotate_row(
    conn: &mut DbConnection,
    crypto: &DataCrypto,
    target: &Target,
    row: &RotRow,
    step: &mut Step,
) -> ServiceResult<()> {
    let current = crypto.key_id();
    match target.form {
        Form::IdNumber => {
            let (Some(enc), Some(key_id)) = (row.value(0), row.value(1)) else {
                return Ok(());
            };
            let plain = match crypto.decrypt(key_id, enc, "id_number") {
                Ok(plain) => plain,
                Err(e) => {
                    tracing::warn!(table = target.table, row = %row.k1, key_id = %key_id, error = %e, "data-key rotation: an ID number does not decrypt; left as it is");
                    step.failed += 1;
                    return Ok(());
                }
            };
            let sealed = crypto
                .encrypt(&plain, "id_number")
                .map_err(|e| internal(anyhow::anyhow!("re-encrypting an ID number: {e}")))?;
            let index = crypto.blind_index("id_number", &plain);
            if db::set_id_number(
                conn,
                target.table,
                &row.k1,
                enc,
                &sealed.ciphertext,
                &sealed.key_id,
                &index,
            )? {
                step.reencrypted += 1;
                step.reindexed += 1;
            }
        }
        Form::Sealed { prefix, columns } => {
            for (i, column) in columns.iter().enumerate() {
                let Some(stored) = row.value(i) else { continue };
                let Some(sealed) = stored.strip_prefix(prefix) else {
                    continue;
                };
                let Some((key_id, ciphertext)) = sealed.split_once(':') else {
                    continue;
                };
                if key_id == current {
                    continue;
                }
                let aad = aad_of(target, column, row);
                let plain = match crypto.decrypt(key_id, ciphertext, &aad) {
                    Ok(plain) => plain,
                    Err(e) => {
                        tracing::warn!(table = target.table, column = column, key_id = %key_id, error = %e, "data-key rotation: a sealed value does not decrypt; left as it is");
                        step.failed += 1;
                        continue;
                    }
                };
                let resealed = crypto
                    .encrypt(&plain, &aad)
                    .map_err(|e| internal(anyhow::anyhow!("re-encrypting {column}: {e}")))?;
                let new = format!("{prefix}{}:{}", resealed.key_id, resealed.ciphertext);
                if db::set_sealed(conn, target, column, row, stored, &new)? {
                    step.reencrypted += 1;
                }
            }
        }
    }
    Ok(())
}

/// What each sealed column's ciphertext is bound to (the use-cases that seal them say the
/// same: claims/mod.rs, payouts/mod.rs, payouts/send.rs, accounts/contact_phone.rs,
/// api/src/idempotency.rs).
fn aad_of(target: &Target, column: &str, row: &RotRow) -> String {
    let field = column.strip_suffix("_enc").unwrap_or(column);
    match target.table {
        "claim_details" => format!("claim:{}:{field}", row.k1),
        "payout_payee_requests" => format!("payee_request:{}:{field}", row.k1),
        "payout_attempts" => format!("payout_attempt:{}:{field}", row.k1),
        // The verified and the waiting number share one binding.
        "staff" => format!("staff:{}:contact_phone", row.k1),
        "idempotency_keys" => "idempotent-response".to_owned(),
        other => format!("{other}:{}:{field}", row.k1),
    }
}

fn internal(e: anyhow::Error) -> ServiceError {
    ServiceError::internal(e)
}

/// One column's values by key id.
#[derive(Debug, Clone)]
pub struct ColumnStatus {
    pub column: &'static str,
    pub by_key: BTreeMap<String, i64>,
}

/// One table's state in the rotation to the current key.
#[derive(Debug, Clone)]
pub struct TableStatus {
    pub table: &'static str,
    pub columns: Vec<ColumnStatus>,
    /// Values under a previous key (they decrypt): what the job still has to do.
    pub remaining_decryptable: i64,
    /// Values under a key id this process does not know: they cannot be decrypted.
    pub undecryptable: i64,
    pub progress: Option<Progress>,
}

/// The rotation's state: per table, values by key id and the checkpoint; the job.
#[derive(Debug, Clone)]
pub struct RotationStatus {
    pub key_id: String,
    pub previous_key_ids: Vec<String>,
    pub tables: Vec<TableStatus>,
    pub job: Option<JobRow>,
}

impl RotationStatus {
    /// Values (and file keys) still under another key than the current one.
    pub fn remaining(&self) -> u64 {
        self.tables
            .iter()
            .map(|t| t.remaining_decryptable + t.undecryptable)
            .sum::<i64>()
            .try_into()
            .unwrap_or(0)
    }

    /// Values under a key that cannot decrypt: (table, column, key id, count).
    pub fn undecryptable(&self) -> Vec<(&'static str, &'static str, String, i64)> {
        let mut out = Vec::new();
        for t in &self.tables {
            for c in &t.columns {
                for (key, n) in &c.by_key {
                    if *key != self.key_id && !self.previous_key_ids.contains(key) {
                        out.push((t.table, c.column, key.clone(), *n));
                    }
                }
            }
        }
        out
    }
}

/// Counts every encrypted value by key id, with the checkpoints and the live job.
pub async fn status(ctx: &Context) -> ServiceResult<RotationStatus> {
    let crypto = ctx.crypto.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<RotationStatus> {
            let key_id = crypto.key_id().to_owned();
            let mut tables = Vec::new();
            let mut push = |table: &'static str,
                            counts: Vec<(&'static str, Vec<db::KeyCount>)>,
                            progress: Option<Progress>| {
                let mut t = TableStatus {
                    table,
                    columns: Vec::new(),
                    remaining_decryptable: 0,
                    undecryptable: 0,
                    progress,
                };
                for (column, counts) in counts {
                    let mut by_key = BTreeMap::new();
                    for c in counts {
                        if c.key_id != key_id {
                            if crypto.knows_key(&c.key_id) {
                                t.remaining_decryptable += c.n;
                            } else {
                                t.undecryptable += c.n;
                            }
                        }
                        by_key.insert(c.key_id, c.n);
                    }
                    t.columns.push(ColumnStatus { column, by_key });
                }
                tables.push(t);
            };
            for target in TARGETS {
                let counts = db::key_counts(conn, target)?;
                let progress = db::progress_of(conn, &key_id, target.table)?;
                push(target.table, counts, progress);
            }
            push(
                "stored_files",
                vec![("wrapped_key", db::file_key_counts(conn)?)],
                None,
            );
            let job = db::live_job(conn, RotateDataKey::NAME)?;
            Ok(RotationStatus {
                key_id: key_id.clone(),
                previous_key_ids: crypto.previous_key_ids(),
                tables,
                job,
            })
        })
        .await
}

/// What asking for a rotation did.
#[derive(Debug)]
pub enum Started {
    Enqueued {
        job_id: String,
    },
    /// One is queued or running already (one at a time).
    AlreadyRunning {
        job_id: Option<String>,
    },
    /// Some values are under keys this process cannot decrypt: (table, column, key id,
    /// count). Nothing was enqueued.
    Refused {
        undecryptable: Vec<(&'static str, &'static str, String, i64)>,
    },
}

/// Enqueues the rotation to the current key, unless values are under keys that do not
/// decrypt (configure the old secret as `GONGYOU_DATA_KEY_PREVIOUS` first).
pub async fn start(ctx: &Context, batch_size: Option<i64>) -> ServiceResult<Started> {
    let status = status(ctx).await?;
    let undecryptable = status.undecryptable();
    if !undecryptable.is_empty() {
        return Ok(Started::Refused { undecryptable });
    }
    let now = ctx.now().naive_utc();
    let job = RotateDataKey { batch_size };
    ctx.db
        .run(move |conn| -> ServiceResult<Started> {
            write_tx(conn, |conn| -> ServiceResult<Started> {
                match job.enqueue(conn, now)? {
                    Some(job_id) => Ok(Started::Enqueued { job_id }),
                    None => Ok(Started::AlreadyRunning {
                        job_id: db::live_job(conn, RotateDataKey::NAME)?.map(|j| j.id),
                    }),
                }
            })
        })
        .await
}

/// The job's state, by id (for `--wait`).
pub async fn job(ctx: &Context, id: String) -> ServiceResult<Option<JobRow>> {
    ctx.db
        .run(move |conn| gongyou_db::jobs::get(conn, &id))
        .await
        .context("reading the rotation job")
        .map_err(ServiceError::internal)
}
