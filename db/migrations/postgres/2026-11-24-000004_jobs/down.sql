DROP TABLE periodic_runs;
DROP TABLE jobs;
