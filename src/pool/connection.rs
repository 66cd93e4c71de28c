//! One pooled connection that knows whether its protocol exchange is complete.
//!
//! duetto runs statements itself, through sqlx, on connections it checks out of the pool that
//! SeaORM's `DatabaseConnection` wraps. Owning the checkout is what lets it tell a clean
//! connection from an interrupted one: SeaORM and sqlx release a connection the same way whether
//! its last exchange finished or its future was dropped half-way, and sqlx's release-time ping
//! cannot see an open transaction (PostgreSQL) or recover a half-read prepare (MySQL).
//!
//! The same ownership makes it responsible for what sqlx's release ping also did: noticing a
//! dead socket. Every exchange's error is classified ([`crate::connection_loss`]); one that
//! means the connection is gone leaves it *broken*, closed on release, and tells the pool.

use futures_util::stream::{BoxStream, StreamExt};
use sea_orm::sea_query::Values;
use sea_orm::sqlx;
use sea_orm::{ConnAcquireErr, DbBackend, DbErr, ExecResult, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;

use std::sync::Weak;
use std::time::Instant;

use tokio::sync::OwnedSemaphorePermit;
use tracing::Instrument;

use super::Pool;
use crate::connection_loss;
use crate::observe::{Observation, Origin};

/// How long an interrupted PostgreSQL connection may take to read and discard the replies of
/// the exchange its caller abandoned before it is closed instead of kept.
#[cfg(feature = "postgres")]
const DRAIN_WITHIN: std::time::Duration = std::time::Duration::from_secs(1);

/// Where a clean connection goes when its user releases it, if not straight back to the pool:
/// a request scope that keeps one connection between its statements. A keeper that does not
/// want it (it already keeps one) drops it, which returns it to the pool.
pub(crate) trait Keeper: Send + Sync {
    /// Takes back a clean connection.
    fn keep(&self, conn: PooledConn);
}

// SeaORM's own conversions of sqlx errors, which it keeps private: the same `DbErr` shapes, so
// errors read the same whichever path ran the statement.
fn sqlx_error_to_exec_err(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(err.into()))
}

fn sqlx_error_to_query_err(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(err.into()))
}

pub(super) fn sqlx_conn_acquire_err(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        other => DbErr::Conn(RuntimeErr::SqlxError(other.into())),
    }
}

/// A connection checked out of sqlx's pool, per backend.
pub(super) enum Raw {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
    #[cfg(feature = "mysql")]
    MySql(sqlx::pool::PoolConnection<sqlx::MySql>),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
}

/// Runs `$body` with `$c` bound to the backend's `&mut Connection`.
macro_rules! on_raw {
    ($raw:expr, $c:ident => $body:expr) => {
        match $raw {
            #[cfg(feature = "postgres")]
            Raw::Postgres(conn) => {
                let $c = &mut **conn;
                $body
            }
            #[cfg(feature = "mysql")]
            Raw::MySql(conn) => {
                let $c = &mut **conn;
                $body
            }
            #[cfg(feature = "sqlite")]
            Raw::Sqlite(conn) => {
                let $c = &mut **conn;
                $body
            }
        }
    };
}

