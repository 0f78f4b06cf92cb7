//! Finding stations: the nearest ones with what a rider needs, and a map view's box. Public
//! (riders look before they sign in), answered from the process's in-memory index without
//! touching the database (ADR 011).

use actix_web::{get, web, HttpResponse};
use gongyou_domain::station::{AmenitySet, StationType};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{bad, parse_point, span_views, SpanView};
use crate::error::{ApiError, ApiResult, Problem};
use crate::geo::{self, LatLng};
use crate::state::AppState;
use crate::station_index::Hit;
use crate::stations::{Entry, Filters, When};

/// The largest search radius.
pub const MAX_RADIUS_M: u32 = 50_000;
/// The most results of a nearby search.
pub const MAX_LIMIT: usize = 100;
/// The most stations a box listing returns (`truncated` says there were more).
pub const MAX_BOX: usize = 1000;

#[derive(Debug, Deserialize, IntoParams)]
pub struct NearbyQuery {
    /// Latitude of the rider.
    pub lat: f64,
    /// Longitude of the rider.
    pub lng: f64,
    /// `gcj02` (default; what `wx.getLocation({type: 'gcj02'})` and Chinese maps give) or
    /// `wgs84` (GPS; converted).
    pub coord: Option<String>,
    /// 1–50000, default 3000.
    pub radius_m: Option<u32>,
    /// 1–100, default 20.
    pub limit: Option<usize>,
    /// Comma-separated amenity codes, all required (e.g. `drinking_water,phone_charging`).
    pub amenities: Option<String>,
    /// Only stations open now.
    pub open_now: Option<bool>,
    /// `fixed`, `movable`, `workers_home` or `partner_shop`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
}

// Borrowed from the index: the response is written while the index is read-locked,
// without copying the station.
/// A station found, with its distance and whether it is open now.
#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyStation<'a> {
    pub id: &'a str,
    pub name: &'a str,
    /// `fixed`, `movable`, `workers_home` or `partner_shop`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub address: &'a str,
    /// GCJ-02.
    pub lat: f64,
    pub lng: f64,
    /// Great-circle distance in metres.
    pub distance_m: u32,
    /// Amenity codes.
    #[schema(value_type = Vec<String>)]
    pub amenities: AmenitySet,
    /// `open`, `temporarily_closed` or `closed`.
    pub status: &'static str,
    pub open_now: bool,
    /// The spans starting today (Asia/Shanghai).
    pub today_hours: Vec<SpanView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NearbyStations<'a> {
    /// Nearest first.
    pub items: Vec<NearbyStation<'a>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoxStations<'a> {
    pub items: Vec<NearbyStation<'a>>,
    /// More stations are in the box than were returned: zoom in.
    pub truncated: bool,
}

fn filters(
    amenities: Option<&str>,
    kind: Option<&str>,
    open_now: Option<bool>,
) -> ApiResult<Filters> {
    let amenities = match amenities.map(str::trim).filter(|a| !a.is_empty()) {
        None => AmenitySet::default(),
        Some(list) => AmenitySet::parse_list(list).map_err(|e| bad(e.code(), e.detail()))?,
    };
    let kind = kind
        .map(|k| {
            StationType::parse(k).ok_or_else(|| {
                bad(
                    "station.invalid_type",
                    "type 须为 fixed、movable、workers_home 或 partner_shop",
                )
            })
        })
        .transpose()?;
    Ok(Filters {
        amenities,
        kind,
        open_now: open_now.unwrap_or(false),
    })
}

fn items<'a>(hits: &[Hit<'a, Entry>], when: When) -> Vec<NearbyStation<'a>> {
    let today = when.today();
    hits.iter()
        .map(|hit| {
            let e = hit.payload;
            NearbyStation {
                id: hit.id,
                name: &e.name,
                kind: e.kind.as_str(),
                address: &e.address,
                lat: hit.at.lat,
                lng: hit.at.lng,
                distance_m: hit.distance_m.round().clamp(0.0, f64::from(u32::MAX)) as u32,
                amenities: e.amenities,
                status: e.status.as_str(),
                open_now: e.open_at(when),
                today_hours: span_views(e.hours.spans_on(today)),
            }
        })
        .collect()
}

