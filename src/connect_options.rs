//! How to connect: the URL plus pool settings, with duetto's defaults.

use std::time::Duration;

/// Connection settings for [`Db::connect_with`](crate::Db::connect_with).
///
/// A builder that takes and returns `self`, over SeaORM's [`sea_orm::ConnectOptions`]. duetto's
/// defaults differ from sqlx's where it matters for latency:
///
/// - **No ping per checkout.** sqlx (and SeaORM) ping every connection as it leaves the pool, which
///   adds a full round trip to every query on a remote database. duetto pings only connections
///   that sat idle for [`test_if_idle_for`](Self::test_if_idle_for) (60 s by default), the ones
///   a server or firewall may have dropped.
/// - **Connect timeout 3 s, acquire timeout 10 s.** An unreachable or misnamed database fails
///   within them, never hangs. The connect timeout also sets how fast the pool notices a server
///   that is back after an outage: sqlx retries refused connections with a backoff capped at a
///   fifth of it, so 3 s means a new attempt at least every 0.6 s.
/// - **SQLite files** use WAL journaling and a pool of several connections, so reads run in
///   parallel with each other and with one writer; `sqlite::memory:` is one database shared by the
///   whole pool and kept alive as long as the [`Db`](crate::Db) is.
/// - Statement logging through `log` is off unless [`sqlx_logging`](Self::sqlx_logging) enables it.
///
/// # Example
///
/// ```
/// use duetto::{ConnectOptions, Db};
/// use std::time::Duration;
///
/// # fn main() -> duetto::Result<()> {
/// let options = ConnectOptions::new("sqlite::memory:")
///     .max_connections(4)
///     .connect_timeout(Duration::from_secs(3))
///     .alias("analytics");
/// let db = Db::connect_with_blocking(options)?;
/// assert_eq!(db.alias(), "analytics");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub(crate) url: String,
    pub(crate) alias: String,
    pub(crate) max_connections: Option<u32>,
    pub(crate) min_connections: Option<u32>,
    pub(crate) connect_timeout: Duration,
    pub(crate) acquire_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Option<Duration>>,
    pub(crate) max_lifetime: Option<Option<Duration>>,
    pub(crate) test_before_acquire: bool,
    pub(crate) test_if_idle_for: Option<Duration>,
    pub(crate) sqlx_logging: bool,
    pub(crate) warm_up: Vec<sea_orm::Statement>,
    pub(crate) slow_query_threshold: Option<Duration>,
    pub(crate) log_values: bool,
    pub(crate) application_name: Option<String>,
    pub(crate) session_settings: Vec<(String, String)>,
}

/// The alias a [`Db`](crate::Db) carries unless told otherwise, and the one
/// [`set_default`](crate::set_default) registers.
pub const DEFAULT_ALIAS: &str = "default";

impl ConnectOptions {
    /// Options for `url` with duetto's defaults.
    ///
    /// Accepted URLs: `sqlite::memory:`, `sqlite://path/to/file.db?mode=rwc`,
    /// `postgres://user:pass@host:5432/db` (or `postgresql://`), `mysql://user:pass@host:3306/db`
    /// (or `mariadb://`).
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("postgres://app@db.internal/app");
    /// assert_eq!(options.url(), "postgres://app@db.internal/app");
    /// ```
    pub fn new(url: impl Into<String>) -> Self {
        ConnectOptions {
            url: url.into(),
            alias: DEFAULT_ALIAS.to_owned(),
            max_connections: None,
            min_connections: None,
            connect_timeout: Duration::from_secs(3),
            acquire_timeout: None,
            idle_timeout: None,
            max_lifetime: None,
            test_before_acquire: false,
            test_if_idle_for: Some(Duration::from_secs(60)),
            sqlx_logging: false,
            warm_up: Vec::new(),
            slow_query_threshold: None,
            log_values: false,
            application_name: None,
            session_settings: Vec::new(),
        }
    }

