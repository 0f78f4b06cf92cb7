-- Rest stations (驿站): what a rider needs to find the nearest open one. Coordinates are
-- GCJ-02. `amenities` is a comma-separated list of codes from the fixed vocabulary,
-- `hours` the weekly opening hours and dated exceptions as JSON (Asia/Shanghai), `version`
-- the ETag of optimistic edits. Search runs on an in-memory index per process, refreshed
-- from `updated_at` (ADR 011).
CREATE TABLE stations (
    id TEXT NOT NULL PRIMARY KEY,
    org_id TEXT NOT NULL REFERENCES orgs (id),
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    region_code TEXT NOT NULL,
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    amenities TEXT NOT NULL,
    hours TEXT NOT NULL,
    status TEXT NOT NULL,
    reopens_at TIMESTAMP,
    notice TEXT,
    contact_phone TEXT,
    capacity INTEGER,
    version INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX stations_org_idx ON stations (org_id);
CREATE INDEX stations_updated_idx ON stations (updated_at);

-- The staff who keep a station current.
CREATE TABLE station_managers (
    station_id TEXT NOT NULL REFERENCES stations (id),
    staff_id TEXT NOT NULL REFERENCES staff (id),
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (station_id, staff_id)
);
CREATE INDEX station_managers_staff_idx ON station_managers (staff_id);

-- Where a movable station has been (the current position is on the station).
CREATE TABLE station_locations (
    id TEXT NOT NULL PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations (id),
    lat DOUBLE PRECISION NOT NULL,
    lng DOUBLE PRECISION NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TIMESTAMP NOT NULL
);
CREATE INDEX station_locations_station_idx ON station_locations (station_id, recorded_at);

CREATE TABLE station_photos (
    id TEXT NOT NULL PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations (id),
    object_key TEXT NOT NULL,
    content_type TEXT NOT NULL,
    bytes BIGINT NOT NULL,
    uploaded_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX station_photos_station_idx ON station_photos (station_id, created_at);

-- Visits: check-ins by QR and member-card verifications at the station. `visitor` is a
-- keyed hash of the user id (distinct visitors and the one-per-hour rule need no more, and
-- a leaked table does not tell where a named worker has been).
CREATE TABLE station_visits (
    id TEXT NOT NULL PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations (id),
    visitor TEXT NOT NULL,
    source TEXT NOT NULL,
    visited_at TIMESTAMP NOT NULL,
    visited_on DATE NOT NULL
);
CREATE INDEX station_visits_day_idx ON station_visits (station_id, visited_on);
CREATE INDEX station_visits_visitor_idx ON station_visits (station_id, visitor, visited_at);

-- Problems workers report (closed when it says open, an amenity missing, …).
CREATE TABLE station_reports (
    id TEXT NOT NULL PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES stations (id),
    reporter_id TEXT NOT NULL REFERENCES users (id),
    kind TEXT NOT NULL,
    note TEXT,
    status TEXT NOT NULL,
    resolution TEXT,
    resolved_by TEXT,
    resolved_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX station_reports_station_idx ON station_reports (station_id, status, created_at);
