//! Watchdogs and fault-injection helpers for the cancellation and concurrency tests
//! (`cancellation`, `regressions`, `async_unsafe_iterator`).
//!
//! - Watchdogs ([`watchdog`], [`blocking_watchdog`]) turn a deadlock into a failure that names
//!   what hung instead of stalling the suite.
//! - Cancellation at a precise point ([`cancel_at`], [`cancel_after_polls`]).
//! - Clean-up after a failure ([`kill_sessions_on_panic`], [`kill_other_sessions`],
//!   [`close_quietly`]), so the harness can still drop the test database.
//! - The checks that follow: acknowledged writes are visible ([`count_emails`],
//!   [`email_exists`]), no session is left idle in a transaction ([`no_idle_transaction`]).
//!
//! Not every test binary uses every helper.

#![allow(dead_code)]

use std::any::Any;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::task::Poll;
use std::time::{Duration, Instant};

use duetto::prelude::*;
use duetto::sea_orm::{ColumnTrait, ConnectionTrait, Set, Statement};
use duetto::Db;
use entity::user;

use super::{Kind, TestDb};

// ---------------------------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------------------------

/// A user named `n` with `email`.
pub fn new_user(email: &str) -> user::ActiveModel {
    user::ActiveModel {
        name: Set("n".to_owned()),
        email: Set(email.to_owned()),
        ..Default::default()
    }
}

/// The users of `db`.
pub fn users(db: &Db) -> QuerySet<user::Entity> {
    user::Entity::objects().using(db)
}

// ---------------------------------------------------------------------------------------------
// Watchdogs
// ---------------------------------------------------------------------------------------------

/// Awaits `body`; panics with a watchdog message if it has not finished after `secs` seconds.
/// The stuck future is dropped (a panic while dropping it is swallowed) before the panic.
pub async fn watchdog<T>(secs: u64, what: &str, body: impl Future<Output = T>) -> T {
    let mut body = Box::pin(body);
    match tokio::time::timeout(Duration::from_secs(secs), body.as_mut()).await {
        Ok(value) => value,
        Err(_) => {
            let _ = std::panic::catch_unwind(AssertUnwindSafe(move || drop(body)));
            panic!("watchdog: {what} did not finish in {secs} s (deadlock?)")
        }
    }
}

/// Runs blocking `f` on a plain thread; panics with a watchdog message if it has not finished
/// after `secs` seconds (the stuck thread is left behind). A panic in `f` is resumed here.
pub fn blocking_watchdog<T: Send + 'static>(
    secs: u64,
    what: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(value) => {
            let _ = worker.join();
            value
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("watchdog: {what} did not finish in {secs} s (deadlock?)")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => unreachable!("the worker sends before it ends"),
        },
    }
}

/// The text of a panic payload, when it is a string.
pub fn panic_text(panic: &(dyn Any + Send)) -> Option<String> {
    panic
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
}

/// The text of a panic payload, or a placeholder when it is not a string.
pub fn panic_message(panic: &(dyn Any + Send)) -> String {
    panic_text(panic).unwrap_or_else(|| "non-string panic payload".to_owned())
}

// ---------------------------------------------------------------------------------------------
// Cancellation at a precise point
// ---------------------------------------------------------------------------------------------

/// Drops `fut` at the first poll at or after `deadline`, polling it continuously meanwhile (as
/// a `select!` whose other branch keeps waking would): microsecond-precise cancellation, so the
/// drop lands between any two steps of a call (mid-BEGIN, mid-statement, mid-COMMIT).
/// `None` when it was cancelled.
///
/// `fut` is boxed at once, so the returned future stays small (however large `fut` is) and an
/// `async fn` awaiting it does not carry a second copy of `fut` in its own state.
pub fn cancel_at<F: Future>(deadline: Duration, fut: F) -> impl Future<Output = Option<F::Output>> {
    let mut fut = Box::pin(fut);
    async move {
        let end = Instant::now() + deadline;
        std::future::poll_fn(move |cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            if Instant::now() >= end {
                return Poll::Ready(None);
            }
            cx.waker().wake_by_ref();
            Poll::Pending
        })
        .await
    }
}

/// Polls `fut` through at most `polls` wake-ups (and 50 ms), then drops it: cancellation at a
/// precise stage. `None` when it was cancelled. `fut` is boxed at once, as in [`cancel_at`].
pub fn cancel_after_polls<F: Future>(
    polls: u32,
    fut: F,
) -> impl Future<Output = Option<F::Output>> {
    let mut fut = Box::pin(fut);
    async move {
        let mut left = polls;
        let after_polls = std::future::poll_fn(move |cx| {
            if left == 0 {
                return Poll::Ready(None);
            }
            left -= 1;
            fut.as_mut().poll(cx).map(Some)
        });
        // A call that is never woken again is dropped after 50 ms all the same.
        tokio::time::timeout(Duration::from_millis(50), after_polls)
            .await
            .ok()
            .flatten()
    }
}

