//! Visits and reports: workers check in by scanning a station's QR (at most one visit per
//! worker and station in a rolling hour) and report problems; the station's managers see
//! visit statistics, and are told of reports through the outbox.

use chrono::{DateTime, NaiveDate, Utc};
use gongyou_db::stations::{self as db, Report, Visit};
use gongyou_db::{write_tx, DbConnection};
use gongyou_domain::notification::Category;
use gongyou_domain::station::{ReportKind, StationStatus};
use gongyou_domain::time::china_date;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{bad, managed, station_code_valid, station_not_found};
use crate::actor::Actor;
use crate::crypto::DataCrypto;
use crate::error::{ServiceError, ServiceResult};
use crate::notifications::outbox::{notify_staff, StaffChannels};
use crate::page::{Page, PageRequest};
use crate::text::ReportNote;
use crate::Context;

/// Check-ins within this long of a visit return that visit.
const VISIT_WINDOW: chrono::Duration = chrono::Duration::hours(1);
/// Reports one worker may file at one station per day…
const REPORTS_PER_DAY: i64 = 5;
/// …and at all stations together: each report reaches every manager of its station, so one
/// worker must not be able to fan notices out across the country.
const REPORTS_PER_WORKER_DAY: i64 = 10;
/// The longest stats range.
const MAX_STATS_DAYS: i64 = 366;

pub const SOURCE_CHECK_IN: &str = "check_in";
pub const SOURCE_CARD: &str = "card_verification";

/// The keyed hash stored for a visitor (ADR 011): per station too, so one worker's visits
/// to different stations cannot be linked to each other.
fn visitor(crypto: &DataCrypto, station_id: &str, user_id: &str) -> String {
    crypto.blind_index("station-visitor", &format!("{station_id}:{user_id}"))
}

