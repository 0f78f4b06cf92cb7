//! Rest stations (驿站): scoped admins create them and assign managers; managers keep them
//! current (optimistic edits with `ETag`/`If-Match`, movable stations' positions, photos);
//! anyone finds the nearest open one (`search`); workers check in and report problems
//! (`visits`).

pub mod search;
pub mod visits;

use actix_web::http::header;
use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use gongyou_db::stations::{self as db, Station};
use gongyou_db::{orgs, write_tx, DbConnection};
use gongyou_domain::org::OrgPath;
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;
use gongyou_domain::station::{
    open_now, Amenity, AmenitySet, OpeningHours, StationStatus, StationType,
};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::authz;
use crate::error::{ApiError, ApiResult, Problem};
use crate::geo::{self, Datum, LatLng};
use crate::routes::me::OrgRef;
use crate::routes::membership::china_date;
use crate::routes::{clean_text, optional_text};
use crate::state::AppState;

/// Positions of a movable station shown with it.
const RECENT_LOCATIONS: i64 = 10;
/// Photos a station may have.
const MAX_PHOTOS: i64 = 20;

pub(crate) fn station_not_found() -> ApiError {
    ApiError::not_found("station.not_found", "驿站不存在")
}

/// `null` in a body clears a field; a missing field leaves it alone.
fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

// Parsing at the edge

fn bad(code: &'static str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(code, detail.into())
}

fn parse_name(name: &str) -> ApiResult<String> {
    clean_text(name, 2..=40)
        .ok_or_else(|| bad("station.invalid_name", "驿站名称须为 2 至 40 个字符"))
}

fn parse_address(address: &str) -> ApiResult<String> {
    clean_text(address, 2..=120)
        .ok_or_else(|| bad("station.invalid_address", "地址须为 2 至 120 个字符"))
}

fn parse_region(code: &str) -> ApiResult<RegionCode> {
    RegionCode::parse(code).map_err(|_| bad("station.invalid_region", "行政区划代码无效"))
}

pub(crate) fn parse_point(lat: f64, lng: f64, coord: Option<&str>) -> ApiResult<LatLng> {
    let datum = match coord {
        None => Datum::Gcj02,
        Some(c) => {
            Datum::parse(c).map_err(|_| bad("geo.invalid_coord", "coord 须为 gcj02 或 wgs84"))?
        }
    };
    let point = geo::parse_lat_lng(lat, lng).map_err(|e| bad(e.code(), e.detail()))?;
    Ok(geo::to_gcj02(point, datum))
}

fn parse_amenities(codes: &[String]) -> ApiResult<AmenitySet> {
    let mut set = AmenitySet::default();
    for code in codes {
        let Some(amenity) = Amenity::parse(code) else {
            return Err(bad(
                "station.amenity_unknown",
                format!("未知的设施：{}", code.chars().take(40).collect::<String>()),
            ));
        };
        set.insert(amenity);
    }
    Ok(set)
}

