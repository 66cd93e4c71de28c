//! Connecting: from sync and async code, across runtimes, shared in-memory SQLite, bad URLs,
//! the registry, and migrations on every backend.

mod common;

use std::time::{Duration, Instant};

use common::{backends, server_backends, Kind};
use duetto::sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use duetto::{ConnectOptions, Db, Error};
use migration::{Migrator, MigratorTrait};

async fn count_rows(db: &Db, table: &'static str) -> i64 {
    let backend = db.backend();
    db.arun(move |conn| async move {
        let row = conn
            .query_one_raw(Statement::from_string(
                backend,
                format!("SELECT COUNT(*) AS n FROM {table}"),
            ))
            .await?
            .expect("COUNT returns a row");
        row.try_get::<i64>("", "n")
    })
    .await
    .unwrap()
}

#[test]
fn connects_from_plain_sync_main_on_every_backend() {
    for kind in backends() {
        let t = common::empty_blocking(kind);
        let db = Db::connect_blocking(&t.url).unwrap();
        assert_eq!(db.backend(), kind.backend());
        db.ping().unwrap();
        db.close_blocking().unwrap();
    }
}

#[tokio::test(flavor = "current_thread")]
async fn connects_from_a_current_thread_runtime() {
    for kind in backends() {
        let t = common::empty(kind).await;
        let db = Db::connect(&t.url).await.unwrap();
        db.aping().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connects_from_a_multi_thread_runtime() {
    for kind in backends() {
        let t = common::empty(kind).await;
        let db = Db::connect(&t.url).await.unwrap();
        db.aping().await.unwrap();
    }
}

/// The classic failure: a pool made inside one runtime breaks once that runtime is gone. duetto's
/// pools live on its home runtime, so they keep working, including opening new connections.
#[test]
fn pool_outlives_the_runtime_that_connected_it() {
    for kind in backends() {
        let t = common::empty_blocking(kind);
        let url = t.url.clone();
        let short_lived = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let db = short_lived.block_on(async {
            let db = Db::connect_with(ConnectOptions::new(&url).max_connections(4))
                .await
                .unwrap();
            // Make the pool open all its connections while this runtime drives it.
            let pings = (0..16).map(|_| db.aping());
            for result in futures_util::future::join_all(pings).await {
                result.unwrap();
            }
            db
        });
        drop(short_lived);

        db.ping().unwrap();
        let another = tokio::runtime::Runtime::new().unwrap();
        another.block_on(async {
            // The connections opened under the dead runtime must still work.
            let pings = (0..16).map(|_| db.aping());
            for result in futures_util::future::join_all(pings).await {
                result.unwrap();
            }
        });
    }
}

#[test]
fn in_memory_sqlite_is_one_database_across_the_pool() {
    let db = Db::connect_blocking("sqlite::memory:").unwrap();
    db.run(|conn| async move {
        conn.execute_unprepared("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT)")
            .await?;
        // Hold one pooled connection in a transaction while another commits a row through
        // the pool: the held connection must see it.
        let held = conn.begin().await?;
        conn.execute_unprepared("INSERT INTO item (name) VALUES ('from another connection')")
            .await?;
        let row = held
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                "SELECT name FROM item",
            ))
            .await?
            .expect("the committed row is visible to the other connection");
        held.commit().await?;
        row.try_get::<String>("", "name")
    })
    .map(|name| assert_eq!(name, "from another connection"))
    .unwrap();

    // And it is not shared with a second, unrelated in-memory database.
    let other = Db::connect_blocking("sqlite::memory:").unwrap();
    let err = other
        .run(|conn| async move { conn.execute_unprepared("SELECT * FROM item").await })
        .unwrap_err();
    assert!(err.to_string().contains("no such table"), "{err}");
}

#[tokio::test]
async fn in_memory_sqlite_survives_idle_pool() {
    // The memory database lives as long as one connection does; the pool keeps one.
    let db = Db::connect("sqlite::memory:").await.unwrap();
    db.arun(|conn| async move { conn.execute_unprepared("CREATE TABLE t (x INTEGER)").await })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(count_rows(&db, "t").await, 0);
}

#[test]
fn sqlite_files_use_wal_and_a_real_pool() {
    let t = common::empty_blocking(Kind::Sqlite);
    let mode =
        t.db.run(|conn| async move {
            let row = conn
                .query_one_raw(Statement::from_string(
                    conn.get_database_backend(),
                    "PRAGMA journal_mode",
                ))
                .await?
                .unwrap();
            row.try_get_by_index::<String>(0)
        })
        .unwrap();
    assert_eq!(mode.to_lowercase(), "wal");
    let max =
        t.db.run(|conn| async move {
            Ok::<_, duetto::sea_orm::DbErr>(
                conn.get_sqlite_connection_pool()
                    .options()
                    .get_max_connections(),
            )
        })
        .unwrap();
    assert!(
        max > 1,
        "SQLite pool should allow parallel readers, got {max}"
    );
}

#[tokio::test]
async fn malformed_urls_are_invalid_url_errors() {
    for url in ["", "not a url", "postgres://", "mysql://:3306/db"] {
        let err = Db::connect(url).await.unwrap_err();
        assert!(
            matches!(err, Error::InvalidUrl { .. }),
            "{url:?} gave {err:?}"
        );
    }
}

