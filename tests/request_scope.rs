//! Request scopes on every backend: serial calls reuse one connection, concurrency is kept, the
//! connection goes back on cancel, the scope joins across the bridge and hosts transactions.
//! Every test runs under a watchdog.

mod common;

use std::future::Future;
use std::time::Duration;

use common::{backends, Kind, TestDb};
use duetto::prelude::*;
use duetto::sea_orm::sea_query::Expr;
use duetto::sea_orm::{ColumnTrait, Set};
use duetto::{ConnectOptions, Db, PoolStatus};
use entity::user;

fn users(db: &Db) -> QuerySet<user::Entity> {
    user::Entity::objects().using(db)
}

fn new_user(name: &str) -> user::ActiveModel {
    user::ActiveModel {
        name: Set(name.to_owned()),
        email: Set(format!("{name}@example.com")),
        ..Default::default()
    }
}

async fn watchdog<T>(what: &str, body: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), body)
        .await
        .unwrap_or_else(|_| panic!("watchdog: {what} did not finish in 30 s (deadlock?)"))
}

/// A pool of its own on the test database, so connection counts start at zero.
async fn own_pool(t: &TestDb) -> Db {
    Db::connect_with(
        ConnectOptions::new(&t.url)
            .max_connections(6)
            .min_connections(0),
    )
    .await
    .unwrap()
}

