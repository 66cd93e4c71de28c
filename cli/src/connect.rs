//! Opening the database to introspect.
//!
//! The CLI talks to sqlx directly instead of going through [`Db`](duetto::Db): a `Db` tunes SQLite
//! files for an application (WAL journaling, which persists in the file), and a schema reader must
//! leave the database exactly as it found it.

use std::time::Duration;

use duetto::sea_orm::sqlx::{self, pool::PoolOptions, ConnectOptions as _, Connection as _};
use duetto::sea_orm::sqlx::{MySqlPool, PgPool, SqlitePool};
use duetto::{Backend, DatabaseUrl};

use super::error::{CliError, CliResult};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A pool on the database named by the URL.
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
    MySql {
        pool: MySqlPool,
        /// MySQL has no schemas inside a database: discovery reads this one.
        database: String,
    },
}

/// A database URL whose scheme is known, with a printable form.
pub(crate) struct Target {
    backend: Backend,
    for_driver: String,
    /// The URL with any password replaced by `***`.
    pub(crate) redacted: String,
}

impl Target {
    /// Checks the scheme (and for servers, the database name) without connecting, with the same
    /// rules and messages as [`Db::connect`](duetto::Db::connect).
    pub(crate) fn parse(raw: &str) -> CliResult<Target> {
        let url = DatabaseUrl::parse(raw).map_err(|e| CliError::new(e.to_string()))?;
        let target = Target {
            backend: url.backend(),
            for_driver: url.for_driver().to_owned(),
            redacted: url.redacted().to_owned(),
        };
        if target.backend != Backend::Sqlite {
            target.database_name()?;
        }
        Ok(target)
    }

    pub(crate) fn is_postgres(&self) -> bool {
        self.backend == Backend::Postgres
    }

    fn database_name(&self) -> CliResult<String> {
        let url = url::Url::parse(&self.for_driver)
            .map_err(|e| CliError::new(format!("invalid database URL `{}`: {e}", self.redacted)))?;
        url.path_segments()
            .and_then(|mut segments| segments.next())
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                CliError::new(format!(
                    "database URL `{}` names no database (expected …/DATABASE)",
                    self.redacted
                ))
            })
    }

    /// Connects with one connection: discovery runs its queries one after another.
    pub(crate) async fn connect(&self) -> CliResult<Pool> {
        let failed = |e: sqlx::Error| {
            CliError::new(format!("could not connect to `{}`: {e}", self.redacted))
        };
        let url = self.for_driver.as_str();
        let connecting = async {
            Ok(match self.backend {
                Backend::Sqlite => Pool::Sqlite(open(url).await.map_err(failed)?),
                Backend::Postgres => Pool::Postgres(open(url).await.map_err(failed)?),
                _ => Pool::MySql {
                    pool: open(url).await.map_err(failed)?,
                    database: self.database_name()?,
                },
            })
        };
        // sqlx bounds each step; this bounds the whole handshake (e.g. a server that accepts the
        // TCP connection and then says nothing).
        tokio::time::timeout(TIMEOUT + Duration::from_secs(1), connecting)
            .await
            .unwrap_or_else(|_| {
                Err(CliError::new(format!(
                    "could not connect to `{}`: timed out after {} s",
                    self.redacted,
                    TIMEOUT.as_secs()
                )))
            })
    }
}

/// A one-connection pool on `url`, after one direct connection attempt: a pool retries refused
/// connections until its acquire timeout, which would turn a wrong port into a long silent wait.
async fn open<DB: sqlx::Database>(url: &str) -> Result<sqlx::Pool<DB>, sqlx::Error> {
    let options: <DB::Connection as sqlx::Connection>::Options = url.parse()?;
    options.connect().await?.close().await?;
    Ok(PoolOptions::<DB>::new()
        .max_connections(1)
        .acquire_timeout(TIMEOUT)
        .connect_lazy_with(options))
}

impl Pool {
    pub(crate) async fn close(&self) {
        match self {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
            Pool::MySql { pool, .. } => pool.close().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_scheme_is_refused_before_connecting() {
        let err = Target::parse("oracle://scott:tiger@db/orcl").err().unwrap();
        assert_eq!(
            err.to_string(),
            "unsupported database scheme `oracle` in `oracle://scott:***@db/orcl`: expected \
             sqlite:, postgres://, postgresql://, mysql:// or mariadb://"
        );
    }

    #[test]
    fn server_urls_must_name_a_database() {
        assert!(Target::parse("postgres://me@localhost").is_err());
        assert!(Target::parse("mysql://me@localhost/").is_err());
        assert!(Target::parse("mariadb://me@localhost/shop").is_ok());
        assert!(Target::parse("sqlite://app.db").is_ok());
    }
}