fn amenities_text(set: AmenitySet) -> String {
    set.iter()
        .map(Amenity::as_str)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_hours(value: &serde_json::Value) -> ApiResult<OpeningHours> {
    OpeningHours::from_json(value).map_err(|e| bad(e.code(), e.detail()))
}

fn hours_text(hours: &OpeningHours) -> String {
    serde_json::to_string(hours).unwrap_or_default()
}

fn parse_notice(notice: Option<String>) -> ApiResult<Option<String>> {
    optional_text(notice, 200)
        .map_err(|()| bad("station.invalid_notice", "公告不能超过 200 个字符"))
}

/// A mobile number or a landline with area code (`028-86612345`).
fn parse_contact_phone(phone: Option<String>) -> ApiResult<Option<String>> {
    let Some(phone) = phone.map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    if gongyou_domain::phone::Phone::parse(&phone).is_ok() {
        return Ok(Some(phone));
    }
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let landline = phone.starts_with('0')
        && (10..=12).contains(&digits)
        && phone.chars().all(|c| c.is_ascii_digit() || c == '-')
        && phone.matches('-').count() <= 2;
    if landline {
        Ok(Some(phone))
    } else {
        Err(bad(
            "station.invalid_phone",
            "联系电话须为手机号或带区号的固定电话",
        ))
    }
}

fn parse_capacity(capacity: Option<i32>) -> ApiResult<Option<i32>> {
    match capacity {
        Some(c) if !(0..=10_000).contains(&c) => Err(bad(
            "station.invalid_capacity",
            "容纳人数须在 0 至 10000 之间",
        )),
        other => Ok(other),
    }
}

fn parse_status(
    status: &str,
    reopens_at: Option<DateTime<Utc>>,
) -> ApiResult<(StationStatus, Option<DateTime<Utc>>)> {
    let status = StationStatus::parse(status).ok_or_else(|| {
        bad(
            "station.invalid_status",
            "状态须为 open、temporarily_closed 或 closed",
        )
    })?;
    if reopens_at.is_some() && status != StationStatus::TemporarilyClosed {
        return Err(bad(
            "station.invalid_status",
            "只有暂停开放的驿站可以填写恢复时间",
        ));
    }
    Ok((status, reopens_at))
}

// Views

#[derive(Debug, Serialize, ToSchema)]
pub struct SpanView {
    /// `HH:MM`, Asia/Shanghai.
    pub open: &'static str,
    /// `HH:MM` (`24:00` = midnight); at or before `open`: past midnight.
    pub close: &'static str,
}

/// "HH:MM" of every minute of a day and of midnight at its end, made once: search answers
/// write today's hours of twenty stations without allocating them.
static HHMM: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    (0..=1440u16)
        .map(|m| format!("{:02}:{:02}", m / 60, m % 60))
        .collect()
});

fn hhmm(minute: u16) -> &'static str {
    HHMM.get(usize::from(minute)).map_or("", String::as_str)
}

