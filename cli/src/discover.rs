//! Reading a database's tables with sea-schema, as the `CREATE TABLE` statements codegen consumes,
//! with every column given a verdict by the [type map](crate::type_map) on the way.

use std::collections::{BTreeMap, BTreeSet};

use duetto::sea_orm::sea_query::TableCreateStatement;
use duetto::sea_orm::sqlx;

use super::connect::Pool;
use super::error::{CliError, CliResult};
use crate::field_patches::ModelFix;
use crate::mysql_catalog;
use crate::names::Renames;
use crate::pg_catalog::{self, RelationKind};
use crate::type_map::{self, Patch, Unmapped, Verdict};

/// One discovered table.
pub(crate) struct Table {
    /// The real name.
    pub(crate) name: String,
    /// The name codegen sees (see [`crate::names`]).
    pub(crate) safe_name: String,
    /// Under [safe names](crate::names) throughout, without the unmapped columns and without
    /// foreign keys through them.
    pub(crate) create: TableCreateStatement,
    /// How its model must differ from what codegen writes from `create`.
    pub(crate) fix: ModelFix,
    /// Columns left out because no Rust type round-trips them.
    pub(crate) unmapped: Vec<Unmapped>,
    /// Why no entity is generated for it (no primary key, a view, a partition, …).
    pub(crate) skip: Option<String>,
    /// Said on stderr about it, without skipping it.
    pub(crate) notes: Vec<String>,
}

impl Table {
    /// A relation that is reported and not generated.
    fn skipped(name: String, reason: String) -> Table {
        Table {
            safe_name: name.clone(),
            name,
            create: TableCreateStatement::new(),
            fix: ModelFix::default(),
            unmapped: Vec::new(),
            skip: Some(reason),
            notes: Vec::new(),
        }
    }
}

/// Why a table is skipped when its primary key is among the unmapped columns.
pub(crate) const UNMAPPED_KEY: &str = "its primary key has no Rust type";

/// What the type map decided for one table's columns.
#[derive(Default)]
struct Verdicts {
    table: String,
    patches: BTreeMap<String, Patch>,
    unmapped: Vec<Unmapped>,
    /// Generated columns, left out.
    generated: BTreeSet<String>,
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

    /// Whether `column` is not in the entity (no Rust type, or generated): foreign keys and
    /// unique keys through it must go too, or they would name a field that does not exist.
    fn dropped(&self, column: &str) -> bool {
        self.generated.contains(column) || self.unmapped.iter().any(|u| u.column == column)
    }

    /// The table, once its definition was renamed by `naming` and written as `create`.
    /// `primary_key`: `None` without one, `Some(false)` when its columns are not in the entity.
    fn into_table(
        self,
        create: TableCreateStatement,
        primary_key: Option<bool>,
        naming: &Naming,
    ) -> Table {
        let columns = naming.columns(&self.table);
        let fix = ModelFix {
            real_table: (naming.table(&self.table) != self.table).then(|| self.table.clone()),
            real_columns: columns.changed(),
            patches: self
                .patches
                .into_iter()
                .map(|(column, patch)| (columns.get(&column).to_owned(), patch))
                .collect(),
        };
        Table {
            safe_name: naming.table(&self.table),
            name: self.table,
            create,
            fix,
            unmapped: self.unmapped,
            // An entity without a primary key does not compile.
            skip: match primary_key {
                None => Some("no primary key".to_owned()),
                Some(false) => Some(UNMAPPED_KEY.to_owned()),
                Some(true) => None,
            },
            notes: Vec::new(),
        }
    }
}

/// The safe names of every table and column of one discovery.
struct Naming {
    tables: Renames,
    columns: BTreeMap<String, Renames>,
}

impl Naming {
    /// Plans names for `tables`: (table, its columns).
    fn plan<'a>(tables: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>) -> Naming {
        let tables: Vec<(&str, Vec<&str>)> = tables.into_iter().collect();
        Naming {
            tables: Renames::plan(tables.iter().map(|(t, _)| *t), true),
            columns: tables
                .iter()
                .map(|(t, cols)| (t.to_string(), Renames::plan(cols.iter().copied(), false)))
                .collect(),
        }
    }

    fn table(&self, table: &str) -> String {
        self.tables.get(table).to_owned()
    }

    fn columns(&self, table: &str) -> Renames {
        self.columns.get(table).cloned().unwrap_or_default()
    }

    fn column(&self, table: &str, column: &str) -> String {
        match self.columns.get(table) {
            Some(renames) => renames.get(column).to_owned(),
            None => column.to_owned(),
        }
    }

    fn rename_all(&self, table: &str, columns: &mut [String]) {
        for column in columns {
            *column = self.column(table, column);
        }
    }
}

