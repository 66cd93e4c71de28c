//! Transactions in both voices on every backend: commit, rollback, panic, cancellation,
//! savepoints, on_commit, joining across the bridge, select_for_update.

mod common;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{backends, server_backends, Kind, TestDb};
use duetto::prelude::*;
use duetto::sea_orm::prelude::Decimal;
use duetto::sea_orm::{ColumnTrait, Set};
use duetto::{AtomicOptions, Error, TransactionProblem};
use entity::{order, user};
use futures_util::FutureExt;

fn users(t: &TestDb) -> QuerySet<user::Entity> {
    user::Entity::objects().using(&t.db)
}

fn new_user(name: &str) -> user::ActiveModel {
    user::ActiveModel {
        name: Set(name.to_owned()),
        email: Set(format!("{name}@example.com")),
        ..Default::default()
    }
}

async fn count(t: &TestDb) -> u64 {
    users(t).acount().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_rollback_panic_and_drop_leave_exactly_the_expected_rows() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let db = &t.db;

        db.aatomic(async {
            users(&t).acreate(new_user("kept1")).await?;
            users(&t).acreate(new_user("kept2")).await?;
            // Reads inside the scope see its uncommitted writes.
            assert_eq!(users(&t).acount().await?, 2);
            duetto::Result::Ok(())
        })
        .await
        .unwrap();
        assert_eq!(count(&t).await, 2, "{kind:?}: commit");

        let failed: duetto::Result<()> = db
            .aatomic(async {
                users(&t).acreate(new_user("lost")).await?;
                Err(Error::other(std::io::Error::other("body failed")))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(count(&t).await, 2, "{kind:?}: rollback on Err");

        let panicked = AssertUnwindSafe(db.aatomic(async {
            users(&t).acreate(new_user("panicked")).await?;
            if users(&t).acount().await? > 0 {
                panic!("boom inside the scope");
            }
            duetto::Result::Ok(())
        }))
        .catch_unwind()
        .await;
        assert!(panicked.is_err(), "the panic resumes in the caller");
        assert_eq!(count(&t).await, 2, "{kind:?}: rollback on panic");

        let timed_out = tokio::time::timeout(
            Duration::from_millis(300),
            db.aatomic(async {
                users(&t).acreate(new_user("cancelled")).await?;
                tokio::time::sleep(Duration::from_secs(30)).await;
                duetto::Result::Ok(())
            }),
        )
        .await;
        assert!(timed_out.is_err());
        // The pool stays healthy: the cancelled transaction's connection comes back clean.
        for _ in 0..100 {
            assert_eq!(count(&t).await, 2, "{kind:?}: rollback on drop");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nested_scopes_are_savepoints() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let db = &t.db;
        db.aatomic(async {
            users(&t).acreate(new_user("outer")).await?;
            let inner: duetto::Result<()> = db
                .aatomic(async {
                    users(&t).acreate(new_user("inner")).await?;
                    Err(Error::other(std::io::Error::other("inner fails")))
                })
                .await;
            assert!(inner.is_err());
            db.aatomic(async {
                users(&t).acreate(new_user("inner_ok")).await?;
                duetto::Result::Ok(())
            })
            .await?;
            duetto::Result::Ok(())
        })
        .await
        .unwrap();
        let mut names: Vec<String> = users(&t).avalues_list([user::Column::Name]).await.unwrap();
        names.sort();
        assert_eq!(names, ["inner_ok", "outer"], "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_commit_runs_once_after_the_outermost_commit_only() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let db = &t.db;
        let runs = Arc::new(AtomicUsize::new(0));

        let r = runs.clone();
        db.aatomic(async {
            let inner_runs = r.clone();
            db.aatomic(async {
                db.on_commit(move || {
                    inner_runs.fetch_add(1, Ordering::SeqCst);
                });
                duetto::Result::Ok(())
            })
            .await?;
            assert_eq!(
                r.load(Ordering::SeqCst),
                0,
                "waits for the outermost commit"
            );
            duetto::Result::Ok(())
        })
        .await
        .unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1, "{kind:?}");

        let r = runs.clone();
        let _ = db
            .aatomic(async {
                db.on_commit(move || {
                    r.fetch_add(100, Ordering::SeqCst);
                });
                duetto::Result::<()>::Err(Error::other(std::io::Error::other("rolled back")))
            })
            .await;
        assert_eq!(
            runs.load(Ordering::SeqCst),
            1,
            "{kind:?}: never after rollback"
        );

        let r = runs.clone();
        db.on_commit(move || {
            r.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "runs at once outside a scope"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_scopes_and_bridged_calls_join_the_transaction() {
    for kind in backends() {
        let t = common::migrated(kind).await;

        // A blocking call made through sync_to_async inside an async scope joins it.
        let result: duetto::Result<()> =
            t.db.aatomic(async {
                let qs = users(&t);
                sync_to_async(move || qs.create(new_user("via_bridge")).map(|_| ())).await?;
                let qs = users(&t);
                sync_to_async_thread_sensitive(move || {
                    qs.create(new_user("via_thread")).map(|_| ())
                })
                .await?;
                assert_eq!(users(&t).acount().await?, 2);
                Err(Error::other(std::io::Error::other("roll it all back")))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(
            count(&t).await,
            0,
            "{kind:?}: bridged writes rolled back with the scope"
        );

        // The blocking voice: `atomic` on a plain thread, with helpers at any depth.
        let db = t.db.clone();
        let qs = users(&t);
        sync_to_async(move || {
            fn helper(qs: &QuerySet<user::Entity>) -> duetto::Result<()> {
                qs.create(new_user("helper"))?;
                Ok(())
            }
            db.atomic(|| {
                helper(&qs)?;
                qs.create(new_user("direct"))?;
                duetto::Result::Ok(())
            })
            .unwrap();
            let failed: duetto::Result<()> = db.atomic(|| {
                qs.create(new_user("undone"))?;
                // An async call bridged from inside the blocking scope joins it too.
                let q = qs.clone();
                async_to_sync(async move { q.acreate(new_user("undone_async")).await })??;
                Err(Error::other(std::io::Error::other("undo")))
            });
            assert!(failed.is_err());
            let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
                db.atomic(|| -> duetto::Result<()> {
                    qs.create(new_user("panics")).unwrap();
                    panic!("boom in a blocking scope")
                })
            }));
            assert!(panicked.is_err());
        })
        .await;
        let mut names: Vec<String> = users(&t).avalues_list([user::Column::Name]).await.unwrap();
        names.sort();
        assert_eq!(names, ["direct", "helper"], "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_futures_in_one_scope_share_its_transaction() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let result: duetto::Result<()> =
            t.db.aatomic(async {
                let qs = users(&t);
                let (a, b, c) = tokio::try_join!(
                    qs.acreate(new_user("a")),
                    qs.acreate(new_user("b")),
                    qs.acreate(new_user("c")),
                )?;
                assert_ne!(a.id, b.id);
                assert_ne!(b.id, c.id);
                let (n, exists) = tokio::try_join!(qs.acount(), qs.aexists())?;
                assert_eq!((n, exists), (3, true));
                Err(Error::other(std::io::Error::other("discard")))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(count(&t).await, 0, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swallowed_database_error_breaks_the_scope() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        users(&t).acreate(new_user("taken")).await.unwrap();
        let result: duetto::Result<()> =
            t.db.aatomic(async {
                users(&t).acreate(new_user("fresh")).await?;
                // The duplicate fails; the body ignores it and returns Ok.
                let _ = users(&t).acreate(new_user("taken")).await;
                Ok(())
            })
            .await;
        match result {
            Err(Error::Transaction {
                problem: TransactionProblem::Broken { reason },
                ..
            }) => assert!(reason.contains("integrity"), "{reason}"),
            other => panic!("{kind:?}: {other:?}"),
        }
        assert_eq!(
            count(&t).await,
            1,
            "{kind:?}: nothing of the broken scope was kept"
        );

        // get_or_create wraps its insert in a savepoint, so its conflict does not break the scope.
        t.db.aatomic(async {
            let outcome = users(&t)
                .aget_or_create(user::Column::Name.eq("nobody"), new_user("taken"))
                .await;
            assert!(
                matches!(outcome, Err(Error::Integrity { .. })),
                "{outcome:?}"
            );
            users(&t).acreate(new_user("after")).await?;
            duetto::Result::Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        assert_eq!(count(&t).await, 2, "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_for_update_needs_a_scope_and_a_backend_with_row_locks() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        users(&t).acreate(new_user("locked")).await.unwrap();
        let outside = users(&t).select_for_update().alist().await;
        match (kind, outside) {
            (
                Kind::Sqlite,
                Err(Error::NotSupported {
                    operation: "select_for_update",
                    ..
                }),
            ) => {}
            (
                Kind::Postgres | Kind::Mysql,
                Err(Error::Transaction {
                    problem: TransactionProblem::OutsideScope { operation },
                    ..
                }),
            ) => assert_eq!(operation, "select_for_update"),
            (_, other) => panic!("{kind:?}: {other:?}"),
        }
    }
}

/// Two concurrent scopes incrementing one counter row under `select_for_update` never lose an
/// update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_for_update_serialises_concurrent_increments() {
    const PER_WORKER: usize = 15;
    for kind in server_backends() {
        let t = common::migrated(kind).await;
        users(&t).acreate(new_user("owner")).await.unwrap();
        let counter = order::Entity::objects()
            .using(&t.db)
            .acreate(order::ActiveModel {
                user_id: Set(1),
                total: Set(Decimal::ZERO),
                status: Set("pending".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        let worker = |db: duetto::Db| async move {
            for _ in 0..PER_WORKER {
                db.aatomic(async {
                    let orders = order::Entity::objects().using(&db);
                    let row = orders
                        .clone()
                        .select_for_update()
                        .aget_pk(counter.id)
                        .await?;
                    // Widen the race window: without the lock, the other worker reads the same value.
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    let mut bump: order::ActiveModel = row.clone().into();
                    bump.total = Set(row.total + Decimal::ONE);
                    bump.asave_using(&db).await?;
                    duetto::Result::Ok(())
                })
                .await?;
            }
            Ok::<(), Error>(())
        };
        tokio::try_join!(worker(t.db.clone()), worker(t.db.clone())).unwrap();
        let total = order::Entity::objects()
            .using(&t.db)
            .aget_pk(counter.id)
            .await
            .unwrap()
            .total;
        assert_eq!(total, Decimal::from(2 * PER_WORKER as i64), "{kind:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_scopes_refuse_writes() {
    for kind in server_backends() {
        let t = common::migrated(kind).await;
        let result =
            t.db.aatomic_with(AtomicOptions::new().read_only(true), async {
                users(&t).acreate(new_user("ro")).await.map(|_| ())
            })
            .await;
        assert!(result.is_err(), "{kind:?}");
        assert_eq!(count(&t).await, 0);
    }
}

#[tokio::test]
async fn a_scope_on_a_closed_database_is_a_transaction_error() {
    let db = duetto::Db::connect("sqlite::memory:").await.unwrap();
    db.close().await.unwrap();
    match db.aatomic(async { duetto::Result::Ok(()) }).await {
        Err(Error::Transaction {
            problem: TransactionProblem::Begin,
            source: Some(_),
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn blocking_atomic_refuses_inside_async_code() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = duetto::Db::connect_blocking("sqlite::memory:").unwrap();
    let result = rt.block_on(async { db.atomic(|| duetto::Result::Ok(())) });
    assert!(matches!(
        result,
        Err(Error::SynchronousOnlyOperation {
            operation: "atomic"
        })
    ));
}