pub(crate) fn span_views(spans: &[gongyou_domain::station::Span]) -> Vec<SpanView> {
    spans
        .iter()
        .map(|s| SpanView {
            open: hhmm(s.open_minute()),
            close: hhmm(s.close_minute()),
        })
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PhotoView {
    pub id: String,
    /// `GET` this for the image.
    pub url: String,
    pub content_type: String,
    pub bytes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LocationView {
    pub lat: f64,
    pub lng: f64,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ManagerView {
    pub staff_id: String,
    pub display_name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StationView {
    pub id: String,
    /// The operating org.
    pub org: OrgRef,
    /// `fixed` (驿站), `movable` (流动驿站), `workers_home` (职工之家), `partner_shop`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub address: String,
    pub region_code: String,
    pub region_name: String,
    /// GCJ-02.
    pub lat: f64,
    pub lng: f64,
    /// Codes of the fixed vocabulary (README: Stations).
    pub amenities: Vec<String>,
    /// Weekly hours and dated exceptions, Asia/Shanghai.
    #[schema(value_type = Object)]
    pub hours: serde_json::Value,
    /// `open`, `temporarily_closed` or `closed`.
    pub status: String,
    pub reopens_at: Option<DateTime<Utc>>,
    pub open_now: bool,
    /// The spans starting today (Asia/Shanghai).
    pub today_hours: Vec<SpanView>,
    pub notice: Option<String>,
    pub contact_phone: Option<String>,
    pub capacity: Option<i32>,
    pub photos: Vec<PhotoView>,
    /// Movable stations, for their managers and admins: the latest positions, newest first.
    pub recent_locations: Vec<LocationView>,
    /// The `ETag` of this version.
    pub version: i32,
    pub updated_at: DateTime<Utc>,
    /// For the station's managers and admins: the signed code its QR carries (check-ins).
    pub station_code: Option<String>,
    /// For the station's managers and admins.
    pub managers: Option<Vec<ManagerView>>,
}

/// The signed code on a station's QR: `GYS1.<station id>.<mac>`.
pub(crate) fn station_code(state: &AppState, station_id: &str) -> String {
    use base64::Engine;
    let mac = state.tokens.mac(&["station-code", station_id]);
    format!(
        "GYS1.{station_id}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac[..16])
    )
}

/// Whether `code` is this station's genuine code.
pub(crate) fn station_code_valid(state: &AppState, station_id: &str, code: &str) -> bool {
    let expected = station_code(state, station_id);
    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.trim().as_bytes()).into()
}

fn etag(version: i32) -> String {
    format!("\"v{version}\"")
}

pub(crate) fn view(
    conn: &mut DbConnection,
    state: &AppState,
    s: Station,
    privileged: bool,
) -> ApiResult<StationView> {
    let now = state.clock.now();
    let org = orgs::get(conn, &s.org_id)?
        .map(|o| o.name)
        .unwrap_or_default();
    let hours_json: serde_json::Value = serde_json::from_str(&s.hours).unwrap_or_default();
    let hours = OpeningHours::from_json(&hours_json).ok();
    let status = StationStatus::parse(&s.status).unwrap_or(StationStatus::Closed);
    let reopens_at = s.reopens_at.map(|t| t.and_utc());
    let photos = db::photos(conn, &s.id)?
        .into_iter()
        .map(|p| PhotoView {
            url: format!("/api/v1/stations/{}/photos/{}", s.id, p.id),
            id: p.id,
            content_type: p.content_type,
            bytes: p.bytes,
        })
        .collect();
    // A movable station's track says where the staff driving it have been: for its
    // managers and admins only.
    let recent_locations = if privileged && s.kind == StationType::Movable.as_str() {
        db::locations(conn, &s.id, RECENT_LOCATIONS)?
            .into_iter()
            .map(|l| LocationView {
                lat: l.lat,
                lng: l.lng,
                recorded_at: l.recorded_at.and_utc(),
            })
            .collect()
    } else {
        Vec::new()
    };
    let managers = if privileged {
        Some(
            db::managers_named(conn, &s.id)?
                .into_iter()
                .map(|(staff_id, display_name)| ManagerView {
                    staff_id,
                    display_name,
                })
                .collect(),
        )
    } else {
        None
    };
    Ok(StationView {
        org: OrgRef {
            id: s.org_id.clone(),
            name: org,
        },
        kind: s.kind,
        name: s.name,
        address: s.address,
        region_name: RegionCode::parse(&s.region_code)
            .map(|r| r.name().to_owned())
            .unwrap_or_default(),
        region_code: s.region_code,
        lat: s.lat,
        lng: s.lng,
        amenities: AmenitySet::parse_list(&s.amenities)
            .map(|set| set.iter().map(|a| a.as_str().to_owned()).collect())
            .unwrap_or_default(),
        hours: hours_json,
        status: s.status,
        reopens_at,
        open_now: hours
            .as_ref()
            .is_some_and(|h| open_now(status, reopens_at, h, now)),
        today_hours: hours
            .as_ref()
            .map(|h| span_views(&h.hours_on(china_date(now))))
            .unwrap_or_default(),
        notice: s.notice,
        contact_phone: s.contact_phone,
        capacity: s.capacity,
        photos,
        recent_locations,
        version: s.version,
        updated_at: s.updated_at.and_utc(),
        station_code: privileged.then(|| station_code(state, &s.id)),
        managers,
        id: s.id,
    })
}

fn respond(view: StationView, status: actix_web::http::StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(view.version)))
        .json(view)
}

// Who may change a station

/// How the caller may act on a station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A union admin over the station's org.
    Admin,
    /// One of the station's managers.
    Manager,
}

/// The station, with how the caller may act on it: 404 when there is no such station, 403
/// for workers and for staff who neither manage it nor administer its org.
pub(crate) fn managed(
    conn: &mut DbConnection,
    caller: &Caller,
    station_id: &str,
) -> ApiResult<(Station, Access)> {
    let (staff_id, _) = caller.staff()?;
    let station = db::get(conn, station_id)?.ok_or_else(station_not_found)?;
    if let Some(access) = access_of(conn, caller, staff_id, &station)? {
        return Ok((station, access));
    }
    Err(ApiError::forbidden(
        "station.not_yours",
        "您不是该驿站的管理员",
    ))
}

fn access_of(
    conn: &mut DbConnection,
    caller: &Caller,
    staff_id: &str,
    station: &Station,
) -> ApiResult<Option<Access>> {
    let path = orgs::get(conn, &station.org_id)?
        .map(|o| OrgPath::from_stored(o.path))
        .ok_or_else(station_not_found)?;
    if caller.holds(Role::UnionAdmin, &path) {
        return Ok(Some(Access::Admin));
    }
    // Station managers are assigned on stations, not granted on orgs (ADR 006).
    Ok(db::is_manager(conn, &station.id, staff_id)?.then_some(Access::Manager))
}

