//! Reconciliation (对账, issue 15, ADR 020): every morning, prove that what was paid is what
//! we meant to pay.
//!
//! One run per (channel, statement date): `wechat` is the WeChat Pay operating account's
//! fund-flow bill, downloaded by the daily job (or uploaded by hand); `bank` is the bank
//! account's statement, uploaded by finance in the union's template. Either way the file is
//! streamed into the sealed store first (a download's SHA-1 is checked before anything is
//! matched), then read back in one pass: each line is judged by [`Matcher`] against our
//! attempts (loaded compactly, about 110 bytes each), matched lines are written narrow (one
//! `COPY` on PostgreSQL), exceptions as items. Reconciling a day again replaces the run's
//! results in place; resolutions are kept by item key.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;

use bytes::Bytes;
use chrono::{DateTime, Duration as Span, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use futures_util::{Stream, StreamExt};
use gongyou_db::jobs::Job;
use gongyou_db::reconcile::{self as db, Candidate, Run, RunChange, RunFilter};
use gongyou_db::{write_tx, DbConnection, DbError};
use gongyou_domain::bank_statement::{StatementReader, StatementTemplate};
use gongyou_domain::money::from_fen;
use gongyou_domain::notification::Category;
use gongyou_domain::org::OrgPath;
use gongyou_domain::reconcile::{Attempt, Direction, Entry, Held, Item, Matcher, Outcome, Totals};
use gongyou_domain::staff::Role;
use gongyou_domain::time::{china_date, from_china_local};
use gongyou_domain::wechat_bill::{BillDirection, BillEvent, BillReader, BillSummaryCheck};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::actor::Actor;
use crate::authz;
use crate::error::{Kind, ServiceError, ServiceResult};
use crate::files::SealedReader;
use crate::notifications::outbox::{notify_staff, StaffChannels};
use crate::page::{Page, PageRequest};
use crate::Context;

/// The largest statement accepted (a million-line WeChat bill is about 220 MB).
pub const STATEMENT_MAX_BYTES: u64 = 512 * 1024 * 1024;
/// How many unreadable lines a run lists (all are counted).
const LINE_ERROR_SAMPLES: usize = 100;
/// Bytes read from the sealed file at a time.
const READ_CHUNK: usize = 256 * 1024;
/// How long after its day a statement is still looked for (WeChat keeps bills three
/// months; after this the run stays overdue and finance uploads it by hand).
const GIVE_UP_DAYS: i64 = 10;
/// Our attempts final this many days around the statement's day are held in memory;
/// lines naming others are looked up one by one.
const WINDOW_DAYS: i64 = 3;

const WAITING: &str = "waiting";
const OVERDUE: &str = "overdue";
const QUEUED: &str = "queued";
const RUNNING: &str = "running";
const DONE: &str = "done";
const FAILED: &str = "failed";

/// Which account a statement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatementChannel {
    /// The WeChat Pay operating account's fund-flow bill (资金账单).
    Wechat,
    /// The union's bank account statement.
    Bank,
}

impl StatementChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Wechat => "wechat",
            Self::Bank => "bank",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "wechat" => Some(Self::Wechat),
            "bank" => Some(Self::Bank),
            _ => None,
        }
    }

    fn zh(self) -> &'static str {
        match self {
            Self::Wechat => "微信支付资金账单",
            Self::Bank => "银行账户对账单",
        }
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The day's bill is not ready yet; the job looks again.
    Waiting,
    /// Past the deadline and still no statement: an exception for finance (the job keeps
    /// looking; an upload settles it too).
    Overdue,
    Queued,
    Running,
    Done,
    /// The statement was refused (hash mismatch, unreadable file); see `failure`.
    Failed,
}

impl RunStatus {
    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            WAITING => Self::Waiting,
            OVERDUE => Self::Overdue,
            QUEUED => Self::Queued,
            RUNNING => Self::Running,
            DONE => Self::Done,
            FAILED => Self::Failed,
            _ => return None,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------

/// Money on one side, count and yuan.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Figure {
    pub count: u64,
    /// Yuan, two decimals.
    #[schema(example = "1200.00")]
    pub amount: String,
}

fn figure(count: u64, fen: i64) -> Figure {
    Figure {
        count,
        amount: from_fen(fen).to_string(),
    }
}

/// Counts and sums of one outcome.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutcomeFigure {
    pub outcome: Outcome,
    pub count: u64,
    /// What the statement says for these items (yuan).
    pub statement_amount: String,
    /// What we hold for these items (yuan).
    pub our_amount: String,
}

/// A line that could not be read.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineError {
    pub line: u64,
    pub message: String,
}

/// A run's summary: both sides' totals for the day, and what matching found.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RunSummary {
    /// Money out on the statement (every line out: ours or not).
    pub statement_out: Figure,
    /// Transfers returned on the statement (money back for one of ours).
    pub statement_in: Figure,
    /// Other money in (top-ups of the account): not ours to match.
    pub statement_other_in: Figure,
    /// What we hold paid on the day (final on the day, Asia/Shanghai).
    pub our_paid: Figure,
    /// Money out agrees on both sides, in count and amount.
    pub totals_agree: bool,
    /// Every outcome, also those with none.
    pub outcomes: Vec<OutcomeFigure>,
    /// The WeChat bill's own summary rows against its lines; null for a bank statement.
    pub bill_summary_agrees: Option<bool>,
    /// Where the bill's summary rows and its lines differ (zh-CN).
    pub bill_summary_differences: Vec<String>,
    /// Lines that could not be read (counted; the first 100 listed).
    pub unreadable_lines: u64,
    pub unreadable_samples: Vec<LineError>,
}

/// Why a run failed or is overdue — or, on a run still `done`, why the last try to
/// reconcile it again failed (its previous result stands).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunFailure {
    /// `statement.hash_mismatch`, `statement.unreadable`, `statement.not_ready`,
    /// `statement.download_failed`, `statement.file_missing`.
    pub code: String,
    pub detail: String,
}

/// A reconciliation run: one per channel and day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RunView {
    pub id: String,
    pub channel: StatementChannel,
    /// The statement's day (Asia/Shanghai).
    pub date: NaiveDate,
    pub status: RunStatus,
    /// `download` (the daily job) or `upload` (by finance); null before any statement.
    pub source: Option<String>,
    pub uploaded_by: Option<String>,
    pub statement_lines: i64,
    /// Items other than matched.
    pub exceptions: i64,
    /// Exceptions nobody resolved yet.
    pub unresolved: i64,
    pub summary: Option<RunSummary>,
    pub failure: Option<RunFailure>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
}

/// Who resolved an item, when and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResolutionView {
    pub note: String,
    pub resolved_by: String,
    pub resolved_at: DateTime<Utc>,
}

/// One result of matching: a statement line, one of our attempts, or both.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemView {
    /// The item's number in the run: its statement line, or after the last line for what
    /// the statement lacks. Stable while the statement is the same.
    pub id: i64,
    pub outcome: Outcome,
    /// The statement's line (from 1), when there is one.
    pub line: Option<i64>,
    /// The provider's number on the line (WeChat's transfer bill number).
    pub provider_no: Option<String>,
    /// Our `out_bill_no` as the line carries it.
    pub reference: Option<String>,
    /// `out` (money left) or `in` (money back), when there is a line.
    pub direction: Option<Direction>,
    /// What the statement says (yuan).
    pub statement_amount: Option<String>,
    /// When the statement booked it: the Asia/Shanghai wall clock as written, without an
    /// offset (`2026-04-20T10:06:40`).
    #[schema(value_type = Option<String>, example = "2026-04-20T10:06:40", pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}$")]
    pub booked_at: Option<NaiveDateTime>,
    pub payout_id: Option<String>,
    pub attempt_id: Option<String>,
    pub out_bill_no: Option<String>,
    /// What we hold (yuan).
    pub our_amount: Option<String>,
    /// What we hold of the attempt: paid, failed or open.
    pub held: Option<Held>,
    pub resolution: Option<ResolutionView>,
}

fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

