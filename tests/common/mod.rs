//! Test harness over duetto's public fixtures (`duetto::testing`): a fresh database per test on
//! every backend the run has (DESIGN §7).
//!
//! - SQLite always (a temp file, WAL).
//! - PostgreSQL when `DUETTO_TEST_POSTGRES_URL` is set (a new database per test).
//! - MySQL/MariaDB when `DUETTO_TEST_MYSQL_URL` is set (a new database per test).
//!
//! `DUETTO_TEST_REQUIRE=sqlite,postgres,mysql` turns a missing backend into a failure.
//! Databases are dropped when the `TestDb` is, so tests run in parallel without sharing state.
//! This module only adapts [`duetto::testing::TestDatabase`] to the suite's `Kind` enum.

#![allow(dead_code)]

use duetto::testing::TestDatabase;
use duetto::{Backend, Db};
use migration::{Migrator, MigratorTrait};

pub mod faults;

/// One backend the suite can run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
    Mysql,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Sqlite => "sqlite",
            Kind::Postgres => "postgres",
            Kind::Mysql => "mysql",
        }
    }

    /// The server URL from the environment (server backends only).
    pub fn server_url(self) -> Option<String> {
        let var = match self {
            Kind::Sqlite => return None,
            Kind::Postgres => "DUETTO_TEST_POSTGRES_URL",
            Kind::Mysql => "DUETTO_TEST_MYSQL_URL",
        };
        std::env::var(var).ok().filter(|url| !url.trim().is_empty())
    }

    pub fn backend(self) -> Backend {
        match self {
            Kind::Sqlite => Backend::Sqlite,
            Kind::Postgres => Backend::Postgres,
            Kind::Mysql => Backend::MySql,
        }
    }

    fn of(backend: Backend) -> Kind {
        match backend {
            Backend::Postgres => Kind::Postgres,
            Backend::MySql => Kind::Mysql,
            _ => Kind::Sqlite,
        }
    }
}

/// Every backend available to this run ([`duetto::testing::backends`]); fails the test when one
/// listed in `DUETTO_TEST_REQUIRE` is missing.
pub fn backends() -> Vec<Kind> {
    duetto::testing::backends()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(Kind::of)
        .collect()
}

/// Only the server backends (PostgreSQL, MySQL) of this run.
pub fn server_backends() -> Vec<Kind> {
    backends()
        .into_iter()
        .filter(|k| *k != Kind::Sqlite)
        .collect()
}

/// A database that exists for one test.
pub struct TestDb {
    pub kind: Kind,
    pub db: Db,
    pub url: String,
    _database: TestDatabase,
}

impl TestDb {
    fn new(kind: Kind, database: TestDatabase) -> TestDb {
        TestDb {
            kind,
            db: database.db().clone(),
            url: database.url().to_owned(),
            _database: database,
        }
    }
}

/// `server`'s URL with its database path replaced by `name`.
pub fn url_with_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("server URL parses");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// A fresh, empty database (no tables).
pub async fn empty(kind: Kind) -> TestDb {
    let database = TestDatabase::create(kind.backend())
        .await
        .unwrap_or_else(|e| panic!("create {} test database: {e}", kind.name()));
    TestDb::new(kind, database)
}

/// A fresh database with the demo schema migrated.
pub async fn migrated(kind: Kind) -> TestDb {
    let database = TestDatabase::create(kind.backend())
        .await
        .unwrap_or_else(|e| panic!("create {} test database: {e}", kind.name()))
        .migrate(|conn| async move { Migrator::up(&conn, None).await })
        .await
        .unwrap_or_else(|e| panic!("migrate {}: {e}", kind.name()));
    TestDb::new(kind, database)
}

/// Blocking twin of [`empty`], for sync tests.
pub fn empty_blocking(kind: Kind) -> TestDb {
    duetto::bridge::async_to_sync(empty(kind)).unwrap()
}

/// Blocking twin of [`migrated`], for sync tests.
pub fn migrated_blocking(kind: Kind) -> TestDb {
    duetto::bridge::async_to_sync(migrated(kind)).unwrap()
}
