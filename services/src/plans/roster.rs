//! Roster imports: a platform's rider roster (CSV, UTF-8 or GBK, up to 1,000,000 rows)
//! enrolls every eligible member of a plan.
//!
//! The upload streams: each chunk goes through the file-level checks
//! ([`gongyou_domain::roster::RosterCheck`]: encoding, header, row count) and into the
//! sealed file store; a file that fails them is a 422 and nothing is kept. A job then
//! streams the stored file back on a blocking thread ([`gongyou_domain::roster::RosterReader`]),
//! and per batch of rows, in one transaction: matches rows to members by the ID number's
//! blind index, checks eligibility with the same domain rules as the app, enrolls, writes
//! the members' notices to the outbox, records rejected rows, and moves the checkpoint. A
//! crash resumes from the checkpoint; re-running a file enrolls nobody twice (one enrollment
//! per member per plan). The file is deleted when the import ends.

use std::collections::HashMap;

use bytes::Bytes;
use chrono::NaiveDate;
use futures_util::{Stream, StreamExt};
use gongyou_db::jobs::Job;
use gongyou_db::membership::Membership;
use gongyou_db::plans::{self as db, Enrollment};
use gongyou_db::roster::{self as rdb, BatchCounts, RosterImport, RowError};
use gongyou_db::write_tx;
use gongyou_domain::notification::{Category, Channel};
use gongyou_domain::org::OrgPath;
use gongyou_domain::plan::{effective_window, enrollment_blockers, unmet_rules, PlanStatus};
use gongyou_domain::roster::{RosterCheck, RosterItem, RosterReader, RosterRow, DEFAULT_MAX_ROWS};
use gongyou_domain::staff::Role;
use gongyou_domain::time::china_date;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::admin::plan_in_scope;
use super::member::{certificate_no, facts_of};
use super::terms::{eligibility_of, status_of, windows_of};
use super::{load_version, plan_not_found};
use crate::actor::Actor;
use crate::authz;
use crate::error::{Kind, ServiceError, ServiceResult};
use crate::files::SealedReader;
use crate::page::{Page, PageRequest};
use crate::Context;
use gongyou_db::campaigns::{self, Campaign};

/// The largest roster accepted (a million rows of about 80 bytes, with room).
pub const ROSTER_MAX_BYTES: u64 = 256 * 1024 * 1024;

/// An import's progress (rows are data rows, the header not counted).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ImportView {
    pub id: String,
    pub plan_code: String,
    /// `queued`, `running`, `done` or `failed`.
    pub status: String,
    /// `utf8`, `utf8_bom` or `gbk`.
    pub encoding: String,
    pub total_rows: i64,
    pub processed_rows: i64,
    pub enrolled: i64,
    pub already_enrolled: i64,
    pub not_members: i64,
    pub ineligible: i64,
    pub invalid_rows: i64,
    /// Why the import failed (it stops; the rows done stay done).
    pub failure: Option<String>,
    /// Whether the uploaded file is still stored (it is deleted when the import ends).
    pub file_stored: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub started_at: Option<chrono::DateTime<chrono::Utc>>,
    pub finished_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn view(i: &RosterImport) -> ImportView {
    ImportView {
        id: i.id.clone(),
        plan_code: i.plan_code.clone(),
        status: i.status.clone(),
        encoding: i.encoding.clone(),
        total_rows: i.total_rows,
        processed_rows: i.processed_rows,
        enrolled: i.enrolled,
        already_enrolled: i.already_enrolled,
        not_members: i.not_members,
        ineligible: i.ineligible,
        invalid_rows: i.invalid_rows,
        failure: i.failure.clone(),
        file_stored: i.file_id.is_some(),
        created_at: i.created_at.and_utc(),
        started_at: i.started_at.map(|t| t.and_utc()),
        finished_at: i.finished_at.map(|t| t.and_utc()),
    }
}