/// A connection checked out of the pool, with the one fact sqlx does not keep: whether the last
/// exchange with the server completed.
///
/// | state | how it gets there | on release |
/// |---|---|---|
/// | clean | checked out; an exchange completed; `COMMIT`/`ROLLBACK` completed | back to the pool, no round trip |
/// | exchange open | a statement was sent and its reply not fully read yet | (only if dropped now) discarded |
/// | in transaction | `BEGIN` sent | PostgreSQL: drained, rolled back, pooled; else discarded |
/// | interrupted | dropped while an exchange was open | PostgreSQL: drained, pooled; else discarded |
/// | broken | an exchange ended in a lost connection | discarded, and older hot connections suspect |
///
/// An exchange is open from the moment a statement starts until its last reply is read. A
/// connection released while one is open was *interrupted* (its future was dropped: a timeout, a
/// `select!`, an aborted task): the server may still be executing, may hold a transaction opened
/// by a `BEGIN` whose reply never came, and sqlx's buffers may hold half a reply. The same goes
/// for a connection released inside a transaction (its scope was dropped without finishing).
///
/// sqlx's PostgreSQL connection counts the replies it still owes (`ReadyForQuery`) and reads
/// and discards them before its next exchange, so such a connection is *drained* in the
/// background: a `Sync` round trip (or a `ROLLBACK` when a transaction may be open) within
/// [`DRAIN_WITHIN`], holding its caller's permit meanwhile, and it goes back to the pool. If
/// the server does not finish in time, or anything fails, it is closed, and the server rolls
/// back whatever it had open. MySQL connections are closed: sqlx does not track a half-read
/// prepare reply, so nothing can tell where the stream of replies is. SQLite runs every
/// statement to its end, so only a `ROLLBACK` is queued.
///
/// A *broken* connection (see [`crate::connection_loss`]) is always closed: there is no
/// conversation left to drain.
pub(crate) struct PooledConn {
    raw: Option<Raw>,
    backend: DbBackend,
    exchange_open: bool,
    in_transaction: bool,
    broken: bool,
    /// Where a clean connection goes back to, and the caller's right to hold one.
    pool: Pool,
    permit: Option<OwnedSemaphorePermit>,
    first_seen: Instant,
    /// The request scope that keeps this connection between statements, if any: a clean
    /// connection goes back there (while the scope lives and holds none) instead of to the pool.
    home: Option<Weak<dyn Keeper>>,
    /// Who issues the next statement, when the executor knows (see `crate::observe`).
    origin: Option<Origin>,
}

impl PooledConn {
    /// A clean connection checked out of `pool` under `permit`.
    pub(super) fn new(
        raw: Raw,
        pool: Pool,
        permit: OwnedSemaphorePermit,
        first_seen: Instant,
    ) -> PooledConn {
        PooledConn {
            backend: pool.backend(),
            raw: Some(raw),
            exchange_open: false,
            in_transaction: false,
            broken: false,
            pool,
            permit: Some(permit),
            first_seen,
            home: None,
            origin: None,
        }
    }

    /// Reports the next statements as issued by `origin`.
    pub(crate) fn issued_by(&mut self, origin: Option<Origin>) {
        self.origin = origin;
    }

    /// Makes a clean release of this connection go back to `keeper` (while it lives).
    pub(crate) fn keep_in(&mut self, keeper: Weak<dyn Keeper>) {
        self.home = Some(keeper);
    }

    pub(crate) fn backend(&self) -> DbBackend {
        self.backend
    }

    /// Whether an exchange was left open by a dropped future: nothing may run on it any more.
    pub(crate) fn is_interrupted(&self) -> bool {
        self.exchange_open
    }

    /// Whether an exchange found the connection lost: nothing may run on it any more.
    pub(crate) fn is_broken(&self) -> bool {
        self.broken
    }

    /// Records whether a transaction may be open on this connection: from the moment `BEGIN`
    /// is sent until `COMMIT`/`ROLLBACK` completes.
    pub(crate) fn set_in_transaction(&mut self, open: bool) {
        self.in_transaction = open;
    }

    /// Gives up the caller's permit (the connection is about to be dropped and the caller
    /// tries another).
    pub(super) fn take_permit(&mut self) -> Option<OwnedSemaphorePermit> {
        self.permit.take()
    }

    /// Marks the connection broken if `err` means it is gone (see [`crate::connection_loss`]).
    fn note_failure(&mut self, err: &DbErr) {
        if connection_loss::loss(err).is_some() {
            self.broken = true;
            self.pool.saw_loss();
        }
    }

    /// Refuses to start an exchange on a connection that cannot take one.
    fn check_usable(&self) -> Result<(), DbErr> {
        if self.exchange_open {
            return Err(interrupted());
        }
        if self.broken {
            return Err(lost());
        }
        Ok(())
    }

    /// One round trip proving the connection answers (sqlx's ping: `Sync` on PostgreSQL,
    /// `COM_PING` on MySQL); a failure leaves it broken.
    pub(crate) async fn ping(&mut self) -> Result<(), DbErr> {
        self.check_usable()?;
        self.exchange_open = true;
        let out = on_raw!(self.raw(), c => sqlx::Connection::ping(c).await);
        self.exchange_open = false;
        out.map_err(|e| {
            let e = sqlx_error_to_query_err(e);
            self.note_failure(&e);
            e
        })
    }

