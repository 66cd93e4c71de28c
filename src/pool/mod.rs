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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::sqlx;
use sea_orm::{ConnAcquireErr, DatabaseConnection, DbBackend, DbErr};
use tokio::sync::Semaphore;

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
        let (max, acquire_timeout, max_lifetime) = match &sqlx {
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

    /// Checks a connection out, clean: the most recently used hot one, else one from sqlx.
    pub(crate) async fn acquire(&self) -> Result<PooledConn, DbErr> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed));
        }
        let permit = tokio::time::timeout(
            self.inner.acquire_timeout,
            self.inner.permits.clone().acquire_owned(),
        )
        .await
        .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::Timeout))?
        .map_err(|_| DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed))?;
        if let Some(hot) = self.take_hot() {
            return Ok(PooledConn::new(
                hot.raw,
                self.clone(),
                permit,
                hot.first_seen,
            ));
        }
        let raw = match &self.inner.sqlx {
            #[cfg(feature = "postgres")]
            SqlxPool::Postgres(pool) => {
                Raw::Postgres(pool.acquire().await.map_err(sqlx_conn_acquire_err)?)
            }
            #[cfg(feature = "mysql")]
            SqlxPool::MySql(pool) => {
                Raw::MySql(pool.acquire().await.map_err(sqlx_conn_acquire_err)?)
            }
            #[cfg(feature = "sqlite")]
            SqlxPool::Sqlite(pool) => {
                Raw::Sqlite(pool.acquire().await.map_err(sqlx_conn_acquire_err)?)
            }
        };
        Ok(PooledConn::new(raw, self.clone(), permit, Instant::now()))
    }

    /// A hot connection still fresh enough to reuse untested; staler ones go back to sqlx.
    fn take_hot(&self) -> Option<Hot> {
        loop {
            let hot = self.hot().pop()?;
            if hot.idle_since.elapsed() < self.inner.reuse_within {
                return Some(hot);
            }
            // sqlx tests it on the way back, and closes it if it is past its lifetime.
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
        self.hot().push(Hot {
            raw,
            idle_since: Instant::now(),
            first_seen,
        });
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

fn limits<DB: sqlx::Database>(
    options: &sqlx::pool::PoolOptions<DB>,
) -> (u32, Duration, Option<Duration>) {
    (
        options.get_max_connections(),
        options.get_acquire_timeout(),
        options.get_max_lifetime(),
    )
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
