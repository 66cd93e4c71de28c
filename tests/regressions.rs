//! Regression tests, one per defect: each asserts the behaviour a user relies on and runs under a
//! watchdog, so a deadlock fails with a message naming what hung instead of stalling the suite.
//!
//! Work that may hang runs on a pool of its own (never the harness's `t.db`), so a failed test
//! can still close `t.db` and drop its database; on MySQL the sessions of a failed test are killed
//! first (a session left idle in a transaction would make `DROP DATABASE` wait for hours).

mod common;

use std::collections::HashSet;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use common::faults::{
    blocking_watchdog, cancel_after_polls, cancel_at, close_quietly, count_emails, email_exists,
    kill_sessions_on_panic, new_user, panic_message, users, watchdog,
};
use common::{backends, Kind, TestDb};
use duetto::bridge::{async_to_sync, spawn, sync_to_async_thread_sensitive};
use duetto::prelude::*;
use duetto::sea_orm::sea_query::Expr;
use duetto::sea_orm::{ColumnTrait, IntoActiveModel, Set};
use duetto::{ConnectOptions, Db, Error};
use entity::user;
use futures_util::{FutureExt, StreamExt, TryStreamExt};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Creates `n` users `{prefix}{i}@x` on `db`; returns their ids in creation order.
async fn seed(db: &Db, prefix: &str, n: usize) -> Vec<i64> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let u = users(db)
            .acreate(new_user(&format!("{prefix}{i}@x")))
            .await
            .unwrap_or_else(|e| panic!("seeding user {i}: {e}"));
        ids.push(u.id);
    }
    ids
}

/// A fresh pool on the test database, for work that may hang.
async fn own_pool(t: &TestDb, max_connections: u32) -> Db {
    let options = ConnectOptions::new(&t.url)
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5));
    Db::connect_with(options)
        .await
        .unwrap_or_else(|e| panic!("{}: connect: {e}", t.kind.name()))
}

