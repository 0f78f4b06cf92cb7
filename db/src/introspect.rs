//! Reads a migrated database's schema into a backend-neutral description, so a test can
//! prove that the PostgreSQL and SQLite migrations produce the same tables, columns,
//! nullability, primary keys and indexes.

use std::collections::BTreeMap;

use diesel::sql_types::{BigInt, Bool, Text};
use diesel::RunQueryDsl;

use crate::{DbConnection, DbError};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Schema {
    pub tables: BTreeMap<String, Table>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Table {
    /// Column name → (portable type, nullable).
    pub columns: BTreeMap<String, (String, bool)>,
    pub primary_key: Vec<String>,
    /// Index name → (unique, columns in order). Primary-key indexes are not listed.
    pub indexes: BTreeMap<String, (bool, Vec<String>)>,
}

#[derive(diesel::QueryableByName)]
struct ColumnRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Bool)]
    nullable: bool,
    #[diesel(sql_type = BigInt)]
    pk_position: i64,
}

#[derive(diesel::QueryableByName)]
struct IndexRow {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = Bool)]
    is_unique: bool,
    #[diesel(sql_type = Bool)]
    is_primary: bool,
    #[diesel(sql_type = Text)]
    column_name: String,
}

const PG_COLUMNS: &str = "
SELECT c.table_name::text AS table_name, c.column_name::text AS column_name,
       c.data_type::text AS data_type, (c.is_nullable = 'YES') AS nullable,
       COALESCE((SELECT k.ordinal_position FROM information_schema.key_column_usage k
                 JOIN information_schema.table_constraints tc
                   ON tc.constraint_name = k.constraint_name AND tc.table_schema = k.table_schema
                 WHERE tc.constraint_type = 'PRIMARY KEY' AND k.table_schema = c.table_schema
                   AND k.table_name = c.table_name AND k.column_name = c.column_name), 0)::bigint
         AS pk_position
FROM information_schema.columns c
WHERE c.table_schema = current_schema() AND c.table_name <> '__diesel_schema_migrations'
ORDER BY c.table_name, c.ordinal_position";

const PG_INDEXES: &str = "
SELECT t.relname::text AS table_name, i.relname::text AS index_name,
       ix.indisunique AS is_unique, ix.indisprimary AS is_primary, a.attname::text AS column_name
FROM pg_index ix
JOIN pg_class t ON t.oid = ix.indrelid
JOIN pg_class i ON i.oid = ix.indexrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
WHERE n.nspname = current_schema() AND t.relname <> '__diesel_schema_migrations'
ORDER BY t.relname, i.relname, k.ord";

const SQLITE_COLUMNS: &str = "
SELECT m.name AS table_name, p.name AS column_name, p.type AS data_type,
       (p.\"notnull\" = 0) AS nullable, p.pk AS pk_position
FROM sqlite_master m JOIN pragma_table_info(m.name) p
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'
ORDER BY m.name, p.cid";

const SQLITE_INDEXES: &str = "
SELECT m.name AS table_name, il.name AS index_name, il.\"unique\" AS is_unique,
       (il.origin = 'pk') AS is_primary, ii.name AS column_name
FROM sqlite_master m
JOIN pragma_index_list(m.name) il
JOIN pragma_index_info(il.name) ii
WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'
ORDER BY m.name, il.name, ii.seqno";

/// The portable name of a column type, so `bigint` (PostgreSQL) and `BIGINT` (SQLite) compare
/// equal and a `TIMESTAMP` on one side and `TEXT` on the other do not.
fn portable_type(declared: &str) -> String {
    let t = declared.trim().to_ascii_lowercase();
    match t.as_str() {
        "bigint" | "int8" => "bigint",
        "integer" | "int" | "int4" => "integer",
        "smallint" | "int2" => "smallint",
        "text" | "character varying" | "varchar" => "text",
        "boolean" | "bool" => "boolean",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "timestamp with time zone" | "timestamptz" => "timestamptz",
        "bytea" | "blob" => "binary",
        "double precision" | "double" | "real" | "float8" => "double",
        "date" => "date",
        other => other,
    }
    .to_owned()
}

/// Reads the schema of the connected database (its current schema on PostgreSQL).
pub fn read(conn: &mut DbConnection) -> Result<Schema, DbError> {
    let (columns, indexes): (Vec<ColumnRow>, Vec<IndexRow>) = match conn {
        DbConnection::Pg(c) => (
            diesel::sql_query(PG_COLUMNS).load(c)?,
            diesel::sql_query(PG_INDEXES).load(c)?,
        ),
        DbConnection::Sqlite(c) => (
            diesel::sql_query(SQLITE_COLUMNS).load(c)?,
            diesel::sql_query(SQLITE_INDEXES).load(c)?,
        ),
    };
    let mut schema = Schema::default();
    let mut pk: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for col in columns {
        if col.pk_position > 0 {
            pk.entry(col.table_name.clone())
                .or_default()
                .push((col.pk_position, col.column_name.clone()));
        }
        schema
            .tables
            .entry(col.table_name)
            .or_default()
            .columns
            .insert(
                col.column_name,
                (portable_type(&col.data_type), col.nullable),
            );
    }
    for (table, mut cols) in pk {
        cols.sort();
        if let Some(t) = schema.tables.get_mut(&table) {
            t.primary_key = cols.into_iter().map(|(_, c)| c).collect();
        }
    }
    for ix in indexes.into_iter().filter(|ix| !ix.is_primary) {
        let table = schema.tables.entry(ix.table_name).or_default();
        let entry = table
            .indexes
            .entry(ix.index_name)
            .or_insert_with(|| (ix.is_unique, Vec::new()));
        entry.1.push(ix.column_name);
    }
    Ok(schema)
}
