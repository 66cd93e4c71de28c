//! Reading a database's tables with sea-schema, as the `CREATE TABLE` statements codegen consumes,
//! with every column given a verdict by the [type map](crate::type_map) on the way.

use std::collections::BTreeMap;

use duetto::sea_orm::sea_query::TableCreateStatement;
use duetto::sea_orm::sqlx;

use super::connect::Pool;
use super::error::{CliError, CliResult};
use crate::pg_catalog::{self, RelationKind};
use crate::type_map::{self, Patch, Unmapped, Verdict};

/// One discovered table.
pub(crate) struct Table {
    pub(crate) name: String,
    /// Without the unmapped columns, and without foreign keys through them.
    pub(crate) create: TableCreateStatement,
    /// Column name → how its field differs from what codegen writes.
    pub(crate) patches: BTreeMap<String, Patch>,
    /// Columns left out because no Rust type round-trips them.
    pub(crate) unmapped: Vec<Unmapped>,
    /// Why no entity is generated for it (no primary key, a view, a partition, …).
    pub(crate) skip: Option<String>,
    /// Said on stderr about it, without skipping it.
    pub(crate) note: Option<String>,
}

impl Table {
    /// A relation that is reported and not generated.
    fn skipped(name: String, reason: String) -> Table {
        Table {
            name,
            create: TableCreateStatement::new(),
            patches: BTreeMap::new(),
            unmapped: Vec::new(),
            skip: Some(reason),
            note: None,
        }
    }
}

/// What the type map decided for one table's columns.
#[derive(Default)]
struct Verdicts {
    table: String,
    patches: BTreeMap<String, Patch>,
    unmapped: Vec<Unmapped>,
}

impl Verdicts {
    fn new(table: &str) -> Verdicts {
        Verdicts {
            table: table.to_owned(),
            ..Verdicts::default()
        }
    }

    /// Records the verdict on `column`; true when the column stays in the entity.
    fn keep(&mut self, column: &str, db_type: String, verdict: Verdict) -> bool {
        match verdict {
            Verdict::Native => true,
            Verdict::Cast(cast) => {
                self.patches.insert(column.to_owned(), Patch::Cast(cast));
                true
            }
            Verdict::RustType(path) => {
                self.patches
                    .insert(column.to_owned(), Patch::RustType(path.to_owned()));
                true
            }
            Verdict::Unmapped(reason) => {
                self.unmapped.push(Unmapped {
                    table: self.table.clone(),
                    column: column.to_owned(),
                    db_type,
                    reason,
                });
                false
            }
        }
    }

    fn dropped(&self, column: &str) -> bool {
        self.unmapped.iter().any(|u| u.column == column)
    }

