//! Test harness: a fresh database per test on every available backend (DESIGN §7).
//!
//! - SQLite always (a temp file, WAL).
//! - PostgreSQL when `DUETTO_TEST_POSTGRES_URL` is set (a new database per test).
//! - MySQL/MariaDB when `DUETTO_TEST_MYSQL_URL` is set (a new database per test).
//!
//! `DUETTO_TEST_REQUIRE=sqlite,postgres,mysql` turns a missing backend into a failure.
//! Databases are dropped when the `TestDb` is, so tests run in parallel without sharing state.

#![allow(dead_code)]

use std::sync::OnceLock;

use duetto::sea_orm::ConnectionTrait;
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

    fn server_url_var(self) -> Option<&'static str> {
        match self {
            Kind::Sqlite => None,
            Kind::Postgres => Some("DUETTO_TEST_POSTGRES_URL"),
            Kind::Mysql => Some("DUETTO_TEST_MYSQL_URL"),
        }
    }

    /// The server URL from the environment (server backends only).
    pub fn server_url(self) -> Option<String> {
        self.server_url_var()
            .and_then(|var| std::env::var(var).ok())
            .filter(|url| !url.trim().is_empty())
    }

    pub fn backend(self) -> Backend {
        match self {
            Kind::Sqlite => Backend::Sqlite,
            Kind::Postgres => Backend::Postgres,
            Kind::Mysql => Backend::MySql,
        }
    }
}

fn required() -> Vec<String> {
    std::env::var("DUETTO_TEST_REQUIRE")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Every backend available to this run. Panics (fails the test) when a backend listed in
/// `DUETTO_TEST_REQUIRE` has no URL.
pub fn backends() -> Vec<Kind> {
    let required = required();
    let mut kinds = vec![Kind::Sqlite];
    for kind in [Kind::Postgres, Kind::Mysql] {
        if kind.server_url().is_some() {
            kinds.push(kind);
        } else if required.iter().any(|r| r == kind.name()) {
            panic!(
                "DUETTO_TEST_REQUIRE lists {} but {} is not set",
                kind.name(),
                kind.server_url_var().unwrap()
            );
        }
    }
    kinds
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
    cleanup: Cleanup,
}

enum Cleanup {
    File(#[allow(dead_code)] tempfile::TempDir),
    Drop { admin: Db, name: String },
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Cleanup::Drop { admin, name } = &self.cleanup {
            let (db, admin, name, kind) = (self.db.clone(), admin.clone(), name.clone(), self.kind);
            // Drop may run inside an async test; blocking calls belong on a plain thread.
            let dropped = std::thread::spawn(move || {
                let _ = db.close_blocking();
                let sql = match kind {
                    Kind::Postgres => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
                    _ => format!("DROP DATABASE IF EXISTS `{name}`"),
                };
                admin.run(move |conn| async move { conn.execute_unprepared(&sql).await })
            })
            .join();
            if let Ok(Err(e)) = dropped {
                eprintln!("warning: could not drop test database {}: {e}", self.url);
            }
        }
    }
}

fn admin(kind: Kind) -> Db {
    static POSTGRES: OnceLock<Db> = OnceLock::new();
    static MYSQL: OnceLock<Db> = OnceLock::new();
    let cell = match kind {
        Kind::Postgres => &POSTGRES,
        Kind::Mysql => &MYSQL,
        Kind::Sqlite => unreachable!("SQLite needs no admin connection"),
    };
    cell.get_or_init(|| {
        let url = kind.server_url().expect("server URL");
        // Pools live on duetto's home runtime, so this one outlives the test that made it.
        std::thread::spawn(move || Db::connect_blocking(&url))
            .join()
            .unwrap()
            .unwrap_or_else(|e| panic!("{} admin connection: {e}", kind.name()))
    })
    .clone()
}

/// `server`'s URL with its database path replaced by `name`.
pub fn url_with_database(server: &str, name: &str) -> String {
    let mut url = url::Url::parse(server).expect("server URL parses");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

fn unique_name() -> String {
    format!("duetto_t_{}", uuid::Uuid::new_v4().simple())
}

/// A fresh, empty database (no tables).
pub async fn empty(kind: Kind) -> TestDb {
    match kind {
        Kind::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
            let db = Db::connect(&url).await.unwrap();
            TestDb {
                kind,
                db,
                url,
                cleanup: Cleanup::File(dir),
            }
        }
        Kind::Postgres | Kind::Mysql => {
            let admin = admin(kind);
            let name = unique_name();
            let create = match kind {
                Kind::Postgres => format!("CREATE DATABASE \"{name}\""),
                _ => format!("CREATE DATABASE `{name}`"),
            };
            admin
                .arun(move |conn| async move { conn.execute_unprepared(&create).await })
                .await
                .unwrap_or_else(|e| panic!("create {} database: {e}", kind.name()));
            let url = url_with_database(&kind.server_url().unwrap(), &name);
            let db = Db::connect(&url).await.unwrap();
            TestDb {
                kind,
                db,
                url,
                cleanup: Cleanup::Drop { admin, name },
            }
        }
    }
}

/// A fresh database with the demo schema migrated.
pub async fn migrated(kind: Kind) -> TestDb {
    let t = empty(kind).await;
    t.db.arun(|conn| async move { Migrator::up(&conn, None).await })
        .await
        .unwrap_or_else(|e| panic!("migrate {}: {e}", kind.name()));
    t
}

/// Blocking twin of [`empty`], for sync tests.
pub fn empty_blocking(kind: Kind) -> TestDb {
    duetto::bridge::async_to_sync(empty(kind)).unwrap()
}

/// Blocking twin of [`migrated`], for sync tests.
pub fn migrated_blocking(kind: Kind) -> TestDb {
    duetto::bridge::async_to_sync(migrated(kind)).unwrap()
}
