//! The statements behind `bulk_create`.
//!
//! SeaORM's `insert_many` builds a sea-query expression tree (a cast check and a boxed expression
//! per cell) and renders it; for 100,000 rows that costs more than the database's own work. When
//! every row sets the same plain columns, duetto writes the multi-row `INSERT … VALUES` text
//! directly and binds the values as they are, which is what a hand-written sqlx insert does.
//! Anything else (rows setting different columns, columns that need a cast on the way in, such as
//! PostgreSQL enums) goes through SeaORM's `insert_many`.

use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr,
    EntityName, EntityTrait, FromQueryResult, IdenStatic, IntoActiveModel, Iterable, Statement,
    Value,
};

/// What a bulk insert does with a row that collides with an existing one on a unique key.
#[derive(Debug, Clone)]
pub(crate) enum Conflict<C> {
    /// Fail the statement (and the call).
    Fail,
    /// Skip the row.
    Ignore,
    /// Update `update` of the existing row (the one `unique` identifies) from the new one.
    Update { unique: Vec<C>, update: Vec<C> },
}

/// Inserts `rows` with one statement per `per_batch` rows, handling conflicts as `conflict`
/// says; returns rows written as the server counts them, and the written rows themselves when
/// `returning` (`RETURNING`, which every supported backend has).
pub(crate) async fn insert_rows<A, C>(
    conn: &C,
    rows: Vec<A>,
    per_batch: usize,
    conflict: &Conflict<<A::Entity as EntityTrait>::Column>,
    returning: bool,
) -> Result<(u64, Vec<<A::Entity as EntityTrait>::Model>), DbErr>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    C: ConnectionTrait,
{
    let backend = conn.get_database_backend();
    let columns = plain_uniform_columns(&rows).ok_or_else(|| {
        DbErr::Custom("bulk_create: every row must set the same fields, none needing a cast".into())
    });
    let simple = matches!(conflict, Conflict::Fail) && !returning;
    let mut written = 0;
    let mut models = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<A> = rows.by_ref().take(per_batch).collect();
        if simple && columns.is_err() {
            written += <A::Entity as EntityTrait>::insert_many(batch)
                .exec_without_returning(conn)
                .await?;
            continue;
        }
        let columns = columns.as_ref().map_err(|e| DbErr::Custom(e.to_string()))?;
        let stmt = values_statement(backend, columns, batch, conflict, returning);
        if returning {
            let rows = conn.query_all_raw(stmt).await?;
            written += rows.len() as u64;
            for row in &rows {
                models.push(
                    <<A::Entity as EntityTrait>::Model as FromQueryResult>::from_query_result(
                        row, "",
                    )?,
                );
            }
        } else {
            written += conn.execute_raw(stmt).await?.rows_affected();
        }
    }
    Ok((written, models))
}

/// The columns every row sets, if all rows set exactly the same ones and none needs a cast.
fn plain_uniform_columns<A: ActiveModelTrait>(
    rows: &[A],
) -> Option<Vec<<A::Entity as EntityTrait>::Column>> {
    let first = rows.first()?;
    let columns: Vec<_> = <A::Entity as EntityTrait>::Column::iter()
        .filter(|col| !first.get(*col).is_not_set())
        .collect();
    let plain = columns
        .iter()
        .all(|col| matches!(col.save_as(Expr::val(0)), SimpleExpr::Value(_)));
    let uniform = rows.iter().all(|row| {
        <A::Entity as EntityTrait>::Column::iter().all(|col| {
            row.get(col).is_not_set() != columns.iter().any(|c| c.as_str() == col.as_str())
        })
    });
    (plain && uniform && !columns.is_empty()).then_some(columns)
}

fn quote(backend: DbBackend, ident: &str) -> String {
    let q = if backend == DbBackend::MySql {
        '`'
    } else {
        '"'
    };
    let escaped = ident.replace(q, &format!("{q}{q}"));
    format!("{q}{escaped}{q}")
}

/// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?) …` with every value bound, its conflict clause,
/// and `RETURNING` every column when asked.
fn values_statement<A: ActiveModelTrait>(
    backend: DbBackend,
    columns: &[<A::Entity as EntityTrait>::Column],
    rows: Vec<A>,
    conflict: &Conflict<<A::Entity as EntityTrait>::Column>,
    returning: bool,
) -> Statement {
    let entity = A::Entity::default();
    let table = match entity.schema_name() {
        Some(schema) => format!(
            "{}.{}",
            quote(backend, schema),
            quote(backend, entity.table_name())
        ),
        None => quote(backend, entity.table_name()),
    };
    let names: Vec<String> = columns.iter().map(|c| quote(backend, c.as_str())).collect();
    // MySQL has no `ON CONFLICT DO NOTHING`; `INSERT IGNORE` is its form (Django's too).
    let ignore = matches!((conflict, backend), (Conflict::Ignore, DbBackend::MySql));
    let mut sql = format!(
        "INSERT {}INTO {table} ({}) VALUES ",
        if ignore { "IGNORE " } else { "" },
        names.join(", ")
    );
    let mut values: Vec<Value> = Vec::with_capacity(rows.len() * columns.len());
    for (r, mut row) in rows.into_iter().enumerate() {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for (c, col) in columns.iter().enumerate() {
            if c > 0 {
                sql.push_str(", ");
            }
            values.push(
                row.take(*col)
                    .into_value()
                    .expect("uniform rows set every column"),
            );
            match backend {
                DbBackend::Postgres => {
                    sql.push('$');
                    sql.push_str(&values.len().to_string());
                }
                _ => sql.push('?'),
            }
        }
        sql.push(')');
    }
    let q = |c: &<A::Entity as EntityTrait>::Column| quote(backend, c.as_str());
    match (conflict, backend) {
        (Conflict::Fail, _) | (Conflict::Ignore, DbBackend::MySql) => {}
        (Conflict::Ignore, _) => sql.push_str(" ON CONFLICT DO NOTHING"),
        (Conflict::Update { update, .. }, DbBackend::MySql) => {
            let set: Vec<String> = update
                .iter()
                .map(|c| format!("{0} = VALUES({0})", q(c)))
                .collect();
            sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", set.join(", ")));
        }
        (Conflict::Update { unique, update }, _) => {
            let target: Vec<String> = unique.iter().map(q).collect();
            let set: Vec<String> = update
                .iter()
                .map(|c| format!("{0} = EXCLUDED.{0}", q(c)))
                .collect();
            sql.push_str(&format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                target.join(", "),
                set.join(", ")
            ));
        }
    }
    if returning {
        let all: Vec<String> = <A::Entity as EntityTrait>::Column::iter()
            .map(|c| q(&c))
            .collect();
        sql.push_str(&format!(" RETURNING {}", all.join(", ")));
    }
    Statement::from_sql_and_values(backend, sql, values)
}
