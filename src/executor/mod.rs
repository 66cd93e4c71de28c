//! Where a statement runs, and on which connection.
//!
//! Every statement duetto sends goes through a [`Conn`]: the connection held by the innermost
//! transaction scope open on that database in the caller's task or thread (a transaction or a
//! savepoint), else a connection of its own for that one exchange — the one the caller's request
//! scope keeps, when free, or one from the pool. [`Runner`] resolves which, at the moment the
//! statement runs, and runs it on the home runtime. Batches ([`batch`]) and streams are
//! exchanges like any other.
//!
//! # Connection states
//!
//! ```text
//!            acquire                         statement sent
//!   pool ───────────────▶ clean ─────────────────────────────▶ exchange open
//!    ▲                    │  ▲ ◀───────────────────────────────────┘  │
//!    │ release (no        │  │     last reply read (or server error)  │ future dropped
//!    │ round trip)        │  │                                        ▼
//!    └────────────────────┘  │ COMMIT / ROLLBACK read            interrupted ──▶ closed
//!                 BEGIN read │                                        ▲   (server rolls back;
//!                         ▼  │                                        │    SQLite: ROLLBACK
//!                    in transaction ──── released unfinished ─────────┘    queued, then pooled)
//!
//!   any exchange that ends in a lost connection (I/O error, EOF, fatal server error)
//!        ──▶ broken ──▶ closed; hot connections idle since before it become suspect
//! ```
//!
//! - A **clean** connection goes back as it is (to its request scope, or hot into the pool, see
//!   [`crate::pool`]): no round trip.
//! - An **exchange is open** from the moment a statement is sent until its last reply is read. A
//!   future dropped in that window (a timeout, `select!`, an aborted task, a stream dropped
//!   half-read) leaves the connection **interrupted**: the server may still run the statement,
//!   may hold a transaction whose `BEGIN` reply never arrived, and the driver's buffers may hold
//!   half a reply. It is never reused: it is closed, and the server rolls back what it had open.
//!   On PostgreSQL, whose driver knows how many replies it still owes, an interrupted connection
//!   is drained instead: in the background, within a bound, the abandoned replies are read and
//!   discarded (then a `ROLLBACK` if a transaction may be open), and it goes back to the pool.
//! - **In transaction** (a scope's `BEGIN` was sent): the connection belongs to the scope until
//!   its `COMMIT`/`ROLLBACK` completes. Released any other way (the scope was dropped), it is
//!   rolled back (PostgreSQL, SQLite) or closed (MySQL) like an interrupted one.
//! - **Broken**: an exchange ended in an error that means the connection is gone (see
//!   [`crate::connection_loss`]). It is closed, never reused, and every hot connection that went
//!   idle before the loss is checked before its next use (see [`crate::pool`]).
//!
//! # Lost connections
//!
//! A read outside a transaction scope whose connection turns out lost is sent once more, on a
//! connection that has proved alive since (see [`Runner::reading`]): repeating a read has no
//! side effects, so a server restart is invisible to readers. A write, or any statement inside
//! a scope, is never repeated: it fails with [`Error::ConnectionLost`], which says whether the
//! write might have committed.
//!
//! Inside a scope the connection is shared: statements of the body, of the streams it reads and
//! of the tasks it spawned take it in turn, each for one exchange (a stream for one chunk). The
//! scope's end waits for the exchange in flight, then closes the scope: later statements from a
//! task that outlived it get [`TransactionProblem::Ended`]. A scope whose connection was
//! interrupted can only roll back, and says so with [`TransactionProblem::Interrupted`].

/// Runs one read exchange, `$exchange` with `$c` bound to a `&mut PooledConn`, on `$conn`. If
/// `$conn`'s reads survive a lost connection ([`Conn::retries_reads`]) and the exchange found
/// its connection lost, it runs once more on a connection proved alive since (so `$exchange`
/// must be repeatable). A macro, not a function over an async closure: the future of a generic
/// async closure cannot be proved `Send` for every lifetime it borrows.
macro_rules! read_surviving_loss {
    ($conn:expr, |$c:ident| $exchange:expr) => {{
        let conn: &$crate::executor::Conn = $conn;
        let first = {
            // Released (closed, if broken) before the retry takes its own: a pool of one must
            // not wait on itself.
            let mut lease = conn.lease().await?;
            let $c: &mut $crate::pool::PooledConn = &mut lease;
            $exchange.await
        };
        match (conn.retry_source(), first) {
            (Some(source), Err(e)) if $crate::connection_loss::loss(&e).is_some() => {
                log::debug!("duetto: a read found its connection lost; sending it again: {e}");
                let mut fresh = source.acquire_verified().await?;
                fresh.issued_by(conn.origin().cloned());
                let $c: &mut $crate::pool::PooledConn = &mut fresh;
                $exchange.await
            }
            (_, first) => first,
        }
    }};
}