/// Whether the caller (if staff) manages or administers the station.
fn privileged(conn: &mut DbConnection, caller: Option<&Caller>, station: &Station) -> bool {
    let Some(caller) = caller else {
        return false;
    };
    let Ok((staff_id, _)) = caller.staff() else {
        return false;
    };
    matches!(access_of(conn, caller, staff_id, station), Ok(Some(_)))
}

// Create

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewStation {
    /// The operating org (within the admin's subtree).
    pub org_id: String,
    /// `fixed`, `movable`, `workers_home` or `partner_shop`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    pub address: String,
    /// GB/T 2260 code of the county or district.
    pub region_code: String,
    pub lat: f64,
    pub lng: f64,
    /// `gcj02` (default) or `wgs84` (converted to GCJ-02).
    pub coord: Option<String>,
    #[serde(default)]
    pub amenities: Vec<String>,
    /// `{"weekly": {"mon": [{"open": "08:00", "close": "20:00"}], …}, "exceptions": [{"date": "2026-10-01", "spans": []}]}`.
    #[schema(value_type = Object)]
    pub hours: serde_json::Value,
    /// Default `open`.
    pub status: Option<String>,
    pub reopens_at: Option<DateTime<Utc>>,
    pub notice: Option<String>,
    pub contact_phone: Option<String>,
    pub capacity: Option<i32>,
}

/// Creates a station (union admins, within their subtree).
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body = NewStation,
    responses(
        (status = 201, body = StationView, headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 400, description = "A field is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/stations")]
pub async fn create_station(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<NewStation>,
) -> ApiResult<HttpResponse> {
    let (staff_id, _) = caller.staff()?;
    let staff_id = staff_id.to_owned();
    authz::scopes(&caller, Role::UnionAdmin)?;
    let body = body.into_inner();
    let kind = StationType::parse(&body.kind).ok_or_else(|| {
        bad(
            "station.invalid_type",
            "类型须为 fixed、movable、workers_home 或 partner_shop",
        )
    })?;
    let name = parse_name(&body.name)?;
    let address = parse_address(&body.address)?;
    let region = parse_region(&body.region_code)?;
    let at = parse_point(body.lat, body.lng, body.coord.as_deref())?;
    let amenities = parse_amenities(&body.amenities)?;
    let hours = parse_hours(&body.hours)?;
    let (status, reopens_at) =
        parse_status(body.status.as_deref().unwrap_or("open"), body.reopens_at)?;
    let notice = parse_notice(body.notice)?;
    let contact_phone = parse_contact_phone(body.contact_phone)?;
    let capacity = parse_capacity(body.capacity)?;
    let now = state.clock.now().naive_utc();
    let station = Station {
        id: gongyou_domain::id::new_id(),
        org_id: body.org_id,
        kind: kind.as_str().into(),
        name,
        address,
        region_code: region.to_string(),
        lat: at.lat,
        lng: at.lng,
        amenities: amenities_text(amenities),
        hours: hours_text(&hours),
        status: status.as_str().into(),
        reopens_at: reopens_at.map(|t| t.naive_utc()),
        notice,
        contact_phone,
        capacity,
        version: 1,
        created_by: staff_id.clone(),
        created_at: now,
        updated_at: now,
    };
    let st = state.clone();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<StationView> {
                let org = orgs::get(conn, &station.org_id)?
                    .ok_or_else(|| ApiError::not_found("org.not_found", "组织不存在"))?;
                authz::require_visible(&caller, Role::UnionAdmin, &OrgPath::from_stored(org.path))?;
                db::insert(conn, &station)?;
                if kind == StationType::Movable {
                    db::add_location(
                        conn,
                        &db::Location {
                            id: gongyou_domain::id::new_id(),
                            station_id: station.id.clone(),
                            lat: station.lat,
                            lng: station.lng,
                            recorded_by: staff_id.clone(),
                            recorded_at: now,
                        },
                    )?;
                }
                view(conn, &st, station, true)
            })
        })
        .await?;
    state.stations.changed(&state.db, &state.kv, &view.id).await;
    tracing::info!(station = %view.id, "station created");
    Ok(respond(view, actix_web::http::StatusCode::CREATED))
}

// Read

/// A station: public (riders look stations up before signing in); its managers and admins
/// also see its QR code and managers.
#[utoipa::path(
    tag = "stations",
    responses(
        (status = 200, body = StationView, headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 404, description = "`station.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stations/{id}")]
