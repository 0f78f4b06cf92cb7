//! Keeping stations current: union admins create them and assign managers; managers and
//! admins edit them against the version they read (a stale edit is refused), move movable
//! ones (positions kept) — every committed change is announced to the search indexes.

use chrono::{DateTime, Utc};
use gongyou_db::stations::{self as db, Station};
use gongyou_db::{orgs, write_tx, DbConnection};
use gongyou_domain::geo::Datum;
use gongyou_domain::org::OrgPath;
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;
use gongyou_domain::station::{Amenity, HoursSpec};
use gongyou_domain::station::{StationStatus, StationType};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::views::{view, MyStations, StationView};
use super::{
    amenities_text, announce, bad, hours_text, managed, parse_address, parse_amenities,
    parse_capacity, parse_contact_phone, parse_hours, parse_name, parse_notice, parse_point,
    parse_region, parse_reopens_at, parse_status, privileged, station_not_found, Access,
};
use crate::accounts::tokens::TokenKeys;
use crate::actor::Actor;
use crate::authz;
use crate::error::{Kind, ServiceError, ServiceResult};
use crate::schema::Integral;
use crate::text::{StationAddress, StationName, StationNotice};
use crate::Context;

/// `null` in a body clears a field; a missing field leaves it alone.
fn double_option<'de, T, D>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct NewStation {
    /// The operating org (within the admin's subtree).
    pub org_id: String,
    /// `fixed`, `movable`, `workers_home` or `partner_shop`.
    #[serde(rename = "type")]
    #[schema(value_type = StationType)]
    pub kind: String,
    #[schema(value_type = StationName, inline)]
    pub name: String,
    #[schema(value_type = StationAddress, inline)]
    pub address: String,
    /// GB/T 2260 code of the county or district.
    #[schema(value_type = RegionCode)]
    pub region_code: String,
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
    /// `gcj02` (default) or `wgs84` (converted to GCJ-02).
    #[schema(value_type = Option<Datum>)]
    pub coord: Option<String>,
    #[serde(default)]
    #[schema(value_type = Vec<Amenity>)]
    pub amenities: Vec<String>,
    /// `{"weekly": {"mon": [{"open": "08:00", "close": "20:00"}], …}, "exceptions": [{"date": "2026-10-01", "spans": []}]}`.
    #[schema(value_type = HoursSpec)]
    pub hours: serde_json::Value,
    /// Default `open`; `reopens_at` only with `temporarily_closed`.
    #[schema(value_type = Option<StationStatus>)]
    pub status: Option<String>,
    /// RFC 3339 (`2026-10-08T09:00:00+08:00`); `format: date-time` alone is an annotation
    /// in OpenAPI 3.1, so the pattern says what the server reads.
    #[schema(value_type = Option<String>, format = DateTime, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")]
    pub reopens_at: Option<String>,
    #[schema(value_type = Option<StationNotice>, inline)]
    pub notice: Option<String>,
    /// A mobile number, or a landline with its area code (`028-86612345`).
    #[schema(pattern = "^(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})?$")]
    pub contact_phone: Option<String>,
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 10000)]
    pub capacity: Option<Integral>,
}

/// Creates a station (union admins, within their subtree).
pub async fn create(ctx: &Context, actor: &Actor, body: NewStation) -> ServiceResult<StationView> {
    let staff_id = actor.staff_id()?;
    authz::scopes(actor, Role::UnionAdmin)?;
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
    let reopens_at = parse_reopens_at(body.reopens_at.as_deref())?;
    let (status, reopens_at) = parse_status(body.status.as_deref().unwrap_or("open"), reopens_at)?;
    let notice = parse_notice(body.notice)?;
    let contact_phone = parse_contact_phone(body.contact_phone)?;
    let capacity = parse_capacity(body.capacity)?;
    let at_now = ctx.now();
    let now = at_now.naive_utc();
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
        code_epoch: 0,
    };
    let (tokens, caller) = (ctx.tokens.clone(), actor.clone());
    let view = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<StationView> {
                let org = orgs::get(conn, &station.org_id)?
                    .ok_or_else(|| ServiceError::not_found("org.not_found", "组织不存在"))?;
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
                Ok(view(conn, &tokens, at_now, station, true)?)
            })
        })
        .await?;
    announce(ctx, &view.id).await;
    tracing::info!(station = %view.id, "station created");
    Ok(view)
}

