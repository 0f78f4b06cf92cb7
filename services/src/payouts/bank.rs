//! Bank payouts (批量代发): each union sets its bank's templates (the transfer file's columns,
//! order, separator and encoding; the result file's layout), the file of an approved bank
//! batch is served once to a finance approver, and the bank's result file settles the batch.
//!
//! Account numbers leave the system only in that file: taking it opens one attempt per payout
//! (its `out_bill_no` is the file's reference) and is logged (who, when, how many rows; never
//! an account). A payee whose name the file's encoding cannot write is refused for that payout
//! with the reason, never written mangled.

use chrono::{DateTime, Utc};
use gongyou_db::payouts::{self as db, Change, Settings};
use gongyou_db::{write_tx, DbConnection};
use gongyou_domain::bank_file::{
    parse_results, write_transfer_file, BankOutcome, BankResultTemplate, BankRow, BankTemplate,
};
use gongyou_domain::bank_statement::StatementTemplate;
use gongyou_domain::org::OrgPath;
use gongyou_domain::payout::{Channel, PayoutStatus};
use gongyou_domain::staff::Role;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::batches::batch_in_scope;
use super::{apply_move, bank_account, follow_claim, internal, status_of, Move, Who};
use crate::actor::Actor;
use crate::authz;
use crate::error::{ServiceError, ServiceResult};
use crate::Context;

/// The most a bank result file may be.
pub const RESULT_FILE_MAX_BYTES: usize = 8 * 1024 * 1024;

/// The templates that apply to an org: its own, else its nearest ancestor's, else the
/// default; with the org whose setting it is (None: the default).
fn templates_for(
    conn: &mut DbConnection,
    org_path: &str,
) -> ServiceResult<(BankTemplate, BankResultTemplate, Option<String>)> {
    let ids: Vec<String> = OrgPath::from_stored(org_path.to_owned())
        .ids()
        .map(str::to_owned)
        .collect();
    for id in ids.iter().rev() {
        if let Some(s) = db::settings(conn, id)? {
            let bank = serde_json::from_str(&s.bank_template)
                .map_err(|e| internal(&format!("bank template: {e}")))?;
            let result = serde_json::from_str(&s.result_template)
                .map_err(|e| internal(&format!("result template: {e}")))?;
            return Ok((bank, result, Some(id.clone())));
        }
    }
    Ok((BankTemplate::default(), BankResultTemplate::default(), None))
}

/// The bank statement layout that applies to an org (reconciliation): that of the nearest
/// org, itself or an ancestor, whose setting has one; else the default.
pub fn statement_template_for(
    conn: &mut DbConnection,
    org_path: &str,
) -> ServiceResult<StatementTemplate> {
    let ids: Vec<String> = OrgPath::from_stored(org_path.to_owned())
        .ids()
        .map(str::to_owned)
        .collect();
    for id in ids.iter().rev() {
        if let Some(json) = db::settings(conn, id)?.and_then(|s| s.statement_template) {
            return serde_json::from_str(&json)
                .map_err(|e| internal(&format!("statement template: {e}")));
        }
    }
    Ok(StatementTemplate::default())
}

/// A bank transfer file, served once.
#[derive(Debug, Clone)]
pub struct BankFile {
    pub filename: String,
    /// `text/csv; charset=GBK` or `…=UTF-8`.
    pub content_type: String,
    pub bytes: Vec<u8>,
    pub rows: usize,
    /// Payouts left out (a name the encoding cannot write, a separator in a cell…), each
    /// failed with its reason.
    pub refused: usize,
}