    fn raw(&mut self) -> &mut Raw {
        self.raw
            .as_mut()
            .expect("a pooled connection holds its raw connection until dropped")
    }

    /// Runs `exchange` with the exchange marked open; only its completion marks it closed again.
    /// A completion with an error that means the connection is gone (an I/O error, EOF, a
    /// fatal server error) leaves it broken; any other server error left the protocol in step. The exchange runs
    /// in its statement's span and its outcome (`rows` counts what it returned or affected) is
    /// recorded for the observers (see `crate::observe`).
    async fn exchange<T>(
        &mut self,
        observation: Observation,
        rows: impl FnOnce(&T) -> u64,
        exchange: impl AsyncFnOnce(&mut Raw) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        if let Err(e) = self.check_usable() {
            observation.discard();
            return Err(e);
        }
        self.exchange_open = true;
        // Entering a span no subscriber wants costs more than the rest of the observation.
        let out = if observation.span().is_disabled() {
            exchange(self.raw()).await
        } else {
            exchange(self.raw())
                .instrument(observation.span().clone())
                .await
        };
        self.exchange_open = false;
        if let Err(e) = &out {
            self.note_failure(e);
        }
        observation.finish(out.as_ref().map(rows));
        out
    }

    /// Starts observing a statement sent on this connection.
    fn observe(&mut self, sql: &str, values: Option<&Values>) -> Observation {
        Observation::start(
            self.pool.observe(),
            self.backend,
            self.in_transaction,
            sql,
            values,
            self.origin.take(),
        )
    }

    pub(crate) async fn execute(&mut self, stmt: Statement) -> Result<ExecResult, DbErr> {
        let (sql, values) = (stmt.sql, stmt.values.unwrap_or(Values(Vec::new())));
        let affected = |r: &ExecResult| r.rows_affected();
        let observation = self.observe(&sql, Some(&values));
        self.exchange(observation, affected, async |raw| {
            on_raw!(raw, c => sqlx::query_with(sqlx::AssertSqlSafe(sql.as_str()), SqlxValues(values))
                .execute(c)
                .await
                .map(ExecResult::from)
                .map_err(sqlx_error_to_exec_err))
        })
        .await
    }

    pub(crate) async fn execute_unprepared(&mut self, sql: &str) -> Result<ExecResult, DbErr> {
        use sqlx::Executor;
        let affected = |r: &ExecResult| r.rows_affected();
        let observation = self.observe(sql, None);
        self.exchange(observation, affected, async |raw| {
            on_raw!(raw, c => c
                .execute(sqlx::AssertSqlSafe(sql.to_owned()))
                .await
                .map(ExecResult::from)
                .map_err(sqlx_error_to_exec_err))
        })
        .await
    }

    pub(crate) async fn query_all(&mut self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        let (sql, values) = (stmt.sql, stmt.values.unwrap_or(Values(Vec::new())));
        let returned = |rows: &Vec<QueryResult>| rows.len() as u64;
        let observation = self.observe(&sql, Some(&values));
        self.exchange(observation, returned, async |raw| {
            on_raw!(raw, c => sqlx::query_with(sqlx::AssertSqlSafe(sql.as_str()), SqlxValues(values))
                .fetch_all(c)
                .await
                .map(|rows| rows.into_iter().map(QueryResult::from).collect())
                .map_err(sqlx_error_to_query_err))
        })
        .await
    }

    pub(crate) async fn query_one(
        &mut self,
        stmt: Statement,
    ) -> Result<Option<QueryResult>, DbErr> {
        let (sql, values) = (stmt.sql, stmt.values.unwrap_or(Values(Vec::new())));
        let returned = |row: &Option<QueryResult>| u64::from(row.is_some());
        let observation = self.observe(&sql, Some(&values));
        self.exchange(observation, returned, async |raw| {
            on_raw!(raw, c => sqlx::query_with(sqlx::AssertSqlSafe(sql.as_str()), SqlxValues(values))
                .fetch_optional(c)
                .await
                .map(|row| row.map(QueryResult::from))
                .map_err(sqlx_error_to_query_err))
        })
        .await
    }