    fn into_table(self, create: TableCreateStatement, has_primary_key: bool) -> Table {
        Table {
            name: self.table,
            create,
            patches: self.patches,
            unmapped: self.unmapped,
            // An entity without a primary key does not compile.
            skip: (!has_primary_key).then(|| "no primary key".to_owned()),
            note: None,
        }
    }
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
            let mut declared = BTreeMap::new();
            for table in &schema.tables {
                // sea-schema keeps only its reading of each type; the type map needs the
                // declared name, from which SQLite derives a column's storage affinity.
                let columns: Vec<(String, String)> =
                    sqlx::query_as("SELECT name, type FROM pragma_table_info(?1)")
                        .bind(&table.name)
                        .fetch_all(pool)
                        .await
                        .map_err(|e| failed(&e))?;
                declared.insert(
                    table.name.clone(),
                    columns.into_iter().collect::<BTreeMap<_, _>>(),
                );
            }
            schema
                .tables
                .into_iter()
                .map(|mut table| {
                    let declared = declared.remove(&table.name).unwrap_or_default();
                    // Generated columns cannot be written, so an entity must not have them.
                    table.columns.retain(|col| {
                        !matches!(
                            col.hidden,
                            ColumnVisibility::GeneratedVirtual | ColumnVisibility::GeneratedStored
                        )
                    });
                    let primary_key: Vec<String> = table
                        .columns
                        .iter()
                        .filter(|c| c.primary_key)
                        .map(|c| c.name.clone())
                        .collect();
                    let mut verdicts = Verdicts::new(&table.name);
                    table.columns.retain_mut(|col| {
                        let as_declared = declared.get(&col.name).map_or("", String::as_str);
                        let db_type = type_map::sqlite::db_type(as_declared);
                        let verdict = type_map::sqlite::map(col, as_declared);
                        verdicts.keep(&col.name.clone(), db_type, verdict)
                    });
                    table
                        .foreign_keys
                        .retain(|fk| !fk.from.iter().any(|c| verdicts.dropped(c)));
                    table
                        .foreign_keys
                        .sort_by(|a, b| (&a.from, &a.table).cmp(&(&b.from, &b.table)));
                    let has_primary_key =
                        !primary_key.is_empty() && !primary_key.iter().any(|c| verdicts.dropped(c));
                    let create = table.write();
                    verdicts.into_table(create, has_primary_key)
                })
                .collect::<Vec<_>>()
        }
        Pool::Postgres(pool) => {
            let relations = pg_catalog::relations(pool, pg_schema)
                .await
                .map_err(|e| failed(&e))?;
            let mut tables = Vec::new();
            let mut notes = BTreeMap::new();
            let mut to_read = Vec::new();
            for relation in relations {
                match relation.kind {
                    RelationKind::Table => {
                        if !relation.inherits.is_empty() {
                            notes.insert(
                                relation.name.clone(),
                                format!(
                                    "{} inherits from {}; its entity has the inherited columns too",
                                    relation.name,
                                    relation.inherits.join(", ")
                                ),
                            );
                        }
                        to_read.push(relation.name);
                    }
                    RelationKind::Partition { parent } => tables.push(Table::skipped(
                        relation.name,
                        format!("a partition of {parent}, whose entity reads it"),
                    )),
                    RelationKind::NotATable(what) => {
                        tables.push(Table::skipped(relation.name, what.to_owned()))
                    }
                }
            }
            let defs = pg_catalog::tables(pool, pg_schema, &to_read)
                .await
                .map_err(|e| failed(&e))?;
            for mut table in defs {
                table.columns.retain(|col| col.generated.is_none());
                let mut verdicts = Verdicts::new(&table.info.name);
                table.columns.retain_mut(|col| {
                    let db_type = type_map::postgres::db_type(&col.col_type);
                    let verdict = type_map::postgres::map(col);
                    verdicts.keep(&col.name.clone(), db_type, verdict)
                });
                // Codegen cannot express partial unique indexes; keeping them would mark the
                // column unique for every row.
                table.unique_constraints.retain(|unique| !unique.is_partial);
                table
                    .reference_constraints
                    .retain(|fk| !fk.columns.iter().any(|c| verdicts.dropped(c)));
                table
                    .reference_constraints
                    .sort_by(|a, b| (&a.columns, &a.table).cmp(&(&b.columns, &b.table)));
                let has_primary_key = table
                    .primary_key_constraints
                    .iter()
                    .any(|pk| !pk.columns.iter().any(|c| verdicts.dropped(c)));
                let create = table.write();
                let mut entity = verdicts.into_table(create, has_primary_key);
                entity.note = notes.remove(&entity.name);
                tables.push(entity);
            }
            tables
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
                    let mut verdicts = Verdicts::new(&table.info.name);
                    table.columns.retain_mut(|col| {
                        let db_type = type_map::mysql::db_type(&col.col_type);
                        let verdict = type_map::mysql::map(col);
                        verdicts.keep(&col.name.clone(), db_type, verdict)
                    });
                    table
                        .foreign_keys
                        .retain(|fk| !fk.columns.iter().any(|c| verdicts.dropped(c)));
                    table.foreign_keys.sort_by(|a, b| {
                        (&a.columns, &a.referenced_table).cmp(&(&b.columns, &b.referenced_table))
                    });
                    let has_primary_key = table.indexes.iter().any(|index| {
                        index.name == "PRIMARY"
                            && !index.parts.iter().any(|p| verdicts.dropped(&p.column))
                    });
                    let create = table.write();
                    verdicts.into_table(create, has_primary_key)
                })
                .collect()
        }
    };
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tables)
}