// ---------------------------------------------------------------------------------------------
// Clean-up after a failure
// ---------------------------------------------------------------------------------------------

/// On a panic (a failed assertion, a watchdog), kills every other session of the test database
/// so the harness can drop it: MySQL's `DROP DATABASE` waits for sessions holding locks or left
/// idle in a transaction.
pub struct KillSessionsOnPanic {
    kind: Kind,
    url: String,
}

/// Arms a [`KillSessionsOnPanic`] for `t`; keep it alive for the whole test.
pub fn kill_sessions_on_panic(t: &TestDb) -> KillSessionsOnPanic {
    KillSessionsOnPanic {
        kind: t.kind,
        url: t.url.clone(),
    }
}

impl Drop for KillSessionsOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            kill_other_sessions(self.kind, &self.url);
        }
    }
}

/// MySQL: kills every other session of the test database (waiting at most 5 s), so that
/// `DROP DATABASE` is not blocked by a session left inside a transaction. PostgreSQL's harness
/// drops with `FORCE`; SQLite needs nothing.
pub fn kill_other_sessions(kind: Kind, url: &str) {
    if kind != Kind::Mysql {
        return;
    }
    let url = url.to_owned();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let killed = Db::connect_blocking(&url).and_then(|db| {
            db.run(|conn| async move {
                let backend = conn.get_database_backend();
                let rows = conn
                    .query_all_raw(Statement::from_string(
                        backend,
                        "SELECT CAST(id AS SIGNED) FROM information_schema.processlist \
                         WHERE db = DATABASE() AND id <> CONNECTION_ID()",
                    ))
                    .await?;
                for row in rows {
                    let id: i64 = row.try_get_by_index(0)?;
                    let _ = conn.execute_unprepared(&format!("KILL {id}")).await;
                }
                Ok::<_, duetto::sea_orm::DbErr>(())
            })
        });
        let _ = tx.send(killed);
    });
    let _ = rx.recv_timeout(Duration::from_secs(5));
}

/// Closes `db`, giving up after 2 s (a leaked connection would make `close` wait forever).
pub async fn close_quietly(db: &Db) {
    let _ = tokio::time::timeout(Duration::from_secs(2), db.close()).await;
}

// ---------------------------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------------------------

/// How many of `emails` exist, read through `db`.
pub async fn count_emails(db: &Db, emails: &[String]) -> u64 {
    let mut found = 0;
    for chunk in emails.chunks(500) {
        found += users(db)
            .filter(user::Column::Email.is_in(chunk.iter().cloned()))
            .acount()
            .await
            .unwrap();
    }
    found
}

/// Whether a user with `email` exists, read through `db`.
pub async fn email_exists(db: &Db, email: &str) -> bool {
    users(db)
        .filter(user::Column::Email.eq(email))
        .aexists()
        .await
        .unwrap()
}

/// One integer from `sql`, run on `db`'s pool.
pub async fn scalar(db: &Db, sql: &'static str) -> i64 {
    db.arun(move |conn| async move {
        let row = conn
            .query_one_raw(Statement::from_string(conn.get_database_backend(), sql))
            .await?
            .expect("one row");
        row.try_get_by_index::<i64>(0)
    })
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Sessions of the test database sitting idle inside an open transaction, seen from `fresh` (a
/// pool other than the one under test); `None` on SQLite, which cannot tell.
pub async fn idle_in_transaction(kind: Kind, fresh: &Db) -> Option<i64> {
    let sql = match kind {
        Kind::Sqlite => return None,
        Kind::Postgres => {
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND state LIKE 'idle in transaction%'"
        }
        Kind::Mysql => {
            "SELECT COUNT(*) FROM information_schema.innodb_trx t \
             JOIN information_schema.processlist p ON p.id = t.trx_mysql_thread_id \
             WHERE p.db = DATABASE() AND p.command = 'Sleep'"
        }
    };
    Some(scalar(fresh, sql).await)
}

/// Checks no session of the test database stays idle in a transaction, polling for up to 2 s
/// so connections being rolled back or closed can settle.
pub async fn no_idle_transaction(kind: Kind, fresh: &Db) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match idle_in_transaction(kind, fresh).await {
            None | Some(0) => return Ok(()),
            Some(n) if Instant::now() >= deadline => {
                return Err(format!(
                    "{n} session(s) of the test database still idle in an open transaction \
                     after 2 s (a cancelled call left its transaction open on a pooled connection)"
                ))
            }
            Some(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Panics, naming `context`, when [`no_idle_transaction`] finds a session idle in a transaction.
pub async fn assert_no_idle_transaction(kind: Kind, fresh: &Db, context: &str) {
    if let Err(problem) = no_idle_transaction(kind, fresh).await {
        panic!("{kind:?}: {context}: {problem}");
    }
}