pub(crate) mod batch;
mod request;
mod scope;
mod stream;

use std::panic::Location;
use std::sync::{Arc, Mutex};

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};

pub(crate) use request::RequestScope;
pub(crate) use scope::{HeldConn, Scope, ScopeConn};
pub(crate) use stream::{chunks, Chunks};

use crate::context::Ambient;
use crate::error::TransactionProblem;
use crate::observe::{Origin, RelationHint};
use crate::pool::{Pool, PooledConn};
use crate::runtime::on_home;
use crate::{Db, Error, Result};

/// The connection a duetto operation executes on, and who issued its statements. Owned, so it
/// can move into the future that runs the query.
#[derive(Clone)]
pub(crate) struct Conn {
    at: At,
    /// Reported with each statement (see [`crate::observe`]); carried here rather than in a
    /// task-local so a statement pays nothing per poll for it.
    origin: Option<Origin>,
    /// Its statements only read, so one that finds its connection lost may be sent again.
    reads: bool,
}

/// Where a [`Conn`]'s statements run.
#[derive(Clone)]
pub(crate) enum At {
    /// No transaction scope is open on this database around the caller: a connection of its
    /// own per statement.
    Own(Source),
    /// The innermost scope open on this database around the caller.
    Scoped(Arc<Scope>, Refusal),
    /// Nowhere: a `none()` queryset's reads, answered empty without a statement.
    Nothing(DbBackend),
}

/// Why the scope refused the last statement, kept in duetto's own error type: SeaORM's
/// `ConnectionTrait` can only carry a `DbErr` back.
#[derive(Clone, Default)]
pub(crate) struct Refusal(Arc<Mutex<Option<Error>>>);

impl Refusal {
    fn refuse(&self, error: Error) -> DbErr {
        let message = error.to_string();
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
        DbErr::Custom(message)
    }

    fn take(&self) -> Option<Error> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }
}

/// Where a connection of one's own comes from: the connection the caller's request scope keeps
/// for the database (when free), else the pool.
#[derive(Clone)]
pub(crate) enum Source {
    Pool(Pool),
    Sticky(Arc<request::Sticky>),
}

impl Source {
    pub(crate) async fn acquire(&self) -> std::result::Result<PooledConn, DbErr> {
        match self {
            Source::Pool(pool) => pool.acquire().await,
            Source::Sticky(sticky) => sticky.acquire().await,
        }
    }

    /// A connection proved alive since the last loss (see [`Pool::acquire_verified`]).
    pub(crate) async fn acquire_verified(&self) -> std::result::Result<PooledConn, DbErr> {
        match self {
            Source::Pool(pool) => pool.acquire_verified().await,
            Source::Sticky(sticky) => sticky.acquire_verified().await,
        }
    }

    pub(crate) fn backend(&self) -> DbBackend {
        match self {
            Source::Pool(pool) => pool.backend(),
            Source::Sticky(sticky) => sticky.pool().backend(),
        }
    }
}

/// Where a connection of one's own for `db` comes from, for the caller (transaction scopes
/// aside).
pub(crate) fn source_for(db: &Db) -> Source {
    match Ambient::innermost::<RequestScope>() {
        Some(request) => Source::Sticky(request.sticky(db.pool_id(), db.pool())),
        None => Source::Pool(db.pool().clone()),
    }
}

/// The connection a statement on `db` runs on now: the innermost transaction scope open on that
/// database in the caller's task or thread, else one of its own (see [`source_for`]).
pub(crate) fn connection_for(db: &Db) -> Conn {
    let at = match Ambient::find::<Scope>(db.pool_id()) {
        Some(scope) => At::Scoped(scope, Refusal::default()),
        None => At::Own(source_for(db)),
    };
    Conn {
        at,
        origin: None,
        reads: false,
    }
}

/// The innermost scope open on `db` around the caller, if any.
pub(crate) fn scope_for(db: &Db) -> Option<Arc<Scope>> {
    Ambient::find::<Scope>(db.pool_id())
}

impl Conn {
    /// The scope this runs in, if any.
    pub(crate) fn scope(&self) -> Option<&Arc<Scope>> {
        match &self.at {
            At::Scoped(scope, _) => Some(scope),
            _ => None,
        }
    }