    /// The database URL as given.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The alias the connected [`Db`](crate::Db) reports from [`Db::alias`](crate::Db::alias)
    /// (default `"default"`). [`register`](crate::register) overrides it with the alias it stores
    /// the database under.
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").alias("replica");
    /// # let _ = options;
    /// ```
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.alias = alias.into();
        self
    }

    /// Most connections the pool opens (default: sqlx's 10 for PostgreSQL/MySQL; for SQLite twice
    /// the CPU count, at least 4).
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").max_connections(8);
    /// # let _ = options;
    /// ```
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = Some(n);
        self
    }

    /// Connections the pool keeps open even when idle (default 0; 1 for in-memory SQLite, which
    /// would otherwise vanish with its last connection).
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").min_connections(2);
    /// # let _ = options;
    /// ```
    pub fn min_connections(mut self, n: u32) -> Self {
        self.min_connections = Some(n);
        self
    }

    /// How long one attempt to open a connection may take before failing (default 3 s).
    ///
    /// While the server refuses connections (restarting, failing over), the pool tries again
    /// with a backoff that sqlx caps at a fifth of this, so it is also how soon calls succeed
    /// again once the server is back: up to 0.6 s with the default. Raise it for a server that
    /// is slow to accept (one that wakes up on the first connection), at that cost.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").connect_timeout(Duration::from_secs(2));
    /// # let _ = options;
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a query may wait for a connection (default 10 s, or the connect timeout if that
    /// is longer): for a free one when the pool is busy, or for the server to accept one.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").acquire_timeout(Duration::from_secs(30));
    /// # let _ = options;
    /// ```
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = Some(timeout);
        self
    }

    /// The acquire timeout in force: as set, else 10 s or the connect timeout if longer.
    pub(crate) fn acquire_timeout_in_force(&self) -> Duration {
        self.acquire_timeout
            .unwrap_or_else(|| self.connect_timeout.max(Duration::from_secs(10)))
    }

    /// Closes connections idle for longer than this; `None` keeps them (default: sqlx's 10 min;
    /// never for in-memory SQLite).
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").idle_timeout(Some(Duration::from_secs(300)));
    /// # let _ = options;
    /// ```
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Closes connections older than this; `None` keeps them (default: sqlx's 30 min; never for
    /// in-memory SQLite).
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").max_lifetime(None);
    /// # let _ = options;
    /// ```
    pub fn max_lifetime(mut self, lifetime: Option<Duration>) -> Self {
        self.max_lifetime = Some(lifetime);
        self
    }

    /// Pings every connection as it leaves the pool (sqlx's default, off in duetto): one extra
    /// round trip per query, bought for detecting dead connections a little earlier. Setting it
    /// disables [`test_if_idle_for`](Self::test_if_idle_for).
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").test_before_acquire(true);
    /// # let _ = options;
    /// ```
    pub fn test_before_acquire(mut self, test: bool) -> Self {
        self.test_before_acquire = test;
        if test {
            self.test_if_idle_for = None;
        }
        self
    }

    /// Pings a connection before handing it out only if it has been idle at least this long
    /// (default 60 s); `None` never pings.
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").test_if_idle_for(Some(Duration::from_secs(5)));
    /// # let _ = options;
    /// ```
    pub fn test_if_idle_for(mut self, idle: Option<Duration>) -> Self {
        self.test_if_idle_for = idle;
        if idle.is_some() {
            self.test_before_acquire = false;
        }
        self
    }

    /// Runs the read `statement` once on every connection as it opens (its rows are discarded),
    /// so the statement is prepared there before the first call that sends it: that call pays
    /// no prepare round trip (PostgreSQL, MySQL; SQLite prepares in process and ignores this).
    /// Call it once per statement; take the statement from
    /// [`QuerySet::statement`](crate::QuerySet::statement), built with sample values of the
    /// types the real calls bind (the SQL must match theirs byte for byte; the values need not).
    /// Pair it with [`min_connections`](Self::min_connections) to open and warm connections at
    /// startup.
    ///
    /// A statement that fails fails the connection that runs it, so a mistake shows up at
    /// connect time rather than as a slow first request.
    ///
    /// ```
    /// use duetto::prelude::*;
    /// use entity::user;
    /// use sea_orm::ColumnTrait;
    ///
    /// // Warms `user::Entity::objects().filter(user::Column::Id.eq(id)).alist()` for any `id`.
    /// let by_id = user::Entity::objects().filter(user::Column::Id.eq(0_i64));
    /// let options = duetto::ConnectOptions::new("postgres://app@db.internal/app")
    ///     .min_connections(8)
    ///     .warm_up(by_id.statement(duetto::Backend::Postgres));
    /// # let _ = options;
    /// ```
    pub fn warm_up(mut self, statement: sea_orm::Statement) -> Self {
        self.warm_up.push(statement);
        self
    }

    /// Logs every statement through the `log` crate at debug level (default off).
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").sqlx_logging(true);
    /// # let _ = options;
    /// ```
    pub fn sqlx_logging(mut self, enabled: bool) -> Self {
        self.sqlx_logging = enabled;
        self
    }
}