/// A station: public (riders look stations up before signing in); its managers and admins
/// also see its QR code and managers.
pub async fn get(ctx: &Context, actor: Option<&Actor>, id: String) -> ServiceResult<StationView> {
    let (tokens, now, actor) = (ctx.tokens.clone(), ctx.now(), actor.cloned());
    ctx.db
        .run(move |conn| -> ServiceResult<StationView> {
            let station = db::get(conn, &id)?.ok_or_else(station_not_found)?;
            let privileged = privileged(conn, actor.as_ref(), &station);
            Ok(view(conn, &tokens, now, station, privileged)?)
        })
        .await
}

/// The stations the calling staff member manages.
pub async fn mine(ctx: &Context, actor: &Actor) -> ServiceResult<MyStations> {
    let staff_id = actor.staff_id()?;
    let (tokens, now) = (ctx.tokens.clone(), ctx.now());
    let items = ctx
        .db
        .run(move |conn| -> ServiceResult<Vec<StationView>> {
            Ok(db::managed_by(conn, &staff_id)?
                .into_iter()
                .map(|s| view(conn, &tokens, now, s, true))
                .collect::<Result<_, _>>()?)
        })
        .await?;
    Ok(MyStations { items })
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StationPatch {
    #[schema(value_type = Option<StationName>, inline)]
    pub name: Option<String>,
    #[schema(value_type = Option<StationAddress>, inline)]
    pub address: Option<String>,
    #[schema(value_type = Option<RegionCode>)]
    pub region_code: Option<String>,
    /// Fixed stations only (a movable station moves with `PUT …/location`); with `lng`.
    #[schema(minimum = -90, maximum = 90)]
    pub lat: Option<f64>,
    /// With `lat`.
    #[schema(minimum = -180, maximum = 180)]
    pub lng: Option<f64>,
    /// `gcj02` (default) or `wgs84`, for `lat`/`lng`.
    #[schema(value_type = Option<Datum>)]
    pub coord: Option<String>,
    #[schema(value_type = Option<Vec<Amenity>>)]
    pub amenities: Option<Vec<String>>,
    #[schema(value_type = Option<HoursSpec>)]
    pub hours: Option<serde_json::Value>,
    #[schema(value_type = Option<StationStatus>)]
    pub status: Option<String>,
    /// With `temporarily_closed`: when it opens again (null: not known).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = DateTime, pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$")]
    pub reopens_at: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<StationNotice>, inline)]
    pub notice: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = "^(?:1[3-9][0-9]{9}|0[0-9]{2,3}-?[0-9]{7,8})?$")]
    pub contact_phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>, minimum = 0, maximum = 10000)]
    pub capacity: Option<Option<Integral>>,
}

fn stale() -> ServiceError {
    ServiceError::new(
        Kind::Stale,
        "station.version_mismatch",
        "驿站信息已被他人修改，请刷新后重试",
    )
}

/// Applies a patch to a station (validated field by field).
fn patched(mut s: Station, p: StationPatch) -> ServiceResult<Station> {
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
                return Err(ServiceError::rule(
                    "station.movable_location",
                    "流动驿站请通过更新位置接口移动",
                ));
            }
            let at = parse_point(lat, lng, p.coord.as_deref())?;
            s.lat = at.lat;
            s.lng = at.lng;
        }
        _ => {
            return Err(ServiceError::rule(
                "geo.coordinates_unpaired",
                "lat 与 lng 须同时提供",
            ))
        }
    }
    if let Some(codes) = p.amenities {
        s.amenities = amenities_text(parse_amenities(&codes)?);
    }
    if let Some(hours) = p.hours {
        s.hours = hours_text(&parse_hours(&hours)?);
    }
    let status = p.status.unwrap_or_else(|| s.status.clone());
    let reopens_at = match p.reopens_at {
        Some(value) => parse_reopens_at(value.as_deref())?,
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

/// Edits a station (its managers and union admins over its org), made against version
/// `expected` (None: whatever the current one is): stale when someone changed it since.
pub async fn update(
    ctx: &Context,
    actor: &Actor,
    id: String,
    expected: Option<i32>,
    patch: StationPatch,
) -> ServiceResult<StationView> {
    actor.staff()?;
    let at_now = ctx.now();
    let now = at_now.naive_utc();
    let (tokens, caller) = (ctx.tokens.clone(), actor.clone());
    let view = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<StationView> {
                let (station, _) = managed(conn, &caller, &id)?;
                let expected = expected.unwrap_or(station.version);
                if station.version != expected {
                    return Err(stale());
                }
                let mut changed = patched(station, patch)?;
                changed.updated_at = now;
                save(conn, &tokens, at_now, &changed, expected)
            })
        })
        .await?;
    announce(ctx, &view.id).await;
    Ok(view)
}