/// The transfer file of an approved bank batch, to a finance approver in scope, once: every
/// payout in it gets its attempt (the reference column), payouts refused by the template
/// fail with the reason.
pub async fn bank_file(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<BankFile> {
    let staff_id = actor.staff_id()?;
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    let file = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<BankFile> {
                let b = batch_in_scope(conn, &actor, &id)?;
                if b.channel != "bank" {
                    return Err(ServiceError::rule(
                        "batch.not_bank",
                        "这是微信转账批次，没有银行文件",
                    ));
                }
                if b.status != "approved" {
                    return Err(ServiceError::rule(
                        "batch.not_approved",
                        "批次须经另一位财务审批人审批后才能导出银行文件",
                    ));
                }
                if !db::take_file(conn, &b.id, &staff_id, now.naive_utc())? {
                    return Err(ServiceError::conflict(
                        "batch.file_taken",
                        "银行文件只能导出一次，已被导出",
                    ));
                }
                let (template, _, _) = templates_for(conn, &b.org_path)?;
                let mut attempts = Vec::new();
                let mut accounts = Vec::new();
                for p in db::of_batch(conn, &b.id)? {
                    if status_of(&p)? != PayoutStatus::Pending || p.payee_kind != "bank" {
                        continue;
                    }
                    let (holder, bank, account) = bank_account(&ctx2, conn, &p)?;
                    let mut a = super::new_attempt(&p, Channel::Bank, now);
                    a.state = "EXPORTED".into();
                    a.sends = 1;
                    a.sent_at = Some(now.naive_utc());
                    accounts.push((holder, bank, account));
                    attempts.push((p, a));
                }
                let rows: Vec<BankRow<'_>> = attempts
                    .iter()
                    .zip(&accounts)
                    .map(|((_, a), (holder, bank, account))| BankRow {
                        reference: &a.out_bill_no,
                        payee_name: holder,
                        account,
                        bank,
                        amount_fen: a.amount_fen,
                        remark: &a.remark,
                        phone: "",
                    })
                    .collect();
                let written = write_transfer_file(&template, &rows).map_err(|e| {
                    ServiceError::rule("payout.bank_template_invalid", e.message.clone())
                })?;
                for (p, a) in &attempts {
                    db::insert_attempt(conn, a)?;
                    let refused = written
                        .refused
                        .iter()
                        .find(|r| r.reference == a.out_bill_no);
                    let moved = match refused {
                        None => apply_move(
                            conn,
                            Move {
                                payout: p,
                                to: PayoutStatus::Sending,
                                change: Change {
                                    open_attempt_id: Some(Some(a.id.clone())),
                                    attempts: Some(p.attempts + 1),
                                    ..Change::default()
                                },
                                who: Who::Staff(staff_id.clone()),
                                action: "export",
                                attempt_id: Some(a.id.clone()),
                                reason_code: None,
                                note: None,
                            },
                            now,
                        )?,
                        Some(r) => {
                            db::update_attempt(
                                conn,
                                &a.id,
                                &db::AttemptChange {
                                    state: Some("FAIL".into()),
                                    fail_reason: Some(Some(r.reason_code.to_owned())),
                                    final_at: Some(Some(now.naive_utc())),
                                    ..db::AttemptChange::default()
                                },
                                now.naive_utc(),
                            )?;
                            let code = format!("bank_file_{}", r.reason_code);
                            let moved = apply_move(
                                conn,
                                Move {
                                    payout: p,
                                    to: PayoutStatus::Failed,
                                    change: Change {
                                        open_attempt_id: Some(Some(a.id.clone())),
                                        attempts: Some(p.attempts + 1),
                                        failure_code: Some(Some(code.clone())),
                                        failure_detail: Some(Some(r.detail.clone())),
                                        ..Change::default()
                                    },
                                    who: Who::Staff(staff_id.clone()),
                                    action: "export_refused",
                                    attempt_id: Some(a.id.clone()),
                                    reason_code: Some(code.clone()),
                                    note: Some(r.detail.clone()),
                                },
                                now,
                            )?;
                            if moved {
                                let p = db::get(conn, &p.id)?.ok_or_else(|| internal("payout"))?;
                                follow_claim(
                                    &ctx2,
                                    conn,
                                    &p,
                                    PayoutStatus::Failed,
                                    Some(&code),
                                    now,
                                )?;
                            }
                            moved
                        }
                    };
                    if !moved {
                        return Err(ServiceError::conflict(
                            "payout.changed",
                            "批次中的支付记录刚被处理，请重试",
                        ));
                    }
                }
                let charset = match template.encoding {
                    gongyou_domain::bank_file::FileEncoding::Gbk => "GBK",
                    gongyou_domain::bank_file::FileEncoding::Utf8 => "UTF-8",
                };
                tracing::info!(
                    batch = %b.id, staff = %staff_id, rows = written.rows,
                    refused = written.refused.len(), "bank transfer file taken"
                );
                Ok(BankFile {
                    filename: format!("payouts-{}.csv", b.id),
                    content_type: format!("text/csv; charset={charset}"),
                    bytes: written.bytes,
                    rows: written.rows,
                    refused: written.refused.len(),
                })
            })
        })
        .await?;
    Ok(file)
}

