//! Storage of rest stations: the stations themselves (with a version for optimistic edits),
//! their managers, the positions a movable station has had, photos, visits and reports.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Date, Text};

use crate::schema::{
    station_locations, station_managers, station_photos, station_reports, station_visits, stations,
};
use crate::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = stations)]
pub struct Station {
    pub id: String,
    pub org_id: String,
    pub kind: String,
    pub name: String,
    pub address: String,
    pub region_code: String,
    pub lat: f64,
    pub lng: f64,
    pub amenities: String,
    pub hours: String,
    pub status: String,
    pub reopens_at: Option<NaiveDateTime>,
    pub notice: Option<String>,
    pub contact_phone: Option<String>,
    pub capacity: Option<i32>,
    pub version: i32,
    pub created_by: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    /// Moves on when the station's QR code is rotated (the old code stops working).
    pub code_epoch: i32,
}

pub fn insert(conn: &mut DbConnection, s: &Station) -> Result<(), DbError> {
    diesel::insert_into(stations::table)
        .values(s)
        .execute(conn)?;
    Ok(())
}

/// Many stations in one statement per chunk (seeding).
pub fn insert_many(conn: &mut DbConnection, all: &[Station]) -> Result<(), DbError> {
    // Multi-row inserts are backend-specific in diesel: one statement per chunk on each.
    for chunk in all.chunks(500) {
        let q = diesel::insert_into(stations::table).values(chunk);
        match conn {
            DbConnection::Pg(c) => q.execute(c)?,
            DbConnection::Sqlite(c) => q.execute(c)?,
        };
    }
    Ok(())
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Option<Station>, DbError> {
    Ok(stations::table
        .find(id)
        .select(Station::as_select())
        .first(conn)
        .optional()?)
}

/// Writes `s` over the stored station if its version is still `expected` (the version is
/// bumped). False when someone else changed it meanwhile.
pub fn update_if_version(
    conn: &mut DbConnection,
    s: &Station,
    expected: i32,
) -> Result<bool, DbError> {
    let n = diesel::update(
        stations::table
            .find(&s.id)
            .filter(stations::version.eq(expected)),
    )
    .set((
        stations::kind.eq(&s.kind),
        stations::name.eq(&s.name),
        stations::address.eq(&s.address),
        stations::region_code.eq(&s.region_code),
        stations::lat.eq(s.lat),
        stations::lng.eq(s.lng),
        stations::amenities.eq(&s.amenities),
        stations::hours.eq(&s.hours),
        stations::status.eq(&s.status),
        stations::reopens_at.eq(s.reopens_at),
        stations::notice.eq(&s.notice),
        stations::contact_phone.eq(&s.contact_phone),
        stations::capacity.eq(s.capacity),
        stations::version.eq(expected + 1),
        stations::updated_at.eq(s.updated_at),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Moves the station's QR code on to a new epoch (the version is bumped, as for any change);
/// returns the new epoch, or None when the station does not exist.
pub fn rotate_code(
    conn: &mut DbConnection,
    id: &str,
    now: NaiveDateTime,
) -> Result<Option<i32>, DbError> {
    let n = diesel::update(stations::table.find(id))
        .set((
            stations::code_epoch.eq(stations::code_epoch + 1),
            stations::version.eq(stations::version + 1),
            stations::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    Ok(Some(
        stations::table
            .find(id)
            .select(stations::code_epoch)
            .first(conn)?,
    ))
}

/// Reports one worker filed at any station since `since`.
pub fn recent_reports_by_reporter(
    conn: &mut DbConnection,
    reporter_id: &str,
    since: NaiveDateTime,
) -> Result<i64, DbError> {
    Ok(station_reports::table
        .filter(station_reports::reporter_id.eq(reporter_id))
        .filter(station_reports::created_at.gt(since))
        .count()
        .get_result(conn)?)
}

/// Every station (the search index is built from this at start).
pub fn all(conn: &mut DbConnection) -> Result<Vec<Station>, DbError> {
    Ok(stations::table.select(Station::as_select()).load(conn)?)
}

/// How many stations there are (the index sizes its load by it).
pub fn count(conn: &mut DbConnection) -> Result<i64, DbError> {
    Ok(stations::table.count().get_result(conn)?)
}

/// What the search index keeps of a station: only the columns it needs, so loading
/// 150,000 of them does not pass every notice, phone and audit column through memory.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = stations)]
pub struct SearchRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub address: String,
    pub lat: f64,
    pub lng: f64,
    pub amenities: String,
    pub hours: String,
    pub status: String,
    pub reopens_at: Option<NaiveDateTime>,
    pub version: i32,
}

/// A page of search rows in id order after `after` (keyset), at most `limit`: the index
/// loads page by page, so its peak memory is the index plus one page.
pub fn search_page(
    conn: &mut DbConnection,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<SearchRow>, DbError> {
    let mut q = stations::table.select(SearchRow::as_select()).into_boxed();
    if let Some(after) = after {
        q = q.filter(stations::id.gt(after));
    }
    Ok(q.order(stations::id.asc()).limit(limit).load(conn)?)
}

/// One station's search columns (the index's refresh after a write).
pub fn search_row(conn: &mut DbConnection, id: &str) -> Result<Option<SearchRow>, DbError> {
    Ok(stations::table
        .find(id)
        .select(SearchRow::as_select())
        .first(conn)
        .optional()?)
}

/// Stations changed at or after `since` (the index's catch-up).
pub fn changed_since(
    conn: &mut DbConnection,
    since: NaiveDateTime,
) -> Result<Vec<SearchRow>, DbError> {
    Ok(stations::table
        .filter(stations::updated_at.ge(since))
        .select(SearchRow::as_select())
        .load(conn)?)
}

// Managers

/// How many stations the staff member manages.
pub fn managed_count(conn: &mut DbConnection, staff_id: &str) -> Result<i64, DbError> {
    Ok(station_managers::table
        .filter(station_managers::staff_id.eq(staff_id))
        .count()
        .get_result(conn)?)
}

pub fn managers(conn: &mut DbConnection, station_id: &str) -> Result<Vec<String>, DbError> {
    Ok(station_managers::table
        .filter(station_managers::station_id.eq(station_id))
        .select(station_managers::staff_id)
        .order(station_managers::staff_id)
        .load(conn)?)
}

/// Replaces the station's managers (inside the caller's transaction).
pub fn set_managers(
    conn: &mut DbConnection,
    station_id: &str,
    staff_ids: &[String],
    now: NaiveDateTime,
) -> Result<(), DbError> {
    diesel::delete(station_managers::table.filter(station_managers::station_id.eq(station_id)))
        .execute(conn)?;
    for staff_id in staff_ids {
        diesel::insert_into(station_managers::table)
            .values((
                station_managers::station_id.eq(station_id),
                station_managers::staff_id.eq(staff_id),
                station_managers::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// A station's managers with their display names, in one query.
pub fn managers_named(
    conn: &mut DbConnection,
    station_id: &str,
) -> Result<Vec<(String, String)>, DbError> {
    use crate::schema::staff;
    Ok(station_managers::table
        .inner_join(staff::table)
        .filter(station_managers::station_id.eq(station_id))
        .select((staff::id, staff::display_name))
        .order(staff::id)
        .load(conn)?)
}

pub fn is_manager(
    conn: &mut DbConnection,
    station_id: &str,
    staff_id: &str,
) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        station_managers::table
            .filter(station_managers::station_id.eq(station_id))
            .filter(station_managers::staff_id.eq(staff_id)),
    ))
    .get_result(conn)?)
}

/// Whether a staff member manages any station.
pub fn manages_any(conn: &mut DbConnection, staff_id: &str) -> Result<bool, DbError> {
    Ok(diesel::select(diesel::dsl::exists(
        station_managers::table.filter(station_managers::staff_id.eq(staff_id)),
    ))
    .get_result(conn)?)
}

/// The stations a staff member manages, by name.
pub fn managed_by(conn: &mut DbConnection, staff_id: &str) -> Result<Vec<Station>, DbError> {
    Ok(stations::table
        .inner_join(station_managers::table)
        .filter(station_managers::staff_id.eq(staff_id))
        .select(Station::as_select())
        .order((stations::name, stations::id))
        .load(conn)?)
}

// Positions of movable stations

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = station_locations)]
pub struct Location {
    pub id: String,
    pub station_id: String,
    pub lat: f64,
    pub lng: f64,
    pub recorded_by: String,
    pub recorded_at: NaiveDateTime,
}

pub fn add_location(conn: &mut DbConnection, l: &Location) -> Result<(), DbError> {
    diesel::insert_into(station_locations::table)
        .values(l)
        .execute(conn)?;
    Ok(())
}

/// The latest positions, newest first.
pub fn locations(
    conn: &mut DbConnection,
    station_id: &str,
    limit: i64,
) -> Result<Vec<Location>, DbError> {
    Ok(station_locations::table
        .filter(station_locations::station_id.eq(station_id))
        .order((
            station_locations::recorded_at.desc(),
            station_locations::id.desc(),
        ))
        .limit(limit)
        .select(Location::as_select())
        .load(conn)?)
}

// Photos

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = station_photos)]
pub struct Photo {
    pub id: String,
    pub station_id: String,
    pub object_key: String,
    pub content_type: String,
    pub bytes: i64,
    pub uploaded_by: String,
    pub created_at: NaiveDateTime,
}

pub fn add_photo(conn: &mut DbConnection, p: &Photo) -> Result<(), DbError> {
    diesel::insert_into(station_photos::table)
        .values(p)
        .execute(conn)?;
    Ok(())
}

pub fn photos(conn: &mut DbConnection, station_id: &str) -> Result<Vec<Photo>, DbError> {
    Ok(station_photos::table
        .filter(station_photos::station_id.eq(station_id))
        .order((station_photos::created_at, station_photos::id))
        .select(Photo::as_select())
        .load(conn)?)
}

pub fn photo(conn: &mut DbConnection, id: &str) -> Result<Option<Photo>, DbError> {
    Ok(station_photos::table
        .find(id)
        .select(Photo::as_select())
        .first(conn)
        .optional()?)
}

pub fn photo_count(conn: &mut DbConnection, station_id: &str) -> Result<i64, DbError> {
    Ok(station_photos::table
        .filter(station_photos::station_id.eq(station_id))
        .count()
        .get_result(conn)?)
}

// Visits

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = station_visits)]
pub struct Visit {
    pub id: String,
    pub station_id: String,
    pub visitor: String,
    pub source: String,
    pub visited_at: NaiveDateTime,
    pub visited_on: NaiveDate,
}

