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
    EntityName, EntityTrait, IdenStatic, IntoActiveModel, Iterable, Statement, Value,
};

/// Inserts `rows` with one statement per `per_batch` rows; returns rows inserted.
pub(crate) async fn insert_rows<A, C>(
    conn: &C,
    rows: Vec<A>,
    per_batch: usize,
) -> Result<u64, DbErr>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
    C: ConnectionTrait,
{
    let columns = plain_uniform_columns(&rows);
    let mut inserted = 0;
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let batch: Vec<A> = rows.by_ref().take(per_batch).collect();
        inserted += match &columns {
            Some(columns) => {
                let stmt = values_statement(conn.get_database_backend(), columns, batch);
                conn.execute_raw(stmt).await?.rows_affected()
            }
            None => {
                <A::Entity as EntityTrait>::insert_many(batch)
                    .exec_without_returning(conn)
                    .await?
            }
        };
    }
    Ok(inserted)
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

/// `INSERT INTO t (a, b) VALUES (?, ?), (?, ?) …` with every value bound.
fn values_statement<A: ActiveModelTrait>(
    backend: DbBackend,
    columns: &[<A::Entity as EntityTrait>::Column],
    rows: Vec<A>,
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
    let mut sql = format!("INSERT INTO {table} ({}) VALUES ", names.join(", "));
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
    Statement::from_sql_and_values(backend, sql, values)
}