pub async fn get_station(
    state: web::Data<AppState>,
    caller: Option<Caller>,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let id = id.into_inner();
    let st = state.clone();
    let view = state
        .db
        .run(move |conn| -> ApiResult<StationView> {
            let station = db::get(conn, &id)?.ok_or_else(station_not_found)?;
            let privileged = privileged(conn, caller.as_ref(), &station);
            view(conn, &st, station, privileged)
        })
        .await?;
    Ok(respond(view, actix_web::http::StatusCode::OK))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyStations {
    pub items: Vec<StationView>,
}

/// The stations the calling staff member manages.
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MyStations),
        (status = 403, description = "`auth.staff_only`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/stations")]
pub async fn my_stations(
    state: web::Data<AppState>,
    caller: Caller,
) -> ApiResult<web::Json<MyStations>> {
    let staff_id = caller.staff()?.0.to_owned();
    let st = state.clone();
    let items = state
        .db
        .run(move |conn| -> ApiResult<Vec<StationView>> {
            db::managed_by(conn, &staff_id)?
                .into_iter()
                .map(|s| view(conn, &st, s, true))
                .collect()
        })
        .await?;
    Ok(web::Json(MyStations { items }))
}

// Edit

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationPatch {
    pub name: Option<String>,
    pub address: Option<String>,
    pub region_code: Option<String>,
    /// Fixed stations only (a movable station moves with `PUT …/location`).
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    /// `gcj02` (default) or `wgs84`, for `lat`/`lng`.
    pub coord: Option<String>,
    pub amenities: Option<Vec<String>>,
    #[schema(value_type = Option<Object>)]
    pub hours: Option<serde_json::Value>,
    pub status: Option<String>,
    /// With `temporarily_closed`: when it opens again (null: not known).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub reopens_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub notice: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>)]
    pub capacity: Option<Option<i32>>,
}

/// `If-Match` as a version (None for `*`, which matches any): 428 without it, 400 when it
/// is not one of our ETags.
fn if_match(req: &HttpRequest) -> ApiResult<Option<i32>> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Err(ApiError::new(
            actix_web::http::StatusCode::PRECONDITION_REQUIRED,
            "station.if_match_required",
            "请带上 If-Match（驿站当前的 ETag），以免覆盖他人的修改",
        ));
    };
    if value.to_str().is_ok_and(|v| v.trim() == "*") {
        return Ok(None);
    }
    value
        .to_str()
        .ok()
        .map(|v| v.trim().trim_start_matches("W/"))
        .and_then(|v| v.strip_prefix("\"v"))
        .and_then(|v| v.strip_suffix('"'))
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(|| bad("station.invalid_if_match", "If-Match 不是有效的 ETag"))
}

fn stale() -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::PRECONDITION_FAILED,
        "station.version_mismatch",
        "驿站信息已被他人修改，请刷新后重试",
    )
}

/// Applies a patch to a station (validated field by field).
fn patched(mut s: Station, p: StationPatch) -> ApiResult<Station> {
    if let Some(name) = p.name {
        s.name = parse_name(&name)?;
    }
    if let Some(address) = p.address {
        s.address = parse_address(&address)?;
    }
    if let Some(region) = p.region_code {
        s.region_code = parse_region(&region)?.to_string();
    }
    match (p.lat, p.lng) {
        (None, None) => {}
        (Some(lat), Some(lng)) => {
            if s.kind == StationType::Movable.as_str() {
                return Err(ApiError::unprocessable(
                    "station.movable_location",
                    "流动驿站请通过更新位置接口移动",
                ));
            }
            let at = parse_point(lat, lng, p.coord.as_deref())?;
            s.lat = at.lat;
            s.lng = at.lng;
        }
        _ => return Err(bad("geo.invalid_coordinates", "lat 与 lng 须同时提供")),
    }
    if let Some(codes) = p.amenities {
        s.amenities = amenities_text(parse_amenities(&codes)?);
    }
    if let Some(hours) = p.hours {
        s.hours = hours_text(&parse_hours(&hours)?);
    }
    let status = p.status.unwrap_or_else(|| s.status.clone());
    let reopens_at = match p.reopens_at {
        Some(value) => value,
        None if status == StationStatus::TemporarilyClosed.as_str() => {
            s.reopens_at.map(|t| t.and_utc())
        }
        None => None,
    };
    let (status, reopens_at) = parse_status(&status, reopens_at)?;
    s.status = status.as_str().into();
    s.reopens_at = reopens_at.map(|t| t.naive_utc());
    if let Some(notice) = p.notice {
        s.notice = parse_notice(notice)?;
    }
    if let Some(phone) = p.contact_phone {
        s.contact_phone = parse_contact_phone(phone)?;
    }
    if let Some(capacity) = p.capacity {
        s.capacity = parse_capacity(capacity)?;
    }
    Ok(s)
}