fn run_view(run: &Run, unresolved: i64) -> RunView {
    let failure = run.failure_code.as_ref().map(|code| RunFailure {
        code: code.clone(),
        detail: run.failure_detail.clone().unwrap_or_default(),
    });
    RunView {
        id: run.id.clone(),
        channel: StatementChannel::parse(&run.channel).unwrap_or(StatementChannel::Bank),
        date: run.statement_date,
        status: RunStatus::parse(&run.status).unwrap_or(RunStatus::Failed),
        source: run.source.clone(),
        uploaded_by: run.uploaded_by.clone(),
        statement_lines: run.statement_lines,
        exceptions: run.exceptions,
        unresolved,
        summary: run
            .summary
            .as_deref()
            .and_then(|s| serde_json::from_str(s).ok()),
        failure,
        created_at: utc(run.created_at),
        started_at: run.started_at.map(utc),
        finished_at: run.finished_at.map(utc),
    }
}

fn held_text(h: Held) -> &'static str {
    match h {
        Held::Paid => "paid",
        Held::Failed => "failed",
        Held::Open => "open",
    }
}

fn held_of(s: &str) -> Option<Held> {
    match s {
        "paid" => Some(Held::Paid),
        "failed" => Some(Held::Failed),
        "open" => Some(Held::Open),
        _ => None,
    }
}

fn direction_text(d: Direction) -> &'static str {
    match d {
        Direction::Out => "out",
        Direction::In => "in",
    }
}

fn outcome_of(s: &str) -> Option<Outcome> {
    Outcome::ALL.into_iter().find(|o| o.as_str() == s)
}

fn item_view(item: db::Item, resolution: Option<db::Resolution>) -> ItemView {
    ItemView {
        id: item.seq,
        outcome: outcome_of(&item.outcome).unwrap_or(Outcome::UnexpectedInStatement),
        line: item.line,
        provider_no: item.provider_no,
        reference: item.reference,
        direction: item.direction.as_deref().map(|d| {
            if d == "in" {
                Direction::In
            } else {
                Direction::Out
            }
        }),
        statement_amount: item.statement_fen.map(|f| from_fen(f).to_string()),
        booked_at: item.booked_at,
        payout_id: item.payout_id,
        attempt_id: item.attempt_id,
        out_bill_no: item.out_bill_no,
        our_amount: item.our_fen.map(|f| from_fen(f).to_string()),
        held: item.held.as_deref().and_then(held_of),
        resolution: resolution.map(|r| ResolutionView {
            note: r.note,
            resolved_by: r.resolved_by,
            resolved_at: utc(r.resolved_at),
        }),
    }
}

// ---------------------------------------------------------------------------------------
// Jobs
// ---------------------------------------------------------------------------------------

/// The daily job: yesterday's run of each paying account with an API (WeChat Pay).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ReconcileDaily {}

impl Job for ReconcileDaily {
    const NAME: &'static str = "reconcile.daily";
    const MAX_ATTEMPTS: i32 = 3;
}

/// Reconciles one run: fetches the bill (a download run) or reads the uploaded file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReconcileRun {
    pub run_id: String,
}

impl Job for ReconcileRun {
    const NAME: &'static str = "reconcile.run";
    const PRIORITY: i32 = 10;
    const MAX_ATTEMPTS: i32 = 5;

    fn dedup_key(&self) -> Option<String> {
        Some(format!("{}:{}", Self::NAME, self.run_id))
    }
}

/// What a run's job did: finished (for now), or look again at `at` (not an attempt spent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Done,
    Later { at: DateTime<Utc>, reason: String },
}

/// The daily job: creates yesterday's WeChat run (Asia/Shanghai) unless there is one, and
/// queues its job.
pub async fn daily(ctx: &Context) -> ServiceResult<Option<String>> {
    if ctx.providers.wechatpay.is_none() {
        return Ok(None);
    }
    let now = ctx.now();
    let date = china_date(now) - Span::days(1);
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Option<String>> {
                if let Some(run) = db::run_of_day(conn, StatementChannel::Wechat.as_str(), date)? {
                    return Ok(Some(run.id));
                }
                let run = new_run(StatementChannel::Wechat, date, WAITING, now);
                if !db::insert_run(conn, &run)? {
                    return Ok(None);
                }
                ReconcileRun {
                    run_id: run.id.clone(),
                }
                .enqueue(conn, now.naive_utc())?;
                tracing::info!(run = %run.id, %date, "daily reconciliation queued");
                Ok(Some(run.id))
            })
        })
        .await
}

fn new_run(channel: StatementChannel, date: NaiveDate, status: &str, now: DateTime<Utc>) -> Run {
    Run {
        id: gongyou_domain::id::new_id(),
        channel: channel.as_str().into(),
        statement_date: date,
        status: status.into(),
        source: (status == WAITING).then(|| "download".to_owned()),
        file_id: None,
        uploaded_by: None,
        statement_template: None,
        statement_lines: 0,
        exceptions: 0,
        summary: None,
        failure_code: None,
        failure_detail: None,
        tries: 0,
        overdue_notified_at: None,
        created_at: now.naive_utc(),
        started_at: None,
        finished_at: None,
        updated_at: now.naive_utc(),
    }
}

/// The deadline of a day's bill: the next day at the configured hour plus the configured
/// hours (Asia/Shanghai).
fn deadline_of(ctx: &Context, date: NaiveDate) -> DateTime<Utc> {
    let at = NaiveTime::from_hms_opt(ctx.config.reconcile_hour.min(23), 0, 0).unwrap_or_default();
    from_china_local((date + Span::days(1)).and_time(at))
        + Span::hours(i64::from(ctx.config.reconcile_deadline_hours))
}

/// Runs a run's job.
pub async fn run_job(ctx: &Context, job: ReconcileRun) -> ServiceResult<Step> {
    let id = job.run_id.clone();
    let Some(run) = ctx
        .db
        .run(move |conn| Ok::<_, ServiceError>(db::run(conn, &id)?))
        .await?
    else {
        return Ok(Step::Done);
    };
    match run.status.as_str() {
        WAITING | OVERDUE => fetch(ctx, run).await,
        FAILED if run.source.as_deref() == Some("download") && run.file_id.is_none() => {
            fetch(ctx, run).await
        }
        QUEUED | RUNNING => process(ctx, run).await.map(|_| Step::Done),
        _ => Ok(Step::Done),
    }
}

/// A download run: fetch the bill into the sealed store (hash checked), then process it.
async fn fetch(ctx: &Context, run: Run) -> ServiceResult<Step> {
    let now = ctx.now();
    let Some(client) = ctx.providers.wechatpay.clone() else {
        return Ok(Step::Done);
    };
    let deadline = deadline_of(ctx, run.statement_date);
    let give_up =
        from_china_local((run.statement_date + Span::days(GIVE_UP_DAYS)).and_time(NaiveTime::MIN));
    let retry = now + Span::minutes(i64::from(ctx.config.reconcile_retry_minutes));
    let not_yet = |code: &str, detail: String| (code.to_owned(), detail);
    let problem = match client.fund_flow_bill(run.statement_date).await {
        Err(gongyou_providers::wechatpay::WechatPayError::NotReady { .. }) => Some(not_yet(
            "statement.not_ready",
            "微信支付资金账单尚未生成".to_owned(),
        )),
        Err(e) => Some(not_yet(
            "statement.download_failed",
            format!("获取微信支付资金账单失败：{e}"),
        )),
        Ok(location) => match download(ctx, &client, &location, &run.id).await {
            Ok(file_id) => {
                let id = run.id.clone();
                let stored = file_id.clone();
                let old = run.file_id.clone();
                ctx.db
                    .run(move |conn| -> ServiceResult<()> {
                        db::update_run(
                            conn,
                            &id,
                            &RunChange {
                                status: Some(QUEUED.into()),
                                source: Some(Some("download".into())),
                                file_id: Some(Some(stored)),
                                failure_code: Some(None),
                                failure_detail: Some(None),
                                updated_at: Some(now.naive_utc()),
                                ..RunChange::default()
                            },
                        )?;
                        Ok(())
                    })
                    .await?;
                if let Some(old) = old {
                    let _ = ctx.sealed_files.delete(&old).await;
                }
                let mut run = run;
                run.file_id = Some(file_id);
                run.status = QUEUED.into();
                process(ctx, run).await?;
                return Ok(Step::Done);
            }
            Err(Fetched::HashMismatch(detail)) => Some(("statement.hash_mismatch".into(), detail)),
            Err(Fetched::Failed(e)) => return Err(e),
        },
    };
    let Some((code, detail)) = problem else {
        return Ok(Step::Done);
    };
    // Not there (or refused): record why; past the deadline it is an exception for finance,
    // once; after GIVE_UP_DAYS the job stops looking.
    let overdue = now >= deadline;
    let notify = overdue && run.overdue_notified_at.is_none();
    let status = if run.summary.is_some() {
        // Reconciled before: the result stands; `failure` says why the new look failed.
        DONE
    } else if code == "statement.hash_mismatch" {
        FAILED
    } else if overdue {
        OVERDUE
    } else {
        WAITING
    };
    let id = run.id.clone();
    let date = run.statement_date;
    let detail_saved = detail.clone();
    let code_saved = code.clone();
    let channels = StaffChannels::of(ctx);
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<()> {
                db::update_run(
                    conn,
                    &id,
                    &RunChange {
                        status: Some(status.into()),
                        failure_code: Some(Some(code_saved)),
                        failure_detail: Some(Some(detail_saved)),
                        tries: Some(run.tries.saturating_add(1)),
                        overdue_notified_at: notify.then_some(Some(now.naive_utc())),
                        updated_at: Some(now.naive_utc()),
                        ..RunChange::default()
                    },
                )?;
                if notify {
                    let root = account_path(conn)?;
                    for staff in
                        gongyou_db::claims::staff_over(conn, Role::FinanceApprover.as_str(), &root)?
                    {
                        notify_staff(
                            conn,
                            channels,
                            &staff,
                            Category::ReconciliationStatementMissing,
                            serde_json::json!({
                                "date": date.to_string(),
                                "channel": StatementChannel::Wechat.zh(),
                                "deadline": china_time_text(deadline),
                                "run_id": id,
                            }),
                            now,
                        )?;
                    }
                }
                Ok(())
            })
        })
        .await?;
    tracing::info!(run = %run.id, %code, overdue, "statement not reconciled yet");
    if now >= give_up {
        return Ok(Step::Done);
    }
    Ok(Step::Later {
        at: retry,
        reason: detail,
    })
}