fn import_not_found() -> ServiceError {
    ServiceError::not_found("roster.not_found", "导入记录不存在")
}

/// The job that processes one import.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RosterImportJob {
    pub import_id: String,
}

impl Job for RosterImportJob {
    const NAME: &'static str = "plans.roster_import";
    const PRIORITY: i32 = 20;
    const MAX_ATTEMPTS: i32 = 5;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::NAME, self.import_id))
    }
}

/// 415 unless the upload says it is CSV (`text/csv`, any charset parameter).
pub fn require_csv(content_type: Option<&str>) -> ServiceResult<()> {
    let essence = content_type
        .and_then(|c| c.split(';').next())
        .map(|c| c.trim().to_ascii_lowercase());
    if essence.as_deref() == Some("text/csv") {
        Ok(())
    } else {
        Err(ServiceError::new(
            Kind::UnsupportedMediaType,
            "roster.not_csv",
            "请以 text/csv 上传名单文件（UTF-8 或 GBK 编码）",
        ))
    }
}

/// Takes an upload: checks it while it streams into the sealed store; 422 `roster.*` for a
/// file-level fault (nothing kept), 413 over [`ROSTER_MAX_BYTES`]; otherwise queues the
/// import and answers its progress (202).
pub async fn start_import<S, E>(
    ctx: &Context,
    actor: &Actor,
    code: String,
    mut body: S,
) -> ServiceResult<ImportView>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let by = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
    let scope_actor = actor.clone();
    let scope_code = code.clone();
    let plan = ctx
        .db
        .run(move |conn| -> ServiceResult<db::Plan> {
            let plan = plan_in_scope(conn, &scope_actor, &scope_code)?;
            let open = match plan.current_version {
                Some(v) => {
                    db::version(conn, &plan.code, v)?
                        .map(|v| status_of(&v))
                        .transpose()?
                        == Some(PlanStatus::Published)
                }
                None => false,
            };
            if !open {
                return Err(ServiceError::conflict(
                    "plan.not_published",
                    "该计划没有开放中的版本",
                ));
            }
            Ok(plan)
        })
        .await?;
    let mut writer = ctx.sealed_files.begin("roster", Some(&plan.code)).await?;
    let mut check = RosterCheck::new(DEFAULT_MAX_ROWS);
    let mut size: u64 = 0;
    let fault = |code: &'static str, detail: String| ServiceError::rule(code, detail);
    let outcome: ServiceResult<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ServiceError::invalid("roster.upload_interrupted", format!("上传中断：{e}"))
            })?;
            size += chunk.len() as u64;
            if size > ROSTER_MAX_BYTES {
                return Err(ServiceError::new(
                    Kind::TooLarge,
                    "roster.too_large",
                    format!("名单文件不能超过 {} MB", ROSTER_MAX_BYTES / 1024 / 1024),
                ));
            }
            check
                .push(&chunk)
                .map_err(|f| fault(file_fault_code(f.code.as_str()), f.detail))?;
            writer.write(&chunk).await?;
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        writer.abort().await?;
        return Err(e);
    }
    let summary = match check.finish() {
        Ok(s) => s,
        Err(f) => {
            writer.abort().await?;
            return Err(fault(file_fault_code(f.code.as_str()), f.detail));
        }
    };
    let stored = writer.finish().await?;
    let now = ctx.now().naive_utc();
    let import = RosterImport {
        id: gongyou_domain::id::new_id(),
        plan_code: plan.code.clone(),
        created_by: by,
        file_id: Some(stored.id.clone()),
        status: "queued".into(),
        encoding: summary.encoding.as_str().to_owned(),
        total_rows: i64::try_from(summary.rows).unwrap_or(i64::MAX),
        processed_rows: 0,
        enrolled: 0,
        already_enrolled: 0,
        not_members: 0,
        ineligible: 0,
        invalid_rows: 0,
        failure: None,
        created_at: now,
        started_at: None,
        finished_at: None,
    };
    let saved = import.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<()> {
                rdb::insert(conn, &saved)?;
                // Taken up in the same transaction as the import that reads it: never an
                // orphan for the sweep, never an import without its file.
                if let Some(file) = &saved.file_id {
                    gongyou_db::files::attach(conn, file, now)?;
                }
                RosterImportJob {
                    import_id: saved.id.clone(),
                }
                .enqueue(conn, now)?;
                Ok(())
            })
        })
        .await?;
    tracing::info!(import = %import.id, plan = %import.plan_code, rows = import.total_rows, "roster import queued");
    Ok(view(&import))
}

