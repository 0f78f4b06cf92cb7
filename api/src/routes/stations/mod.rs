//! Rest stations (驿站): scoped admins create them and assign managers; managers keep them
//! current (optimistic edits with `ETag`/`If-Match`, movable stations' positions, photos);
//! anyone finds the nearest open one (`search`); workers check in and report problems
//! (`visits`).

pub mod search;
pub mod visits;

use actix_web::http::{header, StatusCode};
use actix_web::{get, patch, post, put, web, HttpRequest, HttpResponse};
use gongyou_services::stations::views::{MyStations, PhotoView, StationView};
use gongyou_services::stations::{
    self, photo_missing, photo_too_large, ManagersBody, NewLocation, NewStation, StationPatch,
};
use gongyou_services::{Kind, ServiceError};

use crate::auth::Caller;
use crate::error::{ApiResult, Problem};
use crate::idempotency::{idempotent, IdempotencyKeyHeader};
use crate::state::AppState;

fn etag(version: i32) -> String {
    format!("\"v{version}\"")
}

/// A station with its version as the `ETag`.
fn respond(view: StationView, status: StatusCode) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::ETAG, etag(view.version)))
        .json(view)
}

/// Creates a station (union admins, within their subtree).
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body = NewStation,
    params(IdempotencyKeyHeader),
    responses(
        (status = 201, body = StationView, headers(("ETag" = String, description = "The version, for If-Match"))),
        (status = 400, description = "A field is malformed", body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`org.not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A rule the schema cannot state: `station.hours_overlap`, `station.hours_empty_span`, `station.hours_invalid_time`, `station.hours_invalid_date`, `station.hours_duplicate_exception`, `station.reopens_at_not_closed`, `geo.invalid_coordinates`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/admin/stations")]
pub async fn create_station(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: web::Json<NewStation>,
) -> ApiResult<HttpResponse> {
    let body = body.into_inner();
    let (ctx, owned, actor) = (state.clone(), body.clone(), caller.clone());
    idempotent(&state, &req, &actor, &body, || async move {
        let view = stations::create(&ctx, &caller, owned).await?;
        Ok(respond(view, StatusCode::CREATED))
    })
    .await
}

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
    let actor = caller.as_ref().map(|c| &c.0);
    let view = stations::get(&state, actor, id.into_inner()).await?;
    Ok(respond(view, StatusCode::OK))
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
    Ok(web::Json(stations::mine(&state, &caller).await?))
}

/// `If-Match` as a version (None for `*`, which matches any): 428 without it, 400 when it
/// is not one of our ETags.
fn if_match(req: &HttpRequest) -> ApiResult<Option<i32>> {
    let Some(value) = req.headers().get(header::IF_MATCH) else {
        return Err(ServiceError::new(
            Kind::VersionRequired,
            "station.if_match_required",
            "请带上 If-Match（驿站当前的 ETag），以免覆盖他人的修改",
        )
        .into());
    };
    // Strictly the forms we send (`"v7"`, weak `W/"v7"`) or `*`, as the contract's pattern says.
    let version = value.to_str().ok().and_then(|v| {
        if v == "*" {
            return Some(None);
        }
        let digits = v
            .strip_prefix("W/")
            .unwrap_or(v)
            .strip_prefix("\"v")?
            .strip_suffix('"')?;
        let well_formed =
            (1..=9).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
        well_formed.then(|| digits.parse().ok()).flatten().map(Some)
    });
    version.ok_or_else(|| {
        ServiceError::invalid("station.invalid_if_match", "If-Match 不是有效的 ETag").into()
    })
}

/// Edits a station (its managers and union admins over its org). Needs `If-Match` with the
/// `ETag` last read: 412 when someone else changed it since, 428 without it.
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body = StationPatch,
    params(("If-Match" = String, Header, description = "The ETag last read (`\"v7\"`), or `*` to overwrite whatever is there", pattern = r#"^(?:\*|(?:W/)?"v[0-9]{1,9}")$"#)),
    responses(
        (status = 200, body = StationView, headers(("ETag" = String, description = "The new version"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`station.not_yours`", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`station.version_mismatch`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`station.movable_location` (a movable station moves with PUT …/location), or a rule the schema cannot state: `station.hours_overlap`, `station.hours_empty_span`, `station.hours_invalid_time`, `station.hours_invalid_date`, `station.hours_duplicate_exception`, `station.reopens_at_not_closed`, `geo.coordinates_unpaired` (lat without lng or the reverse)", body = Problem, content_type = "application/problem+json"),
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
    let view = stations::update(
        &state,
        &caller,
        id.into_inner(),
        expected,
        body.into_inner(),
    )
    .await?;
    Ok(respond(view, StatusCode::OK))
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
    let view = stations::move_to(&state, &caller, id.into_inner(), body.into_inner()).await?;
    Ok(respond(view, StatusCode::OK))
}

/// Rotates the station's QR code (its managers and union admins): the new code is in the
/// answer's `station_code`; the old one no longer checks in (print the new poster).
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    responses(
        (status = 200, body = StationView, headers(("ETag" = String, description = "The new version"))),
        (status = 403, description = "`station.not_yours`, `auth.staff_only`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`station.not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/stations/{id}/code-rotations")]
pub async fn rotate_code(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let view = stations::rotate_code(&state, &caller, id.into_inner()).await?;
    Ok(respond(view, StatusCode::OK))
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
    let view = stations::set_managers(&state, &caller, id.into_inner(), body.into_inner()).await?;
    Ok(respond(view, StatusCode::OK))
}

/// The multipart body of a photo upload: one part, `file`.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // a schema only: the handler streams the multipart body itself
pub struct PhotoUpload {
    /// The image: JPEG, PNG or WebP.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// An image's bytes, as served.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ImageBytes(#[allow(dead_code)] Vec<u8>);

/// Adds a photo (multipart/form-data, field `file`, as `wx.uploadFile` sends it; JPEG, PNG
/// or WebP, at most `GONGYOU_PHOTO_MAX_BYTES`). Its managers and union admins.
#[utoipa::path(
    tag = "stations",
    security(("bearer" = [])),
    request_body(content = PhotoUpload, content_type = "multipart/form-data", description = "field `file`: the image"),
    responses(
        (status = 201, body = PhotoView),
        (status = 400, description = "`station.photo_missing`: not multipart with one part, `file`", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`station.photo_type`: not a JPEG, PNG or WebP image", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`station.photo_dimensions`: over 8192 pixels a side", body = Problem, content_type = "application/problem+json"),
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
    let id = id.into_inner();
    stations::may_add_photo(&state, &caller, &id).await?;
    let max = state.config.photo_max_bytes;
    let malformed = |_| photo_missing("请以 multipart/form-data 上传 file 字段");
    let mut image: Option<Vec<u8>> = None;
    while let Some(mut field) = payload.try_next().await.map_err(malformed)? {
        if field.name() != Some("file") || image.is_some() {
            return Err(photo_missing("只接受一个 file 字段").into());
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = field.try_next().await.map_err(malformed)? {
            if bytes.len() + chunk.len() > max {
                return Err(photo_too_large(max).into());
            }
            bytes.extend_from_slice(&chunk);
        }
        image = Some(bytes);
    }
    let image = image.ok_or_else(|| photo_missing("缺少 file 字段"))?;
    let photo: PhotoView = stations::add_photo(&state, &caller, id, image).await?;
    Ok(HttpResponse::Created().json(photo))
}

/// A station photo (public, like the station).
#[utoipa::path(
    tag = "stations",
    responses(
        (status = 200, description = "The image (JPEG without EXIF, PNG or WebP)", body = inline(ImageBytes), content_type = "image/*"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/stations/{id}/photos/{photo_id}")]
pub async fn get_photo(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> ApiResult<HttpResponse> {
    let (id, photo_id) = path.into_inner();
    let photo = stations::photo(&state, id, photo_id).await?;
    Ok(HttpResponse::Ok()
        .content_type(photo.content_type)
        .insert_header((header::CACHE_CONTROL, "public, max-age=86400, immutable"))
        .body(photo.bytes))
}