enum Fetched {
    HashMismatch(String),
    Failed(ServiceError),
}

/// Streams a located bill into the sealed store; the SHA-1 is checked at the end and a
/// mismatching file is dropped.
async fn download(
    ctx: &Context,
    client: &gongyou_providers::wechatpay::WechatPayClient,
    location: &gongyou_providers::wechatpay::BillLocation,
    run_id: &str,
) -> Result<String, Fetched> {
    use gongyou_providers::wechatpay::WechatPayError;
    let failed = |e: WechatPayError| {
        Fetched::Failed(ServiceError::unavailable(
            "statement.download_failed",
            anyhow::anyhow!("downloading the WeChat Pay bill failed: {e}"),
        ))
    };
    let mut bill = client.download_bill(location).await.map_err(failed)?;
    let mut writer = ctx
        .sealed_files
        .begin("statement", Some(run_id))
        .await
        .map_err(Fetched::Failed)?;
    let mut size: u64 = 0;
    loop {
        match bill.next_chunk().await {
            Ok(Some(chunk)) => {
                size += chunk.len() as u64;
                if size > STATEMENT_MAX_BYTES {
                    let _ = writer.abort().await;
                    return Err(Fetched::Failed(ServiceError::internal(anyhow::anyhow!(
                        "bill larger than {STATEMENT_MAX_BYTES} bytes"
                    ))));
                }
                if let Err(e) = writer.write(&chunk).await {
                    let _ = writer.abort().await;
                    return Err(Fetched::Failed(e));
                }
            }
            Ok(None) => break,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(failed(e));
            }
        }
    }
    match bill.finish() {
        Ok(()) => {}
        Err(WechatPayError::HashMismatch { expected, actual }) => {
            let _ = writer.abort().await;
            return Err(Fetched::HashMismatch(format!(
                "资金账单的 SHA-1 与微信支付给出的不符（应为 {expected}，实为 {actual}），已拒收"
            )));
        }
        Err(e) => {
            let _ = writer.abort().await;
            return Err(failed(e));
        }
    }
    let stored = writer.finish().await.map_err(Fetched::Failed)?;
    let id = stored.id.clone();
    ctx.db
        .run(move |conn| -> ServiceResult<()> {
            gongyou_db::files::attach(conn, &id, chrono::Utc::now().naive_utc())?;
            Ok(())
        })
        .await
        .map_err(Fetched::Failed)?;
    Ok(stored.id)
}

/// The union that owns the paying accounts: the narrowest org over every finance approver
/// (their grants' common ancestor), else the root. Statement lines naming no payout of ours
/// (money out we did not send) belong to it: its finance approvers see and resolve them,
/// and are told of them.
fn account_path(conn: &mut DbConnection) -> ServiceResult<String> {
    let paths = db::grant_paths(conn, Role::FinanceApprover.as_str())?;
    if let Some(common) = common_ancestor(&paths) {
        return Ok(common);
    }
    Ok(gongyou_db::orgs::root(conn)?
        .map(|o| o.path)
        .unwrap_or_default())
}

/// Statements are of the union's accounts: only a finance approver over the account's
/// union uploads them or reconciles a day again (403 `auth.out_of_scope` otherwise).
async fn account_owner(ctx: &Context, actor: &Actor) -> ServiceResult<()> {
    let path = ctx.db.run(account_path).await?;
    authz::require_visible(actor, Role::FinanceApprover, &OrgPath::from_stored(path))
}

/// The longest common ancestor of materialized paths (`/a/b/`), if they share one.
fn common_ancestor(paths: &[String]) -> Option<String> {
    let first: Vec<&str> = paths
        .first()?
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let mut keep = first.len();
    for p in &paths[1..] {
        let ids: Vec<&str> = p.split('/').filter(|s| !s.is_empty()).collect();
        keep = keep.min(first.iter().zip(&ids).take_while(|(a, b)| a == b).count());
    }
    (keep > 0).then(|| format!("/{}/", first[..keep].join("/")))
}

// ---------------------------------------------------------------------------------------
// Processing a statement
// ---------------------------------------------------------------------------------------

/// Why a statement could not be reconciled (the run fails; nothing is written).
#[derive(Debug)]
enum Stop {
    Refused { code: &'static str, detail: String },
    Error(ServiceError),
}

impl From<DbError> for Stop {
    fn from(e: DbError) -> Self {
        Stop::Error(e.into())
    }
}

impl From<ServiceError> for Stop {
    fn from(e: ServiceError) -> Self {
        Stop::Error(e)
    }
}

/// What a pass over a statement found.
struct Pass {
    lines: u64,
    other_in: (u64, i64),
    exceptions: Vec<Found>,
    unreadable: u64,
    samples: Vec<LineError>,
    bill: Option<BillSummaryCheck>,
    last_line: i64,
}

/// An exception with what the line said.
struct Found {
    item: Item,
    provider_no: Option<String>,
    reference: Option<String>,
    booked_at: Option<NaiveDateTime>,
}

/// Reads an uploaded or downloaded statement back and reconciles it (in one transaction).
async fn process(ctx: &Context, run: Run) -> ServiceResult<()> {
    let now = ctx.now();
    let Some(file_id) = run.file_id.clone() else {
        return fail(
            ctx,
            &run.id,
            "statement.file_missing",
            "对账单文件不存在，请重新上传",
        )
        .await;
    };
    let id = run.id.clone();
    let started = ctx
        .db
        .run(move |conn| -> ServiceResult<bool> {
            Ok(db::move_run(
                conn,
                &id,
                &[QUEUED, RUNNING],
                &RunChange {
                    status: Some(RUNNING.into()),
                    started_at: Some(Some(now.naive_utc())),
                    updated_at: Some(now.naive_utc()),
                    ..RunChange::default()
                },
            )?)
        })
        .await?;
    if !started {
        return Ok(());
    }
    let source = match ctx.sealed_files.open_blocking(&file_id).await {
        Ok(s) => s,
        Err(e) if e.kind() == Kind::NotFound => {
            return fail(
                ctx,
                &run.id,
                "statement.file_missing",
                "对账单文件不存在，请重新上传",
            )
            .await;
        }
        Err(e) => return Err(e),
    };
    let channel = StatementChannel::parse(&run.channel).unwrap_or(StatementChannel::Bank);
    // The layout the file was accepted in (a rerun reads it the same way).
    let accepted: Option<StatementTemplate> = match (channel, run.statement_template.as_deref()) {
        (StatementChannel::Bank, Some(json)) => Some(
            serde_json::from_str(json)
                .map_err(|e| ServiceError::internal(anyhow::anyhow!("stored template: {e}")))?,
        ),
        _ => None,
    };
    let open_days = ctx.config.reconcile_open_days;
    let channels = StaffChannels::of(ctx);
    let clock = ctx.clock.clone();
    let run_id = run.id.clone();
    let date = run.statement_date;
    let result = ctx
        .db
        .run(move |conn| -> ServiceResult<Result<(), (String, String)>> {
            let outcome = write_tx(conn, |conn| -> Result<(), Stop> {
                reconcile(
                    conn, &run_id, channel, accepted, date, source, open_days, channels, &clock,
                )
            });
            match outcome {
                Ok(()) => Ok(Ok(())),
                Err(Stop::Refused { code, detail }) => Ok(Err((code.to_owned(), detail))),
                Err(Stop::Error(e)) => Err(e),
            }
        })
        .await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err((code, detail))) => fail(ctx, &run.id, &code, &detail).await,
        Err(e) => {
            // Back to queued: the job's retry reads the file again.
            let id = run.id.clone();
            let _ = ctx
                .db
                .run(move |conn| -> ServiceResult<bool> {
                    Ok(db::move_run(
                        conn,
                        &id,
                        &[RUNNING],
                        &RunChange {
                            status: Some(QUEUED.into()),
                            updated_at: Some(now.naive_utc()),
                            ..RunChange::default()
                        },
                    )?)
                })
                .await;
            Err(e)
        }
    }
}