pub use crate::tx::lock;

/// Records a visit unless the same visitor has one at this station since `since` (a rolling
/// hour); returns the visit and whether it is new. Run inside a write transaction: on
/// PostgreSQL an advisory lock on (station, visitor) makes two simultaneous check-ins one.
pub fn visit_once(
    conn: &mut DbConnection,
    visit: &Visit,
    since: NaiveDateTime,
) -> Result<(Visit, bool), DbError> {
    lock(
        conn,
        &format!("visit:{}:{}", visit.station_id, visit.visitor),
    )?;
    let existing = station_visits::table
        .filter(station_visits::station_id.eq(&visit.station_id))
        .filter(station_visits::visitor.eq(&visit.visitor))
        .filter(station_visits::visited_at.gt(since))
        .order(station_visits::visited_at.desc())
        .select(Visit::as_select())
        .first(conn)
        .optional()?;
    if let Some(existing) = existing {
        return Ok((existing, false));
    }
    diesel::insert_into(station_visits::table)
        .values(visit)
        .execute(conn)?;
    Ok((visit.clone(), true))
}

#[derive(QueryableByName)]
struct DayRow {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(sql_type = BigInt)]
    visits: i64,
    #[diesel(sql_type = BigInt)]
    visitors: i64,
}

#[derive(QueryableByName)]
struct Distinct {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Visits and distinct visitors of one day.
pub type DayCount = (NaiveDate, i64, i64);

/// Visits per day (local dates `from..=to`, days without visits left out) and distinct
/// visitors over the whole range.
pub fn visit_stats(
    conn: &mut DbConnection,
    station_id: &str,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<(Vec<DayCount>, i64), DbError> {
    let per_day = "SELECT visited_on AS day, CAST(COUNT(*) AS BIGINT) AS visits,
                          CAST(COUNT(DISTINCT visitor) AS BIGINT) AS visitors
                   FROM station_visits WHERE station_id = $1 AND visited_on >= $2 AND visited_on <= $3
                   GROUP BY visited_on ORDER BY visited_on";
    let distinct = "SELECT CAST(COUNT(DISTINCT visitor) AS BIGINT) AS n FROM station_visits
                    WHERE station_id = $1 AND visited_on >= $2 AND visited_on <= $3";
    macro_rules! run {
        ($c:expr) => {{
            let days: Vec<DayRow> = diesel::sql_query(per_day)
                .bind::<Text, _>(station_id)
                .bind::<Date, _>(from)
                .bind::<Date, _>(to)
                .load($c)?;
            let total: Distinct = diesel::sql_query(distinct)
                .bind::<Text, _>(station_id)
                .bind::<Date, _>(from)
                .bind::<Date, _>(to)
                .get_result($c)?;
            (days, total.n)
        }};
    }
    let (days, total) = match conn {
        DbConnection::Pg(c) => run!(c),
        DbConnection::Sqlite(c) => run!(c),
    };
    Ok((
        days.into_iter()
            .map(|d| (d.day, d.visits, d.visitors))
            .collect(),
        total,
    ))
}

// Reports

pub const REPORT_OPEN: &str = gongyou_domain::station::ReportStatus::Open.as_str();
pub const REPORT_RESOLVED: &str = gongyou_domain::station::ReportStatus::Resolved.as_str();

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = station_reports)]
pub struct Report {
    pub id: String,
    pub station_id: String,
    pub reporter_id: String,
    pub kind: String,
    pub note: Option<String>,
    pub status: String,
    pub resolution: Option<String>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

pub fn add_report(conn: &mut DbConnection, r: &Report) -> Result<(), DbError> {
    diesel::insert_into(station_reports::table)
        .values(r)
        .execute(conn)?;
    Ok(())
}

pub fn report(
    conn: &mut DbConnection,
    station_id: &str,
    id: &str,
) -> Result<Option<Report>, DbError> {
    Ok(station_reports::table
        .find(id)
        .filter(station_reports::station_id.eq(station_id))
        .select(Report::as_select())
        .first(conn)
        .optional()?)
}

/// A station's reports, newest first (ids are time-ordered), after the cursor, optionally
/// of one status.
pub fn reports(
    conn: &mut DbConnection,
    station_id: &str,
    status: Option<&str>,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Report>, DbError> {
    let mut q = station_reports::table
        .filter(station_reports::station_id.eq(station_id))
        .into_boxed();
    if let Some(status) = status {
        q = q.filter(station_reports::status.eq(status.to_owned()));
    }
    if let Some(before) = before {
        q = q.filter(station_reports::id.lt(before.to_owned()));
    }
    Ok(q.order(station_reports::id.desc())
        .limit(limit)
        .select(Report::as_select())
        .load(conn)?)
}

/// Resolves an open report; false when it was already resolved.
pub fn resolve_report(
    conn: &mut DbConnection,
    id: &str,
    by: &str,
    resolution: Option<&str>,
    now: NaiveDateTime,
) -> Result<bool, DbError> {
    let n = diesel::update(
        station_reports::table
            .find(id)
            .filter(station_reports::status.eq(REPORT_OPEN)),
    )
    .set((
        station_reports::status.eq(REPORT_RESOLVED),
        station_reports::resolution.eq(resolution),
        station_reports::resolved_by.eq(by),
        station_reports::resolved_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Open reports a worker filed at a station since `since` (a flood guard).
pub fn recent_reports_by(
    conn: &mut DbConnection,
    station_id: &str,
    reporter_id: &str,
    since: NaiveDateTime,
) -> Result<i64, DbError> {
    Ok(station_reports::table
        .filter(station_reports::station_id.eq(station_id))
        .filter(station_reports::reporter_id.eq(reporter_id))
        .filter(station_reports::created_at.gt(since))
        .count()
        .get_result(conn)?)
}