    /// Sends `sql` — several `;`-separated statements, values written inline — as ONE message
    /// (the simple query protocol) and returns each statement's rows, in order: one round trip
    /// for all of them.
    pub(crate) async fn query_many(
        &mut self,
        sql: String,
        statements: usize,
    ) -> Result<Vec<Vec<QueryResult>>, DbErr> {
        use futures_util::TryStreamExt;
        use sqlx::Either;
        let returned =
            |results: &Vec<Vec<QueryResult>>| results.iter().map(|r| r.len() as u64).sum();
        let observation = self.observe(&sql, None);
        let results = self
            .exchange(observation, returned, async |raw| {
                on_raw!(raw, c => {
                    let mut results = vec![Vec::new()];
                    let mut items = sqlx::Executor::fetch_many(c, sqlx::AssertSqlSafe(sql.as_str()));
                    while let Some(item) = items.try_next().await.map_err(sqlx_error_to_query_err)? {
                        match item {
                            Either::Left(_done) => results.push(Vec::new()),
                            Either::Right(row) => results
                                .last_mut()
                                .expect("never empty")
                                .push(QueryResult::from(row)),
                        }
                    }
                    Ok::<_, DbErr>(results)
                })
            })
            .await?;
        let mut results = results;
        // Each statement ends with its completion; what follows the last one is empty.
        results.pop();
        if results.len() != statements {
            return Err(DbErr::Custom(format!(
                "a batch of {statements} statements returned {} results",
                results.len()
            )));
        }
        Ok(results)
    }

    /// The rows of `stmt`, read as they arrive. The exchange stays open until the stream has
    /// been read to its end, so a stream dropped half-read leaves the connection interrupted.
    pub(crate) fn fetch(&mut self, stmt: Statement) -> BoxStream<'_, Result<QueryResult, DbErr>> {
        if let Err(e) = self.check_usable() {
            return futures_util::stream::once(async { Err(e) }).boxed();
        }
        let (sql, values) = parts(stmt);
        let observation = self.observe(&sql, Some(&values.0));
        let span = observation.span().clone();
        self.exchange_open = true;
        let exchange_open = &mut self.exchange_open;
        let broken = &mut self.broken;
        let pool = &self.pool;
        let raw = self.raw.as_mut().expect("held until dropped");
        let rows: BoxStream<'_, Result<QueryResult, DbErr>> = on_raw!(raw, c => {
            sqlx::query_with(sqlx::AssertSqlSafe(sql), values)
                .fetch(c)
                .map(|row| row.map(QueryResult::from).map_err(sqlx_error_to_query_err))
                .boxed()
        });
        // Closing the exchange (and the observation: a stream dropped half-read records an
        // interrupted statement) when the rows run out is the last step of the stream.
        let mut rows = rows;
        let mut open = Some((exchange_open, observation, 0u64, None::<String>));
        futures_util::stream::poll_fn(move |cx| {
            let _entered = span.enter();
            let Some((_, _, count, failed)) = open.as_mut() else {
                return std::task::Poll::Ready(None);
            };
            match std::task::ready!(rows.poll_next_unpin(cx)) {
                Some(Ok(row)) => {
                    *count += 1;
                    std::task::Poll::Ready(Some(Ok(row)))
                }
                Some(Err(e)) => {
                    if connection_loss::loss(&e).is_some() {
                        *broken = true;
                        pool.saw_loss();
                    }
                    *failed = Some(e.to_string());
                    std::task::Poll::Ready(Some(Err(e)))
                }
                None => {
                    let (flag, observation, count, failed) = open.take().expect("checked above");
                    *flag = false;
                    match failed {
                        None => observation.finish(Ok(count)),
                        Some(e) => observation.finish(Err(&DbErr::Custom(e))),
                    }
                    std::task::Poll::Ready(None)
                }
            }
        })
        .boxed()
    }
}

fn interrupted() -> DbErr {
    DbErr::Custom("this connection was interrupted mid-statement and cannot be reused".into())
}

fn lost() -> DbErr {
    DbErr::Custom("this connection was lost and cannot be reused".into())
}