async fn fail(ctx: &Context, run_id: &str, code: &str, detail: &str) -> ServiceResult<()> {
    let now = ctx.now();
    let (id, code, detail) = (run_id.to_owned(), code.to_owned(), detail.to_owned());
    tracing::warn!(run = %id, %code, "statement refused");
    ctx.db
        .run(move |conn| -> ServiceResult<()> {
            // A day reconciled before keeps its result (and says why the last try failed);
            // one never reconciled is failed.
            let had_result = db::run(conn, &id)?.is_some_and(|r| r.summary.is_some());
            db::update_run(
                conn,
                &id,
                &RunChange {
                    status: Some(if had_result { DONE } else { FAILED }.into()),
                    failure_code: Some(Some(code)),
                    failure_detail: Some(Some(detail)),
                    finished_at: Some(Some(now.naive_utc())),
                    updated_at: Some(now.naive_utc()),
                    ..RunChange::default()
                },
            )?;
            Ok(())
        })
        .await
}

fn day_window(date: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
    let start = from_china_local(date.and_time(NaiveTime::MIN));
    (start.naive_utc(), (start + Span::days(1)).naive_utc())
}

fn held_of_state(state: &str) -> Held {
    match state {
        "SUCCESS" => Held::Paid,
        "FAIL" | "CANCELLED" => Held::Failed,
        _ => Held::Open,
    }
}

fn attempt_of(c: &Candidate) -> Attempt {
    Attempt {
        out_bill_no: c.out_bill_no.clone(),
        provider_no: c.transfer_bill_no.clone(),
        payout_id: c.payout_id.clone(),
        amount_fen: c.amount_fen,
        held: held_of_state(&c.state),
        final_on: c.final_at.map(|t| china_date(t.and_utc())),
        sent_on: c
            .sent_at
            .or(c.final_at)
            .map(|t| china_date(t.and_utc()))
            .unwrap_or_default(),
    }
}

/// The next bytes of the statement file; `None` at its end.
fn next_chunk<'b>(source: &mut SealedReader, buf: &'b mut [u8]) -> Result<Option<&'b [u8]>, Stop> {
    let n = source
        .read(buf)
        .map_err(|e| Stop::Error(SealedReader::service_error(e)))?;
    Ok((n > 0).then(|| buf.get(..n).unwrap_or_default()))
}