/// Records a visit (inside the caller's transaction), unless one is within the hour.
/// Concurrent check-ins of one visitor are serialized by `visit_once`.
pub(crate) fn record_visit(
    conn: &mut DbConnection,
    crypto: &DataCrypto,
    station_id: &str,
    user_id: &str,
    source: &str,
    now: DateTime<Utc>,
) -> Result<(Visit, bool), gongyou_db::DbError> {
    db::visit_once(
        conn,
        &Visit {
            id: gongyou_domain::id::new_id(),
            station_id: station_id.to_owned(),
            visitor: visitor(crypto, station_id, user_id),
            source: source.to_owned(),
            visited_at: now.naive_utc(),
            visited_on: china_date(now),
        },
        (now - VISIT_WINDOW).naive_utc(),
    )
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CheckIn {
    /// The code the station's QR carries.
    #[schema(max_length = 200)]
    pub station_code: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VisitView {
    pub id: String,
    pub station_id: String,
    pub visited_at: DateTime<Utc>,
    /// True when this check-in repeated a visit within the hour (that visit is returned).
    pub repeat: bool,
}

/// Checks in at a station (workers): a new visit, or the visit already made within the last
/// hour (`repeat`).
pub async fn check_in(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: CheckIn,
) -> ServiceResult<VisitView> {
    let user_id = actor.user_id()?.to_owned();
    let code_invalid = || {
        ServiceError::rule(
            "station.code_invalid",
            "驿站二维码无效或已更换，请扫描驿站现在张贴的二维码",
        )
    };
    if body.station_code.len() > 200 || !body.station_code.starts_with(&format!("GYS1.{id}.")) {
        return Err(code_invalid());
    }
    let now = ctx.now();
    let (crypto, tokens) = (ctx.crypto.clone(), ctx.tokens.clone());
    let (visit, new) = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<(Visit, bool)> {
                let station = db::get(conn, &id)?.ok_or_else(station_not_found)?;
                if !station_code_valid(&tokens, &station, &body.station_code) {
                    return Err(code_invalid());
                }
                if station.status == StationStatus::Closed.as_str() {
                    return Err(ServiceError::conflict("station.closed", "该驿站已关闭"));
                }
                Ok(record_visit(
                    conn,
                    &crypto,
                    &station.id,
                    &user_id,
                    SOURCE_CHECK_IN,
                    now,
                )?)
            })
        })
        .await?;
    Ok(VisitView {
        id: visit.id,
        station_id: visit.station_id,
        visited_at: visit.visited_at.and_utc(),
        repeat: !new,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DayStats {
    pub date: NaiveDate,
    pub visits: i64,
    pub visitors: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationStats {
    pub station_id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Every day of the range, days without visits included.
    pub days: Vec<DayStats>,
    pub total_visits: i64,
    /// Distinct workers over the whole range.
    pub distinct_visitors: i64,
}

/// Visits per day and distinct visitors (check-ins and member-card verifications) from
/// `from` (default 29 days before `to`) to `to` (default today), for the station's managers
/// and union admins over it.
pub async fn stats(
    ctx: &Context,
    actor: &Actor,
    id: String,
    from: Option<String>,
    to: Option<String>,
) -> ServiceResult<StationStats> {
    actor.staff()?;
    let today = china_date(ctx.now());
    let invalid = || {
        ServiceError::rule(
            "station.invalid_range",
            "统计区间须在 2000-01-01 至明天之间，from 不晚于 to，且不超过 366 天",
        )
    };
    let date = |s: Option<String>| -> ServiceResult<Option<NaiveDate>> {
        use gongyou_domain::time::{parse_date, TimestampError};
        s.map(|s| {
            parse_date(&s).map_err(|e| match e {
                TimestampError::Malformed => bad("request.invalid_query", "日期须为 YYYY-MM-DD"),
                TimestampError::NoSuchTime => invalid(),
            })
        })
        .transpose()
    };
    let (from, to) = (date(from)?, date(to)?);
    let earliest = NaiveDate::from_ymd_opt(2000, 1, 1).ok_or_else(invalid)?;
    let latest = today.succ_opt().unwrap_or(today);
    let to = to.unwrap_or(today);
    if to < earliest || to > latest {
        return Err(invalid());
    }
    let from = match from {
        Some(from) => from,
        None => to
            .checked_sub_days(chrono::Days::new(29))
            .ok_or_else(invalid)?,
    };
    if from < earliest || from > to || (to - from).num_days() >= MAX_STATS_DAYS {
        return Err(invalid());
    }
    let caller = actor.clone();
    let (station_id, per_day, distinct) = ctx
        .db
        .run(move |conn| -> ServiceResult<_> {
            let (station, _) = managed(conn, &caller, &id)?;
            let (days, distinct) = db::visit_stats(conn, &station.id, from, to)?;
            Ok((station.id, days, distinct))
        })
        .await?;
    let mut days = Vec::new();
    let mut day = from;
    let mut rows = per_day.into_iter().peekable();
    while day <= to {
        let (visits, visitors) = match rows.peek() {
            Some((d, v, u)) if *d == day => {
                let counts = (*v, *u);
                rows.next();
                counts
            }
            _ => (0, 0),
        };
        days.push(DayStats {
            date: day,
            visits,
            visitors,
        });
        let Some(next) = day.succ_opt() else { break };
        day = next;
    }
    Ok(StationStats {
        station_id,
        from,
        to,
        total_visits: days.iter().map(|d| d.visits).sum(),
        distinct_visitors: distinct,
        days,
    })
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct NewReport {
    /// `closed_when_open`, `amenity_missing`, `wrong_location`, `unsafe_or_dirty` or `other`.
    #[schema(value_type = ReportKind)]
    pub kind: String,
    /// Up to 500 characters; required for `other`.
    #[schema(value_type = Option<ReportNote>, inline)]
    pub note: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub id: String,
    pub station_id: String,
    pub kind: String,
    pub note: Option<String>,
    /// `open` or `resolved`.
    pub status: String,
    pub resolution: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

fn report_view(r: Report) -> ReportView {
    ReportView {
        id: r.id,
        station_id: r.station_id,
        kind: r.kind,
        note: r.note,
        status: r.status,
        resolution: r.resolution,
        resolved_at: r.resolved_at.map(|t| t.and_utc()),
        created_at: r.created_at.and_utc(),
    }
}

/// Reports a problem at a station (workers); its managers are told in their inbox.
pub async fn report(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: NewReport,
) -> ServiceResult<ReportView> {
    let user_id = actor.user_id()?.to_owned();
    let kind = ReportKind::parse(&body.kind).ok_or_else(|| {
        bad(
            "station.invalid_report",
            "kind 须为 closed_when_open、amenity_missing、wrong_location、unsafe_or_dirty 或 other",
        )
    })?;
    let note = ReportNote::RULE
        .check_optional(body.note.as_deref())
        .map_err(|()| bad("station.invalid_report", "说明不能超过 500 个字符"))?;
    if kind == ReportKind::Other && note.is_none() {
        return Err(ServiceError::rule(
            "station.note_required",
            "请说明遇到的问题",
        ));
    }
    let now = ctx.now();
    let staff_channels = StaffChannels::of(ctx);
    let created = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Report> {
                let station = db::get(conn, &id)?.ok_or_else(station_not_found)?;
                // Parallel reports by one worker count one after another.
                db::lock(conn, &format!("report:{user_id}"))?;
                let day_ago = (now - chrono::Duration::days(1)).naive_utc();
                let too_many = |detail: &'static str| {
                    ServiceError::rate_limited(
                        "station.too_many_reports",
                        std::time::Duration::from_secs(3600),
                    )
                    .with_detail(detail)
                };
                if db::recent_reports_by(conn, &station.id, &user_id, day_ago)? >= REPORTS_PER_DAY {
                    return Err(too_many("您今天对该驿站的反馈已达上限，请明天再试"));
                }
                if db::recent_reports_by_reporter(conn, &user_id, day_ago)?
                    >= REPORTS_PER_WORKER_DAY
                {
                    return Err(too_many("您今天的反馈已达上限，请明天再试"));
                }
                let report = Report {
                    id: gongyou_domain::id::new_id(),
                    station_id: station.id.clone(),
                    reporter_id: user_id,
                    kind: kind.as_str().into(),
                    note,
                    status: db::REPORT_OPEN.into(),
                    resolution: None,
                    resolved_by: None,
                    resolved_at: None,
                    created_at: now.naive_utc(),
                };
                db::add_report(conn, &report)?;
                // The outbox: every manager hears of it in the same transaction.
                for manager in db::managers(conn, &station.id)? {
                    notify_staff(
                        conn,
                        staff_channels,
                        &manager,
                        Category::StationReportReceived,
                        serde_json::json!({
                            "station": station.name,
                            "station_id": station.id,
                            "report_id": report.id,
                            "kind": kind.label_zh(),
                        }),
                        now,
                    )?;
                }
                Ok(report)
            })
        })
        .await?;
    Ok(report_view(created))
}

/// A station's reports of one status (`open` or `resolved`; both when absent), newest first
/// (its managers and union admins over it).
pub async fn reports(
    ctx: &Context,
    actor: &Actor,
    id: String,
    status: Option<&str>,
    page: PageRequest,
) -> ServiceResult<Page<ReportView>> {
    actor.staff()?;
    let status = match status {
        None => None,
        Some(s) if s == db::REPORT_OPEN || s == db::REPORT_RESOLVED => Some(s.to_owned()),
        Some(_) => return Err(bad("request.invalid_query", "status 须为 open 或 resolved")),
    };
    let (limit, caller) = (page.limit, actor.clone());
    let rows = ctx
        .db
        .run(move |conn| -> ServiceResult<Vec<Report>> {
            let (station, _) = managed(conn, &caller, &id)?;
            Ok(db::reports(
                conn,
                &station.id,
                status.as_deref(),
                page.cursor.as_deref(),
                page.fetch(),
            )?)
        })
        .await?;
    Ok(Page::from_rows(rows, limit, |r| r.id.clone(), report_view))
}

/// `{}` resolves without a note.
#[derive(Debug, Deserialize, ToSchema)]
pub struct Resolution {
    /// What was done, up to 500 characters.
    #[schema(value_type = Option<ReportNote>, inline)]
    pub resolution: Option<String>,
}

/// Resolves a report (the station's managers and union admins over it).
pub async fn resolve(
    ctx: &Context,
    actor: &Actor,
    id: String,
    report_id: String,
    body: Resolution,
) -> ServiceResult<ReportView> {
    let staff_id = actor.staff_id()?;
    let resolution = ReportNote::RULE
        .check_optional(body.resolution.as_deref())
        .map_err(|()| {
            bad(
                "station.invalid_resolution",
                "处理说明不能超过 500 个字符，且不能含控制字符",
            )
        })?;
    let now = ctx.now().naive_utc();
    let caller = actor.clone();
    let resolved = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<Report> {
                let (station, _) = managed(conn, &caller, &id)?;
                let not_found =
                    || ServiceError::not_found("station.report_not_found", "问题反馈不存在");
                db::report(conn, &station.id, &report_id)?.ok_or_else(not_found)?;
                if !db::resolve_report(conn, &report_id, &staff_id, resolution.as_deref(), now)? {
                    return Err(ServiceError::conflict(
                        "station.report_resolved",
                        "该问题反馈已处理",
                    ));
                }
                db::report(conn, &station.id, &report_id)?.ok_or_else(not_found)
            })
        })
        .await?;
    Ok(report_view(resolved))
}
