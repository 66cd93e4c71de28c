//! A fresh database per test, on any backend.

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use sea_orm::{ConnectionTrait, DatabaseConnection, DbErr};

use crate::{Backend, Db, Error, Result};

/// The environment variable naming the server a backend's test databases are created on.
fn server_var(backend: Backend) -> Option<&'static str> {
    match backend {
        Backend::Postgres => Some("DUETTO_TEST_POSTGRES_URL"),
        Backend::MySql => Some("DUETTO_TEST_MYSQL_URL"),
        _ => None,
    }
}

fn backend_name(backend: Backend) -> &'static str {
    crate::observe::backend_name(backend)
}

/// The server URL for `backend`'s test databases, from its environment variable.
fn server_url(backend: Backend) -> Option<String> {
    server_var(backend)
        .and_then(|var| std::env::var(var).ok())
        .filter(|url| !url.trim().is_empty())
}

/// The backends this test run can use: SQLite always, PostgreSQL when
/// `DUETTO_TEST_POSTGRES_URL` is set, MySQL/MariaDB when `DUETTO_TEST_MYSQL_URL` is (each the URL
/// of a server and a user allowed to create databases; the database in the URL is only used to
/// connect).
///
/// # Errors
///
/// [`Error::Other`] when `DUETTO_TEST_REQUIRE` (a comma-separated list such as
/// `sqlite,postgres,mysql`) names a backend whose URL is not set: on CI a missing server must fail
/// the run, not skip its tests.
///
/// ```
/// let available = duetto::testing::backends()?;
/// assert!(available.contains(&duetto::Backend::Sqlite));
/// # Ok::<(), duetto::Error>(())
/// ```
pub fn backends() -> Result<Vec<Backend>> {
    let required: Vec<String> = std::env::var("DUETTO_TEST_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let mut available = Vec::new();
    for backend in [Backend::Sqlite, Backend::Postgres, Backend::MySql] {
        let name = backend_name(backend);
        let enabled = match backend {
            Backend::Sqlite => cfg!(feature = "sqlite"),
            Backend::Postgres => cfg!(feature = "postgres"),
            _ => cfg!(feature = "mysql"),
        };
        let configured = server_var(backend).is_none() || server_url(backend).is_some();
        if enabled && configured {
            available.push(backend);
        } else if required.iter().any(|r| r == name) {
            return Err(Error::other(match server_var(backend) {
                Some(var) if enabled => {
                    format!("DUETTO_TEST_REQUIRE lists {name} but {var} is not set")
                }
                _ => format!("DUETTO_TEST_REQUIRE lists {name} but its cargo feature is off"),
            }));
        }
    }
    Ok(available)
}

/// A database that exists for one test: created empty, dropped (server) or deleted (SQLite file)
/// when this value is dropped.
///
/// ```
/// use duetto::testing::TestDatabase;
/// use duetto::sea_orm::ConnectionTrait;
///
/// # #[tokio::main] async fn main() -> duetto::Result<()> {
/// let test = TestDatabase::create(duetto::Backend::Sqlite)
///     .await?
///     .migrate(|conn| async move {
///         conn.execute_unprepared("CREATE TABLE item (id INTEGER PRIMARY KEY)").await?;
///         Ok(())
///     })
///     .await?;
/// test.db().aping().await?;
/// # Ok(()) }
/// ```
pub struct TestDatabase {
    db: Db,
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Drop { admin: Db, name: String },
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("url", &self.db.url())
            .finish()
    }
}

fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    format!(
        "duetto_t_{:x}_{:x}_{:x}",
        std::process::id(),
        nanos,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// One admin connection per server URL, kept for the life of the process.
fn admin(server: &str) -> impl Future<Output = Result<Db>> + Send + 'static {
    static ADMINS: OnceLock<Mutex<HashMap<String, Db>>> = OnceLock::new();
    let admins = ADMINS.get_or_init(Default::default);
    let server = server.to_owned();
    async move {
        if let Some(db) = admins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&server)
        {
            return Ok(db.clone());
        }
        let db = Db::connect(&server).await?;
        Ok(admins
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(server)
            .or_insert(db)
            .clone())
    }
}

