//! Reading a PostgreSQL schema in a fixed number of catalog queries, whatever its size.
//!
//! sea-schema's discovery runs three queries per table, and its constraint query joins
//! `information_schema` views that the planner turns into nested loops: about 11 s per table on
//! MusicBrainz (347 tables, an hour in all). This reads the same facts with five queries per
//! schema (a sixth lists the relations first, for `--tables`): relations, columns (`information_schema.columns`, one scan for the whole schema),
//! primary and foreign keys and unique indexes (`pg_catalog`), and enums. Each is ordered, so the
//! result does not depend on the plan. Columns are parsed by sea-schema's own parser, so their
//! types are read exactly as before.

use std::collections::{BTreeMap, HashMap};

use duetto::sea_orm::sqlx::{self, PgPool, Row};
use sea_schema::postgres::def::{
    ColumnInfo, ForeignKeyAction, PrimaryKey, References, TableDef, TableInfo, Unique,
};
use sea_schema::postgres::parser::parse_column_query_result;
use sea_schema::postgres::query::ColumnQueryResult;

/// What kind of relation a name in the schema is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RelationKind {
    /// A table (or a partitioned table's parent): an entity.
    Table,
    /// A partition of the named table, whose entity covers it.
    Partition { parent: String },
    /// A view, materialized view or foreign table: not generated.
    NotATable(&'static str),
}

/// One relation of the schema.
pub(crate) struct Relation {
    pub(crate) name: String,
    pub(crate) kind: RelationKind,
    /// Tables it inherits from (`INHERITS`), not counting a partition's parent.
    pub(crate) inherits: Vec<String>,
}

/// The relations of `schema`, by name.
pub(crate) async fn relations(pool: &PgPool, schema: &str) -> sqlx::Result<Vec<Relation>> {
    let rows = sqlx::query(
        "SELECT c.relname::text, c.relkind::text, c.relispartition,
                ARRAY(SELECT p.relname::text
                        FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                       WHERE i.inhrelid = c.oid
                       ORDER BY i.inhseqno) AS parents
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          ORDER BY c.relname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let name: String = row.get(0);
            let relkind: String = row.get(1);
            let is_partition: bool = row.get(2);
            let mut parents: Vec<String> = row.get(3);
            let kind = match relkind.as_str() {
                "v" => RelationKind::NotATable("a view"),
                "m" => RelationKind::NotATable("a materialized view"),
                "f" => RelationKind::NotATable("a foreign table"),
                _ if is_partition => RelationKind::Partition {
                    parent: parents.remove(0),
                },
                _ => RelationKind::Table,
            };
            Relation {
                name,
                kind,
                inherits: parents,
            }
        })
        .collect())
}

/// The table definitions of `tables` (names in `schema`), as sea-schema's writer takes them, each
/// with the notes on what was left out of it.
pub(crate) async fn tables(
    pool: &PgPool,
    schema: &str,
    tables: &[String],
) -> sqlx::Result<Vec<(TableDef, Vec<String>)>> {
    let enums = enums(pool, schema).await?;
    let mut columns = columns(pool, schema, &enums).await?;
    let mut keys = keys(pool, schema).await?;
    let mut uniques = unique_indexes(pool, schema).await?;
    Ok(tables
        .iter()
        .map(|name| {
            let (primary_key_constraints, reference_constraints, notes) =
                keys.remove(name).unwrap_or_default();
            let def = TableDef {
                info: TableInfo {
                    name: name.clone(),
                    of_type: None,
                },
                columns: columns.remove(name).unwrap_or_default(),
                check_constraints: Vec::new(),
                not_null_constraints: Vec::new(),
                unique_constraints: uniques.remove(name).unwrap_or_default(),
                primary_key_constraints,
                reference_constraints,
                exclusion_constraints: Vec::new(),
            };
            (def, notes)
        })
        .collect())
}

/// Enum type name → labels in their declared order.
async fn enums(pool: &PgPool, schema: &str) -> sqlx::Result<HashMap<String, Vec<String>>> {
    let rows = sqlx::query(
        "SELECT t.typname::text, e.enumlabel::text
           FROM pg_enum e
           JOIN pg_type t ON t.oid = e.enumtypid
           JOIN pg_namespace n ON n.oid = t.typnamespace
          WHERE n.nspname = $1
          ORDER BY t.typname, e.enumsortorder",
    )
    .bind(schema)
    .fetch_all(pool)
    .await?;
    let mut enums: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        enums.entry(row.get(0)).or_default().push(row.get(1));
    }
    Ok(enums)
}