fn json(body: &impl Serialize) -> ApiResult<HttpResponse> {
    let bytes = serde_json::to_vec(body).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(bytes))
}

/// The nearest stations, nearest first, with the distance, whether each is open now and
/// today's hours. Invalid coordinates, a radius over 50 km or a limit over 100 → 400.
#[utoipa::path(
    tag = "stations",
    params(NearbyQuery),
    responses(
        (status = 200, body = NearbyStations),
        (status = 400, description = "`geo.invalid_coordinates`, `geo.invalid_coord`, `station.invalid_radius`, `station.invalid_limit`, `station.amenity_unknown`, `station.invalid_type`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stations/nearby")]
pub async fn nearby(
    state: web::Data<AppState>,
    query: web::Query<NearbyQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let at = parse_point(q.lat, q.lng, q.coord.as_deref())?;
    let radius = q.radius_m.unwrap_or(3000);
    if radius == 0 || radius > MAX_RADIUS_M {
        return Err(bad(
            "station.invalid_radius",
            "radius_m 须在 1 至 50000 米之间",
        ));
    }
    let limit = q.limit.unwrap_or(20);
    if limit == 0 || limit > MAX_LIMIT {
        return Err(bad("station.invalid_limit", "limit 须在 1 至 100 之间"));
    }
    let filters = filters(q.amenities.as_deref(), q.kind.as_deref(), q.open_now)?;
    let when = When::new(state.clock.now());
    state
        .stations
        .nearby(at, f64::from(radius), limit, filters, when, |hits| {
            json(&NearbyStations {
                items: items(hits, when),
            })
        })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct BoxQuery {
    /// `min_lng,min_lat,max_lng,max_lat` (GCJ-02).
    pub bbox: String,
    /// 1–1000, default 500.
    pub limit: Option<usize>,
    pub amenities: Option<String>,
    pub open_now: Option<bool>,
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
}

fn parse_bbox(bbox: &str) -> ApiResult<(LatLng, LatLng)> {
    let invalid = || {
        bad(
            "station.invalid_bbox",
            "bbox 须为 min_lng,min_lat,max_lng,max_lat，且最小值小于最大值",
        )
    };
    let parts: Vec<f64> = bbox
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| invalid())?;
    let [min_lng, min_lat, max_lng, max_lat] = parts[..] else {
        return Err(invalid());
    };
    let min = geo::parse_lat_lng(min_lat, min_lng).map_err(|e| bad(e.code(), e.detail()))?;
    let max = geo::parse_lat_lng(max_lat, max_lng).map_err(|e| bad(e.code(), e.detail()))?;
    if min.lat >= max.lat || min.lng >= max.lng {
        return Err(invalid());
    }
    Ok((min, max))
}

/// Stations inside a box, for the map view; at most `limit` (capped at 1000), `truncated`
/// when there were more.
#[utoipa::path(
    tag = "stations",
    params(BoxQuery),
    responses(
        (status = 200, body = BoxStations),
        (status = 400, description = "`station.invalid_bbox`, `station.invalid_limit`, …", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stations")]
pub async fn within_box(
    state: web::Data<AppState>,
    query: web::Query<BoxQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let (min, max) = parse_bbox(&q.bbox)?;
    let limit = q.limit.unwrap_or(500);
    if limit == 0 || limit > MAX_BOX {
        return Err(bad("station.invalid_limit", "limit 须在 1 至 1000 之间"));
    }
    let filters = filters(q.amenities.as_deref(), q.kind.as_deref(), q.open_now)?;
    let when = When::new(state.clock.now());
    state
        .stations
        .within_bbox(min, max, limit, filters, when, |hits, truncated| {
            json(&BoxStations {
                items: items(hits, when),
                truncated,
            })
        })
}