    /// Where its statements run.
    pub(crate) fn at(&self) -> &At {
        &self.at
    }

    /// Who issued its statements, if known.
    pub(crate) fn origin(&self) -> Option<&Origin> {
        self.origin.as_ref()
    }

    /// The connection for one exchange: the scope's (waiting for its turn), else one of its
    /// own from the request scope's slot or the pool.
    pub(crate) async fn lease(&self) -> std::result::Result<Lease<'_>, DbErr> {
        let mut lease = match &self.at {
            At::Own(source) => Lease::Own(source.acquire().await?),
            At::Scoped(scope, refusal) => Lease::Shared(Self::scoped(scope, refusal).await?),
            At::Nothing(_) => return Err(nothing_to_send()),
        };
        lease.issued_by(self.origin.clone());
        Ok(lease)
    }

    /// Whether this connection's reads survive a lost connection (see
    /// [`read_surviving_loss!`]).
    pub(crate) fn retries_reads(&self) -> bool {
        self.retry_source().is_some()
    }

    /// Where a read that found its connection lost gets another, if it may retry at all.
    fn retry_source(&self) -> Option<&Source> {
        match &self.at {
            At::Own(source) if self.reads => Some(source),
            _ => None,
        }
    }

    /// Replaces a refusal that crossed SeaORM as a `DbErr` by the error it stands for.
    pub(crate) fn explain(&self, error: Error) -> Error {
        match &self.at {
            At::Scoped(_, refusal) => refusal.take().unwrap_or(error),
            _ => error,
        }
    }

    async fn scoped<'a>(
        scope: &'a Scope,
        refusal: &Refusal,
    ) -> std::result::Result<ScopeConn<'a>, DbErr> {
        scope.lock().await.map_err(|e| match e {
            Error::Db(db) => db,
            other => refusal.refuse(other),
        })
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Conn {
    fn get_database_backend(&self) -> DbBackend {
        match &self.at {
            At::Own(source) => source.backend(),
            At::Scoped(scope, _) => scope.backend(),
            At::Nothing(backend) => *backend,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> std::result::Result<ExecResult, DbErr> {
        self.lease().await?.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        self.lease().await?.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: Statement,
    ) -> std::result::Result<Option<QueryResult>, DbErr> {
        if let At::Nothing(_) = self.at {
            return Ok(None);
        }
        if self.retries_reads() {
            return read_surviving_loss!(self, |c| c.query_one(stmt.clone()));
        }
        self.lease().await?.query_one(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        if let At::Nothing(_) = self.at {
            return Ok(Vec::new());
        }
        if self.retries_reads() {
            return read_surviving_loss!(self, |c| c.query_all(stmt.clone()));
        }
        self.lease().await?.query_all(stmt).await
    }
}

/// What a `none()` queryset's connection answers to anything but a read: its writes are answered
/// before they get here, so this is a bug, reported rather than sent.
fn nothing_to_send() -> DbErr {
    DbErr::Custom("a none() queryset has no connection to send a statement on".into())
}

/// A connection for one exchange: checked out for it, or the scope's, shared in turn.
pub(crate) enum Lease<'a> {
    Own(PooledConn),
    Shared(ScopeConn<'a>),
}

impl std::ops::Deref for Lease<'_> {
    type Target = PooledConn;
    fn deref(&self) -> &PooledConn {
        match self {
            Lease::Own(conn) => conn,
            Lease::Shared(conn) => conn,
        }
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut PooledConn {
        match self {
            Lease::Own(conn) => conn,
            Lease::Shared(conn) => conn,
        }
    }
}

/// Which database a query runs on.
#[derive(Debug, Clone, Default)]
pub enum Using {
    /// The database registered as `"default"` (see [`set_default`](crate::set_default)).
    #[default]
    Default,
    /// The database registered under this alias.
    Alias(String),
    /// This database.
    Db(Db),
}

impl Using {
    /// The database this resolves to now.
    ///
    /// # Errors
    ///
    /// [`Error::NoDatabase`] when the alias is not registered.
    ///
    /// ```
    /// let db = duetto::Db::connect_blocking("sqlite::memory:")?;
    /// duetto::register("reports", db);
    /// let using = duetto::Using::from("reports");
    /// assert_eq!(using.resolve()?.alias(), "reports");
    /// assert!(duetto::Using::from("nowhere").resolve().is_err());
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn resolve(&self) -> Result<Db> {
        match self {
            Using::Default => crate::default_db(),
            Using::Alias(alias) => crate::db(alias),
            Using::Db(db) => Ok(db.clone()),
        }
    }
}

impl From<&Db> for Using {
    fn from(db: &Db) -> Self {
        Using::Db(db.clone())
    }
}

impl From<Db> for Using {
    fn from(db: Db) -> Self {
        Using::Db(db)
    }
}

impl From<&str> for Using {
    fn from(alias: &str) -> Self {
        Using::Alias(alias.to_owned())
    }
}

impl From<String> for Using {
    fn from(alias: String) -> Self {
        Using::Alias(alias)
    }
}

/// Resolves a statement's database and connection when it runs (not when it is built) and runs
/// it there, on the home runtime.
pub(crate) struct Runner {
    using: Using,
    reads: bool,
    locking: bool,
    locking_tables: bool,
    nothing: bool,
    site: &'static Location<'static>,
    relation: Option<RelationHint>,
}

impl Runner {
    /// A runner for the database `using` names; `locking` for `SELECT … FOR UPDATE`, which
    /// needs a transaction. Its statements are reported as issued by the caller (see
    /// [`crate::observe`]).
    #[track_caller]
    pub(crate) fn new(using: Using, locking: bool) -> Runner {
        Runner {
            using,
            reads: false,
            locking,
            locking_tables: false,
            nothing: false,
            site: Location::caller(),
            relation: None,
        }
    }

    /// Declares that the operation only reads: outside a transaction scope, a statement of it
    /// that finds its connection lost is sent once more on a connection proved alive since.
    /// Never for anything that writes, even through `SELECT` (a function with side effects, a
    /// `RETURNING` clause): repeating it could apply it twice.
    pub(crate) fn reading(mut self) -> Runner {
        self.reads = true;
        self
    }

    /// Answers reads with no rows and sends nothing (a `none()` queryset).
    pub(crate) fn reading_nothing(mut self, nothing: bool) -> Runner {
        self.nothing = nothing;
        self
    }

    /// Marks a `SELECT … FOR UPDATE OF`, which only PostgreSQL has.
    pub(crate) fn locking_tables(mut self, of: bool) -> Runner {
        self.locking_tables = of;
        self
    }

    /// Marks the statements as loading a relation, for N+1 reports.
    pub(crate) fn loading(mut self, relation: Option<RelationHint>) -> Runner {
        self.relation = relation;
        self
    }

    /// The database statements run on.
    pub(crate) fn db(&self) -> Result<Db> {
        self.using.resolve()
    }

    /// The connection to run on now, from the caller's task or thread.
    pub(crate) fn connection(&self) -> Result<Conn> {
        self.connection_on(&self.db()?)
    }

    fn connection_on(&self, db: &Db) -> Result<Conn> {
        if self.locking_tables && db.backend() != DbBackend::Postgres {
            return Err(Error::NotSupported {
                operation: "select_for_update_of",
                reason: format!(
                    "FOR UPDATE OF is PostgreSQL's; {:?} has no such clause",
                    db.backend()
                ),
            });
        }
        let mut conn = connection_for(db);
        conn.reads = self.reads && !self.locking;
        if self.nothing {
            conn.at = At::Nothing(db.backend());
        }
        conn.origin = Some(
            Origin {
                alias: Some(db.alias_arc()),
                site: Some(self.site),
                relation: self.relation,
            }
            .within_current(),
        );
        if self.locking {
            if db.backend() == DbBackend::Sqlite {
                return Err(Error::NotSupported {
                    operation: "select_for_update",
                    reason: "SQLite has no row locks (its writers are already serialised)".into(),
                });
            }
            if conn.scope().is_none() {
                return Err(Error::transaction(
                    db.alias(),
                    TransactionProblem::OutsideScope {
                        operation: "select_for_update",
                    },
                ));
            }
        }
        Ok(conn)
    }

    /// Runs `f` on [`connection`](Self::connection), on the home runtime. A database error in
    /// a scope marks that scope broken; a lost connection is [`Error::ConnectionLost`].
    pub(crate) async fn run<F, Fut, T>(self, f: F) -> Result<T>
    where
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T>> + Send + 'static,
        T: Send + 'static,
    {
        let db = self.db()?;
        let conn = self.connection_on(&db)?;
        let outcome = on_home(f(conn.clone())).await?;
        outcome.map_err(|error| {
            let write_outside_scope = !self.reads && conn.scope().is_none();
            let error = conn
                .explain(error)
                .lost_connection(db.alias(), write_outside_scope);
            if let (true, Some(scope)) = (error.is_from_database(), conn.scope()) {
                scope.mark_broken(&error);
            }
            error
        })
    }
}