fn file_fault_code(code: &str) -> &'static str {
    match code {
        "encoding" => "roster.encoding",
        "header" => "roster.header",
        "too_many_rows" => "roster.too_many_rows",
        _ => "roster.empty",
    }
}

/// A plan's imports, newest first, for admins over the plan's sponsor.
pub async fn imports(
    ctx: &Context,
    actor: &Actor,
    code: String,
    page: PageRequest,
) -> ServiceResult<Page<ImportView>> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<Page<ImportView>> {
            plan_in_scope(conn, &actor, &code)?;
            let rows = rdb::list_for_plan(conn, &code, page.cursor.as_deref(), page.fetch())?;
            Ok(Page::from_rows(
                rows,
                page.limit,
                |i| i.id.clone(),
                |i| view(&i),
            ))
        })
        .await
}

/// An import's progress, for admins over the plan's sponsor.
pub async fn import(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<ImportView> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<ImportView> {
            let i = rdb::get(conn, &id)?.ok_or_else(import_not_found)?;
            plan_in_scope(conn, &actor, &i.plan_code).map_err(|_| import_not_found())?;
            Ok(view(&i))
        })
        .await
}

/// The error report: every rejected row as CSV (UTF-8 with a BOM, so spreadsheets open it
/// as such): row number, masked ID number, reason code and sentence.
pub async fn error_report(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<Vec<u8>> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let actor = actor.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<Vec<u8>> {
            let i = rdb::get(conn, &id)?.ok_or_else(import_not_found)?;
            plan_in_scope(conn, &actor, &i.plan_code).map_err(|_| import_not_found())?;
            let mut out = "\u{feff}行号,身份证号,原因代码,原因\r\n"
                .as_bytes()
                .to_vec();
            let mut after = 0;
            loop {
                let page = rdb::errors(conn, &id, after, 5000)?;
                let Some(last) = page.last() else { break };
                after = last.row_no;
                for e in &page {
                    out.extend_from_slice(
                        format!(
                            "{},{},{},{}\r\n",
                            e.row_no,
                            csv_cell(e.id_number_masked.as_deref().unwrap_or("")),
                            e.code,
                            csv_cell(&e.detail)
                        )
                        .as_bytes(),
                    );
                }
            }
            Ok(out)
        })
        .await
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

// ---- the job ------------------------------------------------------------------------------

/// Reads up to `rows` items (blocking; run it on a blocking thread).
/// The next batch of up to `rows` rows, each valid row with its ID number's blind index
/// (HMAC, CPU only: computed here, on the blocking thread, not in the transaction).
fn read_batch(
    reader: &mut RosterReader<SealedReader>,
    rows: usize,
    crypto: &crate::crypto::DataCrypto,
) -> std::io::Result<Batch> {
    let mut items = Vec::with_capacity(rows);
    for item in reader.by_ref() {
        items.push(item?);
        if items.len() == rows {
            break;
        }
    }
    let indexes = items
        .iter()
        .map(|item| match item {
            // Both keys' indexes during a data-key rotation (rows not re-indexed yet).
            Ok(row) => crypto.lookup_indexes("id_number", row.id_number.as_str()),
            Err(_) => Vec::new(),
        })
        .collect();
    Ok(Batch { items, indexes })
}