/// What an imported result file did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BankImportReport {
    pub paid: usize,
    pub failed: usize,
    /// Lines about payouts already settled (a file imported twice changes nothing).
    pub unchanged: usize,
    /// Lines not applied, with why (zh-CN).
    pub errors: Vec<BankLineError>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BankLineError {
    pub line: usize,
    pub detail: String,
}

fn results_too_large() -> ServiceError {
    ServiceError::new(
        crate::Kind::TooLarge,
        "batch.results_too_large",
        "结果文件不能超过 8 MB",
    )
}

/// The bank's result file from the request body as it streams in, refused once it passes
/// [`RESULT_FILE_MAX_BYTES`] (the JSON body limit does not apply to it).
pub async fn read_result_file<S, E>(mut body: S) -> ServiceResult<Vec<u8>>
where
    S: futures_util::Stream<Item = Result<bytes::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    use futures_util::StreamExt;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            ServiceError::invalid("batch.upload_interrupted", format!("上传中断：{e}"))
        })?;
        if bytes.len() + chunk.len() > RESULT_FILE_MAX_BYTES {
            return Err(results_too_large());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

/// Settles a bank batch from the bank's result file: each line's reference is an attempt of
/// this batch; paid or failed as the bank says (a differing amount is an error, not applied).
pub async fn import_bank_results(
    ctx: &Context,
    actor: &Actor,
    id: String,
    bytes: Vec<u8>,
) -> ServiceResult<BankImportReport> {
    if bytes.len() > RESULT_FILE_MAX_BYTES {
        return Err(results_too_large());
    }
    let now = ctx.now();
    let (ctx2, actor) = (ctx.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<BankImportReport> {
                let b = batch_in_scope(conn, &actor, &id)?;
                let staff_id = actor.staff_id()?;
                if b.channel != "bank" || b.file_taken_at.is_none() {
                    return Err(ServiceError::rule(
                        "batch.no_file",
                        "该批次尚未导出银行文件，没有可对应的结果",
                    ));
                }
                let (_, template, _) = templates_for(conn, &b.org_path)?;
                let (results, line_errors) = parse_results(&template, &bytes).map_err(|e| {
                    ServiceError::rule("payout.result_template_invalid", e.message.clone())
                })?;
                let mut report = BankImportReport {
                    paid: 0,
                    failed: 0,
                    unchanged: 0,
                    errors: line_errors
                        .into_iter()
                        .map(|e| BankLineError {
                            line: e.line,
                            detail: e.detail,
                        })
                        .collect(),
                };
                let who = Who::Staff(staff_id.clone());
                for r in results {
                    let a = db::attempt_by_bill(conn, &r.reference)?;
                    let payout = match &a {
                        Some(a) => db::get(conn, &a.payout_id)?,
                        None => None,
                    };
                    let (Some(a), Some(p)) = (a, payout) else {
                        report.errors.push(BankLineError {
                            line: r.line,
                            detail: format!("业务参考号 {} 不属于这个批次", r.reference),
                        });
                        continue;
                    };
                    if p.batch_id.as_deref() != Some(b.id.as_str()) || a.channel != "bank" {
                        report.errors.push(BankLineError {
                            line: r.line,
                            detail: format!("业务参考号 {} 不属于这个批次", r.reference),
                        });
                        continue;
                    }
                    if let Some(fen) = r.amount_fen {
                        if fen != a.amount_fen {
                            report.errors.push(BankLineError {
                                line: r.line,
                                detail: format!(
                                    "业务参考号 {} 的金额 {} 元与应付 {} 元不符，未处理",
                                    r.reference,
                                    gongyou_domain::money::from_fen(fen),
                                    gongyou_domain::money::from_fen(a.amount_fen)
                                ),
                            });
                            continue;
                        }
                    }
                    let (paid, reason) = match &r.outcome {
                        BankOutcome::Paid => (true, None),
                        BankOutcome::Failed { reason } => (false, Some(reason.as_str())),
                    };
                    let reason = reason.filter(|s| !s.is_empty());
                    if super::send::settle_bank(&ctx2, conn, &a, paid, reason, &who, now)? {
                        if paid {
                            report.paid += 1;
                        } else {
                            report.failed += 1;
                        }
                    } else {
                        report.unchanged += 1;
                    }
                }
                db::results_imported(conn, &b.id, now.naive_utc())?;
                Ok(report)
            })
        })
        .await
}

