//! `Db`: a pooled connection to one database, living on duetto's home runtime.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sea_orm::{ConnAcquireErr, DatabaseBackend, DatabaseConnection, DbErr};

use crate::bridge::blocking_twin;
use crate::connect_options::ConnectOptions;
use crate::database_url::DatabaseUrl;
use crate::pool::Pool;
use crate::runtime::on_home;
use crate::{Error, Result};

/// The backend a [`Db`] talks to (SeaORM's `DatabaseBackend`).
pub type Backend = DatabaseBackend;

/// A snapshot of a [`Db`]'s pool (from [`Db::pool_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolStatus {
    /// Connections open, idle or in use.
    pub open: u32,
    /// Connections idle in the pool, ready for a checkout.
    pub idle: usize,
}

/// A pool of connections to one database.
///
/// Cheap to clone (an `Arc`); clones share the pool. The pool lives on duetto's home runtime
/// (see [`runtime`](crate::runtime)), so a `Db` made in a `#[tokio::test]`, a short-lived
/// `block_on` or a plain `fn main` stays usable from anywhere for as long as it exists.
///
/// # Example
///
/// ```
/// use duetto::Db;
///
/// # #[tokio::main]
/// # async fn main() -> duetto::Result<()> {
/// let db = Db::connect("sqlite::memory:").await?;
/// assert_eq!(db.backend(), duetto::Backend::Sqlite);
/// db.aping().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
    alias: Arc<str>,
}

struct Inner {
    conn: DatabaseConnection,
    /// The sqlx pool inside `conn`, where duetto checks its own connections out.
    pool: Pool,
    backend: Backend,
    url: String,
}

impl fmt::Debug for Db {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Db")
            .field("alias", &self.alias)
            .field("backend", &self.inner.backend)
            .field("url", &self.inner.url)
            .finish()
    }
}

impl Db {
    /// Connects to `url` with duetto's default [`ConnectOptions`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidUrl`] for a malformed URL, [`Error::UnsupportedBackend`] for an unknown
    /// scheme (or a backend whose cargo feature is off), [`Error::Connect`] when the server refuses,
    /// the database does not exist or the connect timeout (10 s by default) passes.
    ///
    /// # Example
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let err = duetto::Db::connect("oracle://scott@tiger/db").await.unwrap_err();
    /// assert!(matches!(err, duetto::Error::UnsupportedBackend { .. }));
    /// # }
    /// ```
    pub async fn connect(url: impl AsRef<str>) -> Result<Db> {
        Self::connect_with(ConnectOptions::new(url.as_ref())).await
    }

    /// Blocking twin of [`connect`](Self::connect), for sync code.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect), plus [`Error::SynchronousOnlyOperation`] when called from a
    /// thread that drives async tasks.
    ///
    /// # Example
    ///
    /// ```
    /// fn main() -> duetto::Result<()> {
    ///     let db = duetto::Db::connect_blocking("sqlite::memory:")?;
    ///     db.ping()?;
    ///     Ok(())
    /// }
    /// ```
    pub fn connect_blocking(url: impl AsRef<str>) -> Result<Db> {
        let options = ConnectOptions::new(url.as_ref());
        blocking_twin("connect_blocking", Self::connect_with(options))
    }