/// The reconciliation itself, inside the caller's transaction.
#[allow(clippy::too_many_arguments)]
fn reconcile(
    conn: &mut DbConnection,
    run_id: &str,
    channel: StatementChannel,
    accepted: Option<StatementTemplate>,
    date: NaiveDate,
    mut source: SealedReader,
    open_days: u32,
    channels: StaffChannels,
    clock: &gongyou_domain::clock::SharedClock,
) -> Result<(), Stop> {
    gongyou_db::lock(conn, &format!("reconciliation:{run_id}"))?;
    db::clear_results(conn, run_id)?;
    let (day_start, day_end) = day_window(date);
    let mut matcher = Matcher::new(date, open_days);
    db::candidates(
        conn,
        channel.as_str(),
        day_start - Span::days(WINDOW_DAYS),
        day_end + Span::days(WINDOW_DAYS),
        |c| matcher.add(&attempt_of(&c)),
    )?;
    let template = match (channel, accepted) {
        (StatementChannel::Bank, Some(t)) => Some(t),
        (StatementChannel::Bank, None) => {
            let root = account_path(conn)?;
            Some(crate::payouts::statement_template_for(conn, &root).map_err(Stop::Error)?)
        }
        (StatementChannel::Wechat, _) => None,
    };
    let mut pass = Pass {
        lines: 0,
        other_in: (0, 0),
        exceptions: Vec::new(),
        unreadable: 0,
        samples: Vec::new(),
        bill: None,
        last_line: 0,
    };
    // Matched lines are kept in the matcher (a line number in each attempt's slot) and
    // written after the file is read, in out_bill_no order; exceptions are kept here.
    let mut on_entry = |entry: Entry<'_>, booked_at: Option<NaiveDateTime>, pass: &mut Pass| {
        let item = matcher.push(&entry);
        if item.outcome != Outcome::Matched {
            pass.exceptions.push(Found {
                item,
                provider_no: entry.provider_no.map(str::to_owned),
                reference: entry.reference.map(str::to_owned),
                booked_at,
            });
        }
    };
    let mut buf = vec![0u8; READ_CHUNK];
    match template {
        None => {
            let mut reader = BillReader::new();
            while let Some(chunk) = next_chunk(&mut source, &mut buf)? {
                reader
                    .feed_with(chunk, |event| match event {
                        BillEvent::Line(l) => {
                            pass.lines += 1;
                            pass.last_line = pass.last_line.max(l.line as i64);
                            let direction = match l.direction {
                                BillDirection::Out => Direction::Out,
                                BillDirection::In => Direction::In,
                            };
                            // Money in that is not a transfer coming back (a top-up): not
                            // ours to match.
                            if direction == Direction::In && !l.is_merchant_transfer() {
                                pass.other_in.0 += 1;
                                pass.other_in.1 += l.amount_fen;
                                return;
                            }
                            let entry = Entry {
                                line: l.line,
                                provider_no: Some(l.wechat_bill_no).filter(|s| !s.is_empty()),
                                reference: l.out_bill_no(),
                                direction,
                                amount_fen: l.amount_fen,
                            };
                            on_entry(entry, Some(l.booked_at), &mut pass);
                        }
                        BillEvent::Error(e) => {
                            pass.lines += 1;
                            pass.unreadable += 1;
                            if pass.samples.len() < LINE_ERROR_SAMPLES {
                                pass.samples.push(LineError {
                                    line: e.line as u64,
                                    message: e.to_string(),
                                });
                            }
                        }
                    })
                    .map_err(|e| Stop::Refused {
                        code: "statement.unreadable",
                        detail: format!("资金账单无法读取：{e}"),
                    })?;
            }
            let check = reader.finish().map_err(|e| Stop::Refused {
                code: "statement.unreadable",
                detail: format!("资金账单无法读取：{e}"),
            })?;
            pass.bill = Some(check);
        }
        Some(template) => {
            let mut reader = StatementReader::new(template).map_err(|e| Stop::Refused {
                code: "statement.unreadable",
                detail: format!("银行对账单格式设置不可用：{}", e.message),
            })?;
            let mut handle = |event: Result<
                gongyou_domain::bank_statement::StatementLine,
                gongyou_domain::bank_statement::StatementLineError,
            >,
                              pass: &mut Pass| match event {
                Ok(l) => {
                    pass.lines += 1;
                    pass.last_line = pass.last_line.max(l.line as i64);
                    // Money in naming none of ours (interest, a top-up): not ours.
                    if l.direction == Direction::In && l.reference.is_none() {
                        pass.other_in.0 += 1;
                        pass.other_in.1 += l.amount_fen;
                        return;
                    }
                    let entry = Entry {
                        line: l.line,
                        provider_no: None,
                        reference: l.reference.as_deref(),
                        direction: l.direction,
                        amount_fen: l.amount_fen,
                    };
                    on_entry(entry, l.booked_at, pass);
                }
                Err(e) => {
                    pass.lines += 1;
                    pass.unreadable += 1;
                    if pass.samples.len() < LINE_ERROR_SAMPLES {
                        pass.samples.push(LineError {
                            line: e.line as u64,
                            message: e.message.clone(),
                        });
                    }
                }
            };
            while let Some(chunk) = next_chunk(&mut source, &mut buf)? {
                reader
                    .feed_with(chunk, |event| handle(event, &mut pass))
                    .map_err(|e| Stop::Refused {
                        code: "statement.unreadable",
                        detail: format!("对账单无法读取：{e}"),
                    })?;
            }
            reader
                .finish(|event| handle(event, &mut pass))
                .map_err(|e| Stop::Refused {
                    code: "statement.unreadable",
                    detail: format!("对账单无法读取：{e}"),
                })?;
        }
    }

    // Lines naming attempts outside the window: look them up, judge them again.
    let unknown: Vec<usize> = pass
        .exceptions
        .iter()
        .enumerate()
        .filter(|(_, f)| f.item.outcome == Outcome::UnexpectedInStatement)
        .map(|(i, _)| i)
        .collect();
    if !unknown.is_empty() {
        let providers: Vec<String> = unknown
            .iter()
            .filter_map(|&i| pass.exceptions[i].provider_no.clone())
            .collect();
        let references: Vec<String> = unknown
            .iter()
            .filter_map(|&i| pass.exceptions[i].reference.clone())
            .collect();
        let named = db::candidates_named(conn, channel.as_str(), &providers, &references)?;
        if !named.is_empty() {
            for c in &named {
                matcher.add(&attempt_of(c));
            }
            for &i in &unknown {
                let f = &pass.exceptions[i];
                let (Some(direction), Some(amount), Some(line)) =
                    (f.item.direction, f.item.statement_fen, f.item.line)
                else {
                    continue;
                };
                let entry = Entry {
                    line,
                    provider_no: f.provider_no.as_deref(),
                    reference: f.reference.as_deref(),
                    direction,
                    amount_fen: amount,
                };
                pass.exceptions[i].item = matcher.judge(&entry);
            }
            pass.exceptions
                .retain(|f| f.item.outcome != Outcome::Matched);
        }
    }
    db::write_matches(
        conn,
        run_id,
        matcher.matched().map(|(bill, line, direction)| db::Match {
            out_bill_no: bill,
            line: i64::try_from(line).unwrap_or(i64::MAX),
            out: direction == Direction::Out,
        }),
    )?;

    let (mut missing, totals) = matcher.finish();
    // Missing here, but its line was on another day's statement (final late at night).
    let missing_bills: Vec<String> = missing
        .iter()
        .filter_map(|i| i.out_bill_no.clone())
        .collect();
    let nearby: Vec<String> = db::runs_between(
        conn,
        channel.as_str(),
        date - Span::days(WINDOW_DAYS),
        date + Span::days(WINDOW_DAYS),
    )?
    .into_iter()
    .map(|(id, _)| id)
    .filter(|id| id != run_id)
    .collect();
    let elsewhere: std::collections::HashSet<String> =
        db::matched_in(conn, &nearby, &missing_bills)?
            .into_iter()
            .map(|(bill, _)| bill)
            .collect();
    missing.retain(|i| {
        i.out_bill_no
            .as_ref()
            .is_none_or(|b| !elsewhere.contains(b))
    });

    // Items: the line's seq is its line; what the statement lacks comes after the last line.
    let mut all: Vec<Found> = std::mem::take(&mut pass.exceptions);
    all.extend(missing.into_iter().map(|item| Found {
        item,
        provider_no: None,
        reference: None,
        booked_at: None,
    }));
    let bills: Vec<String> = all
        .iter()
        .filter_map(|f| f.item.out_bill_no.clone())
        .collect();
    let details: HashMap<String, (String, String)> = db::attempt_details(conn, &bills)?
        .into_iter()
        .map(|(bill, attempt, path)| (bill, (attempt, path)))
        .collect();
    let root = account_path(conn)?;
    let mut keys_seen: HashMap<String, u32> = HashMap::new();
    let mut next_seq = pass.last_line + 1;
    let mut items = Vec::with_capacity(all.len());
    for f in all {
        let seq = match f.item.line {
            Some(l) => i64::try_from(l).unwrap_or(i64::MAX),
            None => {
                next_seq += 1;
                next_seq - 1
            }
        };
        let base = format!(
            "{}|{}|{}|{}|{}|{}",
            f.item.outcome.as_str(),
            f.provider_no.as_deref().unwrap_or(""),
            f.reference.as_deref().unwrap_or(""),
            f.item.out_bill_no.as_deref().unwrap_or(""),
            f.item
                .statement_fen
                .map(|v| v.to_string())
                .unwrap_or_default(),
            f.item.direction.map(direction_text).unwrap_or(""),
        );
        let n = keys_seen.entry(base.clone()).or_insert(0);
        *n += 1;
        let item_key = format!("{base}|{n}");
        let (attempt_id, org_path) = match f.item.out_bill_no.as_ref().and_then(|b| details.get(b))
        {
            Some((a, p)) => (Some(a.clone()), p.clone()),
            None => (None, root.clone()),
        };
        items.push(db::Item {
            run_id: run_id.to_owned(),
            seq,
            item_key,
            outcome: f.item.outcome.as_str().to_owned(),
            line: f.item.line.map(|l| i64::try_from(l).unwrap_or(i64::MAX)),
            provider_no: f.provider_no,
            reference: f.reference,
            direction: f.item.direction.map(|d| direction_text(d).to_owned()),
            statement_fen: f.item.statement_fen,
            booked_at: f.booked_at,
            attempt_id,
            out_bill_no: f.item.out_bill_no,
            payout_id: f.item.payout_id,
            our_fen: f.item.our_fen,
            held: f.item.held.map(|h| held_text(h).to_owned()),
            org_path,
        });
    }
    items.sort_by_key(|i| i.seq);
    items.dedup_by_key(|i| i.seq);
    db::insert_items(conn, &items)?;

    let summary = summarize(&pass, &items, totals);
    let now = clock.now();
    let exceptions = i64::try_from(items.len()).unwrap_or(i64::MAX);
    db::update_run(
        conn,
        run_id,
        &RunChange {
            status: Some(DONE.into()),
            statement_lines: Some(i64::try_from(pass.lines).unwrap_or(i64::MAX)),
            exceptions: Some(exceptions),
            summary: Some(Some(
                serde_json::to_string(&summary)
                    .map_err(|e| Stop::Error(ServiceError::internal(e)))?,
            )),
            failure_code: Some(None),
            failure_detail: Some(None),
            finished_at: Some(Some(now.naive_utc())),
            updated_at: Some(now.naive_utc()),
            ..RunChange::default()
        },
    )?;
    notify_exceptions(conn, channels, run_id, channel, date, &items, &root, now)?;
    tracing::info!(
        run = %run_id,
        lines = pass.lines,
        exceptions,
        "statement reconciled"
    );
    Ok(())
}

fn summarize(pass: &Pass, items: &[db::Item], totals: Totals) -> RunSummary {
    let mut by: BTreeMap<&'static str, (u64, i64, i64)> = BTreeMap::new();
    for i in items {
        let o = outcome_of(&i.outcome).unwrap_or(Outcome::UnexpectedInStatement);
        let e = by.entry(o.as_str()).or_default();
        e.0 += 1;
        e.1 += i.statement_fen.unwrap_or(0);
        e.2 += i.our_fen.unwrap_or(0);
    }
    let outcomes = Outcome::ALL
        .into_iter()
        .map(|o| {
            let (count, s, ours) = if o == Outcome::Matched {
                (totals.matched_count, totals.matched_fen, totals.matched_fen)
            } else {
                by.get(o.as_str()).copied().unwrap_or_default()
            };
            OutcomeFigure {
                outcome: o,
                count,
                statement_amount: from_fen(s).to_string(),
                our_amount: from_fen(ours).to_string(),
            }
        })
        .collect();
    RunSummary {
        statement_out: figure(totals.statement_out_count, totals.statement_out_fen),
        statement_in: figure(totals.statement_in_count, totals.statement_in_fen),
        statement_other_in: figure(pass.other_in.0, pass.other_in.1),
        our_paid: figure(totals.our_paid_count, totals.our_paid_fen),
        totals_agree: totals.agree(),
        outcomes,
        bill_summary_agrees: pass.bill.as_ref().map(|b| b.matches()),
        bill_summary_differences: pass
            .bill
            .as_ref()
            .map(|b| b.differences.iter().map(|d| d.detail.clone()).collect())
            .unwrap_or_default(),
        unreadable_lines: pass.unreadable,
        unreadable_samples: pass.samples.clone(),
    }
}