/// A union's bank templates.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PayoutSettingsView {
    pub org_id: String,
    /// The transfer file: `columns` (each `{field, header}`; `field` one of `payee_name`,
    /// `account`, `bank`, `amount_yuan`, `purpose`, `reference`, `remark`, `phone`, or
    /// `literal` with a `value`), `separator`, `encoding` (`gbk` | `utf8`), `header_row`,
    /// `line_ending` (`crlf` | `lf`), `purpose`.
    #[schema(value_type = BankTemplateSchema)]
    pub bank_template: serde_json::Value,
    /// The bank's result file: `encoding`, `separator`, `skip_rows`, `reference_column`,
    /// `status_column`, `amount_column`, `reason_column` (0-based), `success_values`,
    /// `failure_values`.
    #[schema(value_type = ResultTemplateSchema)]
    pub result_template: serde_json::Value,
    /// The bank account statement (对账单) reconciliation reads: `encoding`, `separator`,
    /// `skip_rows`, `date_column`, `time_column`, `amounts` (`{kind: debit_credit,
    /// debit_column, credit_column}` or `{kind: signed, amount_column}`),
    /// `reference_columns`, `serial_column`, `counterparty_column` (0-based). The nearest
    /// org's that set one (this one or an ancestor), else the default.
    #[schema(value_type = StatementTemplateSchema)]
    pub statement_template: serde_json::Value,
    /// The org whose setting applies (this one or an ancestor); absent: the default.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub set_at: Option<String>,
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PayoutSettingsBody {
    /// As in the view; omitted fields take the default. Besides the schema: the columns
    /// name `payee_name`, `account`, `amount_yuan` and `reference` exactly once each, headers
    /// are distinct and hold neither the separator nor quotes (422 `payout.unusable_template`).
    #[schema(value_type = BankTemplateSchema)]
    pub bank_template: serde_json::Value,
    /// Besides the schema: the named columns are distinct and no status value is in both
    /// lists (422 `payout.unusable_template`).
    #[schema(value_type = ResultTemplateSchema)]
    pub result_template: serde_json::Value,
    /// Optional: absent, the stored statement layout (or none) stays as it is. Besides the
    /// schema: no column is named twice across fields (422 `payout.unusable_template`).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = StatementTemplateSchema, required = false)]
    pub statement_template: Option<serde_json::Value>,
}

/// A field that is present, whatever its value (`null` too, which is then refused as a
/// template rather than taken for an absent field).
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<serde_json::Value>, D::Error> {
    serde_json::Value::deserialize(deserializer).map(Some)
}