    /// Connects with explicit [`ConnectOptions`].
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    ///
    /// # Example
    ///
    /// ```
    /// use duetto::{ConnectOptions, Db};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> duetto::Result<()> {
    /// let db = Db::connect_with(ConnectOptions::new("sqlite::memory:").max_connections(8)).await?;
    /// # let _ = db;
    /// # Ok(()) }
    /// ```
    pub async fn connect_with(options: ConnectOptions) -> Result<Db> {
        let url = DatabaseUrl::parse(&options.url)?;
        check_session_settings(&options.session_settings)?;
        let limit = options.connect_timeout + Duration::from_secs(1);
        let redacted = url.redacted.clone();
        let sea_options = sea_orm_options(&options, &url);
        let backend = url.backend;
        let test_if_idle_for = if options.test_before_acquire {
            Some(Duration::ZERO)
        } else {
            options.test_if_idle_for
        };
        let for_driver = url.for_driver.clone();
        let warm_up = options.warm_up.clone();
        let connecting = on_home(async move {
            first_connection(backend, &for_driver, &warm_up).await?;
            sea_orm::Database::connect(sea_options).await
        });
        // sqlx enforces the timeout itself; the outer one guarantees a hung handshake cannot
        // outlive it either.
        let mut conn = match tokio::time::timeout(limit, connecting).await {
            Ok(connected) => connected?.map_err(|source| Error::Connect {
                url: redacted.clone(),
                source,
            })?,
            Err(_elapsed) => {
                return Err(Error::Connect {
                    url: redacted,
                    source: DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
                })
            }
        };
        let observe = crate::observe::Settings {
            alias: options.alias.as_str().into(),
            slow: options.slow_query_threshold,
            log_values: options.log_values,
        };
        // Statements SeaORM runs on its own handle (`arun`) are observed too, after the fact.
        let replayed = observe.clone();
        conn.set_metric_callback(move |info| {
            crate::observe::Observation::replay(&replayed, backend, info)
        });
        Ok(Db {
            inner: Arc::new(Inner {
                pool: Pool::new(
                    &conn,
                    options.acquire_timeout_in_force(),
                    test_if_idle_for,
                    observe,
                ),
                conn,
                backend,
                url: redacted,
            }),
            alias: options.alias.into(),
        })
    }