/// Tells the finance approvers in scope of the unresolved exceptions (inbox), and those over
/// the whole union of money out that we did not send (inbox and SMS).
#[allow(clippy::too_many_arguments)]
fn notify_exceptions(
    conn: &mut DbConnection,
    channels: StaffChannels,
    run_id: &str,
    channel: StatementChannel,
    date: NaiveDate,
    items: &[db::Item],
    root: &str,
    now: DateTime<Utc>,
) -> Result<(), Stop> {
    let resolved: std::collections::HashSet<String> =
        db::resolved_keys(conn, run_id)?.into_iter().collect();
    let open: Vec<&db::Item> = items
        .iter()
        .filter(|i| !resolved.contains(&i.item_key))
        .collect();
    if open.is_empty() {
        return Ok(());
    }
    let mut per_path: BTreeMap<&str, u64> = BTreeMap::new();
    for i in &open {
        *per_path.entry(i.org_path.as_str()).or_default() += 1;
    }
    let mut per_staff: BTreeMap<String, u64> = BTreeMap::new();
    for (path, n) in per_path {
        for staff in gongyou_db::claims::staff_over(conn, Role::FinanceApprover.as_str(), path)? {
            *per_staff.entry(staff).or_default() += n;
        }
    }
    for (staff, count) in per_staff {
        notify_staff(
            conn,
            channels,
            &staff,
            Category::ReconciliationExceptions,
            serde_json::json!({
                "date": date.to_string(),
                "channel": channel.zh(),
                "count": count,
                "run_id": run_id,
            }),
            now,
        )?;
    }
    let unexpected: Vec<&&db::Item> = open
        .iter()
        .filter(|i| {
            i.outcome == Outcome::UnexpectedInStatement.as_str()
                && i.direction.as_deref() == Some("out")
        })
        .collect();
    if !unexpected.is_empty() {
        let fen: i64 = unexpected.iter().filter_map(|i| i.statement_fen).sum();
        for staff in gongyou_db::claims::staff_over(conn, Role::FinanceApprover.as_str(), root)? {
            notify_staff(
                conn,
                channels,
                &staff,
                Category::ReconciliationUnexpectedMoney,
                serde_json::json!({
                    "date": date.to_string(),
                    "channel": channel.zh(),
                    "count": unexpected.len(),
                    "amount": from_fen(fen).to_string(),
                    "run_id": run_id,
                }),
                now,
            )?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Uploads and the finance API
// ---------------------------------------------------------------------------------------

/// `POST /api/v1/finance/statements` query.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatementQuery {
    /// Which account the statement is of.
    #[param(pattern = "^(wechat|bank)$")]
    pub channel: String,
    /// The statement's day (Asia/Shanghai), over already.
    #[param(value_type = String, format = Date, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub date: String,
}

fn invalid_query(detail: impl Into<String>) -> ServiceError {
    ServiceError::invalid("request.invalid_query", detail.into())
}

fn parse_channel(s: &str) -> ServiceResult<StatementChannel> {
    StatementChannel::parse(s).ok_or_else(|| invalid_query("channel 须为 wechat 或 bank"))
}

/// A `YYYY-MM-DD` day: 400 when malformed, 422 `request.invalid_date` for a day that does
/// not exist (2026-02-30), which the pattern cannot rule out.
fn parse_date(s: &str) -> ServiceResult<NaiveDate> {
    use gongyou_domain::time::TimestampError;
    gongyou_domain::time::parse_date(s).map_err(|e| match e {
        TimestampError::NoSuchTime => {
            ServiceError::rule("request.invalid_date", format!("没有 {s} 这一天"))
        }
        TimestampError::Malformed => invalid_query("日期须为 YYYY-MM-DD 格式"),
    })
}

/// Takes a statement upload: streamed into the sealed store while it is checked (a file
/// that cannot be a statement is 422 and nothing is kept), then the day's run is queued
/// (created, or replaced in place). 409 while the day's run is running.
pub async fn upload<S, E>(
    ctx: &Context,
    actor: &Actor,
    q: StatementQuery,
    mut body: S,
) -> ServiceResult<RunView>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let staff_id = actor.staff_id()?;
    authz::scopes(actor, Role::FinanceApprover)?;
    account_owner(ctx, actor).await?;
    let channel = parse_channel(&q.channel)?;
    let date = parse_date(&q.date)?;
    let now = ctx.now();
    if date >= china_date(now) {
        return Err(ServiceError::rule(
            "statement.day_not_over",
            "只能上传已经结束的日期的对账单",
        ));
    }
    let template = match channel {
        StatementChannel::Bank => {
            let t = ctx
                .db
                .run(|conn| -> ServiceResult<StatementTemplate> {
                    let root = account_path(conn)?;
                    crate::payouts::statement_template_for(conn, &root)
                })
                .await?;
            Some(t)
        }
        StatementChannel::Wechat => None,
    };
    let template_json = template
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(ServiceError::internal)?;
    let mut writer = ctx.sealed_files.begin("statement", None).await?;
    let mut bill = BillReader::new();
    let mut bank = template
        .map(StatementReader::new)
        .transpose()
        .map_err(|e| {
            ServiceError::rule(
                "statement.unusable_template",
                format!("银行对账单格式设置不可用：{}", e.message),
            )
        })?;
    let mut size: u64 = 0;
    let refuse = |detail: String| ServiceError::rule("statement.unreadable", detail);
    let outcome: ServiceResult<()> = async {
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| {
                ServiceError::invalid("statement.upload_interrupted", format!("上传中断：{e}"))
            })?;
            size += chunk.len() as u64;
            if size > STATEMENT_MAX_BYTES {
                return Err(ServiceError::new(
                    Kind::TooLarge,
                    "statement.too_large",
                    format!("对账单不能超过 {} MB", STATEMENT_MAX_BYTES / 1024 / 1024),
                ));
            }
            match bank.as_mut() {
                Some(reader) => reader
                    .feed_with(&chunk, |_| {})
                    .map_err(|e| refuse(format!("对账单无法读取：{e}")))?,
                None => bill
                    .feed_with(&chunk, |_| {})
                    .map_err(|e| refuse(format!("资金账单无法读取：{e}")))?,
            }
            writer.write(&chunk).await?;
        }
        match bank.take() {
            Some(reader) => {
                reader
                    .finish(|_| {})
                    .map_err(|e| refuse(format!("对账单无法读取：{e}")))?;
            }
            None => {
                std::mem::take(&mut bill)
                    .finish()
                    .map_err(|e| refuse(format!("资金账单无法读取：{e}")))?;
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = outcome {
        writer.abort().await?;
        return Err(e);
    }
    let stored = writer.finish().await?;
    let file_id = stored.id.clone();
    let result = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<(Run, Option<String>)> {
                gongyou_db::lock(
                    conn,
                    &format!("reconciliation-day:{}:{date}", channel.as_str()),
                )?;
                let (run, old_file) = match db::run_of_day(conn, channel.as_str(), date)? {
                    Some(run) if run.status == RUNNING => {
                        return Err(ServiceError::conflict(
                            "reconciliation.running",
                            "该日对账正在进行，请稍后再上传",
                        ))
                    }
                    Some(run) => {
                        let old = run.file_id.clone();
                        db::update_run(
                            conn,
                            &run.id,
                            &RunChange {
                                status: Some(QUEUED.into()),
                                source: Some(Some("upload".into())),
                                file_id: Some(Some(file_id.clone())),
                                uploaded_by: Some(Some(staff_id.clone())),
                                statement_template: Some(template_json.clone()),
                                failure_code: Some(None),
                                failure_detail: Some(None),
                                updated_at: Some(now.naive_utc()),
                                ..RunChange::default()
                            },
                        )?;
                        (db::run(conn, &run.id)?.unwrap_or(run), old)
                    }
                    None => {
                        let mut run = new_run(channel, date, QUEUED, now);
                        run.source = Some("upload".into());
                        run.file_id = Some(file_id.clone());
                        run.uploaded_by = Some(staff_id.clone());
                        run.statement_template = template_json.clone();
                        if !db::insert_run(conn, &run)? {
                            return Err(ServiceError::conflict(
                                "reconciliation.running",
                                "该日对账正在进行，请稍后再上传",
                            ));
                        }
                        (run, None)
                    }
                };
                gongyou_db::files::attach(conn, &file_id, now.naive_utc())?;
                ReconcileRun {
                    run_id: run.id.clone(),
                }
                .enqueue(conn, now.naive_utc())?;
                Ok((run, old_file))
            })
        })
        .await;
    let (run, old_file) = match result {
        Ok(r) => r,
        Err(e) => {
            let _ = ctx.sealed_files.delete(&stored.id).await;
            return Err(e);
        }
    };
    if let Some(old) = old_file {
        let _ = ctx.sealed_files.delete(&old).await;
    }
    tracing::info!(run = %run.id, channel = channel.as_str(), %date, bytes = size, "statement uploaded");
    Ok(run_view(&run, 0))
}