/// Writes a changed station if its version is still `expected` (412 otherwise) and returns
/// its new view (inside the caller's transaction).
fn save(
    conn: &mut DbConnection,
    tokens: &TokenKeys,
    now: DateTime<Utc>,
    changed: &Station,
    expected: i32,
) -> ServiceResult<StationView> {
    if !db::update_if_version(conn, changed, expected)? {
        return Err(stale());
    }
    let fresh = db::get(conn, &changed.id)?.ok_or_else(station_not_found)?;
    Ok(view(conn, tokens, now, fresh, true)?)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewLocation {
    #[schema(minimum = -90, maximum = 90)]
    pub lat: f64,
    #[schema(minimum = -180, maximum = 180)]
    pub lng: f64,
    /// `gcj02` (default) or `wgs84`.
    #[schema(value_type = Option<Datum>)]
    pub coord: Option<String>,
}

/// Rotates the station's QR code (its managers and union admins): the code shown from now on
/// is new, and the old one — a poster photographed and shared, say — no longer checks in.
pub async fn rotate_code(ctx: &Context, actor: &Actor, id: String) -> ServiceResult<StationView> {
    let staff_id = actor.staff_id()?;
    let (tokens, caller, now) = (ctx.tokens.clone(), actor.clone(), ctx.now());
    let view = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<StationView> {
                let (station, _) = managed(conn, &caller, &id)?;
                let epoch = db::rotate_code(conn, &station.id, now.naive_utc())?
                    .ok_or_else(station_not_found)?;
                tracing::info!(station = %station.id, staff = %staff_id, epoch, "station code rotated");
                let fresh = db::get(conn, &station.id)?.ok_or_else(station_not_found)?;
                Ok(view(conn, &tokens, now, fresh, true)?)
            })
        })
        .await?;
    announce(ctx, &view.id).await;
    Ok(view)
}

/// Moves a movable station (its managers and union admins); the previous positions are kept.
pub async fn move_to(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: NewLocation,
) -> ServiceResult<StationView> {
    let staff_id = actor.staff_id()?;
    let at = parse_point(body.lat, body.lng, body.coord.as_deref())?;
    let at_now = ctx.now();
    let now = at_now.naive_utc();
    let (tokens, caller) = (ctx.tokens.clone(), actor.clone());
    let view = ctx
        .db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<StationView> {
                let (station, _) = managed(conn, &caller, &id)?;
                if station.kind != StationType::Movable.as_str() {
                    return Err(ServiceError::rule(
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
                save(conn, &tokens, at_now, &moved, version)
            })
        })
        .await?;
    announce(ctx, &view.id).await;
    Ok(view)
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ManagersBody {
    /// Staff ids, from within the admin's subtree; an empty list removes every manager.
    /// Being assigned to a station is what makes a staff member its manager. At most 50
    /// different ids.
    #[schema(max_items = 50)]
    pub staff_ids: Vec<String>,
}

/// Sets a station's managers (union admins over its org).
pub async fn set_managers(
    ctx: &Context,
    actor: &Actor,
    id: String,
    body: ManagersBody,
) -> ServiceResult<StationView> {
    authz::scopes(actor, Role::UnionAdmin)?;
    let mut staff_ids = body.staff_ids;
    staff_ids.sort();
    staff_ids.dedup();
    if staff_ids.len() > 50 {
        return Err(bad("station.too_many_managers", "一个驿站最多 50 名管理员"));
    }
    let at_now = ctx.now();
    let now = at_now.naive_utc();
    let (tokens, caller) = (ctx.tokens.clone(), actor.clone());
    ctx.db
        .run(move |conn| {
            write_tx(conn, |conn| -> ServiceResult<StationView> {
                let (station, access) = managed(conn, &caller, &id)?;
                if access != Access::Admin {
                    return Err(ServiceError::forbidden(
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
                            ServiceError::rule("staff.not_found", "工作人员不存在或已停用")
                        })?;
                    let home = orgs::get(conn, &member.org_id)?
                        .map(|o| OrgPath::from_stored(o.path))
                        .ok_or_else(|| {
                            ServiceError::rule("staff.not_found", "工作人员不存在或已停用")
                        })?;
                    if !scopes.iter().any(|s| s.contains(&home)) {
                        return Err(ServiceError::rule(
                            "station.manager_out_of_scope",
                            format!("{} 不在您管理的组织内", member.display_name),
                        ));
                    }
                }
                db::set_managers(conn, &station.id, &staff_ids, now)?;
                Ok(view(conn, &tokens, at_now, station, true)?)
            })
        })
        .await
}
