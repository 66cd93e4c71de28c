//! Several independent reads in one round trip on one connection.
//!
//! sqlx offers no pipelining of prepared statements (PostgreSQL's extended protocol would allow
//! it; sqlx's connection sends one statement and waits for its reply). What it does offer, on
//! every backend, is the *simple query* path: one message holding several `;`-separated
//! statements, whose results come back in order. duetto uses it for batches of SELECTs: each
//! statement is rendered with its values written inline, so one message carries the whole
//! batch. PostgreSQL
//! and MySQL answer in one round trip; SQLite, in process, simply runs them one after another on
//! the same connection.
//!
//! The batch is one exchange: cancelled half-way, its connection is interrupted and closed like
//! any other. Results arrive in text format, which sqlx decodes for every type duetto's models
//! use.
//!
//! Inline values must be injection-proof whatever the server's settings. PostgreSQL literals are
//! written as `E'…'` strings, whose escapes mean the same under every `standard_conforming_strings`.
//! MySQL's meaning of a backslash depends on the session's `NO_BACKSLASH_ESCAPES`, so no quoting
//! is safe in both modes: MySQL text values travel as hex literals with a character set
//! introducer (`_utf8mb4 X'…'`), which hold no quote or backslash at all and compare like any
//! string literal (the column's collation wins).

use std::fmt::Write;

use sea_orm::sea_query::{
    MysqlQueryBuilder, PostgresQueryBuilder, QueryBuilder, SelectStatement, SqliteQueryBuilder,
    Value,
};
use sea_orm::{DbBackend, DbErr, QueryResult};

use super::Conn;

/// Runs `statements` on `conn` as one batch and returns each one's rows, in order.
pub(crate) async fn run(
    conn: &Conn,
    statements: &[SelectStatement],
) -> Result<Vec<Vec<QueryResult>>, DbErr> {
    read_surviving_loss!(conn, |lease| exchange(lease, statements))
}

/// The batch as one exchange on `lease`.
async fn exchange(
    lease: &mut crate::pool::PooledConn,
    statements: &[SelectStatement],
) -> Result<Vec<Vec<QueryResult>>, DbErr> {
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

/// `stmt` as SQL text with its values written inline, safely for `backend`.
fn render(backend: DbBackend, stmt: &SelectStatement) -> String {
    match backend {
        DbBackend::Postgres => stmt.to_string(PostgresQueryBuilder),
        DbBackend::MySql => render_mysql(stmt),
        _ => stmt.to_string(SqliteQueryBuilder),
    }
}

/// MySQL: the statement with `?` placeholders, each replaced by its value; text values as hex
/// literals (see the module docs). Placeholders inside quoted text of custom SQL are left alone.
fn render_mysql(stmt: &SelectStatement) -> String {
    let (sql, values) = stmt.build(MysqlQueryBuilder);
    let mut values = values.0.iter();
    let mut out = String::with_capacity(sql.len() + 16 * values.len());
    let mut quote: Option<char> = None;
    let mut chars = sql.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == '\\' && q != '`' {
                    out.extend(chars.next());
                } else if c == q {
                    quote = None;
                }
            }
            None if matches!(c, '\'' | '"' | '`') => {
                quote = Some(c);
                out.push(c);
            }
            None if c == '?' => match values.next() {
                Some(value) => mysql_literal(&mut out, value),
                None => out.push(c),
            },
            None => out.push(c),
        }
    }
    out
}

fn mysql_literal(out: &mut String, value: &Value) {
    let text = match value {
        Value::String(Some(s)) => Some(s.clone()),
        Value::Char(Some(c)) => Some(c.to_string()),
        Value::Json(Some(json)) => Some(json.to_string()),
        _ => None,
    };
    match text {
        // `X''` is not a valid literal with an introducer on every server version.
        Some(text) if text.is_empty() => out.push_str("''"),
        Some(text) => {
            out.push_str("_utf8mb4 X'");
            for byte in text.as_bytes() {
                let _ = write!(out, "{byte:02X}");
            }
            out.push('\'');
        }
        // Numbers, booleans, dates, decimals, bytes (`x'…'`), NULL: no text a caller controls.
        None => out.push_str(&MysqlQueryBuilder.value_to_string(value)),
    }
}
