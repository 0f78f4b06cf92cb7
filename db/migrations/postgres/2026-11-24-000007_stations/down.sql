DROP TABLE station_reports;
DROP TABLE station_visits;
DROP TABLE station_photos;
DROP TABLE station_locations;
DROP TABLE station_managers;
DROP TABLE stations;
