DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE role_grants;
DROP TABLE staff;
DROP TABLE users;
DROP TABLE orgs;
