//! `DUETTO_ALLOW_ASYNC_UNSAFE=1`: the blocking `iterator()` works on a multi-thread runtime, in
//! a worker task and in the `block_on` body, instead of panicking with "Cannot block the current
//! thread from within a runtime". Its own test binary, because the variable is read once per
//! process.

mod common;

use std::panic::AssertUnwindSafe;

use common::backends;
use common::faults::{panic_message, watchdog};
use duetto::prelude::*;
use duetto::sea_orm::Set;
use entity::user;

const USERS: i64 = 7;

/// Iterates `qs.iterator(2)` (blocking), turning a panic into a message.
fn blocking_ids(qs: &QuerySet<user::Entity>) -> Result<duetto::Result<Vec<i64>>, String> {
    std::panic::catch_unwind(AssertUnwindSafe(|| {
        qs.iterator(2)
            .map(|u| u.map(|u| u.id))
            .collect::<duetto::Result<Vec<i64>>>()
    }))
    .map_err(|panic| panic_message(&*panic))
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