/// `GET /api/v1/finance/reconciliations` query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RunsQuery {
    #[param(pattern = "^(wechat|bank)$")]
    pub channel: Option<String>,
    #[param(pattern = "^(waiting|overdue|queued|running|done|failed)$")]
    pub status: Option<String>,
    /// Statement days from (inclusive).
    #[param(value_type = Option<String>, format = Date, nullable = false, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub from: Option<String>,
    /// Statement days to (inclusive).
    #[param(value_type = Option<String>, format = Date, nullable = false, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")]
    pub to: Option<String>,
    /// Only runs with (true) or without (false) exceptions.
    pub with_exceptions: Option<bool>,
    /// From the previous page's `next_cursor`.
    #[param(
        pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
    )]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// Reconciliation runs, newest day first (finance approvers).
pub async fn runs(ctx: &Context, actor: &Actor, q: RunsQuery) -> ServiceResult<Page<RunView>> {
    authz::scopes(actor, Role::FinanceApprover)?;
    let page = PageRequest::new(q.cursor.clone(), q.limit)?;
    let status = match q.status.as_deref() {
        None => None,
        Some(s) => Some(RunStatus::parse(s).map(|_| s.to_owned()).ok_or_else(|| {
            invalid_query("status 须为 waiting、overdue、queued、running、done 或 failed")
        })?),
    };
    let filter = RunFilter {
        channel: q
            .channel
            .as_deref()
            .map(parse_channel)
            .transpose()?
            .map(|c| c.as_str().to_owned()),
        status,
        from: q.from.as_deref().map(parse_date).transpose()?,
        to: q.to.as_deref().map(parse_date).transpose()?,
        with_exceptions: q.with_exceptions,
    };
    let after = match page.cursor.as_deref() {
        None => None,
        Some(c) => {
            let (d, id) = c
                .split_once('.')
                .ok_or_else(|| invalid_query("cursor 无效"))?;
            Some((parse_date(d)?, id.to_owned()))
        }
    };
    ctx.db
        .run(move |conn| -> ServiceResult<Page<RunView>> {
            let rows = db::runs(conn, &filter, after, page.fetch())?;
            // One query for the page's unresolved counts.
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            let unresolved = db::unresolved_of(conn, &ids)?;
            Ok(Page::from_rows(
                rows,
                page.limit,
                |r| format!("{}.{}", r.statement_date, r.id),
                |r| run_view(&r, unresolved.get(&r.id).copied().unwrap_or(0)),
            ))
        })
        .await
}

fn run_not_found() -> ServiceError {
    ServiceError::not_found("reconciliation.not_found", "对账记录不存在")
}

fn check_id(id: &str) -> ServiceResult<()> {
    uuid::Uuid::try_parse(id)
        .map(|_| ())
        .map_err(|_| run_not_found())
}

/// One run with its summary.
pub async fn run(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<RunView> {
    authz::scopes(actor, Role::FinanceApprover)?;
    check_id(&id)?;
    ctx.db
        .run(move |conn| -> ServiceResult<RunView> {
            let run = db::run(conn, &id)?.ok_or_else(run_not_found)?;
            let unresolved = db::unresolved(conn, &run.id)?;
            Ok(run_view(&run, unresolved))
        })
        .await
}

/// Reconciles a day again from its stored statement (or fetches the bill again).
pub async fn rerun(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<RunView> {
    authz::scopes(actor, Role::FinanceApprover)?;
    account_owner(ctx, actor).await?;
    check_id(&id)?;
    let now = ctx.now();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<RunView> {
                let run = db::run(conn, &id)?.ok_or_else(run_not_found)?;
                if run.status == RUNNING || run.status == QUEUED {
                    return Err(ServiceError::conflict(
                        "reconciliation.running",
                        "该日对账正在进行",
                    ));
                }
                let status = if run.file_id.is_some() {
                    QUEUED
                } else if run.channel == StatementChannel::Wechat.as_str() {
                    WAITING
                } else {
                    return Err(ServiceError::rule(
                        "reconciliation.no_statement",
                        "该日还没有对账单，请先上传",
                    ));
                };
                db::update_run(
                    conn,
                    &run.id,
                    &RunChange {
                        status: Some(status.into()),
                        updated_at: Some(now.naive_utc()),
                        ..RunChange::default()
                    },
                )?;
                ReconcileRun {
                    run_id: run.id.clone(),
                }
                .enqueue(conn, now.naive_utc())?;
                let run = db::run(conn, &run.id)?.ok_or_else(run_not_found)?;
                let unresolved = db::unresolved(conn, &run.id)?;
                Ok(run_view(&run, unresolved))
            })
        })
        .await
}

/// `GET …/reconciliations/{id}/items` query.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ItemsQuery {
    /// One outcome (`matched` lists the matched lines); none: every exception.
    #[param(
        pattern = "^(matched|amount_mismatch|status_mismatch|missing_from_statement|unexpected_in_statement|duplicate)$"
    )]
    pub outcome: Option<String>,
    /// Only resolved (true) or only unresolved (false) exceptions.
    pub resolved: Option<bool>,
    /// From the previous page's `next_cursor` (an item id; for `matched`, an out_bill_no).
    #[param(pattern = "^([1-9][0-9]{0,17}|[0-9a-f]{32})$")]
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<i64>,
}

/// A run's items in the caller's scope (an item's scope is its payout's union; money that
/// names no payout of ours belongs to the account's union): exceptions by item id, matched
/// lines by out_bill_no.
pub async fn items(
    ctx: &Context,
    actor: &Actor,
    id: String,
    q: ItemsQuery,
) -> ServiceResult<Page<ItemView>> {
    let within = authz::scope_paths(actor, Role::FinanceApprover)?;
    check_id(&id)?;
    let page = PageRequest::new(q.cursor.clone(), q.limit)?;
    let outcome = match q.outcome.as_deref() {
        None => None,
        Some(o) => Some(outcome_of(o).ok_or_else(|| {
            invalid_query("outcome 须为 matched、amount_mismatch、status_mismatch、missing_from_statement、unexpected_in_statement 或 duplicate")
        })?),
    };
    // Exceptions page by item id (a number), matched lines by out_bill_no (their key).
    let wrong_cursor = || {
        ServiceError::rule(
            "request.invalid_cursor",
            "cursor 不是这个列表的（换了 outcome 请从第一页读起）",
        )
    };
    let (after, after_bill) = match page.cursor.as_deref() {
        None => (None, None),
        Some(c) if outcome == Some(Outcome::Matched) => {
            if c.len() == 32 && c.bytes().all(|b| b.is_ascii_hexdigit()) {
                (None, Some(c.to_ascii_lowercase()))
            } else {
                return Err(wrong_cursor());
            }
        }
        Some(c) => (Some(c.parse::<i64>().map_err(|_| wrong_cursor())?), None),
    };
    let resolved = q.resolved;
    ctx.db
        .run(move |conn| -> ServiceResult<Page<ItemView>> {
            let run = db::run(conn, &id)?.ok_or_else(run_not_found)?;
            if outcome == Some(Outcome::Matched) {
                let rows = db::matched_lines(
                    conn,
                    &run.id,
                    Some(&within),
                    after_bill.as_deref(),
                    page.fetch(),
                )?;
                return Ok(Page::from_rows(
                    rows,
                    page.limit,
                    |m| m.out_bill_no.clone(),
                    |m| ItemView {
                        id: m.line,
                        outcome: Outcome::Matched,
                        line: Some(m.line),
                        provider_no: None,
                        reference: None,
                        direction: Some(if m.direction == "in" {
                            Direction::In
                        } else {
                            Direction::Out
                        }),
                        statement_amount: Some(from_fen(m.amount_fen).to_string()),
                        booked_at: None,
                        payout_id: Some(m.payout_id),
                        attempt_id: Some(m.attempt_id),
                        out_bill_no: Some(m.out_bill_no),
                        our_amount: Some(from_fen(m.amount_fen).to_string()),
                        held: None,
                        resolution: None,
                    },
                ));
            }
            let mut rows = Vec::new();
            let mut cursor = after;
            // Filtering by resolution after the fact: read on until the page is full.
            loop {
                let batch = db::items(
                    conn,
                    &run.id,
                    outcome.map(Outcome::as_str),
                    Some(&within),
                    cursor,
                    page.fetch(),
                )?;
                let done = i64::try_from(batch.len()).unwrap_or(0) < page.fetch();
                cursor = batch.last().map(|(i, _)| i.seq).or(cursor);
                rows.extend(
                    batch
                        .into_iter()
                        .filter(|(_, r)| resolved.is_none_or(|want| r.is_some() == want)),
                );
                if done || i64::try_from(rows.len()).unwrap_or(0) >= page.fetch() {
                    break;
                }
            }
            Ok(Page::from_rows(
                rows,
                page.limit,
                |(i, _)| i.seq.to_string(),
                |(i, r)| item_view(i, r),
            ))
        })
        .await
}