    /// Blocking twin of [`connect_with`](Self::connect_with).
    ///
    /// # Errors
    ///
    /// As [`connect_blocking`](Self::connect_blocking).
    ///
    /// # Example
    ///
    /// ```
    /// let db = duetto::Db::connect_with_blocking(duetto::ConnectOptions::new("sqlite::memory:"))?;
    /// # let _ = db;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn connect_with_blocking(options: ConnectOptions) -> Result<Db> {
        blocking_twin("connect_with_blocking", Self::connect_with(options))
    }

    /// The alias this database is known by: the one it was [`register`](crate::register)ed
    /// under, else the one from [`ConnectOptions::alias`] (default `"default"`).
    ///
    /// ```
    /// let db = duetto::Db::connect_blocking("sqlite::memory:")?;
    /// assert_eq!(db.alias(), "default");
    /// duetto::register("replica", db);
    /// assert_eq!(duetto::db("replica")?.alias(), "replica");
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn alias(&self) -> &str {
        &self.alias
    }

    /// Which backend this database is.
    ///
    /// ```
    /// let db = duetto::Db::connect_blocking("sqlite::memory:")?;
    /// assert_eq!(db.backend(), duetto::Backend::Sqlite);
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The URL this database was opened with, password replaced by `***`.
    ///
    /// ```
    /// let db = duetto::Db::connect_blocking("sqlite::memory:")?;
    /// assert_eq!(db.url(), "sqlite::memory:");
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The underlying SeaORM connection, to use SeaORM directly on the same pool.
    ///
    /// Deprecated: statements sent on this handle take connections straight from sqlx's pool,
    /// out of duetto's accounting. Connections duetto keeps ready for its own callers count
    /// against sqlx's limit, so SeaORM calls on this handle can wait out their acquire timeout
    /// while a connection sits idle, and duetto cannot tell how long the handle is used. Use
    /// [`arun`](Self::arun) / [`run`](Self::run), which lend the same handle for the duration of
    /// a closure under the pool's accounting.
    ///
    /// Connections belong to duetto's home runtime. Awaiting SeaORM calls on them from another
    /// runtime may make the pool open connections there, which die with that runtime; wrap such
    /// calls in [`runtime::on_home`](crate::runtime::on_home).
    ///
    /// ```
    /// use sea_orm::ConnectionTrait;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> duetto::Result<()> {
    /// let db = duetto::Db::connect("sqlite::memory:").await?;
    /// # #[allow(deprecated)]
    /// let conn = db.conn().clone();
    /// duetto::runtime::on_home(async move { conn.execute_unprepared("CREATE TABLE t (x INTEGER)").await })
    ///     .await??;
    /// # Ok(()) }
    /// ```
    #[deprecated(
        since = "0.1.0",
        note = "bypasses the pool's accounting and can starve behind duetto's ready \
                connections; use Db::arun / Db::run"
    )]
    pub fn conn(&self) -> &DatabaseConnection {
        &self.inner.conn
    }

    /// Runs your own SeaORM code on this database's pool, on the home runtime.
    ///
    /// `f` receives a clone of the SeaORM connection (cheap: it shares the pool). Use it for the
    /// SeaORM APIs that need a `DatabaseConnection` (migrations with `Migrator::up`, schema
    /// tooling). Dropping the returned future cancels the work.
    ///
    /// It shares the pool's accounting with querysets: it waits for a connection permit like
    /// any caller (within the acquire timeout), and while it runs duetto keeps no connection
    /// ready for itself, so every idle connection is one SeaORM can take. Keep `f` to what
    /// needs SeaORM's handle: the pool's connections go through sqlx's release ping meanwhile.
    /// Since `f` holds one of the pool's connection permits, a duetto call made inside it needs
    /// a second one: on a pool of one connection it waits out the acquire timeout.
    ///
    /// It cannot join a transaction: SeaORM's handle knows nothing of duetto's scopes. So inside
    /// an [`aatomic`](crate::aatomic)/[`atomic`](crate::atomic) scope on this database it
    /// refuses to run rather than silently commit outside the transaction; for raw SQL that
    /// joins the scope use [`raw`](crate::raw) / [`Db::raw_sql`].
    ///
    /// # Errors
    ///
    /// Whatever `f` returns, converted into [`Error`]; [`Error::NotSupported`] inside a scope on
    /// this database; [`Error::RuntimeShutdown`] if home is gone.
    ///
    /// # Example
    ///
    /// ```
    /// use sea_orm::ConnectionTrait;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> duetto::Result<()> {
    /// let db = duetto::Db::connect("sqlite::memory:").await?;
    /// let inserted = db
    ///     .arun(|conn| async move {
    ///         conn.execute_unprepared("CREATE TABLE t (x INTEGER)").await?;
    ///         conn.execute_unprepared("INSERT INTO t VALUES (1), (2)").await
    ///     })
    ///     .await?;
    /// assert_eq!(inserted.rows_affected(), 2);
    /// # Ok(()) }
    /// ```
    pub async fn arun<F, Fut, T, E>(&self, f: F) -> Result<T>
    where
        F: FnOnce(DatabaseConnection) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<Error> + Send + 'static,
    {
        if crate::context::Ambient::any_on(self.pool_id()) {
            return Err(Error::NotSupported {
                operation: "arun",
                reason: "inside a transaction scope: SeaORM's own connection would run outside \
                         the transaction; use duetto::raw(..) or Db::raw_sql(..), which join it"
                    .into(),
            });
        }
        let conn = self.inner.conn.clone();
        let pool = self.inner.pool.clone();
        on_home(async move {
            let _lending = pool.lend().await?;
            f(conn).await.map_err(Into::into)
        })
        .await?
    }

    /// Blocking twin of [`arun`](Self::arun).
    ///
    /// # Errors
    ///
    /// As [`arun`](Self::arun), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// # Example
    ///
    /// ```
    /// use sea_orm::ConnectionTrait;
    ///
    /// let db = duetto::Db::connect_blocking("sqlite::memory:")?;
    /// db.run(|conn| async move { conn.execute_unprepared("CREATE TABLE t (x INTEGER)").await })?;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn run<F, Fut, T, E>(&self, f: F) -> Result<T>
    where
        F: FnOnce(DatabaseConnection) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<T, E>> + Send + 'static,
        T: Send + 'static,
        E: Into<Error> + Send + 'static,
    {
        let db = self.clone();
        blocking_twin("run", async move { db.arun(f).await })
    }

    /// Checks the database answers (one round trip), on a connection from the pool like any
    /// statement. A connection found dead is closed and the ping tried once more on one proved
    /// alive, so after a server restart the answer is about the server, not an old socket.
    ///
    /// # Errors
    ///
    /// [`Error::Db`] when the database cannot be reached or the pool is closed;
    /// [`Error::ConnectionLost`] when the connection was lost again on the second try.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> duetto::Result<()> {
    /// duetto::Db::connect("sqlite::memory:").await?.aping().await?;
    /// # Ok(()) }
    /// ```
    pub async fn aping(&self) -> Result<()> {
        // A connection of its own from duetto's pool, so it may run inside a scope (it touches
        // no transaction); a connection that fails the ping is closed, not pooled again.
        let pool = self.inner.pool.clone();
        let alias = self.alias.clone();
        on_home(async move {
            let mut conn = pool.acquire().await?;
            let pinged = conn.ping().await;
            drop(conn);
            match pinged {
                // Like any read: the connection it happened to get was dead (the server
                // restarted); the question is whether the database answers now.
                Err(e) if crate::connection_loss::loss(&e).is_some() => {
                    pool.acquire_verified().await?.ping().await
                }
                other => other,
            }
            .map_err(|e| Error::from(e).lost_connection(&alias, false))
        })
        .await?
    }

    /// Blocking twin of [`aping`](Self::aping).
    ///
    /// # Errors
    ///
    /// As [`aping`](Self::aping), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// duetto::Db::connect_blocking("sqlite::memory:")?.ping()?;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn ping(&self) -> Result<()> {
        let db = self.clone();
        blocking_twin("ping", async move { db.aping().await })
    }

    /// Closes the pool: waits for checked-out connections to come back and closes them all. Every
    /// clone of this `Db` is closed with it; later queries fail with [`Error::Db`].
    ///
    /// # Errors
    ///
    /// [`Error::RuntimeShutdown`] if the home runtime is gone.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> duetto::Result<()> {
    /// let db = duetto::Db::connect("sqlite::memory:").await?;
    /// db.close().await?;
    /// assert!(db.aping().await.is_err());
    /// # Ok(()) }
    /// ```
    pub async fn close(&self) -> Result<()> {
        let pool = self.inner.pool.clone();
        // Not through `arun`: closing must not wait for a connection permit.
        let conn = self.inner.conn.clone();
        on_home(async move {
            pool.close();
            conn.close_by_ref().await
        })
        .await??;
        Ok(())
    }

    /// Blocking twin of [`close`](Self::close).
    ///
    /// # Errors
    ///
    /// As [`close`](Self::close), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// let db = duetto::Db::connect_blocking("sqlite::memory:")?;
    /// db.close_blocking()?;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn close_blocking(&self) -> Result<()> {
        let db = self.clone();
        blocking_twin("close_blocking", async move { db.close().await })
    }

    /// How many connections the pool has open, and how many of them are idle in it (the rest
    /// are in use: running a statement, held by a transaction, or kept by a request scope).
    ///
    /// ```
    /// # fn main() -> duetto::Result<()> {
    /// let db = duetto::Db::connect_blocking("sqlite::memory:")?;
    /// db.ping()?;
    /// let status = db.pool_status();
    /// assert!(status.open >= 1);
    /// assert!(status.idle as u32 <= status.open);
    /// # Ok(()) }
    /// ```
    pub fn pool_status(&self) -> PoolStatus {
        let (open, idle) = self.inner.pool.status();
        PoolStatus { open, idle }
    }

    /// The pool duetto checks its connections out of.
    pub(crate) fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Identifies the pool, whatever alias this handle carries.
    pub(crate) fn pool_id(&self) -> usize {
        Arc::as_ptr(&self.inner) as usize
    }

    /// The same pool under another alias.
    /// The alias, shared.
    pub(crate) fn alias_arc(&self) -> Arc<str> {
        self.alias.clone()
    }

    pub(crate) fn with_alias(mut self, alias: &str) -> Db {
        self.alias = alias.into();
        self
    }
}