/// Rows read from the file, and the blind indexes to look each valid one up by (the current
/// key's, and the previous key's during a rotation).
struct Batch {
    items: Vec<RosterItem>,
    indexes: Vec<Vec<String>>,
}

type NextBatch = tokio::task::JoinHandle<(RosterReader<SealedReader>, std::io::Result<Batch>)>;

/// Reads the next batch on a blocking thread, handing the reader back with it.
fn read_next(mut reader: RosterReader<SealedReader>, rows: usize, ctx: &Context) -> NextBatch {
    let crypto = ctx.crypto.clone();
    tokio::task::spawn_blocking(move || {
        let batch = read_batch(&mut reader, rows, &crypto);
        (reader, batch)
    })
}

/// Processes an import to its end, from its checkpoint.
pub async fn run_import(ctx: &Context, job: RosterImportJob) -> ServiceResult<()> {
    let id = job.import_id.clone();
    let now = ctx.now();
    let found = {
        let id = id.clone();
        ctx.db
            .run(move |conn| -> ServiceResult<Option<RosterImport>> {
                let i = rdb::get(conn, &id)?;
                if let Some(i) = &i {
                    if i.status == "queued" {
                        rdb::start(conn, &i.id, now.naive_utc())?;
                    }
                }
                Ok(i)
            })
            .await?
    };
    let Some(import) = found else { return Ok(()) };
    if import.status == "done" || import.status == "failed" {
        return Ok(());
    }
    let Some(file_id) = import.file_id.clone() else {
        return finish(ctx, &import, Some("名单文件已不存在")).await;
    };
    let today = china_date(now);
    let source = match ctx.sealed_files.open_blocking(&file_id).await {
        Ok(source) => source,
        Err(e) if e.kind() == Kind::NotFound => {
            return finish(ctx, &import, Some("名单文件已不存在，请重新上传")).await;
        }
        Err(e) => return Err(e),
    };
    let after = u64::try_from(import.processed_rows).unwrap_or(0);
    let opened = tokio::task::spawn_blocking(move || RosterReader::resume(source, today, after))
        .await
        .map_err(|e| ServiceError::internal(anyhow::anyhow!("roster reader: {e}")))?;
    let reader = match opened {
        Ok(r) => r,
        Err(e) => {
            let reason = format!("名单文件无法读取：{e}");
            return finish(ctx, &import, Some(&reason)).await;
        }
    };
    let mut checkpoint = import.processed_rows;
    let rows = ctx.config.roster_batch_rows.max(1);
    let mut batches: u64 = 0;
    // One batch is read (and its blind indexes computed) while the one before is written:
    // the file's CPU work and the database's overlap on two cores.
    let mut next = read_next(reader, rows, ctx);
    loop {
        let (reader, batch) = next
            .await
            .map_err(|e| ServiceError::internal(anyhow::anyhow!("roster reader: {e}")))?;
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                let e = SealedReader::service_error(e);
                if e.code() != crate::files::CORRUPT {
                    // The file store failed (not the file): the job tries again later and
                    // resumes from the checkpoint.
                    return Err(e);
                }
                // A sealed file that fails to open further is corrupt or truncated: the
                // rows before it were authentic and stay done; the rest cannot be read.
                tracing::warn!(import = %import.id, error = %e, "roster file unreadable");
                let reason = format!(
                    "名单文件第 {} 行之后无法读取，已处理的行保留；请重新上传其余部分",
                    checkpoint
                );
                return finish(ctx, &import, Some(&reason)).await;
            }
        };
        if batch.items.is_empty() {
            break;
        }
        next = read_next(reader, rows, ctx);
        let rows = i64::try_from(batch.items.len()).unwrap_or(i64::MAX);
        apply_batch(ctx, &import, checkpoint, batch, today).await?;
        checkpoint += rows;
        batches += 1;
        if batches % 100 == 0 {
            wake(ctx).await?;
        }
    }
    wake(ctx).await?;
    finish(ctx, &import, None).await
}

