//! The sync↔async bridge: where blocking is allowed, nesting, panics, cancellation, scale.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Barrier};
use std::thread::{self, ThreadId};
use std::time::Duration;

use duetto::bridge::{
    async_to_sync, check_sync_allowed, in_async_context, spawn, sync_to_async,
    sync_to_async_thread_sensitive,
};
use duetto::Error;
use futures_util::FutureExt;
use tokio::runtime::{Builder, Runtime};
use tokio::task::LocalSet;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flavor {
    CurrentThread,
    MultiThread,
}

fn runtime(flavor: Flavor) -> Runtime {
    match flavor {
        Flavor::CurrentThread => Builder::new_current_thread().enable_all().build(),
        Flavor::MultiThread => Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    }
    .unwrap()
}

/// What the guard and `async_to_sync` report in one context.
#[derive(Debug, PartialEq)]
struct Observed {
    in_async: bool,
    guard_ok: bool,
    bridge: Result<u32, String>,
}

fn observe() -> Observed {
    Observed {
        in_async: in_async_context(),
        guard_ok: check_sync_allowed("get").is_ok(),
        bridge: match async_to_sync(async { 7 }) {
            Ok(v) => Ok(v),
            Err(Error::SynchronousOnlyOperation { operation }) => Err(operation.to_owned()),
            Err(other) => panic!("unexpected error: {other:?}"),
        },
    }
}

fn allowed() -> Observed {
    Observed {
        in_async: false,
        guard_ok: true,
        bridge: Ok(7),
    }
}

fn refused() -> Observed {
    Observed {
        in_async: true,
        guard_ok: false,
        bridge: Err("async_to_sync".to_owned()),
    }
}

/// Every context of DESIGN §4 × both runtime flavours, and what must happen there.
#[test]
fn guard_allows_exactly_the_sync_contexts() {
    assert_eq!(observe(), allowed(), "plain thread");

    for flavor in [Flavor::CurrentThread, Flavor::MultiThread] {
        let rt = runtime(flavor);
        let case = |name: &str, got: Observed, want: Observed| {
            assert_eq!(got, want, "{name} on {flavor:?}");
        };

        case("block_on body", rt.block_on(async { observe() }), refused());
        case(
            "spawned task",
            rt.block_on(async { tokio::spawn(async { observe() }).await.unwrap() }),
            refused(),
        );
        case(
            "task after an await point",
            rt.block_on(async {
                tokio::spawn(async {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    observe()
                })
                .await
                .unwrap()
            }),
            refused(),
        );
        case(
            "LocalSet task",
            rt.block_on(async {
                LocalSet::new()
                    .run_until(async { tokio::task::spawn_local(async { observe() }).await })
                    .await
                    .unwrap()
            }),
            refused(),
        );
        case(
            "LocalSet::block_on body",
            LocalSet::new().block_on(&rt, async { observe() }),
            refused(),
        );
        case(
            "spawn_blocking",
            rt.block_on(async { tokio::task::spawn_blocking(observe).await.unwrap() }),
            allowed(),
        );
        case(
            "sync_to_async",
            rt.block_on(async { sync_to_async(observe).await }),
            allowed(),
        );
        case(
            "sync_to_async_thread_sensitive",
            rt.block_on(async { sync_to_async_thread_sensitive(observe).await }),
            allowed(),
        );
        case(
            "thread that entered the runtime",
            {
                let _entered = rt.enter();
                observe()
            },
            allowed(),
        );
        if flavor == Flavor::MultiThread {
            case(
                "block_in_place in a task",
                rt.block_on(async {
                    tokio::spawn(async { tokio::task::block_in_place(observe) })
                        .await
                        .unwrap()
                }),
                allowed(),
            );
            case(
                "block_in_place in block_on",
                rt.block_on(async { tokio::task::block_in_place(observe) }),
                allowed(),
            );
        }
    }
}

#[test]
fn the_guard_probe_leaves_the_task_budget_as_it_was() {
    let rt = runtime(Flavor::CurrentThread);
    rt.block_on(async {
        for _ in 0..1_000 {
            assert!(in_async_context());
        }
        // If the probe leaked budget, the task would now be forced to yield at once.
        assert!(tokio::task::coop::has_budget_remaining());
    });
}

#[test]
fn the_error_names_the_operation_and_its_async_twin() {
    let rt = runtime(Flavor::MultiThread);
    let err = rt
        .block_on(async { check_sync_allowed("count") })
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("`count`"), "{message}");
    assert!(message.contains("`acount(..).await`"), "{message}");
    assert!(message.contains("sync_to_async"), "{message}");
}

fn here() -> ThreadId {
    thread::current().id()
}