/// Removes the columns `generated` names (generated columns), recording them in `verdicts`;
/// returns a note for each.
///
/// SeaORM has no read-only field: an entity holding a generated column would write it on every
/// insert of a whole model, which the database refuses. So it is left out, and said.
fn left_out<C>(
    verdicts: &mut Verdicts,
    columns: &mut Vec<C>,
    generated: impl Fn(&C) -> Option<String>,
) -> Vec<String> {
    let mut notes = Vec::new();
    let table = verdicts.table.clone();
    columns.retain(|col| match generated(col) {
        Some(name) => {
            notes.push(format!(
                "{table}.{name} is a generated column: left out of the entity, which would \
                 otherwise write it"
            ));
            verdicts.generated.insert(name);
            false
        }
        None => true,
    });
    notes
}

/// The names of every table and view (for PostgreSQL: of `pg_schema`), in one query, so that
/// `--tables` and `--ignore-tables` apply before the tables are read (on SQLite and MySQL the
/// schema-wide queries still read every table; only the chosen ones are then parsed).
pub(crate) async fn names(pool: &Pool, pg_schema: &str) -> CliResult<Vec<String>> {
    let failed = |e: sqlx::Error| CliError::new(format!("schema discovery failed: {e}"));
    let mut names: Vec<String> = match pool {
        Pool::Sqlite(pool) => sqlx::query_scalar(
            "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view')
               AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
        )
        .fetch_all(pool)
        .await
        .map_err(failed)?,
        Pool::Postgres(pool) => pg_catalog::relations(pool, pg_schema)
            .await
            .map_err(failed)?
            .into_iter()
            .map(|relation| relation.name)
            .collect(),
        Pool::MySql { pool, database } => sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables
              WHERE table_schema = ? AND table_type IN ('BASE TABLE', 'SYSTEM VERSIONED', 'VIEW')",
        )
        .bind(database)
        .fetch_all(pool)
        .await
        .map_err(failed)?,
    };
    names.sort();
    Ok(names)
}

/// Keeps the foreign keys whose target gets an entity; a note for each other one.
fn keep_foreign_keys<F>(
    table: &str,
    keys: &mut Vec<F>,
    generated: &BTreeSet<String>,
    parts: impl Fn(&F) -> (&Vec<String>, &String),
) -> Vec<String> {
    let mut notes = Vec::new();
    keys.retain(|fk| {
        let (columns, target) = parts(fk);
        let keep = generated.contains(target);
        if !keep {
            notes.push(format!(
                "{table}({}) references {target}, which gets no entity: the relation is left out",
                columns.join(", ")
            ));
        }
        keep
    });
    notes
}

