//! Reading a MySQL or MariaDB database in a fixed number of `information_schema` queries.
//!
//! sea-schema's discovery runs three queries per table. These are its queries without the
//! per-table filter, each ordered by table first, so a schema of any size is read in a fixed
//! number of round trips; the rows are then parsed, table by table, by sea-schema's own parsers,
//! so types, keys and indexes are read as before. Differences: foreign keys into another database
//! are left out (with a note), and a table's character set is found by `collation_name` only
//! (sea-schema also matches MariaDB's `full_collation_name`; codegen does not use it).

use std::collections::BTreeMap;

use duetto::sea_orm::sqlx::{self, mysql::MySqlRow, MySqlPool, Row};
use sea_schema::mysql::def::{SystemInfo, TableDef};
use sea_schema::mysql::parser::{parse_foreign_key_query_results, parse_index_query_results};
use sea_schema::mysql::query::{
    ColumnQueryResult, ForeignKeyQueryResult, IndexQueryResult, TableQueryResult,
    VersionQueryResult,
};

/// What one database holds: its tables in name order, its views by name (for the report), and
/// per table the notes on foreign keys left out because they point into another database.
pub(crate) struct Catalog {
    pub(crate) tables: Vec<TableDef>,
    pub(crate) views: Vec<String>,
    pub(crate) notes: BTreeMap<String, Vec<String>>,
}

/// Reads the [`Catalog`] of `database`.
pub(crate) async fn read(pool: &MySqlPool, database: &str) -> sqlx::Result<Catalog> {
    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(pool)
        .await?;
    let system = VersionQueryResult { version }.parse();

    let views: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables
          WHERE table_schema = ? AND table_type = 'VIEW' ORDER BY table_name",
    )
    .bind(database)
    .fetch_all(pool)
    .await?;

    let mut columns = by_table(columns_query(&system), database, pool, |row| {
        Ok(ColumnQueryResult {
            column_name: text(row, 1)?,
            column_type: text(row, 2)?,
            is_nullable: text(row, 3)?,
            column_key: text(row, 4)?,
            column_default: optional_text(row, 5)?,
            extra: text(row, 6)?,
            generation_expression: optional_text(row, 7)?,
            column_comment: text(row, 8)?,
        }
        .parse(&system))
    })
    .await?;
    let mut indexes = by_table(indexes_query(&system), database, pool, |row| {
        Ok(IndexQueryResult {
            non_unique: number(row, 1)? as i32,
            index_name: text(row, 2)?,
            column_name: optional_text(row, 3)?,
            collation: optional_text(row, 4)?,
            sub_part: optional_number(row, 5)?.map(|n| n as i32),
            nullable: text(row, 6)?,
            index_type: text(row, 7)?,
            index_comment: text(row, 8)?,
            expression: optional_text(row, 9)?,
        })
    })
    .await?;
    let mut foreign_keys = by_table(FOREIGN_KEYS.to_owned(), database, pool, |row| {
        Ok(ForeignKeyQueryResult {
            constraint_name: text(row, 1)?,
            column_name: text(row, 2)?,
            referenced_table_name: text(row, 3)?,
            referenced_column_name: text(row, 4)?,
            update_rule: text(row, 5)?,
            delete_rule: text(row, 6)?,
        })
    })
    .await?;

    let elsewhere = by_table(OTHER_DATABASE_KEYS.to_owned(), database, pool, |row| {
        Ok(format!(
            "{}({}) references {}.{}, in another database: the relation is left out",
            text(row, 0)?,
            text(row, 1)?,
            text(row, 2)?,
            text(row, 3)?
        ))
    })
    .await?;

    let tables = sqlx::query(TABLES).bind(database).fetch_all(pool).await?;
    let mut defs = Vec::new();
    for row in &tables {
        let info = TableQueryResult {
            table_name: text(row, 0)?,
            engine: text(row, 1)?,
            auto_increment: optional_number(row, 2)?.map(|n| n as u64),
            table_collation: optional_text(row, 3)?,
            table_comment: text(row, 4)?,
            create_options: text(row, 5)?,
            table_char_set: optional_text(row, 6)?,
        }
        .parse();
        let name = info.name.clone();
        defs.push(TableDef {
            info,
            columns: columns.remove(&name).unwrap_or_default(),
            indexes: parse_index_query_results(Box::new(
                indexes.remove(&name).unwrap_or_default().into_iter(),
            ))
            .collect(),
            foreign_keys: parse_foreign_key_query_results(Box::new(
                foreign_keys.remove(&name).unwrap_or_default().into_iter(),
            ))
            .collect(),
        });
    }
    Ok(Catalog {
        tables: defs,
        views,
        notes: elsewhere,
    })
}

