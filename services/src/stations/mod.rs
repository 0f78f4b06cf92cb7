//! Rest stations (驿站): scoped admins create them and assign managers; managers keep them
//! current (optimistic edits by version, movable stations' positions, photos); anyone finds
//! the nearest open one ([`search`]); workers check in and report problems ([`visits`]).

mod manage;
mod photos;
pub mod search;
pub mod views;
pub mod visits;

pub use manage::{
    create, get, mine, move_to, rotate_code, set_managers, update, ManagersBody, NewLocation,
    NewStation, StationPatch,
};
pub use photos::{add_photo, may_add_photo, photo, photo_missing, photo_too_large, PhotoContent};

use chrono::{DateTime, Utc};
use gongyou_db::stations::{self as db, Station};
use gongyou_db::{orgs, DbConnection};
use gongyou_domain::geo::{self, Datum, LatLng};
use gongyou_domain::org::OrgPath;
use gongyou_domain::region::RegionCode;
use gongyou_domain::staff::Role;
use gongyou_domain::station::{Amenity, AmenitySet, OpeningHours, StationStatus};

use crate::accounts::tokens::TokenKeys;
use crate::actor::Actor;
use crate::error::{ServiceError, ServiceResult};
use crate::text::{StationAddress, StationName, StationNotice};
use crate::Context;

pub(crate) fn station_not_found() -> ServiceError {
    ServiceError::not_found("station.not_found", "驿站不存在")
}

// Parsing at the edge: every field of a station is checked into its domain type.

fn bad(code: &'static str, detail: impl Into<String>) -> ServiceError {
    ServiceError::invalid(code, detail.into())
}

fn parse_name(name: &str) -> ServiceResult<String> {
    StationName::RULE
        .check(name)
        .ok_or_else(|| bad("station.invalid_name", "驿站名称须为 2 至 40 个字符"))
}

fn parse_address(address: &str) -> ServiceResult<String> {
    StationAddress::RULE
        .check(address)
        .ok_or_else(|| bad("station.invalid_address", "地址须为 2 至 120 个字符"))
}

fn parse_region(code: &str) -> ServiceResult<RegionCode> {
    RegionCode::parse(code).map_err(|_| bad("station.invalid_region", "行政区划代码无效"))
}

/// A point in GCJ-02 from `lat`/`lng` in `coord` (`gcj02`, the default, or `wgs84`).
pub fn parse_point(lat: f64, lng: f64, coord: Option<&str>) -> ServiceResult<LatLng> {
    let datum = match coord {
        None => Datum::Gcj02,
        Some(c) => {
            Datum::parse(c).map_err(|_| bad("geo.invalid_coord", "coord 须为 gcj02 或 wgs84"))?
        }
    };
    let point = geo::parse_lat_lng(lat, lng).map_err(|e| bad(e.code(), e.detail()))?;
    Ok(geo::to_gcj02(point, datum))
}