/// Opens (and closes) one connection to a server database before the pool is built, running
/// the warm-up statements on it: a pool retries a failing connection until its timeout and then
/// reports only that it timed out, while one direct attempt fails at once with the cause
/// ("connection refused", "database does not exist", bad credentials, a bad warm-up statement).
async fn first_connection(
    backend: Backend,
    url: &str,
    warm: &[sea_orm::Statement],
) -> std::result::Result<(), DbErr> {
    match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => {
            connect_once::<sea_orm::sqlx::postgres::PgConnectOptions>(url, warm).await
        }
        #[cfg(feature = "mysql")]
        Backend::MySql => {
            connect_once::<sea_orm::sqlx::mysql::MySqlConnectOptions>(url, warm).await
        }
        // SQLite opens a file: the pool reports its errors directly.
        _ => {
            let _ = (url, warm);
            Ok(())
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn connect_once<O>(url: &str, warm: &[sea_orm::Statement]) -> std::result::Result<(), DbErr>
where
    O: sea_orm::sqlx::ConnectOptions + std::str::FromStr<Err = sea_orm::sqlx::Error>,
    O::Connection: Sized,
    for<'c> &'c mut O::Connection: sea_orm::sqlx::Executor<
        'c,
        Database = <O::Connection as sea_orm::sqlx::Connection>::Database,
    >,
    sea_query_sqlx::SqlxValues:
        sea_orm::sqlx::IntoArguments<<O::Connection as sea_orm::sqlx::Connection>::Database>,
{
    use sea_orm::sqlx::Connection as _;
    let failed = |e: sea_orm::sqlx::Error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(e.into()));
    let options: O = url.parse().map_err(failed)?;
    let mut conn = options.connect().await.map_err(failed)?;
    run_warm_up(&mut conn, warm).await.map_err(failed)?;
    conn.close().await.map_err(failed)
}

/// Runs each warm-up statement once on `conn`, discarding its rows.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn run_warm_up<C>(
    conn: &mut C,
    statements: &[sea_orm::Statement],
) -> Result<(), sea_orm::sqlx::Error>
where
    C: sea_orm::sqlx::Connection,
    for<'c> &'c mut C: sea_orm::sqlx::Executor<'c, Database = C::Database>,
    sea_query_sqlx::SqlxValues: sea_orm::sqlx::IntoArguments<C::Database>,
{
    for stmt in statements {
        let values = stmt
            .values
            .clone()
            .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
        sea_orm::sqlx::query_with(
            sea_orm::sqlx::AssertSqlSafe(stmt.sql.clone()),
            sea_query_sqlx::SqlxValues(values),
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

fn sea_orm_options(options: &ConnectOptions, url: &DatabaseUrl) -> sea_orm::ConnectOptions {
    let mut sea = sea_orm::ConnectOptions::new(url.for_driver.clone());
    // sqlx waits for a connection at most this long per try, and its backoff between refused
    // connections is a fifth of it; duetto's pool tries again until the caller's own acquire
    // timeout (see `Pool::checkout_from_sqlx`), so a server back after an outage is noticed
    // within a fifth of the connect timeout, however long callers may wait.
    sea.connect_timeout(options.connect_timeout)
        .acquire_timeout(
            options
                .connect_timeout
                .min(options.acquire_timeout_in_force()),
        )
        .sqlx_logging(options.sqlx_logging)
        .sqlx_logging_level(log::LevelFilter::Debug)
        .test_before_acquire(options.test_before_acquire);
    if let Some(idle) = options.test_if_idle_for {
        sea.test_before_acquire_if_idle_for(idle);
    }
    if let Some(n) = options.min_connections {
        sea.min_connections(n);
    }
    if let Some(timeout) = options.idle_timeout {
        sea.idle_timeout(timeout);
    }
    if let Some(lifetime) = options.max_lifetime {
        sea.max_lifetime(lifetime);
    }
    match options.max_connections {
        Some(n) => {
            sea.max_connections(n);
        }
        // SeaORM pins SQLite pools to one connection unless told otherwise; WAL (or the shared
        // in-memory cache) lets several readers run at once, so give them the connections.
        None if url.backend == DatabaseBackend::Sqlite => {
            let cpus = std::thread::available_parallelism().map_or(2, |n| n.get());
            sea.max_connections((2 * cpus).max(4) as u32);
        }
        None => {}
    }
    #[cfg(feature = "sqlite")]
    if url.backend == DatabaseBackend::Sqlite {
        configure_sqlite(&mut sea, options, url.in_memory);
    }
    #[cfg(feature = "postgres")]
    if url.backend == DatabaseBackend::Postgres {
        if let Some(name) = &options.application_name {
            sea.set_application_name(name.as_str());
        }
        if !options.session_settings.is_empty() {
            let settings = options.session_settings.clone();
            sea.map_sqlx_postgres_opts(move |opts| opts.options(settings.clone()));
        }
    }
    let mut on_connect = Vec::new();
    #[cfg(feature = "mysql")]
    if url.backend == DatabaseBackend::MySql {
        on_connect.extend(options.session_settings.iter().map(|(name, value)| {
            // An integer goes in as a number (integer variables refuse strings); anything else
            // as a bound string.
            match value.parse::<i64>() {
                Ok(n) => sea_orm::Statement::from_string(
                    DatabaseBackend::MySql,
                    format!("SET SESSION {name} = {n}"),
                ),
                Err(_) => sea_orm::Statement::from_sql_and_values(
                    DatabaseBackend::MySql,
                    format!("SET SESSION {name} = ?"),
                    [value.clone().into()],
                ),
            }
        }));
    }
    on_connect.extend(options.warm_up.iter().cloned());
    if !on_connect.is_empty() {
        warm_up_on_connect(&mut sea, Arc::new(on_connect));
    }
    sea
}

/// Refuses session settings whose name could be anything but a setting name: the name is
/// written into SQL (MySQL, SQLite) or a startup parameter (PostgreSQL) as it is.
fn check_session_settings(settings: &[(String, String)]) -> Result<()> {
    for (name, _) in settings {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
        if !plain {
            return Err(Error::InvalidOption {
                option: "session_setting",
                reason: format!(
                    "`{name}` is not a setting name (letters, digits, `_` and `.` only)"
                ),
            });
        }
    }
    Ok(())
}

/// Makes every new server connection run `statements` once (results discarded), so sqlx
/// prepares each with the parameter types real calls bind and keeps it in the connection's
/// statement cache. (Preparing from the SQL alone would let PostgreSQL infer parameter types that
/// need not match what duetto binds later.)
fn warm_up_on_connect(sea: &mut sea_orm::ConnectOptions, statements: Arc<Vec<sea_orm::Statement>>) {
    #[cfg(feature = "postgres")]
    sea.map_sqlx_postgres_pool_opts(warm_up_hook(statements.clone()));
    #[cfg(feature = "mysql")]
    sea.map_sqlx_mysql_pool_opts(warm_up_hook(statements.clone()));
    let _ = (sea, statements);
}

/// A sqlx pool option mapper adding an `after_connect` that runs `statements`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn warm_up_hook<DB: sea_orm::sqlx::Database>(
    statements: Arc<Vec<sea_orm::Statement>>,
) -> impl Fn(sea_orm::sqlx::pool::PoolOptions<DB>) -> sea_orm::sqlx::pool::PoolOptions<DB>
       + Send
       + Sync
       + 'static
where
    for<'c> &'c mut DB::Connection: sea_orm::sqlx::Executor<'c, Database = DB>,
    DB::Connection: sea_orm::sqlx::Connection<Database = DB>,
    sea_query_sqlx::SqlxValues: sea_orm::sqlx::IntoArguments<DB>,
{
    move |pool| {
        let statements = statements.clone();
        pool.after_connect(move |conn, _| {
            let statements = statements.clone();
            Box::pin(async move { run_warm_up(conn, &statements).await })
        })
    }
}

#[cfg(feature = "sqlite")]
fn configure_sqlite(sea: &mut sea_orm::ConnectOptions, options: &ConnectOptions, in_memory: bool) {
    use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};

    if in_memory {
        // sqlx gives `sqlite::memory:` a unique shared-cache name, so every pooled connection
        // opens the same database; it is freed with its last connection, so the pool must never
        // let that happen while the Db exists.
        if options.min_connections.is_none() {
            sea.min_connections(1);
        }
        if options.idle_timeout.is_none() {
            sea.idle_timeout(None);
        }
        if options.max_lifetime.is_none() {
            sea.max_lifetime(None);
        }
    }
    let pragmas = options.session_settings.clone();
    sea.map_sqlx_sqlite_opts(move |mut opts| {
        if !in_memory {
            opts = opts
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
        }
        for (name, value) in &pragmas {
            opts = opts.pragma(name.clone(), value.clone());
        }
        opts
    });
}