/// Runs `sql` (its first column the table name, its rows ordered by table) and groups the rows.
async fn by_table<T>(
    sql: String,
    database: &str,
    pool: &MySqlPool,
    each: impl Fn(&MySqlRow) -> sqlx::Result<T>,
) -> sqlx::Result<BTreeMap<String, Vec<T>>> {
    // The SQL is one of this module's constants, with at most a column chosen by server version.
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(database)
        .fetch_all(pool)
        .await?;
    let mut grouped: BTreeMap<String, Vec<T>> = BTreeMap::new();
    for row in &rows {
        grouped.entry(text(row, 0)?).or_default().push(each(row)?);
    }
    Ok(grouped)
}

// `information_schema` columns are text of varying collations across servers and versions; casts
// make every one decode as a string or a number.
const TABLES: &str = "\
    SELECT CAST(t.table_name AS CHAR), CAST(t.engine AS CHAR), t.auto_increment,
           CAST(t.table_collation AS CHAR), CAST(t.table_comment AS CHAR),
           CAST(t.create_options AS CHAR), CAST(c.character_set_name AS CHAR)
      FROM information_schema.tables t
      LEFT JOIN information_schema.collation_character_set_applicability c
        ON c.collation_name = t.table_collation
     WHERE t.table_schema = ? AND t.table_type IN ('BASE TABLE', 'SYSTEM VERSIONED')
     ORDER BY t.table_name";

fn columns_query(system: &SystemInfo) -> String {
    // What sea-schema reads: the generation expression only where MySQL reports it.
    let generation = if system.is_mysql() && system.version >= 50700 {
        "CAST(generation_expression AS CHAR)"
    } else {
        "NULL"
    };
    format!(
        "SELECT CAST(table_name AS CHAR), CAST(column_name AS CHAR), CAST(column_type AS CHAR),
                CAST(is_nullable AS CHAR), CAST(column_key AS CHAR), CAST(column_default AS CHAR),
                CAST(extra AS CHAR), {generation}, CAST(column_comment AS CHAR)
           FROM information_schema.columns
          WHERE table_schema = ?
          ORDER BY table_name, ordinal_position"
    )
}

fn indexes_query(system: &SystemInfo) -> String {
    let expression = if system.is_mysql() && system.version >= 80013 {
        "CAST(expression AS CHAR)"
    } else {
        "NULL"
    };
    format!(
        "SELECT CAST(table_name AS CHAR), non_unique, CAST(index_name AS CHAR),
                CAST(column_name AS CHAR), CAST(collation AS CHAR), sub_part,
                CAST(nullable AS CHAR), CAST(index_type AS CHAR), CAST(index_comment AS CHAR),
                {expression}
           FROM information_schema.statistics
          WHERE table_schema = ?
          ORDER BY table_name, index_name, seq_in_index"
    )
}

/// Foreign keys to tables of this database only: an entity of another is not generated.
const FOREIGN_KEYS: &str = "\
    SELECT CAST(k.table_name AS CHAR), CAST(k.constraint_name AS CHAR), CAST(k.column_name AS CHAR),
           CAST(k.referenced_table_name AS CHAR), CAST(k.referenced_column_name AS CHAR),
           CAST(r.update_rule AS CHAR), CAST(r.delete_rule AS CHAR)
      FROM information_schema.key_column_usage k
      JOIN information_schema.referential_constraints r
        ON r.constraint_schema = k.constraint_schema
       AND r.constraint_name = k.constraint_name
       AND r.table_name = k.table_name
     WHERE k.constraint_schema = ?
       AND k.referenced_table_schema = k.constraint_schema
       AND k.referenced_table_name IS NOT NULL
       AND k.referenced_column_name IS NOT NULL
     ORDER BY k.table_name, k.constraint_name, k.ordinal_position";

/// The foreign keys the query above leaves out, one row per key.
const OTHER_DATABASE_KEYS: &str = "\
    SELECT CAST(table_name AS CHAR),
           CAST(GROUP_CONCAT(column_name ORDER BY ordinal_position SEPARATOR ', ') AS CHAR),
           CAST(MIN(referenced_table_schema) AS CHAR), CAST(MIN(referenced_table_name) AS CHAR)
      FROM information_schema.key_column_usage
     WHERE constraint_schema = ? AND referenced_table_schema <> constraint_schema
     GROUP BY table_name, constraint_name
     ORDER BY table_name, constraint_name";

fn text(row: &MySqlRow, i: usize) -> sqlx::Result<String> {
    Ok(optional_text(row, i)?.unwrap_or_default())
}

fn optional_text(row: &MySqlRow, i: usize) -> sqlx::Result<Option<String>> {
    row.try_get::<Option<String>, _>(i)
}

fn number(row: &MySqlRow, i: usize) -> sqlx::Result<i64> {
    Ok(optional_number(row, i)?.unwrap_or_default())
}

/// Integer columns of `information_schema` are signed on some servers, unsigned on others.
fn optional_number(row: &MySqlRow, i: usize) -> sqlx::Result<Option<i64>> {
    match row.try_get::<Option<i64>, _>(i) {
        Ok(n) => Ok(n),
        Err(_) => Ok(row.try_get::<Option<u64>, _>(i)?.map(|n| n as i64)),
    }
}
