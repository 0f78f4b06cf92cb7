//! Finding stations: the nearest ones with what a rider needs, and a map view's box. Public
//! (riders look before they sign in), answered from the process's in-memory index without
//! touching the database (ADR 011).

use actix_web::{get, web, HttpRequest, HttpResponse};
use gongyou_domain::geo::Datum;
use gongyou_domain::station::StationType;
use gongyou_services::stations::search::{self, BoxStations, Near, NearbyStations, Wanted};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::client_ip::client_ip;
use crate::error::{ApiResult, Problem};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct NearbyQuery {
    /// Latitude of the rider.
    #[param(minimum = -90, maximum = 90)]
    pub lat: f64,
    /// Longitude of the rider.
    #[param(minimum = -180, maximum = 180)]
    pub lng: f64,
    /// `gcj02` (default; what `wx.getLocation({type: 'gcj02'})` and Chinese maps give) or
    /// `wgs84` (GPS; converted).
    #[param(value_type = Option<Datum>, nullable = false)]
    pub coord: Option<String>,
    /// 1–50000, default 3000.
    #[param(minimum = 1, maximum = 50000, nullable = false)]
    pub radius_m: Option<u32>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100, nullable = false)]
    pub limit: Option<usize>,
    /// Comma-separated amenity codes, all required (e.g. `drinking_water,phone_charging`).
    #[param(schema_with = search::amenity_list_schema, nullable = false)]
    pub amenities: Option<String>,
    /// Only stations open now.
    #[param(nullable = false)]
    pub open_now: Option<bool>,
    /// `fixed`, `movable`, `workers_home` or `partner_shop`.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<StationType>, nullable = false)]
    pub kind: Option<String>,
}

/// A JSON answer already written.
fn json(bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(bytes)
}

/// The nearest stations, nearest first, with the distance, whether each is open now and
/// today's hours. Invalid coordinates, a radius over 50 km or a limit over 100 → 400.
#[utoipa::path(
    tag = "stations",
    params(NearbyQuery),
    responses(
        (status = 200, body = NearbyStations),
        (status = 400, description = "`geo.invalid_coordinates`, `geo.invalid_coord`, `station.invalid_radius`, `station.invalid_limit`, `station.amenity_unknown`, `station.invalid_type`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`station.search_rate_limited`: too many searches from this network (see `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stations/nearby")]
pub async fn nearby(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<NearbyQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let ip = client_ip(&req, &state.config.trusted_proxies);
    state.search_limit.check(ip).await?;
    let near = Near {
        lat: q.lat,
        lng: q.lng,
        coord: q.coord.as_deref(),
        radius_m: q.radius_m,
        limit: q.limit,
    };
    let wanted = Wanted {
        amenities: q.amenities.as_deref(),
        kind: q.kind.as_deref(),
        open_now: q.open_now,
    };
    let body = search::nearby(&state.stations, &near, &wanted, state.search_now())?;
    Ok(json(body))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct BoxQuery {
    /// `min_lng,min_lat,max_lng,max_lat` (GCJ-02, decimal degrees), the minimum below the
    /// maximum, at most 2° across either way.
    #[param(pattern = "^-?[0-9]{1,3}(?:\\.[0-9]{1,15})?(?:,-?[0-9]{1,3}(?:\\.[0-9]{1,15})?){3}$")]
    pub bbox: String,
    /// 1–1000, default 500.
    #[param(minimum = 1, maximum = 1000, nullable = false)]
    pub limit: Option<usize>,
    /// Comma-separated amenity codes, all required.
    #[param(schema_with = search::amenity_list_schema, nullable = false)]
    pub amenities: Option<String>,
    /// Only stations open now.
    #[param(nullable = false)]
    pub open_now: Option<bool>,
    /// `fixed`, `movable`, `workers_home` or `partner_shop`.
    #[serde(rename = "type")]
    #[param(rename = "type", value_type = Option<StationType>, nullable = false)]
    pub kind: Option<String>,
}

/// Stations inside a box, for the map view; at most `limit` (capped at 1000), `truncated`
/// when there were more.
#[utoipa::path(
    tag = "stations",
    params(BoxQuery),
    responses(
        (status = 200, body = BoxStations),
        (status = 400, description = "`station.invalid_bbox`, `station.invalid_limit`, `station.amenity_unknown`, `station.invalid_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`station.bbox_empty` (the minimum not below the maximum), `station.bbox_too_large` (over 2° across), `geo.invalid_coordinates`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`station.search_rate_limited`: too many searches from this network (see `Retry-After`)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stations")]
pub async fn within_box(
    state: web::Data<AppState>,
    req: HttpRequest,
    query: web::Query<BoxQuery>,
) -> ApiResult<HttpResponse> {
    let q = query.into_inner();
    let ip = client_ip(&req, &state.config.trusted_proxies);
    state.search_limit.check(ip).await?;
    let wanted = Wanted {
        amenities: q.amenities.as_deref(),
        kind: q.kind.as_deref(),
        open_now: q.open_now,
    };
    let body = search::within_box(
        &state.stations,
        &q.bbox,
        q.limit,
        &wanted,
        state.search_now(),
    )?;
    Ok(json(body))
}
