//! Which driver errors mean the connection itself is gone, on every backend.
//!
//! A statement can fail in two ways. Most errors (a constraint, a syntax error, a lock timeout)
//! are a reply: the server answered, the protocol is in step, and the connection is as good as
//! before. The others mean there is no longer a conversation to continue: the socket is closed
//! or unreadable, the driver lost track of the protocol, or the server said it is ending the
//! session. A connection that saw one of those is *broken* (see [`crate::pool::PooledConn`]):
//! it is closed, never reused, and the pool treats its idle neighbours as suspect.
//!
//! The lists follow HikariCP's eviction rules and the servers' own documentation:
//!
//! - **PostgreSQL**: any `FATAL` or `PANIC` report (the server closes the session after
//!   sending it), SQLSTATE class `08` (connection exception), `57P01` admin shutdown,
//!   `57P02` crash shutdown, `57P03` cannot connect now, `57P05` idle session timeout and
//!   `25P03` idle-in-transaction timeout.
//! - **MySQL/MariaDB**: SQLSTATE class `08` (e.g. `08S01`, communication link failure),
//!   1053 server shutdown, 1077–1080 (shutdown and forced close), 1152–1161 (aborted connection
//!   and network errors), 1927 connection killed (MariaDB), 2006/2013 server gone away / lost
//!   during query (as relayed by proxies) and 4031 the client was disconnected (MySQL 8).
//! - **SQLite**: `SQLITE_IOERR` (10) with all its extended codes, `SQLITE_CORRUPT` (11) and
//!   `SQLITE_NOTADB` (26): the file under the connection can no longer be trusted.
//! - **Every backend**: an I/O error (EOF included: "expected to read 5 bytes, got 0 bytes at
//!   EOF"), a TLS error, a protocol error, a crashed SQLite worker.

use sea_orm::sqlx;
use sea_orm::{DbErr, RuntimeErr};

/// How a connection was lost, which decides whether a write may have taken effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Loss {
    /// No reply came: the socket failed or the protocol fell out of step after the request
    /// may have been sent. The server may have executed it.
    NoReply,
    /// The server replied that it is ending the session (shutdown, killed, timeout): it aborted
    /// the statement and rolled back what was open.
    ServerEnded,
}

/// Whether `err` means the connection it happened on is gone, and how.
pub(crate) fn loss(err: &DbErr) -> Option<Loss> {
    // `DbErr::Conn` is a failure to *open* a connection: nothing was lost, nothing was sent.
    let runtime = match err {
        DbErr::Exec(e) | DbErr::Query(e) => e,
        _ => return None,
    };
    let RuntimeErr::SqlxError(sqlx_err) = runtime else {
        return None;
    };
    sqlx_loss(sqlx_err)
}

/// [`loss`] for a driver error.
pub(crate) fn sqlx_loss(err: &sqlx::Error) -> Option<Loss> {
    match err {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => Some(Loss::NoReply),
        sqlx::Error::Database(db) if ends_session(db.as_ref()) => Some(Loss::ServerEnded),
        _ => None,
    }
}

/// Whether a server's error reply says the session is over.
fn ends_session(db: &dyn sqlx::error::DatabaseError) -> bool {
    #[cfg(feature = "postgres")]
    if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
        use sqlx::postgres::PgSeverity;
        let code = pg.code();
        return matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)
            || code.starts_with("08")
            || matches!(code, "57P01" | "57P02" | "57P03" | "57P05" | "25P03");
    }
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return my.code().is_some_and(|state| state.starts_with("08"))
            || matches!(
                my.number(),
                1053 | 1077..=1080 | 1152..=1161 | 1927 | 2006 | 2013 | 4031
            );
    }
    #[cfg(feature = "sqlite")]
    if let Some(code) = db.code() {
        // SQLite reports its extended result code; the primary code is its low byte.
        if let Ok(extended) = code.parse::<u32>() {
            return matches!(extended & 0xff, 10 | 11 | 26);
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn query_err(err: sqlx::Error) -> DbErr {
        DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
    }

    #[test]
    fn io_and_protocol_errors_are_losses_without_a_reply() {
        let eof = std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "expected to read 5 bytes, got 0 bytes at EOF",
        );
        assert_eq!(loss(&query_err(sqlx::Error::Io(eof))), Some(Loss::NoReply));
        assert_eq!(
            loss(&query_err(sqlx::Error::Protocol("out of step".into()))),
            Some(Loss::NoReply)
        );
        assert_eq!(
            loss(&query_err(sqlx::Error::WorkerCrashed)),
            Some(Loss::NoReply)
        );
    }

    #[test]
    fn ordinary_errors_leave_the_connection_usable() {
        assert_eq!(loss(&query_err(sqlx::Error::RowNotFound)), None);
        assert_eq!(loss(&DbErr::Custom("x".into())), None);
        assert_eq!(
            loss(&DbErr::Query(RuntimeErr::Internal("decode".into()))),
            None
        );
    }
}
