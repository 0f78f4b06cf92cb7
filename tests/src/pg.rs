//! Test databases on PostgreSQL: migrate once into a template named after the migrations'
//! content, then give each test app its own copy (`CREATE DATABASE … TEMPLATE`), and drop it
//! afterwards. An advisory lock keeps parallel test processes from racing on the template.

use std::fmt::Write as _;

use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, PgConnection, QueryableByName, RunQueryDsl};
use gongyou_db::{DatabaseUrl, DbConnection};
use sha2::{Digest, Sha256};

/// An arbitrary constant naming the harness's lock among advisory locks.
const TEMPLATE_LOCK: i64 = 0x6779_7465_7374_706c;

/// The URL of database `name` on the server of `server_url`.
pub fn url_with_database(server_url: &str, name: &str) -> anyhow::Result<String> {
    let (base, query) = match server_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (server_url, None),
    };
    let authority_start = base
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| anyhow::anyhow!("not a URL: {server_url}"))?;
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut url = format!("{}/{name}", &base[..path_start]);
    if let Some(q) = query {
        let _ = write!(url, "?{q}");
    }
    Ok(url)
}

/// A hash of the PostgreSQL migrations' files, so a changed migration gets a new template.
fn migrations_fingerprint() -> anyhow::Result<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../db/migrations/postgres");
    let mut files = Vec::new();
    for entry in walk(&dir)? {
        files.push((
            entry.strip_prefix(&dir)?.display().to_string(),
            std::fs::read(&entry)?,
        ));
    }
    files.sort();
    let mut hasher = Sha256::new();
    for (name, content) in files {
        hasher.update(name.as_bytes());
        hasher.update(&content);
    }
    Ok(hex_prefix(&hasher.finalize(), 12))
}

fn hex_prefix(bytes: &[u8], len: usize) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })[..len]
        .to_owned()
}

fn walk(dir: &std::path::Path) -> anyhow::Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            out.extend(walk(&path)?);
        } else {
            out.push(path);
        }
    }
    Ok(out)
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    datname: String,
}

/// The `n` of a query selecting one BIGINT `n` (`SELECT CAST(… AS BIGINT) AS n …`).
pub fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(conn)
        .unwrap_or_else(|e| panic!("{e}: {sql}"))
        .n
}

fn exists(conn: &mut PgConnection, name: &str) -> anyhow::Result<bool> {
    let found: Count =
        diesel::sql_query("SELECT count(*) AS n FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(name)
            .get_result(conn)?;
    Ok(found.n > 0)
}

/// Creates a fresh database cloned from the migrated template; returns its name.
pub fn clone_template(server_url: &str) -> anyhow::Result<String> {
    let template = format!("gongyou_tpl_{}", migrations_fingerprint()?);
    let name = format!("gongyou_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::establish(server_url)?;
    diesel::sql_query(format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})")).execute(&mut admin)?;
    let result = (|| -> anyhow::Result<()> {
        if !exists(&mut admin, &template)? {
            build_template(&mut admin, server_url, &template)?;
        }
        diesel::sql_query(format!(
            "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
        ))
        .execute(&mut admin)?;
        Ok(())
    })();
    diesel::sql_query(format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})")).execute(&mut admin)?;
    result?;
    Ok(name)
}

fn build_template(
    admin: &mut PgConnection,
    server_url: &str,
    template: &str,
) -> anyhow::Result<()> {
    // Templates of older migrations are of no use any more.
    let stale: Vec<Name> = diesel::sql_query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'gongyou\\_tpl\\_%' AND datname <> $1",
    )
    .bind::<Text, _>(template)
    .load(admin)?;
    for old in stale {
        let _ = diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)",
            old.datname
        ))
        .execute(admin);
    }
    let building = format!("{template}_building");
    diesel::sql_query(format!(
        "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
    ))
    .execute(admin)?;
    diesel::sql_query(format!("CREATE DATABASE \"{building}\"")).execute(admin)?;
    {
        let url = DatabaseUrl::parse(&url_with_database(server_url, &building)?)?;
        let mut conn: DbConnection = url.connect()?;
        gongyou_db::migrate::run(&mut conn)?;
    }
    // Renamed only once complete, so a half-migrated template is never cloned.
    diesel::sql_query(format!(
        "ALTER DATABASE \"{building}\" RENAME TO \"{template}\""
    ))
    .execute(admin)?;
    Ok(())
}

/// Drops a test database, ending any connection still open to it.
pub fn drop_database(server_url: &str, name: &str) -> anyhow::Result<()> {
    let mut admin = PgConnection::establish(server_url)?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut admin)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn database_names_replace_the_path_only() {
        assert_eq!(
            url_with_database("postgres://postgres@127.0.0.1:5432/postgres", "x").unwrap(),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            url_with_database("postgres://u:p@h/db?sslmode=disable", "y").unwrap(),
            "postgres://u:p@h/y?sslmode=disable"
        );
        assert_eq!(
            url_with_database("postgres://h", "z").unwrap(),
            "postgres://h/z"
        );
    }
}