#[tokio::test]
async fn unknown_schemes_are_unsupported_backend_errors() {
    for url in [
        "oracle://scott:tiger@db/orcl",
        "redis://127.0.0.1:6379",
        "http://x/y",
    ] {
        let err = Db::connect(url).await.unwrap_err();
        match &err {
            Error::UnsupportedBackend { scheme, .. } => {
                assert!(url.starts_with(scheme.as_str()), "{scheme} vs {url}")
            }
            other => panic!("{url:?} gave {other:?}"),
        }
        assert!(!err.to_string().contains("tiger"), "password leaked: {err}");
    }
}

#[tokio::test]
async fn refused_connections_fail_within_the_connect_timeout() {
    let timeout = Duration::from_secs(2);
    for url in [
        "postgres://postgres:secret@127.0.0.1:1/test",
        "mysql://root:secret@127.0.0.1:1/test",
    ] {
        let started = Instant::now();
        let err = Db::connect_with(ConnectOptions::new(url).connect_timeout(timeout))
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{url}: {err:?}");
        assert!(
            started.elapsed() < timeout + Duration::from_secs(2),
            "{url} took {:?}",
            started.elapsed()
        );
        assert!(
            !err.to_string().contains("secret"),
            "password leaked: {err}"
        );
    }
}

#[tokio::test]
async fn a_wrong_database_name_is_a_connect_error() {
    for kind in server_backends() {
        let url = common::url_with_database(&kind.server_url().unwrap(), "duetto_no_such_db");
        let err =
            Db::connect_with(ConnectOptions::new(&url).connect_timeout(Duration::from_secs(5)))
                .await
                .unwrap_err();
        assert!(matches!(err, Error::Connect { .. }), "{kind:?}: {err:?}");
        assert!(
            err.to_string().contains("duetto_no_such_db"),
            "message should name the database: {err}"
        );
    }
    // SQLite: a file in a directory that does not exist.
    let err = Db::connect("sqlite:///duetto/no/such/dir/app.db?mode=rwc")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[test]
fn blocking_connect_refuses_inside_async_code() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let err = rt
        .block_on(async { Db::connect_blocking("sqlite::memory:") })
        .unwrap_err();
    match err {
        Error::SynchronousOnlyOperation { operation } => assert_eq!(operation, "connect_blocking"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn registry_resolves_aliases() {
    let db = Db::connect_blocking("sqlite::memory:").unwrap();
    let alias = format!("replica-{}", uuid::Uuid::new_v4());
    assert!(duetto::register(alias.clone(), db).is_none());
    let found = duetto::db(&alias).unwrap();
    assert_eq!(found.alias(), alias);
    found.ping().unwrap();
    assert!(duetto::unregister(&alias).is_some());
    match duetto::db(&alias).unwrap_err() {
        Error::NoDatabase { alias: missing } => assert_eq!(missing, alias),
        other => panic!("{other:?}"),
    }
}

#[test]
fn closed_databases_refuse_queries() {
    let db = Db::connect_blocking("sqlite::memory:").unwrap();
    db.close_blocking().unwrap();
    assert!(db.ping().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_go_up_down_and_up_again_on_every_backend() {
    let tables = ["user", "post", "comment", "order", "notification"];
    for kind in backends() {
        let t = common::empty(kind).await;
        let db = &t.db;
        db.arun(|conn| async move { Migrator::up(&conn, None).await })
            .await
            .unwrap();
        for table in tables {
            assert!(has_table(db, table).await, "{kind:?}: {table} after up");
        }
        db.arun(|conn| async move { Migrator::down(&conn, None).await })
            .await
            .unwrap();
        for table in tables {
            assert!(!has_table(db, table).await, "{kind:?}: {table} after down");
        }
        db.arun(|conn| async move { Migrator::up(&conn, None).await })
            .await
            .unwrap();
        for table in tables {
            assert!(
                has_table(db, table).await,
                "{kind:?}: {table} after up again"
            );
        }
        let applied = db
            .arun(|conn| async move { Migrator::get_applied_migrations(&conn).await })
            .await
            .unwrap();
        assert_eq!(applied.len(), Migrator::migrations().len());
    }
}

async fn has_table(db: &Db, table: &'static str) -> bool {
    db.arun(move |conn| async move { migration::SchemaManager::new(&conn).has_table(table).await })
        .await
        .unwrap()
}

#[tokio::test]
async fn schema_enforces_unique_email_and_foreign_keys() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let insert_user = "INSERT INTO \"user\" (name, email) VALUES ('a', 'a@example.com')";
        let insert_user = match kind {
            Kind::Mysql => insert_user.replace('"', "`"),
            _ => insert_user.to_owned(),
        };
        let again = insert_user.clone();
        t.db.arun(move |conn| async move { conn.execute_unprepared(&insert_user).await })
            .await
            .unwrap();
        assert!(
            t.db.arun(move |conn| async move { conn.execute_unprepared(&again).await })
                .await
                .is_err(),
            "{kind:?}: duplicate email accepted"
        );
        assert!(
            t.db.arun(|conn| async move {
                conn.execute_unprepared(
                    "INSERT INTO post (user_id, title, body) VALUES (424242, 't', 'b')",
                )
                .await
            })
            .await
            .is_err(),
            "{kind:?}: dangling foreign key accepted"
        );
        assert_eq!(count_rows(&t.db, "post").await, 0);
    }
}