fn settings_view(
    conn: &mut DbConnection,
    org: &gongyou_db::orgs::Org,
) -> ServiceResult<PayoutSettingsView> {
    let (bank, result, set_at) = templates_for(conn, &org.path)?;
    let statement = statement_template_for(conn, &org.path)?;
    Ok(PayoutSettingsView {
        org_id: org.id.clone(),
        bank_template: serde_json::to_value(bank).map_err(ServiceError::internal)?,
        result_template: serde_json::to_value(result).map_err(ServiceError::internal)?,
        statement_template: serde_json::to_value(statement).map_err(ServiceError::internal)?,
        set_at,
    })
}

/// Whole numbers written as floats (`5.0`) as integers, as JSON Schema's `integer` allows.
fn integral_numbers(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64() {
                if f.fract() == 0.0 && f.abs() < 9.0e15 {
                    *v = serde_json::Value::from(f as i64);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        serde_json::Value::Object(map) => map.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// The bank templates that apply to an org (finance approvers in scope).
pub async fn payout_settings(
    ctx: &Context,
    actor: &Actor,
    org_id: String,
) -> ServiceResult<PayoutSettingsView> {
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            let org = authz::org_in_scope(conn, &actor, Role::FinanceApprover, &org_id)?;
            settings_view(conn, &org)
        })
        .await
}

/// Sets an org's bank templates (checked: a template that cannot make a file is refused).
pub async fn put_payout_settings(
    ctx: &Context,
    actor: &Actor,
    org_id: String,
    body: PayoutSettingsBody,
) -> ServiceResult<PayoutSettingsView> {
    let staff_id = actor.staff_id()?;
    let malformed = |what: &str, e: String| {
        ServiceError::invalid("payout.invalid_template", format!("{what}无效：{e}"))
    };
    let unusable = |what: &str, e: String| {
        ServiceError::rule("payout.unusable_template", format!("{what}不可用：{e}"))
    };
    let (mut bank_json, mut result_json) = (body.bank_template, body.result_template);
    integral_numbers(&mut bank_json);
    integral_numbers(&mut result_json);
    let bank: BankTemplate =
        serde_json::from_value(bank_json).map_err(|e| malformed("银行文件模板", e.to_string()))?;
    bank.validate()
        .map_err(|e| unusable("银行文件模板", e.message))?;
    let result: BankResultTemplate = serde_json::from_value(result_json)
        .map_err(|e| malformed("结果文件格式", e.to_string()))?;
    result
        .validate()
        .map_err(|e| unusable("结果文件格式", e.message))?;
    let statement = match body.statement_template {
        None => None,
        Some(mut json) => {
            integral_numbers(&mut json);
            let statement: StatementTemplate =
                serde_json::from_value(json).map_err(|e| malformed("对账单格式", e.to_string()))?;
            statement
                .validate()
                .map_err(|e| unusable("对账单格式", e.message))?;
            Some(serde_json::to_string(&statement).map_err(ServiceError::internal)?)
        }
    };
    let now: DateTime<Utc> = ctx.now();
    let actor = actor.clone();
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<PayoutSettingsView> {
                let org = authz::org_in_scope(conn, &actor, Role::FinanceApprover, &org_id)?;
                db::put_settings(
                    conn,
                    &Settings {
                        org_id: org.id.clone(),
                        bank_template: serde_json::to_string(&bank)
                            .map_err(ServiceError::internal)?,
                        result_template: serde_json::to_string(&result)
                            .map_err(ServiceError::internal)?,
                        updated_by: staff_id.clone(),
                        updated_at: now.naive_utc(),
                        // None leaves the stored layout as it is.
                        statement_template: statement.clone(),
                    },
                )?;
                settings_view(conn, &org)
            })
        })
        .await
}

/// A separator: a tab, or ASCII punctuation other than `"` and `.`.
const SEPARATOR_PATTERN: &str = r#"^[\t!#$%&'()*+,\-/:;<=>?@\[\\\]^_`{|}~]$"#;

fn string_enum(values: &[&str]) -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .enum_values(Some(values.iter().map(|v| (*v).to_owned())))
}

