//! Reading a database's tables with sea-schema, as the `CREATE TABLE` statements codegen consumes.

use duetto::sea_orm::sea_query::TableCreateStatement;

use super::connect::Pool;
use super::error::{CliError, CliResult};

/// One discovered table.
pub(crate) struct Table {
    pub(crate) name: String,
    pub(crate) create: TableCreateStatement,
}

/// Every table of the database (for PostgreSQL: of `pg_schema`), sorted by name.
///
/// Foreign keys are sorted by their columns before codegen sees them: codegen numbers relations
/// to the same table in the order it meets them, and not every backend reports foreign keys in a
/// stable order, while the output must be the same bytes on every run.
pub(crate) async fn tables(pool: &Pool, pg_schema: &str) -> CliResult<Vec<Table>> {
    let failed = |e: &dyn std::fmt::Display| CliError::new(format!("schema discovery failed: {e}"));
    let mut tables = match pool {
        Pool::Sqlite(pool) => {
            use sea_schema::sqlite::def::ColumnVisibility;
            let schema = sea_schema::sqlite::discovery::SchemaDiscovery::new(pool.clone())
                .discover()
                .await
                .map_err(|e| failed(&e))?
                .merge_indexes_into_table();
            schema
                .tables
                .into_iter()
                .map(|mut table| {
                    // Generated columns cannot be written, so an entity must not have them.
                    table.columns.retain(|col| {
                        !matches!(
                            col.hidden,
                            ColumnVisibility::GeneratedVirtual | ColumnVisibility::GeneratedStored
                        )
                    });
                    table
                        .foreign_keys
                        .sort_by(|a, b| (&a.from, &a.table).cmp(&(&b.from, &b.table)));
                    Table {
                        name: table.name.clone(),
                        create: table.write(),
                    }
                })
                .collect::<Vec<_>>()
        }
        Pool::Postgres(pool) => {
            let schema =
                sea_schema::postgres::discovery::SchemaDiscovery::new(pool.clone(), pg_schema)
                    .discover()
                    .await
                    .map_err(|e| failed(&e))?;
            schema
                .tables
                .into_iter()
                .map(|mut table| {
                    table.columns.retain(|col| col.generated.is_none());
                    // Codegen cannot express partial unique indexes; keeping them would mark the
                    // column unique for every row.
                    table.unique_constraints.retain(|unique| !unique.is_partial);
                    table
                        .reference_constraints
                        .sort_by(|a, b| (&a.columns, &a.table).cmp(&(&b.columns, &b.table)));
                    Table {
                        name: table.info.name.clone(),
                        create: table.write(),
                    }
                })
                .collect()
        }
        Pool::MySql { pool, database } => {
            let schema = sea_schema::mysql::discovery::SchemaDiscovery::new(pool.clone(), database)
                .discover()
                .await
                .map_err(|e| failed(&e))?;
            schema
                .tables
                .into_iter()
                .map(|mut table| {
                    table.columns.retain(|col| !col.extra.generated);
                    table.foreign_keys.sort_by(|a, b| {
                        (&a.columns, &a.referenced_table).cmp(&(&b.columns, &b.referenced_table))
                    });
                    Table {
                        name: table.info.name.clone(),
                        create: table.write(),
                    }
                })
                .collect()
        }
    };
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tables)
}