/// Edits a station (its managers and union admins over its org). Needs `If-Match` with the
/// `ETag` last read: 412 when someone else changed it since, 428 without it.
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body = StationPatch,
    params(("If-Match" = String, Header, description = "The ETag last read")),
    responses(
        (status = 200, body = StationView, headers(("ETag" = String, description = "The new version"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`station.not_yours`", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`station.version_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`station.movable_location` (a movable station moves with PUT …/location)", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "`station.if_match_required`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[patch("/stations/{id}")]
pub async fn update_station(
    state: web::Data<AppState>,
    caller: Caller,
    req: HttpRequest,
    id: web::Path<String>,
    body: web::Json<StationPatch>,
) -> ApiResult<HttpResponse> {
    caller.staff()?;
    let expected = if_match(&req)?;
    let id = id.into_inner();
    let patch = body.into_inner();
    let now = state.clock.now().naive_utc();
    let st = state.clone();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<StationView> {
                let (station, _) = managed(conn, &caller, &id)?;
                let expected = expected.unwrap_or(station.version);
                if station.version != expected {
                    return Err(stale());
                }
                let mut changed = patched(station, patch)?;
                changed.updated_at = now;
                save(conn, &st, &changed, expected)
            })
        })
        .await?;
    Ok(announce(&state, view).await)
}

/// Writes a changed station if its version is still `expected` (412 otherwise) and returns
/// its new view (inside the caller's transaction).
fn save(
    conn: &mut DbConnection,
    state: &AppState,
    changed: &Station,
    expected: i32,
) -> ApiResult<StationView> {
    if !db::update_if_version(conn, changed, expected)? {
        return Err(stale());
    }
    let fresh = db::get(conn, &changed.id)?.ok_or_else(station_not_found)?;
    view(conn, state, fresh, true)
}

/// After a committed change: this process's search sees it now and the other replicas are
/// told; answers with the new version and its ETag.
async fn announce(state: &AppState, view: StationView) -> HttpResponse {
    state.stations.changed(&state.db, &state.kv, &view.id).await;
    respond(view, actix_web::http::StatusCode::OK)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewLocation {
    pub lat: f64,
    pub lng: f64,
    /// `gcj02` (default) or `wgs84`.
    pub coord: Option<String>,
}

/// Moves a movable station (its managers and union admins); the previous positions are kept.
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body = NewLocation,
    responses(
        (status = 200, body = StationView, headers(("ETag" = String, description = "The new version"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`station.version_mismatch`: edited at the same moment", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`station.not_movable`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/stations/{id}/location")]
pub async fn move_station(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<NewLocation>,
) -> ApiResult<HttpResponse> {
    let staff_id = caller.staff()?.0.to_owned();
    let at = parse_point(body.lat, body.lng, body.coord.as_deref())?;
    let id = id.into_inner();
    let now = state.clock.now().naive_utc();
    let st = state.clone();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<StationView> {
                let (station, _) = managed(conn, &caller, &id)?;
                if station.kind != StationType::Movable.as_str() {
                    return Err(ApiError::unprocessable(
                        "station.not_movable",
                        "只有流动驿站可以更新位置",
                    ));
                }
                let version = station.version;
                let moved = Station {
                    lat: at.lat,
                    lng: at.lng,
                    updated_at: now,
                    ..station
                };
                db::add_location(
                    conn,
                    &db::Location {
                        id: gongyou_domain::id::new_id(),
                        station_id: id.clone(),
                        lat: at.lat,
                        lng: at.lng,
                        recorded_by: staff_id,
                        recorded_at: now,
                    },
                )?;
                save(conn, &st, &moved, version)
            })
        })
        .await?;
    Ok(announce(&state, view).await)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ManagersBody {
    /// Staff ids, from within the admin's subtree; an empty list removes every manager.
    /// Being assigned to a station is what makes a staff member its manager.
    pub staff_ids: Vec<String>,
}

/// Sets a station's managers (union admins over its org).
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body = ManagersBody,
    responses(
        (status = 200, body = StationView),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`station.manager_out_of_scope` or `staff.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/admin/stations/{id}/managers")]
pub async fn put_managers(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<ManagersBody>,
) -> ApiResult<HttpResponse> {
    authz::scopes(&caller, Role::UnionAdmin)?;
    let mut staff_ids = body.into_inner().staff_ids;
    staff_ids.sort();
    staff_ids.dedup();
    if staff_ids.len() > 50 {
        return Err(bad("station.too_many_managers", "一个驿站最多 50 名管理员"));
    }
    let id = id.into_inner();
    let now = state.clock.now().naive_utc();
    let st = state.clone();
    let view = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<StationView> {
                let (station, access) = managed(conn, &caller, &id)?;
                if access != Access::Admin {
                    return Err(ApiError::forbidden(
                        "auth.role_required",
                        "只有上级工会管理员可以指定驿站管理员",
                    ));
                }
                let scopes = caller.scopes(Role::UnionAdmin);
                let current = db::managers(conn, &station.id)?;
                // Managers already assigned (perhaps from higher up) may stay; those added
                // must come from within the caller's subtree.
                for staff_id in staff_ids.iter().filter(|id| !current.contains(id)) {
                    let member = gongyou_db::staff::get(conn, staff_id)?
                        .filter(|m| m.status == gongyou_db::staff::STAFF_ACTIVE)
                        .ok_or_else(|| {
                            ApiError::unprocessable("staff.not_found", "工作人员不存在或已停用")
                        })?;
                    let home = orgs::get(conn, &member.org_id)?
                        .map(|o| OrgPath::from_stored(o.path))
                        .ok_or_else(|| {
                            ApiError::unprocessable("staff.not_found", "工作人员不存在或已停用")
                        })?;
                    if !scopes.iter().any(|s| s.contains(&home)) {
                        return Err(ApiError::unprocessable(
                            "station.manager_out_of_scope",
                            format!("{} 不在您管理的组织内", member.display_name),
                        ));
                    }
                }
                db::set_managers(conn, &station.id, &staff_ids, now)?;
                view(conn, &st, station, true)
            })
        })
        .await?;
    Ok(respond(view, actix_web::http::StatusCode::OK))
}

// Photos

fn too_many_photos() -> ApiError {
    ApiError::conflict("station.too_many_photos", "每个驿站最多 20 张照片")
}

/// A JPEG without its APP1 segments (EXIF and XMP: GPS position, device, time). None when
/// the bytes do not have a JPEG's structure.
fn strip_exif(jpeg: &[u8]) -> Option<Vec<u8>> {
    if jpeg.get(0..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut out = Vec::with_capacity(jpeg.len());
    out.extend_from_slice(&jpeg[0..2]);
    let mut i = 2;
    loop {
        if *jpeg.get(i)? != 0xFF {
            return None;
        }
        let marker = *jpeg.get(i + 1)?;
        match marker {
            // Fill byte before a marker.
            0xFF => i += 1,
            // Start of scan (the image data follows, up to the end) or end of image.
            0xDA | 0xD9 => {
                out.extend_from_slice(jpeg.get(i..)?);
                return Some(out);
            }
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(jpeg.get(i..i + 2)?);
                i += 2;
            }
            _ => {
                let len = usize::from(*jpeg.get(i + 2)?) << 8 | usize::from(*jpeg.get(i + 3)?);
                if len < 2 {
                    return None;
                }
                let end = i.checked_add(2 + len)?;
                let segment = jpeg.get(i..end)?;
                if marker != 0xE1 {
                    out.extend_from_slice(segment);
                }
                i = end;
            }
        }
    }
}

fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// Adds a photo (multipart/form-data, field `file`, as `wx.uploadFile` sends it; JPEG, PNG
/// or WebP, at most `GONGYOU_PHOTO_MAX_BYTES`). Its managers and union admins.
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body(content_type = "multipart/form-data", description = "field `file`: the image"),
    responses(
        (status = 201, body = PhotoView),
        (status = 400, description = "`station.photo_missing` or `station.photo_type`", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`station.too_many_photos`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`station.photo_too_large`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/stations/{id}/photos")]
pub async fn upload_photo(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    mut payload: actix_multipart::Multipart,
) -> ApiResult<HttpResponse> {
    use futures_util::TryStreamExt;
    let staff_id = caller.staff()?.0.to_owned();
    let id = id.into_inner();
    {
        let (id, caller) = (id.clone(), caller.clone());
        state
            .db
            .run(move |conn| -> ApiResult<()> {
                managed(conn, &caller, &id)?;
                if db::photo_count(conn, &id)? >= MAX_PHOTOS {
                    return Err(too_many_photos());
                }
                Ok(())
            })
            .await?;
    }
    let max = state.config.photo_max_bytes;
    let malformed = |_| {
        bad(
            "station.photo_missing",
            "请以 multipart/form-data 上传 file 字段",
        )
    };
    let mut image: Option<Vec<u8>> = None;
    while let Some(mut field) = payload.try_next().await.map_err(malformed)? {
        if field.name() != Some("file") {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.try_next().await.map_err(malformed)? {
            if bytes.len() + chunk.len() > max {
                return Err(ApiError::new(
                    actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
                    "station.photo_too_large",
                    format!("照片不能超过 {} MB", max / (1024 * 1024)),
                ));
            }
            bytes.extend_from_slice(&chunk);
        }
        image = Some(bytes);
        break;
    }
    let image = image.ok_or_else(|| bad("station.photo_missing", "缺少 file 字段"))?;
    let refused = || bad("station.photo_type", "照片须为 JPEG、PNG 或 WebP");
    let content_type = image_type(&image).ok_or_else(refused)?;
    // A phone's JPEG carries where and when it was taken: not for a public photo.
    let image = if content_type == "image/jpeg" {
        strip_exif(&image).ok_or_else(refused)?
    } else {
        image
    };
    let photo = db::Photo {
        id: gongyou_domain::id::new_id(),
        station_id: id.clone(),
        object_key: String::new(),
        content_type: content_type.into(),
        bytes: i64::try_from(image.len()).unwrap_or(i64::MAX),
        uploaded_by: staff_id,
        created_at: state.clock.now().naive_utc(),
    };
    let photo = db::Photo {
        object_key: format!("stations/{}/{}", id, photo.id),
        ..photo
    };
    state
        .files
        .put(&photo.object_key, image)
        .await
        .map_err(ApiError::internal)?;
    let stored = photo.clone();
    let recorded = state
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ApiResult<()> {
                // Again, serialized: parallel uploads do not pass the limit.
                managed(conn, &caller, &stored.station_id)?;
                db::lock(conn, &format!("photos:{}", stored.station_id))?;
                if db::photo_count(conn, &stored.station_id)? >= MAX_PHOTOS {
                    return Err(too_many_photos());
                }
                db::add_photo(conn, &stored)?;
                Ok(())
            })
        })
        .await;
    if let Err(e) = recorded {
        if let Err(cleanup) = state.files.delete(&photo.object_key).await {
            tracing::warn!(error = %format!("{cleanup:#}"), "could not remove an unrecorded photo");
        }
        return Err(e);
    }
    Ok(HttpResponse::Created().json(PhotoView {
        url: format!("/api/v1/stations/{}/photos/{}", id, photo.id),
        id: photo.id,
        content_type: photo.content_type,
        bytes: photo.bytes,
    }))
}

/// A station photo (public, like the station).
#[utoipa::path(
    tag = "stations",
    responses(
        (status = 200, description = "The image (JPEG without EXIF, PNG or WebP)", content_type = "image/*"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stations/{id}/photos/{photo_id}")]
pub async fn get_photo(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, photo_id) = path.into_inner();
    let not_found = || ApiError::not_found("station.photo_not_found", "照片不存在");
    let photo = state
        .db
        .run(move |conn| db::photo(conn, &photo_id))
        .await?
        .filter(|p| p.station_id == id)
        .ok_or_else(not_found)?;
    let bytes = state
        .files
        .get(&photo.object_key)
        .await
        .map_err(ApiError::internal)?
        .ok_or_else(not_found)?;
    Ok(HttpResponse::Ok()
        .content_type(photo.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400, immutable"))
        .body(bytes))
}