fn separator_schema() -> utoipa::openapi::schema::ObjectBuilder {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .min_length(Some(1))
        .max_length(Some(1))
        .pattern(Some(SEPARATOR_PATTERN))
}

/// The JSON of a transfer-file template (`gongyou_domain::bank_file::BankTemplate`).
pub struct BankTemplateSchema;

impl utoipa::PartialSchema for BankTemplateSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use gongyou_domain::bank_file::{MAX_COLUMNS, MAX_FIXED_CHARS, MAX_HEADER_CHARS};
        use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Type};
        let text = |max: usize| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .max_length(Some(max))
                .pattern(Some(r#"^[^\x00-\x1F\x7F"]*$"#))
        };
        // A literal column carries its text in `value`; no other column has one.
        let column = utoipa::openapi::schema::OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .property(
                        "field",
                        string_enum(&[
                            "payee_name",
                            "account",
                            "bank",
                            "amount_yuan",
                            "purpose",
                            "reference",
                            "remark",
                            "phone",
                        ]),
                    )
                    .property("header", text(MAX_HEADER_CHARS).min_length(Some(1)))
                    .required("field")
                    .required("header")
                    .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            )
            .item(
                ObjectBuilder::new()
                    .property("field", string_enum(&["literal"]))
                    .property("header", text(MAX_HEADER_CHARS).min_length(Some(1)))
                    .property(
                        "value",
                        text(MAX_FIXED_CHARS).description(Some("The fixed text on every row.")),
                    )
                    .required("field")
                    .required("header")
                    .required("value")
                    .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            );
        ObjectBuilder::new()
            .description(Some(
                "A bank transfer file's layout; omitted fields take the default (收款人姓名, 收款账号, 开户行, 金额(元), 用途, 业务参考号; comma; GBK; CRLF; a header row; purpose 报销).",
            ))
            .property(
                "columns",
                ArrayBuilder::new()
                    .items(column)
                    .min_items(Some(4))
                    .max_items(Some(MAX_COLUMNS)),
            )
            .property("separator", separator_schema())
            .property("encoding", string_enum(&["gbk", "utf8"]))
            .property(
                "header_row",
                ObjectBuilder::new().schema_type(Type::Boolean),
            )
            .property("line_ending", string_enum(&["crlf", "lf"]))
            .property("purpose", text(MAX_FIXED_CHARS))
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl utoipa::ToSchema for BankTemplateSchema {}

/// The JSON of a bank result-file layout (`gongyou_domain::bank_file::BankResultTemplate`).
pub struct ResultTemplateSchema;

impl utoipa::PartialSchema for ResultTemplateSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use gongyou_domain::bank_file::{MAX_RESULT_COLUMNS, MAX_SKIP_ROWS};
        use utoipa::openapi::schema::{AdditionalProperties, ArrayBuilder, ObjectBuilder, Type};
        let index = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(MAX_RESULT_COLUMNS - 1))
        };
        let optional_index = || {
            ObjectBuilder::new()
                .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::Integer,
                    Type::Null,
                ]))
                .minimum(Some(0))
                .maximum(Some(MAX_RESULT_COLUMNS - 1))
        };
        let values = || {
            ArrayBuilder::new().min_items(Some(1)).items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r"\S")),
            )
        };
        ObjectBuilder::new()
            .description(Some(
                "A bank result file's layout (0-based columns); omitted fields take the default (the default transfer file echoed with 处理结果 and 失败原因 appended; one header line).",
            ))
            .property("encoding", string_enum(&["gbk", "utf8"]))
            .property("separator", separator_schema())
            .property(
                "skip_rows",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(MAX_SKIP_ROWS)),
            )
            .property("reference_column", index())
            .property("status_column", index())
            .property("amount_column", optional_index())
            .property("reason_column", optional_index())
            .property("success_values", values())
            .property("failure_values", values())
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl utoipa::ToSchema for ResultTemplateSchema {}