impl ConnectOptions {
    /// Logs a WARN event `slow query` (target `duetto::query`, inside the statement's span, with
    /// its SQL, alias, elapsed time and call site) for every statement that takes at least
    /// `threshold` from sending to its last reply (default: none). See [`crate::observe`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let options = duetto::ConnectOptions::new("sqlite::memory:")
    ///     .slow_query_threshold(Some(Duration::from_millis(250)));
    /// # let _ = options;
    /// ```
    pub fn slow_query_threshold(mut self, threshold: Option<Duration>) -> Self {
        self.slow_query_threshold = threshold;
        self
    }

    /// Records each statement's bound values in its span's `values` field (default off: values
    /// may be personal data, and the SQL with placeholders is usually enough). Captures always
    /// keep values; they stay in the process.
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("sqlite::memory:").log_values(true);
    /// # let _ = options;
    /// ```
    pub fn log_values(mut self, enabled: bool) -> Self {
        self.log_values = enabled;
        self
    }

    /// The name this service's connections show as `application_name` in PostgreSQL's
    /// `pg_stat_activity` and server logs, so operators can tell services apart.
    ///
    /// PostgreSQL only: MySQL/MariaDB has no such setting and SQLite no server; both ignore it.
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("postgres://app@db.internal/app")
    ///     .application_name("billing-api");
    /// # let _ = options;
    /// ```
    pub fn application_name(mut self, name: impl Into<String>) -> Self {
        self.application_name = Some(name.into());
        self
    }

    /// A session setting every connection gets as it opens: a run-time parameter on PostgreSQL
    /// (sent in the startup packet, like `psql -c name=value`), a session system variable on
    /// MySQL/MariaDB (`SET SESSION name = value`, the value bound as a parameter), a `PRAGMA` on
    /// SQLite. Call it once per setting.
    ///
    /// `name` must be a plain setting name (letters, digits, `_` and `.`); anything else fails
    /// [`Db::connect_with`](crate::Db::connect_with) with [`Error::InvalidOption`](crate::Error::InvalidOption),
    /// and so does a setting the server rejects, at connect time rather than on a later query.
    ///
    /// ```
    /// let options = duetto::ConnectOptions::new("postgres://app@db.internal/app")
    ///     .session_setting("statement_timeout", "5s")
    ///     .session_setting("lock_timeout", "1s");
    /// # let _ = options;
    /// ```
    pub fn session_setting(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.session_settings.push((name.into(), value.into()));
        self
    }
}

impl From<&str> for ConnectOptions {
    fn from(url: &str) -> Self {
        ConnectOptions::new(url)
    }
}

impl From<String> for ConnectOptions {
    fn from(url: String) -> Self {
        ConnectOptions::new(url)
    }
}

impl From<&String> for ConnectOptions {
    fn from(url: &String) -> Self {
        ConnectOptions::new(url.as_str())
    }
}