/// Wakes the dispatcher for the notices the batches wrote (once every so many batches, not
/// per batch: a dispatcher racing the import for the same two tables slows both).
async fn wake(ctx: &Context) -> ServiceResult<()> {
    let now = ctx.now();
    ctx.db
        .run(move |conn| -> ServiceResult<()> {
            Ok(crate::notifications::outbox::wake_dispatcher(conn, now)?)
        })
        .await
}

/// Ends an import whose job is about to die (its last attempt failed): failed, with the
/// rows done so far kept, and its file's key dropped — never left `running` with a
/// readable roster.
pub async fn give_up(ctx: &Context, import_id: &str) -> ServiceResult<()> {
    let id = import_id.to_owned();
    let found = ctx.db.run(move |conn| rdb::get(conn, &id)).await?;
    let Some(import) = found else { return Ok(()) };
    let reason = format!(
        "导入多次出错后已停止：前 {} 行已处理并保留，请重新上传其余部分",
        import.processed_rows
    );
    finish(ctx, &import, Some(&reason)).await
}

/// Ends the import (done, or failed with a reason) and deletes its file: the file's key is
/// dropped in the same transaction as the status changes, so a worker that dies right after
/// leaves no readable roster behind (housekeeping removes the object; ADR 016).
async fn finish(ctx: &Context, import: &RosterImport, failure: Option<&str>) -> ServiceResult<()> {
    let (id, failure) = (import.id.clone(), failure.map(str::to_owned));
    let file_id = import.file_id.clone();
    let now = ctx.now().naive_utc();
    let ended = ctx
        .db
        .run({
            let file_id = file_id.clone();
            move |conn| -> ServiceResult<bool> {
                write_tx(conn, |conn| -> ServiceResult<bool> {
                    // Only once: a second worker that lost its lease finds it ended.
                    if !rdb::finish(conn, &id, failure.as_deref(), now)? {
                        return Ok(false);
                    }
                    // Its enrollment notices' campaign, if any batch wrote one.
                    campaigns::mark_sent(conn, &id, now)?;
                    if let Some(file_id) = &file_id {
                        gongyou_db::files::begin_delete(conn, file_id, now)?;
                    }
                    Ok(true)
                })
            }
        })
        .await?;
    if !ended {
        return Ok(());
    }
    if let Some(file_id) = &file_id {
        match ctx.sealed_files.delete(file_id).await {
            Err(e) if e.kind() == Kind::NotFound => {}
            other => other?,
        }
    }
    tracing::info!(import = %import.id, "roster import finished");
    Ok(())
}