/// A statement separator: a tab, or ASCII punctuation that stands in no date, time, amount
/// or cell mark (`gongyou_domain::bank_statement::SEPARATORS`).
const STATEMENT_SEPARATOR_PATTERN: &str = r#"^[\t!#$%&()*,;<>?@\[\\\]^_`{|}~]$"#;

/// The JSON of a bank statement layout (`gongyou_domain::bank_statement::StatementTemplate`).
pub struct StatementTemplateSchema;

impl utoipa::PartialSchema for StatementTemplateSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use gongyou_domain::bank_file::MAX_SKIP_ROWS;
        use gongyou_domain::bank_statement::{MAX_REFERENCE_COLUMNS, MAX_STATEMENT_COLUMNS};
        use utoipa::openapi::schema::{
            AdditionalProperties, ArrayBuilder, ObjectBuilder, OneOfBuilder, SchemaType, Type,
        };
        let index = || {
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0))
                .maximum(Some(MAX_STATEMENT_COLUMNS - 1))
        };
        let optional_index = || {
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
                .minimum(Some(0))
                .maximum(Some(MAX_STATEMENT_COLUMNS - 1))
        };
        let amounts = OneOfBuilder::new()
            .description(Some(
                "Where the amount is: 借方 (money out) and 贷方 (money in) columns, a line filling exactly one; or one signed column, negative when money went out.",
            ))
            .item(
                ObjectBuilder::new()
                    .property("kind", string_enum(&["debit_credit"]))
                    .property("debit_column", index())
                    .property("credit_column", index())
                    .required("kind")
                    .required("debit_column")
                    .required("credit_column")
                    .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            )
            .item(
                ObjectBuilder::new()
                    .property("kind", string_enum(&["signed"]))
                    .property("amount_column", index())
                    .required("kind")
                    .required("amount_column")
                    .additional_properties(Some(AdditionalProperties::FreeForm(false))),
            );
        ObjectBuilder::new()
            .description(Some(
                "A bank account statement's layout (0-based columns); omitted fields take the default: GBK, comma, one header line, 0 交易日期, 1 交易时间, 2 借方发生额(支出), 3 贷方发生额(收入), 4 余额, 5 对方户名, 6 对方账号, 7 摘要, 8 用途/附言, 9 流水号 (our reference searched in 8, then 7). Dates read as 2026-12-05, 2026/12/05, 20261205 or 2026年12月05日, with a time or not.",
            ))
            .property("encoding", string_enum(&["gbk", "utf8"]))
            .property(
                "separator",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .min_length(Some(1))
                    .max_length(Some(1))
                    .pattern(Some(STATEMENT_SEPARATOR_PATTERN)),
            )
            .property(
                "skip_rows",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(0))
                    .maximum(Some(MAX_SKIP_ROWS)),
            )
            .property("date_column", index())
            .property("time_column", optional_index())
            .property("amounts", amounts)
            .property(
                "reference_columns",
                ArrayBuilder::new()
                    .items(index())
                    .min_items(Some(1))
                    .max_items(Some(MAX_REFERENCE_COLUMNS))
                    .unique_items(true)
                    .description(Some(
                        "Cells searched, in this order, for the payout's out_bill_no (32 hexadecimal digits) in 用途/附言/摘要.",
                    )),
            )
            .property("serial_column", optional_index())
            .property("counterparty_column", optional_index())
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .into()
    }
}

impl utoipa::ToSchema for StatementTemplateSchema {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_separator_pattern_lists_exactly_the_domains_separators() {
        use gongyou_domain::bank_statement::SEPARATORS;
        let mut class = String::new();
        for c in SEPARATORS.chars() {
            match c {
                '\t' => class.push_str("\\t"),
                '[' | ']' | '\\' => {
                    class.push('\\');
                    class.push(c);
                }
                c => class.push(c),
            }
        }
        assert_eq!(STATEMENT_SEPARATOR_PATTERN, format!("^[{class}]$"));
    }
}