fn parse_amenities(codes: &[String]) -> ServiceResult<AmenitySet> {
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

fn parse_hours(value: &serde_json::Value) -> ServiceResult<OpeningHours> {
    OpeningHours::from_json(value).map_err(|e| {
        if e.is_rule() {
            ServiceError::rule(e.code(), e.detail())
        } else {
            bad(e.code(), e.detail())
        }
    })
}

fn hours_text(hours: &OpeningHours) -> String {
    serde_json::to_string(hours).unwrap_or_default()
}

fn parse_notice(notice: Option<String>) -> ServiceResult<Option<String>> {
    StationNotice::RULE
        .check_optional(notice.as_deref())
        .map_err(|()| bad("station.invalid_notice", "公告不能超过 200 个字符"))
}

/// A mobile number (`13812345678`) or a landline with its area code (`028-86612345`,
/// `02886612345`); empty is none.
fn parse_contact_phone(phone: Option<String>) -> ServiceResult<Option<String>> {
    let Some(phone) = phone.filter(|p| !p.is_empty()) else {
        return Ok(None);
    };
    let b = phone.as_bytes();
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && digits(b);
    let landline = b.first() == Some(&b'0') && {
        let (area, number) = match phone.split_once('-') {
            Some((area, number)) => (area.as_bytes(), number.as_bytes()),
            None => (b, &b[0..0]),
        };
        if number.is_empty() {
            // Without a dash: 0 + 2–3 digits of area code + 7–8 digits.
            (10..=12).contains(&b.len()) && digits(b)
        } else {
            (3..=4).contains(&area.len())
                && digits(area)
                && (7..=8).contains(&number.len())
                && digits(number)
        }
    };
    if mobile || landline {
        Ok(Some(phone))
    } else {
        Err(bad(
            "station.invalid_phone",
            "联系电话须为手机号或带区号的固定电话",
        ))
    }
}

fn parse_capacity(capacity: Option<crate::schema::Integral>) -> ServiceResult<Option<i32>> {
    match capacity.map(|c| c.0) {
        Some(c) if !(0..=10_000).contains(&c) => Err(bad(
            "station.invalid_capacity",
            "容纳人数须在 0 至 10000 之间",
        )),
        // In range, so it fits.
        other => Ok(other.and_then(|c| i32::try_from(c).ok())),
    }
}

/// `reopens_at` as sent: RFC 3339 of the contract's pattern (400 otherwise), a time that
/// exists (422 for `2030-02-30T…`).
fn parse_reopens_at(value: Option<&str>) -> ServiceResult<Option<DateTime<Utc>>> {
    use gongyou_domain::time::{parse_timestamp, TimestampError};
    value
        .map(|v| {
            parse_timestamp(v).map_err(|e| match e {
                TimestampError::Malformed => bad(
                    "station.invalid_reopens_at",
                    "reopens_at 须为 RFC 3339 时间，例如 2026-10-08T09:00:00+08:00",
                ),
                TimestampError::NoSuchTime => ServiceError::rule(
                    "station.invalid_reopens_at",
                    "reopens_at 不是一个存在的时间",
                ),
            })
        })
        .transpose()
}

fn parse_status(
    status: &str,
    reopens_at: Option<DateTime<Utc>>,
) -> ServiceResult<(StationStatus, Option<DateTime<Utc>>)> {
    let status = StationStatus::parse(status).ok_or_else(|| {
        bad(
            "station.invalid_status",
            "状态须为 open、temporarily_closed 或 closed",
        )
    })?;
    if reopens_at.is_some() && status != StationStatus::TemporarilyClosed {
        return Err(ServiceError::rule(
            "station.reopens_at_not_closed",
            "只有暂停开放的驿站可以填写恢复时间",
        ));
    }
    Ok((status, reopens_at))
}

/// The signed code on a station's QR: `GYS1.<station id>.<mac>` for the first code (epoch
/// 0, what posters printed before rotation existed carry), `GYS1.<station id>.<epoch>.<mac>`
/// after a rotation. Each rotation makes the previous code worthless.
pub fn station_code(tokens: &TokenKeys, station_id: &str, epoch: i32) -> String {
    use base64::Engine;
    let encode =
        |mac: [u8; 32]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&mac[..16]);
    if epoch == 0 {
        format!(
            "GYS1.{station_id}.{}",
            encode(tokens.mac(&["station-code", station_id]))
        )
    } else {
        let epoch = epoch.to_string();
        format!(
            "GYS1.{station_id}.{epoch}.{}",
            encode(tokens.mac(&["station-code", station_id, &epoch]))
        )
    }
}

/// Whether `code` is the station's current genuine code.
fn station_code_valid(
    tokens: &TokenKeys,
    station: &gongyou_db::stations::Station,
    code: &str,
) -> bool {
    let expected = station_code(tokens, &station.id, station.code_epoch);
    subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), code.as_bytes()).into()
}

// Who may change a station

/// How the actor may act on a station.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// A union admin over the station's org.
    Admin,
    /// One of the station's managers.
    Manager,
}

/// The station, with how the actor may act on it: 404 when there is no such station, 403
/// for workers and for staff who neither manage it nor administer its org.
pub(crate) fn managed(
    conn: &mut DbConnection,
    actor: &Actor,
    station_id: &str,
) -> ServiceResult<(Station, Access)> {
    let (staff_id, _) = actor.staff()?;
    let station = db::get(conn, station_id)?.ok_or_else(station_not_found)?;
    if let Some(access) = access_of(conn, actor, staff_id, &station)? {
        return Ok((station, access));
    }
    Err(ServiceError::forbidden(
        "station.not_yours",
        "您不是该驿站的管理员",
    ))
}

fn access_of(
    conn: &mut DbConnection,
    actor: &Actor,
    staff_id: &str,
    station: &Station,
) -> ServiceResult<Option<Access>> {
    let path = orgs::get(conn, &station.org_id)?
        .map(|o| OrgPath::from_stored(o.path))
        .ok_or_else(station_not_found)?;
    if actor.holds(Role::UnionAdmin, &path) {
        return Ok(Some(Access::Admin));
    }
    // Station managers are assigned on stations, not granted on orgs (ADR 006).
    Ok(db::is_manager(conn, &station.id, staff_id)?.then_some(Access::Manager))
}

/// Whether the actor (if staff) manages or administers the station.
fn privileged(conn: &mut DbConnection, actor: Option<&Actor>, station: &Station) -> bool {
    let Some(actor) = actor else {
        return false;
    };
    let Ok((staff_id, _)) = actor.staff() else {
        return false;
    };
    matches!(access_of(conn, actor, staff_id, station), Ok(Some(_)))
}

/// After a committed change of station `id`: this process's search (if it has one) sees it
/// now, and the other replicas are told which station changed (they read it at once; a
/// replica that misses the message finds it in its next catch-up).
async fn announce(ctx: &Context, id: &str) {
    if let Some(search) = &ctx.stations {
        if let Err(e) = search.refresh_one(&ctx.db, id.to_owned()).await {
            tracing::warn!(error = %e, "station index refresh failed; the periodic catch-up will retry");
        }
    }
    if let Err(e) = ctx.kv.publish(search::CHANGED, id).await {
        tracing::warn!(error = %e, "could not announce a station change; replicas catch up within the refresh period");
    }
}
