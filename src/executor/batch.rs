//! Several independent reads in one round trip on one connection.
//!
//! sqlx offers no pipelining of prepared statements (PostgreSQL's extended protocol would allow
//! it; sqlx's connection sends one statement and waits for its reply). What it does offer, on
//! every backend, is the *simple query* path: one message holding several `;`-separated
//! statements, whose results come back in order. duetto uses it for batches of SELECTs: each
//! statement is rendered with its values written inline by sea-query's escaping query builder
//! (the same renderer behind `to_string`), so one message carries the whole batch. PostgreSQL
//! and MySQL answer in one round trip; SQLite, in process, simply runs them one after another on
//! the same connection.
//!
//! The batch is one exchange: cancelled half-way, its connection is interrupted and closed like
//! any other. Results arrive in text format, which sqlx decodes for every type duetto's models
//! use.

use sea_orm::sea_query::{
    MysqlQueryBuilder, PostgresQueryBuilder, SelectStatement, SqliteQueryBuilder,
};
use sea_orm::{DbBackend, DbErr, QueryResult};

use super::Conn;

/// Runs `statements` on `conn` as one batch and returns each one's rows, in order.
pub(crate) async fn run(
    conn: &Conn,
    statements: &[SelectStatement],
) -> Result<Vec<Vec<QueryResult>>, DbErr> {
    let mut lease = conn.lease().await?;
    match lease.backend() {
        DbBackend::Sqlite => {
            let mut results = Vec::with_capacity(statements.len());
            for stmt in statements {
                results.push(lease.query_all(DbBackend::Sqlite.build(stmt)).await?);
            }
            Ok(results)
        }
        backend => {
            let sql = statements
                .iter()
                .map(|stmt| render(backend, stmt))
                .collect::<Vec<_>>()
                .join(";\n");
            lease.query_many(sql, statements.len()).await
        }
    }
}

/// `stmt` as SQL text with its values written inline, escaped for `backend`.
fn render(backend: DbBackend, stmt: &SelectStatement) -> String {
    match backend {
        DbBackend::Postgres => stmt.to_string(PostgresQueryBuilder),
        DbBackend::MySql => stmt.to_string(MysqlQueryBuilder),
        _ => stmt.to_string(SqliteQueryBuilder),
    }
}
