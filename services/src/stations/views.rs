//! What the station use-cases answer: a station, its photos, positions and managers, and
//! today's hours as `HH:MM` spans.

use chrono::{DateTime, Utc};
use gongyou_db::stations::{self as db, Station};
use gongyou_db::{orgs, DbConnection, DbError};
use gongyou_domain::region::RegionCode;
use gongyou_domain::station::{open_now, AmenitySet, OpeningHours, StationStatus, StationType};
use gongyou_domain::time::china_date;
use serde::Serialize;
use utoipa::ToSchema;

use super::station_code;
use crate::accounts::tokens::TokenKeys;
use crate::views::OrgRef;

/// Positions of a movable station shown with it.
const RECENT_LOCATIONS: i64 = 10;

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

pub(crate) fn hhmm(minute: u16) -> &'static str {
    HHMM.get(usize::from(minute)).map_or("", String::as_str)
}

pub fn span_views(spans: &[gongyou_domain::station::Span]) -> Vec<SpanView> {
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

/// A station as its callers see it at `now`; `privileged` (its managers and admins) adds
/// its QR code, managers and a movable station's track.
pub fn view(
    conn: &mut DbConnection,
    tokens: &TokenKeys,
    now: DateTime<Utc>,
    s: Station,
    privileged: bool,
) -> Result<StationView, DbError> {
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
        amenities: AmenitySet::parse_stored(&s.amenities)
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
        station_code: privileged.then(|| station_code(tokens, &s.id, s.code_epoch)),
        managers,
        id: s.id,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyStations {
    pub items: Vec<StationView>,
}