/// `POST …/items/{item}/resolve` body.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveBody {
    /// What finance found and did (1–500 characters).
    #[schema(min_length = 1, max_length = 500)]
    pub note: String,
}

/// Resolves an exception (a finance approver over its payout's union; over the whole union
/// for money naming none of ours). Recorded with who and when; kept when the day is
/// reconciled again.
pub async fn resolve(
    ctx: &Context,
    actor: &Actor,
    id: String,
    seq: i64,
    body: ResolveBody,
) -> ServiceResult<ItemView> {
    let staff_id = actor.staff_id()?;
    authz::scopes(actor, Role::FinanceApprover)?;
    check_id(&id)?;
    let note = body.note.trim().to_owned();
    if note.chars().count() > 500 {
        return Err(ServiceError::invalid(
            "reconciliation.invalid_note",
            "处理说明不超过 500 个字符",
        ));
    }
    if note.is_empty() {
        return Err(ServiceError::rule(
            "reconciliation.blank_note",
            "请写明处理说明（不能只有空白）",
        ));
    }
    let now = ctx.now();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<ItemView> {
                let item_missing =
                    || ServiceError::not_found("reconciliation.item_not_found", "对账差异项不存在");
                let run = db::run(conn, &id)?.ok_or_else(run_not_found)?;
                let (item, resolution) = db::item(conn, &run.id, seq)?.ok_or_else(item_missing)?;
                let path = gongyou_domain::org::OrgPath::from_stored(item.org_path.clone());
                authz::require(&actor, Role::FinanceApprover, &path, item_missing)?;
                if resolution.is_some() {
                    return Err(ServiceError::conflict(
                        "reconciliation.already_resolved",
                        "该差异项已处理",
                    ));
                }
                let r = db::Resolution {
                    id: gongyou_domain::id::new_id(),
                    run_id: run.id.clone(),
                    item_key: item.item_key.clone(),
                    note: note.clone(),
                    resolved_by: staff_id.clone(),
                    resolved_at: now.naive_utc(),
                };
                if !db::insert_resolution(conn, &r)? {
                    return Err(ServiceError::conflict(
                        "reconciliation.already_resolved",
                        "该差异项已处理",
                    ));
                }
                tracing::info!(run = %run.id, seq, by = %staff_id, "reconciliation item resolved");
                Ok(item_view(item, Some(r)))
            })
        })
        .await
}

/// A run's exceptions in the caller's scope as CSV (UTF-8 with BOM, for spreadsheets).
pub async fn exceptions_csv(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<Vec<u8>> {
    let within = authz::scope_paths(actor, Role::FinanceApprover)?;
    check_id(&id)?;
    ctx.db
        .run(move |conn| -> ServiceResult<Vec<u8>> {
            let run = db::run(conn, &id)?.ok_or_else(run_not_found)?;
            let mut w = csv::Writer::from_writer(Vec::from(b"\xEF\xBB\xBF".as_slice()));
            let header = [
                "序号",
                "差异类型",
                "账单行",
                "微信支付业务单号",
                "业务凭证号",
                "收支",
                "账单金额(元)",
                "记账时间",
                "理赔支付编号",
                "商户单号",
                "系统金额(元)",
                "系统状态",
                "处理说明",
                "处理人",
                "处理时间",
            ];
            w.write_record(header).map_err(ServiceError::internal)?;
            let mut cursor = None;
            loop {
                let batch = db::items(conn, &run.id, None, Some(&within), cursor, 1000)?;
                let done = batch.len() < 1000;
                cursor = batch.last().map(|(i, _)| i.seq).or(cursor);
                for (i, r) in batch {
                    let o = outcome_of(&i.outcome).unwrap_or(Outcome::UnexpectedInStatement);
                    let cells = [
                        i.seq.to_string(),
                        outcome_zh(o).to_owned(),
                        i.line.map(|l| l.to_string()).unwrap_or_default(),
                        csv_text(i.provider_no.as_deref()),
                        csv_text(i.reference.as_deref()),
                        match i.direction.as_deref() {
                            Some("out") => "支出".to_owned(),
                            Some("in") => "收入".to_owned(),
                            _ => String::new(),
                        },
                        i.statement_fen
                            .map(|f| from_fen(f).to_string())
                            .unwrap_or_default(),
                        i.booked_at
                            .map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
                            .unwrap_or_default(),
                        i.payout_id.unwrap_or_default(),
                        csv_text(i.out_bill_no.as_deref()),
                        i.our_fen
                            .map(|f| from_fen(f).to_string())
                            .unwrap_or_default(),
                        match i.held.as_deref() {
                            Some("paid") => "已支付".to_owned(),
                            Some("failed") => "未成功".to_owned(),
                            Some("open") => "处理中".to_owned(),
                            _ => String::new(),
                        },
                        r.as_ref()
                            .map(|r| csv_text(Some(&r.note)))
                            .unwrap_or_default(),
                        r.as_ref()
                            .map(|r| r.resolved_by.clone())
                            .unwrap_or_default(),
                        r.as_ref()
                            .map(|r| china_time_text(utc(r.resolved_at)))
                            .unwrap_or_default(),
                    ];
                    w.write_record(&cells).map_err(ServiceError::internal)?;
                }
                if done {
                    break;
                }
            }
            w.into_inner()
                .map_err(|e| ServiceError::internal(anyhow::anyhow!("{e}")))
        })
        .await
}

/// Long numbers as text in spreadsheets (a leading tab stops Excel from rounding them), and
/// formula-looking text defused.
fn csv_text(s: Option<&str>) -> String {
    match s {
        None => String::new(),
        Some(s) if s.starts_with(['=', '+', '-', '@']) => format!("'{s}"),
        Some(s) if s.len() > 11 && s.bytes().all(|b| b.is_ascii_digit()) => format!("\t{s}"),
        Some(s) => s.to_owned(),
    }
}

/// A time as finance reads it: Beijing time, to the minute.
fn china_time_text(t: DateTime<Utc>) -> String {
    gongyou_domain::time::china_local(t)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn outcome_zh(o: Outcome) -> &'static str {
    match o {
        Outcome::Matched => "一致",
        Outcome::AmountMismatch => "金额不符",
        Outcome::StatusMismatch => "状态不符",
        Outcome::MissingFromStatement => "账单缺失",
        Outcome::UnexpectedInStatement => "非系统发起",
        Outcome::Duplicate => "重复",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_belongs_to_the_finance_approvers_common_ancestor() {
        let p = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(common_ancestor(&p(&["/a/b/"])), Some("/a/b/".into()));
        assert_eq!(
            common_ancestor(&p(&["/a/b/c/", "/a/b/"])),
            Some("/a/b/".into())
        );
        assert_eq!(common_ancestor(&p(&["/a/b/", "/a/c/"])), Some("/a/".into()));
        assert_eq!(common_ancestor(&p(&["/a/b/", "/x/"])), None);
        assert_eq!(common_ancestor(&[]), None);
    }
}