/// A scope's outcome, for assertion messages.
fn describe<T: std::fmt::Debug>(r: &duetto::Result<T>) -> String {
    match r {
        Ok(v) => format!("Ok({v:?})"),
        Err(e) => format!("Err({e})"),
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 2: cancelling calls while statements are in flight must not kill the pool.
// ---------------------------------------------------------------------------------------------

/// Cancels `fut` `micros` µs after it starts (precisely, or on tokio's millisecond timer) or
/// after a few wake-ups, depending on `i`. `None` when it was cancelled.
async fn cancel_somewhere<F: Future>(i: usize, micros: u64, fut: F) -> Option<F::Output> {
    match i % 4 {
        0 | 1 => cancel_at(Duration::from_micros(micros), fut).await,
        2 => tokio::time::timeout(Duration::from_micros(micros), fut)
            .await
            .ok(),
        _ => cancel_after_polls(1 + (i % 7) as u32, fut).await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_in_flight_statements_do_not_kill_the_pool() {
    for kind in common::server_backends() {
        let t = common::migrated(kind).await;
        let _kill = kill_sessions_on_panic(&t);
        let db = own_pool(&t, 1).await;
        let ids = seed(&db, "seed", 3).await;

        let acknowledged = watchdog(
            40,
            &format!("{kind:?}: cancellation loop + 50 calls"),
            async {
                let mut acknowledged = Vec::new();
                for i in 0..300usize {
                    let micros = (i as u64 * 37) % 1_501;
                    match i % 3 {
                        0 => {
                            let email = format!("c{i}@x");
                            let create = users(&db).acreate(new_user(&email));
                            if let Some(Ok(_)) = cancel_somewhere(i, micros, create).await {
                                acknowledged.push(email);
                            }
                        }
                        1 => {
                            let get = users(&db).aget_pk(ids[i % ids.len()]);
                            let _ = cancel_somewhere(i, micros, get).await;
                        }
                        _ => {
                            let _ = cancel_somewhere(i, micros, users(&db).acount()).await;
                        }
                    }
                }
                for i in 0..50usize {
                    let outcome = match i % 3 {
                        0 => {
                            let email = format!("after{i}@x");
                            let r = users(&db).acreate(new_user(&email)).await.map(|_| ());
                            if r.is_ok() {
                                acknowledged.push(email);
                            }
                            r
                        }
                        1 => users(&db).aget_pk(ids[i % ids.len()]).await.map(|_| ()),
                        _ => users(&db).acount().await.map(|_| ()),
                    };
                    if let Err(e) = outcome {
                        panic!("{kind:?}: call {i} after the cancellations failed: {e}");
                    }
                }
                acknowledged
            },
        )
        .await;

        let fresh = Db::connect(&t.url).await.unwrap();
        let visible = count_emails(&fresh, &acknowledged).await;
        assert_eq!(
            visible,
            acknowledged.len() as u64,
            "{kind:?}: every acreate that returned Ok must be visible from a fresh pool"
        );
        close_quietly(&db).await;
        close_quietly(&fresh).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 3: streaming inside a transaction must not deadlock.
// ---------------------------------------------------------------------------------------------

const STREAMED_USERS: usize = 35;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aiterator_inside_aatomic_can_write_each_row() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let _kill = kill_sessions_on_panic(&t);
        let db = own_pool(&t, 4).await;
        seed(&db, "s", STREAMED_USERS).await;

        let outcome = watchdog(
            15,
            &format!("{kind:?}: aiterator(10) inside aatomic, saving each row"),
            db.aatomic(async {
                let mut rows = users(&db).aiterator(10);
                let mut n = 0usize;
                while let Some(u) = rows.try_next().await? {
                    let renamed = format!("renamed-{}", u.id);
                    if n.is_multiple_of(2) {
                        let mut active = u.into_active_model();
                        active.name = Set(renamed);
                        active.asave_using(&db).await?;
                    } else {
                        users(&db)
                            .filter(user::Column::Id.eq(u.id))
                            .aupdate([(user::Column::Name, Expr::value(renamed))])
                            .await?;
                    }
                    n += 1;
                }
                Ok(n)
            }),
        )
        .await;
        assert_eq!(
            outcome.as_ref().ok(),
            Some(&STREAMED_USERS),
            "{kind:?}: the scope streams and updates every row, then commits; got {}",
            describe(&outcome)
        );
        let fresh = Db::connect(&t.url).await.unwrap();
        let renamed = users(&fresh)
            .filter(user::Column::Name.starts_with("renamed-"))
            .acount()
            .await
            .unwrap();
        assert_eq!(
            renamed, STREAMED_USERS as u64,
            "{kind:?}: all rows updated after commit"
        );
        close_quietly(&db).await;
        close_quietly(&fresh).await;
    }
}

#[test]
fn iterator_inside_atomic_can_save_each_row() {
    for kind in backends() {
        let t = common::migrated_blocking(kind);
        let _kill = kill_sessions_on_panic(&t);
        let url = t.url.clone();
        let outcome = blocking_watchdog(
            15,
            &format!("{kind:?}: iterator(10) inside atomic, saving each row"),
            move || {
                let db = Db::connect_blocking(&url).unwrap();
                for i in 0..STREAMED_USERS {
                    users(&db).create(new_user(&format!("s{i}@x"))).unwrap();
                }
                let outcome = db.atomic(|| {
                    let mut n = 0usize;
                    for u in users(&db).iterator(10) {
                        let u = u?;
                        let mut active = u.into_active_model();
                        active.name = Set(format!("renamed-{}", n));
                        ActiveModelExt::save_using(active, &db)?;
                        n += 1;
                    }
                    Ok(n)
                });
                let _ = db.close_blocking();
                outcome
            },
        );
        assert_eq!(
            outcome.as_ref().ok(),
            Some(&STREAMED_USERS),
            "{kind:?}: the scope iterates and saves every row, then commits; got {}",
            describe(&outcome)
        );
        let fresh = Db::connect_blocking(&t.url).unwrap();
        let renamed = users(&fresh)
            .filter(user::Column::Name.starts_with("renamed-"))
            .count()
            .unwrap();
        assert_eq!(
            renamed, STREAMED_USERS as u64,
            "{kind:?}: all rows saved after commit"
        );
        let _ = fresh.close_blocking();
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 4: a stream used inside a scope must not make the scope roll back.
// ---------------------------------------------------------------------------------------------

/// Asserts that `outcome`, the scope `what` of round `i`, is `Ok` and that the row it wrote
/// (`email`) is visible from `fresh`.
async fn assert_scope_committed<T: std::fmt::Debug>(
    kind: Kind,
    i: usize,
    what: &str,
    outcome: &duetto::Result<T>,
    fresh: &Db,
    email: &str,
) {
    assert!(
        outcome.is_ok(),
        "{kind:?} round {i}: {what} must commit; got {}",
        describe(outcome)
    );
    assert!(
        email_exists(fresh, email).await,
        "{kind:?} round {i}: the row written in the committed scope is visible"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_inside_aatomic_let_the_scope_commit() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let _kill = kill_sessions_on_panic(&t);
        let db = own_pool(&t, 4).await;
        let fresh = Db::connect(&t.url).await.unwrap();
        seed(&db, "s", 12).await;

        watchdog(20, &format!("{kind:?}: streams inside aatomic"), async {
            for i in 0..20 {
                let email = format!("full{i}@x");
                let outcome = db
                    .aatomic(async {
                        users(&db).acreate(new_user(&email)).await?;
                        let rows: Vec<user::Model> = users(&db).aiterator(5).try_collect().await?;
                        Ok(rows.len())
                    })
                    .await;
                assert_scope_committed(
                    kind,
                    i,
                    "a scope that read an aiterator fully and returned Ok",
                    &outcome,
                    &fresh,
                    &email,
                )
                .await;

                let email = format!("half{i}@x");
                let outcome = db
                    .aatomic(async {
                        users(&db).acreate(new_user(&email)).await?;
                        let mut rows = users(&db).aiterator(5);
                        let first = rows.next().await.expect("at least one row")?;
                        drop(rows); // half-read: the rest of the stream is abandoned
                        Ok(first.id)
                    })
                    .await;
                assert_scope_committed(
                    kind,
                    i,
                    "a scope that dropped a half-read aiterator and returned Ok",
                    &outcome,
                    &fresh,
                    &email,
                )
                .await;
            }
        })
        .await;
        close_quietly(&db).await;
        close_quietly(&fresh).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 5: SQLite write scopes under concurrency.
// ---------------------------------------------------------------------------------------------

/// The counter row with its name (a number) plus one.
fn incremented(row: user::Model) -> user::ActiveModel {
    let n: u64 = row.name.parse().expect("a number");
    let mut row = row.into_active_model();
    row.name = Set((n + 1).to_string());
    row
}

/// Asserts that none of the `increments` read-then-increment `scope`s failed and the counter
/// reads `increments`.
#[track_caller]
fn assert_every_increment_committed(
    scope: &str,
    failures: &[String],
    increments: usize,
    total: &str,
) {
    assert!(
        failures.is_empty(),
        "sqlite: every read-then-increment {scope} must commit; {} of {} failed (counter = {total}), \
         first: {:?}",
        failures.len(),
        increments,
        &failures[..failures.len().min(3)]
    );
    assert_eq!(total, increments.to_string(), "sqlite: no increment lost");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_aatomic_increments_all_commit() {
    const TASKS: usize = 8;
    const ROUNDS: usize = 50;
    let t = common::migrated(Kind::Sqlite).await;
    let db = t.db.clone(); // default options: a WAL file with a pool of several connections
    let counter = users(&db).acreate(new_user("counter@x")).await.unwrap();
    let mut counter = counter.into_active_model();
    counter.name = Set("0".to_owned());
    let id = counter.asave_using(&db).await.unwrap().id;

    let failures = watchdog(
        30,
        "sqlite: 8 tasks x 50 concurrent aatomic increments",
        async {
            let mut tasks = tokio::task::JoinSet::new();
            for task in 0..TASKS {
                let db = db.clone();
                tasks.spawn(async move {
                    let mut failures = Vec::new();
                    for round in 0..ROUNDS {
                        let outcome = db
                            .aatomic(async {
                                let row = users(&db).aget_pk(id).await?;
                                incremented(row).asave_using(&db).await?;
                                Ok(())
                            })
                            .await;
                        if let Err(e) = outcome {
                            failures.push(format!("task {task} round {round}: {e}"));
                        }
                    }
                    failures
                });
            }
            let mut failures = Vec::new();
            while let Some(joined) = tasks.join_next().await {
                failures.extend(joined.expect("task panicked"));
            }
            failures
        },
    )
    .await;
    let total = users(&db).aget_pk(id).await.unwrap().name;
    assert_every_increment_committed("scope", &failures, TASKS * ROUNDS, &total);
}

#[test]
fn sqlite_concurrent_atomic_increments_all_commit() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 25;
    let t = common::migrated_blocking(Kind::Sqlite);
    let db = t.db.clone();
    let mut counter = users(&db)
        .create(new_user("counter@x"))
        .unwrap()
        .into_active_model();
    counter.name = Set("0".to_owned());
    let id = ActiveModelExt::save_using(counter, &db).unwrap().id;

    let failures = blocking_watchdog(
        30,
        "sqlite: 8 threads x 25 concurrent atomic increments",
        move || {
            let threads: Vec<_> = (0..THREADS)
                .map(|thread| {
                    let db = db.clone();
                    std::thread::spawn(move || {
                        let mut failures = Vec::new();
                        for round in 0..ROUNDS {
                            let outcome = db.atomic(|| {
                                let row = users(&db).get_pk(id)?;
                                ActiveModelExt::save_using(incremented(row), &db)?;
                                Ok(())
                            });
                            if let Err(e) = outcome {
                                failures.push(format!("thread {thread} round {round}: {e}"));
                            }
                        }
                        failures
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|h| h.join().expect("thread panicked"))
                .collect::<Vec<_>>()
        },
    );
    let total = users(&t.db).get_pk(id).unwrap().name;
    assert_every_increment_committed("atomic", &failures, THREADS * ROUNDS, &total);
}

// ---------------------------------------------------------------------------------------------
// Defect 6: in_bulk on a sliced queryset.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_bulk_on_a_sliced_queryset_is_refused_not_multiplied() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let rows = (0..30).map(|i| new_user(&format!("b{i}@x")));
        users(&t.db).abulk_create(rows).await.unwrap();
        let first_five: HashSet<i64> = users(&t.db)
            .order_by_asc(user::Column::Id)
            .limit(5)
            .avalues_list::<(i64,)>([user::Column::Id])
            .await
            .unwrap()
            .into_iter()
            .map(|(id,)| id)
            .collect();

        let mut all: Vec<i64> = users(&t.db)
            .avalues_list::<(i64,)>([user::Column::Id])
            .await
            .unwrap()
            .into_iter()
            .map(|(id,)| id)
            .collect();
        all.sort();
        // 25,000 keys with the 30 existing ids spread evenly through them, so that however
        // the key list is split into statements, each part holds more than 5 existing ids.
        let keys: Vec<i64> = (0..25_000i64)
            .map(|p| match p % 833 {
                0 if ((p / 833) as usize) < all.len() => all[(p / 833) as usize],
                _ => 1_000_000 + p,
            })
            .collect();
        assert_eq!(keys.iter().filter(|k| **k < 1_000_000).count(), 30);

        let outcome = watchdog(
            20,
            &format!("{kind:?}: in_bulk with 25,000 keys"),
            users(&t.db)
                .order_by_asc(user::Column::Id)
                .limit(5)
                .ain_bulk(keys),
        )
        .await;
        match outcome {
            Err(Error::NotSupported { .. }) => {}
            Ok(found) => {
                let keys: HashSet<i64> = found.keys().copied().collect();
                assert!(
                    found.len() <= 5 && keys.is_subset(&first_five),
                    "{kind:?}: order_by(id).limit(5).in_bulk(..) returned {} rows (ids {:?}); a \
                     sliced queryset must be refused (Error::NotSupported) or honour its limit",
                    found.len(),
                    {
                        let mut ids: Vec<_> = keys.into_iter().collect();
                        ids.sort();
                        ids
                    }
                );
            }
            Err(other) => panic!(
                "{kind:?}: in_bulk on a sliced queryset should be Error::NotSupported, got {other:?}"
            ),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 7: the blocking guard answers instead of panicking, even with an unconstrained budget.
// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocking_call_in_unconstrained_async_code_is_refused_not_a_panic() {
    for kind in backends() {
        let t = common::migrated(kind).await;
        let qs = users(&t.db);

        // In a worker task…
        let on_worker = {
            let qs = qs.clone();
            tokio::spawn(async move {
                AssertUnwindSafe(tokio::task::coop::unconstrained(async { qs.count() }))
                    .catch_unwind()
                    .await
            })
        };
        let on_worker = watchdog(
            10,
            "blocking count() in an unconstrained worker task",
            on_worker,
        )
        .await
        .expect("the task itself does not panic");
        // …and in the test's own `block_on` body.
        let in_body = watchdog(
            10,
            "blocking count() in an unconstrained block_on body",
            AssertUnwindSafe(tokio::task::coop::unconstrained(async { qs.count() })).catch_unwind(),
        )
        .await;

        for (place, outcome) in [("worker task", on_worker), ("block_on body", in_body)] {
            match outcome {
                Err(panic) => panic!(
                    "{kind:?}: count() inside tokio::task::coop::unconstrained on a {place} \
                     panicked ({}) instead of returning Error::SynchronousOnlyOperation",
                    panic_message(&*panic)
                ),
                Ok(Err(Error::SynchronousOnlyOperation { operation })) => {
                    assert_eq!(
                        operation, "count",
                        "{kind:?}: the refused operation is named"
                    )
                }
                Ok(other) => panic!(
                    "{kind:?}: count() inside unconstrained async code on a {place} should be \
                     Error::SynchronousOnlyOperation, got {other:?}"
                ),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 8: a task started with bridge::spawn makes a thread-sensitive call while its caller's
// thread is nested deeper (in a thread-sensitive job that called async_to_sync again).
// ---------------------------------------------------------------------------------------------

/// From a plain thread: `async_to_sync` starts a task with `bridge::spawn`, then hands the thread
/// a thread-sensitive job that waits for the task in a nested `async_to_sync` (`depth` levels
/// deeper). Only once the job has started does the task make its own thread-sensitive call,
/// which must still be served.
fn nested_wait_for_spawned_task(depth: usize) -> i32 {
    fn wait_deeper(task: tokio::task::JoinHandle<i32>, depth: usize) -> i32 {
        if depth == 0 {
            return async_to_sync(task).unwrap().unwrap();
        }
        async_to_sync(async move {
            sync_to_async_thread_sensitive(move || wait_deeper(task, depth - 1)).await
        })
        .unwrap()
    }

    let caller = std::thread::current().id();
    async_to_sync(async move {
        let (started, job_started) = tokio::sync::oneshot::channel::<()>();
        let task = spawn(async move {
            let _ = job_started.await;
            sync_to_async_thread_sensitive(move || {
                assert_eq!(
                    std::thread::current().id(),
                    caller,
                    "the spawned task's thread-sensitive call runs on the waiting caller's thread"
                );
                42
            })
            .await
        });
        sync_to_async_thread_sensitive(move || {
            let _ = started.send(());
            wait_deeper(task, depth - 1)
        })
        .await
    })
    .unwrap()
}

#[test]
fn spawned_task_thread_sensitive_call_while_caller_waits_nested() {
    for depth in [1, 2] {
        let answer = blocking_watchdog(
            10,
            &format!(
                "bridge::spawn task's sync_to_async_thread_sensitive while its caller waits \
                 {depth} level(s) deeper in async_to_sync"
            ),
            move || nested_wait_for_spawned_task(depth),
        );
        assert_eq!(answer, 42, "depth {depth}");
    }
}

// ---------------------------------------------------------------------------------------------
// Defect 9: connecting to a closed port fails fast with the real cause.
// ---------------------------------------------------------------------------------------------

async fn assert_refused_quickly(url: &str) {
    let started = Instant::now();
    let outcome = watchdog(20, &format!("connect to {url}"), Db::connect(url)).await;
    let elapsed = started.elapsed();
    let err = match outcome {
        Ok(_) => panic!("{url}: connecting to a closed port succeeded"),
        Err(e) => e,
    };
    let mut chain = format!("{err} | {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(&format!(" | {s}"));
        source = s.source();
    }
    assert!(
        matches!(err, Error::Connect { .. }),
        "{url}: expected Error::Connect, got {err:?}"
    );
    assert!(
        chain.to_lowercase().contains("refused"),
        "{url}: the error should say the connection was refused, got: {chain}"
    );
    assert!(
        elapsed < Duration::from_secs(5),
        "{url}: a refused connection should fail at once, took {elapsed:?} ({err})"
    );
}

#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_closed_port_fails_fast_postgres() {
    assert_refused_quickly("postgres://postgres@127.0.0.1:1/x").await;
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_to_closed_port_fails_fast_mysql() {
    assert_refused_quickly("mysql://root@127.0.0.1:1/x").await;
}