/// A statement's SQL and its values, ready to bind.
fn parts(stmt: Statement) -> (String, SqlxValues) {
    let values = stmt.values.unwrap_or(Values(Vec::new()));
    (stmt.sql, SqlxValues(values))
}

/// Closes a connection without a word to the server. Detaching frees its pool slot at once;
/// dropping the socket makes the server end the session and roll back what it had open.
fn close(raw: Raw) {
    match raw {
        #[cfg(feature = "postgres")]
        Raw::Postgres(conn) => drop(conn.detach()),
        #[cfg(feature = "mysql")]
        Raw::MySql(conn) => drop(conn.detach()),
        #[cfg(feature = "sqlite")]
        Raw::Sqlite(conn) => drop(conn.detach()),
    }
}

impl PooledConn {
    /// Drains an interrupted PostgreSQL connection in the background and pools it again, or
    /// closes it (see the type's docs). It keeps its caller's permit until then, so the pool
    /// never counts it as free while it is still talking to the server.
    #[cfg(feature = "postgres")]
    fn drain(&mut self, mut conn: sqlx::pool::PoolConnection<sqlx::Postgres>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return drop(conn.detach());
        };
        let permit = self.permit.take();
        let pool = self.pool.clone();
        let first_seen = self.first_seen;
        // From `BEGIN` sent until `COMMIT`/`ROLLBACK` read, the server may hold a transaction.
        let rollback = self.in_transaction;
        runtime.spawn(async move {
            let _permit = permit;
            let settled = tokio::time::timeout(DRAIN_WITHIN, async {
                use sqlx::{Connection, Executor};
                // Both first read and discard every reply still owed to the abandoned exchange.
                if rollback {
                    (&mut *conn).execute("ROLLBACK").await.map(drop)
                } else {
                    conn.ping().await
                }
            })
            .await;
            match settled {
                Ok(Ok(())) => pool.put_back(Raw::Postgres(conn), first_seen),
                _ => drop(conn.detach()),
            }
        });
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        let Some(raw) = self.raw.take() else { return };
        if self.broken {
            log::debug!("duetto: {:?} connection lost; closed", self.backend);
            // Detaching frees its pool slot at once; there is nothing to say to the server.
            return close(raw);
        }
        if !self.exchange_open && !self.in_transaction {
            // Clean: back to its request scope if that still lives (still in use, so with its
            // permit), else hot in the pool, no round trip.
            match self.home.take().and_then(|home| home.upgrade()) {
                Some(keeper) => keeper.keep(PooledConn {
                    raw: Some(raw),
                    backend: self.backend,
                    exchange_open: false,
                    in_transaction: false,
                    broken: false,
                    pool: self.pool.clone(),
                    permit: self.permit.take(),
                    first_seen: self.first_seen,
                    home: None,
                    origin: None,
                }),
                None => self.pool.put_back(raw, self.first_seen),
            }
            return;
        }
        log::debug!(
            "duetto: {:?} connection released {}",
            self.backend,
            if self.exchange_open {
                "mid-exchange"
            } else {
                "inside a transaction"
            }
        );
        match raw {
            #[cfg(feature = "postgres")]
            Raw::Postgres(conn) => self.drain(conn),
            // Interrupted or inside a transaction: close it. Detaching frees its pool slot at
            // once; dropping the socket makes the server end the session and roll back what it
            // had open.
            #[cfg(feature = "mysql")]
            Raw::MySql(conn) => drop(conn.detach()),
            // SQLite runs each statement to its end on the connection's worker thread even when
            // its future is dropped, so a `ROLLBACK` queued behind it always finds the connection
            // in step; closing instead would free a shared in-memory database with its last
            // connection.
            #[cfg(feature = "sqlite")]
            Raw::Sqlite(mut conn) => match tokio::runtime::Handle::try_current() {
                Ok(runtime) => {
                    // The connection stays counted against the pool until it is back.
                    let permit = self.permit.take();
                    runtime.spawn(async move {
                        let _permit = permit;
                        use sqlx::Executor;
                        if let Err(e) = conn.execute("ROLLBACK").await {
                            if !e.to_string().contains("no transaction is active") {
                                drop(conn.detach());
                            }
                        }
                    });
                }
                Err(_) => drop(conn.detach()),
            },
        }
    }
}