/// `server`'s URL with its database path replaced by `name`.
fn url_with_database(server: &str, name: &str) -> Result<String> {
    let mut url = url::Url::parse(server).map_err(|e| Error::InvalidUrl {
        url: server.to_owned(),
        reason: e.to_string(),
    })?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

impl TestDatabase {
    /// A new, empty database on `backend`: a SQLite file in a new temporary directory, or a new
    /// database on the server from `DUETTO_TEST_POSTGRES_URL` / `DUETTO_TEST_MYSQL_URL`.
    ///
    /// # Errors
    ///
    /// [`Error::Other`] when the server's variable is not set; connection and `CREATE DATABASE`
    /// errors as they come.
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> duetto::Result<()> {
    /// let test = duetto::testing::TestDatabase::create(duetto::Backend::Sqlite).await?;
    /// assert!(test.url().starts_with("sqlite://"));
    /// # Ok(()) }
    /// ```
    pub async fn create(backend: Backend) -> Result<TestDatabase> {
        match server_var(backend) {
            None => Self::create_sqlite().await,
            Some(var) => {
                let server =
                    server_url(backend).ok_or_else(|| Error::other(format!("{var} is not set")))?;
                Self::create_on(backend, &server).await
            }
        }
    }

    /// Blocking twin of [`create`](Self::create).
    ///
    /// # Errors
    ///
    /// As [`create`](Self::create), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// let test = duetto::testing::TestDatabase::create_blocking(duetto::Backend::Sqlite)?;
    /// test.db().ping()?;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn create_blocking(backend: Backend) -> Result<TestDatabase> {
        crate::bridge::blocking_twin("create_blocking", Self::create(backend))
    }

    async fn create_sqlite() -> Result<TestDatabase> {
        let dir = std::env::temp_dir().join(unique_name());
        std::fs::create_dir_all(&dir).map_err(Error::other)?;
        let url = format!("sqlite://{}?mode=rwc", dir.join("test.db").display());
        let db = Db::connect(&url).await?;
        Ok(TestDatabase {
            db,
            url,
            cleanup: Cleanup::Dir(dir),
        })
    }

    /// A new, empty database on the PostgreSQL or MySQL server at `server` (any database in the
    /// URL is only used to connect as an administrator).
    ///
    /// # Errors
    ///
    /// [`Error::NotSupported`] for SQLite (use [`create`](Self::create)); connection and
    /// `CREATE DATABASE` errors as they come.
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> duetto::Result<()> {
    /// let test = duetto::testing::TestDatabase::create_on(
    ///     duetto::Backend::Postgres,
    ///     "postgres://postgres@127.0.0.1:5432/postgres",
    /// )
    /// .await?;
    /// # let _ = test;
    /// # Ok(()) }
    /// ```
    pub async fn create_on(backend: Backend, server: &str) -> Result<TestDatabase> {
        let name = unique_name();
        let create = match backend {
            Backend::Postgres => format!("CREATE DATABASE \"{name}\""),
            Backend::MySql => format!("CREATE DATABASE `{name}`"),
            _ => {
                return Err(Error::NotSupported {
                    operation: "TestDatabase::create_on",
                    reason: "SQLite has no server: use TestDatabase::create".into(),
                })
            }
        };
        let admin = admin(server).await?;
        admin
            .arun(move |conn| async move { conn.execute_unprepared(&create).await })
            .await?;
        let url = url_with_database(server, &name)?;
        let db = Db::connect(&url).await?;
        Ok(TestDatabase {
            db,
            url,
            cleanup: Cleanup::Drop { admin, name },
        })
    }

    /// Runs `migrate` on the new database (e.g. `Migrator::up(&conn, None)` of a
    /// `sea-orm-migration` crate) and returns it.
    ///
    /// # Errors
    ///
    /// The migration's error.
    ///
    /// ```
    /// use duetto::sea_orm::ConnectionTrait;
    /// # #[tokio::main] async fn main() -> duetto::Result<()> {
    /// let test = duetto::testing::TestDatabase::create(duetto::Backend::Sqlite)
    ///     .await?
    ///     .migrate(|conn| async move {
    ///         conn.execute_unprepared("CREATE TABLE t (x INTEGER)").await.map(drop)
    ///     })
    ///     .await?;
    /// # let _ = test;
    /// # Ok(()) }
    /// ```
    pub async fn migrate<F, Fut>(self, migrate: F) -> Result<TestDatabase>
    where
        F: FnOnce(DatabaseConnection) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<(), DbErr>> + Send + 'static,
    {
        self.db.arun(migrate).await?;
        Ok(self)
    }

    /// Blocking twin of [`migrate`](Self::migrate).
    ///
    /// # Errors
    ///
    /// As [`migrate`](Self::migrate), plus [`Error::SynchronousOnlyOperation`] in async code.
    ///
    /// ```
    /// use duetto::sea_orm::ConnectionTrait;
    /// let test = duetto::testing::TestDatabase::create_blocking(duetto::Backend::Sqlite)?
    ///     .migrate_blocking(|conn| async move {
    ///         conn.execute_unprepared("CREATE TABLE t (x INTEGER)").await.map(drop)
    ///     })?;
    /// # let _ = test;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn migrate_blocking<F, Fut>(self, migrate: F) -> Result<TestDatabase>
    where
        F: FnOnce(DatabaseConnection) -> Fut + Send + 'static,
        Fut: Future<Output = std::result::Result<(), DbErr>> + Send + 'static,
    {
        crate::bridge::blocking_twin("migrate_blocking", self.migrate(migrate))
    }

    /// The database, connected.
    ///
    /// ```
    /// let test = duetto::testing::TestDatabase::create_blocking(duetto::Backend::Sqlite)?;
    /// assert_eq!(test.db().backend(), duetto::Backend::Sqlite);
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Its URL, for connecting a second pool or another process to it.
    ///
    /// ```
    /// let test = duetto::testing::TestDatabase::create_blocking(duetto::Backend::Sqlite)?;
    /// let second = duetto::Db::connect_blocking(test.url())?;
    /// second.ping()?;
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its backend.
    ///
    /// ```
    /// let test = duetto::testing::TestDatabase::create_blocking(duetto::Backend::Sqlite)?;
    /// assert_eq!(test.backend(), duetto::Backend::Sqlite);
    /// # Ok::<(), duetto::Error>(())
    /// ```
    pub fn backend(&self) -> Backend {
        self.db.backend()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let db = self.db.clone();
        let cleanup = std::mem::replace(&mut self.cleanup, Cleanup::Dir(PathBuf::new()));
        let backend = self.db.backend();
        // Drop may run inside an async test; the blocking calls belong on a plain thread.
        let dropped = std::thread::spawn(move || -> Result<()> {
            let _ = db.close_blocking();
            match cleanup {
                Cleanup::Dir(dir) if dir.as_os_str().is_empty() => Ok(()),
                Cleanup::Dir(dir) => std::fs::remove_dir_all(dir).map_err(Error::other),
                Cleanup::Drop { admin, name } => {
                    let sql = match backend {
                        Backend::Postgres => {
                            format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
                        }
                        _ => format!("DROP DATABASE IF EXISTS `{name}`"),
                    };
                    admin.run(move |conn| async move { conn.execute_unprepared(&sql).await })?;
                    Ok(())
                }
            }
        })
        .join();
        if let Ok(Err(e)) = dropped {
            log::warn!("duetto: could not remove test database {}: {e}", self.url);
        }
    }
}
