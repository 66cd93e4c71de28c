//! duetto's pool: a cache of hot connections in front of sqlx's pool.
//!
//! sqlx's pool pings every connection it takes back (`return_to_pool`: one `Sync`/`COM_PING` round
//! trip, with no option to skip it), so on a remote database a connection released after each
//! statement stays unavailable for one more round trip, and a busy service needs twice the
//! connections for the same throughput. duetto knows what sqlx does not — whether the
//! connection's last exchange completed (see [`PooledConn`]) — so a clean connection needs no test:
//! duetto keeps it in its own stack of hot connections and hands it to the next caller directly.
//!
//! sqlx's pool stays in charge of everything else: opening connections (with the connect options
//! and timeouts), the connection count limit, idle timeouts, max lifetime and the idle-ping of
//! connections that sat unused (`test_if_idle_for`). A hot connection that has been idle longer
//! than that, or lived longer than the max lifetime, goes back to sqlx instead of being reused
//! here, so those rules still apply to it.
//!
//! A semaphore with one permit per allowed connection decides who may hold a connection: a caller
//! takes a permit first, then a hot connection, else one from sqlx. Since hot connections hold no
//! permit, a caller holding one always finds sqlx's pool below its limit (or a hot connection), so
//! no caller can wait on sqlx while a connection sits idle here.
//!
//! # Duties taken over from sqlx's release ping
//!
//! The ping sqlx sends when a connection comes back did two jobs: it proved the exchange was in
//! step (duetto knows that without a round trip), and it noticed dead sockets. duetto does the
//! second job from what the connection's own exchanges reported:
//!
//! - A connection whose exchange ended in a lost connection (I/O error, EOF, protocol error, a
//!   fatal server error: see [`crate::connection_loss`]) is **broken**: closed, never reused.
//! - One such loss makes every hot connection that went idle before it **suspect**: the server
//!   may have restarted under all of them. A suspect connection is handed to sqlx, whose release
//!   ping closes it if it is dead and keeps it if not, instead of to the next caller. A
//!   connection that completed an exchange after the loss is alive, and stays hot.
//! - A caller that retries after a loss ([`Pool::acquire_verified`]) gets a connection that
//!   completed an exchange after the loss, or one that has just answered a ping.
//!
//! # SeaORM's own handle
//!
//! [`Db::arun`](crate::Db::arun) lends SeaORM the sqlx pool itself. SeaORM's statements take
//! connections straight from sqlx, so while one of them runs ([`Pool::lend`]) connections idle
//! here would count against sqlx's limit and starve it: the lender takes a permit like any
//! caller, every hot connection goes back to sqlx, and released connections go there too until
//! the last lender is done.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::sqlx;
use sea_orm::{ConnAcquireErr, DatabaseConnection, DbBackend, DbErr};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

mod connection;

use connection::{sqlx_conn_acquire_err, Raw};
pub(crate) use connection::{Keeper, PooledConn};

/// The sqlx pool behind a SeaORM connection.
#[derive(Clone)]
enum SqlxPool {
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

/// A clean connection waiting for its next caller.
struct Hot {
    raw: Raw,
    idle_since: Instant,
    first_seen: Instant,
}

struct Inner {
    sqlx: SqlxPool,
    backend: DbBackend,
    permits: Arc<Semaphore>,
    hot: Mutex<Vec<Hot>>,
    closed: AtomicBool,
    acquire_timeout: Duration,
    /// A hot connection idle at least this long goes back to sqlx, which tests it.
    reuse_within: Duration,
    max_lifetime: Option<Duration>,
    /// What the database's statements record (see `crate::observe`).
    observe: crate::observe::Settings,
    /// When a connection of this pool was last found lost: hot connections idle since before
    /// then are suspect (see the module docs).
    lost_at: Mutex<Option<Instant>>,
    /// The connection limit (the permits there are in all).
    permits_total: usize,
    /// How many [`Lending`]s are alive: while any is, no connection stays hot.
    lenders: AtomicUsize,
}

/// SeaORM's own handle is using sqlx's pool (see [`Pool::lend`]); dropping it ends that.
pub(crate) struct Lending {
    pool: Pool,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lending {
    fn drop(&mut self) {
        self.pool.inner.lenders.fetch_sub(1, Ordering::AcqRel);
    }
}

/// duetto's connection pool for one database (see the module docs).
#[derive(Clone)]
pub(crate) struct Pool {
    inner: Arc<Inner>,
}

/// How long a hot connection may sit unused and still be reused without a test, when the pool
/// was told never to test idle connections.
const DEFAULT_REUSE_WITHIN: Duration = Duration::from_secs(60);

impl Pool {
    /// duetto's pool over the sqlx pool of a SeaORM connection made by
    /// `sea_orm::Database::connect`; hot connections idle for `test_if_idle_for` or longer go
    /// back to sqlx to be tested (`Some(Duration::ZERO)`: every connection is, for callers who
    /// asked sqlx to test each checkout).
    pub(crate) fn new(
        conn: &DatabaseConnection,
        acquire_timeout: Duration,
        test_if_idle_for: Option<Duration>,
        observe: crate::observe::Settings,
    ) -> Pool {
        let sqlx = match conn.get_database_backend() {
            #[cfg(feature = "postgres")]
            DbBackend::Postgres => SqlxPool::Postgres(conn.get_postgres_connection_pool().clone()),
            #[cfg(feature = "mysql")]
            DbBackend::MySql => SqlxPool::MySql(conn.get_mysql_connection_pool().clone()),
            #[cfg(feature = "sqlite")]
            DbBackend::Sqlite => SqlxPool::Sqlite(conn.get_sqlite_connection_pool().clone()),
            #[allow(unreachable_patterns)]
            other => unreachable!("a {other:?} pool exists only with its backend feature"),
        };
        let (max, max_lifetime) = match &sqlx {
            #[cfg(feature = "postgres")]
            SqlxPool::Postgres(p) => limits(p.options()),
            #[cfg(feature = "mysql")]
            SqlxPool::MySql(p) => limits(p.options()),
            #[cfg(feature = "sqlite")]
            SqlxPool::Sqlite(p) => limits(p.options()),
        };
        Pool {
            inner: Arc::new(Inner {
                backend: conn.get_database_backend(),
                sqlx,
                permits: Arc::new(Semaphore::new(max as usize)),
                hot: Mutex::new(Vec::new()),
                closed: AtomicBool::new(false),
                acquire_timeout,
                reuse_within: test_if_idle_for.unwrap_or(DEFAULT_REUSE_WITHIN),
                max_lifetime,
                observe,
                lost_at: Mutex::new(None),
                permits_total: max as usize,
                lenders: AtomicUsize::new(0),
            }),
        }
    }

