//! `DUETTO_ALLOW_ASYNC_UNSAFE=1`: the blocking `iterator()` works on a multi-thread runtime, in
//! a worker task and in the `block_on` body, instead of panicking with "Cannot block the current
//! thread from within a runtime". Its own test binary, because the variable is read once per
//! process.

mod common;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use common::backends;
use duetto::prelude::*;
use duetto::sea_orm::Set;
use entity::user;

const USERS: i64 = 7;

async fn watchdog<T>(secs: u64, what: &str, body: impl Future<Output = T>) -> T {
    let mut body = Box::pin(body);
    match tokio::time::timeout(Duration::from_secs(secs), body.as_mut()).await {
        Ok(value) => value,
        Err(_) => {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(body)));
            panic!("watchdog: {what} did not finish in {secs} s (deadlock?)")
        }
    }
}

/// Iterates `qs.iterator(2)` (blocking), turning a panic into a message.
fn blocking_ids(qs: &QuerySet<user::Entity>) -> Result<duetto::Result<Vec<i64>>, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        qs.iterator(2)
            .map(|u| u.map(|u| u.id))
            .collect::<duetto::Result<Vec<i64>>>()
    }))
    .map_err(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "non-string panic payload".to_owned())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opt_out_lets_blocking_iterator_run_on_a_multi_thread_runtime() {
    // The only test of this binary, and it sets the variable before anything reads it.
    std::env::set_var("DUETTO_ALLOW_ASYNC_UNSAFE", "1");

    for kind in backends() {
        let t = common::migrated(kind).await;
        let qs = user::Entity::objects().using(&t.db);
        let mut expected = Vec::new();
        for i in 0..USERS {
            let u = qs
                .acreate(user::ActiveModel {
                    name: Set(format!("u{i}")),
                    email: Set(format!("u{i}@x")),
                    ..Default::default()
                })
                .await
                .unwrap();
            expected.push(u.id);
        }

        let on_worker = {
            let qs = qs.clone();
            tokio::spawn(async move { blocking_ids(&qs) })
        };
        let on_worker = watchdog(10, "blocking iterator(2) in a worker task", on_worker)
            .await
            .expect("the task itself does not panic");
        let in_body = watchdog(10, "blocking iterator(2) in the block_on body", async {
            blocking_ids(&qs)
        })
        .await;

        for (place, outcome) in [("worker task", on_worker), ("block_on body", in_body)] {
            match outcome {
                Err(panic) => panic!(
                    "{kind:?}: with DUETTO_ALLOW_ASYNC_UNSAFE=1, iterator(2) in a {place} of a \
                     multi-thread runtime panicked: {panic}"
                ),
                Ok(Err(e)) => panic!(
                    "{kind:?}: with DUETTO_ALLOW_ASYNC_UNSAFE=1, iterator(2) in a {place} of a \
                     multi-thread runtime failed: {e}"
                ),
                Ok(Ok(ids)) => assert_eq!(ids, expected, "{kind:?}: every row, in order ({place})"),
            }
        }
    }
}