/// One batch in one transaction, with the checkpoint: applied once even if the job runs it
/// again after a crash.
async fn apply_batch(
    ctx: &Context,
    import: &RosterImport,
    from_row: i64,
    batch: Batch,
    today: NaiveDate,
) -> ServiceResult<()> {
    let Batch {
        items: batch,
        indexes,
    } = batch;
    let import = import.clone();
    let now = ctx.now();
    // App pushes go out as the import's campaign push batches (ADR 010: a request per
    // thousand devices); other configured channels get a delivery per notice.
    let configured = crate::notifications::outbox::configured_channels(ctx, Category::PlanEnrolled);
    let push_batches = configured.contains(&Channel::Push.as_str());
    let channels: Vec<&str> = configured
        .into_iter()
        .filter(|c| *c != Channel::Push.as_str())
        .collect();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<()> {
                rdb::plan_for_arguments(conn)?;
                let plan = db::plan(conn, &import.plan_code)?.ok_or_else(plan_not_found)?;
                let version = plan.current_version.ok_or_else(plan_not_found)?;
                let loaded = load_version(conn, &plan, version)?;
                let windows = windows_of(&loaded.version)?;
                let blockers = enrollment_blockers(status_of(&loaded.version)?, &windows, today);
                let rules = eligibility_of(&loaded.version);
                let sponsor_path = gongyou_db::orgs::get(conn, &plan.sponsor_org_id)?
                    .map(|o| OrgPath::from_stored(o.path))
                    .ok_or_else(plan_not_found)?;
                let wanted: Vec<String> = indexes.iter().flatten().cloned().collect();
                let members: HashMap<String, Membership> = rdb::members_by_index(conn, &wanted)?
                    .into_iter()
                    .map(|m| (m.id_number_index.clone(), m))
                    .collect();
                let user_ids: Vec<String> = members.values().map(|m| m.user_id.clone()).collect();
                // Start dates an earlier roster gave, for members who gave none themselves.
                let undated: Vec<String> = members
                    .values()
                    .filter(|m| m.platform_started_on.is_none())
                    .map(|m| m.id.clone())
                    .collect();
                let recorded_starts = rdb::platform_starts_of(conn, &undated)?;
                let mut enrolled: std::collections::HashSet<String> =
                    rdb::enrolled_among(conn, &plan.code, &user_ids)?
                        .into_iter()
                        .collect();
                let mut org_paths: HashMap<String, Option<OrgPath>> = HashMap::new();
                let mut counts = BatchCounts {
                    rows: i64::try_from(batch.len()).unwrap_or(i64::MAX),
                    ..Default::default()
                };
                let mut errors = Vec::new();
                let mut new: Vec<(Membership, RosterRow)> = Vec::new();
                let reject =
                    |row: u64, masked: Option<String>, code: &str, detail: String| RowError {
                        import_id: import.id.clone(),
                        row_no: i64::try_from(row).unwrap_or(i64::MAX),
                        id_number_masked: masked,
                        code: code.to_owned(),
                        detail,
                    };
                for (item, index) in batch.into_iter().zip(indexes) {
                    let row = match item {
                        Err(fault) => {
                            counts.invalid_rows += 1;
                            errors.push(reject(
                                fault.row,
                                fault.id_number_masked.clone(),
                                fault.code.as_str(),
                                fault.code.sentence().to_owned(),
                            ));
                            continue;
                        }
                        Ok(row) => row,
                    };
                    let masked = Some(row.id_number.masked());
                    let Some(m) = index.iter().find_map(|i| members.get(i)) else {
                        counts.not_members += 1;
                        errors.push(reject(
                            row.row,
                            masked,
                            "not_member",
                            "不是本会会员（未入会或已退会）".into(),
                        ));
                        continue;
                    };
                    if enrolled.contains(&m.user_id) {
                        counts.already_enrolled += 1;
                        continue;
                    }
                    let recorded = recorded_starts.get(&m.id).map(String::as_str);
                    let mut facts = facts_of(Some(m), recorded);
                    if facts.platform_started_on.is_none() {
                        facts.platform_started_on = row.platform_start_date;
                    }
                    let mut unmet = blockers.clone();
                    let path = match org_paths.get(&m.org_id) {
                        Some(p) => p.clone(),
                        None => {
                            let p = gongyou_db::orgs::get(conn, &m.org_id)?
                                .map(|o| OrgPath::from_stored(o.path));
                            org_paths.insert(m.org_id.clone(), p.clone());
                            p
                        }
                    };
                    if !path.is_some_and(|p| sponsor_path.contains(&p)) {
                        unmet.push(gongyou_domain::plan::Unmet {
                            code: "outside_reach",
                            detail: format!("不在{}的工会范围内", loaded.sponsor.name),
                        });
                    }
                    unmet.extend(unmet_rules(&rules, &facts, today));
                    if let Some(first) = unmet.first() {
                        counts.ineligible += 1;
                        let detail = unmet
                            .iter()
                            .map(|u| u.detail.as_str())
                            .collect::<Vec<_>>()
                            .join("；");
                        errors.push(reject(row.row, masked, first.code, detail));
                        continue;
                    }
                    enrolled.insert(m.user_id.clone());
                    new.push((m.clone(), row));
                }
                if !rdb::advance(
                    conn,
                    &import.id,
                    from_row,
                    BatchCounts {
                        enrolled: i64::try_from(new.len()).unwrap_or(i64::MAX),
                        ..counts
                    },
                )? {
                    // This batch was committed before a crash: nothing to do again.
                    return Ok(());
                }
                rdb::insert_errors(conn, &errors)?;
                let Some((from, to)) = effective_window(today, &windows) else {
                    return Ok(());
                };
                if new.is_empty() {
                    return Ok(());
                }
                let first = db::take_certificates(
                    conn,
                    &plan.code,
                    i64::try_from(new.len()).unwrap_or(i64::MAX),
                )?;
                let starts: Vec<(String, NaiveDate)> = new
                    .iter()
                    .filter(|(m, _)| {
                        m.platform_started_on.is_none() && !recorded_starts.contains_key(&m.id)
                    })
                    .filter_map(|(m, row)| row.platform_start_date.map(|d| (m.id.clone(), d)))
                    .collect();
                rdb::record_platform_starts(conn, &starts, &import.id, now.naive_utc())?;
                let mut rows = Vec::with_capacity(new.len());
                for (k, (m, _)) in new.iter().enumerate() {
                    rows.push(Enrollment {
                        id: gongyou_domain::id::new_id(),
                        plan_code: plan.code.clone(),
                        plan_version: version,
                        user_id: m.user_id.clone(),
                        membership_id: m.id.clone(),
                        certificate_no: certificate_no(
                            &plan.code,
                            first + i64::try_from(k).unwrap_or(0),
                        ),
                        effective_from: from.to_string(),
                        effective_to: to.to_string(),
                        source: "roster".into(),
                        roster_import_id: Some(import.id.clone()),
                        enrolled_at: now.naive_utc(),
                    });
                }
                rdb::insert_enrollments(conn, &rows)?;
                let notices = rows
                    .iter()
                    .map(|e| {
                        (
                            e.user_id.clone(),
                            json!({
                                "plan": loaded.version.name,
                                "certificate_no": e.certificate_no,
                                "from": e.effective_from,
                                "to": e.effective_to,
                            }),
                        )
                    })
                    .collect();
                // Notice ids `<fresh UUIDv7>-<account>`: time-ordered among the member's
                // other notices (the inbox lists by id), and one primary-key range per
                // batch, which the push batches cover.
                let prefix = format!("{}-", gongyou_domain::id::new_id());
                crate::notifications::outbox::notify_many(
                    conn,
                    Category::PlanEnrolled,
                    notices,
                    now,
                    &channels,
                    &prefix,
                )?;
                if push_batches {
                    campaigns::insert_if_missing(
                        conn,
                        &Campaign {
                            id: import.id.clone(),
                            org_id: plan.sponsor_org_id.clone(),
                            occupation: None,
                            title: "保障已到手".into(),
                            body: format!(
                                "您已参加{}，保障证书号和保障期请在“我的保障”中查看。",
                                loaded.version.name
                            ),
                            status: campaigns::FANNING_OUT.into(),
                            recipients: 0,
                            cursor: None,
                            created_by: import.created_by.clone(),
                            created_at: now.naive_utc(),
                            completed_at: None,
                            category: Category::PlanEnrolled.as_str().into(),
                        },
                    )?;
                    campaigns::add_recipients(
                        conn,
                        &import.id,
                        i64::try_from(rows.len()).unwrap_or(i64::MAX),
                    )?;
                    // Every id of the batch sorts after the prefix and before the prefix
                    // followed by `z` (ids continue with hex digits and hyphens).
                    campaigns::insert_push_batches(
                        conn,
                        &import.id,
                        &prefix,
                        &format!("{prefix}z"),
                        now.naive_utc(),
                    )?;
                }
                Ok(())
            })
        })
        .await
}