/// sync → async → sync → async → sync → async → sync, thread-sensitive all the way: every sync
/// step runs on the original caller's thread.
#[test]
fn thread_sensitive_nesting_returns_to_the_callers_thread_at_depth_3() {
    let caller = here();
    let seen = async_to_sync(async {
        sync_to_async_thread_sensitive(|| {
            let level1 = here();
            let deeper = async_to_sync(async {
                sync_to_async_thread_sensitive(|| {
                    let level2 = here();
                    let deepest =
                        async_to_sync(async { sync_to_async_thread_sensitive(here).await })
                            .unwrap();
                    (level2, deepest)
                })
                .await
            })
            .unwrap();
            (level1, deeper.0, deeper.1)
        })
        .await
    })
    .unwrap();
    assert_eq!(seen, (caller, caller, caller));
}

/// The same chain through `bridge::spawn` at every level keeps the caller's thread.
#[test]
fn bridge_spawn_carries_the_callers_thread() {
    let caller = here();
    let seen = async_to_sync(async {
        spawn(async {
            sync_to_async_thread_sensitive(|| {
                async_to_sync(async {
                    spawn(async { sync_to_async_thread_sensitive(here).await })
                        .await
                        .unwrap()
                })
                .unwrap()
            })
            .await
        })
        .await
        .unwrap()
    })
    .unwrap();
    assert_eq!(seen, caller);

    // Raw tokio::spawn loses the context: the call lands on the dedicated thread instead.
    let lost = async_to_sync(async {
        tokio::spawn(async { sync_to_async_thread_sensitive(here).await })
            .await
            .unwrap()
    })
    .unwrap();
    assert_ne!(lost, caller);
}