    /// What this database's statements record.
    pub(crate) fn observe(&self) -> &crate::observe::Settings {
        &self.inner.observe
    }

    pub(crate) fn backend(&self) -> DbBackend {
        self.inner.backend
    }

    /// Whether every connection the pool may open is checked out, so a caller may be waiting.
    pub(crate) fn is_exhausted(&self) -> bool {
        self.inner.permits.available_permits() == 0
    }

    /// Connections open (idle or in use), and idle ones (in sqlx's pool or hot here).
    pub(crate) fn status(&self) -> (u32, usize) {
        let hot = self.hot().len();
        let (open, idle) = match &self.inner.sqlx {
            #[cfg(feature = "postgres")]
            SqlxPool::Postgres(pool) => (pool.size(), pool.num_idle()),
            #[cfg(feature = "mysql")]
            SqlxPool::MySql(pool) => (pool.size(), pool.num_idle()),
            #[cfg(feature = "sqlite")]
            SqlxPool::Sqlite(pool) => (pool.size(), pool.num_idle()),
        };
        (open, idle + hot)
    }

    fn hot(&self) -> std::sync::MutexGuard<'_, Vec<Hot>> {
        self.inner.hot.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records that a connection of this pool was found lost (see the module docs).
    pub(crate) fn saw_loss(&self) {
        *self.inner.lost_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
    }