/// The chosen tables and views (`chosen`; for PostgreSQL: in `pg_schema`), sorted by name.
///
/// A foreign key to a table that gets no entity (not chosen, or without a primary key) is left
/// out with a note: the relation would name an entity that does not exist.
///
/// Foreign keys are sorted by their columns before codegen sees them: codegen numbers relations
/// to the same table in the order it meets them, and not every backend reports foreign keys in a
/// stable order, while the output must be the same bytes on every run.
pub(crate) async fn tables(
    pool: &Pool,
    pg_schema: &str,
    chosen: &BTreeSet<String>,
) -> CliResult<Vec<Table>> {
    let failed = |e: &dyn std::fmt::Display| CliError::new(format!("schema discovery failed: {e}"));
    let mut tables = match pool {
        Pool::Sqlite(pool) => {
            use sea_schema::sqlite::def::ColumnVisibility;
            let schema = sea_schema::sqlite::discovery::SchemaDiscovery::new(pool.clone())
                .discover()
                .await
                .map_err(|e| failed(&e))?
                .merge_indexes_into_table();
            // sea-schema keeps only its reading of each type; the type map needs the declared
            // name, from which SQLite derives a column's storage affinity. One query for all.
            let rows: Vec<(String, String, String)> = sqlx::query_as(
                "SELECT m.name, p.name, p.type FROM sqlite_schema m, pragma_table_info(m.name) p
                  WHERE m.type = 'table' ORDER BY m.name, p.cid",
            )
            .fetch_all(pool)
            .await
            .map_err(|e| failed(&e))?;
            let mut declared: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
            for (table, column, ty) in rows {
                declared.entry(table).or_default().insert(column, ty);
            }
            let views: Vec<String> = sqlx::query_scalar(
                "SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name",
            )
            .fetch_all(pool)
            .await
            .map_err(|e| failed(&e))?;
            let mut defs = schema.tables;
            defs.retain(|t| chosen.contains(&t.name));
            let generated: BTreeSet<String> = defs
                .iter()
                .filter(|t| t.columns.iter().any(|c| c.primary_key))
                .map(|t| t.name.clone())
                .collect();
            let naming = Naming::plan(defs.iter().map(|t| {
                (
                    t.name.as_str(),
                    t.columns.iter().map(|c| c.name.as_str()).collect(),
                )
            }));
            defs.into_iter()
                .map(|mut table| {
                    let declared = declared.remove(&table.name).unwrap_or_default();
                    let mut verdicts = Verdicts::new(&table.name);
                    // Generated columns cannot be written, so an entity must not have them.
                    let generated_columns = left_out(&mut verdicts, &mut table.columns, |col| {
                        matches!(
                            col.hidden,
                            ColumnVisibility::GeneratedVirtual | ColumnVisibility::GeneratedStored
                        )
                        .then(|| col.name.clone())
                    });
                    let primary_key: Vec<String> = table
                        .columns
                        .iter()
                        .filter(|c| c.primary_key)
                        .map(|c| c.name.clone())
                        .collect();
                    table.columns.retain_mut(|col| {
                        let as_declared = declared.get(&col.name).map_or("", String::as_str);
                        let db_type = type_map::sqlite::db_type(as_declared);
                        let verdict = type_map::sqlite::map(col, as_declared);
                        verdicts.keep(&col.name.clone(), db_type, verdict)
                    });
                    table
                        .foreign_keys
                        .retain(|fk| !fk.from.iter().any(|c| verdicts.dropped(c)));
                    let outside =
                        keep_foreign_keys(&table.name, &mut table.foreign_keys, &generated, |fk| {
                            (&fk.from, &fk.table)
                        });
                    table
                        .foreign_keys
                        .sort_by(|a, b| (&a.from, &a.table).cmp(&(&b.from, &b.table)));
                    let primary_key = (!primary_key.is_empty())
                        .then(|| !primary_key.iter().any(|c| verdicts.dropped(c)));
                    table
                        .constraints
                        .retain(|index| !index.columns.iter().any(|c| verdicts.dropped(c)));
                    let name = table.name.clone();
                    for fk in &mut table.foreign_keys {
                        naming.rename_all(&name, &mut fk.from);
                        naming.rename_all(&fk.table, &mut fk.to);
                        fk.table = naming.table(&fk.table);
                    }
                    for index in &mut table.constraints {
                        naming.rename_all(&name, &mut index.columns);
                        index.table_name = naming.table(&index.table_name);
                    }
                    for column in &mut table.columns {
                        column.name = naming.column(&name, &column.name);
                    }
                    table.name = naming.table(&name);
                    let create = table.write();
                    let mut entity = verdicts.into_table(create, primary_key, &naming);
                    entity.notes.extend(generated_columns);
                    entity.notes.extend(outside);
                    entity
                })
                .chain(
                    views
                        .into_iter()
                        .filter(|view| chosen.contains(view))
                        .map(|view| Table::skipped(view, "a view".to_owned())),
                )
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
                if !chosen.contains(&relation.name) {
                    continue;
                }
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
            let (defs, mut key_notes): (Vec<_>, BTreeMap<_, _>) =
                pg_catalog::tables(pool, pg_schema, &to_read)
                    .await
                    .map_err(|e| failed(&e))?
                    .into_iter()
                    .map(|(def, notes)| {
                        let name = def.info.name.clone();
                        (def, (name, notes))
                    })
                    .unzip();
            let generated: BTreeSet<String> = defs
                .iter()
                .filter(|t| !t.primary_key_constraints.is_empty())
                .map(|t| t.info.name.clone())
                .collect();
            let naming = Naming::plan(defs.iter().map(|t| {
                (
                    t.info.name.as_str(),
                    t.columns.iter().map(|c| c.name.as_str()).collect(),
                )
            }));
            for mut table in defs {
                let mut verdicts = Verdicts::new(&table.info.name);
                let generated_columns = left_out(&mut verdicts, &mut table.columns, |col| {
                    col.generated.as_ref().map(|_| col.name.clone())
                });
                table.columns.retain_mut(|col| {
                    let db_type = type_map::postgres::db_type(&col.col_type);
                    let verdict = type_map::postgres::map(col);
                    verdicts.keep(&col.name.clone(), db_type, verdict)
                });
                // Codegen cannot express partial unique indexes; keeping them would mark the
                // column unique for every row.
                table.unique_constraints.retain(|unique| {
                    !unique.is_partial && !unique.columns.iter().any(|c| verdicts.dropped(c))
                });
                table
                    .reference_constraints
                    .retain(|fk| !fk.columns.iter().any(|c| verdicts.dropped(c)));
                let outside = keep_foreign_keys(
                    &table.info.name,
                    &mut table.reference_constraints,
                    &generated,
                    |fk| (&fk.columns, &fk.table),
                );
                table
                    .reference_constraints
                    .sort_by(|a, b| (&a.columns, &a.table).cmp(&(&b.columns, &b.table)));
                let primary_key = table
                    .primary_key_constraints
                    .first()
                    .map(|pk| !pk.columns.iter().any(|c| verdicts.dropped(c)));
                let name = table.info.name.clone();
                for pk in &mut table.primary_key_constraints {
                    naming.rename_all(&name, &mut pk.columns);
                }
                for unique in &mut table.unique_constraints {
                    naming.rename_all(&name, &mut unique.columns);
                }
                for fk in &mut table.reference_constraints {
                    naming.rename_all(&name, &mut fk.columns);
                    naming.rename_all(&fk.table, &mut fk.foreign_columns);
                    fk.table = naming.table(&fk.table);
                }
                for column in &mut table.columns {
                    column.name = naming.column(&name, &column.name);
                }
                table.info.name = naming.table(&name);
                let create = table.write();
                let mut entity = verdicts.into_table(create, primary_key, &naming);
                entity.notes.extend(notes.remove(&entity.name));
                entity
                    .notes
                    .extend(key_notes.remove(&entity.name).unwrap_or_default());
                entity.notes.extend(generated_columns);
                entity.notes.extend(outside);
                tables.push(entity);
            }
            tables
        }
        Pool::MySql { pool, database } => {
            let mysql_catalog::Catalog {
                tables: mut defs,
                views,
                notes: mut key_notes,
            } = mysql_catalog::read(pool, database)
                .await
                .map_err(|e| failed(&e))?;
            defs.retain(|t| chosen.contains(&t.info.name));
            let generated: BTreeSet<String> = defs
                .iter()
                .filter(|t| t.indexes.iter().any(|index| index.name == "PRIMARY"))
                .map(|t| t.info.name.clone())
                .collect();
            let naming = Naming::plan(defs.iter().map(|t| {
                (
                    t.info.name.as_str(),
                    t.columns.iter().map(|c| c.name.as_str()).collect(),
                )
            }));
            let views = views
                .into_iter()
                .filter(|view| chosen.contains(view))
                .map(|view| Table::skipped(view, "a view".to_owned()));
            defs.into_iter()
                .map(|mut table| {
                    let mut verdicts = Verdicts::new(&table.info.name);
                    let generated_columns = left_out(&mut verdicts, &mut table.columns, |col| {
                        col.extra.generated.then(|| col.name.clone())
                    });
                    table.columns.retain_mut(|col| {
                        let db_type = type_map::mysql::db_type(&col.col_type);
                        let verdict = type_map::mysql::map(col);
                        verdicts.keep(&col.name.clone(), db_type, verdict)
                    });
                    table
                        .foreign_keys
                        .retain(|fk| !fk.columns.iter().any(|c| verdicts.dropped(c)));
                    let outside = keep_foreign_keys(
                        &table.info.name,
                        &mut table.foreign_keys,
                        &generated,
                        |fk| (&fk.columns, &fk.referenced_table),
                    );
                    table.foreign_keys.sort_by(|a, b| {
                        (&a.columns, &a.referenced_table).cmp(&(&b.columns, &b.referenced_table))
                    });
                    let primary_key = table
                        .indexes
                        .iter()
                        .find(|index| index.name == "PRIMARY")
                        .map(|index| !index.parts.iter().any(|p| verdicts.dropped(&p.column)));
                    table.indexes.retain(|index| {
                        index.name == "PRIMARY"
                            || !index.parts.iter().any(|p| verdicts.dropped(&p.column))
                    });
                    let name = table.info.name.clone();
                    for index in &mut table.indexes {
                        for part in &mut index.parts {
                            part.column = naming.column(&name, &part.column);
                        }
                    }
                    for fk in &mut table.foreign_keys {
                        naming.rename_all(&name, &mut fk.columns);
                        naming.rename_all(&fk.referenced_table, &mut fk.referenced_columns);
                        fk.referenced_table = naming.table(&fk.referenced_table);
                    }
                    for column in &mut table.columns {
                        column.name = naming.column(&name, &column.name);
                    }
                    table.info.name = naming.table(&name);
                    let create = table.write();
                    let mut entity = verdicts.into_table(create, primary_key, &naming);
                    entity.notes.extend(generated_columns);
                    entity.notes.extend(outside);
                    entity
                        .notes
                        .extend(key_notes.remove(&entity.name).unwrap_or_default());
                    entity
                })
                .chain(views)
                .collect()
        }
    };
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(tables)
}