/// Starting from async code on either runtime flavour: a thread-sensitive call runs on the
/// dedicated thread, and nesting below it keeps returning to that thread.
#[test]
fn nesting_from_async_code_on_both_flavours_never_deadlocks() {
    for flavor in [Flavor::CurrentThread, Flavor::MultiThread] {
        let rt = runtime(flavor);
        let (outer, inner, innermost) = rt.block_on(async {
            sync_to_async_thread_sensitive(|| {
                let outer = here();
                let (inner, innermost) = async_to_sync(async {
                    sync_to_async_thread_sensitive(|| {
                        let inner = here();
                        let innermost =
                            async_to_sync(async { sync_to_async_thread_sensitive(here).await })
                                .unwrap();
                        (inner, innermost)
                    })
                    .await
                })
                .unwrap();
                (outer, inner, innermost)
            })
            .await
        });
        assert_eq!(outer, inner, "{flavor:?}");
        assert_eq!(inner, innermost, "{flavor:?}");

        // The pool variant at depth 3 completes too.
        let depth = rt.block_on(async {
            sync_to_async(|| {
                async_to_sync(async {
                    sync_to_async(|| async_to_sync(async { sync_to_async(|| 3).await }).unwrap())
                        .await
                })
                .unwrap()
            })
            .await
        });
        assert_eq!(depth, 3, "{flavor:?}");
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

#[test]
fn a_panic_in_the_future_resumes_in_the_sync_caller() {
    let payload = catch_unwind(|| async_to_sync(async { panic!("boom in async") })).unwrap_err();
    assert_eq!(panic_message(payload), "boom in async");
    // The bridge still works afterwards.
    assert_eq!(async_to_sync(async { 1 }).unwrap(), 1);
}

#[test]
fn a_panic_in_the_closure_resumes_in_the_awaiting_task() {
    let rt = runtime(Flavor::MultiThread);
    rt.block_on(async {
        let pooled = AssertUnwindSafe(sync_to_async(|| -> u8 { panic!("boom in pool") }))
            .catch_unwind()
            .await
            .unwrap_err();
        assert_eq!(panic_message(pooled), "boom in pool");

        let sensitive = AssertUnwindSafe(sync_to_async_thread_sensitive(|| -> u8 {
            panic!("boom on thread")
        }))
        .catch_unwind()
        .await
        .unwrap_err();
        assert_eq!(panic_message(sensitive), "boom on thread");

        // The dedicated thread survived its closure's panic.
        assert_eq!(sync_to_async_thread_sensitive(|| 5).await, 5);
    });

    // And on the caller's thread inside async_to_sync.
    let payload = catch_unwind(|| {
        async_to_sync(async {
            sync_to_async_thread_sensitive(|| -> u8 { panic!("boom on caller") }).await
        })
    })
    .unwrap_err();
    assert_eq!(panic_message(payload), "boom on caller");
}

/// Occupies the dedicated thread until the returned sender is used.
fn occupy_dedicated_thread(rt: &Runtime) -> (mpsc::Sender<()>, tokio::task::JoinHandle<()>) {
    let (release, wait) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let busy = rt.spawn(sync_to_async_thread_sensitive(move || {
        started_tx.send(()).unwrap();
        wait.recv().unwrap();
    }));
    started_rx.recv().unwrap();
    (release, busy)
}

#[test]
fn dropping_the_future_before_the_closure_starts_skips_it() {
    let rt = runtime(Flavor::MultiThread);

    // Thread-sensitive: queue behind a busy dedicated thread, then drop.
    let (release, busy) = occupy_dedicated_thread(&rt);
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    rt.block_on(async {
        let pending = sync_to_async_thread_sensitive(move || flag.store(true, Ordering::SeqCst));
        // Submit it (first poll), then give up on it.
        assert!(tokio::time::timeout(Duration::from_millis(20), pending)
            .await
            .is_err());
    });
    release.send(()).unwrap();
    rt.block_on(busy).unwrap();
    // FIFO: once a later call has run, the dropped one had its turn and must have been skipped.
    rt.block_on(sync_to_async_thread_sensitive(|| ()));
    assert!(
        !ran.load(Ordering::SeqCst),
        "thread-sensitive closure ran after its future was dropped"
    );

    // Pool: a runtime with one blocking thread, kept busy.
    let rt = Builder::new_multi_thread()
        .worker_threads(1)
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let gate = Arc::new(Barrier::new(2));
    let busy_gate = gate.clone();
    let busy = rt.spawn(sync_to_async(move || {
        busy_gate.wait();
        busy_gate.wait();
    }));
    gate.wait(); // the only blocking thread is now occupied
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    rt.block_on(async {
        let pending = sync_to_async(move || flag.store(true, Ordering::SeqCst));
        assert!(tokio::time::timeout(Duration::from_millis(20), pending)
            .await
            .is_err());
    });
    gate.wait();
    rt.block_on(busy).unwrap();
    rt.block_on(sync_to_async(|| ()));
    assert!(
        !ran.load(Ordering::SeqCst),
        "pooled closure ran after its future was dropped"
    );
}

#[test]
fn dropping_the_future_after_the_closure_started_lets_it_finish() {
    let rt = runtime(Flavor::MultiThread);
    for sensitive in [false, true] {
        let finished = Arc::new(AtomicBool::new(false));
        let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
        let flag = finished.clone();
        let work = move || {
            started_tx.send(()).unwrap();
            thread::sleep(Duration::from_millis(100));
            flag.store(true, Ordering::SeqCst);
            42
        };
        rt.block_on(async {
            let call = async move {
                if sensitive {
                    sync_to_async_thread_sensitive(work).await
                } else {
                    sync_to_async(work).await
                }
            };
            tokio::select! {
                _ = call => panic!("the call cannot finish before it is dropped"),
                _ = started_rx => {}
            }
        });
        assert!(!finished.load(Ordering::SeqCst));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !finished.load(Ordering::SeqCst) {
            assert!(
                std::time::Instant::now() < deadline,
                "started closure never finished"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn a_thousand_concurrent_sync_to_async_calls_all_complete() {
    let rt = runtime(Flavor::MultiThread);
    let done = Arc::new(AtomicUsize::new(0));
    let total: u64 = rt.block_on(async {
        let calls = (0..1_000u64).map(|i| {
            let done = done.clone();
            sync_to_async(move || {
                thread::sleep(Duration::from_millis(1));
                done.fetch_add(1, Ordering::SeqCst);
                i
            })
        });
        futures_util::future::join_all(calls)
            .await
            .into_iter()
            .sum()
    });
    assert_eq!(done.load(Ordering::SeqCst), 1_000);
    assert_eq!(total, (0..1_000).sum::<u64>());
}

#[test]
fn sync_to_async_calls_run_in_parallel() {
    // Two closures that each wait for the other: they only finish if they run at the same time.
    let rt = runtime(Flavor::CurrentThread);
    let meet = Arc::new(Barrier::new(2));
    let (a, b) = (meet.clone(), meet);
    rt.block_on(async {
        tokio::join!(
            sync_to_async(move || {
                a.wait();
            }),
            sync_to_async(move || {
                b.wait();
            })
        )
    });
}

#[test]
fn async_to_sync_runs_on_the_home_runtime_from_any_thread() {
    let threads: Vec<_> = (0..8)
        .map(|i| {
            thread::spawn(move || async_to_sync(async move { (duetto::runtime::is_home(), i) }))
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        assert_eq!(t.join().unwrap().unwrap(), (true, i));
    }
}