/// Table → columns in ordinal order, parsed by sea-schema.
async fn columns(
    pool: &PgPool,
    schema: &str,
    enums: &HashMap<String, Vec<String>>,
) -> sqlx::Result<BTreeMap<String, Vec<ColumnInfo>>> {
    // The columns sea-schema reads, for every table of the schema at once. `format_type` names
    // an array's type (`integer[]`) as sea-schema's `regtype` cast does, without failing for a
    // type outside the search path.
    let rows = sqlx::query(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text, c.column_default::text,
                c.generation_expression::text, c.is_nullable::text, c.is_identity::text,
                c.numeric_precision::int4, c.numeric_precision_radix::int4, c.numeric_scale::int4,
                c.character_maximum_length::int4, c.character_octet_length::int4,
                c.datetime_precision::int4, c.interval_type::text, c.interval_precision::int4,
                c.udt_name::text, format_type(a.atttypid, NULL)
           FROM information_schema.columns c
           JOIN pg_namespace n ON n.nspname = c.table_schema
           JOIN pg_class r ON r.relnamespace = n.oid AND r.relname = c.table_name
           JOIN pg_attribute a ON a.attrelid = r.oid AND a.attname = c.column_name
          WHERE c.table_schema = $1
          ORDER BY c.table_name, c.ordinal_position",
    )
    .bind(schema)
    .fetch_all(pool)
    .await?;
    let mut columns: BTreeMap<String, Vec<ColumnInfo>> = BTreeMap::new();
    for row in rows {
        let result = ColumnQueryResult {
            column_name: row.get(1),
            column_type: row.get(2),
            column_default: row.get(3),
            column_generated: row.get(4),
            is_nullable: row.get(5),
            is_identity: row.get(6),
            numeric_precision: row.get(7),
            numeric_precision_radix: row.get(8),
            numeric_scale: row.get(9),
            character_maximum_length: row.get(10),
            character_octet_length: row.get(11),
            datetime_precision: row.get(12),
            interval_type: row.get(13),
            interval_precision: row.get(14),
            udt_name: row.get(15),
            udt_name_regtype: row.get(16),
        };
        columns
            .entry(row.get(0))
            .or_default()
            .push(parse_column_query_result(result, enums));
    }
    Ok(columns)
}

/// (primary key, foreign keys, notes on the foreign keys left out).
type Keys = (Vec<PrimaryKey>, Vec<References>, Vec<String>);

/// Table → (primary key, foreign keys, notes), columns in key order. A foreign key to a table of
/// another schema is left out, with a note: the entity it would name is not generated.
async fn keys(pool: &PgPool, schema: &str) -> sqlx::Result<BTreeMap<String, Keys>> {
    let rows = sqlx::query(
        "SELECT r.relname::text, con.conname::text, con.contype::text,
                ARRAY(SELECT a.attname::text
                        FROM unnest(con.conkey) WITH ORDINALITY AS k(num, ord)
                        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num
                       ORDER BY k.ord) AS columns,
                fr.relname::text, fn.nspname::text,
                ARRAY(SELECT a.attname::text
                        FROM unnest(con.confkey) WITH ORDINALITY AS k(num, ord)
                        JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.num
                       ORDER BY k.ord) AS foreign_columns,
                con.confupdtype::text, con.confdeltype::text
           FROM pg_constraint con
           JOIN pg_class r ON r.oid = con.conrelid
           JOIN pg_namespace n ON n.oid = r.relnamespace
           LEFT JOIN pg_class fr ON fr.oid = con.confrelid
           LEFT JOIN pg_namespace fn ON fn.oid = fr.relnamespace
          WHERE n.nspname = $1 AND con.contype IN ('p', 'f')
            -- A foreign key to a partitioned table has a copy per partition; the parent's is it.
            AND con.conparentid = 0
          ORDER BY r.relname, con.conname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await?;
    let mut keys: BTreeMap<String, Keys> = BTreeMap::new();
    for row in rows {
        let table: String = row.get(0);
        let (primary, foreign, notes) = keys.entry(table.clone()).or_default();
        let name: String = row.get(1);
        let kind: String = row.get(2);
        let columns: Vec<String> = row.get(3);
        if kind == "p" {
            primary.push(PrimaryKey { name, columns });
            continue;
        }
        let foreign_schema: Option<String> = row.get(5);
        if foreign_schema.as_deref() != Some(schema) {
            let target: Option<String> = row.get(4);
            notes.push(format!(
                "{table}({}) references {}.{}, in another schema: the relation is left out",
                columns.join(", "),
                foreign_schema.unwrap_or_default(),
                target.unwrap_or_default()
            ));
            continue;
        }
        let action = |code: String| match code.as_str() {
            "c" => ForeignKeyAction::Cascade,
            "n" => ForeignKeyAction::SetNull,
            "d" => ForeignKeyAction::SetDefault,
            "r" => ForeignKeyAction::Restrict,
            _ => ForeignKeyAction::NoAction,
        };
        foreign.push(References {
            name,
            columns,
            table: row.get(4),
            foreign_columns: row.get(6),
            on_update: Some(action(row.get(7))),
            on_delete: Some(action(row.get(8))),
        });
    }
    Ok(keys)
}

/// Table → unique indexes other than the primary key's, on plain columns (an index on an
/// expression says nothing codegen can express), by their key columns (not `INCLUDE`d ones).
async fn unique_indexes(
    pool: &PgPool,
    schema: &str,
) -> sqlx::Result<BTreeMap<String, Vec<Unique>>> {
    let rows = sqlx::query(
        "SELECT t.relname::text, i.relname::text,
                ARRAY(SELECT a.attname::text
                        FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(num, ord)
                        JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.num
                       WHERE k.ord <= x.indnkeyatts
                       ORDER BY k.ord) AS columns,
                x.indpred IS NOT NULL
           FROM pg_index x
           JOIN pg_class i ON i.oid = x.indexrelid
           JOIN pg_class t ON t.oid = x.indrelid
           JOIN pg_namespace n ON n.oid = t.relnamespace
          WHERE n.nspname = $1 AND x.indisunique AND NOT x.indisprimary
            AND NOT (0 = ANY (x.indkey::int2[])) AND x.indexprs IS NULL
          ORDER BY t.relname, i.relname",
    )
    .bind(schema)
    .fetch_all(pool)
    .await?;
    let mut uniques: BTreeMap<String, Vec<Unique>> = BTreeMap::new();
    for row in rows {
        uniques.entry(row.get(0)).or_default().push(Unique {
            name: row.get(1),
            columns: row.get(2),
            is_partial: row.get(3),
        });
    }
    Ok(uniques)
}