/// Waits (up to 5 s) until every open connection is idle in the pool again.
async fn all_idle(db: &Db, context: &str) -> PoolStatus {
    for _ in 0..100 {
        let status = db.pool_status();
        if status.idle as u32 == status.open {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{context}: connections still checked out: {:?}",
        db.pool_status()
    );
}

/// A session-level marker (PostgreSQL setting, MySQL user variable) set by one statement's filter
/// and checked by a later one's: the later statement sees it only on the same connection.
/// SQLite has no session state to read back.
fn session_marker(kind: Kind) -> Option<(Expr, Expr)> {
    match kind {
        Kind::Postgres => Some((
            Expr::cust("set_config('duetto.request', 'r1', false) = 'r1'"),
            Expr::cust("current_setting('duetto.request', true) = 'r1'"),
        )),
        Kind::Mysql => Some((
            Expr::cust("(@duetto_request := 'r1') = 'r1'"),
            Expr::cust("@duetto_request = 'r1'"),
        )),
        Kind::Sqlite => None,
    }
}

/// Waits (up to 5 s) until exactly one connection is checked out: the one the scope keeps
/// (sqlx's pool may hold another one briefly while it takes it back).
async fn exactly_one_kept(db: &Db, context: &str) {
    for _ in 0..100 {
        let status = db.pool_status();
        if status.open - status.idle as u32 == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{context}: expected one connection kept by the scope: {:?}",
        db.pool_status()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serial_calls_in_a_request_scope_reuse_one_connection() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let db = own_pool(&t).await;
        users(&db).acreate(new_user("first")).await.unwrap();
        let marker = session_marker(kind);
        watchdog(
            "request scope",
            duetto::arequest_scope(async {
                if let Some((set, _)) = &marker {
                    users(&db).filter(set.clone()).acount().await?;
                }
                for i in 0..10 {
                    users(&db).acreate(new_user(&format!("u{i}"))).await?;
                    users(&db).acount().await?;
                    users(&db).filter(user::Column::Id.gt(0)).alist().await?;
                    // The scope keeps its connection between calls: checked out, not idle.
                    exactly_one_kept(&db, &format!("{kind:?}: between calls")).await;
                }
                if let Some((_, check)) = &marker {
                    let seen = users(&db).filter(check.clone()).acount().await?;
                    assert_eq!(seen, 11, "{kind:?}: a later call ran on another connection");
                }
                duetto::Result::<()>::Ok(())
            }),
        )
        .await
        .unwrap();
        all_idle(&db, &format!("{kind:?}: after the scope")).await;
        assert_eq!(users(&db).acount().await.unwrap(), 11);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_in_a_request_scope_still_run_at_once() {
    for kind in backends() {
        if kind == Kind::Sqlite {
            continue; // no server-side sleep to hold statements open at the same time
        }
        let t = common::migrated(kind).await;
        let db = own_pool(&t).await;
        users(&db).acreate(new_user("one")).await.unwrap();
        let sleepy = match kind {
            Kind::Postgres => "pg_sleep(0.3) IS NOT NULL",
            _ => "SLEEP(0.3) = 0",
        };
        let opened = watchdog(
            "concurrent calls",
            duetto::arequest_scope(async {
                let qs = users(&db).filter(Expr::cust(sleepy));
                let (a, b, c) = tokio::try_join!(qs.acount(), qs.aexists(), qs.alist())?;
                assert_eq!((a, b, c.len()), (1, true, 1));
                duetto::Result::<u32>::Ok(db.pool_status().open)
            }),
        )
        .await
        .unwrap();
        // Three statements were in flight at once, each on a connection of its own.
        assert!(
            opened >= 3,
            "{kind:?}: only {opened} connection(s) for 3 concurrent calls"
        );
        all_idle(&db, &format!("{kind:?}: after the scope")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_request_scope_gives_its_connection_back() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let db = own_pool(&t).await;
        // Cancelled while the scope keeps an idle connection between calls.
        let cancelled = tokio::time::timeout(
            Duration::from_millis(300),
            duetto::arequest_scope(async {
                users(&db).acount().await.unwrap();
                std::future::pending::<()>().await
            }),
        )
        .await;
        assert!(cancelled.is_err());
        all_idle(&db, &format!("{kind:?}: after a cancelled scope")).await;
        // Cancelled mid-statement: the interrupted connection is closed, not kept or pooled.
        for micros in [50, 200, 1_000, 5_000] {
            let _ = tokio::time::timeout(
                Duration::from_micros(micros),
                duetto::arequest_scope(users(&db).acreate(new_user(&format!("c{micros}")))),
            )
            .await;
        }
        all_idle(&db, &format!("{kind:?}: after cancelled statements")).await;
        let n = watchdog(
            "calls after cancellation",
            duetto::arequest_scope(async {
                users(&db).acreate(new_user("after")).await?;
                users(&db).acount().await
            }),
        )
        .await
        .unwrap();
        assert!(n >= 1, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_scope_joins_across_the_bridge_and_hosts_transactions() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let db = own_pool(&t).await;
        users(&db).acreate(new_user("first")).await.unwrap();
        let marker = session_marker(kind);
        watchdog(
            "bridged calls",
            duetto::arequest_scope(async {
                if let Some((set, _)) = &marker {
                    users(&db).filter(set.clone()).acount().await?;
                }
                for i in 0..5 {
                    let qs = users(&db);
                    let name = format!("s{i}");
                    // Blocking calls in sync_to_async join the scope through the bridge.
                    sync_to_async(move || qs.create(new_user(&name))).await?;
                    exactly_one_kept(&db, &format!("{kind:?}: after sync_to_async")).await;
                }
                // A transaction inside the scope runs on the kept connection.
                db.aatomic(async {
                    users(&db).acreate(new_user("in_txn")).await?;
                    duetto::Result::Ok(())
                })
                .await?;
                exactly_one_kept(&db, &format!("{kind:?}: after a transaction")).await;
                if let Some((_, check)) = marker {
                    let qs = users(&db).filter(check);
                    let seen = sync_to_async(move || qs.count()).await?;
                    assert_eq!(
                        seen, 7,
                        "{kind:?}: the bridged call ran on another connection"
                    );
                }
                duetto::Result::<()>::Ok(())
            }),
        )
        .await
        .unwrap();
        all_idle(&db, &format!("{kind:?}: after the scope")).await;
        assert_eq!(users(&db).acount().await.unwrap(), 7);
    }
}

#[test]
fn the_blocking_voice_reuses_one_connection_too() {
    for kind in backends() {
        let t = common::migrated_blocking(kind);
        let url = t.url.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let db =
                Db::connect_with_blocking(ConnectOptions::new(&url).max_connections(6)).unwrap();
            users(&db).create(new_user("first")).unwrap();
            let marker = session_marker(kind);
            let seen = duetto::request_scope(|| {
                if let Some((set, _)) = &marker {
                    users(&db).filter(set.clone()).count().unwrap();
                }
                for i in 0..5 {
                    users(&db).create(new_user(&format!("b{i}"))).unwrap();
                    assert_eq!(users(&db).count().unwrap(), i + 2);
                }
                marker.map(|(_, check)| users(&db).filter(check).count().unwrap())
            });
            let _ = tx.send(seen);
        });
        let seen = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("watchdog: the blocking request scope did not finish in 30 s");
        let expected = (kind != Kind::Sqlite).then_some(6);
        assert_eq!(
            seen, expected,
            "{kind:?}: a blocking call ran on another connection"
        );
    }
}

/// The tower layer runs each request of the wrapped service in its own request scope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tower_layer_gives_each_request_a_request_scope() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};
    use tower_layer::Layer;
    use tower_service::Service;

    /// A service whose requests make serial calls and report the connections in use meanwhile.
    #[derive(Clone)]
    struct Handler(Db);

    impl Service<()> for Handler {
        type Response = u32;
        type Error = duetto::Error;
        type Future = Pin<Box<dyn Future<Output = duetto::Result<u32>> + Send>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<duetto::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, (): ()) -> Self::Future {
            let db = self.0.clone();
            Box::pin(async move {
                users(&db).acount().await?;
                users(&db).acount().await?;
                exactly_one_kept(&db, "inside a layered request").await;
                let status = db.pool_status();
                Ok(status.open - status.idle as u32)
            })
        }
    }

    for kind in backends() {
        let t = common::migrated(kind).await;
        let db = own_pool(&t).await;
        let mut service = duetto::request::RequestScopeLayer::new().layer(Handler(db.clone()));
        for _ in 0..3 {
            let in_use = watchdog("layered request", service.call(())).await.unwrap();
            assert_eq!(in_use, 1, "{kind:?}");
            all_idle(&db, &format!("{kind:?}: after a layered request")).await;
        }
    }
}

/// Regression: a request scope kept its idle connection in its slot while its concurrent
/// statements waited on an exhausted pool, so enough concurrent requests (each holding one idle
/// connection, each waiting for another) stalled until the acquire timeout. Found by running wrk
/// against the Conduit example.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_with_concurrent_statements_never_wait_on_each_others_idle_connections()
{
    for kind in backends() {
        let t = common::migrated(kind).await;
        let db = Db::connect_with(ConnectOptions::new(&t.url).max_connections(2))
            .await
            .unwrap();
        users(&db).acreate(new_user("someone")).await.unwrap();
        watchdog(
            &format!("{kind:?}: 16 request scopes × 3 concurrent statements on 2 connections"),
            async {
                let mut requests = Vec::new();
                for _ in 0..16 {
                    let db = db.clone();
                    requests.push(tokio::spawn(duetto::arequest_scope(async move {
                        for _ in 0..5 {
                            // A serial statement (leaves the connection in the slot), then three at once.
                            users(&db).acount().await.unwrap();
                            let (a, b, c) = tokio::try_join!(
                                users(&db).acount(),
                                users(&db).aexists(),
                                users(&db).alist(),
                            )
                            .unwrap();
                            assert_eq!((a, b, c.len()), (1, true, 1));
                        }
                    })));
                }
                for request in requests {
                    request.await.unwrap();
                }
            },
        )
        .await;
        db.close().await.unwrap();
    }
}
