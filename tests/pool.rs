//! duetto's pool: clean connections come back without a round trip and are reused at once, the
//! connection limit holds under load, and closing a pool with hot connections does not hang.

mod common;

use std::time::Duration;

use common::server_backends;
use duetto::prelude::*;
use duetto::testing::LatencyProxy;
use duetto::{ConnectOptions, Db};

async fn watchdog<T>(what: &str, body: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(60), body)
        .await
        .unwrap_or_else(|_| panic!("watchdog: {what} did not finish in 60 s (deadlock?)"))
}

fn upstream(url: &str) -> String {
    let url = url::Url::parse(url).unwrap();
    format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    )
}

/// Behind 20 ms of latency each way, a connection tested on release (sqlx's own behaviour) is
/// unavailable for one more round trip, so back-to-back serial calls would need a second
/// connection. duetto's clean connections are back at once: one connection serves them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_calls_reuse_one_connection_without_a_release_round_trip() {
    for kind in server_backends() {
        let t = common::migrated(kind).await;
        let proxy = LatencyProxy::start(&upstream(&t.url), Duration::from_millis(20))
            .await
            .unwrap();
        let url = proxy.url_for(&t.url).unwrap();
        let db = Db::connect_with(ConnectOptions::new(&url).max_connections(8))
            .await
            .unwrap();
        // Let the connection that connecting opened settle back into the pool.
        for _ in 0..100 {
            let status = db.pool_status();
            if status.idle as u32 == status.open {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let users = entity::user::Entity::objects().using(&db);
        watchdog("serial calls", async {
            for _ in 0..10 {
                users.acount().await.unwrap();
            }
        })
        .await;
        assert_eq!(
            db.pool_status().open,
            1,
            "{kind:?}: a released connection was not available to the next call at once"
        );
        db.close().await.unwrap();
        proxy.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_under_load_and_close_does_not_hang() {
    for kind in common::backends() {
        let t = common::migrated(kind).await;
        let db = Db::connect_with(ConnectOptions::new(&t.url).max_connections(3))
            .await
            .unwrap();
        let users = entity::user::Entity::objects().using(&db);
        let calls = (0..200).map(|_| users.acount());
        let results = watchdog(
            "200 concurrent calls",
            futures_util::future::join_all(calls),
        )
        .await;
        assert!(results.iter().all(Result::is_ok), "{kind:?}");
        assert!(
            db.pool_status().open <= 3,
            "{kind:?}: {:?}",
            db.pool_status()
        );
        // Hot connections are handed back to sqlx, whose close waits for every one it lent.
        watchdog("close", db.close()).await.unwrap();
        assert!(
            users.acount().await.is_err(),
            "{kind:?}: a closed pool still answered"
        );
    }
}

/// Statements given to `ConnectOptions::warm_up` are prepared on each connection as it opens,
/// with the parameter types later calls bind; a statement that fails fails the connect instead
/// of a later request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_open_with_their_statements_prepared() {
    use duetto::sea_orm::sea_query::Expr;
    use duetto::sea_orm::ColumnTrait;
    for kind in server_backends() {
        let t = common::migrated(kind).await;
        let warm = entity::user::Entity::objects().filter(entity::user::Column::Id.eq(1));
        let sample = entity::user::Entity::objects()
            .filter(entity::user::Column::Id.eq(0))
            .statement(kind.backend());
        let db = Db::connect_with(
            ConnectOptions::new(&t.url)
                .max_connections(2)
                .warm_up(sample),
        )
        .await
        .unwrap();
        let users = entity::user::Entity::objects().using(&db);
        entity::user::Entity::objects()
            .using(&t.db)
            .acreate(entity::user::ActiveModel {
                name: duetto::sea_orm::Set("warm".into()),
                email: duetto::sea_orm::Set("warm@example.com".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(warm.clone().using(&db).alist().await.unwrap().len(), 1);
        if kind == common::Kind::Postgres {
            // The session's prepared statements include it: prepared when the connection opened.
            let prepared = users
                .filter(Expr::cust(
                    "EXISTS (SELECT 1 FROM pg_prepared_statements WHERE statement LIKE '%\"user\".\"id\" = $1')",
                ))
                .aexists()
                .await
                .unwrap();
            assert!(prepared, "the statement was not prepared on the connection");
        }
        let broken = Db::connect_with(ConnectOptions::new(&t.url).warm_up(
            duetto::sea_orm::Statement::from_string(
                kind.backend(),
                "SELECT no_such_column FROM no_such_table",
            ),
        ))
        .await;
        assert!(
            matches!(broken, Err(duetto::Error::Connect { .. })),
            "{kind:?}: {broken:?}"
        );
    }
}

/// `Db::arun` lends SeaORM's own handle under the pool's accounting: mixed with querysets on a
/// pool of two, no call waits while a connection sits idle in duetto's cache (the outside
/// suite saw 24 of 25 `arun` calls time out after 30 s, and a lone one afterwards too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arun_and_ping_share_the_pool_with_querysets() {
    use duetto::sea_orm::{ConnectionTrait, Statement};
    for kind in common::backends() {
        let t = common::migrated(kind).await;
        let db = Db::connect_with(
            ConnectOptions::new(&t.url)
                .max_connections(2)
                .acquire_timeout(Duration::from_secs(10)),
        )
        .await
        .unwrap();
        let users = entity::user::Entity::objects().using(&db);
        let backend = db.backend();
        let arun = |db: Db| async move {
            db.arun(move |conn| async move {
                conn.query_one_raw(Statement::from_string(backend, "SELECT 1"))
                    .await
                    .map(|row| row.is_some())
            })
            .await
        };
        let counts = (0..25).map(|_| {
            let users = users.clone();
            tokio::spawn(async move { users.acount().await.map(drop) })
        });
        let aruns = (0..25).map(|_| tokio::spawn(arun(db.clone())));
        let pings = (0..10).map(|_| {
            let db = db.clone();
            tokio::spawn(async move { db.aping().await })
        });
        let (counts, aruns, pings) = watchdog(
            "arun mixed with querysets",
            futures_util::future::join3(
                futures_util::future::join_all(counts),
                futures_util::future::join_all(aruns),
                futures_util::future::join_all(pings),
            ),
        )
        .await;
        for result in counts {
            result
                .unwrap()
                .unwrap_or_else(|e| panic!("{kind:?}: a count failed: {e}"));
        }
        for result in aruns {
            assert!(result
                .unwrap()
                .unwrap_or_else(|e| panic!("{kind:?}: arun failed: {e}")));
        }
        for result in pings {
            result
                .unwrap()
                .unwrap_or_else(|e| panic!("{kind:?}: aping failed: {e}"));
        }
        // A lone call of each kind afterwards answers at once.
        let lone = tokio::time::timeout(Duration::from_secs(5), async {
            arun(db.clone()).await.unwrap();
            users.acount().await.unwrap();
            db.aping().await.unwrap();
        });
        lone.await
            .unwrap_or_else(|_| panic!("{kind:?}: a lone call waited after the mixed load"));
        let status = db.pool_status();
        assert!(
            status.open <= 2 && status.idle as u32 <= status.open,
            "{kind:?}: {status:?}"
        );
        db.close().await.unwrap();
    }
}