    fn lost_at(&self) -> Option<Instant> {
        *self.inner.lost_at.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When a checkout starting now must have its connection.
    fn deadline(&self) -> Instant {
        Instant::now() + self.inner.acquire_timeout
    }

    /// A permit to hold one connection, by `deadline`.
    async fn permit(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, DbErr> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed));
        }
        tokio::time::timeout_at(deadline.into(), self.inner.permits.clone().acquire_owned())
            .await
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
            .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))
    }

    /// Checks a connection out, clean: the most recently used hot one, else one from sqlx.
    pub(crate) async fn acquire(&self) -> Result<PooledConn, DbErr> {
        let deadline = self.deadline();
        match self.checkout_hot(self.permit(deadline).await?) {
            Ok(conn) => Ok(conn),
            Err(permit) => self.checkout_from_sqlx(permit, deadline).await,
        }
    }

    /// The most recently used hot connection fit to hand out, under `permit`; the permit back
    /// when there is none.
    fn checkout_hot(
        &self,
        permit: OwnedSemaphorePermit,
    ) -> std::result::Result<PooledConn, OwnedSemaphorePermit> {
        match self.take_hot() {
            Some(hot) => Ok(PooledConn::new(
                hot.raw,
                self.clone(),
                permit,
                hot.first_seen,
            )),
            None => Err(permit),
        }
    }

    /// Checks a connection out for a retry after a lost connection: a hot one (every hot one is
    /// younger than the loss, see [`take_hot`](Self::take_hot)), else one from sqlx that has just
    /// answered a ping. sqlx hands out its idle connections untested, and after a restart they
    /// may be dead too; each that fails its ping is closed and the next one tried.
    pub(crate) async fn acquire_verified(&self) -> Result<PooledConn, DbErr> {
        let deadline = self.deadline();
        let mut permit = match self.checkout_hot(self.permit(deadline).await?) {
            Ok(conn) => return Ok(conn),
            Err(permit) => permit,
        };
        // Each failed ping closes one connection; one more try than the pool holds reaches a
        // connection opened after the failures.
        let tries = self.inner.permits_total + 1;
        let mut last = None;
        for _ in 0..tries {
            let mut conn = self.checkout_from_sqlx(permit, deadline).await?;
            match conn.ping().await {
                Ok(()) => return Ok(conn),
                Err(e) => {
                    permit = conn.take_permit().expect("a new checkout holds its permit");
                    drop(conn);
                    last = Some(e);
                }
            }
        }
        Err(last.expect("at least one try"))
    }

    /// A connection from sqlx's pool, under `permit`, by `deadline`. sqlx gives up after one
    /// slice of the wait (see `sea_orm_options` in `db.rs`): a short slice keeps its backoff
    /// between refused connections short, so a server that is back is noticed soon; duetto
    /// asks again until the caller's own deadline.
    async fn checkout_from_sqlx(
        &self,
        permit: OwnedSemaphorePermit,
        deadline: Instant,
    ) -> Result<PooledConn, DbErr> {
        loop {
            let attempt = async {
                match &self.inner.sqlx {
                    #[cfg(feature = "postgres")]
                    SqlxPool::Postgres(pool) => pool.acquire().await.map(Raw::Postgres),
                    #[cfg(feature = "mysql")]
                    SqlxPool::MySql(pool) => pool.acquire().await.map(Raw::MySql),
                    #[cfg(feature = "sqlite")]
                    SqlxPool::Sqlite(pool) => pool.acquire().await.map(Raw::Sqlite),
                }
            };
            let acquired = tokio::time::timeout_at(deadline.into(), attempt)
                .await
                .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?;
            match acquired {
                Ok(raw) => return Ok(PooledConn::new(raw, self.clone(), permit, Instant::now())),
                Err(sqlx::Error::PoolTimedOut) if Instant::now() < deadline => continue,
                Err(e) => return Err(sqlx_conn_acquire_err(e)),
            }
        }
    }

    /// A hot connection still fresh enough to reuse untested; staler ones, and the ones idle
    /// since before the last lost connection, go back to sqlx.
    fn take_hot(&self) -> Option<Hot> {
        let lost_at = self.lost_at();
        loop {
            let hot = self.hot().pop()?;
            let suspect = lost_at.is_some_and(|lost| hot.idle_since <= lost);
            if !suspect && hot.idle_since.elapsed() < self.inner.reuse_within {
                return Some(hot);
            }
            // sqlx tests it on the way back: it closes it if it is dead or past its lifetime.
            drop(hot.raw);
        }
    }

    /// Takes back a clean connection (its caller's permit is released right after).
    fn put_back(&self, raw: Raw, first_seen: Instant) {
        let expired = self
            .inner
            .max_lifetime
            .is_some_and(|lifetime| first_seen.elapsed() >= lifetime);
        if expired || self.inner.closed.load(Ordering::Acquire) {
            return drop(raw);
        }
        let mut hot = self.hot();
        if self.inner.lenders.load(Ordering::Acquire) > 0 {
            // SeaORM is using sqlx's pool directly: the connection must be where it can see it.
            drop(hot);
            return drop(raw);
        }
        hot.push(Hot {
            raw,
            idle_since: Instant::now(),
            first_seen,
        });
    }

    /// Makes room for SeaORM's own handle on sqlx's pool while the returned guard lives (see
    /// the module docs): takes a permit, and sends every hot connection, now and until the last
    /// lender is done, back to sqlx.
    pub(crate) async fn lend(&self) -> Result<Lending, DbErr> {
        let permit = self.permit(self.deadline()).await?;
        let hot = {
            let mut hot = self.hot();
            // Counted under the lock `put_back` checks it under: no connection can slip into
            // the cache after the flush.
            self.inner.lenders.fetch_add(1, Ordering::AcqRel);
            std::mem::take(&mut *hot)
        };
        drop(hot);
        Ok(Lending {
            pool: self.clone(),
            _permit: permit,
        })
    }

    /// Refuses new checkouts and hands every hot connection back to sqlx, whose pool can then
    /// close (it waits for every connection it lent).
    pub(crate) fn close(&self) {
        self.inner.closed.store(true, Ordering::Release);
        self.inner.permits.close();
        let hot = std::mem::take(&mut *self.hot());
        drop(hot);
    }
}

fn limits<DB: sqlx::Database>(options: &sqlx::pool::PoolOptions<DB>) -> (u32, Option<Duration>) {
    (options.get_max_connections(), options.get_max_lifetime())
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Handing connections back to sqlx spawns a task: it belongs on home.
        let _home = crate::runtime::enter_home();
        self.hot
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
    }
}
